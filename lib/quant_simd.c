/* quant_simd.c - AVX2/F16C/FMA row converters, bit-identical to the scalar
 * references in types.c (tests/test_types.c compares them on random and
 * adversarial data).  Compiled for the baseline ISA; each function carries a
 * target attribute and types.c calls it only after __builtin_cpu_supports.
 *
 * How identity is kept:
 *   - fp16: F16C rounds to nearest even like the reference; only NaN differs
 *     (F16C keeps the payload, ggml writes sign|0x7e00), so a group of 8 that
 *     holds a NaN is redone by the scalar code.
 *   - quantizers: the block max is a vector max, which equals ggml's running
 *     max unless a NaN is present: such blocks go to the scalar reference.
 *     roundf is rebuilt from truncation (trunc(x) + sign(x) when the dropped
 *     fraction is >= 0.5, exact for every float), and the float -> byte casts
 *     keep the low byte of cvttps2dq exactly as the scalar cvtt_byte() does.
 *   - multiply and add stay separate instructions (pragma plus an empty asm
 *     on the product, which even clang -ffp-contract=fast cannot see through).
 */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <string.h>

#include "types.h"
#include "types_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define SIMD __attribute__((target("avx2,fma,f16c")))

/* ------------------------------------------------------------ fp16 / bf16 */

SIMD void llm_simd_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {
			for (int j = 0; j < 8; j++)
				y[i + j] = llm_fp32_to_fp16(x[i + j]);
			continue;
		}
		__m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		_mm_storeu_si128((__m128i *)(y + i), h);
	}
	for (; i < n; i++)
		y[i] = llm_fp32_to_fp16(x[i]);
}

SIMD void llm_simd_fp16_to_fp32_row(const uint16_t *x, float *y, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
	for (; i < n; i++)
		y[i] = llm_fp16_to_fp32(x[i]);
}

SIMD void llm_simd_fp32_to_bf16_row(const float *x, uint16_t *y, int64_t n)
{
	const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
	const __m256i absmask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
	const __m256i quiet = _mm256_set1_epi32(64);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i r[2];
		for (int k = 0; k < 2; k++) {
			__m256i u = _mm256_loadu_si256((const __m256i *)(x + i + 8 * k));
			__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
			__m256i rne = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(bias, lsb)), 16);
			__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absmask), inf);
			__m256i qnan = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
			r[k] = _mm256_blendv_epi8(rne, qnan, nan);
		}
		/* 16 x u32 (< 2^16) -> 16 x u16, undoing the per-lane interleave */
		__m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
		_mm256_storeu_si256((__m256i *)(y + i), p);
	}
	for (; i < n; i++)
		y[i] = llm_fp32_to_bf16(x[i]);
}

SIMD void llm_simd_bf16_to_fp32_row(const uint16_t *x, float *y, int64_t n)
{
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
		_mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(w, 16));
	}
	for (; i < n; i++)
		y[i] = llm_bf16_to_fp32(x[i]);
}

/* ------------------------------------------------------------- helpers */

/* max over 8 lanes */
SIMD static inline float hmax(__m256 v)
{
	__m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	m = _mm_max_ps(m, _mm_movehl_ps(m, m));
	m = _mm_max_ss(m, _mm_movehdup_ps(m));
	return _mm_cvtss_f32(m);
}

/* roundf (half away from zero) for every float, NaN and inf passed through */
SIMD static inline __m256 round_away(__m256 x)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m256 f = _mm256_andnot_ps(sign, _mm256_sub_ps(x, t));
	__m256 ge = _mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
	__m256 step = _mm256_or_ps(_mm256_and_ps(x, sign), _mm256_set1_ps(1.0f));
	return _mm256_add_ps(t, _mm256_and_ps(ge, step));
}

/* 32 int32 lanes -> their low bytes, in order */
SIMD static inline __m256i low_bytes(__m256i a, __m256i b, __m256i c, __m256i d)
{
	const __m256i ff = _mm256_set1_epi32(0xff);
	__m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, ff), _mm256_and_si256(b, ff));
	__m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, ff), _mm256_and_si256(d, ff));
	__m256i p = _mm256_packus_epi16(ab, cd);
	return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* loads a block of 32 floats; returns 1 if any is NaN */
SIMD static inline int load_block(const float *x, __m256 v[4])
{
	__m256 unord = _mm256_setzero_ps();
	for (int k = 0; k < 4; k++) {
		v[k] = _mm256_loadu_ps(x + 8 * k);
		unord = _mm256_or_ps(unord, _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
	}
	return _mm256_movemask_ps(unord) != 0;
}

/* ---------------------------------------------------------------- q8_0 */

SIMD void llm_simd_quantize_q8_0(const float *x, void *out, int64_t n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	uint8_t *y = out; // (n/32, 34 bytes)
	for (int64_t i = 0; i < n / 32; i++, x += 32, y += 34) {
		__m256 v[4];
		if (load_block(x, v)) {
			llm_ref_quantize_block_q8_0(x, y);
			continue;
		}
		__m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
					 _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
		const float amax = hmax(m);
		const float d = amax / ((1 << 7) - 1);
		const float id = d ? 1.0f / d : 0.0f;
		const uint16_t dh = llm_fp32_to_fp16(d);
		memcpy(y, &dh, 2);
		const __m256 vid = _mm256_set1_ps(id);
		__m256i q[4];
		for (int k = 0; k < 4; k++) {
			__m256 p = _mm256_mul_ps(v[k], vid);
			__asm__("" : "+x"(p)); /* round_away's x - trunc(x) must see the rounded product */
			q[k] = _mm256_cvttps_epi32(round_away(p));
		}
		_mm256_storeu_si256((__m256i *)(y + 2), low_bytes(q[0], q[1], q[2], q[3]));
	}
}

SIMD void llm_simd_dequantize_q8_0(const void *in, float *y, int64_t n)
{
	const uint8_t *x = in; // (n/32, 34 bytes)
	for (int64_t i = 0; i < n / 32; i++, x += 34, y += 32) {
		uint16_t dh;
		memcpy(&dh, x, 2);
		const __m256 d = _mm256_set1_ps(llm_fp16_to_fp32(dh));
		for (int k = 0; k < 4; k++) {
			__m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + 2 + 8 * k)));
			_mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
		}
	}
}

