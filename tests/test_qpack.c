/* test_qpack.c - the packed VNNI mat-mul (qpack.h) against a double sum
 * over the decoded weights and the unrounded activations.
 *
 * Bound per output: the activations are rounded to 24-bit fixed point per
 * block of 32 (error <= 1 unit of amax_b / 8323072 plus the F32 rounding of
 * x * scale, amax_b the block's largest |x|; blocks below 1e-30 count as
 * zero), products are exact integers and the sums over blocks F32:
 *   |y - sum w x| <= sum_i |w_i| e(i) + 1e-6 * sum |w_i x_i|,
 *   e(i) = amax_b * 2.5e-7   (amax_b when the block counts as zero)
 * Also: rows beyond d are never written, a token with NaN or inf gets NaN
 * outputs and leaves the other tokens alone, 1 and 3 threads agree bit for
 * bit.  The largest error/bound ratio is printed ("# ...").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kq_enc.h"
#include "qpack.h"
#include "testutil.h"
#include "threadpool.h"
#include "types.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static double urand(void) { return test_urand(&rs); }
static float grand(void) { return test_grand(&rs); }

static double worst;

/* y[m][d] from the pack vs double sums; returns the number of bad outputs */
static int compare(const float *y, const float *wf, const float *x, int64_t n, int64_t d,
		   int64_t m, const char *what)
{
	int bad = 0;
	for (int64_t t = 0; t < m; t++) {
		const float *xt = x + t * n;
		for (int64_t r = 0; r < d; r++) {
			const float *w = wf + r * n;
			double s = 0, cond = 0, err = 0;
			for (int64_t b = 0; b < n; b += 32) {
				double amax = 0;
				for (int i = 0; i < 32; i++)
					amax = fmax(amax, fabs(xt[b + i]));
				double e = amax < 1e-30 ? amax : amax * 2.5e-7;
				for (int i = 0; i < 32; i++) {
					s += (double)w[b + i] * xt[b + i];
					cond += fabs((double)w[b + i] * xt[b + i]);
					err += fabs(w[b + i]) * e;
				}
			}
			double bound = err + 1e-6 * cond + 1e-35;
			double diff = fabs(y[t * d + r] - s);
			if (!(diff <= bound)) {
				if (bad++ < 3)
					printf("# %s: token %lld row %lld: %.9g vs %.9g, bound %.3g\n", what,
					       (long long)t, (long long)r, y[t * d + r], s, bound);
			} else if (diff / bound > worst)
				worst = diff / bound;
		}
	}
	return bad;
}

