/* test_oom.c - running out of memory anywhere in the common path: open
 * ../shared/models/stories260K.gguf, read its vocabulary, tokenize a
 * prompt, load the model and evaluate the prompt, with the k-th
 * allocation the library makes (malloc, calloc, realloc, strdup,
 * aligned_alloc: linked with --wrap) failing, for every k until one run
 * makes no more allocations than k.  Each step must then return
 * LLM_ENOMEM, or succeed with the clean run's logits bit for bit (where
 * the library has a way round, as gemm.c reading A in place without its
 * aligned copy); never crash; and everything opened must free cleanly
 * (check-asan runs this under LeakSanitizer). */
#include <string.h>

#include "ckpt.h"
#include "error.h"
#include "model.h"
#include "testutil.h"
#include "tokenizer.h"

static long fail_in = -1, calls;
static int failed;
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__real_aligned_alloc(size_t a, size_t n);
static int fail_now(void)
{
	calls++;
	if (fail_in >= 0 && fail_in-- == 0)
		return failed = 1;
	return 0;
}
void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return fail_now() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return fail_now() ? NULL : __real_aligned_alloc(a, n); }

/* One run with the k-th allocation failing (k < 0: none); the first error
 * code, 0 for a clean run. */
static float logits[512], clean[512];

static int run(const char *path, long k)
{
	llm_ckpt *c = NULL;
	llm_tokenizer *tk = NULL;
	llm_model *m = NULL;
	int32_t *ids = NULL;
	size_t n = 0;
	struct llm_model_opts o = LLM_MODEL_OPTS_INIT;
	o.n_threads = 1;
	fail_in = k, failed = 0;
	int rc = llm_ckpt_open(&c, path, NULL);
	if (!rc)
		rc = llm_tokenizer_open(&tk, llm_ckpt_meta(c));
	if (!rc)
		rc = llm_tokenize(tk, "Once upon a time", 16, LLM_TOKENIZE_BOS, &ids, &n);
	if (!rc)
		rc = llm_model_load(&m, c, &o);
	if (!rc && llm_model_hparams(m)->n_vocab > 512)
		rc = LLM_EINVAL; /* not stories260K */
	if (!rc)
		rc = llm_model_eval(m, ids, (int)n, 0, logits, 0);
	fail_in = -1;
	free(ids);
	llm_model_free(m);
	llm_tokenizer_free(tk);
	llm_ckpt_free(c);
	return rc;
}

int main(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/models/stories260K.gguf", test_shared());
	FILE *f = fopen(path, "rb");
	if (!f) {
		SKIP("oom_every_allocation", "../shared/models/stories260K.gguf absent");
		return test_done();
	}
	fclose(f);
	calls = 0;
	int rc = run(path, -1);
	long total = calls;
	memcpy(clean, logits, sizeof clean);
	CHECK(rc == 0 && total > 0, "oom_clean_run", "rc %d (%s), %ld allocations", rc, llm_errmsg(), total);
	long bad = 0, first = -1, silent = 0, around = 0;
	int first_rc = 0;
	for (long k = 0; k < total; k++) {
		memset(logits, 0, sizeof logits);
		rc = run(path, k);
		if (failed && rc == 0 && memcmp(logits, clean, sizeof clean))
			silent++; /* an allocation failed, nobody said so, and the result is wrong */
		else if (failed && rc == 0)
			around++;
		else if (failed && rc != LLM_ENOMEM) {
			if (first < 0)
				first = k, first_rc = rc;
			bad++;
		}
	}
	CHECK(bad == 0, "oom_every_allocation_enomem", "%ld of %ld failures gave another code (first: allocation %ld, rc %d: %s)",
	      bad, total, first, first_rc, llm_errmsg());
	CHECK(silent == 0, "oom_never_wrong", "%ld of %ld failed allocations ended in success with other logits",
	      silent, total);
	printf("# %ld allocations; %ld failures gone round with the same logits\n", total, around);
	return test_done();
}
