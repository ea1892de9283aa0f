#!/bin/sh
# llm-lora-merge and llm-svd-delta on stories260K against numpy references:
#   tests/mk_peft.py writes PEFT adapters (plain, fan_in_fan_out, rsLoRA,
#   rank/alpha patterns with a target_modules regex, DoRA, modules_to_save,
#   embedding LoRA) and their GGUF equivalents by hand; tests/ref_lora.py
#   recomputes every merge in float64 (tolerance 1e-6 relative per tensor,
#   untouched tensors byte for byte); quantized bases must equal the
#   requantized F32 merge byte for byte; tests/ref_svd.py checks extracted
#   adapters against numpy's SVD; the round trip base -> merged -> svd ->
#   merged back holds to 1e-5; bad inputs fail with one line, exit 1, and
#   leave no file behind.
. tests/lib.sh

B=$MODELS/stories260K.gguf
HFB=$MODELS/stories260K-hf
if ! have_models; then
	skip lora "no ../shared/models"
	exit 0
fi
if ! have_numpy; then
	skip lora "no python3 with numpy"
	exit 0
fi
"$PYTHON" tests/mk_peft.py "$B" "$TMP" >"$TMP/mk.out" 2>&1 || { fail lora_fixtures "$(tail -3 "$TMP/mk.out")"; exit 0; }

ref() { # NAME OUT ADAPTER... : compare OUT with the numpy reference
	_n=$1 _o=$2; shift 2
	if "$PYTHON" tests/ref_lora.py --tol "${REFTOL:-1e-6}" "$B" "$_o" "$@" >"$TMP/ref.out" 2>&1; then
		ok "$_n ($(tail -1 "$TMP/ref.out"))"
	else
		fail "$_n" "$(head -3 "$TMP/ref.out" | tr '\n' ' ')"
	fi
}

# ---- outputs that would replace what an input reads: usage errors, the
# inputs untouched (a report once replaced adapter_config.json, -o the
# adapter's weights); -o BASE itself is a merge in place
cp -r "$TMP/peft_plain" "$TMP/pa" && cp -r "$HFB" "$TMP/hf" && chmod -R u+w "$TMP/pa" "$TMP/hf"
cp -r "$TMP/pa" "$TMP/pa_keep" && cp -r "$TMP/hf" "$TMP/hf_keep" && cp "$B" "$TMP/base_inplace.gguf"
check_status 2 lora_report_adapter_config llm-lora-merge -q --report "$TMP/pa/adapter_config.json" -o "$TMP/x.gguf" "$B" "$TMP/pa"
check_status 2 lora_output_adapter_weights llm-lora-merge -q -o "$TMP/pa/adapter_model.safetensors" "$B" "$TMP/pa"
check_status 2 lora_output_adapter_file llm-lora-merge -q -o "$TMP/plain.gguf" "$B" "$TMP/plain.gguf"
check_status 2 lora_report_hf_config llm-lora-merge -q --report "$TMP/hf/config.json" -o "$TMP/x.gguf" "$TMP/hf" "$TMP/pa"
check_status 2 lora_output_hf_weights llm-lora-merge -q -o "$TMP/hf/model.safetensors" "$TMP/hf" "$TMP/pa"
check_status 2 svd_output_base llm-svd-delta -q -r 2 -o "$TMP/hf/config.json" "$TMP/hf" "$B"
check_status 2 quant_report_tokenizer llm-quant -q --tokenizer "$MODELS/tok512.bin" --report "$MODELS/tok512.bin" -o "$TMP/x.gguf" "$MODELS/stories260K.bin"
if diff -r "$TMP/pa" "$TMP/pa_keep" >/dev/null && diff -r "$TMP/hf" "$TMP/hf_keep" >/dev/null && [ ! -e "$TMP/x.gguf" ]; then
	ok lora_inputs_untouched
else
	fail lora_inputs_untouched "an input changed or an output was written"
fi
check lora_output_base_in_place llm-lora-merge -q -o "$TMP/base_inplace.gguf" "$TMP/base_inplace.gguf" "$TMP/plain.gguf"
check quant_output_into_hf_dir_twice sh -c "llm-quant -q -o '$TMP/hf/q.gguf' '$TMP/hf' && llm-quant -q -o '$TMP/hf/q.gguf' '$TMP/hf'"

# ---- PEFT adapters into the Hugging Face base; GGUF equivalents into the GGUF base
for a in plain fifo rslora pattern dora mts embed; do
	if llm-lora-merge -q "$HFB" "$TMP/peft_$a" -o "$TMP/hf_$a.gguf" 2>"$TMP/err"; then
		ref "merge_peft_$a" "$TMP/hf_$a.gguf" "$TMP/peft_$a"
	else
		fail "merge_peft_$a" "$(cat "$TMP/err")"
	fi
done
for a in plain rslora pattern embed; do
	if llm-lora-merge -q "$B" "$TMP/$a.gguf" -o "$TMP/gg_$a.gguf" --report "$TMP/rep_$a.tsv" 2>"$TMP/err"; then
		ref "merge_gguf_$a" "$TMP/gg_$a.gguf" "$TMP/$a.gguf"
	else
		fail "merge_gguf_$a" "$(cat "$TMP/err")"
	fi
done
# the PEFT form and the GGUF form give the same weights (GGUF base has output.weight, the HF one is tied)
for p in plain:plain fifo:plain rslora:rslora pattern:pattern embed:embed; do
	"$PYTHON" - "$TMP/hf_${p%%:*}.gguf" "$TMP/gg_${p#*:}.gguf" >"$TMP/cmp.out" 2>&1 <<'PY'
