/* llm-quant - convert and quantize a checkpoint into GGUF. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "convert.h"
#include "error.h"
#include "io.h"
#include "provenance.h"
#include "split.h"

enum { OPT_PURE = 256, OPT_OUTTYPE, OPT_EMBDTYPE, OPT_TOK, OPT_REPORT, OPT_PROGRESS, OPT_ZSTD, OPT_ZLEVEL,
       OPT_NOPROV, OPT_SPLIT_SIZE, OPT_SPLIT_TENSORS, OPT_MERGE, OPT_SHARD, OPT_VOCAB };

static const struct cli_opt opts[] = {
	{ "type", 't', "TYPE", "target type of 2-D weights: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 (default f16)", 't' },
	{ "pure", 0, NULL, "no special types for output.weight / token_embd.weight", OPT_PURE },
	{ "output-tensor-type", 0, "TYPE", "type of output.weight", OPT_OUTTYPE },
	{ "token-embedding-type", 0, "TYPE", "type of token_embd.weight", OPT_EMBDTYPE },
	{ "tokenizer", 0, "FILE", "vocabulary (tokenizer.bin, .model, .json or a GGUF) to embed", OPT_TOK },
	{ "vocab-only", 0, NULL, "write the metadata and vocabulary only, no tensors (for llm-run --tokenize)", OPT_VOCAB },
	{ "report", 0, "FILE", "write a per-tensor error report (TSV) to FILE (- for stdout)", OPT_REPORT },
	{ "output", 'o', "FILE", "output GGUF (default: stdout, - as well)", 'o' },
	{ "threads", 'j', "N", "quantization threads (default: online CPUs)", 'j' },
	{ "zstd", 0, NULL, "write the compressed container (default when FILE ends in .zst)", OPT_ZSTD },
	{ "zstd-level", 0, "LEVEL", "zstd level 1..22 (default 3; implies --zstd; --zstd=LEVEL also works)", OPT_ZLEVEL },
	{ "split-max-size", 0, "SIZE", "write shards PREFIX-0000k-of-0000N.gguf of at most SIZE tensor bytes (K/M/G/T: powers of 1000, as gguf-split; KiB/MiB/GiB: of 1024)", OPT_SPLIT_SIZE },
	{ "split-max-tensors", 0, "N", "write shards of at most N tensors", OPT_SPLIT_TENSORS },
	{ "merge", 0, NULL, "copy tensors in their types (join shards given the first; with --split-*/--zstd: re-shard, (de)compress)", OPT_MERGE },
	{ "shard", 0, NULL, "INPUT is one shard to process alone (output stays a member of its set)", OPT_SHARD },
	{ "no-provenance", 0, NULL, "do not record provenance.* metadata", OPT_NOPROV },
	{ "progress", 0, NULL, "show a progress bar even when stderr is not a terminal", OPT_PROGRESS },
	{ "quiet", 'q', NULL, "no notices on stderr", 'q' },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-quant", "[options] INPUT",
	"Convert INPUT (GGUF, .gguf.zst, first shard, Hugging Face directory,\n"
	"llama2.c .bin; - for stdin) into a GGUF whose 2-D weights have the given\n"
	"type, as llama-quantize does; or copy it as is (--merge), compressed\n"
	"(FILE.gguf.zst, --zstd) or in shards (--split-max-size, --split-max-tensors).",
	opts,
};

static int parse_type(const char *opt, const char *s)
{
	int t = llm_type_from_name(s);
	const struct llm_type_traits *tr = t >= 0 ? llm_type_traits(t) : NULL;
	if (!tr || !tr->from_float)
		cli_usage("%s: unknown or unsupported type '%s' (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1)", opt, s);
	return t;
}

/* The report as TSV text (malloc'ed). */
static char *report_tsv(const struct llm_convert_report *r, int64_t n, size_t *len)
{
	struct cli_text t = { 0 };
	cli_text_printf(&t, "name\tshape\ttype_in\ttype_out\trmse\tmax_abs_err\tsnr_db\tfp16_overflow\tfp16_underflow\n");
	for (int64_t i = 0; i < n; i++) {
		cli_text_field(&t, r[i].name);
		cli_text_printf(&t, "\t");
		for (int d = 0; d < r[i].n_dims; d++)
			cli_text_printf(&t, "%s%lld", d ? "x" : "", (long long)r[i].ne[d]);
		double snr = llm_qstats_snr_db(&r[i].st);
		char snrs[32];
		if (isinf(snr))
			snprintf(snrs, sizeof snrs, snr > 0 ? "inf" : "-inf");
		else
			snprintf(snrs, sizeof snrs, "%.2f", snr);
		cli_text_printf(&t, "\t%s\t%s\t%.6g\t%.6g\t%s\t%lld\t%lld\n", llm_type_name(r[i].type_in),
				llm_type_name(r[i].type_out), llm_qstats_rmse(&r[i].st), r[i].st.max_abs_err, snrs,
				(long long)r[i].st.fp16_overflow, (long long)r[i].st.fp16_underflow);
	}
	return cli_text_take(&t, len);
}

/* --report, written before the GGUF is put in place (llm_convert_opts'
 * finish): a report that cannot be written leaves no GGUF behind */
static int put_report(void *ud, const struct llm_convert_report *r, int64_t n)
{
	size_t len = 0;
	char *tsv = report_tsv(r, n, &len);
	return cli_report_put(ud, tsv, len);
}

