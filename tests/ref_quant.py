#!/usr/bin/env python3
"""ref_quant.py - independent numpy implementation of ggml's reference
quantizers (quantize_row_{q8_0,q4_0,q4_1,q5_0,q5_1}_ref), of ggml's fp16 and
bf16 conversions and of the matching dequantizers, compared with the C
library through build/tests/test_types' helper modes.

Usage: ref_quant.py TEST_TYPES_BINARY TMPDIR

Tolerance: none.  Every quantized byte and every dequantized float bit must be
equal (byte-exact, as llama-quantize's output is).  Prints "ok NAME" /
"not ok NAME: why" lines; exits 1 on any failure.

The rules reproduced here, all in float32 arithmetic:
  q8_0  amax = running MAX(amax, |x|) (a NaN resets it, as the C macro does);
        d = amax/127; id = d ? 1/d : 0; q = (int8)roundf(x*id)
  q4_0  max = first value of largest magnitude; d = max/-8; id = d ? 1/d : 0;
        q = MIN(15, (int8)(x*id + 8.5)); byte j = q[j] | q[j+16] << 4
  q4_1  min, max; d = (max-min)/15; id; q = MIN(15, (int8)((x-min)*id + 0.5))
  q5_0  as q4_0 with /-16, +16.5, MIN(31, .); bit 4 of q[j] in bit j of qh
  q5_1  as q4_1 with /31, q = (uint8)((x-min)*id + 0.5), no MIN
  The float -> int8/uint8 casts are x86-64's: truncate to int32 (cvttss2si,
  NaN and out-of-range give 0x80000000) and keep the low byte.
  fp16: IEEE round to nearest even (numpy's astype(float16)); NaN becomes
  sign | 0x7e00 as ggml_compute_fp32_to_fp16 does.
  bf16: (u + 0x7fff + ((u >> 16) & 1)) >> 16; NaN -> (u >> 16) | 64.

K-quants (q2_K..q6_K) are decoded only: random super-blocks (random bytes,
finite fp16 scales) through dequantize_row_*_K's float operations, in the
same order: (d * sc) * q - dmin * m, each step rounded to float32.
"""
import os
import subprocess
import sys

import numpy as np

F32 = np.float32
failures = 0


def report(ok, name, why=""):
    global failures
    if ok:
        print("ok " + name)
    else:
        failures += 1
        print("not ok %s: %s" % (name, why))


# ------------------------------------------------------------ conversions

def fp16_bits(x):
    """float32 array -> uint16 fp16 bits, ggml's rule for NaN."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(all="ignore"):
        h = x.astype(np.float16).view(np.uint16)
    sign = (x.view(np.uint32) >> 16).astype(np.uint16) & np.uint16(0x8000)
    return np.where(np.isnan(x), sign | np.uint16(0x7E00), h).astype(np.uint16)


def fp16_to_f32(h):
    return np.asarray(h, dtype=np.uint16).view(np.float16).astype(F32)


def bf16_bits(x):
    u = np.asarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    rne = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, ((u >> 16) | 64) & 0xFFFF, rne).astype(np.uint16)


def cvtt_low_byte(v):
    """x86-64 float -> int8/uint8 cast: int32 truncation, low byte (0..255)."""
    v = np.asarray(v, dtype=F32).astype(np.float64)
    with np.errstate(all="ignore"):
        inr = (v > -2147483904.0) & (v < 2147483648.0)
        t = np.where(inr, np.trunc(np.where(inr, v, 0.0)), -2147483648.0).astype(np.int64)
    return t & 0xFF


def as_int8(b):
    return np.where(b >= 128, b - 256, b)


def roundf(v):
    """C roundf: half away from zero, exact for every float32."""
    v = np.asarray(v, dtype=F32)
    with np.errstate(all="ignore"):
        t = np.trunc(v)
        f = v - t
        step = np.where(np.abs(f) >= F32(0.5), np.copysign(F32(1), v), F32(0)).astype(F32)
        return (t + step).astype(F32)


def inv(d):
    with np.errstate(all="ignore"):
        return np.where(d != 0, F32(1) / d, F32(0)).astype(F32)


def first_absmax(x):
    """ggml's loop: if (amax < |v|) { amax = |v|; max = v; }, per block."""
    nb = x.shape[0]
    amax = np.zeros(nb, F32)
    mx = np.zeros(nb, F32)
    with np.errstate(all="ignore"):
        for j in range(32):
            a = np.abs(x[:, j])
            take = amax < a
            amax = np.where(take, a, amax)
            mx = np.where(take, x[:, j], mx)
    return mx


