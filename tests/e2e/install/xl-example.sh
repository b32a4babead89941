#!/bin/sh
# dist/xl-example on the mock hypervisor. As the device model xl runs
# (device_model_override), ioreqd-xl starts ioreqd for the domain named by
# -xen-domid and then becomes QEMU (a stand-in recording its arguments),
# once per boot: a reboot is a new domain with a new domid, served again.
# With `start`, a stand-in for xl records what it is asked: ioreqd-xl starts
# ioreqd with the example's configuration (every device spec in it valid:
# ioreqd serves them all) while the guest is paused, unpauses it only then,
# and stops ioreqd with ioreqctl; a configuration ioreqd rejects destroys
# the guest instead.
#
# Usage: xl-example.sh SOURCE IOREQD IOREQCTL MOCKXEN
set -eu
src=$1 ioreqd=$2 ioreqctl=$3 mockxen=$4
example=$src/dist/xl-example

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-xl.XXXXXX")
cleanup() {
    for pid in "$tmp"/run/*.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || :
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

mkdir "$tmp/bin"
cat >"$tmp/bin/xl" <<XL
#!/bin/sh
echo "\$*" >>"$tmp/xl.log"
case \$1 in
domid) echo 3 ;;
esac
XL
chmod +x "$tmp/bin/xl"

# The example's disk image, made here.
dd if=/dev/zero of="$tmp/data.img" bs=1024 count=1024 2>/dev/null
sed "s|/var/lib/xen/images/guest-data.img|$tmp/data.img|" "$example/guest-ioreqd.conf" \
    >"$tmp/ioreqd.conf"
grep -q "file=$tmp/data.img," "$tmp/ioreqd.conf" || fail "the example has no virtio-blk image"
printf 'device = uart,com=2\ncolour = blue\n' >"$tmp/bad.conf"
grep -q '^device_model_override = ".*/ioreqd-xl"$' "$example/guest.cfg" ||
    fail "guest.cfg does not run ioreqd-xl as its device model"
grep -v '^device_model_override' "$example/guest.cfg" >"$tmp/guest-once.cfg"

# As the device model, for two boots of "guest": domain 5, then (a reboot)
# domain 6. The stand-in QEMU checks that ioreqd serves its domain, then
# stops it (on Xen it leaves with the old domain).
mkdir "$tmp/etc"
cp "$tmp/ioreqd.conf" "$tmp/etc/guest.conf"
cat >"$tmp/bin/qemu" <<QEMU
#!/bin/sh
domid=\$2
echo "\$*" >>"$tmp/qemu.log"
$ioreqctl --socket $tmp/run/\$domid.sock --json status --domid \$domid >$tmp/boot\$domid.json
$ioreqctl --socket $tmp/run/\$domid.sock stop --domid \$domid
QEMU
chmod +x "$tmp/bin/qemu"
for domid in 5 6; do
    if ! QEMU=$tmp/bin/qemu IOREQD=$ioreqd IOREQD_CONFDIR=$tmp/etc IOREQD_RUNDIR=$tmp/run \
        "$mockxen" --domid $domid --name guest -- \
        sh "$example/ioreqd-xl" -xen-domid $domid -machine xenfv -nodefaults \
        >"$tmp/boot$domid.out" 2>&1; then
        cat "$tmp/boot$domid.out" >&2
        fail "ioreqd-xl as the device model of domain $domid"
    fi
    grep -q "^ioreqd-xl: guest (domain $domid) runs with ioreqd (pid [0-9]*)$" "$tmp/boot$domid.out" ||
        fail "boot $domid said: $(cat "$tmp/boot$domid.out")"
    grep -q '"type":"virtio-blk","description":"00:10.0 1af4:1042' "$tmp/boot$domid.json" ||
        fail "no virtio-blk at 00:10.0 for domain $domid in: $(cat "$tmp/boot$domid.json")"
done
[ "$(cat "$tmp/qemu.log")" = "-xen-domid 5 -machine xenfv -nodefaults
-xen-domid 6 -machine xenfv -nodefaults" ] || fail "QEMU ran with: $(cat "$tmp/qemu.log")"
# A guest without a configuration of its own runs QEMU alone.
if ! QEMU=/bin/true IOREQD=/bin/false IOREQD_CONFDIR=$tmp/etc IOREQD_RUNDIR=$tmp/run \
    "$mockxen" --domid 7 --name other -- sh "$example/ioreqd-xl" -xen-domid 7 \
    >"$tmp/other.out" 2>&1; then
    fail "QEMU alone: $(cat "$tmp/other.out")"
fi
grep -q "no $tmp/etc/other.conf: other (domain 7) runs without ioreqd" "$tmp/other.out" ||
    fail "QEMU alone said: $(cat "$tmp/other.out")"

cat >"$tmp/driver.sh" <<DRIVER
set -eu
export XL=$tmp/bin/xl IOREQD=$ioreqd IOREQCTL=$ioreqctl IOREQD_RUNDIR=$tmp/run
sh $example/ioreqd-xl start guest $tmp/guest-once.cfg $tmp/ioreqd.conf >$tmp/start.out 2>&1
$ioreqctl --socket $tmp/run/3.sock --json status --domid 3 >$tmp/status.json
sh $example/ioreqd-xl stop guest >$tmp/stop.out 2>&1
if sh $example/ioreqd-xl start guest $tmp/guest-once.cfg $tmp/bad.conf >$tmp/bad.out 2>&1; then
    echo "started with a bad configuration" >&2
    exit 1
fi
DRIVER

if ! "$mockxen" --domid 3 -- sh "$tmp/driver.sh" >"$tmp/mockxen.out" 2>&1; then
    cat "$tmp/mockxen.out" "$tmp"/*.out >&2 || :
    fail "ioreqd-xl on the mock"
fi

expected="create -p $tmp/guest-once.cfg
domid guest
unpause guest
domid guest
create -p $tmp/guest-once.cfg
domid guest
destroy guest"
[ "$(cat "$tmp/xl.log")" = "$expected" ] || {
    fail "xl was asked:"
    cat "$tmp/xl.log" >&2
}
grep -q '"type":"uart","description":"port=0x2f8 irq=3 backend=pty:/dev/pts/' "$tmp/status.json" ||
    fail "no COM2 on a pty in: $(cat "$tmp/status.json")"
grep -q '"type":"virtio-blk","description":"00:10.0 1af4:1042' "$tmp/status.json" ||
    fail "no virtio-blk at 00:10.0 in: $(cat "$tmp/status.json")"
grep -q '^ioreqd-xl: guest (domain 3) runs with ioreqd (pid [0-9]*)$' "$tmp/start.out" ||
    fail "start said: $(cat "$tmp/start.out")"
[ "$(cat "$tmp/stop.out")" = "ioreqd for domain 3 stopped" ] || fail "stop said: $(cat "$tmp/stop.out")"
# ioreqctl returns when ioreqd has closed the control connection; its
# teardown may still be running. Bounded wait (about 20 s).
i=0
while [ -e "$tmp/run/3.pid" ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ ! -e "$tmp/run/3.pid" ] || fail "the pid file outlived ioreqd"
grep -q "bad.conf:2: unknown key 'colour'" "$tmp/bad.out" || fail "bad config: $(cat "$tmp/bad.out")"

[ "$fails" -eq 0 ] || exit 1
echo "the xl example starts, serves and stops ioreqd"
