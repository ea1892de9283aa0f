/* llm-kvstat - KV-cache sizing (model file, preset or flags) and measured
 * statistics of a KV dump (llm-run --kv-out).  The work is in lib/kv.c. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "error.h"
#include "kv.h"
#include "types.h"

enum {
	OPT_PRESET = 256, OPT_LAYERS, OPT_HEADS, OPT_KV_HEADS, OPT_HEAD_DIM, OPT_MLA_RANK,
	OPT_MLA_ROPE, OPT_CTX, OPT_BATCH, OPT_KV_TYPE, OPT_JSON, OPT_MD, OPT_PER_HEAD,
	OPT_ZSTD_LEVEL, OPT_SIGMA,
};

static const struct cli_opt opts[] = {
	{ "preset", 0, "NAME", "a published configuration (llama2-7b, llama3-8b, deepseek-v2, ...)", OPT_PRESET },
	{ "layers", 0, "N", "number of layers", OPT_LAYERS },
	{ "heads", 0, "N", "number of attention (query) heads", OPT_HEADS },
	{ "kv-heads", 0, "N", "number of KV heads (default: heads; GQA when fewer)", OPT_KV_HEADS },
	{ "head-dim", 0, "N", "dimension of one head", OPT_HEAD_DIM },
	{ "mla-rank", 0, "N", "MLA latent dimension d_c (default 4 x head-dim)", OPT_MLA_RANK },
	{ "mla-rope-dim", 0, "N", "MLA decoupled RoPE dimension d_R (default head-dim / 2)", OPT_MLA_ROPE },
	{ "ctx", 'c', "N", "context length in tokens (default 4096)", OPT_CTX },
	{ "batch", 'b', "N", "number of sequences (default 1)", OPT_BATCH },
	{ "kv-type", 0, "TYPE", "cache type: f32, f16 (default), bf16, q8_0, q4_0", OPT_KV_TYPE },
	{ "json", 'j', NULL, "print JSON instead of TSV", OPT_JSON },
	{ "md", 0, NULL, "print a Markdown table (human-readable sizes)", OPT_MD },
	{ "per-head", 0, NULL, "KV dump: also one row per KV head", OPT_PER_HEAD },
	{ "zstd-level", 0, "N", "KV dump: zstd level for the compression ratios (default 3)", OPT_ZSTD_LEVEL },
	{ "sigma", 0, "X", "KV dump: outlier threshold in standard deviations (default 6)", OPT_SIGMA },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-kvstat", "[options] [FILE]",
	"KV-cache arithmetic: bytes per token and in all for a model (FILE, --preset or\n"
	"flags) and for MHA/GQA/MQA/MLA alternatives.  When FILE is a KV dump written\n"
	"by llm-run --kv-out: per-layer statistics (norms, outliers, effective rank,\n"
	"quantization error, zstd ratio).  TSV with a header row by default.",
	opts,
};

enum { FMT_TSV, FMT_JSON, FMT_MD };

/* ---- sizing output ---- */

static const char *human(char *buf, size_t n, double b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int u = 0;

	while (b >= 1023.5 && u < 6) { /* (what %.4g would print as 1024 goes up a unit) */
		b /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%.0f B", b);
	else
		snprintf(buf, n, "%.4g %s", b, unit[u]);
	return buf;
}

static json_t *size_json(const struct llm_kv_size *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "variant", json_string(r->variant));
	json_object_set_new(o, "n_layer", json_integer(r->n_layer));
	json_object_set_new(o, "n_kv_head", json_integer(r->n_kv_head));
	json_object_set_new(o, "head_dim", json_integer(r->head_dim));
	if (r->is_mla) {
		json_object_set_new(o, "mla_rank", json_integer(r->mla_rank));
		json_object_set_new(o, "mla_rope_dim", json_integer(r->mla_rope_dim));
	} else if (r->head_dim_v != r->head_dim) {
		json_object_set_new(o, "head_dim_v", json_integer(r->head_dim_v));
	}
	json_object_set_new(o, "elems_per_token", json_integer(r->elems_per_token));
	json_object_set_new(o, "bytes_per_token", json_integer((json_int_t)r->bytes_per_token));
	json_object_set_new(o, "total_bytes", json_integer((json_int_t)r->total_bytes));
	json_object_set_new(o, "vs_mha", json_real(r->vs_mha));
	return o;
}

