/* gemm.c - C[m][d] = A[m][n] B[d][n]^T, blocked, with AVX-512 and AVX2
 * micro-kernels (see gemm.h for the contract).
 *
 * Layout of this file:
 *   1. the blocking driver, shared by every instruction set
 *   2. plain C tile and widening (the reference shape, any CPU)
 *   3. AVX2+FMA+F16C tile (3 x 4) and widening
 *   4. AVX-512 tile (4 x 6) and widening
 *   5. dispatch
 *
 * Why dot products along n rather than the textbook broadcast kernel: the
 * weights B are stored as d rows of n values, so vectors along n are
 * contiguous in both A and B and nothing has to be transposed; each tile of
 * MR rows of A and NR rows of B keeps MR x NR vector accumulators
 * (MR + NR loads for MR x NR FMAs per step of 16 values) and folds each
 * accumulator to one number at the end of a block of KC values, with a
 * shuffle tree that costs about 3 instructions per accumulator (against
 * KC/16 = 64 FMAs it took to fill it: a tile on data in L1 runs at 82% of
 * the FMA peak with KC = 512, 91% with KC = 1024).  Masked loads take the n tail, so
 * any n works without padding.
 *
 * Cache blocking, outermost first:
 *   chunks of B rows, so that the part of C they update (<= 256 KiB) stays
 *     in L2 while it is added to once per block of n;
 *   blocks of KC = 1024 values of n;
 *   blocks of MC = 256 rows of A (<= 1 MiB: L2), copied to 64-byte
 *     aligned rows (a load that straddles two cache lines costs two);
 *   tiles of NR rows of B (NR x KC x 4 bytes = 24 KiB: L1), widened from
 *     F32/F16/BF16 into an aligned stack buffer, reused by every tile of MR
 *     rows of A of the block; meanwhile the next tile's lines are
 *     prefetched, a slice per tile of A, so B streams from memory behind
 *     the arithmetic.  In panels (fpack.h) too: a tile's rows there are
 *     64 bytes in every KiB, which the hardware prefetcher does not
 *     follow; F16 TinyLlama prefill of 64 tokens went from 76-82 to 87-93
 *     tokens/s (2 threads, Zen 4; 256 tokens: 87-93 either way).
 * Widening F16/BF16 here costs one conversion per value shared by all m
 * rows, so no separate decode pass is needed; F32 rows are copied too,
 * because rows a multiple of 4 KiB apart (n = 1024, 2048, ...) would
 * compete for the same L1 sets.  The copies' rows are ST = KC + 16 floats
 * apart for the same reason.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gemm.h"
#include "kernels.h"
#include "types.h"

#define KC 1024    /* values of n per block: B tile NR x KC in L1 (5-10% over 512) */
#define MC 256     /* rows of A per block: MC x KC x 4 = 1 MiB in L2 */
#define C_CHUNK 65536 /* floats of C per chunk of B rows (256 KiB, in L2 across the blocks of n) */
#define ST (KC + 16) /* row stride of the copies: rows 4 KiB apart would share L1 sets */
#define NR_MAX 8   /* widest tile of B rows of any instruction set */

/* One tile: C[0..mr)[0..nr) (+)= A[0..mr)[0..kc) B[0..nr)[0..kc)^T;
 * accum 0 stores, 1 adds to what C holds (later blocks of n). */
typedef void (*tile_fn)(int mr, int nr, float *c, int64_t ldc, const float *a, int64_t lda,
			const float *b, int64_t ldb, int64_t kc, int accum);
/* dst[n] = src[n] widened to F32 (src in btype: F32, F16 or BF16), src
 * in pieces of pc values piece_bytes apart (one piece: pc >= n). */
typedef void (*widen_fn)(float *dst, const void *src, int btype, int64_t n, int64_t pc,
			 size_t piece_bytes);

struct gemm_kernel {
	int mr, nr;            /* largest tile */
	const tile_fn *tiles;  /* [(mr - 1) * nr + (nr - 1)] */
	widen_fn widen;
};

/* ========================================================= the driver */

/* Where B's rows are: row-major (pr 0: rows ldb_bytes apart) or in panels
 * (llm_gemm_panels) */
struct bsrc {
	const uint8_t *b;
	int btype;
	size_t esz, ldb_bytes;
	int64_t pr, pc;                /* panels: rows per panel, values per piece */
	size_t piece_bytes, panel_bytes;
};

