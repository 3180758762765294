#!/bin/sh
# make demo's LUKS step: on an swtpm of its own, provisioned with the
# operator's policy key, the "admin" signs a PCR policy with no TPM; the
# "device" seals a passphrase from its TPM under that policy and formats
# an image file with it (first boot), then unlocks it; then a PCR moves
# and the same policy no longer unseals. Without device-mapper (as in a
# container) tep-luks checks the passphrase instead of mapping the
# volume, and says so.
set -eu
build=${BUILD:-build}
build=$(cd "$build" && pwd)
tl=$build/tep-luks
dir=$(mktemp -d "${TMPDIR:-/tmp}/tep-luks-demo.XXXXXX")
. "$(dirname "$0")/demo-lib.sh"
start_swtpm tcp

cd "$dir"
echo
echo "== a LUKS passphrase sealed under a signed PCR policy (tep-luks) on swtpm at $tpm"
openssl ecparam -name secp384r1 -genkey -noout -out policy.pem
openssl pkey -in policy.pem -pubout -out policy.pub
(umask 077 && head -c 32 /dev/urandom >config.key)
"$build/tep-provision" device --tpm "$tpm" --policy-key policy.pub --aes-key config.key --shred >/dev/null
truncate -s 64M part.img
say "# the admin, no TPM: a fresh TPM's PCRs 0, 7 and 10 are zeros, as tpm2_pcrread -o pcrs.dat sha256:0,7,10 would write them"
head -c 96 /dev/zero >pcrs.dat
show "$tl" sign --pcr-values pcrs.dat --bank sha256 --key policy.pem --device "$dir/part.img" --mount "$dir/mnt" \
	--pbkdf pbkdf2 --pbkdf-force-iterations 1000 -o luks.yaml
say "# the device, first boot: seal, then format"
show "$tl" setup --tpm "$tpm" --config luks.yaml --state state
show "$tl" unlock --tpm "$tpm" --config luks.yaml --state state
show "$tl" status --tpm "$tpm" --config luks.yaml
say "# PCR 7 moves (a boot with another secure-boot state): the signed policy no longer unseals"
show tpm2_pcrextend 7:sha256=$(printf 'another secure-boot state' | sha256sum | cut -d' ' -f1)
"$tl" unlock --tpm "$tpm" --config luks.yaml --state state && exit 1
say "# the admin signs the new value: no re-seal on the device"
tpm2_pcrread -o pcrs.dat sha256:0,7,10 >/dev/null
show "$tl" sign --pcr-values pcrs.dat --bank sha256 --key policy.pem --device "$dir/part.img" --mount "$dir/mnt" \
	--pbkdf pbkdf2 --pbkdf-force-iterations 1000 -o luks.yaml
show "$tl" unlock --tpm "$tpm" --config luks.yaml --state state
