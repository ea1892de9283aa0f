/* threadpool.c - persistent pthreads for the forward pass.
 *
 * A job is cut into chunks that threads claim from a shared counter: the
 * caller claims chunks too, so a worker that the scheduler has not run yet
 * (2 cores shared with other processes) delays nothing - the caller simply
 * does its chunks.  The claim word carries the job's generation (bits
 * 32-63), its chunk count (16-31) and the next chunk (0-15): a claim is
 * one compare-and-swap of that word, so a worker can only take a chunk of
 * the job it checked, and of a job whose chunks are not all taken.  (With
 * the count read from the job instead, a worker leaving job k could read
 * job k+1's larger count before the caller published k+1's claim word, and
 * claim a chunk "of job k" that was job k+1's, run with either job's
 * function and argument.)  The caller rewrites the job only after every
 * chunk is done, and a finished job has next == count, so no thread that
 * holds a chunk of a plain job reads it while it changes; only a worker
 * whose output-job chunk was taken over can (below).
 *
 * Output jobs (llm_threadpool_run_out) exist for a virtual machine's
 * hypervisor, which stops a vCPU for 10 ms and more at a time (7-10% of
 * each vCPU on the development VM): a worker stopped in the middle of a
 * chunk would hold the caller, and the whole forward pass, until it runs
 * again.  An output job's fn writes its results to a buffer of its own;
 * the thread that commits a chunk (a compare-and-swap of the chunk's
 * commit word, tagged with the job's generation) copies them to y.  With
 * redo allowed, a caller that has waited for a worker's chunk as long as
 * its own work took computes that chunk itself and moves on; the stopped
 * worker, once it runs, fails the commit and throws its results away.
 * Because it may by then be reading a job the caller has replaced, a
 * thread takes a job's description (function, argument bytes, range) as
 * a seqlock reader: it checks the description's generation before and
 * after copying it, and drops a chunk whose job has gone.
 *
 * Why spin first: a decode step issues ~10 parallel-fors per layer, each a
 * few microseconds of work on small models; waking sleeping threads through
 * a condition variable costs about as much as the work.  Workers therefore
 * spin on the generation for a short while, then sleep.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "threadpool.h"

#define SPIN_ITERS 4000
#define MAX_THREADS 64
#define MAX_CHUNKS (4 * MAX_THREADS)
_Static_assert(MAX_CHUNKS < 0xffff, "chunk count and index are 16-bit fields of the claim word");
#define ARG_WORDS (LLM_POOL_ARG_MAX / 8)
#define REDO_MIN_NS 50000 /* never redo a chunk after less waiting than this */

/* a thread's own output buffer (out jobs with redo) */
struct scratch {
	float *p;
	size_t cap;
};

struct worker_arg {
	llm_threadpool *tp;
	int tid;
	struct scratch s;
};

struct llm_threadpool {
	int n;
	pthread_t *threads;
	struct worker_arg *wa;    /* [n]: wa[0] is the caller's */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint gen;          /* bumped for each job (and at shutdown) */
	atomic_uint_least64_t claim; /* gen << 32 | n_chunks << 16 | next chunk */
	atomic_int done;          /* chunks finished (committed) in the current job */
	atomic_int sleeping;      /* workers waiting on cv */
	atomic_llong redone;      /* chunks the caller took over from a worker */
	int stop;
	atomic_int redo;          /* llm_threadpool_allow_redo (late workers read it too) */
	/* The current job's description, valid while desc == its gen (0 while
	 * it is written); every field is atomic because a stale reader may be
	 * copying it while the caller rewrites it (and then drops the copy). */
	atomic_uint desc;
	_Atomic(llm_parallel_fn) fn;
	_Atomic(void *) arg;
	_Atomic(llm_parallel_out_fn) ofn; /* non-NULL: an output job */
	atomic_uint_least64_t oarg[ARG_WORDS];
	_Atomic(float *) y;
	atomic_llong per_item, y_len;
	atomic_llong chunk_begin[MAX_CHUNKS + 1];
	_Atomic(llm_parallel_idle_fn) ifn; /* the job's idle hint (llm_threadpool_then) */
	_Atomic(const void *) iarg;
	llm_parallel_idle_fn then_fn;      /* the hint for the next job (caller's) */
	const void *then_arg;
	/* output jobs: (gen << 1) while chunk c is not committed, | 1 after */
	atomic_uint_least64_t commit[MAX_CHUNKS];
};