def min_max(x):
    nb = x.shape[0]
    lo = np.full(nb, np.finfo(F32).max, F32)
    hi = np.full(nb, -np.finfo(F32).max, F32)
    with np.errstate(all="ignore"):
        for j in range(32):
            v = x[:, j]
            lo = np.where(v < lo, v, lo)
            hi = np.where(v > hi, v, hi)
    return lo, hi


def le16(h):
    return np.asarray(h, np.uint16).astype("<u2").view(np.uint8).reshape(-1, 2)


# ------------------------------------------------------------- quantizers

def q8_0(x):
    x = x.reshape(-1, 32)
    amax = np.zeros(x.shape[0], F32)
    with np.errstate(all="ignore"):
        for j in range(32):  # MAX(amax, |v|) = amax > |v| ? amax : |v|
            a = np.abs(x[:, j])
            amax = np.where(amax > a, amax, a)
        d = (amax / F32(127)).astype(F32)
        idv = inv(d)
        q = cvtt_low_byte(roundf(x * idv[:, None]))
    return np.concatenate([le16(fp16_bits(d)), q.astype(np.uint8)], axis=1).tobytes()


def q4_0(x):
    x = x.reshape(-1, 32)
    with np.errstate(all="ignore"):
        d = (first_absmax(x) / F32(-8)).astype(F32)
        idv = inv(d)
        t = as_int8(cvtt_low_byte((x * idv[:, None]).astype(F32) + F32(8.5)))
    xi = np.minimum(15, t) & 0xFF  # MIN(15, int8) stored in a uint8
    qs = (xi[:, :16] | (xi[:, 16:] << 4)) & 0xFF
    return np.concatenate([le16(fp16_bits(d)), qs.astype(np.uint8)], axis=1).tobytes()


def q4_1(x):
    x = x.reshape(-1, 32)
    lo, hi = min_max(x)
    with np.errstate(all="ignore"):
        d = ((hi - lo) / F32(15)).astype(F32)
        idv = inv(d)
        t = as_int8(cvtt_low_byte(((x - lo[:, None]) * idv[:, None]).astype(F32) + F32(0.5)))
    xi = np.minimum(15, t) & 0xFF
    qs = (xi[:, :16] | (xi[:, 16:] << 4)) & 0xFF
    return np.concatenate([le16(fp16_bits(d)), le16(fp16_bits(lo)), qs.astype(np.uint8)], axis=1).tobytes()


def pack5(xi):
    qs = ((xi[:, :16] & 0x0F) | ((xi[:, 16:] & 0x0F) << 4)).astype(np.uint8)
    bits = ((xi & 0x10) >> 4).astype(np.uint64)
    qh = (bits << np.arange(32, dtype=np.uint64)).sum(axis=1).astype("<u4")
    return qh.view(np.uint8).reshape(-1, 4), qs


def q5_0(x):
    x = x.reshape(-1, 32)
    with np.errstate(all="ignore"):
        d = (first_absmax(x) / F32(-16)).astype(F32)
        idv = inv(d)
        t = as_int8(cvtt_low_byte((x * idv[:, None]).astype(F32) + F32(16.5)))
    xi = np.minimum(31, t) & 0xFF
    qh, qs = pack5(xi)
    return np.concatenate([le16(fp16_bits(d)), qh, qs], axis=1).tobytes()


