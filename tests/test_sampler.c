/* test_sampler: each step of the chain on hand-made logits, the PRNG
 * against the published xoshiro256** vector, reproducibility, and the
 * empirical distribution of many draws against softmax(logits / temp)
 * (chi-square at the 0.1 % level, fixed seeds so the test is stable). */
#include <math.h>
#include <string.h>

#include "sampler.h"
#include "testutil.h"

static void rng_tests(void)
{
	/* xoshiro256** from state {1, 2, 3, 4}: the reference implementation's outputs */
	struct llm_rng r = { { 1, 2, 3, 4 } };
	uint64_t want[4] = { 11520u, 0u, 1509978240u, 1215971899390074240ull };
	int okv = 1;
	for (int i = 0; i < 4; i++)
		okv &= llm_rng_next(&r) == want[i];
	CHECK(okv, "rng_reference_vector", "xoshiro256** differs from the reference outputs");

	/* splitmix64 seeding of 42 (values from a Python transcription) */
	llm_rng_seed(&r, 42);
	CHECK(llm_rng_next(&r) == 0x15780b2e0c2ec716ull && llm_rng_next(&r) == 0x6104d9866d113a7eull,
	      "rng_seeded_vector", "seed 42 gives other numbers");

	struct llm_rng a, b;
	llm_rng_seed(&a, 7);
	llm_rng_seed(&b, 7);
	int same = 1, inrange = 1;
	double sum = 0;
	for (int i = 0; i < 100000; i++) {
		double u = llm_rng_uniform(&a), v = llm_rng_uniform(&b);
		same &= u == v;
		inrange &= u >= 0 && u < 1;
		sum += u;
	}
	CHECK(same, "rng_same_seed", "two generators seeded 7 diverge");
	CHECK(inrange, "rng_uniform_range", "a value outside [0, 1)");
	/* mean of 1e5 uniforms: sd 0.29/sqrt(1e5) = 9.1e-4; 5 sd */
	CHECK(fabs(sum / 100000 - 0.5) < 4.6e-3, "rng_uniform_mean", "mean %g", sum / 100000);
	llm_rng_seed(&b, 8);
	llm_rng_seed(&a, 7);
	CHECK(llm_rng_next(&a) != llm_rng_next(&b), "rng_seeds_differ", "seeds 7 and 8 agree");
}

static void step_tests(void)
{
	struct llm_cand c[8];
	const float lg[6] = { 1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f };

	/* top-k: the k largest, sorted, ties by ascending id */
	llm_cand_init(c, lg, 6);
	size_t n = llm_cand_top_k(c, 6, 3, 1);
	CHECK(n == 3 && c[0].id == 1 && c[1].id == 3 && c[2].id == 2, "top_k_3",
	      "n %zu ids %d %d %d", n, c[0].id, c[1].id, c[2].id);
	llm_cand_init(c, lg, 6);
	CHECK(llm_cand_top_k(c, 6, 0, 1) == 6 && c[0].id == 0, "top_k_off", "k = 0 changed the list");
	llm_cand_init(c, lg, 6);
	n = llm_cand_top_k(c, 6, 100, 1);
	CHECK(n == 6 && c[5].id == 4, "top_k_large", "k > n: n %zu last %d", n, c[5].id);
	llm_cand_init(c, lg, 6);
	CHECK(llm_cand_top_k(c, 6, 1, 2) == 2, "top_k_min_keep", "min_keep not honoured");

	/* top-p / min-p on probabilities 0.5 0.3 0.15 0.05 (given as log p) */
	const float lp[4] = { logf(0.15f), logf(0.5f), logf(0.05f), logf(0.3f) };
	struct { float p; size_t want; } tp[] = { { 0.4f, 1 }, { 0.75f, 2 }, { 0.81f, 3 }, { 0.96f, 4 }, { 1.0f, 4 } };
	for (size_t i = 0; i < sizeof tp / sizeof tp[0]; i++) {
		char name[64];
		llm_cand_init(c, lp, 4);
		n = llm_cand_top_p(c, 4, tp[i].p, 1);
		snprintf(name, sizeof name, "top_p_%.2f", (double)tp[i].p);
		CHECK(n == tp[i].want && c[0].id == (tp[i].p < 1 ? 1 : 0), name, "kept %zu, want %zu", n, tp[i].want);
	}
	llm_cand_init(c, lp, 4);
	n = llm_cand_top_p(c, 4, 0.4f, 3);
	CHECK(n == 3, "top_p_min_keep", "kept %zu", n);
	struct { float p; size_t want; } mp[] = { { 0.5f, 2 }, { 0.29f, 3 }, { 0.09f, 4 }, { 0.0f, 4 }, { 0.9f, 1 } };
	for (size_t i = 0; i < sizeof mp / sizeof mp[0]; i++) {
		char name[64];
		llm_cand_init(c, lp, 4);
		n = llm_cand_min_p(c, 4, mp[i].p, 1);
		snprintf(name, sizeof name, "min_p_%.2f", (double)mp[i].p);
		CHECK(n == mp[i].want, name, "kept %zu, want %zu", n, mp[i].want);
	}

	/* temperature */
	llm_cand_init(c, lg, 6);
	llm_cand_temp(c, 6, 0.5f);
	CHECK(c[1].logit == 0.0f && c[4].logit == -8.0f && c[0].logit == -4.0f, "temp_divides",
	      "%g %g %g (want the logits less the largest, over T)", (double)c[1].logit, (double)c[4].logit,
	      (double)c[0].logit);
	/* a temperature so small that logit / T overflows: the maximum keeps p 1 */
	llm_cand_init(c, lg, 6);
	llm_cand_temp(c, 6, 1e-40f);
	llm_cand_softmax(c, 6);
	CHECK(c[1].p == 0.5 && c[3].p == 0.5 && c[0].p == 0 && !isnan(c[2].p), "temp_tiny_finite",
	      "p %g %g %g", c[1].p, c[3].p, c[0].p);
	/* the draw's order: by id, whatever order the filters left */
	llm_cand_init(c, lg, 6);
	llm_cand_sort(c, 6);
	llm_cand_sort_id(c, 6);
	int by_id = 1;
	for (int i = 0; i < 6; i++)
		by_id &= c[i].id == i;
	CHECK(by_id, "sort_id", "not in id order");

	/* softmax */
	llm_cand_init(c, lp, 4);
	llm_cand_softmax(c, 4);
	CHECK(fabs(c[0].p - 0.15) < 1e-7 && fabs(c[1].p - 0.5) < 1e-7, "softmax", "%g %g", c[0].p, c[1].p);

	/* penalty: > 0 divided, <= 0 multiplied, once per distinct token */
	const float pl[5] = { 2.0f, -2.0f, 0.0f, 3.0f, 1.0f };
	const int32_t hist[] = { 0, 1, 0, 2, 0, 99, -1 };
	llm_cand_init(c, pl, 5);
	llm_cand_penalty(c, 5, hist, sizeof hist / sizeof hist[0], 2.0f);
	CHECK(c[0].logit == 1.0f && c[1].logit == -4.0f && c[2].logit == 0.0f && c[3].logit == 3.0f &&
	      c[4].logit == 1.0f, "penalty",
	      "%g %g %g %g %g", (double)c[0].logit, (double)c[1].logit, (double)c[2].logit,
	      (double)c[3].logit, (double)c[4].logit);
	CHECK(c[0].p == 0 && c[1].p == 0, "penalty_marks_cleared", "p left %g %g", c[0].p, c[1].p);
}