static void one(int type, int64_t n, int64_t d, int64_t m, llm_threadpool *tp1, llm_threadpool *tp3)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	size_t rb = llm_type_row_size(type, n);
	float *wf = malloc((size_t)(n * d) * sizeof *wf), *x = malloc((size_t)(n * m) * sizeof *x);
	uint8_t *w = malloc(rb * (size_t)d);
	/* y has room for one extra token: its values are guards */
	float *y1 = malloc((size_t)(d * (m + 1)) * sizeof *y1), *y3 = malloc((size_t)(d * (m + 1)) * sizeof *y3);
	void *xq = aligned_alloc(64, llm_qpack_x_size(n, m));
	char name[96];
	for (int64_t r = 0; r < d; r++) {
		float scale = r % 7 == 3 ? 0.0f : (float)(0.01 + 3 * urand()); /* some all-zero rows */
		for (int64_t i = 0; i < n; i++)
			wf[r * n + i] = scale * grand();
		if (!kq_encode(type, wf + r * n, w + (size_t)r * rb, n))
			tt->from_float(wf + r * n, w + (size_t)r * rb, n);
		tt->to_float(w + (size_t)r * rb, wf + r * n, n); /* compare against the decoded weights */
	}
	for (int64_t i = 0; i < n * m; i++)
		x[i] = grand() * (urand() < 0.02 ? 60.0f : 1.0f); /* outliers */
	if (n >= 64) {
		memset(x + 32, 0, 32 * sizeof *x);      /* a zero block */
		for (int i = 0; i < 32; i++)            /* a block that counts as zero */
			x[(m - 1) * n + i] = 1e-33f * grand();
	}
	for (int64_t i = 0; i < d * (m + 1); i++)
		y1[i] = y3[i] = 12345.0f;

	llm_qpack *p = NULL;
	int rc = llm_qpack_new(&p, w, type, n, d, tp3);
	snprintf(name, sizeof name, "qpack %s n=%lld d=%lld m=%lld", llm_type_name(type),
		 (long long)n, (long long)d, (long long)m);
	if (rc) {
		CHECK(0, name, "llm_qpack_new failed: %d", rc);
		goto out;
	}
	llm_qpack_quant_x(xq, x, n, m);
	llm_qpack_matmul(y1, p, xq, m, tp1);
	llm_qpack_matmul(y3, p, xq, m, tp3);
	int bad = compare(y1, wf, x, n, d, m, name);
	CHECK(!bad, name, "%d outputs outside the bound", bad);
	int guard = 1;
	for (int64_t i = d * m; i < d * (m + 1); i++)
		guard &= y1[i] == 12345.0f && y3[i] == 12345.0f;
	snprintf(name, sizeof name, "qpack %s n=%lld d=%lld m=%lld: nothing written past d rows",
		 llm_type_name(type), (long long)n, (long long)d, (long long)m);
	CHECK(guard, name, "guard overwritten");
	snprintf(name, sizeof name, "qpack %s n=%lld d=%lld m=%lld: 1 and 3 threads identical",
		 llm_type_name(type), (long long)n, (long long)d, (long long)m);
	CHECK(!memcmp(y1, y3, (size_t)(d * m) * sizeof *y1), name, "results differ");

	if (m >= 2) { /* NaN in token 0, inf in token 1 */
		x[n / 2] = NAN;
		x[n + 3] = INFINITY;
		llm_qpack_quant_x(xq, x, n, m);
		llm_qpack_matmul(y1, p, xq, m, tp3);
		int nan_ok = 1;
		for (int64_t r = 0; r < 2 * d; r++)
			nan_ok &= isnan(y1[r]);
		snprintf(name, sizeof name, "qpack %s n=%lld: non-finite tokens give NaN, others exact",
			 llm_type_name(type), (long long)n);
		CHECK(nan_ok && !compare(y1 + 2 * d, wf, x + 2 * n, n, d, m - 2, name), name,
		      "NaN rows %s", nan_ok ? "ok, other tokens off" : "not NaN");
	}
out:
	llm_qpack_free(p);
	free(wf), free(x), free(w), free(y1), free(y3), free(xq);
}

