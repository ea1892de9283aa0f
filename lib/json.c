/* json.c - jansson behind llm_json (see json.h).  An llm_json * is a
 * json_t * in disguise; the casts stay in this file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "io.h"
#include "json.h"

#define J(x) ((json_t *)(x))
#define CJ(x) ((const json_t *)(x))

static void ints_back(json_t *j);

/* v as an integer when it is a real that a double holds exactly as one
 * (NULL otherwise, after turning its own members back: ints_back) */
static json_t *int_back(json_t *v)
{
	double d = json_is_real(v) ? json_real_value(v) : 0.5;
	if (d == floor(d) && fabs(d) <= 9007199254740992.0)
		return json_integer((json_int_t)d);
	ints_back(v);
	return NULL;
}

/* After a parse with every number as a real: the integral ones that a
 * double holds exactly back to integers. */
static void ints_back(json_t *j)
{
	json_t *n;
	if (json_is_object(j)) {
		for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it))
			if ((n = int_back(json_object_iter_value(it))))
				json_object_iter_set_new(j, it, n);
	} else if (json_is_array(j)) {
		for (size_t i = 0; i < json_array_size(j); i++)
			if ((n = int_back(json_array_get(j, i))))
				json_array_set_new(j, i, n);
	}
}

int llm_json_parse(llm_json **out, const void *buf, size_t len, const char *name)
{
	json_error_t e;
	json_t *j;

	*out = NULL;
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	/* Integers past 64 bits (Hugging Face writes model_max_length as
	 * 1000000000000000019884624838656) are taken as reals: parsed again
	 * with every number a real, then those a double holds exactly turned
	 * back into integers. */
	if (!j && strstr(e.text, "too big integer")) {
		j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &e);
		if (j)
			ints_back(j);
	}
	if (!j)
		return llm_err(LLM_EFORMAT, "%s: bad JSON at line %d column %d: %s", name, e.line,
			       e.column, e.text);
	*out = (llm_json *)j;
	return 0;
}

int llm_json_load(llm_json **out, const char *path)
{
	struct llm_map m;
	int rc;

	*out = NULL;
	if ((rc = llm_map_open(&m, path)))
		return rc;
	rc = llm_json_parse(out, m.data, (size_t)m.size, path);
	llm_map_close(&m);
	return rc;
}

void llm_json_free(llm_json *j)
{
	if (j)
		json_decref(J(j));
}

enum llm_json_kind llm_json_kind(const llm_json *j)
{
	if (!j)
		return LLM_JSON_NONE;
	switch (json_typeof(CJ(j))) {
	case JSON_OBJECT: return LLM_JSON_OBJ;
	case JSON_ARRAY: return LLM_JSON_ARR;
	case JSON_STRING: return LLM_JSON_STR;
	case JSON_INTEGER: return LLM_JSON_INT;
	case JSON_REAL: return LLM_JSON_REAL;
	case JSON_TRUE:
	case JSON_FALSE: return LLM_JSON_BOOL;
	case JSON_NULL: return LLM_JSON_NULL;
	}
	return LLM_JSON_NONE;
}

const llm_json *llm_json_get(const llm_json *obj, const char *key)
{
	if (!obj || !json_is_object(CJ(obj)))
		return NULL;
	return (const llm_json *)json_object_get(CJ(obj), key);
}

size_t llm_json_len(const llm_json *j)
{
	if (!j)
		return 0;
	if (json_is_array(CJ(j)))
		return json_array_size(CJ(j));
	if (json_is_object(CJ(j)))
		return json_object_size(CJ(j));
	return 0;
}

const llm_json *llm_json_at(const llm_json *arr, size_t i)
{
	if (!arr || !json_is_array(CJ(arr)))
		return NULL;
	return (const llm_json *)json_array_get(CJ(arr), i);
}

const char *llm_json_next(const llm_json *obj, void **it, const llm_json **val)
{
	*val = NULL;
	if (!obj || !json_is_object(CJ(obj)))
		return NULL;
	/* jansson's iterator functions take a non-const object but do not
	 * modify it. */
	*it = *it ? json_object_iter_next(J(obj), *it) : json_object_iter(J(obj));
	if (!*it)
		return NULL;
	*val = (const llm_json *)json_object_iter_value(*it);
	return json_object_iter_key(*it);
}

int llm_json_int(const llm_json *j, int64_t *out)
{
	if (!j || !json_is_integer(CJ(j)))
		return LLM_EFORMAT;
	*out = (int64_t)json_integer_value(CJ(j));
	return 0;
}

int llm_json_num(const llm_json *j, double *out)
{
	if (!j || !json_is_number(CJ(j)))
		return LLM_EFORMAT;
	*out = json_number_value(CJ(j));
	return 0;
}

int llm_json_bool(const llm_json *j, int *out)
{
	if (!j || !json_is_boolean(CJ(j)))
		return LLM_EFORMAT;
	*out = json_is_true(CJ(j));
	return 0;
}

const char *llm_json_str(const llm_json *j)
{
	if (!j || !json_is_string(CJ(j)))
		return NULL;
	return json_string_value(CJ(j));
}
