/* sampler.c - penalties, top-k, top-p, min-p, temperature and the draw
 * (see sampler.h for the order and the semantics). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sampler.h"

/* ================================================================ PRNG */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void llm_rng_seed(struct llm_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t llm_rng_next(struct llm_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double llm_rng_uniform(struct llm_rng *r) { return (double)(llm_rng_next(r) >> 11) * 0x1.0p-53; }

/* ================================================================ steps */

void llm_cand_init(struct llm_cand *c, const float *logits, int32_t n_vocab)
{
	for (int32_t i = 0; i < n_vocab; i++) {
		c[i].id = i;
		c[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
		c[i].p = 0;
	}
}

/* a before b: larger logit first, then smaller id. */
static int before(const struct llm_cand *a, const struct llm_cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb)
{
	const struct llm_cand *a = pa, *b = pb;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

void llm_cand_sort(struct llm_cand *c, size_t n) { qsort(c, n, sizeof *c, cmp_cand); }

void llm_cand_softmax(struct llm_cand *c, size_t n)
{
	double max = -INFINITY, sum = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i].logit > max)
			max = c[i].logit;
	if (max == -INFINITY) { /* nothing is possible: share evenly */
		for (size_t i = 0; i < n; i++)
			c[i].p = 1.0 / (double)n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		sum += (c[i].p = exp((double)c[i].logit - max));
	for (size_t i = 0; i < n; i++)
		c[i].p /= sum;
}

void llm_cand_penalty(struct llm_cand *c, size_t n, const int32_t *hist, size_t n_hist,
		      float penalty)
{
	if (penalty == 1.0f)
		return;
	/* c[id].p marks ids already penalized (once per distinct token) */
	for (size_t i = 0; i < n_hist; i++)
		if (hist[i] >= 0 && (size_t)hist[i] < n)
			c[hist[i]].p = 0;
	for (size_t i = 0; i < n_hist; i++) {
		if (hist[i] < 0 || (size_t)hist[i] >= n || c[hist[i]].p != 0)
			continue;
		struct llm_cand *t = &c[hist[i]];
		t->logit = t->logit <= 0 ? t->logit * penalty : t->logit / penalty;
		t->p = 1;
	}
	for (size_t i = 0; i < n_hist; i++)
		if (hist[i] >= 0 && (size_t)hist[i] < n)
			c[hist[i]].p = 0;
}

/* Min-heap of k candidates (root = the worst kept one). */
static void sift_down(struct llm_cand *h, size_t k, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < k && before(&h[w], &h[l]))
			w = l;
		if (r < k && before(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		struct llm_cand t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

size_t llm_cand_top_k(struct llm_cand *c, size_t n, int32_t k, size_t min_keep)
{
	if (k <= 0)
		return n;
	size_t kk = (size_t)k < min_keep ? min_keep : (size_t)k;
	if (kk >= n) {
		llm_cand_sort(c, n);
		return n;
	}
	/* c[0..kk) becomes a heap of the best kk seen so far */
	for (size_t i = kk / 2; i-- > 0;)
		sift_down(c, kk, i);
	for (size_t i = kk; i < n; i++)
		if (before(&c[i], &c[0])) {
			c[0] = c[i];
			sift_down(c, kk, 0);
		}
	llm_cand_sort(c, kk);
	return kk;
}

size_t llm_cand_top_p(struct llm_cand *c, size_t n, float p, size_t min_keep)
{
	if (!(p < 1.0f) || n == 0)
		return n;
	llm_cand_sort(c, n);
	llm_cand_softmax(c, n);
	double cum = 0;
	for (size_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (cum >= p && i + 1 >= min_keep)
			return i + 1;
	}
	return n;
}

size_t llm_cand_min_p(struct llm_cand *c, size_t n, float p, size_t min_keep)
{
	if (!(p > 0.0f) || n == 0)
		return n;
	llm_cand_sort(c, n);
	/* p_i >= p * p_max  <=>  logit_i >= logit_max + log(p) */
	double lim = (double)c[0].logit + log((double)p);
	size_t keep = 1;
	while (keep < n && (double)c[keep].logit >= lim)
		keep++;
	return keep < min_keep ? (min_keep < n ? min_keep : n) : keep;
}

void llm_cand_temp(struct llm_cand *c, size_t n, float temp)
{
	/* around the largest logit, which becomes 0: a tiny temperature
	 * sends the others to -inf (p 0), never a logit to +inf (NaN) */
	float max = -INFINITY;
	for (size_t i = 0; i < n; i++)
		if (c[i].logit > max)
			max = c[i].logit;
	if (max == -INFINITY)
		return;
	for (size_t i = 0; i < n; i++)
		c[i].logit = (c[i].logit - max) / temp;
}

static int cmp_id(const void *pa, const void *pb)
{
	const struct llm_cand *a = pa, *b = pb;
	return (a->id > b->id) - (a->id < b->id);
}

void llm_cand_sort_id(struct llm_cand *c, size_t n)
{
	size_t i = 1;
	while (i < n && c[i - 1].id < c[i].id)
		i++;
	if (i < n)
		qsort(c, n, sizeof *c, cmp_id);
}

int32_t llm_cand_draw(struct llm_cand *c, size_t n, double u)
{
	double cum = 0;
	llm_cand_softmax(c, n);
	for (size_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (u < cum)
			return c[i].id;
	}
	/* rounding left cum just below u: the last token with p > 0 */
	for (size_t i = n; i-- > 0;)
		if (c[i].p > 0)
			return c[i].id;
	return c[0].id;
}

double llm_logsumexp(const float *x, int32_t n)
{
	double max = -INFINITY, sum = 0;
	for (int32_t i = 0; i < n; i++)
		if (x[i] > max)
			max = x[i];
	if (max == -INFINITY || isnan(max))
		return max;
	for (int32_t i = 0; i < n; i++)
		sum += exp((double)x[i] - max);
	return max + log(sum);
}

/* ================================================================ sampler */

struct llm_sampler {
	struct llm_sampler_params p;
	int32_t n_vocab;
	struct llm_rng rng;
	struct llm_cand *cand; /* n_vocab */
	int32_t *hist;         /* ring of repeat_last_n tokens */
	size_t n_hist, head;   /* tokens held, next slot */
	int32_t *lin;          /* the ring in order, oldest first */
	int32_t *ban;          /* ids never drawn (llm_sampler_ban) */
	size_t n_ban, cap_ban;
};

int llm_sampler_new(llm_sampler **out, int32_t n_vocab, const struct llm_sampler_params *p)
{
	*out = NULL;
	if (n_vocab < 1)
		return llm_err(LLM_EINVAL, "sampler: vocabulary of %d tokens", n_vocab);
	if (isnan(p->temp) || !isfinite(p->top_p) || !isfinite(p->min_p))
		return llm_err(LLM_EINVAL, "sampler: temperature, top-p and min-p must be numbers");
	if (!(p->repeat_penalty > 0) || !isfinite(p->repeat_penalty))
		return llm_err(LLM_EINVAL, "sampler: repeat penalty %g is not a positive number",
			       (double)p->repeat_penalty);
	if (p->repeat_last_n < 0)
		return llm_err(LLM_EINVAL, "sampler: repeat_last_n %d is negative", p->repeat_last_n);
	llm_sampler *s = calloc(1, sizeof *s);
	if (!s)
		return llm_err(LLM_ENOMEM, "sampler: out of memory");
	s->p = *p;
	s->n_vocab = n_vocab;
	s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
	if (p->repeat_last_n > 0) {
		s->hist = malloc((size_t)p->repeat_last_n * sizeof *s->hist);
		s->lin = malloc((size_t)p->repeat_last_n * sizeof *s->lin);
	}
	if (!s->cand || (p->repeat_last_n > 0 && (!s->hist || !s->lin))) {
		llm_sampler_free(s);
		return llm_err(LLM_ENOMEM, "sampler: out of memory");
	}
	llm_rng_seed(&s->rng, p->seed);
	*out = s;
	return 0;
}

void llm_sampler_free(llm_sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->hist);
	free(s->lin);
	free(s->ban);
	free(s);
}

int llm_sampler_ban(llm_sampler *s, int32_t id)
{
	if (id < 0 || id >= s->n_vocab)
		return llm_err(LLM_EINVAL, "sampler: token %d is outside the vocabulary of %d", (int)id,
			       (int)s->n_vocab);
	if (s->n_ban == s->cap_ban) {
		size_t cap = s->cap_ban ? 2 * s->cap_ban : 8;
		int32_t *b = realloc(s->ban, cap * sizeof *b);
		if (!b)
			return llm_err(LLM_ENOMEM, "sampler: out of memory");
		s->ban = b, s->cap_ban = cap;
	}
	s->ban[s->n_ban++] = id;
	return 0;
}

void llm_sampler_accept(llm_sampler *s, int32_t id)
{
	size_t cap = (size_t)s->p.repeat_last_n;
	if (cap == 0)
		return;
	s->hist[s->head] = id;
	s->head = (s->head + 1) % cap;
	if (s->n_hist < cap)
		s->n_hist++;
}

void llm_sampler_reset(llm_sampler *s, uint64_t seed)
{
	s->n_hist = s->head = 0;
	s->p.seed = seed;
	llm_rng_seed(&s->rng, seed);
}

int32_t llm_sampler_sample(llm_sampler *s, const float *logits)
{
	size_t n = (size_t)s->n_vocab, cap = (size_t)s->p.repeat_last_n;
	struct llm_cand *c = s->cand;

	llm_cand_init(c, logits, s->n_vocab);
	for (size_t i = 0; i < s->n_ban; i++)
		c[s->ban[i]].logit = -INFINITY;
	if (s->n_hist) {
		size_t first = (s->head + cap - s->n_hist) % cap;
		for (size_t i = 0; i < s->n_hist; i++)
			s->lin[i] = s->hist[(first + i) % cap];
		llm_cand_penalty(c, n, s->lin, s->n_hist, s->p.repeat_penalty);
	}
	if (!(s->p.temp > 0)) {
		size_t best = 0;
		for (size_t i = 1; i < n; i++)
			if (c[i].logit > c[best].logit)
				best = i;
		return c[best].id;
	}
	n = llm_cand_top_k(c, n, s->p.top_k, 1);
	n = llm_cand_top_p(c, n, s->p.top_p, 1);
	n = llm_cand_min_p(c, n, s->p.min_p, 1);
	llm_cand_temp(c, n, s->p.temp);
	/* the draw walks the candidates in id order, whichever filters sorted
	 * them: options that remove nothing (top-k of the whole vocabulary,
	 * top-p 1) leave a seeded run as it is */
	llm_cand_sort_id(c, n);
	return llm_cand_draw(c, n, llm_rng_uniform(&s->rng));
}
