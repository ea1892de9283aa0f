/* test_tokenizer.c - tokenizers against llama.cpp's published vectors
 * (../shared/vocab/ggml-vocab-*.gguf with .inp/.out, made by Hugging Face's
 * tokenizers with add_special_tokens=False), decoding round trips, the
 * streaming UTF-8 assembler, and throughput on 1 MB inputs. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "gguf.h"
#include "testutil.h"
#include "tokenizer.h"

/* ---- small helpers ---- */

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap + 1);
	size_t k;
	while (b && (k = fread(b + len, 1, cap - len, f)) > 0) {
		len += k;
		if (len == cap) {
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb) {
				free(b);
				b = NULL;
			}
			b = nb;
		}
	}
	fclose(f);
	if (b) {
		b[len] = 0;
		*n = len;
	}
	return b;
}

struct strs {
	char **s;
	size_t *len;
	size_t n;
};

static void strs_free(struct strs *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->s[i]);
	free(v->s);
	free(v->len);
}

static void strs_add(struct strs *v, const char *s, size_t n)
{
	v->s = realloc(v->s, (v->n + 1) * sizeof *v->s);
	v->len = realloc(v->len, (v->n + 1) * sizeof *v->len);
	v->s[v->n] = malloc(n + 1);
	memcpy(v->s[v->n], s, n);
	v->s[v->n][n] = 0;
	v->len[v->n++] = n;
}

/* .inp: each test string is followed by a line "__ggml_vocab_test__"; the
 * string is everything before that line minus the newline ending it. */
static int read_inp(const char *path, struct strs *v)
{
	static const char sep[] = "__ggml_vocab_test__";
	size_t n;
	char *b = slurp(path, &n);
	if (!b)
		return -1;
	size_t start = 0, line = 0;
	while (line < n) {
		char *nl = memchr(b + line, '\n', n - line);
		size_t end = nl ? (size_t)(nl - b) : n;
		if (end - line == sizeof sep - 1 && memcmp(b + line, sep, sizeof sep - 1) == 0) {
			size_t len = line > start ? line - 1 - start : 0; /* drop the '\n' before sep */
			strs_add(v, b + start, len);
			start = end + 1;
		}
		line = end + 1;
	}
	free(b);
	return 0;
}

/* .out: one line of space-separated ids per test string. */
static int read_out(const char *path, struct strs *v)
{
	size_t n;
	char *b = slurp(path, &n);
	if (!b)
		return -1;
	size_t line = 0;
	while (line < n) {
		char *nl = memchr(b + line, '\n', n - line);
		size_t end = nl ? (size_t)(nl - b) : n;
		strs_add(v, b + line, end - line);
		line = end + 1;
	}
	free(b);
	return 0;
}

/* The ids as the .out files spell them: " 1 2 3" ("" for none). */
static char *ids_line(const int32_t *ids, size_t n)
{
	char *s = malloc(12 * n + 1), *w = s;
	*w = 0;
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, " %d", ids[i]);
	return s;
}

/* Length of the valid UTF-8 prefix of s (strict: no overlongs/surrogates). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!k || i + k > n)
			return i;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return i;
		if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
		    (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
			return i;
		i += k;
	}
	return i;
}

/* Decode ids through llm_token_piece and the UTF-8 stream; *split_chunks
 * counts stream outputs that were not whole valid characters (the input
 * being valid UTF-8, every chunk must be).  Returns malloc'ed text. */
static char *decode(const llm_tokenizer *tk, const int32_t *ids, size_t n, size_t *len, int *split_chunks)
{
	size_t cap = 256, at = 0;
	char *o = malloc(cap);
	struct llm_utf8_stream st = {0};
	char piece[64], *big = NULL;
	int32_t prev = -1;
	*split_chunks = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = llm_token_piece(tk, prev, ids[i], piece, sizeof piece);
		const char *p = piece;
		if (k > sizeof piece) {
			big = realloc(big, k);
			llm_token_piece(tk, prev, ids[i], big, k);
			p = big;
		}
		prev = ids[i];
		while (at + k + 16 > cap)
			o = realloc(o, cap *= 2);
		size_t w = llm_utf8_stream_feed(&st, p, k, o + at);
		if (utf8_valid_prefix((unsigned char *)o + at, w) != w)
			(*split_chunks)++;
		at += w;
	}
	while (at + 16 > cap)
		o = realloc(o, cap *= 2);
	at += llm_utf8_stream_flush(&st, o + at);
	free(big);
	*len = at;
	return o;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the UTF-8 stream on its own ---- */

