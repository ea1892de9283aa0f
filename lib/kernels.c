/* kernels.c - dot products per weight type and instruction set, mat-vec,
 * mat-mat (prefill) and the small element-wise kernels.
 *
 * Layout of this file:
 *   1. scalar references (one per type; the definition of "right")
 *   2. AVX2+FMA+F16C and AVX-512 versions, each function carrying its own
 *      target attribute so the file builds for baseline x86-64 and the
 *      choice is made at run time
 *   3. dispatch, mat-vec, mat-mat
 *   4. rmsnorm, rope, softmax, silu
 *
 * Quantized blocks (types.h): 32 values, fp16 scale d (and min m for the
 * _1 types).  The AVX2 versions expand a block to 32 signed bytes q
 * (already offset: q-8 for Q4_0, q-16 for Q5_0) and accumulate
 * d * sum(q * x) (+ m * sum(x)) in F32 lanes; the AVX-512 versions turn
 * 4-bit codes straight into floats with a 16-entry vpermps table (+16 by a
 * masked add for the 5th bit), take two blocks per step into two
 * accumulators and prefetch the weight stream; the reference does the same
 * sums sequentially.  Order of summation differs, hence the tolerance in
 * tests/test_kernels.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "gemm.h"
#include "kernels.h"
#include "kernels_impl.h"
#include "types.h"

static inline float fp16(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return llm_fp16_to_fp32(h);
}
static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* ============================================================ references */

static float dot_f32_ref(const void *row, const float *x, int64_t n)
{
	const float *w = row;
	float s = 0;
	for (int64_t i = 0; i < n; i++)
		s += w[i] * x[i];
	return s;
}

static float dot_f16_ref(const void *row, const float *x, int64_t n)
{
	const uint16_t *w = row;
	float s = 0;
	for (int64_t i = 0; i < n; i++)
		s += llm_fp16_to_fp32(w[i]) * x[i];
	return s;
}

static float dot_bf16_ref(const void *row, const float *x, int64_t n)
{
	const uint16_t *w = row;
	float s = 0;
	for (int64_t i = 0; i < n; i++)
		s += llm_bf16_to_fp32(w[i]) * x[i];
	return s;
}

/* Q8_0: 34 bytes = d, q[32] */
static float dot_q8_0_ref(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	float s = 0;
	for (int64_t i = 0; i < n; i += 32, b += 34, x += 32) {
		const int8_t *q = (const int8_t *)(b + 2);
		float bs = 0;
		for (int j = 0; j < 32; j++)
			bs += q[j] * x[j];
		s += fp16(b) * bs;
	}
	return s;
}

/* Q4_0: 18 bytes = d, qs[16]; value j low nibble of qs[j], j+16 high. */
static float dot_q4_0_ref(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	float s = 0;
	for (int64_t i = 0; i < n; i += 32, b += 18, x += 32) {
		const uint8_t *qs = b + 2;
		float bs = 0;
		for (int j = 0; j < 16; j++) {
			bs += ((qs[j] & 15) - 8) * x[j];
			bs += ((qs[j] >> 4) - 8) * x[j + 16];
		}
		s += fp16(b) * bs;
	}
	return s;
}

/* Q4_1: 20 bytes = d, m, qs[16].  x = d*q + m */
static float dot_q4_1_ref(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	float s = 0;
	for (int64_t i = 0; i < n; i += 32, b += 20, x += 32) {
		const uint8_t *qs = b + 4;
		float bs = 0, sx = 0;
		for (int j = 0; j < 16; j++) {
			bs += (qs[j] & 15) * x[j];
			bs += (qs[j] >> 4) * x[j + 16];
			sx += x[j] + x[j + 16];
		}
		s += fp16(b) * bs + fp16(b + 2) * sx;
	}
	return s;
}

/* Q5_0: 22 bytes = d, qh (u32), qs[16].  bit j of qh: 5th bit of value j */
static float dot_q5_0_ref(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	float s = 0;
	for (int64_t i = 0; i < n; i += 32, b += 22, x += 32) {
		uint32_t qh = rd32(b + 2);
		const uint8_t *qs = b + 6;
		float bs = 0;
		for (int j = 0; j < 16; j++) {
			int lo = (qs[j] & 15) | (int)((qh >> j) & 1) << 4;
			int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
			bs += (lo - 16) * x[j];
			bs += (hi - 16) * x[j + 16];
		}
		s += fp16(b) * bs;
	}
	return s;
}

/* Q5_1: 24 bytes = d, m, qh, qs[16].  x = d*q + m */
static float dot_q5_1_ref(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	float s = 0;
	for (int64_t i = 0; i < n; i += 32, b += 24, x += 32) {
		uint32_t qh = rd32(b + 4);
		const uint8_t *qs = b + 8;
		float bs = 0, sx = 0;
		for (int j = 0; j < 16; j++) {
			int lo = (qs[j] & 15) | (int)((qh >> j) & 1) << 4;
			int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
			bs += lo * x[j];
			bs += hi * x[j + 16];
			sx += x[j] + x[j + 16];
		}
		s += fp16(b) * bs + fp16(b + 2) * sx;
	}
	return s;
}

/* ======================================================= x86-64 vectors */

#if defined(__x86_64__) && defined(__GNUC__)

/* block scale: one F16C instruction instead of the software conversion */
AVX2 static inline float fp16_hw(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

AVX2 static inline float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* 32 bytes: nibbles of qs[16] -> bytes 0..15 low nibbles, 16..31 high */
AVX2 static inline __m256i expand_q4(const uint8_t *qs)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs);
	__m128i m = _mm_set1_epi8(15);
	__m128i lo = _mm_and_si128(v, m);
	__m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
	return _mm256_set_m128i(hi, lo);
}

/* 32 bytes: 0x10 where bit j of qh is set, else 0 */
AVX2 static inline __m256i expand_qh(uint32_t qh)
{
	const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
					      2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
	const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
	v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bits), bits);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* sum over 32 lanes of q[j] * x[j] as 8 partial sums */
AVX2 static inline __m256 dot32_avx2(__m256i q, const float *x)
{
	__m128i a = _mm256_castsi256_si128(q), b = _mm256_extracti128_si256(q, 1);
	__m256 s = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(a)), _mm256_loadu_ps(x));
	s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(a, 8))),
			    _mm256_loadu_ps(x + 8), s);
	s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), _mm256_loadu_ps(x + 16), s);
	s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))),
			    _mm256_loadu_ps(x + 24), s);
	return s;
}

