#!/bin/sh
# Provenance: inside a fresh git repository with one commit, llm-quant's
# output records HEAD (= git rev-parse HEAD), the branch, and the dirty flag
# (false when clean or with untracked files, true after a tracked file
# changes or is staged); the input's content id equals git hash-object
# (also at the edges of the 1 MiB read blocks) and a directory's git
# write-tree; chains keep the parents' records; --no-provenance writes none.
. tests/lib.sh
MK=$PWD/${TESTDIR:-build/tests}/tool_mkmodel
command -v git >/dev/null || { skip provenance "no git command"; exit 0; }
R=$TMP/repo
mkdir -p "$R" && cd "$R" || exit 1
git init -q -b main . 2>/dev/null || git init -q .
git config user.email t@example.com
git config user.name test
echo one >notes.txt
"$MK" model.gguf >/dev/null 2>&1
git add notes.txt model.gguf && git commit -q -m first
head=$(git rev-parse HEAD)
branch=$(git rev-parse --abbrev-ref HEAD)

# value of a metadata key from llm-info --json (python, or sed for strings)
key() {
	"$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1]))["metadata"].get(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"
}
[ -n "$PYTHON" ] || { skip provenance_keys "no python3 with numpy"; exit 0; }

llm-quant -q -t q8_0 model.gguf -o "$TMP/a.gguf" && llm-info --json "$TMP/a.gguf" >"$TMP/a.json"
[ "$(key "$TMP/a.json" provenance.git.commit)" = "$head" ] && ok git_commit_is_head || fail git_commit_is_head "$(key "$TMP/a.json" provenance.git.commit) != $head"
[ "$(key "$TMP/a.json" provenance.git.branch)" = "$branch" ] && ok git_branch || fail git_branch "$(key "$TMP/a.json" provenance.git.branch) != $branch"
[ "$(key "$TMP/a.json" provenance.git.dirty)" = false ] && ok clean_not_dirty || fail clean_not_dirty "$(key "$TMP/a.json" provenance.git.dirty)"
[ "$(key "$TMP/a.json" provenance.tool)" = llm-quant ] && ok tool || fail tool "$(key "$TMP/a.json" provenance.tool)"
[ "$(key "$TMP/a.json" provenance.argv)" = '["llm-quant", "-q", "-t", "q8_0", "model.gguf", "-o", "'"$TMP"'/a.gguf"]' ] && ok argv_as_given || fail argv_as_given "$(key "$TMP/a.json" provenance.argv)"
[ "$(key "$TMP/a.json" provenance.inputs.path)" = '["model.gguf"]' ] && ok input_path || fail input_path "$(key "$TMP/a.json" provenance.inputs.path)"
[ "$(key "$TMP/a.json" provenance.inputs.id)" = "[\"$(git hash-object model.gguf)\"]" ] && ok input_id_is_git_blob_id || fail input_id_is_git_blob_id "$(key "$TMP/a.json" provenance.inputs.id)"
t=$(key "$TMP/a.json" provenance.time)
case "$t" in [0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z) ok time_iso8601_utc ;; *) fail time_iso8601_utc "$t" ;; esac
now=$(date -u +%s) then=$(date -u -d "$t" +%s 2>/dev/null || echo "$now")
[ $((now - then)) -le 120 ] && [ $((now - then)) -ge -5 ] && ok time_is_now || fail time_is_now "$t"

