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
llm-info "$TMP/c/big_endian.gguf" 2>&1 | grep -q 'big_endian.gguf: a big-endian GGUF (version 3 byte-swapped)' &&
	ok damaged_big_endian_says_so || fail damaged_big_endian_says_so "$(llm-info "$TMP/c/big_endian.gguf" 2>&1)"

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
# a tensor with a 0 in its shape (GGUF and ggml allow it): no values to
# convert, not a division by zero
${PYTHON:-python3} - "$TMP/zero.gguf" <<'PY'
import struct, sys
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
kv = [s("general.architecture") + struct.pack("<I", 8) + s("llama")]
ti = [s("z.weight") + struct.pack("<IqqIQ", 2, 0, 4, 0, 0), s("a.weight") + struct.pack("<IqqIQ", 2, 32, 2, 0, 0)]
h = b"GGUF" + struct.pack("<Iqq", 3, len(ti), len(kv)) + b"".join(kv) + b"".join(ti)
h += b"\0" * ((-len(h)) % 32)
open(sys.argv[1], "wb").write(h + struct.pack("<64f", *range(64)))
PY
if llm-quant -q -t q8_0 -o "$TMP/zero.q8.gguf" "$TMP/zero.gguf" 2>"$TMP/err" &&
	llm-info "$TMP/zero.q8.gguf" >"$TMP/out" 2>>"$TMP/err" && grep -q '^  z.weight  *[a-z0-9_]*  *0 x 4 ' "$TMP/out" &&
	grep -q '^  a.weight  *q8_0 ' "$TMP/out"; then
	ok zero_dim_tensor_converted
else
	fail zero_dim_tensor_converted "$(head -c 300 "$TMP/err") $(grep weight "$TMP/out")"
fi
# a block_count (GGUF) or num_hidden_layers (config.json) of 2^31 - 1: an
# error naming what is wrong, not an allocation for that many layers
if have_models; then
	${PYTHON:-python3} - "$MODELS/stories260K.gguf" "$TMP/layers.gguf" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
k = b"llama.block_count"
o = d.find(k) + len(k)
assert struct.unpack_from("<I", d, o)[0] == 4  # u32
struct.pack_into("<I", d, o + 4, 2 ** 31 - 1)
open(sys.argv[2], "wb").write(d)
PY
	check_status 1 layers_gguf_block_count llm-run -n 1 -p x "$TMP/layers.gguf"
	grep -q 'layers.gguf: missing tensor blk.2147483646.attn_norm.weight' "$TMP/.err" && [ "$(wc -l <"$TMP/.err")" -eq 1 ] &&
		ok layers_gguf_error_names_tensor || fail layers_gguf_error_names_tensor "$(head -c 300 "$TMP/.err")"
	# a block_count of 4 while blk.4.* is there, and a vocabulary of more
	# tokens than token_embd has rows: refused at load (as llama.cpp
	# refuses both), not a silently smaller model / a failure when a token
	# past the table is met
	${PYTHON:-python3} - "$MODELS/stories260K.gguf" "$TMP/blocks4.gguf" "$TMP/rows511.gguf" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
