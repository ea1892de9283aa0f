/* qpack.c - Q4_0 / Q8_0 repacking and the VNNI mat-mul over it (qpack.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io.h"
#include "parts.h"
#include "qpack.h"
#include "types.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QP_X86 1
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))
#endif

#define GR 16    /* rows per group: one 32-bit lane each in a 512-bit register */
#define QK 32    /* values per block */
#define XMAX 8323072.0f /* 127 * 65536: |xi| <= XMAX keeps the top byte in -127..127 */
#define TILE 4   /* tokens per pass over a group's weights */
#define GDEC 4   /* groups per panel, side by side when decoding one token */

struct llm_qpack {
	int type;
	int64_t n, d;      /* d rows of n values */
	int64_t nb, ng;    /* blocks per row, groups of GR rows */
	int64_t np;        /* panels of GDEC groups (the last padded with zero groups) */
	size_t code;       /* code bytes per group-block: 256 (Q4_0) or 512 (Q8_0) */
	size_t blk;        /* bytes per panel-block: GDEC x (code + 32 scale bytes) */
	size_t stride;     /* bytes per panel: nb x blk */
	uint8_t *data;
};

/* Group g's codes and scales of block 0; block b is b * p->blk further on. */
static const uint8_t *group_codes(const llm_qpack *p, int64_t g)
{
	return p->data + (size_t)(g / GDEC) * p->stride + (size_t)(g % GDEC) * p->code;
}
static const uint8_t *group_scales(const llm_qpack *p, int64_t g)
{
	return p->data + (size_t)(g / GDEC) * p->stride + GDEC * p->code + (size_t)(g % GDEC) * GR * 2;
}

static size_t round64(size_t v) { return (v + 63) & ~(size_t)63; }

int llm_qpack_available(int type)
{
#ifdef QP_X86
	if (type != LLM_TYPE_Q4_0 && type != LLM_TYPE_Q8_0)
		return 0;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
	(void)type;
	return 0;
#endif
}

/* ============================================================ packing */

struct pack_job {
	const llm_qpack *p;
	struct llm_parts src;
	size_t blk_bytes;
};

/* Groups g0..g1-1 (g1 up to np * GDEC: padding groups get zero scales):
 * codes into chunks, scales beside them.  Block by block, so each 64-byte
 * chunk is written whole while the 16 source rows are read as 16 forward
 * streams. */
static void pack_groups(void *arg, int64_t g0, int64_t g1, int tid)
{
	(void)tid;
	const struct pack_job *j = arg;
	const llm_qpack *p = j->p;
	const uint32_t flip = p->type == LLM_TYPE_Q8_0 ? 0x80808080u : 0; /* Q8_0: q + 128 */
	const int chunks = p->type == LLM_TYPE_Q8_0 ? 8 : 4;
	for (int64_t g = g0; g < g1; g++) {
		int64_t left = p->d - g * GR;
		int nr = left < 0 ? 0 : left < GR ? (int)left : GR;
		const uint8_t *src[GR];
		for (int r = 0; r < nr; r++)
			src[r] = llm_parts_row(&j->src, g * GR + r);
		for (int64_t b = 0; b < p->nb; b++) {
			uint8_t *codes = (uint8_t *)group_codes(p, g) + (size_t)b * p->blk;
			uint16_t *sc = (uint16_t *)(group_scales(p, g) + (size_t)b * p->blk);
			for (int r = 0; r < GR; r++) {
				if (r >= nr) { /* padding row: zero scale, any codes */
					sc[r] = 0;
					for (int c = 0; c < chunks; c++)
						memset(codes + 64 * c + 4 * r, 0, 4);
					continue;
				}
				const uint8_t *blk = src[r] + (size_t)b * j->blk_bytes;
				memcpy(&sc[r], blk, 2);
				for (int c = 0; c < chunks; c++) { /* 4 codes at a time */
					uint32_t v;
					memcpy(&v, blk + 2 + 4 * c, 4);
					v ^= flip;
					memcpy(codes + 64 * c + 4 * r, &v, 4);
				}
			}
		}
	}
}

