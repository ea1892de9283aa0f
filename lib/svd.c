/* svd.c - exact and randomized truncated SVD through OpenBLAS's LAPACK,
 * and LoRA extraction from a base/tuned pair (see svd.h).
 *
 * LAPACK is column-major; our matrices are row-major.  A row-major m x n
 * matrix M is, as stored, the column-major n x m matrix M^T, so every call
 * below works on M^T with leading dimension n and never copies to
 * transpose. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "io.h"
#include "lora.h"
#include "regex.h"
#include "svd.h"
#include "types.h"

/* LAPACK (Fortran symbols in libopenblas; 32-bit integers; the hidden
 * length of character arguments is passed last). */
extern void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau, float *work,
		    const int *lwork, int *info);
extern void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda, const float *tau,
		    float *work, const int *lwork, int *info);
extern void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s, float *u,
		    const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork, int *iwork, int *info,
		    size_t jobz_len);
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
		    double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
		    int *iwork, int *info, size_t jobz_len);

void llm_svd_set_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}

/* ---- random numbers: splitmix64 + Box-Muller ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void gaussian(float *x, int64_t n, uint64_t seed)
{
	uint64_t s = seed;
	for (int64_t i = 0; i < n; i += 2) {
		double u1 = ((splitmix(&s) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
		double u2 = (splitmix(&s) >> 11) / 9007199254740992.0;
		double r = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
		x[i] = (float)(r * cos(th));
		if (i + 1 < n)
			x[i + 1] = (float)(r * sin(th));
	}
}

/* ---- QR: A (m x n column-major, m >= n) <- Q ---- */