AVX2 static inline __m256 sum32_avx2(const float *x)
{
	return _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
			     _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
}

AVX2 static float dot_f32_avx2(const void *row, const float *x, int64_t n)
{
	const float *w = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
		a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
		a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
		a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
	}
	for (; i + 8 <= n; i += 8)
		a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
	float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
	for (; i < n; i++)
		s += w[i] * x[i];
	return s;
}

AVX2 static float dot_f16_avx2(const void *row, const float *x, int64_t n)
{
	const uint16_t *w = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		PF(w + i);
		__m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
		__m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
		a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
		a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
	}
	float s = hsum256(_mm256_add_ps(a0, a1));
	for (; i < n; i++)
		s += llm_fp16_to_fp32(w[i]) * x[i];
	return s;
}

AVX2 static inline __m256 bf16x8(const uint16_t *p)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

AVX2 static float dot_bf16_avx2(const void *row, const float *x, int64_t n)
{
	const uint16_t *w = row;
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		PF(w + i);
		a0 = _mm256_fmadd_ps(bf16x8(w + i), _mm256_loadu_ps(x + i), a0);
		a1 = _mm256_fmadd_ps(bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
	}
	float s = hsum256(_mm256_add_ps(a0, a1));
	for (; i < n; i++)
		s += llm_bf16_to_fp32(w[i]) * x[i];
	return s;
}

AVX2 static float dot_q8_0_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 acc = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += 32, b += 34, x += 32) {
		PF(b);
		__m256i q = _mm256_loadu_si256((const __m256i *)(b + 2));
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b)), dot32_avx2(q, x), acc);
	}
	return hsum256(acc);
}

AVX2 static float dot_q4_0_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 acc = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += 32, b += 18, x += 32) {
		PF(b);
		__m256i q = _mm256_sub_epi8(expand_q4(b + 2), _mm256_set1_epi8(8));
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b)), dot32_avx2(q, x), acc);
	}
	return hsum256(acc);
}

AVX2 static float dot_q4_1_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 acc = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += 32, b += 20, x += 32) {
		PF(b);
		__m256i q = expand_q4(b + 4);
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b)), dot32_avx2(q, x), acc);
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b + 2)), sum32_avx2(x), acc);
	}
	return hsum256(acc);
}

AVX2 static float dot_q5_0_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 acc = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += 32, b += 22, x += 32) {
		PF(b);
		__m256i q = _mm256_or_si256(expand_q4(b + 6), expand_qh(rd32(b + 2)));
		q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b)), dot32_avx2(q, x), acc);
	}
	return hsum256(acc);
}

AVX2 static float dot_q5_1_avx2(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m256 acc = _mm256_setzero_ps();
	for (int64_t i = 0; i < n; i += 32, b += 24, x += 32) {
		PF(b);
		__m256i q = _mm256_or_si256(expand_q4(b + 8), expand_qh(rd32(b + 4)));
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b)), dot32_avx2(q, x), acc);
		acc = _mm256_fmadd_ps(_mm256_set1_ps(fp16_hw(b + 2)), sum32_avx2(x), acc);
	}
	return hsum256(acc);
}

/* ---- AVX-512: 16 lanes, masked tails, same block expansion ---- */

AVX512 static inline __m512 sum32_avx512(const float *x)
{
	return _mm512_add_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16));
}

AVX512 static float dot_f32_avx512(const void *row, const float *x, int64_t n)
{
	const float *w = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64) {
		a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
		a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
		a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
		a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
	}
	for (; i + 16 <= n; i += 16)
		a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_maskz_loadu_ps(k, x + i), a1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}


/* F16: 64 values (two cache lines) per step, four accumulators */
AVX512 static float dot_f16_avx512(const void *row, const float *x, int64_t n)
{
	const uint16_t *w = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64) {
		PF(w + i);
		PF(w + i + 32);
		a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i))),
				     _mm512_loadu_ps(x + i), a0);
		a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 16))),
				     _mm512_loadu_ps(x + i + 16), a1);
		a2 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 32))),
				     _mm512_loadu_ps(x + i + 32), a2);
		a3 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 48))),
				     _mm512_loadu_ps(x + i + 48), a3);
	}
	for (; i < n; i += 16) {
		int64_t r = n - i < 16 ? n - i : 16;
		__mmask16 k = (__mmask16)((1u << r) - 1);
		__m512 w0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, w + i));
		a0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(k, x + i), a0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* 16 bf16 from memory: zero-extend to 32 bits, shift into the high half */
AVX512 static inline __m512 bf16x16(__m256i v)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}
#define BF16LD(p) bf16x16(_mm256_loadu_si256((const __m256i *)(p)))

AVX512 static float dot_bf16_avx512(const void *row, const float *x, int64_t n)
{
	const uint16_t *w = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64) {
		PF(w + i);
		PF(w + i + 32);
		a0 = _mm512_fmadd_ps(BF16LD(w + i), _mm512_loadu_ps(x + i), a0);
		a1 = _mm512_fmadd_ps(BF16LD(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
		a2 = _mm512_fmadd_ps(BF16LD(w + i + 32), _mm512_loadu_ps(x + i + 32), a2);
		a3 = _mm512_fmadd_ps(BF16LD(w + i + 48), _mm512_loadu_ps(x + i + 48), a3);
	}
	for (; i < n; i += 16) {
		int64_t r = n - i < 16 ? n - i : 16;
		__mmask16 k = (__mmask16)((1u << r) - 1);
		a0 = _mm512_fmadd_ps(bf16x16(_mm256_maskz_loadu_epi16(k, w + i)),
				     _mm512_maskz_loadu_ps(k, x + i), a0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* Block scale broadcast to 16 lanes.  Normal fp16 (the usual case) is
 * widened with integer operations and one broadcast from a general
 * register, which keeps the vector shuffle port free for the weights;
 * zero, subnormal, inf and NaN go through F16C. */
AVX512 static inline __m512 scale16(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	uint32_t em = h & 0x7fffu;
	if (__builtin_expect(em - 0x400u < 0x7800u, 1)) {
		uint32_t f = ((uint32_t)(h & 0x8000u) << 16) | ((em << 13) + (112u << 23));
		return _mm512_castsi512_ps(_mm512_set1_epi32((int)f));
	}
	return _mm512_set1_ps(_cvtsh_ss(h));
}

/* 4-bit codes to floats: vpermps reads only the low 4 bits of each index
 * lane, so the low nibble needs no mask.  tab[i] = value of code i. */
AVX512 static inline __m512 nib_lo(__m512i v, __m512 tab)
{
	return _mm512_permutexvar_ps(v, tab);
}
AVX512 static inline __m512 nib_hi(__m512i v, __m512 tab)
{
	return _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), tab);
}
/* qs[16] -> 16 lanes, one byte (both nibbles) per lane */
AVX512 static inline __m512i bytes16(const uint8_t *qs)
{
	return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
}

/* Q8_0: two blocks per step, two accumulators (the scale FMA chain is the
 * only loop-carried dependency). */
AVX512 static inline __m512 q8_block(const uint8_t *b, const float *x)
{
	__m512 a = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2))));
	__m512 c = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 18))));
	return _mm512_fmadd_ps(c, _mm512_loadu_ps(x + 16), _mm512_mul_ps(a, _mm512_loadu_ps(x)));
}

