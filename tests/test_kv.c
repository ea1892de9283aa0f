/* test_kv.c - KV-cache sizing (published figures, metadata of generated
 * models, DeepSeek MLA keys) and statistics of synthetic KV caches whose
 * answers are known by construction (rank-4 keys with chosen singular
 * values, planted outliers, constant rows).
 *
 * Also a fixture writer for tests/t_kvstat.sh:
 *     test_kv --write-dump PATH [good|notdump|badshape|missing|inf]
 * writes the synthetic dump (or a broken variant) with the project's GGUF
 * writer.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "error.h"
#include "gguf.h"
#include "kv.h"
#include "testutil.h"
#include "types.h"

/* ---- helpers ---- */

static uint64_t rng = 0x243F6A8885A308D3ull;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
	double u = urand(), v = urand();
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static const struct llm_kv_size *row(const struct llm_kv_size *r, int n, const char *v)
{
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].variant, v) == 0)
			return &r[i];
	return NULL;
}

/* ---- the synthetic dump: 3 layers, 4 KV heads x 16, 96 positions ---- */

enum { NL = 3, NKV = 4, HD = 16, NPOS = 96, W = NKV * HD, N_OUTLIERS = 12 };
static const double SV[4] = { 1000, 500, 200, 100 }; /* layer 0 K singular values */

/* Orthonormal columns q[n][k] (Gram-Schmidt on Gaussian vectors). */
static void orthonormal(double *q, int n, int k)
{
	for (int j = 0; j < k; j++) {
		for (int i = 0; i < n; i++)
			q[i * k + j] = gauss();
		for (int p = 0; p < j; p++) {
			double d = 0;
			for (int i = 0; i < n; i++)
				d += q[i * k + j] * q[i * k + p];
			for (int i = 0; i < n; i++)
				q[i * k + j] -= d * q[i * k + p];
		}
		double nrm = 0;
		for (int i = 0; i < n; i++)
			nrm += q[i * k + j] * q[i * k + j];
		for (int i = 0; i < n; i++)
			q[i * k + j] /= sqrt(nrm);
	}
}

/* x[NPOS][W] of layer l, kind 'k' or 'v'. */
static void synth(float *x, int l, char kind)
{
	rng = 0x9E3779B97F4A7C15ull * (uint64_t)(2 * l + (kind == 'v') + 1);
	if (l == 0 && kind == 'k') { /* rank 4: U diag(SV) V^T */
		double u[NPOS * 4], v[W * 4];
		orthonormal(u, NPOS, 4);
		orthonormal(v, W, 4);
		for (int i = 0; i < NPOS; i++)
			for (int j = 0; j < W; j++) {
				double s = 0;
				for (int p = 0; p < 4; p++)
					s += u[i * 4 + p] * SV[p] * v[j * 4 + p];
				x[i * W + j] = (float)s;
			}
	} else if (l == 0) { /* clipped Gaussian, N_OUTLIERS of +-50 in head 2 */
		for (int i = 0; i < NPOS * W; i++) {
			double g = gauss();
			x[i] = (float)(g > 4 ? 4 : g < -4 ? -4 : g);
		}
		for (int k = 0; k < N_OUTLIERS; k++)
			x[(7 * k + 3) * W + 2 * HD + (5 * k) % HD] = k % 2 ? -50.0f : 50.0f;
	} else if (l == 1 && kind == 'k') { /* per-channel offsets + noise */
		for (int i = 0; i < NPOS; i++)
			for (int j = 0; j < W; j++)
				x[i * W + j] = (float)(5 * sin(j) + 0.3 * gauss());
	} else if (l == 1) { /* per-token scale */
		for (int i = 0; i < NPOS; i++)
			for (int j = 0; j < W; j++)
				x[i * W + j] = (float)((1 + i / 10.0) * gauss());
	} else if (kind == 'k') { /* zeros */
		memset(x, 0, sizeof(float) * NPOS * W);
	} else { /* row i constant i + 1 */
		for (int i = 0; i < NPOS; i++)
			for (int j = 0; j < W; j++)
				x[i * W + j] = (float)(i + 1);
	}
}

