#!/bin/sh
# llm-quant end to end: types, rules, report, pipes, atomicity, bounded memory.
. tests/lib.sh
MK=build/tests/tool_mkmodel

# a small random model whose ffn rows (160) fit q8_0, and one whose (100) do not
$MK "$TMP/m.gguf" 64 2 4 2 160 512 128 7 || { fail mkmodel "tool_mkmodel failed"; exit 1; }
$MK "$TMP/odd.gguf" 64 1 4 1 100 512 128 8 1

for t in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1; do
	if llm-quant -q -t $t --pure -o "$TMP/m.$t.gguf" "$TMP/m.gguf" 2>"$TMP/err" &&
		llm-info --json "$TMP/m.$t.gguf" >"$TMP/m.$t.json"; then
		ok "quant_$t"
	else
		fail "quant_$t" "$(cat "$TMP/err")"
	fi
done

if have_numpy; then
	# types by the rules; norms stay F32; the tensor data against an independent
	# numpy quantizer (tests/ref_quant.py) byte for byte
	if "$PYTHON" - "$TMP" <<'PY' >"$TMP/py" 2>&1
import json, sys, os
import numpy as np
sys.path.insert(0, "tests")
import gguf_ref
d = sys.argv[1]
src = gguf_ref.read(d + "/m.gguf")
have_ref = os.path.exists("tests/ref_quant.py")
if have_ref:
    import ref_quant
for t in ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]:
    out = gguf_ref.read(d + "/m.%s.gguf" % t)
    assert [x["name"] for x in out["tensors"]] == [x["name"] for x in src["tensors"]]
    assert out["metadata"]["general.quantization_version"] == 2
    for a, b in zip(src["tensors"], out["tensors"]):
        want = t if len(a["shape"]) >= 2 else "f32"
        assert b["type_name"] == want, (t, a["name"], b["type_name"])
        assert b["shape"] == a["shape"]
        x = np.frombuffer(a["data"], dtype=np.float32)
        if want == "f32":
            assert b["data"] == a["data"], a["name"]
        elif want == "f16":
            assert b["data"] == x.astype(np.float16).tobytes(), a["name"]
        elif have_ref:
            r = getattr(ref_quant, want)(x)
            assert bytes(r) == b["data"], (t, a["name"])
print("ok", "with ref_quant" if have_ref else "without ref_quant")
PY
	then ok quant_bytes_match_numpy_reference; else fail quant_bytes_match_numpy_reference "$(tail -5 "$TMP/py" | tr "\n" " ")"; fi
else
	skip quant_bytes_match_numpy_reference "python3 with numpy is absent"
fi

# K-quant input (llama.cpp's Q4_K_M mixture, written by the tests' encoder):
# decoded by llm-quant to llama.cpp's values (numpy's decoders, bit for
# bit), run by llm-run as its F32 form runs, refused as a target
if $MK "$TMP/k.gguf" 256 1 4 2 512 512 128 9 0 q4_K_m >/dev/null 2>"$TMP/err" &&
	llm-quant -q -t f32 -o "$TMP/k.f32.gguf" "$TMP/k.gguf" 2>"$TMP/err"; then
	ok quant_from_kquants
else
	fail quant_from_kquants "$(cat "$TMP/err")"
fi
if have_numpy; then
	if "$PYTHON" - "$TMP" <<'PY' >"$TMP/py" 2>&1
import sys
import numpy as np
sys.path.insert(0, "tests")
import gguf_ref, ref_quant
d = sys.argv[1]
src, out = gguf_ref.read(d + "/k.gguf"), gguf_ref.read(d + "/k.f32.gguf")
kinds = set()
for a, b in zip(src["tensors"], out["tensors"]):
    assert b["type_name"] == "f32", b["name"]
    if a["type_name"] == "f32":
        assert a["data"] == b["data"], a["name"]
        continue
    kinds.add(a["type_name"])
    want = ref_quant.dequant_k(a["type_name"].replace("_k", "_K"), a["data"])
    assert want.tobytes() == b["data"], a["name"]
assert kinds == {"q4_k", "q6_k"}, kinds
print("ok")
PY
	then ok quant_kquant_values_match_numpy; else fail quant_kquant_values_match_numpy "$(tail -5 "$TMP/py" | tr "\n" " ")"; fi