static void test_stream(void)
{
	struct llm_utf8_stream st = {0};
	char out[64];
	/* "a€b" fed one byte at a time: € (E2 82 AC) comes out whole */
	const char *in = "a\xe2\x82\xac" "b";
	size_t got[5];
	for (int i = 0; i < 5; i++)
		got[i] = llm_utf8_stream_feed(&st, in + i, 1, out);
	CHECK(got[0] == 1 && got[1] == 0 && got[2] == 0 && got[3] == 3 && got[4] == 1 &&
	      memcmp(out, "b", 1) == 0,
	      "utf8 stream holds a split character back", "%zu %zu %zu %zu %zu", got[0], got[1], got[2], got[3], got[4]);
	/* a broken sequence passes through once known broken */
	size_t n = llm_utf8_stream_feed(&st, "\xe2\x28x", 3, out);
	CHECK(n == 3 && memcmp(out, "\xe2\x28x", 3) == 0, "utf8 stream passes invalid bytes", "n=%zu", n);
	/* a stray continuation byte and a 4-byte character across two feeds */
	n = llm_utf8_stream_feed(&st, "\x80\xf0\x9f", 3, out);
	size_t m = llm_utf8_stream_feed(&st, "\x98\x80", 2, out + n);
	CHECK(n == 1 && m == 4 && memcmp(out, "\x80\xf0\x9f\x98\x80", 5) == 0, "utf8 stream 4-byte across feeds",
	      "n=%zu m=%zu", n, m);
	/* an incomplete tail is flushed */
	n = llm_utf8_stream_feed(&st, "\xe4\xb8", 2, out);
	m = llm_utf8_stream_flush(&st, out + n);
	CHECK(n == 0 && m == 2 && st.npend == 0, "utf8 stream flush", "n=%zu m=%zu", n, m);
}

/* ---- one vocabulary file ---- */