/* row j from column k0 (in panels, k0 a multiple of pc) */
static const uint8_t *brow(const struct bsrc *bs, int64_t j, int64_t k0)
{
	if (!bs->pr)
		return bs->b + (size_t)j * bs->ldb_bytes + (size_t)k0 * bs->esz;
	return bs->b + (size_t)(j / bs->pr) * bs->panel_bytes + (size_t)(k0 / bs->pc) * bs->piece_bytes +
	       (size_t)(j % bs->pr) * (size_t)bs->pc * bs->esz;
}

/* Prefetch slice t of nt of the B tile of `rows` rows from row j, columns
 * k0.., rl cache lines a row: spread over the tiles of A that use the
 * current one.  In panels a row's lines are its pieces, piece_bytes
 * apart.  Always inlined: GCC deems a function that only prefetches free
 * of side effects and drops the calls. */
static inline __attribute__((always_inline)) void prefetch_slice(const struct bsrc *bs, int64_t j,
								  int64_t k0, int64_t rows, int64_t rl,
								  int64_t t, int64_t nt)
{
	int64_t nl = rows * rl, l0 = t * nl / nt, cnt = (t + 1) * nl / nt - l0;
	if (cnt <= 0)
		return;
	int64_t r = l0 / rl, col = l0 % rl; /* divisions once per tile, not per line */
	/* bytes of a row's piece (row-major: the whole row) and the step from
	 * the end of one piece to the next */
	size_t pb = bs->pr ? (size_t)bs->pc * bs->esz : (size_t)rl * 64;
	size_t skip = bs->pr ? bs->piece_bytes - pb : 0, in = (size_t)col * 64 % pb;
	const uint8_t *p = brow(bs, j + r, k0) + (size_t)col * 64 / pb * bs->piece_bytes + in;
	for (;;) {
		__builtin_prefetch(p, 0, 3);
		if (--cnt == 0)
			break;
		if (++col == rl) {
			col = 0, in = 0, p = brow(bs, j + ++r, k0);
			continue;
		}
		p += 64;
		if ((in += 64) >= pb)
			in = 0, p += skip;
	}
}

/* C[m0..m0+mc)[0..d) (+)= A[.][k0..k0+kc) B[0..d)[k0..k0+kc)^T: the loop
 * over tiles of B (widened into bp) and, inside, over tiles of A (ap:
 * rows lda apart, already offset to k0). */
static void gemm_block(const struct gemm_kernel *kn, float *c, int64_t ldc, const float *ap,
		       int64_t lda, const struct bsrc *bs, int64_t j00, int64_t mc, int64_t d,
		       int64_t k0, int64_t kc, float *bp)
{
	int64_t nt = (mc + kn->mr - 1) / kn->mr, rl = (kc * (int64_t)bs->esz + 63) / 64;
	int64_t npf = (nt + 1) / 2; /* prefetch over the first half: the last lines get time to arrive */
	int64_t pc = bs->pr ? bs->pc : kc;

	for (int64_t j0 = 0; j0 < d; j0 += kn->nr) {
		int nr = d - j0 < kn->nr ? (int)(d - j0) : kn->nr;
		int64_t next = d - j0 - nr < kn->nr ? d - j0 - nr : kn->nr; /* rows of the next tile */
		for (int r = 0; r < nr; r++)
			kn->widen(bp + r * ST, brow(bs, j00 + j0 + r, k0), bs->btype, kc, pc, bs->piece_bytes);
		for (int64_t i0 = 0, t = 0; i0 < mc; i0 += kn->mr, t++) {
			int mr = mc - i0 < kn->mr ? (int)(mc - i0) : kn->mr;
			if (t < npf)
				prefetch_slice(bs, j00 + j0 + nr, k0, next, rl, t, npf);
			kn->tiles[(mr - 1) * kn->nr + nr - 1](mr, nr, c + i0 * ldc + j0, ldc, ap + i0 * lda,
							     lda, bp, ST, kc, k0 > 0);
		}
	}
}

