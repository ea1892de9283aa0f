/* llm-run - run a llama-family model: generate, tokenize, score, perplexity.
 *
 * The behaviour of every mode, exact output formats included, is specified
 * in man/llm-run.1; the numbers (log-probabilities, top alternatives,
 * DPO-style scores, llama-perplexity's chunks and standard error, the
 * generation loop) come from lib/eval.h.  This file parses options, reads
 * the prompt or the TSV/text input, tokenizes, and prints:
 *
 *   generation   text streamed to stdout (never splitting a UTF-8
 *                character), or with --logprobs a TSV row per token:
 *                pos id token logprob top (%.6f, escaped token text)
 *   --score      prompt<TAB>completion... lines in, logprob<TAB>n_tokens
 *                per completion out, fields unescaped (\\ \t \n \r)
 *   --perplexity "[i]ppl," per chunk, then "PPL = X +/- U"
 *   --tokenize   the prompt's ids, vocabulary only
 *   --kv-out     the KV cache after generation as a GGUF (layout: eval.h,
 *                llm_eval_gen_write_kv)
 *
 * Exit status: 0 success, 1 failure ("llm-run: FILE: what is wrong"), 2
 * usage (unknown option, bad number, -n below -1, conflicting modes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "cli.h"
#include "error.h"
#include "eval.h"
#include "lora.h"
#include "model.h"
#include "provenance.h"
#include "tokenizer.h"
#include "unicode.h"

enum {
	OPT_TEMP = 256, OPT_TOPK, OPT_TOPP, OPT_MINP, OPT_RPEN, OPT_RLAST, OPT_ECHO, OPT_IGNEOS,
	OPT_NOBOS, OPT_TOK, OPT_TOKENIZE, OPT_LOGPROBS, OPT_TOPLP, OPT_SCORE, OPT_PPL, OPT_KVOUT, OPT_LORA,
	OPT_NOPROV, OPT_F32ACT, OPT_MMAP, OPT_SPECIAL,
};

static const struct cli_opt opts[] = {
	{ "prompt", 'p', "TEXT", "prompt text", 'p' },
	{ "file", 'f', "FILE", "read the prompt from FILE (- for stdin; default: stdin)", 'f' },
	{ "escape", 'e', NULL, "process escapes (\\n \\t \\r \\' \\\" \\\\ \\xNN) in the prompt and --perplexity text, as llama.cpp does", 'e' },
	{ "n-predict", 'n', "N", "tokens to generate (default -1: until end of text or full context)", 'n' },
	{ "ctx-size", 'c', "N", "context size (default: min(model's, 4096); 0: the model's)", 'c' },
	{ "threads", 't', "N", "threads (default: online CPUs)", 't' },
	{ "temp", 0, "T", "temperature, 0 = greedy (default 0.8)", OPT_TEMP },
	{ "top-k", 0, "N", "keep the N most likely tokens, 0 = off (default 40)", OPT_TOPK },
	{ "top-p", 0, "P", "nucleus: smallest set with probability >= P, 1 = off (default 0.95)", OPT_TOPP },
	{ "min-p", 0, "P", "drop tokens below P times the best one's probability, 0 = off (default 0.05)", OPT_MINP },
	{ "repeat-penalty", 0, "X", "penalize repeated tokens, 1 = off (default 1.0)", OPT_RPEN },
	{ "repeat-last-n", 0, "N", "tokens the penalty looks back at, -1 = context (default 64)", OPT_RLAST },
	{ "seed", 's', "N", "random seed, -1 = random (default)", 's' },
	{ "echo", 0, NULL, "print the prompt before the generated text", OPT_ECHO },
	{ "ignore-eos", 0, NULL, "never sample an end-of-generation token (llama.cpp's meaning)", OPT_IGNEOS },
	{ "no-bos", 0, NULL, "do not prepend BOS", OPT_NOBOS },
	{ "parse-special", 0, NULL, "read special-token text (<s>, <|im_start|>) in the input as those tokens", OPT_SPECIAL },
	{ "tokenizer", 0, "FILE", "vocabulary: tokenizer.bin, tokenizer.model, tokenizer.json or a GGUF", OPT_TOK },
	{ "lora", 0, "ADAPTER[:SCALE]", "apply a LoRA adapter at run time (repeatable)", OPT_LORA },
	{ "tokenize", 0, NULL, "print the prompt's token ids and exit (no model needed)", OPT_TOKENIZE },
	{ "logprobs", 0, NULL, "print TSV of generated tokens with log-probabilities", OPT_LOGPROBS },
	{ "top-logprobs", 0, "K", "alternatives per --logprobs row (default 5)", OPT_TOPLP },
	{ "score", 0, NULL, "score prompt<TAB>completion lines from stdin (TSV logprob, n_tokens)", OPT_SCORE },
	{ "perplexity", 0, "FILE", "perplexity of FILE in chunks of -c tokens, as llama-perplexity", OPT_PPL },
	{ "kv-out", 0, "FILE", "write the KV cache after generation as a GGUF (- for stdout)", OPT_KVOUT },
	{ "no-provenance", 0, NULL, "do not record provenance.* metadata in the --kv-out file", OPT_NOPROV },
	{ "f32-act", 0, NULL, "quantized weights: F32 activations and the float kernels (slower)", OPT_F32ACT },
	{ "mmap", 0, NULL, "use float weights in the mapped file, no copy (faster start, slower decode)", OPT_MMAP },
	{ "verbose", 'v', NULL, "print settings (seed, context, threads) on stderr", 'v' },
	{ "quiet", 'q', NULL, "no statistics or notices on stderr", 'q' },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-run", "[options] MODEL",
	"Generate text from a prompt with a llama-family MODEL (GGUF, Hugging Face\n"
	"directory, llama2.c .bin), or tokenize, score completions, or measure perplexity.\n"
	"For --tokenize, MODEL may also be a tokenizer file alone (.model,\n"
	"tokenizer.json, tokenizer.bin).",
	opts,
};

struct run {
	const char *path;
	llm_ckpt *ck;
	llm_tokenizer *tk;
	llm_model *m;
	llm_eval *ev;
	int32_t n_vocab, n_ctx;
	const char *ctx_from; /* where n_ctx came from, for the errors that cite it */
	const char *prompt_from; /* "-p", the -f FILE or "stdin", for the errors that cite it */
	unsigned tok_flags; /* LLM_TOKENIZE_*: BOS, special-token parsing */
	int escape;         /* -e: the prompt's or --perplexity text's escapes */
	int verbose;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ================================================================ input */

