/* lora.c - LoRA adapters: GGUF and PEFT loading, checking, merging,
 * run-time application and GGUF writing (see lora.h). */
#include <cblas.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "convert.h"
#include "error.h"
#include "gguf.h"
#include "io.h"
#include "json.h"
#include "kernels.h"
#include "lora.h"
#include "regex.h"
#include "safetensors.h"
#include "types.h"

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static int is_token_embd(const char *name)
{
	return name && strcmp(name, "token_embd.weight") == 0;
}

void llm_lora_free(llm_lora *a)
{
	if (!a)
		return;
	for (int64_t i = 0; i < a->nt; i++) {
		free(a->t[i].name);
		free(a->t[i].src);
		free(a->t[i].a);
		free(a->t[i].b);
		free(a->t[i].magnitude);
	}
	for (int64_t i = 0; i < a->nrep; i++) {
		free(a->rep[i].name);
		free(a->rep[i].src);
		free(a->rep[i].data);
	}
	free(a->t);
	free(a->rep);
	free(a->path);
	free(a->arch);
	llm_meta_clear(&a->prov);
	free(a);
}

/* 1 when decode_f32 can decode n values of type (a NULL from it is then
 * out of memory). */
static int decodable(int type, int64_t n)
{
	const struct llm_type_traits *tr = llm_type_traits(type);
	return tr && tr->to_float && (!n || llm_type_row_size(type, n));
}

/* Decode n values of type t (any alignment) into a new F32 buffer. */
static float *decode_f32(int type, const void *src, int64_t n)
{
	const struct llm_type_traits *tr = llm_type_traits(type);
	size_t bytes = llm_type_row_size(type, n);
	float *dst;
	void *tmp;

	if (!decodable(type, n))
		return NULL;
	dst = malloc((size_t)(n ? n : 1) * sizeof *dst);
	tmp = malloc(bytes ? bytes : 1);
	if (dst && tmp) {
		memcpy(tmp, src, bytes);
		tr->to_float(tmp, dst, n);
	} else {
		free(dst);
		dst = NULL;
	}
	free(tmp);
	return dst;
}

/* dst (cols x rows) = src (rows x cols) transposed. */
static void transpose(float *dst, const float *src, int64_t rows, int64_t cols)
{
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < cols; j++)
			dst[j * rows + i] = src[i * cols + j];
}

/* 1 when v is finite and stays finite as a float (1e40 does not; NaN
 * fails the comparison) */
static int fits_float(double v) { return fabs(v) <= FLT_MAX; }

static int grow(void **p, int64_t *cap, int64_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	int64_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, (size_t)nc * size);
	if (!q)
		return llm_err(LLM_ENOMEM, "out of memory");
	*p = q;
	*cap = nc;
	return 0;
}

/* ================================================================== */
/* GGUF adapters                                                       */

static int gguf_str(const llm_meta *m, const char *key, const char **out)
{
	*out = NULL;
	return llm_meta_get_str(m, key, out, NULL);
}

static int open_gguf(llm_lora *a, const char *path)
{
	llm_gguf *g = NULL;
	const llm_meta *m;
	const char *s;
	double alpha = 0;
	int64_t nt, cap = 0;
	int rc;

	if ((rc = llm_gguf_open(&g, path)))
		return rc;
	m = llm_gguf_meta(g);
	if (gguf_str(m, "general.type", &s) || strcmp(s, "adapter") != 0) {
		rc = llm_err(LLM_EFORMAT, "%s: not a LoRA adapter (general.type is %s%s%s)", path, s ? "'" : "",
			     s ? s : "absent", s ? "'" : "");
		goto out;
	}
	if (gguf_str(m, "adapter.type", &s) || strcmp(s, "lora") != 0) {
		rc = llm_err(LLM_EUNSUPPORTED, "%s: adapter.type is %s%s%s, not 'lora'", path, s ? "'" : "",
			     s ? s : "absent", s ? "'" : "");
		goto out;
	}
	if (!gguf_str(m, "general.architecture", &s) && !(a->arch = strdup(s))) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	if (llm_meta_get(m, "adapter.lora.alpha") && llm_meta_get_float(m, "adapter.lora.alpha", &alpha)) {
		rc = llm_err(LLM_EFORMAT, "%s: adapter.lora.alpha is not a number", path);
		goto out;
	}
	if (!fits_float(alpha)) {
		rc = llm_err(LLM_EFORMAT, "%s: adapter.lora.alpha is not a finite float", path);
		goto out;
	}
	a->alpha = (float)alpha;
	for (int64_t i = 0; i < m->n; i++)
		if (strncmp(m->kv[i].key, "provenance.", 11) == 0 &&
		    (rc = llm_meta_set_kv(&a->prov, &m->kv[i], NULL)))
			goto out;
	nt = llm_gguf_n_tensors(g);
	for (int64_t i = 0; i < nt; i++) {
		const struct llm_tensor_info *ti = llm_gguf_tensor(g, i), *ta, *tb;
		const char *nm = ti->name;
		struct llm_lora_tensor *t;
		char *base;
		int64_t ia, ib;
		size_t len = strlen(nm);

		if (llm_ends_with(nm, "_norm.weight")) {
			a->n_ignored++;
			continue;
		}
		if (llm_ends_with(nm, ".lora_b"))
			continue; /* found through its lora_a */
		if (!llm_ends_with(nm, ".lora_a")) {
			rc = llm_err(LLM_EFORMAT, "%s: tensor %s: neither .lora_a nor .lora_b", path, nm);
			goto out;
		}
		if (!(base = xstrndup(nm, len - 7))) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			goto out;
		}
		char bname[len + 1];
		snprintf(bname, sizeof bname, "%s.lora_b", base);
		ia = i;
		ib = llm_gguf_find_tensor(g, bname);
		if (ib < 0) {
			rc = llm_err(LLM_EFORMAT, "%s: %s has no matching %s", path, nm, bname);
			free(base);
			goto out;
		}
		ta = llm_gguf_tensor(g, ia);
		tb = llm_gguf_tensor(g, ib);
		if ((rc = grow((void **)&a->t, &cap, a->nt + 1, sizeof *a->t))) {
			free(base);
			goto out;
		}
		t = &a->t[a->nt++];
		memset(t, 0, sizeof *t);
		t->name = base;
		t->src = strdup(base);
		if (!t->src) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			goto out;
		}
		if (ta->n_dims != 2 || tb->n_dims != 2) {
			rc = llm_err(LLM_EFORMAT, "%s: %s.lora_a / .lora_b are not 2-D", path, base);
			goto out;
		}
		if (is_token_embd(base)) {
			/* lora_a ne = [r, n_vocab] (our B), lora_b ne = [r, n_embd] (our A^T) */
			if (ta->ne[0] != tb->ne[0]) {
				rc = llm_err(LLM_EFORMAT, "%s: %s: lora_a is %lldx%lld and lora_b %lldx%lld: ranks differ "
					     "(llama.cpp stores token_embd's pair transposed: lora_a [r, n_vocab], lora_b "
					     "[r, n_embd])", path, base, (long long)ta->ne[0], (long long)ta->ne[1],
					     (long long)tb->ne[0], (long long)tb->ne[1]);
				goto out;
			}
			t->r = ta->ne[0];
			t->n_out = ta->ne[1];
			t->n_in = tb->ne[1];
		} else {
			if (ta->ne[1] != tb->ne[0]) {
				rc = llm_err(LLM_EFORMAT,
					     "%s: %s: lora_a ne = [%lld, %lld] and lora_b ne = [%lld, %lld] do not chain (lora_a not transposed?)",
					     path, base, (long long)ta->ne[0], (long long)ta->ne[1], (long long)tb->ne[0],
					     (long long)tb->ne[1]);
				goto out;
			}
			t->n_in = ta->ne[0];
			t->r = ta->ne[1];
			t->n_out = tb->ne[1];
		}
		if (t->r < 1) {
			rc = llm_err(LLM_EFORMAT, "%s: %s: rank 0", path, base);
			goto out;
		}
		{
			float *fa = decode_f32(ta->type, llm_gguf_tensor_data(g, ia), llm_tensor_nelem(ta));
			float *fb = decode_f32(tb->type, llm_gguf_tensor_data(g, ib), llm_tensor_nelem(tb));
			if (!fa || !fb) {
				free(fa);
				free(fb);
				if (decodable(ta->type, llm_tensor_nelem(ta)) && decodable(tb->type, llm_tensor_nelem(tb)))
					rc = llm_err(LLM_ENOMEM, "out of memory");
				else
					rc = llm_err(LLM_EUNSUPPORTED, "%s: %s: cannot decode lora_a (%s) / lora_b (%s)", path,
						     base, llm_type_name(ta->type), llm_type_name(tb->type));
				goto out;
			}
			if (!llm_all_finite(fa, llm_tensor_nelem(ta)) || !llm_all_finite(fb, llm_tensor_nelem(tb))) {
				free(fa);
				free(fb);
				rc = llm_err(LLM_EFORMAT, "%s: %s: lora_a or lora_b holds inf or NaN", path, base);
				goto out;
			}
			if (is_token_embd(base)) {
				t->b = fa; /* n_vocab rows of r */
				t->a = malloc((size_t)(t->r * t->n_in) * sizeof *t->a);
				if (!t->a) {
					free(fb);
					rc = llm_err(LLM_ENOMEM, "out of memory");
					goto out;
				}
				transpose(t->a, fb, t->n_in, t->r);
				free(fb);
			} else {
				t->a = fa;
				t->b = fb;
			}
		}
		t->alpha = a->alpha;
		t->scale = a->alpha != 0 ? a->alpha / (float)t->r : 1.0f;
	}
	/* every lora_b needs its lora_a */
	for (int64_t i = 0; i < nt; i++) {
		const char *nm = llm_gguf_tensor(g, i)->name;
		if (llm_ends_with(nm, ".lora_b")) {
			size_t len = strlen(nm);
			char an[len + 1];
			snprintf(an, sizeof an, "%.*s.lora_a", (int)(len - 7), nm);
			if (llm_gguf_find_tensor(g, an) < 0) {
				rc = llm_err(LLM_EFORMAT, "%s: %s has no matching %s", path, nm, an);
				goto out;
			}
		}
	}
	if (a->nt == 0)
		rc = llm_err(LLM_EFORMAT, "%s: the adapter holds no lora_a/lora_b pairs", path);
