/* test_gemm.c - llm_gemm_nt (gemm.h) against a plain double-precision
 * triple loop, for every instruction set this CPU runs and B in F32, F16
 * and BF16.
 *
 * Shapes: m = 1..40, 64, 200 and 257 rows; n and d mostly not multiples of 16
 * (the vector width) nor of the tile sizes (3 x 4, 4 x 6); n from 1 to 300,
 * across the block size of 1024 (1030, 1100, 2048); leading dimensions
 * wider than the rows.  Tolerance: |C - ref| <= 1e-5 sum_k |a_k b_k| + 1e-30
 * (F32 sums of up to 2048 terms in blocks of 16 lanes: the rounding error
 * is a few 1e-7 of sum |a b|, far inside; a wrong element, a lost block or
 * a missed tail exceeds it).  F16/BF16 rows are compared with the reference
 * on their exactly widened values.  Values around C (a guard row above and
 * below, and the ldc - d columns after each row) must stay untouched, and C
 * starts as NaN: the first block must store, not add.  Then llm_matmul
 * (kernels.c's mat-mat, which uses this product) for every weight type.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gemm.h"
#include "kernels.h"
#include "testutil.h"
#include "threadpool.h"
#include "types.h"

#define GUARD 12345.0f
#define TOL 1e-5

static uint64_t seed = 88172645463325252ull;
static float frand(void)
{
	seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
	return (float)((double)(seed >> 11) / 4503599627370496.0 - 1.0); /* [-1, 1) */
}

/* One product: returns the number of bad elements (0 = pass), *why set. */
static int run_one(int isa, int btype, int64_t m, int64_t d, int64_t n, int64_t pad, char *why,
		   size_t whylen)
{
	int64_t lda = n + pad, ldb = n + 2 * pad + 1, ldc = d + pad;
	float *a = malloc(sizeof(float) * (size_t)(m * lda + 1));
	float *bf = malloc(sizeof(float) * (size_t)(d * ldb + 1));  /* B widened */
	uint16_t *bh = malloc(sizeof(uint16_t) * (size_t)(d * ldb + 1));
	float *cbuf = malloc(sizeof(float) * (size_t)((m + 2) * ldc));
	float *c = cbuf + ldc; /* one guard row above, one below */
	int bad = 0;

	if (!a || !bf || !bh || !cbuf) {
		snprintf(why, whylen, "out of memory");
		bad = 1;
		goto out;
	}
	for (int64_t i = 0; i < m * lda; i++)
		a[i] = frand();
	for (int64_t i = 0; i < d * ldb; i++) {
		float v = frand();
		if (btype == LLM_TYPE_F16) {
			bh[i] = llm_fp32_to_fp16(v);
			v = llm_fp16_to_fp32(bh[i]);
		} else if (btype == LLM_TYPE_BF16) {
			bh[i] = llm_fp32_to_bf16(v);
			v = llm_bf16_to_fp32(bh[i]);
		}
		bf[i] = v;
	}
	for (int64_t i = 0; i < (m + 2) * ldc; i++)
		cbuf[i] = GUARD;
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < d; j++)
			c[i * ldc + j] = NAN;

	const void *b = btype == LLM_TYPE_F32 ? (const void *)bf : (const void *)bh;
	int rc = llm_gemm_nt_isa(isa, c, ldc, a, lda, b, btype, ldb, m, d, n);
	if (rc) {
		snprintf(why, whylen, "returned %d: %s", rc, llm_errmsg());
		bad = 1;
		goto out;
	}
	for (int64_t i = -1; i <= m; i++)
		for (int64_t j = 0; j < ldc; j++) {
			float got = c[i * ldc + j];
			if (i < 0 || i == m || j >= d) {
				if (got != GUARD && !bad++)
					snprintf(why, whylen, "wrote outside C at [%lld][%lld]: %g",
						 (long long)i, (long long)j, got);
				continue;
			}
			double s = 0, sa = 0;
			for (int64_t k = 0; k < n; k++) {
				double p = (double)a[i * lda + k] * (double)bf[j * ldb + k];
				s += p, sa += fabs(p);
			}
			if (!(fabs(got - s) <= TOL * sa + 1e-30) && !bad++)
				snprintf(why, whylen, "C[%lld][%lld] = %.9g, want %.9g (tolerance %.3g)",
					 (long long)i, (long long)j, got, s, TOL * sa + 1e-30);
		}
out:
	free(a), free(bf), free(bh), free(cbuf);
	return bad;
}

static const int types[] = { LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16 };

