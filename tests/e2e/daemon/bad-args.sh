#!/bin/sh
# ioreqd's documented exit codes and messages for bad arguments and
# configuration files, and start-up failures reported through the launcher.
# Needs no hypervisor: every case fails before one would be used, or fails
# because there is none.
# Usage: bad-args.sh /path/to/ioreqd
set -u
IOREQD=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# No xenstore, no hypervisor: whatever gets that far must fail cleanly.
export XENSTORED_PATH="$TMP/no-xenstored"
export MOCKXEN_SOCKET="$TMP/no-mockxen"
failures=0

# expect CODE TEXT -- ARGS...: exit status CODE and TEXT somewhere in stderr.
expect() {
    code=$1 text=$2
    shift 3
    "$IOREQD" "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    if [ "$got" -ne "$code" ]; then
        echo "FAIL: ioreqd $*: exit $got, expected $code"; cat "$TMP/err"
        failures=$((failures + 1))
    elif ! grep -qF -- "$text" "$TMP/err" "$TMP/out"; then
        echo "FAIL: ioreqd $*: output lacks '$text':"; cat "$TMP/err" "$TMP/out"
        failures=$((failures + 1))
    else
        echo "ok: ioreqd $* -> $got"
    fi
}

expect 0 "Usage: ioreqd --domid N" -- --help
expect 0 "ioreqd 0.1.0" -- --version
expect 0 "Device types:" -- -h
expect 2 "no domain given: use --domid N" --
expect 2 "no domain given" -- --foreground
expect 2 "unknown option '--bogus'" -- --bogus
expect 2 "Try 'ioreqd --help' for more information." -- --bogus
expect 2 "option '--domid' needs an argument" -- --domid
expect 2 "invalid value 'abc' for --domid" -- --domid abc
expect 2 "invalid value '0' for --domid" -- --domid 0
expect 2 "invalid value '40000' for --domid" -- --domid 40000
expect 2 "unexpected argument 'stray'" -- --domid 3 stray
expect 2 "invalid value 'file' for --log" -- --domid 3 --log file
expect 2 "invalid value 'noisy' for --log-level" -- --domid 3 --log-level noisy
expect 2 "option '--foreground' takes no argument" -- --domid 3 --foreground=yes
expect 2 "--control-socket needs a path or 'none'" -- --domid 3 --control-socket ""
expect 2 "--device: unknown device type 'no-such-device'" -- --domid 3 --device no-such-device
expect 2 "$TMP/missing.conf: cannot open configuration file" -- --config "$TMP/missing.conf"

cat >"$TMP/bad-key.conf" <<'CONF'
# comment
domid = 4
colour = blue
CONF
expect 2 "$TMP/bad-key.conf:3: unknown key 'colour'" -- --config "$TMP/bad-key.conf"

printf 'domid = 4\ndomid = 5\n' >"$TMP/twice.conf"
expect 2 "$TMP/twice.conf:2: 'domid' already set on line 1" -- --config "$TMP/twice.conf"

printf 'log-level = loud\n' >"$TMP/level.conf"
expect 2 "$TMP/level.conf:1: invalid log-level 'loud'" -- --config "$TMP/level.conf"

printf 'domid = 4\n\ndevice = nonsense-type,a=b\n' >"$TMP/dev.conf"
expect 2 "$TMP/dev.conf:3: unknown device type 'nonsense-type'" -- --config "$TMP/dev.conf"
# The command line's devices replace the file's, so the bad line is never parsed
# and start-up gets as far as xenstore, which is not there.
expect 1 "cannot connect to xenstore" -- --config "$TMP/dev.conf" --foreground --device uart

# Every device spec is checked, options and values, before Xen is touched:
# without a hypervisor the answer is still the spec's error, exit 2.
printf 'domid = 4\ndevice = uart,com=1,bogus=3\n' >"$TMP/c.conf"
expect 2 "ioreqd: $TMP/c.conf:2: uart device has no option 'bogus'" -- --config "$TMP/c.conf"
expect 2 "ioreqd: $TMP/c.conf:2: uart device has no option 'bogus'" -- --config "$TMP/c.conf" \
    --foreground