static void sampler_tests(void)
{
	struct llm_sampler_params p = LLM_SAMPLER_PARAMS_INIT;
	const float lg[5] = { 1.0f, 4.0f, 3.9f, -1.0f, 4.0f };
	llm_sampler *s;

	CHECK(p.temp == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f &&
	      p.repeat_penalty == 1.0f && p.repeat_last_n == 64, "defaults_llama_cpp", "defaults differ");

	/* greedy: the arg-max, lowest id among equals; the penalty moves it */
	p.temp = 0;
	p.repeat_penalty = 1.1f;
	p.repeat_last_n = 2;
	llm_sampler_new(&s, 5, &p);
	int32_t g0 = llm_sampler_sample(s, lg);
	llm_sampler_accept(s, 1);
	int32_t g1 = llm_sampler_sample(s, lg);
	llm_sampler_accept(s, 4);
	int32_t g2 = llm_sampler_sample(s, lg);
	llm_sampler_accept(s, 0);
	llm_sampler_accept(s, 3); /* 1 and 4 leave the window of 2 */
	int32_t g3 = llm_sampler_sample(s, lg);
	CHECK(g0 == 1 && g1 == 4 && g2 == 2 && g3 == 1, "greedy_and_penalty_window",
	      "got %d %d %d %d, want 1 4 2 1", g0, g1, g2, g3);
	llm_sampler_free(s);

	/* a banned token (--ignore-eos) is never the pick, greedy or drawn */
	p.repeat_penalty = 1;
	llm_sampler_new(&s, 5, &p);
	int ban_ok = llm_sampler_ban(s, 1) == 0 && llm_sampler_ban(s, 4) == 0 && llm_sampler_ban(s, 5) < 0 &&
		     llm_sampler_sample(s, lg) == 2;
	llm_sampler_free(s);
	p.temp = 1, p.top_k = 0, p.top_p = 1, p.min_p = 0;
	llm_sampler_new(&s, 5, &p);
	llm_sampler_ban(s, 1);
	for (int i = 0; i < 2000; i++)
		ban_ok &= llm_sampler_sample(s, lg) != 1;
	llm_sampler_free(s);
	CHECK(ban_ok, "ban", "a banned token was picked, or an id outside the vocabulary accepted");
	p = (struct llm_sampler_params)LLM_SAMPLER_PARAMS_INIT;

	p.repeat_penalty = 0;
	CHECK(llm_sampler_new(&s, 5, &p) < 0 && !s, "bad_penalty_refused", "penalty 0 accepted");

	/* same seed, same draws; another seed, other draws */
	float big[100];
	for (int i = 0; i < 100; i++)
		big[i] = (float)sin(i * 1.7) * 2;
	struct llm_sampler_params q = LLM_SAMPLER_PARAMS_INIT;
	q.top_k = 0;
	q.top_p = 1;
	q.min_p = 0;
	q.temp = 1.5f;
	int32_t a[200], b[200], d[200];
	for (int run = 0; run < 3; run++) {
		q.seed = run == 2 ? 1235 : 1234;
		llm_sampler_new(&s, 100, &q);
		for (int i = 0; i < 200; i++)
			(run == 0 ? a : run == 1 ? b : d)[i] = llm_sampler_sample(s, big);
		llm_sampler_free(s);
	}
	CHECK(memcmp(a, b, sizeof a) == 0, "same_seed_same_draws", "draws differ");
	CHECK(memcmp(a, d, sizeof a) != 0, "other_seed_other_draws", "seeds 1234 and 1235 agree");
}

