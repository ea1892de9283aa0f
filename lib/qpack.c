/* qpack.c - quantized weights repacked (Q4_0, Q8_0, Q4_1, Q5_0, Q5_1,
 * Q2_K..Q6_K, IQ4_NL, IQ4_XS) and the VNNI mat-mul over them (qpack.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io.h"
#include "kernels.h"
#include "parts.h"
#include "qpack.h"
#include "types.h"
#include "types_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QP_X86 1
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#endif
#define INLINE inline __attribute__((always_inline))

#define GR 16    /* rows per group: one 32-bit lane each in a 512-bit register */
#define QK 32    /* values per block */
#define XMAX 8323072.0f /* 127 * 65536: |xi| <= XMAX keeps the top byte in -127..127 */
#define TILE 4   /* tokens per pass over a group's weights */
#define GDEC 4   /* groups per panel, side by side when decoding one token */

/* What a pack holds, the kernels' template argument.  Per 32 values and
 * row (codes, put_row: nibbles or, Q3_K and Q2_K, 2-bit fields, the
 * bits above in planes of their own; Q8_0's bytes):
 *   Q4_0, Q8_0, IQ4_NL  codes (Q8_0 q + 128) and an fp16 scale, the
 *                       codes' offset (8, 128) taken off in the integer
 *                       sums
 *   Q4_1, Q5_0, Q5_1    codes (Q5_0 offset 16); the *_1 types add an fp16
 *                       min
 *   Q4_K, Q5_K          codes, a 6-bit scale and min as bytes
 *   Q6_K, Q3_K, Q2_K    codes q + 32 / q + 4 / q, the int8 scales of the
 *                       two halves (Q2_K: and their mins), the offsets 32
 *                       and 4 taken off in F32
 *   IQ4_XS              codes, the scale ls - 32 as a byte
 * The IQ4 types' nibbles index 16 levels: a byte shuffle turns them into
 * level + 128, and the 128 comes off as Q8_0's.  The 256-value types'
 * blocks come in runs of 8 after their super-block's record: each row's d
 * and dmin in F32 (a dmin slot left zero where there is none). */
enum { KIND_Q4_0, KIND_Q8_0, KIND_Q4_K, KIND_Q5_K, KIND_Q6_K, KIND_IQ4_NL, KIND_IQ4_XS,
       KIND_Q4_1, KIND_Q5_0, KIND_Q5_1, KIND_Q3_K, KIND_Q2_K };
#define KIND_BYTES(k) ((k) == KIND_Q8_0)                       /* a byte a code */
/* the codes' low bits, packed 2 (nibbles) or 4 (2-bit fields) to a byte */
#define KIND_LBITS(k) ((k) == KIND_Q2_K || (k) == KIND_Q3_K ? 2 : 4)
/* bits above those, kept in planes of their own (64 bytes per bit) */
#define KIND_HBITS(k) ((k) == KIND_Q6_K ? 2 : (k) == KIND_Q5_K || (k) == KIND_Q5_0 || \
		       (k) == KIND_Q5_1 || (k) == KIND_Q3_K ? 1 : 0)
/* code bytes per group-block */
#define CODE(k) (KIND_BYTES(k) ? 512 : 64 * (KIND_LBITS(k) + KIND_HBITS(k)))
#define KIND_K(k) ((k) == KIND_Q4_K || (k) == KIND_Q5_K || (k) == KIND_Q6_K || \
		   (k) == KIND_IQ4_XS || (k) == KIND_Q3_K || (k) == KIND_Q2_K) /* runs after records */
#define KIND_MIN(k) ((k) == KIND_Q4_K || (k) == KIND_Q5_K || (k) == KIND_Q4_1 || \
		     (k) == KIND_Q5_1)                                  /* a min per block */
/* a scale per 16 values: the two halves of a block summed apart */
#define KIND_HALVES(k) ((k) == KIND_Q6_K || (k) == KIND_Q3_K || (k) == KIND_Q2_K)
/* scale bytes per group-block: 16 fp16 scales (the *_1 types: and 16 fp16
 * mins), 64 bytes of Q2_K's (scales and mins of both halves) or 32 of the
 * other K-quants' */
#define SB(k) ((k) == KIND_Q4_1 || (k) == KIND_Q5_1 || (k) == KIND_Q2_K ? 64 : 32)
#define BLK(k) ((size_t)GDEC * (CODE(k) + SB(k))) /* bytes per panel-block */
#define KIND_LUT(k) ((k) == KIND_IQ4_NL || (k) == KIND_IQ4_XS) /* codes index the IQ4 levels */

struct llm_qpack {
	int type, kind;
	int64_t n, d;      /* d rows of n values */
	int64_t nb, ng;    /* blocks per row, groups of GR rows */
	int64_t np;        /* panels of GDEC groups (the last padded with zero groups) */
	size_t code;       /* code bytes per group-block: 256 (nibbles) or 512 (bytes) */
	size_t sb;         /* scale bytes per group-block: SB(kind) */
	size_t blk;        /* bytes per panel-block: GDEC x (code + sb) */
	size_t rec;        /* K-quants: a super-block's record, GDEC x GR x (d, dmin) F32; else 0 */
	size_t stride;     /* bytes per panel: nb x blk (+ nb / 8 records) */
	uint8_t *data;
};

#define REC (GDEC * GR * 8)

/* Where block b starts within a panel, and (K-quants) its super-block's
 * record: runs of 8 blocks, each after its record. */
static INLINE size_t blk_off(const llm_qpack *p, int64_t b)
{
	if (!p->rec)
		return (size_t)b * p->blk;
	return (size_t)(b / 8) * (8 * p->blk + REC) + REC + (size_t)(b % 8) * p->blk;
}
static INLINE size_t rec_off(const llm_qpack *p, int64_t b)
{
	return (size_t)(b / 8) * (8 * p->blk + REC);
}

/* Group g's codes, scales (16 fp16 d, the *_1 types then 16 fp16 m; the
 * 256-value types 16 sc then 16 m bytes) and record (16 d then 16 dmin)
 * of block b. */
static INLINE const uint8_t *group_codes(const llm_qpack *p, int64_t g, int64_t b)
{
	return p->data + (size_t)(g / GDEC) * p->stride + blk_off(p, b) + (size_t)(g % GDEC) * p->code;
}
static INLINE const uint8_t *group_scales(const llm_qpack *p, int64_t g, int64_t b)
{
	return p->data + (size_t)(g / GDEC) * p->stride + blk_off(p, b) + GDEC * p->code +
	       (size_t)(g % GDEC) * p->sb;
}
static INLINE const float *group_rec(const llm_qpack *p, int64_t g, int64_t b)
{
	return (const float *)(p->data + (size_t)(g / GDEC) * p->stride + rec_off(p, b)) +
	       (g % GDEC) * 2 * GR;
}

