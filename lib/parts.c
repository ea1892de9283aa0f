/* parts.c - the row sources of stacked matrices (parts.h). */
#include "parts.h"

#include "error.h"

int llm_parts_init(struct llm_parts *p, const void *const *w, const int64_t *rows, int n_parts,
		   size_t row_bytes, const char *what)
{
	if (n_parts < 1 || n_parts > LLM_PARTS_MAX)
		return llm_err(LLM_EINVAL, "%s: %d parts (1..%d)", what, n_parts, LLM_PARTS_MAX);
	p->n = n_parts;
	p->row_bytes = row_bytes;
	p->first[0] = 0;
	for (int k = 0; k < n_parts; k++) {
		if (rows[k] < 1)
			return llm_err(LLM_EINVAL, "%s: part %d has %lld rows", what, k, (long long)rows[k]);
		p->w[k] = w[k];
		p->first[k + 1] = p->first[k] + rows[k];
	}
	return 0;
}

const uint8_t *llm_parts_row(const struct llm_parts *p, int64_t r)
{
	int k = 0;
	while (k + 1 < p->n && r >= p->first[k + 1])
		k++;
	return p->w[k] + (size_t)(r - p->first[k]) * p->row_bytes;
}
