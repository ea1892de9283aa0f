/* types.c - tensor types: the traits table, fp16/bf16 conversion and the
 * scalar reference quantizers of the 32-value block types.
 *
 * Exactness.  The quantizers perform ggml's float operations in ggml's order
 * (quantize_row_*_ref), so the bytes equal llama-quantize's.  Two details are
 * easy to get wrong:
 *   - ggml converts floats to small integers with C casts ((int8_t)(x + 8.5f),
 *     (uint8_t)(x + 0.5f), int8 = roundf(x)).  On x86-64 the compiler emits
 *     cvttss2si into a 32-bit register and keeps the low byte; a value out of
 *     int32 range or NaN gives 0x80000000, so the byte 0.  cvtt_byte() spells
 *     that out, so blocks holding inf or NaN also come out as llama-quantize's.
 *   - no a*b+c may be fused into an fma (ggml-base is built without FMA on
 *     x86-64): the pragmas below and mul_nofma() keep the compiler from
 *     contracting.  (Dequantization is immune: q*d is exact in float, a
 *     5-bit q times an 11-bit fp16 mantissa, so d*q + m rounds once either way.)
 * fp16 is stored with round-to-nearest-even; NaN becomes sign|0x7e00 as in
 * ggml_compute_fp32_to_fp16.  bf16 follows ggml_compute_fp32_to_bf16 (round
 * to nearest even, NaN quieted by |64, subnormals kept).
 */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <assert.h>
#include <float.h>
#include <stddef.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "kernels.h"
#include "types.h"
#include "types_impl.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "block structs below assume a little-endian host"
#endif

/* ---------------------------------------------------------------- blocks */

struct block_q4_0 { uint16_t d; uint8_t qs[16]; };
struct block_q4_1 { uint16_t d, m; uint8_t qs[16]; };
struct block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct block_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct block_q8_0 { uint16_t d; int8_t qs[32]; };

static_assert(sizeof(struct block_q4_0) == 18, "q4_0 block is 18 bytes");
static_assert(sizeof(struct block_q4_1) == 20, "q4_1 block is 20 bytes");
static_assert(sizeof(struct block_q5_0) == 22, "q5_0 block is 22 bytes");
static_assert(sizeof(struct block_q5_1) == 24, "q5_1 block is 24 bytes");
static_assert(sizeof(struct block_q8_0) == 34, "q8_0 block is 34 bytes");

/* K-quants: 256 values in a super-block (ggml-common.h's layouts) */
#define QK_K 256
struct block_q2_K { uint8_t scales[16], qs[64]; uint16_t d, dmin; };
struct block_q3_K { uint8_t hmask[32], qs[64], scales[12]; uint16_t d; };
struct block_q4_K { uint16_t d, dmin; uint8_t scales[12], qs[128]; };
struct block_q5_K { uint16_t d, dmin; uint8_t scales[12], qh[32], qs[128]; };
struct block_q6_K { uint8_t ql[128], qh[64]; int8_t scales[16]; uint16_t d; };
struct block_iq4_nl { uint16_t d; uint8_t qs[16]; };
struct block_iq4_xs { uint16_t d, scales_h; uint8_t scales_l[4], qs[128]; };

static_assert(sizeof(struct block_q2_K) == 84, "q2_K block is 84 bytes");
static_assert(sizeof(struct block_q3_K) == 110, "q3_K block is 110 bytes");
static_assert(sizeof(struct block_q4_K) == 144, "q4_K block is 144 bytes");
static_assert(sizeof(struct block_q5_K) == 176, "q5_K block is 176 bytes");
static_assert(sizeof(struct block_q6_K) == 210, "q6_K block is 210 bytes");
static_assert(sizeof(struct block_iq4_nl) == 18, "iq4_nl block is 18 bytes");
static_assert(sizeof(struct block_iq4_xs) == 136, "iq4_xs block is 136 bytes");

/* ------------------------------------------------------- scalar formats */

static inline uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