static int write_dump(const char *path, const char *variant)
{
	llm_gguf_writer *w;
	llm_meta *m;
	static float x[NPOS * W];
	int64_t ne[3] = { HD, NKV, NPOS };
	int rc;

	if ((rc = llm_gguf_writer_open(&w, path)))
		return rc;
	m = llm_gguf_writer_meta(w);
	llm_meta_set_str(m, "general.architecture", "llama");
	llm_meta_set_str(m, "general.type", strcmp(variant, "notdump") ? "kv-dump" : "model");
	llm_meta_set_u32(m, "kv.n_layer", NL);
	llm_meta_set_u32(m, "kv.n_head", 2 * NKV);
	llm_meta_set_u32(m, "kv.n_head_kv", NKV);
	llm_meta_set_u32(m, "kv.head_dim", HD);
	llm_meta_set_u32(m, "kv.n_pos", NPOS);
	for (int l = 0; l < NL; l++)
		for (int kv = 0; kv < 2; kv++) {
			char name[32];
			int64_t e[3] = { ne[0], ne[1], ne[2] };
			if (!strcmp(variant, "missing") && l == NL - 1 && kv)
				continue;
			if (!strcmp(variant, "badshape") && l == 1 && !kv)
				e[0] = HD / 2, e[1] = NKV * 2;
			snprintf(name, sizeof name, "kv.%d.%c", l, kv ? 'v' : 'k');
			if ((rc = llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 3, e)))
				goto fail;
		}
	for (int l = 0; l < NL; l++)
		for (int kv = 0; kv < 2; kv++) {
			if (!strcmp(variant, "missing") && l == NL - 1 && kv)
				continue;
			synth(x, l, kv ? 'v' : 'k');
			if (!strcmp(variant, "inf") && l == 1 && kv)
				x[3] = INFINITY, x[4] = -INFINITY;
			if ((rc = llm_gguf_writer_write(w, x, sizeof x)))
				goto fail;
		}
	return llm_gguf_writer_commit(w);
fail:
	llm_gguf_writer_abort(w);
	return rc;
}

/* ---- sizing ---- */

