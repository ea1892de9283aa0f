/* test_zst.c - the compressed GGUF container: XXH64 against zstd's own
 * frame checksum, bit-exact round trips of every type and of awkward data
 * (zeros, constants, repeated rows, NaN/inf, random bytes, tensors of
 * several chunks), the container against the plain GGUF byte for byte and
 * against one-shot zstd of the same bytes, reading through ckpt, threads,
 * and damaged files (every payload byte flip, truncations) as errors; a
 * decoded size far past the units mapped without writing the padding. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include "ckpt.h"
#include "error.h"
#include "gguf.h"
#include "io.h"
#include "testutil.h"
#include "types.h"
#include "zst.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static float gauss(void)
{
	double u = ((double)(next() >> 11) + 1) / 9007199254740993.0, v = (double)(next() >> 11) / 9007199254740992.0;
	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

struct tens {
	const char *name;
	int type;
	int64_t ne0, ne1;
	int kind; /* 0 trained-like, 1 zeros, 2 constant, 3 repeated rows, 4 NaN/inf/denormals, 5 random bytes */
	uint8_t *data;
	size_t size;
};

static void fill(struct tens *t)
{
	const struct llm_type_traits *tr = llm_type_traits(t->type);
	size_t rs = llm_type_row_size(t->type, t->ne0);
	float *row = malloc(sizeof(float) * (size_t)t->ne0);
	t->size = rs * (size_t)t->ne1;
	t->data = malloc(t->size ? t->size : 1);
	for (int64_t r = 0; r < t->ne1; r++) {
		float sc = 0.02f * (float)exp(0.5 * gauss());
		for (int64_t i = 0; i < t->ne0; i++) {
			float x = sc * gauss();
			if (t->kind == 1)
				x = 0;
			else if (t->kind == 2)
				x = 1.5f;
			else if (t->kind == 4)
				x = i % 7 == 0 ? NAN : i % 7 == 1 ? INFINITY : i % 7 == 2 ? -INFINITY : i % 7 == 3 ? 1e-40f : x;
			row[i] = x;
		}
		if (t->kind == 3 && r >= 4) /* rows repeat with period 4 */
			memcpy(t->data + (size_t)r * rs, t->data + (size_t)(r % 4) * rs, rs);
		else if (t->kind == 5 || !tr->from_float)
			for (size_t k = 0; k < rs; k++)
				t->data[(size_t)r * rs + k] = (uint8_t)next();
		else
			tr->from_float(row, t->data + (size_t)r * rs, t->ne0);
	}
	free(row);
}

/* Write the tensors as a GGUF at path (plain or container by name). */
static int write_model(const char *path, struct tens *ts, int n, int level)
{
	struct llm_gguf_write_opts o = LLM_GGUF_WRITE_OPTS_INIT;
	llm_gguf_writer *w;
	o.zstd_level = level;
	o.n_threads = 2;
	if (llm_gguf_writer_open_opts(&w, path, &o))
		return -1;
	llm_meta_set_str(llm_gguf_writer_meta(w), "general.name", "test_zst");
	for (int i = 0; i < n; i++) {
		int64_t ne[2] = { ts[i].ne0, ts[i].ne1 };
		if (llm_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, 2, ne))
			return -1;
	}
	for (int i = 0; i < n; i++) {
		/* in two pieces, as streaming converters do */
		size_t h = ts[i].size / 3;
		if (llm_gguf_writer_write(w, ts[i].data, h) || llm_gguf_writer_write(w, ts[i].data + h, ts[i].size - h))
			return -1;
	}
	return llm_gguf_writer_commit(w);
}

static uint64_t fsize(const char *p)
{
	struct llm_map m;
	uint64_t s;
	if (llm_map_open(&m, p))
		return 0;
	s = m.size;
	llm_map_close(&m);
	return s;
}

/* One-shot zstd of a whole file at level (what `zstd -LEVEL` produces, near enough). */
static uint64_t zstd_size(const char *p, int level)
{
	struct llm_map m;
	if (llm_map_open(&m, p))
		return 0;
	size_t cap = ZSTD_compressBound((size_t)m.size);
	void *b = malloc(cap);
	size_t r = ZSTD_compress(b, cap, m.data, (size_t)m.size, level);
	free(b);
	llm_map_close(&m);
	return ZSTD_isError(r) ? 0 : r;
}

