/* safetensors.c - the .safetensors reader (safetensors.h) and the Hugging
 * Face checkpoint backend behind llm_ckpt_open (ckpt_impl.h): config.json,
 * model.safetensors or a sharded model.safetensors.index.json, renamed to
 * GGUF's tensor names with q/k rows permuted as llama.cpp's converter does.
 *
 * Metadata follow convert_hf_to_gguf.py for LlamaForCausalLM /
 * MistralForCausalLM: general.*, llama.* (key_length/value_length only
 * when config.json gives head_dim), rope_scaling (or transformers 5's
 * rope_parameters, rope_theta inside) "linear" as
 * llama.rope.scaling.*, "llama3" as a rope_freqs.weight tensor,
 * "dynamic" as none (it acts only past max_position_embeddings); other
 * rope_scaling types are refused.  Tensor types are kept (F32, F16, BF16;
 * the converter would make norms F32).  The vocabulary is the directory's
 * SentencePiece tokenizer.model when it has one (spm.c: LLaMA, Llama 2,
 * Mistral), else its tokenizer.json (hftok.c: byte-level BPE models such
 * as Llama 3 and Qwen2); llm_ckpt_opts.tokenizer (a GGUF, either file, or
 * a llama2.c tokenizer.bin) replaces it. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ckpt_impl.h"
#include "error.h"
#include "io.h"
#include "json.h"
#include "safetensors.h"
#include "types.h"

/* ================================================================== */
/* the file reader                                                     */

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The reference implementation refuses headers above 100 MB. */
#define ST_MAX_HEADER 100000000ull

struct llm_safetensors {
	char *path;
	struct llm_map map;   /* owner of base when we mapped the file */
	const uint8_t *base;
	uint64_t size;
	uint64_t data_off;    /* 8 + header length */
	llm_json *hdr;        /* owns the tensor names */
	const llm_json *meta; /* "__metadata__" or NULL */
	struct llm_st_tensor *t;
	int64_t nt;
};

static const struct {
	const char *name;
	size_t size;
	int type;
} st_dtypes[] = {
	{ "F32", 4, LLM_TYPE_F32 },   { "F16", 2, LLM_TYPE_F16 },   { "BF16", 2, LLM_TYPE_BF16 },
	{ "F64", 8, LLM_TYPE_F64 },   { "I8", 1, LLM_TYPE_I8 },     { "I16", 2, LLM_TYPE_I16 },
	{ "I32", 4, LLM_TYPE_I32 },   { "I64", 8, LLM_TYPE_I64 },   { "U8", 1, -1 },
	{ "U16", 2, -1 },             { "U32", 4, -1 },             { "U64", 8, -1 },
	{ "BOOL", 1, -1 },            { "F8_E5M2", 1, -1 },         { "F8_E4M3", 1, -1 },
};

static int st_dtype_index(const char *dtype)
{
	for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
		if (strcmp(st_dtypes[i].name, dtype) == 0)
			return (int)i;
	return -1;
}

size_t llm_safetensors_dtype_size(const char *dtype)
{
	int k = dtype ? st_dtype_index(dtype) : -1;
	return k < 0 ? 0 : st_dtypes[k].size;
}

/* One header entry -> t (name borrowed from the JSON tree). */
static int st_entry(const llm_safetensors *st, const char *name, const llm_json *v,
		    struct llm_st_tensor *t)
{
	const char *path = st->path, *dtype;
	const llm_json *shape, *offs;
	uint64_t datasize = st->size - st->data_off, bytes;
	int64_t begin, end, nelem = 1;
	int k;

	memset(t, 0, sizeof *t);
	t->name = name;
	if (llm_json_kind(v) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: header entry \"%s\" is not an object", path, name);
	dtype = llm_json_str(llm_json_get(v, "dtype"));
	if (!dtype)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: no \"dtype\" string", path, name);
	if ((k = st_dtype_index(dtype)) < 0)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: unknown dtype \"%.16s\"", path, name, dtype);
	strcpy(t->dtype, st_dtypes[k].name);
	t->type = st_dtypes[k].type;
	t->elsize = st_dtypes[k].size;

	shape = llm_json_get(v, "shape");
	if (llm_json_kind(shape) != LLM_JSON_ARR)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: no \"shape\" array", path, name);
	if (llm_json_len(shape) > LLM_ST_MAX_DIMS)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: %zu dimensions (at most %d are read)", path,
			       name, llm_json_len(shape), LLM_ST_MAX_DIMS);
	t->n_dims = (int)llm_json_len(shape);
	for (int d = 0; d < t->n_dims; d++) {
		int64_t x;
		if (llm_json_int(llm_json_at(shape, (size_t)d), &x) || x < 0)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: shape[%d] is not a non-negative integer",
				       path, name, d);
		t->shape[d] = x;
		if (__builtin_mul_overflow(nelem, x, &nelem))
			return llm_err(LLM_EFORMAT, "%s: tensor %s: shape overflows", path, name);
	}
	t->nelem = nelem;
	if (__builtin_mul_overflow((uint64_t)nelem, (uint64_t)t->elsize, &bytes))
		return llm_err(LLM_EFORMAT, "%s: tensor %s: size overflows", path, name);

	offs = llm_json_get(v, "data_offsets");
	if (llm_json_kind(offs) != LLM_JSON_ARR || llm_json_len(offs) != 2 ||
	    llm_json_int(llm_json_at(offs, 0), &begin) || llm_json_int(llm_json_at(offs, 1), &end) ||
	    begin < 0 || end < begin)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: \"data_offsets\" is not [begin, end] with 0 <= begin <= end",
			       path, name);
	if ((uint64_t)end > datasize)
		return llm_err(LLM_EFORMAT,
			       "%s: tensor %s: data_offsets [%lld, %lld] run past the end of the data (%llu bytes; file truncated?)",
			       path, name, (long long)begin, (long long)end, (unsigned long long)datasize);
	if ((uint64_t)(end - begin) != bytes)
		return llm_err(LLM_EFORMAT,
			       "%s: tensor %s: data_offsets [%lld, %lld] hold %lld bytes, but %s x %lld elements need %llu",
			       path, name, (long long)begin, (long long)end, (long long)(end - begin), t->dtype,
			       (long long)nelem, (unsigned long long)bytes);
	t->offset = (uint64_t)begin;
	t->size = bytes;
	t->data = st->base + st->data_off + t->offset;
	return 0;
}

