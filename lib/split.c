/* split.c - copy a checkpoint without changing types (see split.h). */
#include "error.h"
#include "split.h"

int llm_split_copy(llm_ckpt *c, const char *out, const llm_meta *extra,
		   const struct llm_gguf_write_opts *wo,
		   void (*progress)(void *ud, const char *name, uint64_t done, uint64_t total), void *ud)
{
	const llm_meta *m = llm_ckpt_meta(c);
	int64_t nt = llm_ckpt_n_tensors(c);
	uint64_t total = 0, done = 0;
	llm_gguf_writer *w;
	llm_meta *wm;
	int rc;

	if ((rc = llm_gguf_writer_open_opts(&w, out, wo)))
		return rc;
	wm = llm_gguf_writer_meta(w);
	for (int64_t i = 0; i < m->n && !rc; i++)
		rc = llm_meta_set_kv(wm, &m->kv[i], NULL);
	for (int64_t i = 0; extra && i < extra->n && !rc; i++)
		rc = llm_meta_set_kv(wm, &extra->kv[i], NULL);
	for (int64_t i = 0; i < nt && !rc; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, i);
		rc = llm_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne);
		total += t->size;
	}
	for (int64_t i = 0; i < nt && !rc; i++) {
		const struct llm_tensor_info *t = llm_ckpt_tensor(c, i);
		const void *p;
		if (progress)
			progress(ud, t->name, done, total);
		if (!(rc = llm_ckpt_data(c, i, &p)))
			rc = llm_gguf_writer_write(w, p, (size_t)t->size);
		llm_ckpt_release(c, i);
		done += t->size;
	}
	if (rc) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	if (progress)
		progress(ud, "", total, total);
	return llm_gguf_writer_commit(w);
}