out:
	llm_gguf_free(g);
	return rc;
}

/* ================================================================== */
/* PEFT adapters                                                       */

/* Does prefix + pattern match all of s (Python's re.fullmatch)?  1 yes,
 * 0 no, negative on a bad pattern, whose error names what and the pattern
 * as written. */
static int re_match(const char *prefix, const char *pattern, const char *s, const char *what)
{
	size_t len = strlen(prefix) + strlen(pattern) + 8;
	char *full;
	llm_regex *re;
	int rc;

	if ((rc = llm_regex_compile(&re, pattern))) /* alone: the offset is the user's */
		return llm_err_prefix(LLM_EFORMAT, what);
	llm_regex_free(re);
	if (!(full = malloc(len)))
		return llm_err(LLM_ENOMEM, "out of memory");
	snprintf(full, len, "%s(?:%s)", prefix, pattern);
	rc = llm_regex_compile(&re, full);
	free(full);
	if (rc)
		return llm_err_prefix(LLM_EFORMAT, what);
	rc = llm_regex_match(re, s, strlen(s), LLM_RE_FULL);
	llm_regex_free(re);
	if (rc < 0 && rc != LLM_ENOMEM) {
		/* a match limit reached ("(a*)*b" backtracks without end): the
		 * pattern is the file's fault, so name the file and the pattern */
		size_t n = strlen(what) + strlen(pattern) + 16;
		char *pre = malloc(n);
		if (!pre)
			return llm_err(LLM_ENOMEM, "out of memory");
		snprintf(pre, n, "%s: pattern '%s'", what, pattern);
		rc = llm_err_prefix(LLM_EFORMAT, pre);
		free(pre);
	}
	return rc;
}

/* PEFT's get_pattern_key: the first key of obj (rank_pattern /
 * alpha_pattern) matching module, or NULL. */
static int pattern_lookup(const llm_json *obj, const char *module, const char *what, const llm_json **val)
{
	void *it = NULL;
	const char *k;
	const llm_json *v;

	*val = NULL;
	while ((k = llm_json_next(obj, &it, &v))) {
		int m = re_match("(?:.*\\.)?", k, module, what);
		if (m < 0)
			return m;
		if (m) {
			*val = v;
			return 0;
		}
	}
	return 0;
}

/* target_modules: list of names/suffixes, or a regex matched whole;
 * "all-linear": every linear layer but the output head (no embeddings) */
static int target_match(const llm_json *tm, const char *module, int emb, const char *what)
{
	const char *s = llm_json_str(tm);
	if (s) {
		if (strcmp(s, "all-linear") == 0)
			return strcmp(module, "lm_head") != 0 && !emb;
		return re_match("", s, module, what);
	}
	for (size_t i = 0; i < llm_json_len(tm); i++) {
		const char *t = llm_json_str(llm_json_at(tm, i));
		size_t a = strlen(module), b = t ? strlen(t) : 0;
		if (!t)
			continue;
		if (strcmp(module, t) == 0 || (a > b && module[a - b - 1] == '.' && strcmp(module + a - b, t) == 0))
			return 1;
	}
	return 0;
}

/* llama module (HF, without base_model.model.) -> GGUF name (a constant
 * or buf); *perm: 1 for q (n_head), 2 for k (n_head_kv), 0 otherwise.
 * NULL when unknown. */
static const char *peft_gguf_name(const char *module, int *perm, char buf[static 256])
{
	static const struct {
		const char *hf, *gguf;
		int perm;
	} layer[] = {
		{ "self_attn.q_proj", "attn_q.weight", 1 },
		{ "self_attn.k_proj", "attn_k.weight", 2 },
		{ "self_attn.v_proj", "attn_v.weight", 0 },
		{ "self_attn.o_proj", "attn_output.weight", 0 },
		{ "mlp.gate_proj", "ffn_gate.weight", 0 },
		{ "mlp.up_proj", "ffn_up.weight", 0 },
		{ "mlp.down_proj", "ffn_down.weight", 0 },
		{ "input_layernorm", "attn_norm.weight", 0 },
		{ "post_attention_layernorm", "ffn_norm.weight", 0 },
	};
	size_t nd;

	*perm = 0;
	if (strcmp(module, "model.embed_tokens") == 0)
		return "token_embd.weight";
	if (strcmp(module, "lm_head") == 0)
		return "output.weight";
	if (strcmp(module, "model.norm") == 0)
		return "output_norm.weight";
	if (strncmp(module, "model.layers.", 13) != 0)
		return NULL;
	/* the layer number as PyTorch names a ModuleList entry, str(i), so
	 * that one layer has one name: peft_layer_bad has refused "00" and
	 * "+1" before this is called */
	nd = strspn(module + 13, "0123456789");
	if (nd == 0 || module[13 + nd] != '.')
		return NULL;
	for (size_t j = 0; j < sizeof layer / sizeof layer[0]; j++)
		if (strcmp(module + 13 + nd + 1, layer[j].hf) == 0) {
			*perm = layer[j].perm;
			snprintf(buf, 256, "blk.%.*s.%s", (int)nd, module + 13, layer[j].gguf);
			return buf;
		}
	return NULL;
}

/* A module "model.layers.N...." whose N reads as a number but is not
 * written as PyTorch writes a ModuleList index (str(i): plain decimal, no
 * sign, blank or leading zero): "00", "+1", " 1".  PEFT never saves such
 * a name, and PEFT loading one would not find the module (it would drop
 * the tensor); read as the number, "00" would alias layer 0.  Returns the
 * error (naming path and module), or 0. */
static int peft_layer_bad(const char *module, const char *path)
{
	const char *n = module + 13, *p = n;
	size_t len;

	if (strncmp(module, "model.layers.", 13) != 0)
		return 0;
	len = strcspn(n, ".");
	p += strspn(p, " \t+-");
	if (p >= n + len || strspn(p, "0123456789") != (size_t)(n + len - p))
		return 0; /* not a number at all: a module llama has not */
	if (p == n && (n[0] != '0' || len == 1))
		return 0;
	return llm_err(LLM_EFORMAT, "%s: module %s: layer number '%.*s' is not written as PEFT writes one (plain decimal)",
		       path, module, (int)len, n);
}

/* Rows (h, j, t) <- (h, t, j) of a rows x cols matrix, as llama.cpp's
 * converter permutes q/k: w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2). */
static int permute_rows(float *w, int64_t rows, int64_t cols, int64_t n_head)
{
	int64_t hd, half;
	float *tmp;

	if (n_head < 1 || rows % n_head || (rows / n_head) % 2)
		return llm_err(LLM_EINVAL, "%lld rows do not split into %lld heads of even size", (long long)rows,
			       (long long)n_head);
	hd = rows / n_head, half = hd / 2;
	if (!(tmp = malloc((size_t)(rows * cols) * sizeof *tmp)))
		return llm_err(LLM_ENOMEM, "out of memory");
	memcpy(tmp, w, (size_t)(rows * cols) * sizeof *tmp);
	for (int64_t h = 0; h < n_head; h++)
		for (int64_t j = 0; j < half; j++)
			for (int64_t t = 0; t < 2; t++)
				memcpy(w + (h * hd + 2 * j + t) * cols, tmp + (h * hd + t * half + j) * cols,
				       (size_t)cols * sizeof *w);
	free(tmp);
	return 0;
}

enum { K_A, K_B, K_EA, K_EB, K_MAG, K_N };

struct peft_mod {
	char *module;
	int64_t idx[K_N]; /* safetensors index or -1 */
};

static const struct llm_st_tensor *st_t(const llm_safetensors *st, int64_t i)
{
	return i >= 0 ? llm_safetensors_tensor(st, i) : NULL;
}

