#!/bin/sh
# llm-bench: output formats and their fields (parsed with python3's json
# module), statistics recomputed from the samples, model size and parameter
# count against llm-info, the flash attention kernel's scratch memory, and
# bad input.  Timings are never asserted: only that they are positive numbers.
. tests/lib.sh
TESTDIR=${TESTDIR:-build/tests}
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null; then
	skip bench_all "no python3 to parse the JSON"
	exit 0
fi

# small, fast settings: caches instead of memory, tiny problems
K="--mem-size 4M --gemm-sizes 32,64 --seq-lens 64,256,1024 -r 2 -t 1"

# ---- a generated model: dim 64, 2 layers, 4 heads (2 KV heads), ff 128, vocab 512 ----
M=$TMP/m.gguf
if ! "$TESTDIR/tool_mkmodel" "$M" 64 2 4 2 128 512 256 3 >/dev/null 2>"$TMP/mk.err"; then
	fail make_model "$(head -c 200 "$TMP/mk.err")"
	exit 0
fi

# the type label as llama-bench's, from general.file_type (a Q4_K_M mix)
if "$TESTDIR/tool_mkmodel" "$TMP/k.gguf" 256 1 4 2 512 512 64 1 0 q4_K_m >/dev/null 2>"$TMP/mk.err" &&
	llm-bench -q -m "$TMP/k.gguf" -p 4 -n 0 -r 1 -t 1 -o csv >"$TMP/k.csv" 2>"$TMP/mk.err" &&
	grep -q ',llama [0-9.]*K Q4_K - Medium,' "$TMP/k.csv"; then
	ok model_type_file_type
else
	fail model_type_file_type "$(head -c 300 "$TMP/k.csv" "$TMP/mk.err")"
fi

# json: every field, types, statistics recomputed from the samples
check model_json llm-bench -m "$M" -p 16,32 -n 8 -r 3 -t 1 -o json
cp "$TMP/.out" "$TMP/m.json"
if "$PY" - "$TMP/m.json" "$M" >"$TMP/py.out" 2>&1 <<'EOF'
import json, math, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and len(rows) == 3, f"{len(rows)} rows, wanted 3 (pp16 pp32 tg8)"
assert [r["test"] for r in rows] == ["pp16", "pp32", "tg8"], [r["test"] for r in rows]
need = {"model_filename": str, "model_type": str, "model_size": int, "model_n_params": int,
        "n_threads": int, "n_prompt": int, "n_gen": int, "test": str, "avg_ts": float,
        "stddev_ts": float, "samples_ts": list, "tool": str, "tool_version": str,
        "build_commit": str, "cpu_model": str, "cpu_simd": str, "test_time": str}
for r in rows:
    for k, t in need.items():
        assert k in r, f"no {k}"
        assert isinstance(r[k], t), f"{k} is {type(r[k]).__name__}"
    for k in ("git_commit", "git_dirty"):
        assert k in r, f"no {k}"
    assert r["git_commit"] is None or len(r["git_commit"]) == 40, r["git_commit"]
    assert r["git_dirty"] is None or isinstance(r["git_dirty"], bool), r["git_dirty"]
    assert r["model_filename"] == sys.argv[2]
    assert r["n_threads"] == 1
    s = r["samples_ts"]
    assert len(s) == 3 and all(isinstance(x, float) and x > 0 for x in s), s
    mean = sum(s) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in s) / 2)
    assert abs(r["avg_ts"] - mean) <= 1e-6 * mean, (r["avg_ts"], mean)
    assert abs(r["stddev_ts"] - sd) <= 1e-6 * mean, (r["stddev_ts"], sd)
    assert (r["n_prompt"], r["n_gen"]) in ((16, 0), (32, 0), (0, 8))
    assert r["model_type"].startswith("llama ") and r["model_type"].endswith(" F32"), r["model_type"]
    assert isinstance(r["decode_bytes"], int) and 0 < r["decode_bytes"] <= r["model_size"], r["decode_bytes"]
    if r["n_gen"]:
        assert abs(r["weights_gbps"] - r["avg_ts"] * r["decode_bytes"] / 1e9) <= 1e-6 * r["weights_gbps"]
    else:
        assert r["weights_gbps"] is None
    # without --read-bw: no bandwidth next to the repetitions
    assert r["read_gbps"] is None and r["bw_fraction"] is None and r["samples_read_gbps"] == [], r
    assert r["read_peak_gbps"] is None and r["bw_fraction_peak"] is None and r["steal"] is None, r