uint16_t llm_fp32_to_fp16(float f)
{
	uint32_t u = f2u(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t a = u & 0x7fffffff;

	if (a > 0x7f800000)
		return sign | 0x7e00; /* NaN: ggml's canonical quiet NaN */
	if (a >= 0x477ff000)          /* >= 65520 rounds up to 2^16: inf */
		return sign | 0x7c00;
	if (a >= 0x38800000) {        /* normal half (>= 2^-14) */
		a += 0x0fff + ((a >> 13) & 1); /* round to nearest even */
		return sign | (uint16_t)((a - 0x38000000) >> 13);
	}
	if (a <= 0x33000000)          /* <= 2^-25: rounds to zero (tie -> even 0) */
		return sign;
	/* subnormal half: units of 2^-24; value = m * 2^(e-150) */
	uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
	uint32_t shift = 126 - e; /* 14..24 */
	uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
	if (rem > half || (rem == half && (q & 1)))
		q++;
	return sign | (uint16_t)q; /* q == 0x400 is the smallest normal: right */
}

float llm_fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;

	if (e == 0) { /* zero or subnormal: m * 2^-24, exact */
		float v = (float)m * 0x1p-24f;
		return u2f(sign | f2u(v));
	}
	if (e == 31) /* inf, or NaN made quiet as the FPU does */
		return u2f(sign | 0x7f800000 | (m << 13) | (m ? 0x400000u : 0));
	return u2f(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t llm_fp32_to_bf16(float f)
{
	uint32_t u = f2u(f);
	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((u >> 16) | 64); /* NaN: force quiet */
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

float llm_bf16_to_fp32(uint16_t h) { return u2f((uint32_t)h << 16); }

/* x86-64's float -> int8/uint8 cast: truncate to int32 (cvttss2si, giving
 * 0x80000000 for NaN and out-of-range values) and keep the low byte. */
static inline uint8_t cvtt_byte(float v)
{
	if (!(v > -2147483904.0f && v < 2147483648.0f))
		return 0;
	return (uint8_t)(uint32_t)(int32_t)v;
}

/* a*b rounded to float before anything else sees it: an empty asm makes the
 * product opaque, so no compiler (clang -ffp-contract=fast ignores the
 * pragma above) can fuse it with the add that follows into an fma. */
static inline float mul_nofma(float a, float b)
{
	float p = a * b;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
	__asm__("" : "+x"(p));
#elif defined(__GNUC__) && defined(__aarch64__)
	__asm__("" : "+w"(p));
#elif defined(__GNUC__)
	__asm__("" : "+m"(p));
#endif
	return p;
}

/* ------------------------------------------------------- row converters */

static void f32_to_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void ref_f16_to_f32(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src; // (n)
	for (int64_t i = 0; i < n; i++)
		dst[i] = llm_fp16_to_fp32(x[i]);
}

static void ref_f32_to_f16(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst; // (n)
	for (int64_t i = 0; i < n; i++)
		y[i] = llm_fp32_to_fp16(src[i]);
}

static void ref_bf16_to_f32(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src; // (n)
	for (int64_t i = 0; i < n; i++)
		dst[i] = llm_bf16_to_fp32(x[i]);
}

static void ref_f32_to_bf16(const float *src, void *dst, int64_t n)
{
	uint16_t *y = dst; // (n)
	for (int64_t i = 0; i < n; i++)
		y[i] = llm_fp32_to_bf16(src[i]);
}

/* ------------------------------------------------ reference quantizers */

/* q8_0: d = max|x| / 127, q = roundf(x / d). */
void llm_ref_quantize_block_q8_0(const float *x, uint8_t *out)
{
	struct block_q8_0 b;
	float amax = 0.0f;
	for (int j = 0; j < 32; j++) /* ggml's MAX(amax, |v|): a NaN resets it */
		amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
	const float d = amax / ((1 << 7) - 1);
	const float id = d ? 1.0f / d : 0.0f;
	b.d = llm_fp32_to_fp16(d);
	for (int j = 0; j < 32; j++)
		b.qs[j] = (int8_t)cvtt_byte(roundf(x[j] * id));
	memcpy(out, &b, sizeof b);
}

static void ref_quantize_q8_0(const float *x, void *y, int64_t n)
{
	uint8_t *out = y;
	for (int64_t i = 0; i < n / 32; i++)
		llm_ref_quantize_block_q8_0(x + i * 32, out + i * sizeof(struct block_q8_0));
}

static void ref_dequantize_q8_0(const void *src, float *y, int64_t n)
{
	const struct block_q8_0 *x = src; // (n/32)
	for (int64_t i = 0; i < n / 32; i++) {
		const float d = llm_fp16_to_fp32(x[i].d);
		for (int j = 0; j < 32; j++)
			y[i * 32 + j] = x[i].qs[j] * d;
	}
}

/* q4_0: d = (signed value of largest magnitude) / -8, q = x/d + 8 (0..15). */
void llm_ref_quantize_block_q4_0(const float *x, uint8_t *out)
{
	struct block_q4_0 b;
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < 32; j++) {
		if (amax < fabsf(x[j])) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	}
	const float d = max / -8;
	const float id = d ? 1.0f / d : 0.0f;
	b.d = llm_fp32_to_fp16(d);
	for (int j = 0; j < 16; j++) {
		const float x0 = mul_nofma(x[j], id), x1 = mul_nofma(x[16 + j], id);
		const int8_t t0 = (int8_t)cvtt_byte(x0 + 8.5f), t1 = (int8_t)cvtt_byte(x1 + 8.5f);
		const uint8_t xi0 = (uint8_t)(15 < t0 ? 15 : t0);
		const uint8_t xi1 = (uint8_t)(15 < t1 ? 15 : t1);
		b.qs[j] = (uint8_t)(xi0 | (xi1 << 4));
	}
	memcpy(out, &b, sizeof b);
}

static void ref_quantize_q4_0(const float *x, void *y, int64_t n)
{
	uint8_t *out = y;
	for (int64_t i = 0; i < n / 32; i++)
		llm_ref_quantize_block_q4_0(x + i * 32, out + i * sizeof(struct block_q4_0));
}

static void ref_dequantize_q4_0(const void *src, float *y, int64_t n)
{
	const struct block_q4_0 *x = src; // (n/32)
	for (int64_t i = 0; i < n / 32; i++) {
		const float d = llm_fp16_to_fp32(x[i].d);
		for (int j = 0; j < 16; j++) {
			const int x0 = (x[i].qs[j] & 0x0f) - 8, x1 = (x[i].qs[j] >> 4) - 8;
			y[i * 32 + j] = x0 * d;
			y[i * 32 + j + 16] = x1 * d;
		}
	}
}

/* min and max of a block as ggml's q4_1/q5_1 find them */
static void block_minmax(const float *x, float *min, float *max)
{
	float lo = FLT_MAX, hi = -FLT_MAX;
	for (int j = 0; j < 32; j++) {
		if (x[j] < lo) lo = x[j];
		if (x[j] > hi) hi = x[j];
	}
	*min = lo;
	*max = hi;
}

/* q4_1: d = (max - min) / 15, m = min, q = (x - min)/d (0..15). */
static void ref_quantize_q4_1(const float *x, void *y, int64_t n)
{
	struct block_q4_1 *out = y; // (n/32)
	for (int64_t i = 0; i < n / 32; i++, x += 32) {
		struct block_q4_1 b;
		float min, max;
		block_minmax(x, &min, &max);
		const float d = (max - min) / ((1 << 4) - 1);
		const float id = d ? 1.0f / d : 0.0f;
		b.d = llm_fp32_to_fp16(d);
		b.m = llm_fp32_to_fp16(min);
		for (int j = 0; j < 16; j++) {
			const float x0 = mul_nofma(x[j] - min, id), x1 = mul_nofma(x[16 + j] - min, id);
			const int8_t t0 = (int8_t)cvtt_byte(x0 + 0.5f), t1 = (int8_t)cvtt_byte(x1 + 0.5f);
			const uint8_t xi0 = (uint8_t)(15 < t0 ? 15 : t0);
			const uint8_t xi1 = (uint8_t)(15 < t1 ? 15 : t1);
			b.qs[j] = (uint8_t)(xi0 | (xi1 << 4));
		}
		memcpy(&out[i], &b, sizeof b);
	}
}

static void ref_dequantize_q4_1(const void *src, float *y, int64_t n)
{
	const struct block_q4_1 *x = src; // (n/32)
	for (int64_t i = 0; i < n / 32; i++) {
		const float d = llm_fp16_to_fp32(x[i].d), m = llm_fp16_to_fp32(x[i].m);
		for (int j = 0; j < 16; j++) {
			const int x0 = x[i].qs[j] & 0x0f, x1 = x[i].qs[j] >> 4;
			y[i * 32 + j] = x0 * d + m;
			y[i * 32 + j + 16] = x1 * d + m;
		}
	}
}

/* q5_0: d = (signed value of largest magnitude) / -16, q = x/d + 16 (0..31);
 * low nibbles as q4_0, bit 4 of value j in bit j of qh. */
static void ref_quantize_q5_0(const float *x, void *y, int64_t n)
{
	struct block_q5_0 *out = y; // (n/32)
	for (int64_t i = 0; i < n / 32; i++, x += 32) {
		struct block_q5_0 b;
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < 32; j++) {
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		const float d = max / -16;
		const float id = d ? 1.0f / d : 0.0f;
		b.d = llm_fp32_to_fp16(d);
		uint32_t qh = 0;
		for (int j = 0; j < 16; j++) {
			const float x0 = mul_nofma(x[j], id), x1 = mul_nofma(x[16 + j], id);
			const int8_t t0 = (int8_t)cvtt_byte(x0 + 16.5f), t1 = (int8_t)cvtt_byte(x1 + 16.5f);
			const uint8_t xi0 = (uint8_t)(31 < t0 ? 31 : t0);
			const uint8_t xi1 = (uint8_t)(31 < t1 ? 31 : t1);
			b.qs[j] = (uint8_t)((xi0 & 0x0f) | ((xi1 & 0x0f) << 4));
			qh |= ((xi0 & 0x10u) >> 4) << j;
			qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
		}
		memcpy(b.qh, &qh, 4);
		memcpy(&out[i], &b, sizeof b);
	}
}

static void ref_dequantize_q5_0(const void *src, float *y, int64_t n)
{
	const struct block_q5_0 *x = src; // (n/32)
	for (int64_t i = 0; i < n / 32; i++) {
		const float d = llm_fp16_to_fp32(x[i].d);
		uint32_t qh;
		memcpy(&qh, x[i].qh, 4);
		for (int j = 0; j < 16; j++) {
			const int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
			const int x0 = ((x[i].qs[j] & 0x0f) | (h0 << 4)) - 16;
			const int x1 = ((x[i].qs[j] >> 4) | (h1 << 4)) - 16;
			y[i * 32 + j] = x0 * d;
			y[i * 32 + j + 16] = x1 * d;
		}
	}
}

/* q5_1: d = (max - min) / 31, m = min, q = (x - min)/d (0..31). */
static void ref_quantize_q5_1(const float *x, void *y, int64_t n)
{
	struct block_q5_1 *out = y; // (n/32)
	for (int64_t i = 0; i < n / 32; i++, x += 32) {
		struct block_q5_1 b;
		float min, max;
		block_minmax(x, &min, &max);
		const float d = (max - min) / ((1 << 5) - 1);
		const float id = d ? 1.0f / d : 0.0f;
		b.d = llm_fp32_to_fp16(d);
		b.m = llm_fp32_to_fp16(min);
		uint32_t qh = 0;
		for (int j = 0; j < 16; j++) {
			const float x0 = mul_nofma(x[j] - min, id), x1 = mul_nofma(x[16 + j] - min, id);
			const uint8_t xi0 = cvtt_byte(x0 + 0.5f), xi1 = cvtt_byte(x1 + 0.5f);
			b.qs[j] = (uint8_t)((xi0 & 0x0f) | ((xi1 & 0x0f) << 4));
			qh |= ((xi0 & 0x10u) >> 4) << j;
			qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
		}
		memcpy(b.qh, &qh, 4);
		memcpy(&out[i], &b, sizeof b);
	}
}

static void ref_dequantize_q5_1(const void *src, float *y, int64_t n)
{
	const struct block_q5_1 *x = src; // (n/32)
	for (int64_t i = 0; i < n / 32; i++) {
		const float d = llm_fp16_to_fp32(x[i].d), m = llm_fp16_to_fp32(x[i].m);
		uint32_t qh;
		memcpy(&qh, x[i].qh, 4);
		for (int j = 0; j < 16; j++) {
			const int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
			const int x0 = (x[i].qs[j] & 0x0f) | (h0 << 4);
			const int x1 = (x[i].qs[j] >> 4) | (h1 << 4);
			y[i * 32 + j] = x0 * d + m;
			y[i * 32 + j + 16] = x1 * d + m;
		}
	}
}

/* ------------------------------------------------ K-quant dequantizers
 *
 * As ggml's dequantize_row_*_K: the same float operations in the same order
 * (d * sc rounded to float, then times q, then minus the rounded min), so
 * every value comes out as llama.cpp's.  Decoding only: there is no K-quant
 * writer (ggml's quantizers search scales iteratively; not reproduced). */

/* Q2_K: 16 sub-blocks of 16; scales[i] low nibble scale, high nibble min;
 * value = d * sc * q - dmin * m, q the 2 bits at shift 2j of qs. */
static void ref_dequantize_q2_K(const void *src, float *y, int64_t n)
{
	const struct block_q2_K *x = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = llm_fp16_to_fp32(x[i].d), dmin = llm_fp16_to_fp32(x[i].dmin);
		const uint8_t *q = x[i].qs;
		int is = 0;
		for (int half = 0; half < 2; half++, q += 32)
			for (int shift = 0; shift < 8; shift += 2)
				for (int k = 0; k < 2; k++) {
					const uint8_t sc = x[i].scales[is++];
					const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
					for (int l = 0; l < 16; l++)
						*y++ = dl * ((q[16 * k + l] >> shift) & 3) - ml;
				}
	}
}

/* Q3_K: 16 sub-blocks of 16 with 6-bit scales (stored + 32) packed in 12
 * bytes: low nibbles in bytes 0-7 (sub-blocks 0-7 low, 8-15 high), the top
 * 2 bits in bytes 8-11; q = 2 bits of qs - (4 unless the hmask bit is set). */
static void ref_dequantize_q3_K(const void *src, float *y, int64_t n)
{
	const struct block_q3_K *x = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = llm_fp16_to_fp32(x[i].d);
		int8_t sc[16];
		for (int j = 0; j < 16; j++)
			sc[j] = (int8_t)llm_q3k_scale(x[i].scales, j);
		const uint8_t *q = x[i].qs, *hm = x[i].hmask;
		int is = 0;
		uint8_t m = 1;
		for (int half = 0; half < 2; half++, q += 32)
			for (int shift = 0; shift < 8; shift += 2, m <<= 1)
				for (int k = 0; k < 2; k++) {
					const float dl = d * sc[is++];
					for (int l = 16 * k; l < 16 * k + 16; l++)
						*y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
				}
	}
}

