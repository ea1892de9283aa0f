/* llm-run - run a llama-family model: generate, tokenize, score, perplexity.
 *
 * Behaviour, as the man page should describe it:
 *
 * MODEL is anything llm_ckpt_open reads (GGUF, Hugging Face directory,
 * llama2.c .bin; --tokenizer FILE supplies or replaces the vocabulary: a
 * llama2.c tokenizer.bin or any GGUF whose tokenizer.* keys are used).
 * --lora ADAPTER[:SCALE] (repeatable, GGUF or PEFT adapters, lora.h) adds
 * the adapters' low-rank terms at run time, in every mode that runs the
 * model; the result equals llm-lora-merge's merged model up to rounding.
 *
 * Prompt.  -p TEXT, or -f FILE (- for stdin), or stdin when neither is
 * given.  Text read from a file or stdin loses one trailing newline, as
 * llama.cpp's -f does (so `echo 'Once upon a time' | llm-run m` and
 * `-p 'Once upon a time'` agree); the same holds for --perplexity FILE.
 * BOS is prepended when the vocabulary says add_bos_token (SentencePiece
 * default) unless --no-bos.  Special-token text such as "<s>" in a prompt
 * is plain text.  An empty prompt with BOS generates from BOS alone; an
 * empty prompt without BOS is an error ("empty prompt"), as in llama.cpp.
 *
 * Generation.  -n N tokens at most (default -1: until an end-of-generation
 * token or the context is full; 0: evaluate the prompt only, e.g. for
 * --kv-out).  The end-of-generation token (llm_tokenizer_is_eog: EOS, EOT,
 * ...) ends the output and is neither printed nor counted, unless
 * --ignore-eos (then it is sampled and printed like any other token, as
 * the empty text control tokens stand for).  Prompt plus generated tokens
 * never exceed the context (-c N, default min(llama.context_length,
 * 4096)); when the context fills before -n N tokens a notice says so
 * (unless -q; with -n -1 a full context is the normal end).  No context
 * shifting: generation stops there.  A prompt longer than the context is
 * an error.
 * stdout carries only the generated text, flushed after every token, UTF-8
 * characters never split across writes (llm_utf8_stream); --echo prints the
 * prompt text first, as given (not re-detokenized).
 * Sampling (lib/sampler.h): penalties, top-k, top-p, min-p, temperature,
 * draw: llama.cpp's default order and defaults (temp 0.8, top-k 40, top-p
 * 0.95, min-p 0.05, repeat-penalty 1.0 = off, repeat-last-n 64, where -1
 * means the context size and 0 off; the history includes the prompt).
 * --temp 0 is greedy.  -s SEED (0 .. 2^63-1) makes runs repeatable; -1 or
 * no -s takes a random seed (getrandom), shown by --verbose.
 * At the end one line on stderr (not with -q):
 *   llm-run: prompt N tokens, X tok/s; generated M tokens, Y tok/s
 * where X is the prompt's tokens over the time of its evaluation and Y the
 * generated tokens over the time from the end of the prompt to the last
 * token (evaluation, sampling and output).
 *
 * --logprobs: instead of text, stdout is TSV, one row per generated token,
 * after a header row:
 *   pos  id  token  logprob  top
 * pos is the token's position in the context (the prompt holds 0..P-1, so
 * the first generated token is at P); token is its text (the bytes it adds
 * to the output, so the column concatenated is the generated text) with
 * \\ \t \n \r and bytes that are not UTF-8 written as backslash escapes
 * (\\, \t, \n, \r, \xNN); logprob is the natural log of its probability
 * under the model, log_softmax of the raw logits in double (before
 * penalties, truncation and temperature: what --score sums); top holds the
 * --top-logprobs K (default 5, 0 = empty column) most likely tokens as
 * id:logprob pairs separated by commas, best first.  Numbers use %.6f.
 * With --echo, rows for the prompt tokens 1..P-1 come first (position 0
 * has nothing to be predicted from).
 *
 * --score: stdin holds lines  prompt<TAB>completion[<TAB>completion...];
 * stdout gets per line  logprob<TAB>n_tokens  for each completion (so
 * prompt/chosen/rejected lines give four columns), logprob the sum of the
 * completion tokens' log-probabilities given everything before them
 * (log-softmax in double, %.6f), flushed per line.  Fields may use the
 * escapes \\ \t \n \r of the --logprobs token column (other backslashes
 * stay as they are).  Tokenization, the DPO convention (as TRL): F =
 * tokenize(prompt + completion) with BOS, P = tokenize(prompt) with BOS;
 * the completion's tokens are F after the longest common prefix of P and F
 * (all of P when P is a prefix of F; when the boundary merges, e.g. "a" +
 * "b" -> "ab", the merged token counts as the completion's).  Without BOS
 * and with an empty prompt the first token has no context and is not
 * scored.  An empty completion scores 0 with 0 tokens.  A line without a
 * tab, or too long for the context, is an error naming the line number
 * ("stdin:LINE: ...").  The KV cache is reused across lines for the common
 * prefix, so pairs sharing a prompt evaluate it once.
 *
 * --perplexity FILE, as llama-perplexity: FILE (one trailing newline
 * dropped) tokenized with BOS at the very start when the vocabulary adds
 * it; split into floor(n/N) chunks of N = -c tokens (an error when n <
 * 2N); in each chunk the first token is replaced by BOS (when the
 * vocabulary adds BOS), all logits are evaluated, and the tokens at chunk
 * positions N/2+1 .. N-1 are scored (logits of positions N/2 .. N-2).
 * After each chunk "[i]ppl," with the running PPL = exp(mean NLL) (%.4f);
 * then a newline and "PPL = X +/- U" with U = PPL * sqrt((mean(nll^2) -
 * mean(nll)^2) / (count - 1)), llama-perplexity's standard error (%.4f,
 * %.5f).  All on stdout.
 *
 * --tokenize: the prompt's token ids, space-separated, one line; only the
 * vocabulary is read (works on vocabulary-only GGUF files); --no-bos
 * applies.
 *
 * --kv-out FILE: after generation the KV cache goes to FILE as a GGUF
 * (atomic: temporary file + rename; "-" is stdout, refused at a terminal,
 * and then the generated text is not printed).  The last generated token
 * is evaluated first if it was not, so the dump covers every token of the
 * prompt and of the generated text (n_pos = P + M; the end-of-generation
 * token excluded).  Layout, for llm-kvstat and anyone else:
 *
 *   metadata
 *     general.type             str  "kv-dump"
 *     general.architecture     str  the model's (when it has one)
 *     general.name             str  the model's (when it has one)
 *     kv.n_layer               u32
 *     kv.n_head                u32  query heads
 *     kv.n_head_kv             u32  K/V heads (GQA: n_head / n_head_kv queries share one)
 *     kv.head_dim              u32
 *     kv.n_pos                 u32  positions dumped: 0 .. n_pos-1 (implied; no list)
 *     kv.rope.dimension_count  u32  dims of each head that RoPE rotates
 *     kv.rope.freq_base        f32
 *     kv.tokens                arr[i32]  the token id at each position
 *   tensors, for L = 0 .. n_layer-1, in order kv.0.k, kv.0.v, kv.1.k, ...
 *     kv.L.k  F32  ne = [head_dim, n_head_kv, n_pos]   keys after RoPE (as cached,
 *                  GGUF's adjacent-pair rotation), position-major: element
 *                  (d, h, p) at (p * n_head_kv + h) * head_dim + d
 *     kv.L.v  F32  ne = [head_dim, n_head_kv, n_pos]   values, same layout
 *
 * Exit status: 0 success, 1 failure ("llm-run: FILE: what is wrong"), 2
 * usage (unknown option, bad number, -n below -1, conflicting modes).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "cli.h"
#include "error.h"
#include "gguf.h"
#include "io.h"
#include "lora.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"
#include "types.h"
#include "unicode.h"

enum {
	OPT_TEMP = 256, OPT_TOPK, OPT_TOPP, OPT_MINP, OPT_RPEN, OPT_RLAST, OPT_ECHO, OPT_IGNEOS,
	OPT_NOBOS, OPT_TOK, OPT_TOKENIZE, OPT_LOGPROBS, OPT_TOPLP, OPT_SCORE, OPT_PPL, OPT_KVOUT, OPT_LORA,
};

static const struct cli_opt opts[] = {
	{ "prompt", 'p', "TEXT", "prompt text", 'p' },
	{ "file", 'f', "FILE", "read the prompt from FILE (- for stdin; default: stdin)", 'f' },
	{ "n-predict", 'n', "N", "tokens to generate (default -1: until end of text or full context)", 'n' },
	{ "ctx-size", 'c', "N", "context size (default: min(model's, 4096))", 'c' },
	{ "threads", 't', "N", "threads (default: online CPUs)", 't' },
	{ "temp", 0, "T", "temperature, 0 = greedy (default 0.8)", OPT_TEMP },
	{ "top-k", 0, "N", "keep the N most likely tokens, 0 = off (default 40)", OPT_TOPK },
	{ "top-p", 0, "P", "nucleus: smallest set with probability >= P, 1 = off (default 0.95)", OPT_TOPP },
	{ "min-p", 0, "P", "drop tokens below P times the best one's probability, 0 = off (default 0.05)", OPT_MINP },
	{ "repeat-penalty", 0, "X", "penalize repeated tokens, 1 = off (default 1.0)", OPT_RPEN },
	{ "repeat-last-n", 0, "N", "tokens the penalty looks back at, -1 = context (default 64)", OPT_RLAST },
	{ "seed", 's', "N", "random seed, -1 = random (default)", 's' },
	{ "echo", 0, NULL, "print the prompt before the generated text", OPT_ECHO },
	{ "ignore-eos", 0, NULL, "do not stop at the end-of-generation token", OPT_IGNEOS },
	{ "no-bos", 0, NULL, "do not prepend BOS", OPT_NOBOS },
	{ "tokenizer", 0, "FILE", "vocabulary: llama2.c tokenizer.bin or a GGUF", OPT_TOK },
	{ "lora", 0, "ADAPTER[:SCALE]", "apply a LoRA adapter at run time (repeatable)", OPT_LORA },
	{ "tokenize", 0, NULL, "print the prompt's token ids and exit (no model needed)", OPT_TOKENIZE },
	{ "logprobs", 0, NULL, "print TSV of generated tokens with log-probabilities", OPT_LOGPROBS },
	{ "top-logprobs", 0, "K", "alternatives per --logprobs row (default 5)", OPT_TOPLP },
	{ "score", 0, NULL, "score prompt<TAB>completion lines from stdin (TSV logprob, n_tokens)", OPT_SCORE },
	{ "perplexity", 0, "FILE", "perplexity of FILE in chunks of -c tokens, as llama-perplexity", OPT_PPL },
	{ "kv-out", 0, "FILE", "write the KV cache after generation as a GGUF (- for stdout)", OPT_KVOUT },
	{ "verbose", 'v', NULL, "print settings (seed, context, threads) on stderr", 'v' },
	{ "quiet", 'q', NULL, "no statistics or notices on stderr", 'q' },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-run", "[options] MODEL",
	"Generate text from a prompt with a llama-family MODEL (GGUF, Hugging Face\n"
	"directory, llama2.c .bin), or tokenize, score completions, or measure perplexity.",
	opts,
};

struct run {
	const char *path;
	llm_ckpt *ck;
	llm_tokenizer *tk;
	llm_model *m;
	int32_t n_vocab, n_ctx;
	int add_bos, verbose;
	float *logits; /* batch * n_vocab */
	int batch;
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