EOF
then ok model_json_fields_and_stats; else fail model_json_fields_and_stats "$(tail -n 3 "$TMP/py.out" | tr '\n' ' ')"; fi

# --read-bw: tg rows get the read bandwidth of each repetition, and the
# fraction is the median over repetitions of ts * decode_bytes / read bw;
# pp rows stay null.  Even count of repetitions: the median is a mean of two.
check model_read_bw llm-bench -m "$M" -p 16 -n 8 -r 4 -t 1 --mem-size 4M --read-bw -o json
cp "$TMP/.out" "$TMP/bw.json"
if "$PY" - "$TMP/bw.json" >"$TMP/py.out" 2>&1 <<'EOF'
import json, statistics, sys
rows = json.load(open(sys.argv[1]))
assert [r["test"] for r in rows] == ["pp16", "tg8"], [r["test"] for r in rows]
pp, tg = rows
assert pp["read_gbps"] is None and pp["bw_fraction"] is None and pp["samples_read_gbps"] == [], pp
b = tg["samples_read_gbps"]
assert len(b) == 4 and all(isinstance(x, float) and x > 0 for x in b), b
assert abs(tg["read_gbps"] - statistics.median(b)) <= 1e-9 * tg["read_gbps"], (tg["read_gbps"], b)
f = statistics.median(t * tg["decode_bytes"] / 1e9 / x for t, x in zip(tg["samples_ts"], b))
assert abs(tg["bw_fraction"] - f) <= 1e-9 * f, (tg["bw_fraction"], f)
# in every repetition the fastest pass is at least the sustained rate
# (barriers and waits count in the latter), so of the medians too, and the
# fraction of peak is the smaller fraction
assert tg["read_peak_gbps"] >= tg["read_gbps"] * (1 - 1e-9), tg
assert 0 < tg["bw_fraction_peak"] <= tg["bw_fraction"] * (1 + 1e-9), tg
assert pp["read_peak_gbps"] is None and pp["bw_fraction_peak"] is None and pp["steal"] is None, pp
# steal: a share of CPU time, or null (no /proc/stat, or runs this short
# that no clock tick passed)
assert tg["steal"] is None or (isinstance(tg["steal"], float) and 0 <= tg["steal"] <= 1), tg["steal"]
EOF
then ok model_read_bw_fields; else fail model_read_bw_fields "$(tail -n 3 "$TMP/py.out" | tr '\n' ' ')"; fi
check model_read_bw_md llm-bench -m "$M" -p 16 -n 8 -r 2 -t 1 --mem-size 4M --read-bw
if grep -q '| fraction | peak GB/s | of peak | steal |' "$TMP/.out" &&
	grep '| tg8 |' "$TMP/.out" | grep -Eq '(\| [0-9.]+ ){5}\|( [0-9.]+%)? \|$'; then
	ok model_read_bw_md_columns
else
	fail model_read_bw_md_columns "$(tr '\n' ' ' <"$TMP/.out" | head -c 300)"
fi

# size and parameters as llm-info counts them (an independent reader)
if llm-info --json "$M" >"$TMP/info.json" 2>/dev/null; then
	if "$PY" - "$TMP/m.json" "$TMP/info.json" >"$TMP/py.out" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))[0]
info = json.load(open(sys.argv[2]))
assert r["model_n_params"] == info["n_params"], (r["model_n_params"], info["n_params"])
ts = info.get("tensors")
if ts and "size" in ts[0]:
    assert r["model_size"] == sum(t["size"] for t in ts), r["model_size"]
    # separate output matrix: decode reads one row of token_embd
    e = [t for t in ts if t["name"] == "token_embd.weight"][0]
    assert any(t["name"] == "output.weight" for t in ts)
    want = r["model_size"] - e["size"] + e["size"] // e["shape"][1]
    assert r["decode_bytes"] == want, (r["decode_bytes"], want)
