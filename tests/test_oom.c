/* test_oom.c - running out of memory anywhere on the common paths, with
 * the k-th allocation the library makes (malloc, calloc, realloc, strdup,
 * aligned_alloc: linked with --wrap) failing, for every k until a run
 * makes no more allocations than k:
 *   gguf     open ../shared/models/stories260K.gguf, read its vocabulary,
 *            tokenize a prompt, load the model, evaluate the prompt;
 *   llama2c  the same from stories260K.bin with tok512.bin;
 *   hf       the same from stories260K-hf (vocabulary from the GGUF);
 *   quant    llm_convert of the GGUF to Q8_0 with a report;
 *   peft     llm_lora_open of ../shared/models/peft-gptneo125m (safetensors
 *            and JSON; the result: a hash of every tensor's name and values);
 *   svd      llm_svd_delta of that Q8_0 file against the GGUF, rank 4;
 *   merge    llm_lora_merge of that adapter (opened by llm_lora_open) into
 *            the GGUF, written as Q8_0, with a report;
 *   gen      greedy generation of 8 tokens after the prompt (llm_eval_gen_*)
 *            and the KV cache written (llm_eval_gen_write_kv);
 *   kvstat   llm_kv_dump_stats of that dump, per head;
 *   vocab-*  each ../shared/vocab/ggml-vocab-*.gguf: the tokenizer built
 *            from it and a text with accents, CJK, digits and whitespace
 *            runs tokenized (the file itself is opened once, outside the
 *            failures: its strings are 64k-260k allocations).
 * Each run must give LLM_ENOMEM, or succeed with the clean run's logits
 * (or output file) bit for bit where the library has a way round (gemm.c
 * reads A in place without its aligned copy); never crash; leave no
 * output file behind a failure; and free everything it opened (check-asan
 * runs this under LeakSanitizer). */
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "convert.h"
#include "error.h"
#include "eval.h"
#include "kv.h"
#include "lora.h"
#include "model.h"
#include "svd.h"
#include "testutil.h"
#include "tokenizer.h"
#include "types.h"

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

enum { GGUF, LLAMA2C, HF, QUANT, PEFT, SVD, MERGE, GEN, KVSTAT, VOCAB, N_SCEN = VOCAB + 6 };
static const char *const scen_name[N_SCEN] = { "gguf", "llama2c", "hf", "quant", "peft", "svd", "merge", "gen", "kvstat",
					       "vocab-llama-spm", "vocab-phi-3", "vocab-gpt-2",
					       "vocab-starcoder", "vocab-falcon", "vocab-deepseek-coder" };
static llm_ckpt *vocab; /* the open vocabulary of a vocab-* run */
static char paths[N_SCEN][600], tok[2][600], outdir[] = "/tmp/test_oom.XXXXXX", out[600], tuned[600], dump[600], adapter[600];

/* The result of a run: the prompt's last logits, or the output file. */
static unsigned char result[1 << 20], clean[1 << 20];
static size_t result_len, clean_len;
static int32_t gen_toks[64], n_gen; /* gen: the tokens (the dump is the result) */

static int slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	result_len = fread(result, 1, sizeof result, f);
	int big = fgetc(f) != EOF;
	fclose(f);
	return big ? -1 : 0;
}

/* Write the result's first len bytes to path: 0, or LLM_EIO. */
static int spill(const char *path, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(result, 1, len, f) == len;
	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : LLM_EIO;
}

/* FNV-1a over n bytes into result's first 8. */
static void hash_into(const void *p, size_t n)
{
	uint64_t h;
	memcpy(&h, result, 8);
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
	memcpy(result, &h, 8);
}

/* Files in outdir but the inputs made along the way (a failed write must leave none:
 * no output, no temp). */
