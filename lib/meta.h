/* meta.h - typed key/value metadata, GGUF's value model held in memory.
 *
 * Every checkpoint (GGUF, Hugging Face directory, llama2.c file) presents
 * its metadata as an llm_meta: the GGUF reader parses into one, converters
 * synthesise one (llama.* and tokenizer.ggml.* keys), the writer emits one.
 * Keys are unique; setting an existing key replaces its value in place
 * (order of first insertion is kept, as GGUF files list keys in order).
 */
#ifndef LLM_META_H
#define LLM_META_H

#include <stddef.h>
#include <stdint.h>

/* GGUF value types (pinned ids). */
enum llm_vtype {
	LLM_V_U8 = 0, LLM_V_I8 = 1, LLM_V_U16 = 2, LLM_V_I16 = 3,
	LLM_V_U32 = 4, LLM_V_I32 = 5, LLM_V_F32 = 6, LLM_V_BOOL = 7,
	LLM_V_STR = 8, LLM_V_ARR = 9, LLM_V_U64 = 10, LLM_V_I64 = 11,
	LLM_V_F64 = 12,
	LLM_V_COUNT = 13,
};

/* A string: bytes, not NUL-terminated in general (s[len] is always 0 here). */
struct llm_str {
	uint64_t len;
	char *s;
};

struct llm_kv {
	char *key;            /* NUL-terminated, owned */
	enum llm_vtype type;  /* LLM_V_ARR for arrays */
	enum llm_vtype atype; /* element type of an array (never ARR: nested arrays are rejected) */
	uint64_t n;           /* number of elements (1 for scalars) */
	void *data;           /* scalars and arrays: n packed elements of
	                         the (element) type; strings: n struct llm_str */
};

typedef struct llm_meta {
	struct llm_kv *kv;
	int64_t n, cap;
	int64_t *ix;    /* from 32 entries: a hash index of the keys (entry + 1, 0 free) */
	size_t ix_mask; /* its size - 1 */
} llm_meta;

/* Size in bytes of one scalar element of type t (0 for STR/ARR/unknown). */
size_t llm_vtype_size(enum llm_vtype t);
/* GGUF's name of the type: "u32", "str", "arr", ... */
const char *llm_vtype_name(enum llm_vtype t);

void llm_meta_init(llm_meta *m);
void llm_meta_clear(llm_meta *m); /* frees everything; m stays usable (empty) */

/* Index of key, or -1. */
int64_t llm_meta_find(const llm_meta *m, const char *key);
/* Borrowed pointer to the entry, or NULL. */
const struct llm_kv *llm_meta_get(const llm_meta *m, const char *key);

/* Setters copy their arguments. Return 0 or LLM_ENOMEM. */
int llm_meta_set_u32(llm_meta *m, const char *key, uint32_t v);
int llm_meta_set_i32(llm_meta *m, const char *key, int32_t v);
int llm_meta_set_u64(llm_meta *m, const char *key, uint64_t v);
int llm_meta_set_f32(llm_meta *m, const char *key, float v);
int llm_meta_set_bool(llm_meta *m, const char *key, int v);
int llm_meta_set_str(llm_meta *m, const char *key, const char *s);
int llm_meta_set_strn(llm_meta *m, const char *key, const char *s, size_t len);
/* Array of n packed scalars of type atype (not STR). */
int llm_meta_set_arr(llm_meta *m, const char *key, enum llm_vtype atype,
		     const void *data, uint64_t n);
/* Array of n strings. */
int llm_meta_set_arr_str(llm_meta *m, const char *key, const struct llm_str *s, uint64_t n);
/* Generic: copy value of kv under its key (or under key if non-NULL). */
int llm_meta_set_kv(llm_meta *m, const struct llm_kv *kv, const char *key);
/* Free an entry's key and data (not the entry itself). */
void llm_kv_clear(struct llm_kv *kv);
/* Take ownership of an already built entry (its key and data). */
int llm_meta_put(llm_meta *m, struct llm_kv *kv);
/* The same for a key the caller knows is absent (no search). */
int llm_meta_append(llm_meta *m, struct llm_kv *kv);
/* FNV-1a of a NUL-terminated string: the key index's hash, and the GGUF
 * reader's for tensor names. */
uint64_t llm_hash_str(const char *s);
int llm_meta_remove(llm_meta *m, const char *key); /* 0 or LLM_ENOTFOUND */

/* Typed getters: 0 on success; LLM_ENOTFOUND if absent; LLM_EFORMAT if the
 * stored type cannot be converted (integers convert among themselves when
 * the value fits; floats accept any numeric type). */
int llm_meta_get_int(const llm_meta *m, const char *key, int64_t *out);
int llm_meta_get_float(const llm_meta *m, const char *key, double *out);
int llm_meta_get_bool(const llm_meta *m, const char *key, int *out);
/* Borrowed NUL-terminated string (and its length if len != NULL). */
int llm_meta_get_str(const llm_meta *m, const char *key, const char **out, size_t *len);
/* Array: element type, count, borrowed data (struct llm_str[] for strings). */
int llm_meta_get_arr(const llm_meta *m, const char *key, enum llm_vtype *atype,
		     uint64_t *n, const void **data);
/* Convenience with defaults: value of key, or dflt when absent or wrong type. */
int64_t llm_meta_int(const llm_meta *m, const char *key, int64_t dflt);
double llm_meta_float(const llm_meta *m, const char *key, double dflt);
/* Numeric array element i as double (any numeric element type). */
double llm_kv_arr_num(const struct llm_kv *kv, uint64_t i);

#endif