/* ---------------------------------------------------------------- q4_0 */

SIMD void llm_simd_quantize_q4_0(const float *x, void *out, int64_t n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	uint8_t *y = out; // (n/32, 18 bytes)
	for (int64_t i = 0; i < n / 32; i++, x += 32, y += 18) {
		__m256 v[4], a[4];
		if (load_block(x, v)) {
			llm_ref_quantize_block_q4_0(x, y);
			continue;
		}
		for (int k = 0; k < 4; k++)
			a[k] = _mm256_andnot_ps(sign, v[k]);
		const float amax = hmax(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
		/* ggml keeps the first value whose magnitude is the maximum */
		float max = 0.0f;
		if (amax > 0.0f) {
			const __m256 va = _mm256_set1_ps(amax);
			uint32_t hit = 0;
			for (int k = 0; k < 4; k++)
				hit |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a[k], va, _CMP_EQ_OQ)) << (8 * k);
			max = x[__builtin_ctz(hit)];
		}
		const float d = max / -8;
		const float id = d ? 1.0f / d : 0.0f;
		const uint16_t dh = llm_fp32_to_fp16(d);
		memcpy(y, &dh, 2);
		const __m256 vid = _mm256_set1_ps(id), off = _mm256_set1_ps(8.5f);
		__m256i q[4];
		for (int k = 0; k < 4; k++) {
			/* (int8_t)(x*id + 8.5f): low byte of the truncation, sign-extended */
			__m256 p = _mm256_mul_ps(v[k], vid);
			__asm__("" : "+x"(p)); /* keep mul and add apart: no fma */
			__m256i t = _mm256_cvttps_epi32(_mm256_add_ps(p, off));
			t = _mm256_srai_epi32(_mm256_slli_epi32(t, 24), 24);
			q[k] = _mm256_min_epi32(t, _mm256_set1_epi32(15)); /* MIN(15, .) */
		}
		/* byte j = xi(j) | xi(j+16) << 4, as uint8 */
		__m256i lo = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
		__m256i hi = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
		__m256i b = low_bytes(lo, hi, lo, hi);
		_mm_storeu_si128((__m128i *)(y + 2), _mm256_castsi256_si128(b));
	}
}

SIMD void llm_simd_dequantize_q4_0(const void *in, float *y, int64_t n)
{
	const uint8_t *x = in; // (n/32, 18 bytes)
	const __m128i mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
	for (int64_t i = 0; i < n / 32; i++, x += 18, y += 32) {
		uint16_t dh;
		memcpy(&dh, x, 2);
		const __m256 d = _mm256_set1_ps(llm_fp16_to_fp32(dh));
		__m128i qs = _mm_loadu_si128((const __m128i *)(x + 2));
		__m128i lo = _mm_sub_epi8(_mm_and_si128(qs, mask), eight);                   /* values 0..15 */
		__m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(qs, 4), mask), eight); /* values 16..31 */
		__m128i part[4] = { lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8) };
		for (int k = 0; k < 4; k++) {
			__m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[k]));
			_mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(f, d));
		}
	}
}

#else /* no x86-64: never called (llm_types_simd() is 0), kept for linking */

void llm_simd_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n) { llm_type_ref_from_float(LLM_TYPE_F16)(x, y, n); }
void llm_simd_fp16_to_fp32_row(const uint16_t *x, float *y, int64_t n) { llm_type_ref_to_float(LLM_TYPE_F16)(x, y, n); }
void llm_simd_fp32_to_bf16_row(const float *x, uint16_t *y, int64_t n) { llm_type_ref_from_float(LLM_TYPE_BF16)(x, y, n); }
void llm_simd_bf16_to_fp32_row(const uint16_t *x, float *y, int64_t n) { llm_type_ref_to_float(LLM_TYPE_BF16)(x, y, n); }
void llm_simd_quantize_q8_0(const float *x, void *y, int64_t n) { llm_type_ref_from_float(LLM_TYPE_Q8_0)(x, y, n); }
void llm_simd_quantize_q4_0(const float *x, void *y, int64_t n) { llm_type_ref_from_float(LLM_TYPE_Q4_0)(x, y, n); }
void llm_simd_dequantize_q8_0(const void *x, float *y, int64_t n) { llm_type_ref_to_float(LLM_TYPE_Q8_0)(x, y, n); }
void llm_simd_dequantize_q4_0(const void *x, float *y, int64_t n) { llm_type_ref_to_float(LLM_TYPE_Q4_0)(x, y, n); }

#endif