import sys; sys.path.insert(0, "tests"); import gguf_ref, numpy as np
a = {t["name"]: t for t in gguf_ref.read(sys.argv[1])["tensors"]}
b = {t["name"]: t for t in gguf_ref.read(sys.argv[2])["tensors"]}
worst = 0.0
for n, t in a.items():
    x, y = np.frombuffer(t["data"], "<f4").astype(float), np.frombuffer(b[n]["data"], "<f4").astype(float)
    worst = max(worst, np.linalg.norm(x - y) / np.linalg.norm(y))
print(f"max_rel {worst:.3g}")
sys.exit(0 if worst <= 1e-6 else 1)
PY
	if [ $? -eq 0 ]; then ok "peft_equals_gguf_${p%%:*} ($(cat "$TMP/cmp.out"))"; else fail "peft_equals_gguf_${p%%:*}" "$(cat "$TMP/cmp.out")"; fi
done
check_status 0 merge_report_columns sh -c "head -1 '$TMP/rep_plain.tsv' | grep -q '^name	rank	scale	rel_delta	kind	adapter$' && [ \$(wc -l <'$TMP/rep_plain.tsv') -eq 36 ]"

# ---- several adapters, scales, unmerging, stdin
if llm-lora-merge -q "$B" "$TMP/plain.gguf:0.5" "$TMP/peft_embed:-1.5" "$TMP/peft_dora:2" -o "$TMP/multi.gguf" 2>"$TMP/err"; then
	ref merge_multi_scaled "$TMP/multi.gguf" "$TMP/plain.gguf:0.5" "$TMP/peft_embed:-1.5" "$TMP/peft_dora:2"
else
	fail merge_multi_scaled "$(cat "$TMP/err")"
fi
if llm-lora-merge -q -o "$TMP/unmerged.gguf" -- "$TMP/gg_plain.gguf" "-:-1" <"$TMP/plain.gguf" 2>"$TMP/err"; then
	# unmerged = merged - dW (reference from the merged file), and = base
	if "$PYTHON" tests/ref_lora.py "$TMP/gg_plain.gguf" "$TMP/unmerged.gguf" "$TMP/plain.gguf:-1" >"$TMP/ref.out" 2>&1 &&
		"$PYTHON" tests/ref_lora.py "$B" "$TMP/unmerged.gguf" "$TMP/plain.gguf:0" >>"$TMP/ref.out" 2>&1; then
		ok "unmerge_stdin ($(tail -1 "$TMP/ref.out"))"
	else
		fail unmerge_stdin "$(head -3 "$TMP/ref.out" | tr '\n' ' ')"
	fi
else
	fail unmerge_stdin "$(cat "$TMP/err")"
fi

# ---- quantized bases: merged = requantized F32 merge, byte for byte
for t in f16 bf16 q8_0; do
	llm-quant -q --pure -t $t "$B" -o "$TMP/base_$t.gguf" &&
		llm-quant -q -t f32 "$TMP/base_$t.gguf" -o "$TMP/deq_$t.gguf" &&
		llm-lora-merge -q "$TMP/base_$t.gguf" "$TMP/plain.gguf" "$TMP/embed.gguf" -o "$TMP/mq_$t.gguf" &&
		llm-lora-merge -q "$TMP/deq_$t.gguf" "$TMP/plain.gguf" "$TMP/embed.gguf" -o "$TMP/mf_$t.gguf" &&
		llm-quant -q --pure -t $t "$TMP/mf_$t.gguf" -o "$TMP/mr_$t.gguf" 2>"$TMP/err"
	if [ $? -ne 0 ]; then
		fail "merge_quantized_$t" "$(cat "$TMP/err")"
		continue
	fi
	"$PYTHON" - "$TMP/mq_$t.gguf" "$TMP/mr_$t.gguf" "$TMP/base_$t.gguf" "$TMP/plain.gguf" "$TMP/embed.gguf" >"$TMP/cmp.out" 2>&1 <<'PY'
import sys; sys.path.insert(0, "tests"); import gguf_ref
got, want, base = ({t["name"]: t for t in gguf_ref.read(p)["tensors"]} for p in sys.argv[1:4])
touched = {t["name"][:-7] for p in sys.argv[4:] for t in gguf_ref.read(p)["tensors"] if t["name"].endswith(".lora_a")}
bad = [n for n, t in got.items() if t["type"] != base[n]["type"] or t["data"] != (want if n in touched else base)[n]["data"]]
print(f"{len(touched)} merged tensors equal the requantized F32 merge, {len(got) - len(touched)} copied" if not bad else "differ: " + " ".join(bad[:5]))
sys.exit(1 if bad else 0)
PY
	if [ $? -eq 0 ]; then ok "merge_quantized_$t ($(cat "$TMP/cmp.out"))"; else fail "merge_quantized_$t" "$(cat "$TMP/cmp.out")"; fi
done
# -t converts the output as llm-quant would convert the F32 merge
if llm-lora-merge -q -t q8_0 "$B" "$TMP/plain.gguf" -o "$TMP/t_q8.gguf" 2>"$TMP/err" &&
	llm-quant -q -t q8_0 "$TMP/gg_plain.gguf" -o "$TMP/t_q8_ref.gguf" &&
	"$PYTHON" - "$TMP/t_q8.gguf" "$TMP/t_q8_ref.gguf" <<'PY'
