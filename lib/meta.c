/* meta.c - typed key/value metadata (see meta.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "meta.h"

static const size_t vsize[LLM_V_COUNT] = {
	[LLM_V_U8] = 1, [LLM_V_I8] = 1, [LLM_V_U16] = 2, [LLM_V_I16] = 2,
	[LLM_V_U32] = 4, [LLM_V_I32] = 4, [LLM_V_F32] = 4, [LLM_V_BOOL] = 1,
	[LLM_V_U64] = 8, [LLM_V_I64] = 8, [LLM_V_F64] = 8,
};
static const char *const vname[LLM_V_COUNT] = {
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};

size_t llm_vtype_size(enum llm_vtype t) { return (unsigned)t < LLM_V_COUNT ? vsize[t] : 0; }
const char *llm_vtype_name(enum llm_vtype t) { return (unsigned)t < LLM_V_COUNT ? vname[t] : "?"; }

void llm_meta_init(llm_meta *m) { memset(m, 0, sizeof *m); }

void llm_kv_clear(struct llm_kv *kv)
{
	if (kv->type == LLM_V_STR || (kv->type == LLM_V_ARR && kv->atype == LLM_V_STR)) {
		struct llm_str *s = kv->data;
		for (uint64_t i = 0; s && i < kv->n; i++)
			free(s[i].s);
	}
	free(kv->data);
	free(kv->key);
}

void llm_meta_clear(llm_meta *m)
{
	for (int64_t i = 0; i < m->n; i++)
		llm_kv_clear(&m->kv[i]);
	free(m->kv);
	free(m->ix);
	llm_meta_init(m);
}

/* ---- the key index: copying a file's metadata key by key was quadratic
 * (a GGUF of 150,000 keys took minutes to open); small sets are scanned ---- */

#define IX_FROM 32

uint64_t llm_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

static size_t key_hash(const char *k) { return (size_t)llm_hash_str(k); }

static void ix_insert(llm_meta *m, int64_t i)
{
	size_t j = key_hash(m->kv[i].key) & m->ix_mask;
	while (m->ix[j])
		j = (j + 1) & m->ix_mask;
	m->ix[j] = i + 1;
}

/* (Re)build the index for m's entries; without memory, none (a scan). */
static void ix_rebuild(llm_meta *m)
{
	size_t cap = 64;
	free(m->ix);
	m->ix = NULL;
	m->ix_mask = 0;
	if (m->n < IX_FROM)
		return;
	while (cap < 4 * (size_t)m->n)
		cap *= 2;
	if (!(m->ix = calloc(cap, sizeof *m->ix)))
		return;
	m->ix_mask = cap - 1;
	for (int64_t i = 0; i < m->n; i++)
		ix_insert(m, i);
}

int64_t llm_meta_find(const llm_meta *m, const char *key)
{
	if (m->ix) {
		for (size_t j = key_hash(key) & m->ix_mask; m->ix[j]; j = (j + 1) & m->ix_mask)
			if (strcmp(m->kv[m->ix[j] - 1].key, key) == 0)
				return m->ix[j] - 1;
		return -1;
	}
	for (int64_t i = 0; i < m->n; i++)
		if (strcmp(m->kv[i].key, key) == 0)
			return i;
	return -1;
}

const struct llm_kv *llm_meta_get(const llm_meta *m, const char *key)
{
	int64_t i = llm_meta_find(m, key);
	return i < 0 ? NULL : &m->kv[i];
}

int llm_meta_put(llm_meta *m, struct llm_kv *kv)
{
	int64_t i = llm_meta_find(m, kv->key);
	if (i >= 0) {
		llm_kv_clear(&m->kv[i]);
		m->kv[i] = *kv;
		return 0;
	}
	return llm_meta_append(m, kv);
}

int llm_meta_append(llm_meta *m, struct llm_kv *kv)
{
	if (m->n == m->cap) {
		int64_t cap = m->cap ? m->cap * 2 : 16;
		struct llm_kv *p = realloc(m->kv, (size_t)cap * sizeof *p);
		if (!p)
			return llm_err(LLM_ENOMEM, "out of memory");
		m->kv = p;
		m->cap = cap;
	}
	m->kv[m->n++] = *kv;
	if (m->ix && 2 * (size_t)m->n <= m->ix_mask + 1)
		ix_insert(m, m->n - 1);
	else if (m->n >= IX_FROM)
		ix_rebuild(m);
	return 0;
}

