/* model.c - llama-family forward pass.  Quantized matrices on CPUs with
 * AVX-512 VNNI are repacked at load for qpack.h's integer kernels (Q, K, V
 * stacked as one matrix, gate and up as another; llm_model_opts.f32_act
 * keeps them as stored); the other weight matrices go into huge-page
 * memory, F16/BF16 ones on AVX-512 CPUs rearranged in panels (fpack.h,
 * stacked the same way), the rest copied as they are
 * (llm_model_opts.in_place uses them where the checkpoint holds them);
 * either way the checkpoint's bytes are released.
 * token_embd stays in place: one row of it is read per token.
 *
 * Tensors (GGUF names; shapes as [ne0 = row length, ne1 = rows]):
 *   token_embd.weight       [n_embd, n_vocab]
 *   blk.N.attn_norm.weight  [n_embd]           (F32 copy held by the model)
 *   blk.N.attn_q.weight     [n_embd, n_head * head_dim]
 *   blk.N.attn_k.weight     [n_embd, n_head_kv * head_dim]
 *   blk.N.attn_v.weight     [n_embd, n_head_kv * head_dim]
 *   blk.N.attn_output.weight[n_head * head_dim, n_embd]
 *   blk.N.ffn_norm.weight   [n_embd]
 *   blk.N.ffn_gate.weight   [n_embd, n_ff]     (W1)
 *   blk.N.ffn_up.weight     [n_embd, n_ff]     (W3)
 *   blk.N.ffn_down.weight   [n_ff, n_embd]     (W2)
 *   output_norm.weight      [n_embd]
 *   output.weight           [n_embd, n_vocab]  (absent: tied to token_embd)
 *   rope_freqs.weight       [rope_dim / 2]     (optional, llama3 factors)
 *
 * Activations of a call are [n][...] row-major per token; tokens are run
 * through each layer together, so prefill is matrix-matrix work.  Calls
 * longer than CHUNK tokens are split to bound the activations.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "error.h"
#include "fpack.h"
#include "io.h"
#include "kernels.h"
#include "lora.h"
#include "model.h"
#include "qpack.h"
#include "threadpool.h"
#include "types.h"

#define CHUNK 256 /* tokens per pass through the layers */
#define XQ_RING 16 /* buffers of quantized activations for one token (quant_x) */

struct weight {
	const void *data; /* borrowed from the checkpoint, or own */
	void *own;        /* the model's copy of the data (llm_alloc_stream), or NULL */
	int type;
	int64_t n, d;     /* d rows of n values */
	const llm_lora_hook *lora; /* run-time adapter term, or NULL */
	llm_qpack *pk;    /* repacked copy for the integer kernels, or NULL */
	llm_fpack *fp;    /* F16/BF16 copy in row panels (fpack.h), or NULL */
	int stacked;      /* its rows are in a struct stack's pack instead:
			   * STACK_Q its qpack, STACK_F its fpack */
	int64_t idx;      /* tensor index in the checkpoint */
	char name[48];
};

enum { STACK_Q = 1, STACK_F = 2 }; /* struct weight's stacked */

/* Weights that read the same input (Q K V; gate and up), repacked as one
 * stacked matrix: one pass and one parallel-for instead of three. */
struct stack {
	llm_qpack *pk; /* NULL (and fp NULL): the weights are used one by one */
	llm_fpack *fp;
	struct weight *w[3];
	int n;
};

struct layer {
	float *attn_norm, *ffn_norm; /* [n_embd], owned */
	struct weight wq, wk, wv, wo, w1, w2, w3;
	struct stack qkv, gu;
};

struct llm_model {
	struct llm_hparams hp;
	llm_ckpt *c;
	unsigned char *used;     /* [n_tensors]: found by the load (the rest is refused) */
	struct weight tok, out;
	const struct llm_lora_set *lora; /* llm_model_set_lora's, or NULL */
	float *out_norm;         /* [n_embd] */
	struct layer *layers;    /* [n_layer] */
	double *inv_freq;        /* [rope_dim / 2] */
	int32_t n_ctx, n_past;
	float *kc, *vc;          /* [n_layer][n_ctx][n_head_kv][head_dim] */
	llm_threadpool *tp;
	int naive_attn;
	/* activations for up to CHUNK tokens */
	float *x, *xb, *xb2;     /* [CHUNK][n_embd] */
	float *q, *att;          /* [CHUNK][n_head * head_dim] */
	float *hb, *hb2;         /* [CHUNK][n_ff] */
	float *cs;               /* [CHUNK][rope_dim] cos/sin */
	void *attn_scratch;
	size_t attn_scratch_size;
	void *xq;                /* quantized activations for packed weights */
	uint8_t *xq1;            /* [XQ_RING][xq1_size]: the same for one token */
	size_t xq1_size;
	unsigned xq1_next;       /* the ring's next buffer */
	float *ys;               /* [CHUNK][widest stack] outputs of a stacked pack */
	int n_packed;
};

/* The error for logits that hold inf or NaN: with adapters applied at
 * run time, they are named first (an adapter's scale or values are the
 * likelier cause than a base that runs by itself). */
static int logits_bad(const llm_model *m)
{
	int na = llm_lora_set_count(m->lora);
	char who[640];

	if (!na)
		return llm_err(LLM_EFORMAT, "%s: the logits hold inf or NaN (so do the weights, or their products overflow)",
			       llm_ckpt_path(m->c));
	llm_lora_set_names(who, sizeof who, m->lora);
	return llm_err(LLM_EFORMAT, "%s: applied to %s, the logits hold inf or NaN (%s scale or values are too "
		       "large, or the weights hold inf or NaN)", who, llm_ckpt_path(m->c), na > 1 ? "an adapter's" : "its");
}

/* ============================================================ loading */

