/* gguf.c - GGUF reader (mmap or spooled stdin) and streaming writer.
 * The byte layout is described in gguf.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "gguf.h"
#include "io.h"
#include "types.h"
#include "zst.h"

/* ------------------------------------------------------------------ */
/* reading                                                             */

struct llm_gguf {
	char *path;
	const uint8_t *base;  /* whole file */
	uint64_t size;
	struct llm_map map;   /* owner of base when we mapped it */
	uint32_t version;
	uint32_t alignment;
	llm_meta meta;
	struct llm_tensor_info *t;
	int64_t nt;
	uint64_t data_off;
};

struct cur {
	const uint8_t *p;
	uint64_t size, off;
	const char *path;
};

static int trunc_err(const struct cur *c, const char *what)
{
	return llm_err(LLM_EFORMAT, "%s: truncated %s at byte %llu (file has %llu bytes)", c->path,
		       what, (unsigned long long)c->off, (unsigned long long)c->size);
}

static int rd(struct cur *c, void *dst, uint64_t n, const char *what)
{
	if (n > c->size - c->off)
		return trunc_err(c, what);
	memcpy(dst, c->p + c->off, n);
	c->off += n;
	return 0;
}

/* A string: u64 length + bytes; copied NUL-terminated into *out (owned). */
static int rd_str(struct cur *c, struct llm_str *out, const char *what)
{
	uint64_t len;
	int rc = rd(c, &len, 8, what);
	if (rc)
		return rc;
	if (len > c->size - c->off)
		return llm_err(LLM_EFORMAT, "%s: %s: string length %llu runs past the end of the file",
			       c->path, what, (unsigned long long)len);
	out->s = malloc(len + 1);
	if (!out->s)
		return llm_err(LLM_ENOMEM, "%s: out of memory", c->path);
	memcpy(out->s, c->p + c->off, len);
	out->s[len] = 0;
	out->len = len;
	c->off += len;
	return 0;
}

static int rd_kv(struct cur *c, struct llm_kv *kv)
{
	struct llm_str key = { 0 };
	uint32_t t;
	int rc;

	memset(kv, 0, sizeof *kv);
	if ((rc = rd_str(c, &key, "metadata key")))
		return rc;
	kv->key = key.s;
	if (memchr(key.s, 0, key.len))
		return llm_err(LLM_EFORMAT, "%s: metadata key with a NUL byte", c->path);
	if ((rc = rd(c, &t, 4, "metadata type")))
		return rc;
	if (t >= LLM_V_COUNT)
		return llm_err(LLM_EFORMAT, "%s: metadata %s: unknown value type %u", c->path, key.s, t);
	kv->type = t;
	kv->atype = t;
	kv->n = 1;
	if (t == LLM_V_ARR) {
		uint32_t at;
		uint64_t n;
		if ((rc = rd(c, &at, 4, "array type")) || (rc = rd(c, &n, 8, "array length")))
			return rc;
		if (at >= LLM_V_COUNT || at == LLM_V_ARR)
			return llm_err(LLM_EFORMAT, "%s: metadata %s: %s array element type %u", c->path,
				       key.s, at == LLM_V_ARR ? "nested arrays are not supported:" : "unknown", at);
		kv->atype = at;
		/* each element takes at least 1 byte (8 for strings): bound n by what is left */
		if (n > (c->size - c->off) / (at == LLM_V_STR ? 8 : llm_vtype_size(at)))
			return llm_err(LLM_EFORMAT, "%s: metadata %s: array of %llu elements runs past the end of the file",
				       c->path, key.s, (unsigned long long)n);
		kv->n = n;
	}
	if (kv->atype == LLM_V_STR) {
		struct llm_str *s = calloc(kv->n ? kv->n : 1, sizeof *s);
		kv->data = s;
		if (!s)
			return llm_err(LLM_ENOMEM, "%s: out of memory", c->path);
		for (uint64_t i = 0; i < kv->n; i++)
			if ((rc = rd_str(c, &s[i], kv->key))) {
				kv->n = i; /* free what was read */
				return rc;
			}
		return 0;
	}
	size_t es = llm_vtype_size(kv->atype);
	kv->data = malloc(kv->n * es > 0 ? kv->n * es : 1);
	if (!kv->data)
		return llm_err(LLM_ENOMEM, "%s: out of memory", c->path);
	return rd(c, kv->data, kv->n * es, kv->key);
}

/* Tensor names seen while parsing, for duplicates in constant time: a file
 * of 150,000 tensors took 42 s with a scan per name (the keys' duplicates
 * are found through llm_meta's own index). */
