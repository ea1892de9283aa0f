/* kv.h - KV-cache arithmetic and statistics of dumped KV caches.
 *
 * Sizing.  Per token and layer an attention layer caches
 *     MHA   2 * n_head * d_h          values (K and V for every head)
 *     GQA   2 * G * d_h               (G KV groups; G = n_head_kv)
 *     MQA   2 * d_h                   (one KV head)
 *     MLA   d_c + d_R                 (DeepSeek-V2: one latent of d_c
 *                                      values plus a decoupled RoPE key
 *                                      of d_R values, shared by all heads)
 * (K and V widths may differ: then n * (d_k + d_v) instead of 2 * n * d_h.)
 * elems_per_token sums this over layers; bytes_per_token stores each
 * cached row (a layer's K row of n_head_kv * d_k values, its V row, or
 * the MLA latent row of d_c + d_R values) in the cache type, rounded up to
 * whole blocks of that type (32 values for q8_0 and q4_0, so 8.5 and 4.5
 * bits per value exactly when a row is a multiple of 32): bytes are always
 * whole numbers, as in a real cache.  total_bytes = bytes_per_token * ctx *
 * batch; vs_mha = bytes_per_token / bytes_per_token of the mha row.
 *
 * Variants, in this order: "model" (the configuration as given), "mha",
 * "gqa-G" for every divisor G of n_head with 1 < G < n_head (G is the
 * number of KV heads, i.e. groups), "mqa", "mla".  The mla row uses the
 * model's own d_c and d_R when it is MLA; otherwise d_c = 4 * d_h and d_R =
 * d_h / 2 unless given (DeepSeek-V2's ratios: 512 and 64 for d_h = 128).
 * For mla rows n_kv_head is 1 and head_dim is d_c + d_R (the width of the
 * one vector cached per token and layer, as llama.cpp stores it).
 *
 * Statistics.  A KV dump (written by llm-run --kv-out) is a GGUF with
 * general.type = "kv-dump", kv.n_layer, kv.n_head_kv, kv.head_dim, kv.n_pos
 * (and kv.n_head) and per layer L = 0 .. n_layer-1 tensors kv.L.k and kv.L.v
 * of ne = [head_dim, n_head_kv, n_pos] (any type llm_ckpt_read_f32 can
 * decode), and no other tensor.  Where present, kv.n_head must be a
 * multiple of kv.n_head_kv, kv.rope.dimension_count even and at most
 * head_dim (0 allowed), kv.rope.freq_base finite and > 0, and kv.tokens an
 * array of n_pos integer ids >= 0, as llm-run writes them.
 * Each is read as a matrix X[n_pos][w], w = n_head_kv * head_dim (one row
 * per token), and measured (for the whole layer, and with per_head for
 * each KV head's columns):
 *   rms            sqrt(mean x^2)
 *   norm_mean/max  mean and max over tokens of the L2 norm of a row
 *   outlier_frac   fraction of values with |x| > sigma_k * sigma, sigma the
 *                  standard deviation of all of the layer's K (or V) values
 *                  (per-head rows use the layer's sigma too)
 *   rank90/rank99  smallest r whose r largest squared singular values of X
 *                  (uncentred; LAPACK dgesdd) sum to >= 90 % / 99 % of
 *                  sum s^2: the width a low-rank latent cache needs
 *   rmse_q8_0/q4_0 RMSE of X after a round trip through q8_0 / q4_0, each
 *                  token row quantized in blocks of 32 as a ggml cache row
 *                  would be (rows not a multiple of 32 padded with zeros);
 *                  inf when the type cannot hold the values (its f16 scale
 *                  overflows: the cache would hold inf/NaN), KIVI likewise
 *   rmse_kivi4/2   KIVI-style asymmetric min/max integer quantization, 4 and
 *                  2 bits, groups of 32: keys per channel (groups run along
 *                  the token axis of each column), values per token (groups
 *                  run along each row); scale = (max - min) / (2^b - 1),
 *                  q = floor((x - min) / scale + 0.5), x' = min + q * scale;
 *                  a last short group is quantized as it is; no
 *                  full-precision residual window
 *   zstd_raw       bytes / zstd-compressed bytes of the values as
 *                  little-endian f16 (token-major)
 *   zstd_grouped   the same with the f16 bytes grouped by byte position
 *                  (all low bytes, then all high bytes)
 *
 * Ownership: arrays returned through ** are the caller's, freed with free().
 */
#ifndef LLM_KV_H
#define LLM_KV_H

#include <stdint.h>

#include "ckpt.h"
#include "meta.h"

/* ---- sizing ---- */

struct llm_kv_config {
	int64_t n_layer;
	int64_t n_head;       /* query heads */
	int64_t n_head_kv;    /* KV heads of the model as given (ignored when is_mla) */
	int64_t head_dim;     /* K width per head (d_h) */
	int64_t head_dim_v;   /* V width per head; 0 = head_dim */
	int is_mla;           /* the model itself caches an MLA latent */
	int64_t mla_rank;     /* d_c; 0 = 4 * head_dim */
	int64_t mla_rope_dim; /* d_R; -1 = head_dim / 2 */
};
#define LLM_KV_CONFIG_INIT { 0, 0, 0, 0, 0, 0, 0, -1 }

/* A published configuration by name ("llama3-8b", ...). LLM_ENOTFOUND
 * (message lists the names) when unknown. */
int llm_kv_preset(struct llm_kv_config *out, const char *name);
/* Name of preset i, or NULL past the end. Static. */
const char *llm_kv_preset_name(int i);

