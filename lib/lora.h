/* lora.h - LoRA adapters: load (GGUF or PEFT), check against a base,
 * merge into weights, apply at run time, write as GGUF.
 *
 * One in-memory form for every adapter.  For a base tensor W with GGUF
 * shape ne = [n_in, n_out] (n_out rows of n_in values, y = W x):
 *
 *     W' = W + s_user * scale * B A          A: r x n_in, B: n_out x r
 *
 * with A and B held as F32, row-major (A row k holds n_in values: the
 * memory layout of GGUF's "<name>.lora_a", ne = [n_in, r]; B row i holds r
 * values: the layout of "<name>.lora_b", ne = [r, n_out]).
 *
 * GGUF adapters (llama.cpp's convention): general.type = "adapter",
 *   adapter.type = "lora", adapter.lora.alpha (f32; absent = 0),
 *   general.architecture (must equal the base's when present), tensors
 *   "<base name>.lora_a" / ".lora_b" in any decodable type.  The rank r is
 *   per tensor (lora_b's ne[0]); scale = alpha / r, or 1 when alpha is 0
 *   ("no factor", as llama.cpp).  token_embd.weight is stored the other
 *   way round, as llama.cpp's get_rows path wants it: lora_a ne =
 *   [r, n_vocab] (our B), lora_b ne = [r, n_embd] (our A transposed).
 *   Tensors named "*_norm.weight" (mergekit) are ignored, as llama.cpp
 *   does (counted in n_ignored); any other name is an error.
 * PEFT directories: adapter_config.json (peft_type LORA; r, lora_alpha,
 *   target_modules required; use_rslora, rank_pattern, alpha_pattern,
 *   fan_in_fan_out, use_dora, modules_to_save, layers_to_transform and
 *   layers_pattern honoured) and
 *   adapter_model.safetensors with keys
 *     base_model.model.<module>.lora_A.weight        [r, in]
 *     base_model.model.<module>.lora_B.weight        [out, r]
 *     base_model.model.<module>.lora_embedding_A     [r, vocab]  (embeddings)
 *     base_model.model.<module>.lora_embedding_B     [dim, r]
 *     base_model.model.<module>.lora_magnitude_vector [out]      (DoRA)
 *     base_model.model.<module>.weight               (modules_to_save)
 *   Modules map to GGUF names as the Hugging Face backend maps llama's
 *   (model.layers.N.self_attn.q_proj -> blk.N.attn_q.weight, ...; N as
 *   PyTorch writes it, plain decimal: "00" or "+1" is refused); lora_B
 *   rows (and DoRA magnitudes, and saved q/k weights) of q_proj / k_proj
 *   are permuted as llama.cpp's converter permutes the base's rows (heads
 *   from the base's llama.attention.head_count / head_count_kv).  scale =
 *   alpha / r, or alpha / sqrt(r) with use_rslora; r and alpha per module
 *   from rank_pattern / alpha_pattern (keys matched as PEFT does: the key
 *   is a regex that must match the module name whole or a suffix of it
 *   starting after a '.').  A rank in the file that disagrees with the
 *   config is an error; so is a LoRA module that target_modules (a list of
 *   names or suffixes, or a regex matched against the whole module name)
 *   does not name.  fan_in_fan_out only concerns Conv1D bases (GPT-2):
 *   PEFT forces it off for nn.Linear, which every llama module is, so it
 *   changes nothing here.  Regexes are PCRE2 (Python's re, near enough).
 *   DoRA (use_dora): W' = m * (W + s dW) / ||W + s dW||, the norm taken
 *   over each output row (PEFT's weight_norm, dim=1 of [out, in]).
 *
 * Values: inf or NaN in any tensor (lora_A/B, magnitudes, saved modules)
 * is refused when opening, naming the file.
 *
 * Ownership: llm_lora_open gives the caller an adapter to free with
 * llm_lora_free (NULL is a no-op); everything inside it is owned by it.
 */
#ifndef LLM_LORA_H
#define LLM_LORA_H

#include <stdint.h>

#include "ckpt.h"
#include "gguf.h"
#include "meta.h"

enum llm_lora_format { LLM_LORA_GGUF = 1, LLM_LORA_PEFT = 2 };

struct llm_lora_tensor {
	char *name;        /* base tensor's GGUF name; NULL when a PEFT module
	                      has no llama counterpart (see src) */
	char *src;         /* name in the adapter file (PEFT module, or GGUF base name) */
	int64_t n_in, n_out, r;
	float *a;          /* r x n_in */
	float *b;          /* n_out x r */
	float scale;       /* alpha / r, alpha / sqrt(r), or 1 */
	float alpha;       /* the alpha that gave scale (0: none) */
	float *magnitude;  /* DoRA: n_out values, or NULL */
};