/* Draw n times with params p from logits lg (V tokens); chi-square of the
 * counts against want[] (probabilities, 0 = must never appear). */
static void dist_test(const char *name, const float *lg, int V, struct llm_sampler_params p,
		      const double *want, double crit)
{
	enum { N = 200000 };
	long cnt[16] = { 0 };
	llm_sampler *s;
	llm_sampler_new(&s, V, &p);
	for (int i = 0; i < N; i++)
		cnt[llm_sampler_sample(s, lg)]++;
	llm_sampler_free(s);
	double chi = 0;
	long stray = 0;
	for (int i = 0; i < V; i++) {
		if (want[i] == 0) {
			stray += cnt[i];
			continue;
		}
		double e = N * want[i];
		chi += (cnt[i] - e) * (cnt[i] - e) / e;
	}
	CHECK(stray == 0 && chi < crit, name, "chi-square %.2f (limit %.2f), %ld draws of excluded tokens",
	      chi, crit, stray);
}

static void softmax_t(double *out, const float *lg, int V, double t, const int *keep)
{
	double m = -INFINITY, sum = 0;
	for (int i = 0; i < V; i++)
		if (keep[i] && lg[i] > m)
			m = lg[i];
	for (int i = 0; i < V; i++)
		sum += out[i] = keep[i] ? exp((lg[i] - m) / t) : 0;
	for (int i = 0; i < V; i++)
		out[i] /= sum;
}

static void distribution_tests(void)
{
	const float lg[8] = { 0.3f, 1.2f, -0.5f, 2.0f, 0.0f, 1.9f, -2.0f, 0.7f };
	const int all[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	double want[8];
	struct llm_sampler_params p = LLM_SAMPLER_PARAMS_INIT;

	/* no truncation: softmax(logits / 0.7); 7 degrees of freedom, 0.1 %: 24.32 */
	p.top_k = 0;
	p.top_p = 1;
	p.min_p = 0;
	p.temp = 0.7f;
	p.seed = 11;
	softmax_t(want, lg, 8, 0.7, all);
	dist_test("dist_temp_0.7", lg, 8, p, want, 24.32);

	p.temp = 1.0f;
	p.seed = 12;
	softmax_t(want, lg, 8, 1.0, all);
	dist_test("dist_temp_1", lg, 8, p, want, 24.32);

	/* top-k 3 at temp 1.3: renormalized over ids 3, 5, 1; 2 dof: 13.82 */
	const int k3[8] = { 0, 1, 0, 1, 0, 1, 0, 0 };
	p.top_k = 3;
	p.temp = 1.3f;
	p.seed = 13;
	softmax_t(want, lg, 8, 1.3, k3);
	dist_test("dist_top_k_3", lg, 8, p, want, 13.82);

	/* min-p 0.3 (on temperature-1 probabilities): ids with p >= 0.3 p_max,
	 * i.e. logit >= 2.0 + ln 0.3 = 0.796: ids 3, 5, 1; then temp 0.5 */
	p.top_k = 0;
	p.min_p = 0.3f;
	p.temp = 0.5f;
	p.seed = 14;
	softmax_t(want, lg, 8, 0.5, k3);
	dist_test("dist_min_p", lg, 8, p, want, 13.82);

	/* top-p 0.8 on temperature-1 probabilities: the sorted prefix reaching 0.8 */
	double p1[8], cum = 0;
	int keep[8] = { 0 }, order[8] = { 3, 5, 1, 7, 0, 4, 2, 6 }, kept = 0;
	softmax_t(p1, lg, 8, 1.0, all);
	for (int i = 0; i < 8 && cum < 0.8; i++) {
		cum += p1[order[i]];
		keep[order[i]] = 1;
		kept++;
	}
	p.min_p = 0;
	p.top_p = 0.8f;
	p.temp = 2.0f;
	p.seed = 15;
	softmax_t(want, lg, 8, 2.0, keep);
	CHECK(kept == 4, "top_p_prefix_size", "kept %d", kept);
	dist_test("dist_top_p", lg, 8, p, want, 16.27); /* 3 dof */
}

int main(void)
{
	rng_tests();
	step_tests();
	sampler_tests();
	distribution_tests();
	return test_done();
}
