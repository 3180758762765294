#!/bin/sh
# Installs the Debian packages the tests, the demo and the bench need
# when they are missing, on a fresh Debian 12 with only Go installed.
# As root it runs apt-get; otherwise it names what is missing and fails.
# It installs no recommended packages, so every library that is only
# loaded at run time (a TCTI, a PKCS#11 module) is named here.
#
# What needs what:
#   gcc libc6-dev make cmake    cgo (the module, go-sqlite3), the C clients
#                               and edge hosts the tests compile, the demo,
#                               make install-service in cmd/tepd's tests
#   opensc                      pkcs11-tool
#   p11-kit p11-kit-modules     p11-kit (server, remote), p11-kit-proxy.so,
#                               p11-kit-client.so
#   libp11-kit-dev              p11-kit's pkcs11.h, for c_headers/check.sh
#   softhsm2                    softhsm2-util and libsofthsm2.so
#   swtpm swtpm-tools           swtpm (every swtpm test), swtpm_setup
#   tpm2-tools                  tpm2_getrandom
#   libtpm2-pkcs11-1 libtpm2-pkcs11-tools   tpm2-pkcs11 and tpm2_ptool
#   tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon   tpm2-pkcs11's broker on
#                               a private D-Bus bus (the bench)
#   libtss2-tcti-swtpm0         the TCTI by which tpm2-abrmd, tpm2-tools
#                               and tpm2-pkcs11 reach swtpm
#   openssl libengine-pkcs11-openssl   openssl req through the pkcs11 engine
#   gnutls-bin                  p11tool
#   socat                       the bench's p11-kit chain over a pty
#   systemd                     systemd-analyze, -sysusers and -tmpfiles,
#                               which check dist/; systemd-cryptenroll
#   cryptsetup-bin e2fsprogs    tep-luks: cryptsetup, mkfs.ext4
#   ima-evm-utils               evmctl, which cross-checks the IMA replay
#   libtss2-esys-3.0.2-0 libtss2-rc0 libtss2-mu0   the TSS2 libraries that
#                               systemd-cryptenroll loads at run time (the
#                               tep-luks systemd interop test)
#   postgresql                  initdb and postgres (internal/postgres: the
#                               verifier's PostgreSQL store, the fleet bench)
#   nats-server                 nats-server (internal/natsd: outbound agents
#                               over NATS, the fleet bench)
#   chromium                    headless Chromium, which loads the
#                               verifier's dashboard (attest/e2e)
set -eu

packages="gcc libc6-dev make cmake opensc p11-kit p11-kit-modules
libp11-kit-dev softhsm2 swtpm swtpm-tools tpm2-tools libtpm2-pkcs11-1
libtpm2-pkcs11-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon
libtss2-tcti-swtpm0 openssl libengine-pkcs11-openssl gnutls-bin socat
systemd cryptsetup-bin e2fsprogs ima-evm-utils
libtss2-esys-3.0.2-0 libtss2-rc0 libtss2-mu0 postgresql nats-server
chromium"

missing=""
for p in $packages; do
	status=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
# shellcheck disable=SC2086 # word splitting of the list is intended
apt-get install -y -q --no-install-recommends $missing </dev/null