else
	skip quant_kquant_values_match_numpy "python3 with numpy is absent"
fi
a=$(llm-run -q --temp 0 -n 12 --ignore-eos -p "ab" "$TMP/k.gguf" 2>&1 | od -An -tx1)
b=$(llm-run -q --temp 0 -n 12 --ignore-eos -p "ab" "$TMP/k.f32.gguf" 2>&1 | od -An -tx1)
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok run_kquant_as_f32; else fail run_kquant_as_f32 "K: $a; F32: $b"; fi
llm-quant -q -t q4_K -o "$TMP/k2.gguf" "$TMP/m.gguf" 2>"$TMP/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -e "$TMP/k2.gguf" ] && grep -q "unsupported type 'q4_K'" "$TMP/err"; then
	ok quant_kquant_target_refused
else
	fail quant_kquant_target_refused "exit $rc: $(cat "$TMP/err")"
fi

# fallback: rows of 100 do not fit q8_0 blocks -> f16, said on stderr
llm-quant -t q8_0 --pure -o "$TMP/odd.q8.gguf" "$TMP/odd.gguf" 2>"$TMP/err"
if grep -q 'ffn_down.weight: rows of 100 values do not fit q8_0 blocks; writing f16' "$TMP/err" &&
	llm-info "$TMP/odd.q8.gguf" | grep -q 'blk.0.ffn_down.weight *f16'; then
	ok quant_fallback_said
else
	fail quant_fallback_said "$(cat "$TMP/err")"
fi
# without --pure, the tied embedding of a q4_0 model becomes q8_0
llm-quant -q -t q4_0 -o "$TMP/odd.q4.gguf" "$TMP/odd.gguf"
if llm-info "$TMP/odd.q4.gguf" | grep -q 'token_embd.weight *q8_0' &&
	llm-info "$TMP/odd.q4.gguf" | grep -q 'blk.0.attn_q.weight *q4_0'; then ok quant_rules_tied_output; else fail quant_rules_tied_output "types"; fi
# and so does the output of the other 4- and 5-bit types (llama-quantize: q6_K)
for t in q4_1 q5_0 q5_1; do
	llm-quant -q -t $t -o "$TMP/out.$t.gguf" "$TMP/m.gguf"
	if llm-info "$TMP/out.$t.gguf" | grep -q 'output.weight *q8_0' &&
		llm-info "$TMP/out.$t.gguf" | grep -q "blk.0.attn_q.weight *$t"; then ok "quant_rules_output_$t"; else fail "quant_rules_output_$t" "types"; fi
done
llm-quant -q -t q4_0 --output-tensor-type f16 --token-embedding-type q8_0 -o "$TMP/m.mix.gguf" "$TMP/m.gguf"
if llm-info "$TMP/m.mix.gguf" | grep -q 'output.weight *f16' && llm-info "$TMP/m.mix.gguf" | grep -q 'token_embd.weight *q8_0'; then
	ok quant_type_overrides
else
	fail quant_type_overrides "types"
fi

# report: header + one row per tensor, nine columns, inf SNR for exact copies
llm-quant -q -t q8_0 --report "$TMP/r.tsv" -o "$TMP/r.gguf" "$TMP/m.gguf"
n=$(llm-info --json "$TMP/m.gguf" | grep -c '"offset"')
if [ "$(head -1 "$TMP/r.tsv")" = "$(printf 'name\tshape\ttype_in\ttype_out\trmse\tmax_abs_err\tsnr_db\tfp16_overflow\tfp16_underflow')" ] &&
	[ "$(($(wc -l <"$TMP/r.tsv") - 1))" -eq "$n" ] &&
	awk -F'\t' 'NR>1 && NF!=9 {bad=1} NR>1 && $3=="f32" && $4=="f32" && $7!="inf" {bad=1} END {exit bad}' "$TMP/r.tsv"; then
	ok quant_report
else
	fail quant_report "$(head -3 "$TMP/r.tsv")"
