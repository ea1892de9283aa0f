/* tool_bench_zst.c - compression ratio and speed of the GGUF container on
 * synthetic tensors with trained-weight statistics (Gaussian, per-row
 * scales), against plain zstd of the same bytes at the same level.
 *
 * usage: tool_bench_zst [TYPE [MiB [LEVEL [THREADS]]]]
 *   TYPE bf16 (default), f16, f32, q8_0, q4_0; prints one TSV line:
 *   type level threads raw_MiB ratio_ours ratio_zstd gain_% comp_MB/s decomp_MB/s
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "error.h"
#include "io.h"
#include "types.h"
#include "zst.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}
static float gauss(void)
{
	double u = urand(), v = urand();
	return (float)(sqrt(-2 * log(u < 1e-300 ? 1e-300 : u)) * cos(2 * M_PI * v));
}
/* CPU time of the process when LLM_BENCH_CPU is set (a loaded machine:
 * divide by the threads for per-thread speed), else wall time. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(getenv("LLM_BENCH_CPU") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *tn = argc > 1 ? argv[1] : "bf16";
	size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 64;
	int level = argc > 3 ? atoi(argv[3]) : 3, nt = argc > 4 ? atoi(argv[4]) : 2;
	int type = llm_type_from_name(tn);
	const struct llm_type_traits *tr = type >= 0 ? llm_type_traits(type) : NULL;
	if (!tr || !tr->from_float) {
		fprintf(stderr, "unknown type %s\n", tn);
		return 2;
	}
	int64_t ne0 = 4096, rows = (int64_t)(mib << 20) / (int64_t)llm_type_row_size(type, ne0);
	size_t rs = llm_type_row_size(type, ne0), n = rs * (size_t)rows;
	uint8_t *raw = malloc(n), *back = malloc(n);
	float *row = malloc(sizeof(float) * (size_t)ne0);
	for (int64_t r = 0; r < rows; r++) {
		float sc = 0.02f * (float)exp(0.5 * gauss()); /* per-row scale */
		for (int64_t i = 0; i < ne0; i++)
			row[i] = sc * gauss();
		tr->from_float(row, raw + (size_t)r * rs, ne0);
	}
	/* tmpfs when there is one: measure compression, not the disk */
	char path[64];
	snprintf(path, sizeof path, "%s/bench_zst.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	int fd = mkstemp(path);
	close(fd);
	struct llm_out o;
	llm_zst_enc *e;
	double t0 = now();
	if (llm_out_open(&o, path) || llm_zst_enc_new(&e, &o, level, nt)) {
		fprintf(stderr, "%s\n", llm_errmsg());
		return 1;
	}
	static uint8_t hdr[64];
	memcpy(hdr, "GGUF", 4);
	if (llm_zst_enc_begin(e, 0, sizeof hdr, 0) || llm_zst_enc_write(e, hdr, sizeof hdr) ||
	    llm_zst_enc_begin(e, sizeof hdr, n, llm_zst_elem_for_type(type)) || llm_zst_enc_write(e, raw, n) ||
	    llm_zst_enc_finish(e, sizeof hdr + n) || llm_out_commit(&o)) {
		fprintf(stderr, "%s\n", llm_errmsg());
		return 1;
	}
	double tc = now() - t0;
	llm_zst_enc_free(e);
	struct llm_map m;
	llm_zst *z;
	if (llm_map_open(&m, path) || llm_zst_open_mem(&z, m.data, m.size, path)) {
		fprintf(stderr, "%s\n", llm_errmsg());
		return 1;
	}
	uint64_t csize = m.size;
	double td = 1e9;
	for (int rep = 0; rep < 3; rep++) {
		t0 = now();
		if (llm_zst_read(z, back, sizeof hdr, n, nt)) {
			fprintf(stderr, "%s\n", llm_errmsg());
			return 1;
		}
		if (now() - t0 < td)
			td = now() - t0;
	}
	if (memcmp(raw, back, n)) {
		fprintf(stderr, "round trip differs\n");
		return 1;
	}
	size_t cap = ZSTD_compressBound(n);
	uint8_t *zb = malloc(cap);
	t0 = now();
	size_t zs = ZSTD_compress(zb, cap, raw, n, level);
	double tz = now() - t0;
	double tzd = 1e9;
	for (int rep = 0; rep < 3; rep++) {
		t0 = now();
		ZSTD_decompress(back, n, zb, zs);
		if (now() - t0 < tzd)
			tzd = now() - t0;
	}
	int64_t g = 0, p = 0, s = 0;
	for (int64_t i = 0; i < llm_zst_n_units(z); i++) {
		int mth = (int)llm_zst_unit(z, i)->method;
		g += mth == 2, p += mth == 1, s += mth == 0;
	}
	printf("%s\tL%d\tT%d\t%.0f MiB\tours %.4fx\tzstd %.4fx\tsmaller by %.2f%%\tcomp %.0f MB/s\tdecomp %.0f MB/s\tzstd(1T) comp %.0f decomp %.0f MB/s\tunits g/z/s %lld/%lld/%lld\n",
	       tn, level, nt, (double)n / 1048576, (double)n / (double)csize, (double)n / (double)zs,
	       100.0 * (1 - (double)csize / (double)zs), (double)n / tc / 1e6, (double)n / td / 1e6,
	       (double)n / tz / 1e6, (double)n / tzd / 1e6, (long long)g, (long long)p, (long long)s);
	llm_zst_free(z);
	llm_map_close(&m);
	unlink(path);
	return 0;
}
