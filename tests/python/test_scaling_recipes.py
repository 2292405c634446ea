"""docs/scaling.md's Dask recipe as written (its paths pointed at the tiny Mask2Former and a
folder of test images), on a LocalCluster of 2 workers: the merged folder files equal those of
one unsharded run with the same --threads. Skipped where dask.distributed is missing (Debian:
python3-distributed)."""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import DATA, ROOT

MASK2FORMER = DATA / "mask2former" / "model"


def dask_recipe():
    text = (ROOT / "docs" / "scaling.md").read_text()
    blocks = [b for b in re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M) if "LocalCluster" in b]
    assert len(blocks) == 1
    return blocks[0]


def with_settings(recipe, **values):
    for name, value in values.items():
        recipe, count = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", recipe, flags=re.M)
        assert count == 1, name
    return recipe


def test_dask_recipe_gives_the_files_of_one_run(segkit_cli, tmp_path):
    pytest.importorskip("dask.distributed")
    images = tmp_path / "images"
    images.mkdir()
    rgb = np.asarray(Image.open(DATA / "mask2former" / "inputs" / "img0.png").convert("RGB"))
    for i, view in enumerate([rgb, rgb[::-1], rgb[:, ::-1], rgb[::2, ::2], rgb.transpose(1, 0, 2)]):
        Image.fromarray(np.ascontiguousarray(view)).save(images / f"photo{i}.png")

    # One unsharded run with the recipe's --threads 1: the thread count decides how the products
    # split their sums, and float rounding may then move a borderline pixel.
    single = tmp_path / "single"
    subprocess.run([str(segkit_cli), "segment", "-m", str(MASK2FORMER), "--input", str(images), "--task", "panoptic",
                    "-o", str(single), "--threads", "1", "-q"], check=True)

    sharded = tmp_path / "sharded"
    script = tmp_path / "recipe.py"
    script.write_text(with_settings(dask_recipe(), SEGKIT=str(segkit_cli.resolve()), MODEL=str(MASK2FORMER),
                                    IMAGES=str(images), OUT=str(sharded), SHARDS=3))
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, timeout=300)

    assert sorted(p.name for p in (sharded / "shards").iterdir()) == ["0-of-3.json", "1-of-3.json", "2-of-3.json"]
    shutil.rmtree(sharded / "shards")
    made = sorted(p.relative_to(single) for p in single.rglob("*") if p.is_file())
    assert made and made == sorted(p.relative_to(sharded) for p in sharded.rglob("*") if p.is_file())
    for name in made:
        if name.suffix == ".json" or name.suffix == ".png":
            assert (single / name).read_bytes() == (sharded / name).read_bytes(), name
