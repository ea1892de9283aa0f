#!/bin/sh
# A corpus of damaged GGUF files (tests/mk_damaged.py): each must give exit
# status 1 and one line on stderr naming the file, no crash, and no output
# file; the valid control must pass.  `make check-asan` runs this again with
# the commands built with -fsanitize=address,undefined.
. tests/lib.sh
if [ -z "$PYTHON" ] && ! command -v python3 >/dev/null; then
	skip damaged_corpus "no python3"
	exit 0
fi
mkdir -p "$TMP/c"
${PYTHON:-python3} tests/mk_damaged.py "$TMP/c" >"$TMP/names" || { fail damaged_corpus "mk_damaged.py failed"; exit 0; }
n=0
for name in $(cat "$TMP/names"); do
	f=$TMP/c/$name.gguf
	if [ "$name" = valid ]; then
		check valid_control_info llm-info "$f"
		check valid_control_quant llm-quant -q -t q8_0 -o "$TMP/valid.out.gguf" "$f"
		continue
	fi
	n=$((n + 1))
	for cmd in info quant; do
		rm -f "$TMP/out.gguf"
		if [ $cmd = info ]; then
			llm-info "$f" >"$TMP/out" 2>"$TMP/err"
		else
			llm-quant -t q8_0 -o "$TMP/out.gguf" "$f" >"$TMP/out" 2>"$TMP/err"
		fi
		rc=$?
		lines=$(wc -l <"$TMP/err")
		if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -q "$name.gguf" "$TMP/err" && [ ! -e "$TMP/out.gguf" ]; then
			ok "damaged_${name}_$cmd"
		else
			fail "damaged_${name}_$cmd" "exit $rc, $lines lines: $(head -c 300 "$TMP/err" | tr '\n' '|')"
		fi
	done
done
[ $n -ge 20 ] && ok "damaged_corpus_has_$n" || fail damaged_corpus_size "only $n files"

# general.alignment 1 (ggml reads it): F16 values at an odd address, 33 of
# them so that the SIMD rows have a tail; read and converted like any file
# (check-asan runs this with -fsanitize=undefined, which flags misaligned loads)
${PYTHON:-python3} - "$TMP/align1.gguf" <<'PY'
import struct, sys
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
kv = [s("general.architecture") + struct.pack("<I", 8) + s("llama"),
      s("general.alignment") + struct.pack("<II", 4, 1), s("odd") + struct.pack("<I", 8) + s("xy")]
ti = [s("a.weight") + struct.pack("<IQQIQ", 2, 33, 3, 1, 0)]
h = b"GGUF" + struct.pack("<Iqq", 3, len(ti), len(kv)) + b"".join(kv) + b"".join(ti)
assert len(h) % 2 == 1, "the data must start at an odd offset"
vals = [(i - 50) / 8 for i in range(99)]
open(sys.argv[1], "wb").write(h + struct.pack("<99e", *vals))
PY
check align1_info llm-info "$TMP/align1.gguf"
if llm-quant -q -t f32 -o "$TMP/align1.f32.gguf" "$TMP/align1.gguf" 2>"$TMP/err" &&
	${PYTHON:-python3} -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
got = struct.unpack("<99f", b[-99 * 4:])
assert list(got) == [(i - 50) / 8 for i in range(99)], got[:5]' "$TMP/align1.f32.gguf" 2>>"$TMP/err"; then
	ok align1_converted_exactly
else
	fail align1_converted_exactly "$(head -c 300 "$TMP/err")"
fi
if ls -A "$TMP" | grep -q '^\..*gguf\.'; then fail damaged_no_temporaries "$(ls -A "$TMP")"; else ok damaged_no_temporaries; fi