fi
# tensor names of 600 bytes (GGUF sets no bound; the report's buffer once
# overflowed) and one holding a tab and a newline: one row each, nine
# columns, the control bytes written \xNN
if python3 - "$TMP/names.gguf" <<'PY'
import struct, sys
def s(x): return struct.pack("<Q", len(x)) + x
names = [b"a" * 600, b"b" * 600, b"tab\there\nnewline"]
out = b"GGUF" + struct.pack("<IQQ", 3, len(names), 1) + s(b"general.architecture") + struct.pack("<I", 8) + s(b"llama")
for i, n in enumerate(names):
    out += s(n) + struct.pack("<IQQIQ", 2, 64, 64, 0, i * 64 * 64 * 4)
out += b"\0" * (-len(out) % 32) + b"\0" * (len(names) * 64 * 64 * 4)
open(sys.argv[1], "wb").write(out)
PY
then
	if llm-quant -q -t q8_0 --report "$TMP/names.tsv" -o "$TMP/names_q.gguf" "$TMP/names.gguf" 2>"$TMP/err" &&
		[ "$(wc -l <"$TMP/names.tsv")" -eq 4 ] && awk -F'\t' 'NF != 9 {bad=1} END {exit bad}' "$TMP/names.tsv" &&
		grep -q '^tab\\x09here\\x0anewline	64x64	' "$TMP/names.tsv" &&
		[ "$(awk -F'\t' 'NR == 2 { print length($1) }' "$TMP/names.tsv")" -eq 600 ]; then
		ok quant_report_long_and_control_names
	else
		fail quant_report_long_and_control_names "$(cut -c1-60 "$TMP/names.tsv" | tr '\n' ' ') $(cat "$TMP/err")"
	fi
fi
if have_numpy; then
	if "$PYTHON" - "$TMP" <<'PY' >"$TMP/py" 2>&1
import sys, numpy as np
sys.path.insert(0, "tests")
import gguf_ref
d = sys.argv[1]
a = {t["name"]: t for t in gguf_ref.read(d + "/m.gguf")["tensors"]}
rows = [l.rstrip("\n").split("\t") for l in open(d + "/r.tsv")][1:]
for name, shape, tin, tout, rmse, mx, snr, ov, un in rows:
    if tout != "q8_0":
        continue
    # ggml's q8_0 in float32: d = amax/127, q = roundf(x/d) (half away from 0)
    x = np.frombuffer(a[name]["data"], dtype=np.float32).reshape(-1, 32)
    d = np.abs(x).max(axis=1) / np.float32(127)
    inv = np.where(d > 0, np.float32(1) / np.where(d > 0, d, np.float32(1)), np.float32(0)).astype(np.float32)
    v = x * inv[:, None]
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    y = q * d.astype(np.float16).astype(np.float32)[:, None]
    x = x.astype(np.float64)
    e = x - y.astype(np.float64)
    want = np.sqrt((e ** 2).mean())
    assert abs(float(rmse) - want) <= 1e-3 * want, (name, rmse, want)
    assert abs(float(mx) - np.abs(e).max()) <= 1e-3 * np.abs(e).max()
    s = 10 * np.log10((x ** 2).sum() / (e ** 2).sum())
    assert abs(float(snr) - s) < 0.02, (name, snr, s)
print("ok")
PY
	then ok quant_report_matches_numpy; else fail quant_report_matches_numpy "$(tail -5 "$TMP/py" | tr "\n" " ")"; fi
fi

# pipes: stdin to stdout, equal to the file result
# (provenance records argv and time, so compare without it)
llm-quant -q --no-provenance -t q8_0 -o "$TMP/p.gguf" "$TMP/m.gguf"
if cat "$TMP/m.gguf" | llm-quant -q --no-provenance -t q8_0 - | cmp -s - "$TMP/p.gguf"; then ok quant_pipe; else fail quant_pipe "pipe output differs"; fi
# f32 -> f32 copies tensors byte for byte
if have_numpy && "$PYTHON" -c '
import sys; sys.path.insert(0, "tests"); import gguf_ref
a, b = gguf_ref.read(sys.argv[1]), gguf_ref.read(sys.argv[2])
assert [t["data"] for t in a["tensors"]] == [t["data"] for t in b["tensors"]]' "$TMP/m.gguf" "$TMP/m.f32.gguf"; then
	ok quant_f32_copy_exact
else
	have_numpy && fail quant_f32_copy_exact "differs"
fi

