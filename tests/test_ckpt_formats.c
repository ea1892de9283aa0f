/* test_ckpt_formats.c - the Hugging Face and llama2.c backends of
 * llm_ckpt_open against llama.cpp's own stories260K.gguf (same weights:
 * every tensor must be byte-identical), a sharded HF directory built here,
 * and malformed inputs (each must fail with a one-line message naming the
 * file, never crash).
 *
 * Also a helper for tests/t_formats.sh:
 *   test_ckpt_formats --dump CKPT OUTDIR [TOKENIZER]
 * writes OUTDIR/list.tsv (name, type, ne...) and OUTDIR/<name>.bin (bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "error.h"
#include "meta.h"
#include "safetensors.h"
#include "testutil.h"
#include "types.h"

static char tmpdir[256];
static char models[512];

/* ------------------------------------------------------------------ */
/* small file helpers                                                  */

static char *tpath(const char *name)
{
	static char buf[8][600];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
	return p;
}

static int write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;
	if (!f)
		return -1;
	ok = fwrite(data, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long sz;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz + 1)) && fread(buf, 1, (size_t)sz, f) == (size_t)sz) {
		*n = (size_t)sz;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* A safetensors file written by hand: 8-byte length, JSON, data. */
struct tspec {
	const char *name, *dtype;
	int nd;
	int64_t shape[4];
	const void *data;
	size_t size;
};

/* hdr_extra: spaces appended to the JSON (0 -> padded to a multiple of 8,
 * as the Python writer does; an odd count misaligns the data). */
static int write_st(const char *path, const struct tspec *ts, int n, int hdr_extra)
{
	size_t cap = 4096 + (size_t)n * 256, len = 0, off = 0;
	char *h = malloc(cap);
	uint64_t hl;
	FILE *f;
	int rc = 0;

	len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (int i = 0; i < n; i++) {
		len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", ts[i].name,
					ts[i].dtype);
		for (int d = 0; d < ts[i].nd; d++)
			len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "",
						(long long)ts[i].shape[d]);
		len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off,
					off + ts[i].size);
		off += ts[i].size;
	}
	len += (size_t)snprintf(h + len, cap - len, "}");
	if (hdr_extra == 0)
		while (len % 8)
			h[len++] = ' ';
	else
		for (int i = 0; i < hdr_extra; i++)
			h[len++] = ' ';
	hl = len;
	if (!(f = fopen(path, "wb"))) {
		free(h);
		return -1;
	}
	rc |= fwrite(&hl, 8, 1, f) != 1;
	rc |= fwrite(h, 1, len, f) != len;
	for (int i = 0; i < n; i++)
		rc |= ts[i].size && fwrite(ts[i].data, 1, ts[i].size, f) != ts[i].size;
	rc |= fclose(f) != 0;
	free(h);
	return rc ? -1 : 0;
}

/* Raw safetensors bytes: length prefix + given header + data. */
static int write_st_raw(const char *path, const char *hdr, uint64_t hlen, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;
	if (!f)
		return -1;
	rc |= fwrite(&hlen, 8, 1, f) != 1;
	rc |= fwrite(hdr, 1, strlen(hdr), f) != strlen(hdr);
	rc |= n && fwrite(data, 1, n, f) != n;
	return fclose(f) || rc ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* comparisons                                                         */

static int kv_equal(const struct llm_kv *a, const struct llm_kv *b)
{
	enum llm_vtype t;
	if (!a || !b || a->type != b->type || a->n != b->n)
		return 0;
	if (a->type == LLM_V_ARR && a->atype != b->atype)
		return 0;
	t = a->type == LLM_V_ARR ? a->atype : a->type;
	if (t == LLM_V_STR) {
		const struct llm_str *x = a->data, *y = b->data;
		for (uint64_t i = 0; i < a->n; i++)
			if (x[i].len != y[i].len || memcmp(x[i].s, y[i].s, x[i].len))
				return 0;
		return 1;
	}
	return memcmp(a->data, b->data, a->n * llm_vtype_size(t)) == 0;
}

/* Every tensor of ref, byte for byte; output.weight absent in got (tied)
 * is compared with got's token_embd.  Returns the number of mismatches;
 * *ncmp counts compared tensors. */
static int compare_tensors(llm_ckpt *got, llm_ckpt *ref, int *ncmp, char *first, size_t fn)
{
	int bad = 0;
	*ncmp = 0;
	first[0] = 0;
	for (int64_t i = 0; i < llm_ckpt_n_tensors(ref); i++) {
		const struct llm_tensor_info *r = llm_ckpt_tensor(ref, i), *g;
		const void *rd, *gd;
		int64_t j = llm_ckpt_find(got, r->name);
		int ok;

		if (j < 0 && strcmp(r->name, "output.weight") == 0)
			j = llm_ckpt_find(got, "token_embd.weight");
		if (j < 0) {
			if (!bad++)
				snprintf(first, fn, "%s missing", r->name);
			continue;
		}
		g = llm_ckpt_tensor(got, j);
		ok = g->type == r->type && g->n_dims == r->n_dims && g->size == r->size &&
		     memcmp(g->ne, r->ne, sizeof g->ne) == 0;
		ok = ok && llm_ckpt_data(ref, i, &rd) == 0 && llm_ckpt_data(got, j, &gd) == 0 &&
		     memcmp(rd, gd, r->size) == 0;
		if (!ok && !bad++)
			snprintf(first, fn, "%s differs (type %d/%d ne %lld,%lld / %lld,%lld)", r->name, g->type,
				 r->type, (long long)g->ne[0], (long long)g->ne[1], (long long)r->ne[0],
				 (long long)r->ne[1]);
		llm_ckpt_release(got, j);
		(*ncmp)++;
	}
	for (int64_t j = 0; j < llm_ckpt_n_tensors(got); j++)
		if (llm_ckpt_find(ref, llm_ckpt_tensor(got, j)->name) < 0) {
			if (!bad++)
				snprintf(first, fn, "extra tensor %s", llm_ckpt_tensor(got, j)->name);
		}
	return bad;
}

static void check_tensors(const char *tag, llm_ckpt *got, llm_ckpt *ref, int want_n)
{
	char first[256], name[128];
	int n, bad = compare_tensors(got, ref, &n, first, sizeof first);
	snprintf(name, sizeof name, "%s_tensors_equal", tag);
	CHECK(bad == 0 && n == want_n, name, "%d mismatches of %d compared (want %d): %s", bad, n, want_n, first);
}

/* Hyper-parameter keys common to both: equal values. */
static void check_hparams(const char *tag, llm_ckpt *got, llm_ckpt *ref)
{
	static const char *keys[] = {
		"general.architecture", "llama.embedding_length", "llama.feed_forward_length",
		"llama.block_count", "llama.attention.head_count", "llama.attention.head_count_kv",
		"llama.rope.dimension_count", "llama.attention.layer_norm_rms_epsilon",
	};
	const llm_meta *g = llm_ckpt_meta(got), *r = llm_ckpt_meta(ref);
	char name[128];
	const char *bad = NULL;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!kv_equal(llm_meta_get(g, keys[i]), llm_meta_get(r, keys[i])))
			bad = bad ? bad : keys[i];
	snprintf(name, sizeof name, "%s_hparams_equal", tag);
	CHECK(!bad, name, "%s differs", bad);
	/* stories260K.gguf says 2048 (a converter default); the model and
	 * its config say 512. */
	snprintf(name, sizeof name, "%s_context_length", tag);
	CHECK(llm_meta_int(g, "llama.context_length", -1) == 512, name, "%lld",
	      (long long)llm_meta_int(g, "llama.context_length", -1));
	snprintf(name, sizeof name, "%s_vocab_size", tag);
	CHECK(llm_meta_int(g, "llama.vocab_size", -1) == 512 && llm_meta_int(g, "general.file_type", -1) == 0,
	      name, "vocab %lld file_type %lld", (long long)llm_meta_int(g, "llama.vocab_size", -1),
	      (long long)llm_meta_int(g, "general.file_type", -1));
}

