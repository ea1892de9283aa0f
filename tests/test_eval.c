/* test_eval.c - lib/eval.h against independent references.
 *
 *  rows      log-softmax, log-prob and top-k on hand-computable rows
 *            (uniform, log(k/10), huge logits, -inf) and, on random rows
 *            with ties and NaN, against a full qsort by (logit desc, id
 *            asc) and against the sampler's llm_cand_top_k (what llm-run
 *            printed before eval.h existed: the same ids, bit for bit).
 *  bigram    a generated F32 model whose layers are all zero, so the
 *            logits after token t are W rmsnorm(E[t]) whatever the
 *            context: a bigram table the test computes in double.
 *            Scores (prefix, merged boundary, no-BOS empty prompt, empty
 *            completion, KV reuse across calls), perplexity (chunks, BOS,
 *            sums, the standard error formula, the callback), rows across
 *            batch boundaries, greedy generation (limit, full context,
 *            rows seen by the callback, the memmove of the last batch,
 *            end of sequence with a SentencePiece vocabulary, ignore_eos).
 *  stories   ../shared/models/stories260K.gguf: scores and perplexity
 *            against one all-logits llm_model_eval per sequence with the
 *            test's own log-softmax; the KV dump (metadata, tensors equal
 *            to the cache, the first key against the weights).
 * Tolerances: 1e-5 relative on bigram log-probabilities (the model runs in
 * float, the reference in double); 1e-4 absolute on summed stories260K
 * log-probabilities of a few tokens, 1e-6 relative on perplexity.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "error.h"
#include "eval.h"
#include "gguf.h"
#include "model.h"
#include "sampler.h"
#include "testutil.h"
#include "tokenizer.h"
#include "types.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;
static double urand(void) { return test_urand(&rs); }

/* equal, or both NaN (a NaN logit makes every log-probability NaN) */
static int same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static int close_rel(double a, double b, double tol)
{
	return fabs(a - b) <= tol * (fabs(b) > 1 ? fabs(b) : 1);
}

/* ================================================================ rows */

/* reference order: larger logit first (NaN as -inf), then smaller id */
static const float *cmp_logits;
static int cmp_ref(const void *pa, const void *pb)
{
	int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
	float x = isnan(cmp_logits[a]) ? -INFINITY : cmp_logits[a];
	float y = isnan(cmp_logits[b]) ? -INFINITY : cmp_logits[b];
	return x > y ? -1 : x < y ? 1 : (a > b) - (a < b);
}