static size_t round64(size_t v) { return (v + 63) & ~(size_t)63; }

int llm_qpack_available(int type)
{
#ifdef QP_X86
	if (type != LLM_TYPE_Q4_0 && type != LLM_TYPE_Q8_0 && type != LLM_TYPE_Q4_K &&
	    type != LLM_TYPE_Q5_K && type != LLM_TYPE_Q6_K && type != LLM_TYPE_IQ4_NL &&
	    type != LLM_TYPE_IQ4_XS && type != LLM_TYPE_Q4_1 && type != LLM_TYPE_Q5_0 &&
	    type != LLM_TYPE_Q5_1 && type != LLM_TYPE_Q3_K && type != LLM_TYPE_Q2_K)
		return 0;
	__builtin_cpu_init();
	return llm_isa_best() == LLM_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
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

/* The rows of group g (src[0..nr), nr of them: fewer than GR in the last
 * group, none in a padding group). */
static int group_rows(const struct pack_job *j, int64_t g, const uint8_t **src)
{
	int64_t left = j->p->d - g * GR;
	int nr = left < 0 ? 0 : left < GR ? (int)left : GR;
	for (int r = 0; r < nr; r++)
		src[r] = llm_parts_row(&j->src, g * GR + r);
	return nr;
}

/* Row r's 16 bytes of nibbles (byte k: column k low, k + 16 high, as
 * Q4_0 stores them) into the group-block's first 4 chunks: chunk c gets
 * bytes 4c..4c+3 (w[c] low, w[c + 4] high; see put_row). */
static void put_nibbles(uint8_t *codes, int r, const uint8_t *nib)
{
	for (int c = 0; c < 4; c++)
		memcpy(codes + 64 * c + 4 * r, nib + 4 * c, 4);
}

/* byte i of 2-bit-field chunk h: bits sh, sh + 1 of w[4h + k]'s code in
 * bits 2k.. (column 16h + 4k + i) */
static uint8_t fields2(const uint8_t *u, int h, int i, int sh)
{
	uint8_t v = 0;
	for (int k = 0; k < 4; k++)
		v |= (uint8_t)((u[16 * h + 4 * k + i] >> sh & 3) << 2 * k);
	return v;
}

/* Row r's 32 unsigned codes u into a group-block's 64-byte chunks, where
 * bytes 4r..4r+3 of a chunk hold 4 columns of the kernels' w[c], columns
 * 4c + i (w[0..3] the block's first 16 columns, w[4..7] the others):
 * Q8_0's 8 chunks of bytes; else the low bits, 4 chunks of nibbles (chunk
 * c: w[c] low, w[c + 4] high) or 2 chunks of 2-bit fields (chunk h: w[4h
 * + k] in bits 2k..), then the bits above them: for one bit a chunk whose
 * byte has w[c]'s in bit c, for two bits two chunks laid out as the 2-bit
 * fields. */
static void put_row(uint8_t *codes, int r, const uint8_t *u, int kind)
{
	uint8_t *o = codes + 4 * r;
	if (KIND_BYTES(kind)) {
		for (int ch = 0; ch < 8; ch++)
			memcpy(o + 64 * ch, u + 4 * ch, 4);
		return;
	}
	const int lb = KIND_LBITS(kind), hb = KIND_HBITS(kind);
	if (lb == 4) {
		uint8_t nib[16];
		for (int k = 0; k < 16; k++)
			nib[k] = (uint8_t)((u[k] & 0xF) | (u[k + 16] & 0xF) << 4);
		put_nibbles(codes, r, nib);
	} else {
		for (int h = 0; h < 2; h++)
			for (int i = 0; i < 4; i++)
				o[64 * h + i] = fields2(u, h, i, 0);
	}
	if (hb == 1)
		for (int i = 0; i < 4; i++) {
			uint8_t bits = 0;
			for (int c = 0; c < 8; c++)
				bits |= (uint8_t)((u[4 * c + i] >> lb & 1) << c);
			o[64 * lb + i] = bits;
		}
	else if (hb == 2)
		for (int h = 0; h < 2; h++)
			for (int i = 0; i < 4; i++)
				o[64 * (lb + h) + i] = fields2(u, h, i, lb);
}

/* A block of a 32-value type's row: its fp16 d (and the *_1 types' m)
 * and its codes.  Where the stored bytes are already the pack's nibbles
 * (Q4_0, Q4_1, IQ4_NL) they are returned; otherwise NULL, with the 32
 * unsigned codes in u (Q8_0: q + 128; Q5_0, Q5_1: nibble and fifth bit,
 * bit j of qh for value j). */
static const uint8_t *fblock(int kind, const uint8_t *blk, uint8_t *u, uint16_t *dm)
{
	const int has_m = kind == KIND_Q4_1 || kind == KIND_Q5_1;
	const int has_h = kind == KIND_Q5_0 || kind == KIND_Q5_1;
	memcpy(dm, blk, has_m ? 4 : 2);
	const uint8_t *qs = blk + (has_m ? 4 : 2) + (has_h ? 4 : 0);
	if (kind == KIND_Q8_0) {
		for (int k = 0; k < 32; k++)
			u[k] = qs[k] ^ 0x80;
		return NULL;
	}
	if (!has_h)
		return qs;
	uint32_t qh;
	memcpy(&qh, blk + (has_m ? 4 : 2), 4);
	for (int k = 0; k < 16; k++) {
		u[k] = (uint8_t)((qs[k] & 0xF) | ((qh >> k) & 1) << 4);
		u[k + 16] = (uint8_t)((qs[k] >> 4) | ((qh >> (k + 16)) & 1) << 4);
	}
	return NULL;
}

/* Groups g0..g1-1 of a 32-value type (g1 up to np * GDEC: padding groups
 * get zero scales): codes into chunks, scales (and mins) beside them.
 * Block by block, so each 64-byte chunk is written whole while the 16
 * source rows are read as 16 forward streams. */
static void pack_groups(void *arg, int64_t g0, int64_t g1, int tid)
{
	(void)tid;
	const struct pack_job *j = arg;
	const llm_qpack *p = j->p;
	for (int64_t g = g0; g < g1; g++) {
		const uint8_t *src[GR];
		int nr = group_rows(j, g, src);
		for (int64_t b = 0; b < p->nb; b++) {
			uint8_t *codes = (uint8_t *)group_codes(p, g, b);
			uint16_t *sc = (uint16_t *)group_scales(p, g, b);
			for (int r = 0; r < GR; r++) {
				uint8_t u[32] = { 0 };
				uint16_t dm[2] = { 0, 0 };
				const uint8_t *nib = NULL;
				if (r < nr) /* else a padding row: zero scale and codes */
					nib = fblock(p->kind, src[r] + (size_t)b * j->blk_bytes, u, dm);
				sc[r] = dm[0];
				if (p->sb == 64)
					sc[GR + r] = dm[1];
				if (nib)
					put_nibbles(codes, r, nib);
				else
					put_row(codes, r, u, p->kind);
			}
		}
	}
}

/* The block decoders of the 256-value types: block j (0..7, 32 values)
 * of the super-block at sb, as pack_groups_k finds it. */

/* Q4_K / Q5_K: the 32 codes u (0..15 or 0..31), the 6-bit scale and min,
 * and the super-block's d and dmin: the values are (d sc) u - dmin m, as
 * types.c's decoder forms them. */
static void kblock(const uint8_t *sb, int type, int j, uint8_t *u, uint8_t *sm, float *dd)
{
	const int q5 = type == LLM_TYPE_Q5_K;
	uint16_t h[2];
	memcpy(h, sb, 4);
	int sc, m;
	llm_k4_scale_min(sb + 4, j, &sc, &m);
	sm[0] = (uint8_t)sc, sm[1] = (uint8_t)m;
	dd[0] = llm_fp16_to_fp32(h[0]), dd[1] = llm_fp16_to_fp32(h[1]);
	const uint8_t *qs = sb + (q5 ? 48 : 16) + 32 * (j / 2), *qh = sb + 16;
	for (int l = 0; l < 32; l++)
		u[l] = (uint8_t)(((qs[l] >> (4 * (j % 2))) & 0xF) | (q5 ? ((qh[l] >> j) & 1) << 4 : 0));
}

/* Q6_K: the 32 codes u = q + 32 (0..63), the two int8 scales of its
 * halves, and the super-block's d: the values are (d sc) (u - 32). */
static void kblock6(const uint8_t *sb, int j, uint8_t *u, uint8_t *sm, float *dd)
{
	const int half = j / 4, k = j % 4;
	uint16_t h;
	memcpy(&h, sb + 208, 2);
	const uint8_t *ql = sb + 64 * half + 32 * (k & 1), *qh = sb + 128 + 32 * half;
	for (int l = 0; l < 32; l++)
		u[l] = (uint8_t)(((ql[l] >> (k >= 2 ? 4 : 0)) & 0xF) | ((qh[l] >> (2 * k)) & 3) << 4);
	sm[0] = sb[192 + 2 * j], sm[1] = sb[192 + 2 * j + 1];
	dd[0] = llm_fp16_to_fp32(h), dd[1] = 0;
}

/* IQ4_XS: the 32 nibble codes, the scale ls - 32 as a signed byte, and d. */
static void kblock_iq4xs(const uint8_t *sb, int ib, uint8_t *u, uint8_t *sm, float *dd)
{
	uint16_t h[2];
	memcpy(h, sb, 4);
	for (int l = 0; l < 16; l++)
		u[l] = sb[8 + 16 * ib + l] & 0xF, u[l + 16] = sb[8 + 16 * ib + l] >> 4;
	sm[0] = (uint8_t)(int8_t)llm_iq4xs_scale(h[1], sb + 4, ib), sm[1] = 0;
	dd[0] = llm_fp16_to_fp32(h[0]), dd[1] = 0;
}

/* Q3_K: the 32 codes u = q + 4 (0..7; q = 2 bits - 4 unless the hmask
 * bit is set), the halves' scales sc - 32 as signed bytes, and d. */
static void kblock3(const uint8_t *sb, int j, uint8_t *u, uint8_t *sm, float *dd)
{
	const int half = j / 4, sh = j % 4;
	uint16_t h;
	memcpy(&h, sb + 108, 2);
	for (int l = 0; l < 32; l++)
		u[l] = (uint8_t)(((sb[32 + 32 * half + l] >> (2 * sh)) & 3) |
				 ((sb[l] >> (4 * half + sh)) & 1) << 2);
	for (int k = 0; k < 2; k++) /* the 16-value sub-blocks 2 j, 2 j + 1 */
		sm[k] = (uint8_t)(int8_t)llm_q3k_scale(sb + 96, 2 * j + k);
	dd[0] = llm_fp16_to_fp32(h), dd[1] = 0;
}

/* Q2_K: the 32 codes (0..3), the halves' 4-bit scales, then their 4-bit
 * mins, and d, dmin. */
static void kblock2(const uint8_t *sb, int j, uint8_t *u, uint8_t *sm, float *dd)
{
	const int half = j / 4, sh = j % 4;
	uint16_t h[2];
	memcpy(h, sb + 80, 4);
	for (int l = 0; l < 32; l++)
		u[l] = (uint8_t)((sb[16 + 32 * half + l] >> (2 * sh)) & 3);
	for (int k = 0; k < 2; k++) {
		sm[k] = sb[2 * j + k] & 0xF;
		sm[2 + k] = sb[2 * j + k] >> 4;
	}
	dd[0] = llm_fp16_to_fp32(h[0]), dd[1] = llm_fp16_to_fp32(h[1]);
}

/* pack_groups for Q4_K / Q5_K / Q6_K / IQ4_XS / Q3_K / Q2_K: codes as
 * put_row lays them out, then the 16 rows' scales and mins (Q6_K: the
 * halves' scales) as bytes; each super-block's record the rows' d and
 * dmin.  Padding rows: all zero. */
static void pack_groups_k(void *arg, int64_t g0, int64_t g1, int tid)
{
	(void)tid;
	const struct pack_job *j = arg;
	const llm_qpack *p = j->p;
	for (int64_t g = g0; g < g1; g++) {
		const uint8_t *src[GR];
		int nr = group_rows(j, g, src);
		for (int64_t b = 0; b < p->nb; b++) {
			uint8_t *codes = (uint8_t *)group_codes(p, g, b), *sm = (uint8_t *)group_scales(p, g, b);
			float *rec = (float *)group_rec(p, g, b);
			for (int r = 0; r < GR; r++) {
				uint8_t u[32] = { 0 }, scm[4] = { 0, 0, 0, 0 };
				float dd[2] = { 0, 0 };
				/* super-block b / 8 of the row (blk_bytes: its size), block b % 8 */
				const uint8_t *sb = r < nr ? src[r] + (size_t)(b / 8) * j->blk_bytes : NULL;
				const int jb = (int)(b % 8);
				if (sb && p->kind == KIND_Q6_K)
					kblock6(sb, jb, u, scm, dd);
				else if (sb && p->kind == KIND_Q3_K)
					kblock3(sb, jb, u, scm, dd);
				else if (sb && p->kind == KIND_Q2_K)
					kblock2(sb, jb, u, scm, dd);
				else if (sb && p->kind == KIND_IQ4_XS)
					kblock_iq4xs(sb, jb, u, scm, dd);
				else if (sb)
					kblock(sb, p->type, jb, u, scm, dd);
				for (size_t k = 0; k < p->sb / GR; k++)
					sm[k * GR + r] = scm[k];
				if (b % 8 == 0)
					rec[r] = dd[0], rec[GR + r] = dd[1];
				put_row(codes, r, u, p->kind);
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
	const struct llm_type_traits *tt = llm_type_traits(type);
	struct pack_job j = { .blk_bytes = tt ? tt->type_size : 0 };
	*out = NULL;
	int rc = llm_parts_init(&j.src, w, rows, n_parts, llm_type_row_size(type, n), "qpack");
	if (rc)
		return rc;
	int64_t d = j.src.first[n_parts];
	if (!llm_qpack_available(type))
		return llm_err(LLM_EUNSUPPORTED, "qpack: type %s cannot be packed on this CPU",
			       llm_type_name(type));
	if (n < tt->blck || n % tt->blck || d < 1)
		return llm_err(LLM_EINVAL, "qpack: %lld rows of %lld values (need a multiple of %d)",
			       (long long)d, (long long)n, tt->blck);
	llm_qpack *p = calloc(1, sizeof *p);
	if (!p)
		return llm_err(LLM_ENOMEM, "qpack: out of memory");
	p->type = type;
	p->kind = type == LLM_TYPE_Q8_0 ? KIND_Q8_0 : type == LLM_TYPE_Q4_K ? KIND_Q4_K
		: type == LLM_TYPE_Q5_K ? KIND_Q5_K : type == LLM_TYPE_Q6_K ? KIND_Q6_K
		: type == LLM_TYPE_IQ4_NL ? KIND_IQ4_NL : type == LLM_TYPE_IQ4_XS ? KIND_IQ4_XS
		: type == LLM_TYPE_Q4_1 ? KIND_Q4_1 : type == LLM_TYPE_Q5_0 ? KIND_Q5_0
		: type == LLM_TYPE_Q5_1 ? KIND_Q5_1 : type == LLM_TYPE_Q3_K ? KIND_Q3_K
		: type == LLM_TYPE_Q2_K ? KIND_Q2_K : KIND_Q4_0;
	p->n = n;
	p->d = d;
	p->nb = n / QK;
	p->ng = (d + GR - 1) / GR;
	p->np = (p->ng + GDEC - 1) / GDEC;
	p->code = CODE(p->kind);
	p->sb = SB(p->kind);
	p->blk = BLK(p->kind);
	p->rec = KIND_K(p->kind) ? REC : 0;
	p->stride = (size_t)p->nb * p->blk + (size_t)(p->nb / 8) * p->rec;
	size_t bytes = (size_t)p->np * p->stride;
	if (!(p->data = llm_alloc_stream(bytes))) { /* decode streams it */
		free(p);
		return llm_err(LLM_ENOMEM, "qpack: out of memory for %zu bytes", bytes);
	}
	j.p = p;
	llm_threadpool_run(tp, p->np * GDEC, 8, GDEC, KIND_K(p->kind) ? pack_groups_k : pack_groups, &j);
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
 * dx[nb] (float), s01[nb] = sum(256 p0 + p1), s2[nb] = sum(p2) (int32),
 * xs[nb] = dx (256 s01 + s2), the sum of the rounded block, and xh[nb],
 * that of its first 16 values (float; the K-quants' mins and Q6_K's code
 * offset multiply them). */
static INLINE size_t x_stride(int64_t n) { return round64(3 * (size_t)n + 20 * ((size_t)n / QK)); }

size_t llm_qpack_x_size(int64_t n, int64_t m) { return x_stride(n) * (size_t)m; }

struct xplanes {
	int8_t *p0, *p1, *p2;
	float *dx;
	int32_t *s01, *s2;
	float *xs, *xh;
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

/* block b's scale and the sums of its rounded values (halves' integer sums
 * s0, s1: |.| <= 16 XMAX < 2^31), each rounded once */
static inline void sums(const struct xplanes *o, int64_t b, float dx, int32_t s0, int32_t s1)
{
	o->dx[b] = dx;
	o->xh[b] = (float)((double)dx * s0);
	o->xs[b] = (float)((double)dx * ((double)s0 + s1));
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
		o->xs[b] = o->xh[b] = o->dx[b];
		return;
	}
	float id = XMAX / amax;
	int32_t s01 = 0, s2 = 0, sum[2] = { 0, 0 };
	for (int i = 0; i < QK; i++) {
		int32_t h, m, l, q = (int32_t)nearbyintf(x[i] * id);
		split3(q, &h, &m, &l);
		p0[i] = (int8_t)h, p1[i] = (int8_t)m, p2[i] = (int8_t)l;
		s01 += 256 * h + m;
		s2 += l;
		sum[i >= 16] += q;
	}
	sums(o, b, amax / XMAX, sum[0], sum[1]);
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
	sums(o, b, amax / XMAX, _mm512_reduce_add_epi32(q[0]), _mm512_reduce_add_epi32(q[1]));
	o->s01[b] = _mm512_reduce_add_epi32(s01);
	o->s2[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(l[0], l[1]));
}
#endif

static INLINE struct xplanes planes(const void *xq, int64_t n, int64_t t)
{
	uint8_t *base = (uint8_t *)xq + (size_t)t * x_stride(n);
	int64_t nb = n / QK;
	struct xplanes o;
	o.p0 = (int8_t *)base;
	o.p1 = o.p0 + n;
	o.p2 = o.p1 + n;
	o.dx = (float *)(base + 3 * n);
	o.s01 = (int32_t *)(o.dx + nb);
	o.s2 = o.s01 + nb;
	o.xs = (float *)(o.s2 + nb);
	o.xh = o.xs + nb;
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

/* Decoding asks for the weights PF_AHEAD_Q4 bytes ahead, into L2.  On AMD
 * Zen 4 (TinyLlama shape, 2 threads, the two variants alternated token by
 * token in one run, median token times) Q4_0 ran 8 KiB ahead 1.03x faster
 * than 16 KiB, 1.05x than 32 KiB, 1.13x than 4 KiB and 1.19x than 128 KiB,
 * and 16 KiB 1.02-1.11x faster than none.  Q8_0 once left its stream to
 * the hardware prefetcher: measured then, before the prefetch loop below
 * was cut to 2.5 instructions a line, it ran 1.10-1.35x faster without.
 * Measured again with that loop (llm-bench tg64 --read-bw, the two builds
 * alternated 8 rounds on a host reading 43-83 GB/s), 8 KiB ahead was
 * faster in every round, 1.08-1.35x (median 1.12x; 2, 4 and 16 KiB in
 * between), so it prefetches as the others do.  The K-quants too: Q6_K,
 * when its codes were bytes as Q8_0's, took 1.18-1.19x Q8_0's time per
 * matrix with it and 1.59x without (5632 x 2048, 12 matrices from memory,
 * 2 threads, the two alternated 60 times, medians). */
#define PF_AHEAD_Q4 8192
#define DP(acc, w, p) _mm512_dpbusd_epi32((acc), (w), bc4(p))

/* sums over the block's columns 0-15 (lo) and 16-31 (hi) of u * plane,
 * rows in lanes: two chains of 4 */
VNNI static INLINE void plane2(const __m512i *w, const int8_t *p, __m512i *lo, __m512i *hi)
{
	__m512i a0 = _mm512_setzero_si512(), a1 = a0;
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++) {
		a0 = DP(a0, w[c], p + 4 * c);
		a1 = DP(a1, w[c + 4], p + 16 + 4 * c);
	}
	*lo = a0, *hi = a1;
}

/* the same over the whole block */
VNNI static INLINE __m512i plane(const __m512i *w, const int8_t *p)
{
	__m512i a0, a1;
	plane2(w, p, &a0, &a1);
	return _mm512_add_epi32(a0, a1);
}

/* One group-block's codes as unsigned bytes: w[c] holds columns 4c..4c+3
 * of the block, row j in lane j (Q4_0: low nibbles are columns 0-15, high
 * nibbles 16-31). */
VNNI static INLINE void load_codes(__m512i *w, const uint8_t *codes, const int kind)
{
	if (KIND_BYTES(kind)) {
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++)
			w[c] = _mm512_load_si512(codes + 64 * c);
		return;
	}
	const int lb = KIND_LBITS(kind);
	if (lb == 4) {
		const __m512i m4 = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			__m512i v = _mm512_load_si512(codes + 64 * c);
			w[c] = _mm512_and_si512(v, m4);                            /* columns 4c.. */
			w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4); /* 16+4c.. */
		}
	} else { /* 2-bit fields: bits 2 (c % 4).. of chunk c / 4 */
		const __m512i m2 = _mm512_set1_epi8(0x03);
		const __m512i v[2] = { _mm512_load_si512(codes), _mm512_load_si512(codes + 64) };
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++)
			w[c] = _mm512_and_si512(_mm512_srli_epi16(v[c / 4], 2 * (c % 4)), m2);
	}
	/* A 16-bit shift carries bits across the bytes of a pair; the masks
	 * below keep only bits that came from the byte itself. */
	if (KIND_HBITS(kind) == 1) { /* bit c of the plane's bytes -> bit lb of w[c] */
		const __m512i h = _mm512_load_si512(codes + 64 * lb), m = _mm512_set1_epi8((char)(1 << lb));
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++) {
			__m512i t = c <= lb ? _mm512_slli_epi16(h, lb - c) : _mm512_srli_epi16(h, c - lb);
			w[c] = _mm512_ternarylogic_epi32(w[c], t, m, 0xF8); /* w | (t & m) */
		}
	} else if (KIND_HBITS(kind) == 2) { /* bits 2 (c % 4).. -> bits 4, 5 (Q6_K) */
		const __m512i h[2] = { _mm512_load_si512(codes + 64 * lb), _mm512_load_si512(codes + 64 * lb + 64) };
		const __m512i m = _mm512_set1_epi8(0x30);
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++) {
			const int k = c % 4;
			__m512i t = k < 3 ? _mm512_slli_epi16(h[c / 4], 4 - 2 * k) : _mm512_srli_epi16(h[c / 4], 2);
			w[c] = _mm512_ternarylogic_epi32(w[c], t, m, 0xF8);
		}
	}
	if (KIND_LUT(kind)) { /* IQ4: nibble -> level + 128 */
		const __m512i lut = _mm512_broadcast_i32x4(
			_mm_add_epi8(_mm_loadu_si128((const __m128i *)llm_iq4nl_levels), _mm_set1_epi8((char)0x80)));
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++)
			w[c] = _mm512_shuffle_epi8(lut, w[c]);
	}
}

