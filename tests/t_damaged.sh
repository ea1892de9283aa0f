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
if ls -A "$TMP" | grep -q '^\..*gguf\.'; then fail damaged_no_temporaries "$(ls -A "$TMP")"; else ok damaged_no_temporaries; fi
