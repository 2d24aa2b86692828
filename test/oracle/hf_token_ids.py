"""Token ids as Hugging Face's `tokenizers` gives them, independent of entroscope.

Reads JSON on stdin: {"tokenizer": path/tokenizer.json, "texts": [...], "maxLength": int | null}.
Encodes each text with special tokens, truncated at maxLength (HF counts special tokens in it) or
not at all. Prints JSON: {"ids": [[...], ...], "untruncated": [token count without truncation, ...]}.
"""
import json
import sys

from tokenizers import Tokenizer


def main():
    req = json.load(sys.stdin)
    tok = Tokenizer.from_file(req["tokenizer"])
    tok.no_padding()
    tok.no_truncation()
    untruncated = [len(e.ids) for e in tok.encode_batch(req["texts"])]
    if req.get("maxLength"):
        tok.enable_truncation(req["maxLength"])
    ids = [e.ids for e in tok.encode_batch(req["texts"])]
    json.dump({"ids": ids, "untruncated": untruncated}, sys.stdout)


if __name__ == "__main__":
    main()
