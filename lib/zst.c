/* zst.c - the compressed GGUF container (layout in zst.h).
 *
 * zstd sits behind this file only.  Work is cut into units of at most
 * LLM_ZST_CHUNK raw bytes; a batch of units is compressed or decoded on
 * up to n_threads threads, each with its own zstd context and scratch.
 */
#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "error.h"
#include "types.h"
#include "zst.h"

#define MAX_THREADS 64
#define DEDUP_MIN 1024 /* units at least this large share payloads with equal ones */
#define MAX_UNIT (1ull << 30)

/* ---- XXH64 (the published algorithm) ---- */

static const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full,
		      P3 = 0x165667B19E3779F9ull, P4 = 0x85EBCA77C2B2AE63ull,
		      P5 = 0x27D4EB2F165667C5ull;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t xround(uint64_t acc, uint64_t lane) { return rotl64(acc + lane * P2, 31) * P1; }
static inline uint64_t xmerge(uint64_t h, uint64_t v) { return (h ^ xround(0, v)) * P1 + P4; }

static uint64_t xxh64_seed(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = data, *end = p + n;
	uint64_t h;

	if (n >= 32) {
		uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
		for (; end - p >= 32; p += 32) {
			v1 = xround(v1, rd64(p));
			v2 = xround(v2, rd64(p + 8));
			v3 = xround(v3, rd64(p + 16));
			v4 = xround(v4, rd64(p + 24));
		}
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xmerge(xmerge(xmerge(xmerge(h, v1), v2), v3), v4);
	} else {
		h = seed + P5;
	}
	h += (uint64_t)n;
	for (; end - p >= 8; p += 8)
		h = rotl64(h ^ xround(0, rd64(p)), 27) * P1 + P4;
	if (end - p >= 4) {
		h = rotl64(h ^ (uint64_t)rd32(p) * P1, 23) * P2 + P3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl64(h ^ *p * P5, 11) * P1;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	return h ^ (h >> 32);
}

uint64_t llm_xxh64(const void *data, size_t n)
{
	return xxh64_seed(data, n, 0);
}

int llm_zst_sniff(const void *p, size_t n)
{
	return n >= 4 && memcmp(p, LLM_ZST_MAGIC, 4) == 0;
}

int llm_zst_frame_sniff(const void *p, size_t n)
{
	return n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0;
}

int llm_zst_inflate_frames(struct llm_map *m, const char *path)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	size_t cap = ZSTD_DStreamOutSize();
	void *buf = malloc(cap);
	int fd = -1, rc = 0;
	if (!ds || !buf) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto done;
	}
	if ((fd = llm_tmpfd(path)) < 0) {
		rc = LLM_EIO;
		goto done;
	}
	ZSTD_inBuffer in = { m->data, m->size, 0 };
	size_t left; /* 0 when the last frame has ended */
	int judged = 0;
	for (;;) {
		ZSTD_outBuffer out = { buf, cap, 0 };
		left = ZSTD_decompressStream(ds, &out, &in);
		if (ZSTD_isError(left)) {
			rc = llm_err(LLM_EFORMAT, "%s: zstd stream: %s", path, ZSTD_getErrorName(left));
			goto done;
		}
		if (!judged && out.pos) { /* a GGUF inside, or nothing is written */
			judged = 1;
			if (out.pos < 4 || (memcmp(buf, "GGUF", 4) != 0 && !llm_zst_sniff(buf, out.pos))) {
				rc = llm_err(LLM_EFORMAT, "%s: a zstd stream holding neither a GGUF nor a compressed "
					     "GGUF (decompress other formats first)", path);
				goto done;
			}
		}
		if (out.pos && (rc = llm_write_all(fd, buf, out.pos, path)))
			goto done;
		/* all read and nothing held back; a frame that ended exactly as
		 * the buffer filled needs no further call (one would start a
		 * frame that is not there) */
		if (in.pos == in.size && (left == 0 || out.pos < cap))
			break;
	}
	if (left != 0) {
		rc = llm_err(LLM_EFORMAT, "%s: zstd stream: truncated (the last frame does not end)", path);
		goto done;
	}
	struct llm_map inflated;
	if ((rc = llm_map_fd(&inflated, fd, path)))
		goto done;
	llm_map_close(m);
	*m = inflated;
	m->spooled = 1;
done:
	if (fd >= 0)
		close(fd);
	ZSTD_freeDStream(ds);
	free(buf);
	return rc;
}

int llm_zst_elem_for_type(int type)
{
	return type == LLM_TYPE_F32 ? 4 : type == LLM_TYPE_F16 || type == LLM_TYPE_BF16 ? 2 : 0;
}

static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* ---- byte grouping ---- */

/* src: n elements of elem bytes -> elem streams of n bytes at dst (stream j
 * = byte elem-1-j of each element rotated left by one bit). */
static void group(const uint8_t *src, uint8_t *dst, size_t n, int elem)
{
	if (elem == 2) {
		uint8_t *s0 = dst, *s1 = dst + n;
		for (size_t i = 0; i < n; i++) {
			uint16_t x;
			memcpy(&x, src + 2 * i, 2);
			x = (uint16_t)((x << 1) | (x >> 15));
			s0[i] = (uint8_t)(x >> 8);
			s1[i] = (uint8_t)x;
		}
	} else {
		uint8_t *s0 = dst, *s1 = dst + n, *s2 = dst + 2 * n, *s3 = dst + 3 * n;
		for (size_t i = 0; i < n; i++) {
			uint32_t x;
			memcpy(&x, src + 4 * i, 4);
			x = (x << 1) | (x >> 31);
			s0[i] = (uint8_t)(x >> 24);
			s1[i] = (uint8_t)(x >> 16);
			s2[i] = (uint8_t)(x >> 8);
			s3[i] = (uint8_t)x;
		}
	}
}

