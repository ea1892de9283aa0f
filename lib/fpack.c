/* fpack.c - F16 / BF16 weights in panels of 16 rows, and their mat-mul
 * (fpack.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fpack.h"
#include "gemm.h"
#include "io.h"
#include "kernels.h"
#include "parts.h"
#include "types.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FP_X86 1
#define FP __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))
#endif

#define PR 16          /* rows per panel */
#define BC 32          /* columns per block */
#define BLK (PR * BC * 2) /* bytes per panel-block */

struct llm_fpack {
	int type;
	int64_t n, d;  /* d rows of n values */
	int64_t nb;    /* blocks per row */
	int64_t np;    /* panels */
	size_t stride; /* bytes per panel: nb x BLK */
	uint8_t *data;
};

int llm_fpack_available(int type)
{
#ifdef FP_X86
	if (type != LLM_TYPE_F16 && type != LLM_TYPE_BF16)
		return 0;
	return llm_isa_best() == LLM_ISA_AVX512;
#else
	(void)type;
	return 0;
#endif
}

/* ============================================================ packing */

struct pack_job {
	const llm_fpack *p;
	struct llm_parts src;
};

static void pack_panels(void *arg, int64_t p0, int64_t p1, int tid)
{
	(void)tid;
	const struct pack_job *j = arg;
	const llm_fpack *p = j->p;
	for (int64_t pi = p0; pi < p1; pi++) {
		uint8_t *panel = p->data + (size_t)pi * p->stride;
		for (int i = 0; i < PR; i++) {
			int64_t r = pi * PR + i;
			const uint8_t *src = r < p->d ? llm_parts_row(&j->src, r) : NULL;
			for (int64_t b = 0; b < p->nb; b++) {
				uint8_t *dst = panel + (size_t)b * BLK + (size_t)i * BC * 2;
				int64_t c0 = b * BC, nc = p->n - c0 < BC ? p->n - c0 : BC;
				if (!src) /* a padding row */
					nc = 0;
				else
					memcpy(dst, src + (size_t)c0 * 2, (size_t)nc * 2);
				memset(dst + nc * 2, 0, (size_t)(BC - nc) * 2);
			}
		}
	}
}

int llm_fpack_new(llm_fpack **out, const void *const *w, const int64_t *rows, int n_parts,
		  int type, int64_t n, llm_threadpool *tp)
{
	struct pack_job j = { 0 };
	*out = NULL;
	int rc = llm_parts_init(&j.src, w, rows, n_parts, (size_t)(n > 0 ? n : 0) * 2, "fpack");
	if (rc)
		return rc;
	int64_t d = j.src.first[n_parts];
	if (!llm_fpack_available(type))
		return llm_err(LLM_EUNSUPPORTED, "fpack: type %s cannot be packed on this CPU",
			       llm_type_name(type));
	if (n < 1)
		return llm_err(LLM_EINVAL, "fpack: rows of %lld values", (long long)n);
	llm_fpack *p = calloc(1, sizeof *p);
	if (!p)
		return llm_err(LLM_ENOMEM, "fpack: out of memory");
	p->type = type;
	p->n = n;
	p->d = d;
	p->nb = (n + BC - 1) / BC;
	p->np = (d + PR - 1) / PR;
	p->stride = (size_t)p->nb * BLK;
	size_t bytes = (size_t)p->np * p->stride;
	if (!(p->data = llm_alloc_stream(bytes))) { /* decode streams it */
		free(p);
		return llm_err(LLM_ENOMEM, "fpack: out of memory for %zu bytes", bytes);
	}
	j.p = p;
	llm_threadpool_run(tp, p->np, 4, 1, pack_panels, &j);
	*out = p;
	return 0;
}

void llm_fpack_free(llm_fpack *p)
{
	if (!p)
		return;
	free(p->data);
	free(p);
}

/* ============================================================ mat-mul */

#ifdef FP_X86
/* 16 stored values as F32.  F16's load stays an instruction of its own:
 * GCC otherwise folds it into vcvtph2ps, and with that memory operand F16
 * TinyLlama decode ran 1.15x slower on AMD Zen 4 (token-alternated, 4 of
 * 4 runs), and F16 panels streamed at 0.88-0.92 of BF16's rate instead of
 * 0.93-1.02 while memory was fast.  Measured and left folded: BF16's
 * vpmovzxwd here (0.98-1.02 apart) and kernels.c's row-wise F16 dot
 * (0.97-1.00 apart: slower). */
FP static INLINE __m512 widen(const uint8_t *s, const int bf)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)s);
	if (bf)
		return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
	__asm__("" : "+v"(v)); /* v is a register here: no folding */
	return _mm512_cvtph_ps(v);
}