/* Every tokenizer.* key of ref equal in got. */
static void check_tokenizer(const char *tag, llm_ckpt *got, llm_ckpt *ref)
{
	const llm_meta *g = llm_ckpt_meta(got), *r = llm_ckpt_meta(ref);
	char name[128];
	const char *bad = NULL;
	int n = 0;
	for (int64_t i = 0; i < r->n; i++)
		if (strncmp(r->kv[i].key, "tokenizer.", 10) == 0) {
			n++;
			if (!kv_equal(llm_meta_get(g, r->kv[i].key), &r->kv[i]))
				bad = bad ? bad : r->kv[i].key;
		}
	snprintf(name, sizeof name, "%s_tokenizer_equal", tag);
	CHECK(!bad && n >= 9, name, "%s differs (%d keys)", bad, n);
}

/* rc is want, the message is one line naming the file (needle). */
static void check_err(const char *name, int rc, int want, const char *needle)
{
	const char *m = llm_errmsg();
	printf("# %s: %s\n", name, m);
	CHECK(rc == want && strstr(m, needle) && !strchr(m, '\n') && strlen(m) > strlen(needle) + 5, name,
	      "rc %d (want %d), message \"%s\"", rc, want, m);
}

static int open_ckpt(llm_ckpt **c, const char *path, const char *tok)
{
	struct llm_ckpt_opts o = LLM_CKPT_OPTS_INIT;
	o.tokenizer = tok;
	return llm_ckpt_open(c, path, &o);
}

/* ------------------------------------------------------------------ */
/* the real model                                                      */

static char *mpath(const char *name)
{
	static char buf[4][600];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", models, name);
	return p;
}

/* Split model.safetensors into two shards + index (second shard with an
 * odd header length, so its data are misaligned and must be copied). */
