#!/usr/bin/env python3
"""Seed corpora for the fuzz targets: small files from tests/data (referenced, never copied
into the repository) plus a few hand-made inputs in the formats the parsers expect.
Usage: make_seeds.py TARGET OUT_DIR   (python3 standard library only)."""
import glob
import json
import os
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")
MAX_SEED = 64 << 10  # libFuzzer mutates small inputs far faster


def data_files(pattern, limit=MAX_SEED):
    paths = sorted(glob.glob(os.path.join(DATA, pattern), recursive=True))
    if not paths:  # a moved test file must not silently shrink a corpus
        sys.exit(f"make_seeds.py: nothing in tests/data matches {pattern}")
    for path in paths:
        if os.path.getsize(path) <= limit:
            with open(path, "rb") as f:
                yield f.read()


def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def pickle_state_dict(tensors, v3=False):
    """A protocol-2 pickle spelled as torch.save spells an OrderedDict of tensors."""
    out = bytearray(b"\x80\x02")
    def s(x):
        b = x.encode()
        out.extend(b"X" + struct.pack("<I", len(b)) + b)
    def i(x):
        out.extend(b"J" + struct.pack("<i", x))
    def g(mod, name):
        out.extend(b"c" + mod.encode() + b"\n" + name.encode() + b"\n")
    g("collections", "OrderedDict"); out.extend(b")R(")
    for n, (storage, key, numel, shape, stride) in enumerate(tensors):
        s("w%d" % n)
        g("torch._utils", "_rebuild_tensor_v3" if v3 else "_rebuild_tensor_v2"); out.extend(b"((")
        s("storage"); g("torch", "UntypedStorage" if v3 else storage); s(key); s("cpu"); i(numel); out.extend(b"tQ")
        i(0)
        out.extend(b"("); [i(x) for x in shape]; out.extend(b"t")
        out.extend(b"("); [i(x) for x in stride]; out.extend(b"t")
        out.extend(b"\x89"); g("collections", "OrderedDict"); out.extend(b")R")
        if v3:
            g("torch", "float32")
        out.extend(b"tR")
    out.extend(b"u.")
    return bytes(out)


def zip_stored(entries):
    out, central = b"", b""
    for name, data in entries:
        n = name.encode()
        local = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, len(data), len(data), len(n), 0) + n + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, len(data), len(data),
                               len(n), 0, 0, 0, 0, 0, local) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return out + central + end


def pth(tensors, storages, v3=False):
    entries = [("archive/data.pkl", pickle_state_dict(tensors, v3)), ("archive/byteorder", b"little")]
    entries += [("archive/data/" + k, v) for k, v in storages.items()]
    return zip_stored(entries)


def png(width, height, bit_depth=8, colour=2, palette=None, rows=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row_bytes = (width * channels * bit_depth + 7) // 8
    raw = rows if rows is not None else b"".join(b"\0" + bytes((x * 37 + y) % 256 for x in range(row_bytes))
                                                 for y in range(height))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def bmp(width, height):
    row = (width * 3 + 3) & ~3
    pixels = bytes(row * height)
    return (b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) +
            struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0) + pixels)


