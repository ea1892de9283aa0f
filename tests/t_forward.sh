#!/bin/sh
# t_forward.sh - llm_model_eval against an independent numpy forward pass
# (tests/ref_forward.py, float64 on the dequantized weights):
#   generated models (MHA, GQA 4:1, MQA; ffn 172/100/96; tied and untied;
#   partial rope, key_length, llama3 rope factors; F32 F16 BF16 Q8_0 Q4_0
#   Q4_1 Q5_0 Q5_1), 5 tokens then 3 one at a time;
#   stories260K: BOS + "Once upon a time", then 20 greedy tokens; the
#   llama2.c and Hugging Face forms of the same weights give the same
#   tokens and bit-identical logits.
# The generated models run three times: with the best kernels this CPU
# has, then with LLM_ISA=avx2 and LLM_ISA=scalar.
# Tolerance: max |llm - numpy| <= 1e-4 * max |logit|; same greedy tokens.
. tests/lib.sh
# run the reference; a crash without a "not ok" line is a failure too
ref() {
	_n=$1; shift
	"$PYTHON" tests/ref_forward.py "$@" >"$TMP/ref.out" 2>&1; _rc=$?
	cat "$TMP/ref.out"
	if [ $_rc -ne 0 ] && ! grep -q '^not ok' "$TMP/ref.out"; then
		fail "$_n" "ref_forward.py exited $_rc: $(tail -c 300 "$TMP/ref.out" | tr '\n' ' ')"
	fi
}
T=${TESTDIR:-build/tests}/test_model
if ! have_numpy; then
	skip forward_generated "no python3 with numpy"
	skip forward_stories260K "no python3 with numpy"
	exit 0
fi
# the same with the kernels a CPU without AVX-512 (avx2) or without AVX2
# (scalar: also OpenBLAS's sgemm for prompts) would use; the suffix names
# the cases of those runs
for isa in "" avx2 scalar; do
	rm -rf "$TMP/gen" && mkdir -p "$TMP/gen"
	if LLM_ISA=$isa "$T" --gen "$TMP/gen" >"$TMP/gen.out" 2>&1; then
		ref "forward_generated${isa:+_$isa}" gen "$TMP/gen" >"$TMP/ref_isa.out"
		cat "$TMP/gen.out" "$TMP/ref_isa.out" | sed "s/^\(ok\|not ok\|#\) [^ :]*/&${isa:+_$isa}/"
	else
		fail "forward_generated${isa:+_$isa}" "test_model --gen: $(head -c 300 "$TMP/gen.out")"
	fi
done
if ! have_models; then
	skip forward_stories260K "no $MODELS/stories260K.gguf"
	exit 0
fi
if "$T" --real "$MODELS/stories260K.gguf" "$TMP/real" 2>"$TMP/real.err"; then
	ref forward_stories260K real "$MODELS/stories260K.gguf" "$TMP/real"
else
	fail forward_stories260K "test_model --real: $(head -c 300 "$TMP/real.err")"
fi
# the same weights in the other two forms
for form in "stories260K.bin $MODELS/tok512.bin" "stories260K-hf $MODELS/stories260K.gguf"; do
	set -- $form
	if "$T" --real "$MODELS/$1" "$TMP/real2" "$2" 2>"$TMP/real.err" &&
	   cmp -s "$TMP/real" "$TMP/real2" && cmp -s "$TMP/real.logits" "$TMP/real2.logits"; then
		ok "forward_same_as_gguf_$1"
	else
		fail "forward_same_as_gguf_$1" "tokens or logits differ from the GGUF's ($(head -c 200 "$TMP/real.err"))"
	fi
done