/* Build an entry with copies of key and data, then put it. */
static int set(llm_meta *m, const char *key, enum llm_vtype type, enum llm_vtype atype,
	       const void *data, uint64_t n)
{
	struct llm_kv kv = { 0 };
	enum llm_vtype et = type == LLM_V_ARR ? atype : type;

	kv.key = strdup(key);
	kv.type = type;
	kv.atype = type == LLM_V_ARR ? atype : type;
	kv.n = n;
	if (!kv.key)
		return llm_err(LLM_ENOMEM, "out of memory");
	if (et == LLM_V_STR) {
		const struct llm_str *src = data;
		struct llm_str *dst = calloc(n ? n : 1, sizeof *dst);
		kv.data = dst;
		if (!dst)
			goto nomem;
		for (uint64_t i = 0; i < n; i++) {
			dst[i].s = malloc(src[i].len + 1);
			if (!dst[i].s)
				goto nomem;
			memcpy(dst[i].s, src[i].s, src[i].len);
			dst[i].s[src[i].len] = 0;
			dst[i].len = src[i].len;
		}
	} else {
		size_t es = llm_vtype_size(et);
		if (es == 0 || (n && n > SIZE_MAX / es)) {
			free(kv.key);
			return llm_err(LLM_EINVAL, "metadata %s: bad value type", key);
		}
		kv.data = malloc(n ? n * es : 1);
		if (!kv.data)
			goto nomem;
		if (n)
			memcpy(kv.data, data, n * es);
	}
	if (llm_meta_put(m, &kv) == 0)
		return 0;
nomem:
	llm_kv_clear(&kv);
	return llm_err(LLM_ENOMEM, "out of memory");
}

int llm_meta_set_u32(llm_meta *m, const char *k, uint32_t v) { return set(m, k, LLM_V_U32, 0, &v, 1); }
int llm_meta_set_i32(llm_meta *m, const char *k, int32_t v) { return set(m, k, LLM_V_I32, 0, &v, 1); }
int llm_meta_set_u64(llm_meta *m, const char *k, uint64_t v) { return set(m, k, LLM_V_U64, 0, &v, 1); }
int llm_meta_set_f32(llm_meta *m, const char *k, float v) { return set(m, k, LLM_V_F32, 0, &v, 1); }
int llm_meta_set_bool(llm_meta *m, const char *k, int v)
{
	uint8_t b = v != 0;
	return set(m, k, LLM_V_BOOL, 0, &b, 1);
}
int llm_meta_set_strn(llm_meta *m, const char *k, const char *s, size_t len)
{
	struct llm_str str = { len, (char *)s };
	return set(m, k, LLM_V_STR, 0, &str, 1);
}
int llm_meta_set_str(llm_meta *m, const char *k, const char *s) { return llm_meta_set_strn(m, k, s, strlen(s)); }
int llm_meta_set_arr(llm_meta *m, const char *k, enum llm_vtype atype, const void *data, uint64_t n)
{
	if (atype == LLM_V_STR || atype == LLM_V_ARR)
		return llm_err(LLM_EINVAL, "metadata %s: bad array type", k);
	return set(m, k, LLM_V_ARR, atype, data, n);
}
int llm_meta_set_arr_str(llm_meta *m, const char *k, const struct llm_str *s, uint64_t n)
{
	return set(m, k, LLM_V_ARR, LLM_V_STR, s, n);
}
int llm_meta_set_kv(llm_meta *m, const struct llm_kv *kv, const char *key)
{
	return set(m, key ? key : kv->key, kv->type, kv->atype, kv->data, kv->n);
}

int llm_meta_remove(llm_meta *m, const char *key)
{
	int64_t i = llm_meta_find(m, key);
	if (i < 0)
		return LLM_ENOTFOUND;
	llm_kv_clear(&m->kv[i]);
	memmove(&m->kv[i], &m->kv[i + 1], (size_t)(m->n - i - 1) * sizeof *m->kv);
	m->n--;
	if (m->ix) /* entries after i moved down */
		ix_rebuild(m);
	return 0;
}

