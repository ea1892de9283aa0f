/* bench.c - measurement helpers (see bench.h).
 *
 * Why the loops look the way they do:
 *   - The bandwidth kernels use GCC vector types with several independent
 *     accumulators so that a -O2 build (no -ffast-math, no -march) still
 *     issues wide loads and is bound by memory, not by one add chain.
 *   - Each bandwidth thread initializes its own slices (first touch), so on
 *     a NUMA machine the pages live next to the core that streams them.
 *   - Timed regions start and end at a barrier: a pass lasts as long as its
 *     slowest thread, which is what a parallel kernel costs.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "ckpt.h"
#include "error.h"
#include "fpack.h"
#include "io.h"
#include "attention.h"
#include "gemm.h"
#include "kernels.h"
#include "qpack.h"
#include "threadpool.h"
#include "types.h"
#include "types_impl.h"

/* ===================== clock and statistics ===================== */

double llm_bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void llm_bench_stats(struct llm_bench_stats *out, const double *x, int n)
{
	double s = 0, ss = 0;

	memset(out, 0, sizeof *out);
	out->n = n;
	if (n <= 0)
		return;
	out->min = out->max = x[0];
	for (int i = 0; i < n; i++) {
		s += x[i];
		if (x[i] < out->min)
			out->min = x[i];
		if (x[i] > out->max)
			out->max = x[i];
	}
	out->mean = s / n;
	for (int i = 0; i < n; i++)
		ss += (x[i] - out->mean) * (x[i] - out->mean);
	out->stddev = n > 1 ? sqrt(ss / (n - 1)) : 0;
	/* median: the k-th smallest by counting, no copy (n is a repetition count) */
	double lo = out->min, hi = out->max;
	for (int i = 0; i < n; i++) {
		int below = 0, equal = 0;
		for (int j = 0; j < n; j++)
			below += x[j] < x[i], equal += x[j] == x[i];
		if (below <= (n - 1) / 2 && (n - 1) / 2 < below + equal)
			lo = x[i];
		if (below <= n / 2 && n / 2 < below + equal)
			hi = x[i];
	}
	out->median = (lo + hi) / 2;
}

/* ===================== the machine ===================== */

/* SIMD flags worth reporting, as /proc/cpuinfo spells them (x86 and Arm). */
static const char *const simd_names[] = {
	"sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
	"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_vnni",
	"avx512_bf16", "avx512_fp16", "avx512vbmi", "avx_vnni", "amx_tile", "amx_int8",
	"amx_bf16", "neon", "asimd", "asimdhp", "asimddp", "sve", "sve2", "i8mm", "bf16",
	NULL,
};

static int has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	for (const char *p = list; (p = strstr(p, w)); p += n) {
		int l = p == list || p[-1] == ' ' || p[-1] == '\t';
		int r = p[n] == 0 || p[n] == ' ' || p[n] == '\n';
		if (l && r)
			return 1;
	}
	return 0;
}

static size_t llc_size(void)
{
	size_t best = 0;
	int best_level = 0;

	for (int i = 0; i < 8; i++) {
		char path[96], buf[64];
		FILE *f;
		int level = 0;
		size_t sz = 0;
		char unit = 0;

		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		if (!(f = fopen(path, "r")))
			break;
		if (fscanf(f, "%d", &level) != 1)
			level = 0;
		fclose(f);
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof buf, f) && sscanf(buf, "%zu%c", &sz, &unit) >= 1) {
			if (unit == 'K')
				sz <<= 10;
			else if (unit == 'M')
				sz <<= 20;
			if (level > best_level || (level == best_level && sz > best)) {
				best_level = level;
				best = sz;
			}
		}
		fclose(f);
	}
#ifdef _SC_LEVEL3_CACHE_SIZE
	if (!best) {
		long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
		best = l3 > 0 ? (size_t)l3 : l2 > 0 ? (size_t)l2 : 0;
	}
#endif
	return best;
}

int llm_bench_cpu_ticks(uint64_t *steal, uint64_t *total)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[8] = { 0 };
	int got = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			     &v[3], &v[4], &v[5], &v[6], &v[7])
		    : 0;

	if (f)
		fclose(f);
	*steal = *total = 0;
	if (got != 8)
		return -1;
	for (int i = 0; i < 8; i++) /* guest time is counted within user already */
		*total += v[i];
	*steal = v[7];
	return 0;
}