/* The whole of path ("-" = stdin) as a NUL-terminated buffer. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, k;
	char *b = NULL;

	if (!f)
		cli_die("%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		if (!b || n + 1 >= cap) {
			char *nb = realloc(b, cap *= 2);
			if (!nb)
				cli_die("%s: out of memory", path);
			b = nb;
		}
		k = fread(b + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f))
		cli_die("%s: read error: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	b[n] = 0;
	*len = n;
	return b;
}

/* One trailing newline goes, as with llama.cpp's -f. */
static void drop_newline(char *s, size_t *len)
{
	if (*len && s[*len - 1] == '\n')
		s[--*len] = 0;
}

static void tokenize(const struct run *r, const char *text, size_t len, int32_t **t, size_t *n)
{
	static int warned;
	if (llm_tokenize(r->tk, text, len, r->tok_flags, t, n))
		cli_die_lib();
	int32_t bos = llm_tokenizer_bos(r->tk);
	if ((r->tok_flags & LLM_TOKENIZE_BOS) && *n >= 2 && (*t)[1] == bos && !warned++) /* as llama.cpp */
		cli_warn("the text starts with BOS and BOS is added: two BOS tokens (--no-bos adds none)");
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undo \\ \t \n \r \xNN in place (what put_escaped writes), and with
 * prompt set (-e, as llama.cpp's escape processing) \' \" too; other
 * backslashes stay, one before a NUL byte included. */
static size_t unescape(char *s, size_t n, int prompt)
{
	size_t i, k = 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < n && s[i + 1] && strchr(prompt ? "\\tnr'\"" : "\\tnr", s[i + 1])) {
			c = s[++i];
			c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
		} else if (c == '\\' && i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
			   hexval(s[i + 3]) >= 0) {
			c = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 3;
		}
		s[k++] = c;
	}
	s[k] = 0;
	return k;
}

