#!/bin/sh
# make demo's attestation step: a TPM manufactured with an EK certificate
# from a local CA (swtpm_setup), tep-verifier serving HTTPS on loopback,
# the agent enrolling (its AK activated by MakeCredential and
# ActivateCredential) and serving its quotes in pull mode; the operator
# imports flavors from this golden host, and the next pull is trusted.
set -eu
build=${BUILD:-build}
build=$(cd "$build" && pwd)
tv=$build/tep-verifier
ta=$build/tep-attest
dir=$(mktemp -d "${TMPDIR:-/tmp}/tep-attest-demo.XXXXXX")
. "$(dirname "$0")/demo-lib.sh"
manufacture --create-ek-cert --pcr-banks sha256,sha384
start_swtpm
pids=
stop_all() {
	for p in $pids; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	cleanup
}
trap stop_all EXIT INT TERM

cd "$dir"
echo
echo "== remote attestation (tep-attest, tep-verifier) of swtpm at $tpm"
vport=$(shuf -i 10000-20000 -n 1) # below the ephemeral ports (32768-)
aport=$((vport + 10000))
say "$tv" serve --state verifier --listen 127.0.0.1:$vport --ek-ca ca/issuercert.pem --ek-ca ca/swtpm-localca-rootca-cert.pem --pull-interval 1s '&'
"$tv" serve --state verifier --listen 127.0.0.1:$vport --ek-ca ca/issuercert.pem --ek-ca ca/swtpm-localca-rootca-cert.pem \
	--pull-interval 1s --log-level warn 2>verifier.log &
pids="$pids $!"
i=0
until [ -s verifier/tls-cert.pem ] && "$tv" hosts --verifier https://127.0.0.1:$vport --ca verifier/tls-cert.pem \
	--token "$("$tv" token create --state verifier --role auditor | awk '/^token:/ {print $2}')" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -le 100 ] || { echo "tep-verifier did not start" >&2; cat verifier.log >&2; exit 1; }
	sleep 0.1
done
TEP_VERIFIER_URL=https://127.0.0.1:$vport TEP_VERIFIER_CA=$dir/verifier/tls-cert.pem
TEP_VERIFIER_TOKEN=$("$tv" token create --state verifier --role admin | awk '/^token:/ {print $2}')
export TEP_VERIFIER_URL TEP_VERIFIER_CA TEP_VERIFIER_TOKEN
enrol=$("$tv" token create --state verifier --role enroll | awk '/^token:/ {print $2}')
: >no-ima
say "# the device: enrol (EK certificate, AK activated), then serve quotes"
show "$ta" enroll --state agent --tpm "$tpm" --verifier "$TEP_VERIFIER_URL" --ca verifier/tls-cert.pem --token "$enrol" \
	--host-id demo-box --pull-url https://127.0.0.1:$aport --ima-log no-ima --boot-log no-ima
"$ta" serve --state agent --tpm "$tpm" --listen 127.0.0.1:$aport 2>agent.log &
pids="$pids $!"
sleep 2
say "# the operator: no flavor yet, so the host is not trusted"
show "$tv" reports --host demo-box --latest
show "$tv" templates add "$OLDPWD/dist/flavor-template-edge.json"
show "$tv" flavors import --from-host demo-box
say "# a few pulls later (the verifier rereads its policies every 5 s)"
sleep 7
show "$tv" reports --host demo-box --latest
show "$tv" hosts