# dim 64, 2 layers: embeddings 512x64 twice, per layer q,o 64x64, k,v 64x32, ffn 3 x 64x128, norms
want = 2 * 512 * 64 + 64 + 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64)
assert r["model_n_params"] == want, (r["model_n_params"], want)
EOF
	then ok model_size_params; else fail model_size_params "$(tail -n 3 "$TMP/py.out" | tr '\n' ' ')"; fi
else
	skip model_size_params "llm-info --json failed"
fi

# jsonl: one object per test, each line parses
check model_jsonl llm-bench -m "$M,$M" -p 8 -n 4 -r 2 -t 1,2 -o jsonl
n=$("$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line); assert r["bench"] == "model"; n += 1
print(n)' "$TMP/.out" 2>&1)
# 2 models x 2 thread counts x (pp8, tg4)
[ "$n" = 8 ] && ok model_jsonl_lines || fail model_jsonl_lines "got '$n', wanted 8"

# md: llama-bench's header
llm-bench -m "$M" -p 8 -n 0 -r 2 -t 1 >"$TMP/m.md" 2>"$TMP/err"
h=$(head -n 1 "$TMP/m.md")
[ "$h" = "| model | size | params | threads | test | t/s |" ] && ok md_header || fail md_header "$h"
grep -q '^| llama .* | pp8 | [0-9.]* ± [0-9.]* |$' "$TMP/m.md" && ok md_row || fail md_row "$(sed -n 3p "$TMP/m.md")"
# -n 0: no tg rows; -p 0: no pp rows
[ "$(grep -c '| tg' "$TMP/m.md")" = 0 ] && ok n0_disables_tg || fail n0_disables_tg "tg rows present"
llm-bench -m "$M" -p 0 -n 4 -r 2 -t 1 -o tsv >"$TMP/m.tsv" 2>"$TMP/err"
[ "$(cut -f 8 "$TMP/m.tsv" | tail -n +2 | tr '\n' ' ')" = "tg4 " ] && ok p0_disables_pp || fail p0_disables_pp "$(cut -f 8 "$TMP/m.tsv" | tr '\n' ' ')"
# tsv/csv: a header naming the JSON fields, one line per row
head -n 1 "$TMP/m.tsv" | tr '\t' '\n' | grep -qx stddev_ts && ok tsv_header || fail tsv_header "$(head -n 1 "$TMP/m.tsv")"
llm-bench -m "$M" -p 8,16 -n 0 -r 2 -t 1 -o csv >"$TMP/m.csv" 2>"$TMP/err"
if "$PY" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 2 and [r["test"] for r in rows] == ["pp8", "pp16"]
assert all(len(r["samples_ts"].split()) == 2 for r in rows)
float(rows[0]["stddev_ts"])' "$TMP/m.csv" 2>"$TMP/py.out"; then ok csv_rows; else fail csv_rows "$(tail -n 2 "$TMP/py.out")"; fi
# a model path holding CR and quotes: quoted in csv, the argv array too (one
# row), \x0d in tsv (one row, all columns); an --only list longer than 255
# bytes is read whole
cr=$(printf 'cr\r"q"name.gguf')
cp "$M" "$TMP/$cr"
llm-bench -q -m "$TMP/$cr" -p 1 -n 0 -r 1 -t 1 -o csv >"$TMP/cr.csv" 2>"$TMP/err"
llm-bench -q -m "$TMP/$cr" -p 1 -n 0 -r 1 -t 1 -o tsv >"$TMP/cr.tsv" 2>>"$TMP/err"
if "$PY" -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline=""), strict=True))
assert len(rows) == 2 and len(rows[0]) == len(rows[1]), [len(r) for r in rows]
assert rows[1][rows[0].index("model_filename")].endswith("cr\r\"q\"name.gguf")
assert "cr\\x0d\"q\"name.gguf" in rows[1][rows[0].index("argv")], rows[1]  # the argv array: one field
t = open(sys.argv[2], newline="").read().split("\n")
assert len(t) == 3 and t[1].count("\t") == t[0].count("\t") and "cr\\x0d\"q\"name.gguf" in t[1], t
' "$TMP/cr.csv" "$TMP/cr.tsv" 2>"$TMP/py.out"; then ok csv_tsv_path_with_cr; else fail csv_tsv_path_with_cr "$(tail -n 2 "$TMP/py.out") $(cat "$TMP/err")"; fi
# an empty list entry is a usage error, not skipped
check_status 2 list_empty_entry llm-bench -q -m "$M" -t 1,,2 -p 1 -n 0
check_status 2 list_trailing_comma llm-bench -q -m "$M" -p 4, -n 0
# -o json: an error after some rows still prints those rows
llm-bench -q -m "$M,$TMP/none.gguf" -p 2 -n 0 -r 1 -t 1 -o json >"$TMP/part.json" 2>"$TMP/err"
rc=$?
if [ $rc -eq 1 ] && "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d) == 1 and d[0]["test"] == "pp2"' "$TMP/part.json" 2>/dev/null; then
	ok json_rows_before_error