/* A safetensors tensor as F32: 0, LLM_ENOMEM, or LLM_EUNSUPPORTED for a
 * dtype it cannot decode (no message: the caller names the tensor). */
static int st_f32(float **out, const struct llm_st_tensor *t)
{
	if (t->type < 0 || !decodable(t->type, t->nelem))
		return *out = NULL, LLM_EUNSUPPORTED;
	if (!(*out = decode_f32(t->type, t->data, t->nelem)))
		return llm_err(LLM_ENOMEM, "out of memory");
	return 0;
}

struct peft_cfg {
	int64_t r;
	double alpha;
	int rslora, dora;
	const llm_json *rank_pattern, *alpha_pattern, *target;
	const llm_json *layers; /* layers_to_transform: an integer or a list, or NULL */
	const llm_json *layers_pattern; /* a string or a list of strings, or NULL (any) */
};

static int cfg_load(struct peft_cfg *c, const llm_json *j, const char *cfgpath)
{
	const llm_json *v;
	const char *s;
	int b;

	memset(c, 0, sizeof *c);
	if (llm_json_kind(j) != LLM_JSON_OBJ)
		return llm_err(LLM_EFORMAT, "%s: not a JSON object", cfgpath);
	if ((s = llm_json_str(llm_json_get(j, "peft_type"))) && strcmp(s, "LORA") != 0)
		return llm_err(LLM_EUNSUPPORTED, "%s: peft_type is '%s', not 'LORA'", cfgpath, s);
	if (!(v = llm_json_get(j, "r")))
		return llm_err(LLM_EFORMAT, "%s: missing field \"r\"", cfgpath);
	if (llm_json_int(v, &c->r) || c->r < 1)
		return llm_err(LLM_EFORMAT, "%s: \"r\" is not a positive integer", cfgpath);
	if (!(v = llm_json_get(j, "lora_alpha")))
		return llm_err(LLM_EFORMAT, "%s: missing field \"lora_alpha\"", cfgpath);
	if (llm_json_num(v, &c->alpha) || !isfinite(c->alpha))
		return llm_err(LLM_EFORMAT, "%s: \"lora_alpha\" is not a number", cfgpath);
	if (!fits_float(c->alpha))
		return llm_err(LLM_EFORMAT, "%s: \"lora_alpha\" %g does not fit a float", cfgpath, c->alpha);
	if (!(c->target = llm_json_get(j, "target_modules")))
		return llm_err(LLM_EFORMAT, "%s: missing field \"target_modules\"", cfgpath);
	if (llm_json_kind(c->target) != LLM_JSON_STR && llm_json_kind(c->target) != LLM_JSON_ARR)
		return llm_err(LLM_EFORMAT, "%s: \"target_modules\" is neither a list nor a string", cfgpath);
	if ((v = llm_json_get(j, "use_rslora")) && llm_json_kind(v) != LLM_JSON_NULL) {
		if (llm_json_bool(v, &b))
			return llm_err(LLM_EFORMAT, "%s: \"use_rslora\" is not a boolean", cfgpath);
		c->rslora = b;
	}
	if ((v = llm_json_get(j, "use_dora")) && llm_json_kind(v) != LLM_JSON_NULL) {
		if (llm_json_bool(v, &b))
			return llm_err(LLM_EFORMAT, "%s: \"use_dora\" is not a boolean", cfgpath);
		c->dora = b;
	}
	if ((v = llm_json_get(j, "layer_replication")) && llm_json_kind(v) != LLM_JSON_NULL)
		return llm_err(LLM_EUNSUPPORTED, "%s: layer_replication is not supported", cfgpath);
	if ((c->layers = llm_json_get(j, "layers_to_transform")) && llm_json_kind(c->layers) == LLM_JSON_NULL)
		c->layers = NULL;
	if ((v = llm_json_get(j, "layers_pattern")) && llm_json_kind(v) != LLM_JSON_NULL) {
		int ok = llm_json_kind(v) == LLM_JSON_STR || llm_json_kind(v) == LLM_JSON_ARR;
		for (size_t i = 0; ok && llm_json_kind(v) == LLM_JSON_ARR && i < llm_json_len(v); i++)
			ok = llm_json_str(llm_json_at(v, i)) != NULL;
		if (!ok)
			return llm_err(LLM_EFORMAT, "%s: \"layers_pattern\" is neither a string nor a list of strings", cfgpath);
		/* "" and [] mean any layer name, as PEFT reads them */
		c->layers_pattern = llm_json_len(v) || (llm_json_str(v) && *llm_json_str(v)) ? v : NULL;
	}
	c->rank_pattern = llm_json_get(j, "rank_pattern");
	c->alpha_pattern = llm_json_get(j, "alpha_pattern");
	if (c->rank_pattern && llm_json_kind(c->rank_pattern) != LLM_JSON_OBJ && llm_json_kind(c->rank_pattern) != LLM_JSON_NULL)
		return llm_err(LLM_EFORMAT, "%s: \"rank_pattern\" is not an object", cfgpath);
	if (c->alpha_pattern && llm_json_kind(c->alpha_pattern) != LLM_JSON_OBJ && llm_json_kind(c->alpha_pattern) != LLM_JSON_NULL)
		return llm_err(LLM_EFORMAT, "%s: \"alpha_pattern\" is not an object", cfgpath);
	return 0;
}

/* The layer module is in, as PEFT's check_target_module_exists finds it:
 * the number N of the last ".NAME.N." that has something before it
 * (re.match(r".*\.[^.]*\.(\d+)\.")), NAME matching pat when given
 * (re.match(rf".*\.{pat}\.(\d+)\.")).  1 with *n, 0 when there is none
 * (model.embed_tokens, lm_head), < 0 on a bad pattern. */
static int layer_of(const char *module, const char *pat, int64_t *n, const char *cfgpath)
{
	for (size_t de = strlen(module); de-- > 0;) { /* de: the dot after N */
		size_t ds = de;
		char *pre;
		int m;
		if (module[de] != '.')
			continue;
		while (ds > 0 && module[ds - 1] >= '0' && module[ds - 1] <= '9')
			ds--;
		if (ds == de || ds < 2 || module[ds - 1] != '.')
			continue;
		if (!(pre = xstrndup(module, ds - 1))) /* what comes before ".N." */
			return llm_err(LLM_ENOMEM, "out of memory");
		m = pat ? re_match(".*\\.", pat, pre, cfgpath) : strchr(pre, '.') != NULL;
		free(pre);
		if (m < 0)
			return m;
		if (m) {
			*n = strtoll(module + ds, NULL, 10);
			return 1;
		}
	}
	return 0;
}

/* layers_to_transform, as PEFT's check_target_module_exists applies it:
 * not with a target_modules regex (PEFT refuses the pair), nor to a module
 * the target_modules list names in full; an empty list leaves no layer
 * out; a module in no layer (embedding, head) is left out.  1 when module
 * is kept, 0 when left out, < 0 for a config of the wrong kind. */
static int layer_match(const struct peft_cfg *c, const char *module, const char *cfgpath)
{
	const char *ts = llm_json_str(c->target);
	const llm_json *lp = c->layers_pattern;
	size_t nl = llm_json_len(c->layers), np = !lp ? 1 : llm_json_str(lp) ? 1 : llm_json_len(lp);
	int64_t want, n = 0;
	int is_int, rc = 0;

	if (!c->layers)
		return 1;
	is_int = !llm_json_int(c->layers, &want);
	if (!is_int && llm_json_kind(c->layers) != LLM_JSON_ARR)
		return llm_err(LLM_EFORMAT, "%s: \"layers_to_transform\" is neither an integer nor a list", cfgpath);
	for (size_t i = 0; i < nl; i++)
		if (llm_json_int(llm_json_at(c->layers, i), &want))
			return llm_err(LLM_EFORMAT, "%s: \"layers_to_transform\" holds a value that is not an integer",
				       cfgpath);
	if ((!is_int && nl == 0) || (ts && strcmp(ts, "all-linear") != 0))
		return 1;
	for (size_t i = 0; !ts && i < llm_json_len(c->target); i++) {
		const char *t = llm_json_str(llm_json_at(c->target, i));
		if (t && strcmp(t, module) == 0)
			return 1;
	}
	for (size_t k = 0; k < np && rc == 0; k++)
		rc = layer_of(module, !lp ? NULL : llm_json_str(lp) ? llm_json_str(lp) : llm_json_str(llm_json_at(lp, k)),
			      &n, cfgpath);
	if (rc <= 0)
		return rc;
	if (is_int)
		return !llm_json_int(c->layers, &want) && want == n;
	for (size_t i = 0; i < nl; i++)
		if (!llm_json_int(llm_json_at(c->layers, i), &want) && want == n)
			return 1;
	return 0;
}

static int64_t head_count(const llm_meta *m, const char *key_suffix, int64_t dflt)
{
	const char *arch = NULL;
	char key[128];
	if (llm_meta_get_str(m, "general.architecture", &arch, NULL))
		arch = "llama";
	snprintf(key, sizeof key, "%s.%s", arch, key_suffix);
	return llm_meta_int(m, key, dflt);
}