# untracked files do not make it dirty; a changed or staged tracked file does
echo new >untracked.txt
llm-quant -q -t q8_0 model.gguf -o "$TMP/b.gguf" && llm-info --json "$TMP/b.gguf" >"$TMP/b.json"
[ "$(key "$TMP/b.json" provenance.git.dirty)" = false ] && ok untracked_not_dirty || fail untracked_not_dirty "$(key "$TMP/b.json" provenance.git.dirty)"
echo two >>notes.txt
llm-quant -q -t q8_0 model.gguf -o "$TMP/c.gguf" && llm-info --json "$TMP/c.gguf" >"$TMP/c.json"
[ "$(key "$TMP/c.json" provenance.git.dirty)" = true ] && ok modified_is_dirty || fail modified_is_dirty "$(key "$TMP/c.json" provenance.git.dirty)"
git add notes.txt
llm-quant -q -t q8_0 model.gguf -o "$TMP/d.gguf" && llm-info --json "$TMP/d.gguf" >"$TMP/d.json"
[ "$(key "$TMP/d.json" provenance.git.dirty)" = true ] && ok staged_is_dirty || fail staged_is_dirty "$(key "$TMP/d.json" provenance.git.dirty)"
git commit -q -m second
# a subdirectory of the work tree is inside the repository too
mkdir -p sub && cd sub
llm-quant -q -t q8_0 ../model.gguf -o "$TMP/e.gguf" && llm-info --json "$TMP/e.gguf" >"$TMP/e.json"
[ "$(key "$TMP/e.json" provenance.git.commit)" = "$(git rev-parse HEAD)" ] && ok subdir_commit || fail subdir_commit "$(key "$TMP/e.json" provenance.git.commit)"
[ "$(key "$TMP/e.json" provenance.git.dirty)" = false ] && ok committed_clean || fail committed_clean "$(key "$TMP/e.json" provenance.git.dirty)"
cd "$R"
# GIT_DIR names the repository, from a directory outside it (libgit2 once
# looked only at the current directory)
mkdir -p "$TMP/elsewhere" && cd "$TMP/elsewhere"
GIT_DIR="$R/.git" llm-quant -q -t q8_0 "$R/model.gguf" -o "$TMP/gd.gguf" && llm-info --json "$TMP/gd.gguf" >"$TMP/gd.json"
[ "$(key "$TMP/gd.json" provenance.git.commit)" = "$(git -C "$R" rev-parse HEAD)" ] && ok git_dir_env || fail git_dir_env "$(key "$TMP/gd.json" provenance.git.commit)"
# and, as git has it, the current directory as its work tree (everything
# is missing from here: dirty, as git diff HEAD says)
gitsays() { if "$@" diff --quiet HEAD 2>/dev/null; then echo false; else echo true; fi; }
expect git_dir_env_work_tree_here "$(key "$TMP/gd.json" provenance.git.dirty)" "$(GIT_DIR="$R/.git" gitsays git)"
# GIT_WORK_TREE (with GIT_DIR: a bare repository's work tree elsewhere, as
# dotfiles set-ups have it; alone: the repository found from here) is the
# work tree; libgit2 refuses the variable, so no commit was recorded
GIT_DIR="$R/.git" GIT_WORK_TREE="$R" llm-quant -q -t q8_0 "$R/model.gguf" -o "$TMP/gw.gguf" && llm-info --json "$TMP/gw.gguf" >"$TMP/gw.json"
expect git_work_tree_env "$(key "$TMP/gw.json" provenance.git.commit) $(key "$TMP/gw.json" provenance.git.dirty)" "$(git -C "$R" rev-parse HEAD) false"
git clone -q --bare "$R" "$TMP/bare.git" && echo more >>"$R/notes.txt"
GIT_DIR="$TMP/bare.git" GIT_WORK_TREE="$R" llm-quant -q -t q8_0 "$R/model.gguf" -o "$TMP/gw.gguf"
llm-info --json "$TMP/gw.gguf" >"$TMP/gw.json"
expect git_work_tree_bare_dirty "$(key "$TMP/gw.json" provenance.git.commit) $(key "$TMP/gw.json" provenance.git.dirty)" "$(git -C "$R" rev-parse HEAD) true"
(cd "$R/sub" && GIT_WORK_TREE=.. llm-quant -q -t q8_0 ../model.gguf -o "$TMP/gw.gguf") && llm-info --json "$TMP/gw.gguf" >"$TMP/gw.json"
expect git_work_tree_alone "$(key "$TMP/gw.json" provenance.git.commit) $(key "$TMP/gw.json" provenance.git.dirty)" "$(git -C "$R" rev-parse HEAD) $(cd "$R/sub" && GIT_WORK_TREE=.. gitsays git)"
git -C "$R" checkout -q notes.txt
# a repository without commits: its branch, no commit, and llm-info says so
mkdir -p "$TMP/fresh" && cd "$TMP/fresh" && { git init -q -b trunk . 2>/dev/null || { git init -q . && git symbolic-ref HEAD refs/heads/trunk; }; }
cp "$R/model.gguf" . && git add model.gguf
llm-quant -q -t q8_0 model.gguf -o "$TMP/nc.gguf" && llm-info --json "$TMP/nc.gguf" >"$TMP/nc.json"
[ "$(key "$TMP/nc.json" provenance.git.branch)" = trunk ] && [ "$(key "$TMP/nc.json" provenance.git.commit)" = null ] &&
	ok git_no_commits_branch || fail git_no_commits_branch "$(key "$TMP/nc.json" provenance.git.branch) $(key "$TMP/nc.json" provenance.git.commit)"
