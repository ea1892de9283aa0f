/* test_gguf.c - GGUF writer/reader round trip and hostile inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "gguf.h"
#include "io.h"
#include "testutil.h"
#include "types.h"

static char dir[] = "/tmp/llm-test-gguf.XXXXXX";

/* Write a small GGUF with every metadata type and three tensors. */
static int write_sample(const char *path, uint32_t align)
{
	llm_gguf_writer *w;
	llm_meta *m;
	int rc;
	int32_t arr[5] = { 1, -2, 3, -4, 5 };
	struct llm_str strs[3] = { { 1, "a" }, { 0, "" }, { 6, "h\xc3\xa9llo" } };
	int64_t ne1[2] = { 32, 3 }, ne2[1] = { 7 }, ne3[3] = { 64, 2, 2 };
	float f[96];
	uint16_t h[7];
	uint8_t q[34 * 8];

	if ((rc = llm_gguf_writer_open(&w, path)))
		return rc;
	m = llm_gguf_writer_meta(w);
	llm_meta_set_str(m, "general.architecture", "llama");
	llm_meta_set_u32(m, "test.u32", 4000000000u);
	llm_meta_set_i32(m, "test.i32", -7);
	llm_meta_set_u64(m, "test.u64", 1ull << 40);
	llm_meta_set_f32(m, "test.f32", 0.5f);
	llm_meta_set_bool(m, "test.bool", 1);
	llm_meta_set_arr(m, "test.arr", LLM_V_I32, arr, 5);
	llm_meta_set_arr_str(m, "test.strs", strs, 3);
	if (align != 32)
		llm_meta_set_u32(m, "general.alignment", align);
	if ((rc = llm_gguf_writer_add_tensor(w, "a.weight", LLM_TYPE_F32, 2, ne1)) ||
	    (rc = llm_gguf_writer_add_tensor(w, "b", LLM_TYPE_F16, 1, ne2)) ||
	    (rc = llm_gguf_writer_add_tensor(w, "c", LLM_TYPE_Q8_0, 3, ne3))) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	for (int i = 0; i < 96; i++)
		f[i] = (float)i * 0.25f - 3;
	for (int i = 0; i < 7; i++)
		h[i] = (uint16_t)(0x3c00 + i);
	for (size_t i = 0; i < sizeof q; i++)
		q[i] = (uint8_t)(i * 7);
	if ((rc = llm_gguf_writer_write(w, f, 48 * 4)) || (rc = llm_gguf_writer_write(w, f + 48, 48 * 4)) ||
	    (rc = llm_gguf_writer_write(w, h, sizeof h)) || (rc = llm_gguf_writer_write(w, q, sizeof q))) {
		llm_gguf_writer_abort(w);
		return rc;
	}
	return llm_gguf_writer_commit(w);
}