/* ================================================================ output */

/* s as a TSV field: \\ \t \n \r escaped, bytes outside well-formed UTF-8 and
 * other control bytes as \xNN. */
static void put_escaped(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k = llm_utf8_decode(s + i, n - i, &cp);
		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (k == 0 || c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else {
			fwrite(s + i, 1, k, f);
			i += k;
			continue;
		}
		i++;
	}
}

/* The bytes of token id after prev, the last token that is no control
 * token (-1 at the start of the text, where SentencePiece drops the
 * leading space; a BOS inside the text keeps the space of the word after
 * it, as llama.cpp prints it).  In a malloc'ed buffer grown as needed. */
static size_t piece(const struct run *r, int32_t prev, int32_t id, char **buf, size_t *cap)
{
	size_t n = llm_token_piece(r->tk, prev, id, *buf, *cap);
	if (n > *cap) {
		char *nb = realloc(*buf, n + 64);
		if (!nb)
			cli_die("out of memory");
		*buf = nb;
		*cap = n + 64;
		llm_token_piece(r->tk, prev, id, *buf, *cap);
	}
	return n;
}

/* ================================================================ generation */

struct gen_opts {
	struct llm_gen_params gp;
	int echo, logprobs, top_logprobs, quiet;
	const char *kv_out;
	const llm_meta *prov; /* provenance for the --kv-out file, or NULL */
};

/* What a --logprobs row needs besides the token. */
struct lp_out {
	const struct run *r;
	const int32_t *toks; /* the prompt, for --echo rows */
	int n_prompt, top;
	int32_t text_prev;   /* the last token that is no control token, -1 before any */
	struct llm_logprob *alt; /* (top) */
	char *buf;
	size_t cap;
};

/* Token id's text (in o->buf) after the text so far; its length. */
static size_t next_piece(struct lp_out *o, int32_t id)
{
	size_t n = piece(o->r, o->text_prev, id, &o->buf, &o->cap);
	if (!llm_token_is_control(o->r->tk, id))
		o->text_prev = id;
	return n;
}

/* One --logprobs row: token id at position pos, logits that predicted it. */
static void logprob_row(struct lp_out *o, int pos, int32_t id, const float *logits)
{
	double lp;
	size_t n = next_piece(o, id);

	if (llm_eval_logprob(&lp, logits, o->r->n_vocab, id))
		cli_die_lib();
	printf("%d\t%d\t", pos, id);
	put_escaped(stdout, o->buf, n);
	printf("\t%.6f\t", lp);
	size_t k = llm_eval_top(o->alt, (size_t)o->top, logits, o->r->n_vocab);
	for (size_t i = 0; i < k; i++)
		printf("%s%d:%.6f", i ? "," : "", o->alt[i].id, o->alt[i].logprob);
	putchar('\n');
}

/* --echo --logprobs: the row after prompt token i predicts token i+1. */
static void echo_row(void *ud, int i, const float *row)
{
	struct lp_out *o = ud;
	if (i + 1 < o->n_prompt)
		logprob_row(o, i + 1, o->toks[i + 1], row);
}

