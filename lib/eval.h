/* eval.h - what a model says about token sequences: log-probabilities and
 * the most likely alternatives, scores of completions, perplexity,
 * generation through the sampler, and a dump of the KV cache it leaves.
 * The numeric half of llm-run, for any program that links libllm.
 *
 * Log-probabilities are computed in double from the raw logits, before any
 * sampling step: log p(i) = logit[i] - logsumexp(logits) (sampler.h's
 * llm_logsumexp, around the maximum).
 *
 * Perplexity follows llama-perplexity: a token stream is cut into
 * floor(n / N) chunks of N tokens; in each chunk the first token is
 * replaced by BOS (when one is given), tokens 0 .. N-2 are evaluated from
 * position 0 with an empty cache, and the tokens at chunk positions
 * N/2+1 .. N-1 are scored (from the logits of positions N/2 .. N-2), so
 * every scored token has at least N/2 tokens of context.  Over all scored
 * log-probabilities lp:  nll = -mean(lp),  PPL = exp(nll),  and the
 * uncertainty U = PPL * sqrt((mean(lp^2) - nll^2) / (count - 1)), the
 * standard error llama-perplexity prints (0 when count < 2).
 *
 * Scoring (DPO-style, as TRL tokenizes): given the tokens P of a prompt
 * and F of prompt + completion (both tokenized whole, BOS included when
 * wanted), the completion's tokens are F after the longest common prefix
 * of P and F (when the boundary merges, "a" + "b" -> "ab", the merged
 * token counts as the completion's); when that prefix is empty (no BOS,
 * empty prompt) the first token has no context and is not scored (and
 * when the prompt is not empty, its first token merging with the
 * completion's is an error: nothing would predict it).  The score is the
 * sum of their log-probabilities, each given every token before it.
 *
 * The evaluator (llm_eval) owns a logits buffer of 1 .. 512 rows (as many
 * as fit in 16 MiB) and evaluates long sequences in batches of that many
 * tokens.  It borrows the model and assumes it is the model's only user
 * between llm_eval_new and llm_eval_free: consecutive llm_eval_score calls
 * with the same context (the tokens before the first scored one) reuse
 * its KV cache, which a direct
 * llm_model_eval in between would silently invalidate (call
 * llm_eval_reset first).
 *
 * Ownership: llm_eval_new allocates, llm_eval_free releases (NULL is a
 * no-op); token arrays and logits passed in are borrowed and not kept;
 * pointers returned (logits rows, the token history) are borrowed from the
 * evaluator and valid until its next call.  Callbacks run synchronously,
 * in order, and must not call back into the same evaluator.
 */
#ifndef LLM_EVAL_H
#define LLM_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

/* ---- one row of logits (no model needed) ---- */

struct llm_logprob {
	int32_t id;
	double logprob;
};

/* out[i] = log p(i) = logits[i] - logsumexp(logits) for i < n_vocab
 * (out: n_vocab doubles).  LLM_EINVAL when n_vocab < 1. */
int llm_eval_log_softmax(double *out, const float *logits, int32_t n_vocab);

/* *out = log p(id).  LLM_EINVAL when id is outside 0 .. n_vocab-1. */
int llm_eval_logprob(double *out, const float *logits, int32_t n_vocab, int32_t id);

/* The min(k, n_vocab) most likely tokens with their log-probabilities,
 * best first, equal logits by ascending id, NaN logits counted as -inf
 * (sampler.h's order): out holds k entries.  Returns how many were written
 * (0 when k == 0 or n_vocab < 1).  No allocation: O(n_vocab log k). */
size_t llm_eval_top(struct llm_logprob *out, size_t k, const float *logits, int32_t n_vocab);

/* ---- the evaluator ---- */

typedef struct llm_eval llm_eval;

/* An evaluator over m (borrowed: must outlive it). */
int llm_eval_new(llm_eval **out, llm_model *m);
void llm_eval_free(llm_eval *e);
/* Forget what the evaluator believes the KV cache holds (after evaluating
 * with the model directly). */
void llm_eval_reset(llm_eval *e);

/* Called with the logits (n_vocab floats, borrowed for the call) after
 * token i of a sequence, i.e. the prediction of token i+1. */
typedef void (*llm_eval_row_fn)(void *ud, int i, const float *logits);

/* Evaluate toks[0..n) at positions pos .. pos+n-1 (the cache must hold
 * 0 .. pos-1) in batches; fn(ud, i, row) for every i in from .. n-1, in
 * order (batches before from only fill the cache; fn may be NULL).
 * Errors: LLM_EINVAL when pos + n exceeds the context; the model's. */
int llm_eval_rows(llm_eval *e, const int32_t *toks, int n, int pos, int from,
		  llm_eval_row_fn fn, void *ud);

/* ---- scoring ---- */

/* *logprob: the summed log-probability of the completion of prompt p in
 * f (see the top), *n_tokens: how many tokens that is (0 and 0 for an
 * empty completion).  The context (f before the row predicting the first
 * scored token) is evaluated alone, unless the previous call left exactly
 * it in the cache, then the scored rows: the result does not depend on
 * earlier calls.  LLM_EINVAL when n_f exceeds the context, or when the
 * completion merges into the first token of a prompt without BOS. */
int llm_eval_score(double *logprob, int64_t *n_tokens, llm_eval *e, const int32_t *p,
		   size_t n_p, const int32_t *f, size_t n_f);