def q5_1(x):
    x = x.reshape(-1, 32)
    lo, hi = min_max(x)
    with np.errstate(all="ignore"):
        d = ((hi - lo) / F32(31)).astype(F32)
        idv = inv(d)
        xi = cvtt_low_byte(((x - lo[:, None]) * idv[:, None]).astype(F32) + F32(0.5))
    qh, qs = pack5(xi)
    return np.concatenate([le16(fp16_bits(d)), le16(fp16_bits(lo)), qh, qs], axis=1).tobytes()


def f16(x):
    return fp16_bits(x).astype("<u2").tobytes()


def bf16(x):
    return bf16_bits(x).astype("<u2").tobytes()


QUANT = {"q8_0": q8_0, "q4_0": q4_0, "q4_1": q4_1, "q5_0": q5_0, "q5_1": q5_1, "f16": f16, "bf16": bf16}
BLOCK_BYTES = {"q8_0": 34, "q4_0": 18, "q4_1": 20, "q5_0": 22, "q5_1": 24}

# ----------------------------------------------------------- dequantizers


def dequant(t, b):
    b = np.frombuffer(b, np.uint8)
    if t == "f16":
        return b.view("<u2").view(np.float16).astype(F32)
    if t == "bf16":
        return (b.view("<u2").astype(np.uint32) << 16).view(F32)
    blk = b.reshape(-1, BLOCK_BYTES[t])
    d = fp16_to_f32(blk[:, 0:2].copy().view("<u2")[:, 0])[:, None]
    with np.errstate(all="ignore"):
        if t == "q8_0":
            q = blk[:, 2:].view(np.int8).astype(F32)
            return (q * d).astype(F32).ravel()
        off = 4 if t in ("q4_1", "q5_1") else 2
        m = fp16_to_f32(blk[:, 2:4].copy().view("<u2")[:, 0])[:, None] if off == 4 else None
        if t.startswith("q5"):
            qh = blk[:, off:off + 4].copy().view("<u4")[:, 0].astype(np.uint64)
            hb = ((qh[:, None] >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int64) << 4
            off += 4
        else:
            hb = 0
        qs = blk[:, off:off + 16].astype(np.int64)
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1) | hb
        if t == "q4_0":
            q = q - 8
        elif t == "q5_0":
            q = q - 16
        y = (q.astype(F32) * d).astype(F32)  # d*q in float, then + m: two roundings
        if m is not None:
            y = (y + m).astype(F32)
        return y.ravel()


# ----------------------------------------------------- K-quant decoders
# Written from ggml-common.h's block layouts: 256 values per super-block.

KBYTES = {"q2_K": 84, "q3_K": 110, "q4_K": 144, "q5_K": 176, "q6_K": 210, "iq4_nl": 18, "iq4_xs": 136}
# IQ4_NL / IQ4_XS: the levels a nibble indexes
IQ4_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=F32)


def iq4_values(qs):
    """[nb, 16k] bytes of nibbles -> [nb, 32k] levels: per 16 bytes, the low
    nibbles (values 0-15) then the high (16-31)"""
    q = qs.astype(np.int64).reshape(len(qs), -1, 16)
    return IQ4_LEVELS[np.concatenate([q & 0xF, q >> 4], axis=2)].reshape(len(qs), -1)


def half(blk, o):
    return fp16_to_f32(blk[:, o:o + 2].copy().view("<u2")[:, 0])[:, None]


def sub_expand(v, n):
    """per-sub-block values [nb, k] -> per-value [nb, k * n]"""
    return np.repeat(v, n, axis=1)


def scale_min_k4(sc):
    """12 bytes -> 8 six-bit scales and mins (get_scale_min_k4)"""
    sc = sc.astype(np.int64)
    s = np.empty((len(sc), 8), np.int64)
    m = np.empty((len(sc), 8), np.int64)
    s[:, :4] = sc[:, 0:4] & 63
    m[:, :4] = sc[:, 4:8] & 63
    s[:, 4:] = (sc[:, 8:12] & 0xF) | ((sc[:, 0:4] >> 6) << 4)
    m[:, 4:] = (sc[:, 8:12] >> 4) | ((sc[:, 4:8] >> 6) << 4)
    return s, m


