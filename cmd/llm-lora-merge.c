/* llm-lora-merge - merge LoRA adapters into a base model: W' = W + sum s_i dW_i. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "error.h"
#include "io.h"
#include "provenance.h"
#include "lora.h"
#include "types.h"

enum { OPT_REPORT = 256, OPT_PROGRESS, OPT_TOK, OPT_NOPROV, OPT_ZSTD, OPT_ZLEVEL };

static const struct cli_opt opts[] = {
	{ "type", 't', "TYPE", "type of the output's 2-D weights (default: each tensor keeps its own)", 't' },
	{ "output", 'o', "FILE", "output GGUF (default: stdout, - as well)", 'o' },
	{ "report", 0, "FILE", "per-tensor TSV: name, rank, scale, ||dW||/||W||, kind, adapter (- for stdout)", OPT_REPORT },
	{ "tokenizer", 0, "FILE", "vocabulary (tokenizer.bin, .model, .json or a GGUF) for a base without one", OPT_TOK },
	{ "threads", 'j', "N", "quantization threads (default: online CPUs)", 'j' },
	{ "zstd", 0, NULL, "write the compressed container (default when FILE ends in .zst)", OPT_ZSTD },
	{ "zstd-level", 0, "LEVEL", "zstd level 1..22 (default 3; implies --zstd; --zstd=LEVEL also works)", OPT_ZLEVEL },
	{ "no-provenance", 0, NULL, "do not record provenance.* metadata", OPT_NOPROV },
	{ "progress", 0, NULL, "show a progress bar even when stderr is not a terminal", OPT_PROGRESS },
	{ "quiet", 'q', NULL, "no notices on stderr", 'q' },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-lora-merge", "[options] BASE ADAPTER[:SCALE]...",
	"Merge LoRA adapters into BASE (GGUF, Hugging Face directory or llama2.c .bin):\n"
	"W' = W + sum SCALE * (alpha/r) * B A, in F32, rounded once to the output type.\n"
	"An ADAPTER is a GGUF adapter (llama.cpp's convention), a PEFT directory\n"
	"(adapter_config.json + adapter_model.safetensors) or - (a GGUF adapter on\n"
	"stdin).  SCALE defaults to 1; a negative SCALE unmerges.",
	opts,
};

static char *report_tsv(const struct llm_lora_merge_report *r, int64_t n, char **paths, size_t *len)
{
	struct cli_text t = { 0 };
	cli_text_printf(&t, "name\trank\tscale\trel_delta\tkind\tadapter\n");
	for (int64_t i = 0; i < n; i++) {
		cli_text_field(&t, r[i].name);
		cli_text_printf(&t, "\t%lld\t%.9g\t%.6g\t%s\t", (long long)r[i].r, r[i].scale, r[i].rel_delta,
				r[i].kind);
		cli_text_field(&t, paths[r[i].adapter]);
		cli_text_printf(&t, "\n");
	}
	return cli_text_take(&t, len);
}

/* --report, written before the merged GGUF is put in place
 * (llm_lora_merge_opts' finish): a report that cannot be written leaves no
 * GGUF behind */
struct report_out {
	struct llm_out out;
	char **paths;
};

static int put_report(void *ud, const struct llm_lora_merge_report *r, int64_t n)
{
	struct report_out *ro = ud;
	size_t len = 0;
	char *tsv = report_tsv(r, n, ro->paths, &len);
	return cli_report_put(&ro->out, tsv, len);
}