/* Q4_K (q5 0): 8 sub-blocks of 32; value = d * sc * q - dmin * m.  Each
 * 32 bytes of qs hold two sub-blocks: low nibbles first, then high.
 * Q5_K (q5 1): the same plus a 5th bit per value, bit j of qh[l] for value
 * l of sub-block j. */
static void dequantize_q45_K(const uint8_t *blk, float *y, int64_t n, const int q5)
{
	const size_t bs = q5 ? sizeof(struct block_q5_K) : sizeof(struct block_q4_K);
	for (int64_t i = 0; i < n / QK_K; i++, blk += bs) {
		uint16_t h[2];
		memcpy(h, blk, 4);
		const float d = llm_fp16_to_fp32(h[0]), dmin = llm_fp16_to_fp32(h[1]);
		const uint8_t *scales = blk + 4, *qh = blk + 16, *q = blk + (q5 ? 48 : 16);
		for (int j = 0; j < 8; j += 2, q += 32) {
			int sc, m;
			llm_k4_scale_min(scales, j, &sc, &m);
			const float d1 = d * sc, m1 = dmin * m;
			llm_k4_scale_min(scales, j + 1, &sc, &m);
			const float d2 = d * sc, m2 = dmin * m;
			for (int l = 0; l < 32; l++)
				*y++ = d1 * ((q[l] & 0xF) + (q5 && ((qh[l] >> j) & 1) ? 16 : 0)) - m1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * ((q[l] >> 4) + (q5 && ((qh[l] >> (j + 1)) & 1) ? 16 : 0)) - m2;
		}
	}
}