static void drop_newline(char *s, size_t *len)
{
	if (*len && s[*len - 1] == '\n')
		s[--*len] = 0;
}

static void tokenize(const struct run *r, const char *text, size_t len, int bos, int32_t **t,
		     size_t *n)
{
	if (llm_tokenize(r->tk, text, len, bos, t, n))
		cli_die_lib();
}

/* Undo \\ \t \n \r in place (other backslashes stay). */
static size_t unescape(char *s, size_t n)
{
	size_t i, k = 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < n && strchr("\\tnr", s[i + 1])) {
			c = s[++i];
			c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\\';
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

/* The bytes of token id after prev (malloc'ed buffer grown as needed). */
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

/* One --logprobs row: token id at position pos after prev, logits that
 * predicted it. */
static void logprob_row(const struct run *r, int pos, int32_t prev, int32_t id, const float *logits,
			int top, struct llm_cand *cand, char **buf, size_t *cap)
{
	double lse = llm_logsumexp(logits, r->n_vocab);
	size_t n = piece(r, prev, id, buf, cap);

	printf("%d\t%d\t", pos, id);
	put_escaped(stdout, *buf, n);
	printf("\t%.6f\t", (double)logits[id] - lse);
	if (top > 0) {
		llm_cand_init(cand, logits, r->n_vocab);
		size_t k = llm_cand_top_k(cand, (size_t)r->n_vocab, top, 1);
		for (size_t i = 0; i < k; i++)
			printf("%s%d:%.6f", i ? "," : "", cand[i].id, (double)cand[i].logit - lse);
	}
	putchar('\n');
}

/* ================================================================ evaluation */

/* Evaluate toks[0..n) at positions pos.. in batches; for every i >= from
 * (i < n) call fn(ud, i, row) with the logits after token i. */
typedef void (*row_fn)(void *ud, int i, const float *row);

static void eval_rows(struct run *r, const int32_t *toks, int n, int pos, int from, row_fn fn,
		      void *ud)
{
	for (int b0 = 0; b0 < n; b0 += r->batch) {
		int nb = n - b0 < r->batch ? n - b0 : r->batch;
		int want = b0 + nb > from;
		if (llm_model_eval(r->m, toks + b0, nb, pos + b0, want ? r->logits : NULL, want))
			cli_die_lib();
		for (int i = b0 < from ? from : b0; i < b0 + nb; i++)
			fn(ud, i, r->logits + (size_t)(i - b0) * (size_t)r->n_vocab);
	}
}

/* ================================================================ modes */

struct gen_opts {
	struct llm_sampler_params sp;
	int n_predict, ignore_eos, echo, logprobs, top_logprobs, quiet;
	const char *kv_out;
};

static void write_kv(struct run *r, const char *path, const int32_t *toks, int n_pos);

struct echo_ctx {
	struct run *r;
	const int32_t *toks;
	int n, top;
	struct llm_cand *cand;
	char **buf;
	size_t *cap;
};

static void echo_row(void *ud, int i, const float *row)
{
	struct echo_ctx *e = ud;
	if (i + 1 < e->n)
		logprob_row(e->r, i + 1, e->toks[i], e->toks[i + 1], row, e->top, e->cand, e->buf, e->cap);
}

static void generate(struct run *r, const char *text, size_t len, const struct gen_opts *g)
{
	struct llm_utf8_stream us = { { 0 }, 0 };
	int32_t *toks = NULL;
	size_t n_prompt = 0, cap = 256;
	char *buf = malloc(cap), out[512 + 8];
	struct llm_cand *cand = malloc((size_t)r->n_vocab * sizeof *cand);
	llm_sampler *s;
	int text_out = !g->logprobs && !(g->kv_out && strcmp(g->kv_out, "-") == 0);
	int n_gen = 0, full = 0;

	if (!buf || !cand)
		cli_die("out of memory");
	tokenize(r, text, len, r->add_bos, &toks, &n_prompt);
	if (n_prompt == 0)
		cli_die("empty prompt (and no BOS to start from)");
	if (n_prompt > (size_t)r->n_ctx)
		cli_die("prompt of %zu tokens does not fit the context of %d (-c)", n_prompt, r->n_ctx);
	int P = (int)n_prompt;
	int32_t *all = realloc(toks, (size_t)r->n_ctx * sizeof *toks);
	if (!all)
		cli_die("out of memory");
	toks = all;
	if (llm_sampler_new(&s, r->n_vocab, &g->sp))
		cli_die_lib();
	for (int i = 0; i < P; i++)
		llm_sampler_accept(s, toks[i]);

	if (g->logprobs)
		printf("pos\tid\ttoken\tlogprob\ttop\n");
	if (g->echo && text_out) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
	}
	double t0 = now();
	if (g->echo && g->logprobs) {
		struct echo_ctx e = { r, toks, P, g->top_logprobs, cand, &buf, &cap };
		eval_rows(r, toks, P, 0, 0, echo_row, &e);
		if (P > 1) /* the last row's logits are also the first prediction's */
			memmove(r->logits, r->logits + (size_t)((P - 1) % r->batch) * (size_t)r->n_vocab,
				(size_t)r->n_vocab * sizeof *r->logits);
	} else if (llm_model_eval(r->m, toks, P, 0, r->logits, 0)) {
		cli_die_lib();
	}
	double t1 = now();

	for (;;) {
		if (g->n_predict >= 0 && n_gen >= g->n_predict)
			break;
		if (P + n_gen >= r->n_ctx) {
			full = 1;
			break;
		}
		if (n_gen > 0 && llm_model_eval(r->m, &toks[P + n_gen - 1], 1, P + n_gen - 1, r->logits, 0))
			cli_die_lib();
		int32_t id = llm_sampler_sample(s, r->logits);
		if (!g->ignore_eos && llm_tokenizer_is_eog(r->tk, id))
			break;
		int32_t prev = toks[P + n_gen - 1];
		toks[P + n_gen++] = id;
		llm_sampler_accept(s, id);
		if (g->logprobs) {
			logprob_row(r, P + n_gen - 1, prev, id, r->logits, g->top_logprobs, cand, &buf, &cap);
			fflush(stdout);
		} else if (text_out) {
			size_t n = piece(r, prev, id, &buf, &cap);
			for (size_t at = 0; at < n; at += 512) {
				size_t k = n - at < 512 ? n - at : 512;
				fwrite(out, 1, llm_utf8_stream_feed(&us, buf + at, k, out), stdout);
			}
			fflush(stdout);
		}
	}
	if (text_out)
		fwrite(out, 1, llm_utf8_stream_flush(&us, out), stdout);
	if (fflush(stdout) || ferror(stdout))
		cli_die("write error on stdout");
	double t2 = now();

	if (full && !g->quiet && (g->n_predict < 0 ? 0 : n_gen < g->n_predict))
		cli_warn("the context of %d tokens is full", r->n_ctx);
	if (!g->quiet)
		fprintf(stderr, "%s: prompt %d tokens, %.2f tok/s; generated %d tokens, %.2f tok/s\n",
			cli_name(), P, P / (t1 - t0), n_gen, n_gen ? n_gen / (t2 - t1) : 0.0);
	if (g->kv_out) {
		int n_pos = P + n_gen;
		if (llm_model_n_past(r->m) < n_pos &&
		    llm_model_eval(r->m, &toks[n_pos - 1], 1, n_pos - 1, NULL, 0))
			cli_die_lib();
		write_kv(r, g->kv_out, toks, n_pos);
	}
	llm_sampler_free(s);
	free(toks);
	free(buf);
	free(cand);
}