# bad input: one line, exit 1, no output file, an existing output untouched
head -c 2000 "$TMP/m.gguf" >"$TMP/trunc.gguf"
check_status 1 quant_truncated_input llm-quant -t q8_0 -o "$TMP/out.gguf" "$TMP/trunc.gguf"
[ ! -e "$TMP/out.gguf" ] && ok quant_no_partial_output || fail quant_no_partial_output "out.gguf exists"
[ "$(wc -l <"$TMP/.err")" -eq 1 ] && ok quant_error_one_line || fail quant_error_one_line "$(cat "$TMP/.err")"
echo keep >"$TMP/keep.gguf"
llm-quant -q -t q8_0 -o "$TMP/keep.gguf" "$TMP/trunc.gguf" 2>/dev/null
[ "$(cat "$TMP/keep.gguf")" = keep ] && ok quant_failure_keeps_old_output || fail quant_failure_keeps_old_output "clobbered"
ls -A "$TMP" | grep -q '^\..*gguf\.' && fail quant_no_temporaries "$(ls -A "$TMP")" || ok quant_no_temporaries
# outputs that are not plain new files: an existing file keeps its mode, a
# symbolic link stays a link, a FIFO is written through (as /dev/null
# would be: not tested here, where a regression run as root replaces it)
llm-quant -q --no-provenance -t q8_0 -o "$TMP/ref.gguf" "$TMP/m.gguf"
echo old >"$TMP/priv.gguf"; chmod 600 "$TMP/priv.gguf"
llm-quant -q --no-provenance -t q8_0 -o "$TMP/priv.gguf" "$TMP/m.gguf"
if cmp -s "$TMP/priv.gguf" "$TMP/ref.gguf" && [ "$(stat -c %a "$TMP/priv.gguf")" = 600 ]; then
	ok quant_output_keeps_mode
else
	fail quant_output_keeps_mode "$(stat -c %a "$TMP/priv.gguf")"
fi
echo old >"$TMP/target.gguf"; ln -s target.gguf "$TMP/link.gguf"
llm-quant -q --no-provenance -t q8_0 -o "$TMP/link.gguf" "$TMP/m.gguf"
if [ -L "$TMP/link.gguf" ] && cmp -s "$TMP/target.gguf" "$TMP/ref.gguf"; then
	ok quant_output_through_symlink
else
	fail quant_output_through_symlink "$(ls -l "$TMP/link.gguf" "$TMP/target.gguf")"
fi
ln -s newtarget.gguf "$TMP/dangling.gguf"
llm-quant -q --no-provenance -t q8_0 -o "$TMP/dangling.gguf" "$TMP/m.gguf"
if [ -L "$TMP/dangling.gguf" ] && cmp -s "$TMP/newtarget.gguf" "$TMP/ref.gguf"; then
	ok quant_output_dangling_symlink
else
	fail quant_output_dangling_symlink "$(ls -l "$TMP/dangling.gguf" "$TMP/newtarget.gguf" 2>&1)"
fi
mkfifo "$TMP/fifo" && {
	cat "$TMP/fifo" >"$TMP/from_fifo" &
	llm-quant -q --no-provenance -t q8_0 -o "$TMP/fifo" "$TMP/m.gguf"
	wait
	if [ -p "$TMP/fifo" ] && cmp -s "$TMP/from_fifo" "$TMP/ref.gguf"; then
		ok quant_output_fifo
	else
		fail quant_output_fifo "$(ls -l "$TMP/fifo")"
	fi
}
# a report that names the output another way, or the input: usage errors,
# the input untouched (it once held the TSV afterwards)
cp "$TMP/m.gguf" "$TMP/keep.gguf"
check_status 2 quant_report_is_output_other_spelling llm-quant -q -t q8_0 --report "$TMP/./rr.gguf" -o "$TMP/rr.gguf" "$TMP/m.gguf"
check_status 2 quant_report_is_input llm-quant -q -t q8_0 --report "$TMP/../$(basename "$TMP")/m.gguf" -o "$TMP/rr.gguf" "$TMP/m.gguf"
if cmp -s "$TMP/m.gguf" "$TMP/keep.gguf" && [ ! -e "$TMP/rr.gguf" ]; then ok quant_report_input_untouched; else fail quant_report_input_untouched "input changed or output written"; fi
# -o may replace the input itself (sort -o), not another shard of its set;
# --report names no shard either
cp "$TMP/m.gguf" "$TMP/inplace.gguf"
llm-quant -q -t q8_0 -o "$TMP/inplace.gguf" "$TMP/inplace.gguf" &&
	[ "$(llm-info --json "$TMP/inplace.gguf" | grep -c '"q8_0"')" -gt 0 ] &&
	ok quant_output_replaces_input || fail quant_output_replaces_input "not replaced by the q8_0 file"
