#!/bin/sh
# llm-kvstat: the issue's sizing figures, the formulas on a generated model
# (recomputed here with shell arithmetic), output formats, bad input, and
# the statistics of KV dumps against tests/ref_kvstat.py (numpy).
. tests/lib.sh

# col FILE VARIANT COLUMN: a field of a TSV row, by header name
col() {
	awk -F '\t' -v v="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == v { print $h[c] }' "$1"
}

# ---- the acceptance figures ----
llm-kvstat --preset llama2-70b --ctx 131072 --kv-type f16 >"$TMP/70b.tsv"
expect llama2_70b_bytes_per_token "$(col "$TMP/70b.tsv" model bytes_per_token)" 327680
expect llama2_70b_total_bytes "$(col "$TMP/70b.tsv" model total_bytes)" 42949672960
expect llama2_70b_header "$(head -n 1 "$TMP/70b.tsv" | tr '\t' ' ')" \
	"variant n_layer n_kv_head head_dim elems_per_token bytes_per_token total_bytes vs_mha"
expect llama2_70b_variants "$(cut -f 1 "$TMP/70b.tsv" | tail -n +2 | tr '\n' ' ')" \
	"model mha gqa-2 gqa-4 gqa-8 gqa-16 gqa-32 mqa mla "
llm-kvstat --preset llama2-7b >"$TMP/7b.tsv"
expect llama2_7b_bytes_per_token "$(col "$TMP/7b.tsv" model bytes_per_token)" 524288
llm-kvstat --preset llama3-8b >"$TMP/8b.tsv"
expect llama3_8b_bytes_per_token "$(col "$TMP/8b.tsv" model bytes_per_token)" 131072
llm-kvstat --preset deepseek-v2 --kv-type bf16 >"$TMP/ds.tsv"
expect deepseek_v2_mla_elems "$(col "$TMP/ds.tsv" model elems_per_token)" 34560
expect deepseek_v2_mla_bytes "$(col "$TMP/ds.tsv" model bytes_per_token)" 69120
expect deepseek_v2_mha_elems "$(col "$TMP/ds.tsv" mha elems_per_token)" 1966080
# the same model from flags: a latent rank without --kv-heads is MLA
llm-kvstat --layers 60 --heads 128 --head-dim 128 --mla-rank 512 --mla-rope-dim 64 --kv-type bf16 >"$TMP/dsf.tsv"
if cmp -s "$TMP/ds.tsv" "$TMP/dsf.tsv"; then ok deepseek_v2_from_flags; else fail deepseek_v2_from_flags "$(diff "$TMP/ds.tsv" "$TMP/dsf.tsv" | head -4)"; fi
if have_models; then
	llm-kvstat "$MODELS/stories260K.gguf" >"$TMP/s.tsv"
	expect stories260K_model_elems "$(col "$TMP/s.tsv" model elems_per_token)" 320
	# a path of 400 bytes: named whole in --json's source (once cut at 299)
	d=$TMP/$(printf '%0100d' 1)/$(printf '%0100d' 2)/$(printf '%0100d' 3)
	mkdir -p "$d" && cp "$MODELS/stories260K.gguf" "$d/m.gguf"
	expect long_path_source_whole "$(llm-kvstat --json "$d/m.gguf" | grep -c "\"$d/m.gguf\"")" 1
else
	skip stories260K_model_elems "../shared/models is absent"
fi

# counts that each pass the per-field cap but multiply past 63 bits a token:
# one line, exit 1 (was a signed overflow printing negative sizes, exit 0)
llm-kvstat --layers 16777216 --heads 4194319 --kv-heads 1 --head-dim 65536 >"$TMP/o" 2>"$TMP/e"; rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "do not fit in 63 bits" "$TMP/e" && [ ! -s "$TMP/o" ]; then
	ok sizes_overflow
else
	fail sizes_overflow "exit $rc: $(head -c 200 "$TMP/e") $(head -c 100 "$TMP/o")"
fi

