/* io.c - mapped inputs and atomic outputs (see io.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io.h"

static int map_fd(struct llm_map *m, int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return llm_err(LLM_EIO, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return llm_err(LLM_EIO, "%s: is a directory", path);
	m->size = (uint64_t)st.st_size;
	if (st.st_size == 0) {
		static const uint8_t empty[1];
		m->data = empty;
		return 0;
	}
	m->addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		return llm_err(LLM_EIO, "%s: cannot map: %s", path, strerror(errno));
	}
	m->len = (size_t)st.st_size;
	m->data = m->addr;
	return 0;
}

int llm_tmpfd(const char *name)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/llm-spool.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return llm_err(LLM_EIO, "%s: cannot create a temporary file in %s: %s", name,
			       dir && *dir ? dir : "/tmp", strerror(errno)), -1;
	unlink(tmpl);
	return fd;
}

int llm_write_all(int fd, const void *data, size_t n, const char *name)
{
	const char *p = data;
	for (size_t off = 0; off < n;) {
		ssize_t k = write(fd, p + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return llm_err(LLM_EIO, "%s: cannot spool the input to $TMPDIR: %s", name,
				       k < 0 ? strerror(errno) : "short write");
		off += (size_t)k;
	}
	return 0;
}

/* Copy what fd `in` holds (stdin, a named pipe) into an unlinked
 * temporary file; return its fd or -1.  name is the input's, for messages;
 * accept (may be NULL) judges the first bytes (at least 8 unless the
 * stream ends sooner) before the rest is read: refusal, then, is the
 * error (a stream of what is no model is not copied whole). */
static int spool(int in, const char *name, llm_map_accept accept, const char *refusal, int *err)
{
	size_t cap = 1 << 20, have = 0;
	char *buf = malloc(cap);
	int fd = -1, judged = !accept;
	*err = LLM_EIO;
	if (!buf)
		return *err = llm_err(LLM_ENOMEM, "out of memory"), -1;
	if ((fd = llm_tmpfd(name)) < 0)
		goto fail;
	for (;;) {
		ssize_t n = read(in, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			llm_err(LLM_EIO, "%s: read error: %s", name, strerror(errno));
			goto fail;
		}
		have += (size_t)n;
		if (!judged && (have >= 8 || n == 0)) {
			judged = 1;
			if (have && !accept((const uint8_t *)buf, have)) {
				*err = llm_err(LLM_EFORMAT, "%s: %s", name, refusal);
				goto fail;
			}
		}
		if (judged && (have == cap || (n == 0 && have))) {
			if (llm_write_all(fd, buf, have, name))
				goto fail;
			have = 0;
		}
		if (n == 0)
			break;
	}
	free(buf);
	return fd;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return -1;
}

static char *join_n(const char *dir, size_t d, const char *name)
{
	size_t b = strlen(name);
	char *p = malloc(d + 1 + b + 1);
	if (p) {
		memcpy(p, dir, d);
		if (d && dir[d - 1] != '/')
			p[d++] = '/';
		memcpy(p + d, name, b + 1);
	}
	return p;
}

int llm_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

char *llm_path_join(const char *dir, const char *name) { return join_n(dir, strlen(dir), name); }

char *llm_path_beside(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');
	return join_n(path, slash ? (size_t)(slash - path) + 1 : 0, name);
}

/* ask for huge pages on the 2 MiB pages inside [p, p + bytes) */
static void advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + bytes) & ~(huge - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE); /* advice only: failure is fine */
#else
	(void)p, (void)bytes;
#endif
}

void *llm_calloc_stream(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p && n && size && n * size >= (size_t)4 << 20)
		advise_huge(p, n * size);
	return p;
}

void *llm_alloc_stream(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	size_t align = bytes >= huge ? huge : 64;
	size_t size = (bytes + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, size ? size : align);
	if (p && align == huge)
		advise_huge(p, size);
	return p;
}

int llm_map_fd(struct llm_map *m, int fd, const char *name)
{
	memset(m, 0, sizeof *m);
	return map_fd(m, fd, name);
}

int llm_map_open(struct llm_map *m, const char *path) { return llm_map_open_checked(m, path, NULL, NULL); }

