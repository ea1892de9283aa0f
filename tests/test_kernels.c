/* test_kernels.c - every SIMD, threaded and BLAS path against its scalar
 * reference, and the references against double-precision sums.
 *
 * Tolerances (F32 accumulation in a different order; bounds in terms of the
 * condition of the sum, S = sum |w_i x_i| in double):
 *   dot products, SIMD vs scalar ref        |a - b| <= 1e-5 * S
 *   scalar ref vs double on decoded weights |a - b| <= 1e-5 * S
 *   mat-vec threaded, mat-mat (sgemm panels, row-wise) vs ref: 1e-5 * S
 *   rmsnorm/softmax/silu/rope vs double     1e-5 relative to max |value|
 *   axpy per ISA vs double                  1e-6 relative
 *   flash vs naive attention, naive vs double: 1e-5 * max |v|
 * The largest ratio seen is printed as a comment line ("# ...").
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "kernels.h"
#include "kq_enc.h"
#include "testutil.h"
#include "threadpool.h"
#include "types.h"

static uint64_t rs = 0x243f6a8885a308d3ull;
static float grand(void) { return test_grand(&rs); }

static const int types[] = { LLM_TYPE_F32,  LLM_TYPE_F16,  LLM_TYPE_BF16, LLM_TYPE_Q8_0,
			     LLM_TYPE_Q4_0, LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1,
			     LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K,
			     LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS };
#define NTYPES (int)(sizeof types / sizeof types[0])

/* d rows of n random values (some rows with an offset, so Q4_1/Q5_1 mins
 * matter) encoded to type t (K-quants by tests/kq_enc.h); dec gets the
 * decoded floats. */
static void *make_rows(int t, int64_t n, int64_t d, float *dec)
{
	const struct llm_type_traits *tt = llm_type_traits(t);
	size_t rb = llm_type_row_size(t, n);
	uint8_t *w = malloc(rb * (size_t)d);
	float *tmp = malloc((size_t)n * sizeof *tmp);
	for (int64_t r = 0; r < d; r++) {
		float off = (r % 3 == 0) ? 0.7f : 0.0f;
		for (int64_t i = 0; i < n; i++)
			tmp[i] = grand() + off;
		if (!kq_encode(t, tmp, w + r * rb, n))
			tt->from_float(tmp, w + r * rb, n);
		tt->to_float(w + r * rb, dec + r * n, n);
	}
	free(tmp);
	return w;
}

static double worst = 0; /* largest |a-b| / bound seen in a group */

static int close_to(double a, double b, double scale, double tol)
{
	double r = fabs(a - b) / (tol * scale + 1e-30);
	if (r > worst)
		worst = r;
	return fabs(a - b) <= tol * scale;
}

static void test_dots(void)
{
	static const int64_t fsizes[] = { 1, 7, 15, 17, 31, 33, 100, 257, 1000, 4099 };
	static const int64_t qsizes[] = { 32, 64, 96, 160, 1024, 4128 };
	static const int64_t ksizes[] = { 256, 512, 768, 2816, 5632 };
	char name[128];
	for (int ti = 0; ti < NTYPES; ti++) {
		int t = types[ti];
		int isfloat = llm_type_traits(t)->blck == 1;
		int kq = llm_type_traits(t)->blck == 256;
		const int64_t *sz = isfloat ? fsizes : kq ? ksizes : qsizes;
		int nsz = isfloat ? (int)(sizeof fsizes / sizeof *fsizes)
			: kq	  ? (int)(sizeof ksizes / sizeof *ksizes)
				  : (int)(sizeof qsizes / sizeof *qsizes);
		for (int isa = 0; isa <= llm_isa_best(); isa++) {
			llm_dot_fn ref = llm_dot_get(t, LLM_ISA_SCALAR), fn = llm_dot_get(t, isa);
			int bad = 0;
			worst = 0;
			for (int si = 0; si < nsz; si++) {
				int64_t n = sz[si];
				float *dec = malloc((size_t)n * 4), *x = malloc((size_t)n * 4);
				void *w = make_rows(t, n, 1, dec);
				double exact = 0, S = 0;
				for (int64_t i = 0; i < n; i++) {
					x[i] = grand();
					exact += (double)dec[i] * x[i];
					S += fabs((double)dec[i] * x[i]);
				}
				float a = fn(w, x, n), b = ref(w, x, n);
				if (!close_to(a, b, S, 1e-5) || !close_to(b, exact, S, 1e-5)) {
					if (!bad)
						printf("# %s/%s n=%lld: %g vs ref %g vs double %g\n", llm_type_name(t),
						       llm_isa_name(isa), (long long)n, a, b, exact);
					bad++;
				}
				free(dec), free(x), free(w);
			}
			snprintf(name, sizeof name, "dot_%s_%s", llm_type_name(t), llm_isa_name(isa));
			CHECK(!bad, name, "%d sizes out of tolerance", bad);
			printf("# %s: max |diff| / (1e-5 sum|wx|) = %.3g\n", name, worst);
		}
		for (int isa = llm_isa_best() + 1; isa < LLM_ISA_COUNT; isa++) {
			snprintf(name, sizeof name, "dot_%s_%s", llm_type_name(t), llm_isa_name(isa));
			SKIP(name, "this CPU (or LLM_ISA) lacks the instruction set");
		}
	}
}

