#!/bin/sh
# Every man page in man/ renders without a warning (MANWIDTH=80 man
# --warnings -l), and every program `cmake --install` installs has a page.
#
# Usage: man-pages.sh MANDIR BUILD
# Exit status 77 (skipped) when man(1) is missing and nothing else failed.
set -eu
mandir=$1 build=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioreqd-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

pages=$(find "$mandir" -maxdepth 1 -name '*.[1-8]' | sort)
[ -n "$pages" ] || fail "no man pages in $mandir"

rendered=0
if command -v man >/dev/null 2>&1; then
    for page in $pages; do
        warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$tmp/page.txt") ||
            fail "$(basename "$page"): man exits with an error"
        if [ -n "$warnings" ]; then
            fail "$(basename "$page") renders with warnings:"
            echo "$warnings" >&2
        fi
        [ -s "$tmp/page.txt" ] || fail "$(basename "$page") renders to nothing"
        rendered=$((rendered + 1))
    done
fi

# What install(TARGETS) puts in bin/ and sbin/, from an install of the tree.
if ! cmake --install "$build" --prefix "$tmp/root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    fail "cmake --install"
else
    programs=$(find "$tmp/root" -path '*bin/*' \( -type f -o -type l \) -perm -u+x | sort)
    [ -n "$programs" ] || fail "cmake --install installed no programs"
    for prog in $programs; do
        name=$(basename "$prog")
        found=$(find "$mandir" -maxdepth 1 -name "$name.[1-8]")
        [ -n "$found" ] || fail "$name is installed but has no man page in man/"
    done
fi

[ "$fails" -eq 0 ] || exit 1
if [ "$rendered" -eq 0 ]; then
    echo "man(1) is not installed: pages not rendered"
    exit 77
fi
echo "$rendered man pages render cleanly; every installed program has one"
