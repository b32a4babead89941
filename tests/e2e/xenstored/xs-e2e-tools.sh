#!/bin/sh
# Debian's xenstore-* tools against mock-xenstored, with exact expected output.
set -eu
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
expect() { # expect WHAT EXPECTED ACTUAL
    [ "$3" = "$2" ] || fail "$1: expected '$2', got '$3'"
}

xenstore-write /vm/a 1 /vm/b "two words"
expect read "two words" "$(xenstore-read /vm/b)"
expect ls 'a = "1"
b = "two words"' "$(xenstore-ls /vm)"
expect list 'a
b' "$(xenstore-list /vm)"
xenstore-exists /vm/a || fail "exists /vm/a"
if xenstore-exists /vm/zz; then fail "exists /vm/zz"; fi
if xenstore-read /vm/zz 2>/dev/null; then fail "read /vm/zz"; fi

# Relative paths live under /local/domain/0.
xenstore-write rel value
expect relative value "$(xenstore-read /local/domain/0/rel)"

# Permissions.
xenstore-chmod /vm/a n0 r5
case "$(xenstore-ls -p /vm)" in
*'(n0,r5)'*) ;;
*) fail "ls -p does not show (n0,r5): $(xenstore-ls -p /vm)" ;;
esac

# Removal is recursive.
xenstore-write /vm/c/d/e x
xenstore-rm /vm/c
if xenstore-exists /vm/c/d; then fail "rm /vm/c left /vm/c/d"; fi
xenstore-rm /vm/a
expect after-rm "b" "$(xenstore-list /vm)"

# A directory larger than one payload (the tools fall back to DIRECTORY_PART).
i=0
args=""
while [ $i -lt 700 ]; do
    args="$args /big/child$i $i"
    i=$((i + 1))
done
# shellcheck disable=SC2086
xenstore-write $args
expect big-count 700 "$(xenstore-list /big | wc -l | tr -d ' ')"
expect big-first child0 "$(xenstore-list /big | head -n 1)"
xenstore-list /big | grep -qx child699 || fail "child699 missing"

# Watches: the initial event, then one per change below the path.
out=$(mktemp)
xenstore-watch -n 3 /vm >"$out" &
wpid=$!
n=0
until grep -q . "$out"; do # wait for the initial event: the watch is set
    n=$((n + 1))
    [ $n -lt 300 ] || fail "no initial watch event"
    sleep 0.1
done
xenstore-write /vm/w 1
xenstore-write /other 1
xenstore-rm /vm/b
wait $wpid
expect watch '/vm
/vm/w
/vm/b' "$(cat "$out")"
rm -f "$out"
echo "xenstore tools: all checks passed"
