"""Independent numpy reference for llm-run's numbers (float64 throughout).

A llama forward pass written from the model description (lib/model.h) over
an F32 GGUF read by tests/gguf_ref.py, not from the C code:

  ref_perplexity.py ppl MODEL N BOS < IDS
      IDS: one line of token ids (llm-run --tokenize); llama-perplexity's
      rule: chunks of N, first token replaced by BOS (BOS < 0: kept), score
      chunk positions N/2+1 .. N-1; prints "PPL U".
  ref_perplexity.py logprobs MODEL TSV < IDS
      IDS: the prompt's ids; TSV: llm-run --logprobs output (header row,
      then pos id token logprob top); recomputes every row's logprob and
      its top alternatives; prints the largest absolute difference.
  ref_perplexity.py kv MODEL DUMP
      DUMP: llm-run --kv-out output; recomputes K (after RoPE) and V of
      every layer for the dump's kv.tokens; prints the largest absolute
      difference relative to the largest |value|, and checks the metadata.
"""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gguf_ref  # noqa: E402


class Model:
    def __init__(self, path):
        g = gguf_ref.read(path)
        md = g["metadata"]
        arch = md["general.architecture"]
        self.meta = md
        self.E = md[arch + ".embedding_length"]
        self.L = md[arch + ".block_count"]
        self.H = md[arch + ".attention.head_count"]
        self.Hkv = md.get(arch + ".attention.head_count_kv", self.H)
        self.hd = self.E // self.H
        self.rd = md.get(arch + ".rope.dimension_count", self.hd)
        self.base = md.get(arch + ".rope.freq_base", 10000.0)
        self.eps = md.get(arch + ".attention.layer_norm_rms_epsilon", 1e-5)
        self.w = {}
        for t in g["tensors"]:
            assert t["type"] == 0, "the reference reads F32 models only"
            a = np.frombuffer(t["data"], dtype="<f4").astype(np.float64)
            self.w[t["name"]] = a.reshape(list(reversed(t["shape"])))
        if "output.weight" not in self.w:
            self.w["output.weight"] = self.w["token_embd.weight"]

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, n_heads):
        # x: (T, n_heads * hd); GGUF layout: adjacent pairs (2i, 2i+1)
        T = x.shape[0]
        x = x.reshape(T, n_heads, self.hd).copy()
        i = np.arange(self.rd // 2)
        theta = np.arange(T)[:, None] * self.base ** (-2.0 * i / self.rd)[None, :]
        c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        a, b = x[:, :, 0:self.rd:2].copy(), x[:, :, 1:self.rd:2].copy()
        x[:, :, 0:self.rd:2] = a * c - b * s
        x[:, :, 1:self.rd:2] = a * s + b * c
        return x.reshape(T, n_heads * self.hd)

    def forward(self, toks):
        """Logits (T, V) of every position, and the per-layer K, V caches."""
        W = self.w
        T = len(toks)
        x = W["token_embd.weight"][np.array(toks)]
        ks, vs = [], []
        mask = np.triu(np.full((T, T), -np.inf), 1)
        g = self.H // self.Hkv
        for l in range(self.L):
            p = "blk.%d." % l
            h = self.rms(x, W[p + "attn_norm.weight"])
            q = self.rope(h @ W[p + "attn_q.weight"].T, self.H)
            k = self.rope(h @ W[p + "attn_k.weight"].T, self.Hkv)
            v = h @ W[p + "attn_v.weight"].T
            ks.append(k)
            vs.append(v)
            out = np.zeros((T, self.H * self.hd))
            for hh in range(self.H):
                kh = hh // g
                qh = q[:, hh * self.hd:(hh + 1) * self.hd]
                kk = k[:, kh * self.hd:(kh + 1) * self.hd]
                vv = v[:, kh * self.hd:(kh + 1) * self.hd]
                s = qh @ kk.T / np.sqrt(self.hd) + mask
                s = np.exp(s - s.max(axis=1, keepdims=True))
                s /= s.sum(axis=1, keepdims=True)
                out[:, hh * self.hd:(hh + 1) * self.hd] = s @ vv
            x = x + out @ W[p + "attn_output.weight"].T
            h = self.rms(x, W[p + "ffn_norm.weight"])
            a = h @ W[p + "ffn_gate.weight"].T
            b = h @ W[p + "ffn_up.weight"].T
            x = x + (a / (1 + np.exp(-a)) * b) @ W[p + "ffn_down.weight"].T
        x = self.rms(x, W["output_norm.weight"])
        return x @ W["output.weight"].T, ks, vs


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def read_ids():
    return [int(t) for t in sys.stdin.read().split()]


def ppl(model, N, bos):
    m, toks = Model(model), read_ids()
    first, nll, nll2, count = N // 2, 0.0, 0.0, 0
    for c in range(len(toks) // N):
        chunk = toks[c * N:(c + 1) * N]
        if bos >= 0:
            chunk[0] = bos
        lp = log_softmax(m.forward(chunk[:-1])[0])
        for i in range(first, N - 1):
            v = lp[i, chunk[i + 1]]
            nll -= v
            nll2 += v * v
            count += 1
    nll /= count
    nll2 /= count
    p = np.exp(nll)
    print("%.6f %.6f" % (p, p * np.sqrt((nll2 - nll * nll) / (count - 1))))


def logprobs(model, tsv):
    m, toks = Model(model), read_ids()
    rows = [ln.rstrip("\n").split("\t") for ln in open(tsv, encoding="utf-8")][1:]
    for r in rows:
        assert int(r[0]) == len(toks), "row position %s, expected %d" % (r[0], len(toks))
        toks.append(int(r[1]))
    lp = log_softmax(m.forward(toks[:-1])[0])
    worst = 0.0
    for r in rows:
        pos, tid = int(r[0]), int(r[1])
        worst = max(worst, abs(float(r[3]) - lp[pos - 1, tid]))
        for pair in filter(None, r[4].split(",")):
            i, v = pair.split(":")
            worst = max(worst, abs(float(v) - lp[pos - 1, int(i)]))
        # the alternatives are the most likely tokens, best first
        ids = [int(p.split(":")[0]) for p in filter(None, r[4].split(","))]
        best = np.argsort(-lp[pos - 1], kind="stable")[:len(ids)]
        if ids and not np.allclose(lp[pos - 1, ids], lp[pos - 1, best], atol=1e-5):
            print("row %d: alternatives %s are not the top %d" % (pos, ids, len(ids)))
            sys.exit(1)
    print("%.3g" % worst)


def kv(model, dump):
    m, d = Model(model), gguf_ref.read(dump)
    md = d["metadata"]
    assert md["general.type"] == "kv-dump"
    n = md["kv.n_pos"]
    assert (md["kv.n_layer"], md["kv.n_head"], md["kv.n_head_kv"], md["kv.head_dim"],
            md["kv.rope.dimension_count"]) == (m.L, m.H, m.Hkv, m.hd, m.rd)
    toks = md["kv.tokens"]
    assert len(toks) == n
    _, ks, vs = m.forward(toks)
    t = {x["name"]: x for x in d["tensors"]}
    worst, scale = 0.0, 0.0
    for l in range(m.L):
        for kind, ref in (("k", ks[l]), ("v", vs[l])):
            x = t["kv.%d.%s" % (l, kind)]
            assert x["shape"] == [m.hd, m.Hkv, n] and x["type"] == 0
            a = np.frombuffer(x["data"], dtype="<f4").reshape(n, m.Hkv * m.hd)
            worst = max(worst, np.abs(a - ref).max())
            scale = max(scale, np.abs(ref).max())
    print("%.3g" % (worst / scale))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "ppl":
        ppl(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "logprobs":
        logprobs(sys.argv[2], sys.argv[3])
    elif cmd == "kv":
        kv(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown mode " + cmd)