AVX512 static float dot_q8_0_avx512(const void *row, const float *x, int64_t n)
{
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64, b += 68, x += 64) {
		PF(b);
		PF(b + 64);
		a0 = _mm512_fmadd_ps(scale16(b), q8_block(b, x), a0);
		a1 = _mm512_fmadd_ps(scale16(b + 34), q8_block(b + 34, x + 32), a1);
	}
	if (i < n)
		a0 = _mm512_fmadd_ps(scale16(b), q8_block(b, x), a0);
	return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* sum(tab[q] * x) over one block of 4-bit codes qs[16] */
AVX512 static inline __m512 q4_block(const uint8_t *qs, const float *x, __m512 tab)
{
	__m512i v = bytes16(qs);
	return _mm512_fmadd_ps(nib_hi(v, tab), _mm512_loadu_ps(x + 16),
			       _mm512_mul_ps(nib_lo(v, tab), _mm512_loadu_ps(x)));
}

AVX512 static float dot_q4_0_avx512(const void *row, const float *x, int64_t n)
{
	const __m512 tab = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64, b += 36, x += 64) {
		PF(b);
		a0 = _mm512_fmadd_ps(scale16(b), q4_block(b + 2, x, tab), a0);
		a1 = _mm512_fmadd_ps(scale16(b + 18), q4_block(b + 20, x + 32, tab), a1);
	}
	if (i < n)
		a0 = _mm512_fmadd_ps(scale16(b), q4_block(b + 2, x, tab), a0);
	return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

AVX512 static inline __m512 q4_1_block(const uint8_t *b, const float *x, __m512 tab, __m512 acc)
{
	acc = _mm512_fmadd_ps(scale16(b), q4_block(b + 4, x, tab), acc);
	return _mm512_fmadd_ps(scale16(b + 2), sum32_avx512(x), acc);
}

AVX512 static float dot_q4_1_avx512(const void *row, const float *x, int64_t n)
{
	const __m512 tab = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64, b += 40, x += 64) {
		PF(b);
		a0 = q4_1_block(b, x, tab, a0);
		a1 = q4_1_block(b + 20, x + 32, tab, a1);
	}
	if (i < n)
		a0 = q4_1_block(b, x, tab, a0);
	return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* sum(code * x) over one 5-bit block: 4-bit lookup, then +16 (a masked
 * add, exact) in the lanes whose bit of qh is set */
AVX512 static inline __m512 q5_block(const uint8_t *qs, uint32_t qh, const float *x, __m512 tab)
{
	const __m512 c16 = _mm512_set1_ps(16);
	__m512i v = bytes16(qs);
	__m512 lo = nib_lo(v, tab), hi = nib_hi(v, tab);
	lo = _mm512_mask_add_ps(lo, (__mmask16)qh, lo, c16);
	hi = _mm512_mask_add_ps(hi, (__mmask16)(qh >> 16), hi, c16);
	return _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16), _mm512_mul_ps(lo, _mm512_loadu_ps(x)));
}

AVX512 static float dot_q5_0_avx512(const void *row, const float *x, int64_t n)
{
	const __m512 tab = _mm512_setr_ps(-16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5,
					  -4, -3, -2, -1);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64, b += 44, x += 64) {
		PF(b);
		a0 = _mm512_fmadd_ps(scale16(b), q5_block(b + 6, rd32(b + 2), x, tab), a0);
		a1 = _mm512_fmadd_ps(scale16(b + 22), q5_block(b + 28, rd32(b + 24), x + 32, tab), a1);
	}
	if (i < n)
		a0 = _mm512_fmadd_ps(scale16(b), q5_block(b + 6, rd32(b + 2), x, tab), a0);
	return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

AVX512 static inline __m512 q5_1_block(const uint8_t *b, const float *x, __m512 tab, __m512 acc)
{
	acc = _mm512_fmadd_ps(scale16(b), q5_block(b + 8, rd32(b + 4), x, tab), acc);
	return _mm512_fmadd_ps(scale16(b + 2), sum32_avx512(x), acc);
}

AVX512 static float dot_q5_1_avx512(const void *row, const float *x, int64_t n)
{
	const __m512 tab = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const uint8_t *b = row;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0;
	int64_t i = 0;
	for (; i + 64 <= n; i += 64, b += 48, x += 64) {
		PF(b);
		a0 = q5_1_block(b, x, tab, a0);
		a1 = q5_1_block(b + 24, x + 32, tab, a1);
	}
	if (i < n)
		a0 = q5_1_block(b, x, tab, a0);
	return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

AVX2 static void axpy_avx2(float *y, float a, const float *x, int64_t n)
{
	__m256 av = _mm256_set1_ps(a);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

AVX512 static void axpy_avx512(float *y, float a, const float *x, int64_t n)
{
	__m512 av = _mm512_set1_ps(a);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		_mm512_mask_storeu_ps(y + i, k, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(k, x + i),
								_mm512_maskz_loadu_ps(k, y + i)));
	}
}
#endif /* x86-64 */

/* ============================================================= dispatch */

/* What the CPU runs, before LLM_ISA. */
static int isa_cpu(void)
{
#ifdef HAVE_X86
#ifdef __clang__
	const int f16c = 1; /* clang's builtin may not know "f16c"; every AVX2 CPU has F16C */
#else
	const int f16c = __builtin_cpu_supports("f16c");
#endif
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma") && f16c)
		return LLM_ISA_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c)
		return LLM_ISA_AVX2;