int llm_map_open_checked(struct llm_map *m, const char *path, llm_map_accept accept, const char *refusal)
{
	int fd, rc;
	struct stat st;

	memset(m, 0, sizeof *m);
	if (strcmp(path, "-") == 0) {
		if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) && lseek(STDIN_FILENO, 0, SEEK_CUR) == 0)
			return map_fd(m, STDIN_FILENO, path);
		int err;
		fd = spool(STDIN_FILENO, path, accept, refusal, &err);
		if (fd < 0)
			return err;
		m->spooled = 1;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return llm_err(errno == ENOENT ? LLM_ENOTFOUND : LLM_EIO, "%s: %s", path, strerror(errno));
		/* a named pipe (bash's <(...)) or a socket: read once, as stdin
		 * is (mmap would see no bytes).  Devices are not read: /dev/zero
		 * would fill $TMPDIR; they map as empty. */
		if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
			int err, sp = spool(fd, path, accept, refusal, &err);
			close(fd);
			if (sp < 0)
				return err;
			fd = sp;
			m->spooled = 1;
		}
	}
	rc = map_fd(m, fd, path);
	close(fd);
	return rc;
}

void llm_map_close(struct llm_map *m)
{
	if (m->addr)
		munmap(m->addr, m->len);
	memset(m, 0, sizeof *m);
}

/* ---- outputs ---- */

/* Paths a signal must remove: temporaries being written, and the shards
 * a split output has already renamed into place (llm_out_cleanup_also)
 * until the whole is done.  A slot is in use while its first byte is not
 * zero, and that byte is written last, so that a handler never unlinks a
 * path half copied. */
#define MAX_LIVE 256
#define LIVE_PATH 4096
static char (*live_tmp)[LIVE_PATH]; /* MAX_LIVE slots, allocated at the first use */

static void live_add(const char *tmp)
{
	size_t n = strlen(tmp);
	if (!n || n >= LIVE_PATH || (!live_tmp && !(live_tmp = calloc(MAX_LIVE, LIVE_PATH))))
		return;
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live_tmp[i][0]) {
			memcpy(live_tmp[i] + 1, tmp + 1, n); /* the NUL too */
			__atomic_store_n(&live_tmp[i][0], tmp[0], __ATOMIC_RELEASE);
			return;
		}
}

static void live_del(const char *tmp)
{
	for (int i = 0; live_tmp && i < MAX_LIVE; i++)
		if (live_tmp[i][0] && strcmp(live_tmp[i], tmp) == 0) {
			__atomic_store_n(&live_tmp[i][0], 0, __ATOMIC_RELEASE);
			return;
		}
}

void llm_out_cleanup_also(const char *path) { live_add(path); }
void llm_out_cleanup_forget(const char *path) { live_del(path); }

void llm_out_cleanup_signal(void)
{
	for (int i = 0; live_tmp && i < MAX_LIVE; i++)
		if (__atomic_load_n(&live_tmp[i][0], __ATOMIC_ACQUIRE))
			unlink(live_tmp[i]);
}

/* Write straight to path as it is: not a regular file (a FIFO, a device). */
static int open_direct(struct llm_out *o, const char *path)
{
	o->fd = open(path, O_WRONLY | O_CLOEXEC);
	if (o->fd < 0)
		return llm_err(LLM_EIO, "%s: cannot open: %s", path, strerror(errno));
	o->direct = 1;
	return 0;
}

/* o->dest = what the (dangling) symbolic link path names, relative to
 * the link's directory when not absolute */
static int link_target(struct llm_out *o, const char *path)
{
	char t[4096], *d = strdup(path);
	ssize_t n = readlink(path, t, sizeof t - 1);
	if (!d || n < 0 || n >= (ssize_t)sizeof t - 1) {
		free(d);
		return n < 0 ? llm_err(LLM_EIO, "%s: %s", path, strerror(errno))
			     : llm_err(LLM_ENOMEM, "%s: symbolic link too long or out of memory", path);
	}
	t[n] = 0;
	size_t len = strlen(d) + (size_t)n + 2;
	if ((o->dest = malloc(len)) && t[0] == '/')
		snprintf(o->dest, len, "%s", t);
	else if (o->dest)
		snprintf(o->dest, len, "%s/%s", dirname(d), t);
	free(d);
	return o->dest ? 0 : llm_err(LLM_ENOMEM, "out of memory");
}

