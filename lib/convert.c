/* convert.c - stream a checkpoint into a GGUF with new types (see convert.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "error.h"
#include "gguf.h"
#include "io.h"

/* Type rule for tensor t written under name; has_output: the output holds
 * its own output.weight (else token_embd is also the output).  A fallback
 * is told to o->notice. */
static int tensor_type(const struct llm_tensor_info *t, const char *name, int has_output,
		       const struct llm_convert_opts *o)
{
	int n_dims = 0, want;
	int is_out = strcmp(name, "output.weight") == 0, is_embd = strcmp(name, "token_embd.weight") == 0;

	for (int d = 0; d < t->n_dims; d++)
		if (t->ne[d] > 1 || d == 0)
			n_dims = d + 1; /* ggml_n_dims: trailing 1s do not count */
	if (!llm_ends_with(name, ".weight") || n_dims < 2) {
		/* norms and other 1-D data: F32 when we can decode them, else as is */
		const struct llm_type_traits *tr = llm_type_traits(t->type);
		return tr && tr->is_float && tr->to_float ? LLM_TYPE_F32 : t->type;
	}
	want = o->type;
	if (is_out || (is_embd && !has_output)) {
		if (is_out && o->output_type >= 0)
			want = o->output_type;
		else if (!o->pure && (want == LLM_TYPE_Q4_0 || want == LLM_TYPE_Q4_1 || want == LLM_TYPE_Q5_0 ||
				      want == LLM_TYPE_Q5_1))
			want = LLM_TYPE_Q8_0; /* llama-quantize: q6_K, not written here */
	}
	if (is_embd && o->embd_type >= 0)
		want = o->embd_type;
	if (is_embd && !has_output && o->output_type >= 0 && o->embd_type < 0)
		want = o->output_type; /* tied: the embedding is the output */
	if (t->ne[0] % llm_type_traits(want)->blck) {
		if (o->notice) {
			char msg[512];
			snprintf(msg, sizeof msg, "%s: rows of %lld values do not fit %s blocks; writing %s", name,
				 (long long)t->ne[0], llm_type_name(want), llm_type_name(LLM_TYPE_F16));
			o->notice(o->ud, msg);
		}
		want = LLM_TYPE_F16;
	}
	return want;
}

/* Whether a conversion of c writes output.weight as a copy of the tied
 * embedding: for llama2.c and Hugging Face inputs, as llama.cpp's llama2.c
 * converter does (stories260K.gguf holds such a copy), so converted files
 * hold the same tensors whichever form they came from. */
static int untie(const llm_ckpt *c)
{
	return llm_ckpt_format(c) != LLM_CKPT_GGUF && llm_ckpt_find(c, "token_embd.weight") >= 0 &&
	       llm_ckpt_find(c, "output.weight") < 0;
}

int llm_convert_tensor_type(const llm_ckpt *c, int64_t i, const struct llm_convert_opts *o)
{
	const struct llm_tensor_info *t = llm_ckpt_tensor(c, i);
	return tensor_type(t, t->name, llm_ckpt_find(c, "output.weight") >= 0, o);
}

int llm_convert_set_meta(llm_meta *dst, const llm_meta *src, int type)
{
	int rc = llm_meta_set_u32(dst, "general.quantization_version", 2);
	if (!rc && llm_meta_get(src, "general.architecture"))
		rc = llm_meta_set_u32(dst, "general.file_type", llm_convert_ftype(type));
	return rc;
}

uint32_t llm_convert_ftype(int type)
{
	switch (type) {
	case LLM_TYPE_F32: return 0;
	case LLM_TYPE_F16: return 1;
	case LLM_TYPE_Q4_0: return 2;
	case LLM_TYPE_Q4_1: return 3;
	case LLM_TYPE_Q8_0: return 7;
	case LLM_TYPE_Q5_0: return 8;
	case LLM_TYPE_Q5_1: return 9;
	case LLM_TYPE_BF16: return 32;
	default: return 0;
	}
}

