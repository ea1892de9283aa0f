/* kernels.h - the numeric building blocks of the forward pass.
 *
 * Weights are used in their stored type (types.h: F32, F16, BF16, Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K (kquant.c)); activations are always
 * F32 and every product is accumulated in F32 (activations are never
 * quantized).  The model uses qpack.h's integer kernels instead for the
 * quantized types where the CPU allows.
 *
 * A weight matrix W of d rows by n columns ("rows of n values", GGUF ne =
 * [n, d]) is d rows of llm_type_row_size(type, n) bytes each.
 *
 *   dot products   one row of W . x, per type, per instruction set:
 *                  a plain scalar reference for every type, AVX2+FMA and
 *                  AVX-512 versions chosen at run time (__builtin_cpu_supports)
 *   mat-vec        y = W x, rows split over a thread pool
 *   mat-mat        Y = X W^T for a batch of tokens (prefill): gemm.h's
 *                  blocked product (OpenBLAS sgemm on CPUs without AVX2) on
 *                  F32/F16/BF16 weights in place, other types dequantized a
 *                  panel of rows at a time into per-thread scratch (never the
 *                  whole tensor) and then the same product
 *   small ops      rmsnorm, rope (adjacent pairs), softmax, silu
 *
 * Nothing here allocates except llm_matmul's bounded per-call scratch.
 */
#ifndef LLM_KERNELS_H
#define LLM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"

/* Instruction sets, in increasing order. */
enum llm_isa {
	LLM_ISA_SCALAR = 0,
	LLM_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
	LLM_ISA_AVX512 = 2, /* AVX-512 F + BW + VL (+ AVX2 set) */
	LLM_ISA_COUNT = 3,
};
/* The best set this CPU runs (__builtin_cpu_supports), at most the one
 * the environment variable LLM_ISA names ("scalar", "avx2" or "avx512",
 * any case; another value is ignored): what every SIMD path of the library
 * (these kernels, gemm.h, qpack.h, fpack.h, the quantizers of types.h)
 * asks before choosing, so that a machine with AVX-512 runs, and tests,
 * what one without it would. */
int llm_isa_best(void);
const char *llm_isa_name(int isa); /* "scalar", "avx2", "avx512" */

/* sum_i W[i] x[i] over one row of n values stored in the row's type. */
typedef float (*llm_dot_fn)(const void *row, const float *x, int64_t n);

/* 1 when the kernels handle weights of type t (F32 F16 BF16 Q8_0 Q4_0 Q4_1
 * Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS).  Quantized rows need n
 * a multiple of the block size (32; 256 for the K-quants and IQ4_XS). */
int llm_kernel_type_ok(int type);
/* Dot product of type t for instruction set isa, or NULL when the type is
 * not handled or this CPU lacks isa.  isa = llm_isa_best() gives the one
 * the mat-vec uses; LLM_ISA_SCALAR the reference (sums in order, F32). */
llm_dot_fn llm_dot_get(int type, int isa);

/* y[n] += a * x[n] (attention's weighted sum of V), per instruction set as
 * llm_dot_get (NULL when the CPU lacks isa). */
typedef void (*llm_axpy_fn)(float *y, float a, const float *x, int64_t n);
llm_axpy_fn llm_axpy_get(int isa);

/* One step of flash attention's online softmax, for one query of nh heads
 * that share the nt keys and values (K[t], V[t] at t * stride floats, hd
 * each): for head h (q + h hd), scores scale * q . K[t], its running max
 * m[h] and sum l[h] updated, its unnormalised output o[h hd..] rescaled
 * to the new max and the exp-weighted V[t] added.  s: scratch of 4 nt
 * floats.  Per instruction set as llm_dot_get (NULL when the CPU lacks
 * isa); m starts at -INFINITY, l and o at 0. */
typedef void (*llm_attn_step_fn)(float *o, float *m, float *l, const float *q, const float *K,
				 const float *V, size_t stride, int nt, int hd, float scale, float *s,
				 int nh);
llm_attn_step_fn llm_attn_step_get(int isa);