static void test_rows(void)
{
	float u[4] = { 0, 0, 0, 0 }, lk[4], big[2] = { 1000, 1000 }, minf[3] = { -INFINITY, 0, 0 };
	double out[4], lp;
	int ok = 1;

	llm_eval_log_softmax(out, u, 4);
	for (int i = 0; i < 4; i++)
		ok &= fabs(out[i] + log(4.0)) < 1e-15;
	CHECK(ok, "log_softmax_uniform", "got %g, want %g", out[0], -log(4.0));
	/* logits log k, k = 1..4: p = k / 10 */
	for (int i = 0; i < 4; i++)
		lk[i] = (float)log(i + 1.0);
	llm_eval_log_softmax(out, lk, 4);
	ok = 1;
	for (int i = 0; i < 4; i++)
		ok &= fabs(out[i] - log((i + 1) / 10.0)) < 1e-7;
	CHECK(ok, "log_softmax_log_k", "p(3) %g, want %g", exp(out[3]), 0.4);
	CHECK(llm_eval_logprob(&lp, big, 2, 1) == 0 && fabs(lp + log(2.0)) < 1e-12,
	      "logprob_no_overflow", "got %g", lp);
	CHECK(llm_eval_logprob(&lp, minf, 3, 0) == 0 && lp == -INFINITY &&
	      llm_eval_logprob(&lp, minf, 3, 2) == 0 && fabs(lp + log(2.0)) < 1e-15,
	      "logprob_minus_inf", "got %g", lp);
	CHECK(llm_eval_logprob(&lp, u, 4, 4) == LLM_EINVAL && llm_eval_logprob(&lp, u, 4, -1) == LLM_EINVAL &&
	      llm_eval_log_softmax(out, u, 0) == LLM_EINVAL,
	      "logprob_bad_args", "accepted an id outside the vocabulary");

	/* top: k = 0, hand case with a tie */
	float t5[5] = { 1, 3, 2, 3, -1 };
	struct llm_logprob top[8];
	size_t k = llm_eval_top(top, 3, t5, 5);
	double lse5 = log(exp(1) + 2 * exp(3) + exp(2) + exp(-1));
	CHECK(k == 3 && top[0].id == 1 && top[1].id == 3 && top[2].id == 2 &&
	      fabs(top[0].logprob - (3 - lse5)) < 1e-12 && fabs(top[2].logprob - (2 - lse5)) < 1e-12,
	      "top_hand", "k %zu ids %d %d %d", k, top[0].id, top[1].id, top[2].id);
	CHECK(llm_eval_top(top, 0, t5, 5) == 0 && llm_eval_top(top, 8, t5, 5) == 5 && top[4].id == 4,
	      "top_k_0_and_k_above_n", "wrong count or order");

	/* random rows with ties and NaN: against qsort and llm_cand_top_k */
	enum { V = 300 };
	float *x = malloc(V * sizeof *x);
	int32_t *ids = malloc(V * sizeof *ids);
	struct llm_logprob *tp = malloc((V + 5) * sizeof *tp);
	struct llm_cand *cand = malloc(V * sizeof *cand);
	int bad_ref = 0, bad_cand = 0;
	for (int trial = 0; trial < 40; trial++) {
		for (int i = 0; i < V; i++) {
			x[i] = (float)floor(urand() * 40) / 4 - 5; /* many ties */
			if (urand() < 0.01)
				x[i] = NAN;
			else if (urand() < 0.02)
				x[i] = -INFINITY;
			ids[i] = i;
		}
		size_t kk = trial < 10 ? (size_t)trial : trial < 30 ? (size_t)(urand() * V) : V + 5;
		cmp_logits = x;
		qsort(ids, V, sizeof *ids, cmp_ref);
		double lse = llm_logsumexp(x, V);
		size_t got = llm_eval_top(tp, kk, x, V);
		size_t want = kk < V ? kk : V;
		llm_cand_init(cand, x, V);
		size_t nc = kk ? llm_cand_top_k(cand, V, (int32_t)kk, 1) : 0;
		if (got != want)
			bad_ref++;
		for (size_t i = 0; i < got && i < want; i++) {
			float v = isnan(x[ids[i]]) ? -INFINITY : x[ids[i]];
			if (tp[i].id != ids[i] || !same(tp[i].logprob, (double)v - lse))
				bad_ref++;
		}
		if (nc != got)
			bad_cand++;
		for (size_t i = 0; i < got && i < nc; i++)
			if (tp[i].id != cand[i].id || !same(tp[i].logprob, (double)cand[i].logit - lse))
				bad_cand++;
	}
	CHECK(bad_ref == 0, "top_random_vs_sort", "%d mismatches", bad_ref);
	CHECK(bad_cand == 0, "top_random_vs_sampler", "%d mismatches with llm_cand_top_k", bad_cand);
	free(x);
	free(ids);
	free(tp);
	free(cand);
}

/* ================================================================ bigram model */

enum { BD = 8, BV = 11, BFF = 16 };
static float bE[BV][BD], bW[BV][BD];
static double blp[BV][BV]; /* blp[t][j] = log p(j | last token t) */

static int write_bigram(const char *path)
{
	llm_gguf_writer *w;
	int rc = llm_gguf_writer_open(&w, path);
	if (rc)
		return rc;
	llm_meta *m = llm_gguf_writer_meta(w);
	llm_meta_set_str(m, "general.architecture", "llama");
	llm_meta_set_u32(m, "llama.embedding_length", BD);
	llm_meta_set_u32(m, "llama.block_count", 1);
	llm_meta_set_u32(m, "llama.feed_forward_length", BFF);
	llm_meta_set_u32(m, "llama.attention.head_count", 2);
	llm_meta_set_u32(m, "llama.attention.head_count_kv", 2);
	llm_meta_set_u32(m, "llama.context_length", 64);
	llm_meta_set_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	struct { const char *name; int64_t n, d; int what; } ts[] = {
		{ "token_embd.weight", BD, BV, 1 },    { "blk.0.attn_norm.weight", BD, 0, 2 },
		{ "blk.0.attn_q.weight", BD, BD, 0 },  { "blk.0.attn_k.weight", BD, BD, 0 },
		{ "blk.0.attn_v.weight", BD, BD, 0 },  { "blk.0.attn_output.weight", BD, BD, 0 },
		{ "blk.0.ffn_norm.weight", BD, 0, 2 }, { "blk.0.ffn_gate.weight", BD, BFF, 0 },
		{ "blk.0.ffn_up.weight", BD, BFF, 0 }, { "blk.0.ffn_down.weight", BFF, BD, 0 },
		{ "output_norm.weight", BD, 0, 2 },    { "output.weight", BD, BV, 3 },
	};
	int nt = (int)(sizeof ts / sizeof ts[0]);
	for (int i = 0; i < nt && !rc; i++) {
		int64_t ne[2] = { ts[i].n, ts[i].d };
		rc = llm_gguf_writer_add_tensor(w, ts[i].name, LLM_TYPE_F32, ts[i].d ? 2 : 1, ne);
	}
	for (int i = 0; i < nt && !rc; i++) {
		size_t n = (size_t)(ts[i].n * (ts[i].d ? ts[i].d : 1));
		float *x = calloc(n, sizeof *x); /* what 0: zero weights */
		for (size_t j = 0; j < n; j++)
			x[j] = ts[i].what == 2 ? 1.0f : ts[i].what == 1 ? (&bE[0][0])[j]
			     : ts[i].what == 3 ? (&bW[0][0])[j] : 0.0f;
		rc = llm_gguf_writer_write(w, x, n * sizeof *x);
		free(x);
	}
	if (rc) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	return llm_gguf_writer_commit(w);
}

