/* threadpool.c - persistent pthreads for the forward pass.
 *
 * Why spin first: a decode step issues ~10 parallel-fors per layer, each a
 * few microseconds of work on small models; waking sleeping threads through
 * a condition variable costs about as much as the work.  Workers therefore
 * spin on the job generation for a while (pause instruction), and only then
 * sleep.  The caller spins on the "done" count: chunks are equal in size so
 * the wait is short.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"
#include "threadpool.h"

#define SPIN_ITERS 20000

struct llm_threadpool {
	int n;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint gen;     /* incremented for each job (and at shutdown) */
	atomic_int pending;  /* workers still running the current job */
	atomic_int sleeping; /* workers waiting on cv */
	int stop;
	/* the current job, written by the caller before gen is bumped */
	llm_parallel_fn fn;
	void *arg;
	int64_t chunk_begin[64 + 1];
	int n_chunks;
};

struct worker_arg {
	llm_threadpool *tp;
	int tid;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

int llm_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

static void run_chunk(llm_threadpool *tp, int tid)
{
	if (tid < tp->n_chunks && tp->chunk_begin[tid] < tp->chunk_begin[tid + 1])
		tp->fn(tp->arg, tp->chunk_begin[tid], tp->chunk_begin[tid + 1], tid);
}

static void *worker(void *p)
{
	struct worker_arg wa = *(struct worker_arg *)p;
	free(p);
	llm_threadpool *tp = wa.tp;
	unsigned seen = 0; /* gen at creation: a job may be posted before we run */
	for (;;) {
		int spins = 0;
		unsigned g;
		while ((g = atomic_load_explicit(&tp->gen, memory_order_acquire)) == seen) {
			if (++spins < SPIN_ITERS) {
				cpu_relax();
				continue;
			}
			pthread_mutex_lock(&tp->mu);
			atomic_fetch_add(&tp->sleeping, 1);
			while (atomic_load(&tp->gen) == seen)
				pthread_cond_wait(&tp->cv, &tp->mu);
			atomic_fetch_sub(&tp->sleeping, 1);
			pthread_mutex_unlock(&tp->mu);
		}
		seen = g;
		if (tp->stop)
			return NULL;
		run_chunk(tp, wa.tid);
		atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_release);
	}
}

int llm_threadpool_new(llm_threadpool **out, int n_threads)
{
	*out = NULL;
	if (n_threads <= 0)
		n_threads = llm_cpu_count();
	if (n_threads > 64)
		n_threads = 64;
	llm_threadpool *tp = calloc(1, sizeof *tp);
	if (!tp)
		return llm_err(LLM_ENOMEM, "thread pool: out of memory");
	tp->n = 1;
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	atomic_init(&tp->gen, 0);
	atomic_init(&tp->pending, 0);
	atomic_init(&tp->sleeping, 0);
	tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
	if (!tp->threads) {
		llm_threadpool_free(tp);
		return llm_err(LLM_ENOMEM, "thread pool: out of memory");
	}
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (!wa) {
			llm_threadpool_free(tp);
			return llm_err(LLM_ENOMEM, "thread pool: out of memory");
		}
		wa->tp = tp;
		wa->tid = i;
		int e = pthread_create(&tp->threads[i], NULL, worker, wa);
		if (e) {
			free(wa);
			llm_threadpool_free(tp);
			return llm_err(LLM_ENOMEM, "thread pool: cannot start thread %d: %s", i,
				       e == EAGAIN ? "resource limit" : "pthread_create failed");
		}
		tp->n = i + 1;
	}
	*out = tp;
	return 0;
}

void llm_threadpool_free(llm_threadpool *tp)
{
	if (!tp)
		return;
	if (tp->n > 1) {
		pthread_mutex_lock(&tp->mu);
		tp->stop = 1;
		atomic_fetch_add(&tp->gen, 1);
		pthread_cond_broadcast(&tp->cv);
		pthread_mutex_unlock(&tp->mu);
		for (int i = 1; i < tp->n; i++)
			pthread_join(tp->threads[i], NULL);
	}
	pthread_mutex_destroy(&tp->mu);
	pthread_cond_destroy(&tp->cv);
	free(tp->threads);
	free(tp);
}

int llm_threadpool_size(const llm_threadpool *tp) { return tp ? tp->n : 1; }

void llm_threadpool_run(llm_threadpool *tp, int64_t n, int64_t grain, int64_t align,
			llm_parallel_fn fn, void *arg)
{
	if (n <= 0)
		return;
	if (grain < 1)
		grain = 1;
	if (align < 1)
		align = 1;
	int nw = tp ? tp->n : 1;
	int64_t max_chunks = n / grain;
	if (max_chunks < 1)
		max_chunks = 1;
	if (nw > max_chunks)
		nw = (int)max_chunks;
	if (nw <= 1) {
		fn(arg, 0, n, 0);
		return;
	}
	/* equal chunks rounded to align */
	int64_t units = (n + align - 1) / align;
	tp->n_chunks = tp->n;
	for (int i = 0; i <= tp->n; i++) {
		int64_t b = i >= nw ? units : units * i / nw;
		int64_t e = b * align;
		tp->chunk_begin[i] = e > n ? n : e;
	}
	tp->fn = fn;
	tp->arg = arg;
	atomic_store(&tp->pending, tp->n - 1);
	atomic_fetch_add_explicit(&tp->gen, 1, memory_order_release);
	if (atomic_load(&tp->sleeping) > 0) {
		pthread_mutex_lock(&tp->mu);
		pthread_cond_broadcast(&tp->cv);
		pthread_mutex_unlock(&tp->mu);
	}
	run_chunk(tp, 0);
	while (atomic_load_explicit(&tp->pending, memory_order_acquire) > 0)
		cpu_relax();
}
