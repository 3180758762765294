#!/bin/sh
# make demo: a fresh token on the embedded TPM simulator, tepd serving it
# on pty pairs, and pkcs11-tool talking to it through libtep_interface.so.
set -eu
build=${BUILD:-build}
module=$build/libtep_interface.so
state=$(mktemp -d "${TMPDIR:-/tmp}/tep-demo.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$state"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
show() { say "$*"; "$@"; }

show "$build/tepd" init --state "$state" --tpm sim --label "TEP Token" --so-pin 87654321 --user-pin 1234
say "$build/tepd" serve --state "$state" --tpm sim --pty "$state/run" '&'
"$build/tepd" serve --state "$state" --tpm sim --pty "$state/run" --log-level warn &
pid=$!
i=0
until [ -L "$state/run/ttyS9" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "tepd did not create its ports" >&2; exit 1; }
	sleep 0.1
done

export TEC_COMM_PORT="$state/run/ttyS4"
say export TEC_COMM_PORT="$TEC_COMM_PORT"
show pkcs11-tool --module "$module" --show-info
show pkcs11-tool --module "$module" --list-slots
show pkcs11-tool --module "$module" --list-mechanisms
say pkcs11-tool --module "$module" --login --pin 1234 --generate-random 32 '| od -An -tx1'
pkcs11-tool --module "$module" --login --pin 1234 --generate-random 32 | od -An -tx1
say "echo 'This is TEP' | pkcs11-tool --module $module --hash -m SHA256 | od -An -tx1"
echo 'This is TEP' | pkcs11-tool --module "$module" --hash -m SHA256 | od -An -tx1
printf '\nexpected SHA-256: '
echo 'This is TEP' | sha256sum
show "$build/tep_test_app" 1234

# Provisioning, on a simulator of its own (tepd's is in tepd's process).
# The simulator keeps nothing after a run, so the one run shows it all:
# what it wrote at each handle, and the key file shredded.
say "openssl ecparam -genkey -name secp384r1 | openssl ec -pubout > policy.pub; head -c 32 /dev/urandom > config.key"
openssl ecparam -genkey -name secp384r1 2>/dev/null | openssl ec -pubout -out "$state/policy.pub" 2>/dev/null
(umask 077 && head -c 32 /dev/urandom >"$state/config.key")
show "$build/tep-provision" device --tpm sim --policy-key "$state/policy.pub" --aes-key "$state/config.key" --shred
show "$build/tep-provision" device-key --tpm sim --curve p384
BUILD="$build" ./scripts/demo-config.sh
BUILD="$build" ./scripts/demo-luks.sh
BUILD="$build" ./scripts/demo-attest.sh
echo
echo "demo done: tepd stops and its state directory is removed"