/* The temporary file beside dest; mode: an existing file's bits, or -1
 * for a new file (0666 less the umask). */
static int open_tmp(struct llm_out *o, const char *path, int mode)
{
	char *d = strdup(o->dest), *b = strdup(o->dest);
	size_t n = strlen(o->dest) + 32;
	o->tmp = d && b ? malloc(n) : NULL;
	int too_long = 0;
	if (o->tmp) {
		/* ".NAME.XXXXXX" adds 8 bytes: a name near the file system's
		 * limit (255 bytes) is cut in the temporary's name only; a name
		 * past it fails now, not at the rename after all the work */
		const char *dir = dirname(d), *base = basename(b);
		long max = pathconf(dir, _PC_NAME_MAX);
		size_t lim = max > 8 ? (size_t)max : 255;
		too_long = strlen(base) > lim;
		snprintf(o->tmp, n, "%s/.%.*s.XXXXXX", dir, (int)(lim - 8), base);
	}
	free(d);
	free(b);
	if (!o->tmp)
		return llm_err(LLM_ENOMEM, "out of memory");
	if (too_long) {
		free(o->tmp);
		o->tmp = NULL;
		return llm_err(LLM_EIO, "%s: cannot create: %s", path, strerror(ENAMETOOLONG));
	}
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		int e = errno;
		free(o->tmp);
		o->tmp = NULL;
		return llm_err(LLM_EIO, "%s: cannot create: %s", path, strerror(e));
	}
	if (mode < 0) {
		mode_t um = umask(0);
		umask(um);
		mode = (int)(0666 & ~um);
	}
	fchmod(o->fd, (mode_t)mode);
	live_add(o->tmp);
	return 0;
}

/* Whether the existing regular file dest (st its stat) may be replaced
 * as cp or the shell's > would write it: it must be writable (effective
 * ids), and in a sticky directory (/tmp) the file or the directory must be
 * ours; renaming over it would otherwise replace a read-only file
 * quietly, or fail only once the output is complete. */
static int replaceable(const char *path, const char *dest, const struct stat *st)
{
	if (faccessat(AT_FDCWD, dest, W_OK, AT_EACCESS) != 0)
		return llm_err(LLM_EIO, "%s: %s: a read-only file is not replaced", path, strerror(errno));
	char *d = strdup(dest);
	if (!d)
		return llm_err(LLM_ENOMEM, "out of memory");
	struct stat ds;
	uid_t me = geteuid();
	int sticky = stat(dirname(d), &ds) == 0 && (ds.st_mode & S_ISVTX) && me != 0 && st->st_uid != me &&
		     ds.st_uid != me;
	free(d);
	if (sticky)
		return llm_err(LLM_EIO, "%s: %s: another user's file in a sticky directory", path, strerror(EPERM));
	return 0;
}

int llm_path_is_fd(const char *path, int fd)
{
	struct stat sp, sf;
	return path && *path && strcmp(path, "-") != 0 && stat(path, &sp) == 0 && fstat(fd, &sf) == 0 &&
	       (S_ISREG(sf.st_mode) || S_ISFIFO(sf.st_mode)) && sp.st_dev == sf.st_dev && sp.st_ino == sf.st_ino;
}

