/* error.h - error codes and the one-line detail message.
 *
 * Library functions that can fail return 0 or a negative LLM_E* code and
 * leave one line of detail (no trailing newline) for llm_errmsg().  The
 * message is thread-local; it names the file and what is wrong where the
 * library knows them.  The library never prints and never exits.
 */
#ifndef LLM_ERROR_H
#define LLM_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum {
	LLM_OK = 0,
	LLM_EIO = -1,          /* read/write/open failed (errno-level) */
	LLM_EFORMAT = -2,      /* input is malformed or truncated */
	LLM_ENOMEM = -3,       /* allocation failed */
	LLM_EINVAL = -4,       /* bad argument from the caller */
	LLM_EUNSUPPORTED = -5, /* valid input we do not handle */
	LLM_ENOTFOUND = -6,    /* key, tensor or file absent */
	LLM_EGIT = -7,         /* libgit2 failure */
};

/* The detail of the last failure in this thread ("" if none). Borrowed. */
const char *llm_errmsg(void);

/* Record a printf-style message and return code (for `return llm_err(...)`). */
int llm_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (e.g. a file name), unless it
 * names prefix so already (at its start or after a blank). Returns code. */
int llm_err_prefix(int code, const char *prefix);

/* src with each control byte (below 0x20, and 0x7f) written \xNN, so that
 * text from a file (a name holding a newline or an escape sequence) stays
 * on one line and harmless on a terminal: into dst (cap bytes, always
 * NUL-terminated when cap > 0, cut short at a whole piece if need be).
 * Returns the length of the whole, as snprintf does.  Every message
 * llm_err and llm_err_prefix record is escaped so. */
size_t llm_escape_controls(char *dst, size_t cap, const char *src);

/* fmt expanded with ap: into buf (cap bytes) when it fits, else into
 * malloc'ed memory (the caller frees what is not buf), or cut short in buf
 * when there is no memory; NULL when fmt cannot be expanded. */
char *llm_vformat(char *buf, size_t cap, const char *fmt, va_list ap);

#endif
