#!/bin/sh
# Compressed checkpoints from the command line: bit-exact round trips of
# every type through files and pipes, sizes against the zstd CLI at the same
# level (generated model and stories260K), stored sizes in llm-info, and
# damaged files as one-line errors with exit 1.
. tests/lib.sh
MK=${TESTDIR:-build/tests}/tool_mkmodel
if ! command -v zstd >/dev/null; then
	skip zstd_cli "no zstd command"
fi
# a model with trained-weight statistics (Gaussian rows, per-row scales), ~4M params
"$MK" "$TMP/m.gguf" 256 4 8 4 688 2048 256 7 >/dev/null 2>&1 || fail mkmodel "tool_mkmodel failed"

# size $1 <= size $2 * (100 + $3) / 100
within() { [ "$(wc -c <"$1")" -le $(( $(wc -c <"$2") * (100 + $3) / 100 )) ]; }

for t in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1; do
	llm-quant -q --no-provenance --pure -t "$t" "$TMP/m.gguf" -o "$TMP/$t.gguf" || { fail "quant_$t" "llm-quant failed"; continue; }
	# compress, decompress: the same bytes
	check "compress_$t" llm-quant --merge --no-provenance "$TMP/$t.gguf" -o "$TMP/$t.gguf.zst"
	check "decompress_$t" llm-quant --merge --no-provenance "$TMP/$t.gguf.zst" -o "$TMP/$t.back.gguf"
	check "round_trip_file_$t" cmp "$TMP/$t.gguf" "$TMP/$t.back.gguf"
	# pipes both ways: the container streams to stdout and is read from stdin
	llm-quant --merge --no-provenance --zstd "$TMP/$t.gguf" | llm-quant --merge --no-provenance - -o "$TMP/$t.pipe.gguf"
	check "round_trip_pipe_$t" cmp "$TMP/$t.gguf" "$TMP/$t.pipe.gguf"
	# the container names nothing: detected by content, any name
	cp "$TMP/$t.gguf.zst" "$TMP/$t.noext"
	check "sniffed_by_content_$t" llm-info "$TMP/$t.noext"
	# converting from the container gives what converting from the plain file gives
	llm-quant -q --no-provenance -t q8_0 "$TMP/$t.gguf.zst" -o "$TMP/$t.q8a.gguf"
	llm-quant -q --no-provenance -t q8_0 "$TMP/$t.gguf" -o "$TMP/$t.q8b.gguf"
	check "convert_from_container_$t" cmp "$TMP/$t.q8a.gguf" "$TMP/$t.q8b.gguf"
	if command -v zstd >/dev/null; then
		for l in 1 3 9; do
			zstd -q -f -"$l" "$TMP/$t.gguf" -o "$TMP/$t.ref.zst"
			llm-quant --merge --no-provenance --zstd-level "$l" "$TMP/$t.gguf" -o "$TMP/$t.l.gguf.zst"
			if within "$TMP/$t.l.gguf.zst" "$TMP/$t.ref.zst" 1; then ok "ratio_L${l}_$t"; else
				fail "ratio_L${l}_$t" "$(wc -c <"$TMP/$t.l.gguf.zst") > 1.01 x zstd -$l $(wc -c <"$TMP/$t.ref.zst")"; fi
			echo "# $t L$l: gguf $(wc -c <"$TMP/$t.gguf") ours $(wc -c <"$TMP/$t.l.gguf.zst") zstd $(wc -c <"$TMP/$t.ref.zst")"
		done
	fi
done
# BF16 with trained statistics: at least 8 % smaller than zstd -3
if command -v zstd >/dev/null && [ -f "$TMP/bf16.gguf.zst" ]; then
	zstd -q -f -3 "$TMP/bf16.gguf" -o "$TMP/bf16.ref.zst"
	o=$(wc -c <"$TMP/bf16.gguf.zst") z=$(wc -c <"$TMP/bf16.ref.zst")
	if [ $((o * 100)) -le $((z * 92)) ]; then ok bf16_8pct_smaller; else fail bf16_8pct_smaller "$o vs zstd -3 $z"; fi
