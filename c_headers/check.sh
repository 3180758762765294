#!/bin/sh
# check.sh: cross-checks TEP's PKCS#11 headers against an independent one.
#
# testdata/check.c prints every constant, structure size and member offset
# that TEP's headers define. It is built twice, against c_headers/ and
# against p11-kit's pkcs11.h, and every name that both print must have the
# same value. The prototypes of all 68 functions in pkcs11f.h are also
# redeclared under p11-kit's header, so the compiler rejects any parameter
# whose type differs. Names that only one header has are listed, not
# counted as failures: p11-kit carries PKCS#11 v3.0 additions.
#
# Usage: c_headers/check.sh [directory holding the other pkcs11.h]
# The default is p11-kit's, from Debian's libp11-kit-dev. CC picks the
# compiler (default cc).

set -eu

here=$(cd "$(dirname "$0")" && pwd)
other=${1:-/usr/include/p11-kit-1/p11-kit}
cc=${CC:-cc}

if [ ! -f "$other/pkcs11.h" ]; then
	echo "check.sh: no $other/pkcs11.h; install it with: apt-get install libp11-kit-dev" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# have_flags DIR prints -DHAVE_<name> for each CK_ identifier left in the
# preprocessed header, which after expansion are the type names it declares.
have_flags() {
	printf '#include <pkcs11.h>\n' |
		"$cc" -E -P -I"$1" -x c - |
		grep -o 'CK_[A-Z0-9_]*' | LC_ALL=C sort -u | sed 's/^/-DHAVE_/'
}

# constant_names DIR prints the object-like macros of the header whose
# value is a number or another constant: the spec's constants.
constant_names() {
	printf '#include <pkcs11.h>\n' |
		"$cc" -dM -E -I"$1" -x c - |
		sed -n 's/^#define \(CK[A-Z]*_[A-Z0-9_]*\) [(~0-9C].*/\1/p; s/^#define \(CRYPTOKI_[A-Z0-9_]*\) [(~0-9C].*/\1/p' |
		LC_ALL=C sort -u
}

run_check() { # run_check NAME DIR
	# shellcheck disable=SC2046 # one word per flag is intended
	"$cc" -std=c99 -Wall -Werror -I"$2" $(have_flags "$2") \
		-o "$tmp/check-$1" "$here/testdata/check.c"
	"$tmp/check-$1" | LC_ALL=C sort -t= -k1,1 >"$tmp/$1.out"
}

run_check tep "$here"
run_check other "$other"

status=0

# Every constant and structure in TEP's headers must be printed by check.c.
constant_names "$here" >"$tmp/tep.names"
cut -d= -f1 "$tmp/tep.out" | LC_ALL=C sort -u >"$tmp/tep.printed"
LC_ALL=C comm -23 "$tmp/tep.names" "$tmp/tep.printed" >"$tmp/unprinted"
sed -n 's/^typedef struct \([A-Z0-9_]*\) {.*/sizeof(\1)/p' "$here/pkcs11t.h" |
	LC_ALL=C sort -u | LC_ALL=C comm -23 - "$tmp/tep.printed" >>"$tmp/unprinted"
if [ -s "$tmp/unprinted" ]; then
	echo "testdata/check.c does not print these; add them:"
	sed 's/^/  /' "$tmp/unprinted"
	status=1
fi

# The same name must have the same value in both.
LC_ALL=C join -t= "$tmp/tep.out" "$tmp/other.out" >"$tmp/both"
# testdata/known-differences lists the exact pairs that are accepted.
grep -v '^#' "$here/testdata/known-differences" | grep . >"$tmp/known" || :
awk -F= -v known="$tmp/known" '
	BEGIN { while ((getline line < known) > 0) { split(line, f, " "); ok[f[1] "=" f[2] "=" f[3]] = 1 } }
	$2 == $3 { next }
	($0 in ok) { printf "  %s: TEP %s, other %s (known, see testdata/known-differences)\n", $1, $2, $3 >"/dev/stderr"; next }
	{ printf "  %s: TEP %s, other %s\n", $1, $2, $3 }
' "$tmp/both" >"$tmp/diff" 2>"$tmp/waived"
if [ -s "$tmp/waived" ]; then
	echo "values that differ for a known reason:"
	cat "$tmp/waived"
fi
if [ -s "$tmp/diff" ]; then
	echo "values that differ:"
	cat "$tmp/diff"
	status=1
fi

# Every prototype of pkcs11f.h, restated under the other header's types.
cat >"$tmp/signatures.c" <<'SRC'
#include "pkcs11.h"
#include "pkcs11f.h"
#define REDECLARE(rv, name, params) extern rv name params;
TEP_CK_FUNCTIONS(REDECLARE)
SRC
if ! "$cc" -std=c99 -Werror -fsyntax-only -I"$other" -I"$here" \
	"$tmp/signatures.c" 2>"$tmp/signatures.err"; then
	echo "function signatures that differ:"
	sed 's/^/  /' "$tmp/signatures.err"
	status=1
fi

# Informational: names only one of the two has.
cut -d= -f1 "$tmp/other.out" | LC_ALL=C sort -u >"$tmp/other.printed"
constant_names "$other" | LC_ALL=C comm -23 - "$tmp/tep.names" >"$tmp/only-other"
cut -d= -f1 "$tmp/other.out" | LC_ALL=C sort -u |
	LC_ALL=C comm -23 - "$tmp/tep.printed" >>"$tmp/only-other"
# A structure that only one header has is listed once, not per member.
LC_ALL=C comm -23 "$tmp/tep.printed" "$tmp/other.printed" |
	awk '/^sizeof\(/ { gone[substr($0, 8, length($0) - 8)] = 1 }
	     { line[NR] = $0 }
	     END { for (i = 1; i <= NR; i++) {
	             l = line[i]
	             if (l ~ /^offsetof\(/) { s = substr(l, 10); sub(/\..*/, "", s); if (s in gone) continue }
	             print l } }' >"$tmp/only-tep"
if [ -s "$tmp/only-tep" ]; then
	echo "only in TEP's header ($(wc -l <"$tmp/only-tep")):"
	sed 's/^/  /' "$tmp/only-tep"
fi
if [ -s "$tmp/only-other" ]; then
	echo "only in $other/pkcs11.h ($(wc -l <"$tmp/only-other")):"
	sed 's/^/  /' "$tmp/only-other"
fi

echo "check.sh: compared $(wc -l <"$tmp/both") names with $other/pkcs11.h:" \
	"$(wc -l <"$tmp/diff") differences," \
	"$(wc -l <"$tmp/waived") known differences, 68 prototypes" \
	"$( [ -s "$tmp/signatures.err" ] && echo mismatched || echo matched)"
exit "$status"