static int meta_key(char *buf, size_t size, const char *arch, const char *key)
{
	int k = snprintf(buf, size, "%s.%s", arch, key);
	return k > 0 && (size_t)k < size ? 0 : llm_err(LLM_EINVAL, "metadata key too long");
}

/* integer arch.key into *out; dflt < 0 means required */
static int get_int(const llm_meta *mt, const char *arch, const char *key, int64_t dflt,
		   int32_t *out)
{
	char k[128];
	int64_t v;
	int rc = meta_key(k, sizeof k, arch, key);
	if (rc)
		return rc;
	rc = llm_meta_get_int(mt, k, &v);
	if (rc == LLM_ENOTFOUND && dflt >= 0)
		v = dflt;
	else if (rc == LLM_ENOTFOUND)
		return llm_err(LLM_ENOTFOUND, "missing metadata key %s", k);
	else if (rc)
		return llm_err(LLM_EFORMAT, "metadata key %s is not an integer", k);
	if (v < 0 || v > INT32_MAX)
		return llm_err(LLM_EFORMAT, "metadata key %s = %lld is out of range", k, (long long)v);
	*out = (int32_t)v;
	return 0;
}

static double get_float(const llm_meta *mt, const char *arch, const char *key, double dflt)
{
	char k[128];
	if (meta_key(k, sizeof k, arch, key))
		return dflt;
	return llm_meta_float(mt, k, dflt);
}

/* Find name with shape [n, d] (d = 0: 1-D [n]); weights in a kernel type. */
static int find_tensor(llm_model *m, const char *name, int64_t n, int64_t d, int optional,
		       int64_t *idx)
{
	int64_t i = llm_ckpt_find(m->c, name);
	*idx = i;
	if (i < 0)
		return optional ? 0 : llm_err(LLM_ENOTFOUND, "missing tensor %s", name);
	m->used[i] = 1;
	const struct llm_tensor_info *t = llm_ckpt_tensor(m->c, i);
	int64_t rows = 1;
	for (int k = 1; k < t->n_dims; k++)
		rows *= t->ne[k];
	int ok = t->ne[0] == n && (d ? t->n_dims >= 2 && t->ne[1] == d && rows == d : rows == 1);
	if (!ok) {
		char want[64], got[96] = "";
		if (d)
			snprintf(want, sizeof want, "[%lld, %lld]", (long long)n, (long long)d);
		else
			snprintf(want, sizeof want, "[%lld]", (long long)n);
		size_t p = 0;
		for (int k = 0; k < t->n_dims && p < sizeof got - 24; k++)
			p += (size_t)snprintf(got + p, sizeof got - p, "%s%lld", k ? ", " : "[",
					      (long long)t->ne[k]);
		snprintf(got + p, sizeof got - p, "]");
		return llm_err(LLM_EFORMAT, "tensor %s has shape %s, expected %s", name, got, want);
	}
	return 0;
}

static int load_weight(llm_model *m, const char *name, int64_t n, int64_t d, int optional,
		       struct weight *w)
{
	int64_t i;
	int rc = find_tensor(m, name, n, d, optional, &i);
	if (rc || i < 0)
		return rc;
	const struct llm_tensor_info *t = llm_ckpt_tensor(m->c, i);
	if (!llm_kernel_type_ok(t->type))
		return llm_err(LLM_EUNSUPPORTED, "tensor %s: type %s is not supported by the forward pass",
			       name, llm_type_name(t->type));
	if (!llm_type_row_size(t->type, n))
		return llm_err(LLM_EFORMAT, "tensor %s: rows of %lld values do not fit type %s blocks",
			       name, (long long)n, llm_type_name(t->type));
	if ((rc = llm_ckpt_data(m->c, i, &w->data)))
		return rc;
	snprintf(w->name, sizeof w->name, "%s", name);
	w->idx = i;
	w->type = t->type;
	w->n = n;
	w->d = d;
	return 0;
}

/* A 1-D tensor of n values decoded to a new F32 array. */
static int load_vec(llm_model *m, const char *name, int64_t n, float **out)
{
	int64_t i;
	int rc = find_tensor(m, name, n, 0, 0, &i);
	if (rc)
		return rc;
	if (!(*out = malloc((size_t)n * sizeof **out)))
		return llm_err(LLM_ENOMEM, "out of memory for %s", name);
	return llm_ckpt_read_f32(m->c, i, *out); /* its errors name the tensor */
}

