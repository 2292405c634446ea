#!/usr/bin/env python3
"""Copies what the CLIP tokenizer tests need from ../shared/fixtures/sam3 into tests/data/sam3:
the toy vocabulary in both file forms (model/tokenizer.json, beside the tiny model so that
model/ is a whole model folder; vocab.json + merges.txt) and
tokenizer_cases.json trimmed to transformers' answers (the fixture's own reference
implementation agrees on every case; this script checks that). Standard library only."""
import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "sam3")
DST = os.path.join(ROOT, "tests", "data", "sam3")


def main():
    if not os.path.isdir(SRC):
        sys.exit("no fixtures at " + SRC)
    os.makedirs(os.path.join(DST, "model"), exist_ok=True)
    shutil.copyfile(os.path.join(SRC, "model", "tokenizer.json"), os.path.join(DST, "model", "tokenizer.json"))
    for f in ["vocab.json", "merges.txt"]:
        shutil.copyfile(os.path.join(SRC, "model", f), os.path.join(DST, f))
    with open(os.path.join(SRC, "tokenizer_cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    out = {k: cases[k] for k in ["format", "max_length", "padding", "sot_id", "eot_id", "hf_tokenizer"]}
    out["cases"] = []
    for c in cases["cases"]:
        hf = c["hf"]
        if hf["ids"] != c["ref"]["ids"] or hf["input_ids"] != c["ref"]["input_ids"]:
            sys.exit("transformers and the reference disagree on %r" % c["text"])
        out["cases"].append({"text": c["text"], "tokens": hf["tokens"], "ids": hf["ids"],
                             "input_ids": hf["input_ids"], "attention_mask": hf["attention_mask"]})
    out["batch"] = cases["batch"]
    with open(os.path.join(DST, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