static void test_xxh64(void)
{
	/* XXH64("") is published; zstd's frame checksum is the low 32 bits of
	 * XXH64 of the content: an independent reference for any input */
	CHECK(llm_xxh64("", 0) == 0xEF46DB3751D8E999ull, "xxh64_empty", "%016llx", (unsigned long long)llm_xxh64("", 0));
	int ok = 1;
	for (size_t n = 0; n < 300 && ok; n += 7) {
		uint8_t buf[300], out[600];
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)next();
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		size_t z = ZSTD_compress2(c, out, sizeof out, buf, n);
		ZSTD_freeCCtx(c);
		uint32_t ck;
		memcpy(&ck, out + z - 4, 4);
		ok = ck == (uint32_t)llm_xxh64(buf, n);
		if (!ok)
			printf("# length %zu\n", n);
	}
	CHECK(ok, "xxh64_matches_zstd_frame_checksum", "mismatch");
}

static void test_round_trips(const char *dir)
{
	static const int types[] = { LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0,
				     LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_Q4_K, LLM_TYPE_Q6_K };
	char plain[512], z[512], name[64];
	for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
		int t = types[ti], blk = llm_type_traits(t)->blck;
		int is_float = llm_type_traits(t)->is_float;
		struct tens ts[8];
		int n = 0;
		/* trained-like, one tensor of several chunks for floats */
		ts[n++] = (struct tens){ "a.weight", t, 256 > blk ? 256 : blk, is_float ? 9000 : 300, 0, NULL, 0 };
		ts[n++] = (struct tens){ "zeros.weight", t, blk * 4, 64, 1, NULL, 0 };
		ts[n++] = (struct tens){ "const.weight", t, blk * 4, 64, 2, NULL, 0 };
		ts[n++] = (struct tens){ "rep.weight", t, blk * 8, 200, 3, NULL, 0 };
		ts[n++] = (struct tens){ "odd.weight", t, blk * 2, 50, 4, NULL, 0 };
		ts[n++] = (struct tens){ "rand.weight", t, blk * 4, 40, 5, NULL, 0 };
		ts[n++] = (struct tens){ "tiny.weight", t, blk, 1, 0, NULL, 0 };
		for (int i = 0; i < n; i++)
			fill(&ts[i]);
		snprintf(plain, sizeof plain, "%s/%s.gguf", dir, llm_type_name(t));
		snprintf(z, sizeof z, "%s/%s.gguf.zst", dir, llm_type_name(t));
		int wr = write_model(plain, ts, n, 0) == 0 && write_model(z, ts, n, 0) == 0;
		snprintf(name, sizeof name, "write_%s", llm_type_name(t));
		CHECK(wr, name, "%s", llm_errmsg());
		/* the container decodes to the plain file, byte for byte */
		struct llm_map m;
		llm_zst *zz = NULL;
		int same = 0;
		if (wr && llm_map_open(&m, z) == 0) {
			if (llm_zst_open_mem(&zz, m.data, m.size, z) == 0) {
				uint64_t rs = llm_zst_raw_size(zz);
				uint8_t *back = malloc(rs);
				struct llm_map pm;
				if (llm_zst_read(zz, back, 0, rs, 3) == 0 && llm_map_open(&pm, plain) == 0) {
					same = pm.size == rs && memcmp(pm.data, back, rs) == 0;
					llm_map_close(&pm);
				}
				free(back);
				llm_zst_free(zz);
			}
			llm_map_close(&m);
		}
		snprintf(name, sizeof name, "decodes_to_plain_gguf_%s", llm_type_name(t));
		CHECK(same, name, "%s", llm_errmsg());
		/* the whole-file decode for GGUF-only readers gives the same bytes */
		struct llm_map dm, pm2;
		int wc = 0, same2 = 0;
		if (wr && llm_zst_map_open(&dm, z, &wc) == 0) {
			if (llm_map_open(&pm2, plain) == 0) {
				same2 = wc && dm.size == pm2.size && memcmp(dm.data, pm2.data, (size_t)dm.size) == 0;
				llm_map_close(&pm2);
			}
			llm_map_close(&dm);
		}
		snprintf(name, sizeof name, "map_open_decodes_%s", llm_type_name(t));
		CHECK(same2, name, "%s", llm_errmsg());
		/* through ckpt: every tensor equals what was written */
		llm_ckpt *c;
		int eq = 0;
		if (llm_ckpt_open(&c, z, NULL) == 0) {
			eq = llm_ckpt_n_tensors(c) == n && llm_ckpt_compressed(c);
			for (int i = 0; i < n && eq; i++) {
				const void *p;
				eq = llm_ckpt_data(c, i, &p) == 0 && llm_ckpt_tensor(c, i)->size == ts[i].size &&
				     memcmp(p, ts[i].data, ts[i].size) == 0 && llm_ckpt_stored_size(c, i) <= ts[i].size + 64;
				llm_ckpt_release(c, i);
			}
			llm_ckpt_free(c);
		}
		snprintf(name, sizeof name, "ckpt_reads_%s", llm_type_name(t));
		CHECK(eq, name, "%s", llm_errmsg());
		/* never more than 1 % larger than one-shot zstd of the plain GGUF */
		uint64_t ours = fsize(z), ref = zstd_size(plain, 3);
		snprintf(name, sizeof name, "ratio_vs_zstd3_%s", llm_type_name(t));
		CHECK(ours && ref && ours <= ref + ref / 100, name, "%llu vs zstd %llu", (unsigned long long)ours,
		      (unsigned long long)ref);
		printf("# %s: plain %llu, ours %llu, zstd -3 %llu\n", llm_type_name(t), (unsigned long long)fsize(plain),
		       (unsigned long long)ours, (unsigned long long)ref);
		for (int i = 0; i < n; i++)
			free(ts[i].data);
	}
}

