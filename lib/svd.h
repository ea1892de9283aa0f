/* svd.h - truncated SVD (exact and randomized) through OpenBLAS's LAPACK,
 * and the extraction of a LoRA adapter from two checkpoints.
 *
 * Matrices are F32.  M is m x n row-major (m rows of n values: a GGUF
 * weight with ne = [n, m]).  Results:
 *     M ~= U diag(S) V^T    U: m x k, column-major (column j contiguous)
 *                           S: k values, descending
 *                           V: n x k, column-major
 * Exact: LAPACK sgesdd on the whole matrix (all min(m, n) triplets).
 * Randomized (Halko, Martinsson, Tropp 2011, alg. 4.4 + 5.1): l = k + p
 *   Gaussian test vectors, Y = M Omega, q power iterations each
 *   re-orthonormalised by QR (sgeqrf/sorgqr): Q = qr(M qr(M^T Q)), then
 *   the SVD of the small l x n matrix Q^T M (dgesdd in double).  l triplets
 *   come back; the first k are accurate, the last p less so.
 *
 * Ownership: *U, *S, *V are malloc'ed for the caller to free.
 */
#ifndef LLM_SVD_H
#define LLM_SVD_H

#include <stdint.h>

#include "ckpt.h"
#include "lora.h"
#include "meta.h"

struct llm_svd_opts {
	int exact;
	int oversample;   /* p (default 10) */
	int power_iters;  /* q (default 2) */
	uint64_t seed;    /* Gaussian sketch seed */
};
#define LLM_SVD_OPTS_INIT { 0, 10, 2, 0x5eed }

/* Truncated SVD of M (m x n row-major).  Randomized: k + oversample
 * triplets (capped at min(m, n)); exact: min(m, n).  *k_out says how many. */
int llm_svd(const float *M, int64_t m, int64_t n, int64_t k, const struct llm_svd_opts *o,
	    float **U, float **S, float **V, int64_t *k_out);

/* Threads OpenBLAS may use (n < 1: leave as is). */
void llm_svd_set_threads(int n);

/* ---- adapter extraction (llm-svd-delta) ---- */

struct llm_svd_delta_report;

struct llm_svd_delta_opts {
	int64_t rank;       /* fixed rank, or 0 with energy */
	double energy;      /* fraction of ||dW||_F^2 to keep (0 < e <= 1), when rank is 0 */
	int64_t max_rank;   /* cap (0: none) */
	struct llm_svd_opts svd;
	/* name filters (PCRE2, searched anywhere in the name), may be NULL */
	const char *include, *exclude;
	void (*progress)(void *ud, const char *name, uint64_t done, uint64_t total);
	void (*notice)(void *ud, const char *msg);
	void *ud;
	const llm_meta *extra; /* metadata for the adapter (provenance), or NULL */
	/* Optional: called once the adapter is written, before it is put in
	 * place, with the report (NULL, 0 when none was asked for); nonzero
	 * (an error it set) gives the adapter up (see llm_convert_opts) */
	int (*finish)(void *ud, const struct llm_svd_delta_report *rep, int64_t n);
	/* How to write (zstd container: gguf.h), or NULL: by name */
	const struct llm_gguf_write_opts *write;
};
#define LLM_SVD_DELTA_OPTS_INIT { 0, 0, 0, LLM_SVD_OPTS_INIT, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

struct llm_svd_delta_report {
	char *name;
	int64_t n_in, n_out;
	int64_t rank;        /* 0: skipped (zero delta) */
	double energy_kept;  /* sum_{i<r} S_i^2 / ||dW||_F^2 */
	double rel_fro_error;/* ||dW - B A||_F / ||dW||_F */
	double seconds;
};

/* For each 2-D weight present in both base and tuned (same shape, name
 * passing the filters): dW = tuned - base in F32, truncated SVD,
 * B = U_r sqrt(S_r), A = sqrt(S_r) V_r^T, written as a GGUF LoRA adapter
 * (alpha 0: llama.cpp and llm-lora-merge apply exactly B A, whatever the
 * rank of each tensor) to out_path ("-"/NULL: stdout), atomically and only
 * after every tensor succeeded.  Zero deltas are skipped (report rank 0).
 * Errors: shapes that differ, a fixed rank above min(n_in, n_out). */
int llm_svd_delta(llm_ckpt *base, llm_ckpt *tuned, const struct llm_svd_delta_opts *o,
		  const char *out_path, struct llm_svd_delta_report **rep, int64_t *n_rep);
void llm_svd_delta_report_free(struct llm_svd_delta_report *r, int64_t n);

#endif
