/* eval.c - log-probabilities, scores, perplexity and generation over a
 * model (eval.h).  Everything is computed in double from the raw logits;
 * the batching and the order of the sums are part of the results (llm-run's
 * outputs are pinned byte for byte), so change them only on purpose. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "gguf.h"
#include "types.h"

struct llm_eval {
	llm_model *m;        /* borrowed */
	int32_t n_vocab, n_ctx;
	int batch;           /* rows of logits */
	float *logits;       /* (batch, n_vocab) */
	int32_t *cached;     /* (n_ctx) the context llm_eval_score evaluated alone, still in the cache */
	size_t n_cached;
	/* generation */
	llm_sampler *s;
	const llm_tokenizer *tk; /* borrowed, may be NULL */
	int32_t *toks;       /* (n_ctx) prompt, then generated tokens */
	int32_t n_prompt, n_gen, n_predict;
	int ignore_eos, stop;
};

/* ================================================================ rows */

int llm_eval_log_softmax(double *out, const float *logits, int32_t n_vocab)
{
	if (n_vocab < 1)
		return llm_err(LLM_EINVAL, "log-softmax of %d logits", (int)n_vocab);
	double lse = llm_logsumexp(logits, n_vocab);
	for (int32_t i = 0; i < n_vocab; i++)
		out[i] = (double)logits[i] - lse;
	return 0;
}

int llm_eval_logprob(double *out, const float *logits, int32_t n_vocab, int32_t id)
{
	if (id < 0 || id >= n_vocab)
		return llm_err(LLM_EINVAL, "token %d is outside the vocabulary of %d", (int)id,
			       (int)n_vocab);
	*out = (double)logits[id] - llm_logsumexp(logits, n_vocab);
	return 0;
}

/* a ranks before b: larger logit, then smaller id (logits held exactly as
 * doubles in .logprob while selecting) */
static int before(const struct llm_logprob *a, const struct llm_logprob *b)
{
	return a->logprob > b->logprob || (a->logprob == b->logprob && a->id < b->id);
}