fi
# --zstd=LEVEL spelling, and a .zst name needs no option
check zstd_equals_level llm-quant --merge --no-provenance --zstd=5 "$TMP/bf16.gguf" -o "$TMP/l5.bin"
llm-quant --merge --no-provenance --zstd-level 5 "$TMP/bf16.gguf" -o "$TMP/l5b.gguf.zst"
check zstd_equals_spellings cmp "$TMP/l5.bin" "$TMP/l5b.gguf.zst"
check_status 2 zstd_level_range llm-quant --merge --zstd-level 99 "$TMP/bf16.gguf" -o "$TMP/x.gguf.zst"
# llm-svd-delta and llm-lora-merge write the container with --zstd and
# --zstd=LEVEL as well (they had only the .zst name: none on a pipe),
# holding what they write plain
"$MK" "$TMP/sb.gguf" >/dev/null 2>&1 && "$MK" "$TMP/st.gguf" 64 2 4 2 160 512 128 11 >/dev/null 2>&1
magic() { head -c 4 "$1"; }
llm-svd-delta -q --no-provenance -r 4 --zstd "$TMP/sb.gguf" "$TMP/st.gguf" >"$TMP/ad.z" 2>"$TMP/err"
llm-svd-delta -q --no-provenance -r 4 "$TMP/sb.gguf" "$TMP/st.gguf" -o "$TMP/ad.gguf"
llm-quant -q --merge --no-provenance "$TMP/ad.z" -o "$TMP/ad.back.gguf" 2>>"$TMP/err"
[ "$(magic "$TMP/ad.z")" = GGZ1 ] && cmp -s "$TMP/ad.gguf" "$TMP/ad.back.gguf" && ok svd_delta_zstd || fail svd_delta_zstd "$(head -c 300 "$TMP/err")"
llm-lora-merge -q --no-provenance --zstd=5 "$TMP/sb.gguf" "$TMP/ad.z" >"$TMP/lm.z" 2>"$TMP/err"
llm-lora-merge -q --no-provenance "$TMP/sb.gguf" "$TMP/ad.gguf" -o "$TMP/lm.gguf"
llm-quant -q --merge --no-provenance "$TMP/lm.z" -o "$TMP/lm.back.gguf" 2>>"$TMP/err"
[ "$(magic "$TMP/lm.z")" = GGZ1 ] && cmp -s "$TMP/lm.gguf" "$TMP/lm.back.gguf" && ok lora_merge_zstd || fail lora_merge_zstd "$(head -c 300 "$TMP/err")"
check_status 2 lora_merge_zstd_level_range llm-lora-merge --zstd=23 "$TMP/sb.gguf" "$TMP/ad.gguf" -o "$TMP/x.gguf"

# llm-info: stored sizes per tensor, against the uncompressed ones
if llm-info --json "$TMP/bf16.gguf.zst" >"$TMP/i.json" 2>"$TMP/err" && [ -n "$PYTHON" ]; then
	if "$PYTHON" - "$TMP/i.json" "$TMP/bf16.gguf.zst" <<'PY' 2>"$TMP/err"
import json, os, sys
j = json.load(open(sys.argv[1]))
assert j["compressed"] is True and j["files"] == 1
big = [t for t in j["tensors"] if t["size"] > 100000]
assert big and all(t["stored"] < 0.75 * t["size"] for t in big), "bf16 weights compress"
assert j["n_stored"] == sum(t["stored"] for t in j["tensors"])
assert j["n_stored"] < os.path.getsize(sys.argv[2])
PY
	then ok info_stored_sizes; else fail info_stored_sizes "$(tail -1 "$TMP/err")"; fi
fi
llm-info "$TMP/bf16.gguf.zst" >"$TMP/i.txt"
grep -q 'zstd container' "$TMP/i.txt" && grep -q '^stored:' "$TMP/i.txt" && ok info_text_stored || fail info_text_stored "no stored column"

