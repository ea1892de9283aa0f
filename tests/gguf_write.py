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
