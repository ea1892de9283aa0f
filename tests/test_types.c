/* test_types.c - tensor types: traits, names, row sizes, fp16/bf16 edge
 * values, quantizer error bounds, fast paths against the scalar reference,
 * quantization statistics.
 *
 * References: the expected fp16/bf16 bit patterns below are worked out by
 * hand from IEEE 754 (round to nearest, ties to even) and ggml's NaN rules;
 * fp16 conversion is also compared with the CPU's F16C instructions when
 * present.  The byte-exact check of the quantizers against an independent
 * numpy implementation of ggml's reference quantizers is tests/ref_quant.py
 * (run by tests/t_quant_ref.sh), which drives the helper modes below:
 *
 *   test_types --quantize TYPE IN.f32 OUT.bin      fast path (what llm-quant uses)
 *   test_types --quantize-ref TYPE IN.f32 OUT.bin  scalar reference
 *   test_types --dequantize TYPE IN.bin OUT.f32    fast path
 *   test_types --dequantize-ref TYPE IN.bin OUT.f32
 *   test_types --bench [MB]                        conversion throughput, MB/s of f32
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "kq_enc.h"
#include "types.h"
#include "types_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
static int have_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1) && (c >> 27 & 1); /* F16C, OSXSAVE */
}
/* the CPU's own conversions, as an independent reference */
__attribute__((target("f16c"))) static float hw_h2f(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) static uint16_t hw_f2h(float f)
{
	return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
#endif

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* xorshift64*: reproducible data */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}
static float urand(void) { return (float)((rng() >> 40) * 0x1p-24) * 2.0f - 1.0f; }

/* ------------------------------------------------------------- traits */

static void test_traits(void)
{
	/* ggml's table (ggml.c type_traits, ggml-common.h block sizes) */
	static const struct { int id; const char *name; int blck; size_t size; int isf; } want[] = {
		{ LLM_TYPE_F32, "f32", 1, 4, 1 },     { LLM_TYPE_F16, "f16", 1, 2, 1 },
		{ LLM_TYPE_Q4_0, "q4_0", 32, 18, 0 }, { LLM_TYPE_Q4_1, "q4_1", 32, 20, 0 },
		{ LLM_TYPE_Q5_0, "q5_0", 32, 22, 0 }, { LLM_TYPE_Q5_1, "q5_1", 32, 24, 0 },
		{ LLM_TYPE_Q8_0, "q8_0", 32, 34, 0 }, { LLM_TYPE_Q8_1, "q8_1", 32, 36, 0 },
		{ LLM_TYPE_Q2_K, "q2_K", 256, 84, 0 }, { LLM_TYPE_Q3_K, "q3_K", 256, 110, 0 },
		{ LLM_TYPE_Q4_K, "q4_K", 256, 144, 0 }, { LLM_TYPE_Q5_K, "q5_K", 256, 176, 0 },
		{ LLM_TYPE_Q6_K, "q6_K", 256, 210, 0 }, { LLM_TYPE_Q8_K, "q8_K", 256, 292, 0 },
		{ LLM_TYPE_I8, "i8", 1, 1, 0 },       { LLM_TYPE_I16, "i16", 1, 2, 0 },
		{ LLM_TYPE_I32, "i32", 1, 4, 0 },     { LLM_TYPE_I64, "i64", 1, 8, 0 },
		{ LLM_TYPE_F64, "f64", 1, 8, 1 },     { LLM_TYPE_BF16, "bf16", 1, 2, 1 },
		{ LLM_TYPE_IQ4_NL, "iq4_nl", 32, 18, 0 }, { LLM_TYPE_IQ4_XS, "iq4_xs", 256, 136, 0 },
		/* listed, not decoded: ggml-common.h's block structs */
		{ LLM_TYPE_IQ2_XXS, "iq2_xxs", 256, 66, 0 }, { LLM_TYPE_IQ2_XS, "iq2_xs", 256, 74, 0 },
		{ LLM_TYPE_IQ3_XXS, "iq3_xxs", 256, 98, 0 }, { LLM_TYPE_IQ1_S, "iq1_s", 256, 50, 0 },
		{ LLM_TYPE_IQ3_S, "iq3_s", 256, 110, 0 },    { LLM_TYPE_IQ2_S, "iq2_s", 256, 82, 0 },
		{ LLM_TYPE_IQ1_M, "iq1_m", 256, 56, 0 },     { LLM_TYPE_TQ1_0, "tq1_0", 256, 54, 0 },
		{ LLM_TYPE_TQ2_0, "tq2_0", 256, 66, 0 },     { LLM_TYPE_MXFP4, "mxfp4", 32, 17, 0 },
	};
	int bad = 0;
	char why[256] = "";
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct llm_type_traits *t = llm_type_traits(want[i].id);
		if (!t || strcmp(t->name, want[i].name) || t->blck != want[i].blck ||
		    t->type_size != want[i].size || t->is_float != want[i].isf) {
			bad++;
			snprintf(why, sizeof why, "type %d (%s)", want[i].id, want[i].name);
		}
	}
	CHECK(!bad, "traits_table", "%d wrong, last %s", bad, why);

	/* 4, 5: removed Q4_2, Q4_3; 31-33: removed Q4_0_4_4 ...; 36-38:
	 * removed IQ4_NL_4_4 ... */
	static const int unknown[] = { -1, 4, 5, 31, 32, 33, 36, 37, 38, 40, 1000 };
	bad = 0;
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
		bad += llm_type_traits(unknown[i]) != NULL || strcmp(llm_type_name(unknown[i]), "?") != 0;
	CHECK(!bad, "traits_unknown_ids", "%d unknown ids answered", bad);

	/* conversions promised by the brief */
	static const int dec[] = { LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,
				   LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_Q8_0 };
	bad = 0;
	for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
		const struct llm_type_traits *t = llm_type_traits(dec[i]);
		bad += !t->to_float || !t->from_float || !llm_type_ref_to_float(dec[i]) ||
		       !llm_type_ref_from_float(dec[i]);
	}
	CHECK(!bad, "traits_converters", "%d types lack to_float/from_float", bad);
}

