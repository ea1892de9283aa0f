/* kquant.c - dot products of K-quant rows (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)
 * and of IQ4_NL and IQ4_XS rows (nibbles indexing 16 levels) with F32
 * vectors: what llm-run needs to run the files llama.cpp and the
 * Hugging Face hub mostly hold (Q4_K_M is Q4_K with Q6_K; llama-quantize's
 * Q4_0 keeps output.weight in Q6_K).
 *
 * Super-blocks of 256 values (layouts in types.c, after ggml-common.h):
 *   Q2_K  84 bytes: scales[16] (4-bit scale | 4-bit min << 4), qs[64]
 *         (2 bits), fp16 d, dmin.        w = d sc q - dmin m
 *   Q3_K 110 bytes: hmask[32], qs[64], scales[12] (6-bit, + 32), fp16 d.
 *                                         w = d (sc - 32) (q - 4 [hmask 0])
 *   Q4_K 144 bytes: fp16 d, dmin, scales[12] (8 x 6-bit scale and min),
 *         qs[128].                        w = d sc q - dmin m
 *   Q5_K 176 bytes: Q4_K plus qh[32], the 5th bits.
 *   Q6_K 210 bytes: ql[128], qh[64], int8 scales[16], fp16 d.
 *                                         w = d sc (q - 32)
 * The 2-bit types' sub-blocks are 16 values, Q4_K/Q5_K's 32, Q6_K's 16.
 *
 * The scalar reference decodes each super-block with types.c's reference
 * (bit for bit as ggml's dequantize_row_*) and sums w x in order.  The
 * AVX-512 and AVX2 versions decode codes 16 (8) at a time into int32
 * lanes, form w in F32 with one fused multiply-add (one rounding fewer
 * than the reference's two: d sc q - dmin m) and accumulate w x in two
 * sets of lanes.  Per core, rows of 5632 in cache, Zen 4 (G weights/s,
 * scalar / AVX2 / AVX-512): Q2_K 0.7 / 6.3 / 9.2, Q3_K 0.6 / 5.6 / 7.0,
 * Q4_K 0.6 / 10.9 / 12.5, Q5_K 0.6 / 7.3 / 9.7, Q6_K 0.6 / 8.7 / 9.7,
 * IQ4_NL 0.9 / 13.6 / 15.8, IQ4_XS 0.8 / 13.2 / 15.5 (Q4_0's row kernels:
 * 1.4 / 13.6 / 21.2).  The inner loops are unrolled by pragma: left
 * rolled, the scale broadcasts stayed inside them and the AVX2 Q4_K ran
 * at 3.5.  (With AVX-512 VNNI the model packs them all for qpack.h's
 * kernels instead.)
 *
 * IQ4_NL (32 values, 18 bytes: fp16 d, Q4_0's nibbles) and IQ4_XS (256
 * values, 136 bytes: fp16 d, u16 and 4 bytes of 6-bit sub-block scales
 * ls, nibbles): w = d level[q] and d (ls - 32) level[q], the levels by a
 * byte shuffle.
 */
#include <string.h>

#include "kernels_impl.h"
#include "types.h"
#include "types_impl.h"

#define QK_K 256

/* sum over the row of w x, one block decoded at a time (reference) */
static float dot_k_ref(int type, const void *row, const float *x, int64_t n)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	llm_to_float_fn dec = llm_type_ref_to_float(type);
	const uint8_t *b = row;
	float w[QK_K], s = 0;
	for (int64_t i = 0; i < n; i += tt->blck, b += tt->type_size) {
		dec(b, w, tt->blck);
		for (int l = 0; l < tt->blck; l++)
			s += w[l] * x[i + l];
	}
	return s;
}

static float dot_q2_K_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_Q2_K, r, x, n); }
static float dot_q3_K_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_Q3_K, r, x, n); }
static float dot_q4_K_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_Q4_K, r, x, n); }
static float dot_q5_K_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_Q5_K, r, x, n); }
static float dot_q6_K_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_Q6_K, r, x, n); }
static float dot_iq4_nl_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_IQ4_NL, r, x, n); }
static float dot_iq4_xs_ref(const void *r, const float *x, int64_t n) { return dot_k_ref(LLM_TYPE_IQ4_XS, r, x, n); }

#ifdef HAVE_X86

/* an fp16 scale, by F16C (the software conversion cost IQ4_NL, one scale
 * per 32 values, half its speed) */
