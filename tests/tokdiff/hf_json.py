"""tokenizer.json for tokenizers.js, built from a ggml-vocab-NAME.gguf.

    python3 hf_json.py VOCAB.gguf NAME > tokenizer.json

The vocabulary, merges and added tokens come from the GGUF (read with
tests/gguf_ref.py); the pre-tokenizer is the one the model's own
tokenizer.json on the Hugging Face Hub declares (gpt-2, starcoder, falcon,
deepseek-coder), written here from that file's description.  Also used by
t_run.sh to check llm-run's reading of tokenizer.json.  tokdiff.sh
checks these against ../shared/vocab's vectors before using them.
"""
import json
import sys

sys.path.insert(0, __file__.rsplit("/", 2)[0])
import gguf_ref  # noqa: E402


def byte_level(use_regex):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


LLAMA3 = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
          " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

TEKKEN = ("[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
          "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
          "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

PRE = {
    "gpt-2": [byte_level(True)],
    "llama3": [split(LLAMA3), byte_level(False)],
    "dbrx": [split(LLAMA3), byte_level(False)],  # GPT-4's cl100k: llama3's without ignore_merges
    "qwen2": [split(LLAMA3.replace("\\p{N}{1,3}", "\\p{N}")), byte_level(False)],
    "tekken": [split(TEKKEN), byte_level(False)],  # Mistral Nemo's
    "starcoder": [{"type": "Digits", "individual_digits": True}, byte_level(True)],
    "falcon": [{"type": "Punctuation", "behavior": "Contiguous"}, byte_level(True),
               {"type": "Digits", "individual_digits": False}, split("[0-9][0-9][0-9]")],
    "deepseek-v3": [split("\\p{N}{1,3}"), split("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"),
                    split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
                          "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
                    byte_level(False)],
    "deepseek-coder": [split("[\r\n]"), split("\\s?\\p{L}+"), split("\\s?\\p{P}+"),
                       split("[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"),
                       {"type": "Digits", "individual_digits": True}, byte_level(False)],
}


# Llama 3's and tekken's BPE take a piece that is a whole token as it is
IGNORE_MERGES = {"llama3", "tekken"}


def main():
    path, name = sys.argv[1], sys.argv[2]
    md = gguf_ref.read(path)["metadata"]
    toks = md["tokenizer.ggml.tokens"]
    types = md.get("tokenizer.ggml.token_type") or [1] * len(toks)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": types[i] == 3}
             for i, t in enumerate(toks) if types[i] in (3, 4)]
    json.dump({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None, "pre_tokenizer": {"type": "Sequence", "pretokenizers": PRE[name]},
        "post_processor": None, "decoder": byte_level(True),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": name in IGNORE_MERGES,
                  "vocab": {t: i for i, t in enumerate(toks)},
                  "merges": md["tokenizer.ggml.merges"]},
    }, sys.stdout, ensure_ascii=False)


main()