static void gemm_run(const struct gemm_kernel *kn, float *c, int64_t ldc, const float *a,
		     int64_t lda, const struct bsrc *bs, int64_t m, int64_t d, int64_t n)
{
	float bp[NR_MAX * ST] __attribute__((aligned(64))); /* B tile widened: NR rows of KC values */
	/* A block copied to aligned rows (zmm loads that straddle cache lines
	 * cost two): 7% here; A is read in place when this cannot be had */
	int64_t mb = m < MC ? m : MC;
	float *abuf = n > 0 && m > 0 ? aligned_alloc(64, (size_t)mb * ST * sizeof(float)) : NULL;

	if (n == 0)
		for (int64_t i = 0; i < m; i++)
			memset(c + i * ldc, 0, (size_t)d * sizeof(float));
	/* chunks of B rows, whole tiles of every kernel (48 = 6 x 8 = 4 x 12),
	 * so that the part of C updated once per block of n stays in L2 */
	int64_t dcmax = C_CHUNK / (mb > 0 ? mb : 1) / 48 * 48;
	dcmax = dcmax < 48 ? 48 : dcmax;
	for (int64_t j0 = 0; j0 < d; j0 += dcmax) {
		int64_t dc = d - j0 < dcmax ? d - j0 : dcmax;
		for (int64_t k0 = 0; k0 < n; k0 += KC) {
			int64_t kc = n - k0 < KC ? n - k0 : KC;
			for (int64_t m0 = 0; m0 < m; m0 += MC) {
				int64_t mc = m - m0 < MC ? m - m0 : MC;
				const float *ap = a + m0 * lda + k0;
				int64_t ldap = lda;
				if (abuf) {
					for (int64_t i = 0; i < mc; i++)
						memcpy(abuf + i * ST, ap + i * lda, (size_t)kc * sizeof(float));
					ap = abuf, ldap = ST;
				}
				gemm_block(kn, c + m0 * ldc + j0, ldc, ap, ldap, bs, j0, mc, dc, k0, kc, bp);
			}
		}
	}
	free(abuf);
}

/* ================================================== plain C (reference) */

static void tile_ref(int mr, int nr, float *c, int64_t ldc, const float *a, int64_t lda,
		     const float *b, int64_t ldb, int64_t kc, int accum)
{
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j++) {
			float s = 0;
			for (int64_t k = 0; k < kc; k++)
				s += a[i * lda + k] * b[j * ldb + k];
			c[i * ldc + j] = accum ? c[i * ldc + j] + s : s;
		}
}

static void widen_piece_ref(float *dst, const void *src, int btype, int64_t n)
{
	const uint16_t *h = src;
	if (btype == LLM_TYPE_F32)
		memcpy(dst, src, (size_t)n * sizeof(float));
	else if (btype == LLM_TYPE_F16)
		for (int64_t i = 0; i < n; i++)
			dst[i] = llm_fp16_to_fp32(h[i]);
	else
		for (int64_t i = 0; i < n; i++)
			dst[i] = llm_bf16_to_fp32(h[i]);
}

static void widen_ref(float *dst, const void *src, int btype, int64_t n, int64_t pc,
		      size_t piece_bytes)
{
	for (int64_t i = 0; i < n; i += pc, src = (const uint8_t *)src + piece_bytes)
		widen_piece_ref(dst + i, src, btype, n - i < pc ? n - i : pc);
}

#define REF4(X, mr) X(mr), X(mr), X(mr), X(mr)
#define REF_TILE(mr) tile_ref
static const tile_fn tiles_ref[16] = { REF4(REF_TILE, 1), REF4(REF_TILE, 2), REF4(REF_TILE, 3),
				       REF4(REF_TILE, 4) };
static const struct gemm_kernel kernel_ref = { 4, 4, tiles_ref, widen_ref };

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

/* ============================================================== AVX2 */