/* What a thread copies of the job before running one of its chunks. */
struct snap {
	llm_parallel_fn fn;
	void *arg;
	llm_parallel_out_fn ofn;
	uint64_t oarg[ARG_WORDS];
	float *y;
	int64_t per_item, y_len, b, e;
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

#define RLX memory_order_relaxed

/* Copy job g's description and chunk c's range (seqlock reader); 0 when
 * the job is no longer g. */
static int take(llm_threadpool *tp, unsigned g, int c, struct snap *s)
{
	if (atomic_load_explicit(&tp->desc, memory_order_acquire) != g)
		return 0;
	s->fn = atomic_load_explicit(&tp->fn, RLX);
	s->arg = atomic_load_explicit(&tp->arg, RLX);
	s->ofn = atomic_load_explicit(&tp->ofn, RLX);
	for (int i = 0; i < ARG_WORDS; i++)
		s->oarg[i] = atomic_load_explicit(&tp->oarg[i], RLX);
	s->y = atomic_load_explicit(&tp->y, RLX);
	s->per_item = atomic_load_explicit(&tp->per_item, RLX);
	s->y_len = atomic_load_explicit(&tp->y_len, RLX);
	s->b = atomic_load_explicit(&tp->chunk_begin[c], RLX);
	s->e = atomic_load_explicit(&tp->chunk_begin[c + 1], RLX);
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&tp->desc, RLX) == g;
}

/* Room for n floats in a thread's own buffer, or NULL. */
static float *room(struct scratch *sc, size_t n)
{
	if (n > sc->cap) {
		float *p = realloc(sc->p, n * sizeof *p);
		if (!p)
			return NULL;
		sc->p = p, sc->cap = n;
	}
	return sc->p;
}

/* Chunk c of job g, taken as snapshot s, run by thread wa; 1 when this
 * thread committed it.  An output job's chunk is written by the thread
 * that commits it only: with redo, results go to the thread's own buffer
 * and are copied to y after the commit; without (or when that buffer
 * cannot grow) the thread commits first and writes y in place. */
static int run_chunk(llm_threadpool *tp, unsigned g, int c, const struct snap *s,
		     struct worker_arg *wa)
{
	if (!s->ofn) {
		s->fn(s->arg, s->b, s->e, wa->tid);
		atomic_fetch_add(&tp->done, 1);
		return 1;
	}
	int64_t o = s->b * s->per_item, len = (s->e - s->b) * s->per_item;
	if (len > s->y_len - o)
		len = s->y_len - o;
	float *buf = atomic_load_explicit(&tp->redo, RLX) ? room(&wa->s, (size_t)((s->e - s->b) * s->per_item)) : NULL;
	uint64_t open = (uint64_t)g << 1;
	if (buf)
		s->ofn(s->oarg, s->b, s->e, buf);
	if (!atomic_compare_exchange_strong(&tp->commit[c], &open, open | 1))
		return 0; /* another thread committed it meanwhile: drop ours */
	if (!buf)
		s->ofn(s->oarg, s->b, s->e, s->y + o);
	else if (len > 0)
		memcpy(s->y + o, buf, (size_t)len * sizeof *buf);
	atomic_fetch_add(&tp->done, 1);
	return 1;
}