struct nameset {
	const char **slot; /* open addressing, NULL = free */
	size_t mask;
};

static int nameset_init(struct nameset *s, int64_t n)
{
	size_t cap = 16;
	while (cap < 2 * (size_t)n)
		cap *= 2;
	s->mask = cap - 1;
	s->slot = calloc(cap, sizeof *s->slot);
	return s->slot ? 0 : llm_err(LLM_ENOMEM, "out of memory");
}

/* 1 when name was there already, else 0 (and it is now, when keep) */
static int nameset_look(struct nameset *s, const char *name, int keep)
{
	for (size_t i = (size_t)llm_hash_str(name) & s->mask;; i = (i + 1) & s->mask) {
		if (!s->slot[i]) {
			if (keep)
				s->slot[i] = name;
			return 0;
		}
		if (strcmp(s->slot[i], name) == 0)
			return 1;
	}
}
static int nameset_add(struct nameset *s, const char *name) { return nameset_look(s, name, 1); }

/* The writer's set, kept at most half full as tensors come: the n names
 * of t rehashed into a set twice as large when one more would pass that. */
static int nameset_room(struct nameset *s, const struct llm_tensor_info *t, int64_t n)
{
	if (s->slot && 2 * (size_t)(n + 1) <= s->mask + 1)
		return 0;
	struct nameset b;
	if (nameset_init(&b, 2 * (n + 1)))
		return LLM_ENOMEM;
	for (int64_t i = 0; i < n; i++)
		nameset_add(&b, t[i].name);
	free(s->slot);
	*s = b;
	return 0;
}

static int parse_tensors(llm_gguf *g, struct cur *c0, int64_t n_tensors, struct nameset *seen);

static int parse(llm_gguf *g)
{
	struct cur c = { g->base, g->size, 0, g->path };
	uint32_t magic;
	int64_t n_tensors, n_kv;
	int rc;

	if (g->size < 4 || memcpy(&magic, g->base, 4) == NULL || magic != LLM_GGUF_MAGIC)
		return llm_err(LLM_EFORMAT, "%s: not a GGUF file (bad magic)", g->path);
	c.off = 4;
	if ((rc = rd(&c, &g->version, 4, "header")))
		return rc;
	uint32_t swapped = __builtin_bswap32(g->version);
	if (g->version != 2 && g->version != 3 && (swapped == 2 || swapped == 3))
		return llm_err(LLM_EUNSUPPORTED,
			       "%s: a big-endian GGUF (version %u byte-swapped): only little-endian files are read",
			       g->path, swapped);
	if (g->version != 2 && g->version != 3)
		return llm_err(LLM_EUNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)",
			       g->path, g->version);
	if ((rc = rd(&c, &n_tensors, 8, "header")) || (rc = rd(&c, &n_kv, 8, "header")))
		return rc;
	/* a kv takes >= 12 bytes, a tensor info >= 24: bound the counts by the size */
	if (n_kv < 0 || (uint64_t)n_kv > (g->size - c.off) / 12)
		return llm_err(LLM_EFORMAT, "%s: metadata count %lld does not fit in the %llu bytes that follow (truncated or corrupt)",
			       g->path, (long long)n_kv, (unsigned long long)(g->size - c.off));
	if (n_tensors < 0 || (uint64_t)n_tensors > (g->size - c.off) / 24)
		return llm_err(LLM_EFORMAT, "%s: tensor count %lld does not fit in the %llu bytes that follow (truncated or corrupt)",
			       g->path, (long long)n_tensors, (unsigned long long)(g->size - c.off));

	for (int64_t i = 0; i < n_kv; i++) {
		struct llm_kv kv;
		rc = rd_kv(&c, &kv);
		if (rc == 0 && llm_meta_find(&g->meta, kv.key) >= 0)
			rc = llm_err(LLM_EFORMAT, "%s: duplicate metadata key %s", g->path, kv.key);
		if (rc == 0)
			rc = llm_meta_append(&g->meta, &kv);
		if (rc) {
			llm_kv_clear(&kv);
			return rc;
		}
	}
	struct nameset seen;
	if ((rc = nameset_init(&seen, n_tensors)))
		return rc;
	rc = parse_tensors(g, &c, n_tensors, &seen);
	free(seen.slot);
	return rc;
}