# rows are allocated for the variants printed, not for every head count
# below n_head: 2^24 heads (25 divisors) once asked for 2.2 GB and failed
# "out of memory" under a 1 GB address-space limit
(ulimit -v 1000000 && OPENBLAS_NUM_THREADS=1 llm-kvstat --layers 1 --heads 16777216 --head-dim 1) >"$TMP/o" 2>"$TMP/e"; rc=$?
expect many_heads_small_memory "$rc $(wc -l <"$TMP/o" | tr -d ' ') $(cut -f 1 "$TMP/o" | sed -n 26p)" "0 28 gqa-8388608"

# short options do what their long forms do
llm-kvstat --preset llama2-70b --ctx 131072 --batch 2 --json >"$TMP/long.json"
llm-kvstat --preset llama2-70b -c 131072 -b 2 -j >"$TMP/short.json"
if cmp -s "$TMP/long.json" "$TMP/short.json"; then ok short_options; else fail short_options "$(diff "$TMP/long.json" "$TMP/short.json" | head -4)"; fi

# ---- every row of a generated model against the formulas ----
# tool_mkmodel OUT dim layers heads kv_heads ff vocab ctx seed
L=3 H=12 KV=4 DIM=96
if build/tests/tool_mkmodel "$TMP/m.gguf" $DIM $L $H $KV 64 512 128 7 >/dev/null 2>"$TMP/err"; then
	HD=$((DIM / H)) CTX=1000 B=3
	llm-kvstat "$TMP/m.gguf" --ctx $CTX --batch $B --kv-type f32 >"$TMP/m.tsv"
	awk -F '\t' -v L=$L -v H=$H -v KV=$KV -v HD=$HD -v CTX=$CTX -v B=$B '
		NR == 1 { next }
		{ g = $1 == "model" ? KV : $1 == "mha" ? H : $1 == "mqa" ? 1 : substr($1, 5) + 0
		  e = $1 == "mla" ? L * (4 * HD + HD / 2) : L * 2 * g * HD
		  if ($1 != "mla" && $3 != g) bad = bad " " $1 ":n_kv_head"
		  if ($5 != e) bad = bad " " $1 ":elems"
		  if ($6 != 4 * e) bad = bad " " $1 ":bytes"
		  if ($7 != 4 * e * CTX * B) bad = bad " " $1 ":total"
		  if ($1 == "mha") mha = $6
		  b[NR] = $6; v[NR] = $8; n = NR; names = names " " $1 }
		END { for (i = 2; i <= n; i++) if (v[i] - b[i] / mha > 1e-7 || b[i] / mha - v[i] > 1e-7) bad = bad " vs_mha" i
		      if (names != " model mha gqa-2 gqa-3 gqa-4 gqa-6 mqa mla") bad = bad " rows:" names
		      if (bad) { print bad; exit 1 } }' "$TMP/m.tsv" >"$TMP/why" &&
		ok generated_model_formulas || fail generated_model_formulas "$(cat "$TMP/why")"
	# q4_0: a K row of 4 x 8 = 32 values is one 18-byte block
	llm-kvstat "$TMP/m.gguf" --kv-type q4_0 >"$TMP/q.tsv"
	expect generated_model_q4_0 "$(col "$TMP/q.tsv" model bytes_per_token)" $((L * 2 * 18))
else
	fail generated_model_formulas "tool_mkmodel: $(cat "$TMP/err")"
fi

# ---- formats: JSON and Markdown hold the TSV's rows ----
llm-kvstat --preset llama3-8b --ctx 8192 --json >"$TMP/8b.json"
llm-kvstat --preset llama3-8b --ctx 8192 >"$TMP/8b.tsv"
llm-kvstat --preset llama3-8b --ctx 8192 --md >"$TMP/8b.md"
if [ -n "$PYTHON" ]; then
	"$PYTHON" - "$TMP/8b.json" "$TMP/8b.tsv" <<'PY' >"$TMP/why" 2>&1 && ok json_matches_tsv || fail json_matches_tsv "$(tail -n 2 "$TMP/why")"
import json, sys
j = json.load(open(sys.argv[1]))
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
head, rows = rows[0], rows[1:]
assert j["kv_type"] == "f16" and j["ctx"] == 8192 and j["batch"] == 1
assert len(j["rows"]) == len(rows)
for o, r in zip(j["rows"], rows):
    for k, v in zip(head, r):
        assert str(o[k]) == v if k == "variant" else abs(float(o[k]) - float(v)) <= 1e-7 * abs(float(v)), (k, o[k], v)