static void test_presets(void)
{
	struct llm_kv_config c;
	struct llm_kv_size *r = NULL;
	const struct llm_kv_size *x;
	int n = 0;

	CHECK(llm_kv_preset(&c, "llama2-70b") == 0 &&
	      llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 131072, 1) == 0, "sizes_llama2_70b", "%s", llm_errmsg());
	x = row(r, n, "model");
	CHECK(x && x->bytes_per_token == 327680 && x->total_bytes == 42949672960ull &&
	      x->elems_per_token == 163840, "llama2_70b_model_327680_bytes_per_token",
	      "%llu / %llu", x ? (unsigned long long)x->bytes_per_token : 0,
	      x ? (unsigned long long)x->total_bytes : 0);
	/* divisors of 64 strictly between 1 and 64, then mqa and mla */
	CHECK(n == 9 && !strcmp(r[2].variant, "gqa-2") && !strcmp(r[6].variant, "gqa-32") &&
	      !strcmp(r[7].variant, "mqa") && !strcmp(r[8].variant, "mla"), "variants_llama2_70b",
	      "n %d", n);
	x = row(r, n, "mha");
	CHECK(x && x->vs_mha == 1 && r[0].vs_mha == 0.125, "vs_mha_llama2_70b", "%g", r[0].vs_mha);
	x = row(r, n, "mla"); /* default d_c = 4 * 128, d_R = 64 */
	CHECK(x && x->elems_per_token == 80 * 576 && x->n_kv_head == 1 && x->head_dim == 576,
	      "mla_default_dims", "%lld", x ? (long long)x->elems_per_token : 0);
	free(r);

	llm_kv_preset(&c, "llama2-7b");
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 4096, 1);
	CHECK(r[0].bytes_per_token == 524288, "llama2_7b_524288", "%llu", (unsigned long long)r[0].bytes_per_token);
	free(r);
	llm_kv_preset(&c, "llama3-8b");
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 8192, 2);
	CHECK(r[0].bytes_per_token == 131072 && r[0].total_bytes == 131072ull * 8192 * 2,
	      "llama3_8b_131072", "%llu", (unsigned long long)r[0].bytes_per_token);
	free(r);
	/* q8_0 = 8.5 bits, q4_0 = 4.5 bits when rows are whole blocks */
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_Q8_0, 1, 1);
	CHECK(r[0].bytes_per_token == 65536 * 17 / 16, "llama3_8b_q8_0", "%llu", (unsigned long long)r[0].bytes_per_token);
	free(r);
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_Q4_0, 1, 1);
	CHECK(r[0].bytes_per_token == 65536 * 9 / 16, "llama3_8b_q4_0", "%llu", (unsigned long long)r[0].bytes_per_token);
	free(r);
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F32, 1, 1);
	CHECK(r[0].bytes_per_token == 65536 * 4, "llama3_8b_f32", "%llu", (unsigned long long)r[0].bytes_per_token);
	free(r);

	llm_kv_preset(&c, "deepseek-v2");
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_BF16, 4096, 1);
	CHECK(r[0].elems_per_token == 34560 && r[0].bytes_per_token == 69120 &&
	      row(r, n, "mha")->elems_per_token == 1966080, "deepseek_v2_mla_34560",
	      "%lld %llu %lld", (long long)r[0].elems_per_token, (unsigned long long)r[0].bytes_per_token,
	      (long long)row(r, n, "mha")->elems_per_token);
	/* the paper's comparison: MLA caches as much as GQA with 2.25 groups */
	CHECK(fabs(r[0].vs_mha * 128 - 2.25) < 1e-12, "deepseek_v2_is_gqa_2_25", "%g", r[0].vs_mha);
	free(r);
	llm_kv_preset(&c, "deepseek-v3");
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 1, 1);
	CHECK(r[0].elems_per_token == 61 * 576, "deepseek_v3_61_layers", "%lld", (long long)r[0].elems_per_token);
	free(r);
	llm_kv_preset(&c, "qwen2.5-7b");
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 1, 1);
	/* 28 heads: divisors 2, 4, 7, 14 */
	CHECK(r[0].bytes_per_token == 28 * 2 * 4 * 128 * 2 && n == 8 && row(r, n, "gqa-7") &&
	      row(r, n, "gqa-14"), "qwen2_5_7b", "%llu n %d", (unsigned long long)r[0].bytes_per_token, n);
	free(r);

	CHECK(llm_kv_preset(&c, "llama9-1t") == LLM_ENOTFOUND && strstr(llm_errmsg(), "llama3-8b"),
	      "unknown_preset", "%s", llm_errmsg());
	for (int i = 0; llm_kv_preset_name(i); i++)
		CHECK(llm_kv_preset(&c, llm_kv_preset_name(i)) == 0 && llm_kv_config_check(&c) == 0,
		      llm_kv_preset_name(i), "%s", llm_errmsg());
}

