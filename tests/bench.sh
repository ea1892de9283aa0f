#!/bin/sh
# make bench: the standard benchmark set.
#   1. kernels: memory bandwidth, sgemm, mat-vec per weight type, attention
#      naive vs flash, quantize/dequantize (llm-bench --kernels)
#   2. stories260K (../shared/models/stories260K.gguf) when present
#   3. a generated ~106M-parameter llama (dim 768, 8 layers, 12 heads, ff
#      2048, vocab 32000) in F32, Q8_0 and Q4_0
# Rows go to bench/bench-<UTC time>.json (one JSON array) and bench/latest.json;
# the generated models stay in build/bench/ for the next run.  A markdown
# summary goes to stdout.  BENCH_REPS, BENCH_THREADS and BENCH_MEM_SIZE
# override the defaults (3 repetitions; 1 and all online CPUs; 4 x LLC).
cd "$(dirname "$0")/.." || exit 2
BIN=${BIN:-$PWD/bin}
TESTDIR=${TESTDIR:-build/tests}
OUT=${BENCH_OUT:-bench}
WORK=build/bench
SHARED=${LLM_SHARED:-../shared}
REPS=${BENCH_REPS:-3}
N=$(nproc 2>/dev/null || echo 1)
THREADS=${BENCH_THREADS:-$([ "$N" -gt 1 ] && echo "1,$N" || echo 1)}
MEM=${BENCH_MEM_SIZE:+--mem-size $BENCH_MEM_SIZE}
PATH=$BIN:$PATH
set -e
mkdir -p "$OUT" "$WORK"
rows=$WORK/rows.jsonl
: >"$rows"
say() { echo "bench: $*" >&2; }

say "kernels (threads $THREADS, $REPS repetitions)"
# shellcheck disable=SC2086
llm-bench --kernels -t "$THREADS" -r "$REPS" $MEM -o jsonl >>"$rows"

if [ -f "$SHARED/models/stories260K.gguf" ]; then
	say "stories260K"
	llm-bench -m "$SHARED/models/stories260K.gguf" -p 64,256 -n 32,128 -t "$THREADS" -r 5 \
		-o jsonl >>"$rows"
else
	say "skipping stories260K: $SHARED/models/stories260K.gguf is absent"
fi

M=$WORK/gen106M
if [ ! -s "$M.f32.gguf" ]; then
	say "generating $M.f32.gguf"
	"$TESTDIR/tool_mkmodel" "$M.f32.gguf.tmp" 768 8 12 12 2048 32000 1024 1 >/dev/null
	mv "$M.f32.gguf.tmp" "$M.f32.gguf"
fi
for t in q8_0 q4_0; do
	if [ ! -s "$M.$t.gguf" ] || [ "$M.f32.gguf" -nt "$M.$t.gguf" ]; then
		say "quantizing to $t"
		llm-quant -q -t "$t" -o "$M.$t.gguf" "$M.f32.gguf"
	fi
done
say "generated model in f32, q8_0, q4_0"
llm-bench -m "$M.f32.gguf,$M.q8_0.gguf,$M.q4_0.gguf" -p 128 -n 32 -t "$THREADS" -r "$REPS" \
	-o jsonl >>"$rows"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
{ echo '['; sed '$!s/$/,/' "$rows"; echo ']'; } >"$OUT/.bench-$stamp.json.tmp"
mv "$OUT/.bench-$stamp.json.tmp" "$OUT/bench-$stamp.json"
cp "$OUT/bench-$stamp.json" "$OUT/latest.json"
say "wrote $OUT/bench-$stamp.json ($(wc -l <"$rows") rows) and $OUT/latest.json"

# a readable summary (python3's json module only)
if command -v python3 >/dev/null; then
	python3 - "$OUT/latest.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
print("| kernel | param | threads | metric | value | unit |\n|---|---|--:|---|--:|---|")
for r in rows:
    if r["bench"] == "kernel":
        print(f"| {r['kernel']} | {r['param']} | {r['n_threads']} | {r['metric']} | {r['value']:.4g} | {r['unit']} |")
print("\n| model | file | threads | test | t/s |\n|---|---|--:|---|--:|")
for r in rows:
    if r["bench"] == "model":
        f = r["model_filename"].rsplit("/", 1)[-1]
        print(f"| {r['model_type']} | {f} | {r['n_threads']} | {r['test']} | {r['avg_ts']:.2f} ± {r['stddev_ts']:.2f} |")
EOF
fi