/* the bigram table in double: logits = W (E[t] / rms(E[t])) */
static void bigram_ref(void)
{
	for (int t = 0; t < BV; t++) {
		double ss = 0, h[BD], z[BV], mx = -INFINITY, s = 0;
		for (int d = 0; d < BD; d++)
			ss += (double)bE[t][d] * bE[t][d];
		for (int d = 0; d < BD; d++)
			h[d] = bE[t][d] / sqrt(ss / BD + 1e-5);
		for (int j = 0; j < BV; j++) {
			z[j] = 0;
			for (int d = 0; d < BD; d++)
				z[j] += (double)bW[j][d] * h[d];
			mx = z[j] > mx ? z[j] : mx;
		}
		for (int j = 0; j < BV; j++)
			s += exp(z[j] - mx);
		for (int j = 0; j < BV; j++)
			blp[t][j] = z[j] - mx - log(s);
	}
}

/* the most likely successor of t, token skip (-1: none) left out */
static int bigram_argmax_but(int t, int skip)
{
	int b = skip == 0 ? 1 : 0;
	for (int j = b + 1; j < BV; j++)
		if (j != skip && blp[t][j] > blp[t][b])
			b = j;
	return b;
}
static int bigram_argmax(int t) { return bigram_argmax_but(t, -1); }

/* the reference score: tokens f[start..n) each given the one before */
static double ref_sum(const int32_t *f, size_t start, size_t n)
{
	double s = 0;
	for (size_t i = start; i < n; i++)
		s += blp[f[i - 1]][f[i]];
	return s;
}

struct rows_seen {
	int n, first, last, bad;
	const int32_t *toks;
};

/* row i must be the bigram row of toks[i] (up to a constant: compare
 * log-softmax) */
static void check_row(void *ud, int i, const float *row)
{
	struct rows_seen *r = ud;
	double lp;
	if (r->n == 0)
		r->first = i;
	else if (i != r->last + 1)
		r->bad++;
	r->n++;
	r->last = i;
	for (int j = 0; j < BV; j++) {
		llm_eval_logprob(&lp, row, BV, j);
		if (!close_rel(lp, blp[r->toks[i]][j], 1e-5))
			r->bad++;
	}
}

struct ppl_seen {
	size_t calls, last_chunk;
	double last_ppl;
};

static void ppl_cb(void *ud, const struct llm_ppl *p)
{
	struct ppl_seen *s = ud;
	s->calls++;
	s->last_chunk = p->n_chunk;
	s->last_ppl = p->ppl;
}

/* Greedy generation with a SentencePiece vocabulary whose EOS is 2, from
 * every start token: the library's tokens and stop reason against the
 * argmax chain, and with ignore_eos the chain goes on through EOS. */
static void test_bigram_eog(llm_eval *e)
{
	llm_meta md;
	llm_tokenizer *tk = NULL;
	static const char *const names[BV] = { "<unk>", "<s>", "</s>", "a", "b", "c",
					       "d", "e", "f", "g", "h" };
	struct llm_str strs[BV];
	int bad = 0, n_eog = 0;

	llm_meta_init(&md);
	for (int i = 0; i < BV; i++)
		strs[i] = (struct llm_str){ strlen(names[i]), (char *)names[i] };
	if (llm_meta_set_str(&md, "tokenizer.ggml.model", "llama") ||
	    llm_meta_set_arr_str(&md, "tokenizer.ggml.tokens", strs, BV) ||
	    llm_tokenizer_open(&tk, &md)) {
		CHECK(0, "generate_eog", "vocabulary: %s", llm_errmsg());
		llm_meta_clear(&md);
		return;
	}
	for (int ign = 0; ign < 2; ign++)
		for (int32_t t = 0; t < BV; t++) {
			struct llm_gen_params gp = LLM_GEN_PARAMS_INIT;
			int32_t id, want[12], nw = 0, last = t, n;
			int stop = LLM_GEN_LIMIT;
			gp.sp.temp = 0;
			gp.n_predict = 12;
			gp.ignore_eos = ign;
			while (nw < 12) {
				/* --ignore-eos: EOS (2) is never drawn */
				int32_t nx = bigram_argmax_but(last, ign ? 2 : -1);
				if (!ign && nx == 2) {
					stop = LLM_GEN_EOG;
					break;
				}
				want[nw++] = last = nx;
			}
			n_eog += stop == LLM_GEN_EOG;
			if (llm_eval_gen_start(e, tk, &gp, &t, 1, NULL, NULL)) {
				bad++;
				continue;
			}
			while (llm_eval_gen_next(&id, e) > 0)
				;
			const int32_t *got = llm_eval_gen_tokens(e, &n);
			bad += n != nw + 1 || memcmp(got + 1, want, (size_t)nw * sizeof *want) != 0 ||
			       llm_eval_gen_stop(e) != stop;
		}
	CHECK(bad == 0 && n_eog > 0, "generate_eog", "%d of %d runs differ from the argmax chain, %d "
	      "end at EOS", bad, 2 * BV, n_eog);
	llm_tokenizer_free(tk);
	llm_meta_clear(&md);
}