/* modules_to_save: a whole tensor that replaces the base's. */
struct llm_lora_replace {
	char *name;        /* GGUF name, or NULL when unmapped (see src) */
	char *src;
	int n_dims;
	int64_t ne[4];     /* GGUF order */
	float *data;
};

typedef struct llm_lora {
	char *path;
	enum llm_lora_format format;
	char *arch;        /* general.architecture, or NULL */
	float alpha;       /* adapter.lora.alpha / lora_alpha */
	int rslora, dora;
	int permuted;      /* PEFT q/k rows put in GGUF order (base meta given) */
	struct llm_lora_tensor *t;
	int64_t nt;
	struct llm_lora_replace *rep;
	int64_t nrep;
	int64_t n_ignored; /* GGUF "*_norm.weight" tensors skipped */
	llm_meta prov;     /* a GGUF adapter's provenance.* keys (parents of a merge) */
} llm_lora;

/* Open path: a GGUF adapter file ("-" = stdin) or a PEFT directory.
 * base_meta (may be NULL) supplies the head counts for the q/k row
 * permutation of PEFT adapters; without it the adapter can be inspected
 * but llm_lora_check refuses PEFT q/k tensors. Errors name the path. */
int llm_lora_open(llm_lora **out, const char *path, const llm_meta *base_meta);
void llm_lora_free(llm_lora *a);

/* The adapter's tensor for base tensor name, or NULL. Borrowed. */
const struct llm_lora_tensor *llm_lora_find(const llm_lora *a, const char *name);
const struct llm_lora_replace *llm_lora_find_replace(const llm_lora *a, const char *name);

/* Check a against base: architecture, every tensor present in base with
 * the right shape, no two pairs (or saved tensors) for one base tensor
 * (one line naming both on failure: LLM_EINVAL). */
int llm_lora_check(const llm_lora *a, const llm_ckpt *base);

/* w (n_out x n_in, F32) += s * B A for tensor t (s already includes the
 * user's scale and t->scale).  DoRA tensors also renormalise rows to t's
 * magnitudes.  The product goes through OpenBLAS's sgemm. */
void llm_lora_apply_delta(const struct llm_lora_tensor *t, float s, float *w);

/* ---- merging ---- */

struct llm_lora_merge_report;

struct llm_lora_merge_opts {
	int type;          /* -1: each tensor keeps its type; else 2-D weights
	                      get this type by llm-quant's rules */
	int n_threads;     /* quantization threads */
	void (*progress)(void *ud, const char *name, uint64_t done, uint64_t total);
	void *ud;
	const llm_meta *extra; /* metadata merged over the base's (provenance), or NULL */
	void (*notice)(void *ud, const char *msg); /* what is worth knowing, or NULL */
	/* Optional: as llm_convert_opts' finish, with the merge report */
	int (*finish)(void *ud, const struct llm_lora_merge_report *rep, int64_t n);
	/* How to write (zstd container: gguf.h), or NULL: by name */
	const struct llm_gguf_write_opts *write;
};
#define LLM_LORA_MERGE_OPTS_INIT { -1, 1, NULL, NULL, NULL, NULL, NULL, NULL }

/* One row of the merge report per (adapter, tensor) touched. */
struct llm_lora_merge_report {
	char *name;
	int adapter;       /* index into the adapters given */
	const char *kind;  /* "lora", "dora", "replace" (static) */
	int64_t r;
	double scale;      /* user scale x per-tensor scale */
	double rel_delta;  /* ||W_after - W_before||_F / ||W_before||_F */
};

/* W' = W + sum_i scales[i] * dW_i for every tensor of base, adapters
 * applied in order, written to out_path ("-"/NULL: stdout) atomically.
 * Untouched tensors are copied byte for byte (or converted when
 * o->type asks).  Checks every adapter first (nothing is written on a
 * mismatch, or on a scale x alpha / r beyond float).  A merged tensor
 * that holds inf or NaN, in F32 or once in its output type, stops the
 * merge (LLM_EINVAL naming the adapter, or the base when its own values
 * hold them).  Memory: the largest tensor (F32) plus the adapters. */
int llm_lora_merge(llm_ckpt *base, llm_lora *const *ads, const float *scales, int n,
		   const char *out_path, const struct llm_lora_merge_opts *o,
		   struct llm_lora_merge_report **rep, int64_t *n_rep);
void llm_lora_merge_report_free(struct llm_lora_merge_report *r, int64_t n);

/* ---- writing ---- */