static int orthonormalize(float *A, int m, int n)
{
	int info = 0, lwork = -1, lw2 = -1;
	float q1 = 0, q2 = 0, *tau = malloc((size_t)n * sizeof *tau), *work;

	if (!tau)
		return llm_err(LLM_ENOMEM, "out of memory");
	sgeqrf_(&m, &n, A, &m, tau, &q1, &lwork, &info);
	sorgqr_(&m, &n, &n, A, &m, tau, &q2, &lw2, &info);
	lwork = (int)fmaxf(q1, q2) + 1;
	if (!(work = malloc((size_t)lwork * sizeof *work))) {
		free(tau);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	sgeqrf_(&m, &n, A, &m, tau, work, &lwork, &info);
	if (!info)
		sorgqr_(&m, &n, &n, A, &m, tau, work, &lwork, &info);
	free(work);
	free(tau);
	return info ? llm_err(LLM_EINVAL, "LAPACK QR failed (info %d)", info) : 0;
}

/* ---- exact: sgesdd on M^T (n x m column-major) ---- */

static int svd_exact(const float *M, int m, int n, float **U, float **S, float **V, int64_t *k_out)
{
	int mn = m < n ? m : n, info = 0, lwork = -1;
	float *a = malloc((size_t)m * n * sizeof *a), *s = malloc((size_t)mn * sizeof *s);
	float *uf = malloc((size_t)n * mn * sizeof *uf), *vtf = malloc((size_t)mn * m * sizeof *vtf);
	float *u = malloc((size_t)m * mn * sizeof *u), *work = NULL, q = 0;
	int *iwork = malloc((size_t)8 * mn * sizeof *iwork);
	int rc = 0;

	if (!a || !s || !uf || !vtf || !u || !iwork) {
		rc = llm_err(LLM_ENOMEM, "SVD of %dx%d: out of memory", m, n);
		goto out;
	}
	memcpy(a, M, (size_t)m * n * sizeof *a);
	/* M^T = Uf S VTf  =>  M = VTf^T S Uf^T: U = VTf^T, V = Uf */
	sgesdd_("S", &n, &m, a, &n, s, uf, &n, vtf, &mn, &q, &lwork, iwork, &info, 1);
	lwork = (int)q + 1;
	if (!(work = malloc((size_t)lwork * sizeof *work))) {
		rc = llm_err(LLM_ENOMEM, "SVD of %dx%d: out of memory", m, n);
		goto out;
	}
	sgesdd_("S", &n, &m, a, &n, s, uf, &n, vtf, &mn, work, &lwork, iwork, &info, 1);
	if (info) {
		rc = llm_err(LLM_EINVAL, "SVD of %dx%d: LAPACK sgesdd failed (info %d)", m, n, info);
		goto out;
	}
	for (int j = 0; j < mn; j++) /* U(i, j) = VTf(j, i) */
		for (int i = 0; i < m; i++)
			u[(size_t)j * m + i] = vtf[(size_t)i * mn + j];
	*U = u, *S = s, *V = uf, *k_out = mn;
	u = s = uf = NULL;
out:
	free(a);
	free(s);
	free(uf);
	free(vtf);
	free(u);
	free(work);
	free(iwork);
	return rc;
}

/* ---- randomized (HMT) ---- */

static int svd_rand(const float *M, int m, int n, int l, int q, uint64_t seed, float **U, float **S, float **V,
		    int64_t *k_out)
{
	float *om = malloc((size_t)n * l * sizeof *om), *y = malloc((size_t)m * l * sizeof *y);
	float *z = malloc((size_t)n * l * sizeof *z), *u = malloc((size_t)m * l * sizeof *u);
	float *v = malloc((size_t)n * l * sizeof *v), *s = malloc((size_t)l * sizeof *s);
	float *vtf = malloc((size_t)l * l * sizeof *vtf);
	double *bd = malloc((size_t)n * l * sizeof *bd), *sd = malloc((size_t)l * sizeof *sd);
	double *ud = malloc((size_t)n * l * sizeof *ud), *vtd = malloc((size_t)l * l * sizeof *vtd), *work = NULL, wq = 0;
	int *iwork = malloc((size_t)8 * l * sizeof *iwork), info = 0, lwork = -1, rc = 0;

	if (!om || !y || !z || !u || !v || !s || !vtf || !bd || !sd || !ud || !vtd || !iwork) {
		rc = llm_err(LLM_ENOMEM, "SVD of %dx%d: out of memory", m, n);
		goto out;
	}
	gaussian(om, (int64_t)n * l, seed);
	/* Y (m x l) = M Omega; M as stored is M^T (n x m, ld n) */
	cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, l, n, 1.0f, M, n, om, n, 0.0f, y, m);
	if ((rc = orthonormalize(y, m, l)))
		goto out;
	for (int it = 0; it < q; it++) {
		/* Z (n x l) = M^T Q, then Q = qr(M qr(Z)) */
		cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, l, m, 1.0f, M, n, y, m, 0.0f, z, n);
		if ((rc = orthonormalize(z, n, l)))
			goto out;
		cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, l, n, 1.0f, M, n, z, n, 0.0f, y, m);
		if ((rc = orthonormalize(y, m, l)))
			goto out;
	}
	/* B^T (n x l) = M^T Q; B^T = Ub S VTb  =>  M ~= (Q VTb^T) S Ub^T */
	cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, l, m, 1.0f, M, n, y, m, 0.0f, z, n);
	for (int64_t i = 0; i < (int64_t)n * l; i++)
		bd[i] = z[i];
	dgesdd_("S", &n, &l, bd, &n, sd, ud, &n, vtd, &l, &wq, &lwork, iwork, &info, 1);
	lwork = (int)wq + 1;
	if (!(work = malloc((size_t)lwork * sizeof *work))) {
		rc = llm_err(LLM_ENOMEM, "SVD of %dx%d: out of memory", m, n);
		goto out;
	}
	dgesdd_("S", &n, &l, bd, &n, sd, ud, &n, vtd, &l, work, &lwork, iwork, &info, 1);
	if (info) {
		rc = llm_err(LLM_EINVAL, "SVD of %dx%d: LAPACK dgesdd failed (info %d)", m, n, info);
		goto out;
	}
	for (int64_t i = 0; i < (int64_t)l * l; i++)
		vtf[i] = (float)vtd[i];
	for (int64_t i = 0; i < (int64_t)n * l; i++)
		v[i] = (float)ud[i];
	for (int i = 0; i < l; i++)
		s[i] = (float)sd[i];
	cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, m, l, l, 1.0f, y, m, vtf, l, 0.0f, u, m);
	*U = u, *S = s, *V = v, *k_out = l;
	u = s = v = NULL;