static int load_hparams(llm_model *m)
{
	const llm_meta *mt = llm_ckpt_meta(m->c);
	struct llm_hparams *hp = &m->hp;
	const char *arch;
	int rc;
	if (llm_meta_get_str(mt, "general.architecture", &arch, NULL))
		return llm_err(LLM_ENOTFOUND, "missing metadata key general.architecture");
	if (strcmp(arch, "llama") && strcmp(arch, "mistral"))
		return llm_err(LLM_EUNSUPPORTED, "architecture \"%s\" is not supported (llama, mistral)", arch);
	if ((rc = get_int(mt, arch, "embedding_length", -1, &hp->n_embd)) ||
	    (rc = get_int(mt, arch, "block_count", -1, &hp->n_layer)) ||
	    (rc = get_int(mt, arch, "attention.head_count", -1, &hp->n_head)) ||
	    (rc = get_int(mt, arch, "feed_forward_length", -1, &hp->n_ff)) ||
	    (rc = get_int(mt, arch, "attention.head_count_kv", hp->n_head, &hp->n_head_kv)) ||
	    (rc = get_int(mt, arch, "context_length", 0, &hp->n_ctx_train)))
		return rc;
	if (hp->n_embd < 1 || hp->n_layer < 1 || hp->n_head < 1 || hp->n_ff < 1 ||
	    hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv)
		return llm_err(LLM_EFORMAT, "bad hyper-parameters: n_embd %d, n_layer %d, n_head %d, n_head_kv %d, n_ff %d",
			       hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff);
	if ((rc = get_int(mt, arch, "attention.key_length", hp->n_embd / hp->n_head, &hp->head_dim)))
		return rc;
	int32_t vlen;
	/* as llama.cpp: value_length's default is n_embd / n_head, not key_length */
	if ((rc = get_int(mt, arch, "attention.value_length", hp->n_embd / hp->n_head, &vlen)))
		return rc;
	if (hp->head_dim < 1 || vlen != hp->head_dim)
		return llm_err(LLM_EUNSUPPORTED, "%s.attention.key_length %d / value_length %d not supported",
			       arch, hp->head_dim, vlen);
	if ((rc = get_int(mt, arch, "rope.dimension_count", hp->head_dim, &hp->rope_dim)))
		return rc;
	if (hp->rope_dim > hp->head_dim || hp->rope_dim % 2)
		return llm_err(LLM_EFORMAT, "%s.rope.dimension_count %d: must be even and <= head size %d",
			       arch, hp->rope_dim, hp->head_dim);
	hp->rope_base = (float)get_float(mt, arch, "rope.freq_base", 10000.0);
	/* required, as llama.cpp requires it: a default would run another model */
	hp->rms_eps = (float)get_float(mt, arch, "attention.layer_norm_rms_epsilon", NAN);
	if (isnan(hp->rms_eps))
		return llm_err(LLM_ENOTFOUND, "missing metadata key %s.attention.layer_norm_rms_epsilon", arch);
	if (!(hp->rope_base > 0) || !isfinite(hp->rope_base) || !(hp->rms_eps >= 0) || !isfinite(hp->rms_eps))
		return llm_err(LLM_EFORMAT, "bad rope.freq_base %g or layer_norm_rms_epsilon %g",
			       hp->rope_base, hp->rms_eps);
	return 0;
}

/* llama3 rope factors from rope.scaling.* (as llama.cpp's converter computes
 * rope_freqs.weight): long wavelengths are slowed by factor, short ones
 * kept, a smooth blend between. */
static void llama3_factors(float *f, int rope_dim, double base, double factor, double lo,
			   double hi, double old_ctx)
{
	double lo_wl = old_ctx / lo, hi_wl = old_ctx / hi;
	for (int i = 0; i < rope_dim / 2; i++) {
		double freq = pow(base, -2.0 * i / rope_dim), wl = 2 * M_PI / freq;
		if (wl < hi_wl)
			f[i] = 1;
		else if (wl > lo_wl)
			f[i] = (float)factor;
		else {
			double s = (old_ctx / wl - lo) / (hi - lo);
			f[i] = (float)(1.0 / ((1 - s) / factor + s));
		}
	}
}

static int load_rope(llm_model *m)
{
	const struct llm_hparams *hp = &m->hp;
	const llm_meta *mt = llm_ckpt_meta(m->c);
	const char *arch = "llama", *type = NULL;
	llm_meta_get_str(mt, "general.architecture", &arch, NULL);
	char k[128];
	int np = hp->rope_dim / 2, rc = 0;
	float *factor = NULL;
	double freq_scale = 1.0;
	if (!(m->inv_freq = malloc((size_t)(np ? np : 1) * sizeof *m->inv_freq)))
		return llm_err(LLM_ENOMEM, "out of memory");
	meta_key(k, sizeof k, arch, "rope.scaling.type");
	llm_meta_get_str(mt, k, &type, NULL);
	double sf = get_float(mt, arch, "rope.scaling.factor", 0);
	if (llm_ckpt_find(m->c, "rope_freqs.weight") >= 0) {
		if ((rc = load_vec(m, "rope_freqs.weight", np, &factor)))
			return rc;
	} else if (type && !strcmp(type, "llama3")) {
		if (!(factor = malloc((size_t)(np ? np : 1) * sizeof *factor)))
			return llm_err(LLM_ENOMEM, "out of memory");
		llama3_factors(factor, hp->rope_dim, hp->rope_base, sf > 0 ? sf : 8.0,
			       get_float(mt, arch, "rope.scaling.low_freq_factor", 1.0),
			       get_float(mt, arch, "rope.scaling.high_freq_factor", 4.0),
			       get_float(mt, arch, "rope.scaling.original_context_length", 8192));
	}
	if (type && !strcmp(type, "linear") && sf > 0)
		freq_scale = 1.0 / sf;
	else if (!type && get_float(mt, arch, "rope.scale_linear", 0) > 0)
		freq_scale = 1.0 / get_float(mt, arch, "rope.scale_linear", 1);
	else if (type && strcmp(type, "none") && strcmp(type, "linear") && strcmp(type, "llama3"))
		rc = llm_err(LLM_EUNSUPPORTED, "%s.rope.scaling.type \"%s\" is not supported", arch, type);
	if (!rc)
		llm_rope_freqs(m->inv_freq, hp->rope_dim, hp->rope_base, factor, freq_scale);
	free(factor);
	return rc;
}

static int alloc_f(float **p, size_t n)
{
	if (!(*p = calloc(n ? n : 1, sizeof **p)))
		return llm_err(LLM_ENOMEM, "model: out of memory for %zu floats", n);
	return 0;
}

/* Repack w for the integer kernels when its type and the CPU allow, then
 * let the checkpoint drop the original bytes (token_embd is kept: its rows
 * are looked up by token). */
static int pack_weight(llm_model *m, struct weight *w, int keep)
{
	if (!llm_qpack_available(w->type))
		return 0;
	int rc = llm_qpack_new(&w->pk, w->data, w->type, w->n, w->d, m->tp);
	if (rc)
		return llm_err_prefix(rc, w->name);
	m->n_packed++;
	if (!keep) {
		llm_ckpt_release(m->c, w->idx);
		w->data = NULL;
	}
	return 0;
}

/* Stack weights of one type into one pack when the CPU allows, else pack
 * them one by one. */
