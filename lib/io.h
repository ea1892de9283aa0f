/* io.h - file plumbing shared by the readers and writers.
 *
 * llm_map: a whole input file in memory, read-only: mmap for regular files;
 *   "-" reads stdin, mapped directly when it is a regular file, otherwise
 *   spooled to an unlinked temporary file in $TMPDIR (default /tmp) and
 *   mapped, so pipes can be read out of order without holding them in RAM;
 *   a path that is a named pipe (bash's <(...)) is spooled the same way.
 *   Either can be read only once (spooled set).
 * llm_out: an output that appears whole or not at all: a temporary file
 *   beside the target ("DIR/.NAME.XXXXXX"), renamed into place on commit and
 *   removed on abort; an existing file keeps its permission bits, and a
 *   symbolic link stays a link (its target is replaced).  NULL or "-" writes
 *   to stdout, and a path that is not a regular file (a FIFO, /dev/null, a
 *   terminal) is written through as it is: neither is atomic.
 *   Temporary files still open (and the shards of a split output not yet
 *   whole) are removed by llm_out_cleanup_signal(),
 *   which commands call from their SIGINT/SIGTERM handler (async-signal-safe;
 *   this registry is the one mutable global besides the error buffer).
 */
#ifndef LLM_IO_H
#define LLM_IO_H

#include <stddef.h>
#include <stdint.h>

struct llm_map {
	const uint8_t *data; /* size bytes, read-only */
	uint64_t size;
	void *addr;          /* mmap'ed address (NULL when size is 0) */
	size_t len;
	int spooled;         /* not the path's bytes as they lie (a pipe read once,
			      * a plain zstd stream inflated): opening the path
			      * again does not give them */
};

int llm_map_open(struct llm_map *m, const char *path);
/* Judges the first n bytes of a stream (n >= 8 unless it is shorter). */
typedef int (*llm_map_accept)(const uint8_t *head, size_t n);
/* llm_map_open, but a stream that must be spooled (stdin, a pipe) is
 * judged by accept on its first bytes before the rest is copied; when it
 * refuses them the error is "PATH: refusal" (LLM_EFORMAT), so that a
 * stream of something else never fills $TMPDIR. */
int llm_map_open_checked(struct llm_map *m, const char *path, llm_map_accept accept, const char *refusal);
/* Map what fd holds (a regular file; fd stays the caller's). */
int llm_map_fd(struct llm_map *m, int fd, const char *name);
void llm_map_close(struct llm_map *m);
/* An unlinked temporary file in $TMPDIR (default /tmp), or -1 with the
 * error set; name is the input it is for, for messages. */
int llm_tmpfd(const char *name);
/* Write all n bytes to fd (a spool file), or fail naming the input name. */
int llm_write_all(int fd, const void *data, size_t n, const char *name);

struct llm_out {
	int fd;
	int is_stdout;
	int direct;     /* written straight to fd: stdout, a FIFO or a device */
	char *path;     /* the path given ("-" for stdout), for messages */
	char *dest;     /* what the temporary file is renamed to, or NULL */
	char *tmp;      /* temporary path, or NULL */
	uint8_t *buf;
	size_t len, cap;
	uint64_t written;
};

/* Open an output: NULL or "-" is stdout; a name of the regular file or
 * pipe stdout or stderr is open on (/dev/stdout, /dev/stderr, the file
 * either is redirected to) is written through that descriptor, as tee
 * writes /dev/stderr; another existing path that is not a regular file
 * (a FIFO, a device) is written straight; a regular file is written to a
 * temporary beside it, renamed into place by llm_out_commit.  A name the
 * file system cannot hold (NAME_MAX) fails here, not at the rename. */
int llm_out_open(struct llm_out *o, const char *path);
/* Whether path names the regular file or pipe open as descriptor fd
 * (never a device such as a terminal or /dev/null, which many
 * descriptors share). */
int llm_path_is_fd(const char *path, int fd);
int llm_out_write(struct llm_out *o, const void *data, size_t n);
/* Flush, fsync and rename into place; frees o's resources. */
int llm_out_commit(struct llm_out *o);
/* Flush and fsync what was written without putting it in place, so that a
 * write error (a full disk, /dev/full) shows while other outputs can still
 * be given up; llm_out_commit then only renames.  On error o stays open
 * for llm_out_abort. */
int llm_out_sync(struct llm_out *o);
/* Remove the temporary file; frees o's resources. Safe on a zeroed o. */
void llm_out_abort(struct llm_out *o);
void llm_out_cleanup_signal(void);
/* A finished file that llm_out_cleanup_signal must remove too until it is
 * forgotten: a split output's shards, renamed into place one by one, are
 * only an output once the last one is. */
void llm_out_cleanup_also(const char *path);
void llm_out_cleanup_forget(const char *path);

/* "dir/name" (one slash between them however dir ends), and name in the
 * directory of the file path ("name" when path has no directory part):
 * malloc'ed, or NULL when out of memory. */
/* Whether s ends with suffix (file names, tensor names). */
int llm_ends_with(const char *s, const char *suffix);
char *llm_path_join(const char *dir, const char *name);
char *llm_path_beside(const char *path, const char *name);

/* Write a whole buffer to a file atomically (convenience for reports). */
int llm_write_file(const char *path, const void *data, size_t n);

/* bytes of memory for data that is streamed through again and again
 * (weights, benchmark arrays), or NULL when out of memory; free() it.
 * 64-byte aligned; from 2 MiB up on 2 MiB boundaries with transparent huge
 * pages asked for: one TLB entry per 2 MiB instead of per 4 KiB.  Decode
 * streamed Q4_0 weights ~11% faster so (a Xeon; 35.0 against 31.6 tok/s).
 * In a fresh VM the first touch of never-used memory is slower with huge
 * pages (2.8 s for 620 MB, against 0.13 s once the host has backed it and
 * 0.36 s with 4 KiB pages). */
void *llm_alloc_stream(size_t bytes);
/* n zeroed elements of size bytes, as calloc (and as lazily backed), the
 * whole 2 MiB pages inside asked for as huge pages: the KV cache, which
 * decoding reads all of for each token; free() it.  On AMD Zen 4 (TinyLlama
 * shape, 2 threads, 1900 cached positions) attention over 22 layers' caches
 * allocated apart took 5.8 against 7.0 ms a token so; a Q4_0 model's whole
 * token, the two alternated, 20.8 against 21.1 and 24.4 against 24.6 ms. */
void *llm_calloc_stream(size_t n, size_t size);

#endif