const char *llm_ftype_name(const llm_meta *m, uint32_t *ftype)
{
	/* LLAMA_FTYPE_* values and llama.cpp's llama_model_ftype_name() */
	static const char *const names[] = {
		[0] = "all F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0",
		[9] = "Q5_1", [10] = "Q2_K - Medium", [11] = "Q3_K - Small", [12] = "Q3_K - Medium",
		[13] = "Q3_K - Large", [14] = "Q4_K - Small", [15] = "Q4_K - Medium",
		[16] = "Q5_K - Small", [17] = "Q5_K - Medium", [18] = "Q6_K",
		[19] = "IQ2_XXS - 2.0625 bpw", [20] = "IQ2_XS - 2.3125 bpw", [21] = "Q2_K - Small",
		[22] = "IQ3_XS - 3.3 bpw", [23] = "IQ3_XXS - 3.0625 bpw", [24] = "IQ1_S - 1.5625 bpw",
		[25] = "IQ4_NL - 4.5 bpw", [26] = "IQ3_S - 3.4375 bpw", [27] = "IQ3_S mix - 3.66 bpw",
		[28] = "IQ2_S - 2.5 bpw", [29] = "IQ2_M - 2.7 bpw", [30] = "IQ4_XS - 4.25 bpw",
		[31] = "IQ1_M - 1.75 bpw", [32] = "BF16", [36] = "TQ1_0 - 1.69 bpw ternary",
		[37] = "TQ2_0 - 2.06 bpw ternary", [38] = "MXFP4 MoE",
	};
	int64_t ft;
	if (llm_meta_get_int(m, "general.file_type", &ft) || ft < 0 || (uint64_t)ft >= sizeof names / sizeof *names)
		return NULL;
	*ftype = (uint32_t)ft;
	return names[ft];
}

/* ---- threaded row conversion ---- */

/* One thread's share: rows [r0, r1) decoded from type_in, encoded to
 * type_out, a few rows at a time through a small F32 scratch; with stats,
 * the encoded rows are decoded again and compared. */
struct cjob {
	int type_in, type_out;
	const uint8_t *src;
	const float *src_f32; /* when the input is already F32 rows (llm_quantize_rows) */
	uint8_t *dst;
	int64_t r0, r1, ne0;
	struct llm_qstats *st; /* NULL: no statistics */
	int rc;
	float overflow;        /* > 0: a finite value that type_out turned into inf or NaN (its |x|) */
};

/* The largest finite |x| of a row (inf and NaN, which no type makes
 * worse, ignored). */
static float row_amax(const float *x, int64_t n)
{
	float m = 0;
	for (int64_t i = 0; i < n; i++)
		m = fabsf(x[i]) > m && isfinite(x[i]) ? fabsf(x[i]) : m;
	return m;
}

/* Whether a row x encoded as type may hold an inf or NaN that x has
 * not: every type but F32 keeps values or scales in fp16 (up to 65504)
 * or bf16, so a row below that bound cannot; one above is decoded again
 * and compared (row_overflow). */
static int may_overflow(int type, const float *x, int64_t n)
{
	return type != LLM_TYPE_F32 && row_amax(x, n) > (type == LLM_TYPE_BF16 ? 3.38e38f : 65504.0f);
}

/* |x| of the largest value of x that came back from dst as inf or NaN
 * (decoded into tmp), or 0. */
static float row_overflow(const struct llm_type_traits *to, const float *x, const uint8_t *dst, int64_t n,
			  float *tmp)
{
	to->to_float(dst, tmp, n);
	for (int64_t i = 0; i < n; i++)
		if (isfinite(x[i]) && !isfinite(tmp[i]))
			return row_amax(x, n);
	return 0;
}

static void *cjob_run(void *p)
{
	struct cjob *j = p;
	const struct llm_type_traits *ti = llm_type_traits(j->type_in), *to = llm_type_traits(j->type_out);
	size_t rin = llm_type_row_size(j->type_in, j->ne0), rout = llm_type_row_size(j->type_out, j->ne0);
	int64_t chunk = j->ne0 >= (1 << 16) ? 1 : (1 << 16) / j->ne0; /* ~256 KiB of F32 */
	float *f = j->src_f32 ? NULL : malloc((size_t)(chunk * j->ne0) * sizeof *f);
	float *back = j->st ? malloc((size_t)(chunk * j->ne0) * sizeof *back) : NULL;
	float *tmp = NULL; /* a row decoded again, allocated when one may overflow */

	if ((!j->src_f32 && !f) || (j->st && !back)) {
		j->rc = LLM_ENOMEM;
		goto out;
	}
	for (int64_t r = j->r0; r < j->r1; r += chunk) {
		int64_t nr = j->r1 - r < chunk ? j->r1 - r : chunk, n = nr * j->ne0;
		const float *x = j->src_f32 ? j->src_f32 + r * j->ne0 : f;
		if (!j->src_f32)
			ti->to_float(j->src + (size_t)r * rin, f, n);
		for (int64_t k = 0; k < nr; k++) {
			uint8_t *d = j->dst + (size_t)(r + k) * rout;
			to->from_float(x + k * j->ne0, d, j->ne0);
			if (j->overflow > 0 || !may_overflow(j->type_out, x + k * j->ne0, j->ne0))
				continue;
			if (!back && !tmp && !(tmp = malloc((size_t)j->ne0 * sizeof *tmp))) {
				j->rc = LLM_ENOMEM;
				goto out;
			}
			j->overflow = row_overflow(to, x + k * j->ne0, d, j->ne0, back ? back : tmp);
		}
		if (j->st) {
			to->to_float(j->dst + (size_t)r * rout, back, n);
			llm_qstats_add(j->st, x, back, n);
		}
	}
out:
	free(f);
	free(back);
	free(tmp);
	return NULL;
}