AVX2 static inline float half_at(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

/* ------------------------------------------------------------------ AVX2 */

/* 8 bytes at p as 8 int32 lanes */
AVX2 static inline __m256i u8x8(const uint8_t *p)
{
	return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

/* acc += (q sc - mn) x over 8 values */
AVX2 static inline __m256 fma8v(__m256 acc, __m256i q, __m256 sc, __m256 mn, const float *x)
{
	__m256 w = _mm256_fmsub_ps(_mm256_cvtepi32_ps(q), sc, mn);
	return _mm256_fmadd_ps(w, _mm256_loadu_ps(x), acc);
}
AVX2 static inline __m256 fma8(__m256 acc, __m256i q, float sc, float mn, const float *x)
{
	return fma8v(acc, q, _mm256_set1_ps(sc), _mm256_set1_ps(mn), x);
}

AVX2 static inline float hsum8(__m256 a, __m256 b)
{
	__m256 v = _mm256_add_ps(a, b);
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* The AVX-512 versions' decoding (below), 8 lanes at a time: bytes l =
 * 8 g .. 8 g + 7 of each 32-byte run. */
AVX2 static float dot_q2_K_avx2(const void *row, const float *x, int64_t n)
{
	const __m256i m3 = _mm256_set1_epi32(3);
	const uint8_t *b = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 84, x += QK_K) {
		PF(b);
		const float d = half_at(b + 80), dmin = half_at(b + 82);
		for (int half = 0; half < 2; half++)
			for (int g = 0; g < 4; g++) {
				const __m256i q = u8x8(b + 16 + 32 * half + 8 * g);
#pragma GCC unroll 4
				for (int sh = 0; sh < 4; sh++) {
					const uint8_t sc = b[8 * half + 2 * sh + g / 2];
					__m256i c = _mm256_and_si256(_mm256_srli_epi32(q, 2 * sh), m3);
					__m256 *a = sh & 1 ? &a1 : &a0;
					*a = fma8(*a, c, d * (sc & 0xF), dmin * (sc >> 4), x + 128 * half + 32 * sh + 8 * g);
				}
			}
	}
	return hsum8(a0, a1);
}

/* Q3_K's 16 scales times d */
static inline void scales_q3(const uint8_t *s, float d, float *dl)
{
	for (int j = 0; j < 16; j++)
		dl[j] = d * (float)llm_q3k_scale(s, j);
}

AVX2 static float dot_q3_K_avx2(const void *row, const float *x, int64_t n)
{
	const __m256i m3 = _mm256_set1_epi32(3), four = _mm256_set1_epi32(4);
	const uint8_t *b = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 110, x += QK_K) {
		PF(b);
		float dl[16];
		scales_q3(b + 96, half_at(b + 108), dl);
		for (int half = 0; half < 2; half++)
			for (int g = 0; g < 4; g++) {
				const __m256i q = u8x8(b + 32 + 32 * half + 8 * g), h = u8x8(b + 8 * g);
#pragma GCC unroll 4
				for (int sh = 0; sh < 4; sh++) {
					const __m256i bit = _mm256_set1_epi32(1 << (4 * half + sh));
					__m256i c = _mm256_and_si256(_mm256_srli_epi32(q, 2 * sh), m3);
					/* minus 4 where the hmask bit is clear */
					__m256i clear = _mm256_cmpeq_epi32(_mm256_and_si256(h, bit), _mm256_setzero_si256());
					c = _mm256_sub_epi32(c, _mm256_and_si256(clear, four));
					__m256 *a = sh & 1 ? &a1 : &a0;
					*a = fma8(*a, c, dl[8 * half + 2 * sh + g / 2], 0.0f, x + 128 * half + 32 * sh + 8 * g);
				}
			}
	}
	return hsum8(a0, a1);
}

/* Q4_K/Q5_K's 8 scales and mins (6 bits each, packed in 12 bytes) times
 * d and dmin */
static inline void scales_k4(const uint8_t *q, float d, float dmin, float *sc, float *mn)
{
	for (int j = 0; j < 8; j++) {
		int s, m;
		llm_k4_scale_min(q, j, &s, &m);
		sc[j] = d * (float)s;
		mn[j] = dmin * (float)m;
	}
}

AVX2 static inline float dot_q45_K_avx2(const void *row, const float *x, int64_t n, const int q5)
{
	const __m256i m4 = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1);
	const size_t bb = q5 ? 176 : 144;
	const uint8_t *b = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += bb, x += QK_K) {
		PF(b);
		float sc[8], mn[8];
		scales_k4(b + 4, half_at(b), half_at(b + 2), sc, mn);
		const uint8_t *qs = b + (q5 ? 48 : 16);
		for (int p = 0; p < 4; p++) {
			const __m256 s0 = _mm256_set1_ps(sc[2 * p]), m0 = _mm256_set1_ps(mn[2 * p]);
			const __m256 s1 = _mm256_set1_ps(sc[2 * p + 1]), m1 = _mm256_set1_ps(mn[2 * p + 1]);
#pragma GCC unroll 4
			for (int g = 0; g < 4; g++) {
				const __m256i v = u8x8(qs + 32 * p + 8 * g);
				__m256i lo = _mm256_and_si256(v, m4), hi = _mm256_srli_epi32(v, 4);
				if (q5) {
					const __m256i h = u8x8(b + 16 + 8 * g);
					lo = _mm256_add_epi32(lo, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * p), one), 4));
					hi = _mm256_add_epi32(hi, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * p + 1), one), 4));
				}
				a0 = fma8v(a0, lo, s0, m0, x + 64 * p + 8 * g);
				a1 = fma8v(a1, hi, s1, m1, x + 64 * p + 32 + 8 * g);
			}
		}
	}
	return hsum8(a0, a1);
}