static void test_flags_and_errors(void)
{
	struct llm_kv_config c = LLM_KV_CONFIG_INIT;
	struct llm_kv_size *r;
	int n;

	/* a row of 8 values in q4_0 takes one whole block: 18 bytes, K and V */
	c.n_layer = 1, c.n_head = 1, c.n_head_kv = 1, c.head_dim = 8;
	CHECK(llm_kv_sizes(&r, &n, &c, LLM_TYPE_Q4_0, 10, 1) == 0 && r[0].bytes_per_token == 36 &&
	      r[0].total_bytes == 360, "q4_0_rounds_up_per_block", "%llu",
	      n ? (unsigned long long)r[0].bytes_per_token : 0);
	/* one head: no gqa rows, no mqa row (it would be mha) */
	CHECK(n == 3 && !strcmp(r[2].variant, "mla"), "one_head_rows", "n %d", n);
	free(r);
	c.n_head = 0;
	CHECK(llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 10, 1) == LLM_EINVAL && r == NULL, "zero_heads",
	      "%s", llm_errmsg());
	c.n_head = 6, c.n_head_kv = 4;
	CHECK(llm_kv_config_check(&c) == LLM_EINVAL, "kv_heads_must_divide", "%s", llm_errmsg());
	c.n_head_kv = 2;
	CHECK(llm_kv_sizes(&r, &n, &c, LLM_TYPE_Q4_1, 10, 1) == LLM_EINVAL, "kv_type_restricted", "%s",
	      llm_errmsg());
	/* the total past 63 bits: LLM_EINVAL (the caller's ctx x batch) */
	CHECK(llm_kv_sizes(&r, &n, &c, LLM_TYPE_F32, INT64_MAX, 1) == LLM_EINVAL && r == NULL,
	      "overflow_caught", "%s", llm_errmsg());
	/* per token past 63 bits, from counts each within the cap: LLM_EFORMAT */
	c.n_layer = 1 << 24, c.n_head = 1 << 20, c.n_head_kv = 1 << 20, c.head_dim = 1 << 20;
	CHECK(llm_kv_sizes(&r, &n, &c, LLM_TYPE_F32, 1, 1) == LLM_EFORMAT && r == NULL,
	      "per_token_overflow_caught", "%s", llm_errmsg());
	/* explicit MLA dims for a non-MLA model */
	struct llm_kv_config d = { 4, 8, 2, 64, 64, 0, 100, 0 };
	llm_kv_sizes(&r, &n, &d, LLM_TYPE_F16, 1, 1);
	CHECK(row(r, n, "mla")->elems_per_token == 400 && row(r, n, "model")->elems_per_token == 4 * 2 * 2 * 64,
	      "mla_flags", "%lld", (long long)row(r, n, "mla")->elems_per_token);
	free(r);
}