/* Build one LoRA tensor from a PEFT module. */
static int peft_tensor(llm_lora *a, const llm_safetensors *st, const struct peft_mod *pm,
		       const struct peft_cfg *cfg, const llm_meta *base_meta, const char *path,
		       const char *cfgpath, int64_t *cap)
{
	const struct llm_st_tensor *tA, *tB, *tM;
	struct llm_lora_tensor *t;
	const llm_json *v;
	int emb = pm->idx[K_EA] >= 0 || pm->idx[K_EB] >= 0, perm = 0, rc;
	int64_t r_cfg = cfg->r;
	double alpha = cfg->alpha;

	if ((rc = peft_layer_bad(pm->module, path)))
		return rc;
	tA = st_t(st, emb ? pm->idx[K_EA] : pm->idx[K_A]);
	tB = st_t(st, emb ? pm->idx[K_EB] : pm->idx[K_B]);
	tM = st_t(st, pm->idx[K_MAG]);
	if (!tA || !tB)
		return llm_err(LLM_EFORMAT, "%s: %s has lora_%s but no lora_%s", path, pm->module, tA ? "A" : "B",
			       tA ? "B" : "A");
	if (emb && (pm->idx[K_A] >= 0 || pm->idx[K_B] >= 0))
		return llm_err(LLM_EFORMAT, "%s: %s has both lora_A/B and lora_embedding_A/B", path, pm->module);
	if (tA->n_dims != 2 || tB->n_dims != 2 || tA->shape[0] != tB->shape[1])
		return llm_err(LLM_EFORMAT, "%s: %s: lora_A [%lld, %lld] and lora_B [%lld, %lld] do not chain ([r, in] and [out, r])",
			       path, pm->module, (long long)tA->shape[0], (long long)(tA->n_dims > 1 ? tA->shape[1] : 0),
			       (long long)tB->shape[0], (long long)(tB->n_dims > 1 ? tB->shape[1] : 0));
	if ((rc = target_match(cfg->target, pm->module, emb, cfgpath)) < 0)
		return rc;
	if (!rc)
		return llm_err(LLM_EFORMAT, "%s: module %s has LoRA weights but target_modules does not name it", path,
			       pm->module);
	if ((rc = layer_match(cfg, pm->module, cfgpath)) <= 0)
		return rc < 0 ? rc : llm_err(LLM_EFORMAT, "%s: module %s has LoRA weights but layers_to_transform leaves it out",
					     path, pm->module);
	if (cfg->rank_pattern && (rc = pattern_lookup(cfg->rank_pattern, pm->module, cfgpath, &v)))
		return rc;
	if (cfg->rank_pattern && v && (llm_json_int(v, &r_cfg) || r_cfg < 1))
		return llm_err(LLM_EFORMAT, "%s: rank_pattern value for %s is not a positive integer", cfgpath, pm->module);
	if (cfg->alpha_pattern && (rc = pattern_lookup(cfg->alpha_pattern, pm->module, cfgpath, &v)))
		return rc;
	if (cfg->alpha_pattern && v && (llm_json_num(v, &alpha) || !fits_float(alpha)))
		return llm_err(LLM_EFORMAT, "%s: alpha_pattern value for %s is not a number that fits a float", cfgpath,
			       pm->module);
	if (tA->shape[0] != r_cfg)
		return llm_err(LLM_EFORMAT, "%s: %s has rank %lld but adapter_config.json says r = %lld", path,
			       pm->module, (long long)tA->shape[0], (long long)r_cfg);
	if ((rc = grow((void **)&a->t, cap, a->nt + 1, sizeof *a->t)))
		return rc;
	t = &a->t[a->nt++];
	memset(t, 0, sizeof *t);
	if (!(t->src = strdup(pm->module)))
		return llm_err(LLM_ENOMEM, "out of memory");
	char gbuf[256];
	const char *gname = peft_gguf_name(pm->module, &perm, gbuf);
	if (gname && !(t->name = strdup(gname)))
		return llm_err(LLM_ENOMEM, "out of memory");
	t->r = r_cfg;
	t->alpha = (float)alpha;
	t->scale = (float)(cfg->rslora ? alpha / sqrt((double)r_cfg) : alpha / (double)r_cfg);
	{
		float *fa, *fb = NULL;
		if ((rc = st_f32(&fa, tA)) || (rc = st_f32(&fb, tB))) {
			free(fa);
			free(fb);
			return rc == LLM_ENOMEM ? rc : llm_err(rc, "%s: %s: cannot decode dtype %s / %s", path, pm->module,
								  tA->dtype, tB->dtype);
		}
		if (!llm_all_finite(fa, tA->nelem) || !llm_all_finite(fb, tB->nelem)) {
			free(fa);
			free(fb);
			return llm_err(LLM_EFORMAT, "%s: %s: lora_A or lora_B holds inf or NaN", path, pm->module);
		}
		if (emb) {
			/* lora_embedding_A [r, vocab], lora_embedding_B [dim, r]:
			 * delta (vocab x dim) = (B_e A_e)^T = A_e^T B_e^T */
			t->n_out = tA->shape[1];
			t->n_in = tB->shape[0];
			t->b = malloc((size_t)(t->n_out * t->r) * sizeof *t->b);
			t->a = malloc((size_t)(t->r * t->n_in) * sizeof *t->a);
			if (!t->a || !t->b) {
				free(fa);
				free(fb);
				return llm_err(LLM_ENOMEM, "out of memory");
			}
			transpose(t->b, fa, t->r, t->n_out);
			transpose(t->a, fb, t->n_in, t->r);
			free(fa);
			free(fb);
		} else {
			t->n_in = tA->shape[1];
			t->n_out = tB->shape[0];
			t->a = fa;
			t->b = fb;
		}
	}
	if (tM && !cfg->dora)
		return llm_err(LLM_EFORMAT, "%s: %s has a lora_magnitude_vector but use_dora is not set", path, pm->module);
	if (tM) {
		if (emb)
			return llm_err(LLM_EUNSUPPORTED, "%s: %s: DoRA on embeddings is not supported", path, pm->module);
		if (tM->nelem != t->n_out)
			return llm_err(LLM_EFORMAT, "%s: %s: lora_magnitude_vector has %lld values for %lld output rows",
				       path, pm->module, (long long)tM->nelem, (long long)t->n_out);
		if ((rc = st_f32(&t->magnitude, tM)))
			return rc == LLM_ENOMEM ? rc : llm_err(rc, "%s: %s: cannot decode dtype %s", path, pm->module, tM->dtype);
		if (!llm_all_finite(t->magnitude, tM->nelem))
			return llm_err(LLM_EFORMAT, "%s: %s: lora_magnitude_vector holds inf or NaN", path, pm->module);
	} else if (cfg->dora) {
		return llm_err(LLM_EFORMAT, "%s: use_dora is set but %s has no lora_magnitude_vector", path, pm->module);
	}
	if (perm && base_meta) {
		int64_t nh = head_count(base_meta, "attention.head_count", 0);
		int64_t nkv = head_count(base_meta, "attention.head_count_kv", nh);
		int64_t heads = perm == 1 ? nh : nkv;
		if ((rc = permute_rows(t->b, t->n_out, t->r, heads)) ||
		    (t->magnitude && (rc = permute_rows(t->magnitude, t->n_out, 1, heads))))
			return llm_err_prefix(rc, path);
	}
	if (perm && !base_meta)
		a->permuted = -1;
	return 0;
}

/* A modules_to_save tensor: base_model.model.<hf tensor name>. */
static int peft_replace(llm_lora *a, const struct llm_st_tensor *t, const char *hfname,
			const llm_meta *base_meta, const char *path, int64_t *cap)
{
	struct llm_lora_replace *r;
	size_t len = strlen(hfname);
	char *module = xstrndup(hfname, len - 7); /* without ".weight" */
	int perm = 0, rc;

	if (!module)
		return llm_err(LLM_ENOMEM, "out of memory");
	if ((rc = peft_layer_bad(module, path)) ||
	    (rc = grow((void **)&a->rep, cap, a->nrep + 1, sizeof *a->rep))) {
		free(module);
		return rc;
	}
	r = &a->rep[a->nrep++];
	memset(r, 0, sizeof *r);
	char gbuf[256];
	const char *gname = peft_gguf_name(module, &perm, gbuf);
	if (gname && !(r->name = strdup(gname)))
		return llm_err(LLM_ENOMEM, "out of memory");
	r->src = module;
	if (t->n_dims < 1 || t->n_dims > 4)
		return llm_err(LLM_EFORMAT, "%s: %s: %d dimensions", path, hfname, t->n_dims);
	r->n_dims = t->n_dims;
	for (int d = 0; d < 4; d++)
		r->ne[d] = d < t->n_dims ? t->shape[t->n_dims - 1 - d] : 1;
	if ((rc = st_f32(&r->data, t)))
		return rc == LLM_ENOMEM ? rc : llm_err(rc, "%s: %s: cannot decode dtype %s", path, hfname, t->dtype);
	if (!llm_all_finite(r->data, t->nelem))
		return llm_err(LLM_EFORMAT, "%s: %s (modules_to_save) holds inf or NaN", path, hfname);
	if (perm && base_meta && t->n_dims == 2) {
		int64_t nh = head_count(base_meta, "attention.head_count", 0);
		int64_t nkv = head_count(base_meta, "attention.head_count_kv", nh);
		if ((rc = permute_rows(r->data, r->ne[1], r->ne[0], perm == 1 ? nh : nkv)))
			return llm_err_prefix(rc, path);
	}
	if (perm && !base_meta)
		a->permuted = -1;
	return 0;
}

