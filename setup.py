"""Builds the extension module `_segkit` with CMake for `pip install .` (pyproject.toml has the rest).

The module is the CMake target `_segkit` (bindings/python/CMakeLists.txt): the static libsegkit
linked into it, LibTorch and the other libraries shared from the system. Environment:

- CMAKE_ARGS: more configure arguments, after ours (so they win), e.g. "-DSEGKIT_WITH_DNNL=OFF";
- CMAKE_BUILD_PARALLEL_LEVEL: build jobs (CMake reads it; ninja's default is every core);
- SEGKIT_BUILD_DIR: an existing, configured build tree (scripts/setup.sh's build/) to build
  the module in and take it from, instead of configuring a fresh one: no full rebuild, but its
  configuration stands (CMAKE_ARGS are not applied) and its module must suit this Python.
"""
import importlib.machinery
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(segkit VERSION ([0-9.]+)", text).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        reuse = os.environ.get("SEGKIT_BUILD_DIR")
        build_dir = Path(reuse).resolve() if reuse else Path(self.build_temp).resolve() / "cmake"
        if reuse:
            if not (build_dir / "CMakeCache.txt").is_file():
                sys.exit(f"SEGKIT_BUILD_DIR={reuse}: not a configured CMake build tree")
        else:
            self.configure(build_dir)
        build = ["cmake", "--build", str(build_dir), "--target", "_segkit"]
        if self.parallel and "CMAKE_BUILD_PARALLEL_LEVEL" not in os.environ:
            build += ["--parallel", str(self.parallel)]
        subprocess.run(build, check=True)

        # The module's name carries the ABI of the Python it was built for, which must be ours.
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        module = build_dir / "python" / f"_segkit{suffix}"
        if not module.is_file():
            found = sorted(p.name for p in (build_dir / "python").glob("_segkit*"))
            sys.exit(f"{module} was not built (found: {found or 'nothing'}); "
                     f"the module needs a build for {sys.executable}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, target)

    def configure(self, build_dir):
        args = [
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DSEGKIT_BUILD_PYTHON=ON",
            # Only the library and the module: no tests, benchmarks or server to compile.
            "-DSEGKIT_BUILD_TESTS=OFF",
            "-DSEGKIT_BUILD_BENCH=OFF",
            "-DSEGKIT_BUILD_SERVER=OFF",
        ]
        if "CMAKE_GENERATOR" not in os.environ and shutil.which("ninja"):
            args.append("-GNinja")
        args += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir)] + args, check=True)
        # The top-level CMakeLists.txt skips bindings/python quietly when pybind11 or the headers are missing.
        if not (build_dir / "bindings" / "python").is_dir():
            sys.exit("segkit's Python module needs the Python headers and pybind11 "
                     "(Debian: python3-dev pybind11-dev)")


setup(
    version=project_version(),
    ext_modules=[Extension("segkit._segkit", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own build folders inside build/, next to CMake's, not in the source tree.
    options={"build": {"build_base": "build/pip"}, "egg_info": {"egg_base": "build/pip"}},
)