static void print_sizes(const struct llm_kv_size *r, int n, int fmt, const char *source,
			const char *type, int64_t ctx, int64_t batch)
{
	char a[32], b[32];

	if (fmt == FMT_JSON) {
		json_t *root = json_object(), *rows = json_array();
		json_object_set_new(root, "source", cli_json_str(source, strlen(source)));
		json_object_set_new(root, "kv_type", json_string(type));
		json_object_set_new(root, "ctx", json_integer(ctx));
		json_object_set_new(root, "batch", json_integer(batch));
		for (int i = 0; i < n; i++)
			json_array_append_new(rows, size_json(&r[i]));
		json_object_set_new(root, "rows", rows);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		putchar('\n');
		json_decref(root);
		return;
	}
	if (fmt == FMT_MD) {
		fputs("KV cache of ", stdout);
		cli_put_safe(stdout, source); /* a path: on one line whatever it holds */
		printf(", %s, %" PRId64 " tokens x %" PRId64 " sequences\n\n", type, ctx, batch);
		printf("| variant | n_layer | n_kv_head | head_dim | elems_per_token | bytes_per_token | total_bytes | vs_mha |\n");
		printf("|---|--:|--:|--:|--:|--:|--:|--:|\n");
		for (int i = 0; i < n; i++)
			printf("| %s | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %s | %s | %.4g |\n",
			       r[i].variant, r[i].n_layer, r[i].n_kv_head, r[i].head_dim,
			       r[i].elems_per_token, human(a, sizeof a, (double)r[i].bytes_per_token),
			       human(b, sizeof b, (double)r[i].total_bytes), r[i].vs_mha);
		return;
	}
	printf("variant\tn_layer\tn_kv_head\thead_dim\telems_per_token\tbytes_per_token\ttotal_bytes\tvs_mha\n");
	for (int i = 0; i < n; i++)
		printf("%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64 "\t%.8g\n",
		       r[i].variant, r[i].n_layer, r[i].n_kv_head, r[i].head_dim, r[i].elems_per_token,
		       r[i].bytes_per_token, r[i].total_bytes, r[i].vs_mha);
}

/* ---- statistics output ---- */

static const char *const stat_cols[] = {
	"layer", "kv", "head", "n_pos", "width", "rms", "norm_mean", "norm_max", "outlier_frac",
	"rank90", "rank99", "rmse_q8_0", "rmse_q4_0", "rmse_kivi4", "rmse_kivi2", "zstd_raw",
	"zstd_grouped",
};
#define N_STAT_COLS (int)(sizeof stat_cols / sizeof stat_cols[0])

static double stat_num(const struct llm_kv_stat *s, int col)
{
	switch (col) {
	case 0: return (double)s->layer;
	case 3: return (double)s->n_pos;
	case 4: return (double)s->width;
	case 5: return s->rms;
	case 6: return s->norm_mean;
	case 7: return s->norm_max;
	case 8: return s->outlier_frac;
	case 9: return (double)s->rank90;
	case 10: return (double)s->rank99;
	case 11: return s->rmse_q8_0;
	case 12: return s->rmse_q4_0;
	case 13: return s->rmse_kivi4;
	case 14: return s->rmse_kivi2;
	case 15: return s->zstd_raw;
	default: return s->zstd_grouped;
	}
}

static int is_int_col(int col) { return col == 0 || col == 3 || col == 4 || col == 9 || col == 10; }

