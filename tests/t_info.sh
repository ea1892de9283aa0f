#!/bin/sh
# llm-info against an independent Python GGUF reader (tests/gguf_ref.py).
. tests/lib.sh

if ! have_models; then
	skip info_stories "../shared/models is absent"
else
	if llm-info --json "$MODELS/stories260K.gguf" >"$TMP/info.json" 2>"$TMP/err"; then
		ok info_json_runs
	else
		fail info_json_runs "$(cat "$TMP/err")"
	fi
	if [ -z "$PYTHON" ]; then
		skip info_json_matches "no python3"
	else
		if "$PYTHON" - "$MODELS/stories260K.gguf" "$TMP/info.json" <<'PY' >"$TMP/py" 2>&1
import json, math, sys
sys.path.insert(0, "tests")
import gguf_ref
ref = gguf_ref.read(sys.argv[1])
got = json.load(open(sys.argv[2]))
assert got["format"] == "gguf" and got["version"] == ref["version"]
assert list(got["metadata"]) == list(ref["metadata"]), "key order"
for k, v in ref["metadata"].items():
    g = got["metadata"][k]
    if isinstance(v, float):
        assert math.isclose(g, v, rel_tol=1e-6), k
    elif isinstance(v, list) and v and isinstance(v[0], float):
        assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30) for a, b in zip(g, v)) and len(g) == len(v), k
    else:
        assert g == v, (k, g, v)
assert len(got["tensors"]) == len(ref["tensors"])
np_ = 0
for g, r in zip(got["tensors"], ref["tensors"]):
    assert g["name"] == r["name"] and g["type"] == r["type_name"] and g["shape"] == r["shape"], g
    assert g["offset"] == r["offset"] and g["size"] == r["size"], g
    n = 1
    for d in r["shape"]:
        n *= d
    np_ += n
assert got["n_params"] == np_ and got["n_bytes"] == sum(t["size"] for t in ref["tensors"])
print("checked", len(ref["metadata"]), "keys", len(ref["tensors"]), "tensors")
PY
		then ok info_json_matches_python_reader; else fail info_json_matches_python_reader "$(tail -3 "$TMP/py")"; fi
	fi
	llm-info "$MODELS/stories260K.gguf" >"$TMP/info.txt" 2>&1
	if grep -q '^format:   gguf v3' "$TMP/info.txt" && grep -q 'tokenizer.ggml.tokens .*more)' "$TMP/info.txt" &&
		grep -q '^params:   ' "$TMP/info.txt"; then ok info_text; else fail info_text "unexpected text output"; fi
	# short options do what their long forms do
	llm-info -j "$MODELS/stories260K.gguf" >"$TMP/info_j.json" 2>&1
	llm-info -a "$MODELS/stories260K.gguf" >"$TMP/info_a.txt" 2>&1
	llm-info --full "$MODELS/stories260K.gguf" >"$TMP/info_full.txt" 2>&1
	if cmp -s "$TMP/info.json" "$TMP/info_j.json" && cmp -s "$TMP/info_a.txt" "$TMP/info_full.txt" &&
		! cmp -s "$TMP/info_a.txt" "$TMP/info.txt"; then
		ok info_short_options
	else
		fail info_short_options "-j or -a differ from --json or --full"
	fi
	# stdin, from a pipe
	if cat "$MODELS/stories260K.gguf" | llm-info --json - >"$TMP/info2.json" 2>"$TMP/err" &&
		[ "$(grep -v '"file"' "$TMP/info.json" | cksum)" = "$(grep -v '"file"' "$TMP/info2.json" | cksum)" ]; then
		ok info_stdin_pipe
	else
		fail info_stdin_pipe "$(cat "$TMP/err")"
	fi
	# a key, a string value and a tensor name that are not UTF-8: --json
	# still writes valid JSON, each stray byte as U+FFFD
	if [ -z "$PYTHON" ]; then
		skip info_json_not_utf8 "no python3"
	elif "$PYTHON" - "$MODELS/stories260K.gguf" "$TMP/bad8.gguf" <<'PY' &&
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for s, i, b in ((b"<unk>", 1, 0xFF), (b"general.architecture", 3, 0xFE), (b"blk.0.attn_q.weight", 2, 0xC0)):
    d[d.find(s) + i] = b
open(sys.argv[2], "wb").write(d)
PY
		llm-info --json "$TMP/bad8.gguf" >"$TMP/bad8.json" 2>"$TMP/err" &&
		"$PYTHON" - "$TMP/bad8.json" <<'PY' 2>>"$TMP/err"
