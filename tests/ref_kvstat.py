"""Independent numpy reproduction of llm-kvstat's KV-dump statistics.

usage: ref_kvstat.py DUMP.gguf KVSTAT.json

Reads the dump with tests/gguf_ref.py (its own GGUF reader), recomputes
every statistic from the definitions in man/llm-kvstat.1 with its own
q8_0 / q4_0 / KIVI quantizers, and compares with llm-kvstat --json
(with or without --per-head).  Prints "ok NAME" / "not ok NAME: why".

Tolerances (relative, with a small absolute floor):
  rms, norm_mean, norm_max                  1e-5  (float32 input, double sums)
  outlier_frac                              exact count
  rank90, rank99                            exact, unless the energy sum sits
                                            within 1e-9 of the threshold (then +-1)
  rmse_q8_0, rmse_q4_0                      1e-4  (same ggml rules; only the
                                            order of the double sums differs)
  rmse_kivi4, rmse_kivi2                    1e-3
  zstd_raw, zstd_grouped (zstd CLI, -3)     5e-2  (frame headers may differ)
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_ref  # noqa: E402

F32 = np.float32


def fp16(x):
    return np.asarray(x, dtype=F32).astype(np.float16).astype(F32)


def q8_0(x):
    """ggml quantize_row_q8_0_ref + dequantize, rows of 32 values."""
    b = x.reshape(-1, 32).astype(F32)
    amax = np.abs(b).max(axis=1)
    d = (amax / F32(127)).astype(F32)
    idd = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)
    v = (b * idd[:, None]).astype(F32)
    q = np.sign(v) * np.floor(np.abs(v).astype(np.float64) + 0.5)  # roundf
    return (q.astype(F32) * fp16(d)[:, None]).astype(F32).reshape(x.shape)


def q4_0(x):
    """ggml quantize_row_q4_0_ref + dequantize: d = signed max / -8."""
    b = x.reshape(-1, 32).astype(F32)
    i = np.argmax(np.abs(b), axis=1)  # first of the largest magnitudes
    mx = b[np.arange(len(b)), i]
    d = (mx / F32(-8)).astype(F32)
    idd = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)
    v = ((b * idd[:, None]).astype(F32) + F32(8.5)).astype(F32)
    q = np.minimum(np.trunc(v), 15)
    return ((q - 8).astype(F32) * fp16(d)[:, None]).astype(F32).reshape(x.shape)


def rowquant(x, f):
    """Each token row padded with zeros to a multiple of 32, then f."""
    n, w = x.shape
    wp = (w + 31) // 32 * 32
    p = np.zeros((n, wp), dtype=F32)
    p[:, :w] = x
    return f(p)[:, :w]


def kivi_group(g, bits):
    mn, mx = g.min(), g.max()
    scale = F32((mx - mn) / F32(2 ** bits - 1))
    if scale == 0:
        return np.full_like(g, mn)
    q = np.floor(((g - mn) / scale).astype(F32) + F32(0.5))
    q = np.clip(q, 0, 2 ** bits - 1).astype(F32)
    return (mn + q * scale).astype(F32)


def kivi(x, bits, per_channel, group=32):
    y = np.empty_like(x)
    n, w = x.shape
    if per_channel:
        for j in range(w):
            for i in range(0, n, group):
                y[i:i + group, j] = kivi_group(x[i:i + group, j], bits)
    else:
        for i in range(n):
            for j in range(0, w, group):
                y[i, j:j + group] = kivi_group(x[i, j:j + group], bits)
    return y


def energy_rank(s2, frac):
    tot = s2.sum()
    if tot <= 0:
        return 0, False
    c = np.cumsum(s2)
    r = int(np.searchsorted(c, frac * tot * (1 - 1e-15))) + 1
    r = min(r, len(s2))
    # ambiguous when some partial sum is within 1e-9 of the threshold
    amb = bool(np.any(np.abs(c - frac * tot) <= 1e-9 * tot))
    return r, amb


ZSTD = shutil.which("zstd")


def zstd_ratio(x, grouped):
    h = np.ascontiguousarray(x, dtype=F32).astype(np.float16).reshape(-1).view(np.uint8)
    if grouped:
        h = np.concatenate([h[0::2], h[1::2]])
    with tempfile.NamedTemporaryFile() as f:
        f.write(h.tobytes())
        f.flush()
        out = subprocess.run([ZSTD, "-3", "-q", "-c", "--no-check", f.name],
                             stdout=subprocess.PIPE, check=True).stdout
    return len(h) / len(out)


def stats(x, layer_sigma, kind, c0, c1, quant):
    """Statistics of columns c0:c1 of x (n_pos x w); quant: full-matrix round trips."""
    sub = x[:, c0:c1].astype(np.float64)
    n = sub.size
    norms = np.sqrt((sub ** 2).sum(axis=1))
    out = {
        "rms": math.sqrt((sub ** 2).sum() / n),
        "norm_mean": norms.mean(),
        "norm_max": norms.max(),
        "outlier_count": int((np.abs(sub) > 6 * layer_sigma).sum()) if layer_sigma > 0 else 0,
        "n": n,
    }
    s = np.linalg.svd(sub, compute_uv=False)
    out["rank90"] = energy_rank(s ** 2, 0.90)
    out["rank99"] = energy_rank(s ** 2, 0.99)
    for k, y in quant.items():
        out[k] = math.sqrt(((sub - y[:, c0:c1].astype(np.float64)) ** 2).sum() / n)
    if ZSTD:
        out["zstd_raw"] = zstd_ratio(x[:, c0:c1], False)
        out["zstd_grouped"] = zstd_ratio(x[:, c0:c1], True)
    return out


def close(a, b, rel, ab=1e-9):
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), ab)


def main():
    dump, got = gguf_ref.read(sys.argv[1]), json.load(open(sys.argv[2]))
    m = dump["metadata"]
    nl, nkv, hd, npos = m["kv.n_layer"], m["kv.n_head_kv"], m["kv.head_dim"], m["kv.n_pos"]
    tens = {t["name"]: t for t in dump["tensors"]}
    rows = {(r["layer"], r["kv"], r["head"]): r for r in got["rows"]}
    fails = {}
    counts = {}

    def check(name, cond, why):
        counts[name] = counts.get(name, 0) + 1
        if not cond and name not in fails:
            fails[name] = why

    check("shape", (got["n_layer"], got["n_head_kv"], got["head_dim"], got["n_pos"]) == (nl, nkv, hd, npos),
          "header %r" % ((got["n_layer"], got["n_head_kv"], got["head_dim"], got["n_pos"]),))
    for l in range(nl):
        for kind in "kv":
            t = tens["kv.%d.%s" % (l, kind)]
            assert t["type_name"] == "f32", "reference handles F32 dumps"
            x = np.frombuffer(t["data"], dtype="<f4").reshape(npos, nkv * hd).astype(F32)
            x64 = x.astype(np.float64)
            sigma = float(x64.std())  # two passes, as numpy does
            quant = {"rmse_q8_0": rowquant(x, q8_0), "rmse_q4_0": rowquant(x, q4_0),
                     "rmse_kivi4": kivi(x, 4, kind == "k"), "rmse_kivi2": kivi(x, 2, kind == "k")}
            heads = [None] + [h for h in range(nkv) if (l, kind, h) in rows]
            for h in heads:
                c0, c1 = (0, nkv * hd) if h is None else (h * hd, (h + 1) * hd)
                g = rows.get((l, kind, h))
                where = "layer %d %s head %s" % (l, kind, "all" if h is None else h)
                check("row_present", g is not None, where)
                if g is None:
                    continue
                r = stats(x, sigma, kind, c0, c1, quant)
                check("width", g["width"] == c1 - c0 and g["n_pos"] == npos, where)
                for k in ("rms", "norm_mean", "norm_max"):
                    check(k, close(g[k], r[k], 1e-5), "%s: %s %r vs numpy %r" % (where, k, g[k], r[k]))
                check("outlier_frac", abs(g["outlier_frac"] * r["n"] - r["outlier_count"]) < 0.5,
                      "%s: %r vs numpy %d/%d" % (where, g["outlier_frac"], r["outlier_count"], r["n"]))
                for k in ("rank90", "rank99"):
                    want, amb = r[k]
                    check(k, g[k] == want or (amb and abs(g[k] - want) == 1),
                          "%s: %s %r vs numpy %r" % (where, k, g[k], want))
                    check("rank_bound", g[k] <= min(npos, c1 - c0), "%s: %s %r" % (where, k, g[k]))
                for k, tol in (("rmse_q8_0", 1e-4), ("rmse_q4_0", 1e-4), ("rmse_kivi4", 1e-3), ("rmse_kivi2", 1e-3)):
                    check(k, close(g[k], r[k], tol, 1e-7), "%s: %s %r vs numpy %r" % (where, k, g[k], r[k]))
                if ZSTD:
                    for k in ("zstd_raw", "zstd_grouped"):
                        check(k, close(g[k], r[k], 5e-2), "%s: %s %r vs zstd CLI %r" % (where, k, g[k], r[k]))
    tag = os.environ.get("REF_TAG", "")
    for name in counts:
        if name in fails:
            print("not ok ref_%s%s: %s" % (tag, name, fails[name]))
        else:
            print("ok ref_%s%s (%d values)" % (tag, name, counts[name]))
    if not ZSTD:
        print("skip ref_%szstd: no zstd command to compare the compression ratios with" % tag)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