/* 16 bytes as floats: unsigned, or (Q6_K's scales) signed */
VNNI static INLINE __m512 u8f(const uint8_t *p)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)p)));
}
VNNI static INLINE __m512 s8f(const uint8_t *p)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)p)));
}

/* A group-block's 16 row scales, read once for all the tokens of a tile:
 * *_0, IQ4_NL: s0 the fp16 scale; Q4_K/Q5_K: s0 = d sc, s1 = dmin m;
 * Q6_K: s0 and s1 = d sc of the two halves; IQ4_XS: s0 = d (ls - 32)
 * (products rounded as the decoder rounds them).  sc the group's scale
 * bytes, rec its record (256-value types). */
struct bscale {
	__m512 s0, s1, m0, m1; /* m0, m1: Q2_K's mins of the two halves */
};
VNNI static INLINE struct bscale block_scales(const uint8_t *sc, const float *rec, const int kind)
{
	struct bscale r;
	if (KIND_MIN(kind) && !KIND_K(kind)) { /* Q4_1, Q5_1: d and m in fp16; w = d q + m */
		r.s0 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)sc));
		r.s1 = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(sc + 32))));
	} else if (!KIND_K(kind)) {
		r.s0 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)sc));
		r.s1 = r.s0;
	} else if (kind == KIND_Q6_K || kind == KIND_Q3_K) {
		const __m512 d = _mm512_load_ps(rec);
		r.s0 = _mm512_mul_ps(d, s8f(sc));
		r.s1 = _mm512_mul_ps(d, s8f(sc + GR));
	} else if (kind == KIND_Q2_K) {
		const __m512 d = _mm512_load_ps(rec), dmin = _mm512_load_ps(rec + GR);
		r.s0 = _mm512_mul_ps(d, u8f(sc));
		r.s1 = _mm512_mul_ps(d, u8f(sc + GR));
		r.m0 = _mm512_mul_ps(dmin, u8f(sc + 2 * GR));
		r.m1 = _mm512_mul_ps(dmin, u8f(sc + 3 * GR));
	} else if (kind == KIND_IQ4_XS) {
		r.s0 = _mm512_mul_ps(_mm512_load_ps(rec), s8f(sc));
		r.s1 = r.s0;
	} else {
		r.s0 = _mm512_mul_ps(_mm512_load_ps(rec), u8f(sc));
		r.s1 = _mm512_mul_ps(_mm512_load_ps(rec + GR), u8f(sc + GR));
	}
	return r;
}