static int pack_stack(llm_model *m, struct stack *st)
{
	int rc = 0, same = llm_qpack_available(st->w[0]->type);
	for (int k = 1; k < st->n; k++)
		same &= st->w[k]->type == st->w[0]->type;
	if (!same) {
		for (int k = 0; !rc && k < st->n; k++)
			rc = pack_weight(m, st->w[k], 0);
		return rc;
	}
	const void *w[3];
	int64_t rows[3];
	for (int k = 0; k < st->n; k++)
		w[k] = st->w[k]->data, rows[k] = st->w[k]->d;
	if ((rc = llm_qpack_new_stacked(&st->pk, w, rows, st->n, st->w[0]->type, st->w[0]->n, m->tp)))
		return llm_err_prefix(rc, st->w[0]->name);
	m->n_packed++;
	for (int k = 0; k < st->n; k++) {
		llm_ckpt_release(m->c, st->w[k]->idx);
		st->w[k]->data = NULL;
		st->w[k]->stacked = STACK_Q;
	}
	return 0;
}

/* w (NULL: none) is used through a qpack, alone or stacked */
static int packed(const struct weight *w) { return w && (w->pk || w->stacked == STACK_Q); }

struct copy_job {
	uint8_t *dst;
	const uint8_t *src;
	size_t bytes;
};

static void copy_part(void *arg, int64_t i0, int64_t i1, int tid)
{
	(void)tid;
	const struct copy_job *j = arg;
	size_t a = (size_t)i0 << 21, e = (size_t)i1 << 21;
	memcpy(j->dst + a, j->src + a, (e < j->bytes ? e : j->bytes) - a);
}

/* Copy w's bytes into memory of the model's own (huge pages where the
 * system gives them) and release the checkpoint's, unless keep.  A mapped
 * file is read through 4 KiB page-cache pages; on AMD Zen 4 streaming it
 * measured 0.86 of the read bandwidth against 0.93 from huge pages. */
static int copy_weight(llm_model *m, struct weight *w, int keep)
{
	size_t bytes = llm_type_row_size(w->type, w->n) * (size_t)w->d;
	struct copy_job j = { llm_alloc_stream(bytes), w->data, bytes };
	if (!j.dst)
		return llm_err(LLM_ENOMEM, "%s: out of memory for a copy of %zu bytes", w->name, bytes);
	llm_threadpool_run(m->tp, (int64_t)((bytes + ((size_t)1 << 21) - 1) >> 21), 1, 1, copy_part, &j);
	if (!keep)
		llm_ckpt_release(m->c, w->idx);
	w->data = w->own = j.dst;
	return 0;
}

/* F16/BF16 weights of a stack as one fpack, when they all are of one such
 * type and the CPU allows; 0 and nothing done otherwise. */
static int fpack_stack(llm_model *m, struct stack *st)
{
	int type = st->w[0]->type, ok = llm_fpack_available(type);
	const void *w[3];
	int64_t rows[3];
	for (int k = 0; k < st->n; k++) {
		ok &= !packed(st->w[k]) && st->w[k]->type == type && st->w[k]->n == st->w[0]->n;
		w[k] = st->w[k]->data, rows[k] = st->w[k]->d;
	}
	if (!ok)
		return 0;
	int rc = llm_fpack_new(&st->fp, w, rows, st->n, type, st->w[0]->n, m->tp);
	if (rc)
		return llm_err_prefix(rc, st->w[0]->name);
	for (int k = 0; k < st->n; k++) {
		llm_ckpt_release(m->c, st->w[k]->idx);
		st->w[k]->data = NULL;
		st->w[k]->stacked = STACK_F;
	}
	return 0;
}

/* w into panels (fpack.h) if F16/BF16 and the CPU allows, else copied as
 * it is; the checkpoint's bytes released unless keep. */
static int own_weight(llm_model *m, struct weight *w, int keep)
{
	if (!llm_fpack_available(w->type))
		return copy_weight(m, w, keep);
	int rc = llm_fpack_new(&w->fp, &w->data, &w->d, 1, w->type, w->n, m->tp);
	if (rc)
		return llm_err_prefix(rc, w->name);
	if (!keep) {
		llm_ckpt_release(m->c, w->idx);
		w->data = NULL;
	}
	return 0;
}

/* Every weight matrix not repacked for the integer kernels, into memory of
 * the model's own: F16/BF16 ones in panels (stacked as the integer kernels
 * stack theirs), others copied (token_embd stays in place: one row of it
 * is read per token). */
static int copy_all(llm_model *m)
{
	const struct llm_hparams *hp = &m->hp;
	int rc = 0;
	if (!packed(&m->out))
		rc = own_weight(m, &m->out, hp->tied_output);
	for (int l = 0; !rc && l < hp->n_layer; l++) {
		struct layer *L = &m->layers[l];
		struct weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3, &L->w2 };
		if ((rc = fpack_stack(m, &L->qkv)) || (rc = fpack_stack(m, &L->gu)))
			break;
		for (size_t k = 0; !rc && k < sizeof ws / sizeof *ws; k++)
			if (!packed(ws[k]) && !ws[k]->stacked)
				rc = own_weight(m, ws[k], 0);
	}
	return rc;
}

/* Outputs of a stacked product, for the widest stack, if any is packed */
static int alloc_ys(llm_model *m)
{
	const struct llm_hparams *hp = &m->hp;
	int any = 0;
	for (int l = 0; l < hp->n_layer; l++) {
		const struct layer *L = &m->layers[l];
		any |= L->qkv.pk || L->qkv.fp || L->gu.pk || L->gu.fp;
	}
	if (!any)
		return 0;
	int64_t ys = (int64_t)hp->n_head * hp->head_dim + 2 * (int64_t)hp->n_head_kv * hp->head_dim;
	if (2 * (int64_t)hp->n_ff > ys)
		ys = 2 * (int64_t)hp->n_ff;
	if (!(m->ys = malloc((size_t)ys * CHUNK * sizeof *m->ys)))
		return llm_err(LLM_ENOMEM, "model: out of memory for stacked outputs");
	return 0;
}