static int open_peft(llm_lora *a, const char *dir, const llm_meta *base_meta)
{
	static const char pre[] = "base_model.model.";
	static const struct {
		const char *suffix;
		int kind;
	} suf[] = {
		{ ".lora_A.weight", K_A }, { ".lora_B.weight", K_B },
		{ ".lora_embedding_A", K_EA }, { ".lora_embedding_B", K_EB },
		{ ".lora_magnitude_vector", K_MAG }, { ".lora_magnitude_vector.weight", K_MAG },
		/* the same under PEFT's adapter name, as a raw state_dict holds them */
		{ ".lora_A.default.weight", K_A }, { ".lora_B.default.weight", K_B },
		{ ".lora_embedding_A.default", K_EA }, { ".lora_embedding_B.default", K_EB },
		{ ".lora_magnitude_vector.default", K_MAG }, { ".lora_magnitude_vector.default.weight", K_MAG },
	};
	char *cfgpath = llm_path_join(dir, "adapter_config.json");
	char *stpath = llm_path_join(dir, "adapter_model.safetensors");
	llm_json *j = NULL;
	llm_safetensors *st = NULL;
	struct peft_cfg cfg;
	struct peft_mod *mods = NULL;
	int64_t nmods = 0, capm = 0, cap = 0, capr = 0, n;
	int rc;

	if (!cfgpath || !stpath) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = llm_json_load(&j, cfgpath))) {
		if (rc == LLM_ENOTFOUND)
			llm_err(rc, "%s: no adapter_config.json (not a PEFT adapter directory)", dir);
		goto out;
	}
	if ((rc = cfg_load(&cfg, j, cfgpath)))
		goto out;
	a->alpha = (float)cfg.alpha;
	a->rslora = cfg.rslora;
	a->dora = cfg.dora;
	if ((rc = llm_safetensors_open(&st, stpath))) {
		struct stat sb;
		if (stat(stpath, &sb) != 0)
			rc = llm_err(LLM_ENOTFOUND, "%s: no adapter_model.safetensors (adapter_model.bin is not read)", dir);
		goto out;
	}
	n = llm_safetensors_n_tensors(st);
	for (int64_t i = 0; i < n; i++) {
		const struct llm_st_tensor *t = llm_safetensors_tensor(st, i);
		const char *nm = t->name, *rest;
		int kind = -1;
		size_t mlen = 0;

		if (strncmp(nm, pre, sizeof pre - 1) != 0) {
			rc = llm_err(LLM_EFORMAT, "%s: tensor %s does not start with %s", stpath, nm, pre);
			goto out;
		}
		rest = nm + sizeof pre - 1;
		for (size_t k = 0; k < sizeof suf / sizeof suf[0]; k++)
			if (llm_ends_with(rest, suf[k].suffix)) {
				kind = suf[k].kind;
				mlen = strlen(rest) - strlen(suf[k].suffix);
			}
		if (kind < 0) {
			if (llm_ends_with(rest, ".weight")) {
				if ((rc = peft_replace(a, t, rest, base_meta, stpath, &capr)))
					goto out;
				continue;
			}
			rc = llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: not a LoRA weight%s", stpath, nm,
				     strstr(rest, ".lora_B.") && llm_ends_with(rest, ".bias")
					     ? " (LoRA biases, lora_bias, are not supported)"
				     : llm_ends_with(rest, ".bias") ? " (biases are not supported: llama has none)" : "");
			goto out;
		}
		int64_t m;
		for (m = 0; m < nmods; m++)
			if (strlen(mods[m].module) == mlen && strncmp(mods[m].module, rest, mlen) == 0)
				break;
		if (m == nmods) {
			if ((rc = grow((void **)&mods, &capm, nmods + 1, sizeof *mods)))
				goto out;
			mods[m].module = xstrndup(rest, mlen);
			for (int k = 0; k < K_N; k++)
				mods[m].idx[k] = -1;
			nmods++;
			if (!mods[m].module) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				goto out;
			}
		}
		if (mods[m].idx[kind] >= 0) {
			rc = llm_err(LLM_EFORMAT, "%s: %s given twice", stpath, nm);
			goto out;
		}
		mods[m].idx[kind] = i;
	}
	for (int64_t m = 0; m < nmods; m++)
		if ((rc = peft_tensor(a, st, &mods[m], &cfg, base_meta, stpath, cfgpath, &cap)))
			goto out;
	if (a->nt == 0 && a->nrep == 0)
		rc = llm_err(LLM_EFORMAT, "%s: no LoRA weights", stpath);
	if (a->permuted == 0)
		a->permuted = 1;
out:
	for (int64_t m = 0; m < nmods; m++)
		free(mods[m].module);
	free(mods);
	llm_safetensors_free(st);
	llm_json_free(j);
	free(cfgpath);
	free(stpath);
	return rc;
}