static void shapes(int isa, int btype)
{
	static const int64_t ns[] = { 1, 7, 15, 16, 17, 31, 33, 63, 100, 255, 299, 300, 1030 };
	char name[96], why[256] = "", first[256] = "";
	int fails = 0, runs = 0;

	/* m = 1..40 with d and n cycling through awkward sizes */
	for (int64_t m = 1; m <= 40; m++)
		for (int v = 0; v < 2; v++) {
			int64_t d = 1 + (m * 5 + v * 11) % 29;
			int64_t n = ns[(m + v * 5) % (int64_t)(sizeof ns / sizeof ns[0])];
			runs++;
			if (run_one(isa, btype, m, d, n, (m + v) % 3 ? 3 : 0, why, sizeof why) && !fails++)
				snprintf(first, sizeof first, "m %lld d %lld n %lld: %s", (long long)m,
					 (long long)d, (long long)n, why);
		}
	/* larger: blocks of n (1024), rows of A beyond one block of 256, n = 2048,
	 * chunks of B rows (65536 floats of C: 256 rows of B at m >= 256, 288
	 * at m = 200) */
	static const int64_t big[][3] = { { 64, 50, 2048 }, { 257, 19, 300 }, { 3, 7, 2048 },
					  { 64, 37, 1100 }, { 41, 25, 513 }, { 6, 1, 1 },
					  { 257, 300, 40 }, { 200, 401, 19 }, { 5, 11, 2500 } };
	for (size_t s = 0; s < sizeof big / sizeof big[0]; s++) {
		runs++;
		if (run_one(isa, btype, big[s][0], big[s][1], big[s][2], 5, why, sizeof why) && !fails++)
			snprintf(first, sizeof first, "m %lld d %lld n %lld: %s", (long long)big[s][0],
				 (long long)big[s][1], (long long)big[s][2], why);
	}
	snprintf(name, sizeof name, "gemm_%s_%s", llm_isa_name(isa), llm_type_name(btype));
	CHECK(!fails, name, "%d of %d shapes wrong, first %s", fails, runs, first);
}

/* n = 0: C = 0 (an empty sum), nothing else touched */
static void empty_n(void)
{
	float c[3 * 5];
	for (int i = 0; i < 15; i++)
		c[i] = NAN;
	int rc = llm_gemm_nt(c, 5, NULL, 0, NULL, LLM_TYPE_F32, 0, 3, 4, 0);
	int ok = !rc;
	for (int i = 0; i < 15; i++)
		ok &= i % 5 == 4 ? isnan(c[i]) : c[i] == 0.0f;
	CHECK(ok, "gemm_empty_n", "rc %d, C not zero (or column 4 written)", rc);
}

static void errors(void)
{
	float a[4] = { 0 }, b[4] = { 0 }, c[4];
	int rc = llm_gemm_nt(c, 1, a, 4, b, LLM_TYPE_Q8_0, 4, 1, 1, 4);
	CHECK(rc == LLM_EUNSUPPORTED && strstr(llm_errmsg(), "q8_0"), "gemm_rejects_q8_0",
	      "rc %d: %s", rc, llm_errmsg());
	rc = llm_gemm_nt(c, 1, a, 2, b, LLM_TYPE_F32, 4, 1, 1, 4);
	CHECK(rc == LLM_EINVAL, "gemm_rejects_short_lda", "rc %d: %s", rc, llm_errmsg());
}

/* The comparison can fail: the same check on a result that is off by 1e-4
 * of sum |a b| in one element must flag it. */
static void checker_fails(void)
{
	float a[64], b[64];
	double s = 0, sa = 0;
	for (int k = 0; k < 64; k++) {
		a[k] = frand(), b[k] = frand();
		s += (double)a[k] * b[k], sa += fabs((double)a[k] * b[k]);
	}
	float c;
	llm_gemm_nt(&c, 1, a, 64, b, LLM_TYPE_F32, 64, 1, 1, 64);
	float off = c + (float)(1e-4 * sa);
	CHECK(fabs(c - s) <= TOL * sa && !(fabs(off - s) <= TOL * sa + 1e-30), "gemm_check_sensitive",
	      "c %.9g ref %.9g", c, s);
}

/* llm_matmul (kernels.c) on every weight type: gemm for F32/F16/BF16 in
 * place, decoded panels then gemm for the block types, m mat-vecs below a
 * few rows; rows split over 2 threads (d = 131: two chunks, each ending
 * in a partial tile).
 * Against the double sum over the decoded weights, same tolerance. */