static void test_names(void)
{
	CHECK(llm_type_from_name("q8_0") == LLM_TYPE_Q8_0, "name_q8_0", "got %d", llm_type_from_name("q8_0"));
	CHECK(llm_type_from_name("Q8_0") == LLM_TYPE_Q8_0, "name_case", "got %d", llm_type_from_name("Q8_0"));
	CHECK(llm_type_from_name("F16") == LLM_TYPE_F16, "name_F16", "got %d", llm_type_from_name("F16"));
	CHECK(llm_type_from_name("BF16") == LLM_TYPE_BF16, "name_BF16", "got %d", llm_type_from_name("BF16"));
	CHECK(llm_type_from_name("q4_k") == LLM_TYPE_Q4_K && llm_type_from_name("Q6_K") == LLM_TYPE_Q6_K,
	      "name_kquant", "q4_k -> %d, Q6_K -> %d", llm_type_from_name("q4_k"), llm_type_from_name("Q6_K"));
	int bad = 0;
	const char *nope[] = { "", "q4_2", "f32x", "f", "q8", "DEPRECATED", "?" };
	for (size_t i = 0; i < sizeof nope / sizeof nope[0]; i++)
		bad += llm_type_from_name(nope[i]) != -1;
	bad += llm_type_from_name(NULL) != -1;
	CHECK(!bad, "name_unknown", "%d unknown names resolved", bad);
	bad = 0;
	for (int t = 0; t < LLM_TYPE_COUNT; t++)
		if (llm_type_traits(t))
			bad += llm_type_from_name(llm_type_name(t)) != t;
	CHECK(!bad, "name_round_trip", "%d ids do not survive name -> id", bad);
	CHECK(strcmp(llm_type_name(LLM_TYPE_Q8_0), "q8_0") == 0, "name_of_id", "%s", llm_type_name(LLM_TYPE_Q8_0));
}