/* y[d] = W[d][n] x[n], rows split over tp (NULL: caller's thread) with the
 * best dot product.  W in type t. */
void llm_matvec(float *y, const void *w, int type, const float *x, int64_t n, int64_t d,
		llm_threadpool *tp);
/* The same with the scalar reference dot product, single-threaded. */
void llm_matvec_ref(float *y, const void *w, int type, const float *x, int64_t n, int64_t d);

/* Y[m][d] = X[m][n] W[d][n]^T: m tokens at once (m >= 1; fewer than 4
 * rows, 8 for block types, are m mat-vecs).  F32/F16/BF16 weights go to
 * llm_gemm_nt (gemm.h) in place; other types are decoded LLM_MATMUL_PANEL
 * rows at a time per worker and multiplied the same way (OpenBLAS sgemm
 * instead where llm_gemm_preferred() is 0, F32 panels too, so that the
 * results do not depend on the number of threads).
 * Returns 0 or LLM_ENOMEM (scratch: one panel per worker). */
#define LLM_MATMUL_PANEL 64
int llm_matmul(float *y, const void *w, int type, const float *x, int64_t n, int64_t d,
	       int64_t m, llm_threadpool *tp);
/* Alternative for types other than F32 (kept for llm-bench): per row,
 * decode once and take m dot products (no BLAS). */
int llm_matmul_rowwise(float *y, const void *w, int type, const float *x, int64_t n,
		       int64_t d, int64_t m, llm_threadpool *tp);

/* o[n] = x[n] / sqrt(mean(x^2) + eps) * w[n]  (o may alias x). */
void llm_rmsnorm(float *o, const float *x, const float *w, int64_t n, float eps);

/* RoPE inverse frequencies of a head, in double (positions times a float
 * frequency lose 1e-4 rad at position 4096): inv[i] = base^(-2i/rope_dim)
 * * freq_scale / factor[i] for i < rope_dim/2 (factor NULL = all 1:
 * llama3 per-pair factors as rope_freqs.weight holds them; freq_scale 1 =
 * no linear position scaling). */
void llm_rope_freqs(double *inv, int rope_dim, double base, const float *factor,
		    double freq_scale);
/* cs[2i], cs[2i+1] = cos, sin of pos * inv[i], i < rope_dim/2. */
void llm_rope_cossin(float *cs, int rope_dim, int pos, const double *inv);
/* Rotate x (n_head heads of head_dim values) in place: in each head the
 * pairs (2i, 2i+1), i < rope_dim/2, by the angle whose cos/sin cs holds. */
void llm_rope(float *x, int n_head, int head_dim, int rope_dim, const float *cs);

/* x[n] = exp(x - max) / sum (in place). */
void llm_softmax(float *x, int64_t n);
/* o[n] = silu(a) * b = a / (1 + exp(-a)) * b; o may be a. */
void llm_silu_mul(float *o, const float *a, const float *b, int64_t n);
/* y[n] += x[n] */
void llm_add(float *y, const float *x, int64_t n);
/* 1 when x[0..n) holds no inf and no NaN */
int llm_all_finite(const float *x, int64_t n);

/* blas.c: the only file that calls OpenBLAS.
 * C[m][n] = A[m][k] B[n][k]^T  (row-major, leading dimensions lda/ldb/ldc). */
void llm_blas_sgemm_nt(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
		       float *c, int ldc);
/* OpenBLAS's own thread count (llm_matmul calls sgemm from its workers and
 * sets it to 1 while doing so, to avoid oversubscription). */
int llm_blas_threads(void);
void llm_blas_set_threads(int n);
/* The kernel set OpenBLAS chose for this CPU ("SkylakeX", "Haswell", ...).
 * OpenBLAS 0.3.21 does not know recent Xeons and falls back to "Prescott"
 * (SSE3, ~4x slower sgemm); OPENBLAS_CORETYPE=SkylakeX in the environment
 * overrides it.  Borrowed static string. */
const char *llm_blas_core(void);

#endif
