#!/bin/sh
# llm-run: tokenization (llama.cpp's vocabulary vectors, three checkpoint
# forms), greedy generation from the three forms, seeds, --logprobs against
# a float64 numpy forward pass (tests/ref_perplexity.py), --score against
# --logprobs, --perplexity against numpy, --kv-out against numpy, and bad
# input (exit status and one-line messages).
. tests/lib.sh

# close NAME A B TOL: |A - B| <= TOL
close() {
	if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; then
		ok "$1"
	else
		fail "$1" "got '$2', wanted '$3' within $4"
	fi
}
# rclose NAME A B TOL: |A - B| <= TOL * |B|
rclose() {
	if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && b != "" && d <= t * m) }'; then
		ok "$1"
	else
		fail "$1" "got '$2', wanted '$3' within $4 relative"
	fi
}
# one_line NAME STATUS WANT_SUBSTRING CMD...: exit status, one stderr line naming WANT
# (usage errors too: the "try --help" hint ends that line)
one_line() {
	_n=$1 _st=$2 _w=$3; shift 3
	"$@" >"$TMP/bad.out" 2>"$TMP/bad.err" </dev/null; _rc=$?
	if [ "$_rc" -ne "$_st" ]; then
		fail "$_n" "exit $_rc, wanted $_st ($(head -c 200 "$TMP/bad.err"))"
	elif [ "$(wc -l <"$TMP/bad.err")" -ne 1 ]; then
		fail "$_n" "wanted one line on stderr, got: $(head -c 300 "$TMP/bad.err")"
	elif ! grep -q -- "$_w" "$TMP/bad.err"; then
		fail "$_n" "message does not say '$_w': $(head -c 200 "$TMP/bad.err")"
	elif [ -s "$TMP/bad.out" ]; then
		fail "$_n" "wrote to stdout: $(head -c 100 "$TMP/bad.out")"
	else
		ok "$_n"
	fi
}