/* Write a as a GGUF adapter (F32 A/B, llama.cpp's layout, token_embd
 * flipped) with general.architecture = arch.  Only plain LoRA whose
 * per-tensor scales all equal alpha / r for one alpha (or alpha 0 and
 * scale 1) can be written as is; otherwise LLM_EUNSUPPORTED.  extra
 * (may be NULL) is merged into the metadata; wo says how to write (zstd
 * container: gguf.h; NULL: by out_path's name).  before_commit (may be
 * NULL) is called once every tensor is written, before the file is put in
 * place; nonzero (an error it set) gives the file up. */
int llm_lora_write(const llm_lora *a, const char *arch, const char *out_path,
		   const struct llm_gguf_write_opts *wo, const llm_meta *extra,
		   int (*before_commit)(void *ud), void *ud);

/* ---- run time (llm-run --lora) ----
 *
 * A set of adapters with user scales, looked up by base tensor name, for a
 * forward pass that keeps W as it is and adds the low-rank term:
 *
 *     y = W x  +  sum_i s_i * B_i (A_i x)
 *
 * How the model uses it (model.c, once per weight when loading):
 *     const llm_lora_hook *h = llm_lora_set_hook(set, "blk.3.attn_q.weight");
 * and after each mat-vec / mat-mat with that weight, for n tokens:
 *     if (h) llm_lora_hook_apply(h, x, y, n);   x: n x n_in, y: n x n_out
 * For the embedding lookup of token id v (row of n_embd values):
 *     h = llm_lora_set_hook(set, "token_embd.weight");
 *     if (h) llm_lora_hook_embed(h, v, row);
 * and, when the output is tied to token_embd, the same hook applied to the
 * final hidden state adds the adapter's term to the logits
 * (llm_lora_hook_apply(h, x, logits, n)), as a merged model would.
 * DoRA and modules_to_save cannot be applied this way: llm_lora_set_add
 * refuses them (LLM_EUNSUPPORTED); merge them with llm-lora-merge.
 * A set is read-only after loading and may be shared between threads.
 */
typedef struct llm_lora_set llm_lora_set;
typedef struct llm_lora_hook llm_lora_hook;

int llm_lora_set_new(llm_lora_set **out);
/* Open "PATH[:SCALE]" (see llm_lora_parse_spec), check it against base
 * and add it. */
int llm_lora_set_open(llm_lora_set *s, const char *spec, const llm_ckpt *base);
/* Add an opened adapter (ownership passes to the set, also on failure)
 * after llm_lora_check against base; LLM_EINVAL when scale times a
 * tensor's alpha / r is beyond float. */
int llm_lora_set_add(llm_lora_set *s, llm_lora *a, float scale, const llm_ckpt *base);
void llm_lora_set_free(llm_lora_set *s);
int llm_lora_set_count(const llm_lora_set *s);
/* The i-th adapter added (borrowed), or NULL; the scale it was added with
 * (0 when there is none). */
const llm_lora *llm_lora_set_adapter(const llm_lora_set *s, int i);
float llm_lora_set_scale(const llm_lora_set *s, int i);
/* For messages: "A", "A and B", "A, B and C", the paths of the n
 * adapters (only those that touch tensor, when not NULL), each followed
 * by " (scale S)" when scales is not NULL; cut short with "..." past
 * size.  Returns buf. */
const char *llm_lora_names(char *buf, size_t size, llm_lora *const *ads, const float *scales, int n,
			   const char *tensor);
/* The same for the adapters of s, with their scales. */
const char *llm_lora_set_names(char *buf, size_t size, const llm_lora_set *s);

/* Hook for a base tensor, or NULL when no adapter of the set touches it.
 * Borrowed from the set; valid until the next llm_lora_set_add/open. */
const llm_lora_hook *llm_lora_set_hook(const llm_lora_set *s, const char *name);
/* y[t] += sum_i s_i B_i (A_i x[t]) for t < n (rows of n_in / n_out). */
void llm_lora_hook_apply(const llm_lora_hook *h, const float *x, float *y, int n);
/* row (n_in values) += sum_i s_i * (B_i row v) A_i: the delta of row v of
 * W, i.e. of token v's embedding. */
void llm_lora_hook_embed(const llm_lora_hook *h, int64_t v, float *row);

/* "PATH[:SCALE]": *path (malloc'ed, caller frees) and *scale (default 1).
 * The suffix counts as a scale only when it parses whole as a number and
 * the full string is not an existing file; LLM_EINVAL when that number is
 * not a finite float (inf, nan, 1e40). */
int llm_lora_parse_spec(const char *spec, char **path, float *scale);

#endif