static int files_left(void)
{
	DIR *d = opendir(outdir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.' && strcmp(e->d_name, "tuned.gguf") && strcmp(e->d_name, "kv.gguf") &&
		     strcmp(e->d_name, "adapter.gguf");
	if (d)
		closedir(d);
	return n;
}

/* One run of scenario s with the k-th allocation failing (k < 0: none);
 * its error code, 0 for success. */
static int run(int s, long k)
{
	llm_ckpt *c = NULL;
	llm_tokenizer *tk = NULL;
	llm_model *m = NULL;
	int32_t *ids = NULL;
	size_t n = 0;
	struct llm_ckpt_opts co = LLM_CKPT_OPTS_INIT;
	struct llm_model_opts mo = LLM_MODEL_OPTS_INIT;
	struct llm_convert_opts cv = LLM_CONVERT_OPTS_INIT;
	struct llm_convert_report *rep = NULL;
	struct llm_svd_delta_opts so = LLM_SVD_DELTA_OPTS_INIT;
	struct llm_svd_delta_report *srep = NULL;
	llm_ckpt *t = NULL;
	llm_lora *a = NULL;
	llm_eval *e = NULL;
	struct llm_kv_stat *kst = NULL;
	struct llm_lora_merge_opts mgo = LLM_LORA_MERGE_OPTS_INIT;
	struct llm_lora_merge_report *mrep = NULL;
	struct llm_kv_dump_info kinfo;
	struct llm_kv_stat_opts ko = LLM_KV_STAT_OPTS_INIT;
	struct llm_gen_params gp = LLM_GEN_PARAMS_INIT;
	int64_t n_rep = 0;
	mo.n_threads = 1;
	cv.type = LLM_TYPE_Q8_0;
	co.tokenizer = s == LLAMA2C ? tok[0] : s == HF ? tok[1] : NULL;
	result_len = 0;
	fail_in = k, failed = 0;
	so.rank = 4;
	int rc = 0;
	if (s >= VOCAB) {
		const char *text = "Hello world! 12345 \xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9 "
				   "\xe4\xbd\xa0\xe5\xa5\xbd\n\t  x"; /* ünïcödé 你好 */
		rc = llm_tokenizer_open(&tk, llm_ckpt_meta(vocab));
		if (!rc)
			rc = llm_tokenize(tk, text, strlen(text), LLM_TOKENIZE_BOS, &ids, &n);
		if (!rc && n * sizeof *ids <= sizeof result)
			memcpy(result, ids, n * sizeof *ids), result_len = n * sizeof *ids;
	} else
		rc = s == PEFT ? llm_lora_open(&a, paths[s], NULL) : llm_ckpt_open(&c, paths[s], &co);
	if (s == QUANT) {
		if (!rc)
			rc = llm_convert(c, out, &cv, &rep, &n_rep);
	} else if (s >= VOCAB) {
		/* done above */
	} else if (s == KVSTAT) {
		ko.per_head = 1;
		if (!rc)
			rc = llm_kv_dump_stats(&kst, &n_rep, &kinfo, c, &ko);
		memset(result, 0, 8);
		for (int64_t i = 0; !rc && i < n_rep; i++) { /* field by field: not the padding */
			const struct llm_kv_stat *r = &kst[i];
			const int64_t iv[] = { r->layer, r->kind, r->head, r->n_pos, r->width, r->rank90, r->rank99 };
			const double dv[] = { r->rms, r->norm_mean, r->norm_max, r->outlier_frac, r->rmse_q8_0,
					      r->rmse_q4_0, r->rmse_kivi4, r->rmse_kivi2, r->zstd_raw, r->zstd_grouped };
			hash_into(iv, sizeof iv);
			hash_into(dv, sizeof dv);
		}
		result_len = 8;
	} else if (s == PEFT) {
		memset(result, 0, 8);
		for (int64_t i = 0; !rc && i < a->nt; i++) {
			const struct llm_lora_tensor *x = &a->t[i];
			hash_into(x->src, strlen(x->src));
			hash_into(x->a, (size_t)(x->r * x->n_in) * sizeof(float));
			hash_into(x->b, (size_t)(x->n_out * x->r) * sizeof(float));
		}
		result_len = 8;
	} else if (s == MERGE) {
		const float one = 1.0f;
		mgo.type = LLM_TYPE_Q8_0;
		if (!rc)
			rc = llm_lora_open(&a, adapter, llm_ckpt_meta(c));
		if (!rc)
			rc = llm_lora_merge(c, &a, &one, 1, out, &mgo, &mrep, &n_rep);
	} else if (s == SVD) {
		if (!rc)
			rc = llm_ckpt_open(&t, tuned, NULL);
		if (!rc)
			rc = llm_svd_delta(c, t, &so, out, &srep, &n_rep);
	} else {
		if (!rc)
			rc = llm_tokenizer_open(&tk, llm_ckpt_meta(c));
		if (!rc)
			rc = llm_tokenize(tk, "Once upon a time", 16, LLM_TOKENIZE_BOS, &ids, &n);
		if (!rc)
			rc = llm_model_load(&m, c, &mo);
		if (!rc && llm_model_hparams(m)->n_vocab * sizeof(float) > sizeof result)
			rc = LLM_EINVAL; /* not stories260K */
		if (!rc && s == GEN) {
			int32_t id, nt = 0;
			gp.sp.temp = 0;
			gp.n_predict = 8;
			rc = llm_eval_new(&e, m);
			if (!rc)
				rc = llm_eval_gen_start(e, tk, &gp, ids, n, NULL, NULL);
			while (!rc && (rc = llm_eval_gen_next(&id, e)) == 1)
				rc = 0;
			if (!rc)
				rc = llm_eval_gen_sync(e);
			if (!rc)
				rc = llm_eval_gen_write_kv(e, out, llm_ckpt_meta(c), NULL);
			const int32_t *all = rc ? NULL : llm_eval_gen_tokens(e, &nt);
			if (all) /* every token, kept after the dump's bytes (below) */
				memcpy(gen_toks, all, (size_t)(n_gen = nt < 64 ? nt : 64) * sizeof *all);
		} else if (!rc) {
			rc = llm_model_eval(m, ids, (int)n, 0, (float *)result, 0);
			result_len = (size_t)llm_model_hparams(m)->n_vocab * sizeof(float);
		}
	}
	fail_in = -1;
	free(kst);
	llm_lora_merge_report_free(mrep, s == MERGE ? n_rep : 0);
	llm_eval_free(e);
	llm_svd_delta_report_free(srep, s == SVD ? n_rep : 0);
	llm_lora_free(a);
	llm_ckpt_free(t);
	llm_convert_report_free(rep, s == QUANT ? n_rep : 0);
	free(ids);
	llm_model_free(m);
	llm_tokenizer_free(tk);
	llm_ckpt_free(c);
	if ((s == QUANT || s == SVD || s == MERGE || s == GEN) && !rc && slurp(out))
		rc = LLM_EIO;
	if (s == SVD && !rc && k < 0) /* the clean adapter, for merge */
		rc = spill(adapter, result_len);
	if (s == GEN && !rc && k < 0) /* the clean dump, for kvstat */
		rc = spill(dump, result_len);
	if (s == GEN && !rc && result_len + sizeof gen_toks <= sizeof result) {
		memcpy(result + result_len, gen_toks, (size_t)n_gen * sizeof *gen_toks);
		result_len += (size_t)n_gen * sizeof *gen_toks;
	}
	unlink(out);
	return rc;
}

int main(void)
{
	const char *sh = test_shared();
	snprintf(paths[GGUF], sizeof paths[GGUF], "%s/models/stories260K.gguf", sh);
	snprintf(paths[LLAMA2C], sizeof paths[LLAMA2C], "%s/models/stories260K.bin", sh);
	snprintf(paths[HF], sizeof paths[HF], "%s/models/stories260K-hf", sh);
	snprintf(paths[QUANT], sizeof paths[QUANT], "%s/models/stories260K.gguf", sh);
	snprintf(paths[PEFT], sizeof paths[PEFT], "%s/models/peft-gptneo125m", sh);
	snprintf(paths[SVD], sizeof paths[SVD], "%s/models/stories260K.gguf", sh);
	snprintf(paths[GEN], sizeof paths[GEN], "%s/models/stories260K.gguf", sh);
	snprintf(paths[MERGE], sizeof paths[MERGE], "%s/models/stories260K.gguf", sh);
	snprintf(tok[0], sizeof tok[0], "%s/models/tok512.bin", sh);
	snprintf(tok[1], sizeof tok[1], "%s/models/stories260K.gguf", sh);
	if (access(paths[GGUF], R_OK) || access(paths[LLAMA2C], R_OK) || access(paths[HF], R_OK) ||
	    access(tok[0], R_OK) || access(paths[PEFT], R_OK)) {
		SKIP("oom", "../shared/models (stories260K.gguf, .bin, -hf, tok512.bin, peft-gptneo125m) absent");
		return test_done();
	}
	if (!mkdtemp(outdir)) {
		SKIP("oom", "cannot make a directory in /tmp");
		return test_done();
	}
	snprintf(out, sizeof out, "%s/out.gguf", outdir);
	snprintf(tuned, sizeof tuned, "%s/tuned.gguf", outdir);
	snprintf(dump, sizeof dump, "%s/kv.gguf", outdir);
	snprintf(adapter, sizeof adapter, "%s/adapter.gguf", outdir);
	snprintf(paths[KVSTAT], sizeof paths[KVSTAT], "%s", dump);
	for (int s = 0; s < N_SCEN; s++) {
		if (s >= VOCAB) {
			char vp[600];
			snprintf(vp, sizeof vp, "%s/vocab/ggml-%s.gguf", sh, scen_name[s]);
			llm_ckpt_free(vocab);
			vocab = NULL;
			if (llm_ckpt_open(&vocab, vp, NULL)) {
				printf("skip oom_%s: %s\n", scen_name[s], llm_errmsg());
				continue;
			}
		}
		if (s == SVD) { /* the Q8_0 file as the fine-tune */
			if (run(QUANT, -1) || spill(tuned, result_len)) {
				CHECK(0, "oom_svd_tuned_written", "%s", llm_errmsg());
				break;
			}
		}
		char name[64];
		calls = 0;
		int rc = run(s, -1);
		long total = calls;
		memcpy(clean, result, result_len);
		clean_len = result_len;
		snprintf(name, sizeof name, "oom_%s_clean_run", scen_name[s]);
		CHECK(rc == 0 && total > 0 && clean_len > 0, name, "rc %d (%s), %ld allocations", rc, llm_errmsg(),
		      total);
		long bad = 0, first = -1, wrong = 0, around = 0, left = 0;
		int first_rc = 0;
		char first_msg[256] = "";
		for (long k = 0; !rc && k < total; k++) {
			int r = run(s, k);
			left += files_left() > 0;
			if (failed && r == 0 && (result_len != clean_len || memcmp(result, clean, clean_len)))
				wrong++; /* an allocation failed, nobody said so, and the result differs */
			else if (failed && r == 0)
				around++;
			else if (failed && r != LLM_ENOMEM && bad++ == 0) {
				first = k, first_rc = r;
				snprintf(first_msg, sizeof first_msg, "%s", llm_errmsg());
			}
		}
		snprintf(name, sizeof name, "oom_%s_enomem", scen_name[s]);
		CHECK(bad == 0, name, "%ld of %ld failures gave another code (first: allocation %ld, rc %d: %s)",
		      bad, total, first, first_rc, first_msg);
		snprintf(name, sizeof name, "oom_%s_never_wrong", scen_name[s]);
		CHECK(wrong == 0, name, "%ld of %ld failed allocations ended in success with another result",
		      wrong, total);
		snprintf(name, sizeof name, "oom_%s_leaves_no_file", scen_name[s]);
		CHECK(left == 0, name, "%ld runs left a file in %s", left, outdir);
		printf("# %s: %ld allocations; %ld failures gone round with the same result\n", scen_name[s], total,
		       around);
	}
	llm_ckpt_free(vocab);
	unlink(dump);
	unlink(adapter);
	unlink(tuned);
	rmdir(outdir);
	return test_done();
}
