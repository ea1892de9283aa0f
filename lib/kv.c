/* kv.c - KV-cache sizing and statistics of KV dumps (see kv.h).
 *
 * The one file that talks to zstd for KV dumps, and (for the effective
 * rank) to LAPACK's dgesdd through its Fortran symbol, so the build needs
 * OpenBLAS only, not LAPACKE.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "error.h"
#include "kernels.h"
#include "kv.h"
#include "types.h"

/* LAPACK (Fortran ABI, 32-bit integers as Debian's OpenBLAS builds it;
 * the trailing size_t is the hidden length of the character argument). */
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
		    double *s, double *u, const int *ldu, double *vt, const int *ldvt,
		    double *work, const int *lwork, int *iwork, int *info, size_t jobz_len);

#define MAXDIM (1 << 24) /* bound on any one count, so products stay in range */

/* ================================================================ */
/* sizing                                                            */
/* ================================================================ */

struct preset {
	const char *name;
	struct llm_kv_config c;
};

/* Published configurations (config.json of each release):
 * llama2: 7B 32 layers x 32 heads, 13B 40 x 40, 70B 80 x 64 with 8 KV
 * heads; llama3 8B 32 x 32 / 8 KV, 70B 80 x 64 / 8; mistral-7b v0.1
 * 32 x 32 / 8; qwen2.5-7b 28 x 28 / 4 (hidden 3584); head size 128 for
 * all.  DeepSeek-V2 (60 layers) and V3 (61): 128 heads, qk_nope_head_dim =
 * v_head_dim = 128, kv_lora_rank 512, qk_rope_head_dim 64. */
static const struct preset presets[] = {
	{ "llama2-7b", { 32, 32, 32, 128, 128, 0, 0, -1 } },
	{ "llama2-13b", { 40, 40, 40, 128, 128, 0, 0, -1 } },
	{ "llama2-70b", { 80, 64, 8, 128, 128, 0, 0, -1 } },
	{ "llama3-8b", { 32, 32, 8, 128, 128, 0, 0, -1 } },
	{ "llama3-70b", { 80, 64, 8, 128, 128, 0, 0, -1 } },
	{ "mistral-7b", { 32, 32, 8, 128, 128, 0, 0, -1 } },
	{ "qwen2.5-7b", { 28, 28, 4, 128, 128, 0, 0, -1 } },
	{ "deepseek-v2", { 60, 128, 128, 128, 128, 1, 512, 64 } },
	{ "deepseek-v3", { 61, 128, 128, 128, 128, 1, 512, 64 } },
};
#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

const char *llm_kv_preset_name(int i)
{
	return i >= 0 && i < N_PRESETS ? presets[i].name : NULL;
}

int llm_kv_preset(struct llm_kv_config *out, const char *name)
{
	char list[512];
	size_t k = 0;

	for (int i = 0; i < N_PRESETS; i++) {
		if (strcmp(presets[i].name, name) == 0) {
			*out = presets[i].c;
			return 0;
		}
	}
	list[0] = 0;
	for (int i = 0; i < N_PRESETS && k < sizeof list; i++)
		k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", presets[i].name);
	return llm_err(LLM_ENOTFOUND, "unknown preset '%s' (known: %s)", name, list);
}

int llm_kv_config_check(const struct llm_kv_config *c)
{
	if (c->n_layer <= 0 || c->n_layer > MAXDIM)
		return llm_err(LLM_EINVAL, "number of layers must be in 1..%d, not %lld", MAXDIM,
			       (long long)c->n_layer);
	if (c->n_head <= 0 || c->n_head > MAXDIM)
		return llm_err(LLM_EINVAL, "number of heads must be in 1..%d, not %lld", MAXDIM,
			       (long long)c->n_head);
	if (c->head_dim <= 0 || c->head_dim > MAXDIM || c->head_dim_v < 0 || c->head_dim_v > MAXDIM)
		return llm_err(LLM_EINVAL, "head dimension must be in 1..%d, not %lld", MAXDIM,
			       (long long)(c->head_dim <= 0 ? c->head_dim : c->head_dim_v));
	if (!c->is_mla && (c->n_head_kv <= 0 || c->n_head_kv > c->n_head || c->n_head % c->n_head_kv))
		return llm_err(LLM_EINVAL, "KV heads (%lld) must divide the %lld heads",
			       (long long)c->n_head_kv, (long long)c->n_head);
	if (c->mla_rank < 0 || c->mla_rank > MAXDIM || (c->is_mla && c->mla_rank == 0))
		return llm_err(LLM_EINVAL, "MLA latent rank must be in 1..%d, not %lld", MAXDIM,
			       (long long)c->mla_rank);
	if (c->mla_rope_dim < -1 || c->mla_rope_dim > MAXDIM)
		return llm_err(LLM_EINVAL, "MLA RoPE dimension must be in 0..%d, not %lld", MAXDIM,
			       (long long)c->mla_rope_dim);
	return 0;
}

/* Integer value of PREFIX.suffix: 0, LLM_ENOTFOUND or LLM_EFORMAT (with a
 * message naming the key). */
