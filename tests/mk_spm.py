"""Write a SentencePiece tokenizer.model (a ModelProto in protobuf's wire
format) for the tests, from a GGUF's tokenizer.ggml.* keys or a llama2.c
tokenizer.bin.  Written from sentencepiece_model.proto's field numbers, not
from lib/spm.c:

  mk_spm.py SRC OUT [option=value ...]
    SRC   a GGUF (gguf_ref.read) or a llama2.c tokenizer.bin
    options (for the damaged-input tests):
      model_type=N   TrainerSpec.model_type (default 2, BPE; "none" leaves
                     the trainer spec out)
      bos=N eos=N unk=N pad=N   the special ids (default: the source's)
      prefix=0|1     NormalizerSpec.add_dummy_prefix (default: left out,
                     which means true)
      type=I:T       piece I gets type T
      keep=N         only the first N pieces
      truncate=N     keep only the first N bytes of the file

The pieces come first (field 1), then the trainer spec (2) and the
normalizer spec (3), as SentencePiece writes them; a self-test field (4)
with a sample is appended to check that readers skip unknown contents.
"""
import struct
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
import gguf_ref  # noqa: E402


def varint(v):
    if v < 0:
        v += 1 << 64  # int32 -1 as protobuf writes it: ten bytes
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(num, wt):
    return varint(num << 3 | wt)


def f_bytes(num, b):
    return key(num, 2) + varint(len(b)) + b


def f_varint(num, v):
    return key(num, 0) + varint(v)


def f_float(num, x):
    return key(num, 5) + struct.pack("<f", x)


def from_gguf(path):
    md = gguf_ref.read(path)["metadata"]
    toks = [t.encode("utf-8", "surrogateescape") for t in md["tokenizer.ggml.tokens"]]
    n = len(toks)
    scores = md.get("tokenizer.ggml.scores", [0.0] * n)
    types = md.get("tokenizer.ggml.token_type", [1] * n)
    ids = {"unk": md.get("tokenizer.ggml.unknown_token_id", 0),
           "bos": md.get("tokenizer.ggml.bos_token_id", 1),
           "eos": md.get("tokenizer.ggml.eos_token_id", 2),
           "pad": md.get("tokenizer.ggml.padding_token_id", -1)}
    return toks, list(scores), list(types), ids


def from_llama2c(path):
    b = open(path, "rb").read()
    o, toks, scores, types = 4, [], [], []
    while o < len(b):
        sc, ln = struct.unpack_from("<fi", b, o)
        o += 8
        t = b[o:o + ln]
        o += ln
        i = len(toks)
        typ = 1
        if i == 0:
            t, typ = b"<unk>", 2
        elif i in (1, 2):
            t, typ = (b"<s>", b"</s>")[i - 1], 3
        elif len(t) == 6 and t.startswith(b"<0x") and t.endswith(b">"):
            typ = 6
        toks.append(t.replace(b" ", "\u2581".encode()))
        scores.append(sc)
        types.append(typ)
    return toks, scores, types, {"unk": 0, "bos": 1, "eos": 2, "pad": -1}


def main():
    src, out = sys.argv[1], sys.argv[2]
    opts = dict(a.split("=", 1) for a in sys.argv[3:])
    with open(src, "rb") as f:
        magic = f.read(4)
    toks, scores, types, ids = from_gguf(src) if magic == b"GGUF" else from_llama2c(src)
    for k in ("unk", "bos", "eos", "pad"):
        if k in opts:
            ids[k] = int(opts[k])
    if "keep" in opts:
        k = int(opts["keep"])
        toks, scores, types = toks[:k], scores[:k], types[:k]
    if "type" in opts:
        i, t = opts["type"].split(":")
        types[int(i)] = int(t)
    body = bytearray()
    for t, s, ty in zip(toks, scores, types):
        piece = f_bytes(1, t) + f_float(2, s)
        if ty != 1:  # NORMAL is the default and left out, as protobuf does
            piece += f_varint(3, ty)
        body += f_bytes(1, piece)
    mt = opts.get("model_type", "2")
    if mt != "none":
        trainer = f_bytes(1, b"train.txt") + f_varint(3, int(mt)) + f_varint(4, len(toks))
        trainer += f_varint(35, 1)  # byte_fallback
        for num, k in ((40, "unk"), (41, "bos"), (42, "eos"), (43, "pad")):
            trainer += f_varint(num, ids[k])
        body += f_bytes(2, trainer)
    norm = f_bytes(1, b"identity")
    if "prefix" in opts:
        norm += f_varint(3, int(opts["prefix"]))
    body += f_bytes(3, norm)
    body += f_bytes(4, f_bytes(1, f_bytes(1, b"hello") + f_bytes(2, b"\xe2\x96\x81hello")))
    if "truncate" in opts:
        body = body[:int(opts["truncate"])]
    with open(out, "wb") as f:
        f.write(body)


if __name__ == "__main__":
    main()
