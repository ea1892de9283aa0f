"""Write a corpus of damaged GGUF files (and one valid control) into a folder.

Each file is built from scratch here, so each carries exactly one defect:
truncation in every section, bad magic, versions, absurd counts, overflowing
dimensions, unknown types, offsets out of range or misaligned, duplicates,
strings longer than the file.  Usage: mk_damaged.py DIR; prints the names.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_write import gguf, kv_str, kv_u32, s, tinfo  # noqa: E402

KV = [kv_str("general.architecture", "llama"), kv_u32("test.n", 7)]
A = [1.0] * 64
DATA_A = struct.pack("<64f", *A)  # tensor a: f32 [32, 2] = 256 bytes
TI = [tinfo("a.weight", [32, 2], 0, 0), tinfo("b", [8], 0, 256)]
DATA = DATA_A + struct.pack("<8f", *range(8)) + b"\0" * 32  # b at 256, padded
valid = gguf(KV, TI, DATA)
header_len = len(gguf(KV, TI, b""))

corpus = {}
corpus["valid"] = valid
corpus["empty"] = b""
corpus["bad_magic"] = b"GGUX" + valid[4:]
corpus["version_1"] = gguf(KV, TI, DATA, version=1)
corpus["version_4"] = gguf(KV, TI, DATA, version=4)
corpus["big_endian"] = b"GGUF" + struct.pack(">I", 3) + valid[8:]
corpus["trunc_header"] = valid[:12]
kv0 = 24 + len(KV[0])
corpus["trunc_kv_key"] = valid[:24 + 10]
corpus["trunc_kv_value"] = valid[:kv0 - 3]
corpus["trunc_tensor_info"] = valid[:kv0 + len(KV[1]) + len(TI[0]) - 5]
corpus["trunc_data"] = valid[:header_len + 100]
corpus["absurd_n_kv"] = gguf(KV, TI, DATA, n_kv=1 << 62)
corpus["absurd_n_tensors"] = gguf(KV, TI, DATA, n_t=1 << 61)
corpus["negative_n_tensors"] = gguf(KV, TI, DATA, n_t=-1)
corpus["key_longer_than_file"] = b"GGUF" + struct.pack("<Iqq", 3, 0, 1) + struct.pack("<Q", 1 << 40) + b"general"
corpus["string_longer_than_file"] = gguf([s("k") + struct.pack("<I", 8) + struct.pack("<Q", 10 ** 12) + b"abc"], [], b"")
corpus["array_count_huge"] = gguf([s("k") + struct.pack("<IIQ", 9, 4, 1 << 60) + b"\0" * 16], [], b"")
corpus["string_array_element_huge"] = gguf([s("k") + struct.pack("<IIQ", 9, 8, 2) + s("ok") + struct.pack("<Q", 1 << 50)], [], b"")
corpus["unknown_value_type"] = gguf([s("k") + struct.pack("<I", 99) + b"\0" * 8], [], b"")
corpus["nested_array"] = gguf([s("k") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 4, 1) + b"\0" * 4], [], b"")
corpus["duplicate_key"] = gguf([kv_u32("x", 1), kv_u32("x", 2)], [], b"")
corpus["alignment_not_pow2"] = gguf(KV + [kv_u32("general.alignment", 33)], TI, DATA)
corpus["alignment_wrong_type"] = gguf(KV + [kv_str("general.alignment", "32")], TI, DATA)
corpus["n_dims_0"] = gguf(KV, [tinfo("a.weight", [], 0, 0)], DATA)
corpus["n_dims_5"] = gguf(KV, [tinfo("a.weight", [1, 1, 1, 1, 1], 0, 0)], DATA)
corpus["negative_dim"] = gguf(KV, [tinfo("a.weight", [32, -2], 0, 0)], DATA)
corpus["dims_overflow"] = gguf(KV, [tinfo("a.weight", [1 << 40, 1 << 40], 0, 0)], DATA)
corpus["size_overflow"] = gguf(KV, [tinfo("a.weight", [1 << 31, 1 << 31, 4], 0, 0)], DATA)
corpus["unknown_type_id"] = gguf(KV, [tinfo("a.weight", [32, 2], 99, 0)], DATA)
corpus["removed_type_id_4"] = gguf(KV, [tinfo("a.weight", [32, 2], 4, 0)], DATA)
corpus["row_not_block_multiple"] = gguf(KV, [tinfo("a.weight", [33, 2], 8, 0)], DATA)
corpus["offset_out_of_range"] = gguf(KV, [TI[0], tinfo("b", [8], 0, 1 << 20)], DATA)
corpus["offset_overflow"] = gguf(KV, [TI[0], tinfo("b", [8], 0, (1 << 64) - 32)], DATA)
corpus["offset_misaligned"] = gguf(KV, [TI[0], tinfo("b", [8], 0, 260)], DATA)
corpus["duplicate_tensor_name"] = gguf(KV, [TI[0], tinfo("a.weight", [8], 0, 256)], DATA)
corpus["empty_tensor_name"] = gguf(KV, [TI[0], tinfo("", [8], 0, 256)], DATA)
# a name with a newline in a message: still one line (written \x0a)
corpus["newline_in_tensor_name"] = gguf(KV, [tinfo("a.we\nght", [32, 2], 99, 0)], DATA)

d = sys.argv[1]
for name, b in corpus.items():
    with open("%s/%s.gguf" % (d, name), "wb") as f:
        f.write(b)
    print(name)