int llm_qpack_new(llm_qpack **out, const void *w, int type, int64_t n, int64_t d,
		  llm_threadpool *tp)
{
	return llm_qpack_new_stacked(out, &w, &d, 1, type, n, tp);
}

int llm_qpack_new_stacked(llm_qpack **out, const void *const *w, const int64_t *rows,
			  int n_parts, int type, int64_t n, llm_threadpool *tp)
{
	struct pack_job j = { .blk_bytes = type == LLM_TYPE_Q8_0 ? 34 : 18 };
	*out = NULL;
	int rc = llm_parts_init(&j.src, w, rows, n_parts, llm_type_row_size(type, n), "qpack");
	if (rc)
		return rc;
	int64_t d = j.src.first[n_parts];
	if (!llm_qpack_available(type))
		return llm_err(LLM_EUNSUPPORTED, "qpack: type %s cannot be packed on this CPU",
			       llm_type_name(type));
	if (n < QK || n % QK || d < 1)
		return llm_err(LLM_EINVAL, "qpack: %lld rows of %lld values (need a multiple of %d)",
			       (long long)d, (long long)n, QK);
	llm_qpack *p = calloc(1, sizeof *p);
	if (!p)
		return llm_err(LLM_ENOMEM, "qpack: out of memory");
	p->type = type;
	p->n = n;
	p->d = d;
	p->nb = n / QK;
	p->ng = (d + GR - 1) / GR;
	p->np = (p->ng + GDEC - 1) / GDEC;
	p->code = type == LLM_TYPE_Q8_0 ? 512 : 256;
	p->blk = GDEC * (p->code + GR * 2);
	p->stride = (size_t)p->nb * p->blk;
	size_t bytes = (size_t)p->np * p->stride;
	if (!(p->data = llm_alloc_stream(bytes))) { /* decode streams it */
		free(p);
		return llm_err(LLM_ENOMEM, "qpack: out of memory for %zu bytes", bytes);
	}
	j.p = p;
	llm_threadpool_run(tp, p->np * GDEC, 8, GDEC, pack_groups, &j);
	*out = p;
	return 0;
}

void llm_qpack_free(llm_qpack *p)
{
	if (!p)
		return;
	free(p->data);
	free(p);
}

/* ========================================================= activations */

/* Per token, for its nb = n/32 blocks: planes p0[n] | p1[n] | p2[n] (int8),
 * dx[nb] (float), s01[nb] = sum(256 p0 + p1), s2[nb] = sum(p2) (int32). */
size_t llm_qpack_x_size(int64_t n, int64_t m)
{
	return round64(3 * (size_t)n + 12 * (size_t)(n / QK)) * (size_t)m;
}

struct xplanes {
	int8_t *p0, *p1, *p2;
	float *dx;
	int32_t *s01, *s2;
};

/* xi = 65536 p0 + 256 p1 + p2 with p1, p2 in -128..127 and p0 in -127..127
 * (|xi| <= XMAX): the offsets 32896 and 128 keep the remainders in range. */
static inline void split3(int32_t q, int32_t *h, int32_t *m, int32_t *l)
{
	int32_t r;
	*h = (q + 32896) >> 16; /* floor */
	r = q - (*h << 16);     /* -32896..32639 */
	*m = (r + 128) >> 8;
	*l = r - (*m << 8);
}

static void quant_block_ref(const struct xplanes *o, int64_t b, const float *x)
{
	int8_t *p0 = o->p0 + b * QK, *p1 = o->p1 + b * QK, *p2 = o->p2 + b * QK;
	float amax = 0;
	int bad = 0;
	for (int i = 0; i < QK; i++) {
		float a = fabsf(x[i]);
		bad |= !(a <= FLT_MAX);
		amax = a > amax ? a : amax;
	}
	if (bad || amax < 1e-30f) {
		memset(p0, 0, QK), memset(p1, 0, QK), memset(p2, 0, QK);
		o->dx[b] = bad ? NAN : 0.0f;
		o->s01[b] = o->s2[b] = 0;
		return;
	}
	float id = XMAX / amax;
	int32_t s01 = 0, s2 = 0;
	for (int i = 0; i < QK; i++) {
		int32_t h, m, l;
		split3((int32_t)nearbyintf(x[i] * id), &h, &m, &l);
		p0[i] = (int8_t)h, p1[i] = (int8_t)m, p2[i] = (int8_t)l;
		s01 += 256 * h + m;
		s2 += l;
	}
	o->dx[b] = amax / XMAX;
	o->s01[b] = s01;
	o->s2[b] = s2;
}

