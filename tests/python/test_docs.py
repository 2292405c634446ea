"""The ```python blocks of docs/python.md run as written (with the tiny test model they name)."""
import os
import re

from conftest import ROOT


def test_python_doc_examples_run():
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) >= 2
    cwd = os.getcwd()
    os.chdir(ROOT)  # the examples name files relative to the checkout
    try:
        for block in blocks:
            exec(compile(block, "docs/python.md", "exec"), {})
    finally:
        os.chdir(cwd)