/* first n of 8 lanes set: loadu(mask8 + 8 - n) */
static const int32_t mask8[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

/* (sum v0, sum v1, sum v2, sum v3) */
AVX2 static INLINE __m128 sum4_avx2(__m256 v0, __m256 v1, __m256 v2, __m256 v3)
{
	__m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* MR2 rows of A (3 broadcast-free loads) x NR2 rows of B: 12 accumulators
 * of 8 lanes, 3 + 1 more registers: the 16 ymm registers AVX2 has. */
#define MR2 3
#define NR2 4
AVX2 static INLINE void tile_avx2(const int mr, const int nr, float *c, int64_t ldc,
				  const float *a, int64_t lda, const float *b, int64_t ldb,
				  int64_t kc, int accum)
{
	__m256 acc[MR2][NR2];
	int64_t k = 0;

#pragma GCC unroll 4
	for (int i = 0; i < MR2; i++)
#pragma GCC unroll 4
		for (int j = 0; j < NR2; j++)
			acc[i][j] = _mm256_setzero_ps();
	for (; k + 8 <= kc; k += 8) {
		__m256 av[MR2];
#pragma GCC unroll 4
		for (int i = 0; i < mr; i++)
			av[i] = _mm256_loadu_ps(a + i * lda + k);
#pragma GCC unroll 4
		for (int j = 0; j < nr; j++) {
			__m256 bv = _mm256_loadu_ps(b + j * ldb + k);
#pragma GCC unroll 4
			for (int i = 0; i < mr; i++)
				acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
		}
	}
	if (k < kc) {
		__m256i km = _mm256_loadu_si256((const __m256i *)(mask8 + 8 - (kc - k)));
		__m256 av[MR2];
#pragma GCC unroll 4
		for (int i = 0; i < mr; i++)
			av[i] = _mm256_maskload_ps(a + i * lda + k, km);
#pragma GCC unroll 4
		for (int j = 0; j < nr; j++) {
			__m256 bv = _mm256_maskload_ps(b + j * ldb + k, km);
#pragma GCC unroll 4
			for (int i = 0; i < mr; i++)
				acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
		}
	}
	__m128i cm = _mm_loadu_si128((const __m128i *)(mask8 + 8 - nr));
#pragma GCC unroll 4
	for (int i = 0; i < mr; i++) {
		__m128 s = sum4_avx2(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
		float *ci = c + i * ldc;
		if (accum)
			s = _mm_add_ps(s, _mm_maskload_ps(ci, cm));
		_mm_maskstore_ps(ci, cm, s);
	}
}

#define T2(mr, nr)                                                                            \
	AVX2 static void t2_##mr##_##nr(int r, int q, float *c, int64_t ldc, const float *a,   \
					int64_t lda, const float *b, int64_t ldb, int64_t kc,  \
					int accum)                                             \
	{                                                                                     \
		(void)r, (void)q;                                                             \
		tile_avx2(mr, nr, c, ldc, a, lda, b, ldb, kc, accum);                          \
	}
#define T2ROW(mr) T2(mr, 1) T2(mr, 2) T2(mr, 3) T2(mr, 4)
T2ROW(1)
T2ROW(2)
T2ROW(3)
#define N2ROW(mr) t2_##mr##_1, t2_##mr##_2, t2_##mr##_3, t2_##mr##_4
static const tile_fn tiles_avx2[MR2 * NR2] = { N2ROW(1), N2ROW(2), N2ROW(3) };

AVX2 static INLINE void widen_piece_avx2(float *dst, const void *src, int btype, int64_t n)
{
	const uint16_t *h = src;
	int64_t i = 0;
	if (btype == LLM_TYPE_F32) {
		memcpy(dst, src, (size_t)n * sizeof(float));
		return;
	}
	if (btype == LLM_TYPE_F16)
		for (; i + 8 <= n; i += 8)
			_mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
	else
		for (; i + 8 <= n; i += 8) {
			__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
			_mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
		}
	widen_piece_ref(dst + i, h + i, btype, n - i);
}

AVX2 static void widen_avx2(float *dst, const void *src, int btype, int64_t n, int64_t pc,
			    size_t piece_bytes)
{
	for (int64_t i = 0; i < n; i += pc, src = (const uint8_t *)src + piece_bytes)
		widen_piece_avx2(dst + i, src, btype, n - i < pc ? n - i : pc);
}

static const struct gemm_kernel kernel_avx2 = { MR2, NR2, tiles_avx2, widen_avx2 };

/* =========================================================== AVX-512 */

/* (sum v0, ..., sum v7): pairs interleaved and added (unpack ps, then pd)
 * until each 128-bit lane holds partial sums of four vectors, then the
 * lanes are added across (shuffle_f32x4).  24 instructions for 8 sums. */
AVX512 static INLINE __m512 pair_ps(__m512 x, __m512 y)
{
	return _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y));
}
AVX512 static INLINE __m512 pair_pd(__m512 x, __m512 y)
{
	__m512d u = _mm512_castps_pd(x), v = _mm512_castps_pd(y);
	return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(u, v)),
			     _mm512_castpd_ps(_mm512_unpackhi_pd(u, v)));
}
AVX512 static INLINE __m256 sum8_avx512(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4,
					__m512 v5, __m512 v6, __m512 v7)
{
	__m512 x = pair_pd(pair_ps(v0, v1), pair_ps(v2, v3)); /* lane l: v0..v3 partials */
	__m512 y = pair_pd(pair_ps(v4, v5), pair_ps(v6, v7)); /* lane l: v4..v7 partials */
	/* z = [x0 + x1, x2 + x3, y0 + y1, y2 + y3] (lanes) */
	__m512 z = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(2, 0, 2, 0)),
				 _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
	z = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm512_castps512_ps256(_mm512_shuffle_f32x4(z, z, _MM_SHUFFLE(3, 1, 2, 0)));
}

