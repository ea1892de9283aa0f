/* fpack.h - F16 and BF16 weights rearranged in panels of 16 rows.
 *
 * Decoding reads a weight matrix once per token, so its speed is how fast
 * the rows stream from memory.  Row by row (kernels.c), each 16-bit row of
 * a few KiB is a short stream of its own, read in pairs with software
 * prefetches (without them F16 decode ran 1.57x slower on AMD Zen 4).
 * Here a matrix is rearranged once, at model load, so that a decoding
 * thread reads its share as one forward stream that the hardware
 * prefetcher alone keeps going (qpack.c's panels, Q8_0's too, add 8 KiB
 * software prefetches; these do not): F16
 * TinyLlama decode ran 1.05-1.13x faster (this access pattern against
 * row pairs, alternated token by token; 8 KiB software prefetches on top
 * made it slower).
 *
 * Layout: rows in panels of 16 (the last padded with zero rows), each
 * panel its blocks of 32 columns in order (the last padded with zero
 * columns); block b of a panel holds its 16 rows' values 32b..32b+31, 64
 * bytes per row: 1 KiB.  The values are the stored 16-bit ones, unchanged.
 * Each row of a panel has an F32 register of its own for its sum, so a
 * row's result does not depend on how the panels are split over threads.
 *
 * Needs AVX-512 F (and F16C for F16): llm_fpack_available.
 */
#ifndef LLM_FPACK_H
#define LLM_FPACK_H

#include <stdint.h>

#include "threadpool.h"

typedef struct llm_fpack llm_fpack;

/* 1 when type (LLM_TYPE_F16 or LLM_TYPE_BF16) can be packed on this CPU. */
int llm_fpack_available(int type);

/* Pack n_parts (1..4) matrices of rows[k] rows of n values each, stored in
 * type as GGUF tensors [n, rows[k]], stacked in order as one matrix (Q, K
 * and V, or gate and up: one pass and one parallel-for for all).  The
 * sources are only read; the pack owns its memory. */
int llm_fpack_new(llm_fpack **out, const void *const *w, const int64_t *rows, int n_parts,
		  int type, int64_t n, llm_threadpool *tp);
void llm_fpack_free(llm_fpack *p); /* NULL is a no-op */

/* Y[m][d] = X[m][n] W^T, rows split over tp (NULL: the caller's thread).
 * Fewer than 4 tokens: a pass over W per token; more: gemm.h's kernel,
 * which reads the panels as they are.  Returns 0. */
int llm_fpack_matmul(float *y, const llm_fpack *p, const float *x, int64_t m,
		     llm_threadpool *tp);

#endif
