/* kq_enc.h - a plain K-quant encoder for the tests and tools.
 *
 * The library decodes Q2_K..Q6_K but writes none of them (ggml's K-quant
 * quantizers search their scales iteratively; we do not reproduce them).
 * Tests still need rows and models in those types: this encoder makes valid
 * super-blocks close to x with the obvious rules (per sub-block range or
 * max, scales quantized against the largest), which is all a test of the
 * decoding and the dot products needs.  Not ggml's bytes.
 *
 * kq_encode(type, x, out, n): n a multiple of the type's block (256; 32
 * for IQ4_NL); 1 when type is a K-quant or IQ4 type this encoder writes,
 * else 0 (nothing written).
 */
#ifndef KQ_ENC_H
#define KQ_ENC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "types.h"

static inline void kq_half(uint8_t *p, float f)
{
	uint16_t h = llm_fp32_to_fp16(f);
	memcpy(p, &h, 2);
}

static inline float kq_read_half(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return llm_fp16_to_fp32(h);
}

static inline int kq_round(float v, int lo, int hi)
{
	if (!(v == v))
		return lo;
	long q = lrintf(v < -1e6f ? -1e6f : v > 1e6f ? 1e6f : v);
	return q < lo ? lo : q > hi ? (int)hi : (int)q;
}

/* asymmetric sub-blocks of len values: w = s q - m with q in 0..qmax,
 * s and m >= 0 */
static inline void kq_range(const float *x, int len, int qmax, float *s, float *m)
{
	float lo = 0, hi = 0;
	for (int l = 0; l < len; l++) {
		lo = x[l] < lo ? x[l] : lo;
		hi = x[l] > hi ? x[l] : hi;
	}
	*s = (hi - lo) / (float)qmax;
	*m = -lo;
}

static inline float kq_amax(const float *x, int len)
{
	float a = 0;
	for (int l = 0; l < len; l++)
		a = fabsf(x[l]) > a ? fabsf(x[l]) : a;
	return a;
}

/* the super-block scale for scales up to top stored as integers up to imax,
 * as the decoder reads it back (fp16) */
static inline float kq_super(uint8_t *p, float top, int imax)
{
	kq_half(p, top / (float)imax);
	return kq_read_half(p);
}

static inline int kq_code(float v, float step, float off, int qmax)
{
	return step > 0 ? kq_round((v + off) / step, 0, qmax) : 0;
}