static void test_roundtrip(uint32_t align)
{
	char path[256], name[64];
	llm_gguf *g;
	int rc;
	int64_t iv;
	const char *s;
	const struct llm_kv *kv;

	snprintf(path, sizeof path, "%s/rt%u.gguf", dir, align);
	snprintf(name, sizeof name, "write_align_%u", align);
	rc = write_sample(path, align);
	CHECK(rc == 0, name, "%s", llm_errmsg());
	rc = llm_gguf_open(&g, path);
	snprintf(name, sizeof name, "read_align_%u", align);
	CHECK(rc == 0, name, "%s", llm_errmsg());
	if (rc)
		return;
	CHECK(llm_gguf_version(g) == 3 && llm_gguf_alignment(g) == align, "header", "v%u a%u",
	      llm_gguf_version(g), llm_gguf_alignment(g));
	const llm_meta *m = llm_gguf_meta(g);
	CHECK(llm_meta_get_int(m, "test.u32", &iv) == 0 && iv == 4000000000ll, "meta_u32", "%lld", (long long)iv);
	CHECK(llm_meta_get_int(m, "test.i32", &iv) == 0 && iv == -7, "meta_i32", "%lld", (long long)iv);
	CHECK(llm_meta_get_int(m, "test.u64", &iv) == 0 && iv == 1ll << 40, "meta_u64", "%lld", (long long)iv);
	CHECK(llm_meta_float(m, "test.f32", 0) == 0.5, "meta_f32", "%g", llm_meta_float(m, "test.f32", 0));
	CHECK(llm_meta_get_str(m, "general.architecture", &s, NULL) == 0 && strcmp(s, "llama") == 0, "meta_str", "?");
	kv = llm_meta_get(m, "test.strs");
	CHECK(kv && kv->type == LLM_V_ARR && kv->atype == LLM_V_STR && kv->n == 3 &&
	      ((struct llm_str *)kv->data)[2].len == 6 && ((struct llm_str *)kv->data)[1].len == 0,
	      "meta_str_array", "bad");
	kv = llm_meta_get(m, "test.arr");
	CHECK(kv && kv->n == 5 && llm_kv_arr_num(kv, 3) == -4, "meta_i32_array", "bad");
	CHECK(llm_meta_get_str(m, "test.u32", &s, NULL) == LLM_EFORMAT, "meta_wrong_type", "no error");
	CHECK(llm_gguf_n_tensors(g) == 3, "n_tensors", "%lld", (long long)llm_gguf_n_tensors(g));
	int64_t ic = llm_gguf_find_tensor(g, "c");
	const struct llm_tensor_info *t = llm_gguf_tensor(g, ic);
	CHECK(t && t->type == LLM_TYPE_Q8_0 && t->n_dims == 3 && t->ne[2] == 2 && t->size == 34 * 8 &&
	      t->offset % align == 0, "tensor_info", "bad");
	const uint8_t *q = llm_gguf_tensor_data(g, ic);
	int same = 1;
	for (int i = 0; i < 34 * 8; i++)
		same &= q[i] == (uint8_t)(i * 7);
	CHECK(same && (llm_gguf_data_offset(g) + t->offset) % align == 0, "tensor_data", "bytes differ");
	const float *f = llm_gguf_tensor_data(g, llm_gguf_find_tensor(g, "a.weight"));
	CHECK(f[95] == 95 * 0.25f - 3, "tensor_data_f32", "%g", f[95]);
	llm_gguf_free(g);
}

/* Every truncation of a valid file must fail cleanly; every single-byte
 * corruption of the header must either fail cleanly or parse. */
static void test_hostile(void)
{
	char path[256];
	struct llm_map map;
	llm_gguf *g;
	int bad_ok = 1, crash_free = 1;
	uint64_t end = 0;

	snprintf(path, sizeof path, "%s/rt32.gguf", dir);
	if (llm_map_open(&map, path)) {
		CHECK(0, "hostile_map", "%s", llm_errmsg());
		return;
	}
	if (llm_gguf_open_mem(&g, map.data, map.size, "x") == 0) {
		for (int64_t i = 0; i < llm_gguf_n_tensors(g); i++) {
			const struct llm_tensor_info *t = llm_gguf_tensor(g, i);
			uint64_t e = llm_gguf_data_offset(g) + t->offset + t->size;
			if (e > end)
				end = e;
		}
		llm_gguf_free(g);
	}
	uint8_t *buf = malloc(map.size);
	for (uint64_t n = 0; n < end; n++) {
		memcpy(buf, map.data, n);
		if (llm_gguf_open_mem(&g, buf, n, "trunc") == 0) {
			bad_ok = 0;
			llm_gguf_free(g);
			printf("# truncation to %llu bytes was accepted\n", (unsigned long long)n);
			break;
		}
		if (strstr(llm_errmsg(), "trunc") != llm_errmsg())
			bad_ok = 0;
	}
	CHECK(bad_ok && end > 0, "every_truncation_rejected", "see above");
	/* corrupt each header byte with a few values */
	uint64_t hdr = end < 600 ? end : 600;
	static const uint8_t vals[] = { 0x00, 0xff, 0x7f, 0x80, 0x01 };
	for (uint64_t i = 0; i < hdr; i++)
		for (size_t v = 0; v < sizeof vals; v++) {
			memcpy(buf, map.data, map.size);
			buf[i] = vals[v];
			if (llm_gguf_open_mem(&g, buf, map.size, "corrupt") == 0) {
				/* accepted: every tensor must lie inside the buffer */
				for (int64_t k = 0; k < llm_gguf_n_tensors(g); k++) {
					const struct llm_tensor_info *t = llm_gguf_tensor(g, k);
					if (llm_gguf_data_offset(g) + t->offset + t->size > map.size)
						crash_free = 0;
				}
				llm_gguf_free(g);
			}
		}
	CHECK(crash_free, "corruptions_stay_in_bounds", "a tensor pointed outside the file");
	free(buf);
	llm_map_close(&map);

	/* specific bad headers */
	uint8_t h[64] = { 'G', 'G', 'U', 'F', 1, 0, 0, 0 };
	CHECK(llm_gguf_open_mem(&g, h, 24, "v1") == LLM_EUNSUPPORTED, "version_1_rejected", "%s", llm_errmsg());
	h[4] = 3;
	memset(h + 8, 0xff, 8); /* n_tensors = -1 */
	CHECK(llm_gguf_open_mem(&g, h, 24, "neg") == LLM_EFORMAT, "negative_count_rejected", "%s", llm_errmsg());
	memset(h + 8, 0, 16);
	h[16] = 0xff; h[17] = 0xff; h[18] = 0xff; h[19] = 0x7f; /* n_kv huge */
	CHECK(llm_gguf_open_mem(&g, h, 64, "huge") == LLM_EFORMAT, "huge_count_rejected", "%s", llm_errmsg());
	CHECK(llm_gguf_open_mem(&g, "NOPE....", 8, "magic") == LLM_EFORMAT && strstr(llm_errmsg(), "magic"),
	      "bad_magic_rejected", "%s", llm_errmsg());
	CHECK(llm_gguf_open(&g, "/nonexistent/x.gguf") == LLM_ENOTFOUND && strstr(llm_errmsg(), "/nonexistent/x.gguf"),
	      "missing_file_named", "%s", llm_errmsg());
}