static void print_stats(const struct llm_kv_stat *s, int64_t n, int fmt, const char *path,
			const struct llm_kv_dump_info *d)
{
	const char *sep = fmt == FMT_MD ? " | " : "\t";

	if (fmt == FMT_JSON) {
		json_t *root = json_object(), *rows = json_array();
		json_object_set_new(root, "file", cli_json_str(path, strlen(path)));
		json_object_set_new(root, "n_layer", json_integer(d->n_layer));
		json_object_set_new(root, "n_head", json_integer(d->n_head));
		json_object_set_new(root, "n_head_kv", json_integer(d->n_head_kv));
		json_object_set_new(root, "head_dim", json_integer(d->head_dim));
		json_object_set_new(root, "n_pos", json_integer(d->n_pos));
		for (int64_t i = 0; i < n; i++) {
			json_t *o = json_object();
			char kind[2] = { s[i].kind, 0 };
			for (int c = 0; c < N_STAT_COLS; c++) {
				double v = stat_num(&s[i], c);
				json_t *j;
				if (c == 1)
					j = json_string(kind);
				else if (c == 2)
					j = s[i].head < 0 ? json_null() : json_integer(s[i].head);
				else if (is_int_col(c))
					j = json_integer((json_int_t)v);
				else
					j = isfinite(v) ? json_real(v) : json_null();
				json_object_set_new(o, stat_cols[c], j);
			}
			json_array_append_new(rows, o);
		}
		json_object_set_new(root, "rows", rows);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		putchar('\n');
		json_decref(root);
		return;
	}
	if (fmt == FMT_MD) {
		fputs("KV dump ", stdout);
		cli_put_safe(stdout, path); /* on one line whatever it holds */
		printf(": %" PRId64 " layers, %" PRId64 " KV heads x %" PRId64 ", %" PRId64 " positions\n\n| ",
		       d->n_layer, d->n_head_kv, d->head_dim, d->n_pos);
	}
	for (int c = 0; c < N_STAT_COLS; c++)
		printf("%s%s", c ? sep : "", stat_cols[c]);
	printf(fmt == FMT_MD ? " |\n" : "\n");
	if (fmt == FMT_MD) {
		printf("|");
		for (int c = 0; c < N_STAT_COLS; c++)
			printf(c == 1 || c == 2 ? "---|" : "--:|");
		printf("\n");
	}
	for (int64_t i = 0; i < n; i++) {
		if (fmt == FMT_MD)
			printf("| ");
		for (int c = 0; c < N_STAT_COLS; c++) {
			double v = stat_num(&s[i], c);
			if (c)
				fputs(sep, stdout);
			if (c == 1)
				putchar(s[i].kind);
			else if (c == 2 && s[i].head < 0)
				fputs("all", stdout);
			else if (c == 2)
				printf("%" PRId64, s[i].head);
			else if (is_int_col(c))
				printf("%.0f", v);
			else
				printf(fmt == FMT_MD ? "%.4g" : "%.6g", v);
		}
		printf(fmt == FMT_MD ? " |\n" : "\n");
	}
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	struct llm_kv_config kc = LLM_KV_CONFIG_INIT;
	struct llm_kv_stat_opts so = LLM_KV_STAT_OPTS_INIT;
	const char *arg, *preset = NULL, *path = NULL;
	long long layers = 0, heads = 0, kv_heads = 0, head_dim = 0, mla_rank = 0, mla_rope = -1;
	int64_t ctx = 4096, batch = 1;
	int kv_type = LLM_TYPE_F16, fmt = FMT_TSV, c, sizing_opt = 0, stat_opt = 0;
	const char *source;
	llm_ckpt *ck = NULL;

	cli_init(&cmd, argc, argv);
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case OPT_PRESET: preset = arg; sizing_opt = 1; break;
		case OPT_LAYERS: layers = cli_int("--layers", arg, 1, 1 << 24); sizing_opt = 1; break;
		case OPT_HEADS: heads = cli_int("--heads", arg, 1, 1 << 24); sizing_opt = 1; break;
		case OPT_KV_HEADS: kv_heads = cli_int("--kv-heads", arg, 1, 1 << 24); sizing_opt = 1; break;
		case OPT_HEAD_DIM: head_dim = cli_int("--head-dim", arg, 1, 1 << 24); sizing_opt = 1; break;
		case OPT_MLA_RANK: mla_rank = cli_int("--mla-rank", arg, 1, 1 << 24); sizing_opt = 1; break;
		case OPT_MLA_ROPE: mla_rope = cli_int("--mla-rope-dim", arg, 0, 1 << 24); sizing_opt = 1; break;
		case OPT_CTX: ctx = cli_int("--ctx", arg, 1, INT64_MAX); sizing_opt = 1; break;
		case OPT_BATCH: batch = cli_int("--batch", arg, 1, INT64_MAX); sizing_opt = 1; break;
		case OPT_KV_TYPE:
			kv_type = llm_type_from_name(arg);
			if (kv_type < 0 || llm_kv_type_ok(kv_type))
				cli_usage("--kv-type must be f32, f16, bf16, q8_0 or q4_0, not '%s'", arg);
			sizing_opt = 1;
			break;
		case OPT_JSON: fmt = FMT_JSON; break;
		case OPT_MD: fmt = FMT_MD; break;
		case OPT_PER_HEAD: so.per_head = 1; stat_opt = 1; break;
		case OPT_ZSTD_LEVEL: so.zstd_level = (int)cli_int("--zstd-level", arg, 1, 22); stat_opt = 1; break;
		case OPT_SIGMA: so.outlier_sigma = cli_double("--sigma", arg, 1e-6, 1e6); stat_opt = 1; break;
		}
	}
	if (argc - cli_optind() > 1)
		cli_usage("expected at most one FILE");
	if (argc - cli_optind() == 1)
		path = argv[cli_optind()];
	if (path && preset)
		cli_usage("give a FILE or --preset, not both");

	/* A KV dump: statistics. */
	if (path) {
		if (llm_ckpt_open(&ck, path, NULL))
			cli_die_lib();
		if (llm_kv_is_dump(llm_ckpt_meta(ck))) {
			struct llm_kv_stat *rows;
			struct llm_kv_dump_info info;
			int64_t n;
			if (sizing_opt) /* (what the file holds decides: not a usage error) */
				cli_die("%s is a KV dump: sizing options do not apply", path);
			if (llm_kv_dump_stats(&rows, &n, &info, ck, &so))
				cli_die_lib();
			print_stats(rows, n, fmt, path, &info);
			free(rows);
			goto out;
		}
		if (stat_opt) { /* "FILE: not a KV dump (general.type '...')" */
			llm_kv_dump_info(NULL, ck);
			cli_die("%s; --per-head, --zstd-level and --sigma apply to KV dumps", llm_errmsg());
		}
	}
	if (stat_opt)
		cli_usage("--per-head, --zstd-level and --sigma apply to a KV dump");

	/* Sizing: the file's metadata or a preset, then flags override. */
	if (path) {
		if (llm_kv_config_from_meta(&kc, llm_ckpt_meta(ck))) {
			llm_err_prefix(LLM_EFORMAT, path);
			cli_die("%s (neither a KV dump nor a model with attention metadata)", llm_errmsg());
		}
		source = path;
	} else if (preset) {
		if (llm_kv_preset(&kc, preset))
			cli_usage("%s", llm_errmsg());
		source = preset;
	} else {
		if (!layers || !heads || !head_dim)
			cli_usage("give a FILE, --preset NAME, or --layers, --heads and --head-dim");
		kc.n_head_kv = heads;
		kc.is_mla = mla_rank && !kv_heads; /* latent rank without KV heads: an MLA model */
		source = "flags";
	}
	if (layers)
		kc.n_layer = layers;
	if (heads) {
		kc.n_head = heads;
		if (!kv_heads && !path && !preset)
			kc.n_head_kv = heads;
	}
	if (kv_heads)
		kc.n_head_kv = kv_heads, kc.is_mla = 0;
	if (head_dim)
		kc.head_dim = kc.head_dim_v = head_dim;
	if (mla_rank)
		kc.mla_rank = mla_rank;
	if (mla_rope >= 0)
		kc.mla_rope_dim = mla_rope;
	{
		struct llm_kv_size *rows;
		int n;
		if (llm_kv_config_check(&kc))
			cli_usage("%s", llm_errmsg());
		int rc = llm_kv_sizes(&rows, &n, &kc, kv_type, ctx, batch);
		if (rc == LLM_EINVAL) /* the total does not fit: --ctx x --batch too large */
			cli_usage("%s", llm_errmsg());
		if (rc) { /* sizes past 63 bits a token: name the file (or preset, or "flags") */
			llm_err_prefix(rc, source);
			cli_die_lib();
		}
		print_sizes(rows, n, fmt, source, llm_type_name(kv_type), ctx, batch);
		free(rows);
	}
out:
	cli_flush_stdout();
	llm_ckpt_free(ck);
	return 0;
}
