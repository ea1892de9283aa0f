/* sampler.h - choosing the next token from a row of logits.
 *
 * The chain, in llama.cpp's default order (common_sampler: penalties,
 * top-k, top-p, min-p, temperature, then the draw), each step a no-op at
 * its "off" value:
 *
 *   1. repetition penalty  every distinct token among the last
 *                          repeat_last_n accepted tokens (prompt included)
 *                          has its logit divided by repeat_penalty when
 *                          > 0 and multiplied by it when <= 0 (once per
 *                          token, however often it occurred).  Off: 1.0.
 *   2. top-k               keep the k largest logits.  Off: k <= 0.
 *   3. top-p (nucleus)     softmax over what is left (at temperature 1),
 *                          keep the smallest prefix of the sorted tokens
 *                          whose probabilities sum to >= top_p.  Off: >= 1.
 *   4. min-p               keep tokens with p >= min_p * p_max (same
 *                          temperature-1 probabilities).  Off: <= 0.
 *   5. temperature         divide the remaining logits by temp (after
 *                          subtracting the largest, which changes no
 *                          probability and keeps a tiny temp finite).
 *   6. draw                softmax, one uniform draw u in [0, 1) from the
 *                          PRNG, the first token whose cumulative
 *                          probability passes u, the candidates taken in
 *                          id order (so a filter that removes nothing
 *                          changes no seeded result).
 * Banned tokens (llm_sampler_ban: end-of-generation ones under
 * --ignore-eos, as llama.cpp bans them) have their logits set to -inf
 * before step 1.  At least one token always survives steps 2-4.  temp <= 0 is greedy: the
 * arg-max after the penalty (the lowest id among equal maxima), no draw.
 * Ties among equal logits are ordered by ascending id, so results do not
 * depend on the sort routine.
 *
 * Randomness comes from xoshiro256** seeded through splitmix64 (no rand()):
 * the same seed, parameters, logits and history give the same tokens on
 * every platform.  Probabilities are computed in double.
 *
 * Defaults (LLM_SAMPLER_PARAMS_INIT) are llama.cpp's: temp 0.8, top-k 40,
 * top-p 0.95, min-p 0.05, repeat_penalty 1.0 (off), repeat_last_n 64.
 *
 * Ownership: llm_sampler_new() allocates, llm_sampler_free() releases
 * (NULL is a no-op); logits passed in are borrowed and never modified.
 */
#ifndef LLM_SAMPLER_H
#define LLM_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

/* ---- PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64 ---- */

struct llm_rng {
	uint64_t s[4];
};
void llm_rng_seed(struct llm_rng *r, uint64_t seed);
uint64_t llm_rng_next(struct llm_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double llm_rng_uniform(struct llm_rng *r);

/* ---- the steps, on a candidate list (for tests and custom chains) ---- */

struct llm_cand {
	int32_t id;
	float logit;
	double p; /* filled by llm_cand_softmax */
};

/* Candidates 0..n_vocab-1 from logits, in id order. */
void llm_cand_init(struct llm_cand *c, const float *logits, int32_t n_vocab);
/* Sort by descending logit, ties by ascending id. */
void llm_cand_sort(struct llm_cand *c, size_t n);
/* p = softmax(logit) over the n candidates (double).  Order unchanged. */
void llm_cand_softmax(struct llm_cand *c, size_t n);
/* Step 1 on candidates still in id order (c[i].id == i): hist holds the
 * last n_hist accepted tokens (ids outside 0..n-1 are ignored). */
void llm_cand_penalty(struct llm_cand *c, size_t n, const int32_t *hist, size_t n_hist,
		      float penalty);
/* Steps 2-4: reorder c (sorted descending afterwards) and return the new n.
 * min_keep (>= 1) candidates always survive. */
size_t llm_cand_top_k(struct llm_cand *c, size_t n, int32_t k, size_t min_keep);
size_t llm_cand_top_p(struct llm_cand *c, size_t n, float p, size_t min_keep);
size_t llm_cand_min_p(struct llm_cand *c, size_t n, float p, size_t min_keep);
/* Step 5: logit = (logit - max logit) / temp (temp > 0). */
void llm_cand_temp(struct llm_cand *c, size_t n, float temp);
/* Candidates by ascending id (the order of step 6's draw). */
void llm_cand_sort_id(struct llm_cand *c, size_t n);
/* Step 6: softmax and a draw with u in [0, 1); returns the chosen id. */
int32_t llm_cand_draw(struct llm_cand *c, size_t n, double u);

/* ---- scoring ---- */

/* log(sum_i exp(x[i])) in double, computed around the maximum (-inf when
 * every x[i] is -inf).  log p(i) = x[i] - llm_logsumexp(x, n). */
double llm_logsumexp(const float *x, int32_t n);

/* ---- the sampler ---- */

struct llm_sampler_params {
	float temp;            /* <= 0: greedy */
	int32_t top_k;         /* <= 0: off */
	float top_p;           /* >= 1: off */
	float min_p;           /* <= 0: off */
	float repeat_penalty;  /* 1: off */
	int32_t repeat_last_n; /* tokens of history the penalty looks at; 0: off */
	uint64_t seed;
};
#define LLM_SAMPLER_PARAMS_INIT { 0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0 }

typedef struct llm_sampler llm_sampler;

/* A sampler for a vocabulary of n_vocab logits. LLM_EINVAL on bad params
 * (n_vocab < 1, top_p or min_p not finite, repeat_penalty <= 0,
 * repeat_last_n < 0). */
int llm_sampler_new(llm_sampler **out, int32_t n_vocab, const struct llm_sampler_params *p);
void llm_sampler_free(llm_sampler *s);

/* Never draw token id (its logit counts as -inf; greedy skips it too
 * unless every token is banned).  LLM_EINVAL outside the vocabulary,
 * LLM_ENOMEM. */
int llm_sampler_ban(llm_sampler *s, int32_t id);
/* Append a token to the penalty history (prompt tokens and every chosen
 * token; llm_sampler_sample does not do it by itself). */
void llm_sampler_accept(llm_sampler *s, int32_t id);
/* Forget the history and reseed. */
void llm_sampler_reset(llm_sampler *s, uint64_t seed);

/* Choose the next token from n_vocab logits (borrowed, unchanged). */
int32_t llm_sampler_sample(llm_sampler *s, const float *logits);

#endif