static void test_row_size(void)
{
	CHECK(llm_type_row_size(LLM_TYPE_F32, 10) == 40, "row_size_f32", "%zu", llm_type_row_size(LLM_TYPE_F32, 10));
	CHECK(llm_type_row_size(LLM_TYPE_Q8_0, 64) == 68, "row_size_q8_0", "%zu", llm_type_row_size(LLM_TYPE_Q8_0, 64));
	CHECK(llm_type_row_size(LLM_TYPE_Q4_K, 4096) == 16 * 144, "row_size_q4_K", "%zu",
	      llm_type_row_size(LLM_TYPE_Q4_K, 4096));
	CHECK(llm_type_row_size(LLM_TYPE_Q6_K, 512) == 420, "row_size_q6_K", "%zu", llm_type_row_size(LLM_TYPE_Q6_K, 512));
	CHECK(llm_type_row_size(LLM_TYPE_Q8_0, 33) == 0, "row_size_not_multiple", "%zu",
	      llm_type_row_size(LLM_TYPE_Q8_0, 33));
	CHECK(llm_type_row_size(LLM_TYPE_Q4_K, 255) == 0, "row_size_not_multiple_k", "%zu",
	      llm_type_row_size(LLM_TYPE_Q4_K, 255));
	CHECK(llm_type_row_size(LLM_TYPE_F32, -4) == 0, "row_size_negative", "%zu", llm_type_row_size(LLM_TYPE_F32, -4));
	CHECK(llm_type_row_size(4, 32) == 0 && llm_type_row_size(99, 32) == 0, "row_size_unknown", "nonzero");
	CHECK(llm_type_row_size(LLM_TYPE_F32, INT64_MAX) == 0, "row_size_overflow_f32", "%zu",
	      llm_type_row_size(LLM_TYPE_F32, INT64_MAX));
	CHECK(llm_type_row_size(LLM_TYPE_I64, INT64_MAX / 4 + 1) == 0, "row_size_overflow_i64", "%zu",
	      llm_type_row_size(LLM_TYPE_I64, INT64_MAX / 4 + 1));
	/* the largest q8_0 row still fits in 64 bits */
	CHECK(llm_type_row_size(LLM_TYPE_Q8_0, INT64_MAX / 32 * 32) == (size_t)(INT64_MAX / 32) * 34,
	      "row_size_q8_0_huge", "%zu", llm_type_row_size(LLM_TYPE_Q8_0, INT64_MAX / 32 * 32));
	/* the largest that fits: 2^61 - 1 values of i64 */
	CHECK(llm_type_row_size(LLM_TYPE_I64, INT64_MAX / 4) == (size_t)(INT64_MAX / 4) * 8, "row_size_large_ok",
	      "%zu", llm_type_row_size(LLM_TYPE_I64, INT64_MAX / 4));
}

/* ----------------------------------------------------------- fp16/bf16 */

static void test_fp16(void)
{
	/* input bits -> fp16 bits, by hand from IEEE 754 binary16 */
	static const struct { uint32_t f; uint16_t h; const char *what; } v[] = {
		{ 0x00000000, 0x0000, "+0" },
		{ 0x80000000, 0x8000, "-0" },
		{ 0x3f800000, 0x3c00, "1" },
		{ 0xc0000000, 0xc000, "-2" },
		{ 0x477fe000, 0x7bff, "65504" },
		{ 0x477fefff, 0x7bff, "65519.99 rounds down" },
		{ 0x477ff000, 0x7c00, "65520: tie to even -> inf" },
		{ 0xc77ff000, 0xfc00, "-65520 -> -inf" },
		{ 0x47800000, 0x7c00, "65536 -> inf" },
		{ 0x7f7fffff, 0x7c00, "FLT_MAX -> inf" },
		{ 0x7f800000, 0x7c00, "inf" },
		{ 0xff800000, 0xfc00, "-inf" },
		{ 0x33800000, 0x0001, "2^-24 smallest subnormal" },
		{ 0x33000000, 0x0000, "2^-25: tie to even -> 0" },
		{ 0xb3000000, 0x8000, "-2^-25 -> -0" },
		{ 0x33000001, 0x0001, "just above 2^-25 -> 2^-24" },
		{ 0x33c00000, 0x0002, "1.5*2^-24: tie -> 2" },
		{ 0x34200000, 0x0002, "2.5*2^-24: tie -> 2" },
		{ 0x34600000, 0x0004, "3.5*2^-24: tie -> 4" },
		{ 0x38800000, 0x0400, "2^-14 smallest normal" },
		{ 0x387fc000, 0x03ff, "largest subnormal" },
		{ 0x387fe000, 0x0400, "tie between 0x3ff and 0x400 -> even" },
		{ 0x3f801000, 0x3c00, "1+2^-11: tie -> even" },
		{ 0x3f803000, 0x3c02, "1+3*2^-11: tie -> even (up)" },
		{ 0x3f801001, 0x3c01, "just above tie" },
		{ 0x00000001, 0x0000, "fp32 subnormal -> 0" },
		{ 0x7fc00000, 0x7e00, "qNaN" },
		{ 0xffc00000, 0xfe00, "-qNaN" },
		{ 0x7f800001, 0x7e00, "sNaN -> canonical qNaN (ggml)" },
		{ 0x7fffffff, 0x7e00, "NaN payload dropped (ggml)" },
	};
	int bad = 0;
	char why[200] = "";
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint16_t h = llm_fp32_to_fp16(u2f(v[i].f));
		if (h != v[i].h) {
			bad++;
			snprintf(why, sizeof why, "%s: %08x -> %04x, want %04x", v[i].what, v[i].f, h, v[i].h);
		}
	}
	CHECK(!bad, "fp16_edges", "%d wrong, last %s", bad, why);

	/* every half: decode, re-encode gives it back (NaN: stays NaN, quiet) */
	bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = llm_fp16_to_fp32((uint16_t)h);
		int nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
		if (nan) {
			bad += !isnan(f) || !(f2u(f) & 0x400000) || (f2u(f) >> 31) != (h >> 15);
		} else {
			bad += llm_fp32_to_fp16(f) != h;
		}
	}
	CHECK(!bad, "fp16_all_halves_round_trip", "%d halves do not round-trip", bad);
	CHECK(llm_fp16_to_fp32(0x0001) == 0x1p-24f && llm_fp16_to_fp32(0x7bff) == 65504.0f &&
	      llm_fp16_to_fp32(0x3555) == 0x1.554p-2f && f2u(llm_fp16_to_fp32(0x8000)) == 0x80000000,
	      "fp16_decode_values", "wrong decode");

