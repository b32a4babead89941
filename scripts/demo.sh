#!/usr/bin/env bash
# The README's first command: installs what is missing, builds ioreqd and runs
# ioreqd-demo, a mock Xen domain served by the real ioreqd.
#   scripts/demo.sh [ioreqd-demo options...]     (see man/ioreqd-demo.1)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${IOREQD_BUILD_DIR:-$src/build}"
"$src/scripts/deps.sh"
"$src/scripts/build.sh" "$build"
exec "$build/tools/ioreqd-demo/ioreqd-demo" "$@"