static void test_bf16_gain(const char *dir)
{
	/* trained-weight statistics: Gaussian rows with log-normal scales */
	struct tens t = { "w.weight", LLM_TYPE_BF16, 4096, 1024, 0, NULL, 0 };
	char plain[512], z[512];
	fill(&t);
	snprintf(plain, sizeof plain, "%s/big.gguf", dir);
	snprintf(z, sizeof z, "%s/big.gguf.zst", dir);
	int wr = write_model(plain, &t, 1, 3) == 0 && write_model(z, &t, 1, 3) == 0;
	uint64_t ours = fsize(z), ref = zstd_size(plain, 3), raw = fsize(plain);
	CHECK(wr && ours && (double)ours <= 0.92 * (double)ref, "bf16_8pct_smaller_than_zstd3",
	      "ours %llu, zstd %llu", (unsigned long long)ours, (unsigned long long)ref);
	printf("# bf16 8 MiB: ours %.4fx, zstd -3 %.4fx, %.1f%% smaller\n", (double)raw / (double)ours,
	       (double)raw / (double)ref, 100.0 * (1 - (double)ours / (double)ref));
	/* same bytes whatever the thread count */
	llm_ckpt *c;
	int eq = 0;
	if (wr && llm_ckpt_open(&c, z, NULL) == 0) {
		const void *p;
		eq = llm_ckpt_data(c, 0, &p) == 0 && memcmp(p, t.data, t.size) == 0;
		llm_ckpt_free(c);
	}
	CHECK(eq, "bf16_big_round_trip", "%s", llm_errmsg());
	free(t.data);
}