#endif
	return LLM_ISA_SCALAR;
}

int llm_isa_best(void)
{
	/* read once; every thread computes the same value, so a race only
	 * repeats the work */
	static _Atomic int best = -1;
	int b = best;
	if (b < 0) {
		const char *e = getenv("LLM_ISA");
		b = isa_cpu();
		for (int i = 0; e && i < b; i++) /* a cap: never above what the CPU runs */
			if (strcasecmp(e, llm_isa_name(i)) == 0)
				b = i;
		best = b;
	}
	return b;
}

const char *llm_isa_name(int isa)
{
	static const char *const names[] = { "scalar", "avx2", "avx512" };
	return isa >= 0 && isa < LLM_ISA_COUNT ? names[isa] : "?";
}

struct dot_row {
	int type;
	llm_dot_fn fn[LLM_ISA_COUNT];
};

#ifdef HAVE_X86
#define DOTS(t, name) { t, { dot_##name##_ref, dot_##name##_avx2, dot_##name##_avx512 } }
#else
#define DOTS(t, name) { t, { dot_##name##_ref, NULL, NULL } }
#endif
static const struct dot_row dots[] = {
	DOTS(LLM_TYPE_F32, f32),   DOTS(LLM_TYPE_F16, f16),   DOTS(LLM_TYPE_BF16, bf16),
	DOTS(LLM_TYPE_Q8_0, q8_0), DOTS(LLM_TYPE_Q4_0, q4_0), DOTS(LLM_TYPE_Q4_1, q4_1),
	DOTS(LLM_TYPE_Q5_0, q5_0), DOTS(LLM_TYPE_Q5_1, q5_1),
};

int llm_kernel_type_ok(int type)
{
	for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++)
		if (dots[i].type == type)
			return 1;
	return llm_kquant_dot(type, LLM_ISA_SCALAR) != NULL;
}

llm_dot_fn llm_dot_get(int type, int isa)
{
	if (isa < 0 || isa >= LLM_ISA_COUNT || isa > llm_isa_best())
		return NULL;
	for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++)
		if (dots[i].type == type)
			return dots[i].fn[isa];
	return llm_kquant_dot(type, isa);
}

static void axpy_ref(float *y, float a, const float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

llm_axpy_fn llm_axpy_get(int isa)
{
	if (isa < 0 || isa >= LLM_ISA_COUNT || isa > llm_isa_best())
		return NULL;
#ifdef HAVE_X86
	if (isa == LLM_ISA_AVX512)
		return axpy_avx512;
	if (isa == LLM_ISA_AVX2)
		return axpy_avx2;
#endif
	return axpy_ref;
}

/* ============================================================== mat-vec */

/* o[0], o[1] = two adjacent rows (row, row + rb bytes) . x */
typedef void (*dot2_fn)(const void *row, size_t rb, const float *x, int64_t n, float *o);

#ifdef HAVE_X86
/* F16 rows in pairs: one pass over x for both rows and one loop's
 * overhead (F16 decode on Zen 4, pairs and single rows alternated token
 * by token: 1.012-1.024x on median tokens) */
AVX512 static void dot2_f16_avx512(const void *row, size_t rb, const float *x, int64_t n, float *o)
{
	const uint16_t *w = row, *v = (const uint16_t *)((const uint8_t *)row + rb);
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		PF(w + i);
		PF(v + i);
		__m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
		a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i))), x0, a0);
		a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 16))), x1, a1);
		b0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v + i))), x0, b0);
		b1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v + i + 16))), x1, b1);
	}
	for (; i < n; i += 16) {
		int64_t r = n - i < 16 ? n - i : 16;
		__mmask16 k = (__mmask16)((1u << r) - 1);
		__m512 xv = _mm512_maskz_loadu_ps(k, x + i);
		a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, w + i)), xv, a0);
		b0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, v + i)), xv, b0);
	}
	o[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
	o[1] = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}
#endif

static dot2_fn dot2_get(int type, int isa)
{
#ifdef HAVE_X86
	if (type == LLM_TYPE_F16 && isa == LLM_ISA_AVX512)
		return dot2_f16_avx512;
#endif
	(void)type, (void)isa;
	return NULL;
}

struct matvec_job {
	const uint8_t *w;
	size_t row_bytes;
	const float *x;
	int64_t n;
	llm_dot_fn dot;
	dot2_fn dot2; /* or NULL */
};

/* Rows in order: one forward stream per thread (on Zen 4, two streams from
 * the two halves of the range ran F16 decode at 10.5 against 11.8 tok/s).
 * An output job of the pool: row r's value goes to out[r - r0].  With
 * dot2, even rows pair with the next one, so that (chunks starting on
 * even rows, as llm_matvec's align of 4 makes them) each row is computed
 * the same way however the rows are split. */
static void matvec_rows(const void *arg, int64_t r0, int64_t r1, float *out)
{
	const struct matvec_job *j = arg;
	int64_t r = r0;
	if (j->dot2) {
		if (r & 1) { /* a chunk on an odd row: that one alone */
			out[0] = j->dot(j->w + (size_t)r * j->row_bytes, j->x, j->n);
			r++;
		}
		for (; r + 2 <= r1; r += 2)
			j->dot2(j->w + (size_t)r * j->row_bytes, j->row_bytes, j->x, j->n, out + (r - r0));
	}
	for (; r < r1; r++)
		out[r - r0] = j->dot(j->w + (size_t)r * j->row_bytes, j->x, j->n);
}

void llm_matvec(float *y, const void *w, int type, const float *x, int64_t n, int64_t d,
		llm_threadpool *tp)
{
	struct matvec_job j = { w, llm_type_row_size(type, n), x, n, llm_dot_get(type, llm_isa_best()),
				dot2_get(type, llm_isa_best()) };
	/* at least ~32 KiB of weights per chunk: below that waking a worker
	 * costs more than it saves */
	int64_t grain = (int64_t)(32768 / (j.row_bytes ? j.row_bytes : 1)) + 1;
	_Static_assert(sizeof j <= LLM_POOL_ARG_MAX, "the pool copies the job");
	llm_threadpool_run_out(tp, d, grain, 4, matvec_rows, &j, sizeof j, y, 1, d);
}