static int cmp_offset(const void *a, const void *b)
{
	const struct llm_st_tensor *x = *(const struct llm_st_tensor *const *)a;
	const struct llm_st_tensor *y = *(const struct llm_st_tensor *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int st_check_overlap(const llm_safetensors *st)
{
	const struct llm_st_tensor **s;
	int rc = 0;

	if (st->nt < 2)
		return 0;
	if (!(s = malloc((size_t)st->nt * sizeof *s)))
		return llm_err(LLM_ENOMEM, "%s: out of memory", st->path);
	for (int64_t i = 0; i < st->nt; i++)
		s[i] = &st->t[i];
	qsort(s, (size_t)st->nt, sizeof *s, cmp_offset);
	for (int64_t i = 1; i < st->nt && !rc; i++)
		if (s[i]->offset < s[i - 1]->offset + s[i - 1]->size)
			rc = llm_err(LLM_EFORMAT, "%s: tensors %s and %s overlap", st->path, s[i - 1]->name,
				     s[i]->name);
	free(s);
	return rc;
}

static int st_parse(llm_safetensors *st)
{
	const char *path = st->path, *key;
	const llm_json *v;
	void *it = NULL;
	uint64_t n;
	int64_t i = 0;
	int rc;

	if (st->size < 8)
		return llm_err(LLM_EFORMAT, "%s: %llu bytes: too short for a safetensors header", path,
			       (unsigned long long)st->size);
	memcpy(&n, st->base, 8); /* little-endian hosts only, as the rest of the library */
	if (n > st->size - 8)
		return llm_err(LLM_EFORMAT, "%s: header length %llu runs past the end of the file (%llu bytes)",
			       path, (unsigned long long)n, (unsigned long long)st->size);
	if (n > ST_MAX_HEADER)
		return llm_err(LLM_EFORMAT, "%s: header length %llu is over the 100 MB limit", path,
			       (unsigned long long)n);
	if (n < 2 || st->base[8] != '{')
		return llm_err(LLM_EFORMAT, "%s: header is not a JSON object (not a safetensors file?)", path);
	st->data_off = 8 + n;
	if ((rc = llm_json_parse(&st->hdr, st->base + 8, (size_t)n, path)))
		return rc;
	if (llm_json_kind(st->hdr) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: header is not a JSON object", path);
	st->t = calloc(llm_json_len(st->hdr) + 1, sizeof *st->t);
	if (!st->t)
		return llm_err(LLM_ENOMEM, "%s: out of memory", path);
	while ((key = llm_json_next(st->hdr, &it, &v))) {
		if (strcmp(key, "__metadata__") == 0) {
			const llm_json *mv;
			void *it2 = NULL;
			const char *mk;
			if (llm_json_kind(v) != LLM_JSON_OBJ)
				return llm_err(LLM_EFORMAT, "%s: __metadata__ is not an object", path);
			while ((mk = llm_json_next(v, &it2, &mv)))
				if (!llm_json_str(mv))
					return llm_err(LLM_EFORMAT, "%s: __metadata__.%s is not a string", path, mk);
			st->meta = v;
			continue;
		}
		if ((rc = st_entry(st, key, v, &st->t[i])))
			return rc;
		i++;
	}
	st->nt = i;
	return st_check_overlap(st);
}

static int st_new(llm_safetensors **out, const char *name)
{
	llm_safetensors *st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st || !(st->path = strdup(name))) {
		free(st);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	*out = st;
	return 0;
}

int llm_safetensors_open_mem(llm_safetensors **out, const void *buf, uint64_t size, const char *name)
{
	llm_safetensors *st;
	int rc;

	if ((rc = st_new(&st, name)))
		return rc;
	st->base = buf;
	st->size = size;
	if ((rc = st_parse(st))) {
		llm_safetensors_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

int llm_safetensors_open(llm_safetensors **out, const char *path)
{
	llm_safetensors *st;
	int rc;

	if ((rc = st_new(&st, path)))
		return rc;
	if ((rc = llm_map_open(&st->map, path))) {
		llm_safetensors_free(st);
		return rc;
	}
	st->base = st->map.data;
	st->size = st->map.size;
	if ((rc = st_parse(st))) {
		llm_safetensors_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void llm_safetensors_free(llm_safetensors *st)
{
	if (!st)
		return;
	free(st->t);
	llm_json_free(st->hdr);
	llm_map_close(&st->map);
	free(st->path);
	free(st);
}

const char *llm_safetensors_path(const llm_safetensors *st) { return st->path; }
int64_t llm_safetensors_n_tensors(const llm_safetensors *st) { return st->nt; }

const struct llm_st_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i)
{
	return i >= 0 && i < st->nt ? &st->t[i] : NULL;
}

int64_t llm_safetensors_find(const llm_safetensors *st, const char *name)
{
	for (int64_t i = 0; i < st->nt; i++)
		if (strcmp(st->t[i].name, name) == 0)
			return i;
	return -1;
}

const char *llm_safetensors_metadata(const llm_safetensors *st, const char *key)
{
	return llm_json_str(llm_json_get(st->meta, key));
}

/* ================================================================== */
/* the Hugging Face backend                                            */

/* Hyper-parameters from config.json (HF names in comments). */
struct hf_hp {
	int64_t n_embd;     /* hidden_size */
	int64_t n_ff;       /* intermediate_size */
	int64_t n_layer;    /* num_hidden_layers */
	int64_t n_head;     /* num_attention_heads */
	int64_t n_head_kv;  /* num_key_value_heads (default n_head) */
	int64_t head_dim;   /* head_dim (default n_embd / n_head) */
	int has_head_dim;
	int64_t n_ctx;      /* max_position_embeddings */
	int64_t n_vocab;    /* vocab_size */
	double eps;         /* rms_norm_eps */
	double theta;       /* rope_theta */
	int tied;           /* tie_word_embeddings */
	const char *arch;
	/* rope_scaling */
	int rope_linear;    /* "linear": llama.rope.scaling.* keys */
	double rope_factor;
	int rope_llama3;    /* "llama3": a rope_freqs.weight tensor */
	double rs_low, rs_high, rs_orig;
};

/* Where GGUF tensor slot k comes from. */
struct hf_src {
	int shard;          /* -1: synthesised (rope_freqs) */
	int64_t idx;        /* tensor index in the shard */
	int perm_heads;     /* > 0: permute rows with this many heads */
};

struct hf_impl {
	llm_safetensors **sh;
	int nsh;
	struct hf_src *src;  /* per GGUF tensor */
	float *rope_freqs;   /* head_dim / 2 values, or NULL */
};

/* Tensor slots in output order: the globals, then per layer the same order
 * as llama.cpp's own stories260K.gguf. */
enum { S_ROPE, S_EMBD, S_NORM, S_OUT, S_NGLOBAL };
enum { K_NORM, K_Q, K_K, K_V, K_O, K_UP, K_DOWN };

static const struct {
	const char *hf, *gguf;
	int kind;
} hf_layer_map[] = {
	{ "self_attn.q_proj.weight", "attn_q.weight", K_Q },
	{ "self_attn.k_proj.weight", "attn_k.weight", K_K },
	{ "self_attn.v_proj.weight", "attn_v.weight", K_V },
	{ "self_attn.o_proj.weight", "attn_output.weight", K_O },
	{ "input_layernorm.weight", "attn_norm.weight", K_NORM },
	{ "mlp.gate_proj.weight", "ffn_gate.weight", K_UP },
	{ "mlp.down_proj.weight", "ffn_down.weight", K_DOWN },
	{ "mlp.up_proj.weight", "ffn_up.weight", K_UP },
	{ "post_attention_layernorm.weight", "ffn_norm.weight", K_NORM },
};
#define HF_PER_LAYER ((int)(sizeof hf_layer_map / sizeof hf_layer_map[0]))

static const char *const hf_global_hf[S_NGLOBAL] = { NULL, "model.embed_tokens.weight",
						     "model.norm.weight", "lm_head.weight" };
static const char *const hf_global_gguf[S_NGLOBAL] = { "rope_freqs.weight", "token_embd.weight",
						       "output_norm.weight", "output.weight" };

/* HF name -> slot, or -1 for names we skip (rotary_emb.inv_freq, ...). */
static int64_t hf_slot(const struct hf_hp *hp, const char *name, int *bad_layer)
{
	const char *p;
	char *end;
	long l;

	*bad_layer = 0;
	for (int k = S_EMBD; k < S_NGLOBAL; k++)
		if (strcmp(name, hf_global_hf[k]) == 0)
			return k;
	if (strncmp(name, "model.layers.", 13) != 0)
		return -1;
	p = name + 13;
	if (*p < '0' || *p > '9')
		return -1;
	l = strtol(p, &end, 10);
	if (*end != '.')
		return -1;
	for (int j = 0; j < HF_PER_LAYER; j++)
		if (strcmp(end + 1, hf_layer_map[j].hf) == 0) {
			if (l >= hp->n_layer) {
				*bad_layer = 1;
				return -1;
			}
			return S_NGLOBAL + (int64_t)l * HF_PER_LAYER + j;
		}
	return -1;
}

/* Expected HF shape [rows, cols] (cols 0: a vector of rows values). */
static void hf_expect(const struct hf_hp *hp, int64_t slot, int64_t *rows, int64_t *cols)
{
	int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;

	if (slot == S_EMBD || slot == S_OUT) {
		*rows = hp->n_vocab, *cols = hp->n_embd;
		return;
	}
	if (slot == S_NORM) {
		*rows = hp->n_embd, *cols = 0;
		return;
	}
	switch (hf_layer_map[(slot - S_NGLOBAL) % HF_PER_LAYER].kind) {
	case K_NORM: *rows = hp->n_embd, *cols = 0; break;
	case K_Q: *rows = q, *cols = hp->n_embd; break;
	case K_K:
	case K_V: *rows = kv, *cols = hp->n_embd; break;
	case K_O: *rows = hp->n_embd, *cols = q; break;
	case K_UP: *rows = hp->n_ff, *cols = hp->n_embd; break;
	default: *rows = hp->n_embd, *cols = hp->n_ff; break;
	}
}

static void hf_gguf_name(char *buf, size_t n, int64_t slot)
{
	if (slot < S_NGLOBAL)
		snprintf(buf, n, "%s", hf_global_gguf[slot]);
	else
		snprintf(buf, n, "blk.%lld.%s", (long long)((slot - S_NGLOBAL) / HF_PER_LAYER),
			 hf_layer_map[(slot - S_NGLOBAL) % HF_PER_LAYER].gguf);
}

/* ---- config.json ---- */

#define HF_MAX_LAYERS 65536

static int cfg_int(const llm_json *cfg, const char *path, const char *key, int64_t dflt,
		   int64_t *out)
{
	const llm_json *v = llm_json_get(cfg, key);

	if (!v || llm_json_kind(v) == LLM_JSON_NULL) {
		if (dflt < 0)
			return llm_err(LLM_EFORMAT, "%s: \"%s\" is missing", path, key);
		*out = dflt;
		return 0;
	}
	if (llm_json_int(v, out) || *out <= 0 || *out > INT32_MAX)
		return llm_err(LLM_EFORMAT, "%s: \"%s\" is not a positive 32-bit integer", path, key);
	return 0;
}

static int cfg_num(const llm_json *cfg, const char *path, const char *key, double dflt, double *out)
{
	const llm_json *v = llm_json_get(cfg, key);

	if (!v || llm_json_kind(v) == LLM_JSON_NULL) {
		*out = dflt;
		return 0;
	}
	/* every such value is written (or computed with) as a float: one past
	 * FLT_MAX would become inf in the GGUF, which llm-run refuses */
	if (llm_json_num(v, out) || !(fabs(*out) <= FLT_MAX))
		return llm_err(LLM_EFORMAT, "%s: \"%s\" is not a number that fits a float", path, key);
	return 0;
}

/* The RoPE parameters: transformers 5 writes "rope_parameters" (with
 * rope_theta inside), earlier versions "rope_scaling" beside a top-level
 * rope_theta; as convert_hf_to_gguf, the first wins and a rope_theta it
 * lacks comes from the top level.  NULL when there are none. */
static const llm_json *cfg_rope_params(const llm_json *cfg, const char **key)
{
	const llm_json *rp = llm_json_get(cfg, *key = "rope_parameters");
	if (!rp || llm_json_kind(rp) == LLM_JSON_NULL)
		rp = llm_json_get(cfg, *key = "rope_scaling");
	return rp && llm_json_kind(rp) != LLM_JSON_NULL ? rp : NULL;
}

static int cfg_rope_scaling(const llm_json *cfg, const char *path, struct hf_hp *hp)
{
	const char *key;
	const llm_json *rs = cfg_rope_params(cfg, &key);
	const char *type;
	int rc = 0;

	if (!rs)
		return 0;
	if (llm_json_kind(rs) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: \"%s\" is not an object", path, key);
	type = llm_json_str(llm_json_get(rs, "rope_type"));
	if (!type)
		type = llm_json_str(llm_json_get(rs, "type"));
	if (!type)
		return 0;
	if (strcmp(type, "linear") == 0 && llm_json_get(rs, "factor")) {
		hp->rope_linear = 1;
		rc = cfg_num(rs, path, "factor", 1.0, &hp->rope_factor);
	} else if (strcasecmp(type, "llama3") == 0) {
		/* As llama.cpp: original_max_position_embeddings is looked up at
		 * the top level (then, unlike llama.cpp, inside rope_scaling, where
		 * Llama 3 configs put it; both say 8192 there). */
		hp->rope_llama3 = 1;
		if (!rc) rc = cfg_num(rs, path, "factor", 8.0, &hp->rope_factor);
		if (!rc) rc = cfg_num(rs, path, "low_freq_factor", 1.0, &hp->rs_low);
		if (!rc) rc = cfg_num(rs, path, "high_freq_factor", 4.0, &hp->rs_high);
		if (!rc) rc = cfg_num(rs, path, "original_max_position_embeddings", 8192, &hp->rs_orig);
		if (!rc) rc = cfg_num(cfg, path, "original_max_position_embeddings", hp->rs_orig, &hp->rs_orig);
		if (!rc && (hp->rope_factor == 0 || hp->rs_high == hp->rs_low))
			rc = llm_err(LLM_EFORMAT, "%s: %s: factor is 0 or high_freq_factor equals low_freq_factor",
				     path, key);
	} else if (strcmp(type, "default") != 0 && strcmp(type, "dynamic") != 0 && strcmp(type, "linear") != 0) {
		/* llama.cpp's converter drops yarn, longrope and the rest for
		 * llama without a word; but they move every position's angles
		 * (yarn scales attention too), so the GGUF would hold another
		 * model.  "dynamic" (NTK) leaves the angles alone up to
		 * max_position_embeddings, the context written, and "linear"
		 * without a factor is no scaling. */
		rc = llm_err(LLM_EUNSUPPORTED, "%s: %s type \"%.32s\" is not supported (linear, llama3 and "
			     "dynamic are): the model would run without it", path, key, type);
	}
	return rc;
}

static int hf_config(const llm_json *cfg, const char *path, struct hf_hp *hp)
{
	const llm_json *archs = llm_json_get(cfg, "architectures");
	const char *arch = llm_json_str(llm_json_at(archs, 0));
	int rc = 0;

	memset(hp, 0, sizeof *hp);
	if (llm_json_kind(cfg) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: not a JSON object", path);
	if (!arch) {
		const char *mt = llm_json_str(llm_json_get(cfg, "model_type"));
		if (!mt)
			return llm_err(LLM_EFORMAT, "%s: no \"architectures\" nor \"model_type\"", path);
		arch = strcmp(mt, "llama") == 0 ? "LlamaForCausalLM"
		       : strcmp(mt, "mistral") == 0 ? "MistralForCausalLM" : mt;
	}
	if (strcmp(arch, "LLaMAForCausalLM") == 0) /* an early spelling convert_hf_to_gguf takes too */
		arch = "LlamaForCausalLM";
	if (strcmp(arch, "LlamaForCausalLM") != 0 && strcmp(arch, "MistralForCausalLM") != 0)
		return llm_err(LLM_EUNSUPPORTED,
			       "%s: architecture %.64s is not supported (LlamaForCausalLM and MistralForCausalLM are)",
			       path, arch);
	hp->arch = arch;
	if (!rc) rc = cfg_int(cfg, path, "hidden_size", -1, &hp->n_embd);
	if (!rc) rc = cfg_int(cfg, path, "intermediate_size", -1, &hp->n_ff);
	if (!rc) rc = cfg_int(cfg, path, "num_hidden_layers", -1, &hp->n_layer);
	/* a slot per tensor of every layer is allocated before the tensors are
	 * read: bound the count (llama.cpp's own limit is 512 layers) */
	if (!rc && hp->n_layer > HF_MAX_LAYERS)
		return llm_err(LLM_EFORMAT, "%s: \"num_hidden_layers\" is %lld, more than the %d layers read",
			       path, (long long)hp->n_layer, HF_MAX_LAYERS);
	if (!rc) rc = cfg_int(cfg, path, "num_attention_heads", -1, &hp->n_head);
	if (!rc) rc = cfg_int(cfg, path, "num_key_value_heads", hp->n_head, &hp->n_head_kv);
	if (!rc) rc = cfg_int(cfg, path, "max_position_embeddings", 2048, &hp->n_ctx);
	if (!rc) rc = cfg_int(cfg, path, "vocab_size", -1, &hp->n_vocab);
	if (!rc) rc = cfg_num(cfg, path, "rms_norm_eps", 1e-6, &hp->eps);
	if (!rc) rc = cfg_num(cfg, path, "rope_theta", 10000.0, &hp->theta);
	if (rc)
		return rc;
	{
		const char *key;
		const llm_json *rp = cfg_rope_params(cfg, &key);
		if (llm_json_kind(rp) == LLM_JSON_OBJ && (rc = cfg_num(rp, path, "rope_theta", hp->theta, &hp->theta)))
			return rc;
	}
	/* what llm-run would refuse in the GGUF is refused before it is written */
	if (!(hp->eps >= 0) || !((float)hp->theta > 0))
		return llm_err(LLM_EFORMAT, "%s: rms_norm_eps %g must be 0 or more and rope_theta %g positive",
			       path, hp->eps, hp->theta);
	hp->has_head_dim = llm_json_get(cfg, "head_dim") &&
			   llm_json_kind(llm_json_get(cfg, "head_dim")) != LLM_JSON_NULL;
	if (hp->has_head_dim) {
		if ((rc = cfg_int(cfg, path, "head_dim", -1, &hp->head_dim)))
			return rc;
	} else {
		if (hp->n_embd % hp->n_head)
			return llm_err(LLM_EFORMAT, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld",
				       path, (long long)hp->n_embd, (long long)hp->n_head);
		hp->head_dim = hp->n_embd / hp->n_head;
	}
	if (hp->head_dim % 2)
		return llm_err(LLM_EFORMAT, "%s: head size %lld is odd (RoPE rotates pairs)", path,
			       (long long)hp->head_dim);
	if (hp->n_head % hp->n_head_kv)
		return llm_err(LLM_EFORMAT, "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
			       path, (long long)hp->n_head, (long long)hp->n_head_kv);
	if (hp->n_head * hp->head_dim > INT32_MAX)
		return llm_err(LLM_EFORMAT, "%s: num_attention_heads x head size is too large", path);
	{
		const llm_json *tie = llm_json_get(cfg, "tie_word_embeddings");
		if (tie && llm_json_kind(tie) != LLM_JSON_NULL && llm_json_bool(tie, &hp->tied))
			return llm_err(LLM_EFORMAT, "%s: \"tie_word_embeddings\" is not a boolean", path);
	}
	return cfg_rope_scaling(cfg, path, hp);
}

/* rope_freqs.weight for rope_scaling type llama3, as llama.cpp's
 * converter computes it (in float32, as torch does there). */
static void hf_llama3_factors(const struct hf_hp *hp, float *out)
{
	int64_t dim = hp->head_dim;
	float low_wl = (float)(hp->rs_orig / hp->rs_low), high_wl = (float)(hp->rs_orig / hp->rs_high);
	float factor = (float)hp->rope_factor;

	for (int64_t i = 0; i < dim / 2; i++) {
		float e = (float)(2 * i) / (float)dim;
		float freq = 1.0f / powf((float)hp->theta, e);
		float wl = (float)(2 * M_PI) / freq;
		if (wl < high_wl) {
			out[i] = 1.0f;
		} else if (wl > low_wl) {
			out[i] = factor;
		} else {
			float smooth = ((float)hp->rs_orig / wl - (float)hp->rs_low) /
				       (float)(hp->rs_high - hp->rs_low);
			out[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
		}
	}
}

/* ---- metadata ---- */

static int hf_meta(llm_meta *m, const struct hf_hp *hp, const char *name, int file_type)
{
	int rc = 0;

	if (!rc) rc = llm_meta_set_str(m, "general.architecture", "llama");
	if (!rc) rc = llm_meta_set_str(m, "general.type", "model");
	if (!rc) rc = llm_meta_set_str(m, "general.name", name);
	if (!rc) rc = llm_meta_set_u32(m, "llama.block_count", (uint32_t)hp->n_layer);
	if (!rc) rc = llm_meta_set_u32(m, "llama.context_length", (uint32_t)hp->n_ctx);
	if (!rc) rc = llm_meta_set_u32(m, "llama.embedding_length", (uint32_t)hp->n_embd);
	if (!rc) rc = llm_meta_set_u32(m, "llama.feed_forward_length", (uint32_t)hp->n_ff);
	if (!rc) rc = llm_meta_set_u32(m, "llama.attention.head_count", (uint32_t)hp->n_head);
	if (!rc) rc = llm_meta_set_u32(m, "llama.attention.head_count_kv", (uint32_t)hp->n_head_kv);
	if (!rc) rc = llm_meta_set_f32(m, "llama.rope.freq_base", (float)hp->theta);
	if (!rc) rc = llm_meta_set_f32(m, "llama.attention.layer_norm_rms_epsilon", (float)hp->eps);
	if (!rc && hp->has_head_dim) {
		rc = llm_meta_set_u32(m, "llama.attention.key_length", (uint32_t)hp->head_dim);
		if (!rc) rc = llm_meta_set_u32(m, "llama.attention.value_length", (uint32_t)hp->head_dim);
	}
	if (!rc) rc = llm_meta_set_u32(m, "general.file_type", (uint32_t)file_type);
	if (!rc) rc = llm_meta_set_u32(m, "llama.vocab_size", (uint32_t)hp->n_vocab);
	if (!rc) rc = llm_meta_set_u32(m, "llama.rope.dimension_count", (uint32_t)hp->head_dim);
	if (!rc && hp->rope_linear) {
		rc = llm_meta_set_str(m, "llama.rope.scaling.type", "linear");
		if (!rc) rc = llm_meta_set_f32(m, "llama.rope.scaling.factor", (float)hp->rope_factor);
	}
	if (!rc) rc = llm_meta_set_u32(m, "general.quantization_version", 2);
	return rc;
}

/* ---- ops ---- */

/* GGUF row (h, j, t) <- HF row (h, t, j) for h < n_head, j < hd/2, t < 2:
 * numpy's w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2).reshape(rows, cols),
 * which turns rotate-half RoPE pairs (i, i + hd/2) into adjacent ones. */
static void hf_permute_rows(uint8_t *dst, const uint8_t *src, int64_t rows, size_t row_bytes,
			    int64_t n_head)
{
	int64_t hd = rows / n_head, half = hd / 2;

	for (int64_t h = 0; h < n_head; h++)
		for (int64_t j = 0; j < half; j++)
			for (int64_t t = 0; t < 2; t++)
				memcpy(dst + (size_t)(h * hd + 2 * j + t) * row_bytes,
				       src + (size_t)(h * hd + t * half + j) * row_bytes, row_bytes);
}

static const void *hf_direct(llm_ckpt *c, int64_t i)
{
	struct hf_impl *im = c->impl;
	const struct hf_src *s = &im->src[i];
	const struct llm_st_tensor *t;

	if (s->shard < 0)
		return im->rope_freqs;
	if (s->perm_heads)
		return NULL;
	t = llm_safetensors_tensor(im->sh[s->shard], s->idx);
	/* Unaligned data (odd header lengths) are copied instead. */
	return (uintptr_t)t->data % t->elsize ? NULL : t->data;
}

static int hf_load(llm_ckpt *c, int64_t i, void *dst)
{
	struct hf_impl *im = c->impl;
	const struct hf_src *s = &im->src[i];
	const struct llm_st_tensor *t;

	if (s->shard < 0) {
		memcpy(dst, im->rope_freqs, c->t[i].size);
		return 0;
	}
	t = llm_safetensors_tensor(im->sh[s->shard], s->idx);
	if (s->perm_heads)
		hf_permute_rows(dst, t->data, t->shape[0], (size_t)t->shape[1] * t->elsize, s->perm_heads);
	else
		memcpy(dst, t->data, t->size);
	return 0;
}

static void hf_free(void *p)
{
	struct hf_impl *im = p;

	if (!im)
		return;
	for (int k = 0; k < im->nsh; k++)
		llm_safetensors_free(im->sh[k]);
	free(im->sh);
	free(im->src);
	free(im->rope_freqs);
	free(im);
}

static const struct llm_ckpt_ops hf_ops = { hf_load, hf_direct, hf_free, NULL, NULL };

/* ---- open ---- */

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Everything open() gathers before it hands over to c. */
struct hf_open {
	const char *path;     /* as given (for messages about the whole checkpoint) */
	char *dir;            /* directory holding config.json */
	char *cfg_path;
	char *index_path;     /* model.safetensors.index.json or NULL */
	char *single_path;    /* the one .safetensors file when not sharded */
	llm_json *cfg, *index;
	struct hf_hp hp;
	struct hf_impl *im;
	char **shard_names;   /* as written in the index (borrowed from it) */
	struct hf_src *slot;  /* per slot; shard -1 and idx -1 when absent */
	int64_t nslot;
};

static int hf_resolve(struct hf_open *o)
{
	const char *p = o->path;
	char *slash;

	if (llm_path_is_dir(p)) {
		size_t n;
		if ((o->dir = strdup(p)))
			for (n = strlen(o->dir); n > 1 && o->dir[n - 1] == '/'; n--)
				o->dir[n - 1] = 0; /* "dir/" -> "dir" (general.name) */
	} else {
		o->dir = strdup(p);
		if (o->dir) {
			slash = strrchr(o->dir, '/');
			if (slash == o->dir)
				slash[1] = 0;
			else if (slash)
				*slash = 0;
			else { /* a bare name ("" too): the current directory */
				free(o->dir);
				o->dir = strdup(".");
			}
		}
	}
	if (!o->dir || !(o->cfg_path = llm_path_join(o->dir, "config.json")))
		return llm_err(LLM_ENOMEM, "out of memory");
	if (!llm_path_is_dir(p)) {
		if (!file_exists(p))
			return llm_err(LLM_ENOTFOUND, "%s: no such file", p);
		if (llm_ends_with(p, ".index.json"))
			o->index_path = strdup(p);
		else if (llm_ends_with(p, ".safetensors"))
			o->single_path = strdup(p);
		else if (!llm_ends_with(p, "config.json"))
			return llm_err(LLM_EFORMAT, "%s: not a config.json, .safetensors or .index.json file", p);
		if ((llm_ends_with(p, ".index.json") && !o->index_path) ||
		    (llm_ends_with(p, ".safetensors") && !o->single_path))
			return llm_err(LLM_ENOMEM, "out of memory");
	}
	if (!o->index_path && !o->single_path) {
		char *ix = llm_path_join(o->dir, "model.safetensors.index.json");
		char *one = llm_path_join(o->dir, "model.safetensors");
		if (!ix || !one) {
			free(ix);
			free(one);
			return llm_err(LLM_ENOMEM, "out of memory");
		}
		if (file_exists(one)) {
			o->single_path = one;
			free(ix);
		} else if (file_exists(ix)) {
			o->index_path = ix;
			free(one);
		} else {
			free(ix);
			free(one);
			return llm_err(LLM_ENOTFOUND, "%s: no model.safetensors nor model.safetensors.index.json",
				       o->dir);
		}
	}
	if (!file_exists(o->cfg_path))
		return llm_err(LLM_EFORMAT, "%s: missing (a Hugging Face checkpoint needs its config.json)",
			       o->cfg_path);
	return 0;
}

/* Record HF tensor idx of shard k into its slot, checking dtype and shape. */
static int hf_take(struct hf_open *o, int k, int64_t idx)
{
	const llm_safetensors *st = o->im->sh[k];
	const struct llm_st_tensor *t = llm_safetensors_tensor(st, idx);
	int64_t slot, rows, cols;
	int bad_layer;

	slot = hf_slot(&o->hp, t->name, &bad_layer);
	if (bad_layer)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: layer beyond num_hidden_layers %lld in config.json",
			       llm_safetensors_path(st), t->name, (long long)o->hp.n_layer);
	if (slot == S_OUT && o->hp.tied)
		return 0; /* lm_head beside tied embeddings: HF ignores it too */
	if (slot < 0) {
		/* buffers a checkpoint may carry (rotary_emb.inv_freq, integer or
		 * bool masks) are skipped, as convert_hf_to_gguf skips them; any
		 * other tensor would be dropped from the model, so it stops the
		 * conversion, as convert_hf_to_gguf stops ("cannot map") */
		if (llm_ends_with(t->name, "rotary_emb.inv_freq") ||
		    (t->type != LLM_TYPE_F32 && t->type != LLM_TYPE_F16 && t->type != LLM_TYPE_BF16))
			return 0;
		if (llm_ends_with(t->name, ".bias"))
			return llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: a bias (attention_bias / mlp_bias); llama "
				       "models without biases are read", llm_safetensors_path(st), t->name);
		return llm_err(LLM_EUNSUPPORTED, "%s: tensor %s is no tensor of a llama model (it would be "
			       "dropped)", llm_safetensors_path(st), t->name);
	}
	if (t->type != LLM_TYPE_F32 && t->type != LLM_TYPE_F16 && t->type != LLM_TYPE_BF16)
		return llm_err(LLM_EFORMAT, "%s: tensor %s: dtype %s is not read (F32, F16 and BF16 are)",
			       llm_safetensors_path(st), t->name, t->dtype);
	hf_expect(&o->hp, slot, &rows, &cols);
	if (cols ? (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
		 : (t->n_dims != 1 || t->shape[0] != rows)) {
		char got[64] = "", want[48];
		for (int d = 0, n = 0; d < t->n_dims && n < (int)sizeof got - 24; d++)
			n += snprintf(got + n, sizeof got - (size_t)n, "%s%lld", d ? ", " : "",
				      (long long)t->shape[d]);
		if (cols)
			snprintf(want, sizeof want, "%lld, %lld", (long long)rows, (long long)cols);
		else
			snprintf(want, sizeof want, "%lld", (long long)rows);
		return llm_err(LLM_EFORMAT, "%s: tensor %s has shape [%s], config.json implies [%s]",
			       llm_safetensors_path(st), t->name, got, want);
	}
	if (o->slot[slot].idx >= 0)
		return llm_err(LLM_EFORMAT, "%s: tensor %s appears twice", o->path, t->name);
	o->slot[slot].shard = k;
	o->slot[slot].idx = idx;
	if (slot >= S_NGLOBAL) {
		int kind = hf_layer_map[(slot - S_NGLOBAL) % HF_PER_LAYER].kind;
		if (kind == K_Q)
			o->slot[slot].perm_heads = (int)o->hp.n_head;
		else if (kind == K_K)
			o->slot[slot].perm_heads = (int)o->hp.n_head_kv;
	}
	return 0;
}

static int hf_add_shard(struct hf_open *o, const char *file)
{
	llm_safetensors **sh = realloc(o->im->sh, (size_t)(o->im->nsh + 1) * sizeof *sh);
	char *p;
	int rc;

	if (!sh)
		return llm_err(LLM_ENOMEM, "out of memory");
	o->im->sh = sh;
	if (!(p = llm_path_join(o->dir, file)))
		return llm_err(LLM_ENOMEM, "out of memory");
	rc = llm_safetensors_open(&sh[o->im->nsh], p);
	free(p);
	if (rc)
		return rc;
	o->im->nsh++;
	return 0;
}

static int hf_read_shards(struct hf_open *o)
{
	const llm_json *wm, *v;
	const char *key;
	void *it = NULL;
	int rc;

	if (o->single_path) {
		llm_safetensors **sh = calloc(1, sizeof *sh);
		if (!sh)
			return llm_err(LLM_ENOMEM, "out of memory");
		o->im->sh = sh;
		if ((rc = llm_safetensors_open(&sh[0], o->single_path)))
			return rc;
		o->im->nsh = 1;
		for (int64_t i = 0; i < llm_safetensors_n_tensors(sh[0]); i++)
			if ((rc = hf_take(o, 0, i)))
				return rc;
		return 0;
	}
	if ((rc = llm_json_load(&o->index, o->index_path)))
		return rc;
	wm = llm_json_get(o->index, "weight_map");
	if (llm_json_kind(wm) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: no \"weight_map\" object", o->index_path);
	o->shard_names = calloc(llm_json_len(wm) + 1, sizeof *o->shard_names);
	if (!o->shard_names)
		return llm_err(LLM_ENOMEM, "out of memory");
	while ((key = llm_json_next(wm, &it, &v))) {
		const char *file = llm_json_str(v);
		int64_t idx;
		int k;

		if (!file || !*file || strchr(file, '/'))
			return llm_err(LLM_EFORMAT, "%s: weight_map[\"%s\"] is not a file name in the same directory",
				       o->index_path, key);
		for (k = 0; k < o->im->nsh; k++)
			if (strcmp(o->shard_names[k], file) == 0)
				break;
		if (k == o->im->nsh) {
			if ((rc = hf_add_shard(o, file)))
				return rc;
			o->shard_names[k] = (char *)file;
		}
		idx = llm_safetensors_find(o->im->sh[k], key);
		if (idx < 0)
			return llm_err(LLM_EFORMAT, "%s: tensor %s is not in %s, where the index puts it",
				       o->index_path, key, file);
		if ((rc = hf_take(o, k, idx)))
			return rc;
	}
	/* The index and the shards must agree, as convert_hf_to_gguf checks:
	 * a tensor of a shard that the index leaves out (or puts in another
	 * shard) would otherwise be dropped unseen, and a dropped lm_head
	 * turns an untied model into a tied one. */
	for (int k = 0; k < o->im->nsh; k++)
		for (int64_t i = 0; i < llm_safetensors_n_tensors(o->im->sh[k]); i++) {
			const char *name = llm_safetensors_tensor(o->im->sh[k], i)->name;
			const char *file = llm_json_str(llm_json_get(wm, name));
			if (!file)
				return llm_err(LLM_EFORMAT, "%s: tensor %s of %s is not in the index's weight_map",
					       o->index_path, name, o->shard_names[k]);
			if (strcmp(file, o->shard_names[k]) != 0)
				return llm_err(LLM_EFORMAT, "%s: tensor %s is in %s too, not only in %s, where the "
					       "index puts it", o->index_path, name, o->shard_names[k], file);
		}
	return 0;
}

static int hf_finish(struct hf_open *o, llm_ckpt *c, llm_meta *m)
{
	struct hf_hp *hp = &o->hp;
	const char *base;
	int64_t n = 0, j;
	int ftype, rc;
	char name[96];

	if (hp->rope_llama3) {
		if (!(o->im->rope_freqs = malloc((size_t)(hp->head_dim / 2) * sizeof(float))))
			return llm_err(LLM_ENOMEM, "out of memory");
		hf_llama3_factors(hp, o->im->rope_freqs);
		o->slot[S_ROPE].shard = -1;
		o->slot[S_ROPE].idx = 0;
	}
	for (int64_t s = S_EMBD; s < o->nslot; s++) {
		if (o->slot[s].idx >= 0 || s == S_OUT)
			continue;
		if (s < S_NGLOBAL)
			snprintf(name, sizeof name, "%s", hf_global_hf[s]);
		else
			snprintf(name, sizeof name, "model.layers.%lld.%s",
				 (long long)((s - S_NGLOBAL) / HF_PER_LAYER),
				 hf_layer_map[(s - S_NGLOBAL) % HF_PER_LAYER].hf);
		return llm_err(LLM_EFORMAT, "%s: tensor %s is missing", o->index_path ? o->index_path : o->single_path,
			       name);
	}
	for (j = 0; j < o->nslot; j++)
		n += o->slot[j].idx >= 0;
	if (!(c->t = calloc((size_t)n, sizeof *c->t)) || !(o->im->src = calloc((size_t)n, sizeof *o->im->src)))
		return llm_err(LLM_ENOMEM, "out of memory");
	c->nt = 0;
	for (j = 0; j < o->nslot; j++) {
		struct llm_tensor_info *ti = &c->t[c->nt];
		const struct hf_src *s = &o->slot[j];
		if (s->idx < 0)
			continue;
		hf_gguf_name(name, sizeof name, j);
		if (!(ti->name = strdup(name)))
			return llm_err(LLM_ENOMEM, "out of memory");
		for (int d = 0; d < LLM_MAX_DIMS; d++)
			ti->ne[d] = 1;
		if (s->shard < 0) {
			ti->type = LLM_TYPE_F32;
			ti->n_dims = 1;
			ti->ne[0] = hp->head_dim / 2;
			ti->size = (uint64_t)ti->ne[0] * 4;
		} else {
			const struct llm_st_tensor *t = llm_safetensors_tensor(o->im->sh[s->shard], s->idx);
			ti->type = t->type;
			ti->n_dims = t->n_dims;
			for (int d = 0; d < t->n_dims; d++)
				ti->ne[d] = t->shape[t->n_dims - 1 - d];
			ti->size = t->size;
		}
		o->im->src[c->nt++] = *s;
	}
	/* general.file_type: LLAMA_FTYPE_ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32,
	 * as the token embedding's type says (a converter keeping types). */
	{
		const struct hf_src *e = &o->slot[S_EMBD];
		int t = llm_safetensors_tensor(o->im->sh[e->shard], e->idx)->type;
		ftype = t == LLM_TYPE_F16 ? 1 : t == LLM_TYPE_BF16 ? 32 : 0;
	}
	/* general.name: the directory's name, as llama.cpp's converter falls
	 * back to when the config names no model ("." resolved first). */
	{
		char *rp = realpath(o->dir, NULL);
		const char *d = rp ? rp : o->dir;
		base = strrchr(d, '/');
		base = base && base[1] ? base + 1 : d;
		rc = hf_meta(m, hp, base, ftype);
		free(rp);
	}
	return rc;
}

static void hf_open_clear(struct hf_open *o)
{
	free(o->dir);
	free(o->cfg_path);
	free(o->index_path);
	free(o->single_path);
	free(o->shard_names);
	free(o->slot);
	llm_json_free(o->cfg);
	llm_json_free(o->index);
}

int llm_ckpt_open_hf(llm_ckpt *c, const char *path, const char *tokenizer)
{
	struct hf_open o;
	llm_meta m;
	int rc;

	memset(&o, 0, sizeof o);
	llm_meta_init(&m);
	o.path = path;
	if ((rc = hf_resolve(&o)))
		goto out;
	if ((rc = llm_json_load(&o.cfg, o.cfg_path)))
		goto out;
	if ((rc = hf_config(o.cfg, o.cfg_path, &o.hp)))
		goto out;
	o.nslot = S_NGLOBAL + o.hp.n_layer * HF_PER_LAYER;
	o.slot = calloc((size_t)o.nslot, sizeof *o.slot);
	o.im = calloc(1, sizeof *o.im);
	if (!o.slot || !o.im) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	for (int64_t s = 0; s < o.nslot; s++)
		o.slot[s].idx = -1;
	if ((rc = hf_read_shards(&o)))
		goto out;
	rc = hf_finish(&o, c, &m);
out:
	if (rc) {
		/* Leave c as we found it: nothing for ckpt.c to free. */
		for (int64_t i = 0; c->t && i < c->nt; i++)
			free(c->t[i].name);
		free(c->t);
		c->t = NULL;
		c->nt = 0;
		hf_free(o.im);
		llm_meta_clear(&m);
	} else {
		c->fmt = LLM_CKPT_HF;
		c->version = 0;
		llm_meta_clear(&c->meta);
		c->meta = m;
		c->ops = &hf_ops;
		c->impl = o.im;
		/* the vocabulary asked for, or the directory's SentencePiece
		 * model, or else its tokenizer.json (c is complete: on error
		 * llm_ckpt_open frees it) */
		char *spm = tokenizer ? NULL : llm_path_join(o.dir, "tokenizer.model");
		char *tj = tokenizer ? NULL : llm_path_join(o.dir, "tokenizer.json");
		if (tokenizer)
			rc = llm_ckpt_set_tokenizer(c, tokenizer);
		else if (!spm || !tj)
			rc = llm_err(LLM_ENOMEM, "out of memory");
		else if (file_exists(spm))
			rc = llm_ckpt_set_tokenizer(c, spm);
		else if (file_exists(tj))
			rc = llm_ckpt_set_tokenizer(c, tj);
		free(spm);
		free(tj);
	}
	hf_open_clear(&o);
	return rc;
}