#ifdef HAVE_X86
	if (have_f16c()) {
		/* the CPU as independent reference: all halves, and a stride of floats */
		int bad_dec = 0, bad_enc = 0;
		uint32_t first = 0;
		for (uint32_t h = 0; h < 65536; h++) {
			float hw = hw_h2f((uint16_t)h);
			float sw = llm_fp16_to_fp32((uint16_t)h);
			bad_dec += f2u(hw) != f2u(sw);
		}
		for (uint64_t u = 0; u < 0x100000000ull; u += 251) {
			float f = u2f((uint32_t)u);
			if (isnan(f))
				continue;
			if (hw_f2h(f) != llm_fp32_to_fp16(f)) {
				if (!bad_enc++)
					first = (uint32_t)u;
			}
		}
		CHECK(!bad_dec, "fp16_decode_vs_f16c", "%d of 65536 halves differ", bad_dec);
		CHECK(!bad_enc, "fp16_encode_vs_f16c", "%d floats differ, first %08x", bad_enc, first);
	} else {
		SKIP("fp16_vs_f16c", "CPU has no F16C");
	}
#else
	SKIP("fp16_vs_f16c", "not x86-64");
#endif
}

static void test_bf16(void)
{
	static const struct { uint32_t f; uint16_t h; const char *what; } v[] = {
		{ 0x3f800000, 0x3f80, "1" },
		{ 0x80000000, 0x8000, "-0" },
		{ 0x3f808000, 0x3f80, "tie, even stays" },
		{ 0x3f818000, 0x3f82, "tie, odd rounds up" },
		{ 0x3f807fff, 0x3f80, "below tie" },
		{ 0x3f808001, 0x3f81, "above tie" },
		{ 0x00000001, 0x0000, "tiny subnormal -> 0" },
		{ 0x00008000, 0x0000, "subnormal tie -> even 0" },
		{ 0x00018000, 0x0002, "subnormal tie -> even 2 (not flushed)" },
		{ 0x00450000, 0x0045, "subnormal kept" },
		{ 0x007fffff, 0x0080, "largest subnormal -> smallest normal" },
		{ 0x7f7fffff, 0x7f80, "FLT_MAX -> inf" },
		{ 0x7f800000, 0x7f80, "inf" },
		{ 0xff800000, 0xff80, "-inf" },
		{ 0x7f800001, 0x7fc0, "sNaN made quiet" },
		{ 0x7f810000, 0x7fc1, "NaN payload kept, quiet" },
		{ 0xffc00000, 0xffc0, "-qNaN" },
		{ 0x7fffffff, 0x7fff, "NaN all ones" },
	};
	int bad = 0;
	char why[200] = "";
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint16_t h = llm_fp32_to_bf16(u2f(v[i].f));
		if (h != v[i].h) {
			bad++;
			snprintf(why, sizeof why, "%s: %08x -> %04x, want %04x", v[i].what, v[i].f, h, v[i].h);
		}
	}
	CHECK(!bad, "bf16_edges", "%d wrong, last %s", bad, why);
	bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		float f = llm_bf16_to_fp32((uint16_t)h);
		bad += f2u(f) != h << 16;
		if (!isnan(f))
			bad += llm_fp32_to_bf16(f) != h;
	}
	CHECK(!bad, "bf16_all_round_trip", "%d of 65536 differ", bad);
}

/* ------------------------------------------------------- quantizers */

