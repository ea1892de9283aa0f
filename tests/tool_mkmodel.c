/* tool_mkmodel.c - write a random llama-family GGUF (F32) with the project's
 * own writer: for the demo, the benchmarks and tests that need a model of a
 * given shape.  Weights are Gaussian with a per-row scale (like trained
 * weights), norms near 1; the vocabulary is SentencePiece-style: <unk>, <s>,
 * </s>, the 256 byte tokens <0xNN>, then "▁" and the printable ASCII
 * characters with and without "▁", then filler tokens.
 *
 * usage: tool_mkmodel OUT [dim layers heads kv_heads ff vocab ctx seed [tied [KTYPE]]]
 *
 * KTYPE (q2_K .. q6_K, iq4_nl, iq4_xs, or q4_K_m: attn_v, ffn_down and
 * output in q6_K, the rest q4_K) writes the 2-D weights in that type with
 * tests/kq_enc.h, since llm-quant writes none of them (for benchmarks of
 * their kernels).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf.h"
#include "kq_enc.h"
#include "types.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}
static float gauss(void)
{
	double u = urand(), v = urand();
	if (u < 1e-300)
		u = 1e-300;
	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

struct tdesc {
	char name[64];
	int nd;
	int64_t ne[2];
	int norm;
};

int main(int argc, char **argv)
{
	int64_t dim = 64, nl = 2, nh = 4, nkv = 2, ff = 160, nv = 512, ctx = 256;
	int tied = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s OUT [dim layers heads kv_heads ff vocab ctx seed [tied [KTYPE]]]\n", argv[0]);
		return 2;
	}
	if (argc >= 10) {
		dim = atoll(argv[2]), nl = atoll(argv[3]), nh = atoll(argv[4]), nkv = atoll(argv[5]);
		ff = atoll(argv[6]), nv = atoll(argv[7]), ctx = atoll(argv[8]);
		rng ^= (uint64_t)atoll(argv[9]) * 0x9E3779B97F4A7C15ull;
		tied = argc >= 11 && atoi(argv[10]);
	}
	const char *kname = argc >= 12 ? argv[11] : NULL;
	int mix = kname && !strcmp(kname, "q4_K_m"), ktype = mix ? LLM_TYPE_Q4_K : -1;
	if (kname && !mix) {
		ktype = llm_type_from_name(kname);
		const struct llm_type_traits *kt = llm_type_traits(ktype);
		if (!kt || kt->from_float || !kt->to_float) {
			fprintf(stderr, "%s: %s: not a type only the tests' encoder writes (q2_K .. q6_K, iq4_nl, iq4_xs, q4_K_m)\n",
				argv[0], kname);
			return 2;
		}
	}
	if (nv < 259 + 96 * 2 + 1 || dim % nh || nh % nkv || dim <= 0 || nl <= 0 || ff <= 0) {
		fprintf(stderr, "%s: bad shape (vocab >= 452, heads divide dim, kv_heads divide heads)\n", argv[0]);
		return 2;
	}
	int64_t hd = dim / nh;
	llm_gguf_writer *w;
	if (llm_gguf_writer_open(&w, argv[1])) {
		fprintf(stderr, "%s: %s\n", argv[0], llm_errmsg());
		return 1;
	}
	llm_meta *m = llm_gguf_writer_meta(w);
	llm_meta_set_str(m, "general.architecture", "llama");
	llm_meta_set_str(m, "general.name", "random-llama");
	llm_meta_set_u32(m, "llama.context_length", (uint32_t)ctx);
	llm_meta_set_u32(m, "llama.embedding_length", (uint32_t)dim);
	llm_meta_set_u32(m, "llama.block_count", (uint32_t)nl);
	llm_meta_set_u32(m, "llama.feed_forward_length", (uint32_t)ff);
	llm_meta_set_u32(m, "llama.rope.dimension_count", (uint32_t)hd);
	llm_meta_set_u32(m, "llama.attention.head_count", (uint32_t)nh);
	llm_meta_set_u32(m, "llama.attention.head_count_kv", (uint32_t)nkv);
	llm_meta_set_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	llm_meta_set_f32(m, "llama.rope.freq_base", 10000.0f);
	/* llama_ftype: ALL_F32, or the K-quant mostly-types (Q4_K_M 15) */
	static const int kftype[] = { [LLM_TYPE_Q2_K] = 10, [LLM_TYPE_Q3_K] = 11, [LLM_TYPE_Q4_K] = 14,
				      [LLM_TYPE_Q5_K] = 16, [LLM_TYPE_Q6_K] = 18, [LLM_TYPE_IQ4_NL] = 25,
				      [LLM_TYPE_IQ4_XS] = 30 };
	llm_meta_set_u32(m, "general.file_type", mix ? 15 : ktype >= 0 ? (uint32_t)kftype[ktype] : 0);
	/* vocabulary */
	struct llm_str *tok = calloc((size_t)nv, sizeof *tok);
	float *score = calloc((size_t)nv, sizeof *score);
	int32_t *ttype = calloc((size_t)nv, sizeof *ttype);
	char (*text)[32] = calloc((size_t)nv, 32);
	int64_t k = 0;
	strcpy(text[k], "<unk>"), ttype[k++] = 2;
	strcpy(text[k], "<s>"), ttype[k++] = 3;
	strcpy(text[k], "</s>"), ttype[k++] = 3;
	for (int b = 0; b < 256; b++)
		snprintf(text[k], 32, "<0x%02X>", b), ttype[k++] = 6;
	strcpy(text[k], "\xe2\x96\x81"), score[k] = -1, ttype[k++] = 1;
	for (int ch = 32; ch < 127; ch++) {
		if (ch == ' ')
			continue;
		snprintf(text[k], 32, "%c", ch), score[k] = -2 - (float)(ch % 7), ttype[k++] = 1;
		snprintf(text[k], 32, "\xe2\x96\x81%c", ch), score[k] = -3 - (float)(ch % 5), ttype[k++] = 1;
	}
	while (k < nv)
		snprintf(text[k], 32, "[tok%lld]", (long long)k), score[k] = -1000, ttype[k++] = 1;
	for (int64_t i = 0; i < nv; i++)
		tok[i].s = text[i], tok[i].len = strlen(text[i]);
	llm_meta_set_str(m, "tokenizer.ggml.model", "llama");
	llm_meta_set_arr_str(m, "tokenizer.ggml.tokens", tok, (uint64_t)nv);
	llm_meta_set_arr(m, "tokenizer.ggml.scores", LLM_V_F32, score, (uint64_t)nv);
	llm_meta_set_arr(m, "tokenizer.ggml.token_type", LLM_V_I32, ttype, (uint64_t)nv);
	llm_meta_set_u32(m, "tokenizer.ggml.bos_token_id", 1);
	llm_meta_set_u32(m, "tokenizer.ggml.eos_token_id", 2);
	llm_meta_set_u32(m, "tokenizer.ggml.unknown_token_id", 0);

	/* tensors, in llama.cpp's order */
	int64_t nt = 2 + 9 * nl + !tied, i = 0;
	struct tdesc *t = calloc((size_t)nt, sizeof *t);