def crumbs(qs):
    """[nb, 64] bytes of 2-bit codes -> [nb, 256]: per 128 values, 32 bytes
    read 4 times at shifts 0, 2, 4, 6"""
    out = []
    for h in range(2):
        q = qs[:, 32 * h:32 * h + 32].astype(np.int64)
        for sh in range(4):
            out.append((q >> (2 * sh)) & 3)
    return np.concatenate(out, axis=1)


def dequant_k(t, b):
    blk = np.frombuffer(b, np.uint8).reshape(-1, KBYTES[t])
    with np.errstate(all="ignore"):
        if t == "q2_K":
            d, dmin = half(blk, 80), half(blk, 82)
            sc = blk[:, 0:16].astype(np.int64)
            dl = sub_expand((d * (sc & 0xF).astype(F32)).astype(F32), 16)
            ml = sub_expand((dmin * (sc >> 4).astype(F32)).astype(F32), 16)
            q = crumbs(blk[:, 16:80]).astype(F32)
            return ((dl * q).astype(F32) - ml).astype(F32).ravel()
        if t == "q3_K":
            d = half(blk, 108)
            s = blk[:, 96:108].astype(np.int64)
            lo = np.concatenate([s[:, 0:8] & 0xF, s[:, 0:8] >> 4], axis=1)
            hi = np.concatenate([(s[:, 8:12] >> (2 * k)) & 3 for k in range(4)], axis=1)
            sc = (lo | hi << 4) - 32
            dl = sub_expand((d * sc.astype(F32)).astype(F32), 16)
            hm = blk[:, 0:32].astype(np.int64)
            hbit = np.concatenate([(hm >> k) & 1 for k in range(8)], axis=1)
            q = crumbs(blk[:, 32:96]) - np.where(hbit == 1, 0, 4)
            return (dl * q.astype(F32)).astype(F32).ravel()
        if t in ("q4_K", "q5_K"):
            d, dmin = half(blk, 0), half(blk, 2)
            s, m = scale_min_k4(blk[:, 4:16])
            d1 = sub_expand((d * s.astype(F32)).astype(F32), 32)
            m1 = sub_expand((dmin * m.astype(F32)).astype(F32), 32)
            qs = blk[:, 48:176] if t == "q5_K" else blk[:, 16:144]
            qs = qs.astype(np.int64)
            q = np.concatenate([x for p in range(4) for x in
                                (qs[:, 32 * p:32 * p + 32] & 0xF, qs[:, 32 * p:32 * p + 32] >> 4)], axis=1)
            if t == "q5_K":
                qh = blk[:, 16:48].astype(np.int64)
                q = q + 16 * np.concatenate([(qh >> j) & 1 for j in range(8)], axis=1)
            return ((d1 * q.astype(F32)).astype(F32) - m1).astype(F32).ravel()
        if t == "iq4_nl":
            return (half(blk, 0) * iq4_values(blk[:, 2:18])).astype(F32).ravel()
        if t == "iq4_xs":
            d = half(blk, 0)
            sh = blk[:, 2:4].copy().view("<u2")[:, 0].astype(np.int64)[:, None]
            sl = blk[:, 4:8].astype(np.int64)
            lo = np.stack([sl & 0xF, sl >> 4], axis=2).reshape(len(blk), 8)  # sub-block ib: nibble ib % 2 of byte ib / 2
            ls = lo | ((sh >> (2 * np.arange(8))) & 3) << 4
            dl = sub_expand((d * (ls - 32).astype(F32)).astype(F32), 32)
            return (dl * iq4_values(blk[:, 8:136])).astype(F32).ravel()
        if t == "q6_K":
            d = half(blk, 208)
            sc = blk[:, 192:208].view(np.int8).astype(F32)
            dl = sub_expand((d * sc).astype(F32), 16)
            parts = []
            for h in range(2):
                ql = blk[:, 64 * h:64 * h + 64].astype(np.int64)
                qh = blk[:, 128 + 32 * h:160 + 32 * h].astype(np.int64)
                parts += [(ql[:, 0:32] & 0xF) | ((qh & 3) << 4), (ql[:, 32:64] & 0xF) | (((qh >> 2) & 3) << 4),
                          (ql[:, 0:32] >> 4) | (((qh >> 4) & 3) << 4), (ql[:, 32:64] >> 4) | (((qh >> 6) & 3) << 4)]
            q = np.concatenate(parts, axis=1) - 32
            return (dl * q.astype(F32)).astype(F32).ravel()
    raise ValueError(t)