int llm_out_open(struct llm_out *o, const char *path)
{
	struct stat st, lst;
	int rc = 0;

	memset(o, 0, sizeof *o);
	o->fd = -1;
	/* /dev/stdout, /dev/stderr, or the file either goes to: written
	 * through the open descriptor, as tee writes /dev/stderr, never a
	 * new file renamed over what the shell opened (a log appended to) */
	if (!path || strcmp(path, "-") == 0 || llm_path_is_fd(path, STDOUT_FILENO)) {
		o->fd = STDOUT_FILENO;
		o->is_stdout = o->direct = 1;
		o->path = strdup("-");
	} else if (llm_path_is_fd(path, STDERR_FILENO)) {
		if ((o->fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0)
			rc = llm_err(LLM_EIO, "%s: %s", path, strerror(errno));
		o->direct = 1;
		if (!(o->path = strdup(path)) && !rc)
			rc = llm_err(LLM_ENOMEM, "out of memory");
	} else if (!*path) {
		return llm_err(LLM_EINVAL, "output file name is empty");
	} else if (path[strlen(path) - 1] == '/') {
		return llm_err(LLM_EIO, "%s: names a directory (ends with /), not a file", path);
	} else if (!(o->path = strdup(path))) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
	} else if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			rc = llm_err(LLM_EIO, "%s: is a directory", path);
		else if (!S_ISREG(st.st_mode))
			rc = open_direct(o, path);
		else if (!(o->dest = realpath(path, NULL))) /* through symbolic links */
			rc = llm_err(LLM_EIO, "%s: %s", path, strerror(errno));
		else if (!(rc = replaceable(path, o->dest, &st)))
			rc = open_tmp(o, path, (int)(st.st_mode & 07777));
	} else if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		rc = link_target(o, path); /* a dangling link: create its target */
		if (!rc)
			rc = open_tmp(o, path, -1);
	} else if (!(o->dest = strdup(path))) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
	} else {
		rc = open_tmp(o, path, -1);
	}
	if (!rc) {
		o->cap = 1 << 20;
		if (!o->path || !(o->buf = malloc(o->cap)))
			rc = llm_err(LLM_ENOMEM, "out of memory");
	}
	if (rc)
		llm_out_abort(o);
	return rc;
}

static int flush(struct llm_out *o)
{
	size_t off = 0;
	while (off < o->len) {
		ssize_t k = write(o->fd, o->buf + off, o->len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return llm_err(LLM_EIO, "%s: write error: %s", o->is_stdout ? "stdout" : o->path,
				       k < 0 ? strerror(errno) : "short write");
		off += (size_t)k;
	}
	o->len = 0;
	return 0;
}

int llm_out_write(struct llm_out *o, const void *data, size_t n)
{
	const uint8_t *p = data;
	int rc;
	o->written += n;
	while (n) {
		size_t k = o->cap - o->len < n ? o->cap - o->len : n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == o->cap && (rc = flush(o)))
			return rc;
	}
	return 0;
}

static void out_free(struct llm_out *o)
{
	if (o->tmp)
		live_del(o->tmp);
	free(o->buf);
	free(o->path);
	free(o->dest);
	free(o->tmp);
	memset(o, 0, sizeof *o);
	o->fd = -1;
}

int llm_out_sync(struct llm_out *o)
{
	int rc = flush(o);
	if (!rc && !o->is_stdout && !o->direct && fsync(o->fd) < 0)
		rc = llm_err(LLM_EIO, "%s: fsync: %s", o->path, strerror(errno));
	return rc;
}

int llm_out_commit(struct llm_out *o)
{
	int rc = flush(o);
	if (!rc && !o->is_stdout) {
		if (!o->direct && fsync(o->fd) < 0)
			rc = llm_err(LLM_EIO, "%s: fsync: %s", o->path, strerror(errno));
		if (close(o->fd) < 0 && !rc)
			rc = llm_err(LLM_EIO, "%s: close: %s", o->path, strerror(errno));
		o->fd = -1;
		if (!rc && !o->direct && rename(o->tmp, o->dest) < 0)
			rc = llm_err(LLM_EIO, "%s: cannot rename into place: %s", o->path, strerror(errno));
	}
	if (rc) {
		llm_out_abort(o);
		return rc;
	}
	out_free(o);
	return 0;
}

void llm_out_abort(struct llm_out *o)
{
	if (!o->is_stdout && o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	out_free(o);
}

int llm_write_file(const char *path, const void *data, size_t n)
{
	struct llm_out o;
	int rc = llm_out_open(&o, path);
	if (rc)
		return rc;
	if ((rc = llm_out_write(&o, data, n))) {
		llm_out_abort(&o);
		return rc;
	}
	return llm_out_commit(&o);
}
