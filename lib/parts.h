/* parts.h - the row sources of matrices stacked as one (Q, K and V; gate
 * and up) for the packs that repack them together (qpack.h, fpack.h). */
#ifndef LLM_PARTS_H
#define LLM_PARTS_H

#include <stddef.h>
#include <stdint.h>

#define LLM_PARTS_MAX 4

struct llm_parts {
	int n;
	const uint8_t *w[LLM_PARTS_MAX];  /* part k holds rows first[k] .. first[k+1]-1 */
	int64_t first[LLM_PARTS_MAX + 1]; /* first[n]: the rows of all parts */
	size_t row_bytes;
};

/* p from n_parts (1..LLM_PARTS_MAX) matrices w[k] of rows[k] (>= 1) rows of
 * row_bytes each; `what` names the caller in the error.  Returns 0 or
 * LLM_EINVAL. */
int llm_parts_init(struct llm_parts *p, const void *const *w, const int64_t *rows, int n_parts,
		   size_t row_bytes, const char *what);

/* Row r (0 <= r < p->first[p->n]) of the stacked parts. */
const uint8_t *llm_parts_row(const struct llm_parts *p, int64_t r);

#endif