/* acc += the outputs of one group-block's integer sums for token x:
 *   *_0, IQ4    v0 s0 dx
 *   Q4_K, Q5_K  v0 s0 dx - s1 xs            (xs the block's x sum)
 *   Q6_K, Q3_K  (v0 dx - o xh) s0 + (v1 dx - o (xs - xh)) s1   (o 32, 4)
 *   Q2_K        v0 s0 dx - m0 xh + v1 s1 dx - m1 (xs - xh)
 * v0 the block's sum (halves: its first half's, v1 the second's); the
 * code offsets of the K-quants are applied here, in F32. */
VNNI static INLINE __m512 finish(__m512 acc, __m512 v0, __m512 v1, struct bscale s,
				 const struct xplanes *x, int64_t b, const int kind)
{
	const __m512 dx = _mm512_set1_ps(x->dx[b]);
	if (!KIND_MIN(kind) && !KIND_HALVES(kind))
		return _mm512_fmadd_ps(v0, _mm512_mul_ps(s.s0, dx), acc);
	if (KIND_MIN(kind)) {
		acc = _mm512_fmadd_ps(v0, _mm512_mul_ps(s.s0, dx), acc);
		return _mm512_fnmadd_ps(s.s1, _mm512_set1_ps(x->xs[b]), acc);
	}
	if (kind == KIND_Q2_K) {
		acc = _mm512_fmadd_ps(v0, _mm512_mul_ps(s.s0, dx), acc);
		acc = _mm512_fmadd_ps(v1, _mm512_mul_ps(s.s1, dx), acc);
		acc = _mm512_fnmadd_ps(s.m0, _mm512_set1_ps(x->xh[b]), acc);
		return _mm512_fnmadd_ps(s.m1, _mm512_set1_ps(x->xs[b] - x->xh[b]), acc);
	}
	const float off = kind == KIND_Q6_K ? 32.0f : 4.0f;
	const __m512 o0 = _mm512_set1_ps(-off * x->xh[b]);
	const __m512 o1 = _mm512_set1_ps(-off * (x->xs[b] - x->xh[b]));
	acc = _mm512_fmadd_ps(_mm512_fmadd_ps(v0, dx, o0), s.s0, acc);
	return _mm512_fmadd_ps(_mm512_fmadd_ps(v1, dx, o1), s.s1, acc);
}