static void generate(struct run *r, const char *text, size_t len, const struct gen_opts *g)
{
	struct llm_utf8_stream us = { { 0 }, 0 };
	struct lp_out o = { r, NULL, 0, g->top_logprobs, -1, NULL, malloc(256), 256 };
	char out[512 + 8];
	int text_out = !g->logprobs && !(g->kv_out && strcmp(g->kv_out, "-") == 0);
	int32_t *toks, id;
	size_t n_prompt;
	int P, n_gen = 0, rc;

	o.alt = malloc((size_t)(g->top_logprobs ? g->top_logprobs : 1) * sizeof *o.alt);
	if (!o.buf || !o.alt)
		cli_die("out of memory");
	tokenize(r, text, len, &toks, &n_prompt);
	if (n_prompt == 0)
		cli_die("%s: empty prompt, and no BOS to start from", r->prompt_from);
	if (n_prompt > (size_t)r->n_ctx)
		cli_die("%s: prompt of %zu tokens does not fit the context of %d (%s)", r->path, n_prompt, r->n_ctx,
			r->ctx_from);
	o.toks = toks;
	o.n_prompt = P = (int)n_prompt;
	/* the text so far: the first prompt token's for --echo's rows, which
	 * start at the second; the whole prompt's otherwise */
	for (int i = 0; i < (g->echo && g->logprobs ? 1 : P); i++)
		next_piece(&o, toks[i]);

	if (g->logprobs)
		printf("pos\tid\ttoken\tlogprob\ttop\n");
	if (g->echo && text_out) {
		fwrite(text, 1, len, stdout);
		cli_flush_stdout();
	}
	double t0 = now();
	if (llm_eval_gen_start(r->ev, r->tk, &g->gp, toks, n_prompt,
			       g->echo && g->logprobs ? echo_row : NULL, &o))
		cli_die_lib();
	double t1 = now();

	/* each token is flushed as it comes, and a failed write (a full disk)
	 * ends the run there, not after the whole generation */
	for (; (rc = llm_eval_gen_next(&id, r->ev)) > 0; n_gen++) {
		if (g->logprobs) {
			logprob_row(&o, P + n_gen, id, llm_eval_gen_logits(r->ev));
			cli_flush_stdout();
		} else if (text_out) {
			size_t n = next_piece(&o, id);
			for (size_t at = 0; at < n; at += 512) {
				size_t k = n - at < 512 ? n - at : 512;
				fwrite(out, 1, llm_utf8_stream_feed(&us, o.buf + at, k, out), stdout);
			}
			cli_flush_stdout();
		}
	}
	if (rc < 0)
		cli_die_lib();
	if (text_out)
		fwrite(out, 1, llm_utf8_stream_flush(&us, out), stdout);
	cli_flush_stdout();
	double t2 = now();

	if (llm_eval_gen_stop(r->ev) == LLM_GEN_FULL && !g->quiet && g->gp.n_predict >= 0 &&
	    n_gen < g->gp.n_predict)
		cli_warn("the context of %d tokens is full", r->n_ctx);
	if (!g->quiet)
		fprintf(stderr, "%s: prompt %d tokens, %.2f tok/s; generated %d tokens, %.2f tok/s\n",
			cli_name(), P, P / (t1 - t0), n_gen, n_gen ? n_gen / (t2 - t1) : 0.0);
	if (g->kv_out && llm_eval_gen_write_kv(r->ev, g->kv_out, llm_ckpt_meta(r->ck), g->prov))
		cli_die_lib();
	free(toks);
	free(o.buf);
	free(o.alt);
}

/* ================================================================ --score */

