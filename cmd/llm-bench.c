/* llm-bench - model benchmarks as llama-bench does them (prefill ppN, decode
 * tgN, mean +- sample stddev of tokens/s) and kernel benchmarks (memory
 * bandwidth, sgemm, mat-vec per weight type, naive vs flash attention,
 * quantize/dequantize).  Every result is a row (a JSON object, the one
 * place jansson is used here); the printers turn rows into md, csv, tsv,
 * json or jsonl.  The measuring loops are in lib/bench.c. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "ckpt.h"
#include "cli.h"
#include "convert.h"
#include "error.h"
#include "fpack.h"
#include "kernels.h"
#include "meta.h"
#include "model.h"
#include "provenance.h"
#include "qpack.h"
#include "types.h"

enum {
	OPT_KERNELS = 256, OPT_ONLY, OPT_MEM_SIZE, OPT_SEQ_LENS, OPT_GEMM_SIZES, OPT_PROGRESS,
	OPT_READ_BW,
};

static const struct cli_opt opts[] = {
	{ "model", 'm', "FILE[,FILE]", "model(s) to benchmark (GGUF or any checkpoint llm-info reads)", 'm' },
	{ "n-prompt", 'p', "N[,N]", "prefill tests ppN: N prompt tokens in one batch (default 512; 0: none)", 'p' },
	{ "n-gen", 'n', "N[,N]", "decode tests tgN: N tokens one at a time (default 128; 0: none)", 'n' },
	{ "threads", 't', "N[,N]", "thread counts to run (default: online CPUs)", 't' },
	{ "repetitions", 'r', "N", "timed repetitions of each test, after one warm-up (default 5)", 'r' },
	{ "output", 'o', "FMT", "output format: md (default), csv, tsv, json, jsonl", 'o' },
	{ "read-bw", 0, NULL, "within each timed decode repetition, measure the read bandwidth for as long as every 16 tokens took (tg rows get bw_fraction)", OPT_READ_BW },
	{ "kernels", 0, NULL, "run the kernel benchmarks", OPT_KERNELS },
	{ "only", 0, "LIST", "kernels to run: bandwidth,sgemm,matvec,attention,quant (default all)", OPT_ONLY },
	{ "mem-size", 0, "SIZE", "bytes per bandwidth array and per mat-vec weight set (default 4 x last-level cache, at least 64 MiB)", OPT_MEM_SIZE },
	{ "seq-lens", 0, "N[,N]", "attention sequence lengths (default 128,256,512,1024,2048,4096)", OPT_SEQ_LENS },
	{ "gemm-sizes", 0, "N[,N]", "sgemm sizes N (N x N x N; default 256,512,1024,2048)", OPT_GEMM_SIZES },
	{ "quiet", 'q', NULL, "no warnings and no progress", 'q' },
	{ "progress", 0, NULL, "show progress on stderr even when it is not a terminal", OPT_PROGRESS },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-bench", "[options] -m MODEL[,MODEL]... | --kernels",
	"Benchmark models (prefill ppN and decode tgN tokens/s, as llama-bench) and\n"
	"kernels (memory bandwidth, sgemm, mat-vec, attention, quantization).  Each\n"
	"result is one row with the tool, build, CPU and git state that produced it.",
	opts,
};

/* ======================= options ======================= */

#define MAX_LIST 64

struct list {
	int n;
	long long v[MAX_LIST];
};

static struct {
	char *models; /* comma-separated, owned by argv */
	struct list pp, tg, threads, seq, gemm;
	int reps;
	int kernels;
	unsigned only;  /* bit set of K_* (kernel benchmarks) */
	uint64_t mem_size;
	int read_bw;   /* --read-bw: bandwidth within each decode repetition */
} o;

/* ======================= rows and printers ======================= */

enum { FMT_MD, FMT_CSV, FMT_TSV, FMT_JSON, FMT_JSONL };
static int fmt = FMT_MD;
static json_t *all_rows;     /* FMT_JSON: printed as one array at the end */
static const char *last_kind; /* md/csv/tsv: a header whenever the kind of row changes */

/* -o json: the rows gathered, as one array (once; at exit too, so that an
 * error after some rows does not lose them) */