static void ref_dequantize_q4_K(const void *src, float *y, int64_t n) { dequantize_q45_K(src, y, n, 0); }
static void ref_dequantize_q5_K(const void *src, float *y, int64_t n) { dequantize_q45_K(src, y, n, 1); }

/* Q6_K: 16 sub-blocks of 16 with int8 scales; 6-bit q - 32, its low 4 bits
 * in ql, top 2 in qh.  Per 128 values: value l + 32 k (l < 32, k < 4) has
 * low bits in ql[l + 32 (k & 1)] (low nibble for k < 2), top bits at
 * shift 2k of qh[l], scale scales[l / 16 + 2 k]. */
static void ref_dequantize_q6_K(const void *src, float *y, int64_t n)
{
	const struct block_q6_K *x = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = llm_fp16_to_fp32(x[i].d);
		for (int half = 0; half < 2; half++) {
			const uint8_t *ql = x[i].ql + 64 * half, *qh = x[i].qh + 32 * half;
			const int8_t *sc = x[i].scales + 8 * half;
			float *yh = y + 128 * half;
			for (int l = 0; l < 32; l++) {
				const int is = l / 16;
				const int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
				const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				yh[l] = d * sc[is] * q1;
				yh[l + 32] = d * sc[is + 2] * q2;
				yh[l + 64] = d * sc[is + 4] * q3;
				yh[l + 96] = d * sc[is + 6] * q4;
			}
		}
		y += QK_K;
	}
}