#ifdef QP_X86
VNNI static inline void store16(int8_t *p, __m512i a, __m512i b)
{
	_mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(a));
	_mm_storeu_si128((__m128i *)(p + 16), _mm512_cvtepi32_epi8(b));
}

VNNI static void quant_block_avx512(const struct xplanes *o, int64_t b, const float *x)
{
	__m512 xa = _mm512_loadu_ps(x), xb = _mm512_loadu_ps(x + 16);
	__m512 aa = _mm512_abs_ps(xa), ab = _mm512_abs_ps(xb);
	const __m512 big = _mm512_set1_ps(FLT_MAX);
	__mmask16 bad = _mm512_cmp_ps_mask(aa, big, _CMP_NLE_UQ) | _mm512_cmp_ps_mask(ab, big, _CMP_NLE_UQ);
	float amax = _mm512_reduce_max_ps(_mm512_max_ps(aa, ab));
	if (bad || amax < 1e-30f) {
		quant_block_ref(o, b, x);
		return;
	}
	__m512 id = _mm512_set1_ps(XMAX / amax);
	__m512i q[2] = { _mm512_cvtps_epi32(_mm512_mul_ps(xa, id)), /* nearest even */
			 _mm512_cvtps_epi32(_mm512_mul_ps(xb, id)) };
	__m512i h[2], m[2], l[2];
	for (int k = 0; k < 2; k++) { /* split3, 16 lanes at a time */
		h[k] = _mm512_srai_epi32(_mm512_add_epi32(q[k], _mm512_set1_epi32(32896)), 16);
		__m512i r = _mm512_sub_epi32(q[k], _mm512_slli_epi32(h[k], 16));
		m[k] = _mm512_srai_epi32(_mm512_add_epi32(r, _mm512_set1_epi32(128)), 8);
		l[k] = _mm512_sub_epi32(r, _mm512_slli_epi32(m[k], 8));
	}
	store16(o->p0 + b * QK, h[0], h[1]);
	store16(o->p1 + b * QK, m[0], m[1]);
	store16(o->p2 + b * QK, l[0], l[1]);
	__m512i s01 = _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(h[0], h[1]), 8),
				       _mm512_add_epi32(m[0], m[1]));
	o->dx[b] = amax / XMAX;
	o->s01[b] = _mm512_reduce_add_epi32(s01);
	o->s2[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(l[0], l[1]));
}
#endif

static struct xplanes planes(const void *xq, int64_t n, int64_t t)
{
	uint8_t *base = (uint8_t *)xq + (size_t)t * llm_qpack_x_size(n, 1);
	int64_t nb = n / QK;
	struct xplanes o;
	o.p0 = (int8_t *)base;
	o.p1 = o.p0 + n;
	o.p2 = o.p1 + n;
	o.dx = (float *)(base + 3 * n);
	o.s01 = (int32_t *)(o.dx + nb);
	o.s2 = o.s01 + nb;
	return o;
}

void llm_qpack_quant_x(void *xq, const float *x, int64_t n, int64_t m)
{
	int64_t nb = n / QK;
#ifdef QP_X86
	int fast = llm_qpack_available(LLM_TYPE_Q8_0);
#endif
	for (int64_t t = 0; t < m; t++) {
		struct xplanes o = planes(xq, n, t);
		const float *xt = x + t * n;
		for (int64_t b = 0; b < nb; b++) {
#ifdef QP_X86
			if (fast) {
				quant_block_avx512(&o, b, xt + b * QK);
				continue;
			}
#endif
			quant_block_ref(&o, b, xt + b * QK);
		}
	}
}