out:
	free(om);
	free(y);
	free(z);
	free(u);
	free(v);
	free(s);
	free(vtf);
	free(bd);
	free(sd);
	free(ud);
	free(vtd);
	free(work);
	free(iwork);
	return rc;
}

int llm_svd(const float *M, int64_t m, int64_t n, int64_t k, const struct llm_svd_opts *o,
	    float **U, float **S, float **V, int64_t *k_out)
{
	int64_t mn = m < n ? m : n, l;

	*U = *S = *V = NULL;
	*k_out = 0;
	if (m < 1 || n < 1 || m > 0x7fffffff / 2 || n > 0x7fffffff / 2 || (double)m * n > 0x7fffffff)
		return llm_err(LLM_EINVAL, "SVD of %lldx%lld: unsupported size", (long long)m, (long long)n);
	if (k < 1 || k > mn)
		return llm_err(LLM_EINVAL, "rank %lld is outside 1..%lld for a %lldx%lld matrix", (long long)k,
			       (long long)mn, (long long)m, (long long)n);
	if (o->exact)
		return svd_exact(M, (int)m, (int)n, U, S, V, k_out);
	l = k + (o->oversample > 0 ? o->oversample : 0);
	if (l > mn)
		l = mn;
	return svd_rand(M, (int)m, (int)n, (int)l, o->power_iters > 0 ? o->power_iters : 0, o->seed, U, S, V, k_out);
}

/* ================================================================== */
/* extraction                                                          */

void llm_svd_delta_report_free(struct llm_svd_delta_report *r, int64_t n)
{
	for (int64_t i = 0; r && i < n; i++)
		free(r[i].name);
	free(r);
}