static void test_damage(const char *dir)
{
	struct tens t[2] = { { "a.weight", LLM_TYPE_BF16, 256, 16, 0, NULL, 0 },
			     { "b.weight", LLM_TYPE_Q8_0, 256, 8, 0, NULL, 0 } };
	char z[512], bad[512];
	struct llm_map m;
	fill(&t[0]);
	fill(&t[1]);
	snprintf(z, sizeof z, "%s/dmg.gguf.zst", dir);
	snprintf(bad, sizeof bad, "%s/bad.gguf.zst", dir);
	if (write_model(z, t, 2, 3) || llm_map_open(&m, z)) {
		CHECK(0, "damage_setup", "%s", llm_errmsg());
		return;
	}
	uint8_t *b = malloc((size_t)m.size);
	uint64_t n = m.size;
	memcpy(b, m.data, (size_t)n);
	llm_map_close(&m);
	/* every flipped byte after the header is an error, never a crash */
	int all = 1;
	uint64_t first_bad = 0;
	for (uint64_t i = LLM_ZST_HEADER_SIZE; i < n && all; i++) {
		b[i] ^= 0x5A;
		llm_zst *zz;
		int rc = llm_zst_open_mem(&zz, b, n, "bad");
		if (rc == 0) {
			uint64_t rs = llm_zst_raw_size(zz);
			uint8_t *back = rs < (1u << 24) ? malloc(rs) : NULL;
			rc = back ? llm_zst_read(zz, back, 0, rs, 2) : -1;
			free(back);
			llm_zst_free(zz);
		}
		if (rc == 0) {
			all = 0;
			first_bad = i;
		}
		b[i] ^= 0x5A;
	}
	CHECK(all, "every_byte_flip_is_detected", "flip at %llu of %llu went unnoticed", (unsigned long long)first_bad,
	      (unsigned long long)n);
	/* truncations: every length fails to open */
	int trunc = 1;
	for (uint64_t k = 0; k < n && trunc; k += 1 + k / 8) {
		llm_zst *zz;
		if (llm_zst_open_mem(&zz, b, k, "short") == 0) {
			trunc = 0;
			llm_zst_free(zz);
		}
	}
	CHECK(trunc, "truncated_containers_rejected", "a prefix opened");
	/* the message names the file and says what is wrong */
	llm_write_file(bad, b, (size_t)(n - 7));
	llm_ckpt *c;
	int rc = llm_ckpt_open(&c, bad, NULL);
	CHECK(rc == LLM_EFORMAT && strstr(llm_errmsg(), bad) && strstr(llm_errmsg(), "truncated"),
	      "truncated_message", "rc %d: %s", rc, llm_errmsg());
	b[LLM_ZST_HEADER_SIZE + 200] ^= 1; /* inside the header unit's payload or a tensor's */
	llm_write_file(bad, b, (size_t)n);
	rc = llm_ckpt_open(&c, bad, NULL);
	if (rc == 0) {
		const void *p;
		rc = llm_ckpt_data(c, 0, &p);
		if (rc == 0)
			rc = llm_ckpt_data(c, 1, &p);
		llm_ckpt_free(c);
	}
	CHECK(rc == LLM_EFORMAT && strstr(llm_errmsg(), bad), "corrupted_message", "rc %d: %s", rc, llm_errmsg());
	free(b);
	free(t[0].data);
	free(t[1].data);
}

static long maxrss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_maxrss;
}

/* A footer whose decoded size lies 1 GiB past the last unit (zero padding
 * by the format; the writer never leaves that much): llm_zst_map_open
 * (adapters, llm_gguf_open) maps it without writing the padding.  It once
 * zero-filled all of it: 6 GiB resident from a 70 KB adapter. */
static void test_sparse(const char *dir)
{
	struct tens t = { "a.weight", LLM_TYPE_F32, 64, 4, 0, NULL, 0 };
	const uint64_t gap = 1ull << 30;
	uint64_t raw, idx_off, h;
	struct llm_map m;
	char z[512];
	int wc = 0, rc;

	fill(&t);
	snprintf(z, sizeof z, "%s/sparse.gguf.zst", dir);
	if (write_model(z, &t, 1, 3) || llm_map_open(&m, z)) {
		CHECK(0, "sparse_setup", "%s", llm_errmsg());
		free(t.data);
		return;
	}
	size_t n = (size_t)m.size;
	uint8_t *b = malloc(n), *f = b + n - LLM_ZST_FOOTER_SIZE;
	memcpy(b, m.data, n);
	llm_map_close(&m);
	memcpy(&idx_off, f, 8);
	memcpy(&raw, f + 16, 8);
	raw += gap;
	memcpy(f + 16, &raw, 8);
	h = llm_xxh64(b + idx_off, n - LLM_ZST_FOOTER_SIZE - (size_t)idx_off + 24);
	memcpy(f + 24, &h, 8);
	llm_write_file(z, b, n);
	long before = maxrss_kib();
	rc = llm_zst_map_open(&m, z, &wc);
	long grew = maxrss_kib() - before;
	CHECK(rc == 0 && wc && m.size == raw && m.data[raw - 1] == 0, "sparse_container_maps", "rc %d: %s", rc,
	      llm_errmsg());
	CHECK(grew < 256 << 10, "sparse_padding_not_written", "resident memory grew by %ld KiB for %llu bytes of padding",
	      grew, (unsigned long long)gap);
	if (rc == 0)
		llm_map_close(&m);
	free(b);
	free(t.data);
}

int main(void)
{
	char dir[] = "/tmp/test_zst.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	test_xxh64();
	test_round_trips(dir);
	test_bf16_gain(dir);
	test_damage(dir);
	test_sparse(dir);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return test_done();
}
