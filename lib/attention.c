/* attention.c - naive (reference) and flash-style causal attention. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "error.h"
#include "kernels.h"
#include "types.h"

static int check(const struct llm_attn *a)
{
	if (a->n_q < 1 || a->pos0 < 0 || a->n_head < 1 || a->n_head_kv < 1 || a->head_dim < 1 ||
	    a->n_head % a->n_head_kv)
		return llm_err(LLM_EINVAL, "attention: bad shape (n_q %d, pos0 %d, heads %d/%d, head_dim %d)",
			       a->n_q, a->pos0, a->n_head, a->n_head_kv, a->head_dim);
	return 0;
}

/* q . k for one head (SIMD F32 dot) */
static inline float qk(llm_dot_fn dot, const float *q, const float *k, int hd)
{
	return dot(k, q, hd);
}


/* ================================================================ naive */

struct naive_job {
	const struct llm_attn *a;
	float *s; /* [n_head][n_q][n_kv] */
	int n_kv;
	llm_dot_fn dot;
	llm_axpy_fn axpy;
};

static void naive_heads(void *arg, int64_t h0, int64_t h1, int tid)
{
	(void)tid;
	struct naive_job *j = arg;
	const struct llm_attn *a = j->a;
	int hd = a->head_dim, rep = a->n_head / a->n_head_kv;
	size_t qs = (size_t)a->n_head * hd, ks = (size_t)a->n_head_kv * hd;
	for (int64_t h = h0; h < h1; h++) {
		int g = (int)h / rep;
		float *S = j->s + (size_t)h * a->n_q * j->n_kv;
		for (int i = 0; i < a->n_q; i++) {
			const float *q = a->q + i * qs + h * hd;
			float *row = S + (size_t)i * j->n_kv;
			int last = a->pos0 + i; /* causal: keys 0..last */
			for (int t = 0; t < j->n_kv; t++)
				row[t] = t <= last ? a->scale * qk(j->dot, q, a->k + t * ks + g * hd, hd)
						   : -INFINITY;
			llm_softmax(row, j->n_kv);
			float *o = a->out + i * qs + h * hd;
			memset(o, 0, (size_t)hd * sizeof *o);
			for (int t = 0; t <= last; t++)
				j->axpy(o, row[t], a->v + t * ks + g * hd, hd);
		}
	}
}

size_t llm_attn_naive_scratch(const struct llm_attn *a, int n_threads)
{
	(void)n_threads;
	return (size_t)a->n_head * a->n_q * (size_t)(a->pos0 + a->n_q) * sizeof(float);
}

int llm_attn_naive(const struct llm_attn *a, llm_threadpool *tp, void *scratch)
{
	int rc = check(a);
	if (rc)
		return rc;
	void *own = NULL;
	if (!scratch && !(scratch = own = malloc(llm_attn_naive_scratch(a, 1))))
		return llm_err(LLM_ENOMEM, "attention: out of memory for %d x %d x %d scores",
			       a->n_head, a->n_q, a->pos0 + a->n_q);
	struct naive_job j = { a, scratch, a->pos0 + a->n_q, llm_dot_get(LLM_TYPE_F32, llm_isa_best()),
			       llm_axpy_get(llm_isa_best()) };
	int64_t work = (int64_t)a->n_q * j.n_kv * a->head_dim, grain = 16384 / work + 1;
	llm_threadpool_run(tp, a->n_head, grain, 1, naive_heads, &j);
	free(own);
	return 0;
}

/* ================================================================ flash */

/* n (query, head) pairs before any key: outputs acc [n][hd] and running
 * sums l zero, running maxima m -inf */
static void online_start(float *acc, float *m, float *l, int n, int hd)
{
	memset(acc, 0, (size_t)n * hd * sizeof *acc);
	for (int p = 0; p < n; p++)
		m[p] = -INFINITY, l[p] = 0;
}

struct flash_job {
	const struct llm_attn *a;
	float *scratch; /* per worker: flash_per_worker() floats */
	size_t per_worker;
	llm_attn_step_fn step;
};

