#!/bin/sh
# make demo's signed-configuration step: a device TPM (an swtpm of its own:
# the embedded simulator keeps no NV index from one process to the next)
# is provisioned with tep-provision; the "host" seals a directory with the
# AES key, signed by the policy key, with no TPM; the "device" applies it,
# refuses a replay, applies a second epoch sealed to its ECDH key, and
# rolls back.
set -eu
build=${BUILD:-build}
build=$(cd "$build" && pwd)
tc=$build/tep-config
dir=$(mktemp -d "${TMPDIR:-/tmp}/tep-config-demo.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
show() { say "$*"; "$@"; }

# swtpm on unix sockets: no port to pick. Its control socket is PATH.ctrl.
mkdir -p "$dir/tpm"
swtpm socket --tpm2 --tpmstate dir="$dir/tpm" --flags not-need-init,startup-clear \
	--server type=unixio,path="$dir/swtpm.sock" --ctrl type=unixio,path="$dir/swtpm.sock.ctrl" >"$dir/swtpm.log" 2>&1 &
pid=$!
tpm=swtpm:unix:$dir/swtpm.sock
i=0
until [ -S "$dir/swtpm.sock" ] && [ -S "$dir/swtpm.sock.ctrl" ]; do
	i=$((i + 1))
	[ $i -le 50 ] || { echo "swtpm did not start" >&2; exit 1; }
	sleep 0.1
done

cd "$dir"
echo
echo "== signed, encrypted configuration (tep-config) on swtpm at $tpm"
openssl ecparam -name secp384r1 -genkey -noout -out policy.pem
openssl pkey -in policy.pem -pubout -out policy.pub
(umask 077 && head -c 32 /dev/urandom > config.key)
say "# the device: the policy key, the AES key and an ECDH key in its TPM"
show "$build/tep-provision" device --tpm "$tpm" --policy-key policy.pub --aes-key config.key
show "$build/tep-provision" device-key --tpm "$tpm" --curve p384 -o device.pub
mkdir -p config/app upload
echo "greeting = hello" > config/app/app.conf
say "# the host: no TPM. tep-provision started the epoch counter at 1, so the first blob is epoch 2"
show "$tc" seal --in config --sign-key policy.pem --aes-key config.key --epoch 2 -o upload/tep_user_config_data.bin
say "# the device"
show "$tc" apply --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config --settings none.yaml
show cat opt/tep-config/app/app.conf
show "$tc" seal --in config --sign-key policy.pem --to device.pub --epoch 2 -o upload/tep_user_config_data.bin
say "$tc" apply --tpm "$tpm" ... "# the same epoch again: refused"
"$tc" apply --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config --settings none.yaml && exit 1
echo "greeting = hello again" > config/app/app.conf
"$tc" seal --in config --sign-key policy.pem --to device.pub --epoch 3 -o upload/tep_user_config_data.bin
show "$tc" apply --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config --settings none.yaml
show cat opt/tep-config/app/app.conf
show "$tc" rollback --dest opt/tep-config --settings none.yaml
show cat opt/tep-config/app/app.conf
show "$tc" status --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config
show ls upload/applied upload/rejected