def seeds(target):
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    if target == "safetensors":
        yield safetensors({"a": ("F32", [2, 3], f32), "b": ("F16", [2], b"\0\x3c\0\xc0")}, {"format": "pt"})
        yield safetensors({"x": ("BF16", [1, 1], b"\x80\x3f"), "e": ("F64", [0, 4], b""), "u": ("U8", [3], b"abc")})
        yield from data_files("**/*.safetensors", limit=256 << 10)
    elif target == "pth":
        yield pth([("FloatStorage", "0", 6, [2, 3], [3, 1]), ("FloatStorage", "0", 6, [3, 2], [1, 3])], {"0": f32})
        yield pth([("HalfStorage", "1", 2, [2], [1])], {"1": b"\0\x3c\0\xc0"})
        yield pth([(None, "0", 24, [6], [1])], {"0": f32}, v3=True)
    elif target == "rle":
        for case in glob.glob(os.path.join(DATA, "metrics/rle/*/case.json")):
            with open(case) as f:
                for m in json.load(f).get("masks", []):
                    h, w = m["size"]
                    yield bytes([0, h & 255, h >> 8, w & 255, w >> 8]) + m["counts"].encode()
                    runs = m.get("counts_uncompressed")
                    if runs and len(runs) < 4096:
                        yield bytes([1, h & 255, h >> 8, w & 255, w >> 8]) + struct.pack("<%dI" % len(runs), *runs)
    elif target == "coco_json":
        for case in sorted(glob.glob(os.path.join(DATA, "metrics/coco_eval/*/"))):
            gt, res = os.path.join(case, "gt.json"), os.path.join(case, "results.json")
            if os.path.exists(gt) and os.path.exists(res) and os.path.getsize(gt) + os.path.getsize(res) <= MAX_SEED:
                yield open(gt, "rb").read() + b"\0" + open(res, "rb").read()
    elif target == "panoptic_json":
        yield from data_files("metrics/panoptic/*/pred.json")
        yield from data_files("metrics/panoptic/*/gt.json")
    elif target == "prompt":
        for text in ["10,20", "10.5,20.25,0", "0,0,1", "1,2,3,4", "0,0,0,0", "1e3,2e-3,5,6", "-1,-2", "nan,1", "inf,2,3,4"]:
            yield text.encode()
    elif target == "server_prompt":
        for body in ['{}', '', '{"points": [[10, 20]], "labels": [1]}', '{"points": [[1.5, 2], [3, 4]], "labels": [1, 0]}',
                     '{"box": [0, 0, 40, 30], "multimask": false}', '{"points": [[5, 5]], "mask_input_id": "abc123"}',
                     '{"points": [[1, 2]], "labels": [2]}', '{"box": [1, 2, 3]}', '{"points": 5}', '[1, 2]']:
            yield body.encode()
    elif target == "json":
        # First byte: limits (0 = the defaults, 0x84 = depth 4, 0x40 = half the text's size).
        for text in data_files("sam-tiny/hf/*.json"):
            yield b"\0" + text
        for text in [b'{"a": [1, -2.5e-3, true, null, "\\u00e9\\ud83d\\ude00"], "b": {}}', b'[[[[1]]]]', b'[[[[[]]]]]',
                     b'{"points": [[10, 20]], "labels": [1]}', b'"\\x"', b'1e400', b'{"a":1,"a":2}', b'  ']:
            yield b"\0" + text
            yield b"\x84" + text
            yield b"\x40" + text
    elif target == "image":
        yield png(1, 1)
        yield png(3, 2, colour=0)
        yield png(4, 3, colour=6)
        yield png(2, 2, bit_depth=16, colour=2)
        yield png(4, 2, bit_depth=8, colour=3, palette=b"\xff\0\0\0\xff\0\0\0\xff")
        yield bmp(3, 2)
        yield from data_files("metrics/**/*.png", limit=8 << 10)
    elif target == "hf_config":
        yield from data_files("sam-tiny/hf/*.json")
        yield b'{"vision_config": {"num_attention_heads": 2, "window_size": 4, "global_attn_indexes": [1]}}'
    elif target == "server_segment":
        for text in [b'{}', b'{"task": "panoptic", "threshold": 0.5, "label_ids_to_fuse": [3, 4]}',
                     b'{"task": "instance", "model": "m", "mask_threshold": 1, "overlap_mask_area_threshold": 0}',
                     b'{"task": "semantic"}', b'{"threshold": "x"}', b'[]']:
            yield text
    elif target == "mask2former_config":
        yield from data_files("mask2former/*/*.json")
        yield b'{"backbone_config": {"model_type": "swin", "depths": [1, 1, 1, 1]}, "id2label": {"0": "a"}}'
        yield b'{"size": {"shortest_edge": 800, "longest_edge": 1333}, "size_divisor": 32}'
    elif target == "clip_tokenizer":
        # Phrases alone; tokenizer.json NUL phrase; vocab.json NUL merges.txt NUL phrase.
        phrases = ["yellow truck", "  A  Yellow   TRUCK!! ", "cr\u00e8me br\u00fbl\u00e9e \U0001F69A",
                   "na\u00efve Caf\u00e9 \u00bd \u65e5\u672c", "it'll !'s x'y", "<|endoftext|> <|STARTOFTEXT|>",
                   "cre\u0300me \u0130stanbul \u03a3\u0391\u03a3", ""]
        for text in phrases:
            yield text.encode()
        yield b"truck \xff\xc3"
        for t in data_files("sam3/model/tokenizer.json"):
            yield t + b"\0" + phrases[2].encode()
            # The same pipeline on a five-token vocabulary: small inputs mutate far faster.
            small = json.loads(t)
            small["model"]["vocab"] = {"a": 0, "b</w>": 1, "ab</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}
            small["model"]["merges"] = [["a", "b</w>"]]
            small["added_tokens"] = [{"id": 3, "content": "<|startoftext|>", "special": True, "normalized": False},
                                     {"id": 4, "content": "<|endoftext|>", "special": True, "normalized": False}]
            small["post_processor"]["cls"] = ["<|startoftext|>", 3]
            small["post_processor"]["sep"] = ["<|endoftext|>", 4]
            for key in ["padding", "decoder"]:
                small.pop(key, None)
            yield json.dumps(small).encode() + b"\0ab AB <|endoftext|>"
            yield b'{"a": 0, "b</w>": 1, "ab</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}\0#version: 0.2\na b</w>\n\0ab'
        for v in data_files("sam3/vocab.json"):
            for m in data_files("sam3/merges.txt"):
                yield v + b"\0" + m + b"\0" + phrases[1].encode()
    else:
        sys.exit("unknown fuzz target " + target)


def main():
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for n, seed in enumerate(seeds(target)):
        with open(os.path.join(out, "seed_%03d" % n), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    main()