/* Run the row range over up to n_threads threads; stats merged into st. */
static int convert_rows(struct cjob proto, int64_t nrows, int n_threads, struct llm_qstats *st)
{
	pthread_t th[64];
	struct cjob jobs[64];
	struct llm_qstats part[64];
	int started[64] = { 0 };
	int nt = n_threads < 1 ? 1 : n_threads > 64 ? 64 : n_threads, rc = 0;

	if (nrows <= 0 || proto.ne0 <= 0) /* a tensor of no values (GGUF allows a 0 in its shape) */
		return 0;
	if (nrows < 2 * nt || (double)nrows * (double)proto.ne0 < (1 << 16))
		nt = 1;
	for (int k = 0; k < nt; k++) {
		memset(&part[k], 0, sizeof part[k]);
		jobs[k] = proto;
		jobs[k].r0 = nrows * k / nt;
		jobs[k].r1 = nrows * (k + 1) / nt;
		jobs[k].st = st ? &part[k] : NULL;
		jobs[k].rc = 0;
		if (k > 0)
			started[k] = pthread_create(&th[k], NULL, cjob_run, &jobs[k]) == 0;
		if (k > 0 && !started[k])
			cjob_run(&jobs[k]); /* no thread: do it here */
	}
	cjob_run(&jobs[0]);
	float overflow = 0;
	for (int k = 0; k < nt; k++) {
		if (k > 0 && started[k])
			pthread_join(th[k], NULL);
		if (jobs[k].rc)
			rc = jobs[k].rc;
		if (jobs[k].overflow > overflow)
			overflow = jobs[k].overflow;
		if (st) {
			st->sum_sq_err += part[k].sum_sq_err;
			st->sum_sq += part[k].sum_sq;
			if (part[k].max_abs_err > st->max_abs_err)
				st->max_abs_err = part[k].max_abs_err;
			st->n += part[k].n;
			st->fp16_overflow += part[k].fp16_overflow;
			st->fp16_underflow += part[k].fp16_underflow;
		}
	}
	if (rc)
		return llm_err(rc, "out of memory");
	if (overflow > 0)
		return llm_err(LLM_EINVAL, "a value of magnitude %g becomes inf in %s (%s): write a wider type",
			       (double)overflow, llm_type_name(proto.type_out),
			       proto.type_out == LLM_TYPE_F16    ? "its range ends at 65504"
			       : proto.type_out == LLM_TYPE_BF16 ? "its range ends near 3.39e38"
								 : "its blocks' fp16 scale overflows");
	return 0;
}

int llm_quantize_rows(int t, const float *src, void *dst, int64_t nrows, int64_t ne0, int n_threads)
{
	struct cjob j = { LLM_TYPE_F32, t, NULL, src, dst, 0, 0, ne0, NULL, 0, 0 };
	return convert_rows(j, nrows, n_threads, NULL);
}

/* ---- the stream ---- */

void llm_convert_report_free(struct llm_convert_report *rep, int64_t n)
{
	for (int64_t i = 0; rep && i < n; i++)
		free(rep[i].name);
	free(rep);
}

int llm_convert(llm_ckpt *c, const char *out_path, const struct llm_convert_opts *o,
		struct llm_convert_report **rep_out, int64_t *n_rep)
{
	int64_t nt = llm_ckpt_n_tensors(c), nv = 0;
	const llm_meta *m = llm_ckpt_meta(c);
	llm_gguf_writer *w = NULL;
	llm_meta *wm;
	/* the tensors written: v-th comes from ckpt tensor src[v] under name[v]
	 * (one more than the input when the tied embedding is written out) */
	int64_t *src = calloc((size_t)nt + 2, sizeof *src);
	const char **name = calloc((size_t)nt + 2, sizeof *name);
	int *types = calloc((size_t)nt + 2, sizeof *types);
	int has_output = llm_ckpt_find(c, "output.weight") >= 0 || untie(c);
	int64_t emb = untie(c) ? llm_ckpt_find(c, "token_embd.weight") : -1;
	int64_t after = emb >= 0 && llm_ckpt_find(c, "output_norm.weight") >= 0 ? llm_ckpt_find(c, "output_norm.weight") : emb;
	struct llm_convert_report *rep = NULL;
	void *qbuf = NULL;
	size_t q_cap = 0;
	uint64_t total = 0, done = 0;
	int rc = 0;