static int meta_int(const llm_meta *m, const char *arch, const char *suffix, int64_t *out)
{
	char key[160];
	int rc, k = snprintf(key, sizeof key, "%s.%s", arch, suffix);

	if (k < 0 || (size_t)k >= sizeof key) /* (the key cut short would name another) */
		return llm_err(LLM_EFORMAT, "general.architecture of %zu bytes is no architecture's name",
			       strlen(arch));
	rc = llm_meta_get_int(m, key, out);
	if (rc == LLM_ENOTFOUND)
		return llm_err(rc, "no %s in the metadata", key);
	const struct llm_kv *kv = llm_meta_get(m, key);
	if (rc && kv && kv->type == LLM_V_ARR && kv->n > 0 && kv->atype != LLM_V_STR && kv->atype != LLM_V_F32 &&
	    kv->atype != LLM_V_F64 && kv->atype != LLM_V_BOOL) {
		/* a per-layer array (llama.cpp writes head_count_kv so for some
		 * models): the same value for every layer is that value */
		double lo = llm_kv_arr_num(kv, 0), hi = lo;
		for (uint64_t i = 1; i < kv->n; i++) {
			double v = llm_kv_arr_num(kv, i);
			lo = v < lo ? v : lo, hi = v > hi ? v : hi;
		}
		if (lo != hi)
			return llm_err(LLM_EUNSUPPORTED, "%s varies by layer (%.0f to %.0f): per-layer values are not "
				       "supported", key, lo, hi);
		if (!(lo >= 1 && lo <= MAXDIM)) /* before the conversion, which past int64 is undefined */
			return llm_err(LLM_EFORMAT, "%s = %.0f is out of range", key, lo);
		*out = (int64_t)lo;
		rc = 0;
	}
	if (rc)
		return llm_err(rc, "%s is not a single integer", key);
	if (*out <= 0 || *out > MAXDIM)
		return llm_err(LLM_EFORMAT, "%s = %lld is out of range", key, (long long)*out);
	return 0;
}

/* Like meta_int, but absent is fine: *out keeps dflt. */
static int meta_int_opt(const llm_meta *m, const char *arch, const char *suffix, int64_t *out,
			int64_t dflt)
{
	int rc = meta_int(m, arch, suffix, out);
	if (rc == LLM_ENOTFOUND) {
		*out = dflt;
		return 0;
	}
	return rc;
}

/* DeepSeek's MLA keys (llama.cpp's deepseek2 conversion).  Newer files
 * store the absorbed shapes as key_length = d_c + d_R, value_length = d_c
 * and the per-head ones as key_length_mla / value_length_mla; older ones
 * store per-head key_length = d_nope + d_R and value_length = d_v. */
static int config_mla(struct llm_kv_config *c, const llm_meta *m, const char *arch,
		      int64_t n_embd)
{
	int64_t vmla, kmla, vlen, klen, rope;
	int rc;

	if ((rc = meta_int(m, arch, "attention.kv_lora_rank", &c->mla_rank)) ||
	    (rc = meta_int_opt(m, arch, "attention.key_length", &klen, 0)) ||
	    (rc = meta_int_opt(m, arch, "rope.dimension_count", &rope, 64)) ||
	    (rc = meta_int_opt(m, arch, "attention.value_length_mla", &vmla, 0)) ||
	    (rc = meta_int_opt(m, arch, "attention.key_length_mla", &kmla, 0)) ||
	    (rc = meta_int_opt(m, arch, "attention.value_length", &vlen, 0)))
		return rc;
	c->is_mla = 1;
	c->mla_rope_dim = rope;
	if (vmla)
		c->head_dim = vmla;
	else if (kmla > rope)
		c->head_dim = kmla - rope;
	else if (vlen && vlen != c->mla_rank)
		c->head_dim = vlen;
	else if (klen > rope && klen - rope != c->mla_rank) /* older files: d_nope + d_R */
		c->head_dim = klen - rope;
	else
		c->head_dim = n_embd / c->n_head;
	c->head_dim_v = c->head_dim;
	c->n_head_kv = c->n_head; /* the decompressed attention is MHA */
	return 0;
}

