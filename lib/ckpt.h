/* ckpt.h - one view of a checkpoint, whatever its format.
 *
 * Formats, sniffed by content (not by name):
 *   GGUF v2/v3 file (or "-": stdin); also the zstd container of zst.h
 *     (*.gguf.zst, any name) and llama.cpp split shards: the first shard's
 *     name (PREFIX-00001-of-0000N.gguf[.zst]) opens all N as one checkpoint
 *     (split.* keys dropped; shards may mix plain and compressed files)
 *   Hugging Face directory: config.json + model.safetensors, or a sharded
 *     model.safetensors.index.json (also accepted: the path of either file);
 *     its vocabulary from the directory's tokenizer.model or tokenizer.json
 *   llama2.c checkpoint (.bin; legacy header of 7 int32), with
 *     opts.tokenizer naming a llama2.c tokenizer.bin
 *   a tokenizer file alone, as a vocabulary-only checkpoint (no tensors,
 *     the tokenizer.ggml.* keys that opts.tokenizer would give): a
 *     SentencePiece *.model, a Hugging Face tokenizer.json (a *.json other
 *     than a config.json or an index), a llama2.c tokenizer.bin (its
 *     entries running exactly to the end of the file)
 *
 * Every checkpoint shows GGUF's model: metadata (llama.*, tokenizer.ggml.*,
 * general.*) and tensors with GGUF names, ne order and types.  HF tensors
 * are renamed (model.layers.N.self_attn.q_proj.weight -> blk.N.attn_q.weight
 * ...) and q/k rows permuted from rotate-half to GGUF's adjacent-pair RoPE
 * layout exactly as llama.cpp's converter does; tied embeddings give no
 * output.weight, as in llama.cpp's own files.
 */
#ifndef LLM_CKPT_H
#define LLM_CKPT_H

#include <stdint.h>

#include "gguf.h"
#include "meta.h"

enum llm_ckpt_format {
	LLM_CKPT_GGUF = 1,
	LLM_CKPT_HF = 2,      /* safetensors directory */
	LLM_CKPT_LLAMA2C = 3,
	LLM_CKPT_VOCAB = 4,   /* a tokenizer file alone: no tensors */
};

struct llm_ckpt_opts {
	/* Vocabulary to use, or NULL: a llama2.c tokenizer.bin, a
	 * SentencePiece tokenizer.model, a Hugging Face tokenizer.json, or any
	 * GGUF whose tokenizer.* keys are copied (so HF directories with
	 * neither file can borrow one).  It replaces the checkpoint's own. */
	const char *tokenizer;
	/* Open one shard of a split set alone, whichever it is, keeping its
	 * split.* keys (so a converted shard stays a member of its set): for
	 * processing shards independently.  0: the first shard opens the set,
	 * another shard is an error. */
	int one_shard;
};
#define LLM_CKPT_OPTS_INIT { NULL, 0 }

typedef struct llm_ckpt llm_ckpt;

/* Open path (see above); opts may be NULL.  Errors name the path. */
int llm_ckpt_open(llm_ckpt **out, const char *path, const struct llm_ckpt_opts *opts);
void llm_ckpt_free(llm_ckpt *c);

enum llm_ckpt_format llm_ckpt_format(const llm_ckpt *c);
const char *llm_ckpt_format_name(const llm_ckpt *c); /* "gguf", "safetensors", "llama2c", "vocabulary" */
const char *llm_ckpt_path(const llm_ckpt *c);
/* GGUF version for GGUF input, llama2.c export version (0, 1, 2) for a .bin, 0 otherwise. */
uint32_t llm_ckpt_version(const llm_ckpt *c);
const llm_meta *llm_ckpt_meta(const llm_ckpt *c);       /* borrowed */
int64_t llm_ckpt_n_tensors(const llm_ckpt *c);
/* Tensor i's info (name, type, shape, offset for GGUF, size). Borrowed. */
const struct llm_tensor_info *llm_ckpt_tensor(const llm_ckpt *c, int64_t i);
int64_t llm_ckpt_find(const llm_ckpt *c, const char *name); /* -1 if absent */

/* Bytes of tensor i in its stored type (info->type), with GGUF's layout.
 * For mapped GGUF input the pointer goes straight into the file; otherwise
 * the data are converted into a buffer the checkpoint owns until
 * llm_ckpt_release(c, i) or llm_ckpt_free(c).  Streaming converters release
 * each tensor after use so memory stays near the largest tensor.  An
 * error reading it (a damaged unit of a container) names the tensor. */
int llm_ckpt_data(llm_ckpt *c, int64_t i, const void **data);
void llm_ckpt_release(llm_ckpt *c, int64_t i);

/* Tensor i decoded to F32 into dst (n = number of elements). */
int llm_ckpt_read_f32(llm_ckpt *c, int64_t i, float *dst);

/* Storage: bytes tensor i takes in the file(s) (its compressed size in a
 * zstd container, its int8 values and scales in a llama2.c export
 * version 2, else info->size); number of files (shards) read; 1 when
 * any file is a zstd container (zst.h), else 0. */
uint64_t llm_ckpt_stored_size(const llm_ckpt *c, int64_t i);
int llm_ckpt_n_files(const llm_ckpt *c);
int llm_ckpt_compressed(const llm_ckpt *c);
/* What all the tensors take in the files: their bytes, or for compressed
 * files the payloads of the units holding them, a shared payload counted
 * once (a sum of llm_ckpt_stored_size counts it for every tensor). */
uint64_t llm_ckpt_stored_total(const llm_ckpt *c);

/* The metadata, writable (borrowed): edits change what converters copy,
 * e.g. removing an input's provenance.* keys before recording it as a parent. */
llm_meta *llm_ckpt_meta_mut(llm_ckpt *c);

/* Number of elements of an info. */
int64_t llm_tensor_nelem(const struct llm_tensor_info *t);

#endif
