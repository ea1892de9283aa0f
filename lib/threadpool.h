/* threadpool.h - persistent worker threads and a parallel-for over ranges.
 *
 * A pool of n threads: the calling thread is worker 0, n-1 pthreads wait for
 * work (spinning briefly, then sleeping on a condition variable, so an idle
 * pool costs no CPU).  llm_threadpool_run() splits [0, n) into contiguous
 * chunks, runs fn on each and returns when all are done.
 *
 * One caller at a time: a pool is not re-entrant (fn must not call run on
 * the same pool) and must not be shared by concurrent callers.
 */
#ifndef LLM_THREADPOOL_H
#define LLM_THREADPOOL_H

#include <stdint.h>

typedef struct llm_threadpool llm_threadpool;

/* fn(arg, begin, end, tid): process items begin..end-1 as worker tid. */
typedef void (*llm_parallel_fn)(void *arg, int64_t begin, int64_t end, int tid);

/* Start a pool of n_threads workers (0 = online CPUs; 1 = no extra thread).
 * *out is owned by the caller: llm_threadpool_free(). */
int llm_threadpool_new(llm_threadpool **out, int n_threads);
void llm_threadpool_free(llm_threadpool *tp); /* NULL is a no-op */

/* Number of workers (>= 1).  tp NULL counts as 1. */
int llm_threadpool_size(const llm_threadpool *tp);

/* Run fn over [0, n) split into contiguous chunks that the threads claim
 * in order: each chunk 1/(2 size(tp)) of what is left (guided), of at
 * least grain items (grain < 1 counts as 1), chunk boundaries multiples
 * of align (align < 1 counts as 1); the last chunk may be shorter.  tp
 * NULL, or n below 2 grain, runs fn(arg, 0, n, 0) in the caller. */
void llm_threadpool_run(llm_threadpool *tp, int64_t n, int64_t grain, int64_t align,
			llm_parallel_fn fn, void *arg);

/* Online CPUs (>= 1). */
int llm_cpu_count(void);

#endif