void llm_bench_cpu(struct llm_bench_cpu *out)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int got_model = 0, got_flags = 0;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(out, 0, sizeof *out);
	snprintf(out->model, sizeof out->model, "unknown");
	out->n_cpus = n > 0 ? (int)n : 1;
	out->llc_bytes = llc_size();
	while (f && fgets(line, sizeof line, f) && !(got_model && got_flags)) {
		char *colon = strchr(line, ':'), *v;
		if (!colon)
			continue;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = 0;
		if (!got_model && (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5) ||
				   !strncmp(line, "cpu model", 9))) {
			snprintf(out->model, sizeof out->model, "%s", v);
			got_model = 1;
		} else if (!got_flags && (!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8))) {
			size_t k = 0;
			for (int i = 0; simd_names[i]; i++) {
				if (!has_word(v, simd_names[i]))
					continue;
				/* "pni" is what Linux calls SSE3 */
				const char *nm = strcmp(simd_names[i], "pni") ? simd_names[i] : "sse3";
				int w = snprintf(out->simd + k, sizeof out->simd - k, "%s%s", k ? " " : "", nm);
				if (w < 0 || (size_t)w >= sizeof out->simd - k)
					break;
				k += (size_t)w;
			}
			got_flags = 1;
		}
	}
	if (f)
		fclose(f);
}

/* ===================== memory bandwidth ===================== */

/* 16-byte vectors: native on every x86-64 (SSE2) and Arm64 (NEON) without
 * -march flags; 32-byte ones would be split through the stack. */
typedef double v2d __attribute__((vector_size(16)));

struct bw_ctx {
	double *a, *b, *c;     /* b and c NULL when only reading */
	size_t n;
	int nth, reps;
	int kinds;             /* bit k: run kind k */
	double min_seconds;    /* keep passing until the timed passes span this long */
	double *times;         /* [kind * reps + r] for r < reps */
	double span[LLM_BW_COUNT]; /* wall time of all timed passes, barriers included */
	double best[LLM_BW_COUNT]; /* the fastest timed pass */
	int passes[LLM_BW_COUNT];
	int stop[LLM_BW_COUNT];    /* set by thread 0 between a pass's barriers */
	pthread_barrier_t bar;
	pthread_mutex_t gate; /* held by the caller until every thread exists */
};

struct bw_thr {
	struct bw_ctx *x;
	int id;
	double sink;
};

/* s += a[i]: four quarters of the slice read side by side (four streams
 * in flight, as a mat-vec reading several rows at once has: one stream
 * alone is limited by how many misses a core keeps outstanding, not by
 * memory; on the development machine 1 stream gave 12, 4 streams 14.5
 * GB/s, 8 no more), 8 independent accumulators of 2 doubles. */
static double bw_read(const double *a, size_t n)
{
	size_t q = n / 64 * 16; /* doubles per quarter, a multiple of 16 */
	const v2d *p0 = (const v2d *)a, *p1 = (const v2d *)(a + q);
	const v2d *p2 = (const v2d *)(a + 2 * q), *p3 = (const v2d *)(a + 3 * q);
	v2d s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, s4 = { 0 }, s5 = { 0 }, s6 = { 0 }, s7 = { 0 };
	size_t i;
	double s;

	for (i = 0; i < q / 2; i += 2) {
		s0 += p0[i], s1 += p0[i + 1];
		s2 += p1[i], s3 += p1[i + 1];
		s4 += p2[i], s5 += p2[i + 1];
		s6 += p3[i], s7 += p3[i + 1];
	}
	s0 += s1 + s2 + s3 + s4 + s5 + s6 + s7;
	s = s0[0] + s0[1];
	for (i = 4 * q; i < n; i++)
		s += a[i];
	return s;
}

static void bw_copy(double *restrict c, const double *restrict a, size_t n)
{
	v2d *vc = (v2d *)c;
	const v2d *va = (const v2d *)a;
	size_t nv = n / 2, i;

	for (i = 0; i < nv; i++)
		vc[i] = va[i];
	for (i = nv * 2; i < n; i++)
		c[i] = a[i];
}

static void bw_triad(double *restrict a, const double *restrict b, const double *restrict c,
		     double q, size_t n)
{
	v2d *va = (v2d *)a;
	const v2d *vb = (const v2d *)b, *vc = (const v2d *)c;
	size_t nv = n / 2, i;

	for (i = 0; i < nv; i++)
		va[i] = vb[i] + q * vc[i];
	for (i = nv * 2; i < n; i++)
		a[i] = b[i] + q * c[i];
}

