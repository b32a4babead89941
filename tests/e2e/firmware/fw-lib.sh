# Sourced by the firmware tests (fw-*.sh). Every test takes the same
# arguments: MOCKXEN IOREQD IOREQCTL UART_RELAY. It boots Xen's hvmloader and
# SeaBIOS on the mock's emulated vCPU (mockxen --firmware) against real
# device models, and checks what the firmware printed (--firmware-log) and
# what the host sees (UART backends, ioreqctl, exit statuses).
# Exit 77 (skipped) only when a Debian package the test needs is missing.
set -eu
MOCKXEN=$1
IOREQD=$2
IOREQCTL=$3
UART_RELAY=$4
HVMLOADER=${IOREQD_HVMLOADER:-/usr/lib/xen-4.17/boot/hvmloader}
SEABIOS=${IOREQD_SEABIOS:-/usr/share/seabios/bios-256k.bin}
QEMU=${IOREQD_QEMU_XEN:-/usr/libexec/xen-qemu-system-i386}
FW_SRC=$(cd "$(dirname "$0")" && pwd)
LIBDIR=${IOREQD_SHIM_LIBDIR:?run through ctest}
TEST_NAME=$(basename "$0" .sh)
# A stuck boot ends in mockxen's own timeout (exit 3), well within ctest's.
FW_TIMEOUT=${IOREQD_FW_TIMEOUT:-60}

dir=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-fw.XXXXXX")
FWLOG=$dir/firmware.log
MXLOG=$dir/mockxen.log
mx_pid=
relay_pid=
cleanup_hook=

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    exit 1
}

skip() {
    echo "skipped: $*"
    exit 77
}

need_firmware() {
    [ -f "$HVMLOADER" ] || skip "$HVMLOADER missing (xen-utils-4.17)"
    [ -f "$SEABIOS" ] || skip "$SEABIOS missing (seabios)"
}

need_qemu() {
    [ -x "$QEMU" ] || skip "$QEMU missing (qemu-system-xen)"
}

# group_members PGID: processes of process group PGID (mockxen runs as a
# group leader, its device models are its children).
group_members() {
    pgid=$1
    for stat in /proc/[0-9]*/stat; do
        # "pid (comm) state ppid pgrp ...": comm may hold spaces.
        line=$(cat "$stat" 2>/dev/null) || continue
        set -- $(printf '%s\n' "${line##*) }")
        [ "${3:-}" = "$pgid" ] && printf '%s\n' "${stat#/proc/}" | cut -d/ -f1
    done
    return 0
}