AVX2 static float dot_q4_K_avx2(const void *r, const float *x, int64_t n) { return dot_q45_K_avx2(r, x, n, 0); }
AVX2 static float dot_q5_K_avx2(const void *r, const float *x, int64_t n) { return dot_q45_K_avx2(r, x, n, 1); }

AVX2 static float dot_q6_K_avx2(const void *row, const float *x, int64_t n)
{
	const __m256i m4 = _mm256_set1_epi32(15), m30 = _mm256_set1_epi32(0x30);
	const __m256i c32 = _mm256_set1_epi32(32);
	const uint8_t *b = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 210, x += QK_K) {
		PF(b);
		const float d = half_at(b + 208);
		const int8_t *sc = (const int8_t *)(b + 192);
		for (int half = 0; half < 2; half++) {
			const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
#pragma GCC unroll 4
			for (int g = 0; g < 4; g++) { /* l = 8 g .. 8 g + 7 */
				const __m256i A = u8x8(ql + 8 * g), B = u8x8(ql + 32 + 8 * g), H = u8x8(qh + 8 * g);
				__m256i q1 = _mm256_or_si256(_mm256_and_si256(A, m4), _mm256_and_si256(_mm256_slli_epi32(H, 4), m30));
				__m256i q2 = _mm256_or_si256(_mm256_and_si256(B, m4), _mm256_and_si256(_mm256_slli_epi32(H, 2), m30));
				__m256i q3 = _mm256_or_si256(_mm256_srli_epi32(A, 4), _mm256_and_si256(H, m30));
				__m256i q4 = _mm256_or_si256(_mm256_srli_epi32(B, 4), _mm256_and_si256(_mm256_srli_epi32(H, 2), m30));
				const int8_t *s = sc + 8 * half + g / 2;
				const float *xs = x + 128 * half + 8 * g;
				a0 = fma8(a0, _mm256_sub_epi32(q1, c32), d * s[0], 0.0f, xs);
				a1 = fma8(a1, _mm256_sub_epi32(q2, c32), d * s[2], 0.0f, xs + 32);
				a0 = fma8(a0, _mm256_sub_epi32(q3, c32), d * s[4], 0.0f, xs + 64);
				a1 = fma8(a1, _mm256_sub_epi32(q4, c32), d * s[6], 0.0f, xs + 96);
			}
		}
	}
	return hsum8(a0, a1);
}

/* IQ4_NL / IQ4_XS: 16 bytes of nibbles -> their 32 levels as int8 (values
 * 0-15 in lo, 16-31 in hi), by a byte shuffle through the level table */
AVX2 static inline void iq4_levels(const uint8_t *qs, __m128i *lo, __m128i *hi)
{
	const __m128i tab = _mm_loadu_si128((const __m128i *)llm_iq4nl_levels), m4 = _mm_set1_epi8(15);
	const __m128i v = _mm_loadu_si128((const __m128i *)qs);
	*lo = _mm_shuffle_epi8(tab, _mm_and_si128(v, m4));
	*hi = _mm_shuffle_epi8(tab, _mm_and_si128(_mm_srli_epi16(v, 4), m4));
}