static void *bw_worker(void *p)
{
	struct bw_thr *t = p;
	struct bw_ctx *x = t->x;

	pthread_mutex_lock(&x->gate); /* x->nth and the barrier are final now */
	pthread_mutex_unlock(&x->gate);
	if (t->id >= x->nth)
		return NULL;
	/* slices start on 64-byte boundaries (8 doubles) */
	size_t chunk = (x->n / (size_t)x->nth + 7) & ~(size_t)7;
	size_t lo = chunk * (size_t)t->id, hi = lo + chunk;
	double *a, *b, *c;
	size_t n;

	if (lo > x->n)
		lo = x->n;
	if (hi > x->n || t->id == x->nth - 1)
		hi = x->n;
	n = hi - lo;
	a = x->a + lo, b = x->b ? x->b + lo : NULL, c = x->c ? x->c + lo : NULL;
	for (size_t i = 0; i < n; i++)
		a[i] = 1.0;
	for (size_t i = 0; b && c && i < n; i++)
		b[i] = 2.0, c[i] = 0.0;
	for (int kind = 0; kind < LLM_BW_COUNT; kind++) {
		double start = 0;
		if (!(x->kinds & 1 << kind))
			continue;
		for (int r = -1;; r++) { /* r = -1: warm-up */
			double t0 = 0;
			pthread_barrier_wait(&x->bar);
			if (x->stop[kind]) /* written before the barrier by thread 0 */
				break;
			if (t->id == 0)
				t0 = llm_bench_now();
			if (t->id == 0 && r == 0)
				start = t0;
			if (kind == LLM_BW_READ)
				t->sink += bw_read(a, n);
			else if (kind == LLM_BW_COPY)
				bw_copy(c, a, n);
			else
				bw_triad(a, b, c, 3.0, n);
			pthread_barrier_wait(&x->bar);
			if (t->id || r < 0)
				continue;
			double now = llm_bench_now();
			if (r < x->reps)
				x->times[kind * x->reps + r] = now - t0;
			if (r == 0 || now - t0 < x->best[kind])
				x->best[kind] = now - t0;
			x->span[kind] = now - start;
			x->passes[kind] = r + 1;
			x->stop[kind] = r + 1 >= x->reps && x->span[kind] >= x->min_seconds;
		}
	}
	return NULL;
}

double llm_bench_bandwidth_bytes(int kind, size_t n)
{
	return (double)n * 8.0 * (kind == LLM_BW_READ ? 1 : kind == LLM_BW_COPY ? 2 : 3);
}

static int n_threads_or_all(int n)
{
	long c;
	if (n > 0)
		return n;
	c = sysconf(_SC_NPROCESSORS_ONLN);
	return c > 0 ? (int)c : 1;
}

/* The kinds in x->kinds over arrays of x->n doubles on x->nth threads
 * (x->reps, x->min_seconds and x->times set by the caller). */
static int bw_run(struct bw_ctx *x0)
{
	struct bw_ctx x = *x0;
	struct bw_thr *thr = NULL;
	pthread_t *tid = NULL;
	size_t bytes = x.n * sizeof(double);
	int started = 0, rc = 0, all = x.kinds != 1 << LLM_BW_READ;

	x.a = llm_alloc_stream(bytes);
	x.b = all ? llm_alloc_stream(bytes) : NULL;
	x.c = all ? llm_alloc_stream(bytes) : NULL;
	thr = calloc((size_t)x.nth, sizeof *thr);
	tid = calloc((size_t)x.nth, sizeof *tid);
	if (!x.a || (all && (!x.b || !x.c)) || !thr || !tid) {
		rc = llm_err(LLM_ENOMEM, "bandwidth: cannot allocate %d x %zu bytes", all ? 3 : 1, bytes);
		goto out;
	}
	for (int i = 0; i < x.nth; i++)
		thr[i] = (struct bw_thr){ &x, i, 0 };
	pthread_mutex_init(&x.gate, NULL);
	pthread_mutex_lock(&x.gate);
	for (started = 1; started < x.nth; started++)
		if (pthread_create(&tid[started], NULL, bw_worker, &thr[started]))
			break;
	if (started < x.nth) { /* workers that exist see id >= nth and leave */
		x.nth = 0;
		rc = llm_err(LLM_ENOMEM, "bandwidth: cannot start thread %d", started);
	} else if (pthread_barrier_init(&x.bar, NULL, (unsigned)x.nth)) {
		x.nth = 0;
		rc = llm_err(LLM_ENOMEM, "bandwidth: cannot create a barrier");
	}
	pthread_mutex_unlock(&x.gate);
	if (!rc) {
		bw_worker(&thr[0]);
	}
	for (int i = 1; i < started; i++)
		pthread_join(tid[i], NULL);
	if (!rc)
		pthread_barrier_destroy(&x.bar);
	pthread_mutex_destroy(&x.gate);
	memcpy(x0->span, x.span, sizeof x.span);
	memcpy(x0->passes, x.passes, sizeof x.passes);
	memcpy(x0->best, x.best, sizeof x.best);
out:
	free(x.a);
	free(x.b);
	free(x.c);
	free(thr);
	free(tid);
	return rc;
}