/* ---- --score ---- */

struct score_ctx {
	struct run *r;
	const int32_t *toks;
	int s, start; /* evaluation from s; rows of positions >= start-1 count */
	double lp;
};

static void score_row(void *ud, int i, const float *row)
{
	struct score_ctx *c = ud;
	int32_t next = c->toks[c->s + i + 1];
	c->lp += (double)row[next] - llm_logsumexp(row, c->r->n_vocab);
}

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t i = 0;
	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

static void score(struct run *r, int quiet)
{
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	long lineno = 0;
	int32_t *cached = malloc((size_t)r->n_ctx * sizeof *cached);
	size_t n_cached = 0;
	long long n_scored = 0;
	double t0 = now();

	if (!cached)
		cli_die("out of memory");
	while ((len = getline(&line, &lcap, stdin)) != -1) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = 0;
		char *tab = memchr(line, '\t', (size_t)len);
		if (!tab)
			cli_die("stdin:%ld: no tab between prompt and completion", lineno);
		size_t plen = unescape(line, (size_t)(tab - line));
		int32_t *P = NULL;
		size_t nP;
		tokenize(r, line, plen, r->add_bos, &P, &nP);
		char *field = tab + 1, *end = line + len;
		for (int col = 0;; col++) {
			char *t2 = memchr(field, '\t', (size_t)(end - field));
			size_t flen = (size_t)((t2 ? t2 : end) - field);
			char *full = malloc(plen + flen + 1);
			if (!full)
				cli_die("out of memory");
			memcpy(full, line, plen);
			memcpy(full + plen, field, flen);
			size_t clen = unescape(full + plen, flen);
			int32_t *F = NULL;
			size_t nF;
			tokenize(r, full, plen + clen, r->add_bos, &F, &nF);
			if (nF > (size_t)r->n_ctx)
				cli_die("stdin:%ld: %zu tokens do not fit the context of %d (-c)", lineno, nF,
					r->n_ctx);
			size_t start = common_prefix(P, nP, F, nF);
			if (start == 0)
				start = 1; /* no BOS, empty prompt: the first token has no context */
			struct score_ctx c = { r, F, 0, (int)start, 0 };
			long long nt = nF > start ? (long long)(nF - start) : 0;
			if (nt > 0) {
				size_t same = common_prefix(cached, n_cached, F, nF);
				c.s = (int)(same < start - 1 ? same : start - 1);
				eval_rows(r, F + c.s, (int)nF - 1 - c.s, c.s, (int)start - 1 - c.s, score_row, &c);
				memcpy(cached, F, (nF - 1) * sizeof *F);
				n_cached = nF - 1;
			}
			printf("%s%.6f\t%lld", col ? "\t" : "", c.lp, nt);
			n_scored += nt;
			free(F);
			free(full);
			if (!t2)
				break;
			field = t2 + 1;
		}
		putchar('\n');
		if (fflush(stdout))
			cli_die("write error on stdout");
		free(P);
	}
	if (ferror(stdin))
		cli_die("stdin: read error");
	if (!quiet)
		fprintf(stderr, "%s: scored %ld lines, %lld tokens, %.2f s\n", cli_name(), lineno,
			n_scored, now() - t0);
	free(line);
	free(cached);
}

