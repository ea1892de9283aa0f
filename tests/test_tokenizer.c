/* test_tokenizer.c - tokenizers against llama.cpp's published vectors
 * (../shared/vocab/ggml-vocab-*.gguf with .inp/.out, made by Hugging Face's
 * tokenizers with add_special_tokens=False), decoding round trips, the
 * streaming UTF-8 assembler, and throughput on 1 MB inputs. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt.h"
#include "error.h"
#include "gguf.h"
#include "meta.h"
#include "regex.h"
#include "testutil.h"
#include "tokenizer.h"
#include "unicode.h"

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
		if (!llm_token_is_control(tk, ids[i]))
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

/* ---- unicode helpers ---- */

static void test_unicode(void)
{
	int bad = 0;
	for (int b = 0; b < 256; b++)
		bad += llm_gpt2_cp_byte(llm_gpt2_byte_cp(b)) != b;
	CHECK(bad == 0 && llm_gpt2_byte_cp(' ') == 0x120 && llm_gpt2_byte_cp('\n') == 0x10A &&
	      llm_gpt2_byte_cp('A') == 'A' && llm_gpt2_byte_cp(0xAD) == 0x143 && llm_gpt2_cp_byte(0x144) == -1,
	      "gpt-2 byte map", "%d bytes do not come back", bad);
	uint32_t cp = 0;
	char e[4];
	CHECK(llm_utf8_decode("\xe2\x82\xac", 3, &cp) == 3 && cp == 0x20AC && llm_utf8_encode(e, 0x1F600) == 4 &&
	      memcmp(e, "\xf0\x9f\x98\x80", 4) == 0,
	      "utf8 decode/encode", "cp=%x", cp);
	CHECK(llm_utf8_decode("\xc0\xaf", 2, &cp) == 0 && llm_utf8_decode("\xed\xa0\x80", 3, &cp) == 0 &&
	      llm_utf8_decode("\xf4\x90\x80\x80", 4, &cp) == 0 && llm_utf8_decode("\xe2\x82", 2, &cp) == 0,
	      "utf8 decode rejects overlong, surrogate, too large, truncated", "accepted");
}

/* ---- regex splitting (llama.cpp semantics: matches and gaps) ---- */

static int split_is(const char *pat, const char *text, size_t len, const char *const *want, size_t n_want)
{
	llm_regex *re;
	if (llm_regex_compile(&re, pat) != 0) {
		printf("# /%s/: %s\n", pat, llm_errmsg());
		return 0;
	}
	size_t *lens, n, one = len;
	int ok = llm_regex_split(re, text, &one, 1, &lens, &n) == 0 && n == n_want;
	size_t off = 0;
	for (size_t i = 0; ok && i < n; i++) {
		ok = lens[i] == strlen(want[i]) && memcmp(text + off, want[i], lens[i]) == 0;
		off += lens[i];
	}
	if (!ok) {
		printf("# /%s/ on \"%s\":", pat, text);
		off = 0;
		for (size_t i = 0; i < n; i++, off += lens[i - 1])
			printf(" [%.*s]", (int)lens[i], text + off);
		printf("\n");
	}
	free(lens);
	llm_regex_free(re);
	return ok;
}