/* Queries i0..i0+nq-1 (a block of up to LLM_ATTN_QBLOCK) x heads
 * h0..h0+c-1 (sharing KV head g): each K/V tile is read once for all
 * nq * c (query, head) pairs, which is what keeps it in cache. */
static void flash_block(const struct flash_job *j, int i0, int nq, int h0, int c, float *ws)
{
	const struct llm_attn *a = j->a;
	int hd = a->head_dim, g = h0 / (a->n_head / a->n_head_kv), np = nq * c;
	size_t qs = (size_t)a->n_head * hd, ks = (size_t)a->n_head_kv * hd;
	float *s = ws;                              /* [4 TILE] scores of 4 heads */
	float *acc = s + 4 * LLM_ATTN_TILE;         /* [np][hd] */
	float *m = acc + (size_t)np * hd;           /* [np] running max */
	float *l = m + np;                          /* [np] running sum */
	online_start(acc, m, l, np, hd);
	int n_kv = a->pos0 + i0 + nq; /* keys the last query of the block sees */
	for (int t0 = 0; t0 < n_kv; t0 += LLM_ATTN_TILE) {
		const float *K = a->k + (size_t)t0 * ks + (size_t)g * hd;
		const float *V = a->v + (size_t)t0 * ks + (size_t)g * hd;
		for (int qi = 0; qi < nq; qi++) {
			int last = a->pos0 + i0 + qi; /* causal: keys 0..last */
			if (t0 > last)
				continue;
			int nt = last + 1 - t0 < LLM_ATTN_TILE ? last + 1 - t0 : LLM_ATTN_TILE;
			int p = qi * c; /* the query's c heads, side by side in q and acc */
			const float *q = a->q + (size_t)(i0 + qi) * qs + (size_t)h0 * hd;
			j->step(acc + (size_t)p * hd, &m[p], &l[p], q, K, V, ks, nt, hd, a->scale, s, c);
		}
	}
	for (int qi = 0; qi < nq; qi++)
		for (int h = 0; h < c; h++) {
			int p = qi * c + h;
			float *out = a->out + (size_t)(i0 + qi) * qs + (size_t)(h0 + h) * hd, inv = 1.0f / l[p];
			for (int d = 0; d < hd; d++)
				out[d] = acc[(size_t)p * hd + d] * inv;
		}
}

/* items: (query block, head) pairs, head fastest */
static void flash_items(void *arg, int64_t b, int64_t e, int tid)
{
	struct flash_job *j = arg;
	const struct llm_attn *a = j->a;
	int rep = a->n_head / a->n_head_kv;
	float *ws = j->scratch + (size_t)tid * j->per_worker;
	while (b < e) {
		int qb = (int)(b / a->n_head), h = (int)(b % a->n_head);
		int end = (h / rep + 1) * rep; /* end of h's group */
		int c = end - h;
		if (c > e - b)
			c = (int)(e - b);
		int i0 = qb * LLM_ATTN_QBLOCK;
		int nq = a->n_q - i0 < LLM_ATTN_QBLOCK ? a->n_q - i0 : LLM_ATTN_QBLOCK;
		flash_block(j, i0, nq, h, c, ws);
		b += c;
	}
}

static size_t flash_per_worker(const struct llm_attn *a)
{
	int rep = a->n_head / (a->n_head_kv > 0 ? a->n_head_kv : 1);
	size_t np = (size_t)rep * LLM_ATTN_QBLOCK;
	return 4 * LLM_ATTN_TILE + np * ((size_t)a->head_dim + 2);
}

/* ======================================================= decode, split */

