#!/usr/bin/env bash
# Installs segkit's build and test dependencies from Debian packages, then builds.
# Idempotent: safe to run again; apt skips what is installed, CMake rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread
  libgloo-dev               # Gloo's headers: LibTorch's c10d process groups (distributed U-Net training)
  libdnnl-dev               # oneDNN: float32 GEMMs 3-4x faster than the BLAS; packed bf16 linears
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libjpeg-dev               # JPEG decoding with libjpeg's damage reports in our hands (io/jpeg_decode)
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3
  python3-dev python3-numpy pybind11-dev python3-pytest  # the Python module (bindings/python) and its tests
  python3-pil             # Pillow: the image-segmentation pipeline returns its masks as PIL images
  python3-pip             # pip (with setuptools, wheel): tests/python/test_pip_install.py runs `pip install .`
  python3-distributed     # Dask: tests/python/test_scaling_recipes.py runs docs/scaling.md's recipe
  chromium                # the browser UI's end-to-end test drives Debian's Chromium
  clang libclang-rt-14-dev  # libFuzzer targets (scripts/fuzz.sh); CI runs each for 30 s
)
# Node.js may come from elsewhere (a newer one is often on PATH); install Debian's only if absent.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's default BLAS is the slow reference one; LibTorch's CPU GEMMs go through it.
if command -v update-alternatives >/dev/null; then
  lib=$(ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 2>/dev/null || true)
  [ -n "$lib" ] && update-alternatives --set libblas.so.3-x86_64-linux-gnu "$lib" >/dev/null 2>&1 || true
fi

# Playwright (driver only; it never downloads a browser) for the UI test, pinned by the lockfile.
if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
   [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  (cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release}
cmake --build "$BUILD_DIR" -j"$(nproc)"
