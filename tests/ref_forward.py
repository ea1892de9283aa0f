#!/usr/bin/env python3
"""Independent float64 numpy forward pass of a llama-family GGUF, to check
llm_model_eval (lib/model.c).  Written from the GGUF layout and ggml block
formats (lib/gguf.h, lib/types.h), not from the C code.

  ref_forward.py gen DIR        DIR/list lines "NAME tok...": compare
                                DIR/NAME.logits (8 x n_vocab f32, from
                                tests/test_model --gen) with the forward
                                pass on DIR/NAME.gguf's dequantized weights
  ref_forward.py real GGUF OUT  OUT: "n_prompt tok..." and OUT.logits from
                                tests/test_model --real: logits per row,
                                the prompt's pieces, and the greedy choices

K-quant and IQ4 weights (q2_K..q6_K, iq4_nl, iq4_xs) are decoded by tests/ref_quant.py's numpy
decoders (which match llama.cpp's values bit for bit) and used in float64.

Tolerance: max |C - numpy| <= 1e-4 * max |numpy logit| over all rows.
Prints ok/not ok lines and "# ..." lines with the measured ratio.
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_quant  # noqa: E402  (the K-quant decoders)

TOL = 1e-4

# type id -> (block size, bytes per block)
TYPES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
         8: (32, 34), 30: (1, 2), 10: (256, 84), 11: (256, 110), 12: (256, 144),
         13: (256, 176), 14: (256, 210), 20: (32, 18), 23: (256, 136)}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
          10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(path):
    b = open(path, "rb").read()
    o = [0]

    def un(fmt):
        v = struct.unpack_from(fmt, b, o[0])[0]
        o[0] += struct.calcsize(fmt)
        return v

    def s():
        n = un("<Q")
        v = b[o[0]:o[0] + n].decode("utf-8", "surrogateescape")
        o[0] += n
        return v

    def val(t):
        if t == 8:
            return s()
        if t == 9:
            at, n = un("<I"), un("<Q")
            return [val(at) for _ in range(n)]
        return un(SCALAR[t])

    assert b[:4] == b"GGUF", "not a GGUF file"
    o[0] = 4
    un("<I")
    nt, nkv = un("<q"), un("<q")
    meta = {}
    for _ in range(nkv):
        k = s()
        meta[k] = val(un("<I"))
    infos = []
    for _ in range(nt):
        name = s()
        nd = un("<I")
        ne = [un("<q") for _ in range(nd)]
        infos.append((name, ne, un("<I"), un("<Q")))
    align = meta.get("general.alignment", 32)
    base = (o[0] + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        blk, bs = TYPES[t]
        n = int(np.prod(ne))
        raw = np.frombuffer(b, np.uint8, n // blk * bs, base + off)
        x = dequant(raw, t, n)
        tensors[name] = x.reshape(list(reversed(ne)))  # numpy order: rows last dim = ne0
    return meta, tensors


KTYPES = {10: "q2_K", 11: "q3_K", 12: "q4_K", 13: "q5_K", 14: "q6_K", 20: "iq4_nl", 23: "iq4_xs"}


def dequant(raw, t, n):
    if t in KTYPES:
        return ref_quant.dequant_k(KTYPES[t], raw.tobytes()).astype(np.float64)
    if t == 0:
        return raw.view("<f4").astype(np.float64)
    if t == 1:
        return raw.view("<f2").astype(np.float64)
    if t == 30:
        return (raw.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
    if t == 8:
        blk = raw.view(np.dtype([("d", "<f2"), ("q", "i1", 32)]))
        return (blk["d"].astype(np.float64)[:, None] * blk["q"]).reshape(n)
    has_m = t in (3, 7)
    fields = [("d", "<f2")] + ([("m", "<f2")] if has_m else [])
    if t in (6, 7):
        fields.append(("qh", "<u4"))
    fields.append(("qs", "u1", 16))
    blk = raw.view(np.dtype(fields))
    qs = blk["qs"].astype(np.int64)
    q = np.concatenate([qs & 15, qs >> 4], axis=1)  # value j: low nibble of byte j, j+16: high
    if t in (6, 7):
        bits = (blk["qh"][:, None].astype(np.int64) >> np.arange(32)) & 1
        q = q | (bits << 4)
    if t == 2:
        q = q - 8
    elif t == 6:
        q = q - 16
    x = blk["d"].astype(np.float64)[:, None] * q
    if has_m:
        x = x + blk["m"].astype(np.float64)[:, None]
    return x.reshape(n)


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def forward(meta, T, tokens):
    arch = meta["general.architecture"]
    g = lambda k, d=None: meta.get(arch + "." + k, d)
    dim, nl = g("embedding_length"), g("block_count")
    nh = g("attention.head_count")
    nkv = g("attention.head_count_kv", nh)
    hd = g("attention.key_length", dim // nh)
    rd = g("rope.dimension_count", hd)
    base = g("rope.freq_base", 10000.0)
    eps = g("attention.layer_norm_rms_epsilon", 1e-5)
    # rope: theta_i = pos * base^(-2i/rd) / factor_i over pairs (2i, 2i+1)
    i = np.arange(rd // 2)
    freq = base ** (-2.0 * i / rd)
    if "rope_freqs.weight" in T:
        freq = freq / T["rope_freqs.weight"]
    elif g("rope.scaling.type") == "llama3":
        f, lo, hi = g("rope.scaling.factor", 8.0), g("rope.scaling.low_freq_factor", 1.0), g("rope.scaling.high_freq_factor", 4.0)
        old = g("rope.scaling.original_context_length", 8192)
        wl = 2 * np.pi / freq
        sm = (old / wl - lo) / (hi - lo)
        fac = np.where(wl < old / hi, 1.0, np.where(wl > old / lo, f, 1.0 / ((1 - sm) / f + sm)))
        freq = freq / fac
    n = len(tokens)
    pos = np.arange(n)[:, None]
    th = pos * freq[None, :]
    cos, sin = np.cos(th), np.sin(th)

    def rope(x):  # x [n, heads, hd]
        x = x.copy()
        a, b = x[:, :, 0:rd:2].copy(), x[:, :, 1:rd:2].copy()
        c, s = cos[:, None, :], sin[:, None, :]
        x[:, :, 0:rd:2] = a * c - b * s
        x[:, :, 1:rd:2] = a * s + b * c
        return x

    x = T["token_embd.weight"][tokens]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for l in range(nl):
        W = lambda s: T["blk.%d.%s.weight" % (l, s)]
        h = rmsnorm(x, W("attn_norm"), eps)
        q = rope((h @ W("attn_q").T).reshape(n, nh, hd))
        k = rope((h @ W("attn_k").T).reshape(n, nkv, hd))
        v = (h @ W("attn_v").T).reshape(n, nkv, hd)
        out = np.zeros((n, nh, hd))
        for hh in range(nh):
            kv = hh // (nh // nkv)
            sc = q[:, hh] @ k[:, kv].T / np.sqrt(hd) + mask
            sc = np.exp(sc - sc.max(axis=1, keepdims=True))
            sc /= sc.sum(axis=1, keepdims=True)
            out[:, hh] = sc @ v[:, kv]
        x = x + out.reshape(n, nh * hd) @ W("attn_output").T
        h = rmsnorm(x, W("ffn_norm"), eps)
        a, b = h @ W("ffn_gate").T, h @ W("ffn_up").T
        x = x + (a / (1 + np.exp(-a)) * b) @ W("ffn_down").T
    x = rmsnorm(x, T["output_norm.weight"], eps)
    return x @ T.get("output.weight", T["token_embd.weight"]).T


def compare(name, got, ref):
    r = np.abs(got - ref).max() / np.abs(ref).max()
    print("# %s: max|diff|/max|logit| = %.3g" % (name, r))
    print(("ok %s" if r <= TOL else "not ok %s: %.3g > %g") % ((name,) if r <= TOL else (name, r, TOL)))
    return r <= TOL


def main():
    ok = True
    if sys.argv[1] == "gen":
        d = sys.argv[2]
        for line in open(d + "/list"):
            f = line.split()
            name, toks = f[0], [int(t) for t in f[1:]]
            meta, T = read_gguf("%s/%s.gguf" % (d, name))
            ref = forward(meta, T, toks)
            got = np.fromfile("%s/%s.logits" % (d, name), "<f4").reshape(ref.shape)
            ok &= compare("forward_" + name, got, ref)
    else:
        path, out = sys.argv[2], sys.argv[3]
        f = [int(t) for t in open(out).read().split()]
        npr, toks = f[0], f[1:]
        meta, T = read_gguf(path)
        vocab = meta["tokenizer.ggml.tokens"]
        want = ["\u2581Once", "\u2581upon", "\u2581a", "\u2581time"]
        pieces = [vocab[t] for t in toks[1:npr]]
        good = toks[0] == meta.get("tokenizer.ggml.bos_token_id") and pieces == want
        print(("ok %s" if good else "not ok %s: " + repr(pieces)) % "real_prompt_tokens")
        ref = forward(meta, T, toks)
        got = np.fromfile(out + ".logits", "<f4").reshape(ref.shape)
        ok &= compare("real_logits_stories260K", got, ref)
        # greedy: numpy's argmax after each prefix equals the token C chose
        mine = [int(np.argmax(ref[npr - 1 + j])) for j in range(len(toks) - npr)]
        same = mine == toks[npr:]
        print(("ok %s" if same else "not ok %s: numpy %r vs llm %r") %
              (("real_greedy_20",) if same else ("real_greedy_20", mine, toks[npr:])))
        print("# greedy text: " + "".join(vocab[t] for t in toks).replace("\u2581", " "))
        ok &= same and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
