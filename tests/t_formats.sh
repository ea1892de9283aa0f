#!/bin/sh
# Hugging Face checkpoints against an independent numpy reference: random
# non-square GQA models (head_dim given explicitly, 4 heads / 2 KV heads)
# in F32, F16 and BF16, one with a misaligned data section, one sharded, one
# with llama3 rope_scaling, one with the same in transformers 5's
# rope_parameters (rope_theta inside it).  Python writes the safetensors
# files by hand (8-byte length + JSON + data), permutes q/k rows as llama.cpp's
# convert_hf_to_gguf.py does and computes rope_freqs.weight the way it
# does (in float32); the C side (test_ckpt_formats --dump, through
# llm_ckpt_open/llm_ckpt_data) must return the same names, types, shapes
# and bytes (rope_freqs: relative 1e-6, powf against numpy's power).
. tests/lib.sh

DUMP=$PWD/build/tests/test_ckpt_formats
if ! have_numpy; then
	skip formats_numpy "no python3 with numpy"
	exit 0
fi
if [ ! -x "$DUMP" ]; then
	fail formats_numpy "build/tests/test_ckpt_formats is not built (make check builds it)"
	exit 0
fi

"$PYTHON" - "$TMP" <<'PY' >"$TMP/gen.out" 2>&1 || { fail formats_generate "$(tail -3 "$TMP/gen.out")"; exit 0; }
import json, os, struct, sys
import numpy as np

root = sys.argv[1]
rng = np.random.default_rng(1234)
H, FF, L, NH, NKV, HD, V = 40, 56, 2, 4, 2, 12, 24

def hf_tensors():
    t = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,), "lm_head.weight": (V, H)}
    for l in range(L):
        p = f"model.layers.{l}."
        t.update({p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
                  p + "self_attn.q_proj.weight": (NH * HD, H), p + "self_attn.k_proj.weight": (NKV * HD, H),
                  p + "self_attn.v_proj.weight": (NKV * HD, H), p + "self_attn.o_proj.weight": (H, NH * HD),
                  p + "self_attn.rotary_emb.inv_freq": (HD // 2,),
                  p + "mlp.gate_proj.weight": (FF, H), p + "mlp.up_proj.weight": (FF, H),
                  p + "mlp.down_proj.weight": (H, FF)})
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in t.items()}

def cast(a, dtype):
    if dtype == "F32":
        return a.astype("<f4")
    if dtype == "F16":
        return a.astype("<f2")
    return (a.astype("<f4").view("<u4") >> 16).astype("<u2")  # BF16 bit patterns

def write_st(path, tensors, dtype, odd=False):
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, a in tensors.items():
        b = cast(a, dtype).tobytes()
        hdr[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8 + (3 if odd else 0))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

def permute(w, n_head):  # llama.cpp convert_hf_to_gguf.py LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

