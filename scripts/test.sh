#!/usr/bin/env bash
# Installs dependencies, builds from scratch and runs every test, twice: a
# normal build (build/) and one with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/), where any sanitizer report fails
# the test that caused it.
#   scripts/test.sh                 # both builds
#   IOREQD_SANITIZE=0 scripts/test.sh   # the normal build only
# Then every libFuzzer target runs for IOREQD_FUZZ_SECONDS (default 60; 0 skips).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
"$src/scripts/deps.sh"

run_suite() {
    local build=$1
    shift
    rm -rf "$build"
    "$src/scripts/build.sh" "$build" "$@"
    ctest --test-dir "$build" --output-on-failure -j2
}

echo "== normal build"
run_suite "$src/build"
if [ "${IOREQD_SANITIZE:-1}" != 0 ]; then
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
    # Leaks are reported by default; a UBSan finding aborts (-fno-sanitize-recover).
    run_suite "$src/build-asan" -DIOREQD_SANITIZE=ON
fi

fuzz_seconds="${IOREQD_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ]; then
    echo "== fuzz smoke run: ${fuzz_seconds}s per target"
    "$src/fuzz/run.sh" "$fuzz_seconds"
fi
