"""`pip install .` (pyproject.toml, setup.py) into a temporary venv: the installed package has
its extension module, .py modules, stubs and py.typed, and imports and predicts outside the
checkout. It reuses this build's module (SEGKIT_BUILD_DIR) rather than compiling the library
again; skipped where venv or pip is missing or segkit was not imported from a build tree."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import segkit
from conftest import ROOT, SAM_TINY, DOG

CHECK = """
import json, os, segkit, numpy as np
p = segkit.SamPredictor(segkit.load_model(os.environ["SAM_TINY"]))
p.set_image(segkit.load_image(os.environ["DOG"]))
masks, scores, _ = p.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]))
print(json.dumps({"version": segkit.__version__, "package": segkit.__file__, "module": segkit._native.__file__,
                  "files": sorted(os.listdir(os.path.dirname(segkit.__file__))), "masks": list(masks.shape)}))
"""


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    pytest.importorskip("venv")
    if run([sys.executable, "-m", "pip", "--version"]).returncode != 0:
        pytest.skip(f"no pip for {sys.executable} (Debian: python3-pip)")
    venv = tmp_path_factory.mktemp("venv")
    # No pip of its own (that needs ensurepip): the system's, seen through --system-site-packages.
    made = run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)])
    if made.returncode != 0:
        pytest.skip(f"venv: {made.stderr.strip()}")
    return venv / "bin" / "python"


def test_pip_install_builds_an_importable_package(venv_python, tmp_path):
    build = Path(segkit._native.__file__).resolve().parent.parent
    if not (build / "CMakeCache.txt").is_file():
        pytest.skip(f"segkit's module is not in a build tree ({segkit._native.__file__})")
    # A copy of what pip reads, so that setuptools' build/pip/ lands there, not in the checkout.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "bindings" / "python" / "segkit", src / "bindings" / "python" / "segkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    for name in ("pyproject.toml", "setup.py", "CMakeLists.txt"):
        shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what was installed

    installed = run([str(venv_python), "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps",
                     "--no-cache-dir", str(src)], env={**env, "SEGKIT_BUILD_DIR": str(build)})
    assert installed.returncode == 0, installed.stdout + installed.stderr

    checked = run([str(venv_python), "-c", CHECK], cwd=tmp_path,
                  env={**env, "SAM_TINY": str(SAM_TINY), "DOG": str(DOG)})
    assert checked.returncode == 0, checked.stderr
    got = json.loads(checked.stdout)
    version = re.search(r"project\(segkit VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert got["version"] == version
    site = venv_python.parent.parent
    assert site in Path(got["package"]).parents and Path(got["module"]).parent == Path(got["package"]).parent
    assert Path(got["module"]).name.startswith("_segkit") and got["module"].endswith(".so")
    for name in ("__init__.py", "pipeline.py", "sam.py", "_images.py", "__init__.pyi", "_segkit.pyi", "py.typed"):
        assert name in got["files"]
    assert got["masks"][0] == 3