else
	fail json_rows_before_error "exit $rc: $(head -c 200 "$TMP/part.json") $(cat "$TMP/err")"
fi
long_only=$(for i in $(seq 50); do printf 'quant,'; done)bandwidth
check only_long_list llm-bench -q --kernels --only "$long_only" --mem-size 1M -r 1 -t 1 -o tsv

# stories260K, when present
if have_models; then
	check stories_json llm-bench -m "$MODELS/stories260K.gguf" -p 32 -n 16 -r 3 -t 1 -o json
	if "$PY" -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 2
for r in rows:
    assert r["model_type"].startswith("llama ") and r["model_type"].endswith("F32"), r["model_type"]
    assert isinstance(r["stddev_ts"], float) and r["stddev_ts"] >= 0
    assert len(r["samples_ts"]) == 3' "$TMP/.out" 2>"$TMP/py.out"; then ok stories_rows; else fail stories_rows "$(tail -n 2 "$TMP/py.out")"; fi
else
	skip stories_json "../shared/models is absent"
fi

# ---- kernels ----
# shellcheck disable=SC2086
check kernels_json llm-bench --kernels $K -o json
cp "$TMP/.out" "$TMP/k.json"
if "$PY" - "$TMP/k.json" >"$TMP/py.out" 2>&1 <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
kinds = {r["kernel"] for r in rows}
for k in ("bandwidth", "sgemm", "quantize", "dequantize"):
    assert k in kinds, f"no {k} rows"
for r in rows:
    for f in ("kernel", "param", "n_threads", "metric", "value", "unit", "mean", "stddev",
              "samples", "tool_version", "build_commit", "cpu_model", "cpu_simd",
              "isa", "git_commit", "git_dirty"):
        assert f in r, f"{r['kernel']}: no {f}"
    assert isinstance(r["value"], (int, float)) and r["value"] > 0, r