mkdir "$TMP/sp" && llm-quant -q --split-max-tensors 4 -o "$TMP/sp/s.gguf" "$TMP/m.gguf"
first=$(ls "$TMP/sp" | head -n 1) second=$(ls "$TMP/sp" | sed -n 2p)
cp -r "$TMP/sp" "$TMP/sp_keep"
check_status 2 quant_output_other_shard llm-quant -q -o "$TMP/sp/$second" "$TMP/sp/$first"
check_status 2 quant_output_shard_itself llm-quant -q -o "$TMP/sp/$first" "$TMP/sp/$first"
check_status 2 quant_report_other_shard llm-quant -q --report "$TMP/sp/$second" -o "$TMP/sp.gguf" "$TMP/sp/$first"
diff -r "$TMP/sp" "$TMP/sp_keep" >/dev/null && ok quant_shards_untouched || fail quant_shards_untouched "a shard changed"
# a read-only file is not replaced (as cp and > refuse it); run as nobody
# where the tests run as root, who may write any file
mkdir "$TMP/ro" && chmod 1777 "$TMP/ro" "$TMP" 2>/dev/null
cp "$TMP/m.gguf" "$TMP/ro/in.gguf" && chmod 644 "$TMP/ro/in.gguf"
echo old >"$TMP/ro/locked.gguf" && chmod 444 "$TMP/ro/locked.gguf"
if [ "$(id -u)" != 0 ]; then
	check_status 1 quant_readonly_output llm-quant -q -o "$TMP/ro/locked.gguf" "$TMP/ro/in.gguf"
elif command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	check_status 1 quant_readonly_output setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$(command -v llm-quant)" -q -o "$TMP/ro/locked.gguf" "$TMP/ro/in.gguf"
	grep -q 'a read-only file is not replaced' "$TMP/.err" && ok quant_readonly_output_says_why ||
		fail quant_readonly_output_says_why "$(cat "$TMP/.err")"
	chmod 666 "$TMP/ro/locked.gguf"
	check_status 1 quant_sticky_dir_other_users_file setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$(command -v llm-quant)" -q -o "$TMP/ro/locked.gguf" "$TMP/ro/in.gguf"
	grep -q 'sticky directory' "$TMP/.err" && ok quant_sticky_dir_says_why || fail quant_sticky_dir_says_why "$(cat "$TMP/.err")"
else
	skip quant_readonly_output "root, and no setpriv to run as another user"
fi
[ "$(cat "$TMP/ro/locked.gguf")" = old ] && ok quant_readonly_output_untouched || fail quant_readonly_output_untouched "replaced"
chmod 700 "$TMP" 2>/dev/null
# a report reader that has gone (a pipe whose read end is closed): exit
# 141 as a pipeline expects, and no temporary output left behind
mkdir "$TMP/pipe"
if command -v python3 >/dev/null; then
	python3 - "$(command -v llm-quant)" "$TMP/pipe/q.gguf" "$TMP/m.gguf" >"$TMP/.out" 2>&1 <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run([sys.argv[1], "-q", "--report", "-", "-o", sys.argv[2], sys.argv[3]], stdout=w)
print(p.returncode)
PY
	if [ "$(cat "$TMP/.out")" = -13 ] && [ -z "$(ls -A "$TMP/pipe")" ]; then
		ok quant_report_reader_gone_no_partial_output
	else
		fail quant_report_reader_gone_no_partial_output "status $(cat "$TMP/.out"), left: $(ls -A "$TMP/pipe")"
	fi
else
	skip quant_report_reader_gone_no_partial_output "no python3"
fi
# a value beyond f16's range (and a q8_0 block scale that overflows)
# would be written as inf: refused, naming the tensor and the type, no
# output (the report's inf/-inf columns are test_types' to check)
if command -v python3 >/dev/null; then
	python3 - "$TMP/ovf.gguf" <<'PY'
