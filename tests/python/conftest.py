"""Shared fixtures of the Python package's tests: the tiny SAM test model and its fixtures.

scripts/test.sh runs these with PYTHONPATH at the build's module (build/python) and
bindings/python, and SEGKIT_CLI at the build's `segkit` binary.
"""
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import segkit

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SAM_TINY = DATA / "sam-tiny" / "hf"
DOG = DATA / "server" / "dog.jpg"

_DTYPES = {"F32": np.float32, "U8": np.uint8, "I16": np.int16, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    """Every tensor of a .safetensors file as a NumPy array (the fixtures' few dtypes)."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[8 + n + begin : 8 + n + end]
        tensors[name] = np.frombuffer(raw, dtype=_DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return tensors


def rle_to_mask(rle):
    """A COCO uncompressed RLE ({"size": [h, w], "counts": [...]}, column-major) as an H×W bool array."""
    h, w = rle["size"]
    values = np.zeros(len(rle["counts"]), dtype=bool)
    values[1::2] = True
    return np.repeat(values, rle["counts"]).reshape(w, h).T


@pytest.fixture(scope="session")
def sam_tiny():
    return segkit.load_model(SAM_TINY)


@pytest.fixture(scope="session")
def dog():
    return segkit.load_image(DOG)


@pytest.fixture(scope="session")
def sam_cases():
    """(image name, the case file's tensors, the index entry) per fixture image."""
    index = json.loads((DATA / "sam-tiny" / "cases" / "index.json").read_text())
    return [(e["image"], read_safetensors(DATA / "sam-tiny" / "cases" / f"{e['image']}.safetensors"), e) for e in index]


@pytest.fixture(scope="session")
def segkit_cli():
    cli = Path(os.environ.get("SEGKIT_CLI", ROOT / "build" / "segkit"))
    if not cli.exists():
        pytest.skip(f"{cli}: the segkit binary is not built (SEGKIT_CLI names it)")
    return cli