/* Element i of a numeric array (or scalar) as double; NaN for non-numbers. */
static double num_at(enum llm_vtype t, const void *d, uint64_t i)
{
	switch (t) {
	case LLM_V_U8: return ((const uint8_t *)d)[i];
	case LLM_V_I8: return ((const int8_t *)d)[i];
	case LLM_V_U16: return ((const uint16_t *)d)[i];
	case LLM_V_I16: return ((const int16_t *)d)[i];
	case LLM_V_U32: return ((const uint32_t *)d)[i];
	case LLM_V_I32: return ((const int32_t *)d)[i];
	case LLM_V_F32: return ((const float *)d)[i];
	case LLM_V_BOOL: return ((const uint8_t *)d)[i] != 0;
	case LLM_V_U64: return (double)((const uint64_t *)d)[i];
	case LLM_V_I64: return (double)((const int64_t *)d)[i];
	case LLM_V_F64: return ((const double *)d)[i];
	default: return NAN;
	}
}

double llm_kv_arr_num(const struct llm_kv *kv, uint64_t i)
{
	enum llm_vtype t = kv->type == LLM_V_ARR ? kv->atype : kv->type;
	return i < kv->n ? num_at(t, kv->data, i) : NAN;
}

int llm_meta_get_int(const llm_meta *m, const char *key, int64_t *out)
{
	const struct llm_kv *kv = llm_meta_get(m, key);
	if (!kv)
		return LLM_ENOTFOUND;
	switch (kv->type) {
	case LLM_V_U64: {
		uint64_t v = *(const uint64_t *)kv->data;
		if (v > INT64_MAX)
			break;
		*out = (int64_t)v;
		return 0;
	}
	case LLM_V_I64: *out = *(const int64_t *)kv->data; return 0;
	case LLM_V_U8: case LLM_V_I8: case LLM_V_U16: case LLM_V_I16:
	case LLM_V_U32: case LLM_V_I32: case LLM_V_BOOL:
		*out = (int64_t)num_at(kv->type, kv->data, 0);
		return 0;
	default: break;
	}
	return llm_err(LLM_EFORMAT, "metadata %s: %s is not an integer", key, llm_vtype_name(kv->type));
}

int llm_meta_get_float(const llm_meta *m, const char *key, double *out)
{
	const struct llm_kv *kv = llm_meta_get(m, key);
	if (!kv)
		return LLM_ENOTFOUND;
	if (kv->type == LLM_V_STR || kv->type == LLM_V_ARR || kv->type == LLM_V_BOOL)
		return llm_err(LLM_EFORMAT, "metadata %s: %s is not a number", key, llm_vtype_name(kv->type));
	*out = num_at(kv->type, kv->data, 0);
	return 0;
}

int llm_meta_get_bool(const llm_meta *m, const char *key, int *out)
{
	const struct llm_kv *kv = llm_meta_get(m, key);
	if (!kv)
		return LLM_ENOTFOUND;
	if (kv->type != LLM_V_BOOL)
		return llm_err(LLM_EFORMAT, "metadata %s: %s is not a bool", key, llm_vtype_name(kv->type));
	*out = *(const uint8_t *)kv->data != 0;
	return 0;
}

int llm_meta_get_str(const llm_meta *m, const char *key, const char **out, size_t *len)
{
	const struct llm_kv *kv = llm_meta_get(m, key);
	if (!kv)
		return LLM_ENOTFOUND;
	if (kv->type != LLM_V_STR)
		return llm_err(LLM_EFORMAT, "metadata %s: %s is not a string", key, llm_vtype_name(kv->type));
	*out = ((const struct llm_str *)kv->data)->s;
	if (len)
		*len = ((const struct llm_str *)kv->data)->len;
	return 0;
}

int llm_meta_get_arr(const llm_meta *m, const char *key, enum llm_vtype *atype,
		     uint64_t *n, const void **data)
{
	const struct llm_kv *kv = llm_meta_get(m, key);
	if (!kv)
		return LLM_ENOTFOUND;
	if (kv->type != LLM_V_ARR)
		return llm_err(LLM_EFORMAT, "metadata %s: %s is not an array", key, llm_vtype_name(kv->type));
	*atype = kv->atype;
	*n = kv->n;
	*data = kv->data;
	return 0;
}

int64_t llm_meta_int(const llm_meta *m, const char *key, int64_t dflt)
{
	int64_t v;
	return llm_meta_get_int(m, key, &v) == 0 ? v : dflt;
}

double llm_meta_float(const llm_meta *m, const char *key, double dflt)
{
	double v;
	return llm_meta_get_float(m, key, &v) == 0 ? v : dflt;
}
