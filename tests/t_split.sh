#!/bin/sh
# Split shards, llama.cpp's convention: names, split.* keys and their types
# read by the independent Python reader (tests/gguf_ref.py), every tensor
# byte-identical to the unsplit file, the set read from its first shard as
# one checkpoint (llm-info --json equal to the original's), joined back with
# --merge bit for bit, compressed shards, shards converted one by one
# (--shard), and missing or wrong shards as errors.
. tests/lib.sh
MK=${TESTDIR:-build/tests}/tool_mkmodel
"$MK" "$TMP/m.gguf" >/dev/null 2>&1 || fail mkmodel "tool_mkmodel failed"
llm-quant -q --no-provenance --merge "$TMP/m.gguf" -o "$TMP/ref.gguf"

# tensors (name, type, shape, size) and metadata of llm-info --json, for comparison
view() { llm-info --json "$1" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["metadata"], [(t["name"], t["type"], t["shape"], t["size"]) for t in d["tensors"]]]))'; }

check split_by_tensors llm-quant -q --no-provenance --merge --split-max-tensors 8 "$TMP/m.gguf" -o "$TMP/a.gguf"
ls "$TMP"/a-*.gguf >"$TMP/list" 2>/dev/null
[ "$(cat "$TMP/list" | xargs -n1 basename | tr '\n' ' ')" = "a-00001-of-00003.gguf a-00002-of-00003.gguf a-00003-of-00003.gguf " ] \
	&& ok shard_names || fail shard_names "$(cat "$TMP/list")"
if have_numpy; then
	if "$PYTHON" - "$TMP/ref.gguf" "$TMP"/a-0000?-of-00003.gguf <<'PY' >"$TMP/py" 2>&1
import sys
sys.path.insert(0, "tests")
import gguf_ref
ref = gguf_ref.read(sys.argv[1])
shards = [gguf_ref.read(p) for p in sys.argv[2:]]
tensors = []
for i, s in enumerate(shards):
    m, ty = s["metadata"], s["types"]
    assert (ty["split.no"], ty["split.count"], ty["split.tensors.count"]) == ("u16", "u16", "i32"), ty
    assert (m["split.no"], m["split.count"], m["split.tensors.count"]) == (i, 3, len(ref["tensors"])), m
    assert len(s["tensors"]) <= 8
    if i == 0:
        rest = {k: v for k, v in m.items() if not k.startswith("split.")}
        assert rest == ref["metadata"], "first shard holds the metadata"
    else:
        assert set(m) == {"split.no", "split.count", "split.tensors.count"}, sorted(m)
    tensors += s["tensors"]
assert [t["name"] for t in tensors] == [t["name"] for t in ref["tensors"]], "order"
for a, b in zip(tensors, ref["tensors"]):
    assert (a["type"], a["shape"], a["data"]) == (b["type"], b["shape"], b["data"]), a["name"]
PY
	then ok shards_independent_reader; else fail shards_independent_reader "$(tail -2 "$TMP/py")"; fi
	[ "$(view "$TMP/a-00001-of-00003.gguf")" = "$(view "$TMP/ref.gguf")" ] && ok set_reads_as_one || fail set_reads_as_one "llm-info differs"
else
	skip shards_independent_reader "no python3 with numpy"
fi
llm-info "$TMP/a-00001-of-00003.gguf" | grep -q "3 shards" && ok info_names_shards || fail info_names_shards "no shard count"
check merge_back llm-quant -q --no-provenance --merge "$TMP/a-00001-of-00003.gguf" -o "$TMP/joined.gguf"
check merge_bit_exact cmp "$TMP/joined.gguf" "$TMP/ref.gguf"

# by size: no shard holds more than the limit unless one tensor does
check split_by_size llm-quant -q --no-provenance --merge --split-max-size 100K "$TMP/m.gguf" -o "$TMP/b.gguf"
n=$(ls "$TMP"/b-*-of-*.gguf | wc -l)
[ "$n" -ge 4 ] && ok size_gives_shards || fail size_gives_shards "$n shards"
llm-quant -q --no-provenance --merge "$TMP/b-00001-of-0000$n.gguf" -o "$TMP/joined_b.gguf"
check size_merge_bit_exact cmp "$TMP/joined_b.gguf" "$TMP/ref.gguf"

# sizes as llama.cpp's gguf-split reads them: 33K is 33000 bytes (a shard
# of attn_norm, q, k and v, 33024 bytes, is too big for it), 33KiB 33792
mkdir -p "$TMP/k1" "$TMP/k2" "$TMP/k3"
for d in k1:33K k2:33000 k3:33KiB; do
	llm-quant -q --no-provenance --merge --split-max-size "${d#*:}" "$TMP/m.gguf" -o "$TMP/${d%%:*}/s.gguf"