/* mat-vec over a 3-thread pool and the two mat-mat paths vs the reference */
static void test_matvec_matmul(llm_threadpool *tp)
{
	char name[128];
	for (int ti = 0; ti < NTYPES; ti++) {
		int t = types[ti];
		int blck = llm_type_traits(t)->blck;
		int64_t n = blck == 1 ? 263 : blck == 32 ? 288 : 512, d = 131, m = 6;
		float *dec = malloc((size_t)(n * d) * 4), *x = malloc((size_t)(n * m) * 4);
		float *y = malloc((size_t)(d * m) * 4), *yr = malloc((size_t)(d * m) * 4);
		double *S = malloc((size_t)(d * m) * sizeof *S);
		void *w = make_rows(t, n, d, dec);
		for (int64_t i = 0; i < n * m; i++)
			x[i] = grand();
		for (int64_t k = 0; k < m; k++) {
			llm_matvec_ref(yr + k * d, w, t, x + k * n, n, d);
			for (int64_t r = 0; r < d; r++) {
				S[k * d + r] = 0;
				for (int64_t i = 0; i < n; i++)
					S[k * d + r] += fabs((double)dec[r * n + i] * x[k * n + i]);
			}
		}
		int bad = 0;
		worst = 0;
		llm_matvec(y, w, t, x, n, d, tp);
		for (int64_t r = 0; r < d; r++)
			bad += !close_to(y[r], yr[r], S[r], 1e-5);
		snprintf(name, sizeof name, "matvec_threads_%s", llm_type_name(t));
		CHECK(!bad, name, "%d of %lld rows differ", bad, (long long)d);
		for (int mode = 0; mode < 2; mode++) {
			bad = 0;
			memset(y, 0, (size_t)(d * m) * 4);
			int rc = mode ? llm_matmul_rowwise(y, w, t, x, n, d, m, tp) : llm_matmul(y, w, t, x, n, d, m, tp);
			for (int64_t i = 0; i < d * m; i++)
				bad += !close_to(y[i], yr[i], S[i], 1e-5);
			snprintf(name, sizeof name, "%s_%s", mode ? "matmul_rowwise" : "matmul_sgemm", llm_type_name(t));
			CHECK(!rc && !bad, name, "rc %d, %d of %lld values differ", rc, bad, (long long)(d * m));
		}
		printf("# matvec/matmul %s: max |diff| / (1e-5 sum|wx|) = %.3g\n", llm_type_name(t), worst);
		free(dec), free(x), free(y), free(yr), free(S), free(w);
	}
}