/* ---- --perplexity ---- */

struct ppl_ctx {
	struct run *r;
	const int32_t *toks;
	double nll, nll2;
	long long count;
};

static void ppl_row(void *ud, int i, const float *row)
{
	struct ppl_ctx *c = ud;
	double lp = (double)row[c->toks[i + 1]] - llm_logsumexp(row, c->r->n_vocab);
	c->nll -= lp;
	c->nll2 += lp * lp;
	c->count++;
}

static void perplexity(struct run *r, const char *path, int quiet)
{
	size_t len, n;
	char *text = read_all(path, &len);
	int32_t *toks;
	int N = r->n_ctx, first = N / 2;

	drop_newline(text, &len);
	tokenize(r, text, len, r->add_bos, &toks, &n);
	free(text);
	if (n < 2 * (size_t)N)
		cli_die("%s: %zu tokens; perplexity with a context of %d needs at least %d (-c)", path, n,
			N, 2 * N);
	size_t n_chunk = n / (size_t)N;
	int32_t *chunk = malloc((size_t)N * sizeof *chunk);
	struct ppl_ctx c = { r, chunk, 0, 0, 0 };
	double t0 = now();
	if (!chunk)
		cli_die("out of memory");
	if (!quiet)
		fprintf(stderr, "%s: %s: %zu tokens, %zu chunks of %d\n", cli_name(), path, n, n_chunk, N);
	for (size_t k = 0; k < n_chunk; k++) {
		memcpy(chunk, toks + k * (size_t)N, (size_t)N * sizeof *chunk);
		if (r->add_bos)
			chunk[0] = llm_tokenizer_bos(r->tk);
		eval_rows(r, chunk, N - 1, 0, first, ppl_row, &c);
		printf("[%zu]%.4f,", k + 1, exp(c.nll / (double)c.count));
		fflush(stdout);
	}
	double mean = c.nll / (double)c.count, mean2 = c.nll2 / (double)c.count, ppl = exp(mean);
	double var = mean2 - mean * mean;
	double u = var > 0 && c.count > 1 ? ppl * sqrt(var / (double)(c.count - 1)) : 0;
	printf("\nPPL = %.4f +/- %.5f\n", ppl, u);
	if (fflush(stdout) || ferror(stdout))
		cli_die("write error on stdout");
	if (!quiet)
		fprintf(stderr, "%s: %lld tokens scored, %.2f tok/s evaluated\n", cli_name(), c.count,
			(double)n_chunk * (N - 1) / (now() - t0));
	free(chunk);
	free(toks);
}