done
same() { [ "$(cd "$1" && ls)" = "$(cd "$2" && ls)" ] && for f in "$1"/*; do cmp -s "$f" "$2/${f##*/}" || return 1; done; }
if same "$TMP/k1" "$TMP/k2" && ! same "$TMP/k1" "$TMP/k3"; then
	ok split_size_units_as_gguf_split
else
	fail split_size_units_as_gguf_split "33K: $(ls "$TMP/k1" | wc -l) shards, 33000: $(ls "$TMP/k2" | wc -l), 33KiB: $(ls "$TMP/k3" | wc -l)"
fi

# compressed shards, and a conversion reading the set
check split_zst llm-quant -q --no-provenance --merge --split-max-tensors 5 "$TMP/m.gguf" -o "$TMP/z.gguf.zst"
[ -f "$TMP/z-00001-of-00005.gguf.zst" ] && ok zst_shard_names || fail zst_shard_names "$(ls "$TMP" | grep '^z-' | tr '\n' ' ')"
llm-quant -q --no-provenance --merge "$TMP/z-00001-of-00005.gguf.zst" -o "$TMP/joined_z.gguf"
check zst_merge_bit_exact cmp "$TMP/joined_z.gguf" "$TMP/ref.gguf"
llm-quant -q --no-provenance -t q8_0 --pure "$TMP/z-00001-of-00005.gguf.zst" -o "$TMP/q_from_set.gguf"
llm-quant -q --no-provenance -t q8_0 --pure "$TMP/m.gguf" -o "$TMP/q_ref.gguf"
check convert_set_equals_whole cmp "$TMP/q_from_set.gguf" "$TMP/q_ref.gguf"

# shard by shard (what make / parallel / Slurm run), then read the converted set
mkdir -p "$TMP/q8"
for f in "$TMP"/a-0000?-of-00003.gguf; do
	llm-quant -q --no-provenance --shard -t q8_0 --pure "$f" -o "$TMP/q8/$(basename "$f")" || fail "shard_convert_$(basename "$f")" "failed"
done
llm-quant -q --no-provenance --merge "$TMP/q8/a-00001-of-00003.gguf" -o "$TMP/q8_joined.gguf"
if have_numpy; then
	[ "$(view "$TMP/q8_joined.gguf")" = "$(view "$TMP/q_ref.gguf")" ] && ok per_shard_conversion || fail per_shard_conversion "differs from converting the whole"
fi

# errors: not the first shard, a missing shard, a shard from another set, stdout
check_status 1 second_shard_refused llm-info "$TMP/a-00002-of-00003.gguf"
grep -q "name the first shard" "$TMP/.err" && ok second_shard_message || fail second_shard_message "$(cat "$TMP/.err")"
llm-info --shard "$TMP/a-00002-of-00003.gguf" >"$TMP/s2.txt" &&
	grep -q 'split.no  *u16  = 1' "$TMP/s2.txt" && ! grep -q 'general.architecture' "$TMP/s2.txt" &&
	ok second_shard_alone || fail second_shard_alone "$(head -5 "$TMP/s2.txt")"
mv "$TMP/a-00003-of-00003.gguf" "$TMP/gone"
check_status 1 missing_shard llm-quant --merge "$TMP/a-00001-of-00003.gguf" -o "$TMP/x.gguf"
[ "$(wc -l <"$TMP/.err")" -eq 1 ] && grep -q "missing shard 3 of 3: .*a-00003-of-00003.gguf" "$TMP/.err" && ok missing_shard_message || fail missing_shard_message "$(cat "$TMP/.err")"
[ ! -e "$TMP/x.gguf" ] && ok missing_shard_no_output || fail missing_shard_no_output "output left"
cp "$TMP/b-00002-of-0000$n.gguf" "$TMP/a-00003-of-00003.gguf"
check_status 1 foreign_shard llm-info "$TMP/a-00001-of-00003.gguf"
grep -q "a-00003-of-00003.gguf: says it is shard 2 of $n" "$TMP/.err" && ok foreign_shard_message || fail foreign_shard_message "$(cat "$TMP/.err")"
mv "$TMP/gone" "$TMP/a-00003-of-00003.gguf"
check_status 2 split_needs_name llm-quant --merge --split-max-tensors 2 "$TMP/m.gguf"
# --shard: its output must stay a member of the set (named as the shard, no
# re-splitting), or the converted set would not load
check_status 2 shard_with_split llm-quant -q --shard --split-max-tensors 2 -o "$TMP/y.gguf" "$TMP/a-00002-of-00003.gguf"
check_status 2 shard_output_misnamed llm-quant -q --shard -o "$TMP/y.gguf" "$TMP/a-00001-of-00003.gguf"
check_status 2 shard_input_not_a_shard llm-quant -q --shard -o "$TMP/y-00001-of-00003.gguf" "$TMP/m.gguf"
[ ! -e "$TMP/y.gguf" ] && ok shard_usage_no_output || fail shard_usage_no_output "output written"
# a name the set's reader would not rebuild (after the tag: .gguf or
# .gguf.zst only), and a shard converted in place with --shard (read alone)
check_status 2 shard_output_suffix llm-quant -q --shard -o "$TMP/a-00002-of-00003.q8.gguf" "$TMP/a-00002-of-00003.gguf"
cp "$TMP/a-00002-of-00003.gguf" "$TMP/inplace-00002-of-00003.gguf"
check shard_in_place llm-quant -q --shard -t q8_0 -o "$TMP/inplace-00002-of-00003.gguf" "$TMP/inplace-00002-of-00003.gguf"
cat "$TMP/a-00001-of-00003.gguf" | llm-info - >/dev/null 2>"$TMP/err"
[ $? -eq 1 ] && grep -q "shards on standard input" "$TMP/err" && ok set_on_stdin_refused || fail set_on_stdin_refused "$(cat "$TMP/err")"