llm-info -p "$TMP/nc.gguf" | grep -q 'git: (no commits) on trunk (dirty)' && ok git_no_commits_shown || fail git_no_commits_shown "$(llm-info -p "$TMP/nc.gguf")"
cd "$R"
# a submodule is tracked content, as for git describe --dirty: checked out
# at another commit or with a changed file it makes the work tree dirty
# (it once did not count at all); files untracked inside it do not
G="git -c user.email=t@example.com -c user.name=test -c protocol.file.allow=always"
mkdir -p "$TMP/subsrc" "$TMP/super" && (cd "$TMP/subsrc" && git init -q . && echo a >f && git add f && $G commit -q -m s)
cd "$TMP/super" && git init -q . && cp "$R/model.gguf" . && git add model.gguf && $G submodule add -q "$TMP/subsrc" sub >/dev/null 2>&1 &&
	$G commit -q -m super
dirty_now() { llm-quant -q -t q8_0 model.gguf -o "$TMP/sm.gguf" && llm-info --json "$TMP/sm.gguf" >"$TMP/sm.json" && key "$TMP/sm.json" provenance.git.dirty; }
expect submodule_clean "$(dirty_now)" false
echo u >sub/untracked
expect submodule_untracked_not_dirty "$(dirty_now)" false
echo b >>sub/f
expect submodule_modified_is_dirty "$(dirty_now)" true
(cd sub && $G commit -q -am s2)
expect submodule_other_commit_is_dirty "$(dirty_now)" true
cd "$R"

# a chain: the second step keeps the first as parent 0 (and the first's own
# records do not leak into the second's top level)
llm-quant -q -t f16 "$TMP/a.gguf" -o "$TMP/chain.gguf.zst" && llm-info --json "$TMP/chain.gguf.zst" >"$TMP/ch.json"
[ "$(key "$TMP/ch.json" provenance.parent.0.git.commit)" = "$head" ] && ok chain_parent_commit || fail chain_parent_commit "$(key "$TMP/ch.json" provenance.parent.0.git.commit)"
[ "$(key "$TMP/ch.json" provenance.parent.0.inputs.path)" = '["model.gguf"]' ] && ok chain_parent_input || fail chain_parent_input "$(key "$TMP/ch.json" provenance.parent.0.inputs.path)"
[ "$(key "$TMP/ch.json" provenance.inputs.id)" = "[\"$(git hash-object "$TMP/a.gguf")\"]" ] && ok chain_input_id || fail chain_input_id "$(key "$TMP/ch.json" provenance.inputs.id)"
llm-quant -q --merge "$TMP/chain.gguf.zst" -o "$TMP/chain2.gguf" && llm-info --provenance "$TMP/chain2.gguf" >"$TMP/p.txt"
[ "$(grep -c 'llm-quant 0' "$TMP/p.txt")" -eq 3 ] && grep -q "^      from input 0, made by:" "$TMP/p.txt" && grep -q "git: $head on $branch (clean)" "$TMP/p.txt" \
	&& ok provenance_chain_printed || fail provenance_chain_printed "$(cat "$TMP/p.txt")"
llm-info --provenance --json "$TMP/chain2.gguf" >"$TMP/pj.json"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(k.startswith("provenance.") for k in d) and "provenance.parent.0.parent.0.tool" in d' "$TMP/pj.json" \
	&& ok provenance_json || fail provenance_json "$(head -c 300 "$TMP/pj.json")"

# the chain svd-delta -> merge (adapter on a pipe) tells both steps: the
# merge's parent 1 (its second input, the adapter) is the svd-delta record
"$MK" tuned.gguf 64 2 4 2 160 512 128 11 >/dev/null 2>&1
llm-svd-delta -q -r 4 model.gguf tuned.gguf | llm-lora-merge model.gguf - -o "$TMP/merged.gguf" &&
	llm-info --json "$TMP/merged.gguf" >"$TMP/merged.json"
if [ "$(key "$TMP/merged.json" provenance.tool)" = llm-lora-merge ] &&
	[ "$(key "$TMP/merged.json" provenance.parent.1.tool)" = llm-svd-delta ] &&
	[ "$(key "$TMP/merged.json" provenance.parent.1.inputs.path)" = '["model.gguf", "tuned.gguf"]' ] &&
	llm-info --provenance "$TMP/merged.gguf" | grep -q "from input 1, made by:"; then
	ok chain_svd_delta_merge
else
	fail chain_svd_delta_merge "$(llm-info --provenance "$TMP/merged.gguf" | head -12 | tr '\n' '|')"
fi
# standard input has no content id: its line ends with the name, no blank
if llm-info --provenance "$TMP/merged.gguf" | grep -qx '  input 1: -'; then
	ok provenance_stdin_input_line
else
	fail provenance_stdin_input_line "$(llm-info --provenance "$TMP/merged.gguf" | grep 'input 1:' | od -c | head -2 | tr '\n' ' ')"
fi

