/* tokenizer.h - tokenizers built from tokenizer.ggml.* metadata.
 *
 *   tokenizer.ggml.model = "llama"  SentencePiece-style: scores, byte
 *       fallback <0xNN>, "▁" for spaces, a leading space added to the text
 *       (add_space_prefix, default true), add_bos_token.
 *   tokenizer.ggml.model = "gpt2"   byte-level BPE: merges ranks, GPT-2's
 *       byte-to-unicode map, pre-tokenizer regex chosen by
 *       tokenizer.ggml.pre (default, gpt2, llama3, deepseek-llm,
 *       deepseek-coder, falcon, starcoder, qwen2, ...), run with PCRE2.
 * A llama2.c tokenizer.bin, a SentencePiece tokenizer.model and a Hugging
 * Face tokenizer.json reach here through the checkpoint layer, which turns
 * them into tokenizer.ggml.* metadata.
 */
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"

typedef struct llm_tokenizer llm_tokenizer;

/* Build from metadata (copies what it needs; m may be freed afterwards). */
int llm_tokenizer_open(llm_tokenizer **out, const llm_meta *m);
void llm_tokenizer_free(llm_tokenizer *tk);

int32_t llm_tokenizer_n_vocab(const llm_tokenizer *tk);
int32_t llm_tokenizer_bos(const llm_tokenizer *tk); /* -1 if none */
int32_t llm_tokenizer_eos(const llm_tokenizer *tk); /* -1 if none */
/* Whether the vocabulary asks for BOS at the start (tokenizer.ggml.add_bos_token,
 * default true for "llama", false for "gpt2"). */
int llm_tokenizer_add_bos(const llm_tokenizer *tk);
/* Whether it asks for EOS at the end (tokenizer.ggml.add_eos_token, default
 * false). */
int llm_tokenizer_add_eos(const llm_tokenizer *tk);
/* True for end-of-generation tokens (eos, eot, <|im_end|>, ...). */
int llm_tokenizer_is_eog(const llm_tokenizer *tk, int32_t id);

/* Tokenize len bytes of text (UTF-8; user-defined tokens are matched in it
 * as written).  flags: LLM_TOKENIZE_BOS prepends BOS, LLM_TOKENIZE_EOS
 * appends EOS (each only when the vocabulary has one); LLM_TOKENIZE_SPECIAL
 * matches the control tokens' text too ("<s>", "<|im_start|>"), as
 * llama.cpp's parse_special; without it such text is plain text.  *out is
 * malloc'ed (caller frees), *n_out its length. */
#define LLM_TOKENIZE_BOS 1u
#define LLM_TOKENIZE_SPECIAL 2u
#define LLM_TOKENIZE_EOS 4u
int llm_tokenize(const llm_tokenizer *tk, const char *text, size_t len, unsigned flags,
		 int32_t **out, size_t *n_out);

/* The raw vocabulary string of id (borrowed), or NULL when out of range. */
const char *llm_token_str(const llm_tokenizer *tk, int32_t id);

/* Whether id prints nothing by nature: BOS, EOS, a control, unknown or
 * unused token (or an id outside the vocabulary). */
int llm_token_is_control(const llm_tokenizer *tk, int32_t id);
/* The bytes id stands for in output text ("▁" -> ' ', <0x0A> -> '\n', GPT-2
 * byte map undone; control tokens give nothing).  prev is the last token
 * before id that is not a control token, or -1 at the start of the text,
 * where SentencePiece drops the leading space, as llama.cpp's detokenizer
 * does (after a BOS inside the text the space stays: pass the token before
 * the BOS, not the BOS).  Writes at most cap bytes, returns the number of
 * bytes the piece has (may exceed cap: call again with more room). */
size_t llm_token_piece(const llm_tokenizer *tk, int32_t prev, int32_t id, char *buf, size_t cap);

/* Streaming UTF-8 assembly: feed piece bytes, get back only complete
 * characters, so output never splits a multi-byte character. */
struct llm_utf8_stream {
	unsigned char pend[8];
	int npend;
};
/* Appends the complete characters among pend+in to out (cap >= n+8);
 * returns the number of bytes written to out.  Invalid sequences pass through
 * unchanged once they are known to be invalid. */
size_t llm_utf8_stream_feed(struct llm_utf8_stream *s, const char *in, size_t n, char *out);
/* Whatever is left pending (an incomplete tail) is flushed to out. */
size_t llm_utf8_stream_flush(struct llm_utf8_stream *s, char *out);

#endif
