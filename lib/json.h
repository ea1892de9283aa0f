/* json.h - a thin read-only view of parsed JSON (jansson behind it).
 *
 * The one place the library talks to the JSON parser: safetensors headers,
 * config.json, model.safetensors.index.json, adapter_config.json,
 * tokenizer.json and tokenizer_config.json.  Errors become LLM_EFORMAT with
 * "NAME: line L column C: what" so callers never see jansson's types.
 * Integers past 64 bits (Hugging Face's model_max_length) read as reals.
 *
 * Ownership: llm_json_parse/llm_json_load give the caller a tree to free
 * with llm_json_free (NULL is a no-op).  Every other pointer returned here
 * (values, keys, strings) is borrowed from that tree and lives as long as
 * it does.  Accessors are NULL-safe: asking a NULL or wrong-kind value
 * returns NULL / an error, so lookups can be chained.
 */
#ifndef LLM_JSON_H
#define LLM_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct llm_json llm_json; /* one JSON value (opaque) */

enum llm_json_kind {
	LLM_JSON_NONE = 0, /* NULL pointer: absent */
	LLM_JSON_NULL, LLM_JSON_BOOL, LLM_JSON_INT, LLM_JSON_REAL,
	LLM_JSON_STR, LLM_JSON_ARR, LLM_JSON_OBJ,
};

/* Parse len bytes (no NUL needed).  Duplicate object keys and NUL bytes
 * inside strings are rejected.  name is used in the error message. */
int llm_json_parse(llm_json **out, const void *buf, size_t len, const char *name);
/* Read and parse a whole file (LLM_ENOTFOUND when it does not exist). */
int llm_json_load(llm_json **out, const char *path);
void llm_json_free(llm_json *j);

enum llm_json_kind llm_json_kind(const llm_json *j);
/* Member key of an object, or NULL (absent, or j not an object). */
const llm_json *llm_json_get(const llm_json *obj, const char *key);
/* Elements of an array / members of an object (0 for other kinds). */
size_t llm_json_len(const llm_json *j);
/* Element i of an array, or NULL. */
const llm_json *llm_json_at(const llm_json *arr, size_t i);
/* Members of an object in document order:
 *     void *it = NULL; const char *k; const llm_json *v;
 *     while ((k = llm_json_next(obj, &it, &v))) ...
 * Returns the next key (borrowed) and sets *val; NULL at the end (or when
 * obj is not an object).  Do not modify the object while iterating. */
const char *llm_json_next(const llm_json *obj, void **it, const llm_json **val);

/* Scalars: 0 on success, LLM_EFORMAT if j has another kind (no message
 * set: the caller knows which key it asked for and says so). */
int llm_json_int(const llm_json *j, int64_t *out);    /* integers only */
int llm_json_num(const llm_json *j, double *out);     /* integer or real */
int llm_json_bool(const llm_json *j, int *out);
const char *llm_json_str(const llm_json *j);          /* NULL if not a string */

#endif