static void test_small_ops(void)
{
	enum { N = 203 };
	float x[N], w[N], o[N], b[N];
	double mx;
	int bad;
	for (int i = 0; i < N; i++)
		x[i] = grand() * 3, w[i] = grand(), b[i] = grand();
	/* rmsnorm */
	double ss = 0;
	for (int i = 0; i < N; i++)
		ss += (double)x[i] * x[i];
	double sc = 1 / sqrt(ss / N + 1e-5);
	llm_rmsnorm(o, x, w, N, 1e-5f);
	bad = 0, mx = 0;
	for (int i = 0; i < N; i++)
		mx = fmax(mx, fabs(x[i] * sc * w[i]));
	for (int i = 0; i < N; i++)
		bad += fabs(o[i] - x[i] * sc * w[i]) > 1e-5 * mx;
	CHECK(!bad, "rmsnorm", "%d values off", bad);
	/* softmax */
	memcpy(o, x, sizeof o);
	llm_softmax(o, N);
	double m0 = x[0], z = 0;
	for (int i = 1; i < N; i++)
		m0 = fmax(m0, x[i]);
	for (int i = 0; i < N; i++)
		z += exp(x[i] - m0);
	bad = 0;
	for (int i = 0; i < N; i++)
		bad += fabs(o[i] - exp(x[i] - m0) / z) > 1e-6;
	CHECK(!bad, "softmax", "%d values off", bad);
	/* silu: in place and out of place, with arguments out to where exp
	 * overflows and underflows; within 1e-6 relative (a few ulp), or 1e-35
	 * where float itself rounds to 0 (a = -89: exp(89) overflows) */
	float a[N];
	memcpy(a, x, sizeof a);
	for (int i = 0; i < 16; i++)
		a[i * 7 % N] = (float[]){ -120, -104, -89, -88.5f, -87, -30, -1e-3f, -1e-30f, 0,
					  1e-30f, 1e-3f, 17, 88, 89, 104, 120 }[i];
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			memcpy(o, a, sizeof o), llm_silu_mul(o, o, b, N);
		else
			llm_silu_mul(o, a, b, N);
		bad = 0;
		for (int i = 0; i < N; i++) {
			double e = a[i] / (1 + exp(-(double)a[i])) * b[i];
			bad += !(fabs(o[i] - e) <= 1e-6 * fabs(e) + 1e-35);
		}
		CHECK(!bad, pass ? "silu_mul in place" : "silu_mul", "%d values off", bad);
	}
	/* rope: 3 heads of 10, first 6 dims rotated, pairs adjacent, with factors */
	float h[30], cs[6], fac[3] = { 1, 2.5f, 8 };
	double inv[3];
	for (int i = 0; i < 30; i++)
		h[i] = x[i];
	llm_rope_freqs(inv, 6, 500000.0, fac, 0.5);
	llm_rope_cossin(cs, 6, 1234, inv);
	llm_rope(h, 3, 10, 6, cs);
	bad = 0;
	for (int hd = 0; hd < 3; hd++)
		for (int i = 0; i < 5; i++) {
			double a = x[hd * 10 + 2 * i], c = x[hd * 10 + 2 * i + 1], e0 = a, e1 = c;
			if (i < 3) {
				double th = 1234 * pow(500000.0, -2.0 * i / 6) * 0.5 / fac[i];
				e0 = a * cos(th) - c * sin(th);
				e1 = a * sin(th) + c * cos(th);
			}
			bad += fabs(h[hd * 10 + 2 * i] - e0) > 1e-5 * 8 || fabs(h[hd * 10 + 2 * i + 1] - e1) > 1e-5 * 8;
		}
	CHECK(!bad, "rope_pairs_partial_factors", "%d pairs off", bad);
}

static void test_axpy(void)
{
	char name[64];
	for (int isa = 0; isa <= llm_isa_best(); isa++) {
		llm_axpy_fn fn = llm_axpy_get(isa);
		int bad = 0;
		for (int64_t n = 1; n < 100; n += 7) {
			float y[100], x[100], y0[100];
			for (int64_t i = 0; i < n; i++)
				y[i] = y0[i] = grand(), x[i] = grand();
			fn(y, 0.37f, x, n);
			for (int64_t i = 0; i < n; i++) {
				double e = y0[i] + 0.37 * (double)x[i];
				bad += fabs(y[i] - e) > 1e-6 * (1 + fabs(e));
			}
		}
		snprintf(name, sizeof name, "axpy_%s", llm_isa_name(isa));
		CHECK(!bad, name, "%d values off", bad);
	}
}

