#!/usr/bin/env python3
"""Copies what the SAM 3 text encoder tests need from ../shared/fixtures/sam3 into tests/data/sam3:
the tiny model (config.json, model.safetensors) unchanged into model/, and text_cases.safetensors
holding, for a few cases, only the text inputs and the text activations (renamed
"<case>/<fixture name>"; aliases resolved through index.json), with each case's phrases in the
metadata. Standard library only."""
import json
import os
import shutil
import sys

from safetensors_io import write_safetensors
from sam3_fixture import read_case_tensors, read_cases_index

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "sam3")
DST = os.path.join(ROOT, "tests", "data", "sam3")

# One case with every text module hooked, phrases that exercise the tokenizer, and a batch of two.
CASES = ["img1_text0", "img0_text1", "img0_text5", "img0_text6", "img0_text7", "batch_images"]
WANTED = ["in.input_ids", "in.attention_mask", "act.text_encoder.text_model.embeddings",
          "act.text_encoder.text_model.encoder.layers.", "act.text_encoder.last_hidden_state",
          "act.text_encoder.text_embeds", "act.text_projection"]


def main():
    if not os.path.isdir(SRC):
        sys.exit("no fixtures at " + SRC)
    os.makedirs(os.path.join(DST, "model"), exist_ok=True)
    for f in ["config.json", "model.safetensors"]:
        shutil.copyfile(os.path.join(SRC, "model", f), os.path.join(DST, "model", f))
    index = read_cases_index(SRC)
    out, texts = {}, {}
    for name in CASES:
        case = index[name]
        tensors = read_case_tensors(SRC, case)
        for key in sorted(tensors):
            if any(key == w or (w.endswith(".") and key.startswith(w)) for w in WANTED):
                out[name + "/" + key] = tensors[key]
        for need in ["in.input_ids", "in.attention_mask", "act.text_encoder.last_hidden_state", "act.text_projection"]:
            if name + "/" + need not in out:
                sys.exit("%s lacks %s" % (name, need))
        texts[name] = case["text_fed_to_tokenizer"]
    metadata = {"texts": json.dumps(texts, ensure_ascii=True),
                "source": "../shared/fixtures/sam3 (transformers 5.17)"}
    write_safetensors(os.path.join(DST, "text_cases.safetensors"), out, metadata)


if __name__ == "__main__":
    main()