cleanup() {
    st=$?
    set +e
    exec 3>&-
    if [ -n "$mx_pid" ]; then
        kill -TERM "$mx_pid" 2>/dev/null
        wait "$mx_pid" 2>/dev/null
        kill -KILL -- "-$mx_pid" 2>/dev/null
    fi
    [ -n "$relay_pid" ] && { kill -TERM "$relay_pid" 2>/dev/null; wait "$relay_pid" 2>/dev/null; }
    # A test's own clean-up (its servers, its namespace), after the device models are gone.
    [ -n "$cleanup_hook" ] && $cleanup_hook
    if [ $st -ne 0 ] && [ $st -ne 77 ]; then
        for f in "$MXLOG" "$FWLOG" "$dir"/*.out; do
            [ -f "$f" ] || continue
            echo "--- $(basename "$f") (last 40 lines)" >&2
            tail -n 40 "$f" | tr -d '\r' >&2
        done
    fi
    rm -rf "$dir"
    exit $st
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# make_disk KIND: builds $dir/KIND.img (see make-disk.sh).
make_disk() {
    sh "$FW_SRC/make-disk.sh" "$1" "$dir/$1.img"
}

# start_mockxen [-- DEVICE-MODEL-COMMAND...]...: mockxen in firmware mode, in
# its own process group (setsid execs in place: $! is mockxen), with its
# hypervisor and xenstored sockets in $dir. MX_PREFIX (words, e.g. "ip netns
# exec NS", which also execs in place) runs it inside something.
MX_PREFIX=
start_mockxen() {
    setsid $MX_PREFIX "$MOCKXEN" --domid 1 --memory 128M --libdir "$LIBDIR" \
        --socket "$dir/hv.sock" --xenstore-socket "$dir/xs.sock" \
        --firmware --hvmloader "$HVMLOADER" --bios "$SEABIOS" \
        --firmware-log "$FWLOG" --timeout "$FW_TIMEOUT" "$@" \
        </dev/null >"$MXLOG" 2>&1 &
    mx_pid=$!
}

# wait_mockxen EXPECTED-STATUS: waits for mockxen to end.
wait_mockxen() {
    rc=0
    wait "$mx_pid" || rc=$?
    pid=$mx_pid
    mx_pid=
    [ "$rc" -eq "$1" ] || fail "mockxen exited with status $rc, expected $1"
    # It ends its device models before it exits: nothing of its group is left.
    left=$(group_members "$pid")
    [ -z "$left" ] || fail "processes left behind by mockxen: $left"
}

# stop_mockxen: ends a guest that never halts (SIGTERM), then checks that
# mockxen took its device models with it.
stop_mockxen() {
    kill -TERM "$mx_pid"
    pid=$mx_pid
    wait "$mx_pid" || true
    mx_pid=
    left=$(group_members "$pid")
    [ -z "$left" ] || fail "processes left behind by mockxen: $left"
}

# wait_for FILE TEXT: until FILE holds TEXT (fixed string), while mockxen runs.
wait_for() {
    until grep -a -q -F -- "$2" "$1" 2>/dev/null; do
        if ! kill -0 "$mx_pid" 2>/dev/null; then
            grep -a -q -F -- "$2" "$1" 2>/dev/null && return 0
            rc=0
            wait "$mx_pid" || rc=$?
            mx_pid=
            fail "mockxen exited (status $rc) before $(basename "$1") showed \"$2\""
        fi
        sleep 0.1
    done
}

# fw_has TEXT: the firmware log holds TEXT.
fw_has() {
    grep -a -q -F -- "$1" "$FWLOG" || fail "firmware log lacks \"$1\""
}

# ctl_json SOCKET: ioreqctl --json status of domain 1 through SOCKET.
ctl_json() {
    XENSTORED_PATH=$dir/xs.sock "$IOREQCTL" --json --socket "$1" status --domid 1 ||
        fail "ioreqctl status failed"
}

# ctl_functions JSON: "BDF VENDOR:DEVICE" of each PCI function ioreqd serves.
ctl_functions() {
    printf '%s\n' "$1" | grep -o '"bdf":"[^"]*","id":"[^"]*"' |
        sed 's/"bdf":"\([^"]*\)","id":"\([^"]*\)"/\1 \2/' | sort
}

# ctl_bars JSON: "BDF barN ADDRESS" (hex, or "unmapped") for each BAR.
ctl_bars() {
    printf '%s\n' "$1" | grep -o '"bdf":"[^"]*","id":"[^"]*","bars":\[[^]]*\]' |
        while read -r obj; do
            bdf=$(printf '%s\n' "$obj" | sed 's/^"bdf":"\([^"]*\)".*/\1/')
            printf '%s\n' "$obj" | grep -o '"bar":[0-9]*,"type":"[^"]*","prefetchable":[a-z]*,"address":[0-9a-z]*' |
                sed 's/"bar":\([0-9]*\),.*"address":\([0-9a-z]*\)/\1 \2/' |
                while read -r n a; do
                    if [ "$a" = null ]; then a=unmapped; else a=$(printf '%#x' "$a"); fi
                    echo "$bdf bar$n $a"
                done
        done | sort
}

# ctl_intx JSON: "BDF PIN LINE" for each function with an interrupt pin.
ctl_intx() {
    printf '%s\n' "$1" | grep -o '"bdf":"[^"]*","id":"[^"]*","bars":\[[^]]*\],"intx":{"pin":"INT[A-D]#","line":[0-9]*' |
        sed 's/^"bdf":"\([^"]*\)".*"pin":"INT\([A-D]\)#","line":\([0-9]*\)$/\1 \2 \3/' | sort
}

# fw_bars BDF...: hvmloader's BAR assignments for the functions named, as
# "BDF barN ADDRESS". hvmloader prints "pci dev DD:F bar REG size SIZE:
# VALUE", VALUE being the BAR register with its flag bits (low 2 bits of an
# I/O BAR, low 4 of a memory BAR; tools/firmware/hvmloader/pci.c).
fw_bars() {
    tr -d '\r' <"$FWLOG" |
        sed -n 's/.*pci dev \([0-9a-f][0-9a-f]\):\([0-7]\) bar \([0-9a-f]*\) size [0-9a-f]*: \([0-9a-f]*\)$/\1 \2 \3 \4/p' |
        while read -r slot fn reg value; do
            bdf=00:$slot.$fn
            case " $* " in *" $bdf "*) ;; *) continue ;; esac
            if [ $((0x$value & 1)) -eq 1 ]; then mask=3; else mask=15; fi
            echo "$bdf bar$(((0x$reg - 0x10) / 4)) $(printf '%#x' $((0x$value & ~mask)))"
        done | sort
}

# fw_intx: hvmloader's "pci dev DD:F INTP->IRQn" lines as "BDF P n".
fw_intx() {
    tr -d '\r' <"$FWLOG" |
        sed -n 's/.*pci dev \([0-9a-f][0-9a-f]\):\([0-7]\) INT\([A-D]\)->IRQ\([0-9]*\)$/00:\1.\2 \3 \4/p' | sort
}

# fw_link_irq LINK: the IRQ hvmloader routed PCI-ISA link LINK (0-3) to.
fw_link_irq() {
    tr -d '\r' <"$FWLOG" | sed -n "s/.*PCI-ISA link $1 routed to IRQ\([0-9]*\)$/\1/p" | tail -n 1
}

