/* ckpt.c - format sniffing, dispatch and per-tensor buffers (see ckpt.h);
 * the GGUF backend lives here too since it is a thin layer over gguf.c and
 * zst.c (plain GGUF, the zstd container, split shards). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_impl.h"
#include "error.h"
#include "io.h"
#include "tokenizer.h"
#include "types.h"
#include "zst.h"

int llm_path_is_dir(const char *path)
{
	struct stat st;
	return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* What a checkpoint read from a stream may start with: a GGUF, the
 * compressed container, or a plain zstd frame (inflated first). */
static int gguf_like(const uint8_t *p, size_t n)
{
	return (n >= 4 && memcmp(p, "GGUF", 4) == 0) || llm_zst_sniff(p, n) || llm_zst_frame_sniff(p, n);
}

/* ---- GGUF backend: plain files, zstd containers (zst.h), split shards ---- */

/* One file of the checkpoint: a GGUF or a container, maybe one shard of many. */
struct gpart {
	struct llm_map map;
	llm_gguf *g;      /* header, metadata, tensor infos (plain: also the data) */
	llm_zst *z;       /* container, or NULL */
	char *name;
};

struct gguf_impl {
	struct gpart *p;
	int np;
	int *tp;          /* per tensor: its part */
	int64_t *ti;      /* per tensor: its index in the part */
};

/* A plain file's tensor bytes where they are mapped. */
static const void *gguf_raw(llm_ckpt *c, int64_t i)
{
	struct gguf_impl *im = c->impl;
	struct gpart *p = &im->p[im->tp[i]];
	return p->z ? NULL : llm_gguf_tensor_data(p->g, im->ti[i]);
}

/* Handed out in place only when 32-byte aligned, as GGUF's default
 * alignment makes them: a file with general.alignment 1 (which ggml also
 * reads) can put fp16 and floats at odd addresses, which the kernels'
 * loads must not see; such tensors are copied (gguf_load). */
static const void *gguf_direct(llm_ckpt *c, int64_t i)
{
	const void *d = gguf_raw(c, i);
	return d && (uintptr_t)d % 32 == 0 ? d : NULL;
}

static int gguf_load(llm_ckpt *c, int64_t i, void *dst)
{
	struct gguf_impl *im = c->impl;
	struct gpart *p = &im->p[im->tp[i]];
	if (!p->z) {
		memcpy(dst, gguf_raw(c, i), c->t[i].size);
		return 0;
	}
	/* units of a tensor decode in parallel (0: online CPUs) */
	return llm_zst_read(p->z, dst, llm_gguf_data_offset(p->g) + c->t[i].offset, c->t[i].size, 0);
}

static void gpart_close(struct gpart *p)
{
	llm_gguf_free(p->g);
	llm_zst_free(p->z);
	llm_map_close(&p->map);
	free(p->name);
}

static void gguf_free(void *v)
{
	struct gguf_impl *im = v;
	if (!im)
		return;
	for (int k = 0; k < im->np; k++)
		gpart_close(&im->p[k]);
	free(im->p);
	free(im->tp);
	free(im->ti);
	free(im);
}

/* Drop the mapped pages that lie wholly inside [a, a+n): a streaming
 * conversion touches each page once, and without this the whole file would
 * stay resident in this process by the end. */
static void drop_pages(const void *p, uint64_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p, e = a + n;
	a = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	e &= ~((uintptr_t)pg - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_DONTNEED);
}

static void gguf_release(llm_ckpt *c, int64_t i)
{
	struct gguf_impl *im = c->impl;
	struct gpart *p = &im->p[im->tp[i]];
	if (!p->z) {
		drop_pages(gguf_raw(c, i), c->t[i].size);
		return;
	}
	/* the tensor's compressed payloads */
	uint64_t off = llm_gguf_data_offset(p->g) + c->t[i].offset;
	for (int64_t k = 0; k < llm_zst_n_units(p->z); k++) {
		const struct llm_zst_unit *u = llm_zst_unit(p->z, k);
		if (u->raw_off >= off && u->raw_off < off + c->t[i].size)
			drop_pages(p->map.data + u->off, u->csize);
	}
}