/* h[0..k) a heap whose root is the entry ranked last */
static void sift_down(struct llm_logprob *h, size_t k, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < k && before(&h[w], &h[l]))
			w = l;
		if (r < k && before(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		struct llm_logprob t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

size_t llm_eval_top(struct llm_logprob *out, size_t k, const float *logits, int32_t n_vocab)
{
	size_t n = n_vocab > 0 ? (size_t)n_vocab : 0, kk = k < n ? k : n;
	if (kk == 0)
		return 0;
	double lse = llm_logsumexp(logits, n_vocab);
	/* out[0..kk): the best kk seen so far, as a heap with the worst at the root */
	for (size_t i = 0; i < n; i++) {
		struct llm_logprob c = { (int32_t)i, isnan(logits[i]) ? -INFINITY : (double)logits[i] };
		if (i < kk) {
			out[i] = c;
			if (i + 1 == kk)
				for (size_t j = kk / 2; j-- > 0;)
					sift_down(out, kk, j);
		} else if (before(&c, &out[0])) {
			out[0] = c;
			sift_down(out, kk, 0);
		}
	}
	/* heap sort: the root (worst) goes to the end */
	for (size_t m = kk; m > 1; m--) {
		struct llm_logprob t = out[0];
		out[0] = out[m - 1];
		out[m - 1] = t;
		sift_down(out, m - 1, 0);
	}
	for (size_t i = 0; i < kk; i++)
		out[i].logprob -= lse;
	return kk;
}

/* ================================================================ evaluator */

int llm_eval_new(llm_eval **out, llm_model *m)
{
	llm_eval *e = calloc(1, sizeof *e);
	*out = NULL;
	if (!e)
		return llm_err(LLM_ENOMEM, "evaluator: out of memory");
	e->m = m;
	e->n_vocab = llm_model_hparams(m)->n_vocab;
	e->n_ctx = llm_model_n_ctx(m);
	/* up to 16 MiB of logits, 1 .. 512 rows */
	e->batch = (int)((16u << 20) / (unsigned)e->n_vocab);
	e->batch = e->batch < 1 ? 1 : e->batch > 512 ? 512 : e->batch;
	e->logits = malloc((size_t)e->batch * (size_t)e->n_vocab * sizeof *e->logits);
	e->cached = malloc((size_t)e->n_ctx * sizeof *e->cached);
	e->toks = malloc((size_t)e->n_ctx * sizeof *e->toks);
	if (!e->logits || !e->cached || !e->toks) {
		int rc = llm_err(LLM_ENOMEM, "evaluator: out of memory for %d x %d logits", e->batch,
				 (int)e->n_vocab);
		llm_eval_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void llm_eval_free(llm_eval *e)
{
	if (!e)
		return;
	llm_sampler_free(e->s);
	free(e->logits);
	free(e->cached);
	free(e->toks);
	free(e);
}

void llm_eval_reset(llm_eval *e) { e->n_cached = 0; }

/* llm_eval_rows without forgetting the score cache */
static int eval_rows(llm_eval *e, const int32_t *toks, int n, int pos, int from,
		     llm_eval_row_fn fn, void *ud)
{
	if (pos < 0 || n < 0 || pos + n > e->n_ctx)
		return llm_err(LLM_EINVAL, "positions %d .. %d are outside the context of %d", pos,
			       pos + n - 1, (int)e->n_ctx);
	for (int b0 = 0; b0 < n; b0 += e->batch) {
		int nb = n - b0 < e->batch ? n - b0 : e->batch;
		int want = b0 + nb > from;
		int rc = llm_model_eval(e->m, toks + b0, nb, pos + b0, want ? e->logits : NULL, want);
		if (rc)
			return rc;
		for (int i = b0 < from ? from : b0; fn && i < b0 + nb; i++)
			fn(ud, i, e->logits + (size_t)(i - b0) * (size_t)e->n_vocab);
	}
	return 0;
}

int llm_eval_rows(llm_eval *e, const int32_t *toks, int n, int pos, int from,
		  llm_eval_row_fn fn, void *ud)
{
	e->n_cached = 0;
	return eval_rows(e, toks, n, pos, from, fn, ud);
}

/* ================================================================ scoring */

struct score_ctx {
	const llm_eval *e;
	const int32_t *f; /* the full sequence */
	int s;            /* rows are numbered from position s */
	double lp;
};

/* row i (position s + i) predicts f[s + i + 1] */
static void score_row(void *ud, int i, const float *row)
{
	struct score_ctx *c = ud;
	int32_t next = c->f[c->s + i + 1];
	c->lp += (double)row[next] - llm_logsumexp(row, c->e->n_vocab);
}

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t i = 0;
	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

int llm_eval_score(double *logprob, int64_t *n_tokens, llm_eval *e, const int32_t *p,
		   size_t n_p, const int32_t *f, size_t n_f)
{
	*logprob = 0;
	*n_tokens = 0;
	if (n_f > (size_t)e->n_ctx)
		return llm_err(LLM_EINVAL, "%zu tokens do not fit the context of %d", n_f,
			       (int)e->n_ctx);
	for (size_t i = 0; i < n_f; i++)
		if (f[i] < 0 || f[i] >= e->n_vocab)
			return llm_err(LLM_EINVAL, "token %d is outside the vocabulary of %d",
				       (int)f[i], (int)e->n_vocab);
	size_t start = common_prefix(p, n_p, f, n_f); /* first token of the completion */
	if (start == 0 && n_p > 0)
		return llm_err(LLM_EINVAL, "the completion joins the prompt's first token, which nothing "
					   "predicts without BOS");
	if (start == 0)
		start = 1; /* no BOS, empty prompt: the first token has no context */
	if (n_f <= start)
		return 0;
	/* Two evaluations, always the same ones for the same tokens: the
	 * context f[0 .. start-1) alone, then the rows from start-1 on.  The
	 * cache is reused only when it holds exactly this context, computed
	 * so: a line's score is then the same whatever lines came before
	 * (batches of other sizes would round otherwise). */
	size_t pre = start - 1;
	int rc = 0;
	if (!(e->n_cached == pre && common_prefix(e->cached, pre, f, pre) == pre)) {
		e->n_cached = 0;
		if (pre && (rc = eval_rows(e, f, (int)pre, 0, (int)pre, NULL, NULL)))
			return rc;
		memcpy(e->cached, f, pre * sizeof *f);
		e->n_cached = pre;
	}
	struct score_ctx c = { e, f, (int)pre, 0 };
	if ((rc = eval_rows(e, f + pre, (int)(n_f - 1 - pre), (int)pre, 0, score_row, &c))) {
		e->n_cached = 0;
		return rc;
	}
	*logprob = c.lp;
	*n_tokens = (int64_t)(n_f - start);
	return 0;
}

/* ================================================================ perplexity */

struct ppl_ctx {
	const llm_eval *e;
	const int32_t *chunk;
	struct llm_ppl *r;
};

static void ppl_row(void *ud, int i, const float *row)
{
	struct ppl_ctx *c = ud;
	double lp = (double)row[c->chunk[i + 1]] - llm_logsumexp(row, c->e->n_vocab);
	c->r->nll -= lp;
	c->r->nll2 += lp * lp;
	c->r->count++;
}

/* ppl and err from the sums */
static void ppl_figures(struct llm_ppl *r)
{
	double mean = r->nll / (double)r->count, mean2 = r->nll2 / (double)r->count;
	double var = mean2 - mean * mean;
	r->ppl = exp(mean);
	r->err = var > 0 && r->count > 1 ? r->ppl * sqrt(var / (double)(r->count - 1)) : 0;
}

int llm_eval_perplexity(struct llm_ppl *out, llm_eval *e, const int32_t *toks, size_t n, int N,
			int32_t bos, llm_ppl_fn fn, void *ud)
{
	memset(out, 0, sizeof *out);
	/* a chunk scores its tokens N/2+1 .. N-1 (as llama-perplexity): none below 3 */
	if (N < 3 || N > e->n_ctx)
		return llm_err(LLM_EINVAL, "perplexity chunks of %d tokens (at least 3, the context holds %d)",
			       N, (int)e->n_ctx);
	if (n < 2 * (size_t)N)
		return llm_err(LLM_EINVAL,
			       "%zu tokens; perplexity with a context of %d needs at least %d", n, N,
			       2 * N);
	for (size_t i = 0; i < n; i++)
		if (toks[i] < 0 || toks[i] >= e->n_vocab)
			return llm_err(LLM_EINVAL, "token %d is outside the vocabulary of %d",
				       (int)toks[i], (int)e->n_vocab);
	if (bos >= e->n_vocab)
		return llm_err(LLM_EINVAL, "BOS %d is outside the vocabulary of %d", (int)bos,
			       (int)e->n_vocab);
	int32_t *chunk = malloc((size_t)N * sizeof *chunk); /* (N) */
	if (!chunk)
		return llm_err(LLM_ENOMEM, "perplexity: out of memory");
	struct ppl_ctx c = { e, chunk, out };
	size_t n_chunk = n / (size_t)N;
	int rc = 0;
	e->n_cached = 0;
	for (size_t k = 0; k < n_chunk; k++) {
		memcpy(chunk, toks + k * (size_t)N, (size_t)N * sizeof *chunk);
		if (bos >= 0)
			chunk[0] = bos;
		/* rows N/2 .. N-2 predict chunk positions N/2+1 .. N-1 */
		if ((rc = eval_rows(e, chunk, N - 1, 0, N / 2, ppl_row, &c)))
			break;
		out->n_chunk = k + 1;
		ppl_figures(out);
		if (fn)
			fn(ud, out);
	}
	free(chunk);
	return rc;
}

/* ================================================================ generation */

int llm_eval_gen_start(llm_eval *e, const llm_tokenizer *tk, const struct llm_gen_params *p,
		       const int32_t *prompt, size_t n, llm_eval_row_fn fn, void *ud)
{
	int rc;

	llm_sampler_free(e->s);
	e->s = NULL;
	e->n_cached = 0;
	e->n_prompt = e->n_gen = 0;
	if (n == 0)
		return llm_err(LLM_EINVAL, "empty prompt (and no BOS to start from)");
	if (n > (size_t)e->n_ctx)
		return llm_err(LLM_EINVAL, "prompt of %zu tokens does not fit the context of %d", n,
			       (int)e->n_ctx);
	for (size_t i = 0; i < n; i++)
		if (prompt[i] < 0 || prompt[i] >= e->n_vocab)
			return llm_err(LLM_EINVAL, "token %d is outside the vocabulary of %d",
				       (int)prompt[i], (int)e->n_vocab);
	if ((rc = llm_sampler_new(&e->s, e->n_vocab, &p->sp)))
		return rc;
	/* --ignore-eos as llama.cpp's: end-of-generation tokens are never drawn */
	for (int32_t id = 0; p->ignore_eos && tk && id < e->n_vocab; id++)
		if (llm_tokenizer_is_eog(tk, id) && (rc = llm_sampler_ban(e->s, id))) {
			llm_sampler_free(e->s);
			e->s = NULL;
			return rc;
		}
	memcpy(e->toks, prompt, n * sizeof *prompt);
	for (size_t i = 0; i < n; i++)
		llm_sampler_accept(e->s, prompt[i]);
	e->tk = tk;
	e->n_predict = p->n_predict;
	e->ignore_eos = p->ignore_eos;

	int P = (int)n;
	if (fn) {
		rc = eval_rows(e, e->toks, P, 0, 0, fn, ud);
		if (!rc && P > 1) /* the last row's logits are also the first prediction's */
			memmove(e->logits,
				e->logits + (size_t)((P - 1) % e->batch) * (size_t)e->n_vocab,
				(size_t)e->n_vocab * sizeof *e->logits);
	} else {
		rc = llm_model_eval(e->m, e->toks, P, 0, e->logits, 0);
	}
	if (rc) {
		llm_sampler_free(e->s);
		e->s = NULL;
		return rc;
	}
	e->n_prompt = P;
	e->stop = LLM_GEN_RUNNING;
	return 0;
}

int llm_eval_gen_next(int32_t *id, llm_eval *e)
{
	int32_t at = e->n_prompt + e->n_gen; /* position of the next token */

	if (!e->s)
		return llm_err(LLM_EINVAL, "generation was not started (llm_eval_gen_start)");
	if (e->stop)
		return 0;
	if (e->n_predict >= 0 && e->n_gen >= e->n_predict)
		e->stop = LLM_GEN_LIMIT;
	else if (at >= e->n_ctx)
		e->stop = LLM_GEN_FULL;
	if (e->stop)
		return 0;
	if (e->n_gen > 0) {
		int rc = llm_model_eval(e->m, &e->toks[at - 1], 1, at - 1, e->logits, 0);
		if (rc)
			return rc;
	}
	*id = llm_sampler_sample(e->s, e->logits);
	if (!e->ignore_eos && e->tk && llm_tokenizer_is_eog(e->tk, *id)) {
		e->stop = LLM_GEN_EOG;
		return 0;
	}
	e->toks[at] = *id;
	e->n_gen++;
	llm_sampler_accept(e->s, *id);
	return 1;
}

int llm_eval_gen_stop(const llm_eval *e) { return e->stop; }

const float *llm_eval_gen_logits(const llm_eval *e) { return e->logits; }

const int32_t *llm_eval_gen_tokens(const llm_eval *e, int32_t *n)
{
	*n = e->n_prompt + e->n_gen;
	return e->toks;
}

int llm_eval_gen_sync(llm_eval *e)
{
	int32_t n = e->n_prompt + e->n_gen;
	if (n < 1 || llm_model_n_past(e->m) >= n)
		return 0;
	return llm_model_eval(e->m, &e->toks[n - 1], 1, n - 1, NULL, 0);
}

/* ================================================================ KV dump */

int llm_eval_gen_write_kv(llm_eval *e, const char *path, const llm_meta *model_meta,
			  const llm_meta *extra)
{
	const struct llm_hparams *hp = llm_model_hparams(e->m);
	int32_t n_pos = e->n_prompt + e->n_gen;
	int64_t ne[3] = { hp->head_dim, hp->n_head_kv, n_pos };
	size_t row = (size_t)hp->n_head_kv * (size_t)hp->head_dim * sizeof(float); /* one position */
	llm_gguf_writer *w;
	const char *s;

	if (n_pos < 1)
		return llm_err(LLM_EINVAL, "%s: nothing evaluated to dump", path);
	int rc = llm_eval_gen_sync(e);
	if (rc || (rc = llm_gguf_writer_open(&w, path)))
		return rc;
	llm_meta *wm = llm_gguf_writer_meta(w);
	rc = llm_meta_set_str(wm, "general.type", "kv-dump");
	if (!rc && model_meta && llm_meta_get_str(model_meta, "general.architecture", &s, NULL) == 0)
		rc = llm_meta_set_str(wm, "general.architecture", s);
	if (!rc && model_meta && llm_meta_get_str(model_meta, "general.name", &s, NULL) == 0)
		rc = llm_meta_set_str(wm, "general.name", s);
	if (!rc && (llm_meta_set_u32(wm, "kv.n_layer", (uint32_t)hp->n_layer) ||
		    llm_meta_set_u32(wm, "kv.n_head", (uint32_t)hp->n_head) ||
		    llm_meta_set_u32(wm, "kv.n_head_kv", (uint32_t)hp->n_head_kv) ||
		    llm_meta_set_u32(wm, "kv.head_dim", (uint32_t)hp->head_dim) ||
		    llm_meta_set_u32(wm, "kv.n_pos", (uint32_t)n_pos) ||
		    llm_meta_set_u32(wm, "kv.rope.dimension_count", (uint32_t)hp->rope_dim) ||
		    llm_meta_set_f32(wm, "kv.rope.freq_base", hp->rope_base) ||
		    llm_meta_set_arr(wm, "kv.tokens", LLM_V_I32, e->toks, (uint64_t)n_pos)))
		rc = llm_err(LLM_ENOMEM, "%s: out of memory", path);
	for (int64_t i = 0; !rc && extra && i < extra->n; i++)
		rc = llm_meta_set_kv(wm, &extra->kv[i], NULL);
	for (int l = 0; !rc && l < hp->n_layer; l++) {
		char name[64];
		snprintf(name, sizeof name, "kv.%d.k", l);
		if ((rc = llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 3, ne)))
			break;
		snprintf(name, sizeof name, "kv.%d.v", l);
		rc = llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 3, ne);
	}
	for (int l = 0; !rc && l < hp->n_layer; l++) {
		const float *k, *v; /* (n_ctx, n_head_kv, head_dim), positions 0 .. n_pos-1 used */
		if (!(rc = llm_model_kv(e->m, l, &k, &v)) &&
		    !(rc = llm_gguf_writer_write(w, k, row * (size_t)n_pos)))
			rc = llm_gguf_writer_write(w, v, row * (size_t)n_pos);
	}
	if (rc) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	return llm_gguf_writer_commit(w);
}