/* metadata: llama (with and without key_length), deepseek2 old and new */
static void test_meta(void)
{
	llm_meta m;
	struct llm_kv_config c;
	struct llm_kv_size *r;
	int n;

	llm_meta_init(&m);
	llm_meta_set_str(&m, "general.architecture", "llama");
	llm_meta_set_u32(&m, "llama.block_count", 5);
	llm_meta_set_u32(&m, "llama.embedding_length", 64);
	llm_meta_set_u32(&m, "llama.attention.head_count", 8);
	llm_meta_set_u32(&m, "llama.attention.head_count_kv", 4);
	CHECK(llm_kv_config_from_meta(&c, &m) == 0 && c.head_dim == 8 && c.n_head_kv == 4 && !c.is_mla,
	      "meta_llama", "%s", llm_errmsg());
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 1, 1);
	CHECK(r[0].elems_per_token == 320, "meta_stories_shape_320", "%lld", (long long)r[0].elems_per_token);
	free(r);
	llm_meta_set_u32(&m, "llama.attention.key_length", 12);
	llm_meta_set_u32(&m, "llama.attention.value_length", 10);
	llm_kv_config_from_meta(&c, &m);
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 1, 1);
	CHECK(r[0].elems_per_token == 5 * 4 * (12 + 10), "meta_key_value_length", "%lld",
	      (long long)r[0].elems_per_token);
	free(r);
	/* key_length alone: value_length is still embedding_length / head_count
	 * (llama.cpp's default; it once took key_length's 12) */
	llm_meta_remove(&m, "llama.attention.value_length");
	CHECK(llm_kv_config_from_meta(&c, &m) == 0 && c.head_dim == 12 && c.head_dim_v == 8,
	      "meta_key_length_alone", "%s: d_k %lld d_v %lld", llm_errmsg(), (long long)c.head_dim,
	      (long long)c.head_dim_v);
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 1, 1);
	CHECK(r[0].elems_per_token == 5 * 4 * (12 + 8), "meta_key_length_alone_sizes", "%lld",
	      (long long)r[0].elems_per_token);
	free(r);
	/* ... which must then divide */
	llm_meta_set_u32(&m, "llama.embedding_length", 60);
	CHECK(llm_kv_config_from_meta(&c, &m) == LLM_EFORMAT && strstr(llm_errmsg(), "value_length"),
	      "meta_key_length_alone_not_dividing", "%s", llm_errmsg());
	llm_meta_remove(&m, "llama.embedding_length");
	CHECK(llm_kv_config_from_meta(&c, &m) == LLM_ENOTFOUND && strstr(llm_errmsg(), "value_length"),
	      "meta_key_length_alone_no_embd", "%s", llm_errmsg());
	llm_meta_set_u32(&m, "llama.embedding_length", 64);
	llm_meta_set_u32(&m, "llama.attention.value_length", 10);
	llm_meta_set_u32(&m, "llama.attention.head_count", 0);
	CHECK(llm_kv_config_from_meta(&c, &m) == LLM_EFORMAT && strstr(llm_errmsg(), "head_count"),
	      "meta_zero_heads", "%s", llm_errmsg());
	llm_meta_remove(&m, "llama.attention.head_count");
	CHECK(llm_kv_config_from_meta(&c, &m) == LLM_ENOTFOUND && strstr(llm_errmsg(), "llama.attention.head_count"),
	      "meta_missing_key", "%s", llm_errmsg());
	llm_meta_clear(&m);

	/* DeepSeek-V2 as llama.cpp's current converter writes it (MQA-shaped) */
	llm_meta_set_str(&m, "general.architecture", "deepseek2");
	llm_meta_set_u32(&m, "deepseek2.block_count", 60);
	llm_meta_set_u32(&m, "deepseek2.embedding_length", 5120);
	llm_meta_set_u32(&m, "deepseek2.attention.head_count", 128);
	llm_meta_set_u32(&m, "deepseek2.attention.head_count_kv", 1);
	llm_meta_set_u32(&m, "deepseek2.attention.key_length", 576);
	llm_meta_set_u32(&m, "deepseek2.attention.value_length", 512);
	llm_meta_set_u32(&m, "deepseek2.attention.key_length_mla", 192);
	llm_meta_set_u32(&m, "deepseek2.attention.value_length_mla", 128);
	llm_meta_set_u32(&m, "deepseek2.attention.kv_lora_rank", 512);
	llm_meta_set_u32(&m, "deepseek2.attention.q_lora_rank", 1536);
	llm_meta_set_u32(&m, "deepseek2.rope.dimension_count", 64);
	CHECK(llm_kv_config_from_meta(&c, &m) == 0 && c.is_mla && c.mla_rank == 512 &&
	      c.mla_rope_dim == 64 && c.head_dim == 128, "meta_deepseek2_new", "%s", llm_errmsg());
	llm_kv_sizes(&r, &n, &c, LLM_TYPE_BF16, 1, 1);
	CHECK(r[0].elems_per_token == 34560 && r[0].bytes_per_token == 69120 &&
	      r[1].elems_per_token == 1966080, "meta_deepseek2_new_sizes", "%lld", (long long)r[0].elems_per_token);
	free(r);
	/* older conversions: per-head key_length = 192, value_length = 128 */
	llm_meta_remove(&m, "deepseek2.attention.key_length_mla");
	llm_meta_remove(&m, "deepseek2.attention.value_length_mla");
	llm_meta_set_u32(&m, "deepseek2.attention.key_length", 192);
	llm_meta_set_u32(&m, "deepseek2.attention.value_length", 128);
	llm_meta_set_u32(&m, "deepseek2.attention.head_count_kv", 128);
	CHECK(llm_kv_config_from_meta(&c, &m) == 0 && c.is_mla && c.head_dim == 128, "meta_deepseek2_old",
	      "%s hd %lld", llm_errmsg(), (long long)c.head_dim);
	llm_meta_clear(&m);
	CHECK(llm_kv_config_from_meta(&c, &m) == LLM_ENOTFOUND, "meta_empty", "%s", llm_errmsg());
}

