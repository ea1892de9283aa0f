/* zst.h - compressed GGUF container (*.gguf.zst): zstd per unit, byte-grouped floats.
 *
 * A container holds one GGUF file (the "decoded GGUF") cut into units that
 * decode independently: unit 0 is the GGUF header (magic .. tensor infos and
 * the padding up to the data section); then every tensor's bytes, in chunks
 * of at most LLM_ZST_CHUNK bytes, so one tensor can be fetched without
 * decoding anything else and a large tensor decodes on several threads.
 * The zero padding between tensors is not stored.
 *
 * File layout (little-endian):
 *   header  16 bytes: u8 magic[4] "GGZ1" | u32 version (1) | u32 flags (0) |
 *                     u32 chunk (LLM_ZST_CHUNK when written)
 *   payloads of the units, back to back, in unit order
 *   index   n_units x 48 bytes:
 *             u64 raw_off   offset of the unit's bytes in the decoded GGUF
 *             u64 raw_size  bytes it decodes to (1 .. 1 GiB)
 *             u64 off       offset of its payload in the container
 *             u64 csize     payload bytes
 *             u64 xxh64     XXH64 (seed 0) of the decoded bytes
 *             u32 method    0 stored, 1 zstd, 2 grouped
 *             u32 elem      grouped: element size (2 or 4); else 0
 *   footer  40 bytes: u64 index_off | u64 n_units | u64 raw_total (size of
 *             the decoded GGUF) | u64 XXH64 of the index and these first
 *             24 bytes of the footer (contiguous in the file) |
 *             u32 version (1) | u8 magic[4] "GGZ1"
 * Units are sorted by raw_off and do not overlap; bytes of the decoded GGUF
 * that no unit covers are zero (tensor padding).  Payloads lie between the
 * header and the index; units with equal bytes may share one payload (the
 * writer does so for units of 1 KiB or more whose size and XXH64 with
 * seeds 0 and 1 agree: a tied embedding stored twice costs its index entry).
 *
 * Methods:
 *   0 stored:  the raw bytes.
 *   1 zstd:    one zstd frame (content size set, no frame checksum: the
 *              index's XXH64 covers every method alike).
 *   2 grouped: the unit holds n = raw_size / elem little-endian elements
 *              (F16/BF16: elem 2; F32: elem 4).  Each element is rotated
 *              left by one bit (the sign moves to the lowest bit, so the
 *              exponent fills the top byte: BF16's eight exponent bits are
 *              one byte, the sign and mantissa the other), then split by
 *              byte position, most significant first: stream j holds byte
 *              elem-1-j of every element (n bytes each).  Payload:
 *              elem x { u32 method, u32 size } then the streams.  Stream
 *              methods: 0 stored, 1 one zstd frame, 2 Huffman (order-0
 *              canonical code, four interleaved bitstreams; layout at
 *              huf_encode in zst.c and in llm-gguf(5)).
 * Writer's choices per chunk: a float chunk is grouped; each stream whose
 * order-0 entropy is above 7.97 bits (sign/mantissa bytes) is stored, any
 * other is Huffman-coded, and also tried with zstd when very redundant
 * (entropy under 2.5 bits: zeros, low bytes of upcast values) or at level
 * 10 and above, keeping the smaller.  Plain zstd of the whole chunk is tried
 * as well when grouping saves less than 1/16 or at level 10 and above
 * (ZipNN's choice between grouped and plain), and the smallest of grouped,
 * zstd and stored is kept.  Other tensors and the header: zstd or stored.
 * zstd's LZ stage is not used on exponent bytes because it loses there: on
 * BF16 weights its short matches cost more than they save (3.0-3.4 bits per
 * exponent at levels 1-3 against 2.8 for Huffman) and decode 2-3x slower.
 *
 * Why an own magic rather than zstd frames: "zstd -d" on a container would
 * otherwise produce grouped bytes, not the GGUF, without complaint; a magic
 * starting "GGUF" would make GGUF readers report a confusing version error.
 * "GGZ1" is neither, so every tool fails loudly and this one sniffs it.
 * The index sits at the end because the writer streams (stdout too);
 * readers of a pipe spool it to a temporary file first (io.h's llm_map).
 */
#ifndef LLM_ZST_H
#define LLM_ZST_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define LLM_ZST_MAGIC "GGZ1"
#define LLM_ZST_VERSION 1
#define LLM_ZST_CHUNK (4u << 20)     /* raw bytes per tensor unit (max) */
#define LLM_ZST_DEFAULT_LEVEL 3
#define LLM_ZST_HEADER_SIZE 16
#define LLM_ZST_ENTRY_SIZE 48
#define LLM_ZST_FOOTER_SIZE 40