static void test_writer_errors(void)
{
	char path[256];
	llm_gguf_writer *w;
	int64_t ne[2] = { 33, 2 };

	snprintf(path, sizeof path, "%s/err.gguf", dir);
	llm_gguf_writer_open(&w, path);
	CHECK(llm_gguf_writer_add_tensor(w, "x", LLM_TYPE_Q8_0, 2, ne) == LLM_EINVAL, "writer_rejects_bad_row",
	      "accepted 33 values in q8_0");
	ne[0] = 32;
	llm_gguf_writer_add_tensor(w, "x", LLM_TYPE_F32, 2, ne);
	float f[64] = { 0 };
	llm_gguf_writer_write(w, f, 100);
	int rc = llm_gguf_writer_commit(w); /* 156 bytes missing */
	CHECK(rc != 0 && access(path, F_OK) != 0, "short_write_leaves_no_file", "rc %d", rc);
	char tmpl[300];
	snprintf(tmpl, sizeof tmpl, "ls -A %s | grep -q '^\\.err' ", dir);
	CHECK(system(tmpl) != 0, "no_temporary_left", "temporary file left in %s", dir);

	/* duplicate names, found among many (the set grows as they come):
	 * the first 5000 are new, then every one of them again is refused */
	snprintf(path, sizeof path, "%s/dup.gguf", dir);
	llm_gguf_writer_open(&w, path);
	int64_t one[1] = { 8 };
	int fresh = 0, dups = 0;
	char name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof name, "t%d.weight", i);
		fresh += llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 1, one) == 0;
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof name, "t%d.weight", i);
		dups += llm_gguf_writer_add_tensor(w, name, LLM_TYPE_F32, 1, one) == LLM_EINVAL &&
			strstr(llm_errmsg(), "duplicate tensor name") != NULL;
	}
	CHECK(fresh == 5000 && dups == 715, "writer_duplicate_names", "%d new, %d refused", fresh, dups);
	llm_gguf_writer_abort(w);
}

/* llm_meta's key index (from 32 entries) against what a scan would find:
 * appends, replacements and removals in the middle */
static void test_meta_index(void)
{
	llm_meta m;
	char key[32];
	int bad = 0;
	llm_meta_init(&m);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k.%d", i);
		llm_meta_set_u32(&m, key, (uint32_t)i);
	}
	llm_meta_set_u32(&m, "k.500", 7); /* replaced in place */
	for (int i = 0; i < 1000; i += 3) {
		snprintf(key, sizeof key, "k.%d", i);
		bad += llm_meta_remove(&m, key) != 0;
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k.%d", i);
		int64_t j = llm_meta_find(&m, key);
		uint32_t want = i == 500 ? 7u : (uint32_t)i;
		if (i % 3 == 0)
			bad += j != -1;
		else
			bad += j < 0 || strcmp(m.kv[j].key, key) || *(const uint32_t *)m.kv[j].data != want;
	}
	bad += llm_meta_find(&m, "absent") != -1 || m.n != 666;
	CHECK(bad == 0, "meta_index_finds_what_a_scan_finds", "%d wrong, %lld entries", bad, (long long)m.n);
	llm_meta_clear(&m);
	CHECK(m.n == 0 && !m.ix && llm_meta_find(&m, "k.1") == -1, "meta_index_cleared", "n %lld", (long long)m.n);
}