void llm_matvec_ref(float *y, const void *w, int type, const float *x, int64_t n, int64_t d)
{
	struct matvec_job j = { w, llm_type_row_size(type, n), x, n, llm_dot_get(type, LLM_ISA_SCALAR),
				NULL };
	matvec_rows(&j, 0, d, y);
}

/* ============================================================== mat-mat */

/* Which product: our gemm.c (F32, F16 and BF16 rows read in place, other
 * types through decoded panels) wherever it has a vector kernel, OpenBLAS
 * sgemm elsewhere.  On this Xeon gemm.c runs 3-4x OpenBLAS 0.3.21's SSE3
 * fallback and within 10% of OpenBLAS's own AVX2 (Haswell) and AVX-512
 * (SkylakeX) kernels forced with OPENBLAS_CORETYPE, and it reads F16/BF16
 * without a decode pass.  Decided per call from the CPU, no global state. */
static int matmul_own(void) { return llm_gemm_preferred(); }

static int gemm_type(int type)
{
	return type == LLM_TYPE_F32 || type == LLM_TYPE_F16 || type == LLM_TYPE_BF16;
}

struct matmul_job {
	float *y;            /* [m][d] */
	const uint8_t *w;    /* [d] rows */
	size_t row_bytes;
	int type;
	const float *x;      /* [m][n] */
	int64_t n, d, m;
	float *scratch;      /* per worker: LLM_MATMUL_PANEL * n floats (or n: rowwise) */
	llm_to_float_fn to_float;
	llm_dot_fn dot;
	int own;             /* 1: gemm.c, 0: OpenBLAS */
};

/* Y[:, r0:r1] = X[m][n] W[r0:r1][n]^T, W panel F32 (ldw = n) */
static void matmul_f32(const struct matmul_job *j, const float *w, int64_t r0, int64_t nr)
{
	if (j->own)
		llm_gemm_nt(j->y + r0, j->d, j->x, j->n, w, LLM_TYPE_F32, j->n, j->m, nr, j->n);
	else
		llm_blas_sgemm_nt((int)j->m, (int)nr, (int)j->n, j->x, (int)j->n, w, (int)j->n,
				  j->y + r0, (int)j->d);
}

/* Y[:, r0:r1] = X W[r0:r1]^T */
static void matmul_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
	struct matmul_job *j = arg;
	if (j->own && gemm_type(j->type)) {
		/* rows in place; F16/BF16 widened tile by tile inside gemm */
		llm_gemm_nt(j->y + r0, j->d, j->x, j->n, j->w + (size_t)r0 * j->row_bytes, j->type,
			    j->n, j->m, r1 - r0, j->n);
		return;
	}
	/* Panels of LLM_MATMUL_PANEL rows from a multiple of it (matmul_run
	 * starts the chunks there), so that each output comes from the same
	 * call whatever the number of threads: OpenBLAS's sums depend on the
	 * call's shape (chunks as sgemm calls changed the logits with -t). */
	float *panel = j->scratch ? j->scratch + (size_t)tid * LLM_MATMUL_PANEL * (size_t)j->n : NULL;
	for (int64_t r = r0; r < r1; r += LLM_MATMUL_PANEL) {
		int64_t nr = r1 - r < LLM_MATMUL_PANEL ? r1 - r : LLM_MATMUL_PANEL;
		if (j->type == LLM_TYPE_F32) {
			matmul_f32(j, (const float *)j->w + r * j->n, r, nr);
			continue;
		}
		for (int64_t i = 0; i < nr; i++)
			j->to_float(j->w + (size_t)(r + i) * j->row_bytes, panel + i * j->n, j->n);
		matmul_f32(j, panel, r, nr);
	}
}

static void matmul_rowwise_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
	struct matmul_job *j = arg;
	float *row = j->scratch + (size_t)tid * (size_t)j->n;
	for (int64_t r = r0; r < r1; r++) {
		j->to_float(j->w + (size_t)r * j->row_bytes, row, j->n);
		for (int64_t t = 0; t < j->m; t++)
			j->y[t * j->d + r] = j->dot(row, j->x + t * j->n, j->n);
	}
}

static int matmul_run(float *y, const void *w, int type, const float *x, int64_t n, int64_t d,
		      int64_t m, llm_threadpool *tp, int rowwise)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	struct matmul_job j = { y, w, llm_type_row_size(type, n), type, x, n, d, m, NULL,
				tt ? tt->to_float : NULL,
				llm_dot_get(LLM_TYPE_F32, llm_isa_best()), !rowwise && matmul_own() };
	if (!j.to_float || !j.row_bytes)
		return llm_err(LLM_EUNSUPPORTED, "matmul: cannot decode type %s rows of %lld",
			       llm_type_name(type), (long long)n);
	int nw = llm_threadpool_size(tp);
	if (rowwise || !(type == LLM_TYPE_F32 || (j.own && gemm_type(type)))) {
		size_t per = rowwise ? (size_t)n : (size_t)LLM_MATMUL_PANEL * (size_t)n;
		j.scratch = malloc(per * (size_t)nw * sizeof(float));
		if (!j.scratch)
			return llm_err(LLM_ENOMEM, "matmul: out of memory for %d panels of %lld values",
				       nw, (long long)n);
	}
	int bt = 0;
	if (!rowwise && !j.own) {
		bt = llm_blas_threads();
		if (bt != 1)
			llm_blas_set_threads(1);
	}
	/* gemm.c on rows in place: at least 48 rows a worker; boundaries at
	 * multiples of 16 split d = 2048 evenly (48 would give 1056 + 992), at
	 * the cost of one partial tile of 6 rows per worker.  Panels: chunks
	 * of whole panels (matmul_rows). */
	int panels = !rowwise && !(j.own && gemm_type(type));
	llm_threadpool_run(tp, d, panels ? LLM_MATMUL_PANEL : 48, panels ? LLM_MATMUL_PANEL : 16,
			   rowwise ? matmul_rowwise_rows : matmul_rows, &j);
	if (!rowwise && !j.own && bt != 1)
		llm_blas_set_threads(bt);
	free(j.scratch);
	return 0;
}