static void matmul_types(void)
{
	static const int wt[] = { LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0,
				  LLM_TYPE_Q4_0, LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1 };
	static const int64_t ms[] = { 2, 5, 9, 70 };
	const int64_t n = 288, d = 131;
	llm_threadpool *tp = NULL;
	if (llm_threadpool_new(&tp, 2)) {
		CHECK(0, "matmul_pool", "%s", llm_errmsg());
		return;
	}
	float *wf = malloc(sizeof(float) * (size_t)(n * d)), *x = malloc(sizeof(float) * (size_t)(70 * n));
	float *y = malloc(sizeof(float) * (size_t)(70 * d));
	uint8_t *w = malloc(sizeof(float) * (size_t)(n * d));
	for (int64_t i = 0; i < 70 * n; i++)
		x[i] = frand();
	for (size_t t = 0; t < sizeof wt / sizeof wt[0]; t++) {
		const struct llm_type_traits *tt = llm_type_traits(wt[t]);
		size_t rs = llm_type_row_size(wt[t], n);
		for (int64_t r = 0; r < d; r++) {
			for (int64_t k = 0; k < n; k++)
				wf[r * n + k] = frand();
			tt->from_float(wf + r * n, w + (size_t)r * rs, n);
			tt->to_float(w + (size_t)r * rs, wf + r * n, n); /* what the kernels see */
		}
		int bad = 0;
		char first[160] = "", name[64];
		for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
			int64_t m = ms[mi];
			for (int64_t i = 0; i < m * d; i++)
				y[i] = NAN;
			int rc = llm_matmul(y, w, wt[t], x, n, d, m, tp);
			for (int64_t i = 0; i < m; i++)
				for (int64_t j = 0; j < d; j++) {
					double s = 0, sa = 0;
					for (int64_t k = 0; k < n; k++) {
						double p = (double)x[i * n + k] * wf[j * n + k];
						s += p, sa += fabs(p);
					}
					if ((rc || !(fabs(y[i * d + j] - s) <= TOL * sa + 1e-30)) && !bad++)
						snprintf(first, sizeof first, "m %lld: rc %d, Y[%lld][%lld] = %.9g, want %.9g",
							 (long long)m, rc, (long long)i, (long long)j, y[i * d + j], s);
				}
		}
		snprintf(name, sizeof name, "matmul_%s", llm_type_name(wt[t]));
		CHECK(!bad, name, "%d values wrong, first %s", bad, first);
	}
	free(wf), free(x), free(y), free(w);
	llm_threadpool_free(tp);
}

/* B in panels (16 rows, pieces of 32 values: fpack.h's layout) gives the
 * same C, bit for bit, as the same B in rows, with every instruction set */
static void panels(void)
{
	static const int64_t sh[][3] = { { 5, 37, 45 }, { 64, 50, 2048 }, { 3, 16, 1100 }, { 9, 1, 7 },
					 { 20, 33, 1024 } };
	for (int isa = 0; isa <= llm_isa_best(); isa++)
		for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
			int bt = types[t], bad = 0;
			size_t esz = bt == LLM_TYPE_F32 ? 4 : 2;
			for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
				int64_t m = sh[s][0], d = sh[s][1], n = sh[s][2], nb = (n + 31) / 32;
				int64_t np = (d + 15) / 16;
				struct llm_gemm_panels pl = { 16, 32, (size_t)nb * 16 * 32 * esz };
				float *a = malloc((size_t)(m * n) * sizeof *a);
				uint8_t *b = malloc((size_t)(d * n) * esz), *pb = calloc((size_t)np, pl.panel_bytes);
				float *c0 = malloc((size_t)(m * d) * sizeof *c0), *c1 = malloc((size_t)(m * d) * sizeof *c1);
				for (int64_t i = 0; i < m * n; i++)
					a[i] = frand();
				for (int64_t i = 0; i < d * n; i++) {
					float v = frand();
					if (bt == LLM_TYPE_F32)
						memcpy(b + i * 4, &v, 4);
					else {
						uint16_t h = bt == LLM_TYPE_F16 ? llm_fp32_to_fp16(v) : llm_fp32_to_bf16(v);
						memcpy(b + i * 2, &h, 2);
					}
				}
				for (int64_t r = 0; r < d; r++)
					for (int64_t k = 0; k < n; k++)
						memcpy(pb + (size_t)(r / 16) * pl.panel_bytes + (size_t)(k / 32) * 16 * 32 * esz +
							       (size_t)(r % 16) * 32 * esz + (size_t)(k % 32) * esz,
						       b + (size_t)(r * n + k) * esz, esz);
				bad += llm_gemm_nt_isa(isa, c0, d, a, n, b, bt, n, m, d, n) ||
				       llm_gemm_nt_panels_isa(isa, c1, d, a, n, pb, bt, &pl, m, d, n) ||
				       memcmp(c0, c1, (size_t)(m * d) * sizeof *c0);
				free(a), free(b), free(pb), free(c0), free(c1);
			}
			char name[64];
			snprintf(name, sizeof name, "gemm_panels_%s_%s", llm_isa_name(isa), llm_type_name(bt));
			CHECK(!bad, name, "%d of %zu shapes differ from rows", bad, sizeof sh / sizeof sh[0]);
		}
	struct llm_gemm_panels odd = { 16, 48, 1 << 20 };
	float c[4], a[4] = { 0 };
	uint16_t b[64] = { 0 };
	CHECK(llm_gemm_nt_panels(c, 1, a, 4, b, LLM_TYPE_F16, &odd, 1, 1, 4) == LLM_EINVAL,
	      "gemm_panels refuses pieces that do not divide its blocks", "accepted 48");
}

int main(void)
{
	for (int isa = 0; isa < LLM_ISA_COUNT; isa++) {
		if (isa > llm_isa_best()) {
			char name[64];
			snprintf(name, sizeof name, "gemm_%s", llm_isa_name(isa));
			SKIP(name, "this CPU (or LLM_ISA) lacks the instruction set");
			continue;
		}
		for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
			shapes(isa, types[t]);
	}
	matmul_types();
	panels();
	empty_n();
	errors();
	checker_fails();
	return test_done();
}