static void print_json_rows(void)
{
	if (!all_rows)
		return;
	json_dumpf(all_rows, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	putchar('\n');
	fflush(stdout);
	json_decref(all_rows);
	all_rows = NULL;
}

/* Columns of the markdown tables. */
static const char *const md_model_cols[] = { "model", "size", "params", "threads", "test", "t/s", NULL };
static const char *const md_model_bw_cols[] = { "model", "size", "params", "threads", "test", "t/s",
						"weights GB/s", "read GB/s", "fraction",
						"peak GB/s", "of peak", "steal", NULL };
static const char *const md_kernel_cols[] = { "kernel", "param", "threads", "metric", "value", "unit", NULL };

static void human(char *buf, size_t n, double v, const char *const *units, double step, int prec)
{
	int u = 0;
	while (v >= step && units[u + 1]) {
		v /= step;
		u++;
	}
	snprintf(buf, n, "%.*f %s", prec, v, units[u]);
}

static void md_model_row(const json_t *r)
{
	static const char *const bu[] = { "B", "KiB", "MiB", "GiB", "TiB", NULL };
	static const char *const pu[] = { "", "K", "M", "B", "T", NULL };
	char sz[32], np[32];

	human(sz, sizeof sz, (double)json_integer_value(json_object_get(r, "model_size")), bu, 1024, 2);
	human(np, sizeof np, (double)json_integer_value(json_object_get(r, "model_n_params")), pu, 1000, 2);
	fputs("| ", stdout);
	for (const char *t = json_string_value(json_object_get(r, "model_type")); *t; t++) {
		char one[2] = { *t, 0 };
		if (*t == '|') /* the architecture's name comes from the file */
			fputs("\\|", stdout);
		else
			cli_put_safe(stdout, one);
	}
	printf(" | %s | %s | %d | %s | %.2f ± %.2f |", sz, np,
	       (int)json_integer_value(json_object_get(r, "n_threads")),
	       json_string_value(json_object_get(r, "test")),
	       json_real_value(json_object_get(r, "avg_ts")),
	       json_real_value(json_object_get(r, "stddev_ts")));
	if (o.read_bw) {
		const json_t *f = json_object_get(r, "bw_fraction");
		const json_t *st = json_object_get(r, "steal");
		if (json_is_real(f))
			printf(" %.2f | %.2f | %.3f | %.2f | %.3f |",
			       json_real_value(json_object_get(r, "weights_gbps")),
			       json_real_value(json_object_get(r, "read_gbps")), json_real_value(f),
			       json_real_value(json_object_get(r, "read_peak_gbps")),
			       json_real_value(json_object_get(r, "bw_fraction_peak")));
		else
			printf(" | | | | |");
		if (json_is_real(st))
			printf(" %.1f%% |", 100 * json_real_value(st));
		else
			printf(" |");
	}
	putchar('\n');
}

static void md_kernel_row(const json_t *r)
{
	double v = json_number_value(json_object_get(r, "value"));
	printf("| %s | %s | %d | %s | %.*f | %s |\n", json_string_value(json_object_get(r, "kernel")),
	       json_string_value(json_object_get(r, "param")),
	       (int)json_integer_value(json_object_get(r, "n_threads")),
	       json_string_value(json_object_get(r, "metric")),
	       json_is_integer(json_object_get(r, "value")) ? 0 : v >= 100 ? 1 : v >= 1 ? 2 : 4, v,
	       json_string_value(json_object_get(r, "unit")));
}

/* One field as csv/tsv text to f: arrays space-separated, null empty. */
static void put_field(FILE *f, const json_t *v, int csv)
{
	char buf[64];
	const char *s = buf;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING: s = json_string_value(v); break;
	case JSON_INTEGER: snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
	case JSON_REAL: snprintf(buf, sizeof buf, "%.6g", json_real_value(v)); break;
	case JSON_TRUE: s = "true"; break;
	case JSON_FALSE: s = "false"; break;
	case JSON_ARRAY:
		if (csv) { /* one quoted field: the elements as tsv gives them, '"' doubled */
			char *t = NULL;
			size_t tn = 0;
			FILE *m = open_memstream(&t, &tn);
			if (m) {
				put_field(m, v, 0);
				fclose(m);
			}
			fputc('"', f);
			for (size_t k = 0; t && k < tn; k++) {
				if (t[k] == '"')
					fputc('"', f);
				fputc(t[k], f);
			}
			fputc('"', f);
			free(t);
			return;
		}
		json_array_foreach(v, i, x) {
			if (i)
				fputc(' ', f);
			put_field(f, x, 0);
		}
		return;
	default: s = ""; break;
	}
	if (csv && strpbrk(s, ",\"\r\n")) { /* RFC 4180 */
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else if (!csv) {
		cli_put_safe(f, s); /* a tab or newline in a path: \xNN, as the other reports */
	} else {
		fputs(s, f);
	}
}

/* Print (or keep) one finished row; kind is "model" or "kernel". */
static void emit(json_t *row, const char *kind)
{
	const char *key;
	json_t *v;
	int first = 1;

	json_object_set_new(row, "bench", json_string(kind));
	if (isatty(STDOUT_FILENO)) /* the same terminal as the progress bar, probably */
		cli_progress_end();
	if (fmt == FMT_JSON) {
		json_array_append_new(all_rows, row);
		return;
	}
	if (fmt == FMT_JSONL) {
		json_dumpf(row, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		putchar('\n');
	} else if (fmt == FMT_MD) {
		int model = !strcmp(kind, "model");
		if (!last_kind || strcmp(last_kind, kind)) {
			const char *const *c = !model ? md_kernel_cols : o.read_bw ? md_model_bw_cols : md_model_cols;
			if (last_kind)
				putchar('\n');
			for (int i = 0; c[i]; i++)
				printf("| %s ", c[i]);
			printf("|\n");
			for (int i = 0; c[i]; i++)
				printf(i == 0 || (!model && i == 1) || (!model && i == 3) || (!model && i == 5) ?
				       "| --- " : "| ---: ");
			printf("|\n");
		}
		(model ? md_model_row : md_kernel_row)(row);
	} else {
		int csv = fmt == FMT_CSV;
		if (!last_kind || strcmp(last_kind, kind)) {
			json_object_foreach(row, key, v) {
				printf("%s%s", first ? "" : csv ? "," : "\t", key);
				first = 0;
			}
			putchar('\n');
			first = 1;
		}
		json_object_foreach(row, key, v) {
			if (!first)
				putchar(csv ? ',' : '\t');
			put_field(stdout, v, csv);
			first = 0;
		}
		putchar('\n');
	}
	fflush(stdout);
	last_kind = kind;
	json_decref(row);
}

/* ======================= provenance ======================= */

/* The fields every row carries: what produced it, on what, from which tree.
 * One function, so the source of each field can change in one place; the
 * git state comes from lib/provenance (libgit2) and is read once. */
static void add_provenance(json_t *row)
{
	static struct llm_bench_cpu cpu;
	static char commit[41], branch[256], git_err[512];
	static int dirty = -1, have;
	char when[32];
	time_t now = time(NULL);
	json_t *args = json_array();

	if (!have) {
		llm_bench_cpu(&cpu);
		int g = llm_provenance_git(commit, branch, sizeof branch, &dirty);
		if (g)
			commit[0] = branch[0] = 0, dirty = -1; /* outside a repository: nulls */
		if (g && g != LLM_ENOTFOUND) { /* in one git cannot read: nulls, and why */
			snprintf(git_err, sizeof git_err, "%s", llm_errmsg());
			cli_warn("%s (rows have git_commit null and this as git_error)", git_err);
		}
		have = 1;
	}
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	for (char *const *a = cli_args(); *a; a++) /* as given, before option parsing */
		json_array_append_new(args, cli_json_str(*a, strlen(*a)));
	json_object_set_new(row, "tool", json_string(cmd.name));
	json_object_set_new(row, "tool_version", json_string(LLM_VERSION));
	json_object_set_new(row, "build_commit", json_string(LLM_GIT_REV));
	json_object_set_new(row, "argv", args);
	json_object_set_new(row, "cpu_model", json_string(cpu.model));
	json_object_set_new(row, "cpu_simd", json_string(cpu.simd));
	json_object_set_new(row, "isa", json_string(llm_isa_name(llm_isa_best()))); /* after LLM_ISA */
	json_object_set_new(row, "n_cpus", json_integer(cpu.n_cpus));
	json_object_set_new(row, "blas_core", json_string(llm_blas_core())); /* OpenBLAS's kernel set */
	json_object_set_new(row, "git_commit", commit[0] ? json_string(commit) : json_null());
	json_object_set_new(row, "git_branch", branch[0] ? cli_json_str(branch, strlen(branch)) : json_null());
	json_object_set_new(row, "git_dirty", dirty < 0 ? json_null() : json_boolean(dirty));
	json_object_set_new(row, "git_error", git_err[0] ? cli_json_str(git_err, strlen(git_err)) : json_null());
	json_object_set_new(row, "test_time", json_string(when));
}

/* ======================= option values ======================= */

static void parse_list(struct list *l, const char *opt, const char *s, long long min, long long max)
{
	char buf[1024], *tok, *save = NULL;

	if (strlen(s) >= sizeof buf)
		cli_usage("%s: list too long", opt);
	strcpy(buf, s);
	l->n = 0;
	if (!*s || *s == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,")) /* strtok would skip it */
		cli_usage("%s: '%s' has an empty entry", opt, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (l->n == MAX_LIST)
			cli_usage("%s: more than %d values", opt, MAX_LIST);
		l->v[l->n++] = cli_int(opt, tok, min, max);
	}
	if (!l->n)
		cli_usage("%s: empty list", opt);
}

static const char *const kernel_names[] = { "bandwidth", "sgemm", "matvec", "attention", "quant", NULL };
enum { K_BW = 1, K_SGEMM = 2, K_MATVEC = 4, K_ATTN = 8, K_QUANT = 16 };

/* ======================= progress ======================= */

static uint64_t prog_done, prog_total;
static void progress(const char *label)
{
	cli_progress(label, prog_done++, prog_total);
}

/* ======================= model benchmarks ======================= */

static void model_type(char *buf, size_t n, const llm_ckpt *c, int64_t n_params, int main_type)
{
	static const char *const pu[] = { "", "K", "M", "B", "T", NULL };
	const char *arch = NULL;
	size_t len = 0;
	char np[32], ty[32];
	double v = (double)n_params;
	int u = 0;

	if (llm_meta_get_str(llm_ckpt_meta(c), "general.architecture", &arch, &len))
		arch = "?", len = 1;
	while (v >= 1000 && pu[u + 1])
		v /= 1000, u++;
	/* llama.cpp's size labels: "260K", "110M", "6.7B" */
	snprintf(np, sizeof np, v >= 100 || u == 0 ? "%.0f%s" : "%.3g%s", v, pu[u]);
	snprintf(ty, sizeof ty, "%s", main_type >= 0 ? llm_type_name(main_type) : "?");
	for (char *p = ty; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	/* llama-bench's label, "Q4_K - Medium", when general.file_type names
	 * the type that holds most weights (a writer that stored 0 for a
	 * K-quant file would say "all F32") */
	uint32_t ft;
	const char *fn = llm_ftype_name(llm_ckpt_meta(c), &ft);
	size_t tl = strlen(ty);
	if (fn && !strcmp(fn, "all F32") && !strcmp(ty, "F32"))
		snprintf(ty, sizeof ty, "%s", fn);
	else if (fn && !strncmp(fn, ty, tl) && (fn[tl] == ' ' || !fn[tl]))
		snprintf(ty, sizeof ty, "%s", fn);
	snprintf(buf, n, "%.*s %s %s", (int)len, arch, np, ty);
}

/* Bytes of weights one decoded token reads: every tensor, except that of a
 * separate token_embd (output.weight present) only the token's row. */
static uint64_t decode_bytes(const llm_ckpt *c, uint64_t size)
{
	int64_t e = llm_ckpt_find(c, "token_embd.weight");
	if (e < 0 || llm_ckpt_find(c, "output.weight") < 0)
		return size;
	const struct llm_tensor_info *t = llm_ckpt_tensor(c, e);
	int64_t rows = t->n_dims >= 2 ? t->ne[1] : 1;
	return rows > 0 ? size - t->size + t->size / (uint64_t)rows : size;
}

/* What --read-bw measures within each decode repetition r. */
struct readbw {
	double sustained[MAX_LIST * 16]; /* GB/s over as long as repetition r decoded */
	double peak[MAX_LIST * 16];      /* GB/s of the fastest pass among those */
	uint64_t steal, total;           /* CPU ticks during the repetitions: stolen, all */
	int ticks_ok;                    /* /proc/stat was read before and after each */
};

/* A JSON number, or null when x is negative (not measured). */
static json_t *real_or_null(double x) { return x < 0 ? json_null() : json_real(x); }

/* rb: the read bandwidth measured with each repetition, or NULL */
static json_t *model_row(const char *path, const char *type, uint64_t size, uint64_t dbytes,
			 int64_t n_params, int threads, int n_prompt, int n_gen, const double *ts,
			 const struct readbw *rb, int reps)
{
	struct llm_bench_stats st;
	json_t *r = json_object(), *samples = json_array();
	char test[32];

	llm_bench_stats(&st, ts, reps);
	snprintf(test, sizeof test, "%s%d", n_prompt ? "pp" : "tg", n_prompt ? n_prompt : n_gen);
	for (int i = 0; i < reps; i++)
		json_array_append_new(samples, json_real(ts[i]));
	json_object_set_new(r, "model_filename", cli_json_str(path, strlen(path)));
	json_object_set_new(r, "model_type", cli_json_str(type, strlen(type)));
	json_object_set_new(r, "model_size", json_integer((json_int_t)size));
	json_object_set_new(r, "model_n_params", json_integer(n_params));
	json_object_set_new(r, "n_threads", json_integer(threads));
	json_object_set_new(r, "n_prompt", json_integer(n_prompt));
	json_object_set_new(r, "n_gen", json_integer(n_gen));
	json_object_set_new(r, "test", json_string(test));
	json_object_set_new(r, "avg_ts", json_real(st.mean));
	json_object_set_new(r, "stddev_ts", json_real(st.stddev));
	/* decode is memory-bound: the weight stream it sustains, to set against
	 * the bandwidth kernel's read figure */
	json_object_set_new(r, "decode_bytes", json_integer((json_int_t)dbytes));
	json_object_set_new(r, "weights_gbps",
			    n_prompt ? json_null() : json_real(st.mean * (double)dbytes / 1e9));
	json_object_set_new(r, "samples_ts", samples);
	/* --read-bw: each repetition's weight stream over the read bandwidth
	 * measured among its tokens, so a host whose memory speed drifts
	 * still gives a steady fraction (the median over repetitions) */
	if (rb && !n_prompt) {
		double frac[MAX_LIST * 16], fpk[MAX_LIST * 16];
		struct llm_bench_stats sb, sp, sf, sfp;
		json_t *rs = json_array();
		for (int i = 0; i < reps; i++) {
			frac[i] = ts[i] * (double)dbytes / 1e9 / rb->sustained[i];
			fpk[i] = ts[i] * (double)dbytes / 1e9 / rb->peak[i];
			json_array_append_new(rs, json_real(rb->sustained[i]));
		}
		llm_bench_stats(&sb, rb->sustained, reps);
		llm_bench_stats(&sp, rb->peak, reps);
		llm_bench_stats(&sf, frac, reps);
		llm_bench_stats(&sfp, fpk, reps);
		json_object_set_new(r, "read_gbps", json_real(sb.median));
		json_object_set_new(r, "bw_fraction", json_real(sf.median));
		json_object_set_new(r, "read_peak_gbps", json_real(sp.median));
		json_object_set_new(r, "bw_fraction_peak", json_real(sfp.median));
		json_object_set_new(r, "steal", real_or_null(rb->ticks_ok && rb->total
								 ? (double)rb->steal / (double)rb->total : -1));
		json_object_set_new(r, "samples_read_gbps", rs);
	} else {
		const char *k[] = { "read_gbps", "bw_fraction", "read_peak_gbps", "bw_fraction_peak", "steal" };
		for (size_t i = 0; i < sizeof k / sizeof *k; i++)
			json_object_set_new(r, k[i], json_null());
		json_object_set_new(r, "samples_read_gbps", json_array());
	}
	add_provenance(r);
	return r;
}

/* Tokens of decoding between two read measurements with --read-bw: the
 * host's memory speed on the development VM flipped between ~35 and ~65
 * GB/s from one minute (or a few seconds) to the next, so a read measured
 * after a whole repetition (2-8 s) was now and then taken in the other
 * state than the decoding it was set against. */
#define READ_EVERY 16

/* One test (pp when n_prompt > 0, else tg) on a loaded model: a warm-up,
 * then o.reps timed runs; ts[] gets tokens/s, and rb (when not NULL, tg
 * only) what --read-bw measures within each timed run: after every
 * READ_EVERY tokens the read kernel over --mem-size on as many threads,
 * passed over for as long as those tokens took, so that both see the same
 * memory speed and the same share of CPU time taken by a hypervisor (on
 * the development VM 7-10%, in slices of 10 ms and more, which a single
 * pass of a few ms almost never meets but a decode run always does). */
static void run_test(llm_model *m, const char *path, int n_prompt, int n_gen, double *ts,
		     struct readbw *rb, int threads, uint64_t *seed)
{
	double s;
	int n = n_prompt ? n_prompt : n_gen;
	char label[64];

	snprintf(label, sizeof label, "%s%d", n_prompt ? "pp" : "tg", n);
	for (int r = -1; r < o.reps; r++) {
		uint64_t st0, tt0, st1, tt1;
		int rc, ticks = llm_bench_cpu_ticks(&st0, &tt0);
		int with_read = rb && !n_prompt && r >= 0;
		progress(label);
		/* warm-up as llama-bench: the same prompt, or one generated token */
		if (n_prompt)
			rc = llm_bench_pp(&s, m, n_prompt, seed);
		else if (with_read)
			rc = llm_bench_tg_read(&s, &rb->sustained[r], &rb->peak[r], m, n_gen, READ_EVERY,
					       (size_t)(o.mem_size / sizeof(double)), threads, seed);
		else
			rc = llm_bench_tg(&s, m, r < 0 ? 1 : n_gen, seed);
		if (rc)
			cli_die("%s: %s: %s", path, label, llm_errmsg());
		ticks |= llm_bench_cpu_ticks(&st1, &tt1);
		if (r >= 0)
			ts[r] = s > 0 ? n / s : INFINITY;
		if (!with_read)
			continue;
		if (r == 0)
			rb->steal = rb->total = 0, rb->ticks_ok = 1;
		rb->ticks_ok &= !ticks;
		rb->steal += st1 - st0;
		rb->total += tt1 - tt0;
		rb->sustained[r] /= 1e9;
		rb->peak[r] /= 1e9;
	}
}

static void run_models(void)
{
	char *save = NULL, *path;
	double ts[MAX_LIST * 16];
	static struct readbw rb;
	uint64_t seed = 42;
	int32_t n_ctx = 1;

	for (int i = 0; i < o.pp.n; i++)
		if (o.pp.v[i] > n_ctx)
			n_ctx = (int32_t)o.pp.v[i];
	for (int i = 0; i < o.tg.n; i++)
		if (o.tg.v[i] > n_ctx)
			n_ctx = (int32_t)o.tg.v[i];
	for (path = strtok_r(o.models, ",", &save); path; path = strtok_r(NULL, ",", &save)) {
		llm_ckpt *c;
		int64_t n_params;
		uint64_t size;
		int main_type;
		char type[96];

		if (llm_ckpt_open(&c, path, NULL))
			cli_die_lib();
		llm_bench_model_size(c, &n_params, &size, &main_type);
		model_type(type, sizeof type, c, n_params, main_type);
		uint64_t dbytes = decode_bytes(c, size);
		for (int t = 0; t < o.threads.n; t++) {
			struct llm_model_opts mo = LLM_MODEL_OPTS_INIT;
			llm_model *m;

			mo.n_ctx = n_ctx;
			mo.n_threads = (int)o.threads.v[t];
			if (llm_model_load(&m, c, &mo)) /* the message names the file */
				cli_die_lib();
			for (int i = 0; i < o.pp.n; i++) {
				if (!o.pp.v[i])
					continue;
				run_test(m, path, (int)o.pp.v[i], 0, ts, NULL, mo.n_threads, &seed);
				emit(model_row(path, type, size, dbytes, n_params, mo.n_threads,
					       (int)o.pp.v[i], 0, ts, NULL, o.reps), "model");
			}
			for (int i = 0; i < o.tg.n; i++) {
				if (!o.tg.v[i])
					continue;
				struct readbw *bw = o.read_bw ? &rb : NULL;
				run_test(m, path, 0, (int)o.tg.v[i], ts, bw, mo.n_threads, &seed);
				emit(model_row(path, type, size, dbytes, n_params, mo.n_threads, 0,
					       (int)o.tg.v[i], ts, bw, o.reps), "model");
			}
			llm_model_free(m);
		}
		llm_ckpt_free(c);
	}
}

/* ======================= kernel benchmarks ======================= */

/* A kernel row from per-repetition values: value is the best (max for
 * rates, min for times), mean and stddev describe the spread. */
static json_t *kernel_row(const char *kernel, const char *param, int threads, const char *metric,
			  const char *unit, const double *v, int n, int higher_is_better)
{
	struct llm_bench_stats st;
	json_t *r = json_object(), *samples = json_array();

	llm_bench_stats(&st, v, n);
	for (int i = 0; i < n; i++)
		json_array_append_new(samples, json_real(v[i]));
	json_object_set_new(r, "kernel", json_string(kernel));
	json_object_set_new(r, "param", json_string(param));
	json_object_set_new(r, "n_threads", json_integer(threads));
	json_object_set_new(r, "metric", json_string(metric));
	json_object_set_new(r, "value", json_real(higher_is_better ? st.max : st.min));
	json_object_set_new(r, "unit", json_string(unit));
	json_object_set_new(r, "mean", json_real(st.mean));
	json_object_set_new(r, "stddev", json_real(st.stddev));
	json_object_set_new(r, "samples", samples);
	add_provenance(r);
	return r;
}

/* A row holding one exact quantity (no repetitions): scratch bytes. */
static json_t *kernel_fact(const char *kernel, const char *param, int threads, const char *metric,
			   const char *unit, int64_t value)
{
	json_t *r = json_object();
	json_object_set_new(r, "kernel", json_string(kernel));
	json_object_set_new(r, "param", json_string(param));
	json_object_set_new(r, "n_threads", json_integer(threads));
	json_object_set_new(r, "metric", json_string(metric));
	json_object_set_new(r, "value", json_integer(value));
	json_object_set_new(r, "unit", json_string(unit));
	json_object_set_new(r, "mean", json_null());
	json_object_set_new(r, "stddev", json_null());
	json_object_set_new(r, "samples", json_array());
	add_provenance(r);
	return r;
}

static double best_read_bw; /* bytes/s at the current thread count, for the mat-vec fractions */

static void bench_bandwidth(int threads)
{
	static const char *const names[] = { "read", "copy", "triad" };
	size_t n = (size_t)(o.mem_size / sizeof(double));
	double *t = calloc((size_t)(LLM_BW_COUNT * o.reps), sizeof *t), *gbs = calloc((size_t)o.reps, sizeof *gbs);
	char param[64];

	if (!t || !gbs)
		cli_die("out of memory");
	progress("bandwidth");
	if (llm_bench_bandwidth(t, n, threads, o.reps))
		cli_die_lib();
	prog_done += 2;
	for (int k = 0; k < LLM_BW_COUNT; k++) {
		double bytes = llm_bench_bandwidth_bytes(k, n);
		for (int r = 0; r < o.reps; r++)
			gbs[r] = bytes / t[k * o.reps + r] / 1e9;
		if (n * 8 >= (1u << 20))
			snprintf(param, sizeof param, "%s %.0f MiB", names[k], (double)n * 8 / 1048576);
		else
			snprintf(param, sizeof param, "%s %.0f KiB", names[k], (double)n * 8 / 1024);
		json_t *row = kernel_row("bandwidth", param, threads, "bandwidth", "GB/s", gbs, o.reps, 1);
		if (k == LLM_BW_READ)
			best_read_bw = json_real_value(json_object_get(row, "value")) * 1e9;
		emit(row, "kernel");
	}
	free(t), free(gbs);
}

static void bench_sgemm(int threads)
{
	double *t = calloc((size_t)o.reps, sizeof *t);
	char param[32];

	if (!t)
		cli_die("out of memory");
	/* OpenBLAS and our gemm.c (the one llm_matmul picks where it has a
	 * vector kernel) on the same product */
	static const char *const impl[] = { [LLM_BENCH_GEMM_BLAS] = "blas", [LLM_BENCH_GEMM_OWN] = "own" };
	for (int i = 0; i < o.gemm.n; i++)
		for (int w = 0; w < 2; w++) {
			int n = (int)o.gemm.v[i];
			progress("sgemm");
			if (llm_bench_gemm(t, w, n, n, n, threads, o.reps))
				cli_die_lib();
			for (int r = 0; r < o.reps; r++)
				t[r] = 2.0 * n * n * (double)n / t[r] / 1e9;
			snprintf(param, sizeof param, "%s %dx%dx%d", impl[w], n, n, n);
			emit(kernel_row("sgemm", param, threads, "compute", "GFLOP/s", t, o.reps, 1), "kernel");
		}
	free(t);
}

static const int quant_types[] = {
	LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,
	LLM_TYPE_Q5_0, LLM_TYPE_Q5_1,
};
#define N_QUANT_TYPES (int)(sizeof quant_types / sizeof quant_types[0])
/* mat-vec: the same, then the K-quants and IQ4 types (read, not written:
 * random blocks) */
static const int matvec_types[] = {
	LLM_TYPE_F32,  LLM_TYPE_F16,  LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,
	LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K,
	LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS,
};
#define N_MATVEC_TYPES (int)(sizeof matvec_types / sizeof matvec_types[0])

static void bench_quant(void)
{
	const int64_t n = 1 << 22; /* 4M values: 16 MiB of floats */
	double *tq = calloc((size_t)o.reps, sizeof *tq), *tdq = calloc((size_t)o.reps, sizeof *tdq);

	if (!tq || !tdq)
		cli_die("out of memory");
	for (int i = 0; i < N_QUANT_TYPES; i++) {
		const char *name = llm_type_name(quant_types[i]);
		if (quant_types[i] == LLM_TYPE_F32)
			continue;
		progress("quant");
		if (llm_bench_quant(tq, tdq, quant_types[i], n, o.reps))
			cli_die_lib();
		for (int r = 0; r < o.reps; r++) {
			tq[r] = (double)n / tq[r] / 1e6;
			tdq[r] = (double)n / tdq[r] / 1e6;
		}
		emit(kernel_row("quantize", name, 1, "throughput", "Mvalues/s", tq, o.reps, 1), "kernel");
		emit(kernel_row("dequantize", name, 1, "throughput", "Mvalues/s", tdq, o.reps, 1), "kernel");
	}
	free(tq), free(tdq);
}

/* Mat-vec over --mem-size bytes of weights per type: 4096-value rows, as
 * many rows as fit the F32 matrix in --mem-size (at most 4096), and as many
 * copies as make the weights of each type fill --mem-size. */
static void bench_matvec(int threads)
{
	const int64_t n = 4096;
	int64_t d = (int64_t)(o.mem_size / (uint64_t)(n * 4));
	double *t = calloc((size_t)o.reps, sizeof *t), *f = calloc((size_t)o.reps, sizeof *f);
	char param[64];

	if (!t || !f)
		cli_die("out of memory");
	d = d < 64 ? 64 : d > 4096 ? 4096 : d;
	for (int i = 0; i < N_MATVEC_TYPES; i++) {
		int ty = matvec_types[i];
		size_t mat = llm_type_row_size(ty, n) * (size_t)d;
		int n_mats = (int)((o.mem_size + mat - 1) / mat);
		double bytes;

		progress("matvec");
		if (llm_bench_matvec(t, &bytes, ty, n, d, n_mats, threads, o.reps))
			cli_die_lib();
		for (int r = 0; r < o.reps; r++)
			t[r] = bytes / t[r] / 1e9;
		snprintf(param, sizeof param, "%s %" PRId64 "x%" PRId64 " x%d%s", llm_type_name(ty), d, n,
			 n_mats, llm_qpack_available(ty) ? " vnni" : llm_fpack_available(ty) ? " panels" : "");
		json_t *row = kernel_row("matvec", param, threads, "weights", "GB/s", t, o.reps, 1);
		emit(row, "kernel");
		if (best_read_bw > 0) {
			for (int r = 0; r < o.reps; r++)
				f[r] = t[r] * 1e9 / best_read_bw;
			emit(kernel_row("matvec", param, threads, "bw_fraction", "", f, o.reps, 1), "kernel");
		}
	}
	free(t), free(f);
}

/* One layer's attention, 8 query heads sharing 2 KV heads of 64 values,
 * naive then flash, for each --seq-lens length: the causal prefill of
 * that many positions, then one decoding step against that many. */
static void bench_attention(int threads)
{
	static const char *const kname[2][2] = { { "attention_naive", "attention_flash" },
						  { "attention_decode_naive", "attention_decode_flash" } };
	const int n_head = 8, n_head_kv = 2, head_dim = 64;
	double *t = calloc((size_t)o.reps, sizeof *t);
	char param[64];

	if (!t)
		cli_die("out of memory");
	for (int i = 0; i < o.seq.n; i++) {
		int seq = (int)o.seq.v[i];
		snprintf(param, sizeof param, "%d h%d/%dx%d", seq, n_head, n_head_kv, head_dim);
		for (int dec = 0; dec < 2; dec++)
			for (int flash = 0; flash < 2; flash++) {
				const char *kn = kname[dec][flash];
				size_t scratch;
				progress(kn);
				if (llm_bench_attention(t, &scratch, flash, seq, dec ? 1 : seq, n_head, n_head_kv,
							head_dim, threads, o.reps))
					cli_die_lib();
				for (int r = 0; r < o.reps; r++)
					t[r] *= 1e3;
				emit(kernel_row(kn, param, threads, "time", "ms", t, o.reps, 0), "kernel");
				emit(kernel_fact(kn, param, threads, "scratch", "bytes", (int64_t)scratch),
				     "kernel");
			}
	}
	free(t);
}

static void run_kernels(void)
{
	for (int t = 0; t < o.threads.n; t++) {
		int th = (int)o.threads.v[t];
		best_read_bw = 0; /* fractions against this thread count's bandwidth */
		if (o.only & K_BW)
			bench_bandwidth(th);
		if (o.only & K_SGEMM)
			bench_sgemm(th);
		if (o.only & K_MATVEC)
			bench_matvec(th);
		if (o.only & K_ATTN)
			bench_attention(th);
	}
	if (o.only & K_QUANT)
		bench_quant();
}

static uint64_t count_runs(void)
{
	uint64_t n = 0, per_test = (uint64_t)o.reps + 1;
	int n_models = 0;

	if (o.models) {
		n_models = 1;
		for (const char *p = o.models; *p; p++)
			n_models += *p == ',';
		for (int i = 0; i < o.pp.n; i++)
			n += o.pp.v[i] ? per_test : 0;
		for (int i = 0; i < o.tg.n; i++)
			n += o.tg.v[i] ? per_test : 0;
		n *= (uint64_t)(n_models * o.threads.n);
	}
	if (o.kernels) {
		uint64_t k = 0;
		k += o.only & K_BW ? 3 : 0;
		k += o.only & K_SGEMM ? 2 * (uint64_t)o.gemm.n : 0; /* blas and own */
		k += o.only & K_MATVEC ? N_MATVEC_TYPES : 0;
		k += o.only & K_ATTN ? 4 * (uint64_t)o.seq.n : 0;  /* prefill, decode x naive, flash */
		n += k * (uint64_t)o.threads.n + (o.only & K_QUANT ? N_QUANT_TYPES - 1 : 0);
	}
	return n;
}

/* ======================= main ======================= */

int main(int argc, char **argv)
{
	const char *arg;
	int c;
	struct llm_bench_cpu cpu;

	cli_init(&cmd, argc, argv);
	parse_list(&o.pp, "-p", "512", 0, 1 << 20);
	parse_list(&o.tg, "-n", "128", 0, 1 << 20);
	parse_list(&o.seq, "--seq-lens", "128,256,512,1024,2048,4096", 1, 1 << 20);
	parse_list(&o.gemm, "--gemm-sizes", "256,512,1024,2048", 1, 1 << 15);
	o.threads.n = 1;
	o.threads.v[0] = cli_nproc();
	o.reps = 5;
	o.only = K_BW | K_SGEMM | K_MATVEC | K_ATTN | K_QUANT;
	const char *kernel_opt = NULL; /* --seq-lens or --gemm-sizes given */
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case 'm': o.models = (char *)arg; break;
		case 'p': parse_list(&o.pp, "-p", arg, 0, 1 << 20); break;
		case 'n': parse_list(&o.tg, "-n", arg, 0, 1 << 20); break;
		case 't': parse_list(&o.threads, "-t", arg, 1, 1024); break;
		case 'r': o.reps = (int)cli_int("-r", arg, 1, 1000); break;
		case 'o':
			if (!strcmp(arg, "md")) fmt = FMT_MD;
			else if (!strcmp(arg, "csv")) fmt = FMT_CSV;
			else if (!strcmp(arg, "tsv")) fmt = FMT_TSV;
			else if (!strcmp(arg, "json")) fmt = FMT_JSON;
			else if (!strcmp(arg, "jsonl")) fmt = FMT_JSONL;
			else cli_usage("-o: unknown format '%s' (md, csv, tsv, json, jsonl)", arg);
			break;
		case OPT_KERNELS: o.kernels = 1; break;
		case OPT_ONLY: {
			char *buf = strdup(arg), *tok, *save = NULL;
			if (!buf)
				cli_die("out of memory");
			o.only = 0;
			for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int k;
				for (k = 0; kernel_names[k] && strcmp(kernel_names[k], tok); k++)
					;
				if (!kernel_names[k])
					cli_usage("--only: unknown kernel '%s' (bandwidth, sgemm, matvec, attention, quant)", tok);
				o.only |= 1u << k;
			}
			free(buf);
			if (!o.only)
				cli_usage("--only: empty list");
			o.kernels = 1;
			break;
		}
		case OPT_MEM_SIZE: o.mem_size = cli_size("--mem-size", arg, 1024); break;
		case OPT_SEQ_LENS: parse_list(&o.seq, "--seq-lens", arg, 1, 1 << 20), kernel_opt = "--seq-lens"; break;
		case OPT_GEMM_SIZES: parse_list(&o.gemm, "--gemm-sizes", arg, 1, 1 << 15), kernel_opt = "--gemm-sizes"; break;
		case 'q': cli_quiet = 1; cli_progress_enabled = 0; break;
		case OPT_PROGRESS: cli_progress_enabled = 1; break;
		case OPT_READ_BW: o.read_bw = 1; break;
		}
	}
	if (cli_optind() < argc)
		cli_usage("unexpected argument '%s' (models go after -m)", argv[cli_optind()]);
	if (!o.models && !o.kernels)
		cli_usage("nothing to do: give -m MODEL or --kernels");
	if (o.models && !*o.models)
		cli_usage("-m: empty model name");
	if (o.models && strspn(o.models, ",") == strlen(o.models))
		cli_usage("-m: no model named in '%s'", o.models);
	if (o.models && !o.kernels && count_runs() == 0)
		cli_usage("nothing to do: -p and -n are all 0");
	/* options that would do nothing are refused, not ignored */
	if (kernel_opt && !o.kernels)
		cli_usage("%s applies to the kernel benchmarks (--kernels)", kernel_opt);
	int any_tg = 0;
	for (int i = 0; i < o.tg.n; i++)
		any_tg |= o.tg.v[i] > 0;
	if (o.read_bw && (!o.models || !any_tg))
		cli_usage("--read-bw measures during model decoding: give -m MODEL and -n N > 0");
	if (!o.mem_size) {
		/* STREAM's rule: each array at least 4 x the last-level cache */
		llm_bench_cpu(&cpu);
		o.mem_size = cpu.llc_bytes ? 4 * (uint64_t)cpu.llc_bytes : 256u << 20;
		if (o.mem_size < (64u << 20))
			o.mem_size = 64u << 20;
	}
	if (o.mem_size < 4096)
		cli_usage("--mem-size: at least 4 KiB");
	if (fmt == FMT_JSON) {
		all_rows = json_array();
		atexit(print_json_rows); /* an error after some rows: those still come out */
	}
	prog_total = count_runs();
	if (o.models)
		run_models();
	if (o.kernels)
		run_kernels();
	cli_progress_end();
	print_json_rows();
	cli_flush_stdout();
	return 0;
}