static void test_bigram(const char *dir)
{
	char path[512];
	llm_ckpt *ck = NULL;
	llm_model *m = NULL;
	llm_eval *e = NULL;
	struct llm_model_opts mo = LLM_MODEL_OPTS_INIT;
	int rc;

	for (int t = 0; t < BV; t++)
		for (int d = 0; d < BD; d++) {
			bE[t][d] = (float)(2 * urand() - 1);
			bW[t][d] = (float)(3 * (2 * urand() - 1));
		}
	/* after token 5 the end of sequence (2) is by far the most likely */
	double n5 = 0;
	for (int d = 0; d < BD; d++)
		n5 += (double)bE[5][d] * bE[5][d];
	for (int d = 0; d < BD; d++)
		bW[2][d] = (float)(10 * bE[5][d] / sqrt(n5));
	bigram_ref();
	snprintf(path, sizeof path, "%s/bigram.gguf", dir);
	mo.n_ctx = 1100; /* beyond one batch of 512 rows */
	mo.n_threads = 2;
	if ((rc = write_bigram(path)) || (rc = llm_ckpt_open(&ck, path, NULL)) ||
	    (rc = llm_model_load(&m, ck, &mo)) || (rc = llm_eval_new(&e, m))) {
		CHECK(0, "bigram_model", "%s", llm_errmsg());
		goto out;
	}

	/* ---- scores ---- */
	int32_t P[] = { 1, 5, 6 }, F1[] = { 1, 5, 6, 2, 9 }, F2[] = { 1, 5, 7, 8 },
		F3[] = { 3, 4, 5, 10 }, F4[] = { 1, 5, 6, 2, 0, 0, 4 };
	double lp;
	int64_t nt;
	rc = llm_eval_score(&lp, &nt, e, P, 3, F1, 5);
	CHECK(!rc && nt == 2 && close_rel(lp, ref_sum(F1, 3, 5), 1e-5), "score_prefix",
	      "rc %d n %lld lp %.9g want %.9g", rc, (long long)nt, lp, ref_sum(F1, 3, 5));
	rc = llm_eval_score(&lp, &nt, e, P, 3, F2, 4); /* merged boundary: 6 != 7 */
	CHECK(!rc && nt == 2 && close_rel(lp, ref_sum(F2, 2, 4), 1e-5), "score_merged_boundary",
	      "rc %d n %lld lp %.9g want %.9g", rc, (long long)nt, lp, ref_sum(F2, 2, 4));
	rc = llm_eval_score(&lp, &nt, e, NULL, 0, F3, 4); /* no BOS, empty prompt */
	CHECK(!rc && nt == 3 && close_rel(lp, ref_sum(F3, 1, 4), 1e-5), "score_empty_prompt",
	      "rc %d n %lld lp %.9g want %.9g", rc, (long long)nt, lp, ref_sum(F3, 1, 4));
	rc = llm_eval_score(&lp, &nt, e, P, 3, P, 3);
	CHECK(!rc && nt == 0 && lp == 0, "score_empty_completion", "rc %d n %lld lp %g", rc,
	      (long long)nt, lp);
	/* after F1 the cache holds 1 5 6 2: F4 extends it */
	llm_eval_score(&lp, &nt, e, P, 3, F1, 5);
	rc = llm_eval_score(&lp, &nt, e, P, 3, F4, 7);
	CHECK(!rc && nt == 4 && close_rel(lp, ref_sum(F4, 3, 7), 1e-5), "score_cache_reuse",
	      "rc %d n %lld lp %.9g want %.9g", rc, (long long)nt, lp, ref_sum(F4, 3, 7));
	/* F4 extended: its last token was never evaluated, so the cache holds
	 * 6 of its 7 tokens */
	int32_t P5[] = { 1, 5, 6, 2, 0, 0, 4, 3 }, F5[] = { 1, 5, 6, 2, 0, 0, 4, 3, 8, 9 };
	rc = llm_eval_score(&lp, &nt, e, P5, 8, F5, 10);
	CHECK(!rc && nt == 2 && close_rel(lp, ref_sum(F5, 8, 10), 1e-5), "score_cache_extend",
	      "rc %d n %lld lp %.9g want %.9g (%s)", rc, (long long)nt, lp, ref_sum(F5, 8, 10),
	      rc ? llm_errmsg() : "");

	/* ---- rows across batch boundaries ---- */
	enum { NL = 1030 };
	int32_t *lt = malloc(1100 * sizeof *lt);
	for (int i = 0; i < 1100; i++)
		lt[i] = (int32_t)(urand() * BV);
	struct rows_seen rs0 = { 0, 0, 0, 0, lt };
	rc = llm_eval_rows(e, lt, NL, 0, 500, check_row, &rs0);
	CHECK(!rc && rs0.n == NL - 500 && rs0.first == 500 && rs0.last == NL - 1 && rs0.bad == 0,
	      "rows_batches", "rc %d rows %d (%d..%d), %d wrong", rc, rs0.n, rs0.first, rs0.last,
	      rs0.bad);
	CHECK(llm_eval_rows(e, lt, NL, 100, 0, NULL, NULL) == LLM_EINVAL, "rows_beyond_context",
	      "accepted positions past the context");
	int32_t *huge = calloc(1200, sizeof *huge);
	CHECK(llm_eval_score(&lp, &nt, e, NULL, 0, huge, 1200) == LLM_EINVAL, "score_too_long",
	      "accepted 1200 tokens in a context of 1100");
	free(huge);

	/* ---- perplexity ---- */
	enum { N = 8, NP = 2 * N + 5 };
	for (int b = 0; b < 2; b++) {
		int32_t bos = b ? 1 : -1;
		struct llm_ppl p;
		struct ppl_seen seen = { 0, 0, 0 };
		double nll = 0, nll2 = 0;
		long count = 0;
		for (int c = 0; c < NP / N; c++)
			for (int i = N / 2 + 1; i < N; i++) {
				int32_t prev = i - 1 == 0 && bos >= 0 ? bos : lt[c * N + i - 1];
				double v = blp[prev][lt[c * N + i]];
				nll -= v;
				nll2 += v * v;
				count++;
			}
		double mean = nll / count, ppl = exp(mean);
		double u = ppl * sqrt((nll2 / count - mean * mean) / (count - 1));
		rc = llm_eval_perplexity(&p, e, lt, NP, N, bos, ppl_cb, &seen);
		CHECK(!rc && p.n_chunk == 2 && p.count == count && close_rel(p.ppl, ppl, 1e-5) &&
		      close_rel(p.err, u, 1e-4),
		      b ? "perplexity_bos" : "perplexity_no_bos",
		      "rc %d chunks %zu count %lld/%ld ppl %.9g/%.9g err %.9g/%.9g", rc, p.n_chunk,
		      (long long)p.count, count, p.ppl, ppl, p.err, u);
		CHECK(seen.calls == 2 && seen.last_chunk == 2 && seen.last_ppl == p.ppl,
		      b ? "perplexity_progress_bos" : "perplexity_progress", "calls %zu, last %zu",
		      seen.calls, seen.last_chunk);
	}
	struct llm_ppl p;
	CHECK(llm_eval_perplexity(&p, e, lt, 2 * N - 1, N, 1, NULL, NULL) == LLM_EINVAL &&
	      llm_eval_perplexity(&p, e, lt, NL, 1200, 1, NULL, NULL) == LLM_EINVAL,
	      "perplexity_bad_args", "accepted fewer than 2 chunks or chunks beyond the context");
	/* one value repeated: every scored token has the same log-probability: U = 0 */
	int32_t same[2 * N];
	for (int i = 0; i < 2 * N; i++)
		same[i] = 4;
	rc = llm_eval_perplexity(&p, e, same, 2 * N, N, -1, NULL, NULL);
	CHECK(!rc && close_rel(p.ppl, exp(-blp[4][4]), 1e-5) && p.err < 1e-6 * p.ppl,
	      "perplexity_constant", "ppl %.9g want %.9g, err %g", p.ppl, exp(-blp[4][4]), p.err);

	/* ---- greedy generation ---- */
	struct llm_gen_params gp = LLM_GEN_PARAMS_INIT;
	gp.sp.temp = 0;
	gp.n_predict = 6;
	int32_t id, prompt[] = { 2, 3 };
	rc = llm_eval_gen_start(e, NULL, &gp, prompt, 2, NULL, NULL);
	int n = 0, bad = 0, last = prompt[1];
	while (!rc && (rc = llm_eval_gen_next(&id, e)) > 0) {
		const float *lg = llm_eval_gen_logits(e);
		if (id != bigram_argmax(last))
			bad++;
		llm_eval_logprob(&lp, lg, BV, id);
		if (!close_rel(lp, blp[last][id], 1e-5))
			bad++;
		last = id;
		n++;
		rc = 0;
	}
	int32_t nn;
	const int32_t *all = llm_eval_gen_tokens(e, &nn);
	CHECK(rc == 0 && n == 6 && bad == 0 && nn == 8 && all[0] == 2 && all[1] == 3 &&
	      all[7] == last && llm_eval_gen_stop(e) == LLM_GEN_LIMIT &&
	      llm_eval_gen_next(&id, e) == 0,
	      "generate_greedy_limit", "rc %d n %d bad %d tokens %d stop %d", rc, n, bad, (int)nn,
	      llm_eval_gen_stop(e));
	CHECK(llm_model_n_past(m) == 7 && llm_eval_gen_sync(e) == 0 && llm_model_n_past(m) == 8,
	      "generate_sync", "n_past %d", (int)llm_model_n_past(m));

	/* a full context: prompt of 1095, n_predict -1 stops at 1100 */
	gp.n_predict = -1;
	struct rows_seen rs1 = { 0, 0, 0, 0, lt };
	rc = llm_eval_gen_start(e, NULL, &gp, lt, 1095, check_row, &rs1);
	/* the memmove: the first prediction follows lt[1094] */
	n = 0;
	bad = 0;
	const float *lg0 = llm_eval_gen_logits(e);
	llm_eval_logprob(&lp, lg0, BV, 0);
	bad += !close_rel(lp, blp[lt[1094]][0], 1e-5);
	last = lt[1094];
	while (!rc && (rc = llm_eval_gen_next(&id, e)) > 0) {
		bad += id != bigram_argmax(last);
		last = id;
		n++;
		rc = 0;
	}
	CHECK(rc == 0 && n == 5 && bad == 0 && llm_eval_gen_stop(e) == LLM_GEN_FULL,
	      "generate_full_context", "rc %d n %d bad %d stop %d", rc, n, bad, llm_eval_gen_stop(e));
	CHECK(rs1.n == 1095 && rs1.first == 0 && rs1.bad == 0, "generate_prompt_rows",
	      "%d rows from %d, %d wrong", rs1.n, rs1.first, rs1.bad);
	test_bigram_eog(e);
	CHECK(llm_eval_gen_start(e, NULL, &gp, lt, 0, NULL, NULL) == LLM_EINVAL &&
	      llm_eval_gen_start(e, NULL, &gp, lt, 1101, NULL, NULL) == LLM_EINVAL &&
	      llm_eval_gen_next(&id, e) == LLM_EINVAL,
	      "generate_bad_prompt", "accepted an empty or too long prompt");
	free(lt);
out:
	llm_eval_free(e);
	llm_model_free(m);
	llm_ckpt_free(ck);
	unlink(path);
}