import struct, sys
sys.path.insert(0, "tests")
from gguf_write import gguf, kv_str, tinfo
v = [((i * 37) % 19 - 9) / 7.0 for i in range(256)]
v[67] = 1e7
open(sys.argv[1], 'wb').write(gguf([kv_str('general.architecture', 'llama')], [tinfo('w.weight', [64, 4], 0, 0)],
                                   struct.pack('<256f', *v)))
PY
	for t in f16 q8_0 q4_0; do
		llm-quant -q -t $t --report - -o "$TMP/ovf_$t.gguf" "$TMP/ovf.gguf" >"$TMP/ovf.out" 2>"$TMP/ovf.err"
		rc=$?
		if [ "$rc" -eq 1 ] && [ ! -e "$TMP/ovf_$t.gguf" ] && [ ! -s "$TMP/ovf.out" ] &&
			grep -q "ovf.gguf: tensor w.weight: a value of magnitude 1e+07 becomes inf in $t" "$TMP/ovf.err"; then
			ok "quant_overflow_refused_$t"
		else
			fail "quant_overflow_refused_$t" "exit $rc: $(cat "$TMP/ovf.err")"
		fi
	done
	# bf16 holds it (f32's range)
	check quant_overflow_bf16_fits llm-quant -q -t bf16 -o "$TMP/ovf_bf16.gguf" "$TMP/ovf.gguf"
else
	skip quant_report_overflow "no python3"
fi
# an output name of 250 bytes (the temporary beside it adds 8: cut there)
long=$(printf '%0250d' 0)
check quant_output_name_250_bytes llm-quant -q -t q8_0 -o "$TMP/$long" "$TMP/m.gguf"
rm -f "$TMP/$long"
# a report that cannot be written fails before the output exists
check_status 1 quant_report_cannot_create llm-quant -q -t q8_0 --report "$TMP/nodir/r.tsv" -o "$TMP/rep.gguf" "$TMP/m.gguf"
if [ ! -e "$TMP/rep.gguf" ] && ! ls -A "$TMP" | grep -q '^\.rep\.gguf\.'; then ok quant_report_failure_no_output; else fail quant_report_failure_no_output "$(ls -A "$TMP")"; fi
# a report that cannot be written after the work (a full disk): the GGUF
# is given up too, one line, exit 1
if [ -c /dev/full ]; then
	llm-quant -q -t q8_0 --report /dev/full -o "$TMP/full.gguf" "$TMP/m.gguf" 2>"$TMP/full.err"
	got="$? $(wc -l <"$TMP/full.err") $([ -e "$TMP/full.gguf" ] && echo written) $(ls -A "$TMP" | grep -c '^\.full\.gguf\.')"
	if [ "$got" = "1 1  0" ]; then ok quant_report_full_disk; else fail quant_report_full_disk "status, lines, output, temporaries: $got"; fi
	if grep -q "/dev/full: write error" "$TMP/full.err"; then ok quant_report_full_disk_says; else fail quant_report_full_disk_says "$(cat "$TMP/full.err")"; fi
fi
mkdir "$TMP/adir"
check_status 1 quant_output_directory llm-quant -q -t q8_0 -o "$TMP/adir" "$TMP/m.gguf"
check_status 2 quant_output_empty_name llm-quant -q -t q8_0 -o '' "$TMP/m.gguf"
check_status 1 quant_output_trailing_slash llm-quant -q -t q8_0 -o "$TMP/newdir/" "$TMP/m.gguf"
grep -q 'newdir/: names a directory' "$TMP/.err" && ok quant_output_trailing_slash_says || fail quant_output_trailing_slash_says "$(cat "$TMP/.err")"
check_status 2 quant_split_size_zero llm-quant -q --split-max-size 0 -o "$TMP/z.gguf" "$TMP/m.gguf"
check_status 2 quant_threads_leading_space llm-quant -q -j ' 2' -o "$TMP/z.gguf" "$TMP/m.gguf"
# an output that cannot be written fails before any input is read (or
# hashed, which took 21 s on a 4.4 GB input): with a damaged input too, the
# one line is about the output; so for llm-svd-delta and llm-lora-merge
for c in "llm-quant -q -t q8_0" "llm-svd-delta -q -r 2" "llm-lora-merge -q"; do
	set -- $c
	n=quant_output_checked_first_${1#llm-}
	case $1 in llm-quant) set -- "$@" "$TMP/trunc.gguf" ;; *) set -- "$@" "$TMP/trunc.gguf" "$TMP/trunc.gguf" ;; esac
	"$@" -o "$TMP/nodir/o.gguf" >/dev/null 2>"$TMP/first.err"
	got="$? $(wc -l <"$TMP/first.err")"
	if [ "$got" = "1 1" ] && grep -q "nodir/o.gguf: cannot create" "$TMP/first.err"; then ok "$n"; else
		fail "$n" "status, lines $got: $(cat "$TMP/first.err")"; fi