/* Attention: naive against a double-precision loop, flash against naive. */
/* flash attention's step for every instruction set this CPU has: two
 * steps (so the second rescales the first's output to a new max) against
 * the softmax-weighted sum in double; head sizes on and off the vector
 * path (multiples of 16 up to 256) */
static void test_attn_step(void)
{
	/* head_dim 64 with 2-4 heads takes the batched output path (and 5, 8:
	 * 4 then the rest) */
	static const int hds[] = { 8, 64, 80, 128, 272 }, nts[][2] = { { 1, 1 }, { 17, 5 }, { 64, 64 }, { 40, 23 }, { 16, 48 } };
	static const int nhs[] = { 1, 3, 4, 5, 8 };
	enum { STRIDE_PAD = 24 };
	for (int isa = 0; isa < LLM_ISA_COUNT; isa++) {
		llm_attn_step_fn step = llm_attn_step_get(isa);
		if (!step)
			continue;
		double worst = 0;
		int bad = 0;
		for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++)
			for (size_t ni = 0; ni < sizeof nts / sizeof *nts; ni++)
				for (size_t ci = 0; ci < sizeof nhs / sizeof *nhs; ci++) {
					int hd = hds[hi], n1 = nts[ni][0], n2 = nts[ni][1], nk = n1 + n2, nh = nhs[ci];
					size_t stride = (size_t)hd + STRIDE_PAD;
					float *K = malloc(nk * stride * 4), *V = malloc(nk * stride * 4);
					float *q = malloc((size_t)nh * hd * 4), *o = calloc((size_t)nh * hd, 4);
					float *sc = malloc(4 * (size_t)nk * 4), *m = malloc(nh * 4), *l = malloc(nh * 4);
					double *e = malloc(nk * sizeof *e), vmax = 0;
					for (int i = 0; i < nh * hd; i++)
						q[i] = grand();
					for (size_t i = 0; i < nk * stride; i++)
						K[i] = grand() * 2 + (i < stride * n1 ? 0 : 1), V[i] = grand();
					for (size_t i = 0; i < nk * stride; i++)
						vmax = fmax(vmax, fabs(V[i]));
					for (int h = 0; h < nh; h++)
						m[h] = -INFINITY, l[h] = 0;
					step(o, m, l, q, K, V, stride, n1, hd, 0.125f, sc, nh);
					step(o, m, l, q, K + n1 * stride, V + n1 * stride, stride, n2, hd, 0.125f, sc, nh);
					for (int h = 0; h < nh; h++) {
						double mx = -INFINITY, z = 0;
						for (int t = 0; t < nk; t++) {
							double d = 0;
							for (int i = 0; i < hd; i++)
								d += (double)q[h * hd + i] * K[t * stride + i];
							e[t] = d * 0.125;
							mx = fmax(mx, e[t]);
						}
						for (int t = 0; t < nk; t++)
							z += (e[t] = exp(e[t] - mx));
						for (int i = 0; i < hd; i++) {
							double r = 0;
							for (int t = 0; t < nk; t++)
								r += e[t] / z * V[t * stride + i];
							double err = fabs(o[h * hd + i] / l[h] - r) / (1e-5 * vmax);
							worst = fmax(worst, err);
							bad += !(err <= 1);
						}
						bad += !(fabs(m[h] - mx) <= 1e-5 * fabs(mx) + 1e-6);
					}
					free(K), free(V), free(q), free(o), free(sc), free(e), free(m), free(l);
				}
		char name[64];
		snprintf(name, sizeof name, "attn_step_%s", llm_isa_name(isa));
		CHECK(!bad, name, "%d values off (worst %.3g x 1e-5 max|v|)", bad, worst);
		printf("# attention step %s: worst %.3g x 1e-5 max|v|\n", llm_isa_name(isa), worst);
	}
}