PY
else
	skip json_matches_tsv "no python3 with numpy"
fi
expect md_rows "$(grep -c '^| ' "$TMP/8b.md")" "$(wc -l <"$TMP/8b.tsv" | tr -d ' ')"
grep -q '| model | 32 | 8 | 128 | 65536 | 128 KiB | 1 GiB | 0.25 |' "$TMP/8b.md" && ok md_human_sizes || fail md_human_sizes "$(grep model "$TMP/8b.md")"

# ---- bad input: one line on stderr, exit 1 (bad file) or 2 (usage) ----
one_line() { # NAME STATUS CMD...
	_n=$1 _s=$2; shift 2
	"$@" >"$TMP/o" 2>"$TMP/e"; _rc=$?
	if [ $_rc -eq "$_s" ] && [ "$(grep -cv '^Try ' "$TMP/e")" -eq 1 ] && grep -q '^llm-kvstat: ' "$TMP/e" && [ ! -s "$TMP/o" ]; then
		ok "$_n"
	else
		fail "$_n" "exit $_rc (wanted $_s), stderr: $(head -c 200 "$TMP/e" | tr '\n' ' ')"
	fi
}
one_line unknown_preset 2 llm-kvstat --preset llama9-1t
one_line zero_heads 2 llm-kvstat --layers 2 --heads 0 --head-dim 64
one_line kv_heads_not_dividing 2 llm-kvstat --layers 2 --heads 6 --kv-heads 4 --head-dim 64
one_line bad_kv_type 2 llm-kvstat --preset llama3-8b --kv-type q5_1
one_line no_config 2 llm-kvstat --ctx 10
one_line total_too_large 2 llm-kvstat --preset llama2-70b --ctx 100000000000000
build/tests/test_kv --write-dump "$TMP/dump.gguf"
build/tests/test_kv --write-dump "$TMP/notdump.gguf" notdump
build/tests/test_kv --write-dump "$TMP/badshape.gguf" badshape
build/tests/test_kv --write-dump "$TMP/missing.gguf" missing
echo "not a model" >"$TMP/text"
one_line not_a_dump 1 llm-kvstat "$TMP/notdump.gguf"
one_line dump_bad_shape 1 llm-kvstat "$TMP/badshape.gguf"
one_line dump_missing_tensor 1 llm-kvstat "$TMP/missing.gguf"
# inf in a dump: one line naming the tensor, nothing on stdout (LAPACK once
# printed its complaint there, exit 0)
build/tests/test_kv --write-dump "$TMP/inf.gguf" inf
one_line dump_inf 1 llm-kvstat --json "$TMP/inf.gguf"
if grep -q 'inf.gguf: kv.1.v holds inf or NaN' "$TMP/e"; then ok dump_inf_names_tensor; else fail dump_inf_names_tensor "$(cat "$TMP/e")"; fi
one_line not_gguf 1 llm-kvstat "$TMP/text"
one_line no_such_file 1 llm-kvstat "$TMP/absent.gguf"
# what the file holds decides these, so they are bad input (1), not usage (2):
# sizing options on a dump, dump options on a file that is no dump
one_line sizing_option_on_dump 1 llm-kvstat --ctx 10 "$TMP/dump.gguf"
one_line dump_option_on_sizing 2 llm-kvstat --per-head --preset llama3-8b

# ---- damaged dumps: refused naming the file (were read, exit 0) ----
# edit.py IN OUT 'EXPR': EXPR edits kv (a list of [key, type, value]; put()
# sets one) and ti (the tensor infos' bytes); everything else is kept
if command -v python3 >/dev/null; then
	cat >"$TMP/edit.py" <<'PY'
import struct, sys
F = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
b = open(sys.argv[1], 'rb').read(); o = 24; nt, nkv = struct.unpack_from('<QQ', b, 8)
def rd(t):
    global o
    if t == 8:
        n = struct.unpack_from('<Q', b, o)[0]; o += 8 + n; return b[o - n:o]
    v = struct.unpack_from('<' + F[t], b, o)[0]; o += struct.calcsize(F[t]); return v