/* One query (decoding) against a long cache: the keys are cut into
 * segments, each a contiguous run of cache rows that one thread reads
 * for all heads (every KV head's part of a row, while it is in cache),
 * and the segments' partial softmaxes are merged at the end.  Split by
 * heads instead, each thread reads its KV heads' slice of every row of
 * the whole cache.  TinyLlama shape (32 heads, 4 KV heads of 64), 2
 * threads, the two alternated token by token: Q4_0 decoding after 1641
 * prompt tokens 1.33-1.36x faster (19.7 against 26.1 ms a token), F16
 * 1.10-1.12x; after 501, 1.01-1.08x.
 *
 * Since the tiles' rows are touched first (touch_rows), the split pays
 * from 256 keys (one layer, caches from memory, medians of 1000 calls
 * alternated: 34 against 38 us at 256 keys, 73 against 106 at 511; at
 * 192, 31 against 25), and segments of 128 keys balance the two threads
 * better below 1024 keys (106 against 122 us at 800), those of 256 cost
 * less merging from there (127 against 131 at 1000, 242 against 247 at
 * 1900).  One thread gains too (55 against 67 us at 256 keys, 130 against
 * 162 at 600). */
#define SEG_SHORT 128     /* keys per segment at least, below SEG_LONG_FROM keys */
#define SEG_LONG 256      /* from there (both multiples of the tile) */
#define SEG_LONG_FROM 1024
#define SEG_MAX 64        /* segments at most: bounds the scratch */
#define SPLIT_FROM 256    /* decoding splits caches of at least this many keys */

struct split_job {
	const struct llm_attn *a;
	float *scratch; /* per segment: acc [n_head][hd], m [n_head], l [n_head], 4 tiles */
	size_t per_seg;
	int seg;        /* keys per segment */
	llm_attn_step_fn step;
};

static size_t split_per_seg(const struct llm_attn *a)
{
	return (size_t)a->n_head * ((size_t)a->head_dim + 2) + 4 * LLM_ATTN_TILE;
}

/* segment sg's part of the scratch: acc [n_head][hd], m and l [n_head],
 * then the step's scores */
struct seg {
	float *acc, *m, *l, *sc;
};
static struct seg seg_at(const struct llm_attn *a, float *scratch, size_t per_seg, int64_t sg)
{
	struct seg g;
	g.acc = scratch + (size_t)sg * per_seg;
	g.m = g.acc + (size_t)a->n_head * a->head_dim;
	g.l = g.m + a->n_head;
	g.sc = g.l + a->n_head;
	return g;
}

/* Read one float of every 64-byte line of k[0..n) and v[0..n): the tile's
 * rows, in order, before its KV heads' passes read them 256 bytes of each
 * 1 KiB row at a time.  From memory (TinyLlama shape, 1900 keys, 24 caches
 * in turn) a layer's decoding attention took 410 against 520 us on one
 * thread, 245 against 290 on two; a Q4_0 token at 1900 positions 1.09x as
 * fast (the two alternated token by token, 6 rounds).  Prefetch
 * instructions instead, the next tile at once or spread through the score
 * and output loops, in L1 or L2, gained nothing (0.98-1.02x); touching
 * every other line, 1.05x on one thread and 1.00x on two; touching the
 * heads' slices in the split by heads (flash_block), slower (0.85-0.95x). */
static void touch_rows(const float *k, const float *v, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32)
		s0 += k[i], s1 += v[i], s2 += k[i + 16], s3 += v[i + 16];
	for (; i < n; i += 16)
		s0 += k[i], s1 += v[i];
	volatile float keep = s0 + s1 + s2 + s3; /* the loads are the point */
	(void)keep;
}

static void split_segments(void *arg, int64_t s0, int64_t s1, int tid)
{
	(void)tid;
	const struct split_job *j = arg;
	const struct llm_attn *a = j->a;
	int hd = a->head_dim, rep = a->n_head / a->n_head_kv, n_kv = a->pos0 + 1;
	size_t ks = (size_t)a->n_head_kv * hd;
	for (int64_t sg = s0; sg < s1; sg++) {
		struct seg g = seg_at(a, j->scratch, j->per_seg, sg);
		online_start(g.acc, g.m, g.l, a->n_head, hd);
		int t1 = (int)(sg + 1) * j->seg < n_kv ? (int)(sg + 1) * j->seg : n_kv;
		for (int t0 = (int)sg * j->seg; t0 < t1; t0 += LLM_ATTN_TILE) {
			int nt = t1 - t0 < LLM_ATTN_TILE ? t1 - t0 : LLM_ATTN_TILE;
			touch_rows(a->k + (size_t)t0 * ks, a->v + (size_t)t0 * ks, (size_t)nt * ks);
			for (int h = 0; h < a->n_head; h += rep) { /* the heads of KV head h / rep */
				size_t off = (size_t)t0 * ks + (size_t)(h / rep) * hd;
				j->step(g.acc + (size_t)h * hd, &g.m[h], &g.l[h], a->q + (size_t)h * hd,
					a->k + off, a->v + off, ks, nt, hd, a->scale, g.sc, rep);
			}
		}
	}
}

