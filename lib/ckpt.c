/* ckpt.c - format sniffing, dispatch and per-tensor buffers (see ckpt.h);
 * the GGUF backend lives here too since it is a thin layer over gguf.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_impl.h"
#include "error.h"
#include "io.h"
#include "types.h"

int llm_path_is_dir(const char *path)
{
	struct stat st;
	return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- GGUF backend ---- */

struct gguf_impl {
	struct llm_map map;
	llm_gguf *g;
};

static const void *gguf_direct(llm_ckpt *c, int64_t i)
{
	struct gguf_impl *im = c->impl;
	return llm_gguf_tensor_data(im->g, i);
}

static int gguf_load(llm_ckpt *c, int64_t i, void *dst)
{
	memcpy(dst, gguf_direct(c, i), c->t[i].size);
	return 0;
}

static void gguf_free(void *p)
{
	struct gguf_impl *im = p;
	if (!im)
		return;
	llm_gguf_free(im->g);
	llm_map_close(&im->map);
	free(im);
}

/* Drop the mapped pages that lie wholly inside tensor i: a streaming
 * conversion touches each page once, and without this the whole file would
 * stay resident in this process by the end. */
static void gguf_release(llm_ckpt *c, int64_t i)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)gguf_direct(c, i), e = a + c->t[i].size;
	a = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	e &= ~((uintptr_t)pg - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_DONTNEED);
}

static const struct llm_ckpt_ops gguf_ops = { gguf_load, gguf_direct, gguf_free, gguf_release };