int main(int argc, char **argv)
{
	struct llm_lora_merge_opts mo = LLM_LORA_MERGE_OPTS_INIT;
	struct llm_ckpt_opts ko = LLM_CKPT_OPTS_INIT;
	struct llm_gguf_write_opts wo = LLM_GGUF_WRITE_OPTS_INIT;
	struct llm_lora_merge_report *rep = NULL;
	const char *arg, *out = NULL, *report = NULL;
	llm_lora **ads;
	char **paths;
	float *scales;
	int64_t n_rep = 0;
	llm_ckpt *base;
	int c, n, provenance = 1;
	llm_meta prov;
	/* the argument vector as given (getopt permutes argv) */
	cli_init(&cmd, argc, argv);
	mo.n_threads = cli_nproc();
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case 't': {
			int t = llm_type_from_name(arg);
			const struct llm_type_traits *tr = t >= 0 ? llm_type_traits(t) : NULL;
			if (!tr || !tr->from_float)
				cli_usage("--type: unknown or unsupported type '%s'", arg);
			mo.type = t;
			break;
		}
		case 'o': out = arg; break;
		case OPT_REPORT: report = arg; break;
		case OPT_TOK: ko.tokenizer = arg; break;
		case 'j': mo.n_threads = (int)cli_int("--threads", arg, 1, 1024); break;
		case OPT_NOPROV: provenance = 0; break;
		case OPT_ZSTD: wo.zstd = 1; break;
		case OPT_ZLEVEL: wo.zstd = 1; wo.zstd_level = (int)cli_int("--zstd-level", arg, 1, 22); break;
		case OPT_PROGRESS: cli_progress_enabled = 1; break;
		case 'q': cli_quiet = 1; break;
		}
	}
	n = argc - cli_optind() - 1;
	if (n < 1)
		cli_usage("expected BASE and at least one ADAPTER");
	out = cli_output_name(out), report = cli_output_name(report);
	cli_check_report(out, report);
	cli_refuse_input("--report", report, (const char *const[]){ argv[cli_optind()], ko.tokenizer }, 2);
	cli_refuse_output(out, argv[cli_optind()], 0, (const char *const[]){ ko.tokenizer }, 1);
	cli_stdin_claim(argv[cli_optind()], NULL);
	ads = calloc((size_t)n, sizeof *ads);
	paths = calloc((size_t)n, sizeof *paths);
	scales = calloc((size_t)n, sizeof *scales);
	if (!ads || !paths || !scales)
		cli_die("out of memory");
	for (int i = 0; i < n; i++) {
		cli_lora_spec(argv[cli_optind() + 1 + i], &paths[i], &scales[i]);
		cli_stdin_claim(paths[i], NULL);
	}
	cli_refuse_input("--report", report, (const char *const *)paths, n);
	cli_refuse_input("-o", out, (const char *const *)paths, n);
	cli_refuse_tty(out);
	cli_cleanup_on_signals();
	cli_probe_output(out); /* before hashing and reading the inputs */
	cli_probe_output(report);

	if (llm_ckpt_open(&base, argv[cli_optind()], &ko))
		cli_die_lib();
	for (int i = 0; i < n; i++) {
		if (llm_lora_open(&ads[i], paths[i], llm_ckpt_meta(base)))
			cli_die_lib();
		if (ads[i]->n_ignored)
			cli_warn("%s: %lld norm tensor(s) ignored, as llama.cpp does", paths[i], (long long)ads[i]->n_ignored);
	}
	/* inputs: the base (its own records become parents) and the adapters */
	llm_meta_init(&prov);
	if (provenance) {
		struct llm_prov_input *in = calloc((size_t)n + 1, sizeof *in);
		if (!in)
			cli_die("out of memory");
		in[0] = (struct llm_prov_input){ argv[cli_optind()], llm_ckpt_meta(base) };
		for (int i = 0; i < n; i++)
			in[i + 1] = (struct llm_prov_input){ paths[i], ads[i]->prov.n ? &ads[i]->prov : NULL };
		if (llm_provenance_fill(&prov, cli_name(), argc, cli_args(), in, n + 1))
			cli_die_lib();
		free(in);
	}
	llm_provenance_strip(llm_ckpt_meta_mut(base));
	mo.extra = &prov;
	mo.write = &wo;
	mo.progress = cli_progress_cb;
	mo.notice = cli_notice_cb;
	struct report_out ro = { .paths = paths };
	if (report) {
		cli_report_open(&ro.out, report);
		mo.ud = &ro;
		mo.finish = put_report;
	}
	if (llm_lora_merge(base, ads, scales, n, out, &mo, report ? &rep : NULL, &n_rep)) {
		cli_progress_end();
		cli_die_lib();
	}
	cli_progress_end();
	if (report)
		cli_report_commit(&ro.out);
	llm_lora_merge_report_free(rep, n_rep);
	llm_meta_clear(&prov);
	for (int i = 0; i < n; i++) {
		llm_lora_free(ads[i]);
		free(paths[i]);
	}
	free(ads);
	free(paths);
	free(scales);
	llm_ckpt_free(base);
	return 0;
}
