/* llm-svd-delta - extract a LoRA adapter from a fine-tune: truncated SVD of W_tuned - W_base. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "error.h"
#include "io.h"
#include "provenance.h"
#include "regex.h"
#include "svd.h"

enum { OPT_ENERGY = 256, OPT_MAXRANK, OPT_EXACT, OPT_OVER, OPT_POWER, OPT_INC, OPT_EXC, OPT_REPORT, OPT_PROGRESS, OPT_SEED, OPT_NOPROV, OPT_ZSTD, OPT_ZLEVEL };

static const struct cli_opt opts[] = {
	{ "rank", 'r', "RANK", "rank of every tensor (default 16 unless --energy)", 'r' },
	{ "energy", 0, "F", "per tensor, the smallest rank keeping fraction F of ||dW||_F^2", OPT_ENERGY },
	{ "max-rank", 0, "N", "cap on the rank", OPT_MAXRANK },
	{ "exact", 0, NULL, "exact SVD (LAPACK gesdd) instead of the randomized one", OPT_EXACT },
	{ "oversample", 0, "P", "randomized SVD: extra sketch columns (default 10)", OPT_OVER },
	{ "power-iters", 0, "Q", "randomized SVD: power iterations (default 2)", OPT_POWER },
	{ "seed", 0, "N", "randomized SVD: seed of the Gaussian sketch", OPT_SEED },
	{ "include", 0, "REGEX", "only tensors whose name matches REGEX (PCRE2)", OPT_INC },
	{ "exclude", 0, "REGEX", "skip tensors whose name matches REGEX (PCRE2)", OPT_EXC },
	{ "report", 0, "FILE", "per-tensor TSV: name, shape, rank, energy_kept, rel_fro_error, seconds (- for stdout)", OPT_REPORT },
	{ "output", 'o', "FILE", "output adapter GGUF (default: stdout, - as well)", 'o' },
	{ "zstd", 0, NULL, "write the compressed container (default when FILE ends in .zst)", OPT_ZSTD },
	{ "zstd-level", 0, "LEVEL", "zstd level 1..22 (default 3; implies --zstd; --zstd=LEVEL also works)", OPT_ZLEVEL },
	{ "threads", 'j', "N", "OpenBLAS threads (default: online CPUs)", 'j' },
	{ "no-provenance", 0, NULL, "do not record provenance.* metadata", OPT_NOPROV },
	{ "progress", 0, NULL, "show a progress bar even when stderr is not a terminal", OPT_PROGRESS },
	{ "quiet", 'q', NULL, "no notices on stderr", 'q' },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-svd-delta", "[options] BASE TUNED",
	"For each 2-D weight of BASE and TUNED (GGUF, Hugging Face directories, llama2.c .bin),\n"
	"dW = W_tuned - W_base, truncated SVD, B = U sqrt(S), A = sqrt(S) V^T:\n"
	"a GGUF LoRA adapter (alpha 0: applied as B A) for llm-lora-merge or llama.cpp.",
	opts,
};

static char *report_tsv(const struct llm_svd_delta_report *r, int64_t n, size_t *len)
{
	struct cli_text t = { 0 };
	cli_text_printf(&t, "name\tshape\trank\tenergy_kept\trel_fro_error\tseconds\n");
	for (int64_t i = 0; i < n; i++) {
		cli_text_field(&t, r[i].name);
		cli_text_printf(&t, "\t%lldx%lld\t%lld\t%.9g\t%.6g\t%.3f\n", (long long)r[i].n_in,
				(long long)r[i].n_out, (long long)r[i].rank, r[i].energy_kept, r[i].rel_fro_error,
				r[i].seconds);
	}
	return cli_text_take(&t, len);
}

/* A bad --include or --exclude pattern is a usage error, as grep's is. */
static void usage_regex(const char *opt, const char *pattern)
{
	llm_regex *re;
	if (pattern && llm_regex_compile(&re, pattern))
		cli_usage("%s: %s", opt, llm_errmsg());
	if (pattern)
		llm_regex_free(re);
}

/* --report, written before the adapter is put in place
 * (llm_svd_delta_opts' finish): a report that cannot be written leaves no
 * adapter behind */
static int put_report(void *ud, const struct llm_svd_delta_report *r, int64_t n)
{
	size_t len = 0;
	char *tsv = report_tsv(r, n, &len);
	return cli_report_put(ud, tsv, len);
}

