/* spm.c - a SentencePiece tokenizer.model (a serialized ModelProto, the
 * file LLaMA, Llama 2, Mistral and TinyLlama ship) as tokenizer.ggml.*
 * keys, as llama.cpp's converter takes it (ckpt_impl.h).
 *
 * Read from the protobuf wire format and sentencepiece_model.proto's field
 * numbers:
 *   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec,
 *                   3 normalizer_spec; other fields are skipped
 *   SentencePiece   1 piece (string), 2 score (float), 3 type (NORMAL 1,
 *                   UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6:
 *                   GGUF's token types, number for number; default NORMAL;
 *                   USER_DEFINED is written NORMAL, as the converter
 *                   writes it)
 *   TrainerSpec     3 model_type (UNIGRAM 1, the default, BPE 2, WORD 3,
 *                   CHAR 4), 40 unk_id (default 0), 41 bos_id (1),
 *                   42 eos_id (2), 43 pad_id (-1); -1 is "none"
 *   NormalizerSpec  3 add_dummy_prefix (default true)
 * Only BPE models are taken (LLaMA's kind, which tokenizer.c's "llama"
 * model merges by score); a unigram model needs another algorithm and is
 * refused rather than tokenized differently.  A file without a
 * trainer_spec, which SentencePiece always writes after the pieces, is
 * refused as cut short.  The keys written: model "llama", pre "default",
 * tokens, scores, token_type, the unknown, bos, eos and padding ids (those
 * not -1), add_space_prefix from add_dummy_prefix, add_bos_token true
 * (false when bos_id is -1) and add_eos_token false (SentencePiece's and
 * llama.cpp's defaults for these models).  A model with more embedding
 * rows than pieces gets tokens "[PADid]" (score -10000, unused) up to its
 * size, as llama.cpp's converter writes them, so that llama.cpp loads what
 * llm-quant makes of it.
 * Then, as the converter, the Hugging Face files beside the model when
 * present (hftok.c): added_tokens.json and tokenizer_config.json's
 * added_tokens_decoder put their tokens at their ids (chat fine-tunes'
 * "<|im_start|>" and the like, score -1000), and tokenizer_config.json's
 * bos/eos/unk/pad tokens, add_bos_token and add_eos_token, then
 * config.json's *_token_id, replace the trainer spec's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_impl.h"
#include "error.h"
#include "meta.h"

struct pb {
	const uint8_t *p, *e;
};

struct field {
	uint32_t num;
	int wt;         /* wire type: 0 varint, 1 64-bit, 2 bytes, 5 32-bit */
	uint64_t v;     /* varint or fixed value */
	struct pb sub;  /* wire type 2: the bytes */
};