int main(int argc, char **argv)
{
	struct llm_convert_opts co = LLM_CONVERT_OPTS_INIT;
	struct llm_ckpt_opts ko = LLM_CKPT_OPTS_INIT;
	const char *arg, *out = NULL, *report = NULL;
	struct llm_convert_report *rep = NULL;
	int64_t n_rep = 0;
	struct llm_gguf_write_opts wo = LLM_GGUF_WRITE_OPTS_INIT;
	llm_meta prov;
	int merge = 0, provenance = 1, type_set = 0;
	llm_ckpt *ck;
	int c, rc;

	cli_init(&cmd, argc, argv); /* keeps the vector as given (cli_args) */
	co.n_threads = cli_nproc();
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case 't': co.type = parse_type("--type", arg); type_set = 1; break;
		case OPT_ZSTD: wo.zstd = 1; break;
		case OPT_ZLEVEL: wo.zstd = 1; wo.zstd_level = (int)cli_int("--zstd-level", arg, 1, 22); break;
		case OPT_SPLIT_SIZE: wo.split_max_size = cli_size("--split-max-size", arg, 1000); break;
		case OPT_SPLIT_TENSORS: wo.split_max_tensors = cli_int("--split-max-tensors", arg, 1, 1 << 30); break;
		case OPT_MERGE: merge = 1; break;
		case OPT_SHARD: ko.one_shard = 1; break;
		case OPT_VOCAB: co.vocab_only = 1; break;
		case OPT_NOPROV: provenance = 0; break;
		case OPT_PURE: co.pure = 1; break;
		case OPT_OUTTYPE: co.output_type = parse_type("--output-tensor-type", arg); break;
		case OPT_EMBDTYPE: co.embd_type = parse_type("--token-embedding-type", arg); break;
		case OPT_TOK: ko.tokenizer = arg; break;
		case OPT_REPORT: report = arg; break;
		case 'o': out = arg; break;
		case 'j': co.n_threads = (int)cli_int("--threads", arg, 1, 1024); break;
		case OPT_PROGRESS: cli_progress_enabled = 1; break;
		case 'q': cli_quiet = 1; break;
		}
	}
	if (argc - cli_optind() != 1)
		cli_usage("expected one INPUT");
	if (merge && (type_set || report))
		cli_usage("--merge copies tensors as they are: no --type or --report");
	if (co.vocab_only && (merge || report || ko.one_shard || wo.split_max_size || wo.split_max_tensors))
		cli_usage("--vocab-only writes no tensors: no --merge, --report, --shard or --split-*");
	if (ko.one_shard) { /* the output must stay a member of the set */
		char ti[16], to[16];
		if (wo.split_max_size || wo.split_max_tensors)
			cli_usage("--shard keeps the shard's split.* keys: no --split-*");
		int named = cli_shard_tag(argv[cli_optind()], ti);
		if (!named && strcmp(argv[cli_optind()], "-") != 0)
			cli_usage("--shard: %s is not named as a shard (PREFIX-00001-of-00003.gguf)", argv[cli_optind()]);
		if (named && out && strcmp(out, "-") != 0 && (!cli_shard_tag(out, to) || strcmp(ti, to) != 0))
			cli_usage("--shard: -o %s must be named as the shard is (PREFIX%s.gguf or .gguf.zst), or the "
				  "set will not load", out, ti);
	}
	out = cli_output_name(out), report = cli_output_name(report);
	if ((wo.split_max_size || wo.split_max_tensors) && (!out || strcmp(out, "-") == 0))
		cli_usage("--split-max-size/--split-max-tensors need -o PREFIX.gguf");
	cli_check_report(out, report);
	cli_refuse_input("--report", report, (const char *const[]){ argv[cli_optind()], ko.tokenizer }, 2);
	cli_refuse_output(out, argv[cli_optind()], ko.one_shard, (const char *const[]){ ko.tokenizer }, 1);
	cli_refuse_tty(out);
	cli_cleanup_on_signals();
	cli_probe_output(out); /* before hashing and reading the inputs */
	cli_probe_output(report);

	if (llm_ckpt_open(&ck, argv[cli_optind()], &ko))
		cli_die_lib();
	/* the input's own provenance becomes a parent record, not ours */
	llm_meta_init(&prov);
	if (provenance) {
		struct llm_prov_input in = { argv[cli_optind()], llm_ckpt_meta(ck) };
		if (llm_provenance_fill(&prov, cli_name(), argc, cli_args(), &in, 1)) {
			llm_ckpt_free(ck);
			cli_die_lib();
		}
	}
	/* without --no-provenance the input's records are parents now; with it
	 * the output claims nothing (the input's record would describe another run) */
	llm_provenance_strip(llm_ckpt_meta_mut(ck));
	co.extra = &prov;
	co.write = &wo;
	wo.n_threads = co.n_threads;
	co.progress = cli_progress_cb;
	co.notice = cli_notice_cb;
	struct llm_out ro;
	if (report) {
		cli_report_open(&ro, report);
		co.ud = &ro;
		co.finish = put_report;
	}
	if (merge)
		rc = llm_split_copy(ck, out, &prov, &wo, cli_progress_cb, NULL);
	else
		rc = llm_convert(ck, out, &co, report ? &rep : NULL, &n_rep);
	llm_meta_clear(&prov);
	if (rc) {
		cli_progress_end();
		llm_ckpt_free(ck);
		cli_die_lib();
	}
	cli_progress_end();
	if (report)
		cli_report_commit(&ro);
	llm_convert_report_free(rep, n_rep);
	llm_ckpt_free(ck);
	return 0;
}
