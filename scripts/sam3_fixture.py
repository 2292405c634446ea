"""The SAM 3 fixture's cases (../shared/fixtures/sam3: index.json and cases/*.safetensors), as the
copy-sam3-*-test-data.py scripts read them."""
import json
import os

from safetensors_io import read_safetensors


def read_cases_index(src):
    """index.json's cases by name."""
    with open(os.path.join(src, "index.json"), encoding="utf-8") as f:
        return {c["name"]: c for c in json.load(f)["cases"]}


def read_case_tensors(src, case):
    """A case's tensors ({name: (dtype, shape, raw bytes)}), with the names index.json lists as
    aliases of stored tensors added."""
    tensors = read_safetensors(os.path.join(src, case["file"]))
    for alias, target in case.get("aliases", {}).items():
        if alias not in tensors and target in tensors:
            tensors[alias] = tensors[target]
    return tensors
