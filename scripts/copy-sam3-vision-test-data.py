#!/usr/bin/env python3
"""Copies what the SAM 3 vision-encoder and preprocessing tests need from ../shared/fixtures/sam3
into tests/data/sam3: the tiny model folder (config.json, processor_config.json,
model.safetensors), the released model's configuration (full_config.json, transformers'
Sam3Config() defaults), the two small synthetic input images, and trimmed case files holding only
the tensors the tests read (in.resized_uint8 is stored as U8 instead of I64: the same values).
Standard library only: safetensors is an 8-byte header length, a JSON header, then raw data."""
import array
import json
import os
import shutil
import sys

from safetensors_io import read_safetensors, write_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "sam3")
DST = os.path.join(ROOT, "tests", "data", "sam3")

VIT = ["act.vision_encoder.backbone.embeddings", "act.vision_encoder.backbone.layer_norm"] + [
    "act.vision_encoder.backbone.layers.%d" % i for i in range(4)]
FPN = ["act.vision_encoder.neck.fpn_layers.%d" % i for i in range(4)]
POS = ["act.vision_encoder.neck.1.%d" % i for i in range(4)]  # position encodings: shape only
CASES = {
    # the RGBA synthetic image: preprocessing, every ViT layer, the neck and its encodings
    "synth_rgba_text0": ["in.pixel_values", "in.resized_uint8"] + VIT + FPN + POS,
    # a photograph: every ViT layer and the neck
    "img1_text0": ["in.pixel_values"] + VIT + FPN,
    # the RGB synthetic image: preprocessing only
    "synth_rgb_text0": ["in.pixel_values", "in.resized_uint8"],
}


def main():
    if not os.path.isdir(SRC):
        sys.exit("no fixtures at " + SRC)
    os.makedirs(os.path.join(DST, "model"), exist_ok=True)
    os.makedirs(os.path.join(DST, "images"), exist_ok=True)
    os.makedirs(os.path.join(DST, "cases"), exist_ok=True)
    for f in ["config.json", "processor_config.json", "model.safetensors"]:
        shutil.copyfile(os.path.join(SRC, "model", f), os.path.join(DST, "model", f))
    shutil.copyfile(os.path.join(SRC, "full_config", "config.json"), os.path.join(DST, "full_config.json"))
    for f in ["synth_rgb.png", "synth_rgba.png"]:
        shutil.copyfile(os.path.join(SRC, "images", f), os.path.join(DST, "images", f))
    for case, names in CASES.items():
        tensors = read_safetensors(os.path.join(SRC, "cases", case + ".safetensors"))
        out = {}
        for name in names:
            if name not in tensors:
                sys.exit("%s: no tensor %s" % (case, name))
            dtype, shape, blob = tensors[name]
            if name == "in.resized_uint8":
                values = array.array("q")
                values.frombytes(blob)
                if sys.byteorder != "little":
                    values.byteswap()
                if min(values) < 0 or max(values) > 255:
                    sys.exit("%s: %s is not 8-bit" % (case, name))
                blob, dtype = bytes(list(values)), "U8"
            out[name] = (dtype, shape, blob)
        write_safetensors(os.path.join(DST, "cases", case + ".safetensors"), out)


if __name__ == "__main__":
    main()