/* Fewer rows than this: m mat-vecs, each streaming W at memory speed, beat
 * one product whose per-tile widening or decoding few rows share (2 threads,
 * W 5632 x 2048, mat-vecs vs product in GFLOP/s: F16 m = 2 48 vs 35, m = 4
 * 51 vs 63; F32 m = 2 24 vs 21, m = 4 24 vs 41; Q8_0 m = 4 64 vs 41, m = 8
 * 44 vs 49; Q4_0 m = 8 48 vs 44, m = 16 48 vs 72). */
static int64_t matmul_min_rows(int type) { return gemm_type(type) ? 4 : 8; }

int llm_matmul(float *y, const void *w, int type, const float *x, int64_t n, int64_t d,
	       int64_t m, llm_threadpool *tp)
{
	if (m < matmul_min_rows(type) && llm_kernel_type_ok(type)) {
		for (int64_t i = 0; i < m; i++)
			llm_matvec(y + i * d, w, type, x + i * n, n, d, tp);
		return 0;
	}
	return matmul_run(y, w, type, x, n, d, m, tp, 0);
}

int llm_matmul_rowwise(float *y, const void *w, int type, const float *x, int64_t n,
		       int64_t d, int64_t m, llm_threadpool *tp)
{
	return matmul_run(y, w, type, x, n, d, m, tp, 1);
}

/* ====================================================== element-wise ops */

/* Element-wise ops run between the parallel mat-vecs of a decoding step,
 * on one thread while the other waits: serial time.  Their AVX-512 forms
 * (TinyLlama shape, Q4_0, Zen 4, medians per layer) took the norm from
 * 4.7 to 1.9 us and silu with the gate/up split (model.c no longer copies
 * it) from 23 to 3.4 us: ~2.5% of a decoded token. */
#ifdef HAVE_X86
/* sum of x^2 in double: each product of two floats is exact in double */
AVX512 static double sumsq_avx512(const float *x, int64_t n)
{
	__m512d a0 = _mm512_setzero_pd(), a1 = a0;
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512d u = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
		__m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
		a0 = _mm512_fmadd_pd(u, u, a0);
		a1 = _mm512_fmadd_pd(v, v, a1);
	}
	double s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
	for (; i < n; i++)
		s += (double)x[i] * x[i];
	return s;
}

AVX512 static void scale_mul_avx512(float *o, const float *x, float s, const float *w, int64_t n)
{
	__m512 sv = _mm512_set1_ps(s);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), sv);
		_mm512_mask_storeu_ps(o + i, k, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, w + i)));
	}
}

/* exp(x) in 16 lanes: x = k ln2 + r, |r| <= ln2/2, exp(r) by Cephes' expf
 * polynomial (about 1 ulp), times 2^k by vscalefps, which gives inf and 0
 * past the float range as expf does. */
AVX512 static __m512 exp_avx512(__m512 x)
{
	x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-104.0f));
	__m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
					_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	return _mm512_scalef_ps(p, k);
}

AVX512 static void silu_mul_avx512(float *o, const float *a, const float *b, int64_t n)
{
	const __m512 one = _mm512_set1_ps(1.0f);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(k, a + i);
		__m512 e = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), v));
		__m512 s = _mm512_div_ps(v, _mm512_add_ps(one, e));
		_mm512_mask_storeu_ps(o + i, k, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, b + i)));
	}
}
#endif

/* ============================================== flash attention's step */

/* The step of one head with the dot and axpy of one instruction set:
 * scores, the new running max, the old sum and output rescaled to it, then
 * the exp-weighted values added. */
static void attn_head_with(llm_dot_fn dot, llm_axpy_fn axpy, float *o, float *m, float *l,
			   const float *q, const float *K, const float *V, size_t stride, int nt,
			   int hd, float scale, float *s)
{
	float mt = *m, sum = 0;
	for (int t = 0; t < nt; t++) {
		s[t] = scale * dot(K + (size_t)t * stride, q, hd);
		if (s[t] > mt)
			mt = s[t];
	}
	float corr = expf(*m - mt);
	if (corr != 1.0f)
		for (int d = 0; d < hd; d++)
			o[d] *= corr;
	for (int t = 0; t < nt; t++) {
		float e = expf(s[t] - mt);
		sum += e;
		axpy(o, e, V + (size_t)t * stride, hd);
	}
	*l = *l * corr + sum;
	*m = mt;
}

/* the step, head after head */
static void attn_step_with(llm_dot_fn dot, llm_axpy_fn axpy, float *o, float *m, float *l,
			   const float *q, const float *K, const float *V, size_t stride, int nt,
			   int hd, float scale, float *s, int nh)
{
	for (int h = 0; h < nh; h++)
		attn_head_with(dot, axpy, o + (size_t)h * hd, m + h, l + h, q + (size_t)h * hd, K, V,
			       stride, nt, hd, scale, s);
}

static void attn_step_ref(float *o, float *m, float *l, const float *q, const float *K,
			  const float *V, size_t stride, int nt, int hd, float scale, float *s, int nh)
{
	attn_step_with(dot_f32_ref, axpy_ref, o, m, l, q, K, V, stride, nt, hd, scale, s, nh);
}

#ifdef HAVE_X86
static void attn_step_avx2(float *o, float *m, float *l, const float *q, const float *K,
			   const float *V, size_t stride, int nt, int hd, float scale, float *s, int nh)
{
	attn_step_with(dot_f32_avx2, axpy_avx2, o, m, l, q, K, V, stride, nt, hd, scale, s, nh);
}

/* o[16 nv] = corr o + sum_t w[t] V[t]: the nv accumulators side by side
 * in registers, so the adds of one key do not wait on each other (one
 * chain per 16 values ran at FMA latency, ~4x slower), and two sets of
 * them for even and odd keys (one set: 7.9 against 6.5 ns per key of the
 * whole step, head_dim 64, in cache) */