int llm_bench_bandwidth(double *times, size_t n, int n_threads, int reps)
{
	struct bw_ctx x = { 0 };

	if (n < 16 || reps < 1)
		return llm_err(LLM_EINVAL, "bandwidth: need at least 16 elements and one repetition");
	x.nth = n_threads_or_all(n_threads);
	x.n = n;
	x.reps = reps;
	x.kinds = (1 << LLM_BW_COUNT) - 1;
	x.times = times;
	return bw_run(&x);
}

int llm_bench_read_sustained(double *sustained, double *best, size_t n, int n_threads,
			     double seconds)
{
	struct bw_ctx x = { 0 };
	double t;

	if (n < 16 || !(seconds >= 0))
		return llm_err(LLM_EINVAL, "bandwidth: need at least 16 elements and a time >= 0");
	x.nth = n_threads_or_all(n_threads);
	x.n = n;
	x.reps = 1;
	x.kinds = 1 << LLM_BW_READ;
	x.min_seconds = seconds;
	x.times = &t;
	int rc = bw_run(&x);
	if (rc)
		return rc;
	*sustained = x.passes[LLM_BW_READ] * llm_bench_bandwidth_bytes(LLM_BW_READ, n) / x.span[LLM_BW_READ];
	*best = llm_bench_bandwidth_bytes(LLM_BW_READ, n) / x.best[LLM_BW_READ];
	return 0;
}

/* ===================== compute kernels ===================== */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Uniform in [-1, 1). */
static float frand(uint64_t *s) { return (float)((double)(xorshift(s) >> 11) / 4503599627370496.0 - 1.0); }

/* gemm.c's product, rows of B split over the pool as llm_matmul does */
struct gemm_job {
	float *c;         /* [m][n] */
	const float *a;   /* [m][k] */
	const float *b;   /* [n][k] */
	int m, n, k;
};

static void gemm_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
	(void)tid;
	struct gemm_job *g = arg;
	llm_gemm_nt(g->c + r0, g->n, g->a, g->k, g->b + r0 * g->k, LLM_TYPE_F32, g->k, g->m, r1 - r0,
		    g->k);
}

int llm_bench_gemm(double *times, int impl, int m, int n, int k, int n_threads, int reps)
{
	float *a = malloc(sizeof(float) * (size_t)m * (size_t)k);
	float *b = malloc(sizeof(float) * (size_t)k * (size_t)n);
	float *c = malloc(sizeof(float) * (size_t)m * (size_t)n);
	llm_threadpool *tp = NULL;
	uint64_t seed = 1;
	int saved = 0, rc = 0;

	if (impl != LLM_BENCH_GEMM_BLAS && impl != LLM_BENCH_GEMM_OWN)
		rc = llm_err(LLM_EINVAL, "sgemm: no implementation %d", impl);
	else if (!a || !b || !c)
		rc = llm_err(LLM_ENOMEM, "sgemm: cannot allocate %dx%dx%d", m, n, k);
	else if (impl == LLM_BENCH_GEMM_OWN)
		rc = llm_threadpool_new(&tp, n_threads_or_all(n_threads));
	if (rc) {
		free(a), free(b), free(c);
		return rc;
	}
	for (size_t i = 0; i < (size_t)m * (size_t)k; i++)
		a[i] = frand(&seed);
	for (size_t i = 0; i < (size_t)k * (size_t)n; i++)
		b[i] = frand(&seed);
	struct gemm_job g = { c, a, b, m, n, k };
	if (impl == LLM_BENCH_GEMM_BLAS) {
		saved = llm_blas_threads();
		llm_blas_set_threads(n_threads_or_all(n_threads));
	}
	for (int r = -1; r < reps; r++) {
		double t0 = llm_bench_now();
		/* C (m x n) = A (m x k) B^T, B stored n x k as weights are */
		if (impl == LLM_BENCH_GEMM_BLAS)
			llm_blas_sgemm_nt(m, n, k, a, k, b, k, c, n);
		else
			llm_threadpool_run(tp, n, 48, 16, gemm_rows, &g); /* as llm_matmul */
		if (r >= 0)
			times[r] = llm_bench_now() - t0;
	}
	if (impl == LLM_BENCH_GEMM_BLAS)
		llm_blas_set_threads(saved);
	llm_threadpool_free(tp);
	free(a), free(b), free(c);
	return 0;
}

