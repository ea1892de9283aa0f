/* split.h - copy a checkpoint tensor by tensor without changing types:
 * join shards into one file, cut one into shards, compress or decompress
 * (what `llm-quant --merge` does).  Shards and the container are written by
 * gguf.c's writer (llm_gguf_write_opts) and read back by ckpt.c, which
 * opens a whole shard set from its first shard's name.
 */
#ifndef LLM_SPLIT_H
#define LLM_SPLIT_H

#include "ckpt.h"
#include "gguf.h"

/* Write c to out ("-"/NULL: stdout) with every tensor in its stored type,
 * byte for byte; metadata from c with extra (may be NULL) merged over it;
 * wo (may be NULL) says container/shards.  progress (may be NULL) is called
 * before each tensor with bytes done and total.  Memory stays near the
 * largest tensor (each is released after writing). */
int llm_split_copy(llm_ckpt *c, const char *out, const llm_meta *extra,
		   const struct llm_gguf_write_opts *wo,
		   void (*progress)(void *ud, const char *name, uint64_t done, uint64_t total), void *ud);

#endif