static void ungroup(const uint8_t *const *s, uint8_t *dst, size_t n, int elem)
{
	if (elem == 2) {
		const uint8_t *s0 = s[0], *s1 = s[1];
		for (size_t i = 0; i < n; i++) {
			uint16_t x = (uint16_t)(s0[i] << 8 | s1[i]);
			x = (uint16_t)((x >> 1) | (x << 15));
			memcpy(dst + 2 * i, &x, 2);
		}
	} else {
		const uint8_t *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
		for (size_t i = 0; i < n; i++) {
			uint32_t x = (uint32_t)s0[i] << 24 | (uint32_t)s1[i] << 16 | (uint32_t)s2[i] << 8 | s3[i];
			x = (x >> 1) | (x << 31);
			memcpy(dst + 4 * i, &x, 4);
		}
	}
}

/* Order-0 entropy of n bytes in bits per byte. */
static double entropy(const uint8_t *p, size_t n)
{
	uint32_t h[4][256] = { { 0 } };
	size_t i = 0;
	double e = 0;
	for (; i + 4 <= n; i += 4) {
		h[0][p[i]]++;
		h[1][p[i + 1]]++;
		h[2][p[i + 2]]++;
		h[3][p[i + 3]]++;
	}
	for (; i < n; i++)
		h[0][p[i]]++;
	for (int b = 0; b < 256; b++) {
		double c = (double)h[0][b] + h[1][b] + h[2][b] + h[3][b];
		if (c > 0)
			e -= c * log2(c / (double)n);
	}
	return n ? e / (double)n : 0;
}

/* ---- Huffman coding of one grouped stream (method 2) ----
 * zstd's match finder hurts on exponent bytes (short matches everywhere in
 * a 2.6-bit source cost more than they save, and decode slowly), and its
 * Huffman-only path is not public, so exponent streams get a plain
 * order-0 canonical Huffman code:
 *   u8 lengths[128]   code length of symbol s in nibble s&1 of byte s/2
 *                     (low nibble first; 0 = absent; at most HUF_MAXLEN)
 *   u32 size[4]       bytes of the four bitstreams
 *   four bitstreams   quarter k codes symbols [k*q, min(n, (k+1)*q)),
 *                     q = ceil(n/4); codes packed from the lowest bit of
 *                     each byte up, each code's bits reversed (so a
 *                     decoder indexes a table with the next HUF_MAXLEN bits).
 * Four streams let the decoder overlap four dependency chains. */
#define HUF_MAXLEN 11
#define HUF_HDR (128 + 16)

/* Code lengths for counts (limited to HUF_MAXLEN by flattening the counts
 * until the tree is shallow enough). */
static void huf_lengths(const uint64_t cnt[256], uint8_t len[256])
{
	uint64_t c[256];
	int nsym = 0;
	for (int s = 0; s < 256; s++) {
		c[s] = cnt[s];
		nsym += cnt[s] > 0;
	}
	memset(len, 0, 256);
	if (nsym == 1) {
		for (int s = 0; s < 256; s++)
			if (c[s])
				len[s] = 1;
		return;
	}
	for (;;) {
		/* tree by repeatedly joining the two lightest (O(n^2), n <= 256) */
		uint64_t w[512];
		int parent[512], alive[512], nn = 0, leaf[256];
		for (int s = 0; s < 256; s++)
			if (c[s]) {
				leaf[s] = nn;
				w[nn] = c[s];
				alive[nn] = 1;
				parent[nn++] = -1;
			}
		for (int k = 0; k < nsym - 1; k++) {
			int a = -1, b = -1;
			for (int i = 0; i < nn; i++) {
				if (!alive[i])
					continue;
				if (a < 0 || w[i] < w[a]) {
					b = a;
					a = i;
				} else if (b < 0 || w[i] < w[b]) {
					b = i;
				}
			}
			alive[a] = alive[b] = 0;
			w[nn] = w[a] + w[b];
			alive[nn] = 1;
			parent[nn] = -1;
			parent[a] = parent[b] = nn++;
		}
		int maxl = 0;
		for (int s = 0; s < 256; s++)
			if (c[s]) {
				int d = 0;
				for (int i = leaf[s]; parent[i] >= 0; i = parent[i])
					d++;
				len[s] = (uint8_t)d;
				if (d > maxl)
					maxl = d;
			}
		if (maxl <= HUF_MAXLEN)
			return;
		for (int s = 0; s < 256; s++)
			if (c[s])
				c[s] = (c[s] >> 1) | 1;
	}
}

/* Canonical codes (bit-reversed for LSB-first packing); -1 when the lengths
 * are not a valid prefix code. */
static int huf_codes(const uint8_t len[256], uint16_t code[256])
{
	int bl[HUF_MAXLEN + 1] = { 0 }, next[HUF_MAXLEN + 2];
	int c = 0, nsym = 0;
	for (int s = 0; s < 256; s++) {
		if (len[s] > HUF_MAXLEN)
			return -1;
		if (len[s]) {
			bl[len[s]]++;
			nsym++;
		}
	}
	if (!nsym)
		return -1;
	uint32_t kraft = 0;
	for (int l = 1; l <= HUF_MAXLEN; l++)
		kraft += (uint32_t)bl[l] << (HUF_MAXLEN - l);
	if (kraft > (1u << HUF_MAXLEN))
		return -1;
	for (int l = 1; l <= HUF_MAXLEN; l++) {
		c = (c + bl[l - 1]) << 1;
		next[l] = c;
	}
	for (int s = 0; s < 256; s++) {
		if (!len[s])
			continue;
		int v = next[len[s]]++, r = 0;
		for (int b = 0; b < len[s]; b++)
			r |= ((v >> b) & 1) << (len[s] - 1 - b);
		code[s] = (uint16_t)r;
	}
	return 0;
}

/* Encode n bytes; returns the size, or 0 when Huffman would not be smaller
 * than cap allows or than n. */