# check_routing: hvmloader routed the four PCI-ISA links (PIIX3 registers
# 0x60-0x63), and every function it printed an INTx line for got the IRQ of
# its link on Xen's barber's pole: link = (pin - 1 + slot) mod 4.
check_routing() {
    for link in 0 1 2 3; do
        [ -n "$(fw_link_irq $link)" ] || fail "hvmloader did not route PCI-ISA link $link"
    done
    n=0
    for_each=$(fw_intx)
    [ -n "$for_each" ] || fail "hvmloader printed no INTx routes"
    printf '%s\n' "$for_each" | {
        while read -r bdf pin irq; do
            slot=$((0x$(printf '%s\n' "$bdf" | cut -c4-5)))
            pinno=$(($(printf '%d' "'$pin") - 65))
            link=$(((pinno + slot) & 3))
            want=$(fw_link_irq $link)
            [ "$irq" = "$want" ] || fail "$bdf INT$pin got IRQ$irq, link $link is routed to IRQ$want"
        done
    }
}

# check_pci_against_ctl JSON: what hvmloader printed for ioreqd's functions
# is what ioreqd says it serves: the same BAR addresses, all mapped (decode
# enabled), and the same INTx lines, which hvmloader wrote to config space.
check_pci_against_ctl() {
    bdfs=$(ctl_functions "$1" | cut -d' ' -f1)
    from_ctl=$(ctl_bars "$1")
    from_fw=$(fw_bars $bdfs)
    [ -n "$from_ctl" ] || fail "ioreqctl shows no BARs"
    case $from_ctl in *unmapped*) fail "BARs left unmapped after hvmloader:
$from_ctl" ;; esac
    [ "$from_fw" = "$from_ctl" ] || fail "hvmloader assigned
$from_fw
--- ioreqctl status shows
$from_ctl"
    ctl_irqs=$(ctl_intx "$1")
    fw_irqs=$(fw_intx | while read -r bdf pin irq; do
        case " $(echo $bdfs) " in *" $bdf "*) echo "$bdf $pin $irq" ;; esac
    done)
    [ "$fw_irqs" = "$ctl_irqs" ] || fail "hvmloader's INTx lines
$fw_irqs
--- ioreqctl status shows
$ctl_irqs"
}

# Expected UART output of the boot sector (bootsector.S, make-disk.sh).
CR=$(printf '\r')
NL='
'
CRLF=$CR$NL
BS_RUNNING="BOOTSECTOR: running from the MBR"
BS_LBA1="LBA1: read by the BIOS from the boot disk"
BS_WAITING="BOOTSECTOR: waiting for a byte on COM1"
BS_READING="BOOTSECTOR: reading forever"
BS_CHAINED="BOOTSECTOR: chainloaded by GRUB"

# ends_with FILE TEXT: FILE's last bytes are exactly TEXT.
ends_with() {
    n=$(printf '%s' "$2" | wc -c)
    got=$(tail -c "$n" "$1" | od -An -c | tr -s ' \n' ' ')
    want=$(printf '%s' "$2" | od -An -c | tr -s ' \n' ' ')
    [ "$got" = "$want" ] || fail "$(basename "$1") does not end with the expected bytes:
$want
--- it ends with
$got"
}

# check_grub_output FILE: GRUB printed hello.txt and the SHA-256 sums of
# hello.txt and data.bin that the host computes, then chainloaded halt.bin.
check_grub_output() {
    files=$dir/grub.img.files
    grep -a -q -F "GRUB: hello.txt from (hd0,msdos1)" "$1" || fail "GRUB's first line is missing"
    grep -a -q -F -- "$(cat "$files/hello.txt")" "$1" || fail "GRUB did not print hello.txt"
    for f in hello.txt data.bin; do
        sum=$(sha256sum "$files/$f" | cut -d' ' -f1)
        grep -a -q -F "$sum" "$1" || fail "GRUB's SHA-256 of $f is not the host's ($sum)"
    done
    grep -a -q -F "GRUB: chainloading halt.bin" "$1" || fail "GRUB did not reach the chainloader"
    ends_with "$1" "$BS_CHAINED$CRLF"
}

# The Debian QEMU device model for domain 1, as tests/e2e/shim/qemu-test.sh
# runs it, without serial ports (ioreqd's UART owns 0x3f8) or VGA. With
# QEMU_XENFV (libxl's machine when the Xen platform device is on): host
# bridge 00:00.0, PIIX3 00:01.0 (IDE 00:01.1, ACPI PM 00:01.3), Xen platform
# device 00:02.0. With QEMU_PC (libxl's "pc,accel=xen" when it is off): the
# same without the platform device. Split into words where used (no spaces
# in $dir).
QEMU_COMMON="-xen-domid 1 -m 128 -display none -nodefaults -monitor none -pidfile $dir/qemu.pid"
QEMU_XENFV="$QEMU_COMMON -machine xenfv"
QEMU_PC="$QEMU_COMMON -machine pc,accel=xen"