/* IQ4_NL / IQ4_XS: the 16 levels a nibble indexes (ggml's kvalues_iq4nl) */
const int8_t llm_iq4nl_levels[16] = { -127, -104, -83, -65, -49, -35, -22, -10,
				      1,    13,   25,  38,  53,  69,  89,  113 };

/* 32 values from 16 bytes of nibbles (low: value j, high: value j + 16),
 * each d times its level */
static void iq4_block(const uint8_t *qs, float d, float *y)
{
	for (int j = 0; j < 16; j++) {
		y[j] = d * llm_iq4nl_levels[qs[j] & 0xF];
		y[j + 16] = d * llm_iq4nl_levels[qs[j] >> 4];
	}
}

static void ref_dequantize_iq4_nl(const void *src, float *y, int64_t n)
{
	const struct block_iq4_nl *x = src;
	for (int64_t i = 0; i < n / 32; i++)
		iq4_block(x[i].qs, llm_fp16_to_fp32(x[i].d), y + 32 * i);
}

/* IQ4_XS: per sub-block ib, dl = d (ls - 32) */
static void ref_dequantize_iq4_xs(const void *src, float *y, int64_t n)
{
	const struct block_iq4_xs *x = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = llm_fp16_to_fp32(x[i].d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			iq4_block(x[i].qs + 16 * ib, d * (float)llm_iq4xs_scale(x[i].scales_h, x[i].scales_l, ib), y);
		}
	}
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int llm_type_random_blocks(int type, void *dst, int64_t n, uint64_t *seed)
{
	size_t d0, d1; /* offsets of the fp16 (super-)block scales */
	switch (type) {
	case LLM_TYPE_Q2_K: d0 = offsetof(struct block_q2_K, d), d1 = offsetof(struct block_q2_K, dmin); break;
	case LLM_TYPE_Q3_K: d0 = d1 = offsetof(struct block_q3_K, d); break;
	case LLM_TYPE_Q4_K: d0 = offsetof(struct block_q4_K, d), d1 = offsetof(struct block_q4_K, dmin); break;
	case LLM_TYPE_Q5_K: d0 = offsetof(struct block_q5_K, d), d1 = offsetof(struct block_q5_K, dmin); break;
	case LLM_TYPE_Q6_K: d0 = d1 = offsetof(struct block_q6_K, d); break;
	case LLM_TYPE_IQ4_NL: d0 = d1 = offsetof(struct block_iq4_nl, d); break;
	case LLM_TYPE_IQ4_XS: d0 = d1 = offsetof(struct block_iq4_xs, d); break;
	default: return -1;
	}
	const struct llm_type_traits *tt = llm_type_traits(type);
	uint8_t *b = dst;
	for (int64_t i = 0; i < n / tt->blck; i++, b += tt->type_size) {
		for (size_t k = 0; k < tt->type_size; k++)
			b[k] = (uint8_t)(xorshift(seed) >> 56);
		for (size_t o = d0;; o = d1) {
			float v = ldexpf(1.0f + (float)(xorshift(seed) >> 40) * 0x1p-24f, -9 + (int)(xorshift(seed) % 4));
			uint16_t h = llm_fp32_to_fp16(v);
			memcpy(b + o, &h, 2);
			if (o == d1)
				break;
		}
	}
	return 0;
}