	if (rep_out) {
		*rep_out = NULL;
		*n_rep = 0;
	}
	if (!types || !src || !name) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	if (!llm_type_traits(o->type) || !llm_type_traits(o->type)->from_float) {
		rc = llm_err(LLM_EINVAL, "type %s cannot be written", llm_type_name(o->type));
		goto out;
	}
	if (o->vocab_only && !llm_meta_get(m, "tokenizer.ggml.model")) {
		rc = llm_err(LLM_ENOTFOUND, "%s: no vocabulary to write (no tokenizer.ggml.model: a checkpoint without "
			     "one needs a tokenizer file given)", llm_ckpt_path(c));
		goto out;
	}
	for (int64_t i = 0; i < nt && !o->vocab_only; i++) {
		src[nv] = i, name[nv++] = llm_ckpt_tensor(c, i)->name;
		if (i == after)
			src[nv] = emb, name[nv++] = "output.weight";
	}
	if (rep_out && !(rep = calloc((size_t)nv + 1, sizeof *rep))) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	/* plan every tensor first: the header goes out before any data */
	for (int64_t v = 0; v < nv; v++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, src[v]);
		const struct llm_type_traits *tin = llm_type_traits(t->type);
		types[v] = tensor_type(t, name[v], has_output, o);
		if (types[v] != t->type && (!tin || !tin->to_float)) {
			rc = llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: cannot convert from %s", llm_ckpt_path(c),
				     name[v], llm_type_name(t->type));
			goto out;
		}
		total += t->size;
	}
	if ((rc = llm_gguf_writer_open_opts(&w, out_path, o->write)))
		goto out;
	wm = llm_gguf_writer_meta(w);
	for (int64_t i = 0; i < m->n && !rc; i++)
		rc = llm_meta_set_kv(wm, &m->kv[i], NULL);
	if (!rc)
		rc = llm_convert_set_meta(wm, m, o->type);
	for (int64_t i = 0; o->extra && i < o->extra->n && !rc; i++)
		rc = llm_meta_set_kv(wm, &o->extra->kv[i], NULL);
	for (int64_t v = 0; v < nv && !rc; v++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, src[v]);
		rc = llm_gguf_writer_add_tensor(w, name[v], types[v], t->n_dims, t->ne);
	}
	for (int64_t v = 0; v < nv && !rc; v++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, src[v]);
		int64_t n = llm_tensor_nelem(t), rows = t->ne[0] ? n / t->ne[0] : 0;
		const void *data;
		if (o->progress)
			o->progress(o->ud, name[v], done, total);
		if ((rc = llm_ckpt_data(c, src[v], &data)))
			break;
		if (rep) {
			rep[v].name = strdup(name[v]);
			rep[v].n_dims = t->n_dims;
			memcpy(rep[v].ne, t->ne, sizeof t->ne);
			rep[v].type_in = t->type;
			rep[v].type_out = types[v];
			if (!rep[v].name) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				break;
			}
			*n_rep = v + 1;
		}
		if (types[v] == t->type) {
			rc = llm_gguf_writer_write(w, data, t->size);
		} else {
			size_t out_size = llm_type_row_size(types[v], t->ne[0]) * (size_t)rows;
			struct cjob j = { t->type, types[v], data, NULL, NULL, 0, 0, t->ne[0], NULL, 0, 0 };
			if (out_size > q_cap) {
				free(qbuf);
				q_cap = out_size;
				if (!(qbuf = malloc(q_cap))) {
					q_cap = 0;
					rc = llm_err(LLM_ENOMEM, "tensor %s: out of memory", name[v]);
					break;
				}
			}
			j.dst = qbuf;
			if ((rc = convert_rows(j, rows, o->n_threads, rep ? &rep[v].st : NULL))) {
				char where[4096];
				snprintf(where, sizeof where, "%s: tensor %s", llm_ckpt_path(c), name[v]);
				llm_err_prefix(rc, where);
				break;
			}
			rc = llm_gguf_writer_write(w, qbuf, out_size);
		}
		if (rep && types[v] == t->type)
			rep[v].st.n = n; /* copied: no error */
		llm_ckpt_release(c, src[v]);
		done += t->size;
	}
	if (o->progress && !rc)
		o->progress(o->ud, "", total, total);
	if (!rc && o->finish)
		rc = o->finish(o->ud, rep, rep ? nv : 0);
	if (rc)
		llm_gguf_writer_abort(w);
	else
		rc = llm_gguf_writer_commit(w);
out:
	free(types);
	free(src);
	free(name);
	free(qbuf);
	if (rep_out && rc == 0) {
		*rep_out = rep;
	} else {
		llm_convert_report_free(rep, nv);
		if (rep_out)
			*n_rep = 0;
	}
	return rc;
}