static int pack_all(llm_model *m)
{
	const struct llm_hparams *hp = &m->hp;
	int rc = pack_weight(m, &m->out, hp->tied_output);
	for (int l = 0; !rc && l < hp->n_layer; l++) {
		struct layer *L = &m->layers[l];
		if ((rc = pack_stack(m, &L->qkv)) || (rc = pack_stack(m, &L->gu)) ||
		    (rc = pack_weight(m, &L->wo, 0)) || (rc = pack_weight(m, &L->w2, 0)))
			break;
	}
	if (rc || !m->n_packed)
		return rc;
	int64_t wide = hp->n_embd;
	if ((int64_t)hp->n_head * hp->head_dim > wide)
		wide = (int64_t)hp->n_head * hp->head_dim;
	if (hp->n_ff > wide)
		wide = hp->n_ff;
	wide = (wide + 31) / 32 * 32;
	m->xq1_size = (llm_qpack_x_size(wide, 1) + 63) / 64 * 64;
	if (!(m->xq = aligned_alloc(64, llm_qpack_x_size(wide, CHUNK))) ||
	    !(m->xq1 = aligned_alloc(64, XQ_RING * m->xq1_size)))
		return llm_err(LLM_ENOMEM, "model: out of memory for quantized activations");
	return 0;
}

static int load(llm_model *m, const struct llm_model_opts *o)
{
	struct llm_hparams *hp = &m->hp;
	int rc;
	char name[96];
	if ((rc = load_hparams(m)) || (rc = llm_threadpool_new(&m->tp, o ? o->n_threads : 0)))
		return rc;
	if (!(m->used = calloc((size_t)llm_ckpt_n_tensors(m->c) + 1, 1)))
		return llm_err(LLM_ENOMEM, "model: out of memory");
	/* The mat-vecs' inputs (weights, activation buffers) are the model's,
	 * freed only after the pool: a worker stopped by the OS or a hypervisor
	 * in the middle of one may have its share taken over (threadpool.h). */
	llm_threadpool_allow_redo(m->tp, 1);
	int64_t ti = llm_ckpt_find(m->c, "token_embd.weight");
	if (ti < 0)
		return llm_err(LLM_ENOTFOUND, "missing tensor token_embd.weight");
	const struct llm_tensor_info *t = llm_ckpt_tensor(m->c, ti);
	if (t->n_dims < 2 || t->ne[1] < 1 || t->ne[1] > INT32_MAX)
		return llm_err(LLM_EFORMAT, "tensor token_embd.weight has %d dimensions, expected [%d, n_vocab]",
			       t->n_dims, hp->n_embd);
	hp->n_vocab = (int32_t)t->ne[1];
	/* one row per token, as llama.cpp requires: more tokens than rows
	 * would fail only when such a token came up, fewer would let the
	 * sampler pick ids that have no text (a vocabulary cut short).  The
	 * readers of tokenizer.model, tokenizer.json and config.json pad a
	 * vocabulary rounded up by the model with [PADn] tokens, as
	 * convert_hf_to_gguf does, so real checkpoints meet this. */
	const struct llm_kv *toks = llm_meta_get(llm_ckpt_meta(m->c), "tokenizer.ggml.tokens");
	if (toks && (int64_t)toks->n != t->ne[1])
		return llm_err(LLM_EFORMAT, "a vocabulary of %lld tokens but token_embd.weight has %lld rows",
			       (long long)toks->n, (long long)t->ne[1]);
	int64_t E = hp->n_embd, V = hp->n_vocab, F = hp->n_ff;
	int64_t QD = (int64_t)hp->n_head * hp->head_dim, KD = (int64_t)hp->n_head_kv * hp->head_dim;
	if ((rc = load_weight(m, "token_embd.weight", E, V, 0, &m->tok)) ||
	    (rc = load_vec(m, "output_norm.weight", E, &m->out_norm)) ||
	    (rc = load_weight(m, "output.weight", E, V, 1, &m->out)))
		return rc;
	hp->tied_output = m->out.data == NULL;
	if (hp->tied_output)
		m->out = m->tok;
	/* the last layer first: a damaged block_count fails here, naming the
	 * tensor, and not as an allocation for billions of layers */
	snprintf(name, sizeof name, "blk.%d.attn_norm.weight", hp->n_layer - 1);
	if (llm_ckpt_find(m->c, name) < 0)
		return llm_err(LLM_ENOTFOUND, "missing tensor %s (block_count is %d)", name, hp->n_layer);
	/* and no layer past it: llama.cpp refuses tensors it does not use */
	for (int64_t i = 0; i < llm_ckpt_n_tensors(m->c); i++) {
		const char *tn = llm_ckpt_tensor(m->c, i)->name;
		long l;
		char *end;
		if (strncmp(tn, "blk.", 4) == 0 && (l = strtol(tn + 4, &end, 10)) >= hp->n_layer && *end == '.')
			return llm_err(LLM_EFORMAT, "tensor %s: a layer past block_count %d", tn, hp->n_layer);
	}
	if (!(m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers)))
		return llm_err(LLM_ENOMEM, "model: out of memory");
	for (int l = 0; l < hp->n_layer; l++) {
		struct layer *L = &m->layers[l];
#define W(field, nm, n, d)                                                      \
	(snprintf(name, sizeof name, "blk.%d." nm ".weight", l),                \
	 load_weight(m, name, n, d, 0, &L->field))
#define N(field, nm) (snprintf(name, sizeof name, "blk.%d." nm ".weight", l), load_vec(m, name, E, &L->field))
		if ((rc = N(attn_norm, "attn_norm")) || (rc = N(ffn_norm, "ffn_norm")) ||
		    (rc = W(wq, "attn_q", E, QD)) || (rc = W(wk, "attn_k", E, KD)) ||
		    (rc = W(wv, "attn_v", E, KD)) || (rc = W(wo, "attn_output", QD, E)) ||
		    (rc = W(w1, "ffn_gate", E, F)) || (rc = W(w3, "ffn_up", E, F)) ||
		    (rc = W(w2, "ffn_down", F, E)))
			return rc;
#undef W
#undef N
		L->qkv = (struct stack){ .w = { &L->wq, &L->wk, &L->wv }, .n = 3 };
		L->gu = (struct stack){ .w = { &L->w1, &L->w3 }, .n = 2 };
	}
	if ((rc = load_rope(m)))
		return rc;
	/* every tensor of the file has its place: one the forward pass has no
	 * use for (a bias, an expert) would otherwise be left out of the
	 * model without a word (llama.cpp, too, refuses tensors it does not
	 * load) */
	for (int64_t i = 0; i < llm_ckpt_n_tensors(m->c); i++)
		if (!m->used[i])
			return llm_err(LLM_EUNSUPPORTED, "tensor %s has no place in the llama forward pass here "
				       "(biases and experts are not run)", llm_ckpt_tensor(m->c, i)->name);
	if ((!(o && o->f32_act) && (rc = pack_all(m))) ||
	    (!(o && o->in_place) && (rc = copy_all(m))) || (rc = alloc_ys(m)))
		return rc;
	int32_t n_ctx = o ? o->n_ctx : 0;
	if (n_ctx < 0 && hp->n_ctx_train > 0)
		n_ctx = hp->n_ctx_train;
	else if (n_ctx <= 0)
		n_ctx = hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
	m->n_ctx = n_ctx;
	size_t kv = (size_t)hp->n_layer * (size_t)n_ctx * (size_t)KD;
	size_t cmax = (size_t)CHUNK;
	if (!(m->kc = llm_calloc_stream(kv, sizeof(float))) || !(m->vc = llm_calloc_stream(kv, sizeof(float))))
		return llm_err(LLM_ENOMEM, "model: out of memory for a KV cache of %zu floats", 2 * kv);
	if ((rc = alloc_f(&m->x, cmax * E)) || (rc = alloc_f(&m->xb, cmax * E)) ||
	    (rc = alloc_f(&m->xb2, cmax * E)) || (rc = alloc_f(&m->q, cmax * QD)) ||
	    (rc = alloc_f(&m->att, cmax * QD)) || (rc = alloc_f(&m->hb, cmax * F)) ||
	    (rc = alloc_f(&m->hb2, cmax * F)) ||
	    (rc = alloc_f(&m->cs, cmax * (size_t)(hp->rope_dim ? hp->rope_dim : 1))))
		return rc;
	return 0;
}