static uint64_t gguf_stored_size(const llm_ckpt *c, int64_t i)
{
	const struct gguf_impl *im = c->impl;
	const struct gpart *p = &im->p[im->tp[i]];
	if (!p->z)
		return c->t[i].size;
	return llm_zst_stored_size(p->z, llm_gguf_data_offset(p->g) + c->t[i].offset, c->t[i].size);
}

static const struct llm_ckpt_ops gguf_ops = { gguf_load, gguf_direct, gguf_free, gguf_release, gguf_stored_size };

/* Parse the GGUF header of a container.  llm_gguf_open_mem checks tensor
 * data against the file size, so it gets a sparse view as large as the
 * decoded GGUF holding only the decoded header (no memory for the rest);
 * the view is unmapped after parsing (metadata and infos are copies; the
 * data pointers of that llm_gguf are never used). */
static int open_container_header(struct gpart *p)
{
	void *hdr, *view;
	uint64_t hsize, total = llm_zst_raw_size(p->z);
	int fd, rc;

	if ((rc = llm_zst_header(p->z, &hdr, &hsize)))
		return rc;
	if (hsize > total) {
		free(hdr);
		return llm_err(LLM_EFORMAT, "%s: compressed checkpoint: header larger than the whole", p->name);
	}
	fd = memfd_create("llm-gguf-header", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)total) < 0 || pwrite(fd, hdr, hsize, 0) != (ssize_t)hsize) {
		rc = llm_err(LLM_EIO, "%s: cannot set up the header view: %s", p->name, strerror(errno));
		goto out;
	}
	view = mmap(NULL, (size_t)total, PROT_READ, MAP_SHARED, fd, 0);
	if (view == MAP_FAILED) {
		rc = llm_err(LLM_EIO, "%s: cannot map the header view: %s", p->name, strerror(errno));
		goto out;
	}
	rc = llm_gguf_open_mem(&p->g, view, total, p->name);
	munmap(view, (size_t)total);
out:
	if (fd >= 0)
		close(fd);
	free(hdr);
	return rc;
}

/* Open one file held in map (taken over) as a part. */
static int open_part(struct gpart *p, struct llm_map *map, const char *name)
{
	p->map = *map;
	memset(map, 0, sizeof *map);
	if (!(p->name = strdup(name)))
		return llm_err(LLM_ENOMEM, "out of memory");
	if (llm_zst_sniff(p->map.data, p->map.size)) {
		int rc = llm_zst_open_mem(&p->z, p->map.data, p->map.size, name);
		return rc ? rc : open_container_header(p);
	}
	return llm_gguf_open_mem(&p->g, p->map.data, p->map.size, name);
}

/* Shard k's name from the first shard's: "...-00001-of-00003.gguf[.zst]". */
static char *sibling(const char *first, int k, int count, int zst)
{
	int no;
	size_t pre = llm_shard_name_parse(first, &no, NULL, NULL);
	if (!pre || no != 0)
		return NULL;
	char *out = malloc(pre + 48);
	if (!out)
		return NULL;
	memcpy(out, first, pre);
	snprintf(out + pre, 48, "-%05d-of-%05d.gguf%s", k + 1, count, zst ? ".zst" : "");
	return out;
}