/* ---- perplexity ---- */

struct llm_ppl {
	size_t n_chunk;   /* chunks evaluated so far */
	int64_t count;    /* tokens scored so far */
	double nll;       /* sum of -lp */
	double nll2;      /* sum of lp^2 */
	double ppl;       /* exp(nll / count) */
	double err;       /* the standard error U (see the top) */
};

/* Called after each chunk with the figures so far. */
typedef void (*llm_ppl_fn)(void *ud, const struct llm_ppl *so_far);

/* Perplexity of toks[0..n) in chunks of N tokens (3 <= N <= the model's
 * context), bos the token that starts each chunk (< 0: keep the text's
 * own first token).  fn (may be NULL) sees the running figures after each
 * chunk.  LLM_EINVAL when n < 2N (fewer than two chunks); the model's
 * errors. */
int llm_eval_perplexity(struct llm_ppl *out, llm_eval *e, const int32_t *toks, size_t n, int N,
			int32_t bos, llm_ppl_fn fn, void *ud);

/* ---- generation ---- */

struct llm_gen_params {
	struct llm_sampler_params sp;
	int32_t n_predict; /* tokens at most; -1: until end of generation or a full context */
	int ignore_eos;    /* end-of-generation tokens are never drawn (llama.cpp's --ignore-eos) */
};
#define LLM_GEN_PARAMS_INIT { LLM_SAMPLER_PARAMS_INIT, -1, 0 }

/* Why llm_eval_gen_next returned 0. */
enum {
	LLM_GEN_RUNNING = 0,
	LLM_GEN_EOG = 1,   /* an end-of-generation token was sampled (not kept) */
	LLM_GEN_LIMIT = 2, /* n_predict tokens were generated */
	LLM_GEN_FULL = 3,  /* prompt + generated tokens fill the context */
};

/* Start generating after prompt[0..n) (1 <= n <= the context): a sampler
 * with p->sp that has accepted the prompt, and the prompt evaluated.  tk
 * (borrowed until the last llm_eval_gen_next; NULL: no token ends
 * generation) says which tokens end it.  With fn, the prompt is evaluated
 * in batches and fn(ud, i, row) sees the logits after every prompt token
 * i (0 .. n-1); without, in one call for the last row only (the two
 * paths may differ in the last bits of the logits). */
int llm_eval_gen_start(llm_eval *e, const llm_tokenizer *tk, const struct llm_gen_params *p,
		       const int32_t *prompt, size_t n, llm_eval_row_fn fn, void *ud);

/* The next token: returns 1 with *id (evaluating the previous token
 * first), or 0 when generation ends (llm_eval_gen_stop says why; every
 * later call returns 0 too), or a negative error (LLM_EINVAL before a
 * successful llm_eval_gen_start). */
int llm_eval_gen_next(int32_t *id, llm_eval *e);

/* LLM_GEN_RUNNING, or why generation ended. */
int llm_eval_gen_stop(const llm_eval *e);

/* The logits (n_vocab) the last token was sampled from (before penalties
 * and truncation: pass them to llm_eval_logprob / llm_eval_top), or after
 * llm_eval_gen_start those predicting the first token. */
const float *llm_eval_gen_logits(const llm_eval *e);

/* The tokens so far: the prompt, then the generated ones (*n of them). */
const int32_t *llm_eval_gen_tokens(const llm_eval *e, int32_t *n);

/* Evaluate the last generated token if it was not, so the KV cache holds
 * every token llm_eval_gen_tokens lists (for a dump of the cache). */
int llm_eval_gen_sync(llm_eval *e);

/* Write the KV cache of every token llm_eval_gen_tokens lists (n_pos of
 * them, after llm_eval_gen_sync) to path as a GGUF, atomically ("-":
 * stdout; the caller refuses a terminal).  model_meta (borrowed, may be
 * NULL) lends general.architecture and general.name.  Layout (llm-kvstat
 * and kv.h read it):
 *
 *   metadata
 *     general.type             str  "kv-dump"
 *     general.architecture     str  the model's (when it has one)
 *     general.name             str  the model's (when it has one)
 *     kv.n_layer               u32
 *     kv.n_head                u32  query heads
 *     kv.n_head_kv             u32  K/V heads (GQA: n_head / n_head_kv queries share one)
 *     kv.head_dim              u32
 *     kv.n_pos                 u32  positions dumped: 0 .. n_pos-1 (implied; no list)
 *     kv.rope.dimension_count  u32  dims of each head that RoPE rotates
 *     kv.rope.freq_base        f32
 *     kv.tokens                arr[i32]  the token id at each position
 *   tensors, for L = 0 .. n_layer-1, in order kv.0.k, kv.0.v, kv.1.k, ...
 *     kv.L.k  F32  ne = [head_dim, n_head_kv, n_pos]   keys after RoPE (as cached,
 *                  GGUF's adjacent-pair rotation), position-major: element
 *                  (d, h, p) at (p * n_head_kv + h) * head_dim + d
 *     kv.L.v  F32  ne = [head_dim, n_head_kv, n_pos]   values, same layout
 *
 *   and every key of extra (NULL: none), e.g. provenance.h's records
 *
 * LLM_EINVAL when no token was evaluated; the model's and the writer's
 * errors (the output is then removed). */
int llm_eval_gen_write_kv(llm_eval *e, const char *path, const llm_meta *model_meta,
			  const llm_meta *extra);

#endif