/* Take over an opened map holding a GGUF. */
static int open_gguf_map(llm_ckpt *c, struct llm_map *map)
{
	struct gguf_impl *im = calloc(1, sizeof *im);
	const llm_meta *m;
	int rc;

	if (!im) {
		llm_map_close(map);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	im->map = *map;
	c->impl = im;
	c->ops = &gguf_ops;
	c->fmt = LLM_CKPT_GGUF;
	if ((rc = llm_gguf_open_mem(&im->g, im->map.data, im->map.size, c->path)))
		return rc;
	c->version = llm_gguf_version(im->g);
	m = llm_gguf_meta(im->g);
	for (int64_t i = 0; i < m->n; i++)
		if ((rc = llm_meta_set_kv(&c->meta, &m->kv[i], NULL)))
			return rc;
	c->nt = llm_gguf_n_tensors(im->g);
	c->t = calloc(c->nt ? (size_t)c->nt : 1, sizeof *c->t);
	if (!c->t)
		return llm_err(LLM_ENOMEM, "out of memory");
	for (int64_t i = 0; i < c->nt; i++) {
		c->t[i] = *llm_gguf_tensor(im->g, i);
		if (!(c->t[i].name = strdup(c->t[i].name)))
			return llm_err(LLM_ENOMEM, "out of memory");
	}
	return 0;
}

int llm_ckpt_open_gguf(llm_ckpt *c, const char *path)
{
	struct llm_map map;
	int rc = llm_map_open(&map, path);
	return rc ? rc : open_gguf_map(c, &map);
}

/* ---- dispatch ---- */

void llm_ckpt_free(llm_ckpt *c)
{
	if (!c)
		return;
	for (int64_t i = 0; i < c->nt; i++) {
		free(c->t[i].name);
		if (c->buf)
			free(c->buf[i]);
	}
	free(c->t);
	free(c->buf);
	llm_meta_clear(&c->meta);
	if (c->ops && c->ops->free)
		c->ops->free(c->impl);
	free(c->path);
	free(c);
}

int llm_ckpt_open(llm_ckpt **out, const char *path, const struct llm_ckpt_opts *opts)
{
	llm_ckpt *c;
	int rc;
	const char *tok = opts ? opts->tokenizer : NULL;

	*out = NULL;
	c = calloc(1, sizeof *c);
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	llm_meta_init(&c->meta);
	if (llm_path_is_dir(path) || ends_with(path, ".json") || ends_with(path, ".safetensors")) {
		rc = llm_ckpt_open_hf(c, path);
	} else {
		struct llm_map map;
		rc = llm_map_open(&map, path);
		if (rc == 0) {
			if (map.size == 0) {
				llm_map_close(&map);
				rc = llm_err(LLM_EFORMAT, "%s: empty input", path);
			} else if (map.size >= 4 && memcmp(map.data, "GGUF", 4) == 0) {
				rc = open_gguf_map(c, &map);
			} else if (strcmp(path, "-") == 0) {
				llm_map_close(&map);
				rc = llm_err(LLM_EFORMAT, "-: standard input is not a GGUF file");
			} else {
				llm_map_close(&map);
				rc = llm_ckpt_open_llama2c(c, path, tok);
				tok = NULL; /* the llama2.c backend takes its tokenizer itself */
			}
		}
	}
	if (rc == 0 && c->nt > 0 && !(c->buf = calloc((size_t)c->nt, sizeof *c->buf)))
		rc = llm_err(LLM_ENOMEM, "out of memory");
	if (rc == 0 && tok)
		rc = llm_ckpt_set_tokenizer(c, tok);
	if (rc) {
		llm_ckpt_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

enum llm_ckpt_format llm_ckpt_format(const llm_ckpt *c) { return c->fmt; }

const char *llm_ckpt_format_name(const llm_ckpt *c)
{
	switch (c->fmt) {
	case LLM_CKPT_GGUF: return "gguf";
	case LLM_CKPT_HF: return "safetensors";
	case LLM_CKPT_LLAMA2C: return "llama2c";
	}
	return "?";
}

const char *llm_ckpt_path(const llm_ckpt *c) { return c->path; }
uint32_t llm_ckpt_version(const llm_ckpt *c) { return c->version; }
const llm_meta *llm_ckpt_meta(const llm_ckpt *c) { return &c->meta; }
int64_t llm_ckpt_n_tensors(const llm_ckpt *c) { return c->nt; }

const struct llm_tensor_info *llm_ckpt_tensor(const llm_ckpt *c, int64_t i)
{
	return i >= 0 && i < c->nt ? &c->t[i] : NULL;
}

int64_t llm_ckpt_find(const llm_ckpt *c, const char *name)
{
	for (int64_t i = 0; i < c->nt; i++)
		if (strcmp(c->t[i].name, name) == 0)
			return i;
	return -1;
}

int64_t llm_tensor_nelem(const struct llm_tensor_info *t)
{
	return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int llm_ckpt_data(llm_ckpt *c, int64_t i, const void **data)
{
	const void *p;
	int rc;

	*data = NULL;
	if (i < 0 || i >= c->nt)
		return llm_err(LLM_EINVAL, "%s: no tensor %lld", c->path, (long long)i);
	if (c->ops->direct && (p = c->ops->direct(c, i))) {
		*data = p;
		return 0;
	}
	if (!c->buf[i]) {
		if (c->t[i].size > SIZE_MAX - 1)
			return llm_err(LLM_ENOMEM, "%s: tensor %s too large", c->path, c->t[i].name);
		c->buf[i] = malloc(c->t[i].size ? (size_t)c->t[i].size : 1);
		if (!c->buf[i])
			return llm_err(LLM_ENOMEM, "%s: tensor %s: out of memory", c->path, c->t[i].name);
		if ((rc = c->ops->load(c, i, c->buf[i]))) {
			free(c->buf[i]);
			c->buf[i] = NULL;
			return rc;
		}
	}
	*data = c->buf[i];
	return 0;
}

void llm_ckpt_release(llm_ckpt *c, int64_t i)
{
	if (!c || i < 0 || i >= c->nt)
		return;
	if (c->buf) {
		free(c->buf[i]);
		c->buf[i] = NULL;
	}
	if (c->ops->release)
		c->ops->release(c, i);
}

int llm_ckpt_read_f32(llm_ckpt *c, int64_t i, float *dst)
{
	const struct llm_type_traits *tr;
	const void *src;
	int rc;

	if (i < 0 || i >= c->nt)
		return llm_err(LLM_EINVAL, "%s: no tensor %lld", c->path, (long long)i);
	tr = llm_type_traits(c->t[i].type);
	if (!tr || !tr->to_float)
		return llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: type %s cannot be decoded", c->path,
			       c->t[i].name, llm_type_name(c->t[i].type));
	if ((rc = llm_ckpt_data(c, i, &src)))
		return rc;
	tr->to_float(src, dst, llm_tensor_nelem(&c->t[i]));
	return 0;
}

/* Copy the tokenizer.* keys of a GGUF (or a llama2.c tokenizer.bin, through
 * the llama2.c backend) into c's metadata. */
int llm_ckpt_set_tokenizer(llm_ckpt *c, const char *path)
{
	llm_gguf *g;
	const llm_meta *m;
	int rc;
	struct llm_map map;

	if ((rc = llm_map_open(&map, path)))
		return rc;
	if (map.size < 4 || memcmp(map.data, "GGUF", 4) != 0) {
		llm_map_close(&map);
		return llm_llama2c_tokenizer(&c->meta, path);
	}
	rc = llm_gguf_open_mem(&g, map.data, map.size, path);
	if (rc) {
		llm_map_close(&map);
		return rc;
	}
	m = llm_gguf_meta(g);
	/* the borrowed vocabulary replaces the whole tokenizer.* set */
	for (int64_t i = c->meta.n - 1; i >= 0; i--)
		if (strncmp(c->meta.kv[i].key, "tokenizer.", 10) == 0)
			llm_meta_remove(&c->meta, c->meta.kv[i].key);
	for (int64_t i = 0; i < m->n && !rc; i++)
		if (strncmp(m->kv[i].key, "tokenizer.", 10) == 0)
			rc = llm_meta_set_kv(&c->meta, &m->kv[i], NULL);
	llm_gguf_free(g);
	llm_map_close(&map);
	return rc;
}