def kquant_blocks(rng, t, nb=600):
    """random super-blocks with finite fp16 scales (some zero, subnormal,
    negative, large)"""
    b = rng.integers(0, 256, (nb, KBYTES[t]), dtype=np.uint8)
    scales = np.concatenate([rng.standard_normal(nb - 8) * 0.01,
                             [0.0, -0.0, 2 ** -24, 3 * 2 ** -20, -1.5, 1000.0, 65504.0, -2 ** -14]])
    h = scales.astype(np.float16).view(np.uint16)
    hb = np.stack([h & 0xFF, h >> 8], axis=1).astype(np.uint8)
    offs = {"q2_K": (80, 82), "q3_K": (108,), "q4_K": (0, 2), "q5_K": (0, 2), "q6_K": (208,),
            "iq4_nl": (0,), "iq4_xs": (0,)}[t]
    for k, o in enumerate(offs):
        b[:, o:o + 2] = hb if k == 0 else hb[rng.permutation(nb)]
    return b.tobytes()


# ---------------------------------------------------------------- data

def nudge(x, ulps):
    """x moved by ulps (-2..2) float32 steps."""
    x = x.astype(F32)
    for _ in range(2):
        x = np.where(ulps > 0, np.nextafter(x, F32(np.inf)),
                     np.where(ulps < 0, np.nextafter(x, F32(-np.inf)), x)).astype(F32)
        ulps = ulps - np.sign(ulps)
    return x


def fma_sensitive(rng, nb=2000, keep=48):
    """Blocks where x*id + c lands within an ulp or two of an integer, so a
    compiler that fused the multiply and the add into an fma would truncate
    some value to a different integer than ggml's reference (which does not
    fuse on x86-64).  Kept only where the fused result really differs."""
    out = []
    for div, off, signed in ((-8, 8.5, True), (-16, 16.5, True), (15, 0.5, False), (31, 0.5, False)):
        levels = abs(div)
        if signed:
            mx = (rng.uniform(1, 2, nb) * rng.choice([-1, 1], nb)).astype(F32)
            lo = np.zeros(nb, F32)
            d = (mx / F32(div)).astype(F32)
            head = mx[:, None]
        else:
            lo = rng.uniform(-2, 1, nb).astype(F32)
            hi = (lo + rng.uniform(0.5, 3, nb)).astype(F32)
            d = ((hi - lo) / F32(div)).astype(F32)
            head = np.stack([lo, hi], 1)
        idv = (F32(1) / d).astype(F32)
        n = 32 - head.shape[1]
        k = rng.integers(1, levels, (nb, n)).astype(np.float64)
        x = (lo[:, None].astype(np.float64) + (k - off) / idv[:, None].astype(np.float64)).astype(F32)
        x = nudge(x, rng.integers(-2, 3, (nb, n)))
        if signed:  # keep the head the value of largest magnitude
            lim = (np.abs(head[:, 0]) * F32(0.999)).astype(F32)[:, None]
        else:       # and inside [lo, hi]
            x = np.clip(x, lo[:, None], hi[:, None]).astype(F32)
        if signed:
            x = np.clip(x, -lim, lim).astype(F32)
        blk = np.concatenate([head, x], 1).astype(F32)
        base = blk if signed else (blk - lo[:, None]).astype(F32)
        split = ((base * idv[:, None]).astype(F32) + F32(off)).astype(F32)
        fused = (base.astype(np.float64) * idv[:, None].astype(np.float64) + off).astype(F32)
        hit = (np.trunc(split) != np.trunc(fused)).any(1)
        out.append(blk[hit][:keep])
    return np.concatenate(out).ravel()


