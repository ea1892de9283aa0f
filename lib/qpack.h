/* qpack.h - quantized weights (Q4_0, Q8_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) repacked for integer dot products.
 *
 * The row-at-a-time float kernels (kernels.h) spend most of their time
 * widening 4- and 8-bit codes to floats, so on a 2-core machine they are
 * bound by arithmetic, not by memory.  Here a matrix is rearranged once (at
 * model load) so that AVX-512 VNNI's vpdpbusd multiplies 4 columns of 16
 * rows at a time, 64 byte products per instruction, with each row's sum in
 * its own lane: no widening to float per weight and no horizontal sums.
 *
 * Layout: rows in groups of 16, groups in panels of 4 (64 rows; the last
 * panel padded with zero-scale rows).  For block b (32 columns) of a group:
 * the codes as 64-byte chunks whose bytes 4j..4j+3 belong to row j,
 *   Q4_0  4 chunks; chunk c holds row j's qs[4c..4c+3] (as stored: low
 *         nibble = column 4c+i, high nibble = column 16+4c+i)
 *   Q8_0  8 chunks; chunk c holds row j's codes 4c..4c+3, each + 128 (so
 *         they are unsigned bytes, as vpdpbusd wants)
 * and the 16 rows' fp16 scales.  A panel is its blocks in order; block b
 * of a panel is the 4 groups' codes, then their 4 x 16 scales: 1152 bytes
 * (Q4_0) or 2176 (Q8_0), 64-byte aligned.  Decoding one token reads a
 * panel as one forward stream: on AMD Zen 4 that measured 0.93 of the read
 * bandwidth where 4 streams per thread gave 0.87 (plain reads), and Q8_0
 * TinyLlama decode rose from ~20 to ~25 tok/s against one stream per group
 * with scales apart.  The packed matrix has exactly the bytes of the
 * original plus the padding.
 *
 * K-quants (256-value super-blocks of 8 blocks): the same blocks, codes
 * as they are (Q6_K's as q + 32), in place of the fp16 scales each row's
 * 6-bit scale and min (Q4_K, Q5_K: values d sc u - dmin m) or the int8
 * scales of the block's two halves (Q6_K: d sc (u - 32)) as bytes; each
 * run of 8 blocks of a panel follows a record of its rows' d and dmin
 * (F32).  The mins and Q6_K's offset are applied in F32 with the
 * activations' block (and half-block) sums.
 *
 * 5- and 6-bit codes (Q5_0, Q5_1, Q5_K, Q6_K): the low 4 bits as Q4_0's
 * nibbles, then one 64-byte chunk per high bit whose byte 4j+i carries
 * that bit of the 8 codes the kernels put in that byte of their 8 code
 * registers; in registers a shift and a ternary-logic OR put them back
 * above the nibbles.  Bits a weight: Q5_K 5.63 (5.5 in the file), Q6_K
 * 6.63 (6.56), Q5_0 5.5, Q5_1 6, Q4_K 4.75 (4.5).  Kept as bytes before,
 * they took 8.75-9 bits; now, per matrix (12 of 5632 x 2048 from memory,
 * 2 threads, alternated 41 times, medians, against Q8_0's time), Q6_K
 * 0.92-0.99 against 1.21-1.22, Q5_K 0.76-0.77 against 1.18-1.20, Q5_0
 * 0.68-0.69 against 1.11-1.12; in cache too (128 rows) Q6_K 1.29 against
 * 1.81.  The extra register work costs prefill a little: 64 tokens at a
 * time, Q6_K 1.27 against 1.22 of Q8_0's time, Q5_K 1.14 against 1.13,
 * Q5_0 1.10 against 1.01.
 *
 * Q4_1, Q5_0, Q5_1: Q4_0's layout with Q4_1's nibbles or the 5-bit codes
 * (Q5_0 offset 16), and for the *_1 types 16 fp16 mins after the 16 fp16
 * scales; the mins are applied as the K-quants' are.
 *
 * Q3_K and Q2_K: their codes' low 2 bits four to a byte (2-bit fields)
 * and Q3_K's third bit (codes q + 4) in a plane as above, the int8 scales
 * of the block's two halves (Q3_K: sc - 32) and for Q2_K their 4-bit mins
 * as bytes, d and dmin in the records; the offset and the mins applied as
 * Q6_K's are.  3.63 and 3.13 bits a weight (3.44 and 2.63 in the file).
 * As nibbles they took 4.75 and 5.25 bits, and against Q8_0's time per
 * matrix (as above) 0.64 and 0.74, now 0.61 and 0.58; 64 tokens at a time
 * Q3_K 1.26 against 1.17.  Nibbles already gave 0.27-0.28x and
 * 0.38-0.41x the row kernels' time (12 matrices of 5632 x 2048 from
 * memory, 2 threads, alternated; the same measure gives Q4_K 0.38-0.39x,
 * Q6_K 0.51-0.52x, IQ4_XS 0.44-0.50x).
 *
 * IQ4_NL and IQ4_XS: nibbles as Q4_0's, each an index into 16 levels; in
 * registers a byte shuffle turns them into level + 128 and the 128 comes
 * off as Q8_0's.  IQ4_NL keeps Q4_0's fp16 scales (4.5 bits a weight),
 * IQ4_XS its sub-block scales ls - 32 as bytes and d in the records (4.75;
 * 4.25 in the file).
 *
 * Activations: each block of 32 values x is rounded to 24-bit fixed point,
 *   xi = round(x * 8323072 / max|x|),  dx = max|x| / 8323072,
 * and split into three signed bytes, xi = 65536 p0 + 256 p1 + p2.  The
 * error is at most 2.4e-7 of the block's largest |x| per value (F32 itself
 * keeps 24 bits: this is F32 precision relative to the block's largest
 * value, where llama.cpp rounds these activations to 8 bits).  Products and
 * their sums within a block are exact integers, sums across blocks are F32.
 * The third byte costs decoding nothing measurable: Q4_0 decode with the
 * p2 products left out (16 vpdpbusd a group-block instead of 24) ran
 * 46-49 tok/s against 47-52 (TinyLlama shape, 2 threads, alternated, 3
 * rounds), memory-bound either way; prefill, bound by arithmetic, would
 * gain, but at 16-bit precision.
 * A block holding inf or NaN cannot be rounded: its scale becomes NaN, so
 * every output of that token is NaN (the float kernels would give inf or
 * NaN).  Blocks whose largest |x| is below 1e-30 count as zero.
 *
 * Needs AVX-512 F/BW/VL and VNNI (llm_qpack_available); elsewhere the float
 * kernels are used unchanged.
 */
