/* unicode.c - UTF-8 helpers and GPT-2's byte map (see unicode.h). */
#include "unicode.h"

size_t llm_utf8_lead_len(unsigned char c)
{
	static const uint8_t t[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
	return t[c >> 4];
}

int llm_utf8_seq_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

int llm_utf8_may_follow(const unsigned char *p, int np, unsigned char c)
{
	if ((c & 0xC0) != 0x80)
		return 0;
	if (np == 1) { /* the second byte narrows the range (Unicode table 3-7) */
		if (p[0] == 0xE0)
			return c >= 0xA0;
		if (p[0] == 0xED)
			return c <= 0x9F;
		if (p[0] == 0xF0)
			return c >= 0x90;
		if (p[0] == 0xF4)
			return c <= 0x8F;
	}
	return 1;
}

size_t llm_utf8_encode(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t llm_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	int k = llm_utf8_seq_len(s[0]);
	if (k == 0 || (size_t)k > n)
		return 0;
	uint32_t c = k == 1 ? s[0] : s[0] & (0x7Fu >> k);
	for (int i = 1; i < k; i++) {
		if (!llm_utf8_may_follow(s, i, s[i]))
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	*cp = c;
	return (size_t)k;
}

size_t llm_utf8_valid_len(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;
	while (i < n && (k = (unsigned char)s[i] < 0x80 ? 1 : llm_utf8_decode(s + i, n - i, &cp)))
		i += k;
	return i;
}

/* llama.cpp's unicode_cpt_from_utf8: the code point at s (n > 0) by the
 * lead byte's announced length, continuation bytes checked but not the
 * range; its length, or 0 (invalid). */
static size_t lenient(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t k = s[0] < 0x80 ? 1 : !(s[0] & 0x40) ? 0 : !(s[0] & 0x20) ? 2 : !(s[0] & 0x10) ? 3
		 : !(s[0] & 0x08) ? 4 : 0;
	if (k == 0 || k > n)
		return 0;
	uint32_t c = k == 1 ? s[0] : s[0] & (0x7Fu >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	*cp = c;
	return k;
}

size_t llm_utf8_as_llama(char *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t m = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = lenient(s + i, n - i, &cp);
		if (k == 0 || cp > 0x10FFFF)
			cp = 0xFFFD, k = k ? k : 1;
		m += llm_utf8_encode(out + m, cp);
		i += k;
	}
	return m;
}

/* Bytes GPT-2 keeps as their own character. */
static int gpt2_printable(int b)
{
	return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t llm_gpt2_byte_cp(int b)
{
	if (gpt2_printable(b))
		return (uint32_t)b;
	uint32_t cp = 256;
	for (int c = 0; c < b; c++)
		cp += !gpt2_printable(c);
	return cp;
}

int llm_gpt2_cp_byte(uint32_t cp)
{
	if (cp < 256)
		return gpt2_printable((int)cp) ? (int)cp : -1;
	if (cp >= 256 + 68)
		return -1;
	uint32_t k = cp - 256;
	for (int c = 0; c < 256; c++)
		if (!gpt2_printable(c) && k-- == 0)
			return c;
	return -1;
}