/* The tensor infos after the metadata, then the data section's place. */
static int parse_tensors(llm_gguf *g, struct cur *c0, int64_t n_tensors, struct nameset *seen)
{
	struct cur c = *c0;
	int rc;

	g->alignment = LLM_GGUF_DEFAULT_ALIGNMENT;
	const struct llm_kv *al = llm_meta_get(&g->meta, "general.alignment");
	if (al) {
		if (al->type != LLM_V_U32)
			return llm_err(LLM_EFORMAT, "%s: general.alignment is %s, not u32", g->path,
				       llm_vtype_name(al->type));
		g->alignment = *(const uint32_t *)al->data;
		if (g->alignment == 0 || (g->alignment & (g->alignment - 1)))
			return llm_err(LLM_EFORMAT, "%s: general.alignment %u is not a power of two",
				       g->path, g->alignment);
	}

	g->t = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->t);
	if (!g->t)
		return llm_err(LLM_ENOMEM, "%s: out of memory", g->path);
	for (int64_t i = 0; i < n_tensors; i++) {
		struct llm_tensor_info *t = &g->t[i];
		struct llm_str name;
		uint32_t nd, type;
		int64_t nel = 1;

		if ((rc = rd_str(&c, &name, "tensor name")))
			return rc;
		t->name = name.s;
		g->nt = i + 1;
		if (name.len == 0 || memchr(name.s, 0, name.len))
			return llm_err(LLM_EFORMAT, "%s: tensor %lld has an empty or bad name", g->path, (long long)i);
		if ((rc = rd(&c, &nd, 4, "tensor info")))
			return rc;
		if (nd < 1 || nd > LLM_MAX_DIMS)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: %u dimensions (1 to %d allowed)",
				       g->path, t->name, nd, LLM_MAX_DIMS);
		t->n_dims = (int)nd;
		for (int d = 0; d < LLM_MAX_DIMS; d++)
			t->ne[d] = 1;
		if ((rc = rd(&c, t->ne, 8ull * nd, "tensor info")))
			return rc;
		for (int d = 0; d < (int)nd; d++) {
			if (t->ne[d] < 0)
				return llm_err(LLM_EFORMAT, "%s: tensor %s: negative dimension %lld", g->path,
					       t->name, (long long)t->ne[d]);
			if (t->ne[d] && nel > INT64_MAX / t->ne[d])
				return llm_err(LLM_EFORMAT, "%s: tensor %s: element count overflows", g->path, t->name);
			nel *= t->ne[d];
		}
		if ((rc = rd(&c, &type, 4, "tensor info")) || (rc = rd(&c, &t->offset, 8, "tensor info")))
			return rc;
		const struct llm_type_traits *tr = llm_type_traits((int)type);
		if (!tr)
			return llm_err(LLM_EUNSUPPORTED, "%s: tensor %s: unknown type id %u", g->path, t->name, type);
		t->type = (int)type;
		if (t->ne[0] % tr->blck)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: row of %lld values is not a multiple of %s's block of %d",
				       g->path, t->name, (long long)t->ne[0], tr->name, tr->blck);
		uint64_t row = t->ne[0] ? llm_type_row_size(t->type, t->ne[0]) : 0;
		uint64_t rows = (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
		if (t->ne[0] && row == 0)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: size overflows", g->path, t->name);
		if (rows && row > UINT64_MAX / rows)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: size overflows", g->path, t->name);
		t->size = nel ? row * rows : 0;
		if (t->offset % g->alignment)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: offset %llu is not aligned to %u", g->path,
				       t->name, (unsigned long long)t->offset, g->alignment);
		if (nameset_add(seen, t->name))
			return llm_err(LLM_EFORMAT, "%s: duplicate tensor name %s", g->path, t->name);
	}
	g->data_off = (c.off + g->alignment - 1) / g->alignment * g->alignment;
	uint64_t avail = g->data_off <= g->size ? g->size - g->data_off : 0;
	for (int64_t i = 0; i < n_tensors; i++) {
		const struct llm_tensor_info *t = &g->t[i];
		if (t->offset > avail || t->size > avail - t->offset)
			return llm_err(LLM_EFORMAT, "%s: tensor %s: data (offset %llu, %llu bytes) run past the end of the file",
				       g->path, t->name, (unsigned long long)t->offset, (unsigned long long)t->size);
	}
	return 0;
}