static void test_regex(void)
{
	static const char *gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
	const char *w1[] = {"Hello", " world", "'s", " ", " 123", "!"};
	CHECK(split_is(gpt2, "Hello world's  123!", 19, w1, 6), "regex split gpt-2 pattern", "see above");
	const char *w2[] = {"ab", "1", "2", "c"};
	CHECK(split_is("\\p{N}", "ab12c", 5, w2, 4), "regex split keeps gaps", "see above");
	const char *w3[] = {"1\n"};
	CHECK(split_is("\\d$", "1\n", 2, w3, 1), "regex $ is the end only", "see above");
	const char *w4[] = {"ab", "\xff", "c\xc3\xa9"};
	CHECK(split_is("\\p{L}+", "ab\xff" "c\xc3\xa9", 6, w4, 3), "regex over invalid UTF-8", "see above");
	const char *w5[] = {"\xd0\x9f\xd1\x80\xd0\xb8", " ", "\xe4\xbd\xa0"};
	CHECK(split_is("\\p{L}+", "\xd0\x9f\xd1\x80\xd0\xb8 \xe4\xbd\xa0", 10, w5, 3), "regex \\p{L} is Unicode",
	      "see above");
	llm_regex *re;
	CHECK(llm_regex_compile(&re, "(unclosed") == LLM_EINVAL && strstr(llm_errmsg(), "unclosed"),
	      "regex reports a bad pattern", "%s", llm_errmsg());
	/* Python's re.search / re.match / re.fullmatch */
	if (llm_regex_compile(&re, "q_proj|v_proj") == 0) {
		const char *name = "model.layers.0.self_attn.q_proj";
		size_t n = strlen(name);
		CHECK(llm_regex_match(re, name, n, LLM_RE_SEARCH) == 1, "regex search finds a match inside", "%s", llm_errmsg());
		CHECK(llm_regex_match(re, name, n, LLM_RE_START) == 0, "regex start mode is anchored", "%s", llm_errmsg());
		CHECK(llm_regex_match(re, name, n, LLM_RE_FULL) == 0, "regex full mode needs the whole", "%s", llm_errmsg());
		CHECK(llm_regex_match(re, "v_proj", 6, LLM_RE_FULL) == 1, "regex full mode: an alternative whole", "%s", llm_errmsg());
		CHECK(llm_regex_match(re, "v_proj_x", 8, LLM_RE_START) == 1 &&
			      llm_regex_match(re, "v_proj_x", 8, LLM_RE_FULL) == 0,
		      "regex start against full", "%s", llm_errmsg());
		CHECK(llm_regex_match(re, "x\xffq_proj", 8, LLM_RE_SEARCH) == 1, "regex search over invalid UTF-8", "%s", llm_errmsg());
		llm_regex_free(re);
	} else {
		CHECK(0, "regex compiles q_proj|v_proj", "%s", llm_errmsg());
	}
}

/* ---- tiny hand-made vocabularies: the algorithms on known answers ---- */

static void set_tokens(llm_meta *m, const char *const *tok, size_t n)
{
	struct llm_str *s = malloc(n * sizeof *s);
	for (size_t i = 0; i < n; i++)
		s[i] = (struct llm_str){strlen(tok[i]), (char *)tok[i]};
	llm_meta_set_arr_str(m, "tokenizer.ggml.tokens", s, n);
	free(s);
}

static int ids_are(const llm_tokenizer *tk, const char *text, unsigned flags, const int32_t *want, size_t n_want)
{
	int32_t *ids;
	size_t n;
	if (llm_tokenize(tk, text, strlen(text), flags, &ids, &n) != 0)
		return 0;
	int ok = n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
	if (!ok) {
		printf("# \"%s\" ->", text);
		for (size_t i = 0; i < n; i++)
			printf(" %d", ids[i]);
		printf("\n");
	}
	free(ids);
	return ok;
}

static int piece_is(const llm_tokenizer *tk, int32_t prev, int32_t id, const char *want)
{
	char buf[64];
	size_t n = llm_token_piece(tk, prev, id, buf, sizeof buf);
	return n == strlen(want) && memcmp(buf, want, n) == 0;
}