import sys; sys.path.insert(0, "tests"); import gguf_ref
a, b = ([(t["name"], t["type"], t["data"]) for t in gguf_ref.read(p)["tensors"]] for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
then
	ok merge_type_option
else
	fail merge_type_option "-t q8_0 differs from llm-quant -t q8_0 of the F32 merge $(cat "$TMP/err")"
fi
# ... and the whole file is llm-quant's, metadata included
# (general.quantization_version), with its notice for rows that do not fit
# the type's blocks (ffn_down's 172 values, written f16)
if llm-lora-merge --no-provenance -t q4_0 "$B" "$TMP/plain.gguf" -o "$TMP/t_q4.gguf" 2>"$TMP/err" &&
	llm-lora-merge -q --no-provenance "$B" "$TMP/plain.gguf" -o "$TMP/t_f32.gguf" &&
	llm-quant -q --no-provenance -t q4_0 "$TMP/t_f32.gguf" -o "$TMP/t_q4_ref.gguf" &&
	cmp -s "$TMP/t_q4.gguf" "$TMP/t_q4_ref.gguf" &&
	grep -q '^llm-lora-merge: blk.0.ffn_down.weight: rows of 172 values do not fit q4_0 blocks; writing f16$' "$TMP/err"
then
	ok merge_type_option_as_llm_quant
else
	fail merge_type_option_as_llm_quant "not llm-quant's file, or no notice: $(head -2 "$TMP/err" | tr '\n' ' ')"
fi
# a K-quant base (llama.cpp's Q4_K_M mixture): a touched tensor cannot be
# requantized to its own type, so without -t the merge stops with one line
# naming the base, the tensor and its type, and writes nothing; with -t
# every 2-D weight is written in that type (llm-lora-merge(1))
if "${TESTDIR:-build/tests}/tool_mkmodel" "$TMP/kb.gguf" 256 1 4 2 512 512 64 5 0 q4_K_m >/dev/null 2>"$TMP/err" &&
	"$PYTHON" - "$TMP/kq_ad.gguf" <<'PY' 2>>"$TMP/err"
import struct, sys; sys.path.insert(0, "tests"); import gguf_write as gw
f32 = lambda k, v: gw.s(k) + struct.pack("<If", 6, v)
kvs = [gw.kv_str("general.architecture", "llama"), gw.kv_str("general.type", "adapter"),
       gw.kv_str("adapter.type", "lora"), f32("adapter.lora.alpha", 2.0)]
a, b = struct.pack("<512f", *[0.01] * 512), struct.pack("<512f", *[0.02] * 512)  # r = 2
tis = [gw.tinfo("blk.0.attn_q.weight.lora_a", [256, 2], 0, 0), gw.tinfo("blk.0.attn_q.weight.lora_b", [2, 256], 0, 2048)]
open(sys.argv[1], "wb").write(gw.gguf(kvs, tis, a + b))
PY
then
	llm-lora-merge -q -o "$TMP/kq_m.gguf" "$TMP/kb.gguf" "$TMP/kq_ad.gguf" 2>"$TMP/err"
	rc=$?
	if [ $rc -eq 1 ] && [ ! -e "$TMP/kq_m.gguf" ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
		grep -q "kb.gguf: tensor blk.0.attn_q.weight: cannot write type q4_K" "$TMP/err"; then
		ok merge_kquant_base_needs_type
	else
		fail merge_kquant_base_needs_type "exit $rc: $(head -2 "$TMP/err" | tr '\n' ' ')"
	fi
	if llm-lora-merge -q -t q8_0 -o "$TMP/kq_m.gguf" "$TMP/kb.gguf" "$TMP/kq_ad.gguf" 2>"$TMP/err" &&
		"$PYTHON" - "$TMP/kq_m.gguf" <<'PY' >"$TMP/cmp.out" 2>&1
import sys; sys.path.insert(0, "tests"); import gguf_ref
ts = gguf_ref.read(sys.argv[1])["tensors"]
bad = [t["name"] for t in ts if t["type_name"] != ("q8_0" if len(t["shape"]) == 2 else "f32")]
print("not q8_0: " + " ".join(bad) if bad else "%d tensors" % len(ts))
sys.exit(1 if bad else 0)
PY
	then
		ok "merge_kquant_base_with_type ($(cat "$TMP/cmp.out"))"
	else
		fail merge_kquant_base_with_type "$(cat "$TMP/err" "$TMP/cmp.out" | head -3 | tr '\n' ' ')"
	fi
else
	fail merge_kquant_base_fixture "$(head -3 "$TMP/err" | tr '\n' ' ')"
fi

# ---- llm-svd-delta against numpy; round trip; pipeline
llm-lora-merge -q "$B" "$TMP/plain.gguf" "$TMP/embed.gguf" -o "$TMP/tuned.gguf"
llm-lora-merge -q "$B" "$TMP/dense16.gguf" -o "$TMP/dense.gguf"
svdref() { # NAME TUNED REFARGS -- SVDARGS
	_n=$1 _t=$2 _r=$3; shift 3
	if llm-svd-delta -q "$B" "$_t" "$@" --report "$TMP/$_n.tsv" -o "$TMP/$_n.gguf" 2>"$TMP/err" &&
		"$PYTHON" tests/ref_svd.py "$B" "$_t" "$TMP/$_n.gguf" "$TMP/$_n.tsv" $_r >"$TMP/ref.out" 2>&1; then
		ok "$_n ($(tail -1 "$TMP/ref.out"))"
	else
		fail "$_n" "$(cat "$TMP/err") $(head -3 "$TMP/ref.out" | tr '\n' ' ')"
	fi
}
svdref svd_energy_exact "$TMP/dense.gguf" "--energy 0.9 --exact" --energy 0.9 --exact
svdref svd_energy_rand "$TMP/dense.gguf" "--energy 0.95" --energy 0.95
# --energy 1 on the merge of rank-limited adapters: the adapters' ranks,
# not the full rank float rounding of the norm once asked for
for x in --exact ""; do
	llm-svd-delta -q $x --energy 1 --report "$TMP/e1.tsv" "$B" "$TMP/tuned.gguf" -o "$TMP/e1.gguf" &&
		expect "svd_energy_one_low_rank${x:+_exact}" "$(awk -F '\t' 'NR > 1 && $3 > 0 { if ($3 > m) m = $3 } END { print (m > 0 && m <= 8) ? "low" : "rank " m }' "$TMP/e1.tsv")" low
done
svdref svd_rank_rand "$TMP/dense.gguf" "--rank 3" -r 3
svdref svd_rank_exact "$TMP/dense.gguf" "--rank 3 --exact" -r 3 --exact
for mode in rand exact; do
	x=; [ $mode = exact ] && x=--exact
	llm-svd-delta -q $x -r 8 "$B" "$TMP/tuned.gguf" -o "$TMP/rt_$mode.gguf" &&
		llm-lora-merge -q "$B" "$TMP/rt_$mode.gguf" -o "$TMP/back_$mode.gguf" 2>"$TMP/err"
	"$PYTHON" - "$TMP/back_$mode.gguf" "$TMP/tuned.gguf" >"$TMP/cmp.out" 2>&1 <<'PY'
import sys; sys.path.insert(0, "tests"); import gguf_ref, numpy as np
a = {t["name"]: t for t in gguf_ref.read(sys.argv[1])["tensors"]}
b = {t["name"]: t for t in gguf_ref.read(sys.argv[2])["tensors"]}
worst = max(np.linalg.norm(np.frombuffer(t["data"], "<f4").astype(float) - np.frombuffer(b[n]["data"], "<f4"))
            / np.linalg.norm(np.frombuffer(b[n]["data"], "<f4").astype(float)) for n, t in a.items())
print(f"max_rel {worst:.3g}")
sys.exit(0 if worst <= 1e-5 else 1)
PY
	if [ $? -eq 0 ]; then ok "svd_round_trip_$mode ($(cat "$TMP/cmp.out"))"; else fail "svd_round_trip_$mode" "$(cat "$TMP/cmp.out") $(cat "$TMP/err")"; fi
done
# an adapter compressed by the zstd CLI runs as the adapter itself
if command -v zstd >/dev/null; then
	zstd -q -f "$TMP/plain.gguf" -o "$TMP/plain.gguf.zst"
	expect lora_plain_zstd_adapter "$(llm-run -q --temp 0 -n 8 -p hi --lora "$TMP/plain.gguf.zst" "$B")" \
		"$(llm-run -q --temp 0 -n 8 -p hi --lora "$TMP/plain.gguf" "$B")"
fi
# a KV dump of a run with that adapter keeps the adapter's own record as
# parent 1, under the adapter's path (not PATH:SCALE)
llm-run -q --temp 0 -n 2 -p hi --lora "$TMP/rt_exact.gguf:0.5" --kv-out "$TMP/kvl.gguf" "$B" >/dev/null &&
	llm-info -p "$TMP/kvl.gguf" >"$TMP/kvl.txt"
grep -q "input 1: $TMP/rt_exact.gguf [0-9a-f]\{40\}" "$TMP/kvl.txt" && grep -q "from input 1, made by:" "$TMP/kvl.txt" &&
	grep -q "^    llm-svd-delta " "$TMP/kvl.txt" && ok kv_out_keeps_adapter_provenance ||
	fail kv_out_keeps_adapter_provenance "$(head -c 600 "$TMP/kvl.txt")"
if llm-svd-delta -q "$B" "$TMP/tuned.gguf" -r 16 | llm-lora-merge -q "$B" - -o "$TMP/piped.gguf" 2>"$TMP/err"; then
	REFTOL=1e-5 ref svd_pipe_merge "$TMP/piped.gguf" "$TMP/plain.gguf" "$TMP/embed.gguf"
else
	fail svd_pipe_merge "$(cat "$TMP/err")"
fi
# a Hugging Face base and TUNED on stdin; the HF base has no output.weight (tied): notice, no error
if llm-svd-delta -r 8 "$HFB" - <"$TMP/tuned.gguf" 2>"$TMP/err" | llm-lora-merge -q "$B" - -o "$TMP/piped_hf.gguf" &&
	grep -q "output.weight: only in" "$TMP/err"; then
	REFTOL=1e-5 ref svd_hf_base_stdin "$TMP/piped_hf.gguf" "$TMP/plain.gguf" "$TMP/embed.gguf"
else
	fail svd_hf_base_stdin "$(cat "$TMP/err")"
fi
check svd_include_exclude sh -c "llm-svd-delta -q -r 2 --include 'attn_[qk]' --exclude '^blk\\.0\\.' '$B' '$TMP/tuned.gguf' -o '$TMP/ie.gguf' && llm-info '$TMP/ie.gguf' | grep -c 'lora_a' | grep -qx 8"

# ---- bad inputs: one line on stderr (usage errors may add "Try --help"),
# exit 1 (2 for usage), no output left behind
bad() { # NAME STATUS CMD... (writes to $TMP/out/x.gguf)
	_n=$1 _s=$2; shift 2
	rm -rf "$TMP/out" && mkdir "$TMP/out"
	"$@" >/dev/null 2>"$TMP/err"; _rc=$?
	if [ $_rc -ne "$_s" ]; then
		fail "$_n" "exit $_rc, wanted $_s: $(head -2 "$TMP/err" | tr '\n' ' ')"
	elif [ "$(grep -vc '^Try ' "$TMP/err")" -ne 1 ]; then
		fail "$_n" "not one line: $(head -3 "$TMP/err" | tr '\n' ' ')"
	elif [ -n "$(ls -A "$TMP/out")" ]; then
		fail "$_n" "left $(ls -A "$TMP/out")"
	else
		ok "$_n: $(head -1 "$TMP/err")"
	fi
}
O=$TMP/out/x.gguf
bad bad_shape 1 llm-lora-merge "$B" "$TMP/badshape.gguf" -o "$O"
bad bad_no_base_tensor 1 llm-lora-merge "$B" "$TMP/nobase.gguf" -o "$O"
bad bad_other_arch 1 llm-lora-merge "$B" "$TMP/otherarch.gguf" -o "$O"
bad bad_peft_other_arch 1 llm-lora-merge "$B" "$MODELS/peft-gptneo125m" -o "$O"
bad bad_peft_no_alpha 1 llm-lora-merge "$HFB" "$TMP/peft_noalpha" -o "$O"
bad bad_peft_rank 1 llm-lora-merge "$HFB" "$TMP/peft_badrank" -o "$O"
# configs that contradict the tensors, or features not carried out: refused
# (PEFT would not load those tensors, or would build another model)
cfgvar() { # NAME FROM PYTHON-EDIT-OF-c : a copy of peft_FROM with its config edited
	rm -rf "$TMP/peft_$1" && cp -r "$TMP/peft_$2" "$TMP/peft_$1" &&
		"$PYTHON" -c "import json, sys; f = sys.argv[1]; c = json.load(open(f)); $3; json.dump(c, open(f, 'w'))" \
			"$TMP/peft_$1/adapter_config.json"
}
cfgvar layers_left_out plain 'c["layers_to_transform"] = [1]'
bad bad_peft_layers_to_transform 1 llm-lora-merge "$HFB" "$TMP/peft_layers_left_out" -o "$O"
# layers_to_transform as PEFT's check_target_module_exists applies it: []
# leaves no layer out, a module target_modules names in full is kept
# whatever its layer, layers_pattern names the layers, and a module in no
# layer (the embedding) is left out
cfgvar layers_empty plain 'c["layers_to_transform"] = []'
cfgvar layers_full_name plain 'c["layers_to_transform"] = [1, 2, 3, 4]
c["target_modules"] += ["model.layers.0.self_attn." + m for m in ("q_proj", "k_proj", "v_proj", "o_proj")]
c["target_modules"] += ["model.layers.0.mlp." + m for m in ("gate_proj", "up_proj", "down_proj")]'
cfgvar layers_pattern mts 'c["layers_to_transform"] = [0]; c["layers_pattern"] = ["blocks", "layers"]'
for a in layers_empty layers_full_name layers_pattern; do
	if llm-lora-merge -q "$HFB" "$TMP/peft_$a" -o "$TMP/hf_$a.gguf" 2>"$TMP/err"; then
		ref "merge_peft_$a" "$TMP/hf_$a.gguf" "$TMP/peft_$a"
	else
		fail "merge_peft_$a" "$(cat "$TMP/err")"
	fi
done
cfgvar layers_pattern_other mts 'c["layers_to_transform"] = [0]; c["layers_pattern"] = "h"'
bad bad_peft_layers_pattern_other 1 llm-lora-merge "$HFB" "$TMP/peft_layers_pattern_other" -o "$O"
cfgvar layers_embed embed 'c["layers_to_transform"] = [3]'
bad bad_peft_layers_embedding 1 llm-lora-merge "$HFB" "$TMP/peft_layers_embed" -o "$O"
said bad_peft_layers_embedding_says "module model.embed_tokens has LoRA weights but layers_to_transform leaves it out"
cfgvar replication plain 'c["layer_replication"] = [[0, 2], [1, 3]]'
bad bad_peft_layer_replication 1 llm-lora-merge "$HFB" "$TMP/peft_replication" -o "$O"
cfgvar dora_unset dora 'c["use_dora"] = False'
bad bad_peft_magnitude_without_dora 1 llm-lora-merge "$HFB" "$TMP/peft_dora_unset" -o "$O"
cfgvar all_linear_embed embed 'c["target_modules"] = "all-linear"'
bad bad_peft_all_linear_embedding 1 llm-lora-merge "$HFB" "$TMP/peft_all_linear_embed" -o "$O"
# tensor names under PEFT's adapter name (".lora_A.default.weight", as a raw
# state_dict holds them) merge as the plain names do
rm -rf "$TMP/peft_default" && cp -r "$TMP/peft_plain" "$TMP/peft_default" && "$PYTHON" - "$TMP/peft_default/adapter_model.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h = {k.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight"): v
     for k, v in h.items()}
