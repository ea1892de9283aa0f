/* model.h - llama-family transformer: hyper-parameters, weights, forward pass.
 *
 * Per layer l (x the residual stream, dim n_embd):
 *   h = rmsnorm(x) * attn_norm;  q = Wq h, k = Wk h, v = Wv h
 *   rope(q, k) on adjacent pairs (GGUF layout) over the first rope_dim dims
 *   attention over the KV cache (causal; n_head / n_head_kv query heads
 *   share a KV head: MHA, GQA, MQA), x += Wo attn
 *   h = rmsnorm(x) * ffn_norm;  x += W2 (silu(W1 h) * W3 h)
 * logits = Wout rmsnorm(x) * output_norm   (Wout = token_embd when tied)
 * Weights stay in their stored type (any type llm_type_traits can decode),
 * accumulation is F32.
 */
#ifndef LLM_MODEL_H
#define LLM_MODEL_H

#include <stdint.h>

#include "ckpt.h"

struct llm_hparams {
	int32_t n_vocab;
	int32_t n_embd;
	int32_t n_layer;
	int32_t n_head;
	int32_t n_head_kv;
	int32_t head_dim;    /* n_embd / n_head unless attention.key_length says otherwise */
	int32_t n_ff;
	int32_t n_ctx_train; /* llama.context_length */
	int32_t rope_dim;    /* rope.dimension_count (default head_dim) */
	float rope_base;     /* rope.freq_base (default 10000) */
	float rms_eps;       /* attention.layer_norm_rms_epsilon (required) */
	int tied_output;     /* no output.weight: logits use token_embd */
};

struct llm_model_opts {
	int32_t n_ctx;     /* KV cache positions; 0 = min(n_ctx_train, 4096),
			    * -1 = n_ctx_train (4096 where the model has none) */
	int n_threads;     /* 0 = online CPUs */
	int f32_act;       /* 1: quantized products with F32 activations (float
			    * kernels); 0: repack them for the integer kernels
			    * with 24-bit fixed-point activations where the CPU
			    * has AVX-512 VNNI (qpack.h), several times faster */
	int in_place;      /* 1: other weight matrices used where the checkpoint
			    * holds them (a mapped file: shared page cache, no
			    * copy); 0: copied at load into memory of the
			    * model's own with huge pages, faster to stream,
			    * F16/BF16 ones rearranged in panels (fpack.h) */
};
#define LLM_MODEL_OPTS_INIT { 0, 0, 0, 0 }

typedef struct llm_model llm_model;

/* Build a model over c's tensors (c must outlive the model: mapped weights
 * are used in place).  Errors name the missing or mis-shaped tensor. */
int llm_model_load(llm_model **out, llm_ckpt *c, const struct llm_model_opts *o);
void llm_model_free(llm_model *m);

const struct llm_hparams *llm_model_hparams(const llm_model *m);
int32_t llm_model_n_ctx(const llm_model *m);

/* Run n tokens at positions pos..pos+n-1 (the cache holds 0..pos-1 from
 * earlier calls; positions >= pos are overwritten).  Writes n_vocab logits
 * for the last token, or for every token (n * n_vocab, row per token) when
 * all_logits.  logits may be NULL (only fill the cache). */
int llm_model_eval(llm_model *m, const int32_t *tokens, int n, int pos,
		   float *logits, int all_logits);

/* KV cache of layer l: K and V as [n_ctx][n_head_kv][head_dim] floats,
 * positions 0..n_past-1 valid (n_past = highest evaluated position + 1). */
int llm_model_kv(const llm_model *m, int layer, const float **k, const float **v);
int32_t llm_model_n_past(const llm_model *m);

/* Worker threads of the model's pool (>= 1). */
int llm_model_n_threads(const llm_model *m);
/* Use the naive attention kernel (full score matrix) instead of the flash
 * one: for tests and benchmarks; results agree within float rounding. */
void llm_model_set_naive_attention(llm_model *m, int naive);

/* Apply a set of LoRA adapters at run time (lora.h): after each product
 * with a weight the set has a hook for, y += its low-rank term; token
 * embeddings get their row delta; tied logits the token_embd term.  The
 * set is borrowed and must outlive the model or a later call with NULL
 * (which removes the adapters).  Returns 0. */
struct llm_lora_set;
int llm_model_set_lora(llm_model *m, const struct llm_lora_set *set);

#endif
