/* llama2c.c - karpathy's llama2.c checkpoints and tokenizer.bin, seen as
 * GGUF (the llama2.c backend behind llm_ckpt_open; see ckpt_impl.h).
 *
 * Checkpoint (legacy export, little-endian), as run.c's
 * memory_map_weights reads it:
 *   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *         (vocab_size < 0: an unshared classifier wcls follows at the end)
 *   float32, with head_size = dim / n_heads, kv_dim = head_size * n_kv_heads:
 *     token_embedding_table (vocab, dim)
 *     rms_att_weight        (layer, dim)
 *     wq                    (layer, n_heads * head_size, dim)   rows x cols
 *     wk                    (layer, kv_dim, dim)
 *     wv                    (layer, kv_dim, dim)
 *     wo                    (layer, dim, n_heads * head_size)
 *     rms_ffn_weight        (layer, dim)
 *     w1                    (layer, hidden_dim, dim)
 *     w2                    (layer, dim, hidden_dim)
 *     w3                    (layer, hidden_dim, dim)
 *     rms_final_weight      (dim)
 *     freq_cis_real, imag   (seq_len, head_size / 2) each: skipped
 *     wcls                  (vocab, dim)                        if unshared
 * export.py's versions 1 and 2 (runq.c reads 2) start with a 256-byte
 * header: u32 magic "ak42", int32 version, the same seven int32 (vocab_size
 * positive), u8 shared_classifier, (2:) int32 group_size, zeros.  Then
 *   1: float32 rms_att_weight, rms_ffn_weight, rms_final_weight,
 *      token_embedding_table, wq, wk, wv, wo, w1, w2, w3, [wcls]
 *   2: float32 rms_att_weight, rms_ffn_weight, rms_final_weight; then
 *      token_embedding_table, per layer wq, ..., per layer w3, [wcls], each
 *      as int8 q[numel] and float32 s[numel / group_size]: x = q * s[j / gs],
 *      dequantized to F32 on load as runq.c dequantizes (no freq_cis).
 * The q/k rows are already in GGUF's adjacent-pair RoPE order (llama2.c
 * rotates pairs (2i, 2i+1) as ggml does): no permutation.  Checked against
 * llama.cpp's stories260K.gguf, which holds the same bytes.
 *
 * tokenizer.bin: int32 max_token_length, then per token
 *   f32 score, int32 len, len bytes (no NUL); as many tokens as the file
 *   holds.  llama2.c writes SentencePiece's U+2581 as a space and <s>, </s>
 *   as "\n<s>\n", "\n</s>\n"; we undo both, as llama.cpp's
 *   convert-llama2c-to-ggml does.
 *
 * Compared with llama.cpp's stories260K.gguf (converted from these files):
 * tensors and tokenizer.ggml.* are identical; differences, on purpose:
 *   llama.context_length is the header's seq_len (512), not the
 *     converter's default 2048;
 *   a shared classifier gives no output.weight (the GGUF holds a copy of
 *     token_embd), as llama.cpp's loaders expect of tied models;
 *   added: llama.rope.freq_base 10000 and rms eps 1e-5 (run.c's
 *     constants), llama.vocab_size, general.file_type 0,
 *     tokenizer.ggml.add_bos_token true / add_eos_token false.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_impl.h"
#include "error.h"
#include "io.h"
#include "types.h"

#define L2C_HEADER 28
#define L2C_HEADER_AK42 256
#define L2C_MAGIC_V1 0x616b3432u /* "ak42": export versions 1 and 2 */

