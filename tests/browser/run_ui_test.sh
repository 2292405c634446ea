#!/bin/sh
# ctest entry for the browser end-to-end test. Exits 77 (ctest SKIP_RETURN_CODE) with a reason
# when node, chromium or the npm packages are missing, so the suite still runs elsewhere.
# Usage: run_ui_test.sh SEGKIT_BINARY MODEL IMAGE ARTIFACT_DIR [MASK2FORMER_MODEL [SAM3_MODEL]]
here=$(cd "$(dirname "$0")" && pwd)
chromium=${SEGKIT_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed (apt-get install nodejs)"; exit 77
fi
if [ ! -x "$chromium" ]; then
  echo "SKIP: $chromium not found (apt-get install chromium)"; exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "SKIP: $here/node_modules is missing (cd tests/browser && npm ci --ignore-scripts)"; exit 77
fi
exec node "$here/ui_test.mjs" "$@"