static void test_attention(llm_threadpool *tp)
{
	static const int shapes[][3] = { { 4, 4, 16 }, { 8, 2, 32 }, { 4, 1, 64 }, { 6, 3, 8 } };
	/* one query against 256 keys and more: split by keys, segments of 128
	 * below 1024 keys (256: two; 601: the last one short), of 256 from
	 * there (1100: the last short; 17000: 54 of 320, longer than 256) */
	static const int lens[][2] = { { 1, 0 }, { 1, 9 }, { 1, 200 }, { 7, 0 }, { 70, 5 }, { 3, 130 },
				       { 40, 300 }, { 1, 255 }, { 1, 300 }, { 1, 511 }, { 1, 600 },
				       { 1, 1100 }, { 1, 17000 } };
	const char *sn[] = { "mha", "gqa4", "mqa", "gqa2" };
	char name[128];
	for (int s = 0; s < 4; s++) {
		int nh = shapes[s][0], nkv = shapes[s][1], hd = shapes[s][2];
		int bad_n = 0, bad_f = 0, bad_ft = 0;
		double w_naive = 0, w_flash = 0;
		for (int li = 0; li < (int)(sizeof lens / sizeof *lens); li++) {
			int nq = lens[li][0], pos0 = lens[li][1], nk = pos0 + nq;
			size_t qn = (size_t)nq * nh * hd, kn = (size_t)nk * nkv * hd;
			float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(kn * 4);
			float *on = malloc(qn * 4), *of = malloc(qn * 4), *ot = malloc(qn * 4);
			double vmax = 0;
			for (size_t i = 0; i < qn; i++)
				q[i] = grand() * 2;
			for (size_t i = 0; i < kn; i++) {
				k[i] = grand() * 2, v[i] = grand();
				vmax = fmax(vmax, fabs(v[i]));
			}
			struct llm_attn a = { nq, pos0, nh, nkv, hd, 1.0f / sqrtf((float)hd), q, k, v, on };
			int rc = llm_attn_naive(&a, NULL, NULL);
			a.out = of;
			rc |= llm_attn_flash(&a, NULL, NULL);
			a.out = ot;
			void *scr = malloc(llm_attn_flash_scratch(&a, llm_threadpool_size(tp)));
			rc |= llm_attn_flash(&a, tp, scr);
			free(scr);
			if (rc)
				bad_n++;
			/* double reference; F32 sums over many keys drift like a
			 * random walk: the bound grows with sqrt(keys) past 2000 */
			double tol = 1e-5 * vmax * fmax(1, sqrt(nk / 2000.0));
			double *sc = malloc((size_t)nk * sizeof *sc);
			for (int i = 0; i < nq; i++)
				for (int h = 0; h < nh; h++) {
					int g = h / (nh / nkv), last = pos0 + i;
					double mx = -INFINITY, z = 0;
					for (int t = 0; t <= last; t++) {
						double d = 0;
						for (int e = 0; e < hd; e++)
							d += (double)q[((size_t)i * nh + h) * hd + e] * k[((size_t)t * nkv + g) * hd + e];
						sc[t] = d / sqrt(hd);
						mx = fmax(mx, sc[t]);
					}
					for (int t = 0; t <= last; t++)
						z += (sc[t] = exp(sc[t] - mx));
					for (int e = 0; e < hd; e++) {
						double o = 0;
						for (int t = 0; t <= last; t++)
							o += sc[t] / z * v[((size_t)t * nkv + g) * hd + e];
						size_t ix = ((size_t)i * nh + h) * hd + e;
						w_naive = fmax(w_naive, fabs(on[ix] - o) / tol);
						w_flash = fmax(w_flash, fabs(of[ix] - on[ix]) / tol);
						bad_n += fabs(on[ix] - o) > tol;
						bad_f += fabs(of[ix] - on[ix]) > tol;
						bad_ft += fabs(ot[ix] - on[ix]) > tol;
					}
				}
			free(sc), free(q), free(k), free(v), free(on), free(of), free(ot);
		}
		snprintf(name, sizeof name, "attn_naive_vs_double_%s", sn[s]);
		CHECK(!bad_n, name, "%d values off", bad_n);
		snprintf(name, sizeof name, "attn_flash_vs_naive_%s", sn[s]);
		CHECK(!bad_f, name, "%d values off", bad_f);
		snprintf(name, sizeof name, "attn_flash_threads_vs_naive_%s", sn[s]);
		CHECK(!bad_ft, name, "%d values off", bad_ft);
		printf("# attention %s: naive vs double %.3g, flash vs naive %.3g (of the bound)\n", sn[s],
		       w_naive, w_flash);
	}
	/* flash scratch does not grow with the sequence */
	struct llm_attn a1 = { 1, 10, 8, 2, 64, 1, NULL, NULL, NULL, NULL }, a2 = a1;
	a2.pos0 = 100000;
	CHECK(llm_attn_flash_scratch(&a1, 2) == llm_attn_flash_scratch(&a2, 2) &&
	      llm_attn_naive_scratch(&a2, 2) > llm_attn_naive_scratch(&a1, 2),
	      "attn_scratch_bounded", "flash %zu/%zu", llm_attn_flash_scratch(&a1, 2), llm_attn_flash_scratch(&a2, 2));
}