#define T(nm, d, a, b, nrm) (snprintf(t[i].name, 64, "%s", nm), t[i].nd = d, t[i].ne[0] = a, t[i].ne[1] = b, t[i].norm = nrm, i++)
	T("token_embd.weight", 2, dim, nv, 0);
	for (int64_t l = 0; l < nl; l++) {
		char nm[64];
#define L(suffix, d, a, b, nrm) (snprintf(nm, 64, "blk.%lld.%s", (long long)l, suffix), T(nm, d, a, b, nrm))
		L("attn_norm.weight", 1, dim, 1, 1);
		L("attn_q.weight", 2, dim, dim, 0);
		L("attn_k.weight", 2, dim, hd * nkv, 0);
		L("attn_v.weight", 2, dim, hd * nkv, 0);
		L("attn_output.weight", 2, dim, dim, 0);
		L("ffn_norm.weight", 1, dim, 1, 1);
		L("ffn_gate.weight", 2, dim, ff, 0);
		L("ffn_up.weight", 2, dim, ff, 0);
		L("ffn_down.weight", 2, ff, dim, 0);
	}
	T("output_norm.weight", 1, dim, 1, 1);
	if (!tied)
		T("output.weight", 2, dim, nv, 0);
	int *type = malloc((size_t)nt * sizeof *type);
	for (i = 0; i < nt; i++) {
		type[i] = LLM_TYPE_F32;
		if (ktype >= 0 && t[i].nd == 2) {
			type[i] = mix && (strstr(t[i].name, "attn_v") || strstr(t[i].name, "ffn_down") ||
					  !strcmp(t[i].name, "output.weight"))
					  ? LLM_TYPE_Q6_K
					  : ktype;
			if (!llm_type_row_size(type[i], t[i].ne[0])) {
				fprintf(stderr, "%s: %s: rows of %lld do not fit %s\n", argv[0], t[i].name,
					(long long)t[i].ne[0], llm_type_name(type[i]));
				llm_gguf_writer_abort(w);
				return 2;
			}
		}
	}
	for (i = 0; i < nt; i++)
		if (llm_gguf_writer_add_tensor(w, t[i].name, type[i], t[i].nd, t[i].ne)) {
			fprintf(stderr, "%s: %s\n", argv[0], llm_errmsg());
			llm_gguf_writer_abort(w);
			return 1;
		}
	for (i = 0; i < nt; i++) {
		int64_t rows = t[i].nd == 2 ? t[i].ne[1] : 1, n = t[i].ne[0];
		float *row = malloc((size_t)n * sizeof *row);
		size_t rb = llm_type_row_size(type[i], n);
		uint8_t *enc = malloc(rb);
		for (int64_t r = 0; r < rows; r++) {
			float s = (float)(1.0 / sqrt((double)n)) * (0.5f + (float)urand());
			for (int64_t j = 0; j < n; j++)
				row[j] = t[i].norm ? 1.0f + 0.1f * gauss() : s * gauss();
			const void *out = row;
			if (type[i] != LLM_TYPE_F32 && kq_encode(type[i], row, enc, n))
				out = enc;
			if (llm_gguf_writer_write(w, out, rb)) {
				fprintf(stderr, "%s: %s\n", argv[0], llm_errmsg());
				llm_gguf_writer_abort(w);
				return 1;
			}
		}
		free(row);
		free(enc);
	}
	free(type);
	if (llm_gguf_writer_commit(w)) {
		fprintf(stderr, "%s: %s\n", argv[0], llm_errmsg());
		return 1;
	}
	free(t);
	free(tok);
	free(score);
	free(ttype);
	free(text);
	return 0;
}
