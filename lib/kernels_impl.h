/* kernels_impl.h - private to the kernels (kernels.c, kquant.c) and their
 * tests (not installed): the x86-64 target attributes, the weight-stream
 * prefetch, and the K-quant and IQ4 dot products that kernels.c's table
 * hands out.
 */
#ifndef LLM_KERNELS_IMPL_H
#define LLM_KERNELS_IMPL_H

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* The dot products prefetch their weight stream: 4 KiB ahead into L1 on
 * Intel CPUs, 16 KiB ahead into L2 otherwise.  L1 was chosen on a Xeon
 * (Sapphire Rapids class), where the hardware prefetcher alone kept too
 * few lines in flight for one stream.  On AMD Zen 4 L1
 * prefetches cost 8-15% of F16 decode against none, L2 prefetches gained
 * ~10% (TinyLlama F16, 2 threads, tg32 x 3, six alternated runs: 12.55
 * against 11.36 tok/s, medians; a lone 256 MB F16 mat-vec 0.92-0.94 of a
 * plain read against 0.81-0.89).  There 16 KiB ahead beat 4 KiB by ~2.5%
 * (F16 decode, the two alternated token by token in one run, median token
 * times: 1.025 in 8 runs of 64 tokens, 7 of them >= 1; 8 KiB 1.01-1.03,
 * 32 KiB 1.01-1.09, 64 KiB 0.97-1.01; later, 8 KiB 0.95-0.99 of 16, and
 * no prefetch 1.57x slower).  (qpack.c's packed kernels, Q8_0 among them,
 * prefetch into L2 8 KiB ahead.) */
#define PF_AHEAD_L1 4096
#define PF_AHEAD_L2 16384
#define PF(p)                                                                  \
	(__builtin_cpu_is("intel") ? _mm_prefetch((const char *)(p) + PF_AHEAD_L1, _MM_HINT_T0) \
				   : _mm_prefetch((const char *)(p) + PF_AHEAD_L2, _MM_HINT_T1))
#endif

/* The dot product of K-quant rows (Q2_K..Q6_K, IQ4_NL, IQ4_XS) for
 * instruction set isa (kquant.c), or NULL for other types.  Scalar: the row decoded block by
 * block with types.c's reference and summed in order; AVX2 and AVX-512:
 * codes decoded in registers, weights formed in F32 (one rounding fewer
 * than the reference) and accumulated in 8 or 16 lanes.  (With AVX-512
 * VNNI the model runs Q4_K, Q5_K and Q6_K through qpack.h instead; these
 * serve other CPUs, --f32-act and the tests.) */
llm_dot_fn llm_kquant_dot(int type, int isa);

#endif
