/* regex.c - PCRE2 behind llm_regex: compile once, split or match many
 * times.
 * PCRE2's error codes and messages are turned into LLM_E* here and nowhere
 * else. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

#include "error.h"
#include "regex.h"

struct llm_regex {
	pcre2_code *code;
};

int llm_regex_compile(llm_regex **out, const char *pattern)
{
	*out = NULL;
	llm_regex *re = calloc(1, sizeof *re);
	if (!re)
		return llm_err(LLM_ENOMEM, "regex: out of memory");
	int errcode;
	PCRE2_SIZE erroff;
	uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF;
	re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
				 &errcode, &erroff, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof msg);
		free(re);
		return llm_err(LLM_EINVAL, "bad regex '%s': %s at offset %zu", pattern, (char *)msg,
			       (size_t)erroff);
	}
	/* JIT is an optimisation only: without it pcre2_match interprets. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	*out = re;
	return 0;
}

void llm_regex_free(llm_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}

/* Growable array of piece lengths. */
struct lens {
	size_t *v, n, cap;
};

static int lens_push(struct lens *l, size_t x)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		size_t *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return llm_err(LLM_ENOMEM, "regex: out of memory");
		l->v = v, l->cap = cap;
	}
	l->v[l->n++] = x;
	return 0;
}

/* Byte length of the UTF-8 character starting at s[0] (1 for a byte that
 * does not start a valid sequence), clipped to n. */
static size_t char_len(const unsigned char *s, size_t n)
{
	size_t k = s[0] < 0xC0 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF8 ? 4 : 1;
	return k < n ? k : n;
}

/* One match attempt; falls back to the interpreter when the JIT stack is
 * too small for this subject.  Returns pcre2_match's result. */
static int match_once(const llm_regex *re, const char *s, size_t n, size_t start, uint32_t opts,
		      pcre2_match_data *md)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, start, opts, md, NULL);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, start, opts | PCRE2_NO_JIT, md, NULL);
	return rc;
}

/* A failed match other than "no match" (a limit reached) as LLM_EINVAL. */
static int match_error(int rc)
{
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(rc, msg, sizeof msg);
	return llm_err(LLM_EINVAL, "regex: match failed: %s", (char *)msg);
}

/* Split one piece s[0..n) into out. */
static int split_piece(const llm_regex *re, const char *s, size_t n, pcre2_match_data *md,
		       struct lens *out)
{
	size_t pos = 0, done = 0; /* pos: where to search; done: end of last emitted */
	while (pos < n) {
		int rc = match_once(re, s, n, pos, 0, md);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return match_error(rc);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t a = ov[0], b = ov[1];
		if (b <= a) { /* empty match: step over one character */
			pos = a + char_len((const unsigned char *)s + a, n - a);
			continue;
		}
		if (a > done && lens_push(out, a - done))
			return LLM_ENOMEM;
		if (lens_push(out, b - a))
			return LLM_ENOMEM;
		done = pos = b;
	}
	if (n > done && lens_push(out, n - done))
		return LLM_ENOMEM;
	return 0;
}

int llm_regex_split(const llm_regex *re, const char *text, const size_t *lens_in,
		    size_t n_in, size_t **lens_out, size_t *n_out)
{
	*lens_out = NULL;
	*n_out = 0;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!md)
		return llm_err(LLM_ENOMEM, "regex: out of memory");
	struct lens out = {0};
	int rc = 0;
	size_t off = 0;
	for (size_t i = 0; i < n_in && rc == 0; i++) {
		rc = split_piece(re, text + off, lens_in[i], md, &out);
		off += lens_in[i];
	}
	pcre2_match_data_free(md);
	if (rc) {
		free(out.v);
		return rc;
	}
	*lens_out = out.v;
	*n_out = out.n;
	return 0;
}

int llm_regex_match(const llm_regex *re, const char *s, size_t n, int mode)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!md)
		return llm_err(LLM_ENOMEM, "regex: out of memory");
	uint32_t opts = mode == LLM_RE_FULL ? PCRE2_ANCHORED | PCRE2_ENDANCHORED
		      : mode == LLM_RE_START ? PCRE2_ANCHORED : 0;
	int rc = match_once(re, s, n, 0, opts, md);
	pcre2_match_data_free(md);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : match_error(rc);
}