/* the codes' offset: Q4_0 nibble = q + 8, Q8_0 byte = q + 128, the IQ4
 * levels + 128; the K-quants' codes are taken as they are (mins and Q6_K's
 * offset applied apart) */
#define OFF(kind) ((kind) == KIND_Q8_0 || KIND_LUT(kind) ? 128 : (kind) == KIND_Q4_0 ? 8 \
		   : (kind) == KIND_Q5_0 ? 16 : 0)

/* Group g (16 rows) against T tokens (prefill), block by block.  With u
 * the unsigned codes and q = u - off, per block
 *   A = sum u (256 p0 + p1) - off * s01 = sum q (256 p0 + p1)   (int32)
 *   B = sum u p2 - off * s2             = sum q p2
 *   out += (256 A + B) * scale * dx  (K-quants: - dm * sum x)
 * A and B are exact; 256 A + B is formed in F32. */
VNNI static INLINE void group_tile(__m512 *acc, const llm_qpack *p, int64_t g,
				   const struct xplanes *xr, const int T, const int kind)
{
	const __m512 f256 = _mm512_set1_ps(256.0f);
	const int32_t off = OFF(kind);
	const uint8_t *codes = group_codes(p, g, 0), *sc = group_scales(p, g, 0);
	for (int64_t b = 0; b < p->nb; b++, codes += p->blk, sc += p->blk) {
		const float *rec = NULL;
		if (KIND_K(kind)) { /* runs of 8 blocks apart */
			codes = group_codes(p, g, b), sc = group_scales(p, g, b);
			rec = group_rec(p, g, b);
		}
		const struct bscale bs = block_scales(sc, rec, kind);
		__m512i w[8];
		load_codes(w, codes, kind);
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			const int64_t o = b * QK;
			if (KIND_HALVES(kind)) {
				__m512i h0, h1, m0, m1, l0, l1;
				plane2(w, xr[t].p0 + o, &h0, &h1);
				plane2(w, xr[t].p1 + o, &m0, &m1);
				plane2(w, xr[t].p2 + o, &l0, &l1);
				__m512i A0 = _mm512_add_epi32(_mm512_slli_epi32(h0, 8), m0);
				__m512i A1 = _mm512_add_epi32(_mm512_slli_epi32(h1, 8), m1);
				__m512 v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(A0), f256, _mm512_cvtepi32_ps(l0));
				__m512 v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(A1), f256, _mm512_cvtepi32_ps(l1));
				acc[t] = finish(acc[t], v0, v1, bs, &xr[t], b, kind);
				continue;
			}
			__m512i h = plane(w, xr[t].p0 + o), m = plane(w, xr[t].p1 + o);
			__m512i l = plane(w, xr[t].p2 + o);
			__m512i A = _mm512_sub_epi32(_mm512_add_epi32(_mm512_slli_epi32(h, 8), m),
						     _mm512_set1_epi32(off * xr[t].s01[b]));
			__m512i B = _mm512_sub_epi32(l, _mm512_set1_epi32(off * xr[t].s2[b]));
			__m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(A), f256, _mm512_cvtepi32_ps(B));
			acc[t] = finish(acc[t], v, v, bs, &xr[t], b, kind);
		}
	}
}

