/* bench.h - measurement helpers for llm-bench: a clock, sample statistics,
 * what CPU this is, and the measuring loops of the kernel and model
 * benchmarks.  The loops return raw times (seconds per run); turning them
 * into rates, choosing the best or the mean, and printing is the command's
 * business.
 *
 * Conventions:
 *   - times[] arrays are the caller's, of length reps; entry r is the
 *     duration of repetition r in seconds (wall clock, CLOCK_MONOTONIC).
 *   - every loop runs one untimed warm-up first (page faults, caches,
 *     thread start-up) unless said otherwise.
 *   - n_threads <= 0 means all online CPUs.
 *   - nothing here prints; failures return a negative LLM_E* with one line
 *     in llm_errmsg().
 */
#ifndef LLM_BENCH_H
#define LLM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* ---- clock and statistics ---- */

/* Monotonic seconds (arbitrary origin). */
double llm_bench_now(void);

struct llm_bench_stats {
	int n;
	double mean;
	double stddev; /* sample standard deviation (n - 1); 0 when n < 2 */
	double min, max;
	double median; /* middle value (mean of the two middle ones for even n) */
};
void llm_bench_stats(struct llm_bench_stats *out, const double *x, int n);

/* ---- the machine ---- */

struct llm_bench_cpu {
	char model[128];  /* /proc/cpuinfo "model name" (or "unknown") */
	char simd[512];   /* SIMD flags the CPU has, space-separated: "sse2 avx2 fma f16c avx512f ..."
			   * (x86 from /proc/cpuinfo flags, Arm from Features) */
	int n_cpus;       /* online CPUs */
	size_t llc_bytes; /* size of the last-level cache (0 if unknown) */
};
/* Never fails: unknown fields stay "unknown" / 0. */
void llm_bench_cpu(struct llm_bench_cpu *out);

/* ---- memory bandwidth (STREAM-like) ----
 * Three arrays of n doubles, a, b, c, each thread owning (first touch) one
 * contiguous slice of each.  Kernels and the bytes they are credited with
 * (STREAM's convention: write-allocate traffic is not counted):
 *   read   s += a[i]              8 n bytes
 *   copy   c[i] = a[i]           16 n bytes
 *   triad  a[i] = b[i] + q c[i]  24 n bytes
 * n should make each array several times the last-level cache.
 * Fills times[kind * reps + r] for kind 0 (read), 1 (copy), 2 (triad). */
enum { LLM_BW_READ, LLM_BW_COPY, LLM_BW_TRIAD, LLM_BW_COUNT };
int llm_bench_bandwidth(double *times, size_t n, int n_threads, int reps);
/* Bytes credited to one pass of kind over arrays of n doubles. */
double llm_bench_bandwidth_bytes(int kind, size_t n);
/* Sustained read: passes of the read kernel over one array of n doubles,
 * the threads meeting at a barrier after each, repeated (after a warm-up)
 * until the timed passes span at least `seconds` (at least one pass).
 * *sustained = bytes read / that span, barriers and any time the CPUs were
 * taken away included, as a decoding step of as many seconds sees them;
 * *best = the fastest single pass.  Both in bytes per second. */
int llm_bench_read_sustained(double *sustained, double *best, size_t n, int n_threads,
			     double seconds);
/* CPU time of all CPUs since boot, in clock ticks: *steal the part the
 * hypervisor gave to other guests (/proc/stat "steal"), *total all of it.
 * Returns -1 where /proc/stat is not there (both set to 0). */
int llm_bench_cpu_ticks(uint64_t *steal, uint64_t *total);

/* ---- compute kernels ----
 * sgemm: C (m x n) = A (m x k) B^T (B: n x k, as weights are stored), F32
 * through OpenBLAS (llm_blas_sgemm_nt, kernels.h) with n_threads threads;
 * 2 m n k flops per call.
 * gemm: the same product through OpenBLAS (LLM_BENCH_GEMM_BLAS, i.e.
 * llm_bench_sgemm) or through gemm.h's llm_gemm_nt (LLM_BENCH_GEMM_OWN),
 * the n rows of B split over a pool of n_threads as llm_matmul splits them.
 * quant: one type's from_float (quantize) and to_float (dequantize) of
 * llm_type_traits over n values (a multiple of the block size), one thread;
 * fills tq[reps] and tdq[reps]. */
int llm_bench_sgemm(double *times, int m, int n, int k, int n_threads, int reps);
enum { LLM_BENCH_GEMM_BLAS = 0, LLM_BENCH_GEMM_OWN = 1 };
int llm_bench_gemm(double *times, int impl, int m, int n, int k, int n_threads, int reps);
int llm_bench_quant(double *tq, double *tdq, int type, int64_t n, int reps);

/* mat-vec: y = W x as decoding computes it (llm_qpack_quant_x then
 * llm_qpack_matmul for types llm_qpack_available packs, llm_fpack_matmul
 * for those llm_fpack_available packs, llm_matvec of kernels.h otherwise)
 * over n_mats
 * copies of one random d x n matrix in type t (d rows of n values), all
 * multiplied in each timed pass, so that n_mats x row_size x d bytes of
 * weights stream from memory as a model's layers do.  Threads from a pool
 * of n_threads.  *bytes gets the weight bytes read per pass. */
int llm_bench_matvec(double *times, double *bytes, int type, int64_t n, int64_t d, int n_mats,
		     int n_threads, int reps);

/* attention: the last n_q of seq positions against a cache of seq
 * (pos0 = seq - n_q): n_q = seq is a causal prefill, n_q = 1 one decoding
 * step.  Random q, k, v, with the naive (flash = 0) or the flash
 * (flash = 1) kernel of attention.h, a pool of n_threads.
 * The scratch (the size the kernel asks for: its peak working memory
 * beyond inputs and output) is allocated here, outside the timed call, and
 * its size returned in *scratch. */
int llm_bench_attention(double *times, size_t *scratch, int flash, int seq, int n_q, int n_head,
			int n_head_kv, int head_dim, int n_threads, int reps);

/* ---- model benchmarks (llama-bench's pp and tg) ----
 * pp: one llm_model_eval of n random tokens at position 0 (logits of the
 *     last token only).  tg: n evaluations of one random token each, at
 *     positions 0..n-1, i.e. generating from an empty context.
 * Positions from 0 overwrite whatever the cache held, so runs are
 * independent.  No warm-up here: the caller runs one.  *seed advances. */
int llm_bench_pp(double *seconds, llm_model *m, int n, uint64_t *seed);
int llm_bench_tg(double *seconds, llm_model *m, int n, uint64_t *seed);
/* tg with the read bandwidth measured alongside: after every `every`
 * tokens (and after the last), llm_bench_read_sustained over read_n
 * doubles on n_threads for as long as those tokens took, so that decoding
 * and reading see the same state of a host whose memory speed drifts.
 * *seconds = the decoding time alone; *read_bps = the segments' sustained
 * figures weighted by their time, *read_best = the fastest single pass
 * (bytes per second).  read_n 0: no reading (llm_bench_tg). */
int llm_bench_tg_read(double *seconds, double *read_bps, double *read_best, llm_model *m, int n,
		      int every, size_t read_n, int n_threads, uint64_t *seed);

/* Parameters and bytes of a checkpoint's tensors, and the type holding the
 * most weight elements (matrices only; -1 if none): "llama 260K F32". */
void llm_bench_model_size(const llm_ckpt *c, int64_t *n_params, uint64_t *n_bytes,
			  int *main_type);

#endif