static int open_shards(llm_ckpt *c, struct gguf_impl *im, int one_shard)
{
	const llm_meta *m0 = llm_gguf_meta(im->p[0].g);
	int64_t no = 0, count = 0, ntens = -1;
	int rc;

	if (one_shard || llm_meta_get_int(m0, "split.count", &count) || count <= 1)
		return 0;
	llm_meta_get_int(m0, "split.no", &no);
	llm_meta_get_int(m0, "split.tensors.count", &ntens);
	if (no != 0)
		return llm_err(LLM_EINVAL, "%s: shard %lld of %lld: name the first shard (-00001-of-%05lld), "
			       "or take it alone (llm-info --shard, llm-quant --shard)", c->path, (long long)no + 1, (long long)count,
			       (long long)count);
	if (strcmp(c->path, "-") == 0)
		return llm_err(LLM_EUNSUPPORTED, "-: first of %lld shards on standard input: the others cannot be found",
			       (long long)count);
	if (count > 99999)
		return llm_err(LLM_EFORMAT, "%s: bad split.count %lld", c->path, (long long)count);
	struct gpart *np = realloc(im->p, (size_t)count * sizeof *np);
	if (!np)
		return llm_err(LLM_ENOMEM, "out of memory");
	im->p = np;
	memset(im->p + 1, 0, (size_t)(count - 1) * sizeof *np);
	for (int k = 1; k < count; k++) {
		struct llm_map map;
		int zst = strlen(c->path) > 4 && strcmp(c->path + strlen(c->path) - 4, ".zst") == 0;
		char *name = sibling(c->path, k, (int)count, zst);
		int64_t sno = -1, scount = -1;
		if (!name)
			return llm_err(LLM_EINVAL, "%s: first of %lld shards, but the name lacks -00001-of-%05lld",
				       c->path, (long long)count, (long long)count);
		rc = llm_map_open(&map, name);
		if (rc == LLM_ENOTFOUND) { /* shards may mix plain and compressed */
			char *alt = sibling(c->path, k, (int)count, !zst);
			if (alt && llm_map_open(&map, alt) == 0) {
				free(name);
				name = alt;
				rc = 0;
			} else {
				free(alt);
				rc = llm_err(LLM_ENOTFOUND, "%s: missing shard %d of %lld: %s", c->path, k + 1,
					     (long long)count, name);
			}
		}
		if (!rc) {
			im->np = k + 1;
			rc = open_part(&im->p[k], &map, name);
		}
		if (!rc) {
			const llm_meta *mk = llm_gguf_meta(im->p[k].g);
			llm_meta_get_int(mk, "split.no", &sno);
			llm_meta_get_int(mk, "split.count", &scount);
			if (sno != k || scount != count)
				rc = llm_err(LLM_EFORMAT, "%s: says it is shard %lld of %lld, expected %d of %lld", name,
					     (long long)sno + 1, (long long)scount, k + 1, (long long)count);
		}
		free(name);
		if (rc)
			return rc;
	}
	int64_t total = 0;
	for (int k = 0; k < im->np; k++)
		total += llm_gguf_n_tensors(im->p[k].g);
	if (ntens >= 0 && total != ntens)
		return llm_err(LLM_EFORMAT, "%s: shards hold %lld tensors, split.tensors.count says %lld", c->path,
			       (long long)total, (long long)ntens);
	return 0;
}