/* acc += u . x with the 4 bytes of x at p broadcast: for nibble codes from
 * memory within the instruction (GCC otherwise gives each broadcast a
 * register and an instruction of its own: 25-27 against 31-34 GB/s on one
 * Zen 4 core, weights in cache); for Q8_0's byte codes, whose 8 code loads per
 * group already keep the load ports busy, as GCC does it (49-55 against
 * 41-45 GB/s). */
VNNI static INLINE __m512i dpm(__m512i acc, __m512i w, const int8_t *p, const int bytes)
{
	if (bytes)
		return _mm512_dpbusd_epi32(acc, w, bc4(p));
	__asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)p));
	return acc;
}

/* Decoding: the 4 groups of one panel against one token, block by block
 * along the panel (one forward stream).  group_tile's sums, arranged for
 * fewer instructions: the p0 chains are shifted by 8 and continued with p1
 * (256 H + M in one accumulator, below 2^31 for every kind: codes below
 * 256, |p| <= 128), the p2 chains start from -off * s2.  The weights are
 * asked for PF_AHEAD_Q4 bytes ahead, up to pf_end (the end of the chunk:
 * what follows is likely another thread's). */
VNNI static INLINE void panel_dec(__m512 *acc, const uint8_t *panel, const llm_qpack *p,
				  const struct xplanes *x, const uint8_t *pf_end, const int kind)
{
	const __m512 f256 = _mm512_set1_ps(256.0f);
	const int32_t off = OFF(kind);
	const int bytes = KIND_BYTES(kind);
	const size_t code = CODE(kind);
	const uint8_t *base = panel;
	const float *rec = NULL;
	for (int64_t b = 0; b < p->nb; b++, base += p->blk) {
		if (KIND_K(kind) && b % 8 == 0) /* a super-block's record, then its blocks */
			rec = (const float *)base, base += REC;
		const size_t left = (size_t)(pf_end - base);
		/* The whole block in range (all but a chunk's last 8 KiB): a
		 * constant count, two a loop, 2.5 instructions a line where
		 * the loop bounded line by line took 8 (GCC 12): Q4_0
		 * decoding in cache 1.02-1.09x faster (512 x 2048, one
		 * thread, 30 alternations in one process, 4 runs; median
		 * 1.08x), Q4_1 1.12x; from memory 0.98-1.05x (the
		 * TinyLlama sequence, 2 threads, medians of 10-16
		 * alternated rounds). */
		if (left >= PF_AHEAD_Q4 + BLK(kind)) {
			const char *a = (const char *)base + PF_AHEAD_Q4;
			_Static_assert(BLK(KIND_Q2_K) % 128 == 0 && BLK(KIND_Q3_K) % 128 == 0 &&
				       BLK(KIND_Q4_0) % 128 == 0 && BLK(KIND_Q4_1) % 128 == 0 &&
				       BLK(KIND_Q5_0) % 128 == 0 && BLK(KIND_Q5_1) % 128 == 0 &&
				       BLK(KIND_Q6_K) % 128 == 0 && BLK(KIND_Q8_0) % 128 == 0 &&
				       BLK(KIND_Q4_K) % 128 == 0 && BLK(KIND_Q5_K) % 128 == 0 &&
				       BLK(KIND_IQ4_NL) % 128 == 0 && BLK(KIND_IQ4_XS) % 128 == 0,
				       "an even count of lines");
			for (size_t l = 0; l < BLK(kind); l += 128) {
				_mm_prefetch(a + l, _MM_HINT_T1);
				_mm_prefetch(a + l + 64, _MM_HINT_T1);
			}
		} else {
			for (size_t l = 0; PF_AHEAD_Q4 + l < left; l += 64)
				_mm_prefetch((const char *)base + PF_AHEAD_Q4 + l, _MM_HINT_T1);
		}
		const int8_t *x0 = x->p0 + b * QK, *x1 = x->p1 + b * QK, *x2 = x->p2 + b * QK;
		const __m512i c01 = _mm512_set1_epi32(off * x->s01[b]);
		const __m512i c2 = _mm512_set1_epi32(-off * x->s2[b]);
#pragma GCC unroll 4
		for (int g = 0; g < GDEC; g++) {
			const uint8_t *codes = base + g * code;
			__m512i w[8];
			load_codes(w, codes, kind);
			__m512i h0 = _mm512_setzero_si512(), h1 = h0, l0 = c2, l1 = h0;
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++) {
				h0 = dpm(h0, w[c], x0 + 4 * c, bytes);
				h1 = dpm(h1, w[c + 4], x0 + 16 + 4 * c, bytes);
			}
			h0 = _mm512_slli_epi32(h0, 8), h1 = _mm512_slli_epi32(h1, 8);
#pragma GCC unroll 4
			for (int c = 0; c < 4; c++) {
				h0 = dpm(h0, w[c], x1 + 4 * c, bytes);
				h1 = dpm(h1, w[c + 4], x1 + 16 + 4 * c, bytes);
				l0 = dpm(l0, w[c], x2 + 4 * c, bytes);
				l1 = dpm(l1, w[c + 4], x2 + 16 + 4 * c, bytes);
			}
			const uint8_t *sc = base + GDEC * code + g * SB(kind);
			if (KIND_HALVES(kind)) {
				__m512 v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(h0), f256, _mm512_cvtepi32_ps(l0));
				__m512 v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(h1), f256, _mm512_cvtepi32_ps(l1));
				acc[g] = finish(acc[g], v0, v1, block_scales(sc, rec + g * 2 * GR, kind), x, b, kind);
				continue;
			}
			__m512i A = _mm512_sub_epi32(_mm512_add_epi32(h0, h1), c01);
			__m512i B = _mm512_add_epi32(l0, l1);
			__m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(A), f256, _mm512_cvtepi32_ps(B));
			acc[g] = finish(acc[g], v, v, block_scales(sc, rec ? rec + g * 2 * GR : NULL, kind), x, b,
					kind);
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
				 const int kind)
{
	const llm_qpack *p = j->p;
	struct xplanes xr[TILE];
	__m512 acc[TILE];
	for (int t = 0; t < T; t++)
		xr[t] = planes(j->xq, p->n, t0 + t), acc[t] = _mm512_setzero_ps();
	group_tile(acc, p, g, xr, T, kind);
	int64_t r0 = g * GR, nr = p->d - r0 < GR ? p->d - r0 : GR;
	for (int t = 0; t < T; t++)
		_mm512_mask_storeu_ps(j->y + (t0 + t) * p->d + r0, (__mmask16)((1u << nr) - 1), acc[t]);
}