/* Q4_K (q5 0) and Q5_K (q5 1): 8 sub-blocks of 32, 6-bit scales and mins */
static inline void kq_q45(const float *x, uint8_t *b, int q5)
{
	const int qmax = q5 ? 31 : 15;
	float s[8], m[8], ts = 0, tm = 0;
	for (int j = 0; j < 8; j++) {
		kq_range(x + 32 * j, 32, qmax, &s[j], &m[j]);
		ts = s[j] > ts ? s[j] : ts;
		tm = m[j] > tm ? m[j] : tm;
	}
	memset(b, 0, q5 ? 176 : 144);
	float d = kq_super(b, ts, 63), dmin = kq_super(b + 2, tm, 63);
	int sc[8], mn[8];
	for (int j = 0; j < 8; j++) {
		sc[j] = d > 0 ? kq_round(s[j] / d, 0, 63) : 0;
		mn[j] = dmin > 0 ? kq_round(m[j] / dmin, 0, 63) : 0;
	}
	uint8_t *k = b + 4;
	for (int j = 0; j < 4; j++) {
		k[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
		k[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
		k[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
	}
	uint8_t *qh = b + 16, *qs = b + (q5 ? 48 : 16);
	for (int j = 0; j < 8; j++)
		for (int l = 0; l < 32; l++) {
			int q = kq_code(x[32 * j + l], d * (float)sc[j], dmin * (float)mn[j], qmax);
			qs[32 * (j / 2) + l] |= (uint8_t)((q & 0xF) << (4 * (j % 2)));
			if (q5)
				qh[l] |= (uint8_t)((q >> 4) << j);
		}
}

/* Q2_K: 16 sub-blocks of 16, 4-bit scales and mins, 2-bit codes */
static inline void kq_q2(const float *x, uint8_t *b)
{
	float s[16], m[16], ts = 0, tm = 0;
	for (int j = 0; j < 16; j++) {
		kq_range(x + 16 * j, 16, 3, &s[j], &m[j]);
		ts = s[j] > ts ? s[j] : ts;
		tm = m[j] > tm ? m[j] : tm;
	}
	memset(b, 0, 84);
	float d = kq_super(b + 80, ts, 15), dmin = kq_super(b + 82, tm, 15);
	for (int j = 0; j < 16; j++) {
		int sc = d > 0 ? kq_round(s[j] / d, 0, 15) : 0;
		int mn = dmin > 0 ? kq_round(m[j] / dmin, 0, 15) : 0;
		b[j] = (uint8_t)(sc | mn << 4);
		for (int l = 0; l < 16; l++) {
			int v = 16 * j + l, half = v / 128, r = v % 128;
			int q = kq_code(x[v], d * (float)sc, dmin * (float)mn, 3);
			b[16 + 32 * half + r % 32] |= (uint8_t)(q << (2 * (r / 32)));
		}
	}
}

/* Q3_K: 16 sub-blocks of 16, 6-bit signed scales, codes -4..3 */
static inline void kq_q3(const float *x, uint8_t *b)
{
	float a[16], ta = 0;
	for (int j = 0; j < 16; j++) {
		a[j] = kq_amax(x + 16 * j, 16) / 4.0f;
		ta = a[j] > ta ? a[j] : ta;
	}
	memset(b, 0, 110);
	float d = kq_super(b + 108, ta, 31);
	uint8_t *s = b + 96;
	for (int j = 0; j < 16; j++) {
		int sc = d > 0 ? kq_round(a[j] / d, -32, 31) : 0, u = sc + 32;
		if (j < 8)
			s[j] |= (uint8_t)(u & 0xF);
		else
			s[j - 8] |= (uint8_t)((u & 0xF) << 4);
		s[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
		for (int l = 0; l < 16; l++) {
			int v = 16 * j + l, half = v / 128, r = v % 128;
			float step = d * (float)sc;
			int q = step > 0 ? kq_round(x[v] / step, -4, 3) + 4 : 4; /* stored q + 4 */
			b[32 + 32 * half + r % 32] |= (uint8_t)((q & 3) << (2 * (r / 32)));
			if (q >> 2)
				b[r % 32] |= (uint8_t)(1 << (4 * half + r / 32));
		}
	}
}

/* Q6_K: 16 sub-blocks of 16, int8 scales, codes -32..31 */
static inline void kq_q6(const float *x, uint8_t *b)
{
	float a[16], ta = 0;
	for (int j = 0; j < 16; j++) {
		a[j] = kq_amax(x + 16 * j, 16) / 31.0f;
		ta = a[j] > ta ? a[j] : ta;
	}
	memset(b, 0, 210);
	float d = kq_super(b + 208, ta, 127);
	for (int j = 0; j < 16; j++) {
		int sc = d > 0 ? kq_round(a[j] / d, -128, 127) : 0;
		b[192 + j] = (uint8_t)(int8_t)sc;
		for (int l = 0; l < 16; l++) {
			int v = 16 * j + l, half = v / 128, r = v % 128, k = r / 32, ll = r % 32;
			float step = d * (float)sc;
			int q = step > 0 ? kq_round(x[v] / step, -32, 31) + 32 : 32;
			b[64 * half + ll + 32 * (k & 1)] |= (uint8_t)((q & 0xF) << (k >= 2 ? 4 : 0));
			b[128 + 32 * half + ll] |= (uint8_t)((q >> 4) << (2 * k));
		}
	}
}

/* IQ4: 32 values to the nearest of step times the 16 levels, as nibbles
 * (value j low, j + 16 high) */
static inline void kq_iq4(const float *x, float step, uint8_t *qs)
{
	static const int8_t lv[16] = { -127, -104, -83, -65, -49, -35, -22, -10,
				       1,    13,   25,  38,  53,  69,  89,  113 };
	uint8_t c[32];
	for (int l = 0; l < 32; l++) {
		int best = 0;
		for (int k = 1; k < 16; k++)
			if (fabsf(x[l] - step * lv[k]) < fabsf(x[l] - step * lv[best]))
				best = k;
		c[l] = (uint8_t)best;
	}
	for (int j = 0; j < 16; j++)
		qs[j] = (uint8_t)(c[j] | c[j + 16] << 4);
}

/* IQ4_XS: 8 sub-blocks of 32, 6-bit scales (ls - 32) */
static inline void kq_iq4xs(const float *x, uint8_t *b)
{
	float a[8], ta = 0;
	for (int j = 0; j < 8; j++) {
		a[j] = kq_amax(x + 32 * j, 32) / 127.0f;
		ta = a[j] > ta ? a[j] : ta;
	}
	memset(b, 0, 136);
	float d = kq_super(b, ta, 31);
	uint16_t sh = 0;
	for (int j = 0; j < 8; j++) {
		int ls = (d > 0 ? kq_round(a[j] / d, -32, 31) : 0) + 32;
		b[4 + j / 2] |= (uint8_t)((ls & 0xF) << (4 * (j % 2)));
		sh |= (uint16_t)((ls >> 4) << (2 * j));
		kq_iq4(x + 32 * j, d * (float)(ls - 32), b + 8 + 16 * j);
	}
	memcpy(b + 2, &sh, 2);
}

static inline int kq_encode(int type, const float *x, void *out, int64_t n)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	uint8_t *b = out;
	if (tt && type == LLM_TYPE_IQ4_NL) {
		for (int64_t i = 0; i < n; i += 32, b += 18, x += 32) {
			float d = kq_super(b, kq_amax(x, 32), 127);
			kq_iq4(x, d, b + 2);
		}
		return 1;
	}
	if (!tt || tt->blck != 256 || type == LLM_TYPE_Q8_K)
		return 0;
	for (int64_t i = 0; i < n; i += 256, b += tt->type_size, x += 256)
		switch (type) {
		case LLM_TYPE_Q2_K: kq_q2(x, b); break;
		case LLM_TYPE_Q3_K: kq_q3(x, b); break;
		case LLM_TYPE_Q4_K: kq_q45(x, b, 0); break;
		case LLM_TYPE_Q5_K: kq_q45(x, b, 1); break;
		case LLM_TYPE_Q6_K: kq_q6(x, b); break;
		case LLM_TYPE_IQ4_XS: kq_iq4xs(x, b); break;
		}
	return 1;
}

#endif
