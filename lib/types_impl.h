/* types_impl.h - private to the types module and its tests (not installed).
 *
 * The traits table in types.c hands out the fast row converters: they use
 * AVX2/F16C when the CPU has them (checked at run time) and are bit-identical
 * to the plain scalar references below, which tests compare them against.
 */
#ifndef LLM_TYPES_IMPL_H
#define LLM_TYPES_IMPL_H

#include "types.h"

/* The scalar reference converters of type t (NULL where the traits have
 * none).  Static functions, nothing to free. */
llm_to_float_fn llm_type_ref_to_float(int t);
llm_from_float_fn llm_type_ref_from_float(int t);

/* 1 when the AVX2/F16C/FMA fast paths run on this CPU, else 0. */
int llm_types_simd(void);

/* quant_simd.c: the fast paths.  Same contract as the references (n a
 * multiple of the block size); call only when llm_types_simd() is 1. */
void llm_simd_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);
void llm_simd_fp16_to_fp32_row(const uint16_t *x, float *y, int64_t n);
void llm_simd_fp32_to_bf16_row(const float *x, uint16_t *y, int64_t n);
void llm_simd_bf16_to_fp32_row(const uint16_t *x, float *y, int64_t n);
void llm_simd_quantize_q8_0(const float *x, void *y, int64_t n);
void llm_simd_quantize_q4_0(const float *x, void *y, int64_t n);
void llm_simd_dequantize_q8_0(const void *x, float *y, int64_t n);
void llm_simd_dequantize_q4_0(const void *x, float *y, int64_t n);

/* n values (a multiple of the block) of random valid blocks of a type
 * that has no encoder (Q2_K..Q6_K, IQ4_NL, IQ4_XS): random codes and
 * sub-block scales, (super-)block scales finite, of magnitude 2^-9..2^-6,
 * from the xorshift state *seed.  For benchmarks.  0, or -1 when the type
 * is not one of those. */
int llm_type_random_blocks(int type, void *dst, int64_t n, uint64_t *seed);

/* IQ4_NL and IQ4_XS: the 16 int8 levels a 4-bit code stands for. */
extern const int8_t llm_iq4nl_levels[16];

/* The packed sub-block scales of the 256-value types, in one place for the
 * decoders (types.c), the dot products (kquant.c) and the packer (qpack.c).
 *
 * Q4_K/Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12
 * packed bytes q: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 in
 * the nibbles of byte j+4 with the top 2 bits of bytes j-4 and j. */
static inline void llm_k4_scale_min(const uint8_t *q, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

/* Q3_K: the scale of 16-value sub-block j (0..15), stored + 32 in the 12
 * bytes s (low nibbles in bytes 0-7: sub-blocks 0-7 low, 8-15 high; the
 * top 2 bits in bytes 8-11), as a signed value -32..31. */
static inline int llm_q3k_scale(const uint8_t *s, int j)
{
	const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
	const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
	return (lo | hi << 4) - 32;
}

/* IQ4_XS: sub-block ib's (0..7) 6-bit scale minus 32: nibble ib % 2 of
 * scales_l[ib / 2] with bits 2 ib, 2 ib + 1 of scales_h on top. */
static inline int llm_iq4xs_scale(uint16_t scales_h, const uint8_t *scales_l, int ib)
{
	return (((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

/* One block of the scalar reference quantizers (quant_simd.c falls back to
 * them for blocks holding NaN, where vector max/compare would differ). */
void llm_ref_quantize_block_q8_0(const float *x, uint8_t *y);
void llm_ref_quantize_block_q4_0(const float *x, uint8_t *y);

#endif
