/* error.c - thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char errbuf[1024];

const char *llm_errmsg(void) { return errbuf; }

size_t llm_escape_controls(char *dst, size_t cap, const char *src)
{
	size_t j = 0;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		char one[5] = { (char)*p, 0 };
		if (*p < 0x20 || *p == 0x7f)
			snprintf(one, sizeof one, "\\x%02x", *p);
		size_t k = strlen(one);
		if (j + k < cap)
			memcpy(dst + j, one, k);
		else if (j < cap)
			cap = j + 1; /* cut short before this piece, never inside it */
		j += k;
	}
	if (cap)
		dst[j < cap ? j : cap - 1] = 0;
	return j;
}

/* Control characters that came from a file (a name holding a newline)
 * written as \xNN, so that a message stays one line. */
static void escape_controls(void)
{
	char tmp[sizeof errbuf];
	llm_escape_controls(tmp, sizeof tmp, errbuf);
	memcpy(errbuf, tmp, sizeof errbuf);
}

int llm_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	escape_controls();
	return code;
}

int llm_err_prefix(int code, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (pl > sizeof errbuf / 2)
		pl = sizeof errbuf / 2;
	memmove(errbuf + pl + 2, errbuf, sizeof errbuf - pl - 3);
	errbuf[sizeof errbuf - 1] = 0;
	memcpy(errbuf, prefix, pl);
	errbuf[pl] = ':';
	errbuf[pl + 1] = ' ';
	escape_controls();
	return code;
}