static void test_spm_small(void)
{
	/* 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then pieces */
	const char *tok[300];
	char bytes[256][8];
	float score[300];
	int32_t type[300];
	size_t n = 0;
	tok[n] = "<unk>", type[n] = 2, score[n++] = 0;
	tok[n] = "<s>", type[n] = 3, score[n++] = 0;
	tok[n] = "</s>", type[n] = 3, score[n++] = 0;
	for (int b = 0; b < 256; b++) {
		snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
		tok[n] = bytes[b], type[n] = 6, score[n++] = 0;
	}
	const char *pieces[] = {"\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81\141" /* ▁a */, "ab", "bc", "abc", "aa", "<x>"};
	const float sc[] = {-1, -5, -5, -5, -3, -1, -2, -0.5f, -1, 0};
	int32_t base = (int32_t)n; /* 259 */
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
		tok[n] = pieces[i], type[n] = i == 9 ? 4 : 1, score[n++] = sc[i];
	llm_meta m;
	llm_meta_init(&m);
	llm_meta_set_str(&m, "tokenizer.ggml.model", "llama");
	set_tokens(&m, tok, n);
	llm_meta_set_arr(&m, "tokenizer.ggml.scores", LLM_V_F32, score, n);
	llm_meta_set_arr(&m, "tokenizer.ggml.token_type", LLM_V_I32, type, n);
	llm_tokenizer *tk;
	int rc = llm_tokenizer_open(&tk, &m);
	llm_meta_clear(&m);
	CHECK(rc == 0, "spm small open", "%s", llm_errmsg());
	if (rc)
		return;
	int32_t SP = base, A = base + 1, SPA = base + 4, ABC = base + 7, AA = base + 8, X = base + 9;
	/* "▁abc": best pair "ab" (-1) beats "▁a" (-3) and "bc" (-2); then "abc" */
	CHECK(ids_are(tk, "abc", 0, (int32_t[]){SP, ABC}, 2), "spm merges by best score", "see above");
	/* equal scores: the leftmost pair goes first */
	CHECK(ids_are(tk, "aaa", 0, (int32_t[]){SP, AA, A}, 3), "spm ties go leftmost", "see above");
	/* "é" is no piece: its bytes */
	CHECK(ids_are(tk, "\xc3\xa9", 0, (int32_t[]){SP, 3 + 0xC3, 3 + 0xA9}, 3), "spm byte fallback", "see above");
	/* a broken sequence is cut as long as its lead byte says, the bytes
	 * after it swallowed (llama.cpp: "\xe2ab" is 3 byte tokens, and
	 * "\xe2 a" takes the first two bytes of the space's U+2581 along) */
	CHECK(ids_are(tk, "\xe2" "ab", 0, (int32_t[]){SP, 3 + 0xE2, 3 + 'a', 3 + 'b'}, 4) &&
	      ids_are(tk, "\xe2 a", 0, (int32_t[]){SP, 3 + 0xE2, 3 + 0xE2, 3 + 0x96, 3 + 0x81, A}, 6) &&
	      ids_are(tk, "a\xff", 0, (int32_t[]){SPA, 3 + 0xFF}, 2),
	      "spm invalid UTF-8 cut by lead bytes", "see above");
	CHECK(ids_are(tk, "a", 1, (int32_t[]){1, SPA}, 2), "spm add_bos and space prefix", "see above");
	CHECK(ids_are(tk, "", 0, NULL, 0) && ids_are(tk, "", 1, (int32_t[]){1}, 1), "spm empty text", "see above");
	CHECK(ids_are(tk, "a", LLM_TOKENIZE_BOS | LLM_TOKENIZE_EOS, (int32_t[]){1, SPA, 2}, 3) &&
	      ids_are(tk, "", LLM_TOKENIZE_EOS, (int32_t[]){2}, 1) && !llm_tokenizer_add_eos(tk),
	      "spm EOS flag (add_eos_token false by default)", "see above");
	/* a user-defined piece is cut out first; the text after it gets its own prefix */
	CHECK(ids_are(tk, "a<x>a", 0, (int32_t[]){SPA, X, SPA}, 3), "spm user-defined token", "see above");
	/* control and unknown text: plain text, or (parse special) the tokens,
	 * each run of text after them with its space prefix as after <x> */
	CHECK(ids_are(tk, "<s>a", 0, (int32_t[]){SP, 3 + '<', 3 + 's', 3 + '>', A}, 5) &&
	      ids_are(tk, "<s>a</s><unk>", LLM_TOKENIZE_SPECIAL, (int32_t[]){1, SPA, 2, 0}, 4) &&
	      ids_are(tk, "a<s>", LLM_TOKENIZE_BOS | LLM_TOKENIZE_SPECIAL, (int32_t[]){1, SPA, 1}, 3) &&
	      ids_are(tk, "<x></s", LLM_TOKENIZE_SPECIAL, (int32_t[]){X, SP, 3 + '<', 3 + '/', 3 + 's'}, 5),
	      "spm special-token parsing", "see above");
	CHECK(llm_tokenizer_add_bos(tk) == 1 && llm_tokenizer_bos(tk) == 1 && llm_tokenizer_eos(tk) == 2 &&
	      llm_tokenizer_is_eog(tk, 2) && !llm_tokenizer_is_eog(tk, A),
	      "spm defaults", "add_bos=%d bos=%d", llm_tokenizer_add_bos(tk), llm_tokenizer_bos(tk));
	CHECK(piece_is(tk, -1, SPA, "a") && piece_is(tk, 1, SPA, " a") && piece_is(tk, A, SPA, " a") &&
	      piece_is(tk, A, 3 + '\n', "\n") && piece_is(tk, A, 1, "") && piece_is(tk, A, X, "<x>"),
	      "spm pieces", "wrong piece");
	char small[2];
	CHECK(llm_token_piece(tk, A, ABC, small, 2) == 3 && memcmp(small, "ab", 2) == 0, "piece reports its full size",
	      "truncation");
	llm_tokenizer_free(tk);

	/* a vocabulary with U+2581 inside tokens: merges may cross words.
	 * "▁a▁a": "a▁" (-0.1) goes first, then "a▁a" (0) */
	tok[n] = "a\xe2\x96\x81", type[n] = 1, score[n] = -0.1f;
	tok[n + 1] = "a\xe2\x96\x81" "a", type[n + 1] = 1, score[n + 1] = 0;
	llm_meta_init(&m);
	llm_meta_set_str(&m, "tokenizer.ggml.model", "llama");
	set_tokens(&m, tok, n + 2);
	llm_meta_set_arr(&m, "tokenizer.ggml.scores", LLM_V_F32, score, n + 2);
	llm_meta_set_arr(&m, "tokenizer.ggml.token_type", LLM_V_I32, type, n + 2);
	rc = llm_tokenizer_open(&tk, &m);
	llm_meta_clear(&m);
	CHECK(rc == 0 && ids_are(tk, "a a", 0, (int32_t[]){SP, (int32_t)n + 1}, 2), "spm merges across words",
	      "rc=%d", rc);
	llm_tokenizer_free(tk);

	/* without token_type: <0xNN> are bytes, <s> and </s> control */
	llm_meta_init(&m);
	llm_meta_set_str(&m, "tokenizer.ggml.model", "llama");
	set_tokens(&m, tok, n);
	llm_meta_set_arr(&m, "tokenizer.ggml.scores", LLM_V_F32, score, n);
	rc = llm_tokenizer_open(&tk, &m);
	llm_meta_clear(&m);
	CHECK(rc == 0 && piece_is(tk, A, 3 + '\n', "\n") && piece_is(tk, A, 1, "") && piece_is(tk, A, 2, "") &&
	      piece_is(tk, A, SPA, " a"),
	      "spm types guessed without token_type", "rc=%d", rc);
	llm_tokenizer_free(tk);

	/* whitespace beside cut-out tokens, dropped by name as llama.cpp does:
	 * after phi-3's user-defined and control tokens but "<s>" (<x>: a
	 * user-defined token), before jina's "<mask>" (user-defined here);
	 * kept for any other name */
	tok[n] = "<mask>", type[n] = 4, score[n] = 0;
	tok[n + 1] = "x>>y", type[n + 1] = 4, score[n + 1] = 0;
	const int32_t MASK = (int32_t)n, XY = (int32_t)n + 1;
	const char *names[][2] = {{"general.name", "Phi-3-mini-4k-instruct"}, {"general.name", "Llama"},
				  {"tokenizer.ggml.pre", "jina-v2-code"}};
	for (int k = 0; k < 3; k++) {
		llm_meta_init(&m);
		llm_meta_set_str(&m, "tokenizer.ggml.model", "llama");
		llm_meta_set_str(&m, names[k][0], names[k][1]);
		set_tokens(&m, tok, n + 2);
		llm_meta_set_arr(&m, "tokenizer.ggml.scores", LLM_V_F32, score, n + 2);
		llm_meta_set_arr(&m, "tokenizer.ggml.token_type", LLM_V_I32, type, n + 2);
		rc = llm_tokenizer_open(&tk, &m);
		llm_meta_clear(&m);
		CHECK(rc == 0, "spm strip open", "%s", llm_errmsg());
		if (rc)
			continue;
		if (k == 0) {
			CHECK(ids_are(tk, "<x> \n a", 0, (int32_t[]){X, SPA}, 2) &&
			      ids_are(tk, "</s>\ta<s> a", LLM_TOKENIZE_SPECIAL, (int32_t[]){2, SPA, 1, SP, SPA}, 5) &&
			      ids_are(tk, "</s> ", LLM_TOKENIZE_SPECIAL, (int32_t[]){2}, 1) &&
			      ids_are(tk, "a <mask>", 0, (int32_t[]){SPA, SP, MASK}, 3),
			      "spm phi-3 drops whitespace after its special tokens", "see above");
		} else if (k == 1) {
			CHECK(ids_are(tk, "<x> a", 0, (int32_t[]){X, SP, SPA}, 3) &&
			      ids_are(tk, "</s> a", LLM_TOKENIZE_SPECIAL, (int32_t[]){2, SP, SPA}, 3),
			      "spm other names keep whitespace after special tokens", "see above");
			/* overlapping tokens: the longest over the whole text goes
			 * first, as in llama.cpp ("<x>" at 0 would be leftmost) */
			CHECK(ids_are(tk, "<x>>y<x>", 0, (int32_t[]){SP, 3 + '<', XY, X}, 4),
			      "spm longest cut-out token first", "see above");
		} else {
			CHECK(ids_are(tk, "a \t<mask> a", 0, (int32_t[]){SPA, MASK, SP, SPA}, 4) &&
			      ids_are(tk, "<x> a", 0, (int32_t[]){X, SP, SPA}, 3),
			      "spm jina drops whitespace before <mask>", "see above");
		}
		llm_tokenizer_free(tk);
	}
}