static int quant_round_trip(int t, const float *x, int64_t n, float *y, void *q)
{
	const struct llm_type_traits *tt = llm_type_traits(t);
	tt->from_float(x, q, n);
	tt->to_float(q, y, n);
	return 0;
}

/* worst error of a block against its scale, over many random blocks */
static void test_quant_bounds(void)
{
	enum { NB = 400, N = NB * 32 };
	float *x = malloc(N * 4), *y = malloc(N * 4);
	uint8_t *q = malloc(N * 2);
	for (int i = 0; i < N; i++) {
		float scale = powf(10.0f, (float)((i / 32) % 6) - 2.0f); /* 1e-2 .. 1e3: fp16 scales stay normal */
		x[i] = urand() * scale;
	}
	static const int types[] = { LLM_TYPE_Q8_0, LLM_TYPE_Q4_0, LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1 };
	/* error bound in units of the block's step, fp16 scale rounding included */
	static const double bound[] = { 0.57, 1.01, 0.52, 1.02, 0.53 };
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		int t = types[k];
		quant_round_trip(t, x, N, y, q);
		double worst = 0;
		for (int b = 0; b < NB; b++) {
			const float *xb = x + b * 32, *yb = y + b * 32;
			float mn = FLT_MAX, mx = -FLT_MAX, amax = 0;
			for (int j = 0; j < 32; j++) {
				mn = fminf(mn, xb[j]);
				mx = fmaxf(mx, xb[j]);
				amax = fmaxf(amax, fabsf(xb[j]));
			}
			double step = t == LLM_TYPE_Q8_0 ? amax / 127.0
				    : t == LLM_TYPE_Q4_0 ? amax / 8.0
				    : t == LLM_TYPE_Q5_0 ? amax / 16.0
				    : t == LLM_TYPE_Q4_1 ? (mx - mn) / 15.0 : (mx - mn) / 31.0;
			/* *_1: the fp16 min adds |min| * 2^-11 */
			double extra = (t == LLM_TYPE_Q4_1 || t == LLM_TYPE_Q5_1) ? fabs(mn) * 0x1p-11 : 0;
			for (int j = 0; j < 32; j++) {
				double e = (fabs((double)xb[j] - yb[j]) - extra) / step;
				if (e > worst)
					worst = e;
			}
		}
		char name[64];
		snprintf(name, sizeof name, "quant_error_bound_%s", llm_type_name(t));
		CHECK(worst <= bound[k], name, "worst error %.4f steps > %.2f", worst, bound[k]);
	}
	free(x), free(y), free(q);
}

/* The tests' K-quant encoder (kq_enc.h) through the library's decoders:
 * Gaussian rows come back within a few percent (RMS error over RMS), the
 * coarser the type the more.  A layout misread on either side gives
 * errors of order 1. */
static void test_kquant_round_trip(void)
{
	enum { N = 256 * 64 };
	float *x = malloc(N * 4), *y = malloc(N * 4);
	uint8_t *q = malloc(N);
	for (int i = 0; i < N; i++)
		x[i] = (float)(urand() + urand() + urand() - 1.5) * (1.0f + (float)((i / 256) % 4));
	static const int types[] = { LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K,
				     LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS };
	static const double bound[] = { 0.35, 0.2, 0.1, 0.05, 0.03, 0.1, 0.1 };
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		int t = types[k];
		double e2 = 0, x2 = 0;
		int enc = kq_encode(t, x, q, N);
		if (enc)
			llm_type_traits(t)->to_float(q, y, N);
		for (int i = 0; enc && i < N; i++) {
			e2 += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
			x2 += (double)x[i] * x[i];
		}
		double rel = enc ? sqrt(e2 / x2) : 1;
		char name[64];
		snprintf(name, sizeof name, "kquant_round_trip_%s", llm_type_name(t));
		CHECK(rel <= bound[k], name, "relative RMS error %.4f > %.2f", rel, bound[k]);
		printf("# %s: relative RMS error %.4f\n", name, rel);
	}
	free(x), free(y), free(q);
}

/* llm-bench's random rows of the decode-only types decode to finite, not
 * all zero values; other types are refused */
