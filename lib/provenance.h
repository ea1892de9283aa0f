/* provenance.h - what produced a file: provenance.* metadata (libgit2,
 * OpenSSL's SHA-1 for the content ids).
 *
 * Keys written by llm_provenance_fill (all under "provenance."):
 *   tool          str     command name ("llm-quant")
 *   version       str     toolbox version and build commit ("0.1.0 (c18de5cce599)")
 *   argv          [str]   the argument vector, argv[0] included
 *   time          str     UTC, ISO 8601 ("2026-11-29T03:34:27Z"); the
 *                         environment's SOURCE_DATE_EPOCH when set
 *                         (reproducible outputs; decimal seconds up to the
 *                         end of 9999, else LLM_EINVAL)
 *   inputs.path   [str]   each input as named on the command line
 *   inputs.id     [str]   its content id: the git blob id of the file
 *                         (what `git hash-object FILE` prints: SHA-1 of
 *                         "blob <size>\0" + content, read in 1 MiB
 *                         blocks: one sequential read, no memory; OpenSSL's
 *                         SHA-1), for a directory the git tree id of its
 *                         regular files (not recursive: what `git write-tree`
 *                         gives for a directory holding just those files,
 *                         modes 100644/100755), for a split set read as
 *                         one (its first shard named, no split.* keys in
 *                         the metadata read) the tree id of its shards,
 *                         "" for standard input
 *                         and named pipes (read once, by the reader) and
 *                         devices
 *   git.commit    str     HEAD of the repository holding the working
 *                         directory (absent outside a repository or before
 *                         the first commit)
 *   git.branch    str     its branch ("HEAD" when detached)
 *   git.dirty     bool    tracked files differ between HEAD, the index and
 *                         the work tree (untracked files do not count; a
 *                         submodule at another commit or with changed
 *                         files does, untracked files inside it do not:
 *                         git describe --dirty's rule)
 *   parent.N.*            the provenance.* keys of input N that had any,
 *                         renamed (provenance.X -> provenance.parent.N.X),
 *                         so a chain nests: parent.0.parent.1.tool is the
 *                         tool that made the second input of the first input.
 *                         N is the input's index (inputs without
 *                         provenance leave a gap).
 * All libgit2 and OpenSSL calls live in provenance.c; libgit2's errors
 * become LLM_EGIT.
 */
#ifndef LLM_PROVENANCE_H
#define LLM_PROVENANCE_H

#include "meta.h"

struct llm_prov_input {
	const char *path;     /* as given ("-" for stdin) */
	const llm_meta *meta; /* its metadata (parents are taken from it), or NULL */
};

/* Add the keys above to m (replacing provenance.* keys already there).
 * argv has argc entries; in has n_in entries (may be NULL when 0). */
int llm_provenance_fill(llm_meta *m, const char *tool, int argc, char *const *argv,
			const struct llm_prov_input *in, int n_in);

/* Remove every provenance.* key from m. */
void llm_provenance_strip(llm_meta *m);

/* Content id of path (see inputs.id above) as 40 hex digits + NUL. */
int llm_provenance_content_id(char out[41], const char *path);

/* The git part alone: commit ("" when none), branch, dirty (-1 when unknown).
 * Returns 0, LLM_ENOTFOUND outside a repository, or LLM_EGIT. */
int llm_provenance_git(char commit[41], char *branch, size_t branch_size, int *dirty);

#endif