# vectors NAME GGUF N [TOKENIZER [MODEL]]: llm-run --tokenize --no-bos on the
# first N (0: all) strings of GGUF's llama.cpp vector files (GGUF.inp,
# GGUF.out), with the vocabulary of TOKENIZER when given (not empty), run on
# MODEL instead of GGUF when given
vectors() {
	"$PYTHON" - "$2" "$3" "${4:-}" "${5:-$2}" >"$TMP/vec.txt" 2>&1 <<'EOF'
import subprocess, sys
path, n, tok, model = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
inp = open(path + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
out = open(path + ".out", encoding="utf-8").read().split("\n")
pairs = list(zip(inp, out))[:n or None]
extra = ["--tokenizer", tok] if tok else []
bad = 0
for i, (text, want) in enumerate(pairs):
    got = subprocess.run(["llm-run", "--tokenize", "--no-bos"] + extra + ["-p", text, model],
                         capture_output=True, text=True)
    if got.returncode != 0 or got.stdout.split() != want.split():
        bad += 1
        print("entry %d %r: got %r (%s), want %r" % (i, text, got.stdout.strip(), got.stderr.strip(), want.strip()))
print("bad", bad, "of", len(pairs))
EOF
	if grep -q "^bad 0 of [1-9]" "$TMP/vec.txt"; then ok "$1"; else fail "$1" "$(head -c 400 "$TMP/vec.txt")"; fi
}

# ---- usage errors need nothing ----
one_line usage_unknown_option 2 "unknown option" llm-run --frobnicate model.gguf
one_line usage_n_below_minus_one 2 "n-predict" llm-run -n -5 model.gguf
one_line usage_no_model 2 "MODEL" llm-run -p hi
one_line usage_modes_conflict 2 "exclude" llm-run --score --tokenize model.gguf
one_line usage_bad_top_p 2 "top-p" llm-run --top-p 1.5 model.gguf
one_line usage_flag_given_argument 2 "'--quiet' does not take an argument" llm-run --quiet=1 model.gguf
one_line usage_ambiguous_option 2 "'--to' is ambiguous" llm-run --to 3 model.gguf
one_line usage_stdin_twice 2 "only once" llm-run -f - -
one_line usage_stdin_prompt_and_model 2 "unless -p or -f" llm-run -n 1 -
one_line usage_stdin_score_and_adapter 2 "only once" llm-run --score --lora - model.gguf
one_line usage_score_escape 2 "no -e" llm-run --score -e model.gguf
one_line usage_lora_scale_inf 2 "a.gguf:inf: scale inf is not a finite float" llm-run -p hi --lora a.gguf:inf model.gguf
one_line usage_lora_merge_scale_nan 2 "a.gguf:nan: scale nan is not a finite float" llm-lora-merge -o "$TMP/x.gguf" model.gguf a.gguf:nan
one_line usage_perplexity_ctx_2 2 "c 3" llm-run -c 2 --perplexity /dev/null model.gguf
one_line missing_model 1 "$TMP/none.gguf" llm-run -p hi "$TMP/none.gguf"
printf 'not a model at all\n' >"$TMP/junk.bin"
one_line not_a_model 1 "$TMP/junk.bin" llm-run -p hi "$TMP/junk.bin"

# ---- tokenization of vocabulary-only files against llama.cpp's vectors ----
if ! have_vocab; then
	skip tokenize_vocab_vectors "../shared/vocab is absent"
elif ! have_numpy; then
	skip tokenize_vocab_vectors "no python3 with numpy (used to split the vector files)"
else
	for v in llama-spm:46 gpt-2:12; do
		vectors "tokenize_vectors_${v%%:*}" "$VOCAB/ggml-vocab-${v%%:*}.gguf" "${v##*:}"
	done
fi
if have_vocab; then
	one_line vocab_only_generation 1 "ggml-vocab-llama-spm.gguf" llm-run -p hi -n 4 "$VOCAB/ggml-vocab-llama-spm.gguf"
	# invalid UTF-8 in a prompt (llm-run(1)), read as llama.cpp reads it.
	# SPM (<0xNN> is id 3 + NN): "\377" announces 4 bytes and takes "b"
	# and the first two bytes of the space's U+2581 (E2 96) along: 258
	# 101 229 153, then the lone 0x81 132, then the cut-off E2 82, 229 133.
	# GPT-2: each byte that cannot be decoded is U+FFFD, so the tokens are
	# those of "a\uFFFDb \uFFFD\uFFFD": 4210 U+FFFD, 220 space, 6353 two
	# U+FFFD.
	printf 'a\377b \342\202' >"$TMP/bad_utf8.txt"
	expect tokenize_invalid_utf8_spm "$(llm-run --tokenize --no-bos -f "$TMP/bad_utf8.txt" "$VOCAB/ggml-vocab-llama-spm.gguf")" "263 258 101 229 153 132 229 133"
	expect tokenize_invalid_utf8_bpe "$(llm-run --tokenize -f "$TMP/bad_utf8.txt" "$VOCAB/ggml-vocab-gpt-2.gguf")" "64 4210 65 220 6353"
	# --parse-special: phi-3's chat markers <|user|> 32010, <|end|> 32007,
	# <|assistant|> 32001 as tokens; the newline after each is dropped, as
	# llama.cpp does for a model named Phi3, and the text after one gets
	# its space prefix: 6324 "▁Hi".  The second turn is one whose llama.cpp
	# tokens are on record (1 32010 317 21554 13 17628 32007 32001: "▁SYS"
	# as 317 21554, where keeping the newline gives 29871 13 14816 29903)
	printf '<|user|>\nHi<|end|>\n<|assistant|>' >"$TMP/chat.txt"
	expect tokenize_parse_special "$(llm-run --tokenize --parse-special --no-bos -f "$TMP/chat.txt" "$VOCAB/ggml-vocab-phi-3.gguf")" "32010 6324 32007 32001"
	printf '<|user|>\nSYS\nHI<|end|>\n<|assistant|>\n' >"$TMP/chat2.txt"
	expect tokenize_parse_special_rstrip "$(llm-run --tokenize --parse-special -f "$TMP/chat2.txt" "$VOCAB/ggml-vocab-phi-3.gguf")" "1 32010 317 21554 13 17628 32007 32001"
	expect tokenize_special_as_text "$(llm-run --tokenize --no-bos -p '<|endoftext|>' "$VOCAB/ggml-vocab-gpt-2.gguf")" "27 91 437 1659 5239 91 29"
	# -e: \n \xNN processed, a short \x4 and an unknown \q kept as written
	expect tokenize_escape "$(llm-run --tokenize -e -p 'a\nb\x41\x4\q' "$VOCAB/ggml-vocab-gpt-2.gguf")" \
		"$(llm-run --tokenize -p "$(printf 'a\nbA\\x4\\q')" "$VOCAB/ggml-vocab-gpt-2.gguf")"
	expect tokenize_escape_ids "$(llm-run --tokenize -e -p 'a\nb\x41' "$VOCAB/ggml-vocab-gpt-2.gguf")" "64 198 65 32"
	expect tokenize_no_escape "$(llm-run --tokenize -p 'a\n' "$VOCAB/ggml-vocab-gpt-2.gguf")" "64 59 77"
	# a backslash before a NUL byte stays (llama.cpp keeps it too): a, \, NUL, b
	printf 'a\\\0b' >"$TMP/bs_nul.txt"
	expect tokenize_escape_backslash_nul "$(llm-run --tokenize -e -f "$TMP/bs_nul.txt" "$VOCAB/ggml-vocab-gpt-2.gguf")" "64 59 188 65"
	llm-run --tokenize --parse-special -p '<s>Hi' "$VOCAB/ggml-vocab-llama-spm.gguf" >"$TMP/bos2.out" 2>"$TMP/bos2.err"
	if [ "$(cat "$TMP/bos2.out")" = "1 1 6324" ] && grep -q "two BOS" "$TMP/bos2.err"; then ok parse_special_double_bos_warned
	else fail parse_special_double_bos_warned "$(cat "$TMP/bos2.out" "$TMP/bos2.err")"; fi
	expect tokenize_parse_special_bpe "$(llm-run --tokenize --parse-special -p 'a<|endoftext|>' "$VOCAB/ggml-vocab-gpt-2.gguf")" "64 50256"
else
	skip vocab_only_generation "../shared/vocab is absent"
	skip tokenize_invalid_utf8 "../shared/vocab is absent"
fi

# ---- a SentencePiece tokenizer.model (tests/mk_spm.py writes them) ----
if ! have_vocab || ! have_numpy; then
	skip spm_model "../shared/vocab or python3 with numpy is absent"
else
	S="$VOCAB/ggml-vocab-llama-spm.gguf"
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/spm.model"
	# llama.cpp's vectors with the vocabulary from the .model instead of
	# the GGUF's (the GGUF stays the MODEL: --tokenizer replaces its keys)
	vectors spm_model_vectors "$S" 0 "$TMP/spm.model"
	# the .model alone as MODEL: a vocabulary-only checkpoint
	vectors spm_model_alone_vectors "$S" 0 "" "$TMP/spm.model"
	# add_dummy_prefix false: "Hello" is no longer "▁Hello"; " Hello" is
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/nopre.model" prefix=0
	expect spm_no_dummy_prefix "$(llm-run --tokenize --tokenizer "$TMP/nopre.model" -p ' Hello' "$S")" \
		"$(llm-run --tokenize -p Hello "$S")"
	expect spm_no_dummy_prefix_differs "$(llm-run --tokenize --no-bos --tokenizer "$TMP/nopre.model" -p Hello "$S")" "10994"
	# bos_id -1: no BOS to add
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/nobos.model" bos=-1
	expect spm_no_bos "$(llm-run --tokenize --tokenizer "$TMP/nobos.model" -p Hello "$S")" "15043"
	# damaged and unsupported files: one line naming the file
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/cut.model" truncate=200000
	one_line spm_truncated 1 "cut.model" llm-run --tokenize --tokenizer "$TMP/cut.model" -p hi "$S"
	# cut between two pieces it is still protobuf: the missing trainer
	# spec gives it away (model_type=none writes pieces without one)
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/cut2.model" model_type=none
	one_line spm_no_trainer_spec 1 "cut2.model: not a SentencePiece model (no trainer spec" \
		llm-run --tokenize --tokenizer "$TMP/cut2.model" -p hi "$S"
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/uni.model" model_type=1
	one_line spm_unigram 1 "uni.model: a SentencePiece unigram model" llm-run --tokenize --tokenizer "$TMP/uni.model" -p hi "$S"
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/bigbos.model" bos=32000
	one_line spm_bos_out_of_range 1 "bos_id 32000" llm-run --tokenize --tokenizer "$TMP/bigbos.model" -p hi "$S"
	"$PYTHON" tests/mk_spm.py "$S" "$TMP/type.model" type=7:9
	one_line spm_bad_type 1 "piece 7: type 9" llm-run --tokenize --tokenizer "$TMP/type.model" -p hi "$S"
	printf 'not a model at all\n' >"$TMP/junk.model"
	one_line spm_junk 1 "junk.model: not a SentencePiece model" llm-run --tokenize --tokenizer "$TMP/junk.model" -p hi "$S"
	# a .model with too many pieces for the model's embedding; one with
	# fewer is padded with unused "[PADid]" tokens (score -10000), as
	# llama.cpp's converter pads it, so that llama.cpp loads the result
	if have_models; then
		one_line spm_too_many_tokens 1 "a vocabulary of 32000 tokens for a model of 512" \
			llm-run -p hi --tokenizer "$TMP/spm.model" "$MODELS/stories260K.gguf"
		"$PYTHON" tests/mk_spm.py "$MODELS/tok512.bin" "$TMP/t500.model" keep=500
		llm-quant -q -t f32 --tokenizer "$TMP/t500.model" -o "$TMP/t500.gguf" "$MODELS/stories260K.gguf"
		expect spm_padded "$("$PYTHON" -c 'import sys; sys.path.insert(0, "tests"); import gguf_ref
md = gguf_ref.read(sys.argv[1])["metadata"]
t, s, y = md["tokenizer.ggml.tokens"], md["tokenizer.ggml.scores"], md["tokenizer.ggml.token_type"]
print(len(t), t[499] != "[PAD499]", t[500], t[511], s[511], y[499], y[500])' "$TMP/t500.gguf")" \
			"512 True [PAD500] [PAD511] -10000.0 1 5"
	fi
fi

# ---- a Hugging Face tokenizer.json (tests/tokdiff/hf_json.py writes them
# from the vocabularies, with their models' pre-tokenizers) ----
if ! have_vocab || ! have_numpy; then
	skip hf_tokenizer_json "../shared/vocab or python3 with numpy is absent"
else
	for name in gpt-2 starcoder falcon deepseek-coder; do
		S="$VOCAB/ggml-vocab-$name.gguf"
		"$PYTHON" tests/tokdiff/hf_json.py "$S" "$name" >"$TMP/$name.json"
		vectors "hf_json_vectors_$name" "$S" 0 "$TMP/$name.json"
		vectors "hf_json_alone_vectors_$name" "$S" 0 "" "$TMP/$name.json"
	done
	# the pre-tokenizer is recognised from its description
	G2="$VOCAB/ggml-vocab-gpt-2.gguf"
	# (Llama 3's as convert_hf_to_gguf names it: llama-bpe)
	for pre in llama3 dbrx qwen2 deepseek-v3 tekken; do
		"$PYTHON" tests/tokdiff/hf_json.py "$G2" $pre >"$TMP/$pre.json"
		want=$pre; [ $pre = llama3 ] && want=llama-bpe
		expect "hf_json_pre_$pre" "$(llm-info --tokenizer "$TMP/$pre.json" "$G2" | awk '$1 == "tokenizer.ggml.pre" { print $4 }')" "\"$want\""
	done
	# a post-processor template with a special token before the text adds
	# it as BOS (GPT-2 itself adds none)
	"$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[1]))
j["post_processor"] = {"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}]}
json.dump(j, open(sys.argv[2], "w"))' "$TMP/gpt-2.json" "$TMP/tmpl.json"
	expect hf_json_template_bos "$(llm-run --tokenize --tokenizer "$TMP/tmpl.json" -p hi "$G2") / $(llm-run --tokenize --tokenizer "$TMP/gpt-2.json" -p hi "$G2")" "50256 5303 / 5303"
	# a model_max_length past 64 bits, as Hugging Face writes it, in a
	# tokenizer_config.json that asks for no BOS
	mkdir "$TMP/cfg"
	cp "$TMP/tmpl.json" "$TMP/cfg/tokenizer.json"
	printf '{"model_max_length": 1000000000000000019884624838656, "add_bos_token": false}\n' >"$TMP/cfg/tokenizer_config.json"
	expect hf_json_config_big_integer "$(llm-run --tokenize --tokenizer "$TMP/cfg/tokenizer.json" -p hi "$G2" 2>&1)" "5303"
	# add_eos_token: --tokenize appends EOS where llama-tokenize does, only
	# when BOS is added as well
	printf '{"eos_token": "<|endoftext|>", "add_bos_token": true, "add_eos_token": true}\n' >"$TMP/cfg/tokenizer_config.json"
	expect hf_json_add_eos "$(llm-run --tokenize --tokenizer "$TMP/cfg/tokenizer.json" -p hi "$G2" 2>&1) / $(llm-run --tokenize --no-bos --tokenizer "$TMP/cfg/tokenizer.json" -p hi "$G2" 2>&1)" "50256 5303 50256 / 5303"
	# run alone (no tensors): the error is the one line, without the EOS notice
	one_line hf_json_add_eos_alone_run 1 "tokenizer.json: no tensors" llm-run -p hi "$TMP/cfg/tokenizer.json"
	printf '{"add_bos_token": false, "add_eos_token": true}\n' >"$TMP/cfg/tokenizer_config.json"
	expect hf_json_add_eos_without_bos "$(llm-run --tokenize --tokenizer "$TMP/cfg/tokenizer.json" -p hi "$G2" 2>&1)" "5303"
	# the chat template as the converter takes it: tokenizer_config.json's
	# (a string, or a list whose "default" is the template and whose others
	# are tokenizer.chat_template.NAME), else chat_template.jinja's text
	ct() { llm-info -j --tokenizer "$TMP/cfg/tokenizer.json" "$G2" | "$PYTHON" -c 'import json, sys
m = json.load(sys.stdin)["metadata"]
print(json.dumps({k: v for k, v in m.items() if k.startswith("tokenizer.chat_template")}, sort_keys=True))'; }
	printf '{"chat_template": "{{ bos_token }}{%% for m in messages %%}{{ m.content }}{%% endfor %%}"}\n' >"$TMP/cfg/tokenizer_config.json"
	expect hf_chat_template "$(ct)" '{"tokenizer.chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}'
	printf '{"chat_template": [{"name": "default", "template": "D"}, {"name": "tool use", "template": "T"}, {"name": "rag", "template": "R"}]}\n' >"$TMP/cfg/tokenizer_config.json"
	expect hf_chat_template_list "$(ct)" '{"tokenizer.chat_template": "D", "tokenizer.chat_template.rag": "R", "tokenizer.chat_template.tool_use": "T", "tokenizer.chat_templates": ["tool_use", "rag"]}'
	printf '{}\n' >"$TMP/cfg/tokenizer_config.json"
	printf '{{ messages }}\n' >"$TMP/cfg/chat_template.jinja"
	expect hf_chat_template_jinja "$(ct)" '{"tokenizer.chat_template": "{{ messages }}\n"}'
	printf '{"chat_template": null}\n' >"$TMP/cfg/tokenizer_config.json"
	expect hf_chat_template_null "$(ct)" '{}'
	rm "$TMP/cfg/chat_template.jinja"
	# what is refused, with one line naming the file
	"$PYTHON" - "$TMP/gpt-2.json" "$TMP" <<'EOF2'
import json, sys
j = json.load(open(sys.argv[1]))
def w(name, edit):
    k = json.loads(json.dumps(j))
    edit(k)
    json.dump(k, open(sys.argv[2] + "/" + name + ".json", "w"))
w("ws", lambda k: k.__setitem__("pre_tokenizer", {"type": "Whitespace"}))
w("fallback", lambda k: k["model"].__setitem__("byte_fallback", True))
w("wordpiece", lambda k: k["model"].__setitem__("type", "WordPiece"))
w("clash", lambda k: k["added_tokens"].append({"id": 5, "content": "zzz", "special": True}) or k["model"]["vocab"].__setitem__("zzz", 6))
w("badmerge", lambda k: k["model"]["merges"].__setitem__(3, "nospace"))
w("bigid", lambda k: k["added_tokens"].append({"id": 2147483000, "content": "big", "special": True}))
w("looks", lambda k: k["added_tokens"].extend([{"id": 50257, "content": "<|fim|>", "special": False},
    {"id": 50258, "content": "\u2581x\u2581", "special": False}, {"id": 50259, "content": "<\uff5cend\uff5c>"}]))
EOF2
	# added tokens not marked special that look it (the converter's
	# does_token_look_special) are control tokens; user-defined ones have
	# U+2581 as spaces
	expect hf_json_added_types "$(llm-info -j --tokenizer "$TMP/looks.json" "$G2" | "$PYTHON" -c 'import json, sys
m = json.load(sys.stdin)["metadata"]
print(*["%s/%d" % (m["tokenizer.ggml.tokens"][i], m["tokenizer.ggml.token_type"][i]) for i in (50256, 50257, 50258, 50259)])')" \
		"<|endoftext|>/3 <|fim|>/3  x /4 <｜end｜>/3"
	one_line hf_json_unknown_pre 1 "ws.json: a pre-tokenizer (with its normalizer) llama.cpp does not name" llm-run --tokenize --tokenizer "$TMP/ws.json" -p hi "$G2"
	one_line hf_json_byte_fallback 1 "fallback.json: a SentencePiece vocabulary" llm-run --tokenize --tokenizer "$TMP/fallback.json" -p hi "$G2"
	one_line hf_json_wordpiece 1 "wordpiece.json: model type WordPiece" llm-run --tokenize --tokenizer "$TMP/wordpiece.json" -p hi "$G2"
	one_line hf_json_badmerge 1 "badmerge.json: model.merges\[3\] is not a pair" llm-run --tokenize --tokenizer "$TMP/badmerge.json" -p hi "$G2"
	printf '{"model": {"type": "BPE", ' >"$TMP/cut.json"
	one_line hf_json_big_id 1 "bigid.json: token ids up to 2147483000" llm-run --tokenize --tokenizer "$TMP/bigid.json" -p hi "$G2"
	one_line hf_json_clash 1 "clash.json: id 6 is both" llm-run --tokenize --tokenizer "$TMP/clash.json" -p hi "$G2"
	one_line hf_json_cut 1 "cut.json: bad JSON at line 1" llm-run --tokenize --tokenizer "$TMP/cut.json" -p hi "$G2"
	# merges as [a, b] pairs (newer tokenizers) tokenize as "a b" strings do
	"$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[1])); j["model"]["merges"] = [m.split(" ", 1) for m in j["model"]["merges"]]; json.dump(j, open(sys.argv[2], "w"))' "$TMP/gpt-2.json" "$TMP/pairs.json"
	expect hf_json_merge_pairs "$(llm-run --tokenize --tokenizer "$TMP/pairs.json" -p 'Hello world, ünïcode' "$G2")" \
		"$(llm-run --tokenize -p 'Hello world, ünïcode' "$G2")"
fi

if ! have_models; then
	skip stories260K "../shared/models is absent: generation, logprobs, score, perplexity and kv-out untested"
	exit 0
fi
G=$MODELS/stories260K.gguf
B=$MODELS/stories260K.bin
HF=$MODELS/stories260K-hf
TB=$MODELS/tok512.bin

# ---- --tokenize: three forms, stdin and -f, BOS ----
t_gguf=$(llm-run --tokenize -p "Once upon a time" "$G")
t_bin=$(llm-run --tokenize -p "Once upon a time" --tokenizer "$TB" "$B")
t_hf=$(llm-run --tokenize -p "Once upon a time" --tokenizer "$G" "$HF")
expect tokenize_bin_equals_gguf "$t_bin" "$t_gguf"
expect tokenize_hf_equals_gguf "$t_hf" "$t_gguf"
expect tokenize_stdin "$(printf 'Once upon a time' | llm-run --tokenize "$G")" "$t_gguf"
printf 'Once upon a time' >"$TMP/p.txt"
expect tokenize_file "$(llm-run --tokenize -f "$TMP/p.txt" "$G")" "$t_gguf"
# the file whole, as llama-tokenize -f reads it: its final newline is a
# token (13, <0x0A>), where running the model drops it as llama-cli's -f
printf 'Once upon a time\n' >"$TMP/pn.txt"
expect tokenize_file_newline "$(llm-run --tokenize -f "$TMP/pn.txt" "$G")" "$t_gguf 13"
expect tokenize_stdin_newline "$(llm-run --tokenize "$G" <"$TMP/pn.txt")" "$t_gguf 13"
expect run_file_drops_newline "$(llm-run -q -n 4 --temp 0 -f "$TMP/pn.txt" "$G")" "$(llm-run -q -n 4 --temp 0 -f "$TMP/p.txt" "$G")"
expect tokenize_no_bos "$(llm-run --tokenize --no-bos -p "Once upon a time" "$G")" "${t_gguf#* }"
# a tokenizer file alone is a vocabulary-only checkpoint: tokenize with it,
# read it with llm-info, write its GGUF; running it is refused in one line
expect tokenize_tokenizer_bin_alone "$(llm-run --tokenize -p "Once upon a time" "$TB")" "$t_gguf"
llm-info "$TB" >"$TMP/tb.info" 2>&1
if grep -q '^format:   vocabulary$' "$TMP/tb.info" && grep -q '^tensors:  0$' "$TMP/tb.info" &&
	grep -q 'tokenizer.ggml.tokens  *\[str x 512\]' "$TMP/tb.info"; then
	ok info_tokenizer_bin_alone
else
	fail info_tokenizer_bin_alone "$(head -c 300 "$TMP/tb.info")"
fi
if llm-quant -q --vocab-only -o "$TMP/tb.gguf" "$TB" &&
	[ "$(llm-run --tokenize -p "Once upon a time" "$TMP/tb.gguf")" = "$t_gguf" ]; then
	ok quant_vocab_only_tokenizer_bin
else
	fail quant_vocab_only_tokenizer_bin "ids differ"
fi
one_line run_tokenizer_alone 1 "tok512.bin: no tensors" llm-run -p hi -n 4 "$TB"
head -c 1000 "$TB" >"$TMP/cut_tok.bin"
one_line tokenizer_bin_cut_alone 1 "cut_tok.bin: unrecognised format: no GGUF magic, not a tokenizer file" \
	llm-run --tokenize -p hi "$TMP/cut_tok.bin"
printf 'not a model at all\n' >"$TMP/junk2.model"
one_line spm_junk_alone 1 "junk2.model: not a SentencePiece model" llm-run --tokenize -p hi "$TMP/junk2.model"
printf '{"model": {"type": "BPE", ' >"$TMP/cut_tok.json"
one_line hf_json_cut_alone 1 "cut_tok.json: bad JSON" llm-run --tokenize -p hi "$TMP/cut_tok.json"
if have_numpy; then
	# the ids spell the text in the GGUF's own vocabulary, after its BOS id
	spelled=$("$PYTHON" -c '
import sys; sys.path.insert(0, "tests"); import gguf_ref
m = gguf_ref.read(sys.argv[1])["metadata"]
ids = [int(t) for t in sys.argv[2].split()]
v = m["tokenizer.ggml.tokens"]
print(ids[0] == m["tokenizer.ggml.bos_token_id"], "".join(v[i] for i in ids[1:]))' "$G" "$t_gguf")
	expect tokenize_spells_text "$spelled" "True ▁Once▁upon▁a▁time"
else
	skip tokenize_spells_text "no python3 with numpy"
fi

# ---- greedy generation: the three forms agree, and the text is the story ----
llm-run -q --temp 0 -n 48 -p "Once upon a time" "$G" >"$TMP/g.txt"
llm-run -q --temp 0 -n 48 -p "Once upon a time" --tokenizer "$TB" "$B" >"$TMP/b.txt"
llm-run -q --temp 0 -n 48 -p "Once upon a time" --tokenizer "$G" "$HF" >"$TMP/h.txt"
if cmp -s "$TMP/g.txt" "$TMP/b.txt" && cmp -s "$TMP/g.txt" "$TMP/h.txt"; then ok greedy_three_forms; else
	fail greedy_three_forms "$(head -c 80 "$TMP/g.txt") | $(head -c 80 "$TMP/b.txt") | $(head -c 80 "$TMP/h.txt")"; fi
# a Hugging Face directory with its own tokenizer.model (tok512.bin as
# SentencePiece, written by tests/mk_spm.py): found without --tokenizer;
# the same file through --tokenizer for the llama2.c checkpoint
if have_numpy; then
	mkdir "$TMP/hfspm"
	ln -s "$HF/config.json" "$HF/model.safetensors" "$TMP/hfspm/"
	"$PYTHON" tests/mk_spm.py "$TB" "$TMP/hfspm/tokenizer.model"
	llm-run -q --temp 0 -n 48 -p "Once upon a time" "$TMP/hfspm" >"$TMP/hs.txt" 2>&1
	expect greedy_hf_own_tokenizer_model "$(cat "$TMP/hs.txt")" "$(cat "$TMP/g.txt")"
	llm-run -q --temp 0 -n 48 -p "Once upon a time" --tokenizer "$TMP/hfspm/tokenizer.model" "$B" >"$TMP/bs.txt" 2>&1
	expect greedy_bin_tokenizer_model "$(cat "$TMP/bs.txt")" "$(cat "$TMP/g.txt")"
	# --tokenizer replaces the directory's, which is then not read
	printf 'junk' >"$TMP/hfjunk.model"
	mkdir "$TMP/hfjunk"
	ln -s "$HF/config.json" "$HF/model.safetensors" "$TMP/hfjunk/"
	cp "$TMP/hfjunk.model" "$TMP/hfjunk/tokenizer.model"
	expect hf_tokenizer_option_wins "$(llm-run --tokenize -p "Once upon a time" --tokenizer "$G" "$TMP/hfjunk")" "$t_gguf"
	one_line hf_damaged_tokenizer_model 1 "hfjunk/tokenizer.model: not a SentencePiece model" \
		llm-run --tokenize -p hi "$TMP/hfjunk"
	# converted, the directory's vocabulary goes into the GGUF
	llm-quant -q -t f32 -o "$TMP/hfspm.gguf" "$TMP/hfspm" 2>"$TMP/q.err"
	expect hf_tokenizer_model_converted "$(llm-run --tokenize -p "Once upon a time" "$TMP/hfspm.gguf" 2>&1)" "$t_gguf"
	# the Hugging Face files beside a tokenizer.model, as llama.cpp's
	# converter takes them: added_tokens.json (user-defined, even when
	# looking special; ids past the embedding ignored), then
	# tokenizer_config.json's added_tokens_decoder (special or looking
	# special: control; else user-defined, U+2581 as a space), all at
	# score -1000; its eos_token names the EOS; config.json gives the BOS
	mkdir "$TMP/hfadd"
	ln -s "$HF/config.json" "$HF/model.safetensors" "$TMP/hfadd/"
	"$PYTHON" tests/mk_spm.py "$TB" "$TMP/hfadd/tokenizer.model" keep=500
	printf '{"<tool>": 500, "<|x|>": 501, "<far>": 9999}\n' >"$TMP/hfadd/added_tokens.json"
	printf '{"added_tokens_decoder": {"502": {"content": "<|im_end|>", "special": false}, "503": {"content": "\342\226\201hi\342\226\201there"}, "504": {"content": "<ctl>", "special": true}, "1": {"content": "<s>", "special": true}}, "eos_token": {"content": "<|im_end|>"}}\n' >"$TMP/hfadd/tokenizer_config.json"
	expect hf_spm_added_tokens "$(llm-info -j "$TMP/hfadd" | "$PYTHON" -c 'import json, sys
m = json.load(sys.stdin)["metadata"]
t, s, y = m["tokenizer.ggml.tokens"], m["tokenizer.ggml.scores"], m["tokenizer.ggml.token_type"]
print(len(t), *["%s/%d/%g" % (t[i], y[i], s[i]) for i in (1, 499, 500, 501, 502, 503, 504, 505)],
      m["tokenizer.ggml.bos_token_id"], m["tokenizer.ggml.eos_token_id"], m["tokenizer.ggml.pre"])')" \
		"512 <s>/3/-1000 $(llm-info -j "$TMP/hfspm" | "$PYTHON" -c 'import json, sys
m = json.load(sys.stdin)["metadata"]; print("%s/%d/%g" % (m["tokenizer.ggml.tokens"][499], m["tokenizer.ggml.token_type"][499], m["tokenizer.ggml.scores"][499]))') <tool>/4/-1000 <|x|>/4/-1000 <|im_end|>/3/-1000  hi there/4/-1000 <ctl>/3/-1000 [PAD505]/5/-10000 1 502 default"
	# user-defined tokens are cut out of the text; control ones only with
	# --parse-special
	expect hf_spm_added_cut "$(llm-run --tokenize --no-bos -p 'a<tool>b<|im_end|>' "$TMP/hfadd") / $(llm-run --tokenize --no-bos --parse-special -p '<|im_end|>' "$TMP/hfadd")" \
		"$(llm-run --tokenize --no-bos -p a "$TMP/hfadd") 500 $(llm-run --tokenize --no-bos -p 'b<|im_end|>' "$TMP/hfadd") / 502"
	printf '{"<tool>": "500"}\n' >"$TMP/hfadd/added_tokens.json"
	one_line hf_spm_added_bad_id 1 "hfadd/added_tokens.json: \"<tool>\" has no id" llm-run --tokenize -p hi "$TMP/hfadd"
	printf '{}\n' >"$TMP/hfadd/added_tokens.json"
	printf '{"added_tokens_decoder": {"5x": {"content": "<a>"}}}\n' >"$TMP/hfadd/tokenizer_config.json"
	one_line hf_spm_added_bad_key 1 "hfadd/tokenizer_config.json: added_tokens_decoder\[\"5x\"\] has no id" llm-run --tokenize -p hi "$TMP/hfadd"
else
	skip greedy_hf_own_tokenizer_model "no python3 with numpy"
fi
# a Hugging Face directory with only a tokenizer.json (a byte-level BPE of
# 256 bytes, "ab" and "Ġab", <s> and </s> added) and a tokenizer_config.json
# naming <s> and </s> and asking for BOS: "ab ab" is <s> ab Ġab
if have_numpy; then
	mkdir "$TMP/hfjson"
	ln -s "$HF/config.json" "$HF/model.safetensors" "$TMP/hfjson/"
	"$PYTHON" - "$TMP/hfjson" <<'EOF2'
import json, sys
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b), cs.append(256 + n)
        n += 1
enc = {b: chr(c) for b, c in zip(bs, cs)}
vocab = {enc[b]: b for b in range(256)}
vocab["ab"], vocab["\u0120ab"] = 256, 257
added = [{"id": 258, "content": "<s>", "special": True}, {"id": 259, "content": "</s>", "special": True}]
tj = {"version": "1.0", "added_tokens": added, "normalizer": None,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
      "model": {"type": "BPE", "vocab": vocab, "merges": ["a b", "\u0120 ab"]}}
json.dump(tj, open(sys.argv[1] + "/tokenizer.json", "w"))
json.dump({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": True,
           "chat_template": "{% for m in messages %}<s>{{ m.content }}</s>{% endfor %}"},
          open(sys.argv[1] + "/tokenizer_config.json", "w"))
EOF2
	expect hf_dir_tokenizer_json "$(llm-run --tokenize -p 'ab ab' "$TMP/hfjson" 2>&1)" "258 256 257"
	expect hf_dir_tokenizer_json_keys "$(llm-info "$TMP/hfjson" | awk '$1 == "tokenizer.ggml.eos_token_id" || $1 == "tokenizer.ggml.pre" { printf "%s ", $4 } $1 == "tokenizer.ggml.tokens" { printf "%s ", $4 }')" '"gpt-2" 512] 259 '
	check hf_dir_tokenizer_json_runs llm-run -q -n 4 -p 'ab ab' "$TMP/hfjson"
	# converted, the GGUF carries the chat template, as the converter's does
	llm-quant -q -t f32 -o "$TMP/hfjson.gguf" "$TMP/hfjson"
	expect hf_dir_chat_template_converted "$(llm-info "$TMP/hfjson.gguf" | awk '$1 == "tokenizer.chat_template" { $1 = $2 = $3 = ""; print substr($0, 4) }')" \
		'"{% for m in messages %}<s>{{ m.content }}</s>{% endfor %}"'
	# a vocabulary that asks for EOS: --tokenize shows it, a run warns once
	# and reads the prompt without it (greedy text as without the key)
	mkdir "$TMP/hfeos"
	ln -s "$HF/config.json" "$HF/model.safetensors" "$TMP/hfjson/tokenizer.json" "$TMP/hfeos/"
	printf '{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true, "add_eos_token": true}\n' >"$TMP/hfeos/tokenizer_config.json"
	expect hf_dir_add_eos_tokenize "$(llm-run --tokenize -p 'ab ab' "$TMP/hfeos" 2>&1)" "258 256 257 259"
	llm-run --temp 0 -n 8 -p 'ab ab' "$TMP/hfeos" >"$TMP/eos.out" 2>"$TMP/eos.err"
	expect hf_dir_add_eos_run "$(cat "$TMP/eos.out") | $(grep -c 'asks for EOS after the text' "$TMP/eos.err")" \
		"$(llm-run -q --temp 0 -n 8 -p 'ab ab' "$TMP/hfjson") | 1"
else
	skip hf_dir_tokenizer_json "no python3 with numpy"
fi
if grep -q "Once" "$TMP/g.txt"; then fail greedy_no_echo "prompt in the output"; else ok greedy_no_echo; fi
case "$(cat "$TMP/g.txt")" in
", there was a little girl named Lily."*) ok greedy_fluent ;;
*) fail greedy_fluent "$(head -c 100 "$TMP/g.txt")" ;;
esac
llm-run -q --temp 0 -n 48 --echo -p "Once upon a time" "$G" >"$TMP/e.txt"
expect echo_prompt_first "$(cat "$TMP/e.txt")" "Once upon a time$(cat "$TMP/g.txt")"
expect greedy_threads "$(llm-run -q --temp 0 -n 48 -t 1 -p "Once upon a time" "$G")" "$(cat "$TMP/g.txt")"
# named pipes (bash's <(...)): a GGUF and a tokenizer file are read once,
# as stdin is; a llama2.c checkpoint, which is opened again after its
# format is told, must be a file; the pipe has no content id
if command -v bash >/dev/null; then
	expect greedy_named_pipe "$(bash -c 'llm-run -q --temp 0 -n 48 -p "Once upon a time" <(cat "$1")' sh "$G")" \
		"$(cat "$TMP/g.txt")"
	expect greedy_named_pipe_tokenizer_bin "$(bash -c 'llm-run -q --temp 0 -n 48 -p "Once upon a time" \
		--tokenizer <(cat "$1") "$2"' sh "$TB" "$B")" "$(cat "$TMP/g.txt")"
	one_line named_pipe_llama2c 1 "/dev/fd/[0-9]*: a pipe holding neither a GGUF nor a compressed GGUF" \
		bash -c 'llm-run -q -n 1 -p a --tokenizer "$2" <(cat "$1")' sh "$B" "$TB"
	if [ -z "$PYTHON" ]; then
		skip quant_named_pipe "no python3 with numpy"
	elif bash -c 'llm-quant -q -t q8_0 -o "$2" <(cat "$1")' sh "$G" "$TMP/fifo_q8.gguf" 2>"$TMP/err" &&
		llm-quant -q -t q8_0 -o "$TMP/file_q8.gguf" "$G" 2>>"$TMP/err"; then
		# the same tensors and metadata but for provenance, whose input id is ""
		pview() { llm-info --json "$1" | "$PYTHON" -c 'import hashlib, json, sys
d = json.load(sys.stdin); m = d["metadata"]
rest = json.dumps([{k: v for k, v in m.items() if not k.startswith("provenance.")}, d["tensors"]])
print(m["provenance.inputs.id"], hashlib.sha1(rest.encode()).hexdigest())'; }
		expect quant_named_pipe "$(pview "$TMP/fifo_q8.gguf")" "[''] $(pview "$TMP/file_q8.gguf" | cut -d' ' -f2-)"
	else
		fail quant_named_pipe "$(cat "$TMP/err")"
	fi
else
	skip greedy_named_pipe "no bash"
fi

# ---- seeds ----
a=$(llm-run -q -s 42 -n 40 -p "Once upon a time" "$G")
b=$(llm-run -q -s 42 -n 40 -p "Once upon a time" "$G")
c=$(llm-run -q -s 43 -n 40 -p "Once upon a time" "$G")
expect same_seed_same_text "$b" "$a"
if [ "$a" != "$c" ]; then ok other_seed_other_text; else fail other_seed_other_text "seeds 42 and 43 agree: $a"; fi
d=$(llm-run -q -s 42 -n 40 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 -p "Once upon a time" "$G")
if [ "$a" != "$d" ]; then ok sampling_options_matter; else fail sampling_options_matter "same text"; fi
rp=$(llm-run -q --temp 0 -n 48 --repeat-penalty 1.5 -p "Once upon a time" "$G")
if [ "$rp" != "$(cat "$TMP/g.txt")" ]; then ok repeat_penalty_matters; else fail repeat_penalty_matters "same text"; fi
expect repeat_penalty_off_window "$(llm-run -q --temp 0 -n 48 --repeat-penalty 1.5 --repeat-last-n 0 -p "Once upon a time" "$G")" "$(cat "$TMP/g.txt")"
# a filter that removes nothing (top-k of the whole 512-token vocabulary,
# top-p 1) leaves a seeded run as it is: the draw walks ids in order
expect seed_topk_all_is_off "$(llm-run -q -s 3 --temp 1 --top-k 512 --top-p 1 --min-p 0 -n 30 -p "Once upon a time" "$G")" \
	"$(llm-run -q -s 3 --temp 1 --top-k 0 --top-p 1 --min-p 0 -n 30 -p "Once upon a time" "$G")"
# a temperature so small that logit/temp overflows a float: still the arg-max
expect tiny_temp_is_greedy "$(llm-run -q -s 1 --temp 1e-40 --top-k 0 --top-p 1 --min-p 0 -n 48 -p "Once upon a time" "$G")" \
	"$(cat "$TMP/g.txt")"
# --ignore-eos as llama.cpp's: EOS (id 2) is never drawn; the same run
# without it draws EOS (and stops) within 300 tokens
expect ignore_eos_never_draws_eos "$(llm-run -q -s 12 --temp 5 --top-k 0 --top-p 1 --min-p 0 --ignore-eos -n 300 --logprobs -p Once "$G" |
	awk -F '\t' 'NR > 1 && $2 == 2' | wc -l | tr -d ' ')" 0
n_eos=$(llm-run -q -s 12 --temp 5 --top-k 0 --top-p 1 --min-p 0 -n 300 --logprobs -p Once "$G" | wc -l)
if [ "$n_eos" -lt 300 ]; then ok ignore_eos_control_stops; else fail ignore_eos_control_stops "$n_eos rows"; fi
# a BOS inside the text is no text: the word after it keeps its space
# (llama.cpp's detokenizer); only the text's first piece loses it
expect bos_inside_text_keeps_space "$(llm-run -q --parse-special -p 'The end.<s>' -n 4 --temp 0 "$G" | head -c 5)" " Once"
first=$(llm-run -q -p '' -n 1 --temp 0 "$G" | head -c 1)
if [ -n "$first" ] && [ "$first" != " " ]; then ok bos_start_drops_space; else fail bos_start_drops_space "'$first'"; fi

# ---- statistics line, -q, -n 0, empty prompt ----
llm-run --temp 0 -n 8 -p "Once upon a time" "$G" >/dev/null 2>"$TMP/st.err"
if grep -Eq '^llm-run: prompt 5 tokens, [0-9.]+ tok/s; generated 8 tokens, [0-9.]+ tok/s$' "$TMP/st.err" &&
	[ "$(wc -l <"$TMP/st.err")" -eq 1 ]; then ok stats_line; else fail stats_line "$(cat "$TMP/st.err")"; fi
llm-run -q --temp 0 -n 8 -p "Once upon a time" "$G" >/dev/null 2>"$TMP/q.err"
if [ -s "$TMP/q.err" ]; then fail quiet "$(cat "$TMP/q.err")"; else ok quiet; fi
expect n_zero "$(llm-run -q -n 0 -p "Once upon a time" "$G" | wc -c)" 0
check empty_prompt_bos_alone llm-run -q -n 4 -p "" "$G"
one_line empty_prompt_no_bos 1 "empty prompt" llm-run -n 4 --no-bos -p "" "$G"
# a prompt that is empty without BOS, from a file: the error names the file
: >"$TMP/empty.txt"
one_line empty_prompt_names_file 1 "empty.txt: empty prompt" llm-run -n 4 --no-bos -f "$TMP/empty.txt" "$G"
# --kv-out naming the model (another spelling): a usage error, the model untouched
cp "$G" "$TMP/model_copy.gguf"
check_status 2 kv_out_is_model llm-run -q -n 2 -p Once --kv-out "$TMP/./model_copy.gguf" "$TMP/model_copy.gguf"
if cmp -s "$G" "$TMP/model_copy.gguf"; then ok kv_out_model_untouched; else fail kv_out_model_untouched "the model changed"; fi
# --kv-out to a path that cannot be created: said before the run, no text
one_line kv_out_bad_path_first 1 "nodir/kv.gguf: cannot create" llm-run -n 4 --temp 0 -p Once --kv-out "$TMP/nodir/kv.gguf" "$G"
# weights holding NaN: no NaN log-probabilities with exit 0, but an error
if [ -n "$PYTHON" ]; then
	"$PYTHON" - "$G" "$TMP/nan.gguf" <<'PY'
import struct, sys
sys.path.insert(0, "tests")
import gguf_ref
r = gguf_ref.read(sys.argv[1])
t = [t for t in r["tensors"] if t["name"] == "output_norm.weight"][0]
assert t["type_name"] == "f32"
b = bytearray(open(sys.argv[1], "rb").read())
b[r["data_offset"] + t["offset"]: r["data_offset"] + t["offset"] + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
PY
	one_line nan_weights_generate 1 "nan.gguf: the logits hold inf or NaN" llm-run -n 4 --temp 0 -p Once "$TMP/nan.gguf"
	printf 'Once\tupon a time\n' >"$TMP/nan.tsv"
	one_line nan_weights_score 1 "nan.gguf: the logits hold inf or NaN" sh -c 'llm-run --score "$1" <"$2"' sh "$TMP/nan.gguf" "$TMP/nan.tsv"
else
	skip nan_weights "no python3 with numpy"
fi
# a prompt longer than the context: the error says where the context came from
one_line prompt_too_long_c 1 "does not fit the context of 8 (-c)" llm-run -c 8 -n 4 -p "Once upon a time there was a little girl named Lily" "$G"
printf 'Once upon a time there was a little girl\tnamed Lily\n' >"$TMP/long.tsv"
one_line score_too_long_c 1 "^llm-run: stdin:1: .* do not fit the context of 8 (-c)" sh -c 'llm-run --score -c 8 "$1" <"$2"' sh "$G" "$TMP/long.tsv"

# ---- --logprobs: numpy forward; --score: the same numbers summed ----
llm-run -q --temp 0 -n 24 --logprobs -p "Once upon a time" "$G" >"$TMP/lp.tsv"
expect logprobs_header "$(head -n 1 "$TMP/lp.tsv")" "$(printf 'pos\tid\ttoken\tlogprob\ttop')"
expect logprobs_rows "$(tail -n +2 "$TMP/lp.tsv" | wc -l)" 24
expect logprobs_first_pos "$(awk -F '\t' 'NR == 2 { print $1 }' "$TMP/lp.tsv")" 5
expect logprobs_text_is_generation "$(tail -n +2 "$TMP/lp.tsv" | cut -f 3 | tr -d '\n')" "$(llm-run -q --temp 0 -n 24 -p "Once upon a time" "$G")"
expect logprobs_top5 "$(awk -F '\t' 'NR > 1 { print split($5, a, ",") }' "$TMP/lp.tsv" | sort -u)" 5
# greedy: the chosen token is the first alternative
expect logprobs_greedy_is_top "$(awk -F '\t' 'NR > 1 { split($5, a, ","); split(a[1], b, ":"); if (b[1] != $2) n++ } END { print n + 0 }' "$TMP/lp.tsv")" 0
if have_numpy; then
	d=$(echo "$t_gguf" | "$PYTHON" tests/ref_perplexity.py logprobs "$G" "$TMP/lp.tsv" 2>&1)
	close logprobs_vs_numpy "$d" 0 1e-4
	llm-run -q -s 5 -n 16 --logprobs --top-logprobs 3 -p "Once upon a time" "$G" >"$TMP/lp2.tsv"
	d=$(echo "$t_gguf" | "$PYTHON" tests/ref_perplexity.py logprobs "$G" "$TMP/lp2.tsv" 2>&1)
	close logprobs_sampled_vs_numpy "$d" 0 1e-4
else
	skip logprobs_vs_numpy "no python3 with numpy"
fi
comp=$(tail -n +2 "$TMP/lp.tsv" | cut -f 3 | tr -d '\n')
sum=$(awk -F '\t' 'NR > 1 { s += $4 } END { printf "%.6f", s }' "$TMP/lp.tsv")
printf 'Once upon a time\t%s\n' "$comp" | llm-run -q --score "$G" >"$TMP/sc.tsv"
close score_equals_logprobs "$(cut -f 1 "$TMP/sc.tsv")" "$sum" 1e-4
expect score_token_count "$(cut -f 2 "$TMP/sc.tsv")" 24
# several completions per line, the KV cache reused across lines, escapes
printf 'Once upon a time\t%s\t, there was\nOnce upon a time\t, there was\nOnce upon a\\ttime\t\n' "$comp" |
	llm-run -q --score "$G" >"$TMP/sc2.tsv"
expect score_columns "$(awk -F '\t' '{ print NF }' "$TMP/sc2.tsv" | tr '\n' ' ')" "4 2 2 "
fresh=$(printf 'Once upon a time\t, there was\n' | llm-run -q --score "$G")
expect score_cache_reuse "$(awk -F '\t' 'NR == 1 { print $3 "\t" $4 }' "$TMP/sc2.tsv")" "$fresh"
expect score_cache_reuse_next_line "$(sed -n 2p "$TMP/sc2.tsv")" "$fresh"
expect score_empty_completion "$(sed -n 3p "$TMP/sc2.tsv")" "$(printf '0.000000\t0')"
# \xNN as the token column writes it (control bytes): undone as well
expect score_hex_escape "$(printf 'Once upon a\\x20time\t, there\\x0awas\n' | llm-run -q --score "$G")" \
	"$(printf 'Once upon a time\t, there\\nwas\n' | llm-run -q --score "$G")"
# a merged boundary ("tim" + "e" -> " time") counts the merged token as the completion's
m1=$(printf 'Once upon a tim\te\n' | llm-run -q --score "$G")
expect score_boundary_merge_count "$(echo "$m1" | cut -f 2)" 1
# --echo --logprobs -n 0: rows for prompt positions 1..4; position 4 is " time"
llm-run -q -n 0 --echo --logprobs -p "Once upon a time" "$G" >"$TMP/echo.tsv"
expect echo_logprobs_rows "$(tail -n +2 "$TMP/echo.tsv" | cut -f 1,3 | tr '\t\n' ':,')" "1:Once,2: upon,3: a,4: time,"
close score_boundary_merge "$(echo "$m1" | cut -f 1)" "$(awk -F '\t' '$1 == 4 { print $4 }' "$TMP/echo.tsv")" 1e-6
# a line's score does not depend on the lines before it (the cache is
# reused only for the same context, evaluated the same way)
printf 'Once upon a time\t, there was a girl\t there lived a dog\nOnce upon a time, there\t was a girl\t lived\nOnce upon\t a time\nThe cat\t sat on the mat\nOnce upon a time\t, there was a girl\n\tHello\na\\tb\\\\c\\x41\t d\\ne\n' >"$TMP/order.tsv"
llm-run -q --score "$G" <"$TMP/order.tsv" >"$TMP/order.fwd"
tac "$TMP/order.tsv" | llm-run -q --score "$G" | tac >"$TMP/order.rev"
: >"$TMP/order.one"
while IFS= read -r l; do printf '%s\n' "$l" | llm-run -q --score "$G" >>"$TMP/order.one"; done <"$TMP/order.tsv"
expect score_order_free "$(cat "$TMP/order.rev")" "$(cat "$TMP/order.fwd")"
expect score_alone_same "$(cat "$TMP/order.one")" "$(cat "$TMP/order.fwd")"
# a blank line (a file's last, say) gives a blank line: outputs stay
# line for line beside their inputs
expect score_blank_line "$(printf 'Once upon a time\t there\n\nOnce upon a time\t there\n' | llm-run -q --score "$G" | cut -f 2 | tr '\n' ,)" "1,,1,"
# without BOS, a completion merging into the prompt's first token has no
# prediction: an error naming the line, not a silent 0
one_line score_merge_first_no_bos 1 "stdin:1: the completion joins the prompt's first token" \
	sh -c 'printf "On\tce there\n" | llm-run --no-bos --score "$1"' sh "$G"
# CRLF lines score as LF ones
expect score_crlf "$(printf 'Once upon a time\t there\r\n' | llm-run -q --score "$G")" \
	"$(printf 'Once upon a time\t there\n' | llm-run -q --score "$G")"
printf 'Once upon a time\t, there\nno tab here\n' | llm-run -q --score "$G" >"$TMP/bad.out" 2>"$TMP/bad.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "stdin:2:" "$TMP/bad.err" && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ]; then ok score_no_tab; else
	fail score_no_tab "exit $rc: $(cat "$TMP/bad.err")"; fi

# a llama2.c checkpoint without --tokenizer: say what to give
one_line bin_needs_tokenizer 1 "give --tokenizer" llm-run -p hi -n 2 "$MODELS/stories260K.bin"
# a vocabulary larger than the model's embedding: one line naming it
if have_vocab; then
	one_line tokenizer_vocab_too_large 1 "ggml-vocab-gpt-2.gguf: a vocabulary of 50257 tokens for a model of 512" \
		llm-run -p hi -n 2 --tokenizer "$VOCAB/ggml-vocab-gpt-2.gguf" "$G"
fi
# write errors on stdout are reported (exit 1), --tokenize included
if [ -c /dev/full ]; then
	llm-run --tokenize -p "Once upon a time" "$G" >/dev/full 2>"$TMP/bad.err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "write error" "$TMP/bad.err"; then ok tokenize_write_error; else
		fail tokenize_write_error "exit $rc: $(cat "$TMP/bad.err")"; fi
	llm-run --help >/dev/full 2>"$TMP/bad.err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "write error" "$TMP/bad.err"; then ok help_write_error; else
		fail help_write_error "exit $rc: $(cat "$TMP/bad.err")"; fi
fi

# ---- --perplexity: llama-perplexity's rule against numpy ----
# no final newline (which --perplexity drops and --tokenize keeps)
printf '%s' "$(llm-run -q -s 1 -n 300 --ignore-eos -p "Once upon a time" "$G")" >"$TMP/story.txt"
llm-run -q --perplexity "$TMP/story.txt" -c 64 "$G" >"$TMP/ppl.txt"
line=$(tail -n 1 "$TMP/ppl.txt")
case "$line" in
"PPL = "*" +/- "*) ok perplexity_format ;;
*) fail perplexity_format "$line" ;;
esac
if grep -Eq '^(\[[0-9]+\][0-9]+\.[0-9]{4},)+$' "$TMP/ppl.txt"; then ok perplexity_progress; else fail perplexity_progress "$(head -n 1 "$TMP/ppl.txt")"; fi
ppl=$(echo "$line" | awk '{ print $3 }') unc=$(echo "$line" | awk '{ print $5 }')
if have_numpy; then
	bos=$(llm-run --tokenize -p "" "$G")
	ref=$(llm-run --tokenize -f "$TMP/story.txt" "$G" | "$PYTHON" tests/ref_perplexity.py ppl "$G" 64 "$bos" 2>&1)
	rclose perplexity_vs_numpy "$ppl" "${ref% *}" 1e-3
	rclose perplexity_uncertainty_vs_numpy "$unc" "${ref#* }" 1e-3