static void test_random_blocks(void)
{
	static const int types[] = { LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K,
				     LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS };
	enum { N = 256 * 16 };
	uint8_t *q = malloc(N);
	float *y = malloc(N * 4);
	uint64_t seed = 99;
	int bad = 0;
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		double mx = 0;
		if (llm_type_random_blocks(types[k], q, N, &seed)) {
			bad++;
			continue;
		}
		llm_type_traits(types[k])->to_float(q, y, N);
		for (int i = 0; i < N; i++) {
			bad += !isfinite(y[i]);
			mx = fmax(mx, fabs(y[i]));
		}
		bad += !(mx > 0);
	}
	CHECK(!bad && llm_type_random_blocks(LLM_TYPE_Q4_0, q, 256, &seed) == -1 &&
		      llm_type_random_blocks(LLM_TYPE_Q8_K, q, 256, &seed) == -1,
	      "random_blocks_rows", "%d bad", bad);
	free(q), free(y);
}

/* blocks whose bytes follow from the format definition alone */
static void test_quant_known_blocks(void)
{
	float x[32] = { 0 };
	uint8_t q[40], want[40];

	llm_type_traits(LLM_TYPE_Q8_0)->from_float(x, q, 32);
	memset(want, 0, 34);
	CHECK(!memcmp(q, want, 34), "q8_0_zero_block", "not all zero");

	llm_type_traits(LLM_TYPE_Q4_0)->from_float(x, q, 32);
	/* d = max / -8 = 0.0f / -8 = -0.0f: fp16 0x8000, as ggml writes it */
	memset(want, 0x88, 18), want[0] = 0x00, want[1] = 0x80;
	CHECK(!memcmp(q, want, 18), "q4_0_zero_block", "want d=-0, nibbles 8, got %02x %02x %02x", q[0], q[1], q[2]);

	/* q8_0: amax 127 -> d = 1 exactly (fp16 0x3c00), q = roundf(x): ties away from 0 */
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16) + 0.5f; /* -15.5 .. 15.5 */
	x[0] = -127.0f;
	llm_type_traits(LLM_TYPE_Q8_0)->from_float(x, q, 32);
	int bad = q[0] != 0x00 || q[1] != 0x3c || (int8_t)q[2] != -127;
	for (int j = 1; j < 32; j++) {
		int r = j - 16 >= 0 ? j - 16 + 1 : j - 16; /* round half away: -0.5 -> -1, 0.5 -> 1 */
		bad += (int8_t)q[2 + j] != r;
	}
	CHECK(!bad, "q8_0_ties_away_from_zero", "bytes differ from roundf rule");

	/* q4_0: negative max -8 -> d = 1, x = q - 8, values 0..15 encode x = -8..7 */
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j % 16) - 8.0f;
	llm_type_traits(LLM_TYPE_Q4_0)->from_float(x, q, 32);
	bad = q[0] != 0x00 || q[1] != 0x3c;
	for (int j = 0; j < 16; j++)
		bad += q[2 + j] != (uint8_t)(j | j << 4);
	CHECK(!bad, "q4_0_negative_max", "d=%02x%02x", q[1], q[0]);

	/* q4_0: positive max 8 -> d = -1: x = 8 encodes q = 0, x = -7 encodes 15 */
	x[0] = 8.0f;
	x[16] = -7.0f;
	for (int j = 1; j < 32; j++)
		if (j != 16)
			x[j] = 0;
	llm_type_traits(LLM_TYPE_Q4_0)->from_float(x, q, 32);
	CHECK(q[0] == 0x00 && q[1] == 0xbc && q[2] == (0 | 15 << 4) && q[3] == 0x88, "q4_0_positive_max",
	      "bytes %02x %02x %02x %02x", q[0], q[1], q[2], q[3]);
}

/* --------------------------------------------------- fast vs reference */

/* random values with specials sprinkled in */
static void fill_adversarial(float *x, int64_t n)
{
	static const uint32_t special[] = { 0x7fc00000, 0xff800001, 0x7f800000, 0xff800000, 0x00000001, 0x80400000,
					    0x33000000, 0x477ff000, 0x477fefff, 0x3f808000, 0x7f7fffff, 0x80000000 };
	for (int64_t i = 0; i < n; i++) {
		uint64_t r = rng();
		switch (r % 16) {
		case 0: x[i] = u2f(special[(r >> 8) % (sizeof special / sizeof special[0])]); break;
		case 1: x[i] = u2f((uint32_t)(r >> 32)); break; /* any bit pattern */
		case 2: x[i] = (float)((int)((r >> 8) % 33) - 16) * 0.5f; break; /* halves: ties */
		default: x[i] = urand() * powf(2.0f, (float)((r >> 20) % 40) - 20.0f); break;
		}
	}
}