/* ============================================================ mat-mul */

#ifdef QP_X86
VNNI static INLINE __m512i bc4(const int8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return _mm512_set1_epi32(v);
}

/* Decoding Q4_0 asks for the weights PF_AHEAD_Q4 bytes ahead, into L2;
 * Q8_0 leaves its forward stream to the hardware prefetcher.  On AMD Zen 4
 * (TinyLlama shape, 2 threads, the two variants alternated token by token
 * in one run, median token times) Q8_0 ran 1.10-1.35x faster without
 * software prefetches than with them 4 to 128 KiB ahead into L2 (22.2
 * against 27.9 ms per token at 32 KiB), 1.02-1.07x faster than 1-4 KiB
 * ahead into L1; Q4_0 ran 8 KiB ahead 1.03x faster
 * than 16 KiB, 1.05x than 32 KiB, 1.13x than 4 KiB and 1.19x than 128 KiB,
 * and 16 KiB 1.02-1.11x faster than none. */
#define PF_AHEAD_Q4 8192
#define DP(acc, w, p) _mm512_dpbusd_epi32((acc), (w), bc4(p))

/* sum over the block of u * plane, rows in lanes: two chains of 4 */
VNNI static INLINE __m512i plane(const __m512i *w, const int8_t *p)
{
	__m512i a0 = _mm512_setzero_si512(), a1 = a0;
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++) {
		a0 = DP(a0, w[c], p + 4 * c);
		a1 = DP(a1, w[c + 4], p + 16 + 4 * c);
	}
	return _mm512_add_epi32(a0, a1);
}

/* One group-block's codes as unsigned bytes: w[c] holds columns 4c..4c+3
 * of the block, row j in lane j (Q4_0: low nibbles are columns 0-15, high
 * nibbles 16-31). */
VNNI static INLINE void load_codes(__m512i *w, const uint8_t *codes, const int q8)
{
	if (q8) {
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++)
			w[c] = _mm512_load_si512(codes + 64 * c);
		return;
	}
	const __m512i m4 = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++) {
		__m512i v = _mm512_load_si512(codes + 64 * c);
		w[c] = _mm512_and_si512(v, m4);                            /* columns 4c.. */
		w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4); /* 16+4c.. */
	}
}

/* One group (16 rows) against T tokens (prefill): codes and sc point at
 * the group's block 0, blocks are p->blk bytes apart.  With u the
 * unsigned codes (Q4_0: nibble = q + 8, off 8; Q8_0: q + 128, off 128)
 * and q = u - off, per block
 *   A = sum u (256 p0 + p1) - off * s01 = sum q (256 p0 + p1)   (int32)
 *   B = sum u p2 - off * s2             = sum q p2
 *   out += (256 A + B) * scale * dx
 * A and B are exact; 256 A + B is formed in F32. */
VNNI static INLINE void group_tile(__m512 *acc, const uint8_t *codes, const uint8_t *sc,
				   const llm_qpack *p, const struct xplanes *xr, const int T,
				   const int q8)
{
	const __m512 f256 = _mm512_set1_ps(256.0f);
	const int32_t off = q8 ? 128 : 8;
	for (int64_t b = 0; b < p->nb; b++, codes += p->blk, sc += p->blk) {
		__m512 ds = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)sc));
		__m512i w[8];
		load_codes(w, codes, q8);
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			const int64_t o = b * QK;
			__m512i h = plane(w, xr[t].p0 + o), m = plane(w, xr[t].p1 + o);
			__m512i l = plane(w, xr[t].p2 + o);
			__m512i A = _mm512_sub_epi32(_mm512_add_epi32(_mm512_slli_epi32(h, 8), m),
						     _mm512_set1_epi32(off * xr[t].s01[b]));
			__m512i B = _mm512_sub_epi32(l, _mm512_set1_epi32(off * xr[t].s2[b]));
			__m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(A), f256, _mm512_cvtepi32_ps(B));
			acc[t] = _mm512_fmadd_ps(v, _mm512_mul_ps(ds, _mm512_set1_ps(xr[t].dx[b])), acc[t]);
		}
	}
}