int llm_model_load(llm_model **out, llm_ckpt *c, const struct llm_model_opts *o)
{
	*out = NULL;
	if (llm_ckpt_n_tensors(c) == 0)
		return llm_err(LLM_EINVAL, "%s: no tensors (a vocabulary-only file): cannot run a model",
			       llm_ckpt_path(c));
	llm_model *m = calloc(1, sizeof *m);
	if (!m)
		return llm_err(LLM_ENOMEM, "model: out of memory");
	m->c = c;
	int rc = load(m, o);
	if (rc) {
		llm_model_free(m);
		return llm_err_prefix(rc, llm_ckpt_path(c));
	}
	*out = m;
	return 0;
}

void llm_model_free(llm_model *m)
{
	if (!m)
		return;
	llm_threadpool_free(m->tp); /* first: it waits for workers still reading the buffers below */
	if (m->layers)
		for (int l = 0; l < m->hp.n_layer; l++) {
			free(m->layers[l].attn_norm);
			free(m->layers[l].ffn_norm);
		}
	if (m->layers)
		for (int l = 0; l < m->hp.n_layer; l++) {
			struct layer *L = &m->layers[l];
			struct weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3, &L->w2 };
			for (size_t k = 0; k < sizeof ws / sizeof *ws; k++)
				llm_qpack_free(ws[k]->pk), llm_fpack_free(ws[k]->fp), free(ws[k]->own);
			llm_qpack_free(L->qkv.pk), llm_fpack_free(L->qkv.fp);
			llm_qpack_free(L->gu.pk), llm_fpack_free(L->gu.fp);
		}
	llm_qpack_free(m->out.pk);
	llm_fpack_free(m->out.fp);
	free(m->out.own);
	free(m->xq);
	free(m->xq1);
	free(m->ys);
	free(m->layers);
	free(m->used);
	free(m->out_norm);
	free(m->inv_freq);
	free(m->kc);
	free(m->vc);
	free(m->x);
	free(m->xb);
	free(m->xb2);
	free(m->q);
	free(m->att);
	free(m->hb);
	free(m->hb2);
	free(m->cs);
	free(m->attn_scratch);
	free(m);
}

const struct llm_hparams *llm_model_hparams(const llm_model *m) { return &m->hp; }
int32_t llm_model_n_ctx(const llm_model *m) { return m->n_ctx; }
int32_t llm_model_n_past(const llm_model *m) { return m->n_past; }
int llm_model_n_threads(const llm_model *m) { return llm_threadpool_size(m->tp); }
void llm_model_set_naive_attention(llm_model *m, int naive) { m->naive_attn = naive != 0; }

int llm_model_set_lora(llm_model *m, const struct llm_lora_set *set)
{
#define HOOK(w) ((w).lora = set ? llm_lora_set_hook(set, (w).name) : NULL)
	m->lora = set;
	HOOK(m->tok);
	HOOK(m->out); /* tied: m->out is token_embd, the same hook */
	for (int l = 0; l < m->hp.n_layer; l++) {
		struct layer *L = &m->layers[l];
		HOOK(L->wq), HOOK(L->wk), HOOK(L->wv), HOOK(L->wo);
		HOOK(L->w1), HOOK(L->w2), HOOK(L->w3);
	}
#undef HOOK
	return 0;
}