/* ================================================================ stories260K */

/* sum of log p(f[i] | f[..i]) for i in start..n-1 from one all-logits
 * evaluation of f[0..n-1) */
static double full_eval_sum(llm_model *m, const int32_t *f, size_t start, size_t n, int32_t V)
{
	float *lg = malloc((n - 1) * (size_t)V * sizeof *lg);
	double s = 0;
	if (llm_model_eval(m, f, (int)n - 1, 0, lg, 1))
		s = NAN;
	for (size_t i = start; i < n && !isnan(s); i++) {
		const float *row = lg + (i - 1) * (size_t)V;
		double mx = -INFINITY, z = 0;
		for (int32_t j = 0; j < V; j++)
			mx = row[j] > mx ? row[j] : mx;
		for (int32_t j = 0; j < V; j++)
			z += exp(row[j] - mx);
		s += row[f[i]] - mx - log(z);
	}
	free(lg);
	return s;
}

/* --kv-out's dump: metadata, tensors equal to the model's cache, and the
 * first key of layer 0 against Wk (attn_norm * rmsnorm(E[tok0])) computed
 * here (RoPE is the identity at position 0). */
static void test_kv_dump(llm_eval *e, llm_ckpt *ck, llm_model *m, const llm_tokenizer *tk,
			 const int32_t *P, size_t nP, const char *dir)
{
	const struct llm_hparams *hp = llm_model_hparams(m);
	struct llm_gen_params gp = LLM_GEN_PARAMS_INIT;
	char path[512];
	llm_gguf *g = NULL;
	int32_t id, n;
	int bad = 0;

	gp.sp.temp = 0;
	gp.n_predict = 4;
	snprintf(path, sizeof path, "%s/kv.gguf", dir);
	if (llm_eval_gen_start(e, tk, &gp, P, nP, NULL, NULL)) {
		CHECK(0, "kv_dump", "%s", llm_errmsg());
		return;
	}
	while (llm_eval_gen_next(&id, e) > 0)
		;
	const int32_t *toks = llm_eval_gen_tokens(e, &n);
	if (llm_eval_gen_write_kv(e, path, llm_ckpt_meta(ck), NULL) || llm_gguf_open(&g, path)) {
		CHECK(0, "kv_dump", "%s", llm_errmsg());
		return;
	}
	const llm_meta *md = llm_gguf_meta(g);
	const char *type = "";
	enum llm_vtype at;
	uint64_t na;
	const void *arr = NULL;
	llm_meta_get_str(md, "general.type", &type, NULL);
	bad += strcmp(type, "kv-dump") != 0 || llm_meta_int(md, "kv.n_pos", -1) != n ||
	       llm_meta_int(md, "kv.n_layer", -1) != hp->n_layer ||
	       llm_meta_int(md, "kv.n_head_kv", -1) != hp->n_head_kv ||
	       llm_meta_int(md, "kv.head_dim", -1) != hp->head_dim ||
	       llm_gguf_n_tensors(g) != 2 * hp->n_layer || llm_model_n_past(m) != n;
	if (llm_meta_get_arr(md, "kv.tokens", &at, &na, &arr) || at != LLM_V_I32 || na != (uint64_t)n ||
	    memcmp(arr, toks, (size_t)n * sizeof *toks))
		bad++;
	size_t row = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
	for (int l = 0; l < hp->n_layer && !bad; l++) {
		const float *k, *v;
		llm_model_kv(m, l, &k, &v);
		for (int kind = 0; kind < 2; kind++) {
			char name[32];
			snprintf(name, sizeof name, "kv.%d.%c", l, kind ? 'v' : 'k');
			int64_t i = llm_gguf_find_tensor(g, name);
			const struct llm_tensor_info *ti = i >= 0 ? llm_gguf_tensor(g, i) : NULL;
			bad += !ti || ti->ne[0] != hp->head_dim || ti->ne[1] != hp->n_head_kv ||
			       ti->ne[2] != n ||
			       memcmp(llm_gguf_tensor_data(g, i), kind ? v : k, row * (size_t)n * 4);
		}
	}
	CHECK(bad == 0, "kv_dump", "%d differences from the model's cache or metadata", bad);

	/* the first key, from the weights */
	int64_t E = hp->n_embd, ie = llm_ckpt_find(ck, "token_embd.weight"),
		in = llm_ckpt_find(ck, "blk.0.attn_norm.weight"), ik = llm_ckpt_find(ck, "blk.0.attn_k.weight");
	float *emb = malloc((size_t)(E * hp->n_vocab) * 4), *nw = malloc((size_t)E * 4),
	      *wk = malloc((size_t)E * row * 4);
	double worst = INFINITY, scale = 0;
	if (ie >= 0 && in >= 0 && ik >= 0 && !llm_ckpt_read_f32(ck, ie, emb) &&
	    !llm_ckpt_read_f32(ck, in, nw) && !llm_ckpt_read_f32(ck, ik, wk)) {
		const float *x = emb + (size_t)toks[0] * (size_t)E;
		const float *k0 = llm_gguf_tensor_data(g, llm_gguf_find_tensor(g, "kv.0.k"));
		double ss = 0;
		for (int64_t d = 0; d < E; d++)
			ss += (double)x[d] * x[d];
		double r = 1 / sqrt(ss / (double)E + hp->rms_eps);
		worst = 0;
		for (size_t j = 0; j < row; j++) {
			double kj = 0;
			for (int64_t d = 0; d < E; d++)
				kj += (double)wk[j * (size_t)E + (size_t)d] * nw[d] * x[d] * r;
			worst = fmax(worst, fabs(kj - k0[j]));
			scale = fmax(scale, fabs(kj));
		}
	}
	CHECK(worst <= 1e-5 * scale, "kv_dump_first_key", "max |diff| %g (scale %g)", worst, scale);
	free(emb);
	free(nw);
	free(wk);
	llm_gguf_free(g);
	unlink(path);
}