# stories260K: a real trained model
if have_models && command -v zstd >/dev/null; then
	S=$MODELS/stories260K.gguf
	llm-quant --merge --no-provenance "$S" -o "$TMP/s.gguf.zst"
	llm-quant --merge --no-provenance "$TMP/s.gguf.zst" -o "$TMP/s.gguf"
	llm-quant --merge --no-provenance "$S" -o "$TMP/s0.gguf"
	check stories_round_trip cmp "$TMP/s.gguf" "$TMP/s0.gguf"
	zstd -q -f -3 "$TMP/s0.gguf" -o "$TMP/s.ref.zst"
	if within "$TMP/s.gguf.zst" "$TMP/s.ref.zst" 1; then ok stories_ratio; else fail stories_ratio "$(wc -c <"$TMP/s.gguf.zst") vs $(wc -c <"$TMP/s.ref.zst")"; fi
	echo "# stories260K f32: gguf $(wc -c <"$TMP/s0.gguf") ours $(wc -c <"$TMP/s.gguf.zst") zstd -3 $(wc -c <"$TMP/s.ref.zst")"
	# output.weight is a copy of token_embd: one payload, counted once in
	# the stored total (it was counted twice, above the file's size)
	st=$(llm-info --json "$TMP/s.gguf.zst" | sed -n 's/.*"n_stored": *\([0-9]*\).*/\1/p' | tail -n 1)
	[ -n "$st" ] && [ "$st" -le "$(wc -c <"$TMP/s.gguf.zst")" ] && ok stories_stored_total_shared_once ||
		fail stories_stored_total_shared_once "n_stored $st, file $(wc -c <"$TMP/s.gguf.zst")"
	for t in bf16 q8_0; do
		llm-quant -q --no-provenance -t $t "$S" -o "$TMP/s_$t.gguf"
		llm-quant --merge --no-provenance "$TMP/s_$t.gguf" -o "$TMP/s_$t.gguf.zst"
		zstd -q -f -3 "$TMP/s_$t.gguf" -o "$TMP/s_$t.ref.zst"
		if within "$TMP/s_$t.gguf.zst" "$TMP/s_$t.ref.zst" 1; then ok "stories_ratio_$t"; else fail "stories_ratio_$t" "$(wc -c <"$TMP/s_$t.gguf.zst") vs $(wc -c <"$TMP/s_$t.ref.zst")"; fi
		echo "# stories260K $t: gguf $(wc -c <"$TMP/s_$t.gguf") ours $(wc -c <"$TMP/s_$t.gguf.zst") zstd -3 $(wc -c <"$TMP/s_$t.ref.zst")"
	done
else
	skip stories_zst "../shared/models or zstd is absent"
fi

