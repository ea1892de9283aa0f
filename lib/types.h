/* types.h - tensor element types, pinned to ggml's ids, and their traits.
 *
 * Block layouts (bit-exact with ggml; little-endian on disk):
 *   F32   4 bytes/value.         F16  IEEE half.   BF16 upper half of an f32.
 *   Q4_0  32 values, 18 bytes: fp16 d; 16 bytes of nibbles.  x = d*(q-8).
 *         Byte j holds value j (low nibble) and value j+16 (high nibble).
 *   Q4_1  32 values, 20 bytes: fp16 d, fp16 m; 16 bytes nibbles. x = d*q + m.
 *   Q5_0  32 values, 22 bytes: fp16 d; u32 qh (5th bits); 16 bytes nibbles.
 *         x = d*(q-16); bit j of qh is the 5th bit of value j.
 *   Q5_1  32 values, 24 bytes: fp16 d, fp16 m; u32 qh; 16 bytes. x = d*q + m.
 *   Q8_0  32 values, 34 bytes: fp16 d; 32 int8 q.  x = d*q.
 *   K-quants: 256-value super-blocks (layouts in types.c and kquant.c).
 *   Q2_K..Q6_K are decoded (dequantize_row_*_K's values bit for bit) but
 *   not written: no from_float.  Q8_K (ggml's intermediate) is listed only.
 *   IQ4_NL 32 values, 18 bytes: fp16 d; nibbles as Q4_0's, each an index
 *         into a fixed table of 16 int8 levels.  x = d*level.
 *   IQ4_XS 256 values, 136 bytes: fp16 d, u16 scales_h, 4 bytes scales_l,
 *         128 bytes of IQ4_NL nibbles; per 32 values a 6-bit scale ls
 *         (low 4 bits in scales_l, high 2 in scales_h): x = d*(ls-32)*level.
 *   Both decoded only, as the K-quants.
 *
 * Quantization follows ggml's quantize_row_*_ref exactly (same float
 * operations in the same order), so outputs equal llama-quantize's bytes.
 */
#ifndef LLM_TYPES_H
#define LLM_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum llm_type {
	LLM_TYPE_F32 = 0,
	LLM_TYPE_F16 = 1,
	LLM_TYPE_Q4_0 = 2,
	LLM_TYPE_Q4_1 = 3,
	LLM_TYPE_Q5_0 = 6,
	LLM_TYPE_Q5_1 = 7,
	LLM_TYPE_Q8_0 = 8,
	LLM_TYPE_Q8_1 = 9,
	LLM_TYPE_Q2_K = 10,
	LLM_TYPE_Q3_K = 11,
	LLM_TYPE_Q4_K = 12,
	LLM_TYPE_Q5_K = 13,
	LLM_TYPE_Q6_K = 14,
	LLM_TYPE_Q8_K = 15,
	LLM_TYPE_IQ2_XXS = 16, /* these: sizes known (llm-info shows them), not decoded */
	LLM_TYPE_IQ2_XS = 17,
	LLM_TYPE_IQ3_XXS = 18,
	LLM_TYPE_IQ1_S = 19,
	LLM_TYPE_IQ4_NL = 20,
	LLM_TYPE_IQ3_S = 21,
	LLM_TYPE_IQ2_S = 22,
	LLM_TYPE_IQ4_XS = 23,
	LLM_TYPE_I8 = 24,
	LLM_TYPE_I16 = 25,
	LLM_TYPE_I32 = 26,
	LLM_TYPE_I64 = 27,
	LLM_TYPE_F64 = 28,
	LLM_TYPE_IQ1_M = 29,
	LLM_TYPE_BF16 = 30,
	LLM_TYPE_TQ1_0 = 34,
	LLM_TYPE_TQ2_0 = 35,
	LLM_TYPE_MXFP4 = 39,
	LLM_TYPE_COUNT = 40, /* ids below this may be looked up */
};

#define LLM_QK 32 /* values per block of the *_0 / *_1 types */

/* Convert n values of one row (n a multiple of blck) to/from float. */
typedef void (*llm_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*llm_from_float_fn)(const float *src, void *dst, int64_t n);

struct llm_type_traits {
	const char *name;        /* ggml's lower-case name: "f32", "q8_0", ... */
	int blck;                /* values per block (1 for plain types) */
	size_t type_size;        /* bytes per block */
	int is_float;            /* F32, F16, BF16, F64 */
	llm_to_float_fn to_float;     /* NULL if we cannot decode it */
	llm_from_float_fn from_float; /* NULL if we cannot encode it (ref quantizer) */
};

/* Traits of type id t, or NULL when t is not a known type. Borrowed, static. */
const struct llm_type_traits *llm_type_traits(int t);

/* Type id for a name (case-insensitive: "q8_0", "F16"), or -1. */
int llm_type_from_name(const char *name);

/* Name of t ("?" when unknown). */
const char *llm_type_name(int t);

/* Bytes for n values of type t; 0 when t is unknown or n is not a multiple
 * of the block size or the product overflows. */
size_t llm_type_row_size(int t, int64_t n);

/* Scalar conversions. fp32->fp16 and fp32->bf16 round to nearest even;
 * NaN stays NaN (quiet) for bf16, as ggml does. */
uint16_t llm_fp32_to_fp16(float f);
float llm_fp16_to_fp32(uint16_t h);
uint16_t llm_fp32_to_bf16(float f);
float llm_bf16_to_fp32(uint16_t h);

/* Error statistics of a lossy conversion (quantization report). */
struct llm_qstats {
	double sum_sq_err;    /* sum (x - x')^2 */
	double sum_sq;        /* sum x^2 */
	double max_abs_err;
	int64_t n;
	int64_t fp16_overflow;  /* finite x with |x| >= 65520: becomes inf in fp16 */
	int64_t fp16_underflow; /* 0 < |x| <= 2^-25: becomes zero in fp16 */
};
/* Accumulate statistics for n values: x the original, y the round trip. */
void llm_qstats_add(struct llm_qstats *s, const float *x, const float *y, int64_t n);
double llm_qstats_rmse(const struct llm_qstats *s);
double llm_qstats_snr_db(const struct llm_qstats *s); /* inf when exact */

#endif