/* acc += u . x with the 4 bytes of x at p broadcast: for Q4_0 from memory
 * within the instruction (GCC otherwise gives each broadcast a register
 * and an instruction of its own: 25-27 against 31-34 GB/s on one Zen 4
 * core, weights in cache); for Q8_0, whose 8 code loads per group already
 * keep the load ports busy, as GCC does it (49-55 against 41-45 GB/s). */
VNNI static INLINE __m512i dpm(__m512i acc, __m512i w, const int8_t *p, const int q8)
{
	if (q8)
		return _mm512_dpbusd_epi32(acc, w, bc4(p));
	__asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)p));
	return acc;
}

/* Decoding: the 4 groups of one panel against one token, block by block
 * along the panel (one forward stream).  group_tile's sums, arranged for
 * fewer instructions: the p0 chains are shifted by 8 and continued with p1
 * (256 H + M in one accumulator, below 2^31 for both types), the p2 chains
 * start from -off * s2. */
VNNI static INLINE void panel_dec(__m512 *acc, const uint8_t *base, const llm_qpack *p,
				  const struct xplanes *x, const int q8)
{
	const __m512 f256 = _mm512_set1_ps(256.0f);
	const int32_t off = q8 ? 128 : 8;
	const size_t code = q8 ? 512 : 256;
	for (int64_t b = 0; b < p->nb; b++, base += p->blk) {
		for (size_t l = 0; !q8 && l < p->blk; l += 64)
			_mm_prefetch((const char *)base + PF_AHEAD_Q4 + l, _MM_HINT_T1);
		const int8_t *x0 = x->p0 + b * QK, *x1 = x->p1 + b * QK, *x2 = x->p2 + b * QK;
		const __m512i c01 = _mm512_set1_epi32(off * x->s01[b]);
		const __m512i c2 = _mm512_set1_epi32(-off * x->s2[b]);
		const __m512 dx = _mm512_set1_ps(x->dx[b]);
#pragma GCC unroll 4
		for (int g = 0; g < GDEC; g++) {
			const uint8_t *codes = base + g * code;
			const __m256i *sc = (const __m256i *)(base + GDEC * code + g * GR * 2);
			__m512i w[8];
			load_codes(w, codes, q8);
			__m512i h0 = _mm512_setzero_si512(), h1 = h0, l0 = c2, l1 = h0;
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++) {
				h0 = dpm(h0, w[c], x0 + 4 * c, q8);
				h1 = dpm(h1, w[c + 4], x0 + 16 + 4 * c, q8);
			}
			h0 = _mm512_slli_epi32(h0, 8), h1 = _mm512_slli_epi32(h1, 8);
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++) {
				h0 = dpm(h0, w[c], x1 + 4 * c, q8);
				h1 = dpm(h1, w[c + 4], x1 + 16 + 4 * c, q8);
				l0 = dpm(l0, w[c], x2 + 4 * c, q8);
				l1 = dpm(l1, w[c + 4], x2 + 16 + 4 * c, q8);
			}
			__m512i A = _mm512_sub_epi32(_mm512_add_epi32(h0, h1), c01);
			__m512i B = _mm512_add_epi32(l0, l1);
			__m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(A), f256, _mm512_cvtepi32_ps(B));
			__m512 ds = _mm512_cvtph_ps(_mm256_load_si256(sc));
			acc[g] = _mm512_fmadd_ps(v, _mm512_mul_ps(ds, dx), acc[g]);
		}
	}
}

struct mm_job {
	float *y;
	const llm_qpack *p;
	const uint8_t *xq;
	int64_t m;
};

