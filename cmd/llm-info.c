/* llm-info - what a checkpoint holds: format, metadata, tensors, totals. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "convert.h"
#include "error.h"
#include "types.h"

enum { OPT_JSON = 256, OPT_ARRAYS, OPT_SHARD };

static const struct cli_opt opts[] = {
	{ "json", 'j', NULL, "print JSON (complete arrays) instead of text", OPT_JSON },
	{ "tokenizer", 0, "FILE", "vocabulary for a checkpoint without one (tokenizer.bin, .model, .json or a GGUF)", 'T' },
	{ "full", 'a', NULL, "print arrays in full in text form", OPT_ARRAYS },
	{ "provenance", 'p', NULL, "print only the provenance chain (what made FILE, from what)", 'p' },
	{ "shard", 0, NULL, "show each FILE that is a shard of a split set alone, not the whole set", OPT_SHARD },
	{ 0 },
};

static const struct cli_cmd cmd = {
	"llm-info", "[options] FILE...",
	"Show what a checkpoint (GGUF, .gguf.zst, shards given the first one,\n"
	"Hugging Face directory, llama2.c .bin, a tokenizer file alone) holds:\n"
	"format, metadata, tensor table (with stored sizes when compressed) and\n"
	"totals. FILE may be - for stdin. Several FILEs are shown in turn (JSON:\n"
	"one document each); a FILE that cannot be read is reported and skipped,\n"
	"and the exit status is then 1.",
	opts,
};

/* Print s (len bytes) as a quoted, escaped string. */
static void put_quoted(const char *s, uint64_t len)
{
	putchar('"');
	for (uint64_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", stdout);
		else if (ch == '\t')
			fputs("\\t", stdout);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* s read from the file (a key, a tensor name, a provenance field), its
 * control bytes written \xNN as in quoted strings (cli_put_safe), padded
 * with spaces to width bytes */
static void put_field(const char *s, int width)
{
	for (int n = cli_put_safe(stdout, s); n < width; n++)
		putchar(' ');
}

static void put_elem(enum llm_vtype t, const void *data, uint64_t i)
{
	const struct llm_kv tmp = { NULL, t, t, i + 1, (void *)data };
	if (t == LLM_V_STR) {
		const struct llm_str *s = data;
		put_quoted(s[i].s, s[i].len);
	} else if (t == LLM_V_BOOL) {
		fputs(((const uint8_t *)data)[i] ? "true" : "false", stdout);
	} else if (t == LLM_V_F32 || t == LLM_V_F64) {
		printf("%.9g", llm_kv_arr_num(&tmp, i));
	} else if (t == LLM_V_U64) {
		printf("%" PRIu64, ((const uint64_t *)data)[i]);
	} else if (t == LLM_V_I64) {
		printf("%" PRId64, ((const int64_t *)data)[i]);
	} else {
		printf("%.0f", llm_kv_arr_num(&tmp, i));
	}
}

static void text_kv(const struct llm_kv *kv, int full)
{
	fputs("  ", stdout);
	put_field(kv->key, 40);
	putchar(' ');
	if (kv->type != LLM_V_ARR) {
		printf("%-4s = ", llm_vtype_name(kv->type));
		put_elem(kv->type, kv->data, 0);
	} else {
		uint64_t show = full || kv->n <= 8 ? kv->n : 6;
		printf("[%s x %" PRIu64 "] = [", llm_vtype_name(kv->atype), kv->n);
		for (uint64_t i = 0; i < show; i++) {
			if (i)
				fputs(", ", stdout);
			put_elem(kv->atype, kv->data, i);
		}
		if (show < kv->n)
			printf(", ... (%" PRIu64 " more)", kv->n - show);
		putchar(']');
	}
	putchar('\n');
}

static json_t *json_elem(enum llm_vtype t, const void *data, uint64_t i)
{
	const struct llm_kv tmp = { NULL, t, t, i + 1, (void *)data };
	switch (t) {
	case LLM_V_STR: {
		const struct llm_str *s = data;
		return cli_json_str(s[i].s, s[i].len);
	}
	case LLM_V_BOOL: return json_boolean(((const uint8_t *)data)[i]);
	case LLM_V_F32: case LLM_V_F64: {
		double v = llm_kv_arr_num(&tmp, i);
		return isfinite(v) ? json_real(v) : json_null();
	}
	case LLM_V_U64: { /* jansson's integers are signed: above 2^63 - 1, a real */
		uint64_t u = ((const uint64_t *)data)[i];
		return u <= INT64_MAX ? json_integer((json_int_t)u) : json_real((double)u);
	}
	case LLM_V_I64: return json_integer(((const int64_t *)data)[i]);
	default: return json_integer((json_int_t)llm_kv_arr_num(&tmp, i));
	}
}

/* obj[key] = v, a key that is not UTF-8 made so as cli_json_str does */
static void set_key(json_t *obj, const char *key, json_t *v)
{
	json_t *k = cli_json_str(key, strlen(key));
	if (!k)
		cli_die("out of memory");
	json_object_set_new_nocheck(obj, json_string_value(k), v);
	json_decref(k);
}

static json_t *json_kv(const struct llm_kv *kv)
{
	json_t *a;
	if (kv->type != LLM_V_ARR)
		return json_elem(kv->type, kv->data, 0);
	a = json_array();
	for (uint64_t i = 0; i < kv->n; i++)
		json_array_append_new(a, json_elem(kv->atype, kv->data, i));
	return a;
}

#define PROV_MAX_PARENTS 1024 /* parent numbers looked at */
#define PROV_MAX_DEPTH 64      /* records down the chain printed */

/* One provenance record (keys under prefix) and its parents, indented.
 * The parents are found in one pass over the keys; keys are built to any
 * length (a crafted file's prefix of 600 bytes once made a truncated key
 * match its own record, and the recursion never ended). */
static void print_prov(const llm_meta *m, const char *prefix, int depth)
{
	size_t pl = strlen(prefix), kcap = pl + 32;
	char *key = malloc(kcap);
	const char *s;
	const struct llm_kv *kv;
	int64_t dirty;
	int ind = 2 * depth;

	if (!key)
		cli_die("out of memory");
#define K(name) (snprintf(key, kcap, "%s%s", prefix, name), key)
	printf("%*s", ind, "");
	put_field(llm_meta_get_str(m, K("tool"), &s, NULL) == 0 ? s : "?", 0);
	if (llm_meta_get_str(m, K("version"), &s, NULL) == 0)
		putchar(' '), put_field(s, 0);
	if (llm_meta_get_str(m, K("time"), &s, NULL) == 0)
		fputs(" at ", stdout), put_field(s, 0);
	putchar('\n');
	if ((kv = llm_meta_get(m, K("argv"))) && kv->atype == LLM_V_STR) {
		printf("%*s  argv:", ind, "");
		for (uint64_t i = 0; i < kv->n; i++) {
			putchar(' ');
			put_quoted(((const struct llm_str *)kv->data)[i].s, ((const struct llm_str *)kv->data)[i].len);
		}
		putchar('\n');
	}
	const struct llm_kv *ip = llm_meta_get(m, K("inputs.path"));
	const struct llm_kv *ii = llm_meta_get(m, K("inputs.id"));
	for (uint64_t i = 0; ip && ip->atype == LLM_V_STR && i < ip->n; i++) {
		const struct llm_str *ps = ip->data, *is = ii && ii->atype == LLM_V_STR && i < ii->n ? ii->data : NULL;
		printf("%*s  input %llu: ", ind, "", (unsigned long long)i);
		put_field(ps[i].s, 0);
		if (is && is[i].len) /* standard input, a pipe: no id, no blank */
			putchar(' '), put_field(is[i].s, 0);
		putchar('\n');
	}
	int has_commit = llm_meta_get_str(m, K("git.commit"), &s, NULL) == 0;
	if (has_commit || llm_meta_get(m, K("git.branch")) || llm_meta_get(m, K("git.dirty"))) {
		printf("%*s  git: ", ind, "");
		if (has_commit)
			put_field(s, 0);
		else
			fputs("(no commits)", stdout);
		if (llm_meta_get_str(m, K("git.branch"), &s, NULL) == 0)
			fputs(" on ", stdout), put_field(s, 0);
		if (llm_meta_get_int(m, K("git.dirty"), &dirty) == 0)
			printf("%s", dirty ? " (dirty)" : " (clean)");
		putchar('\n');
	}
	if (llm_meta_get_str(m, K("git.error"), &s, NULL) == 0) {
		printf("%*s  git: ", ind, "");
		put_field(s, 0);
		putchar('\n');
	}
	/* parent N is input N; inputs without provenance leave gaps */
	unsigned char has[PROV_MAX_PARENTS] = { 0 };
	for (int64_t i = 0; i < m->n; i++) {
		const char *k = m->kv[i].key, *d;
		if (strncmp(k, prefix, pl) != 0 || strncmp(k + pl, "parent.", 7) != 0)
			continue;
		d = k + pl + 7;
		int n = 0, nd = 0;
		for (; *d >= '0' && *d <= '9' && n < PROV_MAX_PARENTS; d++, nd++)
			n = 10 * n + (*d - '0');
		if (*d == '.' && nd > 0 && n < PROV_MAX_PARENTS && (nd == 1 || k[pl + 7] != '0'))
			has[n] = 1; /* as the writer writes it: no leading zeros */
	}
	for (int n = 0; n < PROV_MAX_PARENTS; n++) {
		if (!has[n])
			continue;
		if (depth / 2 + 1 >= PROV_MAX_DEPTH) {
			printf("%*s  from input %d: records further down not shown (more than %d levels)\n", ind, "",
			       n, PROV_MAX_DEPTH);
			continue;
		}
		char *sub = malloc(pl + 32);
		if (!sub)
			cli_die("out of memory");
		snprintf(sub, pl + 32, "%sparent.%d.", prefix, n);
		printf("%*s  from input %d, made by:\n", ind, "", n);
		print_prov(m, sub, depth + 2);
		free(sub);
	}
	free(key);
#undef K
}

/* Print what path holds; 0, or 1 after printing the error.  *shown: a
 * file was printed before (text: a blank line goes between two). */
static int show(const char *path, const struct llm_ckpt_opts *co, int as_json, int full, int prov, int several,
		int *shown)
{
	llm_ckpt *ck;
	const llm_meta *m;
	int64_t nt, n_params = 0;
	uint64_t n_bytes = 0, n_stored = 0;
	int zc;

	if (llm_ckpt_open(&ck, path, co)) {
		cli_error_lib();
		return 1;
	}
	if (*shown && !as_json)
		putchar('\n');
	*shown = 1;
	m = llm_ckpt_meta(ck);
	nt = llm_ckpt_n_tensors(ck);
	for (int64_t i = 0; i < nt; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(ck, i);
		n_params += llm_tensor_nelem(t);
		n_bytes += t->size;
	}
	n_stored = llm_ckpt_stored_total(ck);
	zc = llm_ckpt_compressed(ck);
	/* llama.cpp's name of general.file_type, as its loader prints it */
	uint32_t ft;
	const char *ftn = llm_ftype_name(m, &ft);

	if (prov && !as_json) {
		int any = 0;
		for (int64_t i = 0; i < m->n && !any; i++)
			any = strncmp(m->kv[i].key, "provenance.", 11) == 0;
		if (any && several) {
			cli_put_safe(stdout, path);
			puts(":");
		}
		if (any) {
			print_prov(m, "provenance.", 0);
		} else {
			cli_put_safe(stdout, path);
			puts(": no provenance");
		}
	} else if (prov) {
		json_t *root = json_object();
		for (int64_t i = 0; i < m->n; i++)
			if (strncmp(m->kv[i].key, "provenance.", 11) == 0)
				set_key(root, m->kv[i].key, json_kv(&m->kv[i]));
		if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			cli_die("write error on stdout: %s", strerror(errno));
		putchar('\n');
		json_decref(root);
	} else if (as_json) {
		json_t *root = json_object(), *meta = json_object(), *ts = json_array();
		json_object_set_new(root, "file", cli_json_str(path, strlen(path)));
		json_object_set_new(root, "format", json_string(llm_ckpt_format_name(ck)));
		json_object_set_new(root, "version", json_integer(llm_ckpt_version(ck)));
		json_object_set_new(root, "compressed", json_boolean(llm_ckpt_compressed(ck)));
		json_object_set_new(root, "files", json_integer(llm_ckpt_n_files(ck)));
		for (int64_t i = 0; i < m->n; i++)
			set_key(meta, m->kv[i].key, json_kv(&m->kv[i]));
		json_object_set_new(root, "metadata", meta);
		for (int64_t i = 0; i < nt; i++) {
			const struct llm_tensor_info *t = llm_ckpt_tensor(ck, i);
			json_t *o = json_object(), *shape = json_array();
			for (int d = 0; d < t->n_dims; d++)
				json_array_append_new(shape, json_integer(t->ne[d]));
			json_object_set_new(o, "name", cli_json_str(t->name, strlen(t->name)));
			json_object_set_new(o, "type", json_string(llm_type_name(t->type)));
			json_object_set_new(o, "shape", shape);
			json_object_set_new(o, "offset", json_integer((json_int_t)t->offset));
			json_object_set_new(o, "size", json_integer((json_int_t)t->size));
			json_object_set_new(o, "stored", json_integer((json_int_t)llm_ckpt_stored_size(ck, i)));
			json_array_append_new(ts, o);
		}
		json_object_set_new(root, "tensors", ts);
		json_object_set_new(root, "n_params", json_integer(n_params));
		json_object_set_new(root, "n_bytes", json_integer((json_int_t)n_bytes));
		json_object_set_new(root, "n_stored", json_integer((json_int_t)n_stored));
		json_object_set_new(root, "file_type_name", ftn ? json_string(ftn) : json_null());
		if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			cli_die("write error on stdout: %s", strerror(errno));
		putchar('\n');
		json_decref(root);
	} else {
		fputs("file:     ", stdout);
		cli_put_safe(stdout, path);
		putchar('\n');
		if (llm_ckpt_version(ck))
			printf("format:   %s v%u", llm_ckpt_format_name(ck), llm_ckpt_version(ck));
		else
			printf("format:   %s", llm_ckpt_format_name(ck));
		if (zc)
			printf(", zstd container");
		if (llm_ckpt_n_files(ck) > 1)
			printf(", %d shards", llm_ckpt_n_files(ck));
		putchar('\n');
		printf("metadata: %lld keys\n", (long long)m->n);
		for (int64_t i = 0; i < m->n; i++)
			text_kv(&m->kv[i], full);
		printf("tensors:  %lld\n", (long long)nt);
		if (nt)
			printf("  %-32s %-6s %-24s %12s %12s%s\n", "name", "type", "shape", "offset", "bytes",
			       zc ? "       stored  ratio" : "");
		for (int64_t i = 0; i < nt; i++) {
			const struct llm_tensor_info *t = llm_ckpt_tensor(ck, i);
			char shape[96];
			int k = 0;
			for (int d = 0; d < t->n_dims; d++)
				k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%lld", d ? " x " : "",
					      (long long)t->ne[d]);
			fputs("  ", stdout);
			put_field(t->name, 32);
			printf(" %-6s %-24s %12" PRIu64 " %12" PRIu64, llm_type_name(t->type), shape, t->offset,
			       t->size);
			if (zc) {
				uint64_t st = llm_ckpt_stored_size(ck, i);
				printf(" %12" PRIu64 " %6.3f", st, st ? (double)t->size / (double)st : 0.0);
			}
			putchar('\n');
		}
		printf("params:   %lld\n", (long long)n_params);
		printf("bytes:    %" PRIu64 "\n", n_bytes);
		if (zc)
			printf("stored:   %" PRIu64 " (%.3fx)\n", n_stored,
			       n_stored ? (double)n_bytes / (double)n_stored : 0.0);
		if (n_params)
			printf("bpw:      %.4f\n", 8.0 * (double)n_bytes / (double)n_params);
		if (ftn)
			printf("ftype:    %s (general.file_type %u)\n", ftn, ft);
	}
	llm_ckpt_free(ck);
	return 0;
}

int main(int argc, char **argv)
{
	struct llm_ckpt_opts co = LLM_CKPT_OPTS_INIT;
	const char *arg;
	int as_json = 0, full = 0, prov = 0, c, bad = 0;

	cli_init(&cmd, argc, argv);
	while ((c = cli_next(&arg)) != -1) {
		switch (c) {
		case OPT_JSON: as_json = 1; break;
		case OPT_ARRAYS: full = 1; break;
		case 'p': prov = 1; break;
		case 'T': co.tokenizer = arg; break;
		case OPT_SHARD: co.one_shard = 1; break;
		}
	}
	int n = argc - cli_optind();
	if (n < 1)
		cli_usage("expected a FILE");
	if (n > 1 && co.tokenizer && strcmp(co.tokenizer, "-") == 0)
		cli_usage("--tokenizer -: stdin can be read for one FILE only");
	cli_stdin_claim(co.tokenizer, NULL);
	for (int i = 0; i < n; i++)
		cli_stdin_claim(argv[cli_optind() + i], NULL);
	for (int i = 0, shown = 0; i < n; i++)
		bad |= show(argv[cli_optind() + i], &co, as_json, full, prov, n > 1, &shown);
	cli_flush_stdout();
	return bad;
}
