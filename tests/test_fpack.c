/* test_fpack.c - F16/BF16 panels (fpack.h) against a double sum over the
 * stored weights.
 *
 * Bound per output: sums of F32 products, |y - sum w x| <= 1e-5 sum |w x|
 * (+1e-30).  Shapes cover rows that are not whole panels of 16, columns
 * that are not whole blocks of 32, one token (a pass per token) and many
 * (panels back in rows for gemm).  Also: nothing is written beyond d rows,
 * 1 and 3 threads agree bit for bit, stacked parts give each part's own
 * outputs bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpack.h"
#include "testutil.h"
#include "threadpool.h"
#include "types.h"

static uint64_t rs = 0x243f6a8885a308d3ull;

/* y[m][d] vs double sums over the decoded weights wf; bad outputs */
static int compare(const float *y, const float *wf, const float *x, int64_t n, int64_t d,
		   int64_t m, const char *what, double *worst)
{
	int bad = 0;
	for (int64_t t = 0; t < m; t++)
		for (int64_t r = 0; r < d; r++) {
			double s = 0, cond = 0;
			for (int64_t i = 0; i < n; i++) {
				double p = (double)wf[r * n + i] * x[t * n + i];
				s += p;
				cond += fabs(p);
			}
			double bound = 1e-5 * cond + 1e-30, diff = fabs(y[t * d + r] - s);
			if (!(diff <= bound)) {
				if (bad++ < 3)
					printf("# %s: token %lld row %lld: %.9g vs %.9g, bound %.3g\n", what,
					       (long long)t, (long long)r, y[t * d + r], s, bound);
			} else if (diff / bound > *worst)
				*worst = diff / bound;
		}
	return bad;
}

/* d rows of n values in type, random (some rows zero), and their decoding */
static uint8_t *weights(int type, int64_t n, int64_t d, float *wf)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	size_t rb = llm_type_row_size(type, n);
	uint8_t *w = malloc(rb * (size_t)d);
	for (int64_t r = 0; r < d; r++) {
		float scale = r % 5 == 2 ? 0.0f : (float)(0.01 + 3 * test_urand(&rs));
		for (int64_t i = 0; i < n; i++)
			wf[r * n + i] = scale * test_grand(&rs);
		tt->from_float(wf + r * n, w + (size_t)r * rb, n);
		tt->to_float(w + (size_t)r * rb, wf + r * n, n);
	}
	return w;
}

static void one(int type, int64_t n, int64_t d, int64_t m, llm_threadpool *tp1, llm_threadpool *tp3,
		double *worst)
{
	float *wf = malloc((size_t)(n * d) * sizeof *wf), *x = malloc((size_t)(n * m) * sizeof *x);
	float *y1 = malloc((size_t)(d * (m + 1)) * sizeof *y1), *y3 = malloc((size_t)(d * (m + 1)) * sizeof *y3);
	uint8_t *w = weights(type, n, d, wf);
	char name[96];
	for (int64_t i = 0; i < n * m; i++)
		x[i] = test_grand(&rs) * (test_urand(&rs) < 0.02 ? 60.0f : 1.0f);
	for (int64_t i = 0; i < d * (m + 1); i++)
		y1[i] = y3[i] = 12345.0f;
	snprintf(name, sizeof name, "fpack %s n=%lld d=%lld m=%lld", llm_type_name(type), (long long)n,
		 (long long)d, (long long)m);
	llm_fpack *p = NULL;
	const void *wp = w;
	if (llm_fpack_new(&p, &wp, &d, 1, type, n, tp3) || llm_fpack_matmul(y1, p, x, m, tp1) ||
	    llm_fpack_matmul(y3, p, x, m, tp3)) {
		CHECK(0, name, "packing or product failed");
		goto out;
	}
	int bad = compare(y1, wf, x, n, d, m, name, worst);
	CHECK(!bad, name, "%d outputs outside the bound", bad);
	int guard = 1;
	for (int64_t i = d * m; i < d * (m + 1); i++)
		guard &= y1[i] == 12345.0f && y3[i] == 12345.0f;
	snprintf(name, sizeof name, "fpack %s n=%lld d=%lld m=%lld: nothing past d rows, 1 and 3 threads identical",
		 llm_type_name(type), (long long)n, (long long)d, (long long)m);
	CHECK(guard && !memcmp(y1, y3, (size_t)(d * m) * sizeof *y1), name, "%s",
	      guard ? "results differ" : "guard overwritten");
out:
	llm_fpack_free(p);
	free(wf), free(x), free(w), free(y1), free(y3);
}

