#!/usr/bin/env python3
"""Copies what the SAM 3 mask decoder and post-processing tests need from ../shared/fixtures/sam3
into tests/data/sam3/mask_cases.safetensors, renamed "<case>/<fixture name>" (aliases resolved
through index.json): the mask decoder's inputs other than the FPN levels (those are in
tests/data/sam3/cases/), two of its activations and its outputs, and the processor's
post-processing (pp.b0.*, masks kept bit-packed as index.json's mask_packing says) with the raw
outputs it starts from; for box_batch_padded, its box-prompted second row's pred_masks
("out.pred_masks[1]") and post-processing (pp.b1.inst.*). Each case's thresholds go into the
metadata. Standard library only."""
import json
import os
import sys

from safetensors_io import read_safetensors, write_safetensors
from sam3_fixture import read_case_tensors, read_cases_index

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "sam3")
DST = os.path.join(ROOT, "tests", "data", "sam3")

# Two cases with every module hooked whose FPN levels tests/data/sam3/cases/ already holds: a
# photograph (534 × 800, so masks are upsampled ×11–17 to a non-square size) and the small RGBA
# image (90 × 120). synth_rgb_text1 (150 × 200) adds a third post-processing case.
DECODER_CASES = ["img1_text0", "synth_rgba_text0"]
PP_CASES = ["img1_text0", "synth_rgba_text0", "synth_rgb_text1"]
DECODER = ["in.attention_mask", "act.detr_encoder.last_hidden_state", "act.detr_encoder.text_features",
           "act.detr_decoder.intermediate_hidden_states", "act.mask_decoder.prompt_cross_attn.0",
           "act.mask_decoder.mask_embedder"]
PP = ["in.original_sizes", "out.pred_logits", "out.presence_logits", "out.pred_boxes", "out.pred_masks",
      "out.semantic_seg", "pp.b0.inst.scores", "pp.b0.inst.boxes", "pp.b0.inst.keep_idx",
      "pp.b0.inst.masks_packed", "pp.b0.inst.masks_shape", "pp.b0.inst.masks_area", "pp.b0.sem.map_packed",
      "pp.b0.sem.map_shape", "pp.b0.sem.map_area", "pp.b0.det.scores", "pp.b0.det.boxes"]
# The box-prompted case for the assembled model's test: its second row (img1_text0's pixels, one
# exemplar box) only, whose other raw outputs detr_cases.safetensors already holds.
BOX_CASE = "box_batch_padded"
BOX_ROW1 = ["in.original_sizes", "pp.b1.inst.scores", "pp.b1.inst.boxes", "pp.b1.inst.keep_idx",
            "pp.b1.inst.masks_packed", "pp.b1.inst.masks_shape", "pp.b1.inst.masks_area"]


def row(tensor, i):
    """Row i of a tensor's first axis, stored as "<name>[i]" with a leading axis of 1."""
    dtype, shape, data = tensor
    step = len(data) // shape[0]
    return dtype, [1] + shape[1:], data[i * step:(i + 1) * step]


def main():
    if not os.path.isdir(SRC):
        sys.exit("no fixtures at " + SRC)
    index = read_cases_index(SRC)
    out, thresholds = {}, {}
    for name in sorted(set(DECODER_CASES) | set(PP_CASES)):
        case = index[name]
        tensors = read_case_tensors(SRC, case)
        wanted = (DECODER if name in DECODER_CASES else []) + (PP if name in PP_CASES else [])
        for key in wanted:
            if key not in tensors:
                sys.exit("%s lacks %s" % (name, key))
            out[name + "/" + key] = tensors[key]
        thresholds[name] = case["thresholds"]
    box = read_safetensors(os.path.join(SRC, index[BOX_CASE]["file"]))
    for key in BOX_ROW1:
        out[BOX_CASE + "/" + key] = box[key]
    out[BOX_CASE + "/out.pred_masks[1]"] = row(box["out.pred_masks"], 1)
    thresholds[BOX_CASE] = index[BOX_CASE]["thresholds"]
    metadata = {"thresholds": json.dumps(thresholds, ensure_ascii=True),
                "source": "../shared/fixtures/sam3 (transformers 5.17)"}
    write_safetensors(os.path.join(DST, "mask_cases.safetensors"), out, metadata)


if __name__ == "__main__":
    main()