static int make_sharded(const char *dir)
{
	llm_safetensors *st;
	struct tspec *ts;
	char *idx, *cfg;
	size_t cfgn, len = 0, cap;
	int64_t n;
	int na = 0, nb = 0, rc;

	if (llm_safetensors_open(&st, mpath("stories260K-hf/model.safetensors")))
		return -1;
	n = llm_safetensors_n_tensors(st);
	ts = calloc((size_t)n * 2, sizeof *ts);
	cap = 200 + (size_t)n * 200;
	idx = malloc(cap);
	len += (size_t)snprintf(idx, cap, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
	for (int64_t i = 0; i < n; i++) {
		const struct llm_st_tensor *t = llm_safetensors_tensor(st, i);
		struct tspec *s = i % 2 ? &ts[n + nb++] : &ts[na++];
		s->name = t->name;
		s->dtype = t->dtype;
		s->nd = t->n_dims;
		for (int d = 0; d < t->n_dims; d++)
			s->shape[d] = t->shape[d];
		s->data = t->data;
		s->size = t->size;
		len += (size_t)snprintf(idx + len, cap - len, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
					i ? ", " : "", t->name, i % 2 ? 2 : 1);
	}
	len += (size_t)snprintf(idx + len, cap - len, "}}\n");
	mkdir(dir, 0755);
	rc = write_st(tpath("shard/model-00001-of-00002.safetensors"), ts, na, 0);
	rc |= write_st(tpath("shard/model-00002-of-00002.safetensors"), ts + n, nb, 3);
	rc |= write_file(tpath("shard/model.safetensors.index.json"), idx, len);
	cfg = read_file(mpath("stories260K-hf/config.json"), &cfgn);
	rc |= !cfg || write_file(tpath("shard/config.json"), cfg, cfgn);
	free(cfg);
	free(idx);
	free(ts);
	llm_safetensors_free(st);
	return rc;
}

static void test_real(void)
{
	llm_ckpt *ref = NULL, *c = NULL;
	int nref, rc;

	if (access(mpath("stories260K.gguf"), R_OK) != 0) {
		SKIP("real_models", "../shared/models is absent");
		return;
	}
	if ((rc = llm_ckpt_open(&ref, mpath("stories260K.gguf"), NULL))) {
		CHECK(0, "open_gguf", "%s", llm_errmsg());
		return;
	}
	nref = (int)llm_ckpt_n_tensors(ref);

	/* HF: the directory, its config.json, its model.safetensors */
	{
		static const char *forms[] = { "stories260K-hf", "stories260K-hf/config.json",
					       "stories260K-hf/model.safetensors" };
		static const char *tags[] = { "hf_dir", "hf_config", "hf_safetensors" };
		for (int k = 0; k < 3; k++) {
			char name[64];
			rc = llm_ckpt_open(&c, mpath(forms[k]), NULL);
			snprintf(name, sizeof name, "%s_open", tags[k]);
			CHECK(rc == 0, name, "%s", llm_errmsg());
			if (rc)
				continue;
			snprintf(name, sizeof name, "%s_format", tags[k]);
			CHECK(llm_ckpt_format(c) == LLM_CKPT_HF && llm_ckpt_version(c) == 0 &&
				      llm_ckpt_find(c, "output.weight") < 0,
			      name, "format %d, output.weight %lld", llm_ckpt_format(c),
			      (long long)llm_ckpt_find(c, "output.weight"));
			check_tensors(tags[k], c, ref, nref);
			check_hparams(tags[k], c, ref);
			llm_ckpt_free(c);
		}
	}
	/* HF with a borrowed llama2.c tokenizer (through llm_ckpt_set_tokenizer) */
	rc = open_ckpt(&c, mpath("stories260K-hf"), mpath("tok512.bin"));
	CHECK(rc == 0, "hf_tok512_open", "%s", llm_errmsg());
	if (!rc) {
		check_tokenizer("hf_tok512", c, ref);
		llm_ckpt_free(c);
	}

	/* sharded HF directory */
	if (make_sharded(tpath("shard")) != 0) {
		CHECK(0, "hf_sharded_build", "could not write %s", tpath("shard"));
	} else {
		rc = llm_ckpt_open(&c, tpath("shard"), NULL);
		CHECK(rc == 0, "hf_sharded_open", "%s", llm_errmsg());
		if (!rc) {
			check_tensors("hf_sharded", c, ref, nref);
			llm_ckpt_free(c);
		}
		rc = llm_ckpt_open(&c, tpath("shard/model.safetensors.index.json"), NULL);
		CHECK(rc == 0, "hf_sharded_index_open", "%s", llm_errmsg());
		if (!rc) {
			check_tensors("hf_sharded_index", c, ref, nref);
			llm_ckpt_free(c);
		}
		/* a shard the index names is gone */
		unlink(tpath("shard/model-00002-of-00002.safetensors"));
		rc = llm_ckpt_open(&c, tpath("shard"), NULL);
		check_err("hf_sharded_missing_shard", rc, LLM_ENOTFOUND, "model-00002-of-00002.safetensors");
	}

	/* a real PEFT adapter through the bare reader */
	{
		llm_safetensors *st;
		rc = llm_safetensors_open(&st, mpath("peft-gptneo125m/adapter_model.safetensors"));
		CHECK(rc == 0, "st_peft_open", "%s", llm_errmsg());
		if (!rc) {
			int64_t n = llm_safetensors_n_tensors(st), lora = 0;
			for (int64_t i = 0; i < n; i++) {
				const struct llm_st_tensor *t = llm_safetensors_tensor(st, i);
				lora += strstr(t->name, "lora_A") || strstr(t->name, "lora_B");
			}
			/* r=4 on q_proj and v_proj of 12 layers: 48 A/B matrices */
			CHECK(lora == 48, "st_peft_tensors", "%lld lora tensors of %lld", (long long)lora, (long long)n);
			llm_safetensors_free(st);
		}
	}
	/* trailing slash: general.name is the directory's name */
	{
		char p[700];
		const char *gn = NULL;
		snprintf(p, sizeof p, "%s/", mpath("stories260K-hf"));
		rc = llm_ckpt_open(&c, p, NULL);
		if (!rc)
			llm_meta_get_str(llm_ckpt_meta(c), "general.name", &gn, NULL);
		CHECK(rc == 0 && gn && strcmp(gn, "stories260K-hf") == 0, "hf_general_name", "rc %d name %s", rc,
		      gn ? gn : "(none)");
		if (!rc)
			llm_ckpt_free(c);
	}

	/* llama2.c with tokenizer.bin, with the GGUF as tokenizer, without */
	rc = open_ckpt(&c, mpath("stories260K.bin"), mpath("tok512.bin"));
	CHECK(rc == 0, "l2c_open", "%s", llm_errmsg());
	if (!rc) {
		CHECK(llm_ckpt_format(c) == LLM_CKPT_LLAMA2C && llm_ckpt_find(c, "output.weight") < 0,
		      "l2c_format", "format %d", llm_ckpt_format(c));
		check_tensors("l2c", c, ref, nref);
		check_hparams("l2c", c, ref);
		check_tokenizer("l2c", c, ref);
		CHECK(llm_meta_int(llm_ckpt_meta(c), "tokenizer.ggml.add_bos_token", -1) == 1 &&
			      llm_meta_int(llm_ckpt_meta(c), "tokenizer.ggml.add_eos_token", -1) == 0,
		      "l2c_add_bos_eos", "add_bos/add_eos wrong");
		llm_ckpt_free(c);
	}
	rc = open_ckpt(&c, mpath("stories260K.bin"), mpath("stories260K.gguf"));
	CHECK(rc == 0, "l2c_gguf_tok_open", "%s", llm_errmsg());
	if (!rc) {
		check_tokenizer("l2c_gguf_tok", c, ref);
		llm_ckpt_free(c);
	}
	rc = open_ckpt(&c, mpath("stories260K.bin"), NULL);
	CHECK(rc == 0 && llm_meta_find(llm_ckpt_meta(c), "tokenizer.ggml.tokens") < 0, "l2c_no_tok",
	      "rc %d %s", rc, llm_errmsg());
	if (!rc)
		llm_ckpt_free(c);

	/* truncated copy of the real checkpoint */
	{
		size_t n;
		char *b = read_file(mpath("stories260K.bin"), &n);
		if (b && write_file(tpath("trunc.bin"), b, n - 4) == 0) {
			rc = open_ckpt(&c, tpath("trunc.bin"), NULL);
			check_err("l2c_truncated", rc, LLM_EFORMAT, "trunc.bin");
		}
		free(b);
		b = read_file(mpath("stories260K-hf/model.safetensors"), &n);
		mkdir(tpath("trunchf"), 0755);
		if (b && write_file(tpath("trunchf/model.safetensors"), b, n - 100) == 0) {
			size_t cn;
			char *cfg = read_file(mpath("stories260K-hf/config.json"), &cn);
			if (cfg)
				write_file(tpath("trunchf/config.json"), cfg, cn);
			free(cfg);
			rc = llm_ckpt_open(&c, tpath("trunchf"), NULL);
			check_err("hf_truncated", rc, LLM_EFORMAT, "trunchf/model.safetensors");
		}
		free(b);
		/* a llama2.c tokenizer of the wrong size */
		b = read_file(mpath("tok512.bin"), &n);
		if (b && write_file(tpath("tok_trunc.bin"), b, n - 3) == 0) {
			rc = open_ckpt(&c, mpath("stories260K.bin"), tpath("tok_trunc.bin"));
			check_err("tok_truncated", rc, LLM_EFORMAT, "tok_trunc.bin");
		}
		free(b);
	}
	llm_ckpt_free(ref);
}

/* ------------------------------------------------------------------ */
/* synthetic inputs                                                    */

static float fdata[4096];

static const char tiny_cfg[] =
	"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
	" \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
	" \"vocab_size\": 16, \"rms_norm_eps\": 1e-6, \"max_position_embeddings\": 64}";

/* A 1-layer HF model; tweak(ts) may break one entry. */
static int tiny_hf(const char *dir, const char *cfg, const struct tspec *override)
{
	struct tspec ts[] = {
		{ "model.embed_tokens.weight", "F32", 2, { 16, 8 }, fdata, 16 * 8 * 4 },
		{ "model.norm.weight", "F32", 1, { 8 }, fdata, 8 * 4 },
		{ "lm_head.weight", "F32", 2, { 16, 8 }, fdata + 100, 16 * 8 * 4 },
		{ "model.layers.0.input_layernorm.weight", "F32", 1, { 8 }, fdata, 8 * 4 },
		{ "model.layers.0.post_attention_layernorm.weight", "F32", 1, { 8 }, fdata, 8 * 4 },
		{ "model.layers.0.self_attn.q_proj.weight", "F32", 2, { 8, 8 }, fdata, 64 * 4 },
		{ "model.layers.0.self_attn.k_proj.weight", "F32", 2, { 4, 8 }, fdata, 32 * 4 },
		{ "model.layers.0.self_attn.v_proj.weight", "F32", 2, { 4, 8 }, fdata, 32 * 4 },
		{ "model.layers.0.self_attn.o_proj.weight", "F32", 2, { 8, 8 }, fdata, 64 * 4 },
		{ "model.layers.0.self_attn.rotary_emb.inv_freq", "F32", 1, { 2 }, fdata, 2 * 4 },
		{ "model.layers.0.mlp.gate_proj.weight", "F32", 2, { 12, 8 }, fdata, 96 * 4 },
		{ "model.layers.0.mlp.up_proj.weight", "F32", 2, { 12, 8 }, fdata, 96 * 4 },
		{ "model.layers.0.mlp.down_proj.weight", "F32", 2, { 8, 12 }, fdata, 96 * 4 },
	};
	int n = (int)(sizeof ts / sizeof ts[0]);
	char p[600];

	mkdir(dir, 0755);
	if (override)
		for (int i = 0; i < n; i++)
			if (strcmp(ts[i].name, override->name) == 0)
				ts[i] = *override;
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	if (write_st(p, ts, n, 0))
		return -1;
	snprintf(p, sizeof p, "%s/config.json", dir);
	return cfg ? write_file(p, cfg, strlen(cfg)) : 0;
}

static void test_hf_synthetic(void)
{
	llm_ckpt *c = NULL;
	int rc;

	for (int i = 0; i < 4096; i++)
		fdata[i] = (float)i * 0.25f - 3.0f;

	rc = tiny_hf(tpath("tiny"), tiny_cfg, NULL);
	rc = rc ? rc : llm_ckpt_open(&c, tpath("tiny"), NULL);
	CHECK(rc == 0 && llm_ckpt_n_tensors(c) == 12, "tiny_hf_open", "rc %d n %lld: %s", rc,
	      c ? (long long)llm_ckpt_n_tensors(c) : -1LL, llm_errmsg());
	if (!rc) {
		/* untied lm_head -> output.weight; ne reversed; k permuted with
		 * 1 head of 4 rows: rows (0, 2, 1, 3) of the HF matrix. */
		int64_t o = llm_ckpt_find(c, "output.weight"), k = llm_ckpt_find(c, "blk.0.attn_k.weight");
		const float *d = NULL;
		int ok = o >= 0 && k >= 0 && llm_ckpt_tensor(c, k)->ne[0] == 8 && llm_ckpt_tensor(c, k)->ne[1] == 4;
		if (ok && llm_ckpt_data(c, o, (const void **)&d) == 0)
			ok = memcmp(d, fdata + 100, 16 * 8 * 4) == 0;
		if (ok && llm_ckpt_data(c, k, (const void **)&d) == 0) {
			static const int perm[4] = { 0, 2, 1, 3 };
			for (int r = 0; r < 4; r++)
				ok = ok && memcmp(d + r * 8, fdata + perm[r] * 8, 32) == 0;
		}
		CHECK(ok, "tiny_hf_untied_and_permuted", "output.weight or attn_k wrong");
		CHECK(llm_meta_int(llm_ckpt_meta(c), "llama.attention.head_count_kv", -1) == 1 &&
			      llm_meta_float(llm_ckpt_meta(c), "llama.rope.freq_base", 0) == 10000.0 &&
			      llm_meta_int(llm_ckpt_meta(c), "llama.context_length", 0) == 64,
		      "tiny_hf_meta_defaults", "head_count_kv / freq_base / context_length wrong");
		llm_ckpt_free(c);
	}

	/* missing config.json */
	tiny_hf(tpath("nocfg"), NULL, NULL);
	rc = llm_ckpt_open(&c, tpath("nocfg"), NULL);
	check_err("hf_missing_config", rc, LLM_EFORMAT, "config.json");

	/* bad JSON in config.json */
	tiny_hf(tpath("badcfg"), "{\"hidden_size\": 8,,}", NULL);
	rc = llm_ckpt_open(&c, tpath("badcfg"), NULL);
	check_err("hf_bad_config_json", rc, LLM_EFORMAT, "badcfg/config.json");

	/* config without a needed key */
	tiny_hf(tpath("cfgkey"), "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8}", NULL);
	rc = llm_ckpt_open(&c, tpath("cfgkey"), NULL);
	check_err("hf_config_missing_key", rc, LLM_EFORMAT, "intermediate_size");

	/* another architecture */
	tiny_hf(tpath("gpt2"), "{\"architectures\": [\"GPT2LMHeadModel\"]}", NULL);
	rc = llm_ckpt_open(&c, tpath("gpt2"), NULL);
	check_err("hf_unsupported_arch", rc, LLM_EUNSUPPORTED, "GPT2LMHeadModel");

	/* rope_scaling: yarn (and any type not read) would leave a model
	 * with other angles, so it is refused; dynamic NTK acts only past
	 * max_position_embeddings and reads as no scaling */
	{
		static const char *const types[] = { "yarn", "longrope", "dynamic", "default" };
		char cfg[600];
		for (int i = 0; i < 4; i++) {
			snprintf(cfg, sizeof cfg,
				 "%.*s, \"rope_scaling\": {\"rope_type\": \"%s\", \"factor\": 4.0,"
				 " \"original_max_position_embeddings\": 16}}",
				 (int)strlen(tiny_cfg) - 1, tiny_cfg, types[i]);
			tiny_hf(tpath(types[i]), cfg, NULL);
			rc = llm_ckpt_open(&c, tpath(types[i]), NULL);
			if (i < 2) {
				char want[64];
				snprintf(want, sizeof want, "config.json: rope_scaling type \"%s\"", types[i]);
				check_err(i ? "hf_rope_longrope_refused" : "hf_rope_yarn_refused", rc, LLM_EUNSUPPORTED,
					  want);
				if (!rc)
					llm_ckpt_free(c);
				continue;
			}
			CHECK(rc == 0 && !llm_meta_get(llm_ckpt_meta(c), "llama.rope.scaling.type") &&
				      llm_ckpt_find(c, "rope_freqs.weight") < 0,
			      i == 2 ? "hf_rope_dynamic_none" : "hf_rope_default_none", "rc %d %s", rc,
			      rc ? llm_errmsg() : "scaling written");
			if (!rc)
				llm_ckpt_free(c);
		}
	}
	/* transformers 5's rope_parameters are read as rope_scaling is */
	{
		char cfg[600];
		snprintf(cfg, sizeof cfg, "%.*s, \"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0}}",
			 (int)strlen(tiny_cfg) - 1, tiny_cfg);
		tiny_hf(tpath("v5yarn"), cfg, NULL);
		rc = llm_ckpt_open(&c, tpath("v5yarn"), NULL);
		check_err("hf_rope_parameters_yarn_refused", rc, LLM_EUNSUPPORTED, "rope_parameters type \"yarn\"");
		if (!rc)
			llm_ckpt_free(c);
	}
	/* a dtype we do not read */
	{
		struct tspec o = { "model.layers.0.self_attn.v_proj.weight", "I32", 2, { 4, 8 }, fdata, 32 * 4 };
		tiny_hf(tpath("i32"), tiny_cfg, &o);
		rc = llm_ckpt_open(&c, tpath("i32"), NULL);
		check_err("hf_bad_dtype", rc, LLM_EFORMAT, "v_proj.weight: dtype I32");
	}
	/* a shape config.json disagrees with */
	{
		struct tspec o = { "model.layers.0.mlp.up_proj.weight", "F32", 2, { 8, 12 }, fdata, 96 * 4 };
		tiny_hf(tpath("shape"), tiny_cfg, &o);
		rc = llm_ckpt_open(&c, tpath("shape"), NULL);
		check_err("hf_shape_mismatch", rc, LLM_EFORMAT, "up_proj.weight has shape [8, 12]");
	}
	/* a required tensor missing: config.json says 2 layers, the file has 1 */
	{
		static const char cfg2[] =
			"{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 12,"
			" \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
			" \"vocab_size\": 16, \"rms_norm_eps\": 1e-6}";
		tiny_hf(tpath("twolayers"), cfg2, NULL);
		rc = llm_ckpt_open(&c, tpath("twolayers"), NULL);
		check_err("hf_missing_tensor", rc, LLM_EFORMAT, "model.layers.1.");
	}
	/* an index that disagrees with its shards: a tensor of a shard it
	 * does not list (lm_head: the model would turn tied), or one it puts
	 * in another shard that holds it too */
	{
		static const char *const names[] = {
			"model.embed_tokens.weight", "model.norm.weight",
			"model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
			"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
			"model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
			"model.layers.0.self_attn.rotary_emb.inv_freq", "model.layers.0.mlp.gate_proj.weight",
			"model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
		};
		struct tspec lm = { "lm_head.weight", "F32", 2, { 16, 8 }, fdata + 100, 16 * 8 * 4 };
		char idx[2048], p[600];
		size_t len = 0;
		for (int pass = 0; pass < 2; pass++) {
			const char *dir = tpath(pass ? "ixdup" : "ixmiss");
			tiny_hf(dir, tiny_cfg, NULL); /* model.safetensors: every tensor, lm_head too */
			len = (size_t)snprintf(idx, sizeof idx, "{\"weight_map\": {");
			for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
				len += (size_t)snprintf(idx + len, sizeof idx - len, "%s\"%s\": \"model.safetensors\"",
							i ? ", " : "", names[i]);
			if (pass) /* else lm_head is left out */
				len += (size_t)snprintf(idx + len, sizeof idx - len,
							", \"lm_head.weight\": \"lm.safetensors\"");
			len += (size_t)snprintf(idx + len, sizeof idx - len, "}}");
			snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
			write_file(p, idx, len);
			snprintf(p, sizeof p, "%s/lm.safetensors", dir);
			if (pass)
				write_st(p, &lm, 1, 0);
			snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
			rc = llm_ckpt_open(&c, p, NULL);
			if (!rc)
				llm_ckpt_free(c);
			check_err(pass ? "hf_index_tensor_in_two_shards" : "hf_index_omits_tensor", rc, LLM_EFORMAT,
				  pass ? "lm_head.weight is in model.safetensors too" : "lm_head.weight of model.safetensors");
		}
	}
	/* HF path that is not a directory we know */
	rc = llm_ckpt_open(&c, tpath("nonexistent.safetensors"), NULL);
	CHECK(rc == LLM_ENOTFOUND && strstr(llm_errmsg(), "nonexistent"), "hf_no_such_file", "rc %d %s", rc,
	      llm_errmsg());
}

/* The safetensors reader alone, on hostile files. */
static void test_st_malformed(void)
{
	llm_safetensors *st = NULL;
	char hdr[512];
	int rc;

	/* valid: listing, dtype, shape, data pointer, __metadata__ */
	{
		struct tspec ts[] = {
			{ "a", "F16", 2, { 2, 3 }, fdata, 12 },
			{ "b", "BF16", 1, { 4 }, fdata + 10, 8 },
			{ "s", "I64", 0, { 0 }, fdata + 20, 8 },
		};
		write_st(tpath("ok.safetensors"), ts, 3, 5);
		rc = llm_safetensors_open(&st, tpath("ok.safetensors"));
		CHECK(rc == 0 && llm_safetensors_n_tensors(st) == 3, "st_valid", "rc %d %s", rc, llm_errmsg());
		if (!rc) {
			const struct llm_st_tensor *a = llm_safetensors_tensor(st, llm_safetensors_find(st, "a"));
			const struct llm_st_tensor *s = llm_safetensors_tensor(st, llm_safetensors_find(st, "s"));
			CHECK(a && a->type == LLM_TYPE_F16 && a->n_dims == 2 && a->shape[0] == 2 && a->shape[1] == 3 &&
				      a->nelem == 6 && a->size == 12 && memcmp(a->data, fdata, 12) == 0 && s &&
				      s->n_dims == 0 && s->nelem == 1 && memcmp(s->data, fdata + 20, 8) == 0 &&
				      strcmp(llm_safetensors_metadata(st, "format"), "pt") == 0,
			      "st_valid_fields", "fields wrong");
			llm_safetensors_free(st);
		}
	}
	/* file shorter than the length field */
	write_file(tpath("tiny.safetensors"), "\x10\0\0", 3);
	rc = llm_safetensors_open(&st, tpath("tiny.safetensors"));
	check_err("st_too_short", rc, LLM_EFORMAT, "tiny.safetensors");
	/* empty file */
	write_file(tpath("empty.safetensors"), "", 0);
	rc = llm_safetensors_open(&st, tpath("empty.safetensors"));
	check_err("st_empty", rc, LLM_EFORMAT, "empty.safetensors");
	/* header length past the end */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
	write_st_raw(tpath("hlen.safetensors"), hdr, 1000, fdata, 4);
	rc = llm_safetensors_open(&st, tpath("hlen.safetensors"));
	check_err("st_header_past_end", rc, LLM_EFORMAT, "header length 1000");
	/* huge header length (would overflow 8 + N) */
	write_st_raw(tpath("hhuge.safetensors"), hdr, UINT64_MAX - 3, fdata, 4);
	rc = llm_safetensors_open(&st, tpath("hhuge.safetensors"));
	check_err("st_header_len_overflow", rc, LLM_EFORMAT, "hhuge.safetensors");
	/* bad JSON */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}");
	write_st_raw(tpath("json.safetensors"), hdr, strlen(hdr), fdata, 4);
	rc = llm_safetensors_open(&st, tpath("json.safetensors"));
	check_err("st_bad_json", rc, LLM_EFORMAT, "json.safetensors");
	/* not an object */
	snprintf(hdr, sizeof hdr, "[1, 2]  ");
	write_st_raw(tpath("arr.safetensors"), hdr, strlen(hdr), fdata, 4);
	rc = llm_safetensors_open(&st, tpath("arr.safetensors"));
	check_err("st_not_object", rc, LLM_EFORMAT, "arr.safetensors");
	/* duplicate key */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
				  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
	write_st_raw(tpath("dup.safetensors"), hdr, strlen(hdr), fdata, 4);
	rc = llm_safetensors_open(&st, tpath("dup.safetensors"));
	check_err("st_duplicate_key", rc, LLM_EFORMAT, "dup.safetensors");
	/* offsets past the data */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}");
	write_st_raw(tpath("off.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("off.safetensors"));
	check_err("st_offset_past_end", rc, LLM_EFORMAT, "off.safetensors: tensor a");
	/* offsets that overflow int64 */
	snprintf(hdr, sizeof hdr,
		 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775808]}}");
	write_st_raw(tpath("offbig.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("offbig.safetensors"));
	check_err("st_offset_huge", rc, LLM_EFORMAT, "offbig.safetensors");
	/* begin > end */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}");
	write_st_raw(tpath("rev.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("rev.safetensors"));
	check_err("st_offsets_reversed", rc, LLM_EFORMAT, "rev.safetensors");
	/* size disagrees with shape x dtype */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}");
	write_st_raw(tpath("sz.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("sz.safetensors"));
	check_err("st_size_mismatch", rc, LLM_EFORMAT, "sz.safetensors");
	/* shape product overflows */
	snprintf(hdr, sizeof hdr,
		 "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}");
	write_st_raw(tpath("sh.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("sh.safetensors"));
	check_err("st_shape_overflow", rc, LLM_EFORMAT, "sh.safetensors");
	/* negative dimension */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}");
	write_st_raw(tpath("neg.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("neg.safetensors"));
	check_err("st_negative_dim", rc, LLM_EFORMAT, "neg.safetensors");
	/* unknown dtype */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}");
	write_st_raw(tpath("dt.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("dt.safetensors"));
	check_err("st_unknown_dtype", rc, LLM_EFORMAT, "dt.safetensors");
	/* overlapping tensors */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
				  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}");
	write_st_raw(tpath("ovl.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("ovl.safetensors"));
	check_err("st_overlap", rc, LLM_EFORMAT, "overlap");
	/* missing data_offsets / shape not an array / metadata value not a string */
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}");
	write_st_raw(tpath("nooff.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("nooff.safetensors"));
	check_err("st_no_offsets", rc, LLM_EFORMAT, "nooff.safetensors");
	snprintf(hdr, sizeof hdr, "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}");
	write_st_raw(tpath("shp.safetensors"), hdr, strlen(hdr), fdata, 8);
	rc = llm_safetensors_open(&st, tpath("shp.safetensors"));
	check_err("st_shape_not_array", rc, LLM_EFORMAT, "shp.safetensors");
	snprintf(hdr, sizeof hdr, "{\"__metadata__\":{\"x\":1}}");
	write_st_raw(tpath("md.safetensors"), hdr, strlen(hdr), fdata, 0);
	rc = llm_safetensors_open(&st, tpath("md.safetensors"));
	check_err("st_metadata_not_string", rc, LLM_EFORMAT, "md.safetensors");
	/* every truncation of a valid file fails cleanly (or, when only
	 * trailing bytes of no tensor are cut, still opens) */
	{
		size_t n;
		char *b = read_file(tpath("ok.safetensors"), &n);
		int crashes = 0, wrong = 0;
		for (size_t cut = 0; b && cut < n; cut++) {
			write_file(tpath("cut.safetensors"), b, cut);
			rc = llm_safetensors_open(&st, tpath("cut.safetensors"));
			if (rc == 0)
				llm_safetensors_free(st), wrong++;
			else if (rc != LLM_EFORMAT || !strstr(llm_errmsg(), "cut.safetensors"))
				crashes++;
		}
		CHECK(b && wrong == 0 && crashes == 0, "st_every_truncation", "%d opened, %d wrong errors", wrong,
		      crashes);
		free(b);
	}
}

/* A synthetic llama2.c checkpoint: floats hold their own index. */
static size_t l2c_floats(const int32_t h[7])
{
	size_t dim = (size_t)h[0], hid = (size_t)h[1], L = (size_t)h[2], hs = dim / (size_t)h[3];
	size_t kv = hs * (size_t)h[4], V = (size_t)(h[5] < 0 ? -h[5] : h[5]), S = (size_t)h[6];
	return V * dim + L * dim * 2 + L * dim * dim * 2 + L * kv * dim * 2 + L * hid * dim * 3 + dim +
	       S * hs + (h[5] < 0 ? V * dim : 0);
}

static int write_l2c(const char *path, const int32_t h[7], long delta)
{
	size_t n = l2c_floats(h), bytes = 28 + n * 4 + (size_t)delta;
	char *b = calloc(1, bytes + 64);
	int rc;
	memcpy(b, h, 28);
	for (size_t i = 0; i < n && 28 + i * 4 + 4 <= bytes; i++) {
		float f = (float)i;
		memcpy(b + 28 + i * 4, &f, 4);
	}
	rc = write_file(path, b, bytes);
	free(b);
	return rc;
}

static void test_l2c_synthetic(void)
{
	llm_ckpt *c = NULL;
	int rc;
	const int32_t good[7] = { 8, 12, 2, 2, 1, -16, 4 };

	write_l2c(tpath("unshared.bin"), good, 0);
	rc = llm_ckpt_open(&c, tpath("unshared.bin"), NULL);
	CHECK(rc == 0 && llm_ckpt_n_tensors(c) == 3 + 18, "l2c_unshared_open", "rc %d %s", rc, llm_errmsg());
	if (!rc) {
		/* first float of some tensors = its index in the file */
		struct { const char *name; float first; } want[] = {
			{ "token_embd.weight", 0 },
			{ "blk.1.attn_norm.weight", 16 * 8 + 8 },
			{ "blk.0.attn_q.weight", 16 * 8 + 2 * 8 },
			{ "blk.1.attn_k.weight", 16 * 8 + 2 * 8 + 2 * 64 + 32 },
			{ "blk.1.ffn_up.weight", 0 }, /* computed below */
			{ "output_norm.weight", 0 },
			{ "output.weight", (float)(l2c_floats(good) - 16 * 8) },
		};
		size_t base = 16 * 8 + 2 * 8 + 2 * 64 + 2 * 32 * 2 + 2 * 64 + 2 * 8; /* through rms_ffn */
		const float *d;
		int ok = 1;
		want[4].first = (float)(base + 2 * 96 * 2 + 96);
		want[5].first = (float)(base + 2 * 96 * 3);
		for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
			int64_t i = llm_ckpt_find(c, want[k].name);
			ok = ok && i >= 0 && llm_ckpt_data(c, i, (const void **)&d) == 0 && d[0] == want[k].first;
			if (!ok) {
				printf("# %s: %g want %g\n", want[k].name, i >= 0 ? d[0] : -1.0, want[k].first);
				break;
			}
		}
		CHECK(ok, "l2c_layout", "tensor offsets wrong");
		llm_ckpt_free(c);
	}
	write_l2c(tpath("shared.bin"), (const int32_t[7]){ 8, 12, 2, 2, 1, 16, 4 }, 0);
	rc = llm_ckpt_open(&c, tpath("shared.bin"), NULL);
	CHECK(rc == 0 && llm_ckpt_n_tensors(c) == 2 + 18 && llm_ckpt_find(c, "output.weight") < 0,
	      "l2c_shared_open", "rc %d %s", rc, llm_errmsg());
	if (!rc)
		llm_ckpt_free(c);

	write_l2c(tpath("long.bin"), good, 4);
	rc = llm_ckpt_open(&c, tpath("long.bin"), NULL);
	check_err("l2c_trailing_bytes", rc, LLM_EFORMAT, "long.bin");
	write_l2c(tpath("short.bin"), good, -4);
	rc = llm_ckpt_open(&c, tpath("short.bin"), NULL);
	check_err("l2c_short", rc, LLM_EFORMAT, "short.bin");
	{
		static const int32_t bad[][7] = {
			{ 0, 12, 2, 2, 1, 16, 4 },  { 8, 12, 2, 3, 1, 16, 4 },   { 8, 12, 2, 2, 4, 16, 4 },
			{ 8, 12, 2, 4, 3, 16, 4 },  { 8, 12, -2, 2, 1, 16, 4 },  { 8, 12, 2, 2, 1, 0, 4 },
			{ 6, 12, 2, 2, 1, 16, 4 },  /* head size 3: odd */
			{ 2147483600, 2147483600, 2147483600, 2, 1, 2147483600, 2147483600 },
			{ 8, 12, 2, 2, 1, INT32_MIN, 4 },
		};
		int okc = 0;
		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			char b[28 + 64] = { 0 };
			memcpy(b, bad[k], 28);
			write_file(tpath("hdr.bin"), b, sizeof b);
			rc = llm_ckpt_open(&c, tpath("hdr.bin"), NULL);
			if (rc == LLM_EFORMAT && strstr(llm_errmsg(), "hdr.bin") && !strchr(llm_errmsg(), '\n'))
				okc++;
			else
				printf("# header %zu: rc %d %s\n", k, rc, llm_errmsg());
			if (!rc)
				llm_ckpt_free(c);
		}
		CHECK(okc == (int)(sizeof bad / sizeof bad[0]), "l2c_nonsense_headers", "%d of %zu rejected", okc,
		      sizeof bad / sizeof bad[0]);
	}
	write_file(tpath("ak42.bin"), "24ka\x03\0\0\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 40);
	rc = llm_ckpt_open(&c, tpath("ak42.bin"), NULL);
	check_err("l2c_new_export_version", rc, LLM_EUNSUPPORTED, "ak42.bin: llama2.c export version 3");
	write_file(tpath("ak42s.bin"), "24ka\x02\0\0\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 40);
	rc = llm_ckpt_open(&c, tpath("ak42s.bin"), NULL);
	check_err("l2c_export_v2_short_header", rc, LLM_EFORMAT, "ak42s.bin: 40 bytes");
	write_file(tpath("few.bin"), "abc", 3);
	rc = llm_ckpt_open(&c, tpath("few.bin"), NULL);
	check_err("l2c_too_short", rc, LLM_EFORMAT, "few.bin");

	/* tokenizer with the wrong number of tokens: 3 tokens for vocab 16 */
	{
		char tb[64], *p = tb;
		int32_t mx = 5, len = 1;
		float sc = 0;
		memcpy(p, &mx, 4), p += 4;
		for (int i = 0; i < 3; i++) {
			memcpy(p, &sc, 4), p += 4;
			memcpy(p, &len, 4), p += 4;
			*p++ = 'a';
		}
		write_file(tpath("tok3.bin"), tb, (size_t)(p - tb));
		rc = open_ckpt(&c, tpath("shared.bin"), tpath("tok3.bin"));
		check_err("l2c_tokenizer_vocab_mismatch", rc, LLM_EFORMAT, "tok3.bin");
		write_file(tpath("tokbad.bin"), "\xff\xff\xff\xff", 4);
		rc = open_ckpt(&c, tpath("shared.bin"), tpath("tokbad.bin"));
		check_err("l2c_tokenizer_bad_header", rc, LLM_EFORMAT, "tokbad.bin");
	}
}

/* ------------------------------------------------------------------ */

static int dump(const char *ckpt, const char *outdir, const char *tok)
{
	llm_ckpt *c;
	char p[4096];
	FILE *list;
	int rc = open_ckpt(&c, ckpt, tok);

	if (rc) {
		fprintf(stderr, "%s\n", llm_errmsg());
		return 1;
	}
	snprintf(p, sizeof p, "%s/list.tsv", outdir);
	if (!(list = fopen(p, "w")))
		return 1;
	for (int64_t i = 0; i < llm_ckpt_n_tensors(c); i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, i);
		const void *d;
		fprintf(list, "%s\t%s", t->name, llm_type_name(t->type));
		for (int k = 0; k < t->n_dims; k++)
			fprintf(list, "\t%lld", (long long)t->ne[k]);
		fprintf(list, "\n");
		if ((rc = llm_ckpt_data(c, i, &d))) {
			fprintf(stderr, "%s\n", llm_errmsg());
			return 1;
		}
		snprintf(p, sizeof p, "%s/%s.bin", outdir, t->name);
		if (write_file(p, d, t->size))
			return 1;
		llm_ckpt_release(c, i);
	}
	fclose(list);
	{
		const llm_meta *m = llm_ckpt_meta(c);
		snprintf(p, sizeof p, "%s/meta.tsv", outdir);
		list = fopen(p, "w");
		for (int64_t i = 0; list && i < m->n; i++) {
			const struct llm_kv *kv = &m->kv[i];
			if (kv->type == LLM_V_STR)
				fprintf(list, "%s\t%s\n", kv->key, ((struct llm_str *)kv->data)->s);
			else if (kv->type == LLM_V_F32)
				fprintf(list, "%s\t%.9g\n", kv->key, *(float *)kv->data);
			else if (kv->type != LLM_V_ARR)
				fprintf(list, "%s\t%lld\n", kv->key, (long long)llm_meta_int(m, kv->key, 0));
		}
		if (list)
			fclose(list);
	}
	llm_ckpt_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	char cmd[600];

	if (argc >= 4 && strcmp(argv[1], "--dump") == 0)
		return dump(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	snprintf(models, sizeof models, "%s/models", test_shared());
	snprintf(tmpdir, sizeof tmpdir, "%s/llmfmt.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		CHECK(0, "mkdtemp", "%s", tmpdir);
		return test_done();
	}
	test_st_malformed();
	test_hf_synthetic();
	test_l2c_synthetic();
	test_real();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return test_done();
}