/* ------------------------------------------- run-time dispatch (x86-64) */

int llm_types_simd(void)
{
	return llm_isa_best() >= LLM_ISA_AVX2;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define DISPATCH(name, ref, simd, S, D)                                     \
	static void name(S x, D y, int64_t n)                              \
	{                                                                  \
		if (llm_types_simd())                                      \
			simd(x, y, n);                                     \
		else                                                       \
			ref(x, y, n);                                      \
	}
#else
#define DISPATCH(name, ref, simd, S, D)                                     \
	static void name(S x, D y, int64_t n) { ref(x, y, n); }
#endif

static void simd_f16_to_f32(const void *x, float *y, int64_t n) { llm_simd_fp16_to_fp32_row(x, y, n); }
static void simd_f32_to_f16(const float *x, void *y, int64_t n) { llm_simd_fp32_to_fp16_row(x, y, n); }
static void simd_bf16_to_f32(const void *x, float *y, int64_t n) { llm_simd_bf16_to_fp32_row(x, y, n); }
static void simd_f32_to_bf16(const float *x, void *y, int64_t n) { llm_simd_fp32_to_bf16_row(x, y, n); }

DISPATCH(f16_to_f32, ref_f16_to_f32, simd_f16_to_f32, const void *, float *)
DISPATCH(f32_to_f16, ref_f32_to_f16, simd_f32_to_f16, const float *, void *)
DISPATCH(bf16_to_f32, ref_bf16_to_f32, simd_bf16_to_f32, const void *, float *)
DISPATCH(f32_to_bf16, ref_f32_to_bf16, simd_f32_to_bf16, const float *, void *)
DISPATCH(quantize_q8_0, ref_quantize_q8_0, llm_simd_quantize_q8_0, const float *, void *)
DISPATCH(quantize_q4_0, ref_quantize_q4_0, llm_simd_quantize_q4_0, const float *, void *)
DISPATCH(dequantize_q8_0, ref_dequantize_q8_0, llm_simd_dequantize_q8_0, const void *, float *)
DISPATCH(dequantize_q4_0, ref_dequantize_q4_0, llm_simd_dequantize_q4_0, const void *, float *)

/* ---------------------------------------------------------- the traits */

#define T(id, nm, bl, sz, fl, to, from) \
	[id] = { .name = nm, .blck = bl, .type_size = sz, .is_float = fl, .to_float = to, .from_float = from }

static const struct llm_type_traits traits[LLM_TYPE_COUNT] = {
	T(LLM_TYPE_F32, "f32", 1, 4, 1, f32_to_f32, f32_from_f32),
	T(LLM_TYPE_F16, "f16", 1, 2, 1, f16_to_f32, f32_to_f16),
	T(LLM_TYPE_Q4_0, "q4_0", 32, 18, 0, dequantize_q4_0, quantize_q4_0),
	T(LLM_TYPE_Q4_1, "q4_1", 32, 20, 0, ref_dequantize_q4_1, ref_quantize_q4_1),
	T(LLM_TYPE_Q5_0, "q5_0", 32, 22, 0, ref_dequantize_q5_0, ref_quantize_q5_0),
	T(LLM_TYPE_Q5_1, "q5_1", 32, 24, 0, ref_dequantize_q5_1, ref_quantize_q5_1),
	T(LLM_TYPE_Q8_0, "q8_0", 32, 34, 0, dequantize_q8_0, quantize_q8_0),
	T(LLM_TYPE_Q8_1, "q8_1", 32, 36, 0, NULL, NULL),
	/* K-quants: 256-value super-blocks; ggml spells them with a capital K */
	T(LLM_TYPE_Q2_K, "q2_K", 256, 84, 0, ref_dequantize_q2_K, NULL),
	T(LLM_TYPE_Q3_K, "q3_K", 256, 110, 0, ref_dequantize_q3_K, NULL),
	T(LLM_TYPE_Q4_K, "q4_K", 256, 144, 0, ref_dequantize_q4_K, NULL),
	T(LLM_TYPE_Q5_K, "q5_K", 256, 176, 0, ref_dequantize_q5_K, NULL),
	T(LLM_TYPE_Q6_K, "q6_K", 256, 210, 0, ref_dequantize_q6_K, NULL),
	T(LLM_TYPE_Q8_K, "q8_K", 256, 292, 0, NULL, NULL),
	T(LLM_TYPE_IQ4_NL, "iq4_nl", 32, 18, 0, ref_dequantize_iq4_nl, NULL),
	T(LLM_TYPE_IQ4_XS, "iq4_xs", 256, 136, 0, ref_dequantize_iq4_xs, NULL),
	T(LLM_TYPE_I8, "i8", 1, 1, 0, NULL, NULL),
	T(LLM_TYPE_I16, "i16", 1, 2, 0, NULL, NULL),
	T(LLM_TYPE_I32, "i32", 1, 4, 0, NULL, NULL),
	T(LLM_TYPE_I64, "i64", 1, 8, 0, NULL, NULL),
	T(LLM_TYPE_F64, "f64", 1, 8, 1, NULL, NULL),
	T(LLM_TYPE_BF16, "bf16", 1, 2, 1, bf16_to_f32, f32_to_bf16),
	/* ggml's other types, by their blocks' sizes, so that a file holding
	 * them is listed and measured; nothing decodes them */
	T(LLM_TYPE_IQ2_XXS, "iq2_xxs", 256, 66, 0, NULL, NULL),
	T(LLM_TYPE_IQ2_XS, "iq2_xs", 256, 74, 0, NULL, NULL),
	T(LLM_TYPE_IQ3_XXS, "iq3_xxs", 256, 98, 0, NULL, NULL),
	T(LLM_TYPE_IQ1_S, "iq1_s", 256, 50, 0, NULL, NULL),
	T(LLM_TYPE_IQ3_S, "iq3_s", 256, 110, 0, NULL, NULL),
	T(LLM_TYPE_IQ2_S, "iq2_s", 256, 82, 0, NULL, NULL),
	T(LLM_TYPE_IQ1_M, "iq1_m", 256, 56, 0, NULL, NULL),
	T(LLM_TYPE_TQ1_0, "tq1_0", 256, 54, 0, NULL, NULL),
	T(LLM_TYPE_TQ2_0, "tq2_0", 256, 66, 0, NULL, NULL),
	T(LLM_TYPE_MXFP4, "mxfp4", 32, 17, 0, NULL, NULL),
};

const struct llm_type_traits *llm_type_traits(int t)
{
	if (t < 0 || t >= LLM_TYPE_COUNT || !traits[t].name)
		return NULL;
	return &traits[t];
}

int llm_type_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int t = 0; t < LLM_TYPE_COUNT; t++)
		if (traits[t].name && strcasecmp(traits[t].name, name) == 0)
			return t;
	return -1;
}