import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
m = j["metadata"]
assert m["tokenizer.ggml.tokens"][0] == "<\ufffdnk>" and m["gen\ufffdral.architecture"] == "llama"
assert any(t["name"] == "bl\ufffd.0.attn_q.weight" for t in j["tensors"])
PY
	then
		ok info_json_not_utf8
	else
		fail info_json_not_utf8 "$(head -c 300 "$TMP/err")"
	fi
	# control bytes in a key and a tensor name: the text form writes them
	# \xNN (no escape sequence reaches the terminal, no line is split)
	if [ -n "$PYTHON" ] && "$PYTHON" - "$MODELS/stories260K.gguf" "$TMP/ctl.gguf" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for s, i, b in ((b"general.architecture", 3, 0x1B), (b"blk.0.attn_q.weight", 2, 0x0A)):
    d[d.find(s) + i] = b
open(sys.argv[2], "wb").write(d)
PY
	then
		llm-info "$TMP/ctl.gguf" >"$TMP/ctl.txt" 2>"$TMP/err"
		if grep -q 'gen\\x1bral\.architecture  *str  = "llama"' "$TMP/ctl.txt" &&
			grep -q '^  bl\\x0a\.0\.attn_q\.weight  *f32 ' "$TMP/ctl.txt" &&
			! grep -q "$(printf '\033')" "$TMP/ctl.txt" &&
			[ "$(wc -l <"$TMP/ctl.txt")" -eq "$(llm-info "$MODELS/stories260K.gguf" | wc -l)" ]; then
			ok info_text_control_bytes
		else
			fail info_text_control_bytes "$(grep -n 'ral.arch\|attn_q' "$TMP/ctl.txt" | head -3 | tr '\n' ' ') $(cat "$TMP/err")"
		fi
	else
		skip info_text_control_bytes "no python3"
	fi
	# a u64 above 2^63 - 1: a JSON real near it, not a negative integer;
	# the text form exact
	if python3 - "$TMP/u64.gguf" <<'PY'
import struct, sys
def s(x): return struct.pack("<Q", len(x)) + x
out = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + s(b"a.u64") + struct.pack("<IQ", 10, 2**64 - 1)
open(sys.argv[1], "wb").write(out + b"\0" * (-len(out) % 32))
PY
	then
		if llm-info --json "$TMP/u64.gguf" | python3 -c 'import json, sys; v = json.load(sys.stdin)["metadata"]["a.u64"]; assert abs(v - 2.0**64) < 2.0**12, v' 2>"$TMP/err" &&
			llm-info "$TMP/u64.gguf" | grep -q 'a.u64 *u64 *= 18446744073709551615$'; then
			ok info_u64_above_int64
		else
			fail info_u64_above_int64 "$(cat "$TMP/err")"
		fi
	fi
fi

# general.file_type by llama.cpp's name: a Q4_K_M mix (15) and a Q4_K file (14)
for ft in "q4_K_m 15 Q4_K - Medium" "q4_K 14 Q4_K - Small"; do
	set -- $ft
	want="ftype:    $3 $4 $5 (general.file_type $2)"
	if "${TESTDIR:-build/tests}/tool_mkmodel" "$TMP/$1.gguf" 256 1 4 2 512 512 64 1 0 "$1" >/dev/null 2>"$TMP/err" &&
		llm-info "$TMP/$1.gguf" >"$TMP/ft.txt" 2>>"$TMP/err" && grep -qx "$want" "$TMP/ft.txt" &&
		llm-info --json "$TMP/$1.gguf" | grep -q "\"file_type_name\": \"$3 $4 $5\""; then
		ok "info_file_type_$1"
	else
		fail "info_file_type_$1" "$(grep ftype "$TMP/ft.txt") $(head -c 200 "$TMP/err")"
	fi
done

# bad input: one line on stderr, exit 1; usage: exit 2
printf 'GGUF\003\000\000\000' >"$TMP/trunc.gguf"
check_status 1 info_truncated llm-info "$TMP/trunc.gguf"
if [ "$(wc -l <"$TMP/.err")" -eq 1 ] && grep -q "trunc.gguf" "$TMP/.err"; then ok info_truncated_one_line; else fail info_truncated_one_line "$(cat "$TMP/.err")"; fi
check_status 1 info_missing llm-info "$TMP/nonexistent.gguf"
check_status 2 info_usage llm-info
check_status 2 info_bad_option llm-info --bogus x
check_status 0 info_help llm-info --help
check_status 0 info_version llm-info --version