/* Group g against tokens t0..t0+T-1. */
VNNI static INLINE void run_tile(const struct mm_job *j, int64_t g, int64_t t0, const int T,
				 const int q8)
{
	const llm_qpack *p = j->p;
	struct xplanes xr[TILE];
	__m512 acc[TILE];
	for (int t = 0; t < T; t++)
		xr[t] = planes(j->xq, p->n, t0 + t), acc[t] = _mm512_setzero_ps();
	group_tile(acc, group_codes(p, g), group_scales(p, g), p, xr, T, q8);
	int64_t r0 = g * GR, nr = p->d - r0 < GR ? p->d - r0 : GR;
	for (int t = 0; t < T; t++)
		_mm512_mask_storeu_ps(j->y + (t0 + t) * p->d + r0, (__mmask16)((1u << nr) - 1), acc[t]);
}

/* Decoding groups g..g+GDEC-1 (a panel) against token 0: the rows of
 * group g go to yg[0..GR), the panel's next groups' after them. */
VNNI static INLINE void run_panel(const struct mm_job *j, int64_t g, float *yg, const int q8)
{
	const llm_qpack *p = j->p;
	struct xplanes x = planes(j->xq, p->n, 0);
	__m512 acc[GDEC];
	for (int i = 0; i < GDEC; i++)
		acc[i] = _mm512_setzero_ps();
	panel_dec(acc, p->data + (size_t)(g / GDEC) * p->stride, p, &x, q8);
	for (int gi = 0; gi < GDEC; gi++) {
		int64_t r0 = (g + gi) * GR, nr = p->d - r0 < GR ? p->d - r0 : GR;
		if (nr <= 0) /* a padding group of the last panel */
			break;
		_mm512_mask_storeu_ps(yg + gi * GR, (__mmask16)((1u << nr) - 1), acc[gi]);
	}
}

/* decode: panels g0/GDEC..g1/GDEC-1, one forward stream; results to out
 * (an output job of the pool: rows g0 GR.. of y) */
VNNI static void mm_dec(const void *arg, int64_t g0, int64_t g1, float *out)
{
	const struct mm_job *j = arg;
	const int q8 = j->p->type == LLM_TYPE_Q8_0;
	for (int64_t g = g0; g < g1; g += GDEC)
		q8 ? run_panel(j, g, out + (g - g0) * GR, 1) : run_panel(j, g, out + (g - g0) * GR, 0);
}

VNNI static void mm_groups(void *arg, int64_t g0, int64_t g1, int tid)
{
	(void)tid;
	const struct mm_job *j = arg;
	const int q8 = j->p->type == LLM_TYPE_Q8_0;
	for (int64_t g = g0; g < g1; g++)
		for (int64_t t0 = 0; t0 < j->m; t0 += TILE) {
			int T = j->m - t0 < TILE ? (int)(j->m - t0) : TILE;
			/* constant T and type: registers, not arrays on the stack */
			if (q8) {
				switch (T) {
				case 1: run_tile(j, g, t0, 1, 1); break;
				case 2: run_tile(j, g, t0, 2, 1); break;
				case 3: run_tile(j, g, t0, 3, 1); break;
				default: run_tile(j, g, t0, 4, 1); break;
				}
			} else {
				switch (T) {
				case 1: run_tile(j, g, t0, 1, 0); break;
				case 2: run_tile(j, g, t0, 2, 0); break;
				case 3: run_tile(j, g, t0, 3, 0); break;
				default: run_tile(j, g, t0, 4, 0); break;
				}
			}
		}
}
#endif

void llm_qpack_matmul(float *y, const llm_qpack *p, const void *xq, int64_t m,
		      llm_threadpool *tp)
{
#ifdef QP_X86
	struct mm_job j = { y, p, xq, m };
	/* at least ~32 KiB of weights per chunk of work; decoding takes whole
	 * panels (padding groups included), more tokens the real groups */
	int64_t grain = (int64_t)(32768 / (p->stride / GDEC)) + 1;
	_Static_assert(sizeof j <= LLM_POOL_ARG_MAX, "the pool copies the job");
	if (m == 1)
		llm_threadpool_run_out(tp, p->np * GDEC, grain, GDEC, mm_dec, &j, sizeof j, y, GR, p->d);
	else
		llm_threadpool_run(tp, p->ng, grain, 1, mm_groups, &j);
#else
	(void)y, (void)p, (void)xq, (void)m, (void)tp; /* never packed here */
#endif
}
