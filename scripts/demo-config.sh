#!/bin/sh
# make demo's signed-configuration step: a device TPM (an swtpm of its own:
# the embedded simulator keeps no NV index from one process to the next)
# gets a policy key and an ECDH device key; the "host" seals a directory
# to the device key and signs it with the policy key, with no TPM; the
# "device" applies it, refuses a replay, applies a second epoch and rolls
# back.
set -eu
build=${BUILD:-build}
tc=$(cd "$build" && pwd)/tep-config
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

# A free port pair for swtpm's data and control channels.
port=$(python3 -c 'import socket
for p in range(23000, 24000, 2):
    try:
        a, b = socket.socket(), socket.socket()
        a.bind(("127.0.0.1", p)); b.bind(("127.0.0.1", p + 1)); a.close(); b.close(); print(p); break
    except OSError: pass')
mkdir -p "$dir/tpm"
swtpm socket --tpm2 --tpmstate dir="$dir/tpm" --flags not-need-init,startup-clear \
	--server type=tcp,port="$port",bindaddr=127.0.0.1 --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 &
pid=$!
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
tpm=swtpm:127.0.0.1:$port
i=0
until tpm2_getrandom 1 >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -le 50 ] || { echo "swtpm did not start" >&2; exit 1; }
	sleep 0.1
done

cd "$dir"
echo
echo "== signed, encrypted configuration (tep-config) on swtpm at $tpm"
show openssl ecparam -name secp384r1 -genkey -noout -out policy.pem
openssl pkey -in policy.pem -pubout -outform DER -out policy.der
say "# the device: the policy key in NV 0x018A0000, an ECDH key at 0x8100A002"
show tpm2_nvdefine 0x018A0000 -C o -s "$(stat -c %s policy.der)" -a "ownerread|ownerwrite|authread|no_da"
show tpm2_nvwrite 0x018A0000 -C o -i policy.der
tpm2_createprimary -Q -C o -G ecc384:ecdh-sha256 -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|decrypt" -c dk.ctx
show tpm2_evictcontrol -C o -c dk.ctx 0x8100A002
show tpm2_readpublic -Q -c 0x8100A002 -f pem -o device.pub
mkdir -p config/app upload
echo "greeting = hello" > config/app/app.conf
say "# the host: no TPM"
show "$tc" seal --in config --sign-key policy.pem --to device.pub --epoch 1 -o upload/tep_user_config_data.bin
say "# the device"
show "$tc" apply --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config --settings none.yaml
show cat opt/tep-config/app/app.conf
show "$tc" seal --in config --sign-key policy.pem --to device.pub --epoch 1 -o upload/tep_user_config_data.bin
say "$tc" apply --tpm "$tpm" ... "# the same epoch again: refused"
"$tc" apply --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config --settings none.yaml && exit 1
echo "greeting = hello again" > config/app/app.conf
"$tc" seal --in config --sign-key policy.pem --to device.pub --epoch 2 -o upload/tep_user_config_data.bin
show "$tc" apply --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config --settings none.yaml
show cat opt/tep-config/app/app.conf
show "$tc" rollback --dest opt/tep-config --settings none.yaml
show cat opt/tep-config/app/app.conf
show "$tc" status --tpm "$tpm" --blob upload/tep_user_config_data.bin --dest opt/tep-config
show ls upload/applied upload/rejected