#ifndef LLM_QPACK_H
#define LLM_QPACK_H

#include <stddef.h>
#include <stdint.h>

#include "threadpool.h"

typedef struct llm_qpack llm_qpack;

/* 1 when type (Q4_0, Q8_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS)
 * can be packed on this CPU. */
int llm_qpack_available(int type);

/* Pack W: d rows of n values (n a multiple of the type's block: 32, or 256
 * for the K-quants) stored in type, as in a GGUF tensor [n, d].  W is only read; the pack owns its memory. */
int llm_qpack_new(llm_qpack **out, const void *w, int type, int64_t n, int64_t d,
		  llm_threadpool *tp);
/* The same for n_parts (1..4) matrices of rows[k] rows each, stacked in
 * order as one of sum(rows) rows: Q, K and V (or gate and up) packed
 * together take one pass and one parallel-for instead of three. */
int llm_qpack_new_stacked(llm_qpack **out, const void *const *w, const int64_t *rows,
			  int n_parts, int type, int64_t n, llm_threadpool *tp);
void llm_qpack_free(llm_qpack *p); /* NULL is a no-op */

/* Bytes of quantized activations for m tokens of n values (n % 32 == 0). */
size_t llm_qpack_x_size(int64_t n, int64_t m);
/* Round m rows of n values x[m][n] into xq (llm_qpack_x_size bytes, 64-byte
 * aligned). */
void llm_qpack_quant_x(void *xq, const float *x, int64_t n, int64_t m);

/* Before a one-token llm_qpack_matmul on tp: the threads that finish
 * their share of it early ask for the start of their likely share of next
 * (the one-token product that follows it), so that memory stays busy
 * through the serial work between the two.  A hint (llm_threadpool_then);
 * next NULL gives none. */
void llm_qpack_then(llm_threadpool *tp, const llm_qpack *next);

/* Y[m][d] = X[m][n] W^T from X quantized by llm_qpack_quant_x (same n),
 * rows split over tp (NULL: caller's thread). */
void llm_qpack_matmul(float *y, const llm_qpack *p, const void *xq, int64_t m,
		      llm_threadpool *tp);

#endif