static void test_fast_vs_ref(void)
{
	if (!llm_types_simd()) {
		SKIP("simd_vs_scalar", "no AVX2/FMA/F16C on this CPU (or LLM_ISA): only the scalar path runs");
		return;
	}
	static const int types[] = { LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0 };
	enum { MAXN = 32 * 301 };
	float *x = malloc(MAXN * 4), *y1 = malloc(MAXN * 4), *y2 = malloc(MAXN * 4);
	uint8_t *q1 = malloc(MAXN * 2), *q2 = malloc(MAXN * 2);
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		int t = types[k];
		const struct llm_type_traits *tt = llm_type_traits(t);
		int bad_enc = 0, bad_dec = 0, runs = 0;
		for (int rep = 0; rep < 60; rep++) {
			/* odd lengths for plain types, odd block counts for the block types */
			int64_t n = tt->blck == 1 ? (int64_t)(2 * (rng() % (MAXN / 2)) + 1) : 32 * (int64_t)(2 * (rng() % 150) + 1);
			if (rep < 8)
				n = tt->blck == 1 ? rep * 2 + 1 : 32 * (rep * 2 + 1);
			if (rep % 2)
				fill_adversarial(x, n);
			else
				for (int64_t i = 0; i < n; i++)
					x[i] = urand() * 3.0f;
			size_t rs = llm_type_row_size(t, n);
			memset(q1, 0xa5, rs), memset(q2, 0x5a, rs);
			tt->from_float(x, q1, n);
			llm_type_ref_from_float(t)(x, q2, n);
			bad_enc += memcmp(q1, q2, rs) != 0;
			/* decode: random bytes too (all fp16 codes, all nibbles) */
			if (rep % 3 == 2)
				for (size_t i = 0; i < rs; i++)
					q2[i] = (uint8_t)rng();
			memset(y1, 0xa5, n * 4), memset(y2, 0x5a, n * 4);
			tt->to_float(q2, y1, n);
			llm_type_ref_to_float(t)(q2, y2, n);
			bad_dec += memcmp(y1, y2, n * 4) != 0;
			runs++;
		}
		char name[64];
		snprintf(name, sizeof name, "simd_vs_scalar_encode_%s", tt->name);
		CHECK(!bad_enc, name, "%d of %d rows differ", bad_enc, runs);
		snprintf(name, sizeof name, "simd_vs_scalar_decode_%s", tt->name);
		CHECK(!bad_dec, name, "%d of %d rows differ", bad_dec, runs);
	}
	free(x), free(y1), free(y2), free(q1), free(q2);
}

/* ---------------------------------------------------------- statistics */

static void test_qstats(void)
{
	const float x[] = { 1.0f, -2.0f, 70000.0f, INFINITY, 1e-8f, 0.0f, -0.0f, 2e-8f, -2.9e-8f, 65519.0f };
	const float y[] = { 1.5f, -2.0f, 70000.0f, INFINITY, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 65519.0f };
	struct llm_qstats s = { 0 };
	llm_qstats_add(&s, x, y, 2); /* errors 0.5, 0 */
	CHECK(s.n == 2 && s.sum_sq_err == 0.25 && s.sum_sq == 5.0 && s.max_abs_err == 0.5, "qstats_sums",
	      "n=%lld sse=%g ss=%g max=%g", (long long)s.n, s.sum_sq_err, s.sum_sq, s.max_abs_err);
	CHECK(fabs(llm_qstats_rmse(&s) - sqrt(0.125)) < 1e-15, "qstats_rmse", "%.17g", llm_qstats_rmse(&s));
	CHECK(fabs(llm_qstats_snr_db(&s) - 10 * log10(20.0)) < 1e-12, "qstats_snr", "%.17g", llm_qstats_snr_db(&s));
	struct llm_qstats c = { 0 };
	llm_qstats_add(&c, x + 2, x + 2, 1);
	CHECK(isinf(llm_qstats_snr_db(&c)) && llm_qstats_snr_db(&c) > 0, "qstats_snr_exact_inf", "%g",
	      llm_qstats_snr_db(&c));
	/* overflow (becomes inf in fp16): 70000; inf itself and 65519 (rounds
	 * to 65504) are not.  underflow (becomes 0): 1e-8, 2e-8, -2.9e-8 are in
	 * (0, 2^-25 = 2.98e-8]; zeros are not. */
	struct llm_qstats o = { 0 };
	llm_qstats_add(&o, x + 2, x + 2, 1);
	llm_qstats_add(&o, x + 4, y + 4, 5);
	llm_qstats_add(&o, x + 9, y + 9, 1);
	CHECK(o.fp16_overflow == 1, "qstats_fp16_overflow", "%lld", (long long)o.fp16_overflow);
	CHECK(o.fp16_underflow == 3, "qstats_fp16_underflow", "%lld", (long long)o.fp16_underflow);
	CHECK(o.n == 7, "qstats_count", "%lld", (long long)o.n);
	struct llm_qstats z = { 0 };
	CHECK(llm_qstats_rmse(&z) == 0.0, "qstats_empty", "rmse %g", llm_qstats_rmse(&z));
}