int llm_lora_open(llm_lora **out, const char *path, const llm_meta *base_meta)
{
	llm_lora *a = calloc(1, sizeof *a);
	struct stat sb;
	int rc;

	*out = NULL;
	if (!a || !(a->path = strdup(path))) {
		free(a);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	if (strcmp(path, "-") != 0 && stat(path, &sb) != 0) {
		llm_lora_free(a);
		return llm_err(LLM_ENOTFOUND, "%s: %s", path, strerror(errno));
	}
	if (strcmp(path, "-") != 0 && S_ISDIR(sb.st_mode)) {
		a->format = LLM_LORA_PEFT;
		rc = open_peft(a, path, base_meta);
	} else {
		a->format = LLM_LORA_GGUF;
		a->permuted = 1;
		rc = open_gguf(a, path);
	}
	if (rc) {
		llm_lora_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

const struct llm_lora_tensor *llm_lora_find(const llm_lora *a, const char *name)
{
	for (int64_t i = 0; a && i < a->nt; i++)
		if (a->t[i].name && strcmp(a->t[i].name, name) == 0)
			return &a->t[i];
	return NULL;
}

const struct llm_lora_replace *llm_lora_find_replace(const llm_lora *a, const char *name)
{
	for (int64_t i = 0; a && i < a->nrep; i++)
		if (a->rep[i].name && strcmp(a->rep[i].name, name) == 0)
			return &a->rep[i];
	return NULL;
}

/* ================================================================== */
/* checking                                                            */

static int n_dims_eff(const struct llm_tensor_info *t)
{
	int n = 1;
	for (int d = 1; d < t->n_dims; d++)
		if (t->ne[d] > 1)
			n = d + 1;
	return n;
}

struct named { const char *name, *src; int64_t i; };

static int by_name(const void *x, const void *y)
{
	const struct named *p = x, *q = y;
	int c = strcmp(p->name, q->name);
	return c ? c : (p->i > q->i) - (p->i < q->i);
}

/* Two entries of a for one base tensor would leave all but one unmerged
 * (llm_lora_find returns the first): LLM_EINVAL naming both sources.
 * Names sorted, n log n (adapters hold thousands of tensors). */
static int lora_dups(const llm_lora *a)
{
	int64_t n = a->nt > a->nrep ? a->nt : a->nrep;
	struct named *v = malloc((size_t)(n ? n : 1) * sizeof *v);
	int rc = 0;

	if (!v)
		return llm_err(LLM_ENOMEM, "out of memory");
	for (int pass = 0; pass < 2 && !rc; pass++) {
		int64_t m = pass ? a->nrep : a->nt;
		for (int64_t i = 0; i < m; i++)
			v[i] = pass ? (struct named){ a->rep[i].name, a->rep[i].src, i }
				    : (struct named){ a->t[i].name, a->t[i].src, i };
		qsort(v, (size_t)m, sizeof *v, by_name);
		for (int64_t i = 1; i < m && !rc; i++)
			if (strcmp(v[i - 1].name, v[i].name) == 0)
				rc = llm_err(LLM_EINVAL, "%s: two %s for %s (%s and %s)", a->path,
					     pass ? "saved tensors" : "pairs", v[i].name, v[i - 1].src, v[i].src);
	}
	free(v);
	return rc;
}

int llm_lora_check(const llm_lora *a, const llm_ckpt *base)
{
	const llm_meta *m = llm_ckpt_meta(base);
	const char *barch = NULL, *bp = llm_ckpt_path(base);

	llm_meta_get_str(m, "general.architecture", &barch, NULL);
	if (a->arch && barch && strcmp(a->arch, barch) != 0)
		return llm_err(LLM_EINVAL, "%s: adapter for architecture '%s' but %s is '%s'", a->path, a->arch, bp, barch);
	if (a->permuted < 0)
		return llm_err(LLM_EINVAL, "%s: opened without the base's metadata: q/k rows not permuted", a->path);
	for (int64_t i = 0; i < a->nt; i++) {
		const struct llm_lora_tensor *t = &a->t[i];
		const struct llm_tensor_info *bt;
		int64_t k;
		if (!t->name)
			return llm_err(LLM_EINVAL,
				       "%s: module %s has no counterpart in the llama model %s (adapter for another architecture?)",
				       a->path, t->src, bp);
		if ((k = llm_ckpt_find(base, t->name)) < 0)
			return llm_err(LLM_EINVAL, "%s: tensor %s%s%s%s does not exist in %s%s", a->path, t->name,
				       strcmp(t->src, t->name) ? " (from " : "", strcmp(t->src, t->name) ? t->src : "",
				       strcmp(t->src, t->name) ? ")" : "", bp,
				       strcmp(t->name, "output.weight") == 0 ? " (tied embeddings: no output.weight)" : "");
		bt = llm_ckpt_tensor(base, k);
		if (n_dims_eff(bt) != 2)
			return llm_err(LLM_EINVAL, "%s: %s: adapter fits a %lldx%lld weight (n_in x n_out) but %s holds it as a %d-D tensor",
				       a->path, t->name, (long long)t->n_in, (long long)t->n_out, bp, n_dims_eff(bt));
		if (bt->ne[0] != t->n_in || bt->ne[1] != t->n_out)
			return llm_err(LLM_EINVAL, "%s: %s: adapter fits a %lldx%lld weight (n_in x n_out) but %s has %lldx%lld",
				       a->path, t->name, (long long)t->n_in, (long long)t->n_out, bp, (long long)bt->ne[0],
				       (long long)bt->ne[1]);
	}
	for (int64_t i = 0; i < a->nrep; i++) {
		const struct llm_lora_replace *r = &a->rep[i];
		const struct llm_tensor_info *bt;
		int64_t k;
		if (!r->name)
			return llm_err(LLM_EINVAL, "%s: saved module %s has no counterpart in the llama model %s", a->path,
				       r->src, bp);
		if ((k = llm_ckpt_find(base, r->name)) < 0)
			return llm_err(LLM_EINVAL, "%s: saved tensor %s (from %s) does not exist in %s", a->path, r->name,
				       r->src, bp);
		bt = llm_ckpt_tensor(base, k);
		if (llm_tensor_nelem(bt) != r->ne[0] * r->ne[1] * r->ne[2] * r->ne[3] || bt->ne[0] != r->ne[0])
			return llm_err(LLM_EINVAL, "%s: saved tensor %s has %lldx%lld values but %s has %lldx%lld", a->path,
				       r->name, (long long)r->ne[0], (long long)r->ne[1], bp, (long long)bt->ne[0],
				       (long long)bt->ne[1]);
	}
	return lora_dups(a);
}

/* ================================================================== */
/* merging                                                             */

/* w (n_out x n_in) += s * B A, then DoRA's row renormalisation. */
void llm_lora_apply_delta(const struct llm_lora_tensor *t, float s, float *w)
{
	/* (n_out x r) (r x n_in), accumulated into w */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t->n_out, (int)t->n_in, (int)t->r, s, t->b,
		    (int)t->r, t->a, (int)t->n_in, 1.0f, w, (int)t->n_in);
	if (!t->magnitude)
		return;
	for (int64_t i = 0; i < t->n_out; i++) {
		float *row = w + i * t->n_in;
		double ss = 0;
		for (int64_t j = 0; j < t->n_in; j++)
			ss += (double)row[j] * row[j];
		float norm = (float)sqrt(ss), f = t->magnitude[i] / norm;
		for (int64_t j = 0; j < t->n_in; j++)
			row[j] *= f;
	}
}

void llm_lora_merge_report_free(struct llm_lora_merge_report *r, int64_t n)
{
	for (int64_t i = 0; r && i < n; i++)
		free(r[i].name);
	free(r);
}

static double rel_diff(const float *after, const float *before, int64_t n)
{
	double d = 0, b = 0;
	for (int64_t i = 0; i < n; i++) {
		double x = (double)after[i] - before[i];
		d += x * x;
		b += (double)before[i] * before[i];
	}
	return b > 0 ? sqrt(d / b) : (d > 0 ? INFINITY : 0);
}

/* LLM_EINVAL when user scale x t's own factor (alpha / r) is beyond
 * float: the merge and the run-time terms multiply by it in F32. */
static int scale_fits(const llm_lora *a, const struct llm_lora_tensor *t, float scale)
{
	if (fits_float((double)scale * t->scale))
		return 0;
	return llm_err(LLM_EINVAL, "%s: %s: scale %g times the adapter's alpha / r (%g) is beyond float", a->path,
		       t->name ? t->name : t->src, (double)scale, (double)t->scale);
}

const char *llm_lora_names(char *buf, size_t size, llm_lora *const *ads, const float *scales, int n,
			   const char *tensor)
{
	int k = 0, last = -1;
	size_t len = 0;
#define TOUCHES(i) (!tensor || llm_lora_find(ads[i], tensor) || llm_lora_find_replace(ads[i], tensor))
	buf[0] = 0;
	for (int i = 0; i < n; i++)
		if (TOUCHES(i))
			last = i;
	for (int i = 0; i < n && len < size; i++)
		if (TOUCHES(i)) {
			len += (size_t)snprintf(buf + len, size - len, "%s%s", k++ == 0 ? "" : i == last ? " and " : ", ",
						ads[i]->path);
			if (scales && len < size)
				len += (size_t)snprintf(buf + len, size - len, " (scale %g)", (double)scales[i]);
		}
#undef TOUCHES
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}


static int touched(llm_lora *const *ads, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (llm_lora_find(ads[i], name) || llm_lora_find_replace(ads[i], name))
			return 1;
	return 0;
}

int llm_lora_merge(llm_ckpt *base, llm_lora *const *ads, const float *scales, int n,
		   const char *out_path, const struct llm_lora_merge_opts *o,
		   struct llm_lora_merge_report **rep_out, int64_t *n_rep)
{
	int64_t nt = llm_ckpt_n_tensors(base), nrep = 0, caprep = 0;
	const llm_meta *m = llm_ckpt_meta(base);
	struct llm_convert_opts co = LLM_CONVERT_OPTS_INIT;
	struct llm_lora_merge_report *rep = NULL;
	llm_gguf_writer *w = NULL;
	int *types = NULL, *touch = NULL, rc = 0;
	float *f32 = NULL, *before = NULL;
	void *qbuf = NULL;
	size_t f32_cap = 0, q_cap = 0;
	uint64_t total = 0, done = 0;

	if (rep_out) {
		*rep_out = NULL;
		*n_rep = 0;
	}
	for (int i = 0; i < n; i++) {
		if ((rc = llm_lora_check(ads[i], base)))
			return rc;
		if (scales[i] < 0 && ads[i]->nrep)
			return llm_err(LLM_EINVAL, "%s: modules_to_save replace weights: a negative scale cannot unmerge them",
				       ads[i]->path);
		for (int64_t k = 0; k < ads[i]->nt; k++) {
			if (scales[i] < 0 && ads[i]->t[k].magnitude)
				return llm_err(LLM_EINVAL, "%s: DoRA cannot be unmerged (negative scale)", ads[i]->path);
			if ((rc = scale_fits(ads[i], &ads[i]->t[k], scales[i])))
				return rc;
		}
	}
	types = calloc(nt ? (size_t)nt : 1, sizeof *types);
	touch = calloc(nt ? (size_t)nt : 1, sizeof *touch);
	if (!types || !touch) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	co.type = o->type >= 0 ? o->type : LLM_TYPE_F32;
	co.n_threads = o->n_threads;
	co.notice = o->notice; /* a -t type the rows do not fit, as llm-quant says it */
	co.ud = o->ud;
	for (int64_t i = 0; i < nt; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(base, i);
		const struct llm_type_traits *tin = llm_type_traits(t->type), *tout;
		touch[i] = touched(ads, n, t->name);
		if (touch[i] && is_token_embd(t->name) && llm_ckpt_find(base, "output.weight") < 0 && o->notice)
			/* PEFT's unmerged model keeps the head; its merged one, saved
			 * tied and loaded again, does not, nor does llama.cpp's --lora */
			o->notice(o->ud, "token_embd.weight changes, and the base ties the output head to it: "
					 "the head changes too (as in llama.cpp and PEFT's saved merge)");
		types[i] = o->type >= 0 ? llm_convert_tensor_type(base, i, &co) : t->type;
		if (touch[i] && (!tin || !tin->to_float)) {
			rc = llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: type %s cannot be decoded for merging",
				     llm_ckpt_path(base), t->name, llm_type_name(t->type));
			goto out;
		}
		tout = llm_type_traits(types[i]);
		if ((touch[i] || types[i] != t->type) && (!tout || !tout->from_float)) {
			rc = llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: cannot write type %s (choose one with -t)",
				     llm_ckpt_path(base), t->name, llm_type_name(types[i]));
			goto out;
		}
		if (!touch[i] && types[i] != t->type && (!tin || !tin->to_float)) {
			rc = llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: cannot convert from %s", llm_ckpt_path(base),
				     t->name, llm_type_name(t->type));
			goto out;
		}
		total += t->size;
	}
	if ((rc = llm_gguf_writer_open_opts(&w, out_path, o->write)))
		goto out;
	{
		llm_meta *wm = llm_gguf_writer_meta(w);
		for (int64_t i = 0; i < m->n && !rc; i++)
			rc = llm_meta_set_kv(wm, &m->kv[i], NULL);
		if (!rc && o->type >= 0)
			rc = llm_convert_set_meta(wm, m, o->type);
		for (int64_t i = 0; o->extra && i < o->extra->n && !rc; i++)
			rc = llm_meta_set_kv(wm, &o->extra->kv[i], NULL);
	}
	for (int64_t i = 0; i < nt && !rc; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(base, i);
		rc = llm_gguf_writer_add_tensor(w, t->name, types[i], t->n_dims, t->ne);
	}
	for (int64_t i = 0; i < nt && !rc; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(base, i);
		int64_t ne = llm_tensor_nelem(t), rows = t->ne[0] ? ne / t->ne[0] : 0;
		size_t out_size = llm_type_row_size(types[i], t->ne[0]) * (size_t)rows;
		const void *src;

		if (o->progress)
			o->progress(o->ud, t->name, done, total);
		if (!touch[i] && types[i] == t->type) {
			if ((rc = llm_ckpt_data(base, i, &src)))
				break;
			rc = llm_gguf_writer_write(w, src, t->size);
			llm_ckpt_release(base, i);
			done += t->size;
			continue;
		}
		if ((size_t)ne > f32_cap) {
			free(f32);
			free(before);
			f32 = malloc((size_t)ne * sizeof *f32);
			before = rep_out ? malloc((size_t)ne * sizeof *before) : NULL;
			f32_cap = (size_t)ne;
			if (!f32 || (rep_out && !before)) {
				f32_cap = 0;
				rc = llm_err(LLM_ENOMEM, "tensor %s: out of memory", t->name);
				break;
			}
		}
		if (out_size > q_cap) {
			free(qbuf);
			q_cap = out_size;
			if (!(qbuf = malloc(q_cap))) {
				q_cap = 0;
				rc = llm_err(LLM_ENOMEM, "tensor %s: out of memory", t->name);
				break;
			}
		}
		if ((rc = llm_ckpt_read_f32(base, i, f32)))
			break;
		llm_ckpt_release(base, i);
		/* inf or NaN: the base's own (unless replaced), or what an
		 * adapter's step brought (its values are finite: checked when
		 * opened), named as such */
		int base_bad = touch[i] && !llm_all_finite(f32, ne);
		for (int a = 0; a < n && touch[i]; a++) {
			const struct llm_lora_replace *r = llm_lora_find_replace(ads[a], t->name);
			const struct llm_lora_tensor *lt = llm_lora_find(ads[a], t->name);
			if (!r && !lt)
				continue;
			if (before)
				memcpy(before, f32, (size_t)ne * sizeof *f32);
			if (r) {
				memcpy(f32, r->data, (size_t)ne * sizeof *f32);
				base_bad = 0;
			}
			if (lt)
				llm_lora_apply_delta(lt, scales[a] * lt->scale, f32);
			if (lt && !base_bad && !llm_all_finite(f32, ne)) {
				rc = llm_err(LLM_EINVAL, "%s: merged into %s at scale %g (%g x alpha / r), %s comes out inf or NaN "
					     "(the scale or the adapter's values are too large)", ads[a]->path, llm_ckpt_path(base),
					     (double)(scales[a] * lt->scale), (double)scales[a], t->name);
				break;
			}
			if (rep_out) {
				if ((rc = grow((void **)&rep, &caprep, nrep + 1, sizeof *rep)))
					break;
				rep[nrep] = (struct llm_lora_merge_report){
					strdup(t->name), a, r ? "replace" : lt->magnitude ? "dora" : "lora", lt ? lt->r : 0,
					lt ? (double)scales[a] * lt->scale : 1.0, rel_diff(f32, before, ne)
				};
				if (!rep[nrep++].name) {
					rc = llm_err(LLM_ENOMEM, "out of memory");
					break;
				}
			}
		}
		if (rc)
			break;
		if (base_bad) {
			rc = llm_err(LLM_EINVAL, "%s: tensor %s holds inf or NaN: no adapter can be merged into it",
				     llm_ckpt_path(base), t->name);
			break;
		}
		/* finite in F32 but beyond the output type (f16's 65504, a
		 * q8_0 block's f16 factor): inf once written, refused */
		if ((rc = llm_quantize_rows(types[i], f32, qbuf, rows, t->ne[0], o->n_threads))) {
			if (rc == LLM_EINVAL) {
				char who[512], where[1024];
				if (touch[i])
					snprintf(where, sizeof where, "%s: merged into %s, tensor %s",
						 llm_lora_names(who, sizeof who, ads, NULL, n, t->name), llm_ckpt_path(base),
						 t->name);
				else /* a tensor no adapter touches, written in another type */
					snprintf(where, sizeof where, "%s: tensor %s", llm_ckpt_path(base), t->name);
				llm_err_prefix(rc, where);
			}
			break;
		}
		rc = llm_gguf_writer_write(w, qbuf, out_size);
		done += t->size;
	}
	if (o->progress && !rc)
		o->progress(o->ud, "", total, total);
	if (!rc && o->finish)
		rc = o->finish(o->ud, rep, rep ? nrep : 0);
	if (rc)
		llm_gguf_writer_abort(w);
	else
		rc = llm_gguf_writer_commit(w);
	w = NULL;
