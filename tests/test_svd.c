/* test_svd.c - exact and randomized SVD (lib/svd.c).
 *
 * Checks, on matrices built from known factors (so the truth is known
 * without another SVD): the exact SVD reconstructs M, has orthonormal U
 * and V and returns the planted singular values (relative 1e-4); the
 * randomized SVD of a decaying spectrum is within 1 % of the exact SVD's
 * optimal rank-k error (Eckart-Young: sqrt of the tail energy); an exactly
 * low-rank matrix is recovered to float precision.
 *
 *   test_svd --bench M N [K]   time randomized vs exact on an M x N delta
 *                              of rank 16 plus noise and one with a
 *                              decaying spectrum (for the closing note)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "error.h"
#include "svd.h"
#include "testutil.h"

static uint64_t rs = 777;
static double urand(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void)
{
	return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
}

/* Orthonormal columns (m x k, column-major) by Gram-Schmidt twice. */
static double *orth(int m, int k)
{
	double *q = malloc((size_t)m * k * sizeof *q);
	for (int64_t i = 0; i < (int64_t)m * k; i++)
		q[i] = gauss();
	for (int j = 0; j < k; j++)
		for (int pass = 0; pass < 2; pass++) {
			for (int p = 0; p < j; p++) {
				double d = 0;
				for (int i = 0; i < m; i++)
					d += q[(size_t)p * m + i] * q[(size_t)j * m + i];
				for (int i = 0; i < m; i++)
					q[(size_t)j * m + i] -= d * q[(size_t)p * m + i];
			}
			double nn = 0;
			for (int i = 0; i < m; i++)
				nn += q[(size_t)j * m + i] * q[(size_t)j * m + i];
			for (int i = 0; i < m; i++)
				q[(size_t)j * m + i] /= sqrt(nn);
		}
	return q;
}

/* M (m x n row-major) = P diag(s) Q^T with planted s (k values) + noise. */
static float *planted(int m, int n, int k, const double *s, double noise)
{
	double *p = orth(m, k), *q = orth(n, k);
	float *M = malloc((size_t)m * n * sizeof *M);
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double v = 0;
			for (int l = 0; l < k; l++)
				v += p[(size_t)l * m + i] * s[l] * q[(size_t)l * n + j];
			M[(size_t)i * n + j] = (float)(v + noise * gauss());
		}
	free(p);
	free(q);
	return M;
}

/* ||M - U_k S_k V_k^T||_F / ||M||_F */
static double err_k(const float *M, int m, int n, const float *U, const float *S, const float *V, int k)
{
	float *R = malloc((size_t)m * n * sizeof *R), *US = malloc((size_t)m * k * sizeof *US);
	double num = 0, den = 0;
	memcpy(R, M, (size_t)m * n * sizeof *R);
	for (int l = 0; l < k; l++)
		for (int i = 0; i < m; i++)
			US[(size_t)l * m + i] = U[(size_t)l * m + i] * S[l];
	/* R (row-major m x n) -= US (col-major m x k) V^T (V col-major n x k) */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, -1.0f, US, m, V, n, 1.0f, R, n);
	for (int64_t i = 0; i < (int64_t)m * n; i++) {
		num += (double)R[i] * R[i];
		den += (double)M[i] * M[i];
	}
	free(R);
	free(US);
	return sqrt(num / den);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_exact(void)
{
	int m = 90, n = 140, k = 90;
	double s[90];
	for (int i = 0; i < k; i++)
		s[i] = 10 * pow(0.9, i);
	float *M = planted(m, n, k, s, 0), *U, *S, *V;
	int64_t got;
	struct llm_svd_opts o = LLM_SVD_OPTS_INIT;
	o.exact = 1;
	CHECK(llm_svd(M, m, n, 10, &o, &U, &S, &V, &got) == 0 && got == 90, "svd_exact_runs", "%s", llm_errmsg());
	if (got != 90)
		return;
	double ws = 0, wo = 0;
	for (int i = 0; i < k; i++)
		ws = fmax(ws, fabs(S[i] - s[i]) / s[i]);
	for (int a = 0; a < 10; a++)
		for (int b = 0; b < 10; b++) {
			double du = 0, dv = 0;
			for (int i = 0; i < m; i++)
				du += (double)U[(size_t)a * m + i] * U[(size_t)b * m + i];
			for (int j = 0; j < n; j++)
				dv += (double)V[(size_t)a * n + j] * V[(size_t)b * n + j];
			wo = fmax(wo, fmax(fabs(du - (a == b)), fabs(dv - (a == b))));
		}
	CHECK(ws < 1e-4, "svd_exact_singular_values", "max relative error %g", ws);
	CHECK(wo < 1e-5, "svd_exact_orthonormal", "max deviation %g", wo);
	double e = err_k(M, m, n, U, S, V, 90);
	CHECK(e < 1e-5, "svd_exact_reconstructs", "relative error %g", e);
	/* Eckart-Young at rank 10 */
	double tail = 0, all = 0;
	for (int i = 0; i < k; i++) {
		all += s[i] * s[i];
		if (i >= 10)
			tail += s[i] * s[i];
	}
	e = err_k(M, m, n, U, S, V, 10);
	CHECK(fabs(e - sqrt(tail / all)) < 1e-4 * sqrt(tail / all), "svd_exact_rank10_optimal", "%g vs %g", e,
	      sqrt(tail / all));
	free(M), free(U), free(S), free(V);
}

