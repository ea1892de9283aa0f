/* blas.c - the one file that calls OpenBLAS for the forward pass. */
#include <cblas.h>

#include "kernels.h"

void llm_blas_sgemm_nt(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
		       float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f,
		    c, ldc);
}

int llm_blas_threads(void) { return openblas_get_num_threads(); }

void llm_blas_set_threads(int n) { openblas_set_num_threads(n); }

const char *llm_blas_core(void)
{
	const char *c = openblas_get_corename();
	return c ? c : "?";
}
