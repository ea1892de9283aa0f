#!/bin/sh
# make demo: the toolbox end to end on a real model when ../shared/models is
# there, else on a small random llama model made by the project's own writer.
set -e
cd "$(dirname "$0")/.."
BIN=$PWD/bin
OUT=${DEMO_DIR:-build/demo}
mkdir -p "$OUT"
MODEL=../shared/models/stories260K.gguf
if [ ! -f "$MODEL" ]; then
	echo "demo: ../shared/models is absent: generating a random llama model" >&2
	MODEL=$OUT/random.gguf
	build/tests/tool_mkmodel "$MODEL" 128 4 8 2 352 512 512 1
fi
set -x
"$BIN/llm-info" "$MODEL" | head -n 30
"$BIN/llm-quant" -t q8_0 --report "$OUT/q8_0.tsv" -o "$OUT/model-q8_0.gguf" "$MODEL"
column -t -s "$(printf '\t')" "$OUT/q8_0.tsv" 2>/dev/null | head -n 12 || head -n 12 "$OUT/q8_0.tsv"
"$BIN/llm-quant" -t q4_0 -o - "$MODEL" | "$BIN/llm-info" - | tail -n 4
if [ -x "$BIN/llm-run" ]; then
	"$BIN/llm-run" --temp 0 -n 64 -p "Once upon a time" "$OUT/model-q8_0.gguf"
	echo
fi
