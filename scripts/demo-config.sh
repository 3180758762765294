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
. "$(dirname "$0")/demo-lib.sh"
start_swtpm

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