struct visit {
	int *count;
	int64_t align;
	int bad_align;
	int64_t grain, n; /* with grain set: chunks shorter than it, the last aside, are bad */
};
static void visit_fn(void *arg, int64_t b, int64_t e, int tid)
{
	struct visit *v = arg;
	(void)tid;
	if (b % v->align || (v->grain && e - b < v->grain && e != v->n))
		__atomic_fetch_add(&v->bad_align, 1, __ATOMIC_RELAXED);
	for (int64_t i = b; i < e; i++)
		__atomic_fetch_add(&v->count[i], 1, __ATOMIC_RELAXED);
}

/* Output jobs with redo: workers stop for 3 ms in every 4th chunk they
 * take (as a hypervisor stops a vCPU), the caller overwrites the inputs
 * between jobs; every job must still give exact results, and a late
 * worker must never write into a job that has returned. */
enum { RN = 999, RPER = 2 };
static float r_in[RN];
static pthread_t r_main;
static atomic_int r_count;
struct rjob {
	int k;
	float scale;
	int64_t y_len;
};
/* a few hundred ns of work per value, so that the workers get chunks */
static float r_value(int k, float scale, float in, int64_t i, int e)
{
	volatile float v = (float)k * scale + in * (float)(e + 1) + (float)i * 0.5f;
	for (int r = 0; r < 100; r++)
		v = v * 1.0f;
	return v;
}
static void r_fn(const void *arg, int64_t b, int64_t e, float *out)
{
	const struct rjob *j = arg;
	for (int64_t i = b; i < e; i++) {
		if (i == (b + e) / 2 && !pthread_equal(pthread_self(), r_main) &&
		    atomic_fetch_add(&r_count, 1) % 4 == 0)
			nanosleep(&(struct timespec){ 0, 3000000 }, NULL);
		for (int c = 0; c < RPER && i * RPER + c < j->y_len; c++)
			out[(i - b) * RPER + c] = r_value(j->k, j->scale, r_in[i], i, c);
	}
}

/* an argument larger than the pool copies, the job at its end */
struct rbig {
	char pad[LLM_POOL_ARG_MAX];
	struct rjob j;
};
static void r_fn_big(const void *arg, int64_t b, int64_t e, float *out)
{
	r_fn(&((const struct rbig *)arg)->j, b, e, out);
}

static int r_check(const float *y, int k, int64_t len)
{
	int bad = 0;
	for (int64_t x = 0; x < len; x++)
		bad += y[x] != r_value(k, 0.25f, (float)((x / RPER * 7 + k) % 13), x / RPER, (int)(x % RPER));
	for (int64_t x = len; x < RN * RPER; x++)
		bad += y[x] != -1.0f; /* past y_len: never written */
	return bad;
}