static int n_dims_eff(const struct llm_tensor_info *t)
{
	int n = 1;
	for (int d = 1; d < t->n_dims; d++)
		if (t->ne[d] > 1)
			n = d + 1;
	return n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* pat compiled (NULL for none); a bad pattern's error names the option */
static int re_new(llm_regex **out, const char *pat, const char *what)
{
	*out = NULL;
	if (!pat)
		return 0;
	int rc = llm_regex_compile(out, pat);
	return rc ? llm_err_prefix(rc, what) : 0;
}

/* Is name kept by --include and --exclude?  1 yes, 0 no, negative on a
 * failed match. */
static int kept(const llm_regex *inc, const llm_regex *exc, const char *name)
{
	size_t n = strlen(name);
	int in = inc ? llm_regex_match(inc, name, n, LLM_RE_SEARCH) : 1;
	int ex = exc && in > 0 ? llm_regex_match(exc, name, n, LLM_RE_SEARCH) : 0;
	return in < 0 ? in : ex < 0 ? ex : in && !ex;
}

static void notice(const struct llm_svd_delta_opts *o, const char *fmt, const char *a, const char *b)
{
	char msg[512];
	if (!o->notice)
		return;
	snprintf(msg, sizeof msg, fmt, a, b);
	o->notice(o->ud, msg);
}

/* Rank for one delta: fixed, or by energy (exact or growing randomized
 * sketches).  On success *U, *S, *V hold at least *r triplets. */
static int pick_svd(const float *dw, int64_t m, int64_t n, double total, const struct llm_svd_delta_opts *o,
		    float **U, float **S, float **V, int64_t *r)
{
	int64_t mn = m < n ? m : n, cap = o->max_rank > 0 && o->max_rank < mn ? o->max_rank : mn, k, got;
	struct llm_svd_opts so = o->svd;
	int rc;

	if (o->rank > 0) {
		k = o->rank < cap ? o->rank : cap;
		if ((rc = llm_svd(dw, m, n, k, &so, U, S, V, &got)))
			return rc;
		*r = k < got ? k : got;
		return 0;
	}
	k = so.exact ? cap : (cap < 32 ? cap : 32);
	for (;;) {
		if (!so.exact && 2 * (k + so.oversample) >= mn)
			so.exact = 1; /* the sketch would not save anything */
		if ((rc = llm_svd(dw, m, n, so.exact ? mn : k, &so, U, S, V, &got)))
			return rc;
		/* exact: against the singular values' own sum, not the F32
		 * difference's norm in double, which differs from it by the SVD's
		 * rounding (about 1e-7): --energy 1 on an exact rank-4 delta
		 * then never met its goal before the last, noise-level value and
		 * took the full rank */
		double cum = 0, want = o->energy * total;
		if (so.exact) {
			double all = 0;
			for (int64_t i = 0; i < got; i++)
				all += (double)(*S)[i] * (*S)[i];
			want = o->energy * all;
		}
		int64_t lim = so.exact ? cap : k;
		for (int64_t i = 0; i < lim && i < got; i++) {
			cum += (double)(*S)[i] * (*S)[i];
			if (cum >= want * (1 - 1e-12)) {
				*r = i + 1;
				return 0;
			}
		}
		if (so.exact || k >= cap) {
			*r = lim < got ? lim : got;
			return 0;
		}
		free(*U);
		free(*S);
		free(*V);
		*U = *S = *V = NULL;
		k = 2 * k < cap ? 2 * k : cap;
	}
}

/* o->finish with the report, for llm_lora_write's before_commit */
struct finish_call {
	const struct llm_svd_delta_opts *o;
	const struct llm_svd_delta_report *rep;
	int64_t n;
};

static int call_finish(void *ud)
{
	const struct finish_call *f = ud;
	return f->o->finish(f->o->ud, f->rep, f->n);
}

int llm_svd_delta(llm_ckpt *base, llm_ckpt *tuned, const struct llm_svd_delta_opts *o,
		  const char *out_path, struct llm_svd_delta_report **rep_out, int64_t *n_rep)
{
	int64_t nb = llm_ckpt_n_tensors(base), nrep = 0, capt = 0;
	struct llm_svd_delta_report *rep = calloc(nb ? (size_t)nb : 1, sizeof *rep);
	int64_t *pair = calloc(nb ? (size_t)nb : 1, sizeof *pair);
	const char *arch = NULL, *bp = llm_ckpt_path(base), *tp = llm_ckpt_path(tuned);
	llm_regex *inc = NULL, *exc = NULL;
	llm_lora lo = { 0 };
	float *wb = NULL, *wt = NULL;
	size_t cap = 0;
	uint64_t total = 0, done = 0;
	int rc = 0, n_zero = 0;

	if (rep_out) {
		*rep_out = NULL;
		*n_rep = 0;
	}
	if (!rep || !pair) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = re_new(&inc, o->include, "--include")) || (rc = re_new(&exc, o->exclude, "--exclude")))
		goto out;
	llm_meta_get_str(llm_ckpt_meta(base), "general.architecture", &arch, NULL);
	/* a BASE without tensors, or a TUNED that shares no tensor with BASE
	 * (another model, a vocabulary), is one error, not a notice per
	 * tensor; pair[i] is TUNED's index of BASE's tensor i for now, the
	 * planning below keeps it for the 2-D weights it takes */
	int64_t shared = 0;
	for (int64_t i = 0; i < nb; i++)
		shared += (pair[i] = llm_ckpt_find(tuned, llm_ckpt_tensor(base, i)->name)) >= 0;
	if (!nb) {
		rc = llm_err(LLM_EINVAL, "%s: no tensors (a vocabulary-only file): nothing to compare", bp);
		goto out;
	}
	if (!shared) {
		rc = llm_err(LLM_EINVAL, "%s: none of the %lld tensors of %s is in it", tp, (long long)nb, bp);
		goto out;
	}
	/* plan and validate everything before the first SVD */
	for (int64_t i = 0; i < nb; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(base, i), *u;
		int64_t j = pair[i];
		pair[i] = -1;
		int keep = kept(inc, exc, t->name);
		if (keep < 0) {
			rc = keep;
			goto out;
		}
		if (j < 0) { /* said only of tensors --include/--exclude keep */
			if (keep)
				notice(o, "%s: not in %s; skipped", t->name, tp);
			continue;
		}
		u = llm_ckpt_tensor(tuned, j);
		if (u->n_dims != t->n_dims || memcmp(u->ne, t->ne, sizeof t->ne) != 0) {
			rc = llm_err(LLM_EINVAL, "%s: %lldx%lld in %s but %lldx%lld in %s", t->name, (long long)t->ne[0],
				     (long long)t->ne[1], bp, (long long)u->ne[0], (long long)u->ne[1], tp);
			goto out;
		}
		if (!llm_ends_with(t->name, ".weight") || n_dims_eff(t) != 2)
			continue; /* 1-D differences are reported below */
		if (!keep)
			continue;
		int tbad = !llm_type_traits(t->type) || !llm_type_traits(t->type)->to_float;
		if (tbad || !llm_type_traits(u->type) || !llm_type_traits(u->type)->to_float) {
			rc = llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: type %s cannot be decoded", tbad ? bp : tp,
				     t->name, llm_type_name(tbad ? t->type : u->type));
			goto out;
		}
		pair[i] = j;
		total += t->size;
	}
	for (int64_t j = 0; j < llm_ckpt_n_tensors(tuned); j++)
		if (llm_ckpt_find(base, llm_ckpt_tensor(tuned, j)->name) < 0)
			notice(o, "%s: only in %s; skipped", llm_ckpt_tensor(tuned, j)->name, tp);
	lo.path = (char *)tp;
	for (int64_t i = 0; i < nb; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(base, i);
		int64_t ne = llm_tensor_nelem(t), n = t->ne[0], m = ne / (n ? n : 1), j = llm_ckpt_find(tuned, t->name);
		int is2d = pair[i] >= 0;
		double t0 = now(), tot = 0;

		if (j < 0 || (!is2d && (n_dims_eff(t) == 2 && llm_ends_with(t->name, ".weight"))))
			continue; /* absent, or filtered out */
		if (!is2d && (!llm_type_traits(t->type) || !llm_type_traits(t->type)->to_float))
			continue;
		if ((size_t)ne > cap) {
			free(wb);
			free(wt);
			wb = malloc((size_t)ne * sizeof *wb);
			wt = malloc((size_t)ne * sizeof *wt);
			cap = (size_t)ne;
			if (!wb || !wt) {
				cap = 0;
				rc = llm_err(LLM_ENOMEM, "%s: out of memory", t->name);
				goto out;
			}
		}
		if (o->progress && is2d)
			o->progress(o->ud, t->name, done, total);
		if ((rc = llm_ckpt_read_f32(base, i, wb)) || (rc = llm_ckpt_read_f32(tuned, j, wt)))
			goto out;
		llm_ckpt_release(base, i);
		llm_ckpt_release(tuned, j);
		for (int64_t k = 0; k < ne; k++) { /* dW = tuned - base, in place */
			wt[k] -= wb[k];
			tot += (double)wt[k] * wt[k];
		}
		if (!isfinite(tot)) { /* LAPACK would only say "illegal value" */
			rc = llm_err(LLM_EINVAL, "%s: the difference of %s and %s holds inf or NaN", t->name, tp,
				     bp);
			goto out;
		}
		if (!is2d) {
			if (tot > 0)
				notice(o, "%s: differs but is not a 2-D weight: a LoRA adapter cannot carry it%s", t->name, "");
			continue;
		}
		done += t->size;
		struct llm_svd_delta_report *rp = &rep[nrep++];
		rp->name = strdup(t->name);
		rp->n_in = n, rp->n_out = m;
		if (!rp->name) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			goto out;
		}
		if (tot == 0) {
			rp->energy_kept = 1;
			rp->seconds = now() - t0;
			n_zero++;
			continue;
		}
		float *U, *S, *V;
		int64_t r;
		if (o->rank > (m < n ? m : n) && !(o->max_rank > 0 && o->max_rank <= (m < n ? m : n))) {
			char rk[64];
			snprintf(rk, sizeof rk, "%lld capped at %lld", (long long)o->rank, (long long)(m < n ? m : n));
			notice(o, "%s: rank %s, the weight's smaller side (the difference exactly)", t->name, rk);
		}
		if ((rc = pick_svd(wt, m, n, tot, o, &U, &S, &V, &r))) {
			llm_err_prefix(rc, t->name);
			goto out;
		}
		if (lo.nt == capt) {
			capt = capt ? 2 * capt : 16;
			struct llm_lora_tensor *nt = realloc(lo.t, (size_t)capt * sizeof *nt);
			if (!nt) {
				free(U), free(S), free(V);
				rc = llm_err(LLM_ENOMEM, "out of memory");
				goto out;
			}
			lo.t = nt;
		}
		struct llm_lora_tensor *lt = &lo.t[lo.nt++];
		memset(lt, 0, sizeof *lt);
		lt->name = strdup(t->name);
		lt->src = strdup(t->name);
		lt->n_in = n, lt->n_out = m, lt->r = r, lt->scale = 1.0f, lt->alpha = 0;
		lt->a = malloc((size_t)(r * n) * sizeof *lt->a);
		lt->b = malloc((size_t)(m * r) * sizeof *lt->b);
		if (!lt->name || !lt->src || !lt->a || !lt->b) {
			free(U), free(S), free(V);
			rc = llm_err(LLM_ENOMEM, "out of memory");
			goto out;
		}
		double kept = 0;
		for (int64_t k = 0; k < r; k++) {
			float sq = sqrtf(S[k]);
			kept += (double)S[k] * S[k];
			for (int64_t c = 0; c < n; c++) /* A row k = sqrt(S_k) V[:, k] */
				lt->a[k * n + c] = sq * V[k * n + c];
			for (int64_t row = 0; row < m; row++) /* B[:, k] = U[:, k] sqrt(S_k) */
				lt->b[row * r + k] = U[k * m + row] * sq;
		}
		free(U), free(S), free(V);
		/* residual dW - B A, measured */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)r, -1.0f, lt->b, (int)r, lt->a,
			    (int)n, 1.0f, wt, (int)n);
		double res = 0;
		for (int64_t k = 0; k < ne; k++)
			res += (double)wt[k] * wt[k];
		rp->rank = r;
		rp->energy_kept = kept / tot;
		rp->rel_fro_error = sqrt(res / tot);
		rp->seconds = now() - t0;
	}
	if (o->progress)
		o->progress(o->ud, "", total, total);
	if (n_zero && o->notice) {
		char msg[128];
		snprintf(msg, sizeof msg, "%d weight(s) do not differ; skipped (rank 0 in the report)", n_zero);
		o->notice(o->ud, msg);
	}
	if (lo.nt == 0) {
		rc = llm_err(LLM_EINVAL, "%s and %s: no 2-D weight differs%s: nothing to write", bp, tp,
			     o->include || o->exclude ? " among those --include and --exclude keep" : "");
		goto out;
	}
	struct finish_call fc = { o, rep_out ? rep : NULL, rep_out ? nrep : 0 };
	rc = llm_lora_write(&lo, arch, out_path, o->write, o->extra, o->finish ? call_finish : NULL, &fc);
out:
	for (int64_t i = 0; i < lo.nt; i++) {
		free(lo.t[i].name);
		free(lo.t[i].src);
		free(lo.t[i].a);
		free(lo.t[i].b);
	}
	free(lo.t);
	free(wb);
	free(wt);
	free(pair);
	llm_regex_free(inc);
	llm_regex_free(exc);
	if (rep_out && rc == 0) {
		*rep_out = rep;
		*n_rep = nrep;
	} else {
		llm_svd_delta_report_free(rep, nrep);
	}
	return rc;
}