/* Take over an opened map holding a GGUF or a container (and its shards). */
static int open_gguf_map(llm_ckpt *c, struct llm_map *map, int one_shard)
{
	struct gguf_impl *im = calloc(1, sizeof *im);
	const llm_meta *m;
	int rc;

	if (!im || !(im->p = calloc(1, sizeof *im->p))) {
		free(im);
		llm_map_close(map);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	im->np = 1;
	c->impl = im;
	c->ops = &gguf_ops;
	c->fmt = LLM_CKPT_GGUF;
	if ((rc = open_part(&im->p[0], map, c->path)) || (rc = open_shards(c, im, one_shard)))
		return rc;
	c->version = llm_gguf_version(im->p[0].g);
	m = llm_gguf_meta(im->p[0].g);
	for (int64_t i = 0; i < m->n; i++) {
		/* the shards present one checkpoint, a set of one too (what
		 * gguf-split --merge leaves); --shard shows a shard as it is */
		if (!one_shard && strncmp(m->kv[i].key, "split.", 6) == 0)
			continue;
		if ((rc = llm_meta_set_kv(&c->meta, &m->kv[i], NULL)))
			return rc;
	}
	for (int k = 0; k < im->np; k++)
		c->nt += llm_gguf_n_tensors(im->p[k].g);
	c->t = calloc(c->nt ? (size_t)c->nt : 1, sizeof *c->t);
	im->tp = calloc(c->nt ? (size_t)c->nt : 1, sizeof *im->tp);
	im->ti = calloc(c->nt ? (size_t)c->nt : 1, sizeof *im->ti);
	if (!c->t || !im->tp || !im->ti) {
		c->nt = 0;
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	int64_t n = 0, nt = c->nt;
	c->nt = 0;
	for (int k = 0; k < im->np; k++)
		for (int64_t j = 0; j < llm_gguf_n_tensors(im->p[k].g); j++, n++) {
			c->t[n] = *llm_gguf_tensor(im->p[k].g, j);
			im->tp[n] = k;
			im->ti[n] = j;
			if (!(c->t[n].name = strdup(c->t[n].name)))
				return llm_err(LLM_ENOMEM, "out of memory");
			c->nt = n + 1;
			if (im->np > 1 && llm_ckpt_find(c, c->t[n].name) != n)
				return llm_err(LLM_EFORMAT, "%s: tensor %s is in two shards", im->p[k].name, c->t[n].name);
		}
	(void)nt;
	return 0;
}

int llm_ckpt_open_gguf(llm_ckpt *c, const char *path)
{
	struct llm_map map;
	int rc = llm_map_open(&map, path);
	return rc ? rc : open_gguf_map(c, &map, 0);
}

uint64_t llm_ckpt_stored_size(const llm_ckpt *c, int64_t i)
{
	if (i < 0 || i >= c->nt)
		return 0;
	return c->ops->stored_size ? c->ops->stored_size(c, i) : c->t[i].size;
}

uint64_t llm_ckpt_stored_total(const llm_ckpt *c)
{
	uint64_t s = 0;
	if (c->ops != &gguf_ops) {
		for (int64_t i = 0; i < c->nt; i++)
			s += llm_ckpt_stored_size(c, i);
		return s;
	}
	const struct gguf_impl *im = c->impl;
	for (int64_t i = 0; i < c->nt; i++)
		if (!im->p[im->tp[i]].z)
			s += c->t[i].size;
	for (int k = 0; k < im->np; k++) /* the units past the header */
		if (im->p[k].z)
			s += llm_zst_payload_bytes(im->p[k].z, llm_gguf_data_offset(im->p[k].g), UINT64_MAX / 2);
	return s;
}

int llm_ckpt_n_files(const llm_ckpt *c)
{
	return c->ops == &gguf_ops ? ((const struct gguf_impl *)c->impl)->np : 1;
}

int llm_ckpt_compressed(const llm_ckpt *c)
{
	if (c->ops != &gguf_ops)
		return 0;
	const struct gguf_impl *im = c->impl;
	for (int k = 0; k < im->np; k++)
		if (im->p[k].z)
			return 1;
	return 0;
}

llm_meta *llm_ckpt_meta_mut(llm_ckpt *c) { return &c->meta; }

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

/* A tokenizer file alone: its vocabulary, no tensors (rows unknown, so
 * the vocabulary is not padded). */
static int open_vocab(llm_ckpt *c, const char *path)
{
	c->fmt = LLM_CKPT_VOCAB;
	return llm_ckpt_set_tokenizer(c, path);
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
	if (llm_path_is_dir(path) || llm_ends_with(path, ".safetensors") || llm_ends_with(path, "config.json") ||
	    llm_ends_with(path, ".index.json")) {
		rc = llm_ckpt_open_hf(c, path, tok);
		tok = NULL; /* so does the Hugging Face backend */
	} else if (llm_ends_with(path, ".json")) { /* any other: a tokenizer.json */
		rc = open_vocab(c, path);
	} else {
		struct llm_map map;
		rc = llm_map_open_checked(&map, path, gguf_like,
					  strcmp(path, "-") == 0
						  ? "standard input is neither a GGUF nor a compressed GGUF"
						  : "a pipe holding neither a GGUF nor a compressed GGUF (other formats "
						    "must be files)");
		if (rc == 0 && llm_zst_frame_sniff(map.data, map.size)) {
			rc = llm_zst_inflate_frames(&map, path);
			if (rc)
				llm_map_close(&map);
		}
		if (rc == 0) {
			if (map.size == 0) {
				llm_map_close(&map);
				rc = llm_err(LLM_EFORMAT, "%s: empty input", path);
			} else if ((map.size >= 4 && memcmp(map.data, "GGUF", 4) == 0) || llm_zst_sniff(map.data, map.size)) {
				rc = open_gguf_map(c, &map, opts ? opts->one_shard : 0);
			} else if (llm_ends_with(path, ".model") || llm_spm_sniff(map.data, map.size) ||
				   llm_llama2c_tok_sniff(map.data, map.size)) {
				/* here and below the map is a file as it lies (a stream, or what
				 * a zstd stream held, is a GGUF or the container: gguf_like and
				 * llm_zst_inflate_frames refused the rest), so the path may be
				 * opened again */
				llm_map_close(&map);
				rc = open_vocab(c, path);
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
	case LLM_CKPT_VOCAB: return "vocabulary";
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
			/* the tensor named (a damaged unit of a container said only
			 * its byte range); llm_err_prefix does not repeat it */
			return llm_err_prefix(rc, c->t[i].name);
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

int llm_vocab_pad(struct llm_str *tok, int32_t *type, uint64_t n, char **store)
{
	uint64_t gaps = 0;
	*store = NULL;
	for (uint64_t i = 0; i < n; i++)
		gaps += !tok[i].s;
	if (gaps && !(*store = malloc((size_t)gaps * 24)))
		return llm_err(LLM_ENOMEM, "out of memory for %llu padding tokens", (unsigned long long)gaps);
	for (uint64_t i = 0, k = 0; gaps && i < n; i++)
		if (!tok[i].s) {
			tok[i].s = *store + 24 * k++;
			tok[i].len = (uint64_t)snprintf(tok[i].s, 24, "[PAD%llu]", (unsigned long long)i);
			type[i] = 5; /* unused */
		}
	return 0;
}

/* The vocabulary path gave c: not damaged (a GGUF's keys would otherwise
 * be copied into an output that nothing loads; one of a kind the
 * tokenizer does not run, a BERT or T5 vocabulary, is copied as it is),
 * with one token per embedding row, as the model loader and llama.cpp
 * require (the tokenizer.model and tokenizer.json readers pad a
 * vocabulary the model rounded up; a GGUF's or a tokenizer.bin's is
 * taken as it is).  Errors name path. */
static int check_vocab(llm_ckpt *c, const char *path, int64_t rows)
{
	llm_tokenizer *tk;
	int rc = llm_tokenizer_open(&tk, &c->meta);
	const struct llm_kv *toks = llm_meta_get(&c->meta, "tokenizer.ggml.tokens");
	int64_t n = toks ? (int64_t)toks->n : 0;
	if (rc == LLM_EUNSUPPORTED) {
		/* a kind llama.cpp names but llm-run does not run: its arrays
		 * must still agree; any other name is damage (llama.cpp:
		 * "unknown tokenizer") */
		static const char *const kinds[] = { "no", "none", "bert", "t5", "rwkv", "ugm", "plamo2" };
		const char *model = "";
		int known = 0;
		llm_meta_get_str(&c->meta, "tokenizer.ggml.model", &model, NULL);
		for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
			known |= strcmp(model, kinds[i]) == 0;
		if (!known)
			return llm_err(LLM_EFORMAT, "%s: unknown tokenizer model '%s'", path, model);
		const char *arrs[] = { "tokenizer.ggml.scores", "tokenizer.ggml.token_type" };
		for (int i = 0; i < 2; i++) {
			const struct llm_kv *a = llm_meta_get(&c->meta, arrs[i]);
			if (a && (int64_t)a->n != n)
				return llm_err(LLM_EFORMAT, "%s: %s: %llu entries for %lld tokens", path, arrs[i],
					       (unsigned long long)a->n, (long long)n);
		}
		rc = 0;
	} else if (rc) {
		return llm_err_prefix(rc == LLM_ENOTFOUND ? LLM_EFORMAT : rc, path);
	} else {
		llm_tokenizer_free(tk);
	}
	if (rows >= 0 && n != rows)
		return llm_err(LLM_EINVAL, "%s: a vocabulary of %lld tokens for a model of %lld embedding rows", path,
			       (long long)n, (long long)rows);
	return 0;
}

/* Take the vocabulary of path into c's metadata: the tokenizer.* keys of a
 * GGUF, a SentencePiece tokenizer.model (spm.c), a Hugging Face
 * tokenizer.json (hftok.c) or a llama2.c tokenizer.bin (llama2c.c),
 * recognised by content (a file named *.model or *.json is read as such,
 * so that a damaged one says what it was taken for). */
int llm_ckpt_set_tokenizer(llm_ckpt *c, const char *path)
{
	llm_gguf *g = NULL;
	llm_ckpt *zc = NULL;
	llm_meta spm;
	const llm_meta *m = NULL;
	int rc;
	struct llm_map map;

	int64_t e = llm_ckpt_find(c, "token_embd.weight");
	int64_t rows = e >= 0 && c->t[e].n_dims == 2 ? c->t[e].ne[1] : -1;
	if ((rc = llm_map_open(&map, path)))
		return rc;
	llm_meta_init(&spm);
	if (llm_zst_sniff(map.data, map.size) || llm_zst_frame_sniff(map.data, map.size)) {
		/* a compressed GGUF (the container, or a zstd stream of one):
		 * opened as any checkpoint is, for its metadata */
		if (!(rc = llm_ckpt_open(&zc, path, NULL)))
			m = &zc->meta;
	} else if (map.size >= 4 && memcmp(map.data, "GGUF", 4) == 0) {
		if (!(rc = llm_gguf_open_mem(&g, map.data, map.size, path)))
			m = llm_gguf_meta(g);
	} else if (llm_ends_with(path, ".model") || llm_spm_sniff(map.data, map.size)) {
		if (!(rc = llm_spm_tokenizer(&spm, path, map.data, map.size, rows)))
			m = &spm;
	} else if (llm_ends_with(path, ".json") || llm_hftok_sniff(map.data, map.size)) {
		if (!(rc = llm_hftok_tokenizer(&spm, path, map.data, map.size, rows)))
			m = &spm;
	} else {
		rc = llm_llama2c_tokenizer(&c->meta, path, map.data, map.size);
		llm_map_close(&map);
		return rc ? rc : check_vocab(c, path, rows);
	}
	if (!rc && !llm_meta_get(m, "tokenizer.ggml.tokens"))
		rc = llm_err(LLM_EFORMAT, "%s: holds no vocabulary (no tokenizer.ggml.tokens)", path);
	if (!rc) {
		/* the borrowed vocabulary replaces the whole tokenizer.* set */
		for (int64_t i = c->meta.n - 1; i >= 0; i--)
			if (strncmp(c->meta.kv[i].key, "tokenizer.", 10) == 0)
				llm_meta_remove(&c->meta, c->meta.kv[i].key);
		for (int64_t i = 0; i < m->n && !rc; i++)
			if (strncmp(m->kv[i].key, "tokenizer.", 10) == 0)
				rc = llm_meta_set_kv(&c->meta, &m->kv[i], NULL);
	}
	llm_gguf_free(g);
	llm_ckpt_free(zc);
	llm_meta_clear(&spm);
	llm_map_close(&map);
	return rc ? rc : check_vocab(c, path, rows);
}

