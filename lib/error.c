/* error.c - thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char errbuf[1024];

const char *llm_errmsg(void) { return errbuf; }

/* Control characters that came from a file (a name holding a newline)
 * written as \xNN, so that a message stays one line. */
static void escape_controls(void)
{
	char tmp[sizeof errbuf];
	size_t j = 0;
	int any = 0;
	for (const unsigned char *p = (const unsigned char *)errbuf; *p; p++)
		any |= *p < 0x20 || *p == 0x7f;
	if (!any)
		return;
	for (const unsigned char *p = (const unsigned char *)errbuf; *p && j + 5 < sizeof tmp; p++) {
		if (*p < 0x20 || *p == 0x7f)
			j += (size_t)snprintf(tmp + j, sizeof tmp - j, "\\x%02x", *p);
		else
			tmp[j++] = (char)*p;
	}
	tmp[j] = 0;
	memcpy(errbuf, tmp, j + 1);
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