const char *llm_type_name(int t)
{
	const struct llm_type_traits *tt = llm_type_traits(t);
	return tt ? tt->name : "?";
}

size_t llm_type_row_size(int t, int64_t n)
{
	const struct llm_type_traits *tt = llm_type_traits(t);
	if (!tt || n < 0 || n % tt->blck)
		return 0;
	uint64_t blocks = (uint64_t)(n / tt->blck);
	if (blocks > SIZE_MAX / tt->type_size)
		return 0;
	return (size_t)blocks * tt->type_size;
}

llm_to_float_fn llm_type_ref_to_float(int t)
{
	switch (t) {
	case LLM_TYPE_F32: return f32_to_f32;
	case LLM_TYPE_F16: return ref_f16_to_f32;
	case LLM_TYPE_BF16: return ref_bf16_to_f32;
	case LLM_TYPE_Q4_0: return ref_dequantize_q4_0;
	case LLM_TYPE_Q4_1: return ref_dequantize_q4_1;
	case LLM_TYPE_Q5_0: return ref_dequantize_q5_0;
	case LLM_TYPE_Q5_1: return ref_dequantize_q5_1;
	case LLM_TYPE_Q8_0: return ref_dequantize_q8_0;
	case LLM_TYPE_Q2_K: return ref_dequantize_q2_K;
	case LLM_TYPE_Q3_K: return ref_dequantize_q3_K;
	case LLM_TYPE_Q4_K: return ref_dequantize_q4_K;
	case LLM_TYPE_Q5_K: return ref_dequantize_q5_K;
	case LLM_TYPE_Q6_K: return ref_dequantize_q6_K;
	case LLM_TYPE_IQ4_NL: return ref_dequantize_iq4_nl;
	case LLM_TYPE_IQ4_XS: return ref_dequantize_iq4_xs;
	default: return NULL;
	}
}