/* MR5 rows of A x NR5 rows of B: 24 accumulators of 16 lanes, 4 + 1 more
 * registers of the 32; 10 loads feed 24 FMAs per step of 16 values. */
#define MR5 4
#define NR5 6
AVX512 static INLINE void tile_avx512(const int mr, const int nr, float *c, int64_t ldc,
				      const float *a, int64_t lda, const float *b, int64_t ldb,
				      int64_t kc, int accum)
{
	__m512 acc[MR5][8];
	int64_t k = 0;

#pragma GCC unroll 8
	for (int i = 0; i < MR5; i++)
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++)
			acc[i][j] = _mm512_setzero_ps();
	for (; k + 16 <= kc; k += 16) {
		__m512 av[MR5];
#pragma GCC unroll 8
		for (int i = 0; i < mr; i++)
			av[i] = _mm512_loadu_ps(a + i * lda + k);
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++) {
			__m512 bv = _mm512_loadu_ps(b + j * ldb + k);
#pragma GCC unroll 8
			for (int i = 0; i < mr; i++)
				acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
		}
	}
	if (k < kc) {
		__mmask16 km = (__mmask16)((1u << (kc - k)) - 1);
		__m512 av[MR5];
#pragma GCC unroll 8
		for (int i = 0; i < mr; i++)
			av[i] = _mm512_maskz_loadu_ps(km, a + i * lda + k);
#pragma GCC unroll 8
		for (int j = 0; j < nr; j++) {
			__m512 bv = _mm512_maskz_loadu_ps(km, b + j * ldb + k);
#pragma GCC unroll 8
			for (int i = 0; i < mr; i++)
				acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
		}
	}
	__mmask8 cm = (__mmask8)((1u << nr) - 1);
#pragma GCC unroll 8
	for (int i = 0; i < mr; i++) {
		__m256 s = sum8_avx512(acc[i][0], acc[i][1], acc[i][2], acc[i][3], acc[i][4],
				       acc[i][5], acc[i][6], acc[i][7]);
		float *ci = c + i * ldc;
		if (accum)
			s = _mm256_add_ps(s, _mm256_maskz_loadu_ps(cm, ci));
		_mm256_mask_storeu_ps(ci, cm, s);
	}
}

#define T5(mr, nr)                                                                            \
	AVX512 static void t5_##mr##_##nr(int r, int q, float *c, int64_t ldc, const float *a, \
					  int64_t lda, const float *b, int64_t ldb, int64_t kc, \
					  int accum)                                           \
	{                                                                                     \
		(void)r, (void)q;                                                             \
		tile_avx512(mr, nr, c, ldc, a, lda, b, ldb, kc, accum);                        \
	}
#define T5ROW(mr) T5(mr, 1) T5(mr, 2) T5(mr, 3) T5(mr, 4) T5(mr, 5) T5(mr, 6)
T5ROW(1)
T5ROW(2)
T5ROW(3)
T5ROW(4)
#define N5ROW(mr) t5_##mr##_1, t5_##mr##_2, t5_##mr##_3, t5_##mr##_4, t5_##mr##_5, t5_##mr##_6
static const tile_fn tiles_avx512[MR5 * NR5] = { N5ROW(1), N5ROW(2), N5ROW(3), N5ROW(4) };

AVX512 static INLINE void widen_piece_avx512(float *dst, const void *src, int btype, int64_t n)
{
	const uint16_t *h = src;
	const float *f = src;
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 km = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 v;
		if (btype == LLM_TYPE_F32)
			v = _mm512_maskz_loadu_ps(km, f + i);
		else if (btype == LLM_TYPE_F16)
			v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(km, h + i));
		else
			v = _mm512_castsi512_ps(_mm512_slli_epi32(
				_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(km, h + i)), 16));
		_mm512_mask_storeu_ps(dst + i, km, v);
	}
}