/* Claim and run chunks of job g until none is left (or the job changed). */
static void work(llm_threadpool *tp, unsigned g, struct worker_arg *wa)
{
	for (;;) {
		uint64_t s = atomic_load(&tp->claim);
		int c = (int)(s & 0xffff), nc = (int)((s >> 16) & 0xffff);
		if ((unsigned)(s >> 32) != g || c >= nc)
			return;
		if (!atomic_compare_exchange_weak(&tp->claim, &s, s + 1))
			continue;
		struct snap sn;
		if (!take(tp, g, c, &sn))
			return; /* job g finished without this chunk of ours (redone) */
		run_chunk(tp, g, c, &sn, wa);
	}
}

/* Job g's idle hint, if job g is still the current one (seqlock reader). */
static void idle(llm_threadpool *tp, unsigned g, int tid)
{
	if (atomic_load_explicit(&tp->desc, memory_order_acquire) != g)
		return;
	llm_parallel_idle_fn fn = atomic_load_explicit(&tp->ifn, RLX);
	const void *arg = atomic_load_explicit(&tp->iarg, RLX);
	atomic_thread_fence(memory_order_acquire);
	if (fn && atomic_load_explicit(&tp->desc, RLX) == g)
		fn(arg, tp, tid);
}

static void *worker(void *p)
{
	struct worker_arg *wa = p;
	llm_threadpool *tp = wa->tp;
	unsigned seen = 0; /* gen at creation */
	for (;;) {
		int spins = 0;
		unsigned g;
		while ((g = atomic_load(&tp->gen)) == seen) {
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
		work(tp, g, wa);
		idle(tp, g, wa->tid);
	}
}

int llm_threadpool_new(llm_threadpool **out, int n_threads)
{
	*out = NULL;
	if (n_threads <= 0)
		n_threads = llm_cpu_count();
	if (n_threads > MAX_THREADS)
		n_threads = MAX_THREADS;
	llm_threadpool *tp = calloc(1, sizeof *tp);
	if (!tp)
		return llm_err(LLM_ENOMEM, "thread pool: out of memory");
	tp->n = 1;
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	atomic_init(&tp->gen, 0);
	atomic_init(&tp->claim, 0);
	atomic_init(&tp->done, 0);
	atomic_init(&tp->sleeping, 0);
	atomic_init(&tp->redone, 0);
	atomic_init(&tp->desc, 0);
	atomic_init(&tp->redo, 0);
	atomic_init(&tp->ifn, (llm_parallel_idle_fn)NULL);
	atomic_init(&tp->iarg, (const void *)NULL);
	tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
	tp->wa = calloc((size_t)n_threads, sizeof *tp->wa);
	if (!tp->threads || !tp->wa) {
		llm_threadpool_free(tp);
		return llm_err(LLM_ENOMEM, "thread pool: out of memory");
	}
	tp->wa[0] = (struct worker_arg){ tp, 0, { NULL, 0 } };
	for (int i = 1; i < n_threads; i++) {
		tp->wa[i] = (struct worker_arg){ tp, i, { NULL, 0 } };
		int e = pthread_create(&tp->threads[i], NULL, worker, &tp->wa[i]);
		if (e) {
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
	if (tp->n > 1) { /* joined first: a stale worker may still be in a chunk */
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
	for (int i = 0; tp->wa && i < tp->n; i++)
		free(tp->wa[i].s.p);
	free(tp->wa);
	free(tp->threads);
	free(tp);
}

int llm_threadpool_size(const llm_threadpool *tp) { return tp ? tp->n : 1; }

void llm_threadpool_then(llm_threadpool *tp, llm_parallel_idle_fn fn, const void *arg)
{
	if (tp)
		tp->then_fn = fn, tp->then_arg = arg;
}

void llm_threadpool_allow_redo(llm_threadpool *tp, int on)
{
	if (tp)
		atomic_store(&tp->redo, on != 0);
}

long long llm_threadpool_redone(const llm_threadpool *tp)
{
	return tp ? (long long)atomic_load(&((llm_threadpool *)tp)->redone) : 0;
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Start rewriting the job's description (seqlock writer: readers that
 * see desc 0, or anything but their own generation, drop their copy),
 * the idle hint first: the one given for this job, if any. */
static void describe_begin(llm_threadpool *tp)
{
	atomic_store_explicit(&tp->desc, 0, RLX);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&tp->ifn, tp->then_fn, RLX);
	atomic_store_explicit(&tp->iarg, tp->then_arg, RLX);
	tp->then_fn = NULL, tp->then_arg = NULL;
}

/* The size, in units of align, of chunk nc of a job with nw threads when
 * left units remain, least at the smallest. */
static int64_t chunk_units(int nw, int64_t left, int64_t least, int nc)
{
	int64_t sz = (left + 2 * nw - 1) / (2 * nw);
	if (sz < least)
		sz = least;
	return sz > left || nc == MAX_CHUNKS - 1 ? left : sz;
}

/* Cut [0, n) into chunks (chunk_begin) and return their count: guided,
 * each chunk a 1/(2 nw) share of what is left, down to grain.  The first
 * chunks are long forward streams; the short last ones let a thread that
 * is ahead (the other slowed by its neighbours or by a hypervisor) take
 * over the tail.  TinyLlama shape on Zen 4, against 2 nw equal chunks,
 * medians of 6 alternated runs: Q4_0 decode 44.4 against 41.2 tok/s, Q8_0
 * 24.2 against 24.1, F16 13.4 against 13.1. */
static int cut(llm_threadpool *tp, int64_t n, int64_t grain, int64_t align)
{
	int64_t left = (n + align - 1) / align, pos = 0, least = (grain + align - 1) / align;
	int nc = 0;
	while (left > 0) {
		int64_t sz = chunk_units(tp->n, left, least, nc), e = pos * align;
		atomic_store_explicit(&tp->chunk_begin[nc++], e > n ? n : e, RLX);
		pos += sz, left -= sz;
	}
	atomic_store_explicit(&tp->chunk_begin[nc], n, RLX);
	return nc;
}

/* a job of n items too small to share (or no pool): fn runs in the caller */
static int alone(const llm_threadpool *tp, int64_t n, int64_t grain)
{
	return !tp || tp->n <= 1 || n / grain <= 1;
}

int64_t llm_threadpool_chunk_begin(const llm_threadpool *tp, int64_t n, int64_t grain,
				   int64_t align, int c)
{
	grain = grain < 1 ? 1 : grain, align = align < 1 ? 1 : align;
	if (alone(tp, n, grain)) /* one chunk */
		return c == 0 && n > 0 ? 0 : n;
	int64_t left = (n + align - 1) / align, pos = 0, least = (grain + align - 1) / align;
	for (int k = 0; k < c && left > 0; k++) {
		int64_t sz = chunk_units(llm_threadpool_size(tp), left, least, k);
		pos += sz, left -= sz;
	}
	return left > 0 && pos * align < n ? pos * align : n;
}

/* Publish the job just described (nc chunks) and wake the workers. */
static unsigned publish(llm_threadpool *tp, int nc)
{
	unsigned g = atomic_load(&tp->gen) + 1;
	if (!g) /* desc 0 means "being written" */
		g = 1;
	for (int c = 0; c < nc; c++)
		atomic_store_explicit(&tp->commit[c], (uint64_t)g << 1, RLX);
	atomic_store(&tp->done, 0);
	atomic_store_explicit(&tp->desc, g, memory_order_release);
	atomic_store(&tp->claim, (uint64_t)g << 32 | (uint64_t)nc << 16);
	atomic_store(&tp->gen, g);
	if (atomic_load(&tp->sleeping) > 0) {
		pthread_mutex_lock(&tp->mu);
		pthread_cond_broadcast(&tp->cv);
		pthread_mutex_unlock(&tp->mu);
	}
	return g;
}

/* The caller computes every chunk of output job g that no thread has
 * committed, committing those it gets to first. */
static void take_over(llm_threadpool *tp, unsigned g, int nc)
{
	for (int c = 0; c < nc; c++) {
		struct snap sn;
		if (atomic_load(&tp->commit[c]) != (uint64_t)g << 1 || !take(tp, g, c, &sn))
			continue;
		if (run_chunk(tp, g, c, &sn, &tp->wa[0]))
			atomic_fetch_add(&tp->redone, 1);
	}
}

/* The caller's part of job g: its chunks, then waiting for the others';
 * an output job with redo allowed is taken over once the wait has lasted
 * as long as the caller's own work (and REDO_MIN_NS). */
static void run_job(llm_threadpool *tp, unsigned g, int nc, int may_redo)
{
	int64_t t0 = may_redo ? now_ns() : 0;
	work(tp, g, &tp->wa[0]);
	int64_t t1 = may_redo ? now_ns() : 0, patience = t1 - t0;
	idle(tp, g, 0);
	if (patience < REDO_MIN_NS)
		patience = REDO_MIN_NS;
	for (int spins = 0; atomic_load(&tp->done) < nc; spins++) {
		if (may_redo && !(spins & 63) && now_ns() - t1 > patience) {
			take_over(tp, g, nc);
			may_redo = 0; /* what is left is being committed */
		}
		if (spins < SPIN_ITERS)
			cpu_relax();
		else
			sched_yield(); /* a worker holding a chunk was preempted */
	}
}

static int64_t clamp1(int64_t v) { return v < 1 ? 1 : v; }

void llm_threadpool_run(llm_threadpool *tp, int64_t n, int64_t grain, int64_t align,
			llm_parallel_fn fn, void *arg)
{
	if (n <= 0) {
		llm_threadpool_then(tp, NULL, NULL);
		return;
	}
	grain = clamp1(grain), align = clamp1(align);
	if (alone(tp, n, grain)) {
		llm_threadpool_then(tp, NULL, NULL); /* the hint was for this job */
		fn(arg, 0, n, 0);
		return;
	}
	describe_begin(tp);
	int nc = cut(tp, n, grain, align);
	atomic_store_explicit(&tp->fn, fn, RLX);
	atomic_store_explicit(&tp->arg, arg, RLX);
	atomic_store_explicit(&tp->ofn, (llm_parallel_out_fn)NULL, RLX);
	run_job(tp, publish(tp, nc), nc, 0);
}

void llm_threadpool_run_out(llm_threadpool *tp, int64_t n, int64_t grain, int64_t align,
			    llm_parallel_out_fn fn, const void *arg, size_t arg_size, float *y,
			    int64_t per_item, int64_t y_len)
{
	uint64_t words[ARG_WORDS] = { 0 };
	if (n <= 0) {
		llm_threadpool_then(tp, NULL, NULL);
		return;
	}
	grain = clamp1(grain), align = clamp1(align);
	if (arg_size > sizeof words || alone(tp, n, grain)) {
		llm_threadpool_then(tp, NULL, NULL); /* the hint was for this job */
		fn(arg, 0, n, y); /* an argument too large to copy: one thread */
		return;
	}
	memcpy(words, arg, arg_size);
	describe_begin(tp);
	int nc = cut(tp, n, grain, align);
	atomic_store_explicit(&tp->fn, (llm_parallel_fn)NULL, RLX);
	atomic_store_explicit(&tp->arg, (void *)NULL, RLX);
	atomic_store_explicit(&tp->ofn, fn, RLX);
	for (int i = 0; i < ARG_WORDS; i++)
		atomic_store_explicit(&tp->oarg[i], words[i], RLX);
	atomic_store_explicit(&tp->y, y, RLX);
	atomic_store_explicit(&tp->per_item, per_item, RLX);
	atomic_store_explicit(&tp->y_len, y_len, RLX);
	run_job(tp, publish(tp, nc), nc, atomic_load_explicit(&tp->redo, RLX));
}