static int finish_open(llm_gguf **out, llm_gguf *g)
{
	int rc = parse(g);
	if (rc) {
		llm_gguf_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

int llm_gguf_open(llm_gguf **out, const char *path)
{
	llm_gguf *g;
	int rc;

	*out = NULL;
	g = calloc(1, sizeof *g);
	if (!g)
		return llm_err(LLM_ENOMEM, "out of memory");
	g->path = strdup(path);
	if (!g->path) {
		free(g);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	/* a compressed container (zst.h) is decoded whole: GGUF-only readers
	 * such as adapters then take .gguf.zst too */
	if ((rc = llm_zst_map_open(&g->map, path, NULL))) {
		llm_gguf_free(g);
		return rc;
	}
	g->base = g->map.data;
	g->size = g->map.size;
	return finish_open(out, g);
}

int llm_gguf_open_mem(llm_gguf **out, const void *buf, size_t size, const char *name)
{
	llm_gguf *g = calloc(1, sizeof *g);
	*out = NULL;
	if (!g || !(g->path = strdup(name ? name : "(memory)"))) {
		free(g);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	g->base = buf;
	g->size = size;
	return finish_open(out, g);
}

void llm_gguf_free(llm_gguf *g)
{
	if (!g)
		return;
	for (int64_t i = 0; i < g->nt; i++)
		free(g->t[i].name);
	free(g->t);
	llm_meta_clear(&g->meta);
	llm_map_close(&g->map);
	free(g->path);
	free(g);
}

uint32_t llm_gguf_version(const llm_gguf *g) { return g->version; }
const llm_meta *llm_gguf_meta(const llm_gguf *g) { return &g->meta; }
uint32_t llm_gguf_alignment(const llm_gguf *g) { return g->alignment; }
int64_t llm_gguf_n_tensors(const llm_gguf *g) { return g->nt; }
uint64_t llm_gguf_data_offset(const llm_gguf *g) { return g->data_off; }
uint64_t llm_gguf_file_size(const llm_gguf *g) { return g->size; }
const char *llm_gguf_path(const llm_gguf *g) { return g->path; }

const struct llm_tensor_info *llm_gguf_tensor(const llm_gguf *g, int64_t i)
{
	return i >= 0 && i < g->nt ? &g->t[i] : NULL;
}

int64_t llm_gguf_find_tensor(const llm_gguf *g, const char *name)
{
	for (int64_t i = 0; i < g->nt; i++)
		if (strcmp(g->t[i].name, name) == 0)
			return i;
	return -1;
}

const void *llm_gguf_tensor_data(const llm_gguf *g, int64_t i)
{
	if (i < 0 || i >= g->nt)
		return NULL;
	return g->base + g->data_off + g->t[i].offset;
}

/* ------------------------------------------------------------------ */
/* writing                                                             */

/* One output file: the whole GGUF, or one shard holding tensors [t0, t1). */
struct part {
	struct llm_out out;
	llm_zst_enc *enc;     /* non-NULL: the container */
	char *path;
	int64_t t0, t1;
	uint64_t pos;         /* bytes of the decoded GGUF so far */
	uint64_t data_off;    /* start of its data section */
};

struct llm_gguf_writer {
	char *path;           /* as given ("-" for stdout) */
	struct llm_gguf_write_opts o;
	int zstd, split;
	llm_meta meta;
	struct llm_tensor_info *t;
	int64_t nt, cap;
	struct nameset names; /* of t, for duplicates in constant time */
	int header_done;
	uint32_t alignment;
	int64_t cur;          /* tensor being written */
	uint64_t cur_done;    /* bytes of it written */
	struct part *parts;
	int np, ip;           /* number of parts, current part */
	int open;             /* parts[ip].out is open */
	char **done_paths;    /* shards already renamed into place */
	int n_done;
	int failed;
};

int llm_gguf_writer_open(llm_gguf_writer **out, const char *path)
{
	return llm_gguf_writer_open_opts(out, path, NULL);
}

int llm_gguf_writer_open_opts(llm_gguf_writer **out, const char *path, const struct llm_gguf_write_opts *o)
{
	static const struct llm_gguf_write_opts dflt = LLM_GGUF_WRITE_OPTS_INIT;
	llm_gguf_writer *w = calloc(1, sizeof *w);

	*out = NULL;
	if (!path)
		path = "-";
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	w->o = o ? *o : dflt;
	w->zstd = w->o.zstd < 0 ? llm_ends_with(path, ".zst") : w->o.zstd > 0;
	w->split = w->o.split_max_size > 0 || w->o.split_max_tensors > 0;
	if (w->split && strcmp(path, "-") == 0) {
		free(w->path);
		free(w);
		return llm_err(LLM_EINVAL, "split shards need an output name (-o PREFIX.gguf), not stdout");
	}
	llm_meta_init(&w->meta);
	if (!w->split) {
		/* open now so an unwritable output fails early */
		int rc;
		if (!(w->parts = calloc(1, sizeof *w->parts)) || !(w->parts[0].path = strdup(path))) {
			llm_gguf_writer_abort(w);
			return llm_err(LLM_ENOMEM, "out of memory");
		}
		w->np = 1;
		if ((rc = llm_out_open(&w->parts[0].out, path))) {
			free(w->parts[0].path);
			free(w->parts);
			free(w->path);
			free(w);
			return rc;
		}
		w->open = 1;
	}
	*out = w;
	return 0;
}

llm_meta *llm_gguf_writer_meta(llm_gguf_writer *w) { return &w->meta; }

int llm_gguf_writer_add_tensor(llm_gguf_writer *w, const char *name, int type, int n_dims,
			       const int64_t *ne)
{
	struct llm_tensor_info *t;
	const struct llm_type_traits *tr = llm_type_traits(type);
	uint64_t rows = 1;

	if (w->header_done)
		return llm_err(LLM_EINVAL, "%s: tensor %s declared after data started", w->path, name);
	if (!tr || n_dims < 1 || n_dims > LLM_MAX_DIMS)
		return llm_err(LLM_EINVAL, "%s: tensor %s: bad type or dimensions", w->path, name);
	/* a scan per name made a file of 200,000 tensors take 83 s */
	if (nameset_room(&w->names, w->t, w->nt))
		return LLM_ENOMEM;
	if (nameset_look(&w->names, name, 0))
		return llm_err(LLM_EINVAL, "%s: duplicate tensor name %s", w->path, name);
	if (w->nt == w->cap) {
		int64_t cap = w->cap ? 2 * w->cap : 64;
		void *p = realloc(w->t, (size_t)cap * sizeof *w->t);
		if (!p)
			return llm_err(LLM_ENOMEM, "out of memory");
		w->t = p;
		w->cap = cap;
	}
	t = &w->t[w->nt];
	memset(t, 0, sizeof *t);
	t->type = type;
	t->n_dims = n_dims;
	for (int d = 0; d < LLM_MAX_DIMS; d++) {
		t->ne[d] = d < n_dims ? ne[d] : 1;
		if (t->ne[d] < 0)
			return llm_err(LLM_EINVAL, "%s: tensor %s: negative dimension", w->path, name);
		if (d > 0) {
			if (t->ne[d] && rows > UINT64_MAX / (uint64_t)t->ne[d])
				return llm_err(LLM_EINVAL, "%s: tensor %s: too large", w->path, name);
			rows *= (uint64_t)t->ne[d];
		}
	}
	uint64_t row = t->ne[0] ? llm_type_row_size(type, t->ne[0]) : 0;
	if (t->ne[0] && !row)
		return llm_err(LLM_EINVAL, "%s: tensor %s: row of %lld values does not fit type %s",
			       w->path, name, (long long)t->ne[0], tr->name);
	if (rows && row > UINT64_MAX / rows)
		return llm_err(LLM_EINVAL, "%s: tensor %s: too large", w->path, name);
	t->size = row * rows;
	if (!(t->name = strdup(name)))
		return llm_err(LLM_ENOMEM, "out of memory");
	nameset_add(&w->names, t->name);
	w->nt++;
	return 0;
}

/* Serialise header, metadata and tensor infos into one buffer and send it. */
static int put(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n)
			c *= 2;
		uint8_t *b = realloc(*buf, c);
		if (!b)
			return llm_err(LLM_ENOMEM, "out of memory");
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

static int put_str(uint8_t **b, size_t *l, size_t *c, const char *s, uint64_t n)
{
	int rc = put(b, l, c, &n, 8);
	return rc ? rc : put(b, l, c, s, n);
}

static int put_kv(uint8_t **b, size_t *len, size_t *cap, const struct llm_kv *kv)
{
	uint32_t u32 = kv->type;
	int rc = put_str(b, len, cap, kv->key, strlen(kv->key));
	rc |= put(b, len, cap, &u32, 4);
	if (kv->type == LLM_V_ARR) {
		u32 = kv->atype;
		rc |= put(b, len, cap, &u32, 4);
		rc |= put(b, len, cap, &kv->n, 8);
	}
	if (kv->atype == LLM_V_STR) {
		const struct llm_str *s = kv->data;
		for (uint64_t j = 0; j < kv->n && !rc; j++)
			rc |= put_str(b, len, cap, s[j].s, s[j].len);
	} else {
		rc |= put(b, len, cap, kv->data, kv->n * llm_vtype_size(kv->atype));
	}
	return rc ? LLM_ENOMEM : 0;
}

static int is_split_key(const char *k)
{
	return strcmp(k, "split.no") == 0 || strcmp(k, "split.count") == 0 || strcmp(k, "split.tensors.count") == 0;
}

static uint64_t padded(const llm_gguf_writer *w, uint64_t n)
{
	return (n + w->alignment - 1) / w->alignment * w->alignment;
}

/* The GGUF header of part p (all metadata in the first part; in later
 * shards only the split keys and the alignment, as llama.cpp's gguf-split). */
static int build_header(llm_gguf_writer *w, struct part *p, uint8_t **out, size_t *out_len)
{
	uint8_t *b = NULL;
	size_t len = 0, cap = 0;
	uint32_t u32;
	int64_t i64, n_kv = 0;
	uint64_t off = 0;
	int rc = 0, first = p == &w->parts[0];
	uint16_t no = (uint16_t)(p - w->parts), count = (uint16_t)w->np;
	int32_t ntens = (int32_t)w->nt;
	const struct llm_kv split_kv[3] = {
		{ "split.no", LLM_V_U16, LLM_V_U16, 1, &no },
		{ "split.count", LLM_V_U16, LLM_V_U16, 1, &count },
		{ "split.tensors.count", LLM_V_I32, LLM_V_I32, 1, &ntens },
	};

	for (int64_t i = 0; i < w->meta.n; i++)
		if (!(w->split && is_split_key(w->meta.kv[i].key)) &&
		    (first || strcmp(w->meta.kv[i].key, "general.alignment") == 0))
			n_kv++;
	if (w->split)
		n_kv += 3;
	u32 = LLM_GGUF_MAGIC;
	rc |= put(&b, &len, &cap, &u32, 4);
	u32 = 3;
	rc |= put(&b, &len, &cap, &u32, 4);
	i64 = p->t1 - p->t0;
	rc |= put(&b, &len, &cap, &i64, 8);
	rc |= put(&b, &len, &cap, &n_kv, 8);
	for (int64_t i = 0; i < w->meta.n && !rc; i++)
		if (!(w->split && is_split_key(w->meta.kv[i].key)) &&
		    (first || strcmp(w->meta.kv[i].key, "general.alignment") == 0))
			rc = put_kv(&b, &len, &cap, &w->meta.kv[i]);
	for (int k = 0; k < 3 && w->split && !rc; k++)
		rc = put_kv(&b, &len, &cap, &split_kv[k]);
	for (int64_t i = p->t0; i < p->t1 && !rc; i++) {
		struct llm_tensor_info *t = &w->t[i];
		rc |= put_str(&b, &len, &cap, t->name, strlen(t->name));
		u32 = (uint32_t)t->n_dims;
		rc |= put(&b, &len, &cap, &u32, 4);
		rc |= put(&b, &len, &cap, t->ne, 8 * (size_t)t->n_dims);
		u32 = (uint32_t)t->type;
		rc |= put(&b, &len, &cap, &u32, 4);
		t->offset = off;
		rc |= put(&b, &len, &cap, &off, 8);
		off += padded(w, t->size);
	}
	if (!rc) {
		static const uint8_t zero[256];
		size_t pad = (w->alignment - len % w->alignment) % w->alignment;
		while (pad && !rc) { /* the alignment may exceed the zero block */
			size_t k = pad < sizeof zero ? pad : sizeof zero;
			rc = put(&b, &len, &cap, zero, k);
			pad -= k;
		}
	}
	if (rc) {
		free(b);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	*out = b;
	*out_len = len;
	return 0;
}

/* Bytes to the current part: plain, or into the container's current region. */
static int part_write(struct part *p, const void *data, size_t n)
{
	int rc = p->enc ? llm_zst_enc_write(p->enc, data, n) : llm_out_write(&p->out, data, n);
	p->pos += n;
	return rc;
}

static int part_pad(llm_gguf_writer *w, struct part *p, uint64_t n)
{
	static const uint8_t zero[256];
	int rc = 0;
	if (p->enc) { /* padding is implied in the container */
		p->pos += n;
		return 0;
	}
	(void)w;
	while (n && !rc) {
		size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
		rc = part_write(p, zero, k);
		n -= k;
	}
	return rc;
}

size_t llm_shard_name_parse(const char *path, int *no, int *count, int *zst)
{
	size_t n = strlen(path), tail;
	int z = llm_ends_with(path, ".gguf.zst");
	if (!z && !llm_ends_with(path, ".gguf"))
		return 0;
	tail = (z ? 9 : 5) + 15; /* "-NNNNN-of-MMMMM" + ".gguf[.zst]" */
	const char *t = path + n - tail;
	if (n < tail + 1 || t[0] != '-' || strspn(t + 1, "0123456789") != 5 || memcmp(t + 6, "-of-", 4) ||
	    strspn(t + 10, "0123456789") != 5)
		return 0;
	if (no)
		*no = atoi(t + 1) - 1;
	if (count)
		*count = atoi(t + 10);
	if (zst)
		*zst = z;
	return (size_t)(t - path);
}

/* Shard name: PREFIX-00001-of-00003.gguf[.zst] from PREFIX[.gguf][.zst];
 * compressed shards (zst) end in .zst whatever the output's name. */
static char *shard_name(const char *path, int no, int count, int zst)
{
	size_t n = strlen(path);
	int z = llm_ends_with(path, ".zst");
	char *s = malloc(n + 48);
	if (!s)
		return NULL;
	memcpy(s, path, n + 1);
	if (z)
		s[n -= 4] = 0;
	if (llm_ends_with(s, ".gguf"))
		s[n -= 5] = 0;
	snprintf(s + n, 48, "-%05d-of-%05d.gguf%s", no + 1, count, z || zst ? ".zst" : "");
	return s;
}

/* Decide the parts (one unless splitting). */
static int plan_parts(llm_gguf_writer *w)
{
	int np = 1;
	uint64_t size = 0;
	int64_t n = 0;

	if (!w->split)
		goto one;
	for (int64_t i = 0; i < w->nt; i++) {
		uint64_t s = padded(w, w->t[i].size);
		if (n > 0 && ((w->o.split_max_tensors > 0 && n >= w->o.split_max_tensors) ||
			      (w->o.split_max_size > 0 && size + s > w->o.split_max_size))) {
			np++;
			n = 0;
			size = 0;
		}
		n++;
		size += s;
	}
	if (np > 99999)
		return llm_err(LLM_EINVAL, "%s: %d shards (at most 99999)", w->path, np);
	if (!(w->parts = calloc((size_t)np, sizeof *w->parts)))
		return llm_err(LLM_ENOMEM, "out of memory");
	w->np = np;
	np = 0;
	n = 0;
	size = 0;
	for (int64_t i = 0; i < w->nt; i++) {
		uint64_t s = padded(w, w->t[i].size);
		if (n > 0 && ((w->o.split_max_tensors > 0 && n >= w->o.split_max_tensors) ||
			      (w->o.split_max_size > 0 && size + s > w->o.split_max_size))) {
			w->parts[np++].t1 = i;
			w->parts[np].t0 = i;
			n = 0;
			size = 0;
		}
		n++;
		size += s;
	}
	w->parts[np].t1 = w->nt;
	for (int k = 0; k < w->np; k++)
		if (!(w->parts[k].path = shard_name(w->path, k, w->np, w->zstd)))
			return llm_err(LLM_ENOMEM, "out of memory");
	return 0;
one:
	w->parts[0].t0 = 0;
	w->parts[0].t1 = w->nt;
	return 0;
}

/* Open part ip (unless open) and write its header. */
static int start_part(llm_gguf_writer *w)
{
	struct part *p = &w->parts[w->ip];
	uint8_t *b = NULL;
	size_t len = 0;
	int rc;

	if (!w->open) {
		if ((rc = llm_out_open(&p->out, p->path)))
			return rc;
		w->open = 1;
	}
	if (w->zstd && (rc = llm_zst_enc_new(&p->enc, &p->out, w->o.zstd_level, w->o.n_threads)))
		return rc;
	if ((rc = build_header(w, p, &b, &len)))
		return rc;
	if (p->enc)
		rc = llm_zst_enc_begin(p->enc, 0, len, 0);
	if (!rc)
		rc = part_write(p, b, len);
	free(b);
	p->data_off = len;
	return rc;
}

/* Finish part ip: index and footer for a container, then rename into place. */
static int end_part(llm_gguf_writer *w)
{
	struct part *p = &w->parts[w->ip];
	int rc = 0;
	if (p->enc)
		rc = llm_zst_enc_finish(p->enc, p->pos);
	llm_zst_enc_free(p->enc);
	p->enc = NULL;
	if (rc) {
		llm_out_abort(&p->out);
		w->open = 0;
		return rc;
	}
	rc = llm_out_commit(&p->out);
	w->open = 0;
	if (rc)
		return rc;
	if (w->split) {
		char **d = realloc(w->done_paths, (size_t)(w->n_done + 1) * sizeof *d);
		if (!d)
			return llm_err(LLM_ENOMEM, "out of memory");
		w->done_paths = d;
		d[w->n_done++] = p->path;
		llm_out_cleanup_also(p->path); /* a signal before the last shard removes it */
		p->path = NULL;
	}
	return 0;
}

static int write_header(llm_gguf_writer *w)
{
	int rc;
	w->alignment = LLM_GGUF_DEFAULT_ALIGNMENT;
	const struct llm_kv *al = llm_meta_get(&w->meta, "general.alignment");
	if (al) {
		uint32_t a = al->type == LLM_V_U32 ? *(const uint32_t *)al->data : 0;
		if (a == 0 || (a & (a - 1)))
			return llm_err(LLM_EINVAL, "%s: general.alignment must be a u32 power of two", w->path);
		w->alignment = a;
	}
	w->header_done = 1;
	if ((rc = plan_parts(w)))
		return rc;
	return start_part(w);
}

/* Move past finished tensors, padding each to the alignment, and from one
 * shard to the next. */
static int advance(llm_gguf_writer *w)
{
	int rc;
	while (w->cur < w->nt && w->cur_done == w->t[w->cur].size) {
		struct part *p = &w->parts[w->ip];
		uint64_t sz = w->t[w->cur].size;
		if ((rc = part_pad(w, p, (w->alignment - sz % w->alignment) % w->alignment)))
			return rc;
		w->cur++;
		w->cur_done = 0;
		if (w->cur == p->t1 && w->ip + 1 < w->np) {
			if ((rc = end_part(w)))
				return rc;
			w->ip++;
			if ((rc = start_part(w)))
				return rc;
		}
	}
	return 0;
}

/* Entering tensor cur: open its region in the container. */
static int begin_tensor(llm_gguf_writer *w)
{
	struct part *p = &w->parts[w->ip];
	const struct llm_tensor_info *t = &w->t[w->cur];
	if (!p->enc || w->cur_done)
		return 0;
	return llm_zst_enc_begin(p->enc, p->data_off + t->offset, t->size, llm_zst_elem_for_type(t->type));
}

int llm_gguf_writer_write(llm_gguf_writer *w, const void *data, size_t size)
{
	int rc;
	if (w->failed)
		return llm_err(LLM_EIO, "%s: earlier write failed", w->path);
	if (size == 0)
		return 0;
	if (!w->header_done && (rc = write_header(w)))
		goto fail;
	if ((rc = advance(w)))
		goto fail;
	if (w->cur >= w->nt || size > w->t[w->cur].size - w->cur_done) {
		rc = llm_err(LLM_EINVAL, "%s: more data than the declared tensors hold", w->path);
		goto fail;
	}
	if ((rc = begin_tensor(w)) || (rc = part_write(&w->parts[w->ip], data, size)))
		goto fail;
	w->cur_done += size;
	if ((rc = advance(w)))
		goto fail;
	return 0;
fail:
	w->failed = 1;
	return rc;
}

static void writer_free(llm_gguf_writer *w)
{
	for (int64_t i = 0; i < w->nt; i++)
		free(w->t[i].name);
	free(w->t);
	free(w->names.slot);
	for (int k = 0; k < w->np; k++) {
		llm_zst_enc_free(w->parts[k].enc);
		free(w->parts[k].path);
	}
	free(w->parts);
	for (int k = 0; k < w->n_done; k++) {
		llm_out_cleanup_forget(w->done_paths[k]);
		free(w->done_paths[k]);
	}
	free(w->done_paths);
	llm_meta_clear(&w->meta);
	free(w->path);
	free(w);
}

int llm_gguf_writer_commit(llm_gguf_writer *w)
{
	int rc = 0;
	if (w->failed)
		rc = llm_err(LLM_EIO, "%s: earlier write failed", w->path);
	if (!rc && !w->header_done)
		rc = write_header(w);
	if (!rc)
		rc = advance(w);
	if (!rc && w->cur < w->nt)
		rc = llm_err(LLM_EINVAL, "%s: tensor %s: %llu of %llu bytes written", w->path,
			     w->t[w->cur].name, (unsigned long long)w->cur_done,
			     (unsigned long long)w->t[w->cur].size);
	if (!rc)
		rc = end_part(w);
	if (rc) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	writer_free(w);
	return 0;
}

void llm_gguf_writer_abort(llm_gguf_writer *w)
{
	if (!w)
		return;
	if (w->open && w->np)
		llm_out_abort(&w->parts[w->ip].out);
	for (int k = 0; k < w->n_done; k++)
		unlink(w->done_paths[k]);
	writer_free(w);
}