static void test_stories(const char *dir)
{
	char path[512];
	llm_ckpt *ck = NULL;
	llm_model *m = NULL;
	llm_tokenizer *tk = NULL;
	llm_eval *e = NULL;
	struct llm_model_opts mo = LLM_MODEL_OPTS_INIT;

	snprintf(path, sizeof path, "%s/models/stories260K.gguf", test_shared());
	if (access(path, R_OK) != 0) {
		SKIP("eval_stories260K", "../shared/models/stories260K.gguf is absent");
		return;
	}
	mo.n_ctx = 256;
	mo.n_threads = 2;
	if (llm_ckpt_open(&ck, path, NULL) || llm_tokenizer_open(&tk, llm_ckpt_meta(ck)) ||
	    llm_model_load(&m, ck, &mo) || llm_eval_new(&e, m)) {
		CHECK(0, "stories_open", "%s", llm_errmsg());
		goto out;
	}
	int32_t V = llm_model_hparams(m)->n_vocab;

	/* two completions of one prompt, scored one after the other (the
	 * second reuses the cached prompt), against fresh full evaluations */
	const char *prompt[] = { "Once upon a time", "Once upon a time", "Once upon a time",
				  "Once upon a time there was a girl" },
		   *comp[] = { " there was a girl", " there was a dog", ", a cat sat.", " who liked cats" };
	int32_t *P[4], *F[4];
	size_t nP[4], nF[4];
	double lp[4], ref[4];
	int64_t nt[4];
	for (int c = 0; c < 4; c++) {
		char buf[128];
		snprintf(buf, sizeof buf, "%s%s", prompt[c], comp[c]);
		llm_tokenize(tk, prompt[c], strlen(prompt[c]), 1, &P[c], &nP[c]);
		llm_tokenize(tk, buf, strlen(buf), 1, &F[c], &nF[c]);
	}
	for (int c = 0; c < 4; c++)
		if (llm_eval_score(&lp[c], &nt[c], e, P[c], nP[c], F[c], nF[c]))
			lp[c] = NAN;
	int bad = 0;
	for (int c = 0; c < 4; c++) {
		size_t start = 0;
		while (start < nP[c] && start < nF[c] && P[c][start] == F[c][start])
			start++;
		ref[c] = full_eval_sum(m, F[c], start, nF[c], V);
		bad += !(fabs(lp[c] - ref[c]) <= 1e-4) || nt[c] != (int64_t)(nF[c] - start);
	}
	llm_eval_reset(e); /* the model was used directly */
	CHECK(bad == 0, "stories_score", "%.6f %.6f %.6f %.6f, want %.6f %.6f %.6f %.6f", lp[0],
	      lp[1], lp[2], lp[3], ref[0], ref[1], ref[2], ref[3]);

	/* perplexity of a text in chunks of 16 (3 of them), each scored token
	 * against its own all-logits evaluation of the chunk up to it */
	const char *text = "Once upon a time, there was a little girl named Lily. She loved to play "
			   "outside in the park. One day, she saw a big, red ball. She wanted to "
			   "play with it, but it was too high. Lily asked her mom for help.";
	int32_t *T, bos = llm_tokenizer_bos(tk);
	size_t nT;
	llm_tokenize(tk, text, strlen(text), 1, &T, &nT);
	enum { N = 16 };
	struct llm_ppl p;
	int rc = llm_eval_perplexity(&p, e, T, nT, N, bos, NULL, NULL);
	double nll = 0, nll2 = 0;
	long count = 0;
	for (size_t c = 0; c < nT / N; c++) {
		int32_t chunk[N];
		memcpy(chunk, T + c * N, sizeof chunk);
		chunk[0] = bos;
		for (int i = N / 2 + 1; i < N; i++) {
			double v = full_eval_sum(m, chunk, (size_t)i, (size_t)i + 1, V);
			nll -= v;
			nll2 += v * v;
			count++;
		}
	}
	double ppl = exp(nll / count);
	double u = ppl * sqrt((nll2 / count - (nll / count) * (nll / count)) / (count - 1));
	CHECK(!rc && nT >= 3 * N && p.count == count && close_rel(p.ppl, ppl, 1e-6) && close_rel(p.err, u, 1e-5),
	      "stories_perplexity", "rc %d count %lld/%ld ppl %.9g/%.9g err %.9g/%.9g (%s)", rc,
	      (long long)p.count, count, p.ppl, ppl, p.err, u, rc ? llm_errmsg() : "");

	test_kv_dump(e, ck, m, tk, P[0], nP[0], dir);
	free(T);
	for (int c = 0; c < 4; c++) {
		free(P[c]);
		free(F[c]);
	}
out:
	llm_eval_free(e);
	llm_model_free(m);
	llm_tokenizer_free(tk);
	llm_ckpt_free(ck);
}

int main(void)
{
	char dir[] = "/tmp/test_eval.XXXXXX";
	test_rows();
	if (!mkdtemp(dir)) {
		CHECK(0, "tmpdir", "mkdtemp failed");
		return test_done();
	}
	test_bigram(dir);
	test_stories(dir);
	rmdir(dir);
	llm_eval_free(NULL);
	return test_done();
}
