#!/bin/sh
# Installs the Debian packages the tests need when they are missing.
# As root it runs apt-get; otherwise it names what is missing and fails.
# systemd brings systemd-analyze, -sysusers and -tmpfiles, which check dist/.
set -eu

packages="opensc p11-kit softhsm2 swtpm swtpm-tools tpm2-tools
libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-abrmd libtss2-tcti-tabrmd0
libengine-pkcs11-openssl gnutls-bin cryptsetup-bin libsqlite3-dev libssl-dev
cmake socat libp11-kit-dev systemd"

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