out:
	free(types);
	free(touch);
	free(f32);
	free(before);
	free(qbuf);
	if (rep_out && rc == 0) {
		*rep_out = rep;
		*n_rep = nrep;
	} else {
		llm_lora_merge_report_free(rep, nrep);
	}
	return rc;
}

/* ================================================================== */
/* writing                                                             */

int llm_lora_write(const llm_lora *a, const char *arch, const char *out_path,
		   const struct llm_gguf_write_opts *wo, const llm_meta *extra,
		   int (*before_commit)(void *ud), void *ud)
{
	llm_gguf_writer *w = NULL;
	llm_meta *wm;
	float alpha = 0;
	int rc;

	if (a->nrep || a->dora)
		return llm_err(LLM_EUNSUPPORTED, "%s: DoRA and modules_to_save have no llama.cpp GGUF form", a->path);
	for (int64_t i = 0; i < a->nt; i++) {
		const struct llm_lora_tensor *t = &a->t[i];
		if (!t->name || t->magnitude)
			return llm_err(LLM_EUNSUPPORTED, "%s: %s cannot be written as a GGUF LoRA tensor", a->path, t->src);
		if (i == 0)
			alpha = t->scale == 1.0f && t->alpha == 0 ? 0 : t->alpha;
		float want = alpha != 0 ? alpha / (float)t->r : 1.0f;
		if (t->scale != want)
			return llm_err(LLM_EUNSUPPORTED, "%s: per-tensor scales do not follow one alpha / r", a->path);
	}
	if ((rc = llm_gguf_writer_open_opts(&w, out_path, wo)))
		return rc;
	wm = llm_gguf_writer_meta(w);
	if (!rc)
		rc = llm_meta_set_str(wm, "general.type", "adapter");
	if (!rc && arch)
		rc = llm_meta_set_str(wm, "general.architecture", arch);
	if (!rc)
		rc = llm_meta_set_str(wm, "adapter.type", "lora");
	if (!rc)
		rc = llm_meta_set_f32(wm, "adapter.lora.alpha", alpha);
	for (int64_t i = 0; extra && i < extra->n && !rc; i++)
		rc = llm_meta_set_kv(wm, &extra->kv[i], NULL);
	for (int64_t i = 0; i < a->nt && !rc; i++) {
		const struct llm_lora_tensor *t = &a->t[i];
		size_t len = strlen(t->name) + 8;
		char nm[len];
		int64_t nea[2], neb[2];
		if (is_token_embd(t->name)) {
			nea[0] = t->r, nea[1] = t->n_out;
			neb[0] = t->r, neb[1] = t->n_in;
		} else {
			nea[0] = t->n_in, nea[1] = t->r;
			neb[0] = t->r, neb[1] = t->n_out;
		}
		snprintf(nm, len, "%s.lora_a", t->name);
		rc = llm_gguf_writer_add_tensor(w, nm, LLM_TYPE_F32, 2, nea);
		snprintf(nm, len, "%s.lora_b", t->name);
		if (!rc)
			rc = llm_gguf_writer_add_tensor(w, nm, LLM_TYPE_F32, 2, neb);
	}
	for (int64_t i = 0; i < a->nt && !rc; i++) {
		const struct llm_lora_tensor *t = &a->t[i];
		size_t na = (size_t)(t->r * t->n_in) * sizeof(float), nb = (size_t)(t->r * t->n_out) * sizeof(float);
		if (is_token_embd(t->name)) {
			float *at = malloc(na);
			if (!at) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				break;
			}
			transpose(at, t->a, t->r, t->n_in); /* n_in rows of r */
			rc = llm_gguf_writer_write(w, t->b, nb);
			if (!rc)
				rc = llm_gguf_writer_write(w, at, na);
			free(at);
		} else {
			rc = llm_gguf_writer_write(w, t->a, na);
			if (!rc)
				rc = llm_gguf_writer_write(w, t->b, nb);
		}
	}
	if (!rc && before_commit)
		rc = before_commit(ud);
	if (rc) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	return llm_gguf_writer_commit(w);
}