struct l2c_hdr {
	int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

/* What the header says beyond the seven sizes. */
struct l2c_fmt {
	int version;    /* 0 legacy, 1 fp32, 2 int8 groups */
	int shared;     /* classifier shared with the embedding */
	int gs;         /* version 2: values per scale */
	uint64_t start; /* bytes before the first weight */
};

struct l2c_impl {
	struct llm_map map;
	uint64_t *off;  /* per tensor: file offset (of the int8 values in version 2) */
	uint64_t *soff; /* per tensor: file offset of its version 2 scales, or 0 (F32) */
	int gs;
};

/* ---- layout ---- */

/* The weight arrays; each holds per layer (or once) numel values. */
enum { A_EMB, A_ATT, A_WQ, A_WK, A_WV, A_WO, A_FFN, A_W1, A_W2, A_W3, A_FIN, A_FREQ, A_WCLS, A_N };

/* Their order in the file, per version (A_N ends a list); in version 2
 * those from A_EMB on are int8 with a float scale per gs values. */
static const int l2c_order[3][A_N + 1] = {
	{ A_EMB, A_ATT, A_WQ, A_WK, A_WV, A_WO, A_FFN, A_W1, A_W2, A_W3, A_FIN, A_FREQ, A_WCLS, A_N },
	{ A_ATT, A_FFN, A_FIN, A_EMB, A_WQ, A_WK, A_WV, A_WO, A_W1, A_W2, A_W3, A_WCLS, A_N },
	{ A_ATT, A_FFN, A_FIN, A_EMB, A_WQ, A_WK, A_WV, A_WO, A_W1, A_W2, A_W3, A_WCLS, A_N },
};

struct l2c_arr {
	uint64_t off;    /* file offset of layer 0 */
	uint64_t numel;  /* values per layer */
	uint64_t stride; /* bytes per layer */
	int q8;          /* int8 values, then numel / gs float scales */
};

/* Offsets of every array from a header l2c_check has accepted; returns
 * the file size they imply, 0 on overflow. */
static uint64_t l2c_layout(const struct l2c_hdr *h, const struct l2c_fmt *f, struct l2c_arr a[A_N])
{
	uint64_t dim = (uint64_t)h->dim, hid = (uint64_t)h->hidden_dim, L = (uint64_t)h->n_layers;
	uint64_t V = (uint64_t)(h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size);
	uint64_t hs = dim / (uint64_t)h->n_heads, kv = hs * (uint64_t)h->n_kv_heads;
	uint64_t numel[A_N] = { V * dim, dim, dim * dim, kv * dim, kv * dim, dim * dim, dim,
				hid * dim, dim * hid, hid * dim, dim, (uint64_t)h->seq_len * hs, V * dim };
	uint64_t layers[A_N] = { 1, L, L, L, L, L, L, L, L, L, 1, 1, 1 };
	uint64_t o = f->start, bytes;
	int bad = 0;

	/* each factor is below 2^31, so no single product above overflows */
	memset(a, 0, A_N * sizeof *a);
	for (const int *k = l2c_order[f->version]; *k != A_N; k++) {
		struct l2c_arr *x = &a[*k];
		if (*k == A_WCLS && f->shared)
			continue;
		x->numel = numel[*k];
		x->q8 = f->version == 2 && *k != A_ATT && *k != A_FFN && *k != A_FIN;
		bad |= x->q8 ? __builtin_add_overflow(x->numel, x->numel / (uint64_t)f->gs * 4, &x->stride)
			     : __builtin_mul_overflow(x->numel, 4, &x->stride);
		x->off = o;
		bad |= __builtin_mul_overflow(x->stride, layers[*k], &bytes) || __builtin_add_overflow(o, bytes, &o);
	}
	return bad ? 0 : o;
}

/* ---- header ---- */

static int l2c_check(const char *path, const struct l2c_hdr *h, const struct l2c_fmt *f, uint64_t fsize)
{
	const char *why = NULL;
	struct l2c_arr a[A_N];
	uint64_t want;

	if (h->dim <= 0 || h->hidden_dim <= 0 || h->n_layers <= 0 || h->n_heads <= 0 ||
	    h->n_kv_heads <= 0 || h->seq_len <= 0 || h->vocab_size == 0 || h->vocab_size == INT32_MIN ||
	    (f->version && h->vocab_size < 0))
		why = "a size is zero or negative";
	else if (h->dim % h->n_heads)
		why = "dim is not a multiple of n_heads";
	else if (h->n_kv_heads > h->n_heads || h->n_heads % h->n_kv_heads)
		why = "n_heads is not a multiple of n_kv_heads";
	else if ((h->dim / h->n_heads) % 2)
		why = "the head size is odd";
	if (why && !f->version)
		return llm_err(LLM_EFORMAT,
			       "%s: unrecognised format: no GGUF magic, not a tokenizer file, and not a llama2.c "
			       "checkpoint (%s: dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, "
			       "vocab_size %d, seq_len %d)",
			       path, why, h->dim, h->hidden_dim, h->n_layers, h->n_heads, h->n_kv_heads, h->vocab_size,
			       h->seq_len);
	if (why)
		return llm_err(LLM_EFORMAT,
			       "%s: llama2.c export version %d: %s (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
			       "n_kv_heads %d, vocab_size %d, seq_len %d)",
			       path, f->version, why, h->dim, h->hidden_dim, h->n_layers, h->n_heads, h->n_kv_heads,
			       h->vocab_size, h->seq_len);
	/* export.py halves the group size until it divides dim, which every
	 * quantized weight has as a factor */
	if (f->version == 2 && (f->gs <= 0 || h->dim % f->gs))
		return llm_err(LLM_EFORMAT, "%s: llama2.c export version 2: group size %d does not divide dim %d",
			       path, f->gs, h->dim);
	if (!(want = l2c_layout(h, f, a)))
		return llm_err(LLM_EFORMAT, "%s: not a llama2.c checkpoint: header sizes overflow", path);
	if (want != fsize) {
		char gs[32] = "";
		if (f->version == 2)
			snprintf(gs, sizeof gs, ", group size %d", f->gs);
		if (f->version)
			snprintf(gs + strlen(gs), sizeof gs - strlen(gs), ", %s", f->shared ? "shared" : "unshared");
		return llm_err(LLM_EFORMAT,
			       "%s: file is %llu bytes, but a llama2.c checkpoint (export version %d) with this header "
			       "(dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d%s) "
			       "is %llu bytes%s",
			       path, (unsigned long long)fsize, f->version, h->dim, h->hidden_dim, h->n_layers, h->n_heads,
			       h->n_kv_heads, h->vocab_size, h->seq_len, gs, (unsigned long long)want,
			       fsize < want ? " (truncated?)" : "");
	}
	return 0;
}

/* ---- tensors ---- */

struct l2c_layout {
	struct llm_tensor_info *t;
	uint64_t *off, *soff;
	int64_t n;
};

static int l2c_add(struct l2c_layout *lay, const char *name, int n_dims, int64_t ne0, int64_t ne1,
		   const struct l2c_arr *a, int64_t layer)
{
	struct llm_tensor_info *t = &lay->t[lay->n];
	uint64_t off = a->off + (uint64_t)layer * a->stride;

	if (!(t->name = strdup(name)))
		return llm_err(LLM_ENOMEM, "out of memory");
	t->type = LLM_TYPE_F32;
	t->n_dims = n_dims;
	t->ne[0] = ne0;
	t->ne[1] = ne1;
	t->ne[2] = t->ne[3] = 1;
	t->size = (uint64_t)ne0 * (uint64_t)ne1 * 4;
	t->offset = 0;
	lay->off[lay->n] = off;
	lay->soff[lay->n++] = a->q8 ? off + a->numel : 0;
	return 0;
}

/* Tensors in stories260K.gguf's order: token_embd, output_norm, output,
 * then per layer q, k, v, output, attn_norm, ffn_gate, ffn_down, ffn_up,
 * ffn_norm.  Offsets are validated by l2c_check (the file size is exact). */
static int l2c_tensors(struct l2c_layout *lay, const struct l2c_hdr *h, const struct l2c_fmt *f)
{
	int64_t dim = h->dim, hid = h->hidden_dim, L = h->n_layers;
	int64_t V = h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size;
	int64_t hs = dim / h->n_heads, kv = hs * h->n_kv_heads;
	struct l2c_arr a[A_N];
	char name[64];
	int rc = 0;

	l2c_layout(h, f, a);
	lay->n = 0;
	if (!rc) rc = l2c_add(lay, "token_embd.weight", 2, dim, V, &a[A_EMB], 0);
	if (!rc) rc = l2c_add(lay, "output_norm.weight", 1, dim, 1, &a[A_FIN], 0);
	if (!rc && !f->shared)
		rc = l2c_add(lay, "output.weight", 2, dim, V, &a[A_WCLS], 0);
	for (int64_t l = 0; l < L && !rc; l++) {
#define T(suffix, nd, ne0, ne1, arr)                                               \
	do {                                                                       \
		snprintf(name, sizeof name, "blk.%lld." suffix, (long long)l);     \
		if (!rc) rc = l2c_add(lay, name, nd, ne0, ne1, &a[arr], l);        \
	} while (0)
		T("attn_q.weight", 2, dim, dim, A_WQ);
		T("attn_k.weight", 2, dim, kv, A_WK);
		T("attn_v.weight", 2, dim, kv, A_WV);
		T("attn_output.weight", 2, dim, dim, A_WO);
		T("attn_norm.weight", 1, dim, 1, A_ATT);
		T("ffn_gate.weight", 2, dim, hid, A_W1);
		T("ffn_down.weight", 2, hid, dim, A_W2);
		T("ffn_up.weight", 2, dim, hid, A_W3);
		T("ffn_norm.weight", 1, dim, 1, A_FFN);
#undef T
	}
	return rc;
}

static const void *l2c_direct(llm_ckpt *c, int64_t i)
{
	struct l2c_impl *im = c->impl;
	/* F32 at the header's size (28 or 256) + 4k: float-aligned */
	return im->soff[i] ? NULL : im->map.data + im->off[i];
}

/* Version 2 weights dequantized as runq.c does: x[j] = q[j] * s[j / gs]. */
static int l2c_load(llm_ckpt *c, int64_t i, void *dst)
{
	struct l2c_impl *im = c->impl;
	const int8_t *q = (const int8_t *)(im->map.data + im->off[i]);
	const uint8_t *sp = im->map.data + im->soff[i];
	uint64_t n = c->t[i].size / 4;
	float *x = dst, s = 0;

	if (!im->soff[i]) {
		memcpy(dst, im->map.data + im->off[i], c->t[i].size);
		return 0;
	}
	for (uint64_t j = 0; j < n; j++) {
		if (j % (uint64_t)im->gs == 0) /* scales follow n int8 values: maybe unaligned */
			memcpy(&s, sp + j / (uint64_t)im->gs * 4, 4);
		x[j] = (float)q[j] * s;
	}
	return 0;
}

static void l2c_free(void *p)
{
	struct l2c_impl *im = p;

	if (!im)
		return;
	llm_map_close(&im->map);
	free(im->off);
	free(im->soff);
	free(im);
}

/* Version 2 weights take their int8 values and a float scale per group
 * in the file, a quarter and a bit of what they are read as. */
static uint64_t l2c_stored_size(const llm_ckpt *c, int64_t i)
{
	const struct l2c_impl *im = c->impl;
	uint64_t n = c->t[i].size / 4;
	return im->soff[i] ? n + n / (uint64_t)im->gs * 4 : c->t[i].size;
}

static const struct llm_ckpt_ops l2c_ops = { l2c_load, l2c_direct, l2c_free, NULL, l2c_stored_size };

/* ---- metadata ---- */

static int l2c_meta(llm_meta *m, const struct l2c_hdr *h)
{
	int V = h->vocab_size < 0 ? -h->vocab_size : h->vocab_size;
	int rc = 0;

	if (!rc) rc = llm_meta_set_str(m, "general.architecture", "llama");
	if (!rc) rc = llm_meta_set_str(m, "general.name", "llama"); /* as llama.cpp's converter */
	if (!rc) rc = llm_meta_set_u32(m, "llama.context_length", (uint32_t)h->seq_len);
	if (!rc) rc = llm_meta_set_u32(m, "llama.embedding_length", (uint32_t)h->dim);
	if (!rc) rc = llm_meta_set_u32(m, "llama.feed_forward_length", (uint32_t)h->hidden_dim);
	if (!rc) rc = llm_meta_set_u32(m, "llama.attention.head_count", (uint32_t)h->n_heads);
	if (!rc) rc = llm_meta_set_u32(m, "llama.attention.head_count_kv", (uint32_t)h->n_kv_heads);
	if (!rc) rc = llm_meta_set_u32(m, "llama.block_count", (uint32_t)h->n_layers);
	if (!rc) rc = llm_meta_set_u32(m, "llama.rope.dimension_count", (uint32_t)(h->dim / h->n_heads));
	if (!rc) rc = llm_meta_set_f32(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f); /* run.c */
	if (!rc) rc = llm_meta_set_f32(m, "llama.rope.freq_base", 10000.0f);                 /* run.c */
	if (!rc) rc = llm_meta_set_u32(m, "llama.vocab_size", (uint32_t)V);
	if (!rc) rc = llm_meta_set_u32(m, "general.file_type", 0); /* all F32 */
	return rc;
}

/* ---- tokenizer.bin ---- */

static int is_byte_token(const char *s, uint32_t len)
{
	static const char hex[] = "0123456789ABCDEFabcdef";
	return len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && s[3] && s[4] &&
	       strchr(hex, s[3]) && strchr(hex, s[4]);
}

/* Token text with spaces turned back into U+2581 (malloc'ed). */
static char *spm_escape(const char *s, uint32_t len, uint64_t *outlen)
{
	uint64_t n = 0;
	char *o = malloc((size_t)len * 3 + 1), *p = o;

	if (!o)
		return NULL;
	for (uint32_t i = 0; i < len; i++) {
		if (s[i] == ' ') {
			memcpy(p, "\xe2\x96\x81", 3);
			p += 3, n += 3;
		} else {
			*p++ = s[i], n++;
		}
	}
	*p = 0;
	*outlen = n;
	return o;
}

/* The llama2.c tokenizer entry at *off (an F32 score, an int32 length,
 * that many bytes): 0 with *off moved past it; 1 when fewer than 8 bytes
 * are left; 2 when its length is negative or runs past the end (*len set). */
static int l2c_entry(const uint8_t *d, uint64_t size, uint64_t *off, float *score,
		     const char **text, int32_t *len)
{
	if (size - *off < 8)
		return 1;
	memcpy(score, d + *off, 4);
	memcpy(len, d + *off + 4, 4);
	if (*len < 0 || (uint64_t)*len > size - *off - 8)
		return 2;
	*text = (const char *)d + *off + 8;
	*off += 8 + (uint64_t)*len;
	return 0;
}

static int l2c_tok_parse(llm_meta *tm, const char *path, const uint8_t *d, uint64_t size)
{
	struct llm_str *tok = NULL;
	float *score = NULL;
	int32_t *type = NULL, maxlen;
	uint64_t off = 4, n = 0, cap = 0;
	int rc = 0;

	if (size < 4)
		return llm_err(LLM_EFORMAT, "%s: too short for a llama2.c tokenizer", path);
	memcpy(&maxlen, d, 4);
	if (maxlen <= 0)
		return llm_err(LLM_EFORMAT, "%s: not a llama2.c tokenizer: max_token_length %d", path, maxlen);
	while (off < size && !rc) {
		float sc;
		int32_t len;
		const char *text;
		uint32_t tlen;

		int e = l2c_entry(d, size, &off, &sc, &text, &len);
		if (e == 1) {
			rc = llm_err(LLM_EFORMAT, "%s: truncated at token %llu (byte %llu)", path,
				     (unsigned long long)n, (unsigned long long)off);
			break;
		}
		if (e == 2) {
			rc = llm_err(LLM_EFORMAT, "%s: token %llu: length %d runs past the end of the file", path,
				     (unsigned long long)n, len);
			break;
		}
		if (n == cap) {
			uint64_t nc = cap ? cap * 2 : 1024;
			void *a = realloc(tok, nc * sizeof *tok), *b, *c;
			if (a) tok = a;
			b = a ? realloc(score, nc * sizeof *score) : NULL;
			if (b) score = b;
			c = b ? realloc(type, nc * sizeof *type) : NULL;
			if (c) type = c;
			if (!c) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				break;
			}
			cap = nc;
		}
		tlen = (uint32_t)len;
		/* As llama.cpp's convert-llama2c-to-ggml: ids 0, 1, 2 are
		 * <unk>, <s>, </s> whatever the file says. */
		type[n] = 1; /* normal */
		if (n == 0)
			text = "<unk>", tlen = 5, type[n] = 2;      /* unknown */
		else if (n == 1)
			text = "<s>", tlen = 3, type[n] = 3;        /* control */
		else if (n == 2)
			text = "</s>", tlen = 4, type[n] = 3;       /* control */
		else if (is_byte_token(text, tlen))
			type[n] = 6;                                /* byte */
		score[n] = sc;
		if (!(tok[n].s = spm_escape(text, tlen, &tok[n].len))) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	if (!rc && n < 3)
		rc = llm_err(LLM_EFORMAT, "%s: %llu tokens: too few for a llama2.c tokenizer", path,
			     (unsigned long long)n);
	if (!rc) rc = llm_meta_set_str(tm, "tokenizer.ggml.model", "llama");
	if (!rc) rc = llm_meta_set_arr_str(tm, "tokenizer.ggml.tokens", tok, n);
	if (!rc) rc = llm_meta_set_arr(tm, "tokenizer.ggml.scores", LLM_V_F32, score, n);
	if (!rc) rc = llm_meta_set_arr(tm, "tokenizer.ggml.token_type", LLM_V_I32, type, n);
	if (!rc) rc = llm_meta_set_u32(tm, "tokenizer.ggml.unknown_token_id", 0);
	if (!rc) rc = llm_meta_set_u32(tm, "tokenizer.ggml.bos_token_id", 1);
	if (!rc) rc = llm_meta_set_u32(tm, "tokenizer.ggml.eos_token_id", 2);
	if (!rc) rc = llm_meta_set_u32(tm, "tokenizer.ggml.seperator_token_id", UINT32_MAX); /* none */
	if (!rc) rc = llm_meta_set_u32(tm, "tokenizer.ggml.padding_token_id", UINT32_MAX);   /* none */
	if (!rc) rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_bos_token", 1);
	if (!rc) rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_eos_token", 0);
	for (uint64_t i = 0; i < n; i++)
		free(tok[i].s);
	free(tok);
	free(score);
	free(type);
	return rc;
}

/* Drop every tokenizer.* key of m (a vocabulary replaces another whole). */
static void drop_tokenizer_keys(llm_meta *m)
{
	for (int64_t i = m->n - 1; i >= 0; i--)
		if (strncmp(m->kv[i].key, "tokenizer.", 10) == 0)
			llm_meta_remove(m, m->kv[i].key);
}

int llm_llama2c_tok_sniff(const uint8_t *d, uint64_t size)
{
	int32_t maxlen, len;
	uint64_t off = 4, n = 0;
	float sc;
	const char *text;
	if (size < 4)
		return 0;
	memcpy(&maxlen, d, 4);
	if (maxlen <= 0 || maxlen > 65536)
		return 0;
	for (; off < size; n++)
		if (l2c_entry(d, size, &off, &sc, &text, &len) || len > maxlen)
			return 0;
	return n > 0;
}

int llm_llama2c_tokenizer(llm_meta *m, const char *path, const uint8_t *data, uint64_t size)
{
	llm_meta tm;
	int64_t nv;
	int rc;

	llm_meta_init(&tm);
	rc = l2c_tok_parse(&tm, path, data, size);
	nv = llm_meta_int(m, "llama.vocab_size", -1);
	if (!rc && nv >= 0 && (uint64_t)nv != tm.kv[llm_meta_find(&tm, "tokenizer.ggml.tokens")].n)
		rc = llm_err(LLM_EFORMAT, "%s: %llu tokens, but the model's vocabulary has %lld", path,
			     (unsigned long long)tm.kv[llm_meta_find(&tm, "tokenizer.ggml.tokens")].n,
			     (long long)nv);
	if (!rc) {
		drop_tokenizer_keys(m);
		for (int64_t i = 0; i < tm.n && !rc; i++)
			rc = llm_meta_set_kv(m, &tm.kv[i], NULL);
	}
	llm_meta_clear(&tm);
	return rc;
}

/* ---- open ---- */

int llm_ckpt_open_llama2c(llm_ckpt *c, const char *path, const char *tokenizer)
{
	struct l2c_impl *im;
	struct l2c_layout lay = { 0 };
	struct l2c_hdr h;
	struct l2c_fmt f = { 0 };
	llm_meta m;
	int64_t nt;
	uint32_t magic;
	int rc;

	if (!(im = calloc(1, sizeof *im)))
		return llm_err(LLM_ENOMEM, "out of memory");
	llm_meta_init(&m);
	if ((rc = llm_map_open(&im->map, path)))
		goto fail;
	if (im->map.size < L2C_HEADER) {
		rc = llm_err(LLM_EFORMAT, "%s: %llu bytes: neither GGUF nor a llama2.c checkpoint", path,
			     (unsigned long long)im->map.size);
		goto fail;
	}
	memcpy(&magic, im->map.data, 4);
	if (magic == L2C_MAGIC_V1) {
		/* export.py's versions 1 and 2: magic, int32 version, the seven
		 * sizes, a byte "classifier shared", (2:) int32 group size, zeros
		 * to 256 bytes */
		int32_t gs = 0;
		memcpy(&f.version, im->map.data + 4, 4);
		if (f.version != 1 && f.version != 2) {
			rc = llm_err(LLM_EUNSUPPORTED, "%s: llama2.c export version %d (\"ak42\" header): versions 0 "
				     "(legacy), 1 and 2 are read", path, f.version);
			goto fail;
		}
		if (im->map.size < L2C_HEADER_AK42) {
			rc = llm_err(LLM_EFORMAT, "%s: %llu bytes: too short for a llama2.c export version %d header",
				     path, (unsigned long long)im->map.size, f.version);
			goto fail;
		}
		memcpy(&h, im->map.data + 8, L2C_HEADER);
		f.shared = im->map.data[8 + L2C_HEADER] != 0;
		memcpy(&gs, im->map.data + 9 + L2C_HEADER, 4);
		f.gs = f.version == 2 ? gs : 0;
		f.start = L2C_HEADER_AK42;
	} else {
		memcpy(&h, im->map.data, L2C_HEADER);
		f.shared = h.vocab_size > 0;
		f.start = L2C_HEADER;
	}
	if ((rc = l2c_check(path, &h, &f, im->map.size)))
		goto fail;
	nt = 3 + 9 * (int64_t)h.n_layers;
	lay.t = calloc((size_t)nt, sizeof *lay.t);
	lay.off = calloc((size_t)nt, sizeof *lay.off);
	lay.soff = calloc((size_t)nt, sizeof *lay.soff);
	if (!lay.t || !lay.off || !lay.soff) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = l2c_tensors(&lay, &h, &f)) || (rc = l2c_meta(&m, &h)))
		goto fail;
	im->off = lay.off;
	im->soff = lay.soff;
	im->gs = f.gs;
	lay.off = lay.soff = NULL;
	c->fmt = LLM_CKPT_LLAMA2C;
	c->version = (uint32_t)f.version;
	llm_meta_clear(&c->meta);
	c->meta = m;
	c->t = lay.t;
	c->nt = lay.n;
	c->ops = &l2c_ops;
	c->impl = im;
	if (tokenizer) {
		/* tokenizer.bin, tokenizer.model or a GGUF's tokenizer.* keys */
		int64_t ntok;
		const struct llm_kv *kv;
		if ((rc = llm_ckpt_set_tokenizer(c, tokenizer)))
			return rc; /* c is complete: llm_ckpt_open frees it */
		kv = llm_meta_get(&c->meta, "tokenizer.ggml.tokens");
		ntok = kv ? (int64_t)kv->n : -1;
		if (ntok != llm_meta_int(&c->meta, "llama.vocab_size", -1))
			return llm_err(LLM_EFORMAT, "%s: %lld tokens, but %s has a vocabulary of %lld", tokenizer,
				       (long long)ntok, path, (long long)llm_meta_int(&c->meta, "llama.vocab_size", -1));
	}
	return 0;
fail:
	for (int64_t i = 0; lay.t && i < lay.n; i++)
		free(lay.t[i].name);
	free(lay.t);
	free(lay.off);
	free(lay.soff);
	l2c_free(im);
	llm_meta_clear(&m);
	return rc;
}