enum { LLM_ZST_STORED = 0, LLM_ZST_ZSTD = 1, LLM_ZST_GROUPED = 2 };

struct llm_zst_unit {
	uint64_t raw_off, raw_size, off, csize, xxh64;
	uint32_t method, elem;
};

/* XXH64 of n bytes with seed 0 (the published xxHash64 algorithm). */
uint64_t llm_xxh64(const void *p, size_t n);

/* 1 when the n bytes at p start with the container magic. */
int llm_zst_sniff(const void *p, size_t n);

/* ---- reading ---- */

typedef struct llm_zst llm_zst;

/* Validate header, footer and index of a container held in buf (borrowed:
 * it must outlive the object).  Errors name `name`. */
int llm_zst_open_mem(llm_zst **out, const void *buf, uint64_t size, const char *name);
void llm_zst_free(llm_zst *z); /* NULL is a no-op */

uint64_t llm_zst_raw_size(const llm_zst *z);   /* size of the decoded GGUF */
int64_t llm_zst_n_units(const llm_zst *z);
const struct llm_zst_unit *llm_zst_unit(const llm_zst *z, int64_t i); /* borrowed */

/* Decode bytes [off, off+n) of the decoded GGUF into dst, units in parallel
 * on up to n_threads threads (0: online CPUs).  Checks every unit's XXH64;
 * errors name the container and the unit's range. */
int llm_zst_read(llm_zst *z, void *dst, uint64_t off, uint64_t n, int n_threads);
/* The decoded GGUF header (unit 0) in a malloc'ed buffer the caller frees. */
int llm_zst_header(llm_zst *z, void **out, uint64_t *size);
/* Stored (compressed) bytes of the units lying in [off, off+n). */
uint64_t llm_zst_stored_size(const llm_zst *z, uint64_t off, uint64_t n);
/* llm_zst_stored_size of [off, off+n), but a payload that several units
 * share (equal bytes, as a tied embedding's copy) counted once. */
uint64_t llm_zst_payload_bytes(const llm_zst *z, uint64_t off, uint64_t n);

/* llm_map_open for readers that want the plain GGUF bytes whatever the
 * file holds: plain zstd frames are inflated first (llm_zst_inflate_frames);
 * a container (sniffed by content; "-" spooled as usual) is
 * decoded whole into an anonymous read-only mapping (memory: the decoded
 * size; meant for small files such as adapters; checkpoints go through
 * ckpt, which decodes tensor by tensor); anything else is mapped as is.
 * *was_container (may be NULL) says which.  Close with llm_map_close. */
int llm_zst_map_open(struct llm_map *m, const char *path, int *was_container);

/* Whether p starts a plain zstd frame (what "zstd model.gguf" writes,
 * not the container). */
int llm_zst_frame_sniff(const void *p, size_t n);
/* m holds plain zstd frames: replace it with what they decompress to, in an
 * unlinked temporary file in $TMPDIR (streamed: memory stays small), marked
 * spooled; what does not start as a GGUF or the container is refused on its
 * first bytes.  path names the input for messages. */
int llm_zst_inflate_frames(struct llm_map *m, const char *path);

/* ---- writing ---- */

typedef struct llm_zst_enc llm_zst_enc;

/* Start a container on o (borrowed; the caller commits or aborts it after
 * llm_zst_enc_finish).  level: zstd level (1..22; 0 = default);
 * n_threads: compression threads (0: online CPUs).  Writes the header. */
int llm_zst_enc_new(llm_zst_enc **out, struct llm_out *o, int level, int n_threads);
/* Begin a region of the decoded GGUF at raw_off, of size bytes, made of
 * elements of elem bytes to group (2 or 4) or 0 (no grouping): the GGUF
 * header, then each tensor.  Regions come in increasing raw_off order. */
int llm_zst_enc_begin(llm_zst_enc *e, uint64_t raw_off, uint64_t size, int elem);
/* The region's bytes, in one or more pieces. */
int llm_zst_enc_write(llm_zst_enc *e, const void *p, size_t n);
/* Write index and footer (raw_total: size of the decoded GGUF). */
int llm_zst_enc_finish(llm_zst_enc *e, uint64_t raw_total);
void llm_zst_enc_free(llm_zst_enc *e); /* NULL is a no-op; does not touch o */
/* Element size to group for a tensor type: 4 for F32, 2 for F16/BF16, else 0. */
int llm_zst_elem_for_type(int type);

#endif
