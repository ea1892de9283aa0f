/* error.c - thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* errbuf = s with control bytes escaped (llm_escape_controls: a name
 * holding a newline keeps the message on one line) and, when the whole
 * does not fit, its middle cut out: the head names the file, the tail
 * says what is wrong (a name of 3000 bytes once left only the file and
 * the name's first bytes). */
static void store(const char *s)
{
	size_t n = llm_escape_controls(NULL, 0, s);
	char *e = n < sizeof errbuf ? NULL : malloc(n + 1);
	if (!e) { /* fits (or no memory: cut at the end) */
		llm_escape_controls(errbuf, sizeof errbuf, s);
		return;
	}
	llm_escape_controls(e, n + 1, s);
	size_t keep = (sizeof errbuf - 6) / 2, h = keep, t = n - keep;
	while (h > 0 && ((unsigned char)e[h] & 0xC0) == 0x80) /* whole UTF-8 characters */
		h--;
	while (t < n && ((unsigned char)e[t] & 0xC0) == 0x80)
		t++;
	memcpy(errbuf, e, h);
	memcpy(errbuf + h, " ... ", 5);
	memcpy(errbuf + h + 5, e + t, n - t + 1);
	free(e);
}

char *llm_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(buf, cap, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	char *p = (size_t)n < cap ? NULL : malloc((size_t)n + 1);
	if (!p)
		return buf; /* fits, or no memory: cut at the end */
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

int llm_err(int code, const char *fmt, ...)
{
	char small[sizeof errbuf];
	va_list ap;
	va_start(ap, fmt);
	char *s = llm_vformat(small, sizeof small, fmt, ap);
	va_end(ap);
	store(s ? s : fmt);
	if (s != small)
		free(s);
	return code;
}

int llm_err_prefix(int code, const char *prefix)
{
	size_t pl = strlen(prefix), ml = strlen(errbuf);
	/* a message that names prefix already ("f.gguf: unit 4: ..." under
	 * a tensor's name) does not name it twice */
	for (const char *p = errbuf; pl && (p = strstr(p, prefix)); p++)
		if ((p == errbuf || p[-1] == ' ') && p[pl] == ':' && p[pl + 1] == ' ')
			return code;
	char *buf = malloc(pl + ml + 3);
	if (!buf) /* no memory: the message as it is */
		return code;
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, ": ", 2);
	memcpy(buf + pl + 2, errbuf, ml + 1);
	store(buf);
	free(buf);
	return code;
}
