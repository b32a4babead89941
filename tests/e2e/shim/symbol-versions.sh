#!/bin/sh
# The drop-in libraries against Debian's: same sonames, every exported
# function under the version node the real library gives it, every function
# of the real evtchn/foreignmemory/devicemodel/gnttab present, and every
# libxenctrl function a full device model imports present.
# Usage: symbol-versions.sh SHIM_LIBDIR REAL_LIBDIR QEMU_XENCTRL_LIST
set -u
SHIM=$1 REAL=$2 LIST=$3
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -e "$REAL/libxenevtchn.so.1" ] || { echo "skipped: no real libraries in $REAL"; exit 77; }

exports() { # lib -> "version symbol" lines of defined functions
    objdump -T "$1" | awk '$4 == ".text" { v = $(NF-1); gsub(/[()]/, "", v); print v, $NF }' | sort -u
}

for lib in libxenevtchn.so.1 libxenforeignmemory.so.1 libxendevicemodel.so.1 \
           libxengnttab.so.1 libxenctrl.so.4.17; do
    soname=$(objdump -p "$SHIM/$lib" | awk '$1 == "SONAME" { print $2 }')
    [ "$soname" = "$lib" ] || { echo "FAIL: $lib: soname $soname"; fails=$((fails + 1)); }
    exports "$REAL/$lib" >"$tmp/real"
    exports "$SHIM/$lib" >"$tmp/shim"
    # every shim export exists in the real library under the same version
    missing=$(comm -23 "$tmp/shim" "$tmp/real")
    [ -z "$missing" ] || { echo "FAIL: $lib exports unknown to Xen: $missing"; fails=$((fails + 1)); }
    if [ "$lib" != libxenctrl.so.4.17 ]; then
        absent=$(comm -13 "$tmp/shim" "$tmp/real")
        [ -z "$absent" ] || { echo "FAIL: $lib lacks: $absent"; fails=$((fails + 1)); }
    fi
done
exports "$SHIM/libxenctrl.so.4.17" | awk '{ print $2 }' >"$tmp/xc"
for f in $(grep -v '^#' "$LIST"); do
    grep -qx "$f" "$tmp/xc" || { echo "FAIL: libxenctrl lacks $f"; fails=$((fails + 1)); }
done
[ "$fails" = 0 ] && echo "symbol versions match Debian's libraries"
exit $((fails != 0))