static size_t huf_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
	uint64_t cnt[256] = { 0 }, bits = 0;
	uint8_t len[256];
	uint16_t code[256];
	size_t q = (n + 3) / 4, pos = HUF_HDR;

	for (size_t i = 0; i < n; i++)
		cnt[src[i]]++;
	huf_lengths(cnt, len);
	for (int s = 0; s < 256; s++)
		bits += cnt[s] * len[s];
	if (bits / 8 + HUF_HDR + 64 >= n || bits / 8 + HUF_HDR + 64 > cap || huf_codes(len, code))
		return 0;
	for (int s = 0; s < 128; s++)
		dst[s] = (uint8_t)(len[2 * s] | len[2 * s + 1] << 4);
	for (int k = 0; k < 4; k++) {
		size_t a = (size_t)k * q < n ? (size_t)k * q : n, e = a + q < n ? a + q : n, start = pos;
		uint64_t acc = 0;
		int nb = 0;
		for (size_t i = a; i < e; i++) {
			acc |= (uint64_t)code[src[i]] << nb;
			nb += len[src[i]];
			if (nb >= 32) {
				uint32_t w = (uint32_t)acc;
				memcpy(dst + pos, &w, 4);
				pos += 4;
				acc >>= 32;
				nb -= 32;
			}
		}
		for (; nb > 0; nb -= 8, acc >>= 8)
			dst[pos++] = (uint8_t)acc;
		uint32_t sz = (uint32_t)(pos - start);
		memcpy(dst + 128 + 4 * k, &sz, 4);
	}
	return pos;
}

struct bitrd {
	const uint8_t *p, *start, *end;
	uint64_t acc;
	int nb;
};

static inline void br_refill(struct bitrd *b)
{
	if (b->end - b->p >= 8) {
		uint64_t v;
		memcpy(&v, b->p, 8);
		b->acc |= v << b->nb;
		b->p += (63 - b->nb) >> 3;
		b->nb |= 56;
	} else {
		while (b->nb <= 56) {
			if (b->p < b->end)
				b->acc |= (uint64_t)*b->p << b->nb;
			b->p++; /* past the end reads zeros; checked at the end */
			b->nb += 8;
		}
	}
}

/* Decode n bytes from a method-2 stream of csize bytes; 0 or -1 if damaged. */
static int huf_decode(const uint8_t *src, size_t csize, uint8_t *dst, size_t n)
{
	uint8_t len[256];
	uint16_t code[256], table[1 << HUF_MAXLEN];
	size_t q = (n + 3) / 4, pos = HUF_HDR;

	if (csize < HUF_HDR)
		return -1;
	for (int s = 0; s < 128; s++) {
		len[2 * s] = src[s] & 15;
		len[2 * s + 1] = src[s] >> 4;
	}
	if (huf_codes(len, code))
		return -1;
	memset(table, 0, sizeof table); /* length 0: no such code */
	for (int s = 0; s < 256; s++)
		for (uint32_t j = 0; len[s] && j < (1u << (HUF_MAXLEN - len[s])); j++)
			table[code[s] | j << len[s]] = (uint16_t)(s | len[s] << 8);
	struct bitrd br[4];
	size_t a[4], e[4];
	for (int k = 0; k < 4; k++) {
		uint32_t sz = rd32(src + 128 + 4 * k);
		if (sz > csize - pos)
			return -1;
		br[k] = (struct bitrd){ src + pos, src + pos, src + pos + sz, 0, 0 };
		pos += sz;
		a[k] = (size_t)k * q < n ? (size_t)k * q : n;
		e[k] = a[k] + q < n ? a[k] + q : n;
	}
	if (pos != csize)
		return -1;
	/* the four quarters in lockstep, four symbols per refill.  Damaged
	 * input decodes to garbage without reading outside the stream (the
	 * unit's XXH64 catches it); codes absent from the table stop the
	 * stream (length 0), which the final bit count catches. */
	size_t m = e[3] - a[3]; /* the last quarter is the shortest */
	const uint64_t mask = (1u << HUF_MAXLEN) - 1;
	uint8_t *o0 = dst + a[0], *o1 = dst + a[1], *o2 = dst + a[2], *o3 = dst + a[3];
	size_t i = 0;
#define HUF_STEP(k, o)                                     \
	do {                                               \
		uint16_t t = table[br[k].acc & mask];      \
		o[i + r] = (uint8_t)t;                     \
		br[k].acc >>= t >> 8;                      \
		br[k].nb -= t >> 8;                        \
	} while (0)
	for (; i + 4 <= m; i += 4) {
		br_refill(&br[0]);
		br_refill(&br[1]);
		br_refill(&br[2]);
		br_refill(&br[3]);
		for (int r = 0; r < 4; r++) {
			HUF_STEP(0, o0);
			HUF_STEP(1, o1);
			HUF_STEP(2, o2);
			HUF_STEP(3, o3);
		}
	}
#undef HUF_STEP
	int bad = 0;
	for (int k = 0; k < 4; k++)
		for (size_t j = a[k] + i; j < e[k]; j++) {
			br_refill(&br[k]);
			uint16_t t = table[br[k].acc & mask];
			dst[j] = (uint8_t)t;
			br[k].acc >>= t >> 8;
			br[k].nb -= t >> 8;
			bad |= t < 256;
		}
	for (int k = 0; k < 4; k++) { /* every quarter ends exactly at its last byte */
		uint64_t used = (uint64_t)(br[k].p - br[k].start) * 8 - (uint64_t)br[k].nb;
		uint64_t have = (uint64_t)(br[k].end - br[k].start) * 8;
		if (used > have || used + 8 <= have)
			bad = 1;
	}
	return bad ? -1 : 0;
}

/* ---- compressing one unit ---- */

struct eslot {
	ZSTD_CCtx *cctx;
	int level;
	const uint8_t *src;
	size_t n;
	int elem;
	uint8_t *tmp;          /* grouped streams (n bytes) */
	uint8_t *a, *b, *c;    /* grouped payload, plain payload, stream scratch */
	size_t cap_tmp, cap_a, cap_b, cap_c;
	const uint8_t *best;   /* chosen payload (a, b or src) */
	size_t best_len;
	uint32_t method;
	uint64_t xxh, xxh2;    /* XXH64 with seeds 0 and 1 (the pair finds duplicates) */
	int rc;
};

static int grow(uint8_t **p, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	uint8_t *q = realloc(*p, need);
	if (!q)
		return LLM_ENOMEM;
	*p = q;
	*cap = need;
	return 0;
}

