/* regex.h - the one door to PCRE2: UTF-8 regexes with Unicode properties,
 * used by the BPE pre-tokenizers (\p{L}, \p{N}, \p{P}, ...), PEFT's
 * target_modules and rank/alpha patterns, and llm-svd-delta's tensor
 * filters.
 *
 * Patterns are compiled in UTF mode with UCP (so \d, \w, \b and POSIX
 * classes follow Unicode), DOLLAR_ENDONLY ($ means the end of the subject,
 * as in ECMAScript, not "before a final newline") and MATCH_INVALID_UTF:
 * subjects may hold invalid UTF-8, which no pattern character ever
 * matches, so such bytes end up in the gaps between matches.  JIT is used
 * when PCRE2 has it.
 *
 * A compiled llm_regex is immutable and may be shared between threads;
 * every matching call allocates its own match data.
 */
#ifndef LLM_REGEX_H
#define LLM_REGEX_H

#include <stddef.h>

typedef struct llm_regex llm_regex;

/* Compile pattern (NUL-terminated UTF-8).  On a bad pattern returns
 * LLM_EINVAL with llm_errmsg() "bad regex 'PATTERN': PCRE2's message at
 * offset N". */
int llm_regex_compile(llm_regex **out, const char *pattern);
void llm_regex_free(llm_regex *re); /* NULL is a no-op */

/* How llm_regex_match anchors: a match anywhere (Python's re.search),
 * one that starts at the start (re.match), or one of the whole subject
 * (re.fullmatch). */
enum { LLM_RE_SEARCH, LLM_RE_START, LLM_RE_FULL };

/* Does re match s[0..n) as mode asks?  1 yes, 0 no, negative on an error
 * (out of memory, a match limit). */
int llm_regex_match(const llm_regex *re, const char *s, size_t n, int mode);

/* Split, llama.cpp style: text is cut into consecutive pieces of the given
 * byte lengths (n_in of them, adding up to the text's length); within each
 * piece, taken as a subject of its own (lookarounds and $ do not see past
 * it), every match of re becomes a piece and so does every non-empty gap
 * between matches.  Empty matches are skipped.  Nothing is dropped: the
 * output lengths add up to the same total.
 * *lens_out is malloc'ed (caller frees), *n_out its count. */
int llm_regex_split(const llm_regex *re, const char *text, const size_t *lens_in,
		    size_t n_in, size_t **lens_out, size_t *n_out);

#endif
