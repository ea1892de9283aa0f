"""Test adapters for stories260K, written by hand with numpy (no torch, no
peft, no gguf-py): PEFT directories (adapter_config.json +
adapter_model.safetensors, PEFT's key names) and GGUF adapters in
llama.cpp's convention, plus a few broken ones.

usage: mk_peft.py BASE.gguf OUTDIR

PEFT tensors are in Hugging Face orientation: lora_A [r, in], lora_B
[out, r], with q/k *not* permuted (as a PEFT adapter trained on the HF
model is).  The "equivalent" GGUF adapters hold the same numbers in GGUF
layout, with q/k lora_B rows permuted as llama.cpp's converter permutes
the base's q/k rows (that is the fact under test), and token_embd's pair
flipped as llama.cpp's convert_lora_to_gguf.py writes it.
"""
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_ref  # noqa: E402

base_path, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
g = gguf_ref.read(base_path)
meta = g["metadata"]
NH = meta["llama.attention.head_count"]
NKV = meta.get("llama.attention.head_count_kv", NH)
L = meta["llama.block_count"]
shapes = {t["name"]: t["shape"] for t in g["tensors"]}  # ne = [n_in, n_out]
rng = np.random.default_rng(20241129)

HF = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
      "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
      "mlp.down_proj": "ffn_down"}


def gguf_name(module):
    if module == "model.embed_tokens":
        return "token_embd.weight"
    if module == "model.norm":
        return "output_norm.weight"
    p = module.split(".")
    sub = ".".join(p[3:])
    if sub == "input_layernorm":
        return f"blk.{p[2]}.attn_norm.weight"
    return f"blk.{p[2]}.{HF[sub]}.weight"


def permute(w, n_head):  # llama.cpp convert_hf_to_gguf.py LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def heads_of(module):
    if module.endswith("q_proj"):
        return NH
    if module.endswith("k_proj"):
        return NKV
    return 0


