/* safetensors.h - reader for Hugging Face .safetensors files.
 *
 * File layout (little-endian):
 *   u64 N                      length of the header
 *   N bytes of JSON            an object: for each tensor
 *       "NAME": {"dtype": "F32", "shape": [d0, d1, ...],
 *                "data_offsets": [begin, end]}
 *     and optionally "__metadata__": {"key": "string value", ...}
 *     (usually padded with spaces to a multiple of 8)
 *   data                       the byte buffer; offsets are relative to
 *                              its start (file offset 8 + N)
 * shape is row-major with d0 the outermost dimension (the reverse of
 * GGUF's ne order); a scalar has shape [].  dtypes: BOOL U8 I8 F8_E5M2
 * F8_E4M3 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64.
 *
 * llm_safetensors_open validates everything before anything is used: the
 * header length against the file size, the JSON, each entry's dtype, shape
 * and offsets (begin <= end <= data size, end - begin == elements x element
 * size, computed with overflow checks), and that no two tensors overlap.
 * (Gaps between tensors are tolerated; the reference implementation refuses
 * them, but they cannot make a read go wrong.)  Errors are LLM_EFORMAT with
 * one line naming the file.
 *
 * Sharded checkpoints (model.safetensors.index.json) and the mapping to
 * GGUF names are the checkpoint layer's business (llm_ckpt_open); this
 * module reads one file and is reused for PEFT adapters.
 */
#ifndef LLM_SAFETENSORS_H
#define LLM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define LLM_ST_MAX_DIMS 8

struct llm_st_tensor {
	const char *name;             /* borrowed from the reader */
	char dtype[8];                /* "F32", "BF16", ... as in the file */
	int type;                     /* enum llm_type for F32/F16/BF16/F64/I8/I16/I32/I64, else -1 */
	size_t elsize;                /* bytes per element (1 for BOOL and F8_*) */
	int n_dims;                   /* 0 for a scalar */
	int64_t shape[LLM_ST_MAX_DIMS]; /* safetensors order: shape[0] outermost */
	int64_t nelem;
	uint64_t offset;              /* relative to the data section */
	uint64_t size;                /* bytes */
	const void *data;             /* mapped; valid until llm_safetensors_free;
	                                 any alignment (the header length need not
	                                 be a multiple of 8) */
};

typedef struct llm_safetensors llm_safetensors;

/* Map and validate path ("-" reads stdin, spooled).  *out is the caller's,
 * to free with llm_safetensors_free. */
int llm_safetensors_open(llm_safetensors **out, const char *path);
/* Validate a file already in memory (borrowed: buf must outlive the
 * reader); name is used in messages. */
int llm_safetensors_open_mem(llm_safetensors **out, const void *buf, uint64_t size,
			     const char *name);
void llm_safetensors_free(llm_safetensors *st); /* NULL is a no-op */

const char *llm_safetensors_path(const llm_safetensors *st);
/* Tensors in the order of the JSON header. */
int64_t llm_safetensors_n_tensors(const llm_safetensors *st);
const struct llm_st_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i);
int64_t llm_safetensors_find(const llm_safetensors *st, const char *name); /* -1 if absent */
/* Value of key in "__metadata__" (borrowed), or NULL. */
const char *llm_safetensors_metadata(const llm_safetensors *st, const char *key);

/* Element size of a safetensors dtype name, 0 if unknown. */
size_t llm_safetensors_dtype_size(const char *dtype);

#endif