# damaged containers: one line naming the file, exit 1, no output left
Z=$TMP/q8_0.gguf.zst
n=$(wc -c <"$Z")
head -c $((n - 10)) "$Z" >"$TMP/trunc.gguf.zst"
check_status 1 truncated_exit llm-quant --merge "$TMP/trunc.gguf.zst" -o "$TMP/out.gguf"
[ "$(wc -l <"$TMP/.err")" -eq 1 ] && grep -q "trunc.gguf.zst: .*truncated" "$TMP/.err" && ok truncated_message || fail truncated_message "$(cat "$TMP/.err")"
[ ! -e "$TMP/out.gguf" ] && ok truncated_no_output || fail truncated_no_output "output left behind"
head -c $((n / 2)) "$Z" | llm-info - >/dev/null 2>"$TMP/err"
[ $? -eq 1 ] && grep -q "^llm-info: -: " "$TMP/err" && ok truncated_pipe || fail truncated_pipe "$(cat "$TMP/err")"
cp "$Z" "$TMP/flip.gguf.zst"
printf '\377' | dd of="$TMP/flip.gguf.zst" bs=1 seek=$((n / 2)) conv=notrunc 2>/dev/null
check_status 1 corrupted_exit llm-quant --merge "$TMP/flip.gguf.zst" -o "$TMP/out.gguf"
[ "$(wc -l <"$TMP/.err")" -eq 1 ] && grep -q "flip.gguf.zst: compressed checkpoint: " "$TMP/.err" && ok corrupted_message || fail corrupted_message "$(cat "$TMP/.err")"
# ... and names the tensor the damaged unit belongs to (it gave only the
# unit's byte range), whichever command reads it
tn=$(sed -n 's/^llm-quant: \([^:]*\): .*flip.gguf.zst: compressed checkpoint: unit .*/\1/p' "$TMP/.err")
[ -n "$tn" ] && llm-info "$Z" | grep -q "^ *$tn " && ok corrupted_names_tensor || fail corrupted_names_tensor "$(cat "$TMP/.err")"
llm-run "$TMP/flip.gguf.zst" -p x -n 1 >/dev/null 2>"$TMP/err"
[ $? -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "^llm-run: $tn: .*flip.gguf.zst: compressed checkpoint: unit" "$TMP/err" &&
	ok corrupted_names_tensor_run || fail corrupted_names_tensor_run "$(cat "$TMP/err")"
printf 'GGZ1\001\000\000\000' >"$TMP/tiny.gguf.zst"
check_status 1 tiny_exit llm-info "$TMP/tiny.gguf.zst"

# a GGUF compressed by the zstd CLI (plain frames): read as the GGUF, from
# a file and from a pipe; the same tensors and greedy text; a cut-off stream
# and a zstd stream of something else are one-line errors
if command -v zstd >/dev/null; then
	zstd -q -f "$TMP/q8_0.gguf" -o "$TMP/plain.zst"
	llm-quant -q --merge --no-provenance "$TMP/plain.zst" -o "$TMP/plain.back.gguf" &&
		cmp -s "$TMP/plain.back.gguf" "$TMP/q8_0.gguf" && ok plain_zstd_file || fail plain_zstd_file "not the GGUF's bytes"
	llm-quant -q --merge --no-provenance - -o "$TMP/plain.pipe.gguf" <"$TMP/plain.zst" &&
		cmp -s "$TMP/plain.pipe.gguf" "$TMP/q8_0.gguf" && ok plain_zstd_regular_stdin || fail plain_zstd_regular_stdin "differs"
	cat "$TMP/plain.zst" | llm-quant -q --merge --no-provenance - -o "$TMP/plain.pipe2.gguf" &&
		cmp -s "$TMP/plain.pipe2.gguf" "$TMP/q8_0.gguf" && ok plain_zstd_pipe || fail plain_zstd_pipe "differs"
	head -c $(($(wc -c <"$TMP/plain.zst") / 2)) "$TMP/plain.zst" >"$TMP/plain.cut.zst"
	check_status 1 plain_zstd_truncated llm-info "$TMP/plain.cut.zst"
	[ "$(wc -l <"$TMP/.err")" -eq 1 ] && grep -q "plain.cut.zst: zstd stream: truncated" "$TMP/.err" &&
		ok plain_zstd_truncated_message || fail plain_zstd_truncated_message "$(cat "$TMP/.err")"
	# a decoded size that is a multiple of zstd's 128 KiB output block
	# (the frame ends as the buffer fills: once taken for a cut stream)
	python3 - "$TMP/exact.gguf" <<'PY'
import sys
sys.path.insert(0, "tests")
from gguf_write import gguf, kv_str, tinfo
h = gguf([kv_str('general.architecture', 'llama')], [tinfo('w.weight', [64, 4], 0, 0)], b'')
open(sys.argv[1], 'wb').write(h + b'\0' * (262144 - len(h)))
PY
	zstd -q -f "$TMP/exact.gguf" -o "$TMP/exact.zst"
	check plain_zstd_128k_multiple llm-info "$TMP/exact.zst"
	printf 'not a model\n' | zstd -q >"$TMP/text.zst"
	check_status 1 plain_zstd_of_text llm-info "$TMP/text.zst"
	grep -q "text.zst: a zstd stream holding neither a GGUF" "$TMP/.err" && ok plain_zstd_of_text_message ||
		fail plain_zstd_of_text_message "$(cat "$TMP/.err")"
else
	skip plain_zstd "no zstd command"
fi
# a stream that is no GGUF is refused on its first bytes, not copied whole
# into $TMPDIR first (this one never ends)
mkdir "$TMP/spool"
{ printf 'NOTG'; cat /dev/zero; } | TMPDIR="$TMP/spool" timeout 20 llm-info - >/dev/null 2>"$TMP/err"
[ $? -eq 1 ] && grep -q "^llm-info: -: standard input is neither a GGUF" "$TMP/err" && ok endless_stream_refused_at_once ||
	fail endless_stream_refused_at_once "$(cat "$TMP/err")"