int main(int argc, char **argv)
{
	struct llm_svd_delta_opts so = LLM_SVD_DELTA_OPTS_INIT;
	struct llm_gguf_write_opts wo = LLM_GGUF_WRITE_OPTS_INIT;
	struct llm_svd_delta_report *rep = NULL;
	const char *arg, *out = NULL, *report = NULL;
	llm_ckpt *base, *tuned;
	int64_t n_rep = 0;
	int c, threads = cli_nproc(), have_rank = 0, provenance = 1;
	llm_meta prov;
	/* the argument vector as given (getopt permutes argv) */
	cli_init(&cmd, argc, argv);
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case 'r': so.rank = cli_int("--rank", arg, 1, 1 << 20); have_rank = 1; break;
		case OPT_ENERGY: so.energy = cli_double("--energy", arg, 1e-12, 1.0); break;
		case OPT_MAXRANK: so.max_rank = cli_int("--max-rank", arg, 1, 1 << 20); break;
		case OPT_EXACT: so.svd.exact = 1; break;
		case OPT_OVER: so.svd.oversample = (int)cli_int("--oversample", arg, 0, 1 << 16); break;
		case OPT_POWER: so.svd.power_iters = (int)cli_int("--power-iters", arg, 0, 100); break;
		case OPT_SEED: so.svd.seed = (uint64_t)cli_int("--seed", arg, 0, INT64_MAX); break;
		case OPT_INC: so.include = arg; break;
		case OPT_EXC: so.exclude = arg; break;
		case OPT_REPORT: report = arg; break;
		case 'o': out = arg; break;
		case 'j': threads = (int)cli_int("--threads", arg, 1, 1024); break;
		case OPT_NOPROV: provenance = 0; break;
		case OPT_ZSTD: wo.zstd = 1; break;
		case OPT_ZLEVEL: wo.zstd = 1; wo.zstd_level = (int)cli_int("--zstd-level", arg, 1, 22); break;
		case OPT_PROGRESS: cli_progress_enabled = 1; break;
		case 'q': cli_quiet = 1; break;
		}
	}
	if (argc - cli_optind() != 2)
		cli_usage("expected BASE and TUNED");
	usage_regex("--include", so.include);
	usage_regex("--exclude", so.exclude);
	if (have_rank && so.energy > 0)
		cli_usage("--rank and --energy exclude each other");
	if (!have_rank && so.energy <= 0)
		so.rank = 16;
	out = cli_output_name(out), report = cli_output_name(report);
	cli_check_report(out, report);
	cli_refuse_input("--report", report, (const char *const *)argv + cli_optind(), 2);
	cli_refuse_input("-o", out, (const char *const *)argv + cli_optind(), 2);
	cli_stdin_claim(argv[cli_optind()], NULL);
	cli_stdin_claim(argv[cli_optind() + 1], NULL);
	cli_refuse_tty(out);
	cli_cleanup_on_signals();
	cli_probe_output(out); /* before hashing and reading the inputs */
	cli_probe_output(report);
	llm_svd_set_threads(threads);

	if (llm_ckpt_open(&base, argv[cli_optind()], NULL) || llm_ckpt_open(&tuned, argv[cli_optind() + 1], NULL))
		cli_die_lib();
	llm_meta_init(&prov);
	if (provenance) {
		struct llm_prov_input in[2] = { { argv[cli_optind()], llm_ckpt_meta(base) },
						{ argv[cli_optind() + 1], llm_ckpt_meta(tuned) } };
		if (llm_provenance_fill(&prov, cli_name(), argc, cli_args(), in, 2))
			cli_die_lib();
	}
	so.extra = &prov;
	so.write = &wo;
	so.progress = cli_progress_cb;
	so.notice = cli_notice_cb;
	struct llm_out ro;
	if (report) {
		cli_report_open(&ro, report);
		so.ud = &ro;
		so.finish = put_report;
	}
	if (llm_svd_delta(base, tuned, &so, out, report ? &rep : NULL, &n_rep)) {
		cli_progress_end();
		cli_die_lib();
	}
	cli_progress_end();
	if (report)
		cli_report_commit(&ro);
	llm_svd_delta_report_free(rep, n_rep);
	llm_meta_clear(&prov);
	llm_ckpt_free(base);
	llm_ckpt_free(tuned);
	return 0;
}