def llama3_factors(cfg):
    rs = cfg.get("rope_parameters") or cfg["rope_scaling"]
    base, dim = np.float32(rs.get("rope_theta", cfg.get("rope_theta"))), HD
    freqs = np.float32(1.0) / (base ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    lo_wl, hi_wl = np.float32(old / lo), np.float32(old / hi)
    out = []
    for f in freqs:
        wl = np.float32(2 * np.pi) / f
        if wl < hi_wl:
            out.append(1.0)
        elif wl > lo_wl:
            out.append(factor)
        else:
            s = (np.float32(old) / wl - np.float32(lo)) / np.float32(hi - lo)
            out.append(np.float32(1) / ((np.float32(1) - s) / np.float32(factor) + s))
    return np.array(out, dtype=np.float32)

def expected(tensors, dtype, cfg):
    m = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
         "lm_head.weight": "output.weight"}
    sub = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
           "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
           "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
           "mlp.down_proj": "ffn_down"}
    out = {}
    for name, a in tensors.items():
        if name in m:
            g = m[name]
        else:
            l, rest = name[len("model.layers."):].split(".", 1)
            rest = rest[: -len(".weight")] if rest.endswith(".weight") else rest
            if rest not in sub:
                continue
            g = f"blk.{l}.{sub[rest]}.weight"
        a = cast(a, dtype)
        if g.endswith("attn_q.weight"):
            a = permute(a, NH)
        elif g.endswith("attn_k.weight"):
            a = permute(a, NKV)
        out[g] = (a, {"F32": "f32", "F16": "f16", "BF16": "bf16"}[dtype], list(a.shape[::-1]))
    if "rope_scaling" in cfg or "rope_parameters" in cfg:
        out["rope_freqs.weight"] = (llama3_factors(cfg), "f32", [HD // 2])
    return out

base_cfg = {"architectures": ["LlamaForCausalLM"], "hidden_size": H, "intermediate_size": FF,
            "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
            "head_dim": HD, "vocab_size": V, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0, "tie_word_embeddings": False}
cases = []
for dtype, odd, shards, rope in [("F32", False, 1, False), ("F16", True, 1, False),
                                 ("BF16", False, 1, False), ("F16", False, 3, False),
                                 ("F32", False, 1, True), ("BF16", False, 1, "v5")]:
    name = f"{dtype.lower()}{'_odd' if odd else ''}{'_sharded' if shards > 1 else ''}{'_llama3' if rope else ''}"
    name += "_rope_parameters" if rope == "v5" else ""
    d = os.path.join(root, name)
    os.makedirs(d)
    cfg = dict(base_cfg)
    if rope:
        cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    if rope == "v5":  # as transformers 5 writes it: rope_theta inside, no rope_scaling
        cfg["rope_parameters"] = dict(cfg.pop("rope_scaling"), rope_theta=cfg.pop("rope_theta"))
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    t = hf_tensors()
    if shards == 1:
        write_st(os.path.join(d, "model.safetensors"), t, dtype, odd)
    else:
        names, wm = list(t), {}
        for k in range(shards):
            fn = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: t[n] for n in names[k::shards]}
            write_st(os.path.join(d, fn), part, dtype, odd=(k == 1))
            wm.update({n: fn for n in part})
        json.dump({"metadata": {}, "weight_map": wm}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    exp = expected(t, dtype, cfg)
    os.makedirs(os.path.join(d, "exp"))
    for g, (a, ty, ne) in exp.items():
        a.tofile(os.path.join(d, "exp", g + ".bin"))
    json.dump({g: [ty, ne] for g, (a, ty, ne) in exp.items()}, open(os.path.join(d, "exp.json"), "w"))
    print(name)
PY

for c in $(cat "$TMP/gen.out"); do
	mkdir -p "$TMP/$c/got"
	if ! "$DUMP" --dump "$TMP/$c" "$TMP/$c/got" >"$TMP/$c/dump.out" 2>&1; then
		fail "formats_$c" "dump failed: $(head -c 300 "$TMP/$c/dump.out")"
		continue
	fi
	if "$PYTHON" - "$TMP/$c" "$c" <<'PY' >"$TMP/$c/cmp.out" 2>&1; then
import json, os, sys
import numpy as np
d, case = sys.argv[1], sys.argv[2]
exp = json.load(open(os.path.join(d, "exp.json")))
got = {}
for line in open(os.path.join(d, "got", "list.tsv")):
    f = line.rstrip("\n").split("\t")
    got[f[0]] = [f[1], [int(x) for x in f[2:]]]
assert set(got) == set(exp), ("names", sorted(set(got) ^ set(exp)))
for name, (ty, ne) in exp.items():
    assert got[name] == [ty, ne], (name, got[name], [ty, ne])
    a = open(os.path.join(d, "exp", name + ".bin"), "rb").read()
    b = open(os.path.join(d, "got", name + ".bin"), "rb").read()
    if name == "rope_freqs.weight":
        x, y = np.frombuffer(a, np.float32), np.frombuffer(b, np.float32)
        assert np.allclose(x, y, rtol=1e-6, atol=0), (x, y)
        assert len(set(x.tolist())) >= 3, "all three llama3 branches"
    else:
        assert a == b, name
meta = dict(l.rstrip("\n").split("\t", 1) for l in open(os.path.join(d, "got", "meta.tsv")))
want = {"general.architecture": "llama", "llama.block_count": "2", "llama.embedding_length": "40",
        "llama.feed_forward_length": "56", "llama.attention.head_count": "4",
        "llama.attention.head_count_kv": "2", "llama.rope.dimension_count": "12",
        "llama.attention.key_length": "12", "llama.attention.value_length": "12",
        "llama.context_length": "256", "llama.vocab_size": "24", "llama.rope.freq_base": "500000",
        "general.file_type": {"f32": "0", "f16": "1", "bf16": "32"}[case.split("_")[0]]}
for k, v in want.items():
    assert meta.get(k) == v, (k, meta.get(k), v)
assert abs(float(meta["llama.attention.layer_norm_rms_epsilon"]) - 1e-5) < 1e-12
print(len(exp), "tensors equal")
PY
		ok "formats_$c"
	else
		fail "formats_$c" "$(tail -2 "$TMP/$c/cmp.out" | tr '\n' ' ')"
	fi
done

# llama2.c export versions 1 (fp32, "ak42" header) and 2 (int8 groups with
# float scales) written from stories260K.bin the way llama2.c's export.py
# writes them (quantize_q80: scale = max|w| / 127 per group, round half
# even); shared and unshared classifiers.  Version 1 must give the legacy
# file's tensors byte for byte and its greedy text; version 2 the
# dequantized values q * s in float32, as runq.c computes them.
if ! have_models; then
	skip formats_llama2c_versions "../shared/models is absent"
	exit 0
fi
mkdir -p "$TMP/l2c"
if ! "$PYTHON" - "$MODELS/stories260K.bin" "$TMP/l2c" <<'PY' >"$TMP/l2c/gen.out" 2>&1; then
import os, struct, sys
import numpy as np
src, out = sys.argv[1], sys.argv[2]
b = open(src, "rb").read()
dim, hid, L, nh, nkv, V, S = struct.unpack("<7i", b[:28])
hs, kv = dim // nh, dim // nh * nkv
f = np.frombuffer(b[28:], "<f4")
o = 0
def take(n):
    global o
    a = f[o:o + n]; o += n
    return a
emb = take(V * dim); att = take(L * dim).reshape(L, dim)
wq = take(L * dim * dim).reshape(L, -1); wk = take(L * kv * dim).reshape(L, -1)
wv = take(L * kv * dim).reshape(L, -1); wo = take(L * dim * dim).reshape(L, -1)
ffn = take(L * dim).reshape(L, dim); w1 = take(L * hid * dim).reshape(L, -1)
w2 = take(L * dim * hid).reshape(L, -1); w3 = take(L * hid * dim).reshape(L, -1)
fin = take(dim); freq = take(S * hs)
assert o == len(f)
wcls = (emb * np.float32(0.5)).astype("<f4")  # a classifier of its own for the unshared files

def header(version, shared, gs=None):
    h = struct.pack("<Ii7iB", 0x616b3432, version, dim, hid, L, nh, nkv, V, S, int(shared))
    if gs is not None:
        h += struct.pack("<i", gs)
    return h + b"\0" * (256 - len(h))

def q80(w, gs):  # export.py's quantize_q80
    w = w.reshape(-1, gs).astype(np.float32)
    scale = np.abs(w).max(axis=1) / np.float32(127.0)
    q = np.round(w / scale[:, None]).astype(np.int8)
    return q, scale.astype("<f4")

def write(name, blob):
    open(os.path.join(out, name), "wb").write(blob)

for shared in (True, False):
    tag = "shared" if shared else "unshared"
    # legacy v0 (the unshared one with -vocab and wcls at the end)
    v0 = struct.pack("<7i", dim, hid, L, nh, nkv, V if shared else -V, S) + b[28:]
    write(f"v0_{tag}.bin", v0 + (b"" if shared else wcls.tobytes()))
    parts = [att, ffn, fin, emb, wq, wk, wv, wo, w1, w2, w3] + ([] if shared else [wcls])
    write(f"v1_{tag}.bin", header(1, shared) + b"".join(p.astype("<f4").tobytes() for p in parts))
    for gs in (64, 16):
        blob = [header(2, shared, gs), att.tobytes(), ffn.tobytes(), fin.tobytes()]
        exp = {}
        ws = [("token_embd", emb)] + [(f"blk.{l}.{n}", w[l]) for n, w in
              (("attn_q", wq), ("attn_k", wk), ("attn_v", wv), ("attn_output", wo),
               ("ffn_gate", w1), ("ffn_down", w2), ("ffn_up", w3)) for l in range(L)]
        if not shared:
            ws.append(("output", wcls))
        for n, w in ws:
            q, s = q80(w, gs)
            blob += [q.tobytes(), s.tobytes()]
            exp[n] = (q.astype(np.float32) * s[:, None]).astype("<f4").reshape(-1)
        write(f"v2_{tag}_{gs}.bin", b"".join(blob))
        d = os.path.join(out, f"v2_{tag}_{gs}.exp")
        os.makedirs(d)
        for n, a in exp.items():
            a.tofile(os.path.join(d, n + ".weight.bin"))
    if shared:
        write("v2_bad_gs.bin", header(2, True, 48) + b"\0" * 1000)
        write("v1_short.bin", header(1, True) + b"".join(p.tobytes() for p in parts)[:-4])
PY
	fail formats_llama2c_versions_generate "$(tail -3 "$TMP/l2c/gen.out")"
	exit 0
fi
for t in shared unshared; do
	for v in v0 v1 v2_${t}_64 v2_${t}_16; do
		case $v in v0|v1) f=${v}_$t ;; *) f=$v ;; esac
		mkdir -p "$TMP/l2c/$f.got"
		"$DUMP" --dump "$TMP/l2c/$f.bin" "$TMP/l2c/$f.got" >"$TMP/l2c/$f.dump" 2>&1 ||
			fail "formats_llama2c_${f}_dump" "$(head -c 300 "$TMP/l2c/$f.dump")"
	done
	# version 1: the legacy file's tensors, byte for byte
	if [ "$(cat "$TMP/l2c/v0_$t.got/list.tsv")" = "$(cat "$TMP/l2c/v1_$t.got/list.tsv")" ] &&
		(cd "$TMP/l2c/v0_$t.got" && for x in *.bin; do cmp -s "$x" "../v1_$t.got/$x" || exit 1; done); then
		ok "formats_llama2c_v1_${t}_tensors"
	else
		fail "formats_llama2c_v1_${t}_tensors" "tensors differ from the legacy file's"
	fi
	a=$(llm-run -q --temp 0 -n 24 -p "Once upon a time" --tokenizer "$MODELS/tok512.bin" "$TMP/l2c/v0_$t.bin" 2>&1)
	b=$(llm-run -q --temp 0 -n 24 -p "Once upon a time" --tokenizer "$MODELS/tok512.bin" "$TMP/l2c/v1_$t.bin" 2>&1)
	if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "formats_llama2c_v1_${t}_greedy"; else
		fail "formats_llama2c_v1_${t}_greedy" "v0 '$a' v1 '$b'"; fi
	# version 2: q * s, and the norms as they are
	for g in 64 16; do
		d=$TMP/l2c/v2_${t}_$g
		if (cd "$d.exp" && for x in *.bin; do cmp -s "$x" "../v2_${t}_$g.got/$x" || { echo "$x"; exit 1; }; done) >"$d.cmp" &&
			[ "$(cut -f1,2 "$d.got/list.tsv")" = "$(cut -f1,2 "$TMP/l2c/v0_$t.got/list.tsv")" ] &&
			cmp -s "$d.got/blk.3.attn_norm.weight.bin" "$TMP/l2c/v0_$t.got/blk.3.attn_norm.weight.bin" &&
			cmp -s "$d.got/output_norm.weight.bin" "$TMP/l2c/v0_$t.got/output_norm.weight.bin"; then
			ok "formats_llama2c_v2_${t}_gs${g}_tensors"
		else
			fail "formats_llama2c_v2_${t}_gs${g}_tensors" "differs: $(cat "$d.cmp")"
		fi
		# llm-info's stored bytes are what the file holds past its header
		# (the int8 values and scales), not the F32 they are read as
		expect "formats_llama2c_v2_${t}_gs${g}_stored" "$(llm-info --json "$d.bin" |
			"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["n_stored"])')" "$(($(wc -c <"$d.bin") - 256))"
	done
done
check formats_llama2c_v2_runs llm-run -q --temp 0 -n 8 -p "Once upon a time" --tokenizer "$MODELS/tok512.bin" "$TMP/l2c/v2_shared_64.bin"
for f in v2_bad_gs v1_short; do
	llm-quant -q -t f32 --tokenizer "$MODELS/tok512.bin" -o "$TMP/l2c/$f.gguf" "$TMP/l2c/$f.bin" 2>"$TMP/l2c/$f.err"
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(wc -l <"$TMP/l2c/$f.err")" -eq 1 ] && grep -q "$f.bin: " "$TMP/l2c/$f.err" &&
		[ ! -e "$TMP/l2c/$f.gguf" ]; then
		ok "formats_llama2c_$f"
	else
		fail "formats_llama2c_$f" "exit $rc: $(cat "$TMP/l2c/$f.err")"
	fi
done
