#!/bin/sh
# `cmake --install` of the build tree into a scratch prefix, then:
#  - programs: sbin/ioreqd, bin/ioreqctl, bin/mockxen, bin/mock-xenstored,
#    executable, with no run path into the build tree;
#  - every program's man page in the section its directory calls for:
#    bin/ (user commands) in man1, sbin/ (administration) in man8;
#  - the drop-in libraries in lib/ioreqd/shim under Xen's sonames;
#  - the man pages in man1, man5, man8;
#  - the systemd unit, naming the configured sbin directory (and accepted by
#    systemd-analyze verify when that is installed);
#  - the installed ioreqd, on the installed libraries only, serving a guest
#    of the installed mockxen.
#
# Usage: install-layout.sh BUILD PREFIX SBINDIR BINDIR LIBDIR MANDIR UNITDIR
# (PREFIX is the configured one; the directories are relative to it).
set -eu
build=$1 configured=$2 sbindir=$3 bindir=$4 libdir=$5 mandir=$6 unitdir=$7

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

if ! cmake --install "$build" --prefix "$root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    echo "FAIL: cmake --install" >&2
    exit 1
fi

for prog in "$sbindir/ioreqd" "$bindir/ioreqctl" "$bindir/mockxen" "$bindir/mock-xenstored"; do
    f=$root/$prog
    if [ ! -f "$f" ] || [ ! -x "$f" ]; then
        fail "$prog is not installed as an executable"
        continue
    fi
    if readelf -d "$f" | grep -Eq '\((RPATH|RUNPATH)\).*'"$build"; then
        fail "$prog keeps a run path into the build tree"
    fi
done

# soname, the file the soname names (a link to the versioned file), no
# development link.
shim=$root/$libdir/ioreqd/shim
for soname in libxenevtchn.so.1 libxenforeignmemory.so.1 libxendevicemodel.so.1 \
    libxenctrl.so.4.17 libxengnttab.so.1; do
    if [ ! -e "$shim/$soname" ]; then
        fail "$libdir/ioreqd/shim/$soname is missing"
        continue
    fi
    got=$(readelf -d "$shim/$soname" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$got" = "$soname" ] || fail "$soname has soname '$got'"
    base=${soname%%.so.*}
    [ ! -e "$shim/$base.so" ] || fail "$base.so (a development link) is installed"
done
n=$(find "$shim" -name 'lib*.so.*' -type f | wc -l)
[ "$n" -eq 5 ] || fail "$n shared libraries in $libdir/ioreqd/shim, expected 5"

for page in man1/ioreqctl.1 man1/mockxen.1 man1/mock-xenstored.1 man5/ioreqd.conf.5 \
    man8/ioreqd.8; do
    [ -f "$root/$mandir/$page" ] || fail "$mandir/$page is missing"
done

# Whatever is installed in bin/ has its page in man1, in sbin/ in man8.
for dir in "$bindir:1" "$sbindir:8"; do
    section=${dir##*:}
    for prog in "$root/${dir%:*}"/*; do
        [ -f "$prog" ] || continue
        name=$(basename "$prog")
        [ -f "$root/$mandir/man$section/$name.$section" ] ||
            fail "${dir%:*}/$name is installed without $mandir/man$section/$name.$section"
    done
done

unit=$root/$unitdir/ioreqd@.service
if [ ! -f "$unit" ]; then
    fail "$unitdir/ioreqd@.service is missing"
else
    grep -qx "ExecStart=$configured/$sbindir/ioreqd --domid %i .*" "$unit" ||
        fail "the unit does not start $configured/$sbindir/ioreqd"
    grep -qx 'Type=forking' "$unit" || fail "the unit is not Type=forking"
    if command -v systemd-analyze >/dev/null 2>&1; then
        # Verified as installed here: ExecStart pointed at this copy.
        sed "s|^ExecStart=$configured/$sbindir/ioreqd|ExecStart=$root/$sbindir/ioreqd|" \
            "$unit" >"$tmp/ioreqd@.service"
        if ! systemd-analyze verify --man=no "$tmp/ioreqd@.service" >"$tmp/verify.log" 2>&1 ||
            [ -s "$tmp/verify.log" ]; then
            cat "$tmp/verify.log" >&2
            fail "systemd-analyze verify rejects the unit"
        fi
    fi
fi

# The installed programs on the installed drop-in libraries only.
img=$tmp/disk.img
dd if=/dev/zero of="$img" bs=1024 count=1024 2>/dev/null
cat >"$tmp/guest.mx" <<'SCRIPT'
wait-xs /local/domain/0/device-model/3/state running
wait-owner pio 0x3f8
outb 0x3ff 0x5a
inb 0x3ff
expect 0x5a
lspci
SCRIPT
if ! env -u LD_LIBRARY_PATH -u MOCKXEN_LIBDIR "$root/$bindir/mockxen" --domid 3 \
    --libdir "$shim" --script "$tmp/guest.mx" -- \
    "$root/$sbindir/ioreqd" --domid 3 --foreground --control-socket none \
    --device uart,backend=null --device "virtio-blk,file=$img" \
    >"$tmp/run.out" 2>"$tmp/run.err"; then
    cat "$tmp/run.out" "$tmp/run.err" >&2
    fail "the installed ioreqd did not serve the guest of the installed mockxen"
else
    grep -q '^inb 0x3ff -> 0x5a$' "$tmp/run.out" || fail "the UART's scratch register was not served"
    grep -q '1af4:1042' "$tmp/run.out" || fail "lspci did not find the virtio-blk function"
    grep -q "^LD_LIBRARY_PATH=$shim" "$tmp/run.out" ||
        fail "mockxen did not run ioreqd on $shim"
fi

[ "$fails" -eq 0 ] || exit 1
echo "installed layout and installed programs OK"