int llm_model_kv(const llm_model *m, int layer, const float **k, const float **v)
{
	if (layer < 0 || layer >= m->hp.n_layer)
		return llm_err(LLM_EINVAL, "layer %d out of range (0..%d)", layer, m->hp.n_layer - 1);
	size_t off = (size_t)layer * (size_t)m->n_ctx * (size_t)m->hp.n_head_kv * (size_t)m->hp.head_dim;
	*k = m->kc + off;
	*v = m->vc + off;
	return 0;
}

/* ============================================================ forward */

/* x[n][k] rounded for the packed weights among a, b, c (which take rows of
 * the same k values), or NULL when none of them is packed.  One token's
 * go to the next buffer of a ring: a buffer the other threads read in the
 * last product would first have to be taken back from their caches line
 * by line, which is slow while the hypervisor keeps the two vCPUs on
 * different core complexes (a round trip between them 310-400 ns against
 * 50-80).  There the ring of 16 halved quant_x (0.31-0.40 against
 * 0.60-0.73 ms a token) and decoding was 1.016x as fast (TinyLlama shape
 * Q4_0, 2 threads, the two alternated token by token, geometric mean of
 * 16 rounds' medians); on one complex 1.002x (44 rounds). */
static const void *quant_x(llm_model *m, const float *x, int n, const struct weight *a,
			   const struct weight *b, const struct weight *c)
{
	if (!packed(a) && !packed(b) && !packed(c))
		return NULL;
	void *xq = n == 1 ? m->xq1 + (m->xq1_next++ % XQ_RING) * m->xq1_size : m->xq;
	llm_qpack_quant_x(xq, x, a->n, n);
	return xq;
}

/* The pack of the product that follows, when decoding, layer l's k-th
 * (0 QKV, 1 output, 2 gate and up, 3 down; the logits' after the last
 * layer, the first layer's after the logits): for llm_qpack_then. */
static const llm_qpack *next_pack(const llm_model *m, int l, int k)
{
	if (l < 0 || (k == 3 && l + 1 == m->hp.n_layer))
		return l < 0 ? m->layers[0].qkv.pk : m->out.pk;
	const struct layer *L = &m->layers[k == 3 ? l + 1 : l];
	return k == 0 ? L->wo.pk : k == 1 ? L->gu.pk : k == 2 ? L->w2.pk : L->qkv.pk;
}

/* y[n][d] = x[n][k] W^T (+ the adapter's term); xq from quant_x; next:
 * the pack of the product after this one (next_pack) */
static int matmul(llm_model *m, float *y, const struct weight *w, const float *x, const void *xq,
		  int n, const llm_qpack *next)
{
	int rc = 0;
	if (w->pk) {
		if (n == 1)
			llm_qpack_then(m->tp, next);
		llm_qpack_matmul(y, w->pk, xq, n, m->tp);
	} else if (w->fp) {
		rc = llm_fpack_matmul(y, w->fp, x, n, m->tp);
	} else {
		rc = llm_matmul(y, w->data, w->type, x, w->n, w->d, n, m->tp);
	}
	if (!rc && w->lora)
		llm_lora_hook_apply(w->lora, x, y, n);
	return rc;
}

/* ys[k][n][d_k] = x[n][n_in] W_k^T for the weights of st (+ their adapter
 * terms): one stacked product, or one product per weight.  With view set,
 * a stacked product of one token leaves its parts where they are and
 * points ys[k] at them (m->ys, valid until the next stacked product)
 * instead of copying them out. */
static int matmul_stack(llm_model *m, const struct stack *st, float **ys, const float *x,
			const void *xq, int n, int view, const llm_qpack *next)
{
	int rc = 0;
	if (!st->pk && !st->fp) {
		for (int k = 0; !rc && k < st->n; k++)
			rc = matmul(m, ys[k], st->w[k], x, xq, n, k + 1 < st->n ? st->w[k + 1]->pk : next);
		return rc;
	}
	int64_t D = 0;
	for (int k = 0; k < st->n; k++)
		D += st->w[k]->d;
	if (st->pk) {
		if (n == 1)
			llm_qpack_then(m->tp, next);
		llm_qpack_matmul(m->ys, st->pk, xq, n, m->tp);
	} else if ((rc = llm_fpack_matmul(m->ys, st->fp, x, n, m->tp))) {
		return rc;
	}
	for (int t = 0; t < n; t++) { /* [n][D] -> each weight's [n][d_k] */
		int64_t off = 0;
		for (int k = 0; k < st->n; k++) {
			int64_t d = st->w[k]->d;
			if (view && n == 1)
				ys[k] = m->ys + off;
			else
				memcpy(ys[k] + t * d, m->ys + t * D + off, (size_t)d * sizeof *m->ys);
			off += d;
		}
	}
	for (int k = 0; k < st->n; k++)
		if (st->w[k]->lora)
			llm_lora_hook_apply(st->w[k]->lora, x, ys[k], n);
	return 0;
}

static int attention(llm_model *m, int l, int n, int pos)
{
	const struct llm_hparams *hp = &m->hp;
	const float *k, *v;
	llm_model_kv(m, l, &k, &v);
	struct llm_attn a = { n, pos, hp->n_head, hp->n_head_kv, hp->head_dim,
			      1.0f / sqrtf((float)hp->head_dim), m->q, k, v, m->att };
	int nw = llm_threadpool_size(m->tp);
	size_t need = m->naive_attn ? llm_attn_naive_scratch(&a, nw) : llm_attn_flash_scratch(&a, nw);
	if (need > m->attn_scratch_size) {
		void *p = realloc(m->attn_scratch, need);
		if (!p)
			return llm_err(LLM_ENOMEM, "attention: out of memory for %zu bytes of scratch", need);
		m->attn_scratch = p;
		m->attn_scratch_size = need;
	}
	return m->naive_attn ? llm_attn_naive(&a, m->tp, m->attn_scratch)
			     : llm_attn_flash(&a, m->tp, m->attn_scratch);
}