int main(void)
{
	if (!llm_qpack_available(LLM_TYPE_Q8_0)) {
		SKIP("qpack", "this CPU (or LLM_ISA) lacks AVX-512 VNNI: the float kernels are used");
		return 0;
	}
	CHECK(!llm_qpack_available(LLM_TYPE_F16) && !llm_qpack_available(LLM_TYPE_BF16) &&
		      !llm_qpack_available(LLM_TYPE_F32) && llm_qpack_available(LLM_TYPE_Q2_K) &&
		      llm_qpack_available(LLM_TYPE_Q3_K) &&
		      !llm_qpack_available(LLM_TYPE_Q8_K) && llm_qpack_available(LLM_TYPE_Q4_K) &&
		      llm_qpack_available(LLM_TYPE_Q5_K) && llm_qpack_available(LLM_TYPE_Q6_K) &&
		      llm_qpack_available(LLM_TYPE_IQ4_NL) && llm_qpack_available(LLM_TYPE_IQ4_XS) &&
		      llm_qpack_available(LLM_TYPE_Q4_1) && llm_qpack_available(LLM_TYPE_Q5_0) &&
		      llm_qpack_available(LLM_TYPE_Q5_1),
	      "qpack: every quantized type the library decodes",
	      "another set of types claims to be packable");
	llm_threadpool *tp1 = NULL, *tp3 = NULL;
	if (llm_threadpool_new(&tp1, 1) || llm_threadpool_new(&tp3, 3))
		return 1;
	static const int64_t shapes[][3] = {
		{ 32, 1, 1 }, { 64, 17, 3 }, { 96, 16, 4 }, { 256, 33, 5 },
		{ 512, 100, 9 }, { 2048, 48, 1 }, { 1024, 40, 2 },
		/* one token: whole panels of 64 rows, a last one part padding */
		{ 64, 64, 1 }, { 128, 65, 1 }, { 256, 200, 1 }, { 1024, 320, 1 },
	};
	const int types[] = { LLM_TYPE_Q4_0, LLM_TYPE_Q8_0, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K, LLM_TYPE_Q6_K,
			      LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS, LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1,
			      LLM_TYPE_Q3_K, LLM_TYPE_Q2_K };
	enum { NT = sizeof types / sizeof *types };
	for (size_t k = 0; k < NT; k++)
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
			if (shapes[s][0] % llm_type_traits(types[k])->blck == 0)
				one(types[k], shapes[s][0], shapes[s][1], shapes[s][2], tp1, tp3);
	printf("# qpack: largest error / bound %.3f\n", worst);

	/* stacked parts (17 and 40 rows: groups straddle them) give each part's
	 * own outputs bit for bit */
	for (size_t k = 0; k < NT; k++) {
		const int64_t n = llm_type_traits(types[k])->blck == 32 ? 96 : 256, m = 3, rows[2] = { 17, 40 };
		size_t rb = llm_type_row_size(types[k], n);
		uint8_t *w[2];
		float *x = malloc((size_t)(n * m) * sizeof *x), *ys = malloc((size_t)(57 * m) * sizeof *ys);
		float *y0 = malloc((size_t)(17 * m) * sizeof *y0), *y1 = malloc((size_t)(40 * m) * sizeof *y1);
		void *xq = aligned_alloc(64, llm_qpack_x_size(n, m));
		llm_qpack *ps = NULL, *p0 = NULL, *p1 = NULL;
		float row[256];
		for (int i = 0; i < 2; i++) {
			w[i] = malloc(rb * (size_t)rows[i]);
			for (int64_t r = 0; r < rows[i]; r++) {
				for (int64_t c = 0; c < n; c++)
					row[c] = grand();
				if (!kq_encode(types[k], row, w[i] + (size_t)r * rb, n))
					llm_type_traits(types[k])->from_float(row, w[i] + (size_t)r * rb, n);
			}
		}
		for (int64_t i = 0; i < n * m; i++)
			x[i] = grand();
		const void *wp[2] = { w[0], w[1] };
		int ok = !llm_qpack_new_stacked(&ps, wp, rows, 2, types[k], n, tp3) &&
			 !llm_qpack_new(&p0, w[0], types[k], n, rows[0], NULL) &&
			 !llm_qpack_new(&p1, w[1], types[k], n, rows[1], NULL);
		if (ok) {
			llm_qpack_quant_x(xq, x, n, m);
			llm_qpack_matmul(ys, ps, xq, m, tp3);
			llm_qpack_matmul(y0, p0, xq, m, NULL);
			llm_qpack_matmul(y1, p1, xq, m, NULL);
			for (int64_t t = 0; t < m; t++)
				ok &= !memcmp(ys + t * 57, y0 + t * 17, 17 * sizeof *ys) &&
				      !memcmp(ys + t * 57 + 17, y1 + t * 40, 40 * sizeof *ys);
		}
		char nm[64];
		snprintf(nm, sizeof nm, "qpack %s stacked parts equal separate packs", llm_type_name(types[k]));
		CHECK(ok, nm, "outputs differ or packing failed");
		llm_qpack_free(ps), llm_qpack_free(p0), llm_qpack_free(p1);
		free(w[0]), free(w[1]), free(x), free(ys), free(y0), free(y1), free(xq);
	}

	llm_qpack *p = NULL;
	uint8_t junk[18 * 3] = { 0 };
	CHECK(llm_qpack_new(&p, junk, LLM_TYPE_Q4_0, 48, 1, NULL) != 0 && !p,
	      "qpack refuses rows that are not whole blocks", "accepted n=48");
	llm_threadpool_free(tp1);
	llm_threadpool_free(tp3);
	return test_done();
}
