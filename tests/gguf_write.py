"""Pieces of GGUF files for the tests to write from scratch (plain Python).

Written from the format description, as gguf_ref.py reads it: a string is
its u64 length and bytes; a key/value is the key, the u32 value type and
the value; a tensor info is the name, u32 n_dims, the dims, u32 type and
u64 offset.  The builders take what they are given as it is, so that
mk_damaged.py can also write what no valid file holds.
"""
import struct


def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(b)) + b


def kv_str(k, v):
    return s(k) + struct.pack("<I", 8) + s(v)


def kv_u32(k, v):
    return s(k) + struct.pack("<II", 4, v)


def kv_arr_u32(k, vs):
    return s(k) + struct.pack("<IIQ", 9, 4, len(vs)) + struct.pack("<%dI" % len(vs), *vs)


def tinfo(name, ne, typ, off):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", d) for d in ne) + struct.pack("<IQ", typ, off)


def gguf(kvs, tis, data, version=3, n_kv=None, n_t=None, align=32, magic=b"GGUF"):
    """Header, key/values and tensor infos, padded to align, then data."""
    h = magic + struct.pack("<Iqq", version, len(tis) if n_t is None else n_t, len(kvs) if n_kv is None else n_kv)
    h += b"".join(kvs) + b"".join(tis)
    h += b"\0" * ((-len(h)) % align)
    return h + data


_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def edit(src, dst, fn):
    """Rewrite the key/values of GGUF file src into dst: fn gets the list
    of [key (bytes), type, value] (an array's value is (item type, list))
    and changes it in place; tensor infos and data are copied as they are
    (alignment 32, version 3, as this toolbox writes)."""
    b = open(src, "rb").read()
    pos = [24]
    n_t, n_kv = struct.unpack_from("<QQ", b, 8)

    def rd(t):
        o = pos[0]
        if t == 8:
            n = struct.unpack_from("<Q", b, o)[0]
            pos[0] = o + 8 + n
            return b[o + 8:o + 8 + n]
        v = struct.unpack_from("<" + _SCALAR[t], b, o)[0]
        pos[0] = o + struct.calcsize(_SCALAR[t])
        return v

    def wr(t, v):
        return struct.pack("<Q", len(v)) + v if t == 8 else struct.pack("<" + _SCALAR[t], v)

    kv = []
    for _ in range(n_kv):
        k, t = rd(8), rd(4)
        if t == 9:
            at, n = rd(4), rd(10)
            kv.append([k, 9, (at, [rd(at) for _ in range(n)])])
        else:
            kv.append([k, t, rd(t)])
    t0 = pos[0]
    for _ in range(n_t):
        rd(8)
        nd = rd(4)
        pos[0] += 8 * nd + 12
    infos = b[t0:pos[0]]
    data = b[(pos[0] + 31) // 32 * 32:] if n_t else b""
    fn(kv)
    h = b[:8] + struct.pack("<QQ", n_t, len(kv))
    for k, t, v in kv:
        h += wr(8, k) + struct.pack("<I", t)
        h += struct.pack("<IQ", v[0], len(v[1])) + b"".join(wr(v[0], x) for x in v[1]) if t == 9 else wr(t, v)
    h += infos
    open(dst, "wb").write(h + (b"\0" * ((-len(h)) % 32) + data if n_t else b""))