/* out = the segments' partial results merged: each scaled by exp(m - M)
 * for the overall max M, then divided by the merged sum */
static void split_merge(const struct llm_attn *a, float *scratch, size_t per_seg, int n_seg)
{
	int hd = a->head_dim;
	for (int h = 0; h < a->n_head; h++) {
		float M = -INFINITY, L = 0, *out = a->out + (size_t)h * hd;
		for (int sg = 0; sg < n_seg; sg++) {
			float ms = seg_at(a, scratch, per_seg, sg).m[h];
			M = ms > M ? ms : M;
		}
		memset(out, 0, (size_t)hd * sizeof *out);
		for (int sg = 0; sg < n_seg; sg++) {
			struct seg g = seg_at(a, scratch, per_seg, sg);
			if (g.m[h] == -INFINITY)
				continue; /* nothing seen (or only -inf scores) */
			float w = expf(g.m[h] - M);
			L += w * g.l[h];
			for (int d = 0; d < hd; d++)
				out[d] += w * g.acc[(size_t)h * hd + d];
		}
		for (int d = 0; d < hd; d++)
			out[d] /= L;
	}
}

size_t llm_attn_flash_scratch(const struct llm_attn *a, int n_threads)
{
	size_t heads = flash_per_worker(a) * (size_t)(n_threads < 1 ? 1 : n_threads);
	size_t split = a->n_q == 1 ? split_per_seg(a) * SEG_MAX : 0; /* decoding may split */
	return (heads > split ? heads : split) * sizeof(float);
}

int llm_attn_flash(const struct llm_attn *a, llm_threadpool *tp, void *scratch)
{
	int rc = check(a);
	if (rc)
		return rc;
	int nw = llm_threadpool_size(tp);
	void *own = NULL;
	if (!scratch && !(scratch = own = malloc(llm_attn_flash_scratch(a, nw))))
		return llm_err(LLM_ENOMEM, "attention: out of memory");
	llm_attn_step_fn step = llm_attn_step_get(llm_isa_best());
	int n_kv = a->pos0 + 1;
	if (a->n_q == 1 && n_kv >= SPLIT_FROM) {
		int seg = (n_kv + SEG_MAX - 1) / SEG_MAX, least = n_kv < SEG_LONG_FROM ? SEG_SHORT : SEG_LONG;
		_Static_assert(SEG_SHORT % LLM_ATTN_TILE == 0 && SEG_LONG % LLM_ATTN_TILE == 0, "whole tiles");
		seg = seg < least ? least : (seg + LLM_ATTN_TILE - 1) / LLM_ATTN_TILE * LLM_ATTN_TILE;
		int n_seg = (n_kv + seg - 1) / seg;
		struct split_job sj = { a, scratch, split_per_seg(a), seg, step };
		llm_threadpool_run(tp, n_seg, 1, 1, split_segments, &sj);
		split_merge(a, scratch, sj.per_seg, n_seg);
		free(own);
		return 0;
	}
	struct flash_job j = { a, scratch, flash_per_worker(a), step };
	/* ~16K multiply-adds per chunk at least: short caches stay on one thread */
	int64_t work = (int64_t)(a->pos0 + (a->n_q + 1) / 2) * a->head_dim, grain = 16384 / work + 1;
	int64_t nqb = (a->n_q + LLM_ATTN_QBLOCK - 1) / LLM_ATTN_QBLOCK;
	llm_threadpool_run(tp, nqb * a->n_head, grain, 1, flash_items, &j);
	free(own);
	return 0;
}