/* n <= CHUNK tokens at positions pos.. through every layer; x holds their
 * final residual stream afterwards. */
static int forward_chunk(llm_model *m, const int32_t *tokens, int n, int pos)
{
	const struct llm_hparams *hp = &m->hp;
	int64_t E = hp->n_embd, F = hp->n_ff;
	int64_t QD = (int64_t)hp->n_head * hp->head_dim, KD = (int64_t)hp->n_head_kv * hp->head_dim;
	const struct llm_type_traits *tt = llm_type_traits(m->tok.type);
	size_t tok_row = llm_type_row_size(m->tok.type, E);
	int rc;

	for (int t = 0; t < n; t++) {
		tt->to_float((const uint8_t *)m->tok.data + (size_t)tokens[t] * tok_row, m->x + t * E, E);
		if (m->tok.lora)
			llm_lora_hook_embed(m->tok.lora, tokens[t], m->x + t * E);
		llm_rope_cossin(m->cs + (size_t)t * hp->rope_dim, hp->rope_dim, pos + t, m->inv_freq);
	}
	for (int l = 0; l < hp->n_layer; l++) {
		const struct layer *L = &m->layers[l];
		const float *kl, *vl;
		llm_model_kv(m, l, &kl, &vl);
		/* K and V rows of positions pos..pos+n-1 are contiguous in the cache */
		float *k = (float *)kl + (size_t)pos * KD, *v = (float *)vl + (size_t)pos * KD;

		for (int t = 0; t < n; t++)
			llm_rmsnorm(m->xb + t * E, m->x + t * E, L->attn_norm, E, hp->rms_eps);
		const void *xq = quant_x(m, m->xb, n, &L->wq, &L->wk, &L->wv);
		if ((rc = matmul_stack(m, &L->qkv, (float *[]){ m->q, k, v }, m->xb, xq, n, 0,
				       next_pack(m, l, 0))))
			return rc;
		for (int t = 0; t < n; t++) {
			const float *cs = m->cs + (size_t)t * hp->rope_dim;
			llm_rope(m->q + t * QD, hp->n_head, hp->head_dim, hp->rope_dim, cs);
			llm_rope(k + t * KD, hp->n_head_kv, hp->head_dim, hp->rope_dim, cs);
		}
		if ((rc = attention(m, l, n, pos)) ||
		    (rc = matmul(m, m->xb2, &L->wo, m->att, quant_x(m, m->att, n, &L->wo, NULL, NULL), n,
				      next_pack(m, l, 1))))
			return rc;
		llm_add(m->x, m->xb2, n * E);

		for (int t = 0; t < n; t++)
			llm_rmsnorm(m->xb + t * E, m->x + t * E, L->ffn_norm, E, hp->rms_eps);
		xq = quant_x(m, m->xb, n, &L->w1, &L->w3, NULL);
		float *gu[2] = { m->hb, m->hb2 };
		if ((rc = matmul_stack(m, &L->gu, gu, m->xb, xq, n, 1, next_pack(m, l, 2))))
			return rc;
		llm_silu_mul(m->hb, gu[0], gu[1], n * F);
		if ((rc = matmul(m, m->xb2, &L->w2, m->hb, quant_x(m, m->hb, n, &L->w2, NULL, NULL), n,
				  next_pack(m, l, 3))))
			return rc;
		llm_add(m->x, m->xb2, n * E);
	}
	return 0;
}

int llm_model_eval(llm_model *m, const int32_t *tokens, int n, int pos, float *logits,
		   int all_logits)
{
	const struct llm_hparams *hp = &m->hp;
	int64_t E = hp->n_embd, V = hp->n_vocab;
	if (n < 1)
		return llm_err(LLM_EINVAL, "eval: no tokens");
	if (pos < 0 || pos > m->n_past)
		return llm_err(LLM_EINVAL, "eval: position %d leaves a gap after %d cached positions",
			       pos, m->n_past);
	if ((int64_t)pos + n > m->n_ctx)
		return llm_err(LLM_EINVAL, "eval: positions %d..%lld exceed the context of %d",
			       pos, (long long)pos + n - 1, m->n_ctx);
	for (int t = 0; t < n; t++)
		if (tokens[t] < 0 || tokens[t] >= V)
			return llm_err(LLM_EINVAL, "eval: token id %d out of range (vocabulary %d)",
				       tokens[t], hp->n_vocab);
	m->n_past = pos; /* positions >= pos are being overwritten */
	for (int c0 = 0; c0 < n; c0 += CHUNK) {
		int nc = n - c0 < CHUNK ? n - c0 : CHUNK;
		int rc = forward_chunk(m, tokens + c0, nc, pos + c0);
		if (rc)
			return rc;
		m->n_past = pos + c0 + nc;
		if (!logits)
			continue;
		if (all_logits) {
			for (int t = 0; t < nc; t++)
				llm_rmsnorm(m->xb + t * E, m->x + t * E, m->out_norm, E, hp->rms_eps);
			rc = matmul(m, logits + (size_t)c0 * V, &m->out, m->xb,
				    quant_x(m, m->xb, nc, &m->out, NULL, NULL), nc, NULL);
		} else if (c0 + nc == n) {
			llm_rmsnorm(m->xb, m->x + (nc - 1) * E, m->out_norm, E, hp->rms_eps);
			rc = matmul(m, logits, &m->out, m->xb, quant_x(m, m->xb, 1, &m->out, NULL, NULL), 1,
				    next_pack(m, -1, 0));
		}
		if (rc)
			return rc;
	}
	if (logits && !llm_all_finite(logits, all_logits ? (int64_t)n * V : V))
		return logits_bad(m);
	return 0;
}