int llm_kv_config_from_meta(struct llm_kv_config *out, const llm_meta *m)
{
	struct llm_kv_config c = LLM_KV_CONFIG_INIT;
	const char *arch;
	char key[160];
	int64_t n_embd;
	int rc;

	if (llm_meta_get_str(m, "general.architecture", &arch, NULL))
		return llm_err(LLM_ENOTFOUND, "no general.architecture in the metadata");
	if ((rc = meta_int(m, arch, "block_count", &c.n_layer)) ||
	    (rc = meta_int(m, arch, "attention.head_count", &c.n_head)) ||
	    (rc = meta_int_opt(m, arch, "embedding_length", &n_embd, 0)))
		return rc;
	snprintf(key, sizeof key, "%s.attention.kv_lora_rank", arch);
	if (llm_meta_get(m, key)) {
		if ((rc = config_mla(&c, m, arch, n_embd)))
			return rc;
	} else {
		/* K and V widths each default to embedding_length / head_count
		 * (as llama.cpp's: value_length does not follow key_length) */
		static const char *const len[2] = { "attention.key_length", "attention.value_length" };
		int64_t *dst[2] = { &c.head_dim, &c.head_dim_v };
		if ((rc = meta_int_opt(m, arch, "attention.head_count_kv", &c.n_head_kv, c.n_head)))
			return rc;
		for (int i = 0; i < 2; i++) {
			snprintf(key, sizeof key, "%s.%s", arch, len[i]);
			if (!llm_meta_get(m, key) && n_embd % c.n_head)
				return llm_err(LLM_EFORMAT, "%s.embedding_length %lld is not a multiple of the %lld heads "
					       "(and no %s gives the head size)", arch, (long long)n_embd,
					       (long long)c.n_head, key);
			if ((rc = meta_int_opt(m, arch, len[i], dst[i], n_embd / c.n_head)))
				return rc;
			if (*dst[i] <= 0)
				return llm_err(LLM_ENOTFOUND, "no %s.embedding_length or %s in the metadata", arch, key);
		}
	}
	if (c.head_dim <= 0) /* (MLA without any of the keys that give d_h) */
		return llm_err(LLM_ENOTFOUND, "no %s.embedding_length or %s.attention.key_length in the metadata",
			       arch, arch);
	if ((rc = llm_kv_config_check(&c)))
		return rc;
	*out = c;
	return 0;
}

int llm_kv_type_ok(int t)
{
	if (t == LLM_TYPE_F32 || t == LLM_TYPE_F16 || t == LLM_TYPE_BF16 || t == LLM_TYPE_Q8_0 ||
	    t == LLM_TYPE_Q4_0)
		return 0;
	return llm_err(LLM_EINVAL, "KV-cache type must be f32, f16, bf16, q8_0 or q4_0, not %s",
		       llm_type_name(t));
}

/* Bytes of one cached row of n values of type t, rounded up to blocks. */
static uint64_t row_bytes(int t, int64_t n)
{
	const struct llm_type_traits *tr = llm_type_traits(t);
	return (uint64_t)((n + tr->blck - 1) / tr->blck) * tr->type_size;
}

/* One row of llm_kv_sizes: an attention variant with G KV heads (or MLA
 * with d_c, d_R); LLM_EFORMAT when its per-token figures do not fit in 63
 * bits (counts of up to 2^24 each can multiply past them). */
static int size_row(struct llm_kv_size *r, const char *name, const struct llm_kv_config *c,
		    int t, int64_t g, int mla, int64_t dc, int64_t dr)
{
	int64_t dv = c->head_dim_v ? c->head_dim_v : c->head_dim, per;
	uint64_t rb;

	memset(r, 0, sizeof *r);
	snprintf(r->variant, sizeof r->variant, "%s", name);
	r->n_layer = c->n_layer;
	if (mla) {
		r->is_mla = 1;
		r->mla_rank = dc;
		r->mla_rope_dim = dr;
		r->n_kv_head = 1;
		r->head_dim = dc + dr;
		per = dc + dr;
		rb = row_bytes(t, dc + dr);
	} else {
		r->n_kv_head = g;
		r->head_dim = c->head_dim;
		r->head_dim_v = dv;
		per = g * (c->head_dim + dv);
		rb = row_bytes(t, g * c->head_dim) + row_bytes(t, g * dv);
	}
	if (__builtin_mul_overflow(c->n_layer, per, &r->elems_per_token) ||
	    __builtin_mul_overflow((uint64_t)c->n_layer, rb, &r->bytes_per_token) ||
	    r->bytes_per_token > (uint64_t)INT64_MAX)
		return llm_err(LLM_EFORMAT, "%s: %lld layers of %lld values a token do not fit in 63 bits",
			       name, (long long)c->n_layer, (long long)per);
	return 0;
}

int llm_kv_sizes(struct llm_kv_size **rows, int *n_rows, const struct llm_kv_config *c, int t,
		 int64_t ctx, int64_t batch)
{
	struct llm_kv_size *r;
	int64_t dc, dr;
	int n = 0, rc;
	char name[24];

	*rows = NULL;
	*n_rows = 0;
	if ((rc = llm_kv_config_check(c)) || (rc = llm_kv_type_ok(t)))
		return rc;
	if (ctx <= 0 || batch <= 0)
		return llm_err(LLM_EINVAL, "context and batch must be positive");
	dc = c->mla_rank ? c->mla_rank : 4 * c->head_dim;
	dr = c->mla_rope_dim >= 0 ? c->mla_rope_dim : c->head_dim / 2;
	/* model, mha, the divisors, mqa, mla (a few hundred rows at most, where
	 * room for n_head of them would be gigabytes at 2^24 heads) */
	int n_div = 0;
	for (int64_t g = 2; g < c->n_head; g++)
		n_div += c->n_head % g == 0;
	r = calloc((size_t)n_div + 4, sizeof *r);
	if (!r)
		return llm_err(LLM_ENOMEM, "out of memory");
	if (c->is_mla)
		rc = size_row(&r[n++], "model", c, t, 0, 1, dc, dr);
	else
		rc = size_row(&r[n++], "model", c, t, c->n_head_kv, 0, 0, 0);
	rc = rc ? rc : size_row(&r[n++], "mha", c, t, c->n_head, 0, 0, 0);
	for (int64_t g = 2; g < c->n_head && !rc; g++) {
		if (c->n_head % g)
			continue;
		snprintf(name, sizeof name, "gqa-%lld", (long long)g);
		rc = size_row(&r[n++], name, c, t, g, 0, 0, 0);
	}
	if (c->n_head > 1 && !rc)
		rc = size_row(&r[n++], "mqa", c, t, 1, 0, 0, 0);
	rc = rc ? rc : size_row(&r[n++], "mla", c, t, 0, 1, dc, dr);
	if (rc) {
		free(r);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		uint64_t tot;
		if (__builtin_mul_overflow(r[i].bytes_per_token, (uint64_t)ctx, &tot) ||
		    __builtin_mul_overflow(tot, (uint64_t)batch, &tot) || tot > (uint64_t)INT64_MAX) {
			free(r);
			return llm_err(LLM_EINVAL, "total size does not fit in 63 bits");
		}
		r[i].total_bytes = tot;
		r[i].vs_mha = (double)r[i].bytes_per_token / (double)r[1].bytes_per_token;
	}
	*rows = r;
	*n_rows = n;
	return 0;
}

