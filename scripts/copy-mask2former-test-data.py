#!/usr/bin/env python3
"""Copies the Mask2Former test cases segkit's tests need from ../shared/fixtures/mask2former
into tests/data/mask2former: the tiny model, two inputs and a selection of each case's tensors
(32-bit integer maps narrowed to 16 bits, losslessly). Standard library only."""
import json, os, shutil, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "..", "shared", "fixtures", "mask2former")
DST = os.path.join(ROOT, "tests", "data", "mask2former")

# Per case: tensor name prefixes to keep.
CASES = {
    "img0_hub": ["inputs.", "out.", "hook.model.pixel_level_module.decoder.encoder.layers.0.",
                 "hook.model.pixel_level_module.decoder.input_projections.",
                 "hook.model.transformer_module.decoder.mask_predictor.", "post."],
    "img0_shortest_edge": ["inputs.", "out.class_queries_logits", "out.masks_queries_logits",
                           "out.encoder_hidden_states.", "out.pixel_decoder_",
                           "out.transformer_decoder_last_hidden_state", "post."],
}
SKIP = ["out.auxiliary_logits.0.masks", "out.auxiliary_logits.1.masks", "out.auxiliary_logits.2.masks",
        "out.auxiliary_logits.3.masks", "post.instance.thr0_binary_maps."]


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    return header, meta, data


def narrow_i32(raw):
    values = struct.unpack("<%di" % (len(raw) // 4), raw)
    if min(values) < -32768 or max(values) > 32767:
        return None
    return struct.pack("<%dh" % len(values), *values)


def copy_case(name, keep):
    header, _, data = read(os.path.join(SRC, "cases", name + ".safetensors"))
    out_header, chunks, offset = {}, [], 0
    for tname in sorted(header):
        if not any(tname.startswith(p) for p in keep) or any(tname.startswith(s) for s in SKIP):
            continue
        info = header[tname]
        raw = data[info["data_offsets"][0]:info["data_offsets"][1]]
        dtype = info["dtype"]
        if dtype == "I32":
            small = narrow_i32(raw)
            if small is not None:
                raw, dtype = small, "I16"
        out_header[tname] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    out_header["__metadata__"] = {"origin": "../shared/fixtures/mask2former/cases/%s.safetensors (selected tensors)" % name}
    blob = json.dumps(out_header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(os.path.join(DST, "cases", name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + b"".join(chunks))


def main():
    if not os.path.isdir(SRC):
        sys.exit("no fixtures at " + SRC)
    for sub in ["model", "processor_shortest_edge", "cases", "inputs"]:
        os.makedirs(os.path.join(DST, sub), exist_ok=True)
    for f in ["config.json", "model.safetensors", "preprocessor_config.json"]:
        shutil.copyfile(os.path.join(SRC, "model", f), os.path.join(DST, "model", f))
    shutil.copyfile(os.path.join(SRC, "processor_shortest_edge", "preprocessor_config.json"),
                    os.path.join(DST, "processor_shortest_edge", "preprocessor_config.json"))
    shutil.copyfile(os.path.join(SRC, "inputs", "img0.png"), os.path.join(DST, "inputs", "img0.png"))
    for name, keep in CASES.items():
        copy_case(name, keep)
    shutil.copyfile(os.path.join(SRC, "cases", "img0_hub_instance_thr0_rle_b0_rle.json"),
                    os.path.join(DST, "cases", "img0_hub_instance_thr0_rle_b0_rle.json"))


if __name__ == "__main__":
    main()