AVX512 static void widen_avx512(float *dst, const void *src, int btype, int64_t n, int64_t pc,
			      size_t piece_bytes)
{
	for (int64_t i = 0; i < n; i += pc, src = (const uint8_t *)src + piece_bytes)
		widen_piece_avx512(dst + i, src, btype, n - i < pc ? n - i : pc);
}

static const struct gemm_kernel kernel_avx512 = { MR5, NR5, tiles_avx512, widen_avx512 };
#endif /* x86-64 */

/* ============================================================ dispatch */

static int gemm_any(int isa, float *c, int64_t ldc, const float *a, int64_t lda,
		    const struct bsrc *bs, int64_t m, int64_t d, int64_t n)
{
	const struct gemm_kernel *kn = &kernel_ref;

	if (bs->btype != LLM_TYPE_F32 && bs->btype != LLM_TYPE_F16 && bs->btype != LLM_TYPE_BF16)
		return llm_err(LLM_EUNSUPPORTED, "gemm: B rows of type %s (F32, F16 or BF16 only)",
			       llm_type_name(bs->btype));
	if (m < 0 || d < 0 || n < 0 || lda < n || ldc < d)
		return llm_err(LLM_EINVAL, "gemm: bad shape m %lld d %lld n %lld (lda %lld ldc %lld)",
			       (long long)m, (long long)d, (long long)n, (long long)lda, (long long)ldc);
	if (isa < 0 || isa >= LLM_ISA_COUNT || isa > llm_isa_best())
		return llm_err(LLM_EUNSUPPORTED, "gemm: this CPU cannot run %s code", llm_isa_name(isa));
#ifdef HAVE_X86
	if (isa == LLM_ISA_AVX512)
		kn = &kernel_avx512;
	else if (isa == LLM_ISA_AVX2)
		kn = &kernel_avx2;
#endif
	gemm_run(kn, c, ldc, a, lda, bs, m, d, n);
	return 0;
}

int llm_gemm_nt_isa(int isa, float *c, int64_t ldc, const float *a, int64_t lda, const void *b,
		    int btype, int64_t ldb, int64_t m, int64_t d, int64_t n)
{
	size_t esz = btype == LLM_TYPE_F32 ? 4 : 2;
	struct bsrc bs = { b, btype, esz, (size_t)ldb * esz, 0, 0, 0, 0 };
	if (ldb < n)
		return llm_err(LLM_EINVAL, "gemm: B rows of %lld values %lld apart", (long long)n,
			       (long long)ldb);
	return gemm_any(isa, c, ldc, a, lda, &bs, m, d, n);
}

int llm_gemm_nt_panels_isa(int isa, float *c, int64_t ldc, const float *a, int64_t lda,
			   const void *b, int btype, const struct llm_gemm_panels *pl, int64_t m,
			   int64_t d, int64_t n)
{
	size_t esz = btype == LLM_TYPE_F32 ? 4 : 2;
	if (pl->rows < 1 || pl->piece < 1 || KC % pl->piece ||
	    pl->panel_bytes < (size_t)((n + pl->piece - 1) / pl->piece) * (size_t)(pl->rows * pl->piece) * esz)
		return llm_err(LLM_EINVAL, "gemm: panels of %lld rows, pieces of %lld values, %zu bytes",
			       (long long)pl->rows, (long long)pl->piece, pl->panel_bytes);
	struct bsrc bs = { b, btype, esz, 0, pl->rows, pl->piece,
			   (size_t)(pl->rows * pl->piece) * esz, pl->panel_bytes };
	return gemm_any(isa, c, ldc, a, lda, &bs, m, d, n);
}

int llm_gemm_nt_panels(float *c, int64_t ldc, const float *a, int64_t lda, const void *b, int btype,
		       const struct llm_gemm_panels *pl, int64_t m, int64_t d, int64_t n)
{
	return llm_gemm_nt_panels_isa(llm_isa_best(), c, ldc, a, lda, b, btype, pl, m, d, n);
}

int llm_gemm_nt(float *c, int64_t ldc, const float *a, int64_t lda, const void *b, int btype,
		int64_t ldb, int64_t m, int64_t d, int64_t n)
{
	return llm_gemm_nt_isa(llm_isa_best(), c, ldc, a, lda, b, btype, ldb, m, d, n);
}

int llm_gemm_preferred(void) { return llm_isa_best() >= LLM_ISA_AVX2; }