int llm_bench_sgemm(double *times, int m, int n, int k, int n_threads, int reps)
{
	return llm_bench_gemm(times, LLM_BENCH_GEMM_BLAS, m, n, k, n_threads, reps);
}

int llm_bench_quant(double *tq, double *tdq, int type, int64_t n, int reps)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	size_t qbytes;
	float *x, *y;
	void *q;
	uint64_t seed = 7;

	if (!tt || !tt->from_float || !tt->to_float)
		return llm_err(LLM_EUNSUPPORTED, "quant: type %s cannot be converted both ways",
			       llm_type_name(type));
	if (!(qbytes = llm_type_row_size(type, n)))
		return llm_err(LLM_EINVAL, "quant: %lld values are not whole %s blocks", (long long)n,
			       tt->name);
	x = malloc(sizeof(float) * (size_t)n);
	y = malloc(sizeof(float) * (size_t)n);
	q = malloc(qbytes);
	if (!x || !y || !q) {
		free(x), free(y), free(q);
		return llm_err(LLM_ENOMEM, "quant: cannot allocate %lld values", (long long)n);
	}
	for (int64_t i = 0; i < n; i++)
		x[i] = frand(&seed);
	for (int r = -1; r < reps; r++) {
		double t0 = llm_bench_now(), t1;
		tt->from_float(x, q, n);
		t1 = llm_bench_now();
		tt->to_float(q, y, n);
		if (r >= 0) {
			tq[r] = t1 - t0;
			tdq[r] = llm_bench_now() - t1;
		}
	}
	free(x), free(y), free(q);
	return 0;
}