/* stories260K.gguf's own metadata, through the checkpoint layer */
static void test_stories(void)
{
	char path[512];
	llm_ckpt *ck;
	struct llm_kv_config c;
	struct llm_kv_size *r = NULL;
	int n = 0;

	snprintf(path, sizeof path, "%s/models/stories260K.gguf", test_shared());
	if (access(path, R_OK)) {
		SKIP("stories260K_model_320", "../shared/models/stories260K.gguf absent");
		return;
	}
	CHECK(llm_ckpt_open(&ck, path, NULL) == 0, "stories_open", "%s", llm_errmsg());
	CHECK(llm_kv_config_from_meta(&c, llm_ckpt_meta(ck)) == 0 &&
	      llm_kv_sizes(&r, &n, &c, LLM_TYPE_F16, 512, 1) == 0, "stories_config", "%s", llm_errmsg());
	CHECK(n > 0 && r[0].elems_per_token == 320 && r[0].n_layer == 5 && r[0].n_kv_head == 4 && r[0].head_dim == 8,
	      "stories260K_model_320", "%lld", (long long)r[0].elems_per_token);
	CHECK(!llm_kv_is_dump(llm_ckpt_meta(ck)), "model_is_not_dump", "?");
	free(r);
	llm_ckpt_free(ck);
}

/* ---- statistics ---- */

static void test_kivi_zstd(void)
{
	float x[4] = { 0, 1, 2, 3 }, y[4];
	float a[3] = { 0, 0.4f, 1 }, b[3];
	float z[1024] = { 0 }, g[1024];
	double rz = 0, rg = 0, s2[3];

	llm_kv_kivi(y, x, 1, 4, 2, 32, 0); /* 2 bits: levels 0..3 hit exactly */
	CHECK(!memcmp(x, y, sizeof x), "kivi_exact_levels", "%g %g %g %g", y[0], y[1], y[2], y[3]);
	llm_kv_kivi(b, a, 1, 3, 1, 32, 0); /* 1 bit: 0.4 -> 0 */
	CHECK(b[0] == 0 && b[1] == 0 && b[2] == 1, "kivi_one_bit", "%g %g %g", b[0], b[1], b[2]);
	/* per channel: column [0, 0.4, 1] of a 3x1 matrix, group of 2 then 1 */
	llm_kv_kivi(b, a, 3, 1, 1, 2, 1);
	CHECK(b[0] == 0 && b[1] == 0.4f && b[2] == 1, "kivi_per_channel_groups", "%g %g %g", b[0], b[1], b[2]);
	CHECK(llm_kv_zstd_ratio(&rz, z, 1024, 0, 3) == 0 && rz > 50, "zstd_zeros_compress", "%g", rz);
	for (int i = 0; i < 1024; i++)
		g[i] = (float)gauss();
	CHECK(llm_kv_zstd_ratio(&rz, g, 1024, 0, 3) == 0 && llm_kv_zstd_ratio(&rg, g, 1024, 1, 3) == 0 &&
	      rz < 1.5 && rg > rz, "zstd_grouping_helps_gaussian", "raw %g grouped %g", rz, rg);
	/* singular values of [[3,0],[0,4],[0,0]]: 4, 3 */
	float m[6] = { 3, 0, 0, 4, 0, 0 };
	CHECK(llm_kv_sv2(s2, m, 3, 2, 2) == 0 && fabs(s2[0] - 16) < 1e-9 && fabs(s2[1] - 9) < 1e-9,
	      "sv2_diag", "%g %g", s2[0], s2[1]);
	CHECK(llm_kv_energy_rank(s2, 2, 0.5) == 1 && llm_kv_energy_rank(s2, 2, 0.9) == 2, "energy_rank",
	      "?");
}

