#!/usr/bin/env bash
# Installs dependencies, builds from scratch and runs every test.
#   scripts/test.sh            # build/ and all tests
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$src/build"
"$src/scripts/deps.sh"
rm -rf "$build"
"$src/scripts/build.sh" "$build"
ctest --test-dir "$build" --output-on-failure -j2
