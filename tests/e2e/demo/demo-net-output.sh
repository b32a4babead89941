#!/bin/sh
# The demo's network step (scripts/demo-net.sh) prints exactly the expected
# lines, in order, and leaves no namespace behind, also when it is stopped
# half way (SIGTERM while the guest boots). The checker itself is checked on
# a copy of the output with one line changed, so that it can fail.
#   demo-net-output.sh DEMO-NET BUILD_DIR
# Exit 77 (skipped) only when a Debian package the step needs is missing.
set -u
step=$1
build=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-demo-net.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One extended regular expression per line of the output. The files are the
# same every run (ipxe-net.sh, demo-net.sh), so are their sizes, names and
# sums; frame counts vary, but the card's must equal the tap's.
cat >"$tmp/expected" <<'END'
^== 8\. the guest's network: SeaBIOS runs iPXE from ioreqd's virtio-net ROM \(romfile=\)$
^   network namespace ioreqd-demo-[0-9]+ \(removed at the end\): tap demo0 at 10\.0\.2\.2, dnsmasq serving DHCP and TFTP$
^   firmware log \(SeaBIOS\), the boot from the card's ROM and back:$
^     Booting from ROM\.\.\.$
^     Booting from c[0-9a-f]{3}:[0-9a-f]{4}$
^     enter handle_18:$
^   dnsmasq's log, what the guest asked for:$
^     DHCPACK\(demo0\) 10\.0\.2\.15 02:49:00:01:00:18$
^     sent boot\.ipxe to 10\.0\.2\.15$
^     sent report-10\.0\.2\.15-02-49-00-01-00-18 to 10\.0\.2\.15$
^     sent token-1a042c3ed1d96c64e7600de3b35c68393f5e54c9 to 10\.0\.2\.15$
^     sent data\.bin to 10\.0\.2\.15$
^   iPXE \(its console is int 10h only: what it did, as the host saw it\):$
^     iPXE got 10\.0\.2\.15 by DHCP on 02:49:00:01:00:18, and said so: it asked for report-10\.0\.2\.15-02-49-00-01-00-18$
^     iPXE ran boot\.ipxe \(3078 bytes\) to its end: it asked for the file named after its SHA-1$
^     iPXE fetched data\.bin to its end: 16384 bytes, SHA-256 a94e012612601826fc21f3aba0b1e34994e0ce99eb5d5bf635b3e6a3a5eeca1a$
^     iPXE closed the card and gave the boot back to SeaBIOS \(int 18h\) after [0-9]+ ms$
^   ioreqctl stats of the card \(queue pair 0\) against the tap's own counters \(ip -s link\):$
^     guest sent +([1-9][0-9]*) frames, +([1-9][0-9]*) bytes; the tap received +\1 frames, +\2 bytes$
^     guest received +([1-9][0-9]*) frames, +([1-9][0-9]*) bytes; the tap sent +\1 frames, +\2 bytes; 0 dropped by the card \(counted\)$
^   namespace ioreqd-demo-[0-9]+ removed$
^PASS: the guest's network verified$
END

# check FILE: FILE has as many lines as expected, each matching its expression.
check() {
    want=$(wc -l <"$tmp/expected")
    got=$(wc -l <"$1")
    [ "$got" -eq "$want" ] || { echo "$got lines, expected $want" >&2; return 1; }
    i=0
    while IFS= read -r re; do
        i=$((i + 1))
        line=$(sed -n "${i}p" "$1")
        printf '%s\n' "$line" | grep -Eq -- "$re" ||
            { printf 'line %d: "%s"\n  does not match: %s\n' "$i" "$line" "$re" >&2; return 1; }
    done <"$tmp/expected"
}

# no_namespace PID: no namespace of the step's run PID is left.
no_namespace() {
    ! ip netns list | grep -q -w -F "ioreqd-demo-$1"
}

sh "$step" "$build" >"$tmp/out" 2>"$tmp/err" &
pid=$!
wait $pid
rc=$?
cat "$tmp/out" "$tmp/err"
[ "$rc" -ne 77 ] || exit 77
fail=0
[ "$rc" -eq 0 ] || { echo "demo-net.sh exited $rc" >&2; fail=1; }
check "$tmp/out" || fail=1
no_namespace $pid || { echo "namespace ioreqd-demo-$pid left behind" >&2; fail=1; }

# The checker rejects an output whose card and tap counts differ.
sed 's/the tap received \( *\)\([0-9]*\) frames/the tap received \1\21 frames/' "$tmp/out" >"$tmp/bad"
if check "$tmp/bad" 2>/dev/null; then
    echo "the checker accepted different frame counts" >&2
    fail=1
fi

# Stopped while the guest boots: the namespace goes with it.
sh "$step" "$build" >"$tmp/out2" 2>&1 &
pid=$!
until grep -q "network namespace ioreqd-demo-$pid" "$tmp/out2" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { echo "demo-net.sh ended before its namespace was up:" >&2; cat "$tmp/out2" >&2; exit 1; }
    sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
[ "$rc" -ne 0 ] || { echo "demo-net.sh stopped by SIGTERM exited 0" >&2; fail=1; }
no_namespace $pid || { echo "namespace ioreqd-demo-$pid left behind after SIGTERM" >&2; fail=1; }
exit $fail
