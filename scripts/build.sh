#!/usr/bin/env bash
# Configures and builds ioreqd into a build directory (default: build/).
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
shift || true
cmake -S "$src" -B "$build" -DIOREQD_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