/* acc += d level x over one 32-value block */
AVX2 static inline void iq4_block8(__m256 *a0, __m256 *a1, const uint8_t *qs, float d, const float *x)
{
	__m128i lo, hi;
	iq4_levels(qs, &lo, &hi);
	const __m256 dv = _mm256_set1_ps(d), z = _mm256_setzero_ps();
	*a0 = fma8v(*a0, _mm256_cvtepi8_epi32(lo), dv, z, x);
	*a1 = fma8v(*a1, _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)), dv, z, x + 8);
	*a0 = fma8v(*a0, _mm256_cvtepi8_epi32(hi), dv, z, x + 16);
	*a1 = fma8v(*a1, _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)), dv, z, x + 24);
}

/* IQ4_XS sub-block ib's scale: d (ls - 32) */
static inline float iq4xs_scale(const uint8_t *b, float d, int ib)
{
	uint16_t sh;
	memcpy(&sh, b + 2, 2);
	return d * (float)llm_iq4xs_scale(sh, b + 4, ib);
}

AVX2 static float dot_iq4_nl_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += 32, b += 18, x += 32) {
		PF(b);
		iq4_block8(&a0, &a1, b + 2, half_at(b), x);
	}
	return hsum8(a0, a1);
}

AVX2 static float dot_iq4_xs_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 136, x += QK_K) {
		PF(b);
		const float d = half_at(b);
#pragma GCC unroll 8
		for (int ib = 0; ib < 8; ib++)
			iq4_block8(&a0, &a1, b + 8 + 16 * ib, iq4xs_scale(b, d, ib), x + 32 * ib);
	}
	return hsum8(a0, a1);
}

/* --------------------------------------------------------------- AVX-512 */

/* 16 bytes at p as 16 int32 lanes */
AVX512 static inline __m512i u8x16(const uint8_t *p)
{
	return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}

/* acc += (q sc - mn) x over 16 values: q int32 codes, w formed in F32 */
AVX512 static inline __m512 fma16(__m512 acc, __m512i q, float sc, float mn, const float *x)
{
	__m512 w = _mm512_fmsub_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(sc), _mm512_set1_ps(mn));
	return _mm512_fmadd_ps(w, _mm512_loadu_ps(x), acc);
}

AVX512 static inline float sum2(__m512 a, __m512 b)
{
	return _mm512_reduce_add_ps(_mm512_add_ps(a, b));
}

AVX512 static float dot_q2_K_avx512(const void *row, const float *x, int64_t n)
{
	const __m512i m3 = _mm512_set1_epi32(3);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 84, x += QK_K) {
		PF(b);
		const float d = half_at(b + 80), dmin = half_at(b + 82);
		const uint8_t *sc = b;
		for (int half = 0; half < 2; half++) {
			const __m512i q0 = u8x16(b + 16 + 32 * half), q1 = u8x16(b + 32 + 32 * half);
#pragma GCC unroll 4
			for (int sh = 0; sh < 4; sh++) {
				const int is = 8 * half + 2 * sh;
				const float *xs = x + 128 * half + 32 * sh;
				__m512i c0 = _mm512_and_si512(_mm512_srli_epi32(q0, (unsigned)(2 * sh)), m3);
				__m512i c1 = _mm512_and_si512(_mm512_srli_epi32(q1, (unsigned)(2 * sh)), m3);
				a0 = fma16(a0, c0, d * (sc[is] & 0xF), dmin * (sc[is] >> 4), xs);
				a1 = fma16(a1, c1, d * (sc[is + 1] & 0xF), dmin * (sc[is + 1] >> 4), xs + 16);
			}
		}
	}
	return sum2(a0, a1);
}