static void test_synthetic(void)
{
	static float x[NPOS * W];
	struct llm_kv_stat st[1 + NKV];
	struct llm_kv_stat_opts o = LLM_KV_STAT_OPTS_INIT;
	int rc;

	o.per_head = 1;
	/* layer 0 K: singular values 1000, 500, 200, 100: energies 1e6, 2.5e5,
	 * 4e4, 1e4 of 1.3e6 -> top 2 hold 96.2 %, top 3 99.2 % */
	synth(x, 0, 'k');
	rc = llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'k', 0, &o);
	CHECK(rc == 0 && st[0].rank90 == 2 && st[0].rank99 == 3, "rank_of_planted_spectrum",
	      "rc %d rank90 %lld rank99 %lld", rc, (long long)st[0].rank90, (long long)st[0].rank99);
	for (int h = 0; h < NKV; h++)
		CHECK(st[1 + h].rank99 <= 4 && st[1 + h].head == h && st[1 + h].width == HD, "rank_per_head_le_4",
		      "head %d: %lld", h, (long long)st[1 + h].rank99);
	/* Frobenius norm: sum of squared row norms = sum of squared singular values */
	CHECK(fabs(st[0].rms * st[0].rms * NPOS * W - 1.3e6) < 1.3e6 * 1e-5, "rms_is_frobenius",
	      "%g", st[0].rms);

	/* layer 0 V: 12 planted outliers, all in head 2 */
	synth(x, 0, 'v');
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'v', 0, &o);
	CHECK(st[0].outlier_frac == (double)N_OUTLIERS / (NPOS * W), "outlier_fraction_planted",
	      "%g vs %g", st[0].outlier_frac, (double)N_OUTLIERS / (NPOS * W));
	CHECK(st[3].outlier_frac == (double)N_OUTLIERS / (NPOS * HD) && st[1].outlier_frac == 0 &&
	      st[2].outlier_frac == 0 && st[4].outlier_frac == 0, "outliers_per_head", "%g", st[3].outlier_frac);
	CHECK(st[0].norm_max >= 50 && st[0].rmse_q4_0 > st[0].rmse_q8_0 && st[0].rmse_q8_0 > 0,
	      "quant_errors_ordered", "q8 %g q4 %g", st[0].rmse_q8_0, st[0].rmse_q4_0);
	CHECK(st[0].rmse_kivi2 > st[0].rmse_kivi4, "kivi2_worse_than_kivi4", "%g %g", st[0].rmse_kivi2,
	      st[0].rmse_kivi4);

	/* layer 1 K: per-channel offsets: KIVI's per-channel grouping wins */
	synth(x, 1, 'k');
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'k', 1, &o);
	double per_channel = st[0].rmse_kivi2;
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'v', 1, &o);
	CHECK(per_channel < 0.5 * st[0].rmse_kivi2, "kivi_keys_per_channel_beats_per_token",
	      "%g vs %g", per_channel, st[0].rmse_kivi2);

	/* layer 2: zeros, and rows of constant i + 1 */
	synth(x, 2, 'k');
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'k', 2, &o);
	CHECK(st[0].rank90 == 0 && st[0].rmse_q4_0 == 0 && st[0].rms == 0 && st[0].outlier_frac == 0,
	      "zeros", "rank %lld", (long long)st[0].rank90);
	synth(x, 2, 'v');
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'v', 2, &o);
	CHECK(fabs(st[0].norm_max - NPOS * sqrt(W)) < 1e-9 &&
	      fabs(st[0].norm_mean - (NPOS + 1) / 2.0 * sqrt(W)) < 1e-9 &&
	      fabs(st[2].norm_max - NPOS * sqrt(HD)) < 1e-9, "norms_of_constant_rows", "%g %g",
	      st[0].norm_max, st[0].norm_mean);
	CHECK(st[0].rank90 == 1 && st[0].rank99 == 1 && st[0].rmse_kivi2 < 1e-5, "constant_rows_rank_1",
	      "%lld %g", (long long)st[0].rank99, st[0].rmse_kivi2);
	CHECK(llm_kv_stats_matrix(st, x, 0, NKV, HD, 'v', 2, &o) == LLM_EINVAL, "no_positions", "?");

	/* sigma of values far from zero: a constant layer has sigma 0 and no
	 * outliers (sum x^2 / n - mean^2 once left a rounding residue of
	 * ~1e-10 as sigma, so that every 0.3 counted as a 6-sigma outlier) */
	static const float consts[] = { 0.3f, 1.7f, 0.001f, -2.5f, 123.456f };
	for (size_t c = 0; c < sizeof consts / sizeof *consts; c++) {
		for (int i = 0; i < NPOS * W; i++)
			x[i] = consts[c];
		llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'v', 2, &o);
		CHECK(st[0].outlier_frac == 0 && st[1].outlier_frac == 0, "constant_layer_no_outliers",
		      "%g: outlier_frac %g", consts[c], st[0].outlier_frac);
	}

	/* values a type cannot hold: q8_0's f16 scale (amax / 127) overflows
	 * past 65504 x 127, q4_0's (max / -8) past 65504 x 8, so the stored
	 * cache holds inf and NaN: the error is infinite (was NaN, "-nan") */
	for (int i = 0; i < NPOS * W; i++)
		x[i] = (float)(i % 7) * (i % 2 ? 3e6f : -3e6f);
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'v', 2, &o);
	CHECK(isinf(st[0].rmse_q8_0) && st[0].rmse_q8_0 > 0 && isinf(st[1].rmse_q8_0) &&
	      isinf(st[0].rmse_q4_0) && isfinite(st[0].rmse_kivi4), "unrepresentable_rmse_inf",
	      "q8_0 %g q4_0 %g kivi4 %g", st[0].rmse_q8_0, st[0].rmse_q4_0, st[0].rmse_kivi4);
	for (int i = 0; i < NPOS * W; i++) /* (max - min) / 15 overflows float */
		x[i] = i % 2 ? 3e38f : -3e38f;
	llm_kv_stats_matrix(st, x, NPOS, NKV, HD, 'v', 2, &o);
	CHECK(isinf(st[0].rmse_kivi4) && st[0].rmse_kivi4 > 0 && isinf(st[0].rmse_kivi2),
	      "unrepresentable_kivi_inf", "kivi4 %g kivi2 %g", st[0].rmse_kivi4, st[0].rmse_kivi2);
}

