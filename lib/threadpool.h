/* threadpool.h - persistent worker threads and a parallel-for over ranges.
 *
 * A pool of n threads: the calling thread is worker 0, n-1 pthreads wait for
 * work (spinning briefly, then sleeping on a condition variable, so an idle
 * pool costs no CPU).  llm_threadpool_run() splits [0, n) into contiguous
 * chunks, runs fn on each and returns when all are done;
 * llm_threadpool_run_out() does the same for functions that compute a
 * block of output values, and can then finish without a stopped worker.
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

/* Output jobs: fn(arg, begin, end, out) computes the results of items
 * begin..end-1, per_item floats each, into out[0 .. (end-begin) per_item)
 * (only values below y_len counting from y[begin * per_item]); the pool
 * puts them at y + begin * per_item.  arg is copied (arg_size <=
 * LLM_POOL_ARG_MAX bytes; fn gets the copy, 8-byte aligned; a larger
 * argument runs fn(arg, 0, n, y) in the caller).  Chunks are cut as by
 * llm_threadpool_run.
 * With redo allowed (llm_threadpool_allow_redo), a chunk that a worker
 * holds while the caller has waited as long as its own share took (a
 * thread stopped by the OS or a hypervisor) is computed again by the
 * caller, who commits it first; the worker later drops its results.  fn
 * must then compute the same results on any thread and read only memory
 * that stays valid (though not unchanged) until llm_threadpool_free, which
 * waits for such late workers: it may run after this call has returned,
 * on inputs the caller has since overwritten. */
#define LLM_POOL_ARG_MAX 64
typedef void (*llm_parallel_out_fn)(const void *arg, int64_t begin, int64_t end, float *out);
void llm_threadpool_run_out(llm_threadpool *tp, int64_t n, int64_t grain, int64_t align,
			    llm_parallel_out_fn fn, const void *arg, size_t arg_size, float *y,
			    int64_t per_item, int64_t y_len);
/* Allow (on != 0) or forbid redoing output jobs' chunks (forbidden at
 * first).  The caller promises what llm_threadpool_run_out asks of fn. */
void llm_threadpool_allow_redo(llm_threadpool *tp, int on);
/* Chunks the caller has taken over so far. */
long long llm_threadpool_redone(const llm_threadpool *tp);

/* A hint for the next job (the next llm_threadpool_run or _run_out call
 * only; dropped if that call runs fn in the caller alone): each thread
 * that finds no chunk of it left to claim calls fn(arg, tp, tid) once,
 * the caller before it waits for the others' chunks, so that a thread
 * about to idle can ask for the memory it will read next.  fn may run
 * late (after the job has returned) or not at all, and arg must stay
 * valid until llm_threadpool_free. */
typedef void (*llm_parallel_idle_fn)(const void *arg, const llm_threadpool *tp, int tid);
void llm_threadpool_then(llm_threadpool *tp, llm_parallel_idle_fn fn, const void *arg);
/* Where chunk c of a job over [0, n) cut with grain and align begins (n
 * when there are c chunks or fewer), as llm_threadpool_run cuts it. */
int64_t llm_threadpool_chunk_begin(const llm_threadpool *tp, int64_t n, int64_t grain,
				   int64_t align, int c);

/* Online CPUs (>= 1). */
int llm_cpu_count(void);

#endif