/* ---- --kv-out (layout: see the comment at the top) ---- */

static void write_kv(struct run *r, const char *path, const int32_t *toks, int n_pos)
{
	const struct llm_hparams *hp = llm_model_hparams(r->m);
	const llm_meta *mm = llm_ckpt_meta(r->ck);
	llm_gguf_writer *w;
	const char *s;
	int64_t ne[3] = { hp->head_dim, hp->n_head_kv, n_pos };
	size_t row = (size_t)hp->n_head_kv * (size_t)hp->head_dim * sizeof(float);

	if (n_pos < 1)
		cli_die("%s: nothing evaluated to dump", path);
	if (llm_gguf_writer_open(&w, path))
		cli_die_lib();
	llm_meta *wm = llm_gguf_writer_meta(w);
	int rc = llm_meta_set_str(wm, "general.type", "kv-dump");
	if (!rc && llm_meta_get_str(mm, "general.architecture", &s, NULL) == 0)
		rc = llm_meta_set_str(wm, "general.architecture", s);
	if (!rc && llm_meta_get_str(mm, "general.name", &s, NULL) == 0)
		rc = llm_meta_set_str(wm, "general.name", s);
	if (!rc)
		rc = llm_meta_set_u32(wm, "kv.n_layer", (uint32_t)hp->n_layer) ||
		     llm_meta_set_u32(wm, "kv.n_head", (uint32_t)hp->n_head) ||
		     llm_meta_set_u32(wm, "kv.n_head_kv", (uint32_t)hp->n_head_kv) ||
		     llm_meta_set_u32(wm, "kv.head_dim", (uint32_t)hp->head_dim) ||
		     llm_meta_set_u32(wm, "kv.n_pos", (uint32_t)n_pos) ||
		     llm_meta_set_u32(wm, "kv.rope.dimension_count", (uint32_t)hp->rope_dim) ||
		     llm_meta_set_f32(wm, "kv.rope.freq_base", hp->rope_base) ||
		     llm_meta_set_arr(wm, "kv.tokens", LLM_V_I32, toks, (uint64_t)n_pos);
	for (int l = 0; !rc && l < hp->n_layer; l++) {
		char name[64];
		snprintf(name, sizeof name, "kv.%d.k", l);
		if ((rc = llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 3, ne)))
			break;
		snprintf(name, sizeof name, "kv.%d.v", l);
		rc = llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 3, ne);
	}
	for (int l = 0; !rc && l < hp->n_layer; l++) {
		const float *k, *v;
		if (!(rc = llm_model_kv(r->m, l, &k, &v)) &&
		    !(rc = llm_gguf_writer_write(w, k, row * (size_t)n_pos)))
			rc = llm_gguf_writer_write(w, v, row * (size_t)n_pos);
	}
	if (rc) {
		llm_gguf_writer_abort(w);
		cli_die_lib();
	}
	if (llm_gguf_writer_commit(w))
		cli_die_lib();
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
	struct gen_opts g = { LLM_SAMPLER_PARAMS_INIT, -1, 0, 0, 0, 5, 0, NULL };
	struct run r = { 0 };
	const char *arg, *prompt = NULL, *pfile = NULL, *ppl_file = NULL, *loras[64];
	int n_lora = 0;
	llm_lora_set *lset = NULL;
	int c, no_bos = 0, do_tok = 0, do_score = 0, repeat_last_n = 64;
	long long seed = -1;

	cli_init(&cmd, argc, argv);
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case 'p': prompt = arg; break;
		case 'f': pfile = arg; break;
		case 'n': g.n_predict = (int)cli_int("--n-predict", arg, -1, 1 << 30); break;
		case 'c': mo.n_ctx = (int32_t)cli_int("--ctx-size", arg, 1, 1 << 24); break;
		case 't': mo.n_threads = (int)cli_int("--threads", arg, 1, 1024); break;
		case OPT_TEMP: g.sp.temp = (float)cli_double("--temp", arg, 0, 1e6); break;
		case OPT_TOPK: g.sp.top_k = (int32_t)cli_int("--top-k", arg, 0, INT32_MAX); break;
		case OPT_TOPP: g.sp.top_p = (float)cli_double("--top-p", arg, 0, 1); break;
		case OPT_MINP: g.sp.min_p = (float)cli_double("--min-p", arg, 0, 1); break;
		case OPT_RPEN: g.sp.repeat_penalty = (float)cli_double("--repeat-penalty", arg, 1e-6, 1e6); break;
		case OPT_RLAST: repeat_last_n = (int)cli_int("--repeat-last-n", arg, -1, 1 << 24); break;
		case 's': seed = cli_int("--seed", arg, -1, INT64_MAX); break;
		case OPT_ECHO: g.echo = 1; break;
		case OPT_IGNEOS: g.ignore_eos = 1; break;
		case OPT_NOBOS: no_bos = 1; break;
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
	if (g.kv_out && strcmp(g.kv_out, "-") == 0 && g.logprobs)
		cli_usage("--kv-out - and --logprobs would both write to stdout");
	if (g.kv_out && strcmp(g.kv_out, "-") == 0 && isatty(STDOUT_FILENO))
		cli_die("--kv-out -: refusing to write binary output to a terminal (name a FILE or use a pipe)");
	r.path = argv[cli_optind()];
	cli_cleanup_on_signals();

	/* the vocabulary */
	if (llm_ckpt_open(&r.ck, r.path, &ko))
		cli_die_lib();
	if (llm_tokenizer_open(&r.tk, llm_ckpt_meta(r.ck))) {
		llm_err_prefix(LLM_EFORMAT, r.path);
		cli_die_lib();
	}
	r.add_bos = !no_bos && llm_tokenizer_add_bos(r.tk) && llm_tokenizer_bos(r.tk) >= 0;

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
			drop_newline(text, &len);
		}
	}
	if (do_tok) {
		int32_t *t;
		size_t n;
		tokenize(&r, text, len, r.add_bos, &t, &n);
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? " " : "", t[i]);
		putchar('\n');
		free(t);
		goto done;
	}

	/* the model */
	if (llm_ckpt_n_tensors(r.ck) == 0)
		cli_die("%s: no tensors (a vocabulary-only file): cannot run a model", r.path);
	if (llm_model_load(&r.m, r.ck, &mo))
		cli_die_lib();
	if (n_lora) {
		if (llm_lora_set_new(&lset))
			cli_die_lib();
		for (int i = 0; i < n_lora; i++)
			if (llm_lora_set_open(lset, loras[i], r.ck))
				cli_die_lib();
		llm_model_set_lora(r.m, lset);
	}
	r.n_vocab = llm_model_hparams(r.m)->n_vocab;
	r.n_ctx = llm_model_n_ctx(r.m);
	if (mo.n_ctx > 0 && llm_model_hparams(r.m)->n_ctx_train > 0 &&
	    mo.n_ctx > llm_model_hparams(r.m)->n_ctx_train)
		cli_warn("context %d is longer than the model's %d", mo.n_ctx,
			 llm_model_hparams(r.m)->n_ctx_train);
	r.batch = (int)((16u << 20) / (unsigned)r.n_vocab);
	r.batch = r.batch < 1 ? 1 : r.batch > 512 ? 512 : r.batch;
	if (!(r.logits = malloc((size_t)r.batch * (size_t)r.n_vocab * sizeof *r.logits)))
		cli_die("out of memory");
	g.sp.repeat_last_n = repeat_last_n < 0 ? r.n_ctx : repeat_last_n;
	g.sp.seed = seed < 0 ? random_seed() : (uint64_t)seed;
	if (r.verbose)
		fprintf(stderr,
			"%s: seed %llu, context %d, threads %d, temp %g, top-k %d, top-p %g, min-p %g, "
			"repeat-penalty %g, repeat-last-n %d, bos %s\n",
			cli_name(), (unsigned long long)g.sp.seed, r.n_ctx, llm_model_n_threads(r.m),
			(double)g.sp.temp, g.sp.top_k, (double)g.sp.top_p, (double)g.sp.min_p,
			(double)g.sp.repeat_penalty, g.sp.repeat_last_n, r.add_bos ? "yes" : "no");

	if (do_score)
		score(&r, g.quiet);
	else if (ppl_file)
		perplexity(&r, ppl_file, g.quiet);
	else
		generate(&r, text, len, &g);
done:
	free(text);
	free(r.logits);
	llm_model_free(r.m);
	llm_lora_set_free(lset);
	llm_tokenizer_free(r.tk);
	llm_ckpt_free(r.ck);
	return 0;
}
