/* test_lora.c - adapters in the library: run-time hooks against merged
 * weights (scalar double reference), the GGUF write/read round trip with
 * token_embd's flipped layout, ADAPTER[:SCALE] parsing, adding to a set
 * when memory runs out at each allocation in turn (linked with
 * --wrap=realloc,--wrap=strdup: the set must be left as it was), and the
 * real PEFT adapter in ../shared/models/peft-gptneo125m (GPT-Neo: parsed,
 * refused for a llama base). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "error.h"
#include "gguf.h"
#include "lora.h"
#include "safetensors.h"
#include "testutil.h"
#include "types.h"

/* Allocation failure on demand: the fail_in-th realloc or strdup from now
 * (0: the next) returns NULL; -1 never. */
static long fail_in = -1;
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
static int fail_now(void) { return fail_in >= 0 && fail_in-- == 0; }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }

static uint64_t rs = 12345;
static float frand(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return (float)((double)(rs >> 11) / 9007199254740992.0 * 2 - 1);
}

static float *rnd(int64_t n)
{
	float *p = malloc((size_t)n * sizeof *p);
	for (int64_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

/* A base GGUF with the given 2-D F32 weights (ne = [n_in, n_out]). */
static int write_base(const char *path, int n, const char **names, const int64_t (*ne)[2], float **w)
{
	llm_gguf_writer *g;
	int rc = llm_gguf_writer_open(&g, path);
	if (rc)
		return rc;
	llm_meta_set_str(llm_gguf_writer_meta(g), "general.architecture", "llama");
	for (int i = 0; i < n && !rc; i++)
		rc = llm_gguf_writer_add_tensor(g, names[i], LLM_TYPE_F32, 2, ne[i]);
	for (int i = 0; i < n && !rc; i++)
		rc = llm_gguf_writer_write(g, w[i], (size_t)(ne[i][0] * ne[i][1]) * sizeof(float));
	if (rc) {
		llm_gguf_writer_abort(g);
		return rc;
	}
	return llm_gguf_writer_commit(g);
}

static void test_hooks(void)
{
	const char *names[2] = { "blk.0.attn_q.weight", "token_embd.weight" };
	const int64_t ne[2][2] = { { 24, 40 }, { 16, 50 } }; /* [n_in, n_out] */
	const int64_t ranks[2] = { 3, 2 };
	char base_path[] = "/tmp/test_lora_base.XXXXXX.gguf", ad_path[] = "/tmp/test_lora_ad.XXXXXX.gguf";
	float *w[2];
	llm_lora *a = calloc(1, sizeof *a), *back = NULL;
	llm_lora_set *set = NULL;
	llm_ckpt *base = NULL;
	int fd;

	if ((fd = mkstemps(base_path, 5)) >= 0)
		close(fd);
	if ((fd = mkstemps(ad_path, 5)) >= 0)
		close(fd);
	for (int i = 0; i < 2; i++)
		w[i] = rnd(ne[i][0] * ne[i][1]);
	CHECK(write_base(base_path, 2, names, ne, w) == 0, "lora_base_written", "%s", llm_errmsg());
	CHECK(llm_ckpt_open(&base, base_path, NULL) == 0, "lora_base_open", "%s", llm_errmsg());
	if (!base)
		return;
	/* an adapter built in memory: alpha 0 so it can be written as is */
	a->path = strdup("mem");
	a->format = LLM_LORA_GGUF;
	a->permuted = 1;
	a->nt = 2;
	a->t = calloc(2, sizeof *a->t);
	for (int i = 0; i < 2; i++) {
		struct llm_lora_tensor *t = &a->t[i];
		t->name = strdup(names[i]);
		t->src = strdup(names[i]);
		t->n_in = ne[i][0], t->n_out = ne[i][1], t->r = ranks[i];
		t->a = rnd(t->r * t->n_in);
		t->b = rnd(t->n_out * t->r);
		t->scale = 1.0f;
	}
	/* write / read back: exact, token_embd flipped on disk and back */
	CHECK(llm_lora_write(a, "llama", ad_path, NULL, NULL, NULL, NULL) == 0, "lora_write", "%s", llm_errmsg());
	CHECK(llm_lora_open(&back, ad_path, NULL) == 0, "lora_reopen", "%s", llm_errmsg());
	if (back) {
		int same = back->nt == 2 && back->alpha == 0;
		for (int i = 0; same && i < 2; i++) {
			const struct llm_lora_tensor *x = llm_lora_find(back, names[i]), *y = &a->t[i];
			same = x && x->r == y->r && x->n_in == y->n_in && x->n_out == y->n_out && x->scale == 1.0f &&
			       !memcmp(x->a, y->a, (size_t)(y->r * y->n_in) * 4) &&
			       !memcmp(x->b, y->b, (size_t)(y->r * y->n_out) * 4);
		}
		CHECK(same, "lora_write_read_exact", "tensors differ after the round trip");
		llm_gguf *g = NULL;
		if (llm_gguf_open(&g, ad_path) == 0) {
			int64_t k = llm_gguf_find_tensor(g, "token_embd.weight.lora_a");
			const struct llm_tensor_info *ti = k >= 0 ? llm_gguf_tensor(g, k) : NULL;
			CHECK(ti && ti->ne[0] == 2 && ti->ne[1] == 50, "lora_token_embd_layout",
			      "token_embd.weight.lora_a should have ne = [r, n_vocab] as llama.cpp wants");
			llm_gguf_free(g);
		}
		CHECK(llm_lora_check(back, base) == 0, "lora_check_ok", "%s", llm_errmsg());
	}

	/* run time vs merged: y = (W + s B A) x, reference in double */
	const float s = 0.75f;
	CHECK(llm_lora_set_new(&set) == 0 && llm_lora_set_add(set, back, s, base) == 0, "lora_set_add", "%s",
	      llm_errmsg());
	back = NULL;
	const llm_lora_hook *hq = llm_lora_set_hook(set, names[0]), *he = llm_lora_set_hook(set, names[1]);
	CHECK(hq && he && !llm_lora_set_hook(set, "output.weight"), "lora_set_hooks", "hooks missing or spurious");
	if (hq && he) {
		const struct llm_lora_tensor *t = &a->t[0];
		int n = 3;
		float *x = rnd(n * t->n_in), *y = calloc((size_t)(n * t->n_out), sizeof *y);
		double worst = 0;
		for (int tok = 0; tok < n; tok++)
			for (int64_t o = 0; o < t->n_out; o++) {
				double acc = 0;
				for (int64_t j = 0; j < t->n_in; j++)
					acc += (double)w[0][o * t->n_in + j] * x[tok * t->n_in + j];
				y[tok * t->n_out + o] = (float)acc;
			}
		llm_lora_hook_apply(hq, x, y, n);
		for (int tok = 0; tok < n; tok++)
			for (int64_t o = 0; o < t->n_out; o++) {
				double ref = 0;
				for (int64_t j = 0; j < t->n_in; j++) {
					double wd = w[0][o * t->n_in + j];
					for (int64_t k = 0; k < t->r; k++)
						wd += s * (double)t->b[o * t->r + k] * t->a[k * t->n_in + j];
					ref += wd * x[tok * t->n_in + j];
				}
				double e = fabs(y[tok * t->n_out + o] - ref) / (fabs(ref) + 1);
				worst = e > worst ? e : worst;
			}
		CHECK(worst < 1e-5, "lora_hook_apply_vs_merged", "max error %g", worst);
		/* merged weights through llm_lora_apply_delta give the same rows */
		float *wm = malloc((size_t)(t->n_in * t->n_out) * sizeof *wm);
		memcpy(wm, w[0], (size_t)(t->n_in * t->n_out) * sizeof *wm);
		llm_lora_apply_delta(t, s, wm);
		worst = 0;
		for (int64_t o = 0; o < t->n_out; o++)
			for (int64_t j = 0; j < t->n_in; j++) {
				double ref = w[0][o * t->n_in + j];
				for (int64_t k = 0; k < t->r; k++)
					ref += s * (double)t->b[o * t->r + k] * t->a[k * t->n_in + j];
				double e = fabs(wm[o * t->n_in + j] - ref);
				worst = e > worst ? e : worst;
			}
		CHECK(worst < 1e-5, "lora_apply_delta", "max error %g", worst);
		free(wm);
		/* embedding row v of (W + s B A) */
		const struct llm_lora_tensor *te = &a->t[1];
		float row[16];
		int64_t v = 37;
		memcpy(row, w[1] + v * te->n_in, sizeof row);
		llm_lora_hook_embed(he, v, row);
		worst = 0;
		for (int64_t j = 0; j < te->n_in; j++) {
			double ref = w[1][v * te->n_in + j];
			for (int64_t k = 0; k < te->r; k++)
				ref += s * (double)te->b[v * te->r + k] * te->a[k * te->n_in + j];
			worst = fabs(row[j] - ref) > worst ? fabs(row[j] - ref) : worst;
		}
		CHECK(worst < 1e-5, "lora_hook_embed", "max error %g", worst);
		free(x);
		free(y);
	}
	/* out of memory at each allocation of an add in turn, into an empty set
	 * (new hooks) and into this one (its hooks grow): LLM_ENOMEM, and the
	 * set as before, count, hooks and their sums; then the add that
	 * succeeds */
	if (set && hq) {
		const struct llm_lora_tensor *t = &a->t[0];
		float *x = rnd(t->n_in), *y0 = calloc((size_t)t->n_out, sizeof *y0),
		      *y1 = calloc((size_t)t->n_out, sizeof *y1);
		llm_lora_hook_apply(hq, x, y0, 1);
		llm_lora_set *empty = NULL;
		CHECK(llm_lora_set_new(&empty) == 0, "lora_oom_set_new", "%s", llm_errmsg());
		for (int into = 0; empty && into < 2; into++) {
			llm_lora_set *to = into ? set : empty;
			int k, rc = -1, kept = 1;
			for (k = 0; k < 64 && rc; k++) {
				llm_lora *d = NULL;
				if (llm_lora_open(&d, ad_path, NULL))
					break;
				fail_in = k;
				rc = llm_lora_set_add(to, d, s, base);
				fail_in = -1;
				if (!rc)
					break;
				memset(y1, 0, (size_t)t->n_out * sizeof *y1);
				const llm_lora_hook *h = llm_lora_set_hook(to, names[0]);
				if (into && h)
					llm_lora_hook_apply(h, x, y1, 1);
				kept &= rc == LLM_ENOMEM && llm_lora_set_count(to) == into &&
					(into ? h == hq && !memcmp(y0, y1, (size_t)t->n_out * sizeof *y1)
					      : !h && !llm_lora_set_hook(to, names[1]));
			}
			CHECK(kept && !rc && k > 1 && llm_lora_set_count(to) == into + 1,
			      into ? "lora_set_add_oom_keeps_set" : "lora_set_add_oom_keeps_empty_set",
			      "rc %d after %d failures, kept %d", rc, k, kept);
		}
		llm_lora_set_free(empty);
		free(x);
		free(y0);
		free(y1);
	}
	/* DoRA cannot be applied at run time: refused, and the set keeps working */
	if (set) {
		llm_lora *d = NULL;
		if (llm_lora_open(&d, ad_path, NULL) == 0) {
			d->t[0].magnitude = calloc((size_t)d->t[0].n_out, sizeof(float));
			CHECK(llm_lora_set_add(set, d, 1.0f, base) == LLM_EUNSUPPORTED && llm_lora_set_count(set) == 2,
			      "lora_set_refuses_dora", "%s", llm_errmsg());
		}
	}
	/* two pairs for one base tensor (once "00" and "0" of a PEFT name):
	 * refused by the check, naming both, not the second one dropped */
	if (set) {
		llm_lora *d = NULL;
		if (llm_lora_open(&d, ad_path, NULL) == 0) {
			struct llm_lora_tensor *t0 = &d->t[0], *t1 = &d->t[1];
			size_t na = (size_t)(t0->r * t0->n_in) * sizeof(float), nb = (size_t)(t0->r * t0->n_out) * sizeof(float);
			free(t1->name), free(t1->src), free(t1->a), free(t1->b);
			*t1 = *t0;
			t1->name = strdup(t0->name);
			t1->src = strdup("second");
			t1->a = malloc(na), t1->b = malloc(nb);
			memcpy(t1->a, t0->a, na), memcpy(t1->b, t0->b, nb);
			int rc = llm_lora_check(d, base);
			CHECK(rc == LLM_EINVAL && strstr(llm_errmsg(), "two pairs for blk.0.attn_q.weight (blk.0.attn_q.weight and second)"),
			      "lora_check_refuses_two_pairs", "rc %d: %s", rc, llm_errmsg());
			CHECK(llm_lora_set_add(set, d, 1.0f, base) == LLM_EINVAL && llm_lora_set_count(set) == 2,
			      "lora_set_refuses_two_pairs", "%s", llm_errmsg());
		}
	}
	/* a user scale times alpha / r beyond float: refused, the adapter named */
	if (set) {
		llm_lora *d = NULL;
		if (llm_lora_open(&d, ad_path, NULL) == 0) {
			d->t[0].scale = 1e30f;
			int rc = llm_lora_set_add(set, d, 1e10f, base);
			CHECK(rc == LLM_EINVAL && llm_lora_set_count(set) == 2 && strstr(llm_errmsg(), ad_path) &&
			      strstr(llm_errmsg(), "beyond float"), "lora_set_refuses_scale_beyond_float", "rc %d: %s", rc,
			      llm_errmsg());
		}
	}
	CHECK(llm_lora_set_scale(set, 0) == s && llm_lora_set_scale(set, 2) == 0, "lora_set_scale", "%g %g",
	      (double)llm_lora_set_scale(set, 0), (double)llm_lora_set_scale(set, 2));
	llm_lora_set_free(set);
	llm_lora_free(a);
	llm_lora_free(back);
	llm_ckpt_free(base);
	for (int i = 0; i < 2; i++)
		free(w[i]);
	unlink(base_path);
	unlink(ad_path);
}

static void test_spec(void)
{
	static const struct {
		const char *in, *path;
		float scale;
	} c[] = {
		{ "a.gguf", "a.gguf", 1 }, { "a.gguf:0.5", "a.gguf", 0.5f }, { "-:-1", "-", -1 },
		{ "dir/x:y", "dir/x:y", 1 }, { "a.gguf:", "a.gguf:", 1 }, { ":2", ":2", 1 }, { "a:1e-1", "a", 0.1f },
	};
	int good = 1;
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char *p = NULL;
		float s = 0;
		if (llm_lora_parse_spec(c[i].in, &p, &s) || strcmp(p, c[i].path) || s != c[i].scale) {
			printf("# %s -> %s %g\n", c[i].in, p ? p : "?", s);
			good = 0;
		}
		free(p);
	}
	CHECK(good, "lora_parse_spec", "see above");
}

static void test_gptneo(void)
{
	char dir[512], st_path[600], base_path[512];
	llm_lora *a = NULL;
	llm_ckpt *base = NULL;

	snprintf(dir, sizeof dir, "%s/models/peft-gptneo125m", test_shared());
	snprintf(base_path, sizeof base_path, "%s/models/stories260K.gguf", test_shared());
	if (access(dir, R_OK) != 0) {
		SKIP("lora_peft_gptneo", "no ../shared/models/peft-gptneo125m");
		return;
	}
	CHECK(llm_lora_open(&a, dir, NULL) == 0, "lora_peft_gptneo_open", "%s", llm_errmsg());
	if (!a)
		return;
	int good = a->format == LLM_LORA_PEFT && a->nt == 24 && a->nrep == 0 && a->alpha == 1.0f && !a->dora;
	for (int64_t i = 0; good && i < a->nt; i++) {
		const struct llm_lora_tensor *t = &a->t[i];
		good = !t->name && t->r == 4 && t->n_in == 768 && t->n_out == 768 && t->scale == 0.25f &&
		       strncmp(t->src, "transformer.h.", 14) == 0 &&
		       (strstr(t->src, ".attn.attention.q_proj") || strstr(t->src, ".attn.attention.v_proj"));
	}
	CHECK(good, "lora_peft_gptneo_shapes", "24 modules of r 4, 768x768, scale alpha/r = 0.25 expected");
	/* values: lora_A of layer 0's q_proj, straight from the safetensors file */
	llm_safetensors *st = NULL;
	snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
	if (llm_safetensors_open(&st, st_path) == 0) {
		int64_t k = llm_safetensors_find(st, "base_model.model.transformer.h.0.attn.attention.q_proj.lora_A.weight");
		const struct llm_lora_tensor *t = NULL;
		for (int64_t i = 0; i < a->nt; i++)
			if (strcmp(a->t[i].src, "transformer.h.0.attn.attention.q_proj") == 0)
				t = &a->t[i];
		CHECK(k >= 0 && t && memcmp(llm_safetensors_tensor(st, k)->data, t->a, 4 * 768 * 4) == 0,
		      "lora_peft_gptneo_values", "lora_A differs from the file");
		llm_safetensors_free(st);
	}
	if (llm_ckpt_open(&base, base_path, NULL) == 0) {
		llm_lora *b = NULL;
		int rc = llm_lora_open(&b, dir, llm_ckpt_meta(base));
		rc = rc ? rc : llm_lora_check(b, base);
		CHECK(rc == LLM_EINVAL && strstr(llm_errmsg(), "transformer.h.0.attn.attention.q_proj") &&
		      strstr(llm_errmsg(), "another architecture"), "lora_peft_gptneo_refused", "rc %d: %s", rc, llm_errmsg());
		llm_lora_free(b);
		llm_ckpt_free(base);
	}
	llm_lora_free(a);
}

int main(void)
{
	test_hooks();
	test_spec();
	test_gptneo();
	return test_done();
}