/* error messages and names from files: control bytes as \xNN, cut short
 * only between whole pieces */
static void test_escape_controls(void)
{
	char b[32];
	size_t n = llm_escape_controls(b, sizeof b, "a\nb\x1b[2Jc\x7f");
	CHECK(n == 18 && strcmp(b, "a\\x0ab\\x1b[2Jc\\x7f") == 0, "escape_controls", "%zu '%s'", n, b);
	n = llm_escape_controls(b, 4, "ab\ncd");
	CHECK(n == 8 && strcmp(b, "ab") == 0, "escape_controls_cut_whole", "%zu '%s'", n, b);
	n = llm_escape_controls(NULL, 0, "x\t");
	CHECK(n == 5, "escape_controls_length_only", "%zu", n);
	llm_err(LLM_EFORMAT, "tensor '%s' bad", "a\nb");
	CHECK(strcmp(llm_errmsg(), "tensor 'a\\x0ab' bad") == 0, "err_one_line", "%s", llm_errmsg());
	llm_err_prefix(LLM_EFORMAT, "f\tile");
	CHECK(strcmp(llm_errmsg(), "f\\x09ile: tensor 'a\\x0ab' bad") == 0, "err_prefix_one_line", "%s",
	      llm_errmsg());
	/* a prefix the message names already is not added twice */
	llm_err(LLM_EFORMAT, "m.gguf.zst: unit 4: checksum");
	llm_err_prefix(LLM_EFORMAT, "blk.4.w");
	llm_err_prefix(LLM_EFORMAT, "m.gguf.zst");
	llm_err_prefix(LLM_EFORMAT, "gguf.zst");
	CHECK(strcmp(llm_errmsg(), "gguf.zst: blk.4.w: m.gguf.zst: unit 4: checksum") == 0, "err_prefix_once", "%s",
	      llm_errmsg());
	/* a message longer than the buffer keeps its head and its tail */
	char *name = malloc(3001);
	memset(name, 'v', 3000), name[3000] = 0;
	llm_err(LLM_EFORMAT, "tensor %s: size overflows", name);
	llm_err_prefix(LLM_EFORMAT, "model.gguf");
	const char *e = llm_errmsg();
	size_t el = strlen(e);
	CHECK(el < 1024 && strncmp(e, "model.gguf: tensor vvv", 22) == 0 && strstr(e, "v ... v") && el > 17 &&
		      strcmp(e + el - 17, "v: size overflows") == 0,
	      "err_long_keeps_head_and_tail", "%zu '%.40s...%s'", el, e, el > 30 ? e + el - 30 : e);
	free(name);
}

/* llm_path_join and llm_path_beside: one slash between the parts */
static void test_paths(void)
{
	static const struct {
		int beside;
		const char *a, *b, *want;
	} c[] = {
		{ 0, "dir", "x.json", "dir/x.json" }, { 0, "dir/", "x.json", "dir/x.json" },
		{ 0, "/", "x", "/x" },                 { 0, "", "x", "x" },
		{ 1, "a/b/model.gguf", "t.json", "a/b/t.json" },
		{ 1, "model.gguf", "t.json", "t.json" }, { 1, "/m", "t", "/t" },
		{ 1, "a/", "t", "a/t" },
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		char *got = c[i].beside ? llm_path_beside(c[i].a, c[i].b) : llm_path_join(c[i].a, c[i].b);
		char name[96];
		snprintf(name, sizeof name, "path %s(\"%s\", \"%s\")", c[i].beside ? "beside" : "join", c[i].a,
			 c[i].b);
		CHECK(got && !strcmp(got, c[i].want), name, "got \"%s\", want \"%s\"", got ? got : "(null)",
		      c[i].want);
		free(got);
	}
}

int main(void)
{
	char cmd[300];
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_roundtrip(32);
	test_roundtrip(64);
	test_roundtrip(4096);
	test_hostile();
	test_writer_errors();
	test_meta_index();
	test_escape_controls();
	test_paths();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