int llm_bench_matvec(double *times, double *bytes, int type, int64_t n, int64_t d, int n_mats,
		     int n_threads, int reps)
{
	const struct llm_type_traits *tt = llm_type_traits(type);
	size_t row = llm_type_row_size(type, n), mat = row * (size_t)d;
	/* decoding's path: the quantized types through qpack where the CPU
	 * has it (n a whole number of blocks: row is 0 otherwise, refused
	 * below) */
	int packed = llm_qpack_available(type);
	/* F16/BF16 in panels (fpack.h) where the CPU has AVX-512 */
	int panels = !packed && llm_fpack_available(type);
	float *x = NULL, *y = NULL, *wf = NULL;
	uint8_t *w = NULL;
	void *xq = NULL;
	llm_qpack **pk = NULL;
	llm_fpack **fp = NULL;
	llm_threadpool *tp = NULL;
	uint64_t seed = 11;
	int rc = 0;

	if (!tt || !llm_kernel_type_ok(type) || !row)
		return llm_err(LLM_EUNSUPPORTED, "matvec: no kernel for %s rows of %lld",
			       llm_type_name(type), (long long)n);
	if (n_mats < 1 || d < 1 || reps < 1)
		return llm_err(LLM_EINVAL, "matvec: empty problem");
	x = malloc(sizeof(float) * (size_t)n);
	y = malloc(sizeof(float) * (size_t)d * (size_t)n_mats);
	wf = malloc(sizeof(float) * (size_t)n);
	/* packed: one matrix to pack from, each copy lives in its pack */
	w = packed || panels ? malloc(mat) : llm_alloc_stream(mat * (size_t)n_mats);
	if (packed) {
		pk = calloc((size_t)n_mats, sizeof *pk);
		xq = aligned_alloc(64, llm_qpack_x_size(n, 1));
	}
	if (panels)
		fp = calloc((size_t)n_mats, sizeof *fp);
	if (!x || !y || !wf || !w || (packed && (!pk || !xq)) || (panels && !fp)) {
		rc = llm_err(LLM_ENOMEM, "matvec: cannot allocate %d x %zu bytes", n_mats, mat);
		goto out;
	}
	for (int64_t i = 0; i < n; i++)
		x[i] = frand(&seed);
	/* W (d x n): rows of N(0,1)-ish values, quantized one row at a time;
	 * the K-quants, which have no encoder, random valid blocks */
	for (int64_t r = 0; r < d; r++) {
		if (!tt->from_float) {
			if (llm_type_random_blocks(type, w + (size_t)r * row, n, &seed)) {
				rc = llm_err(LLM_EUNSUPPORTED, "matvec: cannot make %s rows", llm_type_name(type));
				goto out;
			}
			continue;
		}
		for (int64_t i = 0; i < n; i++)
			wf[i] = frand(&seed);
		tt->from_float(wf, w + (size_t)r * row, n);
	}
	if ((rc = llm_threadpool_new(&tp, n_threads_or_all(n_threads))))
		goto out;
	for (int k = 0; k < n_mats; k++) {
		const void *wp = w;
		if (packed)
			rc = llm_qpack_new(&pk[k], w, type, n, d, tp);
		else if (panels)
			rc = llm_fpack_new(&fp[k], &wp, &d, 1, type, n, tp);
		else if (k)
			memcpy(w + (size_t)k * mat, w, mat);
		if (rc)
			goto out;
	}
	for (int r = -1; r < reps; r++) {
		double t0 = llm_bench_now();
		/* y_k (d) = W_k (d x n) x (n), for every copy k */
		for (int k = 0; k < n_mats; k++) {
			float *yk = y + (size_t)k * (size_t)d;
			if (packed) {
				/* as decoding does: x rounded once per product */
				llm_qpack_quant_x(xq, x, n, 1);
				llm_qpack_matmul(yk, pk[k], xq, 1, tp);
			} else if (panels) {
				llm_fpack_matmul(yk, fp[k], x, 1, tp);
			} else {
				llm_matvec(yk, w + (size_t)k * mat, type, x, n, d, tp);
			}
		}
		if (r >= 0)
			times[r] = llm_bench_now() - t0;
	}
	*bytes = (double)mat * n_mats;
out:
	if (pk)
		for (int k = 0; k < n_mats; k++)
			llm_qpack_free(pk[k]);
	if (fp)
		for (int k = 0; k < n_mats; k++)
			llm_fpack_free(fp[k]);
	llm_threadpool_free(tp);
	free(pk), free(fp), free(xq);
	free(x), free(y), free(wf), free(w);
	return rc;
}

int llm_bench_attention(double *times, size_t *scratch, int flash, int seq, int n_q, int n_head,
			int n_head_kv, int head_dim, int n_threads, int reps)
{
	if (n_q < 1 || n_q > seq)
		return llm_err(LLM_EINVAL, "attention: %d queries for %d positions", n_q, seq);
	size_t nq = (size_t)n_q * (size_t)n_head * (size_t)head_dim;
	size_t nkv = (size_t)seq * (size_t)n_head_kv * (size_t)head_dim;
	struct llm_attn a = { 0 };
	float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nkv);
	float *v = malloc(sizeof(float) * nkv), *out = malloc(sizeof(float) * nq);
	void *scr = NULL;
	llm_threadpool *tp = NULL;
	uint64_t seed = 5;
	int rc = 0, nth = n_threads_or_all(n_threads);

	if (!q || !k || !v || !out) {
		rc = llm_err(LLM_ENOMEM, "attention: cannot allocate %d positions", seq);
		goto out;
	}
	for (size_t i = 0; i < nq; i++)
		q[i] = frand(&seed);
	for (size_t i = 0; i < nkv; i++)
		k[i] = frand(&seed), v[i] = frand(&seed);
	a.n_q = n_q;
	a.pos0 = seq - n_q;
	a.n_head = n_head;
	a.n_head_kv = n_head_kv;
	a.head_dim = head_dim;
	a.scale = 1.0f / sqrtf((float)head_dim);
	a.q = q, a.k = k, a.v = v, a.out = out;
	*scratch = flash ? llm_attn_flash_scratch(&a, nth) : llm_attn_naive_scratch(&a, nth);
	if (*scratch && !(scr = malloc(*scratch))) {
		rc = llm_err(LLM_ENOMEM, "attention: cannot allocate %zu bytes of scratch", *scratch);
		goto out;
	}
	if ((rc = llm_threadpool_new(&tp, nth)))
		goto out;
	for (int r = -1; r < reps && !rc; r++) {
		double t0 = llm_bench_now();
		rc = flash ? llm_attn_flash(&a, tp, scr) : llm_attn_naive(&a, tp, scr);
		if (r >= 0)
			times[r] = llm_bench_now() - t0;
	}
