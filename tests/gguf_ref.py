"""Independent GGUF reader for the tests (plain Python + numpy).

Written from the format description (see lib/gguf.h), not from the C code,
so it can check the C reader and writer.  read(path) returns a dict:
  {"version", "alignment", "metadata": {key: value}, "types": {key: vtype},
   "tensors": [{"name", "type", "shape" (ne order), "offset", "size", "data": bytes}]}
"""
import struct

VT = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
      8: "str", 9: "arr", 10: "u64", 11: "i64", 12: "f64"}
FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
       10: "<Q", 11: "<q", 12: "<d"}
# type id: (name, block size, bytes per block)
TYPES = {0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
         6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36),
         10: ("q2_k", 256, 84), 11: ("q3_k", 256, 110), 12: ("q4_k", 256, 144),
         13: ("q5_k", 256, 176), 14: ("q6_k", 256, 210), 15: ("q8_k", 256, 292),
         20: ("iq4_nl", 32, 18), 23: ("iq4_xs", 256, 136),
         24: ("i8", 1, 1), 25: ("i16", 1, 2), 26: ("i32", 1, 4), 27: ("i64", 1, 8),
         28: ("f64", 1, 8), 30: ("bf16", 1, 2)}


class R:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("truncated")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def un(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def s(self):
        return self.take(self.un("<Q")).decode("utf-8", "surrogateescape")

    def val(self, t):
        if t == 8:
            return self.s()
        if t == 9:
            at, n = self.un("<I"), self.un("<Q")
            return [self.val(at) for _ in range(n)]
        return self.un(FMT[t])


def read(path):
    b = open(path, "rb").read()
    r = R(b)
    assert r.take(4) == b"GGUF", "bad magic"
    ver = r.un("<I")
    nt, nkv = r.un("<q"), r.un("<q")
    meta, types = {}, {}
    for _ in range(nkv):
        k = r.s()
        t = r.un("<I")
        meta[k] = r.val(t)
        types[k] = VT[t]
    align = meta.get("general.alignment", 32)
    tensors = []
    for _ in range(nt):
        name = r.s()
        nd = r.un("<I")
        ne = [r.un("<q") for _ in range(nd)]
        t = r.un("<I")
        off = r.un("<Q")
        _, blk, bs = TYPES[t]
        n = 1
        for d in ne:
            n *= d
        tensors.append({"name": name, "type": t, "type_name": TYPES[t][0], "shape": ne,
                        "offset": off, "size": n // blk * bs})
    data = (r.o + align - 1) // align * align
    for t in tensors:
        t["data"] = b[data + t["offset"]: data + t["offset"] + t["size"]]
    return {"version": ver, "alignment": align, "metadata": meta, "types": types,
            "tensors": tensors, "data_offset": data}
