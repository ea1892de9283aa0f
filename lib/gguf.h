/* gguf.h - GGUF v2/v3 reader and streaming v3 writer.
 *
 * File layout (little-endian):
 *   u32 magic "GGUF" (0x46554747) | u32 version (2 or 3) |
 *   i64 n_tensors | i64 n_kv |
 *   n_kv x { str key | u32 vtype | value }          (see meta.h for vtypes)
 *       str   = u64 len, len bytes (no NUL)
 *       array = u32 elem vtype, u64 n, n elements (strings as above)
 *   n_tensors x { str name | u32 n_dims (1..4) | i64 ne[n_dims] |
 *                 u32 type | u64 offset }   (ne[0] is the contiguous dim;
 *                 offset relative to the data section, multiple of alignment)
 *   padding to general.alignment (u32, default 32, a power of two)
 *   data section: tensor data, each tensor padded to the alignment.
 * (Version 1 used u32 counts and lengths; it is rejected.)
 *
 * Every count, length, offset, dimension and type is validated against the
 * file size with overflow-checked arithmetic before it is used.
 */
#ifndef LLM_GGUF_H
#define LLM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"

#define LLM_GGUF_MAGIC 0x46554747u
#define LLM_GGUF_DEFAULT_ALIGNMENT 32
#define LLM_MAX_DIMS 4

struct llm_tensor_info {
	char *name;                 /* owned by the containing object */
	int type;                   /* enum llm_type */
	int n_dims;
	int64_t ne[LLM_MAX_DIMS];   /* unused dims are 1 */
	uint64_t offset;            /* in the data section */
	uint64_t size;              /* bytes (llm_type_row_size of ne[0] * rows) */
};

/* ---- reading ---- */

typedef struct llm_gguf llm_gguf;

/* Open path ("-" = stdin, spooled to an unlinked temporary file when not a
 * regular file) and parse header, metadata and tensor infos; data are mmapped.
 * On failure the message names the path. */
int llm_gguf_open(llm_gguf **out, const char *path);
/* Parse a GGUF held in memory (borrowed; must outlive the object). */
int llm_gguf_open_mem(llm_gguf **out, const void *buf, size_t size, const char *name);
void llm_gguf_free(llm_gguf *g);

uint32_t llm_gguf_version(const llm_gguf *g);
const llm_meta *llm_gguf_meta(const llm_gguf *g);     /* borrowed */
uint32_t llm_gguf_alignment(const llm_gguf *g);
int64_t llm_gguf_n_tensors(const llm_gguf *g);
const struct llm_tensor_info *llm_gguf_tensor(const llm_gguf *g, int64_t i); /* borrowed */
int64_t llm_gguf_find_tensor(const llm_gguf *g, const char *name); /* -1 if absent */
/* Pointer to tensor i's bytes (mapped; valid until llm_gguf_free). */
const void *llm_gguf_tensor_data(const llm_gguf *g, int64_t i);
uint64_t llm_gguf_data_offset(const llm_gguf *g); /* file offset of the data section */
uint64_t llm_gguf_file_size(const llm_gguf *g);
const char *llm_gguf_path(const llm_gguf *g);

/* ---- writing ---- */

typedef struct llm_gguf_writer llm_gguf_writer;

/* How to write (llm_gguf_writer_open_opts):
 *   zstd: -1 by name (a path ending in ".zst" gets the compressed
 *         container of zst.h), 0 plain GGUF, 1 container;
 *   zstd_level: zstd level for the container (0: 3); n_threads: compression
 *         threads (0: online CPUs);
 *   split_max_size / split_max_tensors (0: no limit): write llama.cpp-style
 *         shards PREFIX-00001-of-0000N.gguf[.zst] (PREFIX = path without
 *         ".gguf"/".zst"), tensors in order, a new shard when the next
 *         tensor's (padded) bytes would pass the size or the count would
 *         pass the limit; every shard has split.no (u16, from 0),
 *         split.count (u16) and split.tensors.count (i32, the total); the
 *         first holds all other metadata, later ones only general.alignment.
 *         Each shard appears by rename when complete; on failure the
 *         shards already written are removed.  Needs a file name, not "-".
 * When splitting, split.* keys in the writer's metadata are replaced; when
 * not, they are written as given (a shard converted on its own stays a
 * member of its set; ckpt drops them when it joins a set). */
struct llm_gguf_write_opts {
	int zstd;
	int zstd_level;
	int n_threads;
	uint64_t split_max_size;
	int64_t split_max_tensors;
};
#define LLM_GGUF_WRITE_OPTS_INIT { -1, 0, 0, 0, 0 }

/* Start a GGUF v3 file at path: "-" or NULL writes to stdout; otherwise a
 * temporary file beside path that llm_gguf_writer_commit() renames into
 * place.  A path ending in ".zst" gets the compressed container (zst.h).  Metadata and tensor infos are declared first; the header is
 * written when the first tensor's data arrive (or at commit). */
int llm_gguf_writer_open(llm_gguf_writer **out, const char *path);
/* The same with options (NULL: LLM_GGUF_WRITE_OPTS_INIT, what _open does). */
int llm_gguf_writer_open_opts(llm_gguf_writer **out, const char *path,
			      const struct llm_gguf_write_opts *o);
/* The writer's metadata, to fill with llm_meta_set_*.  general.alignment,
 * when set, must be a power of two and is honoured. */
llm_meta *llm_gguf_writer_meta(llm_gguf_writer *w);
/* Declare the next tensor (data follow later in the same order). */
int llm_gguf_writer_add_tensor(llm_gguf_writer *w, const char *name, int type,
			       int n_dims, const int64_t *ne);
/* Write the data of the next declared tensor, in one or more pieces that
 * add up to its size.  The first call writes the header. */
int llm_gguf_writer_write(llm_gguf_writer *w, const void *data, size_t size);
/* Finish: pad, flush, fsync, rename into place. Frees w in all cases. */
int llm_gguf_writer_commit(llm_gguf_writer *w);
/* Give up: remove the temporary file. Frees w. NULL is a no-op. */
void llm_gguf_writer_abort(llm_gguf_writer *w);

/* Whether path names a shard of a split set, PREFIX-NNNNN-of-MMMMM.gguf or
 * .gguf.zst (the names the writer gives and the readers rebuild): the
 * length of PREFIX (from the start of path; 0 when not a shard's name),
 * with *no (from 0), *count and *zst when not NULL. */
size_t llm_shard_name_parse(const char *path, int *no, int *count, int *zst);

#endif