static void score(struct run *r, int quiet)
{
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	long lineno = 0;
	long long n_scored = 0;
	double t0 = now();

	while ((len = getline(&line, &lcap, stdin)) != -1) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = 0;
		if (len && line[len - 1] == '\r') /* CRLF lines: a literal CR is written \r */
			line[--len] = 0;
		if (len == 0) { /* a blank line (one ending a file, say): a blank line out */
			putchar('\n');
			cli_flush_stdout();
			continue;
		}
		char *tab = memchr(line, '\t', (size_t)len);
		if (!tab)
			cli_die("stdin:%ld: no tab between prompt and completion", lineno);
		size_t plen = unescape(line, (size_t)(tab - line), 0), nP, nF;
		int32_t *P, *F;
		tokenize(r, line, plen, &P, &nP);
		char *field = tab + 1, *end = line + len;
		for (int col = 0;; col++) {
			char *t2 = memchr(field, '\t', (size_t)(end - field));
			size_t flen = (size_t)((t2 ? t2 : end) - field);
			char *full = malloc(plen + flen + 1);
			if (!full)
				cli_die("out of memory");
			memcpy(full, line, plen);
			memcpy(full + plen, field, flen);
			size_t clen = unescape(full + plen, flen, 0);
			tokenize(r, full, plen + clen, &F, &nF);
			if (nF > (size_t)r->n_ctx)
				cli_die("stdin:%ld: %zu tokens do not fit the context of %d (%s)", lineno, nF,
					r->n_ctx, r->ctx_from);
			double lp;
			int64_t nt;
			if (llm_eval_score(&lp, &nt, r->ev, P, nP, F, nF))
				cli_die("stdin:%ld: %s", lineno, llm_errmsg());
			printf("%s%.6f\t%lld", col ? "\t" : "", lp, (long long)nt);
			n_scored += nt;
			free(F);
			free(full);
			if (!t2)
				break;
			field = t2 + 1;
		}
		putchar('\n');
		cli_flush_stdout();
		free(P);
	}
	if (ferror(stdin))
		cli_die("stdin: read error");
	if (!quiet)
		fprintf(stderr, "%s: scored %ld lines, %lld tokens, %.2f s\n", cli_name(), lineno,
			n_scored, now() - t0);
	free(line);
}

/* ================================================================ --perplexity */

static void ppl_progress(void *ud, const struct llm_ppl *p)
{
	(void)ud;
	printf("[%zu]%.4f,", p->n_chunk, p->ppl);
	cli_flush_stdout();
}

static void perplexity(struct run *r, const char *path, int quiet)
{
	size_t len, n;
	char *text = read_all(path, &len);
	int32_t *toks;
	int N = r->n_ctx;
	struct llm_ppl p;

	drop_newline(text, &len);
	if (r->escape)
		len = unescape(text, len, 1);
	tokenize(r, text, len, &toks, &n);
	free(text);
	if (n < 2 * (size_t)N)
		cli_die("%s: %zu tokens; perplexity with a context of %d needs at least %d (-c)", path, n,
			N, 2 * N);
	if (!quiet) {
		fprintf(stderr, "%s: ", cli_name());
		cli_put_safe(stderr, path);
		fprintf(stderr, ": %zu tokens, %zu chunks of %d\n", n, n / (size_t)N, N);
	}
	double t0 = now();
	int32_t bos = r->tok_flags & LLM_TOKENIZE_BOS ? llm_tokenizer_bos(r->tk) : -1;
	if (llm_eval_perplexity(&p, r->ev, toks, n, N, bos, ppl_progress, NULL))
		cli_die_lib();
	printf("\nPPL = %.4f +/- %.5f\n", p.ppl, p.err);
	cli_flush_stdout();
	if (!quiet)
		fprintf(stderr, "%s: %lld tokens scored, %.2f tok/s evaluated\n", cli_name(),
			(long long)p.count, (double)p.n_chunk * (N - 1) / (now() - t0));
	free(toks);
}

/* ================================================================ main */

static uint64_t random_seed(void)
{
	uint64_t s;
	if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
		s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return s & 0x7fffffffffffffffull;
}