def datasets(rng):
    """name -> float32 array (length a multiple of 32)."""
    sets = {}
    sets["normal"] = rng.standard_normal(32 * 512).astype(F32) * F32(0.02)
    sets["wide_scales"] = (rng.standard_normal((256, 32)) * 10.0 ** rng.uniform(-12, 12, (256, 1))).astype(F32).ravel()
    sets["uniform_ints"] = rng.integers(-200, 200, 32 * 64).astype(F32)

    blocks = []
    z = np.zeros(32, F32)
    blocks.append(z)                                   # all-zero block
    blocks.append(-z)                                  # all -0.0
    b = rng.standard_normal(32).astype(F32); b[7] = F32(1e30); blocks.append(b)     # one huge value
    b = rng.standard_normal(32).astype(F32); b[3] = F32(-3e38); blocks.append(b)    # huge negative
    b = rng.standard_normal(32).astype(F32); b[20] = F32(-9.5); blocks.append(b)    # negative max
    b = rng.standard_normal(32).astype(F32); b[5] = F32(-4); b[9] = F32(4); blocks.append(b)   # |max| tie: first wins
    b = rng.standard_normal(32).astype(F32); b[5] = F32(4); b[9] = F32(-4); blocks.append(b)
    b = (rng.standard_normal(32) * 1e5).astype(F32); blocks.append(b)               # fp16 scale overflow
    b = np.full(32, F32(65504 * 127)); b[0] = F32(65520 * 127); blocks.append(b)
    b = (rng.standard_normal(32) * 1e-6).astype(F32); blocks.append(b)              # subnormal fp16 scales
    b = (rng.standard_normal(32) * 1e-40).astype(F32); blocks.append(b)             # fp32 subnormals
    b = np.full(32, F32(7.25)); blocks.append(b)                                   # constant block (q*_1: d = 0)
    b = np.full(32, F32(-7.25)); blocks.append(b)
    # ties: amax 127 -> d = 1 (q8_0); halves are exact ties for roundf
    b = (np.arange(32) - 16).astype(F32) + F32(0.5); b[31] = F32(127); blocks.append(b)
    b = -b; blocks.append(b)
    # q4_0 ties: max -8 -> d = 1, x*id + 8.5 lands on integers and halves
    b = (np.arange(32) % 16 - 8).astype(F32) * F32(0.5); b[0] = F32(-8); blocks.append(b)
    b = (np.arange(32) % 16 - 8).astype(F32) * F32(0.5) + F32(0.25); b[0] = F32(8); blocks.append(b)
    # q4_1/q5_1 ties: min 0, max 15 or 31 -> d = 1
    b = np.arange(32).astype(F32) * F32(0.5); b[0] = F32(0); b[31] = F32(15); blocks.append(b)
    b = np.arange(32).astype(F32) * F32(0.5) + F32(0.25); b[0] = F32(0); b[31] = F32(31); blocks.append(b)
    # just below a tie: 0.49999997 must round to 0 in roundf
    b = np.full(32, np.nextafter(F32(0.5), F32(0))); b[0] = F32(127); blocks.append(b)
    # fp16 rounding of the scale itself: d near a half tie
    b = rng.standard_normal(32).astype(F32); b[0] = F32(65520.0 * 127 / 128); blocks.append(b)
    b = rng.standard_normal(32).astype(F32); b[0] = F32(127 * (1 + 2 ** -11)); blocks.append(b)
    sets["adversarial"] = np.concatenate(blocks).astype(F32)

    sets["fma_sensitive"] = fma_sensitive(rng)

    # non-finite: inf and NaN inside blocks (C emulates x86's casts for them)
    blocks = []
    b = rng.standard_normal(32).astype(F32); b[4] = F32(np.inf); blocks.append(b)
    b = rng.standard_normal(32).astype(F32); b[30] = F32(-np.inf); blocks.append(b)
    b = rng.standard_normal(32).astype(F32); b[0] = F32(np.nan); blocks.append(b)
    b = rng.standard_normal(32).astype(F32); b[17] = F32(np.nan); blocks.append(b)
    b = rng.standard_normal(32).astype(F32); b[31] = -F32(np.nan); blocks.append(b)
    b = np.full(32, F32(np.nan)); blocks.append(b)
    sets["nonfinite"] = np.concatenate(blocks).astype(F32)

    # plain-type edge values (f16 / bf16)
    edge = np.array([0.0, -0.0, 1.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e9, 2 ** -24, 2 ** -25,
                     1.5 * 2 ** -24, 2 ** -14, 2 ** -14 - 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
                     np.inf, -np.inf, np.nan, 1e-40, -1e-45], dtype=F32)
    bits = np.array([0x7F800001, 0xFFC00001, 0x3F808000, 0x3F818000, 0x00018000, 0x007FFFFF, 0x7F7FFFFF,
                     0x477FF000, 0x33000001], dtype=np.uint32).view(F32)
    anyb = rng.integers(0, 2 ** 32, 32 * 300, dtype=np.uint64).astype(np.uint32).view(F32)
    e = np.concatenate([edge, bits, anyb])
    sets["edge_bits"] = np.concatenate([e, np.zeros((-len(e)) % 32, F32)])
    return sets


