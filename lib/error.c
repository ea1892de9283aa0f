/* error.c - thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char errbuf[1024];

const char *llm_errmsg(void) { return errbuf; }

int llm_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
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
	return code;
}