static void test_vocab(const char *gguf_path)
{
	char name[200], path[1100];
	const char *base = strrchr(gguf_path, '/');
	base = base ? base + 1 : gguf_path;
	snprintf(name, sizeof name, "%.*s", (int)(strlen(base) - 5), base); /* drop ".gguf" */

	llm_gguf *g = NULL;
	llm_tokenizer *tk = NULL;
	int rc = llm_gguf_open(&g, gguf_path);
	if (rc == 0)
		rc = llm_tokenizer_open(&tk, llm_gguf_meta(g));
	char tname[400];
	snprintf(tname, sizeof tname, "tokenizer open %s", name);
	CHECK(rc == 0, tname, "%s", llm_errmsg());
	if (rc) {
		llm_gguf_free(g);
		return;
	}
	const char *model = NULL;
	llm_meta_get_str(llm_gguf_meta(g), "tokenizer.ggml.model", &model, NULL);
	int is_bpe = model && strcmp(model, "gpt2") == 0;

	struct strs inp = {0}, exp = {0};
	snprintf(path, sizeof path, "%s.inp", gguf_path);
	int ri = read_inp(path, &inp);
	snprintf(path, sizeof path, "%s.out", gguf_path);
	int ro = read_out(path, &exp);
	snprintf(tname, sizeof tname, "vectors %s", name);
	CHECK(ri == 0 && ro == 0 && inp.n == exp.n && inp.n > 0, tname, "%zu inputs, %zu outputs", inp.n, exp.n);
	if (ri || ro || inp.n != exp.n)
		goto done;

	size_t match = 0, trips = 0, splits = 0, shown = 0;
	for (size_t i = 0; i < inp.n; i++) {
		int32_t *ids = NULL;
		size_t n = 0;
		if (llm_tokenize(tk, inp.s[i], inp.len[i], 0, &ids, &n) != 0) {
			printf("# %s[%zu]: %s\n", name, i, llm_errmsg());
			continue;
		}
		char *line = ids_line(ids, n);
		if (strcmp(line, exp.s[i]) == 0)
			match++;
		else if (shown++ < 3)
			printf("# %s[%zu] \"%s\"\n#   want%s\n#   got %s\n", name, i, inp.s[i], exp.s[i], line);
		free(line);
		/* decoding gives the text back (SPM: its added leading space is
		 * dropped after BOS/at the start, so the input comes back too) */
		size_t dl;
		int sc;
		char *text = decode(tk, ids, n, &dl, &sc);
		if (dl == inp.len[i] && memcmp(text, inp.s[i], dl) == 0)
			trips++;
		else if (shown++ < 3)
			printf("# %s[%zu] decodes to \"%.*s\"\n", name, i, (int)dl, text);
		splits += (size_t)sc;
		free(text);
		free(ids);
	}
	snprintf(tname, sizeof tname, "tokenize %s (%zu/%zu lines match)", name, match, inp.n);
	CHECK(match == inp.n, tname, "%zu lines differ", inp.n - match);
	snprintf(tname, sizeof tname, "decode %s (%zu/%zu round trips)", name, trips, inp.n);
	CHECK(trips == inp.n, tname, "%zu texts do not come back", inp.n - trips);
	snprintf(tname, sizeof tname, "utf8 stream %s never splits a character", name);
	CHECK(splits == 0, tname, "%zu chunks ended inside a character", splits);

	/* add_bos puts BOS first */
	int32_t *ids = NULL;
	size_t n = 0;
	int32_t bos = llm_tokenizer_bos(tk);
	if (bos >= 0 && llm_tokenize(tk, "Hello", 5, 1, &ids, &n) == 0) {
		snprintf(tname, sizeof tname, "add_bos %s", name);
		CHECK(n >= 2 && ids[0] == bos, tname, "n=%zu first=%d", n, n ? ids[0] : -1);
		free(ids);
	}

	/* arbitrary bytes (invalid UTF-8 included) come back byte for byte,
	 * drawn from the bytes the vocabulary can spell alone (falcon has no
	 * token for 0x0B; deepseek-coder's tokens for bytes that never occur in
	 * UTF-8 are user-defined "ü"... that decode as written) */
	{
		unsigned char ok_byte[256];
		int n_ok = 0;
		for (int b = 0; b < 256; b++) {
			char c = (char)b, piece[64];
			int32_t *one = NULL;
			size_t n1 = 0;
			int good = 0;
			if (b != 0xE2 && llm_tokenize(tk, &c, 1, 0, &one, &n1) == 0) {
				size_t at1 = 0;
				for (size_t j = 0; j < n1; j++)
					at1 += llm_token_piece(tk, j ? one[j - 1] : -1, one[j], piece + at1, sizeof piece - at1);
				good = at1 == 1 && piece[0] == c;
			}
			free(one);
			if (good)
				ok_byte[n_ok++] = (unsigned char)b;
		}
		printf("# %s: %d of 256 bytes spelled alone\n", name, n_ok);
		size_t rn = 1 << 15;
		char *rnd = malloc(rn);
		uint64_t x = 0x9E3779B97F4A7C15ull;
		for (size_t i = 0; i < rn; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			rnd[i] = (char)ok_byte[(x >> 24) % (uint64_t)n_ok];
		}
		rc = llm_tokenize(tk, rnd, rn, 0, &ids, &n);
		size_t dl = 0;
		int sc;
		char *text = rc == 0 ? decode(tk, ids, n, &dl, &sc) : NULL;
		snprintf(tname, sizeof tname, "random bytes round trip %s", name);
		CHECK(rc == 0 && dl == rn && memcmp(text, rnd, rn) == 0, tname, "rc=%d %zu bytes back of %zu", rc, dl, rn);
		free(text);
		free(ids);
		free(rnd);
	}

	/* throughput: 1 MB made of the test strings, and 1 MB without a
	 * single space (one huge pre-token / one long SPM run) */
	size_t total = 1 << 20, at = 0;
	char *big = malloc(total);
	for (size_t i = 0; at < total; i = (i + 1) % inp.n) {
		size_t k = inp.len[i] + 1 < total - at ? inp.len[i] + 1 : total - at;
		memcpy(big + at, inp.s[i], k > inp.len[i] ? inp.len[i] : k);
		if (k > inp.len[i])
			big[at + inp.len[i]] = '\n';
		at += k;
	}
	while (at > 0 && (unsigned char)big[at - 1] >= 0x80) /* do not end inside a character */
		at--;
	double t0 = now();
	rc = llm_tokenize(tk, big, at, 0, &ids, &n);
	double t1 = now();
	printf("# %s: 1 MB of test text -> %zu tokens in %.3f s (%.1f MB/s)\n", name, n, t1 - t0,
	       at / 1048576.0 / (t1 - t0));
	snprintf(tname, sizeof tname, "throughput %s text", name);
	/* generous bound: only an O(n^2) path can miss it */
	CHECK(rc == 0 && t1 - t0 < 5.0, tname, "rc=%d %.2f s", rc, t1 - t0);
	free(ids);
	for (size_t i = 0; i < total; i++)
		big[i] = "abcdefgh"[(i * 7 + i / 13) % 8];
	t0 = now();
	rc = llm_tokenize(tk, big, total, 0, &ids, &n);
	t1 = now();
	printf("# %s: 1 MB without spaces -> %zu tokens in %.3f s\n", name, n, t1 - t0);
	snprintf(tname, sizeof tname, "throughput %s one long word", name);
	CHECK(rc == 0 && t1 - t0 < 5.0, tname, "rc=%d %.2f s", rc, t1 - t0);
	free(ids);
	free(big);
	(void)is_bpe;
done:
	strs_free(&inp);
	strs_free(&exp);
	llm_tokenizer_free(tk);
	llm_gguf_free(g);
}

int main(void)
{
	test_stream();

	char pat[1100];
	snprintf(pat, sizeof pat, "%s/vocab/ggml-vocab-*.gguf", test_shared());
	glob_t gl;
	if (glob(pat, 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
		SKIP("tokenizer vectors", "no ../shared/vocab/ggml-vocab-*.gguf (set LLM_SHARED)");
		return test_done();
	}
	for (size_t i = 0; i < gl.gl_pathc; i++)
		test_vocab(gl.gl_pathv[i]);
	globfree(&gl);
	return test_done();
}