# --no-provenance: no provenance.* keys at all
llm-quant -q --no-provenance -t q8_0 "$TMP/a.gguf" -o "$TMP/n.gguf"
llm-info --json "$TMP/n.gguf" | grep -q '"provenance\.' && fail no_provenance "keys present" || ok no_provenance
llm-info --provenance "$TMP/n.gguf" | grep -q "no provenance" && ok info_says_no_provenance || fail info_says_no_provenance "no message"

# outside any repository: no git keys, the rest is there
O=$(mktemp -d /tmp/llmprov.XXXXXX)
if (cd "$O" && git rev-parse --git-dir >/dev/null 2>&1); then
	skip outside_repo "/tmp is inside a git repository"
else
	(cd "$O" && llm-quant -q -t q8_0 "$R/model.gguf" -o "$O/o.gguf" && llm-info --json "$O/o.gguf" >"$O/o.json")
	[ "$(key "$O/o.json" provenance.git.commit)" = null ] && [ "$(key "$O/o.json" provenance.tool)" = llm-quant ] && ok outside_repo || fail outside_repo "$(grep provenance "$O/o.json" | head -3)"
fi
rm -rf "$O"

# a crafted chain 80 records deep, its keys over 600 bytes: llm-info -p
# prints 64 levels and says the rest is not shown (it once recursed until
# the stack overflowed)
if python3 - "$TMP/deep.gguf" <<'PY'
import struct, sys
def s(x): return struct.pack("<Q", len(x)) + x
kv = [(b"provenance.tool", b"llm-quant"), (b"provenance." + b"parent.0." * 80 + b"tool", b"deep")]
out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
for k, v in kv:
    out += s(k) + struct.pack("<I", 8) + s(v)
open(sys.argv[1], "wb").write(out + b"\0" * (-len(out) % 32))
PY
then
	if llm-info -p "$TMP/deep.gguf" >"$TMP/deep.txt" 2>"$TMP/deep.err" &&
		[ "$(grep -c 'made by:' "$TMP/deep.txt")" -eq 63 ] && grep -q 'not shown (more than 64 levels)' "$TMP/deep.txt"; then
		ok provenance_deep_chain_bounded
	else
		fail provenance_deep_chain_bounded "exit $?: $(tail -c 200 "$TMP/deep.err")"
	fi
fi

# content ids are read in 1 MiB blocks: sizes below, at and past a
# multiple of the block (a GGUF may carry trailing bytes) equal git
# hash-object's; a directory's id equals git write-tree of its files
"$MK" "$TMP/big.gguf" 256 4 8 4 688 512 256 1 >/dev/null 2>&1
for n in 1048575 1048576 2097152 2097153; do
	cp "$R/model.gguf" "$TMP/pad$n.gguf" && truncate -s "$n" "$TMP/pad$n.gguf"
done
good=0 all=0
for f in "$TMP/big.gguf" "$TMP"/pad*.gguf; do
	all=$((all + 1))
	llm-quant -q -t q8_0 "$f" -o "$TMP/id.gguf" && llm-info --json "$TMP/id.gguf" >"$TMP/id.json" &&
		[ "$(key "$TMP/id.json" provenance.inputs.id)" = "[\"$(git hash-object "$f")\"]" ] && good=$((good + 1))
done
expect input_id_block_edges "$good of $all" "$all of $all"
if [ -d "$MODELS/stories260K-hf" ]; then
	git init -q --bare "$TMP/tree.git"
	want=$(GIT_INDEX_FILE=$TMP/tree.idx git --git-dir="$TMP/tree.git" --work-tree="$MODELS/stories260K-hf" add -A . &&
		GIT_INDEX_FILE=$TMP/tree.idx git --git-dir="$TMP/tree.git" write-tree)
	llm-quant -q -t q8_0 "$MODELS/stories260K-hf" -o "$TMP/hf.gguf" && llm-info --json "$TMP/hf.gguf" >"$TMP/hf.json"
	expect input_id_directory_tree "$(key "$TMP/hf.json" provenance.inputs.id)" "[\"$want\"]"
else
	skip input_id_directory_tree "no ../shared/models/stories260K-hf"
fi
# two inputs, hashed side by side: each id in its place
if llm-svd-delta -q -r 2 "$R/model.gguf" "$TMP/a.gguf" -o "$TMP/sd.gguf" 2>"$TMP/err" && llm-info --json "$TMP/sd.gguf" >"$TMP/sd.json"; then
	expect input_ids_two_inputs "$(key "$TMP/sd.json" provenance.inputs.id)" \
		"[\"$(git hash-object "$R/model.gguf")\", \"$(git hash-object "$TMP/a.gguf")\"]"
else
	fail input_ids_two_inputs "$(cat "$TMP/err")"
fi