static void test_pool_redo(void)
{
	enum { JOBS = 300, RING = 4 };
	const int64_t len = RN * RPER - 1; /* the last item's second value is cut */
	static float ys[RING][RN * RPER];
	for (int redo = 0; redo < 2; redo++) {
		llm_threadpool *tp;
		if (llm_threadpool_new(&tp, 3)) {
			printf("not ok threadpool_new\n");
			return;
		}
		llm_threadpool_allow_redo(tp, redo);
		r_main = pthread_self();
		int bad = 0;
		for (int k = 0; k < JOBS; k++) {
			float *y = ys[k % RING];
			for (int i = 0; i < RN; i++)
				r_in[i] = (float)((i * 7 + k) % 13); /* what job k reads */
			for (int64_t x = 0; x < RN * RPER; x++)
				y[x] = -1.0f;
			struct rjob j = { k, 0.25f, len };
			llm_threadpool_run_out(tp, RN, 16, 4, r_fn, &j, sizeof j, y, RPER, len);
			bad += r_check(y, k, len);
		}
		/* an argument larger than the pool copies: done in the caller */
		struct rbig big = { { 0 }, { JOBS, 0.25f, len } };
		for (int i = 0; i < RN; i++)
			r_in[i] = (float)((i * 7 + JOBS) % 13);
		for (int64_t x = 0; x < RN * RPER; x++)
			ys[JOBS % RING][x] = -1.0f;
		llm_threadpool_run_out(tp, RN, 16, 4, r_fn_big, &big, sizeof big, ys[JOBS % RING], RPER, len);
		bad += r_check(ys[JOBS % RING], JOBS, len);
		/* let any late worker finish its chunk, then look again */
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		for (int k = JOBS - RING + 1; k <= JOBS; k++)
			bad += r_check(ys[k % RING], k, len);
		long long redone = llm_threadpool_redone(tp);
		llm_threadpool_free(tp);
		CHECK(!bad && (redo ? redone > 0 : redone == 0), redo ? "threadpool_redo_exact" : "threadpool_no_redo_exact",
		      "%d values wrong, %lld chunks taken over", bad, redone);
		printf("# %s: %lld chunks taken over in %d jobs\n", redo ? "redo" : "no redo", redone, JOBS);
	}
}

static void test_pool(llm_threadpool *tp)
{
	int bad = 0;
	for (int64_t n = 1; n < 300; n += 37)
		for (int64_t al = 1; al <= 16; al *= 4)
			for (int rep = 0; rep < 50; rep++) {
				int *c = calloc((size_t)n, sizeof *c);
				struct visit v = { c, al, 0, 0, 0 };
				llm_threadpool_run(tp, n, 1 + rep % 5, al, visit_fn, &v);
				for (int64_t i = 0; i < n; i++)
					bad += c[i] != 1;
				bad += v.bad_align;
				free(c);
			}
	CHECK(!bad, "threadpool_each_index_once", "%d errors", bad);
	/* long ranges: the chunks shrink as the range is used up (guided), to
	 * grain at least and never more of them than the claim word counts */
	bad = 0;
	for (int64_t n = 1000; n <= 3000000; n *= 7)
		for (int64_t g = 1; g <= 1000; g *= 10) {
			int *c = calloc((size_t)n, sizeof *c);
			struct visit v = { c, g == 10 ? 64 : 1, 0, g, n };
			llm_threadpool_run(tp, n, g, v.align, visit_fn, &v);
			for (int64_t i = 0; i < n; i++)
				bad += c[i] != 1;
			bad += v.bad_align;
			free(c);
		}
	CHECK(!bad, "threadpool_guided_chunks", "%d errors", bad);

	/* Back-to-back jobs whose chunk counts change from one to the next
	 * (1, 2, 3... chunks): a worker still leaving job k must never take a
	 * chunk of job k+1 with job k's function or argument, nor job k's
	 * chunk with job k+1's.  Each job has its own argument and counts. */
	enum { JOBS = 20000, NMAX = 8 };
	static int cnt[2][NMAX];
	int wrong = 0;
	for (int k = 0; k < JOBS; k++) {
		int *c = cnt[k & 1];
		int64_t n = 1 + k % NMAX;
		struct visit v = { c, 1, 0, 0, 0 };
		memset(c, 0, sizeof cnt[0]);
		llm_threadpool_run(tp, n, 1, 1, visit_fn, &v);
		for (int64_t i = 0; i < NMAX; i++)
			wrong += c[i] != (i < n);
	}
	CHECK(!wrong, "threadpool_back_to_back_jobs", "%d wrong counts over %d jobs", wrong, JOBS);
	CHECK(llm_threadpool_size(tp) == 3 && llm_threadpool_size(NULL) == 1, "threadpool_size", "%d",
	      llm_threadpool_size(tp));
}