int main(void)
{
	if (!llm_fpack_available(LLM_TYPE_F16)) {
		SKIP("fpack", "this CPU (or LLM_ISA) lacks AVX-512: F16/BF16 weights are read as stored");
		return 0;
	}
	CHECK(!llm_fpack_available(LLM_TYPE_F32) && !llm_fpack_available(LLM_TYPE_Q8_0),
	      "fpack only F16 and BF16", "other types claim to be packable");
	llm_threadpool *tp1 = NULL, *tp3 = NULL;
	if (llm_threadpool_new(&tp1, 1) || llm_threadpool_new(&tp3, 3))
		return 1;
	static const int64_t shapes[][3] = {
		{ 1, 1, 1 },    { 7, 3, 2 },     { 32, 16, 1 },   { 45, 17, 1 },  { 100, 33, 3 },
		{ 64, 200, 1 }, { 2048, 48, 1 }, { 300, 70, 4 },  { 96, 129, 9 }, { 1000, 40, 5 },
		{ 33, 5, 17 },  { 512, 600, 1 }, { 256, 530, 6 },
	};
	const int types[] = { LLM_TYPE_F16, LLM_TYPE_BF16 };
	double worst = 0;
	for (size_t k = 0; k < 2; k++)
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
			one(types[k], shapes[s][0], shapes[s][1], shapes[s][2], tp1, tp3, &worst);
	printf("# fpack: largest error / bound %.3f\n", worst);

	/* stacked parts (17, 40 and 9 rows: panels straddle them) */
	for (size_t k = 0; k < 2; k++)
		for (int64_t m = 1; m <= 6; m += 5) {
			const int64_t n = 70, rows[3] = { 17, 40, 9 }, D = 66;
			float *wf = malloc((size_t)(n * D) * sizeof *wf), *x = malloc((size_t)(n * m) * sizeof *x);
			float *ys = malloc((size_t)(D * m) * sizeof *ys), *yk = malloc((size_t)(40 * m) * sizeof *yk);
			uint8_t *w[3];
			for (int i = 0, off = 0; i < 3; off += (int)rows[i], i++)
				w[i] = weights(types[k], n, rows[i], wf + off * n);
			for (int64_t i = 0; i < n * m; i++)
				x[i] = test_grand(&rs);
			llm_fpack *ps = NULL;
			const void *wp[3] = { w[0], w[1], w[2] };
			int ok = !llm_fpack_new(&ps, wp, rows, 3, types[k], n, tp3) &&
				 !llm_fpack_matmul(ys, ps, x, m, tp3);
			for (int i = 0, off = 0; ok && i < 3; off += (int)rows[i], i++) {
				llm_fpack *pk = NULL;
				ok = !llm_fpack_new(&pk, &wp[i], &rows[i], 1, types[k], n, NULL) &&
				     !llm_fpack_matmul(yk, pk, x, m, NULL);
				for (int64_t t = 0; ok && t < m; t++)
					ok = !memcmp(ys + t * D + off, yk + t * rows[i], (size_t)rows[i] * sizeof *ys);
				llm_fpack_free(pk);
			}
			char nm[80];
			snprintf(nm, sizeof nm, "fpack %s m=%lld stacked parts equal separate packs",
				 llm_type_name(types[k]), (long long)m);
			CHECK(ok, nm, "outputs differ or packing failed");
			llm_fpack_free(ps);
			for (int i = 0; i < 3; i++)
				free(w[i]);
			free(wf), free(x), free(ys), free(yk);
		}

	llm_fpack *p = NULL;
	uint16_t junk[4] = { 0 };
	const void *jp = junk;
	int64_t one_row = 1, no_rows = 0;
	CHECK(llm_fpack_new(&p, &jp, &one_row, 1, LLM_TYPE_Q8_0, 4, NULL) != 0 && !p,
	      "fpack refuses other types", "accepted Q8_0");
	CHECK(llm_fpack_new(&p, &jp, &no_rows, 1, LLM_TYPE_F16, 4, NULL) != 0 && !p,
	      "fpack refuses a part without rows", "accepted 0 rows");
	llm_threadpool_free(tp1);
	llm_threadpool_free(tp3);
	return test_done();
}