static void test_rand(void)
{
	int m = 300, n = 500, k = 120;
	double s[120];
	for (int i = 0; i < k; i++)
		s[i] = 1.0 / (1 + i) + 0.02; /* slowly decaying: the hard case */
	float *M = planted(m, n, k, s, 0), *U, *S, *V, *Ue, *Se, *Ve;
	int64_t got, gote;
	struct llm_svd_opts o = LLM_SVD_OPTS_INIT, oe = LLM_SVD_OPTS_INIT;
	oe.exact = 1;
	CHECK(llm_svd(M, m, n, 16, &o, &U, &S, &V, &got) == 0 && got == 26, "svd_rand_runs", "%s", llm_errmsg());
	CHECK(llm_svd(M, m, n, 16, &oe, &Ue, &Se, &Ve, &gote) == 0, "svd_exact_runs_2", "%s", llm_errmsg());
	double er = err_k(M, m, n, U, S, V, 16), ee = err_k(M, m, n, Ue, Se, Ve, 16);
	CHECK(er <= ee * 1.01, "svd_rand_within_1pct", "rank 16: randomized %g, exact %g (ratio %.4f)", er, ee, er / ee);
	printf("# rank 16 of 300x500: randomized %.6g, exact %.6g (ratio %.5f)\n", er, ee, er / ee);
	free(M), free(U), free(S), free(V), free(Ue), free(Se), free(Ve);
	/* exactly rank 8: recovered to float precision */
	double s8[8] = { 5, 4, 3, 2, 1, 0.5, 0.25, 0.125 };
	M = planted(200, 130, 8, s8, 0);
	CHECK(llm_svd(M, 200, 130, 8, &o, &U, &S, &V, &got) == 0, "svd_rand_lowrank_runs", "%s", llm_errmsg());
	er = err_k(M, 200, 130, U, S, V, 8);
	CHECK(er < 1e-5, "svd_rand_lowrank_exact", "relative error %g", er);
	free(M), free(U), free(S), free(V);
	/* bad rank */
	CHECK(llm_svd((float[4]){ 1, 2, 3, 4 }, 2, 2, 3, &o, &U, &S, &V, &got) == LLM_EINVAL,
	      "svd_rank_too_large", "rank 3 of a 2x2 matrix accepted");
}

static void bench_one(const char *what, const float *M, int m, int n, int k)
{
	struct llm_svd_opts o = LLM_SVD_OPTS_INIT, oe = LLM_SVD_OPTS_INIT;
	float *U, *S, *V;
	int64_t got;
	double t0 = now(), tr, te, er, ee;
	oe.exact = 1;
	if (llm_svd(M, m, n, k, &o, &U, &S, &V, &got)) {
		printf("%s\n", llm_errmsg());
		return;
	}
	tr = now() - t0;
	er = err_k(M, m, n, U, S, V, k);
	free(U), free(S), free(V);
	t0 = now();
	if (llm_svd(M, m, n, k, &oe, &U, &S, &V, &got)) {
		printf("%s\n", llm_errmsg());
		return;
	}
	te = now() - t0;
	ee = err_k(M, m, n, U, S, V, k);
	free(U), free(S), free(V);
	printf("%s %dx%d rank %d: randomized %.3f s (rel err %.6g), exact %.3f s (rel err %.6g): %.1fx faster, error ratio %.5f\n",
	       what, m, n, k, tr, er, te, ee, te / tr, er / ee);
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "--bench") == 0) {
		int m = atoi(argv[2]), n = atoi(argv[3]), k = argc > 4 ? atoi(argv[4]) : 16;
		int mn = m < n ? m : n;
		double *s = malloc((size_t)mn * sizeof *s);
		for (int i = 0; i < 16; i++)
			s[i] = 1.0 + 0.1 * i;
		float *M = planted(m, n, 16, s, 1e-3);
		bench_one("rank16+noise", M, m, n, k);
		free(M);
		for (int i = 0; i < mn; i++)
			s[i] = pow(1.0 + i, -1.0); /* decaying like a fine-tune's delta */
		M = planted(m, n, mn, s, 0);
		bench_one("decaying 1/i", M, m, n, k);
		free(M);
		free(s);
		return 0;
	}
	llm_svd_set_threads(2);
	test_exact();
	test_rand();
	return test_done();
}