/* Chunks as llm_threadpool_chunk_begin predicts them, and the idle hint:
 * once per thread that took part, for the next job only. */
struct begins {
	int64_t b[512];
	atomic_int n;
};
static void begins_fn(void *arg, int64_t b, int64_t e, int tid)
{
	struct begins *v = arg;
	(void)e, (void)tid;
	int i = atomic_fetch_add(&v->n, 1);
	if (i < 512)
		v->b[i] = b;
}
static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}
static atomic_int idle_calls[3], idle_dropped[3];
static void idle_fn(const void *arg, const llm_threadpool *tp, int tid)
{
	(void)tp;
	if (tid >= 0 && tid < 3)
		atomic_fetch_add(&((atomic_int *)arg)[tid], 1);
}
static void test_pool_then(llm_threadpool *tp)
{
	int bad = 0;
	for (int64_t n = 1; n < 5000; n = n * 3 + 1)
		for (int64_t g = 1; g <= 64; g *= 4)
			for (int64_t al = 1; al <= 8; al *= 8) {
				struct begins v;
				atomic_init(&v.n, 0);
				llm_threadpool_run(tp, n, g, al, begins_fn, &v);
				int nc = atomic_load(&v.n);
				qsort(v.b, (size_t)nc, sizeof *v.b, cmp_i64);
				for (int c = 0; c < nc; c++)
					bad += llm_threadpool_chunk_begin(tp, n, g, al, c) != v.b[c];
				bad += llm_threadpool_chunk_begin(tp, n, g, al, nc) != n;
			}
	CHECK(!bad, "threadpool_chunk_begin", "%d chunk starts predicted wrong", bad);

	/* The caller calls the hint once per job, before it returns; a worker
	 * may call late (after the job has returned), never twice. */
	enum { JOBS = 200 };
	int *c = calloc(4096, sizeof *c);
	int calls0 = 0, more = 0;
	struct visit v = { c, 1, 0, 0, 0 };
	for (int k = 0; k < JOBS; k++) {
		int before = atomic_load(&idle_calls[0]);
		llm_threadpool_then(tp, idle_fn, idle_calls);
		llm_threadpool_run(tp, 4096, 8, 1, visit_fn, &v);
		calls0 += atomic_load(&idle_calls[0]) - before;
	}
	/* the next job has no hint (the caller's count stays), and a hint
	 * given to a job that runs in the caller alone is dropped */
	int before = atomic_load(&idle_calls[0]);
	llm_threadpool_run(tp, 4096, 8, 1, visit_fn, &v);
	int stray = atomic_load(&idle_calls[0]) - before;
	llm_threadpool_then(tp, idle_fn, idle_dropped);
	llm_threadpool_run(tp, 4, 8, 1, visit_fn, &v);
	llm_threadpool_run(tp, 4096, 8, 1, visit_fn, &v);
	nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	for (int t = 0; t < 3; t++)
		stray += atomic_load(&idle_dropped[t]);
	for (int t = 1; t < 3; t++)
		more += atomic_load(&idle_calls[t]) > JOBS;
	free(c);
	CHECK(calls0 == JOBS && !more && !stray, "threadpool_idle_hint",
	      "caller called %d times in %d jobs, %d workers more often than that, %d calls without a hint",
	      calls0, JOBS, more, stray);
}

int main(void)
{
	llm_threadpool *tp;
	if (llm_threadpool_new(&tp, 3)) {
		printf("not ok threadpool_new\n");
		return 1;
	}
	printf("# best instruction set: %s\n", llm_isa_name(llm_isa_best()));
	test_pool(tp);
	test_pool_then(tp);
	test_dots();
	test_matvec_matmul(tp);
	test_small_ops();
	test_axpy();
	test_pool_redo();
	test_attn_step();
	test_attention(tp);
	llm_threadpool_free(tp);
	return test_done();
}