static size_t zc(ZSTD_CCtx *cc, int level, void *dst, size_t cap, const void *src, size_t n)
{
	ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
	return ZSTD_compress2(cc, dst, cap, src, n);
}

/* Plain zstd of the unit into b; take it if smaller than the best so far. */
static int try_plain(struct eslot *s)
{
	if (grow(&s->b, &s->cap_b, ZSTD_compressBound(s->n)))
		return s->rc = LLM_ENOMEM;
	size_t r = zc(s->cctx, s->level, s->b, s->cap_b, s->src, s->n);
	if (!ZSTD_isError(r) && r < s->best_len) {
		s->best = s->b;
		s->best_len = r;
		s->method = LLM_ZST_ZSTD;
	}
	return 0;
}

/* One grouped stream of m bytes into out: Huffman for skewed bytes (zstd
 * too where it may win), stored for random-looking ones.  Returns its
 * method and size. */
static int put_stream(struct eslot *s, const uint8_t *st, size_t m, uint8_t *out, size_t cap,
		      uint32_t *meth, uint32_t *sz)
{
	double h = entropy(st, m);
	*meth = 0;
	*sz = (uint32_t)m;
	if (h < 7.97) {
		size_t hz = huf_encode(st, m, out, cap);
		if (hz) {
			*meth = 2;
			*sz = (uint32_t)hz;
		}
		/* very redundant bytes (zeros, the low bytes of upcast values)
		 * or a high level: zstd as well, keep the smaller */
		if (h < 2.5 || s->level >= 10) {
			if (grow(&s->c, &s->cap_c, ZSTD_compressBound(m)))
				return s->rc = LLM_ENOMEM;
			size_t z = zc(s->cctx, s->level, s->c, s->cap_c, st, m);
			if (!ZSTD_isError(z) && z < *sz) {
				*meth = 1;
				*sz = (uint32_t)z;
				memcpy(out, s->c, z);
			}
		}
	}
	if (!*meth)
		memcpy(out, st, m);
	return 0;
}

static void compress_unit(struct eslot *s)
{
	size_t n = s->n, k = (size_t)s->elem;

	s->rc = 0;
	s->xxh = llm_xxh64(s->src, n);
	s->xxh2 = n >= DEDUP_MIN ? xxh64_seed(s->src, n, 1) : 0;
	s->best = s->src;
	s->best_len = n;
	s->method = LLM_ZST_STORED;
	if (!s->cctx && !(s->cctx = ZSTD_createCCtx())) {
		s->rc = LLM_ENOMEM;
		return;
	}
	if (!k || n % k || n < 256) {
		try_plain(s);
		return;
	}
	/* grouped: elem streams, each stored, zstd or Huffman */
	size_t m = n / k, hdr = 8 * k, pos = hdr;
	if (grow(&s->tmp, &s->cap_tmp, n) || grow(&s->a, &s->cap_a, hdr + k * (ZSTD_compressBound(m) + HUF_HDR))) {
		s->rc = LLM_ENOMEM;
		return;
	}
	group(s->src, s->tmp, m, (int)k);
	for (size_t j = 0; j < k; j++) {
		uint32_t meth, sz;
		if (put_stream(s, s->tmp + j * m, m, s->a + pos, s->cap_a - pos, &meth, &sz))
			return;
		memcpy(s->a + 8 * j, &meth, 4);
		memcpy(s->a + 8 * j + 4, &sz, 4);
		pos += sz;
	}
	if (pos < s->best_len) {
		s->best = s->a;
		s->best_len = pos;
		s->method = LLM_ZST_GROUPED;
	}
	/* plain zstd as well when grouping did not clearly pay (data that are
	 * not trained weights) or at high levels, where speed matters less */
	if (s->level >= 10 || s->best_len > n - n / 16)
		try_plain(s);
}

/* ---- decoding one unit ---- */

struct dslot {
	ZSTD_DCtx *dctx;
	const uint8_t *src;    /* payload */
	const struct llm_zst_unit *u;
	uint8_t *dst;          /* u->raw_size bytes */
	uint8_t *tmp;
	size_t tmp_cap;
	int rc;
	char why[96];
};

static int dfail(struct dslot *s, const char *why)
{
	snprintf(s->why, sizeof s->why, "%s", why);
	return s->rc = LLM_EFORMAT;
}

static int zd(struct dslot *s, void *dst, size_t n, const void *src, size_t csize)
{
	if (!s->dctx && !(s->dctx = ZSTD_createDCtx()))
		return s->rc = LLM_ENOMEM;
	unsigned long long cs = ZSTD_getFrameContentSize(src, csize);
	if (cs != n)
		return dfail(s, "bad zstd frame header");
	size_t r = ZSTD_decompressDCtx(s->dctx, dst, n, src, csize);
	if (ZSTD_isError(r))
		return dfail(s, ZSTD_getErrorName(r));
	if (r != n)
		return dfail(s, "zstd frame decodes to the wrong size");
	return 0;
}

static void decode_unit(struct dslot *s)
{
	const struct llm_zst_unit *u = s->u;
	size_t n = (size_t)u->raw_size, cs = (size_t)u->csize;

	s->rc = 0;
	s->why[0] = 0;
	if (u->method == LLM_ZST_STORED) {
		if (cs != n)
			return (void)dfail(s, "stored unit of the wrong size");
		memcpy(s->dst, s->src, n);
	} else if (u->method == LLM_ZST_ZSTD) {
		if (zd(s, s->dst, n, s->src, cs))
			return;
	} else {
		size_t k = u->elem, m = n / k, hdr = 8 * k, pos = hdr;
		if (cs < hdr)
			return (void)dfail(s, "grouped unit shorter than its header");
		const uint8_t *streams[4] = { NULL, NULL, NULL, NULL };
		if (grow(&s->tmp, &s->tmp_cap, n))
			return (void)(s->rc = LLM_ENOMEM);
		for (size_t j = 0; j < k; j++) {
			uint32_t meth = rd32(s->src + 8 * j), sz = rd32(s->src + 8 * j + 4);
			streams[j] = s->tmp + j * m;
			if (sz > cs - pos)
				return (void)dfail(s, "grouped stream runs past the unit");
			if (meth == 0) {
				if (sz != m)
					return (void)dfail(s, "stored stream of the wrong size");
				streams[j] = s->src + pos; /* used in place */
			} else if (meth == 1) {
				if (zd(s, s->tmp + j * m, m, s->src + pos, sz))
					return;
			} else if (meth == 2) {
				if (huf_decode(s->src + pos, sz, s->tmp + j * m, m))
					return (void)dfail(s, "bad Huffman stream");
			} else {
				return (void)dfail(s, "unknown stream method");
			}
			pos += sz;
		}
		if (pos != cs)
			return (void)dfail(s, "grouped streams do not fill the unit");
		ungroup(streams, s->dst, m, (int)k);
	}
	if (llm_xxh64(s->dst, n) != u->xxh64)
		dfail(s, "checksum mismatch (corrupted data)");
}