printf 'domid = 4\ndevice = host-bridge\n# many\ndevice = uart,com=5\n' >"$TMP/com.conf"
expect 2 "$TMP/com.conf:4: uart: bad value '5' for com (expected 1..4)" -- --config "$TMP/com.conf"
printf 'domid = 4\ndevice = uart,backend=telnet:23\n' >"$TMP/be.conf"
expect 2 "$TMP/be.conf:2: uart: backend: unknown backend 'telnet:23'" -- --config "$TMP/be.conf"
printf 'domid = 4\ndevice = virtio-blk,file=%s/no-such.img,queues=17\n' "$TMP" >"$TMP/vb.conf"
expect 2 "$TMP/vb.conf:2: virtio-blk: bad value '17' for queues (expected 1..16)" -- \
    --config "$TMP/vb.conf"
printf 'domid = 4\ndevice = virtio-blk,readonly\n' >"$TMP/vb2.conf"
expect 2 "$TMP/vb2.conf:2: virtio-blk: file=PATH is required" -- --config "$TMP/vb2.conf"
printf 'domid = 4\ndevice = virtio-blk,file=x,serial=123456789012345678901\n' >"$TMP/vb3.conf"
expect 2 "$TMP/vb3.conf:2: virtio-blk: serial longer than 20 bytes" -- --config "$TMP/vb3.conf"
printf 'domid = 4\ndevice = virtio-blk,file=x,cache=directsync\n' >"$TMP/vb5.conf"
expect 2 "$TMP/vb5.conf:2: virtio-blk: cache=directsync: expected writeback or none" -- \
    --config "$TMP/vb5.conf"
printf 'domid = 4\ndevice = virtio-blk,file=x,size=1G\n' >"$TMP/vb4.conf"
expect 2 "$TMP/vb4.conf:2: virtio-blk device has no option 'size'" -- --config "$TMP/vb4.conf"
printf 'domid = 4\ndevice = host-bridge,cf8=maybe\n' >"$TMP/hb.conf"
expect 2 "$TMP/hb.conf:2: host-bridge: bad value 'maybe' for cf8 (expected on or off)" -- \
    --config "$TMP/hb.conf"
printf 'domid = 4\ndevice = xen-platform,bdf=00:40.0\n' >"$TMP/xp.conf"
expect 2 "$TMP/xp.conf:2: xen-platform: bad bdf '00:40.0'" -- --config "$TMP/xp.conf"
printf 'domid = 4\ndevice = xen-platform,unplug-ports=off,colour=red\n' >"$TMP/xp2.conf"
expect 2 "$TMP/xp2.conf:2: xen-platform device has no option 'colour'" -- --config "$TMP/xp2.conf"
expect 2 "ioreqd: --device: uart device has no option 'bogus'" -- --domid 4 --device uart,bogus
# Nothing was opened or created for a spec that is only checked.
[ ! -e "$TMP/no-such.img" ] || { echo "FAIL: checking a spec created its image"; failures=$((failures + 1)); }
# A valid spec still gets as far as xenstore, which is not there.
expect 1 "cannot connect to xenstore" -- --domid 4 --foreground \
    --device "uart,com=2,backend=file:$TMP/com2.out" --device "virtio-blk,file=$TMP/d.img,queues=2" \
    --device xen-platform,unplug-ports=off --device host-bridge,cf8=on
[ ! -e "$TMP/com2.out" ] || { echo "FAIL: checking a spec opened its backend"; failures=$((failures + 1)); }

printf 'domid = 4\n' >"$TMP/ok.conf"
# Start-up failures: 1, with the reason on stderr, detached or not.
expect 1 "cannot connect to xenstore" -- --config "$TMP/ok.conf" --foreground
expect 1 "cannot connect to xenstore" -- --config "$TMP/ok.conf"
expect 1 "cannot connect to xenstore" -- --domid 4 --pidfile "$TMP/ioreqd.pid"
if [ -e "$TMP/ioreqd.pid" ]; then
    echo "FAIL: pid file left behind after a failed start"; failures=$((failures + 1))
fi

# The pid file of a live process is not taken over.
sleep 600 &
sleeper=$!
echo $sleeper >"$TMP/live.pid"
expect 1 "names running process $sleeper" -- --domid 4 --foreground --pidfile "$TMP/live.pid"
kill $sleeper
[ "$(cat "$TMP/live.pid")" = "$sleeper" ] || { echo "FAIL: live pid file rewritten"; failures=$((failures + 1)); }

if [ $failures -ne 0 ]; then
    echo "$failures case(s) failed"
    exit 1
fi
echo "all cases passed"