AVX512 static inline void attn_acc_avx512(float *o, float corr, const float *V, size_t stride,
					  int nt, const float *w, const int nv)
{
	/* all zero first: GCC cannot see that nv bounds the use */
	__m512 acc[8] = { _mm512_setzero_ps() }, acc2[8] = { _mm512_setzero_ps() };
	__m512 cv = _mm512_set1_ps(corr);
#pragma GCC unroll 8
	for (int c = 0; c < nv; c++)
		acc[c] = _mm512_mul_ps(_mm512_loadu_ps(o + 16 * c), cv);
	int t = 0;
	for (; t + 2 <= nt; t += 2) {
		__m512 e = _mm512_set1_ps(w[t]), f = _mm512_set1_ps(w[t + 1]);
		const float *v = V + (size_t)t * stride;
#pragma GCC unroll 8
		for (int c = 0; c < nv; c++) {
			acc[c] = _mm512_fmadd_ps(e, _mm512_loadu_ps(v + 16 * c), acc[c]);
			acc2[c] = _mm512_fmadd_ps(f, _mm512_loadu_ps(v + stride + 16 * c), acc2[c]);
		}
	}
	if (t < nt) {
		__m512 e = _mm512_set1_ps(w[t]);
		const float *v = V + (size_t)t * stride;
#pragma GCC unroll 8
		for (int c = 0; c < nv; c++)
			acc[c] = _mm512_fmadd_ps(e, _mm512_loadu_ps(v + 16 * c), acc[c]);
	}
#pragma GCC unroll 8
	for (int c = 0; c < nv; c++)
		_mm512_storeu_ps(o + 16 * c, _mm512_add_ps(acc[c], acc2[c]));
}

/* o[h][64] = corr[h] o[h] + sum_t w[h nt + t] V[t] for hb heads sharing V
 * (head_dim 64): each V row loaded once for the hb heads, 4 hb
 * accumulators in registers (2.1x faster per key and head than
 * attn_acc_avx512 head by head, 4 heads, in cache) */
AVX512 static inline void attn_acc_heads_avx512(float *o, const float *corr, const float *V,
						size_t stride, int nt, const float *w, const int hb)
{
	__m512 acc[4][4] = { { _mm512_setzero_ps() } }; /* all set: GCC cannot see hb bounds the use */
#pragma GCC unroll 4
	for (int h = 0; h < hb; h++)
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++)
			acc[h][c] = _mm512_mul_ps(_mm512_loadu_ps(o + 64 * h + 16 * c), _mm512_set1_ps(corr[h]));
	for (int t = 0; t < nt; t++) {
		const float *v = V + (size_t)t * stride;
		__m512 vv[4];
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++)
			vv[c] = _mm512_loadu_ps(v + 16 * c);
#pragma GCC unroll 4
		for (int h = 0; h < hb; h++) {
			__m512 e = _mm512_set1_ps(w[(size_t)h * nt + t]);
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++)
				acc[h][c] = _mm512_fmadd_ps(e, vv[c], acc[h][c]);
		}
	}
#pragma GCC unroll 4
	for (int h = 0; h < hb; h++)
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++)
			_mm512_storeu_ps(o + 64 * h + 16 * c, acc[h][c]);
}

/* r[i] = the sum of a[i]'s 16 lanes, i = 0..15: pairs of vectors folded
 * into one (quarters, then lanes within quarters) four times, 46
 * instructions for the 16 sums against ~8 each for a reduction apiece */
AVX512 static inline __m512 hsum16_avx512(const __m512 *a)
{
	__m512 b[8], c[4], d[2];
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) /* quarters: [A0+A2, A1+A3, B0+B2, B1+B3] */
		b[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0x44),
				     _mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0xee));
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) /* quarter i: key 4j + i, 4 lanes */
		c[j] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * j], b[2 * j + 1], 0x88),
				     _mm512_shuffle_f32x4(b[2 * j], b[2 * j + 1], 0xdd));
#pragma GCC unroll 2
	for (int j = 0; j < 2; j++) /* quarter i: keys 8j + i and 8j + 4 + i, 2 lanes each */
		d[j] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * j], c[2 * j + 1], 0x44),
				     _mm512_shuffle_ps(c[2 * j], c[2 * j + 1], 0xee));
	/* lane 4i + j: key 4j + i */
	__m512 e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xdd));
	const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
	return _mm512_permutexvar_ps(order, e);
}

/* One head's scores (head_dim 16 nv, q in registers): s[t] becomes
 * exp(scale q.K[t] - max); *m becomes the new max, *l the rescaled sum;
 * returns the factor exp(old max - new max) for the output. */
AVX512 static inline __attribute__((always_inline)) float
attn_scores_nv_avx512(float *m, float *l, const float *q, const float *K, size_t stride, int nt,
		      const int nv, float scale, float *s)
{
	__m512 qv[16];
	for (int c = 0; c < nv; c++)
		qv[c] = _mm512_loadu_ps(q + 16 * c);
	float mt = *m;
	int t = 0;
	if (nt >= 16) {
		__m512 vmax = _mm512_set1_ps(mt), sv = _mm512_set1_ps(scale);
		for (; t + 16 <= nt; t += 16) {
			__m512 a[16];
#pragma GCC unroll 16
			for (int i = 0; i < 16; i++) {
				const float *k = K + (size_t)(t + i) * stride;
				a[i] = _mm512_mul_ps(qv[0], _mm512_loadu_ps(k));
#pragma GCC unroll 16
				for (int c = 1; c < nv; c++)
					a[i] = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(k + 16 * c), a[i]);
			}
			__m512 r = _mm512_mul_ps(hsum16_avx512(a), sv);
			_mm512_storeu_ps(s + t, r);
			vmax = _mm512_max_ps(vmax, r);
		}
		mt = _mm512_reduce_max_ps(vmax);
	}
	for (; t < nt; t++) {
		const float *k = K + (size_t)t * stride;
		__m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(k));
		for (int c = 1; c < nv; c++)
			a = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(k + 16 * c), a);
		s[t] = scale * _mm512_reduce_add_ps(a);
		if (s[t] > mt)
			mt = s[t];
	}
	__m512 sum = _mm512_setzero_ps(), mv = _mm512_set1_ps(mt);
	for (int t = 0; t < nt; t += 16) { /* s[t] becomes exp(s[t] - max) */
		__mmask16 k = nt - t >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nt - t)) - 1);
		__m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + t), mv));
		sum = _mm512_mask_add_ps(sum, k, sum, e);
		_mm512_mask_storeu_ps(s + t, k, e);
	}
	float corr = expf(*m - mt);
	*l = *l * corr + _mm512_reduce_add_ps(sum);
	*m = mt;
	return corr;
}

/* head_dim 64 and 128 with the loop over a key's 16-value pieces unrolled.
 * Summing 16 keys together took one layer's decoding attention over 2000
 * positions (32 heads, 4 KV heads of 64, in cache, one thread) from 0.353
 * to 0.333 ms; with the unrolling, a Q4_0 TinyLlama token at 1900
 * positions took 19.8 against 20.5 ms (AMD Zen 4, the two alternated,
 * medians of 150). */