/* ---- running slots on threads ---- */

typedef void (*slot_fn)(void *);

struct job {
	slot_fn fn;
	char *slots;
	size_t stride;
	int n, next;
	pthread_mutex_t mu;
};

static void *job_run(void *p)
{
	struct job *j = p;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		int i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			return NULL;
		j->fn(j->slots + (size_t)i * j->stride);
	}
}

/* fn on n slots (an array with stride bytes per slot), nt threads. */
static void run_slots(slot_fn fn, void *slots, size_t stride, int n, int nt)
{
	struct job j = { fn, slots, stride, n, 0, PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[MAX_THREADS];
	int started = 0;
	if (nt > n)
		nt = n;
	for (int k = 1; k < nt; k++)
		if (pthread_create(&th[started], NULL, job_run, &j) == 0)
			started++;
	job_run(&j);
	for (int k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_mutex_destroy(&j.mu);
}

/* ---- reader ---- */

struct llm_zst {
	char *name;
	const uint8_t *base;
	uint64_t size, raw_total;
	struct llm_zst_unit *u;
	int64_t nu;
};

static int zerr(const char *name, const char *why)
{
	return llm_err(LLM_EFORMAT, "%s: compressed checkpoint: %s", name, why);
}

int llm_zst_open_mem(llm_zst **out, const void *buf, uint64_t size, const char *name)
{
	const uint8_t *b = buf, *f;
	uint64_t idx_off, nu, idx_len;
	llm_zst *z;

	*out = NULL;
	if (size < 4 || !llm_zst_sniff(b, size))
		return zerr(name, "bad magic");
	if (size < LLM_ZST_HEADER_SIZE + LLM_ZST_FOOTER_SIZE)
		return zerr(name, "truncated (shorter than header and footer)");
	if (rd32(b + 4) != LLM_ZST_VERSION)
		return llm_err(LLM_EUNSUPPORTED, "%s: compressed checkpoint version %u is not supported (1 is)",
			       name, rd32(b + 4));
	if (rd32(b + 8) != 0)
		return llm_err(LLM_EUNSUPPORTED, "%s: compressed checkpoint: unknown flags %#x", name, rd32(b + 8));
	f = b + size - LLM_ZST_FOOTER_SIZE;
	if (memcmp(f + 36, LLM_ZST_MAGIC, 4) != 0)
		return zerr(name, "truncated or damaged (no footer at the end)");
	idx_off = rd64(f);
	nu = rd64(f + 8);
	if (nu == 0 || nu > (size - LLM_ZST_HEADER_SIZE - LLM_ZST_FOOTER_SIZE) / LLM_ZST_ENTRY_SIZE)
		return zerr(name, "bad unit count in the footer");
	idx_len = nu * LLM_ZST_ENTRY_SIZE;
	if (idx_off < LLM_ZST_HEADER_SIZE || idx_off + idx_len != size - LLM_ZST_FOOTER_SIZE)
		return zerr(name, "bad index offset in the footer");
	if (llm_xxh64(b + idx_off, (size_t)idx_len + 24) != rd64(f + 24) || rd32(f + 32) != LLM_ZST_VERSION)
		return zerr(name, "index checksum mismatch (corrupted index)");
	if (!(z = calloc(1, sizeof *z)) || !(z->name = strdup(name)) ||
	    !(z->u = calloc((size_t)nu, sizeof *z->u))) {
		llm_zst_free(z);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	z->base = b;
	z->size = size;
	z->raw_total = rd64(f + 16);
	z->nu = (int64_t)nu;
	uint64_t raw_end = 0;
	for (uint64_t i = 0; i < nu; i++) {
		const uint8_t *e = b + idx_off + i * LLM_ZST_ENTRY_SIZE;
		struct llm_zst_unit *u = &z->u[i];
		u->raw_off = rd64(e);
		u->raw_size = rd64(e + 8);
		u->off = rd64(e + 16);
		u->csize = rd64(e + 24);
		u->xxh64 = rd64(e + 32);
		u->method = rd32(e + 40);
		u->elem = rd32(e + 44);
		const char *why = NULL;
		if (u->raw_size == 0 || u->raw_size > MAX_UNIT)
			why = "bad unit size";
		else if (u->raw_off < raw_end || u->raw_off > z->raw_total || u->raw_size > z->raw_total - u->raw_off)
			why = "units overlap or lie outside the decoded size";
		else if (i == 0 && u->raw_off != 0)
			why = "first unit does not hold the GGUF header";
		else if (u->off < LLM_ZST_HEADER_SIZE || u->off > idx_off || u->csize > idx_off - u->off)
			why = "unit payload outside the data area";
		else if (u->method > LLM_ZST_GROUPED ||
			 (u->method == LLM_ZST_GROUPED && ((u->elem != 2 && u->elem != 4) || u->raw_size % u->elem)) ||
			 (u->method != LLM_ZST_GROUPED && u->elem))
			why = "unknown unit method";
		if (why) {
			llm_err(LLM_EFORMAT, "%s: compressed checkpoint: unit %llu: %s", name,
				(unsigned long long)i, why);
			llm_zst_free(z);
			return LLM_EFORMAT;
		}
		raw_end = u->raw_off + u->raw_size;
	}
	*out = z;
	return 0;
}

void llm_zst_free(llm_zst *z)
{
	if (!z)
		return;
	free(z->u);
	free(z->name);
	free(z);
}

uint64_t llm_zst_raw_size(const llm_zst *z) { return z->raw_total; }
int64_t llm_zst_n_units(const llm_zst *z) { return z->nu; }
const struct llm_zst_unit *llm_zst_unit(const llm_zst *z, int64_t i)
{
	return i >= 0 && i < z->nu ? &z->u[i] : NULL;
}

/* First unit whose end lies after off. */
static int64_t first_unit(const llm_zst *z, uint64_t off)
{
	int64_t lo = 0, hi = z->nu;
	while (lo < hi) {
		int64_t mid = (lo + hi) / 2;
		if (z->u[mid].raw_off + z->u[mid].raw_size <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t llm_zst_stored_size(const llm_zst *z, uint64_t off, uint64_t n)
{
	uint64_t s = 0;
	for (int64_t i = first_unit(z, off); i < z->nu && z->u[i].raw_off < off + n; i++)
		s += z->u[i].csize;
	return s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t llm_zst_payload_bytes(const llm_zst *z, uint64_t off, uint64_t n)
{
	int64_t i0 = first_unit(z, off), i1 = i0;
	while (i1 < z->nu && z->u[i1].raw_off < off + n)
		i1++;
	uint64_t s = 0, (*pc)[2] = malloc((size_t)(i1 > i0 ? i1 - i0 : 1) * sizeof *pc);
	if (!pc) /* no room to sort: every unit on its own */
		return llm_zst_stored_size(z, off, n);
	for (int64_t i = i0; i < i1; i++)
		pc[i - i0][0] = z->u[i].off, pc[i - i0][1] = z->u[i].csize;
	qsort(pc, (size_t)(i1 - i0), sizeof *pc, cmp_u64); /* by payload offset */
	for (int64_t i = 0; i < i1 - i0; i++)
		if (i == 0 || pc[i][0] != pc[i - 1][0])
			s += pc[i][1];
	free(pc);
	return s;
}

/* llm_zst_read; zeroed: dst holds zeros already (a fresh anonymous
 * mapping), so the bytes no unit covers are left alone: the footer's
 * decoded size and the gaps between units are the file's word, and
 * writing them would let a small file fill gigabytes of memory. */
static int zst_read(llm_zst *z, void *dst, uint64_t off, uint64_t n, int n_threads, int zeroed)
{
	uint8_t *d = dst;
	int64_t i0 = first_unit(z, off), i1 = i0;
	int nt = n_threads > 0 ? n_threads : online_cpus(), rc = 0;
	struct dslot *s;

	if (off > z->raw_total || n > z->raw_total - off)
		return llm_err(LLM_EINVAL, "%s: read past the decoded size", z->name);
	while (i1 < z->nu && z->u[i1].raw_off < off + n)
		i1++;
	/* bytes no unit covers are zero padding */
	uint64_t cur = off;
	for (int64_t i = i0; i < i1 && !zeroed; i++) {
		if (z->u[i].raw_off > cur)
			memset(d + (cur - off), 0, (size_t)(z->u[i].raw_off - cur));
		cur = z->u[i].raw_off + z->u[i].raw_size;
	}
	if (cur < off + n && !zeroed)
		memset(d + (cur - off), 0, (size_t)(off + n - cur));
	if (i1 == i0)
		return 0;
	if (nt > MAX_THREADS)
		nt = MAX_THREADS;
	/* units partly outside the range decode into a bounce buffer */
	s = calloc((size_t)(i1 - i0), sizeof *s);
	if (!s)
		return llm_err(LLM_ENOMEM, "out of memory");
	for (int64_t i = i0; i < i1 && !rc; i++) {
		struct dslot *x = &s[i - i0];
		const struct llm_zst_unit *u = &z->u[i];
		x->u = u;
		x->src = z->base + u->off;
		if (u->raw_off >= off && u->raw_off + u->raw_size <= off + n)
			x->dst = d + (u->raw_off - off);
		else if (!(x->dst = malloc((size_t)u->raw_size)))
			rc = llm_err(LLM_ENOMEM, "out of memory");
	}
	if (!rc)
		run_slots((slot_fn)decode_unit, s, sizeof *s, (int)(i1 - i0), nt);
	for (int64_t i = i0; i < i1; i++) {
		struct dslot *x = &s[i - i0];
		const struct llm_zst_unit *u = &z->u[i];
		int inside = u->raw_off >= off && u->raw_off + u->raw_size <= off + n;
		if (!rc && x->rc) {
			rc = x->rc == LLM_ENOMEM ? llm_err(LLM_ENOMEM, "out of memory")
				: llm_err(LLM_EFORMAT, "%s: compressed checkpoint: unit %lld (bytes %llu..%llu): %s",
					  z->name, (long long)i, (unsigned long long)u->raw_off,
					  (unsigned long long)(u->raw_off + u->raw_size), x->why);
		}
		if (!inside && x->dst) {
			if (!rc) {
				uint64_t a = u->raw_off > off ? u->raw_off : off;
				uint64_t e = u->raw_off + u->raw_size < off + n ? u->raw_off + u->raw_size : off + n;
				memcpy(d + (a - off), x->dst + (a - u->raw_off), (size_t)(e - a));
			}
			free(x->dst);
		}
		ZSTD_freeDCtx(x->dctx);
		free(x->tmp);
	}
	free(s);
	return rc;
}

int llm_zst_read(llm_zst *z, void *dst, uint64_t off, uint64_t n, int n_threads)
{
	return zst_read(z, dst, off, n, n_threads, 0);
}

int llm_zst_map_open(struct llm_map *m, const char *path, int *was_container)
{
	struct llm_map in;
	llm_zst *z;
	void *p;
	int rc;

	if (was_container)
		*was_container = 0;
	if ((rc = llm_map_open(&in, path)))
		return rc;
	if (llm_zst_frame_sniff(in.data, in.size)) { /* plain zstd of a GGUF (or of the container) */
		if ((rc = llm_zst_inflate_frames(&in, path))) {
			llm_map_close(&in);
			return rc;
		}
	}
	if (!llm_zst_sniff(in.data, in.size)) {
		*m = in;
		return 0;
	}
	if (was_container)
		*was_container = 1;
	if ((rc = llm_zst_open_mem(&z, in.data, in.size, path))) {
		llm_map_close(&in);
		return rc;
	}
	uint64_t n = llm_zst_raw_size(z);
	memset(m, 0, sizeof *m);
	p = n ? mmap(NULL, (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
	if (p == MAP_FAILED)
		rc = llm_err(LLM_ENOMEM, "%s: cannot hold the %llu decoded bytes", path, (unsigned long long)n);
	else if ((rc = zst_read(z, p, 0, n, 0, 1)) == 0) /* untouched pages cost nothing */
		mprotect(p, (size_t)n, PROT_READ);
	if (p != MAP_FAILED && rc)
		munmap(p, (size_t)n);
	if (!rc) {
		m->addr = p;
		m->len = (size_t)n;
		m->data = p;
		m->size = n;
	}
	llm_zst_free(z);
	llm_map_close(&in);
	return rc;
}

int llm_zst_header(llm_zst *z, void **out, uint64_t *size)
{
	uint64_t n = z->u[0].raw_size;
	void *p = malloc((size_t)n);
	int rc;
	*out = NULL;
	if (!p)
		return llm_err(LLM_ENOMEM, "out of memory");
	if ((rc = llm_zst_read(z, p, 0, n, 1))) {
		free(p);
		return rc;
	}
	*out = p;
	*size = n;
	return 0;
}

/* ---- writer ---- */

struct llm_zst_enc {
	struct llm_out *o;
	int level, nt;
	uint64_t pos;          /* container bytes written */
	struct eslot slot[MAX_THREADS];
	uint8_t *buf;          /* nt chunks of pending region bytes */
	size_t buffered;
	uint64_t reg_off, reg_size, reg_done; /* current region */
	int elem;
	struct llm_zst_unit *u;
	int64_t nu, cap;
	uint64_t raw_end;
	/* units already written, by (size, XXH64 seed 0, seed 1): a repeat
	 * (a tied embedding stored twice) points at the first one's payload */
	struct dedup { uint64_t size, h0, h1; int64_t unit; } *dd;
	size_t dd_cap, dd_n;
};

/* The earlier unit equal to slot s, or -1; remembers s as unit `unit` when new. */
static int64_t dedup(llm_zst_enc *e, const struct eslot *s, int64_t unit)
{
	if (s->n < DEDUP_MIN)
		return -1;
	if (2 * (e->dd_n + 1) > e->dd_cap) {
		size_t cap = e->dd_cap ? 2 * e->dd_cap : 256;
		struct dedup *d = calloc(cap, sizeof *d);
		if (!d)
			return -1; /* no dedupe, still correct */
		for (size_t i = 0; i < e->dd_cap; i++)
			if (e->dd[i].size) {
				size_t j = e->dd[i].h0 & (cap - 1);
				while (d[j].size)
					j = (j + 1) & (cap - 1);
				d[j] = e->dd[i];
			}
		free(e->dd);
		e->dd = d;
		e->dd_cap = cap;
	}
	size_t j = s->xxh & (e->dd_cap - 1);
	for (; e->dd[j].size; j = (j + 1) & (e->dd_cap - 1))
		if (e->dd[j].size == s->n && e->dd[j].h0 == s->xxh && e->dd[j].h1 == s->xxh2)
			return e->dd[j].unit;
	e->dd[j] = (struct dedup){ s->n, s->xxh, s->xxh2, unit };
	e->dd_n++;
	return -1;
}

static int put(llm_zst_enc *e, const void *p, size_t n)
{
	int rc = llm_out_write(e->o, p, n);
	e->pos += n;
	return rc;
}

int llm_zst_enc_new(llm_zst_enc **out, struct llm_out *o, int level, int n_threads)
{
	llm_zst_enc *e = calloc(1, sizeof *e);
	uint8_t hdr[LLM_ZST_HEADER_SIZE] = { 0 };
	uint32_t v;

	*out = NULL;
	if (!e)
		return llm_err(LLM_ENOMEM, "out of memory");
	e->o = o;
	e->level = level ? level : LLM_ZST_DEFAULT_LEVEL;
	if (e->level < ZSTD_minCLevel() || e->level > ZSTD_maxCLevel()) {
		free(e);
		return llm_err(LLM_EINVAL, "zstd level %d is out of range (%d..%d)", level, ZSTD_minCLevel(),
			       ZSTD_maxCLevel());
	}
	e->nt = n_threads > 0 ? (n_threads > MAX_THREADS ? MAX_THREADS : n_threads) : online_cpus();
	for (int i = 0; i < e->nt; i++)
		e->slot[i].level = e->level;
	if (!(e->buf = malloc((size_t)e->nt * LLM_ZST_CHUNK))) {
		free(e);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	memcpy(hdr, LLM_ZST_MAGIC, 4);
	v = LLM_ZST_VERSION;
	memcpy(hdr + 4, &v, 4);
	v = LLM_ZST_CHUNK;
	memcpy(hdr + 12, &v, 4);
	*out = e;
	return put(e, hdr, sizeof hdr);
}

/* Compress n pieces (consecutive units of the current region starting at
 * raw offset raw) from src and append them. */
static int emit(llm_zst_enc *e, const uint8_t *src, size_t len, uint64_t raw, int one_unit)
{
	int n = 0, rc = 0;
	for (size_t off = 0; off < len; n++) {
		size_t k = one_unit ? len : (len - off < LLM_ZST_CHUNK ? len - off : LLM_ZST_CHUNK);
		e->slot[n].src = src + off;
		e->slot[n].n = k;
		e->slot[n].elem = e->elem;
		off += k;
	}
	run_slots((slot_fn)compress_unit, e->slot, sizeof e->slot[0], n, e->nt);
	for (int i = 0; i < n && !rc; i++) {
		struct eslot *s = &e->slot[i];
		if (s->rc) {
			rc = llm_err(s->rc, "%s: out of memory compressing", e->o->path);
			break;
		}
		if (e->nu == e->cap) {
			int64_t cap = e->cap ? 2 * e->cap : 256;
			void *p = realloc(e->u, (size_t)cap * sizeof *e->u);
			if (!p)
				return llm_err(LLM_ENOMEM, "out of memory");
			e->u = p;
			e->cap = cap;
		}
		int64_t same = dedup(e, s, e->nu);
		struct llm_zst_unit *u = &e->u[e->nu++];
		if (same >= 0) {
			*u = e->u[same];
		} else {
			u->off = e->pos;
			u->csize = s->best_len;
			u->xxh64 = s->xxh;
			u->method = s->method;
			u->elem = s->method == LLM_ZST_GROUPED ? (uint32_t)s->elem : 0;
			rc = put(e, s->best, s->best_len);
		}
		u->raw_off = raw;
		u->raw_size = s->n;
		raw += s->n;
	}
	return rc;
}

int llm_zst_enc_begin(llm_zst_enc *e, uint64_t raw_off, uint64_t size, int elem)
{
	if (e->reg_done != e->reg_size)
		return llm_err(LLM_EINVAL, "%s: region started before the previous one ended", e->o->path);
	if (raw_off < e->raw_end)
		return llm_err(LLM_EINVAL, "%s: regions out of order", e->o->path);
	if (raw_off == 0 && size > MAX_UNIT)
		return llm_err(LLM_EUNSUPPORTED, "%s: GGUF header of %llu bytes is too large", e->o->path,
			       (unsigned long long)size);
	e->reg_off = raw_off;
	e->reg_size = size;
	e->reg_done = 0;
	e->buffered = 0;
	e->elem = elem;
	e->raw_end = raw_off + size;
	return 0;
}

int llm_zst_enc_write(llm_zst_enc *e, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t batch = (size_t)e->nt * LLM_ZST_CHUNK;
	int hdr = e->reg_off == 0; /* the GGUF header is one unit */
	int rc = 0;

	if (n > e->reg_size - e->reg_done)
		return llm_err(LLM_EINVAL, "%s: more bytes than the region holds", e->o->path);
	if (hdr) {
		/* the header is one unit and arrives whole */
		if (e->reg_done == 0 && n == e->reg_size)
			rc = emit(e, p, n, 0, 1);
		else
			rc = llm_err(LLM_EINVAL, "%s: the GGUF header must come in one piece", e->o->path);
		e->reg_done += n;
		return rc;
	}
	while (n && !rc) {
		uint64_t start = e->reg_off + e->reg_done - e->buffered;
		if (e->buffered == 0 && n >= batch) {
			rc = emit(e, p, batch, start, 0);
			p += batch;
			n -= batch;
			e->reg_done += batch;
			continue;
		}
		size_t k = batch - e->buffered < n ? batch - e->buffered : n;
		memcpy(e->buf + e->buffered, p, k);
		e->buffered += k;
		e->reg_done += k;
		p += k;
		n -= k;
		if (e->buffered == batch) {
			rc = emit(e, e->buf, batch, start, 0);
			e->buffered = 0;
		}
	}
	if (!rc && e->reg_done == e->reg_size && e->buffered) {
		rc = emit(e, e->buf, e->buffered, e->reg_off + e->reg_done - e->buffered, 0);
		e->buffered = 0;
	}
	return rc;
}

int llm_zst_enc_finish(llm_zst_enc *e, uint64_t raw_total)
{
	uint8_t *idx, f[LLM_ZST_FOOTER_SIZE];
	uint64_t idx_off = e->pos, nu = (uint64_t)e->nu, v;
	int rc;

	if (e->reg_done != e->reg_size)
		return llm_err(LLM_EINVAL, "%s: region not finished", e->o->path);
	if (!nu)
		return llm_err(LLM_EINVAL, "%s: no GGUF header written", e->o->path);
	if (!(idx = malloc((size_t)nu * LLM_ZST_ENTRY_SIZE)))
		return llm_err(LLM_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < nu; i++) {
		uint8_t *x = idx + i * LLM_ZST_ENTRY_SIZE;
		const struct llm_zst_unit *u = &e->u[i];
		memcpy(x, &u->raw_off, 8);
		memcpy(x + 8, &u->raw_size, 8);
		memcpy(x + 16, &u->off, 8);
		memcpy(x + 24, &u->csize, 8);
		memcpy(x + 32, &u->xxh64, 8);
		memcpy(x + 40, &u->method, 4);
		memcpy(x + 44, &u->elem, 4);
	}
	memcpy(f, &idx_off, 8);
	memcpy(f + 8, &nu, 8);
	memcpy(f + 16, &raw_total, 8);
	uint32_t ver = LLM_ZST_VERSION;
	memcpy(f + 32, &ver, 4);
	memcpy(f + 36, LLM_ZST_MAGIC, 4);
	/* the checksum covers the index and the footer's first 24 bytes,
	 * which follow it in the file */
	uint8_t *all = realloc(idx, (size_t)nu * LLM_ZST_ENTRY_SIZE + 24);
	if (!all) {
		free(idx);
		return llm_err(LLM_ENOMEM, "out of memory");
	}
	idx = all;
	memcpy(idx + nu * LLM_ZST_ENTRY_SIZE, f, 24);
	v = llm_xxh64(idx, (size_t)nu * LLM_ZST_ENTRY_SIZE + 24);
	memcpy(f + 24, &v, 8);
	rc = put(e, idx, (size_t)nu * LLM_ZST_ENTRY_SIZE);
	free(idx);
	return rc ? rc : put(e, f, sizeof f);
}

void llm_zst_enc_free(llm_zst_enc *e)
{
	if (!e)
		return;
	for (int i = 0; i < MAX_THREADS; i++) {
		ZSTD_freeCCtx(e->slot[i].cctx);
		free(e->slot[i].tmp);
		free(e->slot[i].a);
		free(e->slot[i].b);
		free(e->slot[i].c);
	}
	free(e->buf);
	free(e->u);
	free(e->dd);
	free(e);
}