def wr(t, v): return struct.pack('<Q', len(v)) + v if t == 8 else struct.pack('<' + F[t], v)
kv = []
for _ in range(nkv):
    k = rd(8); t = rd(4)
    if t == 9:
        at, n = rd(4), rd(10); kv.append([k, 9, (at, [rd(at) for _ in range(n)])])
    else:
        kv.append([k, t, rd(t)])
t0 = o
for _ in range(nt):
    rd(8); nd = rd(4); o += 8 * nd + 12
ti = b[t0:o]; data = b[(o + 31) // 32 * 32:]
def put(key, t, v):
    global kv
    kv = [e for e in kv if e[0] != key.encode()] + [[key.encode(), t, v]]
exec(sys.argv[3])
h = b[:8] + struct.pack('<QQ', nt, len(kv))
for k, t, v in kv:
    h += wr(8, k) + struct.pack('<I', t)
    h += struct.pack('<IQ', v[0], len(v[1])) + b''.join(wr(v[0], x) for x in v[1]) if t == 9 else wr(t, v)
h += ti
open(sys.argv[2], 'wb').write(h + b'\0' * (-len(h) % 32) + data)
PY
	# the synthetic dump (3 layers, 8 heads in 4 KV groups of head size 16,
	# 96 positions) with the keys llm-run also writes
	python3 "$TMP/edit.py" "$TMP/dump.gguf" "$TMP/full.gguf" 'put("kv.rope.dimension_count", 4, 16)
put("kv.rope.freq_base", 6, 10000.0); put("kv.tokens", 9, (5, list(range(1, 97))))'
	dmg() { python3 "$TMP/edit.py" "$TMP/full.gguf" "$TMP/$1.gguf" "$2"; }
	llm-kvstat "$TMP/full.gguf" >"$TMP/o" && llm-kvstat "$TMP/dump.gguf" | cmp -s - "$TMP/o" &&
		ok dump_full_keys_read || fail dump_full_keys_read "$(head -c 200 "$TMP/o")"
	dmg rope0 'put("kv.rope.dimension_count", 4, 0)' # no rotation: the model allows it
	check dump_rope_dim_0_read llm-kvstat "$TMP/rope0.gguf"
	# the layers' tensors are exactly kv.L.{k,v} for L = 0 .. n_layer-1
	dmg layers_fewer 'put("kv.n_layer", 4, 2)'
	one_line dump_layers_past_n_layer 1 llm-kvstat "$TMP/layers_fewer.gguf"
	grep -q 'layers_fewer.gguf: tensor kv.2.k is past kv.n_layer = 2' "$TMP/e" && ok dump_layers_past_n_layer_says ||
		fail dump_layers_past_n_layer_says "$(cat "$TMP/e")"
	dmg layers_more 'put("kv.n_layer", 4, 4)'
	one_line dump_layers_missing 1 llm-kvstat "$TMP/layers_more.gguf"
	dmg stray 'ti = ti.replace(b"kv.2.v", b"kv.02v")'
	one_line dump_stray_tensor 1 llm-kvstat "$TMP/stray.gguf"
	# query heads: a positive multiple of the KV heads
	dmg gqa 'put("kv.n_head", 4, 6)'
	one_line dump_heads_not_groups 1 llm-kvstat "$TMP/gqa.gguf"
	grep -q 'gqa.gguf: kv.n_head = 6 is not a positive multiple of kv.n_head_kv = 4' "$TMP/e" &&
		ok dump_heads_not_groups_says || fail dump_heads_not_groups_says "$(cat "$TMP/e")"
	dmg heads0 'put("kv.n_head", 4, 0)'
	one_line dump_heads_zero 1 llm-kvstat "$TMP/heads0.gguf"
	# one token id >= 0 per position
	dmg tok_short 'put("kv.tokens", 9, (5, list(range(1, 96))))'
	one_line dump_tokens_length 1 llm-kvstat "$TMP/tok_short.gguf"
	dmg tok_neg 'put("kv.tokens", 9, (5, [1, -3] + list(range(3, 97))))'
	one_line dump_tokens_negative 1 llm-kvstat "$TMP/tok_neg.gguf"
	# RoPE: an even dimension count up to the head size, a finite base > 0
	dmg rope_odd 'put("kv.rope.dimension_count", 4, 9)'
	one_line dump_rope_dim_odd 1 llm-kvstat "$TMP/rope_odd.gguf"
	dmg rope_wide 'put("kv.rope.dimension_count", 4, 18)'
	one_line dump_rope_dim_past_head 1 llm-kvstat "$TMP/rope_wide.gguf"
	dmg base_nan 'put("kv.rope.freq_base", 6, float("nan"))'
	one_line dump_freq_base_nan 1 llm-kvstat "$TMP/base_nan.gguf"
	dmg base_0 'put("kv.rope.freq_base", 6, 0.0)'
	one_line dump_freq_base_zero 1 llm-kvstat "$TMP/base_0.gguf"
	# a damaged general.type with a dump option: the file is at fault (was
	# exit 2, "--per-head ... apply to a KV dump", naming no file)
	dmg dumq 'put("general.type", 8, b"kv-dumq")'
	one_line dump_option_on_damaged_type 1 llm-kvstat --per-head "$TMP/dumq.gguf"
	grep -q "dumq.gguf: not a KV dump (general.type 'kv-dumq'); --per-head" "$TMP/e" &&
		ok dump_option_on_damaged_type_says || fail dump_option_on_damaged_type_says "$(cat "$TMP/e")"
else
	skip damaged_dumps "no python3"
fi

# ---- statistics of the synthetic dump ----
llm-kvstat "$TMP/dump.gguf" >"$TMP/d.tsv"
# layer 0 keys: singular values 1000, 500, 200, 100 -> rank 2 at 90 %, 3 at 99 %
expect synthetic_ranks "$(awk -F '\t' '$1 == 0 && $2 == "k" { print $10, $11 }' "$TMP/d.tsv")" "2 3"
expect synthetic_outliers "$(awk -F '\t' '$1 == 0 && $2 == "v" { print $9 * 96 * 64 }' "$TMP/d.tsv")" 12
expect synthetic_rows "$(wc -l <"$TMP/d.tsv" | tr -d ' ')" 7
llm-kvstat --per-head "$TMP/dump.gguf" >"$TMP/dh.tsv"
expect synthetic_rows_per_head "$(wc -l <"$TMP/dh.tsv" | tr -d ' ')" 31
# --md: the caption names the dump on one line whatever its path holds, as
# the sizing caption does (a newline once split it, and the table with it)
nl=$(printf 'a\nb.gguf')
cp "$TMP/dump.gguf" "$TMP/$nl"
llm-kvstat --md "$TMP/$nl" >"$TMP/nl.md"
expect md_caption_one_line "$(head -n 1 "$TMP/nl.md" | grep -c 'a\\x0ab.gguf: 3 layers')" 1
expect md_caption_lines "$(wc -l <"$TMP/nl.md" | tr -d ' ')" 10
if [ -n "$PYTHON" ]; then
	llm-kvstat --json --per-head "$TMP/dump.gguf" >"$TMP/d.json"
	REF_TAG=synthetic_ "$PYTHON" tests/ref_kvstat.py "$TMP/dump.gguf" "$TMP/d.json" ||
		fail ref_synthetic_run "ref_kvstat.py reported differences or failed"
else
	skip ref_synthetic "no python3 with numpy"
fi

# ---- a real dump: stories260K after 200 tokens (llm-run --kv-out) ----
if ! have_models; then
	skip stories_dump "../shared/models is absent"
elif ! llm-run --list-options 2>/dev/null | grep -q -- '--kv-out'; then
	skip stories_dump "llm-run --kv-out is not available"
elif ! llm-run "$MODELS/stories260K.gguf" -p "Once upon a time" -n 200 --temp 0 --ignore-eos -t 1 \
	--kv-out "$TMP/kv.gguf" >/dev/null 2>"$TMP/err"; then
	fail stories_dump "llm-run: $(head -c 300 "$TMP/err")"
else
	llm-kvstat --per-head "$TMP/kv.gguf" >"$TMP/kv.tsv"
	# the prompt (BOS + 4 tokens) and the 200 generated tokens
	expect stories_dump_positions "$(awk -F '\t' 'NR == 2 { print $4 }' "$TMP/kv.tsv")" 205
	# ranks never exceed head_dim x n_head_kv (8 x 4) for layers, head_dim per head
	awk -F '\t' 'NR > 1 { lim = $3 == "all" ? 32 : 8; if ($10 > lim || $11 > lim || $10 < 1) bad = bad " " $1 $2 $3 }
		NR > 1 { n++ } END { if (bad || n != 5 * 2 * 5) { print n, bad; exit 1 } }' "$TMP/kv.tsv" >"$TMP/why" &&
		ok stories_dump_ranks_bounded || fail stories_dump_ranks_bounded "$(cat "$TMP/why")"
	if [ -n "$PYTHON" ]; then
		llm-kvstat --json --per-head "$TMP/kv.gguf" >"$TMP/kv.json"
		REF_TAG=stories_ "$PYTHON" tests/ref_kvstat.py "$TMP/kv.gguf" "$TMP/kv.json" ||
			fail ref_stories_run "ref_kvstat.py reported differences or failed"
	else
		skip ref_stories "no python3 with numpy"
	fi
fi

# metadata as some converters write it: head_count_kv as a per-layer array
# (one value for every layer: that value; values that vary: refused by
# name), DeepSeek's older per-head key_length = d_nope + d_R without
# value_length (head size key_length - d_R), and no head size at all when
# the heads do not divide the embedding
if command -v python3 >/dev/null; then
	python3 - "$TMP" <<'PY'
import sys
sys.path.insert(0, "tests")
from gguf_write import gguf as build, kv_arr_u32 as arr, kv_str, kv_u32 as u32
def gguf(path, arch, kvs):  # metadata only
    open(path, 'wb').write(build([kv_str('general.architecture', arch)] + kvs, [], b''))
base = [u32('llama.block_count', 4), u32('llama.attention.head_count', 8), u32('llama.embedding_length', 256)]
gguf(sys.argv[1] + '/kvarr_same.gguf', 'llama', base + [arr('llama.attention.head_count_kv', [2, 2, 2, 2])])
gguf(sys.argv[1] + '/kvscalar.gguf', 'llama', base + [u32('llama.attention.head_count_kv', 2)])
gguf(sys.argv[1] + '/kvarr_vary.gguf', 'llama', base + [arr('llama.attention.head_count_kv', [2, 2, 4, 4])])
gguf(sys.argv[1] + '/ndiv.gguf', 'llama', [u32('llama.block_count', 4), u32('llama.attention.head_count', 8),
                                           u32('llama.embedding_length', 100)])
gguf(sys.argv[1] + '/ds_old.gguf', 'deepseek2', [u32('deepseek2.block_count', 2), u32('deepseek2.attention.head_count', 4),
     u32('deepseek2.embedding_length', 512), u32('deepseek2.attention.key_length', 48),
     u32('deepseek2.rope.dimension_count', 16), u32('deepseek2.attention.kv_lora_rank', 64)])
PY
	llm-kvstat -c 100 "$TMP/kvarr_same.gguf" >"$TMP/kva.tsv" && llm-kvstat -c 100 "$TMP/kvscalar.gguf" >"$TMP/kvs.tsv" &&
		cmp -s "$TMP/kva.tsv" "$TMP/kvs.tsv" && ok kv_heads_uniform_array || fail kv_heads_uniform_array "$(head -3 "$TMP/kva.tsv")"
	one_line meta_kv_heads_varying_array 1 llm-kvstat -c 100 "$TMP/kvarr_vary.gguf"
	grep -q 'head_count_kv varies by layer (2 to 4)' "$TMP/e" && ok meta_kv_heads_varying_says || fail meta_kv_heads_varying_says "$(cat "$TMP/e")"
	one_line meta_heads_not_dividing 1 llm-kvstat -c 100 "$TMP/ndiv.gguf"
	grep -q 'embedding_length 100 is not a multiple of the 8 heads' "$TMP/e" && ok meta_heads_not_dividing_says ||
		fail meta_heads_not_dividing_says "$(cat "$TMP/e")"
	llm-kvstat -c 100 "$TMP/ds_old.gguf" >"$TMP/dso.tsv"
	expect mla_old_key_length_head_dim "$(col "$TMP/dso.tsv" mha head_dim)" 32
else
	skip kv_heads_uniform_array "no python3"
fi