llm_from_float_fn llm_type_ref_from_float(int t)
{
	switch (t) {
	case LLM_TYPE_F32: return f32_from_f32;
	case LLM_TYPE_F16: return ref_f32_to_f16;
	case LLM_TYPE_BF16: return ref_f32_to_bf16;
	case LLM_TYPE_Q4_0: return ref_quantize_q4_0;
	case LLM_TYPE_Q4_1: return ref_quantize_q4_1;
	case LLM_TYPE_Q5_0: return ref_quantize_q5_0;
	case LLM_TYPE_Q5_1: return ref_quantize_q5_1;
	case LLM_TYPE_Q8_0: return ref_quantize_q8_0;
	default: return NULL;
	}
}

/* ----------------------------------------------------------- statistics */

void llm_qstats_add(struct llm_qstats *s, const float *x, const float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		double e = (double)x[i] - (double)y[i];
		const double a = fabs((double)x[i]);
		if (isfinite(x[i]) && !isfinite(y[i])) /* an overflowed scale decodes as inf or NaN */
			e = INFINITY;
		s->sum_sq_err += e * e;
		s->sum_sq += (double)x[i] * x[i];
		if (fabs(e) > s->max_abs_err)
			s->max_abs_err = fabs(e);
		/* what becomes inf / 0 in fp16 (round to nearest even) */
		if (isfinite(x[i]) && a >= 65520.0)
			s->fp16_overflow++;
		if (a > 0.0 && a <= 0x1p-25)
			s->fp16_underflow++;
	}
	s->n += n;
}

double llm_qstats_rmse(const struct llm_qstats *s)
{
	return s->n > 0 ? sqrt(s->sum_sq_err / (double)s->n) : 0.0;
}

double llm_qstats_snr_db(const struct llm_qstats *s)
{
	if (s->sum_sq_err == 0.0)
		return INFINITY;
	return 10.0 * log10(s->sum_sq / s->sum_sq_err);
}