# several files, as ls or head take them: in turn (text: a blank line
# between; JSON: one document each), a bad one reported and skipped, exit 1
MK=${TESTDIR:-build/tests}/tool_mkmodel
"$MK" "$TMP/m1.gguf" 64 1 4 2 128 512 32 1 >/dev/null 2>&1
"$MK" "$TMP/m2.gguf" 64 2 4 2 128 512 32 2 >/dev/null 2>&1
llm-info "$TMP/m1.gguf" >"$TMP/one1.txt"
llm-info "$TMP/m2.gguf" >"$TMP/one2.txt"
{ cat "$TMP/one1.txt"; echo; cat "$TMP/one2.txt"; } >"$TMP/two.want"
llm-info "$TMP/m1.gguf" "$TMP/m2.gguf" >"$TMP/two.txt" 2>"$TMP/err"
if [ $? -eq 0 ] && cmp -s "$TMP/two.txt" "$TMP/two.want"; then ok info_several_files; else
	fail info_several_files "$(diff "$TMP/two.want" "$TMP/two.txt" | head -5) $(cat "$TMP/err")"; fi
llm-info "$TMP/m1.gguf" "$TMP/trunc.gguf" "$TMP/m2.gguf" >"$TMP/three.txt" 2>"$TMP/err"
rc=$?
if [ $rc -eq 1 ] && cmp -s "$TMP/three.txt" "$TMP/two.want" && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
	grep -q "trunc.gguf" "$TMP/err"; then
	ok info_several_one_bad
else
	fail info_several_one_bad "exit $rc: $(cat "$TMP/err")"
fi
if [ -n "$PYTHON" ]; then
	expect info_several_json "$(llm-info -j "$TMP/m1.gguf" "$TMP/m2.gguf" | "$PYTHON" -c 'import json, sys
t = sys.stdin.read(); d = json.JSONDecoder(); i = 0; out = []
while t[i:].strip():
    o, i = d.raw_decode(t, len(t) - len(t[i:].lstrip()))
    out.append("%s:%d" % (o["file"].rsplit("/", 1)[1], o["metadata"]["llama.block_count"]))
print(" ".join(out))')" "m1.gguf:1 m2.gguf:2"
else
	skip info_several_json "no python3"
fi
check_status 2 info_stdin_twice llm-info - -
# a device is not read (a named pipe is, once): /dev/zero would fill $TMPDIR
if [ -c /dev/zero ]; then
	timeout 20 llm-info /dev/zero >/dev/null 2>"$TMP/zero.err"
	got="$? $(cat "$TMP/zero.err")"
	expect info_device_not_read "$got" "1 llm-info: /dev/zero: empty input"
fi
# ggml's types that nothing here decodes (IQ2_XXS .. MXFP4) are listed with
# their sizes, as gguf-dump lists them; converting them is refused
if command -v python3 >/dev/null; then
	python3 - "$TMP/iq.gguf" <<'PY'
import sys
sys.path.insert(0, "tests")
from gguf_write import gguf, kv_str, tinfo
# (name, ggml type id, shape, bytes): iq2_xxs 66 B / 256, iq1_m 56 / 256,
# tq2_0 66 / 256, mxfp4 17 / 32
tensors = [('a.weight', 16, [256, 2], 132), ('b.weight', 29, [512, 1], 112),
           ('c.weight', 35, [256, 1], 66), ('d.weight', 39, [64, 2], 68)]
tis, off = [], 0
for n, t, sh, sz in tensors:
    tis.append(tinfo(n, sh, t, off))
    off += (sz + 31) // 32 * 32
open(sys.argv[1], 'wb').write(gguf([kv_str('general.architecture', 'llama')], tis, b'\1' * off))
PY
	expect info_undecoded_types "$(llm-info "$TMP/iq.gguf" | awk '$1 ~ /weight$/ { printf "%s %s %s;", $1, $2, $NF }')" \
		"a.weight iq2_xxs 132;b.weight iq1_m 112;c.weight tq2_0 66;d.weight mxfp4 68;"
	check_status 1 quant_undecoded_type_refused llm-quant -t q8_0 -o "$TMP/iqq.gguf" "$TMP/iq.gguf"
	grep -q "cannot convert from iq2_xxs" "$TMP/.err" && ok quant_undecoded_type_says_which || fail quant_undecoded_type_says_which "$(cat "$TMP/.err")"
else
	skip info_undecoded_types "no python3"
fi