AVX512 static float dot_q3_K_avx512(const void *row, const float *x, int64_t n)
{
	const __m512i m3 = _mm512_set1_epi32(3), four = _mm512_set1_epi32(4);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 110, x += QK_K) {
		PF(b);
		float dl[16];
		scales_q3(b + 96, half_at(b + 108), dl);
		const __m512i h0 = u8x16(b), h1 = u8x16(b + 16);
		for (int half = 0; half < 2; half++) {
			const __m512i q0 = u8x16(b + 32 + 32 * half), q1 = u8x16(b + 48 + 32 * half);
#pragma GCC unroll 4
			for (int sh = 0; sh < 4; sh++) {
				const int is = 8 * half + 2 * sh;
				const float *xs = x + 128 * half + 32 * sh;
				const __m512i bit = _mm512_set1_epi32(1 << (4 * half + sh));
				__m512i c0 = _mm512_and_si512(_mm512_srli_epi32(q0, (unsigned)(2 * sh)), m3);
				__m512i c1 = _mm512_and_si512(_mm512_srli_epi32(q1, (unsigned)(2 * sh)), m3);
				/* minus 4 where the hmask bit is clear */
				c0 = _mm512_mask_sub_epi32(c0, _mm512_testn_epi32_mask(h0, bit), c0, four);
				c1 = _mm512_mask_sub_epi32(c1, _mm512_testn_epi32_mask(h1, bit), c1, four);
				a0 = fma16(a0, c0, dl[is], 0.0f, xs);
				a1 = fma16(a1, c1, dl[is + 1], 0.0f, xs + 16);
			}
		}
	}
	return sum2(a0, a1);
}

/* Q4_K (q5 = 0) and Q5_K (q5 = 1): each 32 bytes of qs carry sub-blocks
 * 2p (low nibbles) and 2p + 1 (high); Q5_K's 5th bit of value l of
 * sub-block j is bit j of qh[l]. */
AVX512 static inline float dot_q45_K(const void *row, const float *x, int64_t n, const int q5)
{
	const __m512i m4 = _mm512_set1_epi32(15), c16 = _mm512_set1_epi32(16);
	const size_t bb = q5 ? 176 : 144;
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += bb, x += QK_K) {
		PF(b);
		float sc[8], mn[8];
		scales_k4(b + 4, half_at(b), half_at(b + 2), sc, mn);
		const uint8_t *qs = b + (q5 ? 48 : 16);
		__m512i h0 = _mm512_setzero_si512(), h1 = h0;
		if (q5)
			h0 = u8x16(b + 16), h1 = u8x16(b + 32);
#pragma GCC unroll 4
		for (int p = 0; p < 4; p++) {
			const __m512i v0 = u8x16(qs + 32 * p), v1 = u8x16(qs + 32 * p + 16);
			__m512i l0 = _mm512_and_si512(v0, m4), l1 = _mm512_and_si512(v1, m4);
			__m512i u0 = _mm512_srli_epi32(v0, 4), u1 = _mm512_srli_epi32(v1, 4);
			if (q5) {
				const __m512i bl = _mm512_set1_epi32(1 << (2 * p)), bu = _mm512_set1_epi32(2 << (2 * p));
				l0 = _mm512_mask_add_epi32(l0, _mm512_test_epi32_mask(h0, bl), l0, c16);
				l1 = _mm512_mask_add_epi32(l1, _mm512_test_epi32_mask(h1, bl), l1, c16);
				u0 = _mm512_mask_add_epi32(u0, _mm512_test_epi32_mask(h0, bu), u0, c16);
				u1 = _mm512_mask_add_epi32(u1, _mm512_test_epi32_mask(h1, bu), u1, c16);
			}
			const float *xs = x + 64 * p;
			a0 = fma16(a0, l0, sc[2 * p], mn[2 * p], xs);
			a1 = fma16(a1, l1, sc[2 * p], mn[2 * p], xs + 16);
			a0 = fma16(a0, u0, sc[2 * p + 1], mn[2 * p + 1], xs + 32);
			a1 = fma16(a1, u1, sc[2 * p + 1], mn[2 * p + 1], xs + 48);
		}
	}
	return sum2(a0, a1);
}

AVX512 static float dot_q4_K_avx512(const void *r, const float *x, int64_t n) { return dot_q45_K(r, x, n, 0); }
AVX512 static float dot_q5_K_avx512(const void *r, const float *x, int64_t n) { return dot_q45_K(r, x, n, 1); }

/* Q6_K: per 128 values, value l + 32 k (l < 32) has its low 4 bits in
 * ql[l + 32 (k & 1)] (low nibble for k < 2, high for k >= 2), its top 2
 * bits at shift 2 k of qh[l], and scale scales[l / 16 + 2 k]. */