def write_st(path, tensors):
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def gs(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kv, tensors):
    """kv: list of (key, vtype, value) with vtype 'str' or 'f32';
    tensors: list of (name, ne, float32 array)."""
    out = [b"GGUF", struct.pack("<Iqq", 3, len(tensors), len(kv))]
    for k, t, v in kv:
        out.append(gs(k))
        out.append(struct.pack("<I", 8) + gs(v) if t == "str" else struct.pack("<If", 6, v))
    off, datas = 0, []
    for name, ne, a in tensors:
        out.append(gs(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", d) for d in ne))
        out.append(struct.pack("<IQ", 0, off))
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        datas.append(b + b"\0" * ((32 - len(b) % 32) % 32))
        off += len(datas[-1])
    head = b"".join(out)
    head += b"\0" * ((32 - len(head) % 32) % 32)
    with open(path, "wb") as f:
        f.write(head + b"".join(datas))


def hf_shape(module):
    n_in, n_out = shapes[gguf_name(module)]
    return n_out, n_in


def modules(kinds, layers=None):
    return [f"model.layers.{l}.{k}" for l in (layers if layers is not None else range(L)) for k in kinds]


ALL = list(HF)


def lora_pair(module, r):
    n_out, n_in = hf_shape(module)
    a = (rng.standard_normal((r, n_in)) / math.sqrt(n_in)).astype(np.float32)
    b = (rng.standard_normal((n_out, r)) * 0.05).astype(np.float32)
    return a, b


def peft_dir(name, cfg, pairs, extra=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    t = {}
    for m, (a, b) in pairs.items():
        if m == "model.embed_tokens":
            t[f"base_model.model.{m}.lora_embedding_A"] = a
            t[f"base_model.model.{m}.lora_embedding_B"] = b
        else:
            t[f"base_model.model.{m}.lora_A.weight"] = a
            t[f"base_model.model.{m}.lora_B.weight"] = b
    t.update(extra or {})
    full = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "stories260K",
            "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False,
            "rank_pattern": {}, "alpha_pattern": {}, "modules_to_save": None, "lora_dropout": 0.0}
    full.update(cfg)
    for k in [k for k, v in full.items() if v == "DROP"]:
        del full[k]
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(full, f, indent=2)
    write_st(os.path.join(d, "adapter_model.safetensors"), t)


def gguf_adapter(name, alpha, pairs, prescale=None, arch="llama", extra_tensors=()):
    """pairs in HF orientation; converted to GGUF layout here."""
    ts = []
    for m, (a, b) in pairs.items():
        gn = gguf_name(m)
        if m == "model.embed_tokens":
            # lora_embedding_A [r, vocab], _B [dim, r]: lora_a = A^T (ne [r, vocab]), lora_b = B (ne [r, dim])
            r = a.shape[0]
            ts.append((gn + ".lora_a", [r, a.shape[1]], a.T))
            ts.append((gn + ".lora_b", [r, b.shape[0]], b))
            continue
        h = heads_of(m)
        if h:
            b = permute(b, h)
        if prescale:
            b = (b * np.float32(prescale[m])).astype(np.float32)
        r = a.shape[0]
        ts.append((gn + ".lora_a", [a.shape[1], r], a))
        ts.append((gn + ".lora_b", [r, b.shape[0]], b))
    ts.extend(extra_tensors)
    kv = [("general.type", "str", "adapter"), ("adapter.type", "str", "lora"),
          ("adapter.lora.alpha", "f32", alpha)]
    if arch:
        kv.insert(1, ("general.architecture", "str", arch))
    write_gguf(os.path.join(out, name), kv, ts)


# ---- plain: every linear module of every layer, r = 4, alpha = 8
plain = {m: lora_pair(m, 4) for m in modules(ALL)}
peft_dir("peft_plain", {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                    "gate_proj", "up_proj", "down_proj"]}, plain)
gguf_adapter("plain.gguf", 8.0, plain)
# fan_in_fan_out: PEFT forces it off for nn.Linear (llama's modules): same weights as plain
peft_dir("peft_fifo", {"r": 4, "lora_alpha": 8, "fan_in_fan_out": True,
                       "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
         plain)

# ---- rsLoRA: scale alpha / sqrt(r) = 6 / 2; in GGUF alpha' / r with alpha' = 12
rs = {m: lora_pair(m, 4) for m in modules(["self_attn.q_proj", "self_attn.k_proj", "mlp.up_proj"])}
peft_dir("peft_rslora", {"r": 4, "lora_alpha": 6, "use_rslora": True,
                         "target_modules": ["q_proj", "k_proj", "up_proj"]}, rs)
gguf_adapter("rslora.gguf", 12.0, rs)

# ---- rank_pattern / alpha_pattern, target_modules as a regex
pat_mods = modules(["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"])
rank_pattern = {"model.layers.1.self_attn.q_proj": 8, "down_proj": 2}
alpha_pattern = {r"layers\.[23]\.self_attn\.v_proj": 16}


def pat_r(m):
    if m == "model.layers.1.self_attn.q_proj":
        return 8
    if m.endswith("down_proj"):
        return 2
    return 4


def pat_alpha(m):
    return 16 if (".self_attn.v_proj" in m and (".2." in m or ".3." in m)) else 8


pat = {m: lora_pair(m, pat_r(m)) for m in pat_mods}
peft_dir("peft_pattern", {"r": 4, "lora_alpha": 8, "rank_pattern": rank_pattern, "alpha_pattern": alpha_pattern,
                          "target_modules": r".*\.(q_proj|v_proj|down_proj)"}, pat)
gguf_adapter("pattern.gguf", 0.0, pat, prescale={m: pat_alpha(m) / pat_r(m) for m in pat})

# ---- DoRA
dora = {m: lora_pair(m, 4) for m in modules(["self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj"], [0, 2])}
mag = {}
for m in dora:
    n_out, _ = hf_shape(m)
    mag[f"base_model.model.{m}.lora_magnitude_vector"] = (1 + 0.1 * rng.standard_normal(n_out)).astype(np.float32)
peft_dir("peft_dora", {"r": 4, "lora_alpha": 4, "use_dora": True, "target_modules": ["q_proj", "k_proj", "gate_proj"]},
         dora, mag)

# ---- modules_to_save (embed_tokens and the final norm replaced) + a LoRA on q_proj
mts = {m: lora_pair(m, 2) for m in modules(["self_attn.q_proj"], [0])}
saved = {
    "base_model.model.model.embed_tokens.weight": rng.standard_normal(tuple(reversed(shapes["token_embd.weight"]))).astype(np.float32),
    "base_model.model.model.norm.weight": (1 + 0.1 * rng.standard_normal(shapes["output_norm.weight"][0])).astype(np.float32),
    "base_model.model.model.layers.1.self_attn.k_proj.weight": rng.standard_normal(
        tuple(reversed(shapes["blk.1.attn_k.weight"]))).astype(np.float32),
}
peft_dir("peft_mts", {"r": 2, "lora_alpha": 2, "target_modules": ["q_proj"],
                      "modules_to_save": ["embed_tokens", "norm", "k_proj"]}, mts, saved)

# ---- embedding LoRA (lora_embedding_A/B) + q/k: tests token_embd's flipped GGUF layout
emb = {}
V, D = shapes["token_embd.weight"][1], shapes["token_embd.weight"][0]
emb["model.embed_tokens"] = ((rng.standard_normal((4, V)) * 0.1).astype(np.float32),
                             (rng.standard_normal((D, 4)) * 0.1).astype(np.float32))
emb.update({m: lora_pair(m, 4) for m in modules(["self_attn.q_proj", "self_attn.k_proj"], [3])})
peft_dir("peft_embed", {"r": 4, "lora_alpha": 4, "target_modules": ["embed_tokens", "q_proj", "k_proj"]}, emb)
gguf_adapter("embed.gguf", 4.0, emb)

# ---- a denser adapter with a decaying spectrum (for --energy) and rank 16
dense = {}
for m in modules(["self_attn.q_proj", "mlp.down_proj"], [0, 1]):
    n_out, n_in = hf_shape(m)
    a = rng.standard_normal((16, n_in)).astype(np.float32)
    b = (rng.standard_normal((n_out, 16)) * (0.5 ** np.arange(16))[None, :] * 0.05).astype(np.float32)
    dense[m] = (a, b)
gguf_adapter("dense16.gguf", 0.0, dense)

# ---- broken inputs
gguf_adapter("otherarch.gguf", 8.0, {m: plain[m] for m in modules(["self_attn.q_proj"], [0])}, arch="gptneox")
a, b = plain["model.layers.0.self_attn.q_proj"]
write_gguf(os.path.join(out, "badshape.gguf"),
           [("general.type", "str", "adapter"), ("general.architecture", "str", "llama"),
            ("adapter.type", "str", "lora"), ("adapter.lora.alpha", "f32", 8.0)],
           [("blk.0.attn_q.weight.lora_a", [a.shape[1] + 1, 4], np.zeros((4, a.shape[1] + 1), np.float32)),
            ("blk.0.attn_q.weight.lora_b", [4, b.shape[0]], b)])
write_gguf(os.path.join(out, "nobase.gguf"),
           [("general.type", "str", "adapter"), ("general.architecture", "str", "llama"),
            ("adapter.type", "str", "lora"), ("adapter.lora.alpha", "f32", 8.0)],
           [(f"blk.{L + 4}.attn_q.weight.lora_a", [a.shape[1], 4], a),
            (f"blk.{L + 4}.attn_q.weight.lora_b", [4, b.shape[0]], b)])
peft_dir("peft_noalpha", {"r": 4, "lora_alpha": "DROP", "target_modules": ["q_proj"]},
         {m: plain[m] for m in modules(["self_attn.q_proj"], [0])})
peft_dir("peft_badrank", {"r": 8, "lora_alpha": 8, "target_modules": ["q_proj"]},
         {m: plain[m] for m in modules(["self_attn.q_proj"], [0])})
peft_dir("peft_untargeted", {"r": 4, "lora_alpha": 8, "target_modules": ["v_proj"]},
         {m: plain[m] for m in modules(["self_attn.q_proj"], [0])})
print("ok")