/* GPT-2's byte -> character map, independently: printable Latin-1 bytes are
 * themselves, the rest take U+0100.. in byte order. */
static void gpt2_char(int b, char *out)
{
	int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
	int cp = b;
	if (!printable) {
		cp = 256;
		for (int c = 0; c < b; c++)
			cp += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF));
	}
	if (cp < 0x80) {
		out[0] = (char)cp, out[1] = 0;
	} else {
		out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
	}
}

static llm_tokenizer *small_bpe(const char *pre)
{
	/* ids 0..255: the byte characters (byte b is id b); then merges' results */
	static char chars[256][4];
	const char *tok[270];
	int32_t type[270];
	size_t n = 0;
	for (int b = 0; b < 256; b++) {
		gpt2_char(b, chars[b]);
		tok[n] = chars[b], type[n++] = 1;
	}
	const char *extra[] = {"bc", "ab", "\xc4\xa0\142" /* Ġb */, "a\xc4\xa0", "<x>", "<|endoftext|>", "abc"};
	for (size_t i = 0; i < 7; i++)
		tok[n] = extra[i], type[n++] = i == 4 ? 4 : i == 5 ? 3 : 1;
	const char *merges[] = {"b c", "a b", "\xc4\xa0 b", "a \xc4\xa0", "ab c"};
	llm_meta m;
	llm_meta_init(&m);
	llm_meta_set_str(&m, "tokenizer.ggml.model", "gpt2");
	if (pre)
		llm_meta_set_str(&m, "tokenizer.ggml.pre", pre);
	set_tokens(&m, tok, n);
	llm_meta_set_arr(&m, "tokenizer.ggml.token_type", LLM_V_I32, type, n);
	struct llm_str ms[5];
	for (int i = 0; i < 5; i++)
		ms[i] = (struct llm_str){strlen(merges[i]), (char *)merges[i]};
	llm_meta_set_arr_str(&m, "tokenizer.ggml.merges", ms, 5);
	llm_meta_set_u32(&m, "tokenizer.ggml.eos_token_id", 261);
	llm_tokenizer *tk = NULL;
	if (llm_tokenizer_open(&tk, &m) != 0)
		printf("# pre %s: %s\n", pre ? pre : "(none)", llm_errmsg());
	llm_meta_clear(&m);
	return tk;
}