/* Decoding groups g..g+GDEC-1 (a panel) against token 0: the rows of
 * group g go to yg[0..GR), the panel's next groups' after them. */
VNNI static INLINE void run_panel(const struct mm_job *j, int64_t g, float *yg, const uint8_t *pf_end,
				 const int kind)
{
	const llm_qpack *p = j->p;
	struct xplanes x = planes(j->xq, p->n, 0);
	__m512 acc[GDEC];
	for (int i = 0; i < GDEC; i++)
		acc[i] = _mm512_setzero_ps();
	panel_dec(acc, p->data + (size_t)(g / GDEC) * p->stride, p, &x, pf_end, kind);
	for (int gi = 0; gi < GDEC; gi++) {
		int64_t r0 = (g + gi) * GR, nr = p->d - r0 < GR ? p->d - r0 : GR;
		if (nr <= 0) /* a padding group of the last panel */
			break;
		_mm512_mask_storeu_ps(yg + gi * GR, (__mmask16)((1u << nr) - 1), acc[gi]);
	}
}

/* decode: panels g0/GDEC..g1/GDEC-1, one forward stream; results to out
 * (an output job of the pool: rows g0 GR.. of y).  The first
 * PF_AHEAD_Q4 bytes are asked for at once, which the panels' prefetches
 * never cover: Q4_0 in the TinyLlama-shape matrix sequence (22 layers
 * from memory, 2 threads, alternated 30 times in one process, medians)
 * read 1.03-1.04x faster with it while the host's memory was fast (60-75
 * GB/s), 1.01x while slow (43 GB/s). */
