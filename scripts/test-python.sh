#!/usr/bin/env bash
# Runs the Python package's tests (tests/python, pytest) against the module of the build in
# $BUILD_DIR (default build/): PYTHONPATH at $BUILD_DIR/python (_segkit) and bindings/python
# (the segkit package). Skipped, with a line saying so, where the module was not built (no
# pybind11 or Python headers, or -DSEGKIT_BUILD_PYTHON=OFF). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
module_dir="$BUILD_DIR/python"
if ! ls "$module_dir"/_segkit*.so >/dev/null 2>&1; then
  echo "test-python: skipped, the Python module is not built in $module_dir (scripts/setup.sh builds it)"
  exit 0
fi
# The interpreter the module was built for, else the system one; it must have numpy and pytest
# (Debian: python3-numpy, python3-pytest; scripts/setup.sh installs them).
candidates=()
[ -n "${SEGKIT_PYTHON:-}" ] && candidates+=("$SEGKIT_PYTHON")
[ -f "$module_dir/python_executable.txt" ] && candidates+=("$(cat "$module_dir/python_executable.txt")")
candidates+=(/usr/bin/python3 python3)
python=""
for p in "${candidates[@]}"; do
  if "$p" -c "import numpy, pytest" >/dev/null 2>&1; then python=$p; break; fi
done
if [ -z "$python" ]; then
  echo "test-python: no Python with numpy and pytest among: ${candidates[*]} (install python3-numpy python3-pytest)" >&2
  exit 1
fi
export PYTHONPATH="$PWD/$module_dir:$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export SEGKIT_CLI=${SEGKIT_CLI:-$PWD/$BUILD_DIR/segkit}
export PYTHONDONTWRITEBYTECODE=1
exec "$python" -m pytest -q -p no:cacheprovider tests/python "$@"