else
	skip perplexity_vs_numpy "no python3 with numpy"
fi
# -e reads the text's escapes: every e written \x65 scores the same
sed 's/e/\\x65/g' "$TMP/story.txt" >"$TMP/story_esc.txt"
expect perplexity_escape "$(llm-run -q -e --perplexity "$TMP/story_esc.txt" -c 64 "$G" | tail -n 1)" "$line"
head -c 200 "$TMP/story.txt" >"$TMP/short.txt"
one_line perplexity_too_short 1 "needs at least" llm-run --perplexity "$TMP/short.txt" -c 64 "$G"

# ---- --kv-out: shapes, positions, numpy recomputation ----
llm-run -q --temp 0 -n 20 -p "Once upon a time" --kv-out "$TMP/kv.gguf" "$G" >"$TMP/kvtext.txt"
expect kv_out_text_still_printed "$(cat "$TMP/kvtext.txt")" "$(head -c "$(wc -c <"$TMP/kvtext.txt")" "$TMP/g.txt")"
if llm-info "$TMP/kv.gguf" >"$TMP/kvinfo.txt" 2>&1; then ok kv_out_llm_info; else fail kv_out_llm_info "$(head -c 200 "$TMP/kvinfo.txt")"; fi
if have_numpy; then
	shape=$("$PYTHON" -c '
import sys; sys.path.insert(0, "tests"); import gguf_ref
d = gguf_ref.read(sys.argv[1]); t = {x["name"]: x for x in d["tensors"]}
print(d["metadata"]["kv.n_pos"], t["kv.0.k"]["shape"], t["kv.4.v"]["shape"], len(t))' "$TMP/kv.gguf")
	expect kv_out_shapes "$shape" "25 [8, 4, 25] [8, 4, 25] 10"
	d=$("$PYTHON" tests/ref_perplexity.py kv "$G" "$TMP/kv.gguf" 2>&1)
	close kv_out_vs_numpy "$d" 0 1e-5
	llm-run -q -n 0 -p "Once upon a time" --kv-out "$TMP/kv0.gguf" "$G"
	expect kv_out_prompt_only "$("$PYTHON" -c '
import sys; sys.path.insert(0, "tests"); import gguf_ref
print(gguf_ref.read(sys.argv[1])["metadata"]["kv.tokens"])' "$TMP/kv0.gguf" | tr -d ',[]')" "$t_gguf"
else
	skip kv_out_vs_numpy "no python3 with numpy"
fi
llm-run -q --temp 0 -n 4 -p "Once upon a time" --kv-out - "$G" >"$TMP/kvpipe.gguf"
expect kv_out_stdout_is_gguf "$(head -c 4 "$TMP/kvpipe.gguf")" GGUF
# /dev/stdout is stdout: the dump alone, no text before it
llm-run -q --temp 0 -n 4 -p "Once upon a time" --kv-out /dev/stdout "$G" | cat >"$TMP/kvdev.gguf"
expect kv_out_dev_stdout_is_gguf "$(head -c 4 "$TMP/kvdev.gguf")" GGUF
# the dump records the run (provenance.*) unless --no-provenance
expect kv_out_provenance "$(llm-info "$TMP/kv.gguf" | awk '$1 == "provenance.tool" { print $4 }')" '"llm-run"'
llm-run -q -n 0 -p "Once" --no-provenance --kv-out "$TMP/kvnp.gguf" "$G"
expect kv_out_no_provenance "$(llm-info "$TMP/kvnp.gguf" | grep -c 'provenance\.')" 0

# ---- --mmap: the weights where the file holds them, not a copy: same bytes ----
llm-run -q --temp 0 -n 16 --logprobs -p "Once upon a time" "$G" >"$TMP/cp.tsv"
llm-run -q --temp 0 -n 16 --logprobs --mmap -p "Once upon a time" "$G" >"$TMP/mm.tsv"
if [ -s "$TMP/cp.tsv" ] && cmp -s "$TMP/cp.tsv" "$TMP/mm.tsv"; then
	ok mmap_same_output
else
	fail mmap_same_output "$(diff "$TMP/cp.tsv" "$TMP/mm.tsv" | head -3)"
fi

# ---- -c 0: the model's whole context (llama.cpp's habit); the default
# stops at 4096 ----
if "${TESTDIR:-build/tests}/tool_mkmodel" "$TMP/long.gguf" 32 1 2 1 64 512 8192 3 >/dev/null 2>&1; then
	ctx_of() { llm-run -v -n 1 --temp 0 -p "x" "$@" "$TMP/long.gguf" 2>&1 >/dev/null | sed -n 's/.*context \([0-9]*\),.*/\1/p'; }
	expect ctx_zero_is_models "$(ctx_of -c 0)" 8192
	expect ctx_default_4096 "$(ctx_of)" 4096
	expect ctx_given "$(ctx_of -c 100)" 100
	rm -f "$TMP/long.gguf"
	"${TESTDIR:-build/tests}/tool_mkmodel" "$TMP/c8.gguf" 32 1 2 1 64 512 8 3 >/dev/null 2>&1
	one_line prompt_too_long_model_ctx 1 "c8.gguf: prompt of [0-9]* tokens does not fit the context of 8 (its context_length" \
		llm-run -n 1 -p "a b c d e f g h i j k l" "$TMP/c8.gguf"
else
	fail ctx_zero_is_models "tool_mkmodel failed"
fi

# ---- thread counts: a model large enough for the pool to split its
# mat-vecs (output jobs, which a waiting caller may take over from a
# worker) gives byte-identical --logprobs on 1, 2 and 6 threads (6: more
# threads than this machine's CPUs, workers preempted mid-job); also with
# the plain C kernels and OpenBLAS's sgemm for the prompt (LLM_ISA=scalar,
# a CPU without AVX2) ----
if "${TESTDIR:-build/tests}/tool_mkmodel" "$TMP/mid.gguf" 512 4 8 2 1408 2048 256 5 >/dev/null 2>&1; then
	for q in q4_0 f16 q4_0:scalar f32:scalar; do
		isa=${q#*:} q=${q%:*}
		[ "$isa" = "$q" ] && isa=
		[ -f "$TMP/mid_$q.gguf" ] || llm-quant -q -t "$q" -o "$TMP/mid_$q.gguf" "$TMP/mid.gguf"
		for t in 1 2 6; do
			LLM_ISA=$isa llm-run -q --temp 0 -n 32 --logprobs -t "$t" -p "Once upon a time" "$TMP/mid_$q.gguf" >"$TMP/mid_$t.tsv"
		done
		if [ -s "$TMP/mid_1.tsv" ] && cmp -s "$TMP/mid_1.tsv" "$TMP/mid_2.tsv" && cmp -s "$TMP/mid_1.tsv" "$TMP/mid_6.tsv"; then
			ok "threads_same_logprobs_$q${isa:+_$isa}"
		else
			fail "threads_same_logprobs_$q${isa:+_$isa}" "$(diff "$TMP/mid_1.tsv" "$TMP/mid_6.tsv" | head -3)"
		fi
	done
	rm -f "$TMP"/mid*.gguf
else
	fail threads_same_logprobs "tool_mkmodel failed"
fi

# ---- Q4_0 / Q8_0: the integer kernels (24-bit activations) vs --f32-act ----
# same greedy tokens, log-probabilities within 1e-4
for q in q8_0 q4_0; do
	llm-quant -q -t "$q" "$G" -o "$TMP/s_$q.gguf"
	llm-run -q --temp 0 -n 32 --logprobs -p "Once upon a time" "$TMP/s_$q.gguf" >"$TMP/qi.tsv"
	llm-run -q --temp 0 -n 32 --logprobs --f32-act -p "Once upon a time" "$TMP/s_$q.gguf" >"$TMP/qf.tsv"
	d=$(paste "$TMP/qi.tsv" "$TMP/qf.tsv" | awk -F '\t' 'NR > 1 { if ($2 != $7) bad = 1; d = $4 - $9; if (d < 0) d = -d; if (d > m) m = d }
		END { print bad ? "tokens differ" : m + 0 }')
	close "int_kernels_equal_f32_act_$q" "$d" 0 1e-4
done
if command -v script >/dev/null 2>&1; then
	script -qec "llm-run -q -n 2 -p hi --kv-out - '$G'" /dev/null >"$TMP/tty.out" 2>&1
	if grep -q "refusing to write binary output to a terminal" "$TMP/tty.out" && ! grep -q GGUF "$TMP/tty.out"; then
		ok kv_out_refuses_terminal
	else
		fail kv_out_refuses_terminal "$(head -c 200 "$TMP/tty.out")"
	fi
else
	skip kv_out_refuses_terminal "no script(1) to make a terminal"
fi

# ---- --lora at run time equals the merged model (llm-lora-merge) ----
if ! llm-run --list-options | grep -q -- '--lora'; then
	skip lora_runtime "llm-run has no --lora"
elif ! have_numpy; then
	skip lora_runtime "no python3 with numpy (tests/mk_peft.py makes the adapters)"
elif ! "$PYTHON" tests/mk_peft.py "$G" "$TMP" >"$TMP/mk.out" 2>&1; then
	fail lora_fixtures "$(tail -3 "$TMP/mk.out")"
else
	for a in plain embed; do
		llm-lora-merge -q "$G" "$TMP/$a.gguf" -o "$TMP/merged_$a.gguf"
		llm-run -q --temp 0 -n 24 --logprobs -p "Once upon a time" --lora "$TMP/$a.gguf" "$G" >"$TMP/lr.tsv"
		llm-run -q --temp 0 -n 24 --logprobs -p "Once upon a time" "$TMP/merged_$a.gguf" >"$TMP/lm.tsv"
		d=$(paste "$TMP/lr.tsv" "$TMP/lm.tsv" | awk -F '\t' 'NR > 1 { if ($2 != $7) bad = 1; d = $4 - $9; if (d < 0) d = -d; if (d > m) m = d }
			END { print bad ? "tokens differ" : m + 0 }')
		close "lora_runtime_equals_merged_$a" "$d" 0 1e-4
	done
	if cmp -s "$TMP/lr.tsv" "$TMP/lp.tsv"; then fail lora_changes_output "same as the base"; else ok lora_changes_output; fi
	expect lora_scale_zero_is_base "$(llm-run -q --temp 0 -n 48 -p "Once upon a time" --lora "$TMP/plain.gguf:0" "$G")" "$(cat "$TMP/g.txt")"
	one_line lora_missing_adapter 1 "$TMP/none.gguf" llm-run -n 2 -p hi --lora "$TMP/none.gguf" "$G"
fi
