#!/bin/sh
# dist/xl-example on the mock hypervisor, with a stand-in for xl that
# records what it is asked: ioreqd-xl starts ioreqd with the example's
# configuration (every device spec in it valid: ioreqd serves them all) while
# the guest is paused, unpauses it only then, and stops ioreqd with
# ioreqctl; a configuration ioreqd rejects destroys the guest instead.
#
# Usage: xl-example.sh SOURCE IOREQD IOREQCTL MOCKXEN
set -eu
src=$1 ioreqd=$2 ioreqctl=$3 mockxen=$4
example=$src/dist/xl-example

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-xl.XXXXXX")
cleanup() {
    if [ -f "$tmp/run/3.pid" ]; then
        kill "$(cat "$tmp/run/3.pid")" 2>/dev/null || :
    fi
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

cat >"$tmp/driver.sh" <<DRIVER
set -eu
export XL=$tmp/bin/xl IOREQD=$ioreqd IOREQCTL=$ioreqctl IOREQD_RUNDIR=$tmp/run
sh $example/ioreqd-xl start guest $example/guest.cfg $tmp/ioreqd.conf >$tmp/start.out 2>&1
$ioreqctl --socket $tmp/run/3.sock --json status --domid 3 >$tmp/status.json
sh $example/ioreqd-xl stop guest >$tmp/stop.out 2>&1
if sh $example/ioreqd-xl start guest $example/guest.cfg $tmp/bad.conf >$tmp/bad.out 2>&1; then
    echo "started with a bad configuration" >&2
    exit 1
fi
DRIVER

if ! "$mockxen" --domid 3 -- sh "$tmp/driver.sh" >"$tmp/mockxen.out" 2>&1; then
    cat "$tmp/mockxen.out" "$tmp"/*.out >&2 || :
    fail "ioreqd-xl on the mock"
fi

expected="create -p $example/guest.cfg
domid guest
unpause guest
domid guest
create -p $example/guest.cfg
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
