/* convert.h - stream a checkpoint into a GGUF with new tensor types
 * (what llm-quant does; llm-lora-merge reuses the type rules).
 *
 * Type rules, as llama-quantize: only tensors named "*.weight" with two or
 * more dimensions are converted to the target type; 1-D tensors (norms,
 * biases) are written as F32 (decoded from whatever float type they have);
 * output.weight and token_embd.weight may get their own types.  Without
 * `pure`, output.weight (or token_embd.weight when the output is tied) of a
 * q4_0 model becomes q8_0 (llama-quantize picks q6_K there, a type not
 * written here yet).  A tensor whose rows do not fit the target's block size
 * falls back to f16 and a notice says so (llama-quantize fails instead).
 * A tensor whose type equals its target is copied byte for byte.
 * From llama2.c and Hugging Face inputs with tied embeddings, output.weight
 * is written as a copy of token_embd.weight (after output_norm.weight), as
 * llama.cpp's llama2.c converter does: converted files then hold the same
 * tensors whatever form they came from.  GGUF inputs keep their tensor set.
 */
#ifndef LLM_CONVERT_H
#define LLM_CONVERT_H

#include <stdint.h>

#include "ckpt.h"
#include "types.h"

struct llm_convert_report;

struct llm_convert_opts {
	int type;          /* target for 2-D weights (enum llm_type) */
	int pure;          /* no special rule for output/token_embd */
	int output_type;   /* -1: by the rules */
	int embd_type;     /* -1: by the rules */
	int n_threads;     /* quantization threads (0: 1) */
	/* Optional callbacks (may be NULL): progress over bytes of input, and
	 * notices (fallbacks) as one line without newline. */
	void (*progress)(void *ud, const char *name, uint64_t done, uint64_t total);
	void (*notice)(void *ud, const char *msg);
	void *ud;
	/* Extra metadata merged over the input's (e.g. provenance), or NULL. */
	const llm_meta *extra;
	/* How to write (zstd container, shards: gguf.h), or NULL: by name. */
	const struct llm_gguf_write_opts *write;
	/* Optional: called once every tensor is written, before the output is
	 * put in place, with the report (NULL, 0 when none was asked for);
	 * nonzero (an error it set with llm_err) gives the output up.  A
	 * command writes its --report here, so that a report that cannot be
	 * written leaves no output behind. */
	int (*finish)(void *ud, const struct llm_convert_report *rep, int64_t n);
	/* The metadata only, no tensors: a vocabulary file such as llama.cpp's
	 * ggml-vocab-*.gguf (convert_hf_to_gguf.py --vocab-only), for
	 * tokenizing.  The input must hold a vocabulary (tokenizer.ggml.*). */
	int vocab_only;
};
#define LLM_CONVERT_OPTS_INIT { LLM_TYPE_F16, 0, -1, -1, 1, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/* Per-tensor record of what was done and the error it cost. */
struct llm_convert_report {
	char *name;
	int n_dims;
	int64_t ne[4];
	int type_in, type_out;
	struct llm_qstats st;
};

/* Target type of one tensor of c under o (after fallback); a fallback is
 * told to o->notice. */
int llm_convert_tensor_type(const llm_ckpt *c, int64_t i, const struct llm_convert_opts *o);

/* The keys a conversion to type sets over the input's metadata src, in
 * dst: general.quantization_version (2), and general.file_type when src
 * is a model (has general.architecture).  0 or LLM_ENOMEM. */
int llm_convert_set_meta(llm_meta *dst, const llm_meta *src, int type);

/* llama.cpp's general.file_type for a target type (LLAMA_FTYPE_*). */
uint32_t llm_convert_ftype(int type);
/* The name llama.cpp gives m's general.file_type ("Q4_K - Medium", "all
 * F32"; *ftype gets the value), or NULL when m has none or one it does
 * not name. */
const char *llm_ftype_name(const llm_meta *m, uint32_t *ftype);

/* Convert c into a GGUF at out_path ("-" or NULL: stdout), atomically.
 * A finite value the output type would turn into inf or NaN (beyond
 * fp16's 65504, directly or through a block's fp16 scale) is LLM_EINVAL
 * naming the file, the tensor and the type: nothing is written.  When rep
 * is non-NULL, *rep receives one record per tensor (free with
 * llm_convert_report_free). */
int llm_convert(llm_ckpt *c, const char *out_path, const struct llm_convert_opts *o,
		struct llm_convert_report **rep, int64_t *n_rep);
void llm_convert_report_free(struct llm_convert_report *rep, int64_t n);

/* Encode nrows rows of ne0 floats to type t using n_threads threads (as
 * llm_convert does: a finite value that would come back inf or NaN is an
 * error, never written).
 * LLM_ENOMEM, or LLM_EINVAL when a finite value would come back inf or
 * NaN (beyond fp16's range, directly or through a block's scale). */
int llm_quantize_rows(int t, const float *src, void *dst, int64_t nrows, int64_t ne0, int n_threads);

#endif