/* y[0..16) = the 16 rows of the panel at pp . x: per block, x's 32 values
 * once and each row's two halves against them, one accumulator per row */
FP static INLINE void panel_dot(float *y, const uint8_t *pp, const float *x, int64_t n,
				int64_t nb, const int bf)
{
	__m512 acc[PR];
	for (int i = 0; i < PR; i++)
		acc[i] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nb; b++, pp += BLK) {
		int64_t c0 = b * BC;
		__m512 x0, x1;
		if (c0 + BC <= n) {
			x0 = _mm512_loadu_ps(x + c0);
			x1 = _mm512_loadu_ps(x + c0 + 16);
		} else { /* the padded columns are zero: so are these */
			int64_t r = n - c0;
			x0 = _mm512_maskz_loadu_ps((__mmask16)(r >= 16 ? 0xffff : (1u << r) - 1), x + c0);
			x1 = _mm512_maskz_loadu_ps((__mmask16)(r > 16 ? (1u << (r - 16)) - 1 : 0), x + c0 + 16);
		}
#pragma GCC unroll 16
		for (int i = 0; i < PR; i++) {
			acc[i] = _mm512_fmadd_ps(widen(pp + i * 64, bf), x0, acc[i]);
			acc[i] = _mm512_fmadd_ps(widen(pp + i * 64 + 32, bf), x1, acc[i]);
		}
	}
	for (int i = 0; i < PR; i++)
		y[i] = _mm512_reduce_add_ps(acc[i]);
}

struct dec_job {
	const llm_fpack *p;
	const float *x;
};

/* decode: panels p0..p1-1 into out (an output job of the pool) */
FP static void dec_panels(const void *arg, int64_t p0, int64_t p1, float *out)
{
	const struct dec_job *j = arg;
	const llm_fpack *p = j->p;
	float tmp[PR];
	for (int64_t pi = p0; pi < p1; pi++) {
		const uint8_t *pp = p->data + (size_t)pi * p->stride;
		float *o = out + (pi - p0) * PR;
		int64_t left = p->d - pi * PR;
		float *dst = left >= PR ? o : tmp; /* the last panel: only its real rows */
		if (p->type == LLM_TYPE_BF16)
			panel_dot(dst, pp, j->x, p->n, p->nb, 1);
		else
			panel_dot(dst, pp, j->x, p->n, p->nb, 0);
		if (dst == tmp)
			memcpy(o, tmp, (size_t)left * sizeof *o);
	}
}

struct mm_job {
	float *y;        /* [m][d] */
	const llm_fpack *p;
	const float *x;  /* [m][n] */
	int64_t m;
};

/* Y[:, rows of panels p0..p1-1] = X W^T: gemm.h's kernel reads the panels
 * as they are (unpacking them back into rows first cost 5-18%) */
static void mm_panels(void *arg, int64_t p0, int64_t p1, int tid)
{
	(void)tid;
	const struct mm_job *j = arg;
	const llm_fpack *p = j->p;
	const struct llm_gemm_panels pl = { PR, BC, p->stride };
	int64_t r0 = p0 * PR, nr = (p1 * PR < p->d ? p1 * PR : p->d) - r0;
	llm_gemm_nt_panels(j->y + r0, p->d, j->x, p->n, p->data + (size_t)p0 * p->stride, p->type, &pl,
			   j->m, nr, p->n);
}
#endif

int llm_fpack_matmul(float *y, const llm_fpack *p, const float *x, int64_t m, llm_threadpool *tp)
{
#ifdef FP_X86
	/* fewer tokens than this: passes over W at memory speed beat widening
	 * it for gemm (as kernels.c's llm_matmul) */
	if (m < 4) {
		/* at least ~32 KiB of weights per chunk of work */
		int64_t grain = (int64_t)(32768 / p->stride) + 1;
		for (int64_t t = 0; t < m; t++) {
			struct dec_job j = { p, x + t * p->n };
			_Static_assert(sizeof j <= LLM_POOL_ARG_MAX, "the pool copies the job");
			llm_threadpool_run_out(tp, p->np, grain, 1, dec_panels, &j, sizeof j, y + t * p->d,
					       PR, p->d);
		}
		return 0;
	}
	struct mm_job j = { y, p, x, m };
	/* at least 3 panels (48 rows) a worker, as llm_matmul */
	llm_threadpool_run(tp, p->np, 3, 1, mm_panels, &j);
	return 0;
#else
	(void)y, (void)p, (void)x, (void)m, (void)tp;
	return llm_err(LLM_EUNSUPPORTED, "fpack: not on this CPU");
#endif
}