static void test_bpe_small(void)
{
	llm_tokenizer *tk = small_bpe("gpt-2");
	CHECK(tk != NULL, "bpe small open", "%s", llm_errmsg());
	if (!tk)
		return;
	int32_t BC = 256, AB = 257, SP_B = 258, X = 260, EOT = 261;
	/* "b c" (rank 0) before "a b" (rank 1): a|bc, and "ab c" never applies */
	CHECK(ids_are(tk, "abc", 0, (int32_t[]){'a', BC}, 2), "bpe merges by rank", "see above");
	CHECK(ids_are(tk, "abd", 0, (int32_t[]){AB, 'd'}, 2), "bpe merge", "see above");
	/* the pre-tokenizer splits "a b" into "a", " b": "a Ġ" cannot apply */
	CHECK(ids_are(tk, "a b", 0, (int32_t[]){'a', SP_B}, 2), "bpe merges stay inside pre-tokens", "see above");
	CHECK(ids_are(tk, "1<x>2", 0, (int32_t[]){'1', X, '2'}, 3), "bpe user-defined token cut out", "see above");
	/* text read as llama.cpp reads it: U+FFFD (EF BF BD) for a byte that
	 * starts nothing or a sequence cut short, overlongs decoded, a
	 * surrogate kept, a code point past U+10FFFF U+FFFD */
	CHECK(ids_are(tk, "\xff", 0, (int32_t[]){0xEF, 0xBF, 0xBD}, 3) &&
	      ids_are(tk, "a\xe2" "b", 0, (int32_t[]){'a', 0xEF, 0xBF, 0xBD, 'b'}, 5) &&
	      ids_are(tk, "\xc0\xaf", 0, (int32_t[]){'/'}, 1) &&
	      ids_are(tk, "\xed\xa0\x80", 0, (int32_t[]){0xED, 0xA0, 0x80}, 3) &&
	      ids_are(tk, "\xf4\x90\x80\x80", 0, (int32_t[]){0xEF, 0xBF, 0xBD}, 3),
	      "bpe invalid UTF-8 as llama.cpp reads it", "see above");
	/* control tokens in text are plain text */
	CHECK(ids_are(tk, "<|", 0, (int32_t[]){'<', '|'}, 2), "bpe control text not parsed", "see above");
	CHECK(ids_are(tk, "a<|endoftext|>", LLM_TOKENIZE_SPECIAL, (int32_t[]){'a', EOT}, 2) &&
	      ids_are(tk, "<x><|endoftext|b", LLM_TOKENIZE_SPECIAL,
		      (int32_t[]){X, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', 'b'}, 14),
	      "bpe control text parsed on request", "see above");
	CHECK(llm_tokenizer_add_bos(tk) == 0 && llm_tokenizer_bos(tk) == -1 && llm_tokenizer_is_eog(tk, EOT),
	      "bpe defaults", "add_bos=%d bos=%d", llm_tokenizer_add_bos(tk), llm_tokenizer_bos(tk));
	CHECK(piece_is(tk, -1, SP_B, " b") && piece_is(tk, -1, 10, "\n") && piece_is(tk, -1, 0xE9, "\xe9") &&
	      piece_is(tk, -1, EOT, "") && piece_is(tk, -1, X, "<x>"),
	      "bpe pieces undo the byte map", "wrong piece");
	llm_tokenizer_free(tk);

	/* every pre-tokenizer we know compiles; an unknown name is refused
	 * (llama.cpp: "unknown pre-tokenizer type"), naming it */
	static const char *pres[] = {
		"default", "gpt2", "gpt-2", "llama3", "llama-bpe", "deepseek-llm", "deepseek-coder", "deepseek-v3",
		"falcon", "starcoder", "qwen2", "refact", "command-r", "stablelm2", "olmo", "mpt", "jais",
		"poro-chat", "smaug-bpe", "dbrx", "tekken", "chatglm-bpe", "viking", "gpt-4o", "chameleon",
		"bailingmoe", "seed-coder", "bloom", "smollm", "exaone", NULL,
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof pres / sizeof pres[0]; i++) { /* the last: no pre at all */
		tk = small_bpe(pres[i]);
		/* "abc" is letters only: one pre-token everywhere; the presets that
		 * take a whole-token pre-token as is (ignore_merges) give "abc" */
		int whole = pres[i] && (!strcmp(pres[i], "llama3") || !strcmp(pres[i], "llama-bpe") ||
					!strcmp(pres[i], "tekken"));
		int ok = tk && (whole ? ids_are(tk, "abc", 0, (int32_t[]){262}, 1)
				      : ids_are(tk, "abc", 0, (int32_t[]){'a', BC}, 2));
		if (!ok)
			bad++, printf("# pre %s fails\n", pres[i] ? pres[i] : "(none)");
		llm_tokenizer_free(tk);
	}
	CHECK(bad == 0, "every known pre-tokenizer compiles", "%d failed", bad);
	tk = small_bpe("kimi-k2");
	CHECK(!tk && strstr(llm_errmsg(), "\"kimi-k2\": a pre-tokenizer llm does not know"),
	      "an unknown tokenizer.ggml.pre is refused", "%s", tk ? "opened" : llm_errmsg());
	llm_tokenizer_free(tk);
	tk = small_bpe("llama3");
	CHECK(tk && llm_tokenizer_add_bos(tk) == 1, "llama3 adds BOS by default", "add_bos=%d",
	      tk ? llm_tokenizer_add_bos(tk) : -1);
	llm_tokenizer_free(tk);
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

	/* arbitrary bytes come back byte for byte, drawn from the bytes the
	 * vocabulary can spell alone (falcon has no token for 0x0B; byte-level
	 * BPE reads a byte above 0x7F alone as U+FFFD, as llama.cpp does, so
	 * those are ASCII; SPM: every byte, but no space, which a broken
	 * sequence before it would swallow as the bytes of U+2581, as it does
	 * in llama.cpp) */
	{
		unsigned char ok_byte[256];
		int n_ok = 0;
		for (int b = 0; b < 256; b++) {
			char c = (char)b, piece[64];
			int32_t *one = NULL;
			size_t n1 = 0;
			int good = 0;
			if (b != 0xE2 && !(!is_bpe && b == ' ') && llm_tokenize(tk, &c, 1, 0, &one, &n1) == 0) {
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

/* ---- the same vocabulary from two sources ---- */

/* stories260K's vocabulary as llama.cpp's converter wrote it into the GGUF
 * and as llama2.c's tok512.bin holds it (converted by the checkpoint
 * layer): both tokenizers must agree on every id and every piece. */
static void test_llama2c_vocab(void)
{
	char g[1100], m[1100], t[1100];
	snprintf(g, sizeof g, "%s/models/stories260K.gguf", test_shared());
	snprintf(m, sizeof m, "%s/models/stories260K.bin", test_shared());
	snprintf(t, sizeof t, "%s/models/tok512.bin", test_shared());
	FILE *f = fopen(t, "rb");
	if (!f) {
		SKIP("llama2.c vocabulary", "no ../shared/models/tok512.bin");
		return;
	}
	fclose(f);
	llm_ckpt *a = NULL, *b = NULL;
	llm_tokenizer *ta = NULL, *tb = NULL;
	struct llm_ckpt_opts o = LLM_CKPT_OPTS_INIT;
	o.tokenizer = t;
	int rc = llm_ckpt_open(&a, g, NULL);
	if (rc == 0)
		rc = llm_ckpt_open(&b, m, &o);
	if (rc == 0)
		rc = llm_tokenizer_open(&ta, llm_ckpt_meta(a));
	if (rc == 0)
		rc = llm_tokenizer_open(&tb, llm_ckpt_meta(b));
	CHECK(rc == 0, "llama2.c vocabulary opens", "%s", llm_errmsg());
	if (rc == 0) {
		static const char text[] = "Once upon a time, there was a little girl named Lily.\n"
					   "She liked to play outside!  \"Mom,\" she said, \xe2\x80\x9c\xc3\xa9t\xc3\xa9\xe2\x80\x9d \xf0\x9f\x98\x80 42\t\n";
		int32_t *x = NULL, *y = NULL;
		size_t nx = 0, ny = 0;
		llm_tokenize(ta, text, sizeof text - 1, 1, &x, &nx);
		llm_tokenize(tb, text, sizeof text - 1, 1, &y, &ny);
		CHECK(nx > 10 && nx == ny && memcmp(x, y, nx * sizeof *x) == 0, "llama2.c and GGUF vocabularies agree",
		      "%zu vs %zu tokens", nx, ny);
		size_t dl;
		int sc;
		char *back = decode(tb, y, ny, &dl, &sc);
		CHECK(dl == sizeof text - 1 && memcmp(back, text, dl) == 0, "llama2.c vocabulary round trip", "%.*s",
		      (int)dl, back);
		free(back);
		int differ = 0;
		for (int32_t i = 0; i < llm_tokenizer_n_vocab(ta); i++) {
			char p1[64], p2[64];
			size_t k1 = llm_token_piece(ta, 5, i, p1, sizeof p1), k2 = llm_token_piece(tb, 5, i, p2, sizeof p2);
			differ += k1 != k2 || memcmp(p1, p2, k1 < sizeof p1 ? k1 : sizeof p1) != 0;
		}
		CHECK(differ == 0 && llm_tokenizer_n_vocab(ta) == llm_tokenizer_n_vocab(tb), "llama2.c pieces agree",
		      "%d differ", differ);
		free(x);
		free(y);
	}
	llm_tokenizer_free(ta);
	llm_tokenizer_free(tb);
	llm_ckpt_free(a);
	llm_ckpt_free(b);
}

int main(void)
{
	test_stream();
	test_unicode();
	test_regex();
	test_spm_small();
	test_bpe_small();
	test_llama2c_vocab();

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
