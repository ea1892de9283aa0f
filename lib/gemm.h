/* gemm.h - our own blocked single-precision matrix product for prefill.
 *
 *   C[m][d] = A[m][n] B[d][n]^T
 *
 * A holds m activation rows of n F32 values (leading dimension lda >= n),
 * B holds d weight rows of n values (ldb >= n elements) in F32, F16 or BF16,
 * C gets m rows of d F32 values (ldc >= d); C is overwritten (beta = 0),
 * nothing outside C[i][0..d-1], i < m, is written.  Products are summed in
 * F32 (F16/BF16 rows are widened exactly to F32 first).
 *
 * Why not OpenBLAS: Debian 12's OpenBLAS 0.3.21 does not recognise recent
 * Xeons and runs its SSE3 "Prescott" kernels (~30 GFLOP/s a core); this one
 * reaches several times that with AVX-512 (see llm-bench --only sgemm).
 *
 * How (gemm.c): n is cut in blocks of KC values; for each block, each tile
 * of NR rows of B (widened to F32 into a small stack buffer when stored as
 * F16/BF16) stays in L1 while every tile of MR rows of A streams past it
 * from L2.  The micro-kernel keeps MR x NR vector accumulators along n
 * (dot products: B rows are read as stored, no transposition) and reduces
 * them with shuffles at the end of the block.  Versions: AVX-512 (masked
 * tails), AVX2+FMA+F16C and plain C, chosen at run time.
 *
 * Single-threaded, no global state: callers split the d rows of B over
 * their threads (kernels.c's llm_matmul does).  Any m, d, n >= 0.  Each
 * call allocates (and frees) one aligned copy of up to 256 x 1040 floats of
 * A; when that fails it reads A in place instead, so it never fails for
 * lack of memory.
 */
#ifndef LLM_GEMM_H
#define LLM_GEMM_H

#include <stdint.h>

/* C = A B^T as above with the best instruction set of this CPU
 * (llm_isa_best(), kernels.h).  btype: LLM_TYPE_F32, LLM_TYPE_F16 or
 * LLM_TYPE_BF16 (types.h).  Returns 0, or LLM_EUNSUPPORTED for another
 * btype or LLM_EINVAL for a leading dimension smaller than the width. */
int llm_gemm_nt(float *c, int64_t ldc, const float *a, int64_t lda, const void *b, int btype,
		int64_t ldb, int64_t m, int64_t d, int64_t n);

/* The same with instruction set isa (enum llm_isa, kernels.h): for tests
 * and benchmarks.  LLM_EUNSUPPORTED when this CPU lacks isa. */
int llm_gemm_nt_isa(int isa, float *c, int64_t ldc, const float *a, int64_t lda, const void *b,
		    int btype, int64_t ldb, int64_t m, int64_t d, int64_t n);

/* B in panels instead of rows (fpack.h's layout): rows in panels of
 * `rows`, each panel panel_bytes apart and holding, for each piece of
 * `piece` values of n in turn, that piece of each of its rows one after
 * another (rows x piece values; the last piece padded).  piece divides
 * 1024.  B's d rows start at b (a panel's first row). */
struct llm_gemm_panels {
	int64_t rows, piece;
	size_t panel_bytes;
};
int llm_gemm_nt_panels(float *c, int64_t ldc, const float *a, int64_t lda, const void *b, int btype,
		       const struct llm_gemm_panels *pl, int64_t m, int64_t d, int64_t n);
int llm_gemm_nt_panels_isa(int isa, float *c, int64_t ldc, const float *a, int64_t lda,
			   const void *b, int btype, const struct llm_gemm_panels *pl, int64_t m,
			   int64_t d, int64_t n);

/* 1 when llm_gemm_nt is expected to beat OpenBLAS's sgemm on this machine
 * (an AVX2 or AVX-512 kernel is available here), 0 otherwise. */
int llm_gemm_preferred(void);

#endif