# a signal while a split output is written removes the shards already in
# place, not only the one being written (they once stayed): the third
# shard's name is a FIFO, so the writer waits there, after two shards
mkdir "$TMP/sig" && mkfifo "$TMP/sig/s-00003-of-00003.gguf"
llm-quant -q --no-provenance --merge --split-max-tensors 8 "$TMP/m.gguf" -o "$TMP/sig/s.gguf" 2>/dev/null &
pid=$!
for i in $(seq 100); do [ -e "$TMP/sig/s-00002-of-00003.gguf" ] && break; sleep 0.1; done
sleep 0.2
kill -TERM $pid
wait $pid 2>/dev/null
left=$(ls -A "$TMP/sig" | tr '\n' ' ')
if [ "$left" = "s-00003-of-00003.gguf " ]; then ok split_signal_removes_done_shards; else
	fail split_signal_removes_done_shards "left: $left"; fi

# a set of one shard (-00001-of-00001) is a set too: read and merged
# without its split.* keys, as gguf-split --merge leaves a file
mkdir -p "$TMP/one"
llm-quant -q --no-provenance --merge --split-max-size 1T -o "$TMP/one/o.gguf" "$TMP/m.gguf"
expect split_set_of_one_name "$(ls "$TMP/one")" "o-00001-of-00001.gguf"
llm-quant -q --no-provenance --merge -o "$TMP/one.merged.gguf" "$TMP/one/o-00001-of-00001.gguf"
expect split_set_of_one_merged "$(view "$TMP/one.merged.gguf")" "$(view "$TMP/ref.gguf")"
# compressed shards end in .zst whatever -o is called
mkdir -p "$TMP/zn"
llm-quant -q --merge --zstd --split-max-tensors 20 -o "$TMP/zn/z.gguf" "$TMP/m.gguf"
expect split_zstd_names_zst "$(ls "$TMP/zn" | sed 's/-0000[0-9]-of-/-N-of-/' | sort -u)" "z-N-of-0000$(ls "$TMP/zn" | wc -l | tr -d ' ').gguf.zst"
# provenance of a set read as one: the tree id of its shards (what git
# mktree gives for them), not the first shard's blob; --shard keeps the
# shard's own blob id
mkdir -p "$TMP/pv"
llm-quant -q --merge --split-max-tensors 8 -o "$TMP/pv/p.gguf" "$TMP/m.gguf"
llm-quant -q --merge -o "$TMP/pv.merged.gguf" "$TMP/pv/p-00001-of-00003.gguf"
got=$(llm-info -p "$TMP/pv.merged.gguf" | awk '/^  input 0:/ { print $4; exit }')
want=$(cd "$TMP/pv" && git init -q . && for f in p-0000*; do printf '100644 blob %s\t%s\n' "$(git hash-object -w "$f")" "$f"; done | git mktree; rm -rf .git)
expect split_provenance_set_tree_id "$got" "$want"
llm-quant -q --shard -o "$TMP/pv1-00001-of-00003.gguf" "$TMP/pv/p-00001-of-00003.gguf"
expect split_provenance_shard_blob "$(llm-info --shard -p "$TMP/pv1-00001-of-00003.gguf" | awk '/^  input 0:/ { print $4; exit }')" \
	"$(git hash-object "$TMP/pv/p-00001-of-00003.gguf")"