static int pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t x = 0;
	for (int s = 0; s < 70; s += 7) {
		if (b->p == b->e)
			return -1;
		uint8_t c = *b->p++;
		if (s == 63 && c > 1)
			return -1; /* more than 64 bits */
		x |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* The next field of b: 0, 1 at the end, -1 when the bytes are no protobuf. */
static int pb_next(struct pb *b, struct field *f)
{
	uint64_t key, n;
	if (b->p == b->e)
		return 1;
	if (pb_varint(b, &key) || key >> 3 == 0 || key >> 3 > 536870911)
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->wt = (int)(key & 7);
	f->v = 0;
	switch (f->wt) {
	case 0:
		return pb_varint(b, &f->v);
	case 1:
	case 5:
		n = f->wt == 1 ? 8 : 4;
		if ((uint64_t)(b->e - b->p) < n)
			return -1;
		for (uint64_t i = 0; i < n; i++)
			f->v |= (uint64_t)b->p[i] << (8 * i);
		b->p += n;
		return 0;
	case 2:
		if (pb_varint(b, &n) || n > (uint64_t)(b->e - b->p))
			return -1;
		f->sub.p = b->p, f->sub.e = b->p + n;
		b->p += n;
		return 0;
	default: /* groups (3, 4) were never used by SentencePiece */
		return -1;
	}
}

/* Offset of b's position in the file, for messages. */
#define AT(b) ((unsigned long long)((b).p - d))

int llm_spm_sniff(const uint8_t *d, uint64_t size)
{
	/* a ModelProto begins with its pieces (field 1, bytes), each a
	 * SentencePiece whose first field is its text; every top-level field
	 * must then parse to the end */
	struct pb b = { d, d + size }, s;
	struct field f, g;
	int n = 0, r;
	if (size < 2 || d[0] != 0x0a)
		return 0;
	while ((r = pb_next(&b, &f)) == 0) {
		if (f.num == 1 && n++ < 4) {
			s = f.wt == 2 ? f.sub : (struct pb){ NULL, NULL };
			if (f.wt != 2 || pb_next(&s, &g) != 0 || g.num != 1 || g.wt != 2)
				return 0;
		}
	}
	return r == 1 && n > 0;
}

enum { UNK, BOS, EOS, PAD };

struct spec {
	int64_t model_type, id[4]; /* id: UNK.. */
	int add_prefix, has_trainer;
};

/* An int32 field stored as a varint (negative ones take ten bytes). */
static int64_t i32(uint64_t v) { return (int64_t)(int32_t)(uint32_t)v; }

static int read_specs(struct spec *sp, const char *path, const uint8_t *d, uint64_t size)
{
	struct pb b = { d, d + size };
	struct field f, g;
	int r;
	*sp = (struct spec){ 1, { 0, 1, 2, -1 }, 1, 0 };
	while ((r = pb_next(&b, &f)) == 0) {
		if ((f.num != 2 && f.num != 3) || f.wt != 2)
			continue;
		struct pb s = f.sub;
		if (f.num == 2)
			sp->has_trainer = 1;
		while ((r = pb_next(&s, &g)) == 0) {
			if (g.wt != 0)
				continue;
			if (f.num == 3 && g.num == 3)
				sp->add_prefix = g.v != 0;
			else if (f.num == 2 && g.num == 3)
				sp->model_type = i32(g.v);
			else if (f.num == 2 && g.num >= 40 && g.num <= 43)
				sp->id[g.num - 40] = i32(g.v);
		}
		if (r < 0)
			return llm_err(LLM_EFORMAT, "%s: not a SentencePiece model: the %s spec is damaged near byte %llu",
				       path, f.num == 2 ? "trainer" : "normalizer", AT(s));
	}
	if (r < 0)
		return llm_err(LLM_EFORMAT, "%s: not a SentencePiece model (damaged or cut short at byte %llu)", path,
			       AT(b));
	/* SentencePiece always writes its trainer spec after the pieces: a
	 * file without one was cut short between two pieces */
	if (!sp->has_trainer)
		return llm_err(LLM_EFORMAT, "%s: not a SentencePiece model (no trainer spec after the pieces: cut short?)",
			       path);
	if (sp->model_type != 2) {
		static const char *const names[] = { "unknown", "unigram", "BPE", "word", "char" };
		return llm_err(LLM_EUNSUPPORTED, "%s: a SentencePiece %s model: only BPE models (LLaMA's) are read",
			       path, sp->model_type >= 1 && sp->model_type <= 4 ? names[sp->model_type] : "unknown");
	}
	return 0;
}

/* The pieces into tok/score/type (n of them, counted first). */
static int read_pieces(struct llm_str *tok, float *score, int32_t *type, const char *path,
		       const uint8_t *d, uint64_t size)
{
	struct pb b = { d, d + size };
	struct field f, g;
	uint64_t n = 0;
	while (pb_next(&b, &f) == 0) {
		if (f.num != 1)
			continue;
		struct pb s = f.sub;
		int r, has_text = 0;
		score[n] = 0.0f, type[n] = 1;
		while ((r = pb_next(&s, &g)) == 0) {
			if (g.num == 1 && g.wt == 2) {
				tok[n].s = (char *)g.sub.p;
				tok[n].len = (uint64_t)(g.sub.e - g.sub.p);
				has_text = 1;
			} else if (g.num == 2 && g.wt == 5) {
				uint32_t u = (uint32_t)g.v;
				memcpy(&score[n], &u, 4);
			} else if (g.num == 3 && g.wt == 0) {
				if (g.v < 1 || g.v > 6)
					return llm_err(LLM_EFORMAT, "%s: piece %llu: type %llu (1..6 are known)", path,
						       (unsigned long long)n, (unsigned long long)g.v);
				/* the converter asks IsUnknown, IsControl, IsUnused
				 * and IsByte: a user-defined piece is normal */
				type[n] = g.v == 4 ? 1 : (int32_t)g.v;
			}
		}
		if (r < 0)
			return llm_err(LLM_EFORMAT, "%s: piece %llu is damaged near byte %llu", path,
				       (unsigned long long)n, AT(s));
		if (!has_text || !tok[n].len)
			return llm_err(LLM_EFORMAT, "%s: piece %llu has no text", path, (unsigned long long)n);
		if (memchr(tok[n].s, 0, tok[n].len))
			return llm_err(LLM_EFORMAT, "%s: piece %llu holds a NUL byte", path, (unsigned long long)n);
		n++;
	}
	return 0;
}

int llm_spm_tokenizer(llm_meta *tm, const char *path, const uint8_t *d, uint64_t size, int64_t n_vocab)
{
	struct spec sp;
	struct pb b = { d, d + size };
	struct field f;
	uint64_t n = 0;
	int rc = read_specs(&sp, path, d, size);
	if (rc)
		return rc;
	while (pb_next(&b, &f) == 0)
		if (f.num == 1) {
			if (f.wt != 2)
				return llm_err(LLM_EFORMAT, "%s: piece %llu is not a message", path,
					       (unsigned long long)n);
			n++;
		}
	if (!n)
		return llm_err(LLM_EFORMAT, "%s: a SentencePiece model without pieces", path);
	if (n > INT32_MAX)
		return llm_err(LLM_EFORMAT, "%s: %llu pieces", path, (unsigned long long)n);
	const int64_t *ids = sp.id;
	static const char *const id_names[] = { "unk_id", "bos_id", "eos_id", "pad_id" };
	for (int i = 0; i < 4; i++)
		if (ids[i] < -1 || ids[i] >= (int64_t)n)
			return llm_err(LLM_EFORMAT, "%s: %s %lld, but the model has %llu pieces", path, id_names[i],
				       (long long)ids[i], (unsigned long long)n);
	/* rows past the pieces: "[PADid]", unused, as llama.cpp's converter
	 * fills them, so that the vocabulary matches the embedding; read
	 * alone (no embedding), as many rows as config.json beside it gives,
	 * as the converter takes vocab_size, so that added tokens past the
	 * pieces (Phi-3's <|end|>) are kept as the directory keeps them */
	if (n_vocab <= 0 && (rc = llm_hf_config_vocab(path, &n_vocab)))
		return rc;
	uint64_t nt = n_vocab > 0 && (uint64_t)n_vocab > n ? (uint64_t)n_vocab : n;
	struct llm_str *tok = calloc(nt, sizeof *tok);
	float *score = malloc(nt * sizeof *score);
	int32_t *type = malloc(nt * sizeof *type);
	char *pads = NULL, *added = NULL;
	if (!tok || !score || !type)
		rc = llm_err(LLM_ENOMEM, "%s: out of memory for %llu tokens", path, (unsigned long long)nt);
	if (!rc) rc = read_pieces(tok, score, type, path, d, size);
	if (!rc) rc = llm_vocab_pad(tok, type, nt, &pads);
	for (uint64_t i = n; !rc && i < nt; i++)
		score[i] = -10000.0f;
	if (!rc) rc = llm_hf_added_tokens(path, tok, score, type, (int64_t)nt, &added);
	if (!rc) rc = llm_meta_set_str(tm, "tokenizer.ggml.model", "llama");
	if (!rc) rc = llm_meta_set_str(tm, "tokenizer.ggml.pre", "default");
	if (!rc) rc = llm_meta_set_arr_str(tm, "tokenizer.ggml.tokens", tok, nt);
	if (!rc) rc = llm_meta_set_arr(tm, "tokenizer.ggml.scores", LLM_V_F32, score, nt);
	if (!rc) rc = llm_meta_set_arr(tm, "tokenizer.ggml.token_type", LLM_V_I32, type, nt);
	/* an id of -1 (none) is left out */
	static const char *const id_keys[] = { "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
					       "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id" };
	for (int i = 0; i < 4 && !rc; i++)
		if (ids[i] >= 0)
			rc = llm_meta_set_u32(tm, id_keys[i], (uint32_t)ids[i]);
	if (!rc) rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_space_prefix", sp.add_prefix);
	if (!rc) rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_bos_token", ids[BOS] >= 0);
	if (!rc) rc = llm_meta_set_bool(tm, "tokenizer.ggml.add_eos_token", 0);
	if (!rc) rc = llm_hf_specials(tm, path, tok, (int64_t)nt);
	free(tok);
	free(score);
	free(type);
	free(pads);
	free(added);
	return rc;
}
