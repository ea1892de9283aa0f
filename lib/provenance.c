/* provenance.c - provenance.* metadata (see provenance.h); libgit2 and
 * OpenSSL live here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/repository.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "gguf.h"
#include "provenance.h"

#define HASH_BLOCK (1 << 20) /* bytes read at a time */

#ifndef LLM_VERSION
#define LLM_VERSION "unknown"
#endif
#ifndef LLM_GIT_REV
#define LLM_GIT_REV "unknown"
#endif

static int git_fail(const char *what)
{
	const git_error *e = git_error_last();
	return llm_err(LLM_EGIT, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

/* The git blob id of path: SHA-1 of "blob <size>\0" + content, as `git
 * hash-object --no-filters` gives it (the same id for files without
 * .gitattributes conversions).  The file is read in 1 MiB blocks, one
 * sequential read and no resident memory (hashing a mapped file would count
 * the whole input towards this process's peak RSS), through OpenSSL's SHA-1,
 * which uses the CPU's SHA instructions: libgit2's git_odb_hashfile, whose
 * SHA-1 detects collisions, took 11 s of llm-quant's 14 on a 4.4 GB F32
 * checkpoint (the conversion itself 2-3.4 s); OpenSSL's about 3 s (1.9 GB/s). */
static int blob_id(git_oid *oid, const char *path)
{
	struct stat st;
	EVP_MD_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	uint64_t seen = 0;
	unsigned len = 0;
	char head[32];
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		rc = llm_err(errno == ENOENT ? LLM_ENOTFOUND : LLM_EIO, "%s: cannot hash: %s", path, strerror(errno));
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (!(buf = malloc(HASH_BLOCK)) || !(ctx = EVP_MD_CTX_new())) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	int hn = snprintf(head, sizeof head, "blob %llu", (unsigned long long)st.st_size) + 1; /* NUL too */
	if (!EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, head, (size_t)hn)) {
		rc = llm_err(LLM_EIO, "%s: cannot hash: OpenSSL's SHA-1 failed", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, HASH_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = llm_err(LLM_EIO, "%s: cannot hash: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		seen += (uint64_t)n;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			rc = llm_err(LLM_EIO, "%s: cannot hash: OpenSSL's SHA-1 failed", path);
			goto out;
		}
	}
	if (seen != (uint64_t)st.st_size) {
		rc = llm_err(LLM_EIO, "%s: cannot hash: changed while read (%llu bytes, then %llu)", path,
			     (unsigned long long)st.st_size, (unsigned long long)seen);
		goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, oid->id, &len) || len != 20)
		rc = llm_err(LLM_EIO, "%s: cannot hash: OpenSSL's SHA-1 failed", path);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether file name b is a shard of the set whose shard name a is (one
 * prefix and count; plain and compressed shards may mix). */
static int same_set(const char *a, const char *b)
{
	int ca, cb;
	size_t ka = llm_shard_name_parse(a, NULL, &ca, NULL), kb = llm_shard_name_parse(b, NULL, &cb, NULL);
	return ka && ka == kb && ca == cb && strncmp(a, b, ka) == 0;
}

/* Tree id of the regular files of dir (git's tree object: "MODE NAME\0" +
 * 20-byte id per entry, sorted by name); with set (a shard's name), of the
 * shards of that set only. */
static int tree_id(git_oid *oid, const char *dir, const char *set)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, len = 0, bcap = 0;
	uint8_t *buf = NULL;
	int rc = 0;

	if (!d)
		return llm_err(LLM_EIO, "%s: cannot list", dir);
	while ((de = readdir(d))) {
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' && (!de->d_name[1] || strcmp(de->d_name, "..") == 0))
			continue;
		if (set && !same_set(set, de->d_name))
			continue;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **p = realloc(names, cap * sizeof *p);
			if (!p) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = llm_err(LLM_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc)
		qsort(names, n, sizeof *names, cmp_name);
	for (size_t i = 0; i < n && !rc; i++) {
		struct stat st;
		git_oid b;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if ((rc = blob_id(&b, path)) || stat(path, &st) < 0)
			break;
		size_t need = len + strlen(names[i]) + 32;
		if (need > bcap) {
			bcap = need * 2;
			uint8_t *p = realloc(buf, bcap);
			if (!p) {
				rc = llm_err(LLM_ENOMEM, "out of memory");
				break;
			}
			buf = p;
		}
		len += (size_t)sprintf((char *)buf + len, "%s %s", st.st_mode & 0111 ? "100755" : "100644", names[i]) + 1;
		memcpy(buf + len, b.id, 20);
		len += 20;
	}
	if (!rc && git_odb_hash(oid, buf ? (const void *)buf : "", len, GIT_OBJECT_TREE) < 0)
		rc = git_fail(dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(buf);
	return rc;
}

int llm_provenance_content_id(char out[41], const char *path)
{
	git_oid oid;
	struct stat st;
	int rc;

	out[0] = 0;
	if (strcmp(path, "-") == 0)
		return 0;
	/* (a path stat cannot see: blob_id reports it) */
	int seen = stat(path, &st) == 0;
	/* named pipes (read once, by the reader) and devices: no id, as stdin */
	if (seen && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	git_libgit2_init();
	if (seen && S_ISDIR(st.st_mode))
		rc = tree_id(&oid, path, NULL);
	else
		rc = blob_id(&oid, path);
	if (!rc)
		git_oid_tostr(out, 41, &oid);
	git_libgit2_shutdown();
	return rc;
}

/* An input's content id: a split set read as one checkpoint (its first
 * shard named, and no split.* keys left in what was read: llm-quant
 * --shard keeps them) is every shard it read: the tree id of the set's
 * shards in their directory, as a directory's id is its files'. */
static int input_id(char out[41], const struct llm_prov_input *in)
{
	int no, count;
	const char *base = strrchr(in->path, '/');
	base = base ? base + 1 : in->path;
	if (!llm_shard_name_parse(base, &no, &count, NULL) || no != 0 || count < 2 || !in->meta ||
	    llm_meta_get(in->meta, "split.count"))
		return llm_provenance_content_id(out, in->path);
	char *dir = strndup(in->path, (size_t)(base - in->path));
	git_oid oid;
	if (!dir)
		return llm_err(LLM_ENOMEM, "out of memory");
	git_libgit2_init();
	int rc = tree_id(&oid, *dir ? dir : ".", base);
	if (!rc)
		git_oid_tostr(out, 41, &oid);
	git_libgit2_shutdown();
	free(dir);
	return rc;
}

/* The repository and work tree git itself would use (git(1): GIT_DIR,
 * GIT_WORK_TREE, core.worktree).  libgit2's GIT_REPOSITORY_OPEN_FROM_ENV
 * reads GIT_DIR, GIT_INDEX_FILE, GIT_CEILING_DIRECTORIES and the rest, but
 * refuses GIT_WORK_TREE ("unimplemented", libgit2 1.5: no commit was
 * recorded where git reads the repository fine), and with GIT_DIR alone
 * takes the directory above it as the work tree where git takes the
 * current directory; both are set here (in memory: nothing is written). */
static int open_repo(git_repository **repo)
{
	const char *gd = getenv("GIT_DIR"), *wt = getenv("GIT_WORK_TREE"), *ix = getenv("GIT_INDEX_FILE");
	git_config *cfg = NULL;
	git_buf cwt = GIT_BUF_INIT;
	int e;

	*repo = NULL;
	if (!wt || !*wt) {
		e = git_repository_open_ext(repo, NULL, GIT_REPOSITORY_OPEN_FROM_ENV, NULL);
		if (e || !gd || !*gd || git_repository_is_bare(*repo))
			return e;
		/* GIT_DIR alone: core.worktree (libgit2 has taken it), else here */
		if ((e = git_repository_config_snapshot(&cfg, *repo)) == 0 &&
		    git_config_get_string_buf(&cwt, cfg, "core.worktree") != 0)
			e = git_repository_set_workdir(*repo, ".", 0);
		git_buf_dispose(&cwt);
		git_config_free(cfg);
		return e;
	}
	if (gd && *gd)
		e = git_repository_open_ext(repo, gd, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	else
		e = git_repository_open_ext(repo, ".", 0, getenv("GIT_CEILING_DIRECTORIES"));
	if (!e)
		e = git_repository_set_workdir(*repo, wt, 0);
	if (!e && ix && *ix) {
		git_index *index = NULL;
		if ((e = git_index_open(&index, ix)) == 0)
			git_repository_set_index(*repo, index);
		git_index_free(index);
	}
	return e;
}

int llm_provenance_git(char commit[41], char *branch, size_t branch_size, int *dirty)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_diff *diff = NULL;
	git_tree *tree = NULL;
	int rc = 0, e;

	commit[0] = 0;
	if (branch_size)
		branch[0] = 0;
	*dirty = -1;
	git_libgit2_init();
	e = open_repo(&repo);
	if (e == GIT_ENOTFOUND) {
		/* libgit2 says "not found" of a repository it will not open (one
		 * owned by another user, git's safe.directory): that is said */
		const git_error *ge = git_error_last();
		if (ge && ge->message && strstr(ge->message, "safe.directory"))
			rc = llm_err(LLM_EGIT, "git repository: not opened (owned by another user: git's "
				     "safe.directory)");
		else
			rc = LLM_ENOTFOUND;
		goto out;
	}
	if (e < 0) {
		rc = git_fail("git repository");
		goto out;
	}
	e = git_repository_head(&head, repo);
	if (e == 0) {
		git_oid oid;
		if (git_reference_name_to_id(&oid, repo, "HEAD") == 0)
			git_oid_tostr(commit, 41, &oid);
		snprintf(branch, branch_size, "%s",
			 git_repository_head_detached(repo) == 1 ? "HEAD" : git_reference_shorthand(head));
	} else if (e == GIT_EUNBORNBRANCH) { /* no commits yet: the branch HEAD names */
		git_reference *sym = NULL;
		const char *t;
		if (git_reference_lookup(&sym, repo, "HEAD") == 0 && (t = git_reference_symbolic_target(sym)))
			snprintf(branch, branch_size, "%s", strncmp(t, "refs/heads/", 11) == 0 ? t + 11 : t);
		git_reference_free(sym);
	} else if (e != GIT_ENOTFOUND) {
		rc = git_fail("git HEAD");
		goto out;
	}
	if (!git_repository_is_bare(repo)) {
		/* HEAD's tree (none before the first commit) against the index
		 * and the work tree.  A submodule checked out at another commit
		 * or with changed files counts, as for `git describe --dirty`
		 * (git_status with its submodules excluded missed both);
		 * untracked files do not, nor do they inside a submodule */
		git_diff_options dopt;
		git_diff_options_init(&dopt, GIT_DIFF_OPTIONS_VERSION);
		dopt.ignore_submodules = GIT_SUBMODULE_IGNORE_UNTRACKED;
		if (head && git_reference_peel((git_object **)&tree, head, GIT_OBJECT_TREE) < 0) {
			rc = git_fail("git HEAD");
			goto out;
		}
		if (git_diff_tree_to_workdir_with_index(&diff, repo, tree, &dopt) < 0) {
			rc = git_fail("git diff");
			goto out;
		}
		*dirty = git_diff_num_deltas(diff) > 0;
	}
out:
	git_diff_free(diff);
	git_tree_free(tree);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

void llm_provenance_strip(llm_meta *m)
{
	for (int64_t i = m->n - 1; i >= 0; i--)
		if (strncmp(m->kv[i].key, "provenance.", 11) == 0)
			llm_meta_remove(m, m->kv[i].key);
}

/* Copy the provenance.* keys of src into m as provenance.parent.N.*. */
static int add_parent(llm_meta *m, const llm_meta *src, int n)
{
	char key[512];
	int rc = 0;
	for (int64_t i = 0; i < src->n && !rc; i++) {
		const char *k = src->kv[i].key;
		if (strncmp(k, "provenance.", 11) != 0)
			continue;
		if (snprintf(key, sizeof key, "provenance.parent.%d.%s", n, k + 11) >= (int)sizeof key)
			return llm_err(LLM_EUNSUPPORTED, "provenance key %s nests too deep", k);
		rc = llm_meta_set_kv(m, &src->kv[i], key);
	}
	return rc;
}

static int has_provenance(const llm_meta *m)
{
	for (int64_t i = 0; m && i < m->n; i++)
		if (strncmp(m->kv[i].key, "provenance.", 11) == 0)
			return 1;
	return 0;
}

/* The time to record: SOURCE_DATE_EPOCH when set (reproducible-builds.org:
 * decimal seconds since 1970, a malformed value an error, not 1970 or a
 * garbage date), else now. */
static int record_time(time_t *t)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (!sde || !*sde) {
		*t = time(NULL);
		return 0;
	}
	long long v = 0;
	const char *p = sde;
	for (; *p >= '0' && *p <= '9' && v <= 253402300799LL; p++) /* up to 9999-12-31T23:59:59Z */
		v = v * 10 + (*p - '0');
	if (*p || v > 253402300799LL || (time_t)v != v)
		return llm_err(LLM_EINVAL, "SOURCE_DATE_EPOCH: '%s' is not a count of seconds since 1970 "
					   "(0 .. 253402300799)", sde);
	*t = (time_t)v;
	return 0;
}

int llm_provenance_fill(llm_meta *m, const char *tool, int argc, char *const *argv,
			const struct llm_prov_input *in, int n_in)
{
	struct llm_str *sv = calloc((size_t)(argc > n_in ? argc : n_in) + 1, sizeof *sv);
	struct llm_str *ids = calloc((size_t)n_in + 1, sizeof *ids);
	char (*idbuf)[41] = calloc((size_t)n_in + 1, sizeof *idbuf);
	char tbuf[32], commit[41], branch[256];
	time_t now;
	struct tm tm;
	int rc = 0, dirty;

	if (!sv || !ids || !idbuf) {
		rc = llm_err(LLM_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = record_time(&now)))
		goto out;
	llm_provenance_strip(m);
	gmtime_r(&now, &tm);
	strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	rc = llm_meta_set_str(m, "provenance.tool", tool);
	if (!rc)
		rc = llm_meta_set_str(m, "provenance.version", LLM_VERSION " (" LLM_GIT_REV ")");
	for (int i = 0; i < argc; i++)
		sv[i] = (struct llm_str){ strlen(argv[i]), argv[i] };
	if (!rc)
		rc = llm_meta_set_arr_str(m, "provenance.argv", sv, (uint64_t)argc);
	if (!rc)
		rc = llm_meta_set_str(m, "provenance.time", tbuf);
	for (int i = 0; i < n_in && !rc; i++) {
		rc = input_id(idbuf[i], &in[i]);
		sv[i] = (struct llm_str){ strlen(in[i].path), (char *)in[i].path };
		ids[i] = (struct llm_str){ strlen(idbuf[i]), idbuf[i] };
	}
	if (!rc)
		rc = llm_meta_set_arr_str(m, "provenance.inputs.path", sv, (uint64_t)n_in);
	if (!rc)
		rc = llm_meta_set_arr_str(m, "provenance.inputs.id", ids, (uint64_t)n_in);
	if (!rc) {
		int g = llm_provenance_git(commit, branch, sizeof branch, &dirty);
		if (g == 0) {
			if (commit[0])
				rc = llm_meta_set_str(m, "provenance.git.commit", commit);
			if (!rc && branch[0])
				rc = llm_meta_set_str(m, "provenance.git.branch", branch);
			if (!rc && dirty >= 0)
				rc = llm_meta_set_bool(m, "provenance.git.dirty", dirty);
		} else if (g != LLM_ENOTFOUND) { /* recorded, not fatal: the work is done */
			rc = llm_meta_set_str(m, "provenance.git.error", llm_errmsg());
		}
	}
	for (int i = 0; i < n_in && !rc; i++)
		if (has_provenance(in[i].meta))
			if ((rc = add_parent(m, in[i].meta, i)) == LLM_EUNSUPPORTED)
				llm_err(rc, "%s: its provenance nests too deep to keep (--no-provenance writes none)",
					in[i].path);
out:
	free(sv);
	free(ids);
	free(idbuf);
	return rc;
}
