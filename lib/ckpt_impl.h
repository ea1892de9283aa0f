/* ckpt_impl.h - PRIVATE: what a checkpoint backend provides to ckpt.c.
 *
 * A backend's open function fills meta, tensors (GGUF names, ne order,
 * stored type, size) and ops; ckpt.c owns the per-tensor buffers.
 */
#ifndef LLM_CKPT_IMPL_H
#define LLM_CKPT_IMPL_H

#include "ckpt.h"

struct llm_ckpt_ops {
	/* Write tensor i's bytes (GGUF layout, type t[i].type, t[i].size bytes) into dst. */
	int (*load)(llm_ckpt *c, int64_t i, void *dst);
	/* Direct pointer to tensor i's bytes if they need no conversion, else NULL. */
	const void *(*direct)(llm_ckpt *c, int64_t i);
	void (*free)(void *impl);
	/* Optional: tensor i is no longer needed (e.g. drop mapped pages so
	 * resident memory stays near one tensor while streaming). */
	void (*release)(llm_ckpt *c, int64_t i);
	/* Optional: bytes tensor i takes in the file(s) when that is not
	 * t[i].size (compressed in a zstd container; a llama2.c version 2
	 * weight's int8 values and scales). */
	uint64_t (*stored_size)(const llm_ckpt *c, int64_t i);
};

struct llm_ckpt {
	enum llm_ckpt_format fmt;
	char *path;
	uint32_t version;
	llm_meta meta;
	struct llm_tensor_info *t; /* t[i].name owned (malloc) */
	int64_t nt;
	void **buf;                /* per-tensor converted data (malloc) or NULL */
	const struct llm_ckpt_ops *ops;
	void *impl;
};

/* Backends (each sets fmt, meta, t, nt, ops, impl; returns 0 or LLM_E*). */
int llm_ckpt_open_gguf(llm_ckpt *c, const char *path);
/* tokenizer: the vocabulary to take (llm_ckpt_set_tokenizer), or NULL: a
 * llama2.c checkpoint then has none, a Hugging Face directory its
 * tokenizer.model, or else its tokenizer.json, when there is one. */
int llm_ckpt_open_hf(llm_ckpt *c, const char *path, const char *tokenizer);
int llm_ckpt_open_llama2c(llm_ckpt *c, const char *path, const char *tokenizer);

/* Merge a tokenizer's tokenizer.* keys into c->meta: a GGUF (its
 * tokenizer.* keys are copied), a SentencePiece tokenizer.model, a Hugging
 * Face tokenizer.json or a llama2.c tokenizer.bin. */
int llm_ckpt_set_tokenizer(llm_ckpt *c, const char *path);
/* llama2.c tokenizer.bin (size bytes at data, read from path) ->
 * tokenizer.ggml.* keys in m (llama2c.c).
 * Sniff: 1 when the size bytes at d are one: a max_token_length, then
 * entries (score, length up to max_token_length, text) that end exactly
 * at the end. */
int llm_llama2c_tokenizer(llm_meta *m, const char *path, const uint8_t *data, uint64_t size);
int llm_llama2c_tok_sniff(const uint8_t *d, uint64_t size);
/* SentencePiece tokenizer.model (size bytes at d) -> tokenizer.ggml.* keys
 * in m (spm.c), padded to n_vocab tokens when that is more than its pieces
 * (n_vocab <= 0: not); path names it in errors.  Sniff: 1 when d looks
 * like one. */
int llm_spm_tokenizer(llm_meta *m, const char *path, const uint8_t *d, uint64_t size,
		      int64_t n_vocab);
int llm_spm_sniff(const uint8_t *d, uint64_t size);
/* Tokens tok[0..n) without text (s NULL: ids no piece or vocabulary entry
 * names) become "[PADid]" of type unused (5), as llama.cpp's converter
 * pads a vocabulary to the embedding's rows; their text is in *store
 * (malloc'ed, NULL when none was needed), freed by the caller once the
 * keys are set.  0 or LLM_ENOMEM. */
int llm_vocab_pad(struct llm_str *tok, int32_t *type, uint64_t n, char **store);
/* Hugging Face tokenizer.json of a byte-level BPE model (hftok.c), the
 * same way; tokenizer_config.json and config.json beside path are read
 * too when present. */
int llm_hftok_tokenizer(llm_meta *m, const char *path, const uint8_t *d, uint64_t size,
			int64_t n_vocab);
int llm_hftok_sniff(const uint8_t *d, uint64_t size);
/* For a tokenizer.model, what llama.cpp's converter takes from the Hugging
 * Face files beside path (hftok.c).  llm_hf_added_tokens: added_tokens.json
 * (user-defined tokens), then tokenizer_config.json's added_tokens_decoder
 * (control tokens when special or looking special, user-defined ones with
 * U+2581 as spaces) over tok/score/type[0..n), score -1000; ids from n up
 * are ignored, as the converter ignores them.  Their text is in *store
 * (malloc'ed or NULL), freed by the caller once the keys are set.
 * llm_hf_specials: the special ids and add_bos/add_eos that
 * tokenizer_config.json and config.json give, into m (replacing what is
 * there). */
int llm_hf_added_tokens(const char *path, struct llm_str *tok, float *score, int32_t *type, int64_t n,
			char **store);
/* config.json's vocab_size beside path, or -1 when there is none (a file
 * that does not parse is the error). */
int llm_hf_config_vocab(const char *path, int64_t *n_vocab);
int llm_hf_specials(llm_meta *m, const char *path, const struct llm_str *tok, int64_t n);

/* Sniffing helpers. */
int llm_path_is_dir(const char *path);

#endif
