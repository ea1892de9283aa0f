#!/bin/sh
# make check-tokenizers: llm-run --tokenize against two tokenizers written
# independently of this project and of llama.cpp, from the npm registry
# (pinned): gpt-tokenizer (GPT-2's BPE and regex) and llama-tokenizer-js
# (LLaMA's SentencePiece), on random strings (tokdiff/strings.cjs) through
# ../shared/vocab's gpt-2, llama-spm and phi-3 vocabularies (phi-3's is
# LLaMA's plus chat tokens).  Needs node and npm with the registry in reach;
# not part of make check, whose machine has no network.
#   TOKDIFF_N strings (default 1000), TOKDIFF_SEED (default 1)
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
W=build/tokdiff
N=${TOKDIFF_N:-1000} SEED=${TOKDIFF_SEED:-1}
run_all() {
if ! have_vocab; then
	skip tokdiff "../shared/vocab is absent"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	skip tokdiff "no node and npm"
else
	mkdir -p "$W" && cp tests/tokdiff/strings.cjs tests/tokdiff/encode.mjs "$W"/
	# a package.json of its own, or npm would install into a parent's
	[ -f "$W/package.json" ] || echo '{ "private": true }' >"$W/package.json"
	if [ ! -d "$W/node_modules/llama-tokenizer-js" ] &&
		! (cd "$W" && npm install --no-save --no-audit --no-fund gpt-tokenizer@4.0.0 llama-tokenizer-js@1.2.2 >npm.log 2>&1); then
		skip tokdiff "npm install failed: $(tail -n 1 "$W/npm.log")"
	else
		if ! (cd "$W" && node strings.cjs "$SEED" "$N" >strings.json && node encode.mjs <strings.json >want.json); then
			fail tokdiff_reference "the JavaScript tokenizers failed"
			return
		fi
		for v in gpt-2:gpt-2 llama-spm:llama-spm phi-3:llama-spm; do
			python3 - "$W/strings.json" "$W/want.json" "$VOCAB/ggml-vocab-${v%%:*}.gguf" "${v#*:}" "${v%%:*}" <<'PY' ||
import json, subprocess, sys
strs, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))[sys.argv[4]]
bad = []
for s, w in zip(strs, want):
    r = subprocess.run(["llm-run", "--tokenize", "--no-bos", "-p", s, sys.argv[3]],
                       capture_output=True, text=True)
    if r.returncode or [int(t) for t in r.stdout.split()] != w:
        bad.append("%r: %s, want %s" % (s, r.stdout.strip() or r.stderr.strip(), w))
name = "tokdiff_" + sys.argv[5]
if bad:
    print("not ok %s: %d of %d strings differ; first %s" % (name, len(bad), len(strs), bad[0]))
else:
    print("ok %s (%d strings)" % (name, len(strs)))
PY
				fail "tokdiff_${v%%:*}" "the comparison did not run"
		done
	fi
fi
}
run_all | tee "$TMP/res"
p=$(grep -c '^ok ' "$TMP/res") f=$(grep -c '^not ok ' "$TMP/res") s=$(grep -c '^skip ' "$TMP/res")
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