/* ================================================================ */
/* building blocks of the statistics                                 */
/* ================================================================ */

int llm_kv_sv2(double *s2, const float *x, int64_t rows, int64_t cols, int64_t ld)
{
	/* x row-major [rows][cols] is column-major [cols x rows]: same
	 * singular values, and it is already in LAPACK's order. */
	int m = (int)cols, n = (int)rows, lda = (int)cols, one = 1, lwork = -1, info = 0;
	int k = m < n ? m : n;
	double *a, *work = NULL, wq, du = 0, dvt = 0;
	int *iwork;

	if (rows <= 0 || cols <= 0)
		return 0;
	if (rows > 0x7fffffff / (cols > 0 ? cols : 1))
		return llm_err(LLM_EINVAL, "matrix %lld x %lld too large for LAPACK", (long long)rows,
			       (long long)cols);
	a = malloc((size_t)rows * (size_t)cols * sizeof *a);
	iwork = malloc(8 * (size_t)k * sizeof *iwork);
	if (!a || !iwork) {
		free(a);
		free(iwork);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < cols; j++)
			a[i * cols + j] = x[i * ld + j];
	dgesdd_("N", &m, &n, a, &lda, s2, &du, &one, &dvt, &one, &wq, &lwork, iwork, &info, 1);
	if (info == 0) {
		lwork = (int)wq + 1;
		work = malloc((size_t)lwork * sizeof *work);
		if (!work)
			info = -1000;
		else
			dgesdd_("N", &m, &n, a, &lda, s2, &du, &one, &dvt, &one, work, &lwork, iwork,
				&info, 1);
	}
	free(work);
	free(iwork);
	free(a);
	if (info == -1000)
		return llm_err(LLM_ENOMEM, "out of memory");
	if (info)
		return llm_err(LLM_EUNSUPPORTED, "LAPACK dgesdd failed (info %d)", info);
	for (int i = 0; i < k; i++)
		s2[i] *= s2[i];
	return 0;
}

int64_t llm_kv_energy_rank(const double *s2, int64_t n, double frac)
{
	double tot = 0, acc = 0;

	for (int64_t i = 0; i < n; i++)
		tot += s2[i];
	if (tot <= 0)
		return 0;
	for (int64_t i = 0; i < n; i++) {
		acc += s2[i];
		if (acc >= frac * tot)
			return i + 1;
	}
	return n;
}

/* Asymmetric min/max round trip of n values x[0], x[s], x[2s], ... */
static void kivi_group(float *y, const float *x, int64_t n, int64_t s, int bits)
{
	float mn = x[0], mx = x[0], levels = (float)((1 << bits) - 1), scale;

	for (int64_t i = 1; i < n; i++) {
		mn = fminf(mn, x[i * s]);
		mx = fmaxf(mx, x[i * s]);
	}
	scale = (mx - mn) / levels;
	for (int64_t i = 0; i < n; i++) {
		float q;
		if (scale == 0) {
			y[i * s] = mn;
			continue;
		}
		q = floorf((x[i * s] - mn) / scale + 0.5f);
		q = fminf(fmaxf(q, 0.0f), levels);
		y[i * s] = mn + q * scale;
	}
}

void llm_kv_kivi(float *y, const float *x, int64_t rows, int64_t cols, int bits, int group,
		 int per_channel)
{
	if (per_channel) {
		/* keys: each column, groups of `group` consecutive tokens */
		for (int64_t j = 0; j < cols; j++)
			for (int64_t i = 0; i < rows; i += group) {
				int64_t n = rows - i < group ? rows - i : group;
				kivi_group(y + i * cols + j, x + i * cols + j, n, cols, bits);
			}
	} else {
		/* values: each token row, groups of `group` consecutive channels */
		for (int64_t i = 0; i < rows; i++)
			for (int64_t j = 0; j < cols; j += group) {
				int64_t n = cols - j < group ? cols - j : group;
				kivi_group(y + i * cols + j, x + i * cols + j, n, 1, bits);
			}
	}
}