done
if have_vocab; then # another model's vocabulary: 50257 tokens for 512 embedding rows
	check_status 1 quant_tokenizer_too_large llm-quant -q -t q8_0 --tokenizer "$VOCAB/ggml-vocab-gpt-2.gguf" -o "$TMP/tk.gguf" "$TMP/m.gguf"
	[ ! -e "$TMP/tk.gguf" ] && grep -q "50257 tokens for a model of 512" "$TMP/.err" && ok quant_tokenizer_too_large_message ||
		fail quant_tokenizer_too_large_message "$(cat "$TMP/.err")"
fi
check_status 2 quant_bad_type llm-quant -t q3_x "$TMP/m.gguf"
check_status 2 quant_no_input llm-quant -t q8_0
check_status 1 quant_missing_input llm-quant -t q8_0 -o "$TMP/x.gguf" "$TMP/nope.gguf"
cksum "$TMP/m.gguf" >"$TMP/sum1"
llm-quant -q -t q4_0 -o "$TMP/m2.gguf" "$TMP/m.gguf"
cksum "$TMP/m.gguf" | cmp -s - "$TMP/sum1" && ok quant_input_untouched || fail quant_input_untouched "input changed"

# bounded memory: converting a model of ~150 MB whose largest tensor is ~8 MB
# must not hold the model: peak RSS well under the model size
if have_numpy; then
	$MK "$TMP/big.gguf" 1024 8 8 8 2048 4096 128 9
	if "$PYTHON" - "$TMP" <<'PY' >"$TMP/py" 2>&1
