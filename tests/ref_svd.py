"""numpy reference for llm-svd-delta.

usage: ref_svd.py BASE.gguf TUNED.gguf ADAPTER.gguf REPORT.tsv (--rank R | --energy F) [--exact]

For every weight in the report: dW = tuned - base in float64, numpy's SVD.
Checks: the adapter is a llama.cpp LoRA (general.type adapter, alpha 0,
architecture of the base); its rank per tensor equals the report's; B A
from the file reproduces the report's rel_fro_error (1e-4 relative);
the error is the optimum of that rank (sqrt of the tail energy) within
1e-4 relative (--exact) or 1 % (randomized); energy_kept equals numpy's
within 1e-5; with --energy the rank is numpy's smallest rank keeping F
(--exact) or within one of it (randomized); zero deltas have rank 0 and
no tensors.  Prints "max_err_ratio X"; exit 1 on a failure.
"""
import sys
import os

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_ref  # noqa: E402


def mat(t):
    return np.frombuffer(t["data"], "<f4").reshape(list(reversed(t["shape"]))).astype(np.float64)


args = sys.argv[1:]
exact = "--exact" in args
rank = energy = None
if "--rank" in args:
    rank = int(args[args.index("--rank") + 1])
if "--energy" in args:
    energy = float(args[args.index("--energy") + 1])
base, tuned, adapter = (gguf_ref.read(p) for p in args[:3])
bt = {t["name"]: t for t in base["tensors"]}
tt = {t["name"]: t for t in tuned["tensors"]}
at = {t["name"]: t for t in adapter["tensors"]}
meta = adapter["metadata"]
bad = 0


def fail(msg):
    global bad
    print(msg)
    bad += 1


if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
    fail("not a LoRA adapter")
if meta.get("adapter.lora.alpha") != 0.0:
    fail(f"alpha {meta.get('adapter.lora.alpha')} != 0")
if meta.get("general.architecture") != base["metadata"].get("general.architecture"):
    fail("architecture differs from the base's")
rows = [l.rstrip("\n").split("\t") for l in open(args[3])][1:]
worst = 0.0
for name, shape, r, kept, err, _sec in rows:
    r, kept, err = int(r), float(kept), float(err)
    dw = mat(tt[name]) - mat(bt[name])
    tot = float((dw * dw).sum())
    if tot == 0:
        if r != 0 or name + ".lora_a" in at:
            fail(f"{name}: zero delta but rank {r}")
        continue
    s = np.linalg.svd(dw, compute_uv=False)
    cum = np.cumsum(s * s) / tot
    a, b = mat(at[name + ".lora_a"]), mat(at[name + ".lora_b"])
    if name == "token_embd.weight":
        B, A = a, b.T
    else:
        A, B = a, b
    if A.shape[0] != r or B.shape[1] != r:
        fail(f"{name}: file rank {A.shape[0]} / {B.shape[1]}, report {r}")
        continue
    ferr = np.linalg.norm(dw - B @ A) / np.sqrt(tot)
    opt = np.sqrt(max(0.0, 1 - cum[r - 1]))
    if abs(ferr - err) > 1e-4 * max(err, 1e-3):
        fail(f"{name}: file gives error {ferr:.6g}, report says {err:.6g}")
    lim = 1e-4 if exact else 1e-2
    if ferr > opt * (1 + lim) + 1e-6:
        fail(f"{name}: error {ferr:.6g} above the optimum {opt:.6g} at rank {r}")
    worst = max(worst, (ferr + 1e-12) / (opt + 1e-12))
    if abs(kept - cum[r - 1]) > 1e-5 * (1 if exact else 100):
        fail(f"{name}: energy_kept {kept} but numpy says {cum[r - 1]}")
    if rank is not None and r != min(rank, *dw.shape):
        fail(f"{name}: rank {r}, asked {rank}")
    if energy is not None:
        want = int(np.searchsorted(cum, energy * (1 - 1e-12)) + 1)
        if (exact and r != want) or abs(r - want) > 1:
            fail(f"{name}: rank {r} for energy {energy}, numpy says {want}")
print(f"max_err_ratio {worst:.6f} over {len(rows)} tensors")
sys.exit(1 if bad else 0)
