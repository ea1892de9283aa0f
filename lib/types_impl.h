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

/* One block of the scalar reference quantizers (quant_simd.c falls back to
 * them for blocks holding NaN, where vector max/compare would differ). */
void llm_ref_quantize_block_q8_0(const float *x, uint8_t *y);
void llm_ref_quantize_block_q4_0(const float *x, uint8_t *y);

#endif