import os, resource, subprocess, sys
d = sys.argv[1]
size = os.path.getsize(d + "/big.gguf")
subprocess.run(["bin/llm-quant", "-q", "-t", "q8_0", "-o", d + "/big.q8.gguf", d + "/big.gguf"], check=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
# mapped input pages count towards RSS as they are touched; what must not
# happen is holding all of it plus its conversion: bound at 1/2 of the model
print("model", size, "peak", peak)
assert peak < size / 2, (peak, size)
PY
	then ok "quant_bounded_memory ($(tail -1 "$TMP/py"))"; else fail quant_bounded_memory "$(tail -5 "$TMP/py" | tr "\n" " ")"; fi
fi

# acceptance: llm-quant -t f32 of the llama2.c (with tok512.bin) and the
# Hugging Face forms of stories260K give stories260K.gguf's tensors (names,
# order, shapes, bytes; the tied embedding written out as output.weight, as
# the GGUF holds it) and its vocabulary; the GGUF itself round-trips with
# identical tensors and metadata (plus provenance)
if have_models && have_numpy; then
	llm-quant -q -t f32 --tokenizer "$MODELS/tok512.bin" -o "$TMP/from_bin.gguf" "$MODELS/stories260K.bin" &&
		llm-quant -q -t f32 --tokenizer "$MODELS/stories260K.gguf" -o "$TMP/from_hf.gguf" "$MODELS/stories260K-hf" &&
		llm-quant -q -t f32 -o "$TMP/from_gguf.gguf" "$MODELS/stories260K.gguf"
	if "$PYTHON" - "$MODELS/stories260K.gguf" "$TMP" <<'PY' >"$TMP/py" 2>&1
import sys
sys.path.insert(0, "tests")
import gguf_ref
ref = gguf_ref.read(sys.argv[1])
for f, meta_ok in [("from_bin", {"llama.context_length"}), ("from_hf", {"llama.context_length", "general.name"}), ("from_gguf", set())]:
    g = gguf_ref.read(sys.argv[2] + "/" + f + ".gguf")
    assert [(t["name"], t["shape"], t["type"], t["data"]) for t in g["tensors"]] == \
        [(t["name"], t["shape"], t["type"], t["data"]) for t in ref["tensors"]], f
    diff = {k for k, v in ref["metadata"].items() if g["metadata"].get(k) != v}
    assert diff <= meta_ok, (f, diff)
    extra = {k for k in g["metadata"] if k not in ref["metadata"] and not k.startswith("provenance.")}
    if f == "from_gguf":
        assert extra == {"general.quantization_version", "general.file_type"}, extra
print("ok")
PY
	then ok quant_f32_three_forms_identical; else fail quant_f32_three_forms_identical "$(tail -3 "$TMP/py" | tr '\n' ' ')"; fi
else
	skip quant_f32_three_forms_identical "../shared/models or numpy absent"
fi

# --vocab-only: the metadata and vocabulary, no tensors (llama.cpp's
# ggml-vocab-*.gguf, convert_hf_to_gguf.py --vocab-only): every key of the
# input kept, the same ids from llm-run --tokenize; a checkpoint without a
# vocabulary refused with one line and no output; no options that write tensors
if llm-quant -q --vocab-only -o "$TMP/voc.gguf" "$TMP/m.gguf" 2>"$TMP/err" &&
	llm-info "$TMP/voc.gguf" >"$TMP/voc.info" 2>>"$TMP/err" &&
	grep -q '^tensors:  0$' "$TMP/voc.info" &&
	[ "$(llm-run --tokenize -p 'a b  c' "$TMP/voc.gguf")" = "$(llm-run --tokenize -p 'a b  c' "$TMP/m.gguf")" ]; then
	ok quant_vocab_only
else
	fail quant_vocab_only "$(cat "$TMP/err") $(grep tensors "$TMP/voc.info")"
fi
if have_numpy; then
	if "$PYTHON" - "$TMP/m.gguf" "$TMP/voc.gguf" <<'PY' >"$TMP/py" 2>&1
import sys
sys.path.insert(0, "tests")
import gguf_ref
a, b = gguf_ref.read(sys.argv[1]), gguf_ref.read(sys.argv[2])
assert b["tensors"] == [], b["tensors"]
lost = {k for k, v in a["metadata"].items() if not k.startswith("provenance.") and b["metadata"].get(k) != v}
assert lost <= {"general.file_type"}, lost
print("ok")
PY
	then ok quant_vocab_only_keys; else fail quant_vocab_only_keys "$(tail -3 "$TMP/py" | tr '\n' ' ')"; fi
else
	skip quant_vocab_only_keys "python3 with numpy is absent"
fi
if have_models; then
	llm-quant --vocab-only -o "$TMP/voc2.gguf" "$MODELS/stories260K.bin" 2>"$TMP/err"
	rc=$?
	if [ $rc -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q 'stories260K.bin: no vocabulary' "$TMP/err" &&
		[ ! -e "$TMP/voc2.gguf" ]; then
		ok quant_vocab_only_needs_vocabulary
	else
		fail quant_vocab_only_needs_vocabulary "exit $rc: $(cat "$TMP/err")"
	fi
	if llm-quant -q --vocab-only --tokenizer "$MODELS/tok512.bin" -o "$TMP/voc2.gguf" "$MODELS/stories260K.bin" &&
		[ "$(llm-run --tokenize -p 'Once upon a time' "$TMP/voc2.gguf")" = \
			"$(llm-run --tokenize -p 'Once upon a time' "$MODELS/stories260K.gguf")" ]; then
		ok quant_vocab_only_from_llama2c
	else
		fail quant_vocab_only_from_llama2c "tokens differ"
	fi
else
	skip quant_vocab_only_needs_vocabulary "../shared/models absent"
	skip quant_vocab_only_from_llama2c "../shared/models absent"
fi
for o in --merge "--report $TMP/r.tsv" "--split-max-tensors 2" --shard; do
	# shellcheck disable=SC2086 # o is an option and its argument
	check_status 2 "quant_vocab_only_refuses_${o%% *}" llm-quant --vocab-only $o -o "$TMP/voc3.gguf" "$TMP/m.gguf"
done