static void test_dump_files(void)
{
	char path[] = "/tmp/test_kv.XXXXXX";
	int fd = mkstemp(path);
	llm_ckpt *ck;
	struct llm_kv_stat *r;
	struct llm_kv_dump_info d;
	int64_t n;
	int rc;

	close(fd);
	CHECK(write_dump(path, "good") == 0, "write_dump", "%s", llm_errmsg());
	CHECK(llm_ckpt_open(&ck, path, NULL) == 0 && llm_kv_is_dump(llm_ckpt_meta(ck)), "open_dump", "%s",
	      llm_errmsg());
	rc = llm_kv_dump_stats(&r, &n, &d, ck, NULL);
	CHECK(rc == 0 && n == 2 * NL && d.n_pos == NPOS && d.n_head == 2 * NKV && r[0].kind == 'k' &&
	      r[1].kind == 'v' && r[5].layer == 2 && r[0].rank90 == 2, "dump_stats", "rc %d n %lld: %s", rc,
	      (long long)n, llm_errmsg());
	free(r);
	llm_ckpt_free(ck);

	static const char *const bad[] = { "notdump", "badshape", "missing", "inf" };
	for (int i = 0; i < 4; i++) {
		char name[64];
		write_dump(path, bad[i]);
		llm_ckpt_open(&ck, path, NULL);
		rc = llm_kv_dump_stats(&r, &n, &d, ck, NULL);
		snprintf(name, sizeof name, "dump_%s_rejected", bad[i]);
		CHECK(rc == LLM_EFORMAT && r == NULL && strstr(llm_errmsg(), path), name, "rc %d: %s", rc,
		      llm_errmsg());
		llm_ckpt_free(ck);
	}
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--write-dump")) {
		if (write_dump(argv[2], argc > 3 ? argv[3] : "good")) {
			fprintf(stderr, "test_kv: %s\n", llm_errmsg());
			return 1;
		}
		return 0;
	}
	test_presets();
	test_flags_and_errors();
	test_meta();
	test_stories();
	test_kivi_zstd();
	test_synthetic();
	test_dump_files();
	return test_done();
}