out:
	llm_threadpool_free(tp);
	free(q), free(k), free(v), free(out), free(scr);
	return rc;
}

/* ===================== model benchmarks ===================== */

static int random_tokens(int32_t *tok, int n, const llm_model *m, uint64_t *seed)
{
	int32_t nv = llm_model_hparams(m)->n_vocab;
	if (nv <= 0)
		return llm_err(LLM_EINVAL, "model has no vocabulary");
	for (int i = 0; i < n; i++)
		tok[i] = (int32_t)(xorshift(seed) % (uint64_t)nv);
	return 0;
}

int llm_bench_pp(double *seconds, llm_model *m, int n, uint64_t *seed)
{
	const struct llm_hparams *hp = llm_model_hparams(m);
	int32_t *tok = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
	float *logits = malloc(sizeof(float) * (size_t)hp->n_vocab);
	int rc;
	double t0;

	if (!tok || !logits) {
		free(tok), free(logits);
		return llm_err(LLM_ENOMEM, "pp%d: out of memory", n);
	}
	if (!(rc = random_tokens(tok, n, m, seed))) {
		t0 = llm_bench_now();
		rc = llm_model_eval(m, tok, n, 0, logits, 0);
		*seconds = llm_bench_now() - t0;
	}
	free(tok), free(logits);
	return rc;
}

int llm_bench_tg_read(double *seconds, double *read_bps, double *read_best, llm_model *m, int n,
		      int every, size_t read_n, int n_threads, uint64_t *seed)
{
	const struct llm_hparams *hp = llm_model_hparams(m);
	int32_t *tok = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
	float *logits = malloc(sizeof(float) * (size_t)hp->n_vocab);
	double dec = 0, rd = 0, rbytes = 0, best = 0;
	int rc;

	if (!tok || !logits) {
		free(tok), free(logits);
		return llm_err(LLM_ENOMEM, "tg%d: out of memory", n);
	}
	if (every < 1 || !read_n)
		every = n > 0 ? n : 1;
	rc = random_tokens(tok, n, m, seed);
	for (int i0 = 0; i0 < n && !rc; i0 += every) {
		int i1 = i0 + every < n ? i0 + every : n;
		double t0 = llm_bench_now(), seg, sus, pk;
		for (int i = i0; i < i1 && !rc; i++)
			rc = llm_model_eval(m, &tok[i], 1, i, logits, 0);
		seg = llm_bench_now() - t0;
		dec += seg;
		if (!rc && read_n && !(rc = llm_bench_read_sustained(&sus, &pk, read_n, n_threads, seg))) {
			rbytes += sus * seg; /* the segment's share, weighted by its time */
			rd += seg;
			best = pk > best ? pk : best;
		}
	}
	if (!rc) {
		*seconds = dec;
		if (read_bps)
			*read_bps = rd > 0 ? rbytes / rd : 0;
		if (read_best)
			*read_best = best;
	}
	free(tok), free(logits);
	return rc;
}

int llm_bench_tg(double *seconds, llm_model *m, int n, uint64_t *seed)
{
	return llm_bench_tg_read(seconds, NULL, NULL, m, n, n, 0, 0, seed);
}

void llm_bench_model_size(const llm_ckpt *c, int64_t *n_params, uint64_t *n_bytes, int *main_type)
{
	int64_t per_type[LLM_TYPE_COUNT] = { 0 };
	int64_t nt = llm_ckpt_n_tensors(c);

	*n_params = 0;
	*n_bytes = 0;
	*main_type = -1;
	for (int64_t i = 0; i < nt; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, i);
		int64_t ne = llm_tensor_nelem(t);
		*n_params += ne;
		*n_bytes += t->size;
		if (t->n_dims >= 2 && t->type >= 0 && t->type < LLM_TYPE_COUNT)
			per_type[t->type] += ne;
	}
	for (int t = 0; t < LLM_TYPE_COUNT; t++)
		if (per_type[t] && (*main_type < 0 || per_type[t] > per_type[*main_type]))
			*main_type = t;
}
