#!/usr/bin/env python3
"""Copies what the SAM 3 DETR encoder, decoder and scoring tests need from ../shared/fixtures/sam3
into tests/data/sam3/detr_cases.safetensors: for a few cases, the DETR inputs (the x1 FPN level and
its position encoding, or the encoder's output where the case did not hook the vision modules; the
prompt and its mask) and the DETR activations and raw outputs, renamed "<case>/<fixture name>"
(aliases resolved through index.json), with each case's phrases in the metadata. The tiny model
itself is the one scripts/copy-sam3-text-test-data.py copies. Standard library only."""
import json
import os
import sys

from safetensors_io import write_safetensors
from sam3_fixture import read_case_tensors, read_cases_index

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "sam3")
DST = os.path.join(ROOT, "tests", "data", "sam3")

# Two single-phrase cases with every module hooked (encoder inputs and each layer), a batch of two
# images with different phrases, and a padded batch of box prompts (the prompt there is text plus
# geometry tokens, so the decoder and scoring see a mask with holes; its second image is
# img1_text0's, whose FPN level feeds the geometry encoder there).
CASES = ["img1_text0", "synth_rgb_text0", "batch_images", "box_batch_padded"]
COMMON = ["in.attention_mask", "act.detr_encoder.last_hidden_state", "act.detr_encoder.pos_embeds_flattened",
          "act.detr_encoder.text_features", "act.detr_decoder.intermediate_hidden_states",
          "act.detr_decoder.presence_logits", "act.dot_product_scoring", "out.decoder_reference_boxes",
          "out.pred_logits", "out.pred_boxes", "out.presence_logits"]
FULL = ["act.vision_encoder.neck.fpn_layers.2", "act.vision_encoder.neck.1.2", "act.detr_encoder.layers.",
        "act.detr_decoder.layers."]
BOXES = ["in.input_boxes", "in.input_boxes_labels", "act.geometry_encoder.attention_mask",
         "act.geometry_encoder.last_hidden_state"]


def main():
    if not os.path.isdir(SRC):
        sys.exit("no fixtures at " + SRC)
    index = read_cases_index(SRC)
    out, texts = {}, {}
    for name in CASES:
        case = index[name]
        tensors = read_case_tensors(SRC, case)
        wanted = COMMON + (FULL if case["capture"] == "full" else []) + (BOXES if case["boxes_xyxy_pixels"] else [])
        for key in sorted(tensors):
            if any(key == w or (w.endswith(".") and key.startswith(w)) for w in wanted):
                out[name + "/" + key] = tensors[key]
        for need in wanted:
            if not need.endswith(".") and name + "/" + need not in out:
                sys.exit("%s lacks %s" % (name, need))
        texts[name] = case["text_fed_to_tokenizer"]
    metadata = {"texts": json.dumps(texts, ensure_ascii=True),
                "source": "../shared/fixtures/sam3 (transformers 5.17)"}
    write_safetensors(os.path.join(DST, "detr_cases.safetensors"), out, metadata)


if __name__ == "__main__":
    main()