/* ------------------------------------------------------- helper modes */

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *p = malloc(sz > 0 ? (size_t)sz : 1);
	if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)sz;
	return p;
}

static int spit(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "test_types: %s: cannot write\n", path);
		return 1;
	}
	return 0;
}

static int helper(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: test_types --quantize[-ref]|--dequantize[-ref] TYPE IN OUT\n");
		return 2;
	}
	int ref = strstr(argv[1], "-ref") != NULL, enc = strncmp(argv[1], "--quantize", 10) == 0;
	int t = llm_type_from_name(argv[2]);
	const struct llm_type_traits *tt = llm_type_traits(t);
	if (!tt || !(enc ? tt->from_float != NULL : tt->to_float != NULL)) {
		fprintf(stderr, "test_types: %s: no converter\n", argv[2]);
		return 2;
	}
	size_t len;
	void *in = slurp(argv[3], &len);
	if (!in) {
		fprintf(stderr, "test_types: %s: cannot read\n", argv[3]);
		return 1;
	}
	int64_t n = enc ? (int64_t)(len / 4) : (int64_t)(len / tt->type_size) * tt->blck;
	size_t rs = llm_type_row_size(t, n);
	if ((enc && (len % 4 || (!rs && n))) || (!enc && len != rs)) {
		fprintf(stderr, "test_types: %s: %zu bytes is not whole %s blocks\n", argv[3], len, tt->name);
		return 1;
	}
	int rc;
	if (enc) {
		void *out = malloc(rs + 1);
		(ref ? llm_type_ref_from_float(t) : tt->from_float)(in, out, n);
		rc = spit(argv[4], out, rs);
		free(out);
	} else {
		float *out = malloc((size_t)n * 4 + 1);
		(ref ? llm_type_ref_to_float(t) : tt->to_float)(in, out, n);
		rc = spit(argv[4], out, (size_t)n * 4);
		free(out);
	}
	free(in);
	return rc;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* MB/s of f32 data (read for encoding, written for decoding), best of 5 */
static int bench(int mb)
{
	int64_t n = (int64_t)mb * 1024 * 1024 / 4 / 256 * 256;
	float *x = malloc(n * 4), *y = malloc(n * 4);
	uint8_t *q = malloc(n * 4);
	for (int64_t i = 0; i < n; i++)
		x[i] = urand() * 0.05f;
	static const int types[] = { LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q4_0,
				     LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1 };
	printf("simd %d, %lld values (%.0f MB f32)\n", llm_types_simd(), (long long)n, n * 4 / 1e6);
	printf("type\tf32->type fast\tf32->type ref\ttype->f32 fast\ttype->f32 ref\n");
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		int t = types[k];
		const struct llm_type_traits *tt = llm_type_traits(t);
		llm_from_float_fn enc[2] = { tt->from_float, llm_type_ref_from_float(t) };
		llm_to_float_fn dec[2] = { tt->to_float, llm_type_ref_to_float(t) };
		double r[4];
		for (int m = 0; m < 4; m++) {
			double best = 1e30;
			for (int rep = 0; rep < 5; rep++) {
				double t0 = now();
				if (m < 2)
					enc[m](x, q, n);
				else
					dec[m - 2](q, y, n);
				double dt = now() - t0;
				if (dt < best)
					best = dt;
			}
			r[m] = n * 4 / 1e6 / best;
		}
		printf("%s\t%.0f\t%.0f\t%.0f\t%.0f\n", tt->name, r[0], r[1], r[2], r[3]);
	}
	free(x), free(y), free(q);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strncmp(argv[1], "--quantize", 10) || !strncmp(argv[1], "--dequantize", 12)))
		return helper(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench(argc > 2 ? atoi(argv[2]) : 256);
	test_traits();
	test_names();
	test_row_size();
	test_fp16();
	test_bf16();
	test_quant_known_blocks();
	test_quant_bounds();
	test_kquant_round_trip();
	test_random_blocks();
	test_fast_vs_ref();
	test_qstats();
	return test_done();
}