/* From checkpoint metadata: ARCH.block_count, ARCH.attention.head_count,
 * .head_count_kv (default head_count), .key_length / .value_length
 * (default embedding_length / head_count).  DeepSeek (ARCH.attention.
 * kv_lora_rank present) is MLA: d_c = kv_lora_rank, d_R =
 * ARCH.rope.dimension_count, d_h = .value_length_mla, else .key_length_mla
 * - d_R, else (older conversions) .value_length.  Errors: LLM_ENOTFOUND or
 * LLM_EFORMAT naming the missing or bad key. */
int llm_kv_config_from_meta(struct llm_kv_config *out, const llm_meta *m);

/* LLM_EINVAL with a message when a count is zero/negative, n_head_kv does
 * not divide n_head, or an MLA dimension is out of range. */
int llm_kv_config_check(const struct llm_kv_config *c);

/* KV-cache types: f32, f16, bf16, q8_0, q4_0 (llm_type ids). 0 when t is
 * one of them, LLM_EINVAL otherwise. */
int llm_kv_type_ok(int t);

struct llm_kv_size {
	char variant[24];        /* "model", "mha", "gqa-8", "mqa", "mla" */
	int64_t n_layer;
	int64_t n_kv_head;       /* 1 for mla */
	int64_t head_dim;        /* d_k; d_c + d_R for mla */
	int64_t head_dim_v;      /* d_v; 0 for mla */
	int is_mla;
	int64_t mla_rank, mla_rope_dim; /* d_c, d_R when is_mla */
	int64_t elems_per_token; /* summed over layers */
	uint64_t bytes_per_token;
	uint64_t total_bytes;    /* bytes_per_token * ctx * batch */
	double vs_mha;
};

/* Rows for every variant (see above) of c stored in cache type t for ctx
 * positions and batch sequences.  *rows is the caller's (free()).
 * LLM_EINVAL on a bad config or type, or when the total overflows. */
int llm_kv_sizes(struct llm_kv_size **rows, int *n_rows, const struct llm_kv_config *c,
		 int t, int64_t ctx, int64_t batch);

/* ---- statistics of a dump ---- */

struct llm_kv_dump_info {
	int64_t n_layer, n_head, n_head_kv, head_dim, n_pos;
};

/* 1 when m says general.type = "kv-dump", else 0. */
int llm_kv_is_dump(const llm_meta *m);

struct llm_kv_stat_opts {
	int per_head;        /* also one row per KV head */
	int zstd_level;      /* 0 = 3 (zstd's default) */
	double outlier_sigma; /* 0 = 6 */
};
#define LLM_KV_STAT_OPTS_INIT { 0, 0, 0 }

struct llm_kv_stat {
	int64_t layer;
	char kind;            /* 'k' or 'v' */
	int64_t head;         /* -1: the whole layer */
	int64_t n_pos, width;
	double rms, norm_mean, norm_max, outlier_frac;
	int64_t rank90, rank99;
	double rmse_q8_0, rmse_q4_0, rmse_kivi4, rmse_kivi2;
	double zstd_raw, zstd_grouped;
};

/* Number of rows llm_kv_stats_matrix writes. */
int64_t llm_kv_stat_rows(int64_t n_head_kv, const struct llm_kv_stat_opts *o);

/* Statistics of one matrix x[n_pos][n_head_kv * head_dim] (kind 'k' keys:
 * KIVI per channel; 'v' values: KIVI per token) into out[0] (the layer) and,
 * with o->per_head, out[1 + h] for each KV head.  o may be NULL. */
int llm_kv_stats_matrix(struct llm_kv_stat *out, const float *x, int64_t n_pos,
			int64_t n_head_kv, int64_t head_dim, char kind, int64_t layer,
			const struct llm_kv_stat_opts *o);

/* A dump's shape, validated as above (metadata, and every tensor's name
 * and shape; no values are read) into *info (may be NULL).  LLM_EFORMAT
 * naming the file and what is wrong; for a file that is no KV dump at all
 * "FILE: not a KV dump (general.type 'x')". */
int llm_kv_dump_info(struct llm_kv_dump_info *info, llm_ckpt *c);

/* Read a dump's shape (llm_kv_dump_info) and measure every layer's K then
 * V.  *rows is the caller's.  LLM_EFORMAT naming the file when it is not a
 * (well-formed) KV dump. */
int llm_kv_dump_stats(struct llm_kv_stat **rows, int64_t *n_rows,
		      struct llm_kv_dump_info *info, llm_ckpt *c,
		      const struct llm_kv_stat_opts *o);

/* ---- building blocks (exposed for the tests) ---- */

/* Squared singular values of x[rows][cols] (row stride ld floats), in
 * descending order, into s2[min(rows, cols)].  LAPACK dgesdd. */
int llm_kv_sv2(double *s2, const float *x, int64_t rows, int64_t cols, int64_t ld);
/* Smallest r with s2[0] + ... + s2[r-1] >= frac * sum(s2); 0 when all zero. */
int64_t llm_kv_energy_rank(const double *s2, int64_t n, double frac);

/* KIVI round trip of x[rows][cols] into y (may equal x): bits 1..8, groups
 * of `group` along the columns of each row (per_channel = 0) or along the
 * rows of each column (per_channel = 1). */
void llm_kv_kivi(float *y, const float *x, int64_t rows, int64_t cols, int bits,
		 int group, int per_channel);

/* zstd ratio (n * 2 bytes / compressed size) of x as f16, raw or grouped
 * by byte position.  LLM_ENOMEM / LLM_EUNSUPPORTED (zstd failure). */
int llm_kv_zstd_ratio(double *ratio, const float *x, int64_t n, int grouped, int level);

#endif