bw = [r["param"].split()[0] for r in rows if r["kernel"] == "bandwidth"]
assert bw == ["read", "copy", "triad"], bw
sg = {r["param"].split()[0] for r in rows if r["kernel"] == "sgemm"}
assert sg == {"blas", "own"}, f"sgemm rows: {sg}"
q = sorted(r["param"] for r in rows if r["kernel"] == "quantize")
assert q == sorted(["f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]), q
mv = [r["param"].split() for r in rows if r["kernel"] == "matvec" and r["metric"] == "weights"]
assert sorted(p[0] for p in mv) == sorted(["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                                          "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs"]), mv
# the integer kernels (param ending in vnni) take quantized types only
assert all(p[0] not in ("f32", "f16", "bf16") for p in mv if p[-1] == "vnni"), mv
# the panels only F16 and BF16
assert all(p[0] in ("f16", "bf16") for p in mv if p[-1] == "panels"), mv
EOF
then ok kernel_rows; else fail kernel_rows "$(tail -n 3 "$TMP/py.out" | tr '\n' ' ')"; fi

# flash attention scratch: at most linear in the sequence length (4096 vs 1024:
# <= 4x, where a score matrix would be 16x); the naive kernel's is reported.
if grep -q '"kernel": "attention' "$TMP/k.json"; then
	if "$PY" - "$TMP/k.json" >"$TMP/py.out" 2>&1 <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
s = {}
for r in rows:
    if r["kernel"].startswith("attention") and r["metric"] == "scratch":
        s[(r["kernel"], int(r["param"].split()[0]))] = r["value"]
f1, f4 = s[("attention_flash", 256)], s[("attention_flash", 1024)]
assert f4 <= 4 * f1, f"flash scratch grows faster than linearly: {f1} at 256, {f4} at 1024"
n1, n4 = s[("attention_naive", 256)], s[("attention_naive", 1024)]
d1, d4 = s[("attention_decode_flash", 256)], s[("attention_decode_flash", 1024)]
assert d4 == d1, f"decoding's flash scratch grows with the cache: {d1} at 256, {d4} at 1024"
print(f"scratch 256->1024: flash x{f4 / max(f1, 1):.2f}, naive x{n4 / max(n1, 1):.2f}, decoding flash x{d4 / max(d1, 1):.2f}")
EOF
	then ok flash_scratch_subquadratic; else fail flash_scratch_subquadratic "$(tail -n 2 "$TMP/py.out" | tr '\n' ' ')"; fi
else
	skip flash_scratch_subquadratic "no attention rows (attention kernels not built)"
fi

# jsonl of kernels: each line parses
# shellcheck disable=SC2086
llm-bench --only quant,sgemm $K -o jsonl >"$TMP/k.jsonl" 2>"$TMP/err"
if "$PY" -c '
import json, sys
n = sum(1 for l in open(sys.argv[1]) if json.loads(l)["bench"] == "kernel")
assert n == 2 * 2 + 14, n  # sgemm: blas and own at 2 sizes; quant: 7 types x 2' "$TMP/k.jsonl" 2>"$TMP/py.out"; then ok kernel_jsonl; else fail kernel_jsonl "$(tail -n 1 "$TMP/py.out")"; fi
# LLM_ISA caps the instruction set the rows say they used (each row's isa)
isa_of() { LLM_ISA=$1 llm-bench --only quant --mem-size 64K -r 1 -t 1 -o jsonl 2>/dev/null |
	"$PY" -c 'import json, sys; print(" ".join(sorted({json.loads(l)["isa"] for l in sys.stdin})))'; }
best=$(isa_of "")
expect isa_scalar "$(isa_of scalar)" scalar
expect isa_unknown_is_ignored "$(isa_of sse9)" "$best"
expect isa_any_case "$(isa_of SCALAR)" scalar
case $best in
avx512) expect isa_avx2 "$(isa_of avx2)" avx2 ;;
*) skip isa_avx2 "this CPU's best is $best" ;;
esac
llm-bench --only bandwidth $K >"$TMP/k.md" 2>"$TMP/err"
[ "$(head -n 1 "$TMP/k.md")" = "| kernel | param | threads | metric | value | unit |" ] && ok kernel_md_header || fail kernel_md_header "$(head -n 1 "$TMP/k.md")"

# a repository git cannot read (a damaged index) is not "outside a
# repository": the rows say why there is no commit (git_error) and one
# warning says so; outside any repository git_error is null (both were
# silent nulls, as if no repository were there)
if command -v git >/dev/null; then
	mkdir -p "$TMP/repo" "$TMP/norepo"
	(cd "$TMP/repo" && git init -q . && echo a >f && git add f &&
		git -c user.email=t@t -c user.name=t commit -q -m x && echo junk >.git/index)
	(cd "$TMP/repo" && llm-bench --only quant --mem-size 64K -r 1 -t 1 -o jsonl) >"$TMP/g.jsonl" 2>"$TMP/g.err"
	(cd "$TMP/norepo" && GIT_CEILING_DIRECTORIES=$TMP llm-bench -q --only quant --mem-size 64K -r 1 -t 1 -o jsonl) >"$TMP/n.jsonl" 2>>"$TMP/g.err"
	if "$PY" - "$TMP/g.jsonl" "$TMP/n.jsonl" >"$TMP/py.out" 2>&1 <<'EOF2'
import json, sys
g = [json.loads(l) for l in open(sys.argv[1])]
n = [json.loads(l) for l in open(sys.argv[2])]
assert g and all(r["git_commit"] is None and "index" in (r["git_error"] or "") for r in g), g[0]
assert n and all(r["git_commit"] is None and r["git_error"] is None for r in n), n[0]
EOF2
	then ok git_error_field; else fail git_error_field "$(tail -n 2 "$TMP/py.out" | tr '\n' ' ')"; fi
	expect git_error_warned_once "$(grep -c 'git' "$TMP/g.err")" 1
else
	skip git_error_field "no git"
fi

# ---- bad input: one line on stderr, exit 1 or 2 ----
bad() {
	_want=$1 _n=$2; shift 2
	"$@" >"$TMP/bad.out" 2>"$TMP/bad.err"; _rc=$?
	_lines=$(grep -cv '^Try ' "$TMP/bad.err")
	if [ "$_rc" -eq "$_want" ] && [ "$_lines" -eq 1 ] && [ ! -s "$TMP/bad.out" ]; then ok "$_n"
	else fail "$_n" "exit $_rc (wanted $_want), $_lines lines: $(head -c 200 "$TMP/bad.err" | tr '\n' ' ')"; fi
}
bad 1 bad_missing_model llm-bench -m "$TMP/nope.gguf" -p 8 -n 0 -r 1
printf 'not a model' >"$TMP/junk.gguf"
bad 1 bad_not_a_model llm-bench -m "$TMP/junk.gguf" -p 8 -n 0 -r 1
bad 2 bad_p_abc llm-bench -m "$M" -p abc
bad 2 bad_p_negative llm-bench -m "$M" -p -3
bad 2 bad_format llm-bench -m "$M" -o xml
bad 2 bad_nothing_to_do llm-bench
bad 2 bad_nothing_to_do_p0_n0 llm-bench -m "$M" -p 0 -n 0
bad 2 bad_no_model_in_list llm-bench -m , -p 4
bad 2 bad_threads llm-bench -m "$M" -t 0
bad 2 bad_kernel_name llm-bench --only gemv
bad 2 bad_reps llm-bench -m "$M" -r x
grep -q "$TMP/nope.gguf" "$TMP/bad.err" 2>/dev/null || true
llm-bench -m "$TMP/nope.gguf" -p 8 -n 0 -r 1 2>&1 | grep -q "nope.gguf" && ok bad_names_file || fail bad_names_file "message does not name the file"
# a load error names the file once (a GPT-2 vocabulary: an architecture not run)
if have_vocab; then
	cp "$VOCAB/ggml-vocab-gpt-2.gguf" "$TMP/vocab_only.gguf"
	bad 1 bad_load_unsupported llm-bench -m "$TMP/vocab_only.gguf" -p 4 -n 0 -r 1
	[ "$(grep -o "vocab_only.gguf" "$TMP/bad.err" | wc -l)" -eq 1 ] && ok bad_load_names_file_once ||
		fail bad_load_names_file_once "$(cat "$TMP/bad.err")"
else
	skip bad_load_names_file_once "../shared/vocab is absent"
fi
# the progress bar ends at 100% at most (every run counted)
llm-bench --progress --only attention,sgemm,bandwidth --mem-size 64K --seq-lens 16,32 --gemm-sizes 32 -r 1 -t 1 -o jsonl 2>"$TMP/prog.err" >/dev/null
top=$(tr '\r' '\n' <"$TMP/prog.err" | grep -o '[0-9]*%' | tr -d % | sort -n | tail -n 1)
[ -n "$top" ] && [ "$top" -le 100 ] && ok progress_within_100 || fail progress_within_100 "reached ${top:-nothing}%"

# options that would do nothing are usage errors, not ignored
check_status 2 bench_read_bw_without_decode llm-bench -m "$M" -p 8 -n 0 -r 1 -t 1 --read-bw
check_status 2 bench_read_bw_kernels_only llm-bench --read-bw --mem-size 1M --only bandwidth
check_status 2 bench_seq_lens_without_kernels llm-bench -m "$M" -p 8 -n 8 -r 1 -t 1 --seq-lens 16