hb = json.dumps(h).encode()
hb += b" " * (-len(hb) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
if llm-lora-merge -q --no-provenance "$HFB" "$TMP/peft_default" -o "$TMP/def.gguf" 2>"$TMP/err" &&
	llm-lora-merge -q --no-provenance "$HFB" "$TMP/peft_plain" -o "$TMP/nodef.gguf" 2>>"$TMP/err" &&
	cmp -s "$TMP/def.gguf" "$TMP/nodef.gguf"; then ok merge_peft_default_names; else fail merge_peft_default_names "$(cat "$TMP/err")"; fi
# a tied base whose embedding an adapter changes: said once, the merge goes on
if llm-lora-merge "$HFB" "$TMP/peft_embed" -o "$TMP/tied.gguf" 2>"$TMP/err" >/dev/null &&
	grep -q "ties the output head" "$TMP/err"; then ok merge_tied_head_notice; else fail merge_tied_head_notice "$(cat "$TMP/err")"; fi
bad bad_peft_untargeted 1 llm-lora-merge "$HFB" "$TMP/peft_untargeted" -o "$O"
# what the fuzzer found: an alpha beyond float, inf or NaN in the adapter's
# values, a layers_to_transform of the wrong kind (the error names the config)
said() { if grep -q -- "$2" "$TMP/err"; then ok "$1"; else fail "$1" "$(head -c 200 "$TMP/err")"; fi; }
cfgvar alpha_huge plain 'c["lora_alpha"] = 1e300'
bad bad_peft_alpha_beyond_float 1 llm-lora-merge "$HFB" "$TMP/peft_alpha_huge" -o "$O"
said bad_peft_alpha_beyond_float_says 'adapter_config.json: "lora_alpha" 1e+300 does not fit a float'
bad bad_run_peft_alpha_beyond_float 1 llm-run -q -n 2 -p hi --lora "$TMP/peft_alpha_huge" "$HFB"
cfgvar layers_string plain 'c["layers_to_transform"] = "0"'
bad bad_peft_layers_to_transform_kind 1 llm-lora-merge "$HFB" "$TMP/peft_layers_string" -o "$O"
said bad_peft_layers_to_transform_names_config 'peft_layers_string/adapter_config.json: "layers_to_transform" is neither'
rm -rf "$TMP/peft_nan" && cp -r "$TMP/peft_plain" "$TMP/peft_nan" && "$PYTHON" - "$TMP/peft_nan/adapter_model.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
k = sorted(k for k in h if k.endswith("lora_B.weight"))[0]
nan = {"F32": b"\x00\x00\xc0\x7f", "F16": b"\x00\x7e", "BF16": b"\xc0\x7f"}[h[k]["dtype"]]
o = 8 + n + h[k]["data_offsets"][0]
b[o:o + len(nan)] = nan
open(sys.argv[1], "wb").write(b)
PY
bad bad_peft_nan_values 1 llm-lora-merge "$HFB" "$TMP/peft_nan" -o "$O"
said bad_peft_nan_values_says "lora_A or lora_B holds inf or NaN"
bad bad_run_peft_nan_values 1 llm-run -q -n 2 -p hi --lora "$TMP/peft_nan" "$HFB"
# inf or NaN in a saved module (modules_to_save) or a DoRA magnitude: refused
# when the adapter is read, naming it (not "the merged weights" of the base)
stedit() { # NAME FROM PYTHON-EDIT-OF-t : a copy of peft_FROM with its tensors edited (t: key -> F32 array)
	rm -rf "$TMP/peft_$1" && cp -r "$TMP/peft_$2" "$TMP/peft_$1" && "$PYTHON" - "$TMP/peft_$1/adapter_model.safetensors" "$3" <<'PY'
import json, struct, sys
import numpy as np
f = sys.argv[1]
b = open(f, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop("__metadata__", None)
t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"]).copy()
     for k, v in h.items()}
exec(sys.argv[2])
h, blobs, off = {}, [], 0
for k, a in t.items():
    d = np.ascontiguousarray(a, "<f4").tobytes()
    h[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(d)]}
    off += len(d)
    blobs.append(d)
hb = json.dumps(h).encode()
hb += b" " * (-len(hb) % 8)
open(f, "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
PY
}
stedit mts_nan mts 't["base_model.model.model.norm.weight"][0] = np.nan'
bad bad_peft_saved_nan 1 llm-lora-merge "$HFB" "$TMP/peft_mts_nan" -o "$O"
said bad_peft_saved_nan_says "peft_mts_nan/adapter_model.safetensors: model.norm.weight (modules_to_save) holds inf or NaN"
stedit dora_nan dora 't[sorted(k for k in t if k.endswith("lora_magnitude_vector"))[0]][0] = np.inf'
bad bad_peft_dora_magnitude_inf 1 llm-lora-merge "$HFB" "$TMP/peft_dora_nan" -o "$O"
said bad_peft_dora_magnitude_inf_says "peft_dora_nan/adapter_model.safetensors: model.layers.0.[a-z_.]*: lora_magnitude_vector holds inf or NaN"
# a layer number PEFT never writes ("00", read as 0): refused, not merged
# as a second pair for blk.0.attn_q.weight (of which one was dropped)
stedit layer00 plain 'p = "base_model.model.model.layers.%s.self_attn.q_proj.lora_%s.weight"
for x in "AB": t[p % ("00", x)] = 3 * t[p % ("0", x)]'
bad bad_peft_layer_leading_zero 1 llm-lora-merge "$HFB" "$TMP/peft_layer00" -o "$O"
said bad_peft_layer_leading_zero_says "peft_layer00/adapter_model.safetensors: module model.layers.00.self_attn.q_proj: layer number '00' is not"
bad bad_run_peft_layer_leading_zero 1 llm-run -q -n 2 -p hi --lora "$TMP/peft_layer00" "$HFB"
# a finite alpha (1e38) too large for the values: the adapter is named,
# not the base -- where a merge step comes out inf or NaN, where the merged
# weights go beyond the output type (f16), where SCALE x alpha / r is
# beyond float, and where llm-run's logits overflow
stedit big3 plain 't = {k: np.full_like(v, 3) for k, v in t.items() if ".layers.0.self_attn.q_proj." in k}'
cfgvar alpha_1e38 big3 'c["lora_alpha"] = 1e38'
bad bad_peft_alpha_merge_inf 1 llm-lora-merge "$HFB" "$TMP/peft_alpha_1e38" -o "$O"
said bad_peft_alpha_merge_inf_says "peft_alpha_1e38: merged into .*stories260K-hf at scale 2.5e+37 (1 x alpha / r), blk.0.attn_q.weight comes out inf or NaN"
"$PYTHON" - "$TMP/plain.gguf" "$TMP/huge.gguf" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
k = b"adapter.lora.alpha"
i = b.index(struct.pack("<Q", len(k)) + k) + 8 + len(k)
assert struct.unpack("<I", b[i:i + 4])[0] == 6  # f32
b[i + 4:i + 8] = struct.pack("<f", 1e38)
open(sys.argv[2], "wb").write(b)
PY
[ -f "$TMP/base_f16.gguf" ] || llm-quant -q --pure -t f16 "$B" -o "$TMP/base_f16.gguf"
bad bad_gguf_alpha_beyond_f16 1 llm-lora-merge "$TMP/base_f16.gguf" "$TMP/huge.gguf" -o "$O"
said bad_gguf_alpha_beyond_f16_says "huge.gguf: merged into .*base_f16.gguf, tensor blk.0.[a-z_]*.weight: a value of magnitude .* becomes inf in f16"
bad bad_gguf_scale_beyond_float 1 llm-lora-merge "$B" "$TMP/huge.gguf:1e10" -o "$O"
said bad_gguf_scale_beyond_float_says "huge.gguf: blk.0.[a-z_]*.weight: scale 1e+10 times the adapter's alpha / r (2.5e+37) is beyond float"
bad bad_run_gguf_scale_beyond_float 1 llm-run -q -n 2 -p hi --lora "$TMP/huge.gguf:1e10" "$B"
bad bad_run_gguf_alpha_huge 1 llm-run -q -n 2 -p hi --lora "$TMP/huge.gguf" "$B"
said bad_run_gguf_alpha_huge_says "huge.gguf (scale 1): applied to .*stories260K.gguf, the logits hold inf or NaN"
bad bad_not_adapter 1 llm-lora-merge "$B" "$B" -o "$O"
bad bad_dora_unmerge 1 llm-lora-merge "$B" "$TMP/peft_dora:-1" -o "$O"
bad bad_missing 1 llm-lora-merge "$B" "$TMP/nothere.gguf" -o "$O"
bad bad_scale_overflow 2 llm-lora-merge "$B" "$TMP/plain.gguf:1e40" -o "$O"
bad bad_scale_nan 2 llm-lora-merge "$B" "$TMP/plain.gguf:nan" -o "$O"
bad bad_report_path 1 llm-lora-merge "$B" "$TMP/plain.gguf" --report "$TMP/nodir/r.tsv" -o "$O"
if [ -c /dev/full ]; then # a report that cannot be written after the work: no output either
	bad bad_report_full_disk 1 llm-lora-merge "$B" "$TMP/plain.gguf" --report /dev/full -o "$O"
	said bad_report_full_disk_says "/dev/full: write error"
	bad bad_svd_report_full_disk 1 llm-svd-delta -q -r 4 "$B" "$TMP/tuned.gguf" --report /dev/full -o "$O"
fi
bad bad_run_scale_inf 2 llm-run -q -n 2 -p hi --lora "$TMP/plain.gguf:inf" "$B"
bad bad_usage 2 llm-lora-merge "$B"
# an adapter given as the vocabulary: named, not the model's missing keys
bad bad_tokenizer_is_adapter 1 llm-run -q -n 1 -p hi --tokenizer "$TMP/plain.gguf" "$B"
said bad_tokenizer_is_adapter_says "plain.gguf: holds no vocabulary"
# a rank past a weight's smaller side (64): capped there, said, and the
# difference carried exactly
check svd_rank_capped llm-svd-delta -r 100 --report "$TMP/cap.tsv" "$B" "$TMP/tuned.gguf" -o "$TMP/cap.gguf"
grep -q 'blk.0.attn_q.weight: rank 100 capped at 64' "$TMP/.err" && ok svd_rank_capped_said || fail svd_rank_capped_said "$(head -c 300 "$TMP/.err")"
awk -F '\t' 'NR > 1 && $0 ~ /attn_q/ && $3 > 64 { bad = 1 } END { exit bad }' "$TMP/cap.tsv" &&
	ok svd_rank_capped_ranks || fail svd_rank_capped_ranks "$(head -3 "$TMP/cap.tsv")"
# a pattern PCRE2 cannot compile: a usage error (as grep's), or in a PEFT
# config a bad file, the pattern named as written
bad bad_svd_include_regex 2 llm-svd-delta -r 4 --include '(' "$B" "$TMP/tuned.gguf" -o "$O"
said bad_svd_include_regex_says "--include: bad regex '(': missing closing parenthesis at offset 1"
bad bad_svd_exclude_regex 2 llm-svd-delta -r 4 --exclude 'attn_[q' "$B" "$TMP/tuned.gguf" -o "$O"
bad bad_svd_include_keeps_none 1 llm-svd-delta -r 4 --include 'no_such_tensor' "$B" "$TMP/tuned.gguf" -o "$O"
said bad_svd_include_keeps_none_says "among those --include and --exclude keep"
cfgvar bad_regex pattern 'c["target_modules"] = "(q_proj|v_proj"'
bad bad_peft_target_regex 1 llm-lora-merge "$HFB" "$TMP/peft_bad_regex" -o "$O"
said bad_peft_target_regex_says "bad regex '(q_proj|v_proj': missing closing parenthesis at offset 14"
cfgvar bad_rank_regex pattern 'c["rank_pattern"] = {"q_proj[": 2}'
bad bad_peft_rank_pattern_regex 1 llm-lora-merge "$HFB" "$TMP/peft_bad_rank_regex" -o "$O"
# one that compiles but backtracks past PCRE2's match limit: the config
# and the pattern named (was "regex: match failed: ...", naming no file)
cfgvar slow_regex pattern 'c["rank_pattern"] = {"(?:[a-z_.0-9]*[a-z_.0-9]*)*q": 2}'
bad bad_peft_rank_pattern_match_limit 1 llm-lora-merge "$HFB" "$TMP/peft_slow_regex" -o "$O"
grep -qF "peft_slow_regex/adapter_config.json: pattern '(?:[a-z_.0-9]*[a-z_.0-9]*)*q': regex: match failed: match limit" \
	"$TMP/err" && ok bad_peft_rank_pattern_match_limit_says ||
	fail bad_peft_rank_pattern_match_limit_says "$(head -c 200 "$TMP/err")"
if have_vocab; then # no tensor in common: one line, not a notice per tensor
	bad bad_svd_no_common_tensor 1 llm-svd-delta -r 4 "$B" "$VOCAB/ggml-vocab-llama-spm.gguf" -o "$O"
	bad bad_svd_vocabulary_base 1 llm-svd-delta -r 4 "$VOCAB/ggml-vocab-llama-spm.gguf" "$B" -o "$O"
	said bad_svd_vocabulary_base_says "ggml-vocab-llama-spm.gguf: no tensors (a vocabulary-only file)"
fi
"$PYTHON" - "$B" "$TMP/bigger.gguf" <<'PY'
# TUNED with one tensor of another shape: rewrite blk.0.attn_q.weight's ne as [32, 128]
import sys; b = bytearray(open(sys.argv[1], "rb").read())
name = b"blk.0.attn_q.weight"
i = b.index(len(name).to_bytes(8, "little") + name) + 8 + len(name)
assert int.from_bytes(b[i:i + 4], "little") == 2
b[i + 4:i + 20] = (32).to_bytes(8, "little") + (128).to_bytes(8, "little")
open(sys.argv[2], "wb").write(b)
PY
bad bad_svd_shapes 1 llm-svd-delta -r 2 "$B" "$TMP/bigger.gguf" -o "$O"
bad bad_svd_usage 2 llm-svd-delta -r 2 --energy 0.5 "$B" "$TMP/tuned.gguf"

# (the real PEFT adapter, GPT-Neo, is parsed in tests/test_lora.c and refused above)

# ---- run time: llm-run --lora against the merged model (same greedy tokens,
# log-probabilities within 1e-4 relative): a GGUF adapter on every linear
# weight, and a PEFT adapter with an embedding LoRA on the tied HF model
# (embedding rows and the tied output both take the adapter's term)
cmp_runs() {
	"$PYTHON" - "$1" "$2" <<'PY'
import sys
def rows(p):
    out = []
    for line in open(p):
        f = line.rstrip("\n").split("\t")
        try:
            out.append((int(f[1]), float(f[3])))
        except (ValueError, IndexError):
            pass
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
ok = len(a) == len(b) > 0 and all(x[0] == y[0] for x, y in zip(a, b))
worst = max((abs(x[1] - y[1]) / max(abs(x[1]), 1e-3) for x, y in zip(a, b)), default=0)
print(f"{len(a)} tokens, same ids: {ok}, max rel logprob diff {worst:.3g}")
sys.exit(0 if ok and worst <= 1e-4 else 1)
PY
}
if [ -x "$BIN/llm-run" ] && "$BIN/llm-run" --list-options 2>/dev/null | grep -q '^--lora$'; then
	P="Once upon a time"
	R="llm-run -q --temp 0 -n 40 --logprobs -p"
	$R "$P" "$TMP/gg_plain.gguf" >"$TMP/run_merged.tsv" 2>"$TMP/err" &&
		$R "$P" --lora "$TMP/plain.gguf" "$B" >"$TMP/run_lora.tsv" 2>>"$TMP/err"
	if cmp_runs "$TMP/run_merged.tsv" "$TMP/run_lora.tsv" >"$TMP/cmp.out" 2>&1; then
		ok "run_lora_equals_merged ($(cat "$TMP/cmp.out"))"
	else
		fail run_lora_equals_merged "$(cat "$TMP/cmp.out") $(head -2 "$TMP/err")"
	fi
	$R "$P" --tokenizer "$B" "$TMP/hf_embed.gguf" >"$TMP/run_merged2.tsv" 2>"$TMP/err" &&
		$R "$P" --tokenizer "$B" --lora "$TMP/peft_embed:1" "$HFB" >"$TMP/run_lora2.tsv" 2>>"$TMP/err"
	if cmp_runs "$TMP/run_merged2.tsv" "$TMP/run_lora2.tsv" >"$TMP/cmp.out" 2>&1; then
		ok "run_lora_tied_embedding ($(cat "$TMP/cmp.out"))"
	else
		fail run_lora_tied_embedding "$(cat "$TMP/cmp.out") $(head -2 "$TMP/err")"
	fi
else
	skip run_lora_equals_merged "llm-run does not accept --lora yet"
fi
