"""Independent numpy reference for llm-lora-merge.

usage: ref_lora.py [--tol T] [--skip NAME] BASE.gguf OUT.gguf ADAPTER[:SCALE]...

Reads an F32 GGUF base (tests/gguf_ref.py), each adapter (a GGUF adapter in
llama.cpp's convention or a PEFT directory, parsed here from the formats'
descriptions, not from the C code), computes W' = W + sum s * scale * B A in
float64 per tensor (DoRA: m * V / ||V|| row-wise; modules_to_save: the saved
tensor), and compares OUT: every touched tensor within relative Frobenius
error T (default 1e-6), every other tensor byte for byte equal to the
base's.  Prints one line per check and "max_rel X" at the end; exit 1 on a
mismatch.
"""
import json
import math
import os
import re
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_ref  # noqa: E402

HF = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
      "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
      "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def f32(t):
    assert t["type"] == 0, f"{t['name']}: reference needs F32"
    ne = t["shape"]
    return np.frombuffer(t["data"], "<f4").reshape(list(reversed(ne))).astype(np.float64)


def gname(module):
    if module == "model.embed_tokens":
        return "token_embd.weight"
    if module == "lm_head":
        return "output.weight"
    if module == "model.norm":
        return "output_norm.weight"
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", module)
    if not m or m.group(2) not in HF:
        raise SystemExit(f"reference: no llama name for {module}")
    return f"blk.{m.group(1)}.{HF[m.group(2)]}.weight"


def permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32"
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], "<f4").reshape(v["shape"]).astype(np.float64)
    return out


def peft(d, meta):
    """-> {gguf name: [("lora", B, A, scale, magnitude) | ("replace", W)]}"""
    cfg = json.load(open(os.path.join(d, "adapter_config.json")))
    t = read_st(os.path.join(d, "adapter_model.safetensors"))
    nh = meta["llama.attention.head_count"]
    nkv = meta.get("llama.attention.head_count_kv", nh)
    res = {}
    mods = {}
    for k, v in t.items():
        k = k[len("base_model.model."):]
        for suf, kind in ((".lora_A.weight", "A"), (".lora_B.weight", "B"), (".lora_embedding_A", "EA"),
                          (".lora_embedding_B", "EB"), (".lora_magnitude_vector", "M")):
            if k.endswith(suf):
                mods.setdefault(k[:-len(suf)], {})[kind] = v
                break
        else:
            assert k.endswith(".weight")
            mod = k[:-7]
            w = v
            if mod.endswith("q_proj"):
                w = permute(w, nh)
            if mod.endswith("k_proj"):
                w = permute(w, nkv)
            res.setdefault(gname(mod), []).append(("replace", w))

    def pattern(pats, mod, dflt):  # PEFT get_pattern_key
        for key, val in pats.items():
            if re.match(rf"(.*\.)?({key})$", mod):
                return val
        return dflt

    for mod, p in mods.items():
        r = pattern(cfg.get("rank_pattern") or {}, mod, cfg["r"])
        alpha = pattern(cfg.get("alpha_pattern") or {}, mod, cfg["lora_alpha"])
        scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        if "EA" in p:
            # delta (vocab x dim) = (B_e A_e)^T  ->  B = A_e^T, A = B_e^T
            B, A = p["EA"].T, p["EB"].T
        else:
            A, B = p["A"], p["B"]
        assert A.shape[0] == r
        mag = p.get("M")
        h = nh if mod.endswith("q_proj") else nkv if mod.endswith("k_proj") else 0
        if h:
            B = permute(B, h)
            mag = permute(mag, h) if mag is not None else None
        res.setdefault(gname(mod), []).append(("lora", B, A, scale, mag))
    return res


def gguf_adapter(path):
    g = gguf_ref.read(path)
    alpha = g["metadata"].get("adapter.lora.alpha", 0.0)
    t = {x["name"]: x for x in g["tensors"]}
    res = {}
    for name in t:
        if not name.endswith(".lora_a"):
            continue
        base = name[:-7]
        a, b = f32(t[name]), f32(t[base + ".lora_b"])
        if base == "token_embd.weight":
            # lora_a ne [r, vocab] (vocab rows of r), lora_b ne [r, dim]: delta[v] = a[v] . b^T
            B, A = a, b.T
        else:
            A, B = a, b  # A: r x n_in, B: n_out x r
        r = B.shape[1]
        res[base] = [("lora", B, A, alpha / r if alpha else 1.0, None)]
    return res


def main():
    args = sys.argv[1:]
    tol, skip = 1e-6, set()
    while args and args[0].startswith("--"):
        if args[0] == "--tol":
            tol = float(args[1])
        elif args[0] == "--skip":
            skip.add(args[1])
        args = args[2:]
    base_path, out_path, specs = args[0], args[1], args[2:]
    base = gguf_ref.read(base_path)
    bt = {t["name"]: t for t in base["tensors"]}
    ops = {}
    for spec in specs:
        path, scale = spec, 1.0
        if ":" in spec and not os.path.exists(spec):
            path, s = spec.rsplit(":", 1)
            scale = float(s)
        ad = peft(path, base["metadata"]) if os.path.isdir(path) else gguf_adapter(path)
        for name, lst in ad.items():
            for op in lst:
                ops.setdefault(name, []).append((scale, op))
    out = gguf_ref.read(out_path)
    bad, worst = 0, 0.0
    for t in out["tensors"]:
        name = t["name"]
        if name in skip:
            continue
        if name not in ops:
            if name in bt and t["data"] != bt[name]["data"]:
                print(f"not copied byte for byte: {name}")
                bad += 1
            continue
        w = f32(bt[name])
        for scale, op in ops[name]:
            if op[0] == "replace":
                w = op[1].reshape(w.shape).copy()
                continue
            _, B, A, s, mag = op
            w = w + scale * s * (B @ A)
            if mag is not None:
                w = mag[:, None] * w / np.linalg.norm(w, axis=1)[:, None]
        got = f32(t)
        rel = np.linalg.norm(got - w) / np.linalg.norm(w)
        worst = max(worst, rel)
        if not rel <= tol:
            print(f"{name}: relative error {rel:.3g} > {tol:g}")
            bad += 1
    missing = set(ops) - {t["name"] for t in out["tensors"]} - skip
    for name in sorted(missing):
        print(f"missing from output: {name}")
        bad += 1
    print(f"max_rel {worst:.3g} over {len(ops)} merged tensors")
    sys.exit(1 if bad else 0)


main()
