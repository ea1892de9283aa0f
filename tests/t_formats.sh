#!/bin/sh
# Hugging Face checkpoints against an independent numpy reference: random
# non-square GQA models (head_dim given explicitly, 4 heads / 2 KV heads)
# in F32, F16 and BF16, one with a misaligned data section, one sharded, one
# with llama3 rope_scaling.  Python writes the safetensors files by hand
# (8-byte length + JSON + data), permutes q/k rows as llama.cpp's
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
    rs = cfg["rope_scaling"]
    base, dim = np.float32(cfg["rope_theta"]), HD
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
    if "rope_scaling" in cfg:
        out["rope_freqs.weight"] = (llama3_factors(cfg), "f32", [HD // 2])
    return out

base_cfg = {"architectures": ["LlamaForCausalLM"], "hidden_size": H, "intermediate_size": FF,
            "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
            "head_dim": HD, "vocab_size": V, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0, "tie_word_embeddings": False}
cases = []
for dtype, odd, shards, rope in [("F32", False, 1, False), ("F16", True, 1, False),
                                 ("BF16", False, 1, False), ("F16", False, 3, False),
                                 ("F32", False, 1, True)]:
    name = f"{dtype.lower()}{'_odd' if odd else ''}{'_sharded' if shards > 1 else ''}{'_llama3' if rope else ''}"
    d = os.path.join(root, name)
    os.makedirs(d)
    cfg = dict(base_cfg)
    if rope:
        cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
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