int llm_kv_zstd_ratio(double *ratio, const float *x, int64_t n, int grouped, int level)
{
	size_t nb = (size_t)n * 2, cap = ZSTD_compressBound(nb), r;
	uint8_t *raw = malloc(nb ? nb : 1), *dst = malloc(cap);

	if (!raw || !dst) {
		free(raw);
		free(dst);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	for (int64_t i = 0; i < n; i++) {
		uint16_t h = llm_fp32_to_fp16(x[i]);
		if (grouped) {
			raw[i] = (uint8_t)(h & 0xff);
			raw[n + i] = (uint8_t)(h >> 8);
		} else {
			raw[2 * i] = (uint8_t)(h & 0xff);
			raw[2 * i + 1] = (uint8_t)(h >> 8);
		}
	}
	r = ZSTD_compress(dst, cap, raw, nb, level);
	free(raw);
	free(dst);
	if (ZSTD_isError(r))
		return llm_err(LLM_EUNSUPPORTED, "zstd: %s", ZSTD_getErrorName(r));
	*ratio = r ? (double)nb / (double)r : 0;
	return 0;
}

/* ================================================================ */
/* statistics of one [n_pos][n_head_kv * head_dim] matrix            */
/* ================================================================ */

enum { E_Q8, E_Q4, E_KIVI4, E_KIVI2, E_N };

/* Squared error of y for x.  A y that is inf or NaN is an infinite error:
 * the stored form cannot hold x (q8_0's f16 scale amax / 127 overflows
 * past |x| = 65504 * 127, q4_0's past 65504 * 8, KIVI's (max - min) / (2^b
 * - 1) past the float range), and the RMSE says so rather than NaN. */
static double sq_err(float x, float y)
{
	double d = (double)x - y;
	return isfinite(y) ? d * d : INFINITY;
}

/* Per-column sums of squared q8_0 / q4_0 errors, each token row quantized
 * as a cache row (padded with zeros to a multiple of 32). */
static int quant_errors(double *err, const float *x, int64_t n_pos, int64_t w, int t)
{
	const struct llm_type_traits *tr = llm_type_traits(t);
	int64_t wp = (w + LLM_QK - 1) / LLM_QK * LLM_QK;
	float *pad, *back;
	void *blk;

	if (!tr || !tr->from_float || !tr->to_float)
		return llm_err(LLM_EUNSUPPORTED, "type %s cannot be quantized here", llm_type_name(t));
	pad = calloc((size_t)wp, sizeof *pad);
	back = malloc((size_t)wp * sizeof *back);
	blk = malloc(llm_type_row_size(t, wp));
	if (!pad || !back || !blk) {
		free(pad);
		free(back);
		free(blk);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	for (int64_t i = 0; i < n_pos; i++) {
		memcpy(pad, x + i * w, (size_t)w * sizeof *pad);
		tr->from_float(pad, blk, wp);
		tr->to_float(blk, back, wp);
		for (int64_t j = 0; j < w; j++)
			err[j] += sq_err(x[i * w + j], back[j]);
	}
	free(pad);
	free(back);
	free(blk);
	return 0;
}

/* Per-column sums of squared KIVI errors (y: n_pos * w scratch). */
static void kivi_errors(double *err, float *y, const float *x, int64_t n_pos, int64_t w,
			int bits, int per_channel)
{
	llm_kv_kivi(y, x, n_pos, w, bits, 32, per_channel);
	for (int64_t i = 0; i < n_pos * w; i++)
		err[i % w] += sq_err(x[i], y[i]);
}

/* Effective ranks and zstd ratios of columns c0..c0+cw-1 (scratch: sub). */
static int rank_and_zstd(struct llm_kv_stat *st, const float *x, int64_t n_pos, int64_t w,
			 int64_t c0, int64_t cw, float *sub, double *s2, int level)
{
	int64_t k = n_pos < cw ? n_pos : cw;
	int rc;

	for (int64_t i = 0; i < n_pos; i++)
		memcpy(sub + i * cw, x + i * w + c0, (size_t)cw * sizeof *sub);
	if ((rc = llm_kv_sv2(s2, sub, n_pos, cw, cw)))
		return rc;
	st->rank90 = llm_kv_energy_rank(s2, k, 0.90);
	st->rank99 = llm_kv_energy_rank(s2, k, 0.99);
	if ((rc = llm_kv_zstd_ratio(&st->zstd_raw, sub, n_pos * cw, 0, level)) ||
	    (rc = llm_kv_zstd_ratio(&st->zstd_grouped, sub, n_pos * cw, 1, level)))
		return rc;
	return 0;
}

int64_t llm_kv_stat_rows(int64_t n_head_kv, const struct llm_kv_stat_opts *o)
{
	return 1 + (o && o->per_head ? n_head_kv : 0);
}

int llm_kv_stats_matrix(struct llm_kv_stat *out, const float *x, int64_t n_pos,
			int64_t n_head_kv, int64_t head_dim, char kind, int64_t layer,
			const struct llm_kv_stat_opts *o)
{
	const struct llm_kv_stat_opts dflt = LLM_KV_STAT_OPTS_INIT;
	int64_t w = n_head_kv * head_dim, nr, k = n_pos < w ? n_pos : w;
	double sum = 0, mean, var = 0, sigma, thr, *colsq, *err, *hsq, *s2;
	int64_t *colout;
	float *y;
	int level, rc = 0;

	if (!o)
		o = &dflt;
	if (n_pos <= 0 || n_head_kv <= 0 || head_dim <= 0 || (kind != 'k' && kind != 'v'))
		return llm_err(LLM_EINVAL, "bad matrix shape for statistics");
	/* (LAPACK would print to stdout and return ranks of nothing) */
	if (!llm_all_finite(x, n_pos * w))
		return llm_err(LLM_EFORMAT, "kv.%lld.%c holds inf or NaN", (long long)layer, kind);
	level = o->zstd_level ? o->zstd_level : 3;
	nr = llm_kv_stat_rows(n_head_kv, o);
	colsq = calloc((size_t)w, sizeof *colsq);
	colout = calloc((size_t)w, sizeof *colout);
	err = calloc((size_t)w * E_N, sizeof *err);
	hsq = calloc((size_t)(n_pos * n_head_kv), sizeof *hsq);
	s2 = malloc((size_t)k * sizeof *s2);
	y = malloc((size_t)(n_pos * w) * sizeof *y);
	if (!colsq || !colout || !err || !hsq || !s2 || !y) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto done;
	}

	/* moments: squares per column and per (token, head); sigma of the whole
	 * layer in two passes (sum x^2 / n - mean^2 cancels: for a constant
	 * 0.3 it left ~1e-10, and every value became a 6-sigma outlier) */
	for (int64_t i = 0; i < n_pos; i++)
		for (int64_t j = 0; j < w; j++) {
			double v = x[i * w + j];
			sum += v;
			colsq[j] += v * v;
			hsq[i * n_head_kv + j / head_dim] += v * v;
		}
	mean = sum / (double)(n_pos * w);
	for (int64_t i = 0; i < n_pos * w; i++)
		var += ((double)x[i] - mean) * ((double)x[i] - mean);
	sigma = sqrt(var / (double)(n_pos * w));
	thr = (o->outlier_sigma > 0 ? o->outlier_sigma : 6.0) * sigma;
	for (int64_t i = 0; sigma > 0 && i < n_pos * w; i++)
		if (fabs((double)x[i]) > thr)
			colout[i % w]++;

	/* quantization errors, per column */
	if ((rc = quant_errors(err + E_Q8 * w, x, n_pos, w, LLM_TYPE_Q8_0)) ||
	    (rc = quant_errors(err + E_Q4 * w, x, n_pos, w, LLM_TYPE_Q4_0)))
		goto done;
	kivi_errors(err + E_KIVI4 * w, y, x, n_pos, w, 4, kind == 'k');
	kivi_errors(err + E_KIVI2 * w, y, x, n_pos, w, 2, kind == 'k');

	/* rows: r = 0 is the layer (heads 0..n_head_kv-1), r = 1 + h head h */
	for (int64_t r = 0; r < nr; r++) {
		struct llm_kv_stat *st = &out[r];
		int64_t h0 = r ? r - 1 : 0, h1 = r ? r : n_head_kv;
		int64_t c0 = h0 * head_dim, c1 = h1 * head_dim, cnt = n_pos * (c1 - c0), nout = 0;
		double sq = 0, e[E_N] = { 0 };

		memset(st, 0, sizeof *st);
		st->layer = layer;
		st->kind = kind;
		st->head = r ? r - 1 : -1;
		st->n_pos = n_pos;
		st->width = c1 - c0;
		for (int64_t j = c0; j < c1; j++) {
			sq += colsq[j];
			nout += colout[j];
			for (int q = 0; q < E_N; q++)
				e[q] += err[q * w + j];
		}
		st->rms = sqrt(sq / (double)cnt);
		st->outlier_frac = (double)nout / (double)cnt;
		st->rmse_q8_0 = sqrt(e[E_Q8] / (double)cnt);
		st->rmse_q4_0 = sqrt(e[E_Q4] / (double)cnt);
		st->rmse_kivi4 = sqrt(e[E_KIVI4] / (double)cnt);
		st->rmse_kivi2 = sqrt(e[E_KIVI2] / (double)cnt);
		for (int64_t i = 0; i < n_pos; i++) {
			double t = 0, nrm;
			for (int64_t h = h0; h < h1; h++)
				t += hsq[i * n_head_kv + h];
			nrm = sqrt(t);
			st->norm_mean += nrm / (double)n_pos;
			if (nrm > st->norm_max)
				st->norm_max = nrm;
		}
		if ((rc = rank_and_zstd(st, x, n_pos, w, c0, c1 - c0, y, s2, level)))
			goto done;
	}
done:
	free(colsq);
	free(colout);
	free(err);
	free(hsq);
	free(s2);
	free(y);
	return rc;
}

/* ================================================================ */
/* dumps                                                             */
/* ================================================================ */

int llm_kv_is_dump(const llm_meta *m)
{
	const char *s;
	return llm_meta_get_str(m, "general.type", &s, NULL) == 0 && strcmp(s, "kv-dump") == 0;
}

/* What general.type says, for "not a KV dump (...)": 'x', or why there is
 * no string. */
static void type_said(char *buf, size_t n, const llm_meta *m)
{
	const struct llm_kv *kv = llm_meta_get(m, "general.type");
	const char *s;

	if (!kv)
		snprintf(buf, n, "no general.type");
	else if (llm_meta_get_str(m, "general.type", &s, NULL))
		snprintf(buf, n, "general.type is a %s, not a string", llm_vtype_name(kv->type));
	else
		snprintf(buf, n, "general.type '%s'", s);
}

/* Shape metadata of a dump, validated: the counts, and where present
 * kv.n_head, kv.rope.* and kv.tokens as llm-run writes them (a dump written
 * by llm_eval_gen_write_kv always holds them; test fixtures may not). */
static int dump_info(struct llm_kv_dump_info *d, const llm_meta *m, const char *path)
{
	static const char *const keys[] = { "kv.n_layer", "kv.n_head_kv", "kv.head_dim", "kv.n_pos" };
	int64_t *dst[] = { &d->n_layer, &d->n_head_kv, &d->head_dim, &d->n_pos };
	const struct llm_kv *kv;
	int64_t v;
	double f;
	int rc;

	if (!llm_kv_is_dump(m)) {
		char said[256];
		type_said(said, sizeof said, m);
		return llm_err(LLM_EFORMAT, "%s: not a KV dump (%s)", path, said);
	}
	for (int i = 0; i < 4; i++) {
		if (llm_meta_get_int(m, keys[i], dst[i]))
			return llm_err(LLM_EFORMAT, "%s: KV dump without an integer %s", path, keys[i]);
		if (*dst[i] <= 0 || *dst[i] > MAXDIM)
			return llm_err(LLM_EFORMAT, "%s: %s = %lld is out of range", path, keys[i],
				       (long long)*dst[i]);
	}
	if (d->n_head_kv * d->head_dim > MAXDIM || d->n_pos * d->n_head_kv * d->head_dim > (int64_t)1 << 34)
		return llm_err(LLM_EFORMAT, "%s: KV dump too large (%lld x %lld x %lld)", path,
			       (long long)d->n_pos, (long long)d->n_head_kv, (long long)d->head_dim);

	/* query heads: n_head_kv groups of n_head / n_head_kv (the writer's
	 * model refuses anything else) */
	d->n_head = d->n_head_kv;
	if ((rc = llm_meta_get_int(m, "kv.n_head", &v)) == LLM_EFORMAT)
		return llm_err(LLM_EFORMAT, "%s: kv.n_head is not an integer", path);
	if (!rc && (v <= 0 || v > MAXDIM || v % d->n_head_kv))
		return llm_err(LLM_EFORMAT, "%s: kv.n_head = %lld is not a positive multiple of kv.n_head_kv = %lld",
			       path, (long long)v, (long long)d->n_head_kv);
	if (!rc)
		d->n_head = v;

	/* RoPE: the model's rope.dimension_count (even, at most the head size,
	 * 0 when nothing rotates) and freq_base (> 0) */
	if ((rc = llm_meta_get_int(m, "kv.rope.dimension_count", &v)) == LLM_EFORMAT)
		return llm_err(LLM_EFORMAT, "%s: kv.rope.dimension_count is not an integer", path);
	if (!rc && (v < 0 || v > d->head_dim || v % 2))
		return llm_err(LLM_EFORMAT, "%s: kv.rope.dimension_count = %lld must be even and at most kv.head_dim = %lld",
			       path, (long long)v, (long long)d->head_dim);
	if ((rc = llm_meta_get_float(m, "kv.rope.freq_base", &f)) == LLM_EFORMAT)
		return llm_err(LLM_EFORMAT, "%s: kv.rope.freq_base is not a number", path);
	if (!rc && !(isfinite(f) && f > 0))
		return llm_err(LLM_EFORMAT, "%s: kv.rope.freq_base = %g must be finite and > 0", path, f);

	/* the token at each position: n_pos ids */
	if ((kv = llm_meta_get(m, "kv.tokens"))) {
		if (kv->type != LLM_V_ARR || kv->atype == LLM_V_STR || kv->atype == LLM_V_BOOL ||
		    kv->atype == LLM_V_F32 || kv->atype == LLM_V_F64)
			return llm_err(LLM_EFORMAT, "%s: kv.tokens is not an array of token ids", path);
		if (kv->n != (uint64_t)d->n_pos)
			return llm_err(LLM_EFORMAT, "%s: kv.tokens holds %llu ids for kv.n_pos = %lld positions", path,
				       (unsigned long long)kv->n, (long long)d->n_pos);
		for (uint64_t i = 0; i < kv->n; i++) {
			double t = llm_kv_arr_num(kv, i);
			if (!(t >= 0 && t <= INT32_MAX))
				return llm_err(LLM_EFORMAT, "%s: kv.tokens[%llu] = %.0f is not a token id", path,
					       (unsigned long long)i, t);
		}
	}
	return 0;
}

/* The layer of a tensor named kv.L.k or kv.L.v (L in decimal as the writer
 * prints it: no sign, no leading zero) and its kind; -1 for any other name. */
static int64_t layer_of(const char *name, char *kind)
{
	const char *p = name + 3;
	int64_t l = 0;

	if (strncmp(name, "kv.", 3) || *p < '0' || *p > '9' || (*p == '0' && p[1] != '.'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		l = l * 10 + (*p - '0');
		if (l > MAXDIM)
			return -1;
	}
	if (p[0] != '.' || (p[1] != 'k' && p[1] != 'v') || p[2])
		return -1;
	*kind = p[1];
	return l;
}

/* Index of tensor kv.L.{k,v}, checked against the dump's shape. */
static int dump_tensor(int64_t *idx, llm_ckpt *c, const struct llm_kv_dump_info *d, int64_t l,
		       char kind)
{
	const struct llm_tensor_info *t;
	char name[64];

	snprintf(name, sizeof name, "kv.%lld.%c", (long long)l, kind);
	if ((*idx = llm_ckpt_find(c, name)) < 0)
		return llm_err(LLM_EFORMAT, "%s: KV dump has no tensor %s (kv.n_layer = %lld)", llm_ckpt_path(c),
			       name, (long long)d->n_layer);
	t = llm_ckpt_tensor(c, *idx);
	if (t->ne[0] != d->head_dim || t->ne[1] != d->n_head_kv || t->ne[2] != d->n_pos || t->ne[3] != 1)
		return llm_err(LLM_EFORMAT,
			       "%s: tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]",
			       llm_ckpt_path(c), name, (long long)t->ne[0], (long long)t->ne[1],
			       (long long)t->ne[2], (long long)t->ne[3], (long long)d->head_dim,
			       (long long)d->n_head_kv, (long long)d->n_pos);
	return 0;
}

int llm_kv_dump_info(struct llm_kv_dump_info *info, llm_ckpt *c)
{
	struct llm_kv_dump_info d;
	const char *path = llm_ckpt_path(c);
	int rc;

	if ((rc = dump_info(&d, llm_ckpt_meta(c), path)))
		return rc;
	/* the tensors are kv.L.k and kv.L.v for L = 0 .. n_layer-1, each once
	 * (the reader refuses duplicate names), and nothing else */
	for (int64_t i = 0; i < llm_ckpt_n_tensors(c); i++) {
		const char *name = llm_ckpt_tensor(c, i)->name;
		char kind;
		int64_t l = layer_of(name, &kind);
		if (l < 0)
			return llm_err(LLM_EFORMAT, "%s: KV dump holds tensor %s, which is no layer's kv.L.k or kv.L.v",
				       path, name);
		if (l >= d.n_layer)
			return llm_err(LLM_EFORMAT, "%s: tensor %s is past kv.n_layer = %lld (layers 0..%lld)", path,
				       name, (long long)d.n_layer, (long long)d.n_layer - 1);
	}
	for (int64_t l = 0; l < d.n_layer; l++) {
		int64_t i;
		if ((rc = dump_tensor(&i, c, &d, l, 'k')) || (rc = dump_tensor(&i, c, &d, l, 'v')))
			return rc;
	}
	if (info)
		*info = d;
	return 0;
}

int llm_kv_dump_stats(struct llm_kv_stat **rows, int64_t *n_rows, struct llm_kv_dump_info *info,
		      llm_ckpt *c, const struct llm_kv_stat_opts *o)
{
	struct llm_kv_dump_info d;
	int64_t per, n = 0, w;
	struct llm_kv_stat *r = NULL;
	float *x = NULL;
	int rc;

	*rows = NULL;
	*n_rows = 0;
	if ((rc = llm_kv_dump_info(&d, c)))
		return rc;
	w = d.n_head_kv * d.head_dim;
	per = llm_kv_stat_rows(d.n_head_kv, o);
	r = calloc((size_t)(d.n_layer * 2 * per), sizeof *r);
	x = malloc((size_t)(d.n_pos * w) * sizeof *x);
	if (!r || !x) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto fail;
	}
	for (int64_t l = 0; l < d.n_layer; l++) {
		for (int kv = 0; kv < 2; kv++) {
			char kind = kv ? 'v' : 'k';
			int64_t i;
			dump_tensor(&i, c, &d, l, kind);
			rc = llm_ckpt_read_f32(c, i, x);
			llm_ckpt_release(c, i);
			if (rc)
				goto fail;
			if ((rc = llm_kv_stats_matrix(r + n, x, d.n_pos, d.n_head_kv, d.head_dim, kind, l, o))) {
				llm_err_prefix(rc, llm_ckpt_path(c));
				goto fail;
			}
			n += per;
		}
	}
	free(x);
	*rows = r;
	*n_rows = n;
	if (info)
		*info = d;
	return 0;
fail:
	free(r);
	free(x);
	return rc;
}
