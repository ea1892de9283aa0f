/* attention.h - causal multi-head attention over a KV cache.
 *
 * Shapes (row-major floats):
 *   q    [n_q][n_head][head_dim]        queries at positions pos0..pos0+n_q-1
 *   k, v [n_kv][n_head_kv][head_dim]    keys/values at positions 0..n_kv-1
 *                                        (the cache layout of model.h),
 *                                        n_kv >= pos0 + n_q
 *   out  [n_q][n_head][head_dim]
 * Query i attends to keys 0..pos0+i (causal).  Query head h reads KV head
 * h / (n_head / n_head_kv): n_head_kv == n_head is MHA, 1 is MQA, between
 * is GQA (n_head must be a multiple of n_head_kv).
 *
 * Two kernels with the same result:
 *   naive  materialises the scores [n_head][n_q][n_kv], softmax per row,
 *          weighted sum of V: the reference.
 *   flash  per query, K/V read in tiles of LLM_ATTN_TILE positions with an
 *          online softmax (running max m and sum l; the accumulator is
 *          rescaled by exp(m_old - m_new) when the max grows); a block of
 *          up to LLM_ATTN_QBLOCK queries and the query heads sharing a KV
 *          head are handled together so each K/V tile is read once per
 *          block and group.  Scratch per worker: the scores of a tile
 *          for 4 heads and the accumulators of a block, independent of
 *          n_kv.  One query
 *          (decoding) against 512 keys or more: the keys are split into
 *          up to 64 segments instead, each thread takes whole segments
 *          for all heads, and their partial softmaxes are merged.
 * Both split (query, head) work over the thread pool (NULL: caller only);
 * flash splits a long decoding step by keys.
 * scratch: NULL to let the call allocate it (LLM_ENOMEM possible), or at
 * least *_scratch() bytes owned by the caller.
 */
#ifndef LLM_ATTENTION_H
#define LLM_ATTENTION_H

#include <stddef.h>

#include "threadpool.h"

#define LLM_ATTN_TILE 64   /* key positions per tile */
#define LLM_ATTN_QBLOCK 16 /* queries sharing each tile (prefill) */

struct llm_attn {
	int n_q, pos0;
	int n_head, n_head_kv, head_dim;
	float scale;          /* score = scale * q.k, usually 1/sqrt(head_dim) */
	const float *q;       /* borrowed, shapes above */
	const float *k, *v;
	float *out;
};

size_t llm_attn_naive_scratch(const struct llm_attn *a, int n_threads);
int llm_attn_naive(const struct llm_attn *a, llm_threadpool *tp, void *scratch);

size_t llm_attn_flash_scratch(const struct llm_attn *a, int n_threads);
int llm_attn_flash(const struct llm_attn *a, llm_threadpool *tp, void *scratch);

#endif