AVX512 static float dot_q6_K_avx512(const void *row, const float *x, int64_t n)
{
	const __m512i m4 = _mm512_set1_epi32(15), m30 = _mm512_set1_epi32(0x30);
	const __m512i c32 = _mm512_set1_epi32(32);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 210, x += QK_K) {
		PF(b);
		const float d = half_at(b + 208);
		const int8_t *sc = (const int8_t *)(b + 192);
		for (int half = 0; half < 2; half++) {
			const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
#pragma GCC unroll 2
			for (int g = 0; g < 2; g++) { /* l = 16 g .. 16 g + 15 */
				const __m512i A = u8x16(ql + 16 * g), B = u8x16(ql + 32 + 16 * g);
				const __m512i H = u8x16(qh + 16 * g);
				__m512i q1 = _mm512_or_si512(_mm512_and_si512(A, m4),
							     _mm512_and_si512(_mm512_slli_epi32(H, 4), m30));
				__m512i q2 = _mm512_or_si512(_mm512_and_si512(B, m4),
							     _mm512_and_si512(_mm512_slli_epi32(H, 2), m30));
				__m512i q3 = _mm512_or_si512(_mm512_srli_epi32(A, 4), _mm512_and_si512(H, m30));
				__m512i q4 = _mm512_or_si512(_mm512_srli_epi32(B, 4),
							     _mm512_and_si512(_mm512_srli_epi32(H, 2), m30));
				const int8_t *s = sc + 8 * half + g;
				const float *xs = x + 128 * half + 16 * g;
				a0 = fma16(a0, _mm512_sub_epi32(q1, c32), d * s[0], 0.0f, xs);
				a1 = fma16(a1, _mm512_sub_epi32(q2, c32), d * s[2], 0.0f, xs + 32);
				a0 = fma16(a0, _mm512_sub_epi32(q3, c32), d * s[4], 0.0f, xs + 64);
				a1 = fma16(a1, _mm512_sub_epi32(q4, c32), d * s[6], 0.0f, xs + 96);
			}
		}
	}
	return sum2(a0, a1);
}

/* acc += d level x over one 32-value block */
AVX512 static inline void iq4_block16(__m512 *a0, __m512 *a1, const uint8_t *qs, float d, const float *x)
{
	__m128i lo, hi;
	iq4_levels(qs, &lo, &hi);
	*a0 = fma16(*a0, _mm512_cvtepi8_epi32(lo), d, 0.0f, x);
	*a1 = fma16(*a1, _mm512_cvtepi8_epi32(hi), d, 0.0f, x + 16);
}

AVX512 static float dot_iq4_nl_avx512(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += 32, b += 18, x += 32) {
		PF(b);
		iq4_block16(&a0, &a1, b + 2, half_at(b), x);
	}
	return sum2(a0, a1);
}

AVX512 static float dot_iq4_xs_avx512(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	for (int64_t i = 0; i < n; i += QK_K, b += 136, x += QK_K) {
		PF(b);
		const float d = half_at(b);
#pragma GCC unroll 8
		for (int ib = 0; ib < 8; ib++)
			iq4_block16(&a0, &a1, b + 8 + 16 * ib, iq4xs_scale(b, d, ib), x + 32 * ib);
	}
	return sum2(a0, a1);
}

#define KDOT(t, name) { t, { dot_##name##_ref, dot_##name##_avx2, dot_##name##_avx512 } }
#else
#define KDOT(t, name) { t, { dot_##name##_ref, NULL, NULL } }
#endif /* HAVE_X86 */

static const struct {
	int type;
	llm_dot_fn fn[LLM_ISA_COUNT];
} kdots[] = {
	KDOT(LLM_TYPE_Q2_K, q2_K), KDOT(LLM_TYPE_Q3_K, q3_K), KDOT(LLM_TYPE_Q4_K, q4_K),
	KDOT(LLM_TYPE_Q5_K, q5_K), KDOT(LLM_TYPE_Q6_K, q6_K), KDOT(LLM_TYPE_IQ4_NL, iq4_nl),
	KDOT(LLM_TYPE_IQ4_XS, iq4_xs),
};

llm_dot_fn llm_kquant_dot(int type, int isa)
{
	if (isa < 0 || isa >= LLM_ISA_COUNT)
		return NULL;
	for (size_t i = 0; i < sizeof kdots / sizeof kdots[0]; i++)
		if (kdots[i].type == type)
			return kdots[i].fn[isa];
	return NULL;
}