# ---------------------------------------------------------------- main

def run(binary, mode, t, src, dst):
    r = subprocess.run([binary, mode, t, src, dst], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s %s %s: exit %d: %s" % (binary, mode, t, r.returncode, r.stderr.strip()))
    with open(dst, "rb") as f:
        return f.read()


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return "byte %d: C %02x, numpy %02x" % (i, a[i], b[i])
    return "lengths %d vs %d" % (len(a), len(b))


def check_dequant(binary, tmp, t, qpath, want, name):
    """the C decoders (fast and reference) of the blocks in qpath against
    numpy's values want: every float bit"""
    ref = want.view(np.uint32)
    for mode in ("--dequantize", "--dequantize-ref"):
        nm = name + ("_ref" if mode.endswith("ref") else "")
        try:
            got = np.frombuffer(run(binary, mode, t, qpath, os.path.join(tmp, "out.f32")), np.uint32)
        except RuntimeError as e:
            report(False, nm, str(e))
            continue
        same = got.shape == ref.shape and np.array_equal(got, ref)
        why = "shape %s vs %s" % (got.shape, ref.shape)
        if not same and got.shape == ref.shape:
            i = int(np.flatnonzero(got != ref)[0])
            why = "value %d: C %08x, numpy %08x" % (i, got[i], ref[i])
        report(same, nm, why)


def main():
    if len(sys.argv) != 3:
        print("usage: ref_quant.py TEST_TYPES_BINARY TMPDIR", file=sys.stderr)
        return 2
    binary, tmp = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(20240601)
    sets = datasets(rng)
    nfma = len(sets["fma_sensitive"]) // 32
    report(nfma >= 4 * 32, "fma_sensitive_blocks", "only %d blocks found" % nfma)
    for dname, x in sets.items():
        src = os.path.join(tmp, dname + ".f32")
        x.astype("<f4").tofile(src)
        for t, fn in QUANT.items():
            want = fn(x)
            for mode in ("--quantize", "--quantize-ref"):
                name = "quant_%s_%s%s" % (t, dname, "_ref" if mode.endswith("ref") else "")
                try:
                    got = run(binary, mode, t, src, os.path.join(tmp, "out.bin"))
                except RuntimeError as e:
                    report(False, name, str(e))
                    continue
                report(got == want, name, first_diff(got, want))
            # dequantize the (agreed) bytes: every float bit must match
            qpath = os.path.join(tmp, "q.bin")
            with open(qpath, "wb") as f:
                f.write(want)
            check_dequant(binary, tmp, t, qpath, dequant(t, want), "dequant_%s_%s" % (t, dname))
    for t in KBYTES:
        blocks = kquant_blocks(rng, t)
        qpath = os.path.join(tmp, "k.bin")
        with open(qpath, "wb") as f:
            f.write(blocks)
        check_dequant(binary, tmp, t, qpath, dequant_k(t, blocks), "dequant_%s_random_blocks" % t)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