VNNI static void mm_dec(const void *arg, int64_t g0, int64_t g1, float *out)
{
	const struct mm_job *j = arg;
	const llm_qpack *p = j->p;
	const uint8_t *s = p->data + (size_t)(g0 / GDEC) * p->stride;
	const uint8_t *e = s + (size_t)((g1 - g0 + GDEC - 1) / GDEC) * p->stride;
	for (size_t o = 0; o < PF_AHEAD_Q4 && o < (size_t)(e - s); o += 64)
		_mm_prefetch((const char *)s + o, _MM_HINT_T1);
	for (int64_t g = g0; g < g1; g += GDEC)
		switch (p->kind) { /* a constant kind: one specialized loop each */
		case KIND_Q8_0: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q8_0); break;
		case KIND_Q4_K: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q4_K); break;
		case KIND_Q5_K: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q5_K); break;
		case KIND_Q6_K: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q6_K); break;
		case KIND_IQ4_NL: run_panel(j, g, out + (g - g0) * GR, e, KIND_IQ4_NL); break;
		case KIND_IQ4_XS: run_panel(j, g, out + (g - g0) * GR, e, KIND_IQ4_XS); break;
		case KIND_Q4_1: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q4_1); break;
		case KIND_Q5_0: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q5_0); break;
		case KIND_Q5_1: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q5_1); break;
		case KIND_Q3_K: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q3_K); break;
		case KIND_Q2_K: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q2_K); break;
		default: run_panel(j, g, out + (g - g0) * GR, e, KIND_Q4_0); break;
		}
}

/* group g against tokens t0.., T of them: constant T and kind, so that
 * the accumulators are registers, not arrays on the stack */
#define TILES(kind)                                          \
	switch (T) {                                         \
	case 1: run_tile(j, g, t0, 1, kind); break;          \
	case 2: run_tile(j, g, t0, 2, kind); break;          \
	case 3: run_tile(j, g, t0, 3, kind); break;          \
	default: run_tile(j, g, t0, 4, kind); break;         \
	}

VNNI static void mm_groups(void *arg, int64_t g0, int64_t g1, int tid)
{
	(void)tid;
	const struct mm_job *j = arg;
	for (int64_t g = g0; g < g1; g++)
		for (int64_t t0 = 0; t0 < j->m; t0 += TILE) {
			int T = j->m - t0 < TILE ? (int)(j->m - t0) : TILE;
			switch (j->p->kind) {
			case KIND_Q8_0: TILES(KIND_Q8_0); break;
			case KIND_Q4_K: TILES(KIND_Q4_K); break;
			case KIND_Q5_K: TILES(KIND_Q5_K); break;
			case KIND_Q6_K: TILES(KIND_Q6_K); break;
			case KIND_IQ4_NL: TILES(KIND_IQ4_NL); break;
			case KIND_IQ4_XS: TILES(KIND_IQ4_XS); break;
			case KIND_Q4_1: TILES(KIND_Q4_1); break;
			case KIND_Q5_0: TILES(KIND_Q5_0); break;
			case KIND_Q5_1: TILES(KIND_Q5_1); break;
			case KIND_Q3_K: TILES(KIND_Q3_K); break;
			case KIND_Q2_K: TILES(KIND_Q2_K); break;
			default: TILES(KIND_Q4_0); break;
			}
		}
}
#endif

/* at least ~32 KiB of weights per chunk of work */
static int64_t grain_of(const llm_qpack *p) { return (int64_t)(32768 / (p->stride / GDEC)) + 1; }

#ifdef QP_X86
/* Decoding's idle hint (llm_qpack_then): a worker that has run out of one
 * product's chunks asks for the first PF_NEXT bytes of the chunk of the
 * next product (arg) that it will likely claim first, the one whose index
 * is its own (the caller takes chunk 0 as it publishes the job), while the
 * caller finishes the product and does the serial work between the two.
 * TinyLlama shape Q4_0, 2 threads, alternated token by token, geometric
 * means of per-round medians: 512 KiB 1.019x as fast (30 rounds) and
 * 1.017x (12); 256 KiB 1.00x, 1 MiB 1.004-1.016x, 2 MiB 0.94-0.96x (more
 * than L2 keeps); the caller asking for 32-64 KiB of its own chunk too,
 * which delays its serial work, 0.99-1.01x.  Q8_0 1.000x (15 rounds).  As
 * landed, against no hint: 1.014x (30 rounds). */
#define PF_NEXT (512 * 1024)
static void prefetch_next(const void *arg, const llm_threadpool *tp, int tid)
{
	const llm_qpack *p = arg;
	if (tid == 0)
		return;
	int64_t g = llm_threadpool_chunk_begin(tp, p->np * GDEC, grain_of(p), GDEC, tid);
	size_t off = (size_t)(g / GDEC) * p->stride, total = (size_t)p->np * p->stride;
	size_t end = total - off > PF_NEXT ? off + PF_NEXT : total;
	for (size_t o = off; o < end; o += 64)
		_mm_prefetch((const char *)p->data + o, _MM_HINT_T1);
}
#endif

void llm_qpack_then(llm_threadpool *tp, const llm_qpack *next)
{
#ifdef QP_X86
	if (next)
		llm_threadpool_then(tp, prefetch_next, next);
#else
	(void)tp, (void)next;
#endif
}

void llm_qpack_matmul(float *y, const llm_qpack *p, const void *xq, int64_t m,
		      llm_threadpool *tp)
{
#ifdef QP_X86
	struct mm_job j = { y, p, xq, m };
	/* decoding takes whole panels (padding groups included), more tokens
	 * the real groups */
	int64_t grain = grain_of(p);
	_Static_assert(sizeof j <= LLM_POOL_ARG_MAX, "the pool copies the job");
	if (m == 1)
		llm_threadpool_run_out(tp, p->np * GDEC, grain, GDEC, mm_dec, &j, sizeof j, y, GR, p->d);
	else
		llm_threadpool_run(tp, p->ng, grain, 1, mm_groups, &j);
#else
	(void)y, (void)p, (void)xq, (void)m, (void)tp; /* never packed here */
#endif
}