k = b"llama.block_count"
o = d.find(k) + len(k)
struct.pack_into("<I", d, o + 4, 4)
open(sys.argv[2], "wb").write(d)
# token_embd and output of 511 rows for the 512 tokens
d = bytearray(open(sys.argv[1], "rb").read())
for name in (b"token_embd.weight", b"output.weight"):
    o = d.find(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    assert struct.unpack_from("<IQQ", d, o) == (2, 64, 512)
    struct.pack_into("<Q", d, o + 12, 511)
open(sys.argv[3], "wb").write(d)
PY
	check_status 1 layers_past_block_count llm-run -n 1 -p x "$TMP/blocks4.gguf"
	grep -q 'blocks4.gguf: tensor blk.4.[a-z_]*.weight: a layer past block_count 4' "$TMP/.err" &&
		ok layers_past_block_count_message || fail layers_past_block_count_message "$(head -c 300 "$TMP/.err")"
	# no layer_norm_rms_epsilon: refused as llama.cpp refuses it (a default
	# would run another model)
	${PYTHON:-python3} - "$MODELS/stories260K.gguf" "$TMP/noeps.gguf" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
k = b"llama.attention.layer_norm_rms_epsilon"
assert d.count(k) == 1
open(sys.argv[2], "wb").write(d.replace(k, k[:-1] + b"X"))
PY
	check_status 1 missing_rms_eps llm-run -n 1 -p x "$TMP/noeps.gguf"
	grep -q 'noeps.gguf: missing metadata key llama.attention.layer_norm_rms_epsilon' "$TMP/.err" &&
		ok missing_rms_eps_message || fail missing_rms_eps_message "$(head -c 300 "$TMP/.err")"
	# a tensor the forward pass has no place for (here: output.weight named
	# as a bias) is refused, not left out; so is a bias in a Hugging Face
	# checkpoint (model.norm.weight renamed model.n.norm.bias)
	${PYTHON:-python3} - "$MODELS/stories260K.gguf" "$TMP/extra.gguf" "$MODELS/stories260K-hf/model.safetensors" "$TMP/hfb" <<'PY'
import os, shutil, struct, sys
d = open(sys.argv[1], "rb").read()
name = struct.pack("<Q", 13) + b"output.weight"  # the tensor info's name, not attn_output's
assert d.count(name) == 1
open(sys.argv[2], "wb").write(d.replace(name, struct.pack("<Q", 13) + b"output_x.bias"))
os.makedirs(sys.argv[4], exist_ok=True)
shutil.copy(os.path.join(os.path.dirname(sys.argv[3]), "config.json"), sys.argv[4])
d = open(sys.argv[3], "rb").read()
assert d.count(b'"model.norm.weight"') == 1
open(os.path.join(sys.argv[4], "model.safetensors"), "wb").write(d.replace(b'"model.norm.weight"', b'"model.n.norm.bias"'))
PY
	check_status 1 unused_tensor_refused llm-run -n 1 -p x "$TMP/extra.gguf"
	grep -q 'extra.gguf: tensor output_x.bias has no place in the llama forward pass' "$TMP/.err" &&
		ok unused_tensor_message || fail unused_tensor_message "$(head -c 300 "$TMP/.err")"
	check_status 1 hf_bias_refused llm-quant -q -o "$TMP/hfb.gguf" "$TMP/hfb"
	grep -q 'tensor model.n.norm.bias: a bias' "$TMP/.err" && [ ! -e "$TMP/hfb.gguf" ] &&
		ok hf_bias_message || fail hf_bias_message "$(head -c 300 "$TMP/.err")"
	check_status 1 vocab_over_rows llm-run -n 1 -p x "$TMP/rows511.gguf"
	grep -q 'rows511.gguf: a vocabulary of 512 tokens but token_embd.weight has 511 rows' "$TMP/.err" &&
		ok vocab_over_rows_message || fail vocab_over_rows_message "$(head -c 300 "$TMP/.err")"
	mkdir -p "$TMP/hf"
	cp "$MODELS/stories260K-hf/"* "$TMP/hf/"
	sed 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": 2147483647/' "$MODELS/stories260K-hf/config.json" >"$TMP/hf/config.json"
	check_status 1 layers_hf_num_hidden_layers llm-info "$TMP/hf"
	grep -q 'config.json: "num_hidden_layers" is 2147483647' "$TMP/.err" && [ "$(wc -l <"$TMP/.err")" -eq 1 ] &&
		ok layers_hf_error_names_key || fail layers_hf_error_names_key "$(head -c 300 "$TMP/.err")"
	mkdir -p "$TMP/hfeps" && cp "$MODELS/stories260K-hf/"* "$TMP/hfeps/"
	sed 's/"rms_norm_eps": *[0-9.e-]*/"rms_norm_eps": -1/' "$MODELS/stories260K-hf/config.json" >"$TMP/hfeps/config.json"
	check_status 1 hf_negative_eps llm-quant -q -o "$TMP/hfeps.gguf" "$TMP/hfeps"
	grep -q 'config.json: rms_norm_eps -1 must be 0 or more' "$TMP/.err" && ok hf_negative_eps_message || fail hf_negative_eps_message "$(cat "$TMP/.err")"
	# finite as a double but past FLT_MAX: was written as inf (llm-quant
	# exit 0), a GGUF that llm-run then refuses; inside rope_scaling and
	# transformers 5's rope_parameters too
	for c in 'theta:s/"rope_theta": *[0-9.e+]*/"rope_theta": 1e39/' 'eps:s/"rms_norm_eps": *[0-9.e-]*/"rms_norm_eps": 1e39/' \
		'linear_factor:s/"vocab_size"/"rope_scaling": {"rope_type": "linear", "factor": 1e39}, &/' \
		'parameters_theta:s/"vocab_size"/"rope_parameters": {"rope_type": "llama3", "rope_theta": 1e39}, &/'; do
		rm -f "$TMP/hfeps.gguf"
		sed "${c#*:}" "$MODELS/stories260K-hf/config.json" >"$TMP/hfeps/config.json"
		check_status 1 "hf_beyond_float_${c%%:*}" llm-quant -q -o "$TMP/hfeps.gguf" "$TMP/hfeps"
		grep -q 'config.json: "[a-z_]*" is not a number that fits a float$' "$TMP/.err" && [ ! -e "$TMP/hfeps.gguf" ] &&
			ok "hf_beyond_float_${c%%:*}_message" || fail "hf_beyond_float_${c%%:*}_message" "$(cat "$TMP/.err")"
	done
	sed 's/"LlamaForCausalLM"/"LLaMAForCausalLM"/' "$MODELS/stories260K-hf/config.json" >"$TMP/hfeps/config.json"
	check hf_llama_early_spelling llm-info "$TMP/hfeps"
	# a vocabulary (--tokenizer, or the model's own) is checked as the
	# tokenizer reads it, and errors name the file that holds it
	${PYTHON:-python3} - "$MODELS/stories260K.gguf" "$TMP" <<'PY' || fail vocab_edits "python failed"
import sys
sys.path.insert(0, "tests")
import gguf_write as g
src, d = sys.argv[1], sys.argv[2]
tok = (b"tokenizer.ggml.tokens", b"tokenizer.ggml.scores", b"tokenizer.ggml.token_type")
g.edit(src, d + "/v_nomodel.gguf", lambda kv: kv.__setitem__(slice(None), [e for e in kv if e[0] != b"tokenizer.ggml.model"]))
g.edit(src, d + "/v_short_scores.gguf", lambda kv: [e[2][1].__delitem__(slice(100, None)) for e in kv if e[0] == tok[1]])
g.edit(src, d + "/v_model_u32.gguf", lambda kv: [e.__setitem__(slice(1, 3), [4, 1]) for e in kv if e[0] == b"tokenizer.ggml.model"])
g.edit(src, d + "/v_three.gguf", lambda kv: [e[2][1].__delitem__(slice(3, None)) for e in kv if e[0] in tok])
g.edit(src, d + "/v_500.gguf", lambda kv: [e[2][1].__delitem__(slice(500, None)) for e in kv if e[0] in tok])
g.edit(src, d + "/v_bert.gguf", lambda kv: [e.__setitem__(2, b"bert") for e in kv if e[0] == b"tokenizer.ggml.model"])
PY
	check_status 1 tokenizer_file_damaged_quant llm-quant -q --tokenizer "$TMP/v_short_scores.gguf" -o "$TMP/vq.gguf" "$MODELS/stories260K.bin"
	grep -q '^llm-quant: .*v_short_scores.gguf: tokenizer.ggml.scores: 100 scores for 512 tokens$' "$TMP/.err" && [ ! -e "$TMP/vq.gguf" ] &&
		ok tokenizer_file_damaged_message || fail tokenizer_file_damaged_message "$(cat "$TMP/.err")"
	check_status 1 tokenizer_file_no_model llm-run -n 1 -p x --tokenizer "$TMP/v_nomodel.gguf" "$MODELS/stories260K.bin"
	grep -q 'v_nomodel.gguf: tokenizer.ggml.model: missing' "$TMP/.err" &&
		ok tokenizer_file_named || fail tokenizer_file_named "$(cat "$TMP/.err")"
	check_status 1 tokenizer_model_not_string llm-run -n 1 -p x "$TMP/v_model_u32.gguf"
	grep -q 'tokenizer.ggml.model: u32 is not a string' "$TMP/.err" &&
		ok tokenizer_model_type_message || fail tokenizer_model_type_message "$(cat "$TMP/.err")"
	# fewer tokens than embedding rows: llama.cpp refuses the shape, and
	# the sampler would pick ids with no text
	check_status 1 vocab_under_rows llm-run -n 1 -p x "$TMP/v_three.gguf"
	grep -q 'v_three.gguf: a vocabulary of 3 tokens but token_embd.weight has 512 rows' "$TMP/.err" &&
		ok vocab_under_rows_message || fail vocab_under_rows_message "$(cat "$TMP/.err")"
	# a --tokenizer vocabulary with fewer tokens than rows: refused
	# naming it (the loader would refuse the output); a valid one of a
	# kind llm-run does not run (BERT) is copied as it is
	check_status 1 tokenizer_file_under_rows llm-quant -q --tokenizer "$TMP/v_500.gguf" -o "$TMP/v5.gguf" "$MODELS/stories260K.bin"
	grep -q 'v_500.gguf: a vocabulary of 500 tokens for a model of 512 embedding rows' "$TMP/.err" && [ ! -e "$TMP/v5.gguf" ] &&
		ok tokenizer_file_under_rows_message || fail tokenizer_file_under_rows_message "$(cat "$TMP/.err")"
	check tokenizer_file_other_kind_copied llm-quant -q --tokenizer "$TMP/v_bert.gguf" -o "$TMP/vb.gguf" "$MODELS/stories260K.bin"
	# an unknown tokenizer model name, or a kind llm-run does not run
	# with arrays that disagree: damage, refused; a compressed GGUF is a
	# GGUF for --tokenizer too
	${PYTHON:-python3} - "$TMP" <<'PY' || fail vocab_kinds "python failed"
import sys
sys.path.insert(0, "tests")
import gguf_write as g
d = sys.argv[1]
def k(kv, n):
    return next(e for e in kv if e[0] == n.encode())
g.edit(d + "/v_bert.gguf", d + "/v_weird.gguf", lambda kv: k(kv, "tokenizer.ggml.model").__setitem__(2, b"frobnicate"))
g.edit(d + "/v_bert.gguf", d + "/v_bert_short.gguf", lambda kv: k(kv, "tokenizer.ggml.scores")[2][1].pop())
PY
	check_status 1 tokenizer_unknown_kind llm-quant -q --tokenizer "$TMP/v_weird.gguf" -o "$TMP/vw.gguf" "$MODELS/stories260K.bin"
	grep -q "v_weird.gguf: unknown tokenizer model 'frobnicate'" "$TMP/.err" && ok tokenizer_unknown_kind_message ||
		fail tokenizer_unknown_kind_message "$(cat "$TMP/.err")"
	check_status 1 tokenizer_other_kind_damaged llm-quant -q --tokenizer "$TMP/v_bert_short.gguf" -o "$TMP/vw.gguf" "$MODELS/stories260K.bin"
	llm-quant -q --zstd -o "$TMP/vz.gguf.zst" "$MODELS/stories260K.gguf"
	expect tokenizer_compressed_gguf "$(llm-run --tokenize -p Once --tokenizer "$TMP/vz.gguf.zst" "$MODELS/stories260K.bin" 2>&1)" "1 403"
	# a tokenizer.model read alone takes config.json's vocab_size beside
	# it, keeping an added token past its pieces as the directory does
	mkdir -p "$TMP/r3"
	${PYTHON:-python3} -c 'import json, sys; c = json.load(open(sys.argv[1])); c["vocab_size"] = 520; json.dump(c, open(sys.argv[2], "w"))' \
		"$MODELS/stories260K-hf/config.json" "$TMP/r3/config.json"
	${PYTHON:-python3} tests/mk_spm.py "$MODELS/stories260K.gguf" "$TMP/r3/tokenizer.model"
	echo '{"<|im_end|>": 512}' >"$TMP/r3/added_tokens.json"
	expect spm_alone_added_past_pieces "$(llm-run --tokenize --parse-special -p 'Hi<|im_end|>' "$TMP/r3/tokenizer.model" 2>&1)" "1 320 417 512"
	# a type llm-svd-delta cannot decode: the message names the file
	${PYTHON:-python3} - "$MODELS/stories260K.gguf" "$TMP/i8.gguf" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = b"blk.2.attn_k.weight"
o = b.find(n) + len(n)
nd = struct.unpack_from("<I", b, o)[0]
struct.pack_into("<I", b, o + 4 + 8 * nd, 24)  # GGML_TYPE_I8
open(sys.argv[2], "wb").write(b)
PY
	check_status 1 svd_delta_undecodable llm-svd-delta -q -r 2 -o "$TMP/sv.gguf" "$MODELS/stories260K.gguf" "$TMP/i8.gguf"
	grep -q 'i8.gguf: tensor blk.2.attn_k.weight: type i8 cannot be decoded' "$TMP/.err" &&
		ok svd_delta_undecodable_message || fail svd_delta_undecodable_message "$(cat "$TMP/.err")"
else
	skip layers_block_count "no $MODELS/stories260K.gguf"
fi
if ls -A "$TMP" | grep -q '^\..*gguf\.'; then fail damaged_no_temporaries "$(ls -A "$TMP")"; else ok damaged_no_temporaries; fi
