#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan, and runs each for
# SECONDS (default 60), one after the other. Exits non-zero as soon as a
# target crashes, leaks, times out or trips a sanitizer; the reproducer is
# left in <build>/artifacts/<target>/.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     # CI: fuzz/run.sh 60
#   fuzz/run.sh 3600 dispatch             # a long run of one target
#
# Each run starts from the seed corpus (fuzz/corpus/<target>) plus what
# earlier runs in the same build directory found (<build>/corpus/<target>);
# new inputs go there, never into the source tree. Environment:
#   IOREQD_FUZZ_BUILD  build directory (default: <source>/build-fuzz/clang)
#   IOREQD_FUZZ_JOBS   build parallelism (default 2)
#   FUZZ_ARGS          extra libFuzzer flags, e.g. "-jobs=1 -dict=..."
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dispatch pci-config virtqueue virtio-net xenstore)
build="${IOREQD_FUZZ_BUILD:-$src/build-fuzz/clang}"
jobs="${IOREQD_FUZZ_JOBS:-2}"

case "$seconds" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac

CC=clang cmake -S "$src" -B "$build" -DIOREQD_FUZZ=ON -DIOREQD_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz-}" >/dev/null

# Largest useful input per target: the virtqueue and virtio-net inputs carry a 16 KiB RAM image.
declare -A max_len=([dispatch]=8192 [pci-config]=4096 [virtqueue]=17000 [virtio-net]=17000
    [xenstore]=8192)
# Every dispatch and pci-config input creates (and joins) virtio-blk's disk
# worker threads, and ASan keeps about 0.75 KiB per thread ever created:
# about 3 GiB after an hour at 1000 inputs/s. That is the sanitizer's
# bookkeeping, not a leak in ioreqd (plain builds stay flat), so those two
# get a higher RSS limit than libFuzzer's 2 GiB default.
declare -A rss_limit=([dispatch]=6144 [pci-config]=6144)

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for t in "${targets[@]}"; do
    bin="$build/fuzz/fuzz-$t"
    [ -x "$bin" ] || bin="$build/fuzz-$t"
    work="$build/corpus/$t"
    art="$build/artifacts/$t"
    log="$build/logs/$t-$(date -u +%Y%m%dT%H%M%SZ).log"
    mkdir -p "$work" "$art" "$build/logs"
    echo "fuzz-$t: ${seconds}s (log: $log)"
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    if ! "$bin" "$work" "$src/fuzz/corpus/$t" -max_total_time="$seconds" \
        -max_len="${max_len[$t]:-4096}" -rss_limit_mb="${rss_limit[$t]:-2048}" \
        -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$art/" ${FUZZ_ARGS:-} >"$log" 2>&1; then
        echo "fuzz-$t: FAILED; reproducer in $art/, last lines of the log:" >&2
        tail -n 40 "$log" >&2
        status=1
        break
    fi
    grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$log" | sed "s/^/  /"
done
exit $status