/* ================================================================== */
/* run time                                                            */

struct llm_lora_hook {
	char *name;
	int n;
	const struct llm_lora_tensor **t;
	float *s; /* user scale x per-tensor scale */
};

struct llm_lora_set {
	llm_lora **ads;
	float *scales; /* the user's, one per adapter */
	int nad;
	struct llm_lora_hook *hooks;
	int64_t nhooks, cap;
};

int llm_lora_set_new(llm_lora_set **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : llm_err(LLM_ENOMEM, "out of memory");
}

void llm_lora_set_free(llm_lora_set *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nad; i++)
		llm_lora_free(s->ads[i]);
	for (int64_t i = 0; i < s->nhooks; i++) {
		free(s->hooks[i].name);
		free(s->hooks[i].t);
		free(s->hooks[i].s);
	}
	free(s->hooks);
	free(s->ads);
	free(s->scales);
	free(s);
}

int llm_lora_set_count(const llm_lora_set *s) { return s ? s->nad : 0; }

const llm_lora *llm_lora_set_adapter(const llm_lora_set *s, int i)
{
	return s && i >= 0 && i < s->nad ? s->ads[i] : NULL;
}

float llm_lora_set_scale(const llm_lora_set *s, int i)
{
	return s && i >= 0 && i < s->nad ? s->scales[i] : 0.0f;
}

const char *llm_lora_set_names(char *buf, size_t size, const llm_lora_set *s)
{
	if (!s || !s->nad) {
		if (size)
			buf[0] = 0;
		return buf;
	}
	return llm_lora_names(buf, size, s->ads, s->scales, s->nad, NULL);
}

const llm_lora_hook *llm_lora_set_hook(const llm_lora_set *s, const char *name)
{
	for (int64_t i = 0; s && i < s->nhooks; i++)
		if (strcmp(s->hooks[i].name, name) == 0)
			return &s->hooks[i];
	return NULL;
}

int llm_lora_set_add(llm_lora_set *s, llm_lora *a, float scale, const llm_ckpt *base)
{
	llm_lora **na;
	int rc;

	if ((rc = llm_lora_check(a, base)))
		goto fail;
	for (int64_t i = 0; i < a->nt; i++) {
		a->dora |= a->t[i].magnitude != NULL;
		if ((rc = scale_fits(a, &a->t[i], scale)))
			goto fail;
	}
	if (a->nrep || a->dora) {
		rc = llm_err(LLM_EUNSUPPORTED, "%s: DoRA / modules_to_save cannot be applied at run time: merge with llm-lora-merge",
			     a->path);
		goto fail;
	}
	if (!(na = realloc(s->ads, (size_t)(s->nad + 1) * sizeof *na))) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto fail;
	}
	s->ads = na;
	float *nsc = realloc(s->scales, (size_t)(s->nad + 1) * sizeof *nsc);
	if (!nsc) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto fail;
	}
	s->scales = nsc;
	int64_t nh0 = s->nhooks; /* for undoing an add that fails part way */
	for (int64_t i = 0; i < a->nt && !rc; i++) {
		const struct llm_lora_tensor *t = &a->t[i];
		struct llm_lora_hook *h = (struct llm_lora_hook *)llm_lora_set_hook(s, t->name);
		if (!h) {
			if ((rc = grow((void **)&s->hooks, &s->cap, s->nhooks + 1, sizeof *s->hooks)))
				break;
			h = &s->hooks[s->nhooks];
			memset(h, 0, sizeof *h);
			if (!(h->name = strdup(t->name))) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				break;
			}
			s->nhooks++; /* counted once named: llm_lora_set_hook compares names */
		}
		const struct llm_lora_tensor **nt = realloc(h->t, (size_t)(h->n + 1) * sizeof *nt);
		if (nt)
			h->t = nt;
		float *ns = nt ? realloc(h->s, (size_t)(h->n + 1) * sizeof *ns) : NULL;
		if (!ns) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			break;
		}
		h->s = ns;
		h->t[h->n] = t;
		h->s[h->n++] = scale * t->scale;
	}
	if (!rc) {
		s->scales[s->nad] = scale;
		s->ads[s->nad++] = a;
		return 0;
	}
	/* Out of memory part way: a's terms come off the ends of the hooks
	 * they were appended to, and the hooks made for a go, so that the set
	 * is as it was. */
	uintptr_t lo = (uintptr_t)a->t, hi = (uintptr_t)(a->t + a->nt);
	for (int64_t i = s->nhooks - 1; i >= 0; i--) {
		struct llm_lora_hook *h = &s->hooks[i];
		while (h->n > 0 && (uintptr_t)h->t[h->n - 1] >= lo && (uintptr_t)h->t[h->n - 1] < hi)
			h->n--;
		if (i >= nh0) {
			free(h->name);
			free(h->t);
			free(h->s);
		}
	}
	s->nhooks = nh0;
fail:
	llm_lora_free(a);
	return rc;
}

int llm_lora_set_open(llm_lora_set *s, const char *spec, const llm_ckpt *base)
{
	char *path;
	float scale;
	llm_lora *a;
	int rc;

	if ((rc = llm_lora_parse_spec(spec, &path, &scale)))
		return rc;
	rc = llm_lora_open(&a, path, llm_ckpt_meta(base));
	free(path);
	if (rc)
		return rc;
	return llm_lora_set_add(s, a, scale, base);
}

void llm_lora_hook_apply(const llm_lora_hook *h, const float *x, float *y, int n)
{
	for (int i = 0; i < h->n; i++) {
		const struct llm_lora_tensor *t = h->t[i];
		float stack[256], *ax = t->r <= 256 ? stack : malloc((size_t)t->r * sizeof *ax);
		if (!ax)
			return; /* cannot happen for sane ranks */
		for (int tok = 0; tok < n; tok++) {
			const float *xt = x + (int64_t)tok * t->n_in;
			float *yt = y + (int64_t)tok * t->n_out;
			for (int64_t k = 0; k < t->r; k++) { /* ax = A x: (r x n_in)(n_in) */
				const float *ak = t->a + k * t->n_in;
				float acc = 0;
				for (int64_t j = 0; j < t->n_in; j++)
					acc += ak[j] * xt[j];
				ax[k] = acc * h->s[i];
			}
			for (int64_t o = 0; o < t->n_out; o++) { /* y += B (s A x): (n_out x r)(r) */
				const float *bo = t->b + o * t->r;
				float acc = 0;
				for (int64_t k = 0; k < t->r; k++)
					acc += bo[k] * ax[k];
				yt[o] += acc;
			}
		}
		if (ax != stack)
			free(ax);
	}
}

void llm_lora_hook_embed(const llm_lora_hook *h, int64_t v, float *row)
{
	for (int i = 0; i < h->n; i++) {
		const struct llm_lora_tensor *t = h->t[i];
		if (v < 0 || v >= t->n_out)
			continue;
		for (int64_t k = 0; k < t->r; k++) {
			float c = h->s[i] * t->b[v * t->r + k];
			const float *ak = t->a + k * t->n_in;
			for (int64_t j = 0; j < t->n_in; j++)
				row[j] += c * ak[j];
		}
	}
}

int llm_lora_parse_spec(const char *spec, char **path, float *scale)
{
	const char *colon = strrchr(spec, ':');
	struct stat sb;

	*path = NULL;
	*scale = 1.0f;
	if (colon && colon != spec && colon[1] && stat(spec, &sb) != 0) {
		char *end;
		errno = 0;
		double v = strtod(colon + 1, &end);
		if (*end == 0 && (errno == 0 || errno == ERANGE)) {
			/* the float it becomes must be finite too; an
			 * underflow is a scale of (nearly) 0 */
			if (!fits_float(v))
				return llm_err(LLM_EINVAL, "%s: scale %s is not a finite float", spec, colon + 1);
			*scale = (float)v;
			*path = xstrndup(spec, (size_t)(colon - spec));
			return *path ? 0 : llm_err(LLM_ENOMEM, "out of memory");
		}
	}
	*path = strdup(spec);
	return *path ? 0 : llm_err(LLM_ENOMEM, "out of memory");
}