int main(int argc, char **argv)
{
	struct llm_ckpt_opts ko = LLM_CKPT_OPTS_INIT;
	struct llm_model_opts mo = LLM_MODEL_OPTS_INIT;
	struct gen_opts g = { LLM_GEN_PARAMS_INIT, 0, 0, 5, 0, NULL, NULL };
	struct run r = { 0 };
	const char *arg, *prompt = NULL, *pfile = NULL, *ppl_file = NULL, *loras[64];
	char *lpath[64] = { 0 }; /* --lora's PATH:SCALE, parsed once */
	float lscale[64];
	int n_lora = 0;
	llm_lora_set *lset = NULL;
	int c, no_bos = 0, special = 0, do_tok = 0, do_score = 0, repeat_last_n = 64;
	long long seed = -1;
	int provenance = 1;
	llm_meta prov;
	llm_meta_init(&prov);

	cli_init(&cmd, argc, argv);
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case 'p': prompt = arg; break;
		case 'f': pfile = arg; break;
		case 'e': r.escape = 1; break;
		case 'n': g.gp.n_predict = (int)cli_int("--n-predict", arg, -1, 1 << 30); break;
		case 'c': /* 0: the model's own, as llama.cpp's -c 0 */
			mo.n_ctx = (int32_t)cli_int("--ctx-size", arg, 0, 1 << 24);
			mo.n_ctx = mo.n_ctx ? mo.n_ctx : -1;
			break;
		case 't': mo.n_threads = (int)cli_int("--threads", arg, 1, 1024); break;
		case OPT_TEMP: g.gp.sp.temp = (float)cli_double("--temp", arg, 0, 1e6); break;
		case OPT_TOPK: g.gp.sp.top_k = (int32_t)cli_int("--top-k", arg, 0, INT32_MAX); break;
		case OPT_TOPP: g.gp.sp.top_p = (float)cli_double("--top-p", arg, 0, 1); break;
		case OPT_MINP: g.gp.sp.min_p = (float)cli_double("--min-p", arg, 0, 1); break;
		case OPT_RPEN: g.gp.sp.repeat_penalty = (float)cli_double("--repeat-penalty", arg, 1e-6, 1e6); break;
		case OPT_RLAST: repeat_last_n = (int)cli_int("--repeat-last-n", arg, -1, 1 << 24); break;
		case 's': seed = cli_int("--seed", arg, -1, INT64_MAX); break;
		case OPT_ECHO: g.echo = 1; break;
		case OPT_IGNEOS: g.gp.ignore_eos = 1; break;
		case OPT_NOBOS: no_bos = 1; break;
		case OPT_SPECIAL: special = 1; break;
		case OPT_TOK: ko.tokenizer = arg; break;
		case OPT_LORA:
			if (n_lora == 64)
				cli_usage("--lora: at most 64 adapters");
			loras[n_lora++] = arg;
			break;
		case OPT_TOKENIZE: do_tok = 1; break;
		case OPT_LOGPROBS: g.logprobs = 1; break;
		case OPT_TOPLP: g.top_logprobs = (int)cli_int("--top-logprobs", arg, 0, 1 << 20); break;
		case OPT_SCORE: do_score = 1; break;
		case OPT_PPL: ppl_file = arg; break;
		case OPT_KVOUT: g.kv_out = arg; break;
		case OPT_NOPROV: provenance = 0; break;
		case OPT_F32ACT: mo.f32_act = 1; break;
		case OPT_MMAP: mo.in_place = 1; break;
		case 'v': r.verbose = 1; break;
		case 'q': cli_quiet = g.quiet = 1; break;
		}
	}
	if (argc - cli_optind() != 1)
		cli_usage("expected one MODEL");
	if (do_tok + do_score + (ppl_file != NULL) > 1)
		cli_usage("--tokenize, --score and --perplexity exclude each other");
	if ((do_tok || do_score || ppl_file) && (g.logprobs || g.echo || g.kv_out))
		cli_usage("--logprobs, --echo and --kv-out go with generation only");
	if ((do_score || ppl_file) && (prompt || pfile))
		cli_usage("--score reads stdin and --perplexity its FILE: no -p or -f");
	if (prompt && pfile)
		cli_usage("-p and -f exclude each other");
	if (do_score && r.escape)
		cli_usage("--score lines have escapes of their own (\\\\ \\t \\n \\r): no -e");
	if (ppl_file && mo.n_ctx > 0 && mo.n_ctx < 3) /* (-c 0 and a model context below 3: llm_eval_perplexity refuses) */
		cli_usage("--perplexity needs -c 3 or more (a chunk of N tokens scores its tokens N/2+1 .. N-1)");
	/* --kv-out /dev/stdout (or the file stdout goes to) is stdout: the
	 * dump alone goes there, not the text before it */
	g.kv_out = cli_output_name(g.kv_out);
	if (g.kv_out && strcmp(g.kv_out, "-") == 0 && g.logprobs)
		cli_usage("--kv-out - and --logprobs would both write to stdout");
	if (g.kv_out)
		cli_refuse_tty(g.kv_out);
	r.path = argv[cli_optind()];
	/* stdin is one stream: the model, the prompt (by default), --score's
	 * lines, --perplexity's FILE or an adapter may read it, one of them */
	cli_stdin_claim(r.path, NULL);
	cli_refuse_input("--kv-out", g.kv_out, (const char *const[]){ r.path, ko.tokenizer }, 2);
	/* the prompt and --perplexity text are read alone, whatever their names */
	cli_refuse_same("--kv-out", g.kv_out, (const char *const[]){ pfile, ppl_file }, 2);
	for (int i = 0; i < n_lora; i++) {
		cli_lora_spec(loras[i], &lpath[i], &lscale[i]);
		cli_stdin_claim(lpath[i], NULL);
	}
	cli_refuse_input("--kv-out", g.kv_out, (const char *const *)lpath, n_lora);
	cli_stdin_claim(do_score ? "-" : ppl_file, NULL);
	if (do_score) /* `llm-run --score M < f.tsv >> f.tsv` would never end */
		cli_refuse_same("--score", "-", (const char *const[]){ "-" }, 1);
	if (!do_score && !ppl_file && !prompt) /* last: the one a hint helps */
		cli_stdin_claim(pfile ? pfile : "-", pfile ? NULL : "the prompt comes from stdin unless -p or -f gives it");
	r.prompt_from = prompt ? "-p" : pfile && strcmp(pfile, "-") != 0 ? pfile : "stdin";
	cli_cleanup_on_signals();
	cli_probe_output(g.kv_out); /* a path that cannot be written fails now, not after the run */

	/* the vocabulary */
	if (llm_ckpt_open(&r.ck, r.path, &ko))
		cli_die_lib();
	int trc = llm_tokenizer_open(&r.tk, llm_ckpt_meta(r.ck));
	if (trc == LLM_ENOTFOUND && !ko.tokenizer) /* a llama2.c .bin, a HF directory */
		cli_die("%s: no vocabulary (%s): give --tokenizer FILE (tokenizer.bin, tokenizer.model, tokenizer.json or a GGUF)", r.path,
			llm_errmsg());
	if (trc) {
		llm_err_prefix(LLM_EFORMAT, r.path);
		cli_die_lib();
	}
	if (!no_bos && llm_tokenizer_add_bos(r.tk) && llm_tokenizer_bos(r.tk) >= 0)
		r.tok_flags |= LLM_TOKENIZE_BOS;
	if (special)
		r.tok_flags |= LLM_TOKENIZE_SPECIAL;

	/* the prompt */
	char *text = NULL;
	size_t len = 0;
	if (!do_score && !ppl_file) {
		if (prompt) {
			len = strlen(prompt);
			text = strdup(prompt);
			if (!text)
				cli_die("out of memory");
		} else {
			text = read_all(pfile ? pfile : "-", &len);
			if (!do_tok) /* --tokenize counts the file whole, as llama-tokenize -f */
				drop_newline(text, &len);
		}
		if (r.escape)
			len = unescape(text, len, 1);
	}
	/* add_eos_token: --tokenize appends EOS where llama-tokenize does (BOS
	 * wanted and not --no-bos); running a model never does, as a prompt
	 * that ends the text makes no sense to continue (llama-cli and
	 * llama-perplexity refuse such vocabularies outright) */
	int add_eos = !no_bos && llm_tokenizer_add_bos(r.tk) && llm_tokenizer_add_eos(r.tk) && llm_tokenizer_eos(r.tk) >= 0;
	if (do_tok) {
		int32_t *t;
		size_t n;
		if (add_eos)
			r.tok_flags |= LLM_TOKENIZE_EOS;
		tokenize(&r, text, len, &t, &n);
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? " " : "", t[i]);
		putchar('\n');
		cli_flush_stdout();
		free(t);
		goto done;
	}

	/* the model */
	if (llm_model_load(&r.m, r.ck, &mo))
		cli_die_lib();
	if (add_eos) /* after the load, whose error stays the one line */
		cli_warn("%s: the vocabulary asks for EOS after the text (add_eos_token); it is not added to what the model reads",
			 r.path);
	if (n_lora) {
		if (llm_lora_set_new(&lset))
			cli_die_lib();
		for (int i = 0; i < n_lora; i++) {
			llm_lora *a;
			if (llm_lora_open(&a, lpath[i], llm_ckpt_meta(r.ck)) || llm_lora_set_add(lset, a, lscale[i], r.ck))
				cli_die_lib();
		}
		llm_model_set_lora(r.m, lset);
	}
	r.n_vocab = llm_model_hparams(r.m)->n_vocab;
	r.n_ctx = llm_model_n_ctx(r.m);
	if (mo.n_ctx > 0)
		r.ctx_from = "-c";
	else if (llm_model_hparams(r.m)->n_ctx_train == r.n_ctx)
		r.ctx_from = "its context_length; -c sets another";
	else
		r.ctx_from = "the default; -c sets another";
	if (mo.n_ctx > 0 && llm_model_hparams(r.m)->n_ctx_train > 0 &&
	    mo.n_ctx > llm_model_hparams(r.m)->n_ctx_train)
		cli_warn("context %d is longer than the model's %d", mo.n_ctx,
			 llm_model_hparams(r.m)->n_ctx_train);
	if (llm_eval_new(&r.ev, r.m))
		cli_die_lib();
	if (g.kv_out && provenance) {
		/* the dump records the run that produced it: model and adapters as inputs */
		struct llm_prov_input in[65] = { { r.path, llm_ckpt_meta(r.ck) } };
		for (int i = 0; i < n_lora; i++) { /* the adapter's path (not PATH:SCALE) and its own records */
			const llm_lora *a = llm_lora_set_adapter(lset, i);
			in[1 + i].path = lpath[i], in[1 + i].meta = a && a->prov.n ? &a->prov : NULL;
		}
		if (llm_provenance_fill(&prov, cli_name(), argc, cli_args(), in, 1 + n_lora))
			cli_die_lib();
		g.prov = &prov;
	}
	g.gp.sp.repeat_last_n = repeat_last_n < 0 ? r.n_ctx : repeat_last_n;
	g.gp.sp.seed = seed < 0 ? random_seed() : (uint64_t)seed;
	if (r.verbose)
		fprintf(stderr,
			"%s: seed %llu, context %d, threads %d, temp %g, top-k %d, top-p %g, min-p %g, "
			"repeat-penalty %g, repeat-last-n %d, bos %s\n",
			cli_name(), (unsigned long long)g.gp.sp.seed, r.n_ctx, llm_model_n_threads(r.m),
			(double)g.gp.sp.temp, g.gp.sp.top_k, (double)g.gp.sp.top_p, (double)g.gp.sp.min_p,
			(double)g.gp.sp.repeat_penalty, g.gp.sp.repeat_last_n, r.tok_flags & LLM_TOKENIZE_BOS ? "yes" : "no");

	if (do_score)
		score(&r, g.quiet);
	else if (ppl_file)
		perplexity(&r, ppl_file, g.quiet);
	else
		generate(&r, text, len, &g);
done:
	for (int i = 0; i < n_lora; i++)
		free(lpath[i]);
	llm_meta_clear(&prov);
	free(text);
	llm_eval_free(r.ev);
	llm_model_free(r.m);
	llm_lora_set_free(lset);
	llm_tokenizer_free(r.tk);
	llm_ckpt_free(r.ck);
	return 0;
}