AVX512 static float attn_scores_avx512(float *m, float *l, const float *q, const float *K,
				       size_t stride, int nt, int nv, float scale, float *s)
{
	if (nv == 4)
		return attn_scores_nv_avx512(m, l, q, K, stride, nt, 4, scale, s);
	if (nv == 8)
		return attn_scores_nv_avx512(m, l, q, K, stride, nt, 8, scale, s);
	return attn_scores_nv_avx512(m, l, q, K, stride, nt, nv, scale, s);
}

/* head_dim a multiple of 16 up to 256: q in registers, scores of all keys,
 * their exps 16 at a time, and each 16 values of o kept in a register
 * across the keys (decoding spent ~6% of a TinyLlama token in the generic
 * step's two calls and two scalar expf per key).  Heads go 4 at a time:
 * their scores one head after the other, then (head_dim 64) their outputs
 * together, each V row read once for the 4. */
AVX512 static void attn_step_avx512(float *o, float *m, float *l, const float *q, const float *K,
				    const float *V, size_t stride, int nt, int hd, float scale, float *s,
				    int nh)
{
	if (hd % 16 || hd > 256) {
		attn_step_with(dot_f32_avx512, axpy_avx512, o, m, l, q, K, V, stride, nt, hd, scale, s, nh);
		return;
	}
	const int nv = hd / 16;
	for (int h0 = 0; h0 < nh; h0 += 4) {
		int hb = nh - h0 < 4 ? nh - h0 : 4;
		float corr[4];
		for (int h = 0; h < hb; h++)
			corr[h] = attn_scores_avx512(m + h0 + h, l + h0 + h, q + (size_t)(h0 + h) * hd, K,
						     stride, nt, nv, scale, s + (size_t)h * nt);
		float *oh = o + (size_t)h0 * hd;
		if (nv == 4 && hb > 1) {
			switch (hb) {
			case 2: attn_acc_heads_avx512(oh, corr, V, stride, nt, s, 2); break;
			case 3: attn_acc_heads_avx512(oh, corr, V, stride, nt, s, 3); break;
			default: attn_acc_heads_avx512(oh, corr, V, stride, nt, s, 4); break;
			}
			continue;
		}
		for (int h = 0; h < hb; h++) {
			float *o1 = oh + (size_t)h * hd;
			const float *w = s + (size_t)h * nt;
			if (nv == 4)
				attn_acc_avx512(o1, corr[h], V, stride, nt, w, 4);
			else if (nv == 8)
				attn_acc_avx512(o1, corr[h], V, stride, nt, w, 8);
			else /* constant counts of accumulators: 4 at a time, then 1-3 */
				for (int c = 0; c < nv; c += 4) {
					float *oc = o1 + 16 * c;
					const float *vc = V + 16 * c;
					switch (nv - c) {
					case 1: attn_acc_avx512(oc, corr[h], vc, stride, nt, w, 1); break;
					case 2: attn_acc_avx512(oc, corr[h], vc, stride, nt, w, 2); break;
					case 3: attn_acc_avx512(oc, corr[h], vc, stride, nt, w, 3); break;
					default: attn_acc_avx512(oc, corr[h], vc, stride, nt, w, 4); break;
					}
				}
		}
	}
}
#endif

llm_attn_step_fn llm_attn_step_get(int isa)
{
	if (isa < 0 || isa >= LLM_ISA_COUNT || isa > llm_isa_best())
		return NULL;
#ifdef HAVE_X86
	if (isa == LLM_ISA_AVX512)
		return attn_step_avx512;
	if (isa == LLM_ISA_AVX2)
		return attn_step_avx2;
#endif
	return attn_step_ref;
}

/* ============================================ element-wise ops (dispatch) */

static int simd512(void) { return llm_isa_best() == LLM_ISA_AVX512; }

void llm_rmsnorm(float *o, const float *x, const float *w, int64_t n, float eps)
{
	double ss = 0; /* double: n up to 8192 squares, cheap and exact enough */
#ifdef HAVE_X86
	if (simd512()) {
		ss = sumsq_avx512(x, n);
		scale_mul_avx512(o, x, (float)(1.0 / sqrt(ss / (double)n + eps)), w, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	float s = (float)(1.0 / sqrt(ss / (double)n + eps));
	for (int64_t i = 0; i < n; i++)
		o[i] = x[i] * s * w[i];
}

void llm_rope_freqs(double *inv, int rope_dim, double base, const float *factor,
		    double freq_scale)
{
	for (int i = 0; i < rope_dim / 2; i++) {
		double f = pow(base, -2.0 * i / rope_dim) * freq_scale;
		inv[i] = factor ? f / factor[i] : f;
	}
}

void llm_rope_cossin(float *cs, int rope_dim, int pos, const double *inv)
{
	for (int i = 0; i < rope_dim / 2; i++) {
		double t = pos * inv[i];
		cs[2 * i] = (float)cos(t);
		cs[2 * i + 1] = (float)sin(t);
	}
}

void llm_rope(float *x, int n_head, int head_dim, int rope_dim, const float *cs)
{
	for (int h = 0; h < n_head; h++) {
		float *v = x + (size_t)h * head_dim;
		for (int i = 0; i < rope_dim / 2; i++) {
			float c = cs[2 * i], s = cs[2 * i + 1];
			float a = v[2 * i], b = v[2 * i + 1];
			v[2 * i] = a * c - b * s;
			v[2 * i + 1] = a * s + b * c;
		}
	}
}

void llm_softmax(float *x, int64_t n)
{
	if (n <= 0)
		return;
	float mx = x[0];
	for (int64_t i = 1; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	float s = 0;
	for (int64_t i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		s += x[i];
	}
	for (int64_t i = 0; i < n; i++)
		x[i] /= s;
}

void llm_silu_mul(float *o, const float *a, const float *b, int64_t n)
{
#ifdef HAVE_X86
	if (simd512()) {
		silu_mul_avx512(o, a, b, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		o[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

void llm_add(float *y, const float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += x[i];
}

int llm_all_finite(const float *x, int64_t n)
{
	float z = 0;
	for (int64_t i = 0; i < n; i++)
		z += x[i] * 0.0f; /* inf * 0 and NaN * 0 are NaN: vectorizes, where isfinite does not */
	return z == 0;
}
