# Sourced by make demo's steps: how a step prints the commands it runs,
# and an swtpm of its own on Unix sockets (the embedded simulator keeps
# no NV index from one process to the next). A step sets $dir, sources
# this file, and calls start_swtpm; the trap stops swtpm and removes $dir.

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
show() { say "$*"; "$@"; }

swtpm_pid=
cleanup() {
	if [ -n "$swtpm_pid" ]; then
		kill "$swtpm_pid" 2>/dev/null || true
		wait "$swtpm_pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# manufacture [swtpm_setup options]: a TPM state in $dir/tpm as a vendor
# makes one, with EK certificates from a local CA in $dir/ca.
manufacture() {
	mkdir -p "$dir/tpm" "$dir/ca"
	cat >"$dir/ca/localca.conf" <<-CONF
		statedir = $dir/ca
		signingkey = $dir/ca/signkey.pem
		issuercert = $dir/ca/issuercert.pem
		certserial = $dir/ca/certserial
	CONF
	cat >"$dir/ca/setup.conf" <<-CONF
		create_certs_tool = swtpm_localca
		create_certs_tool_config = $dir/ca/localca.conf
		create_certs_tool_options = /dev/null
	CONF
	swtpm_setup --tpm2 --tpmstate "$dir/tpm" --config "$dir/ca/setup.conf" "$@" >"$dir/swtpm_setup.log" 2>&1 ||
		{ cat "$dir/swtpm_setup.log" >&2; exit 1; }
}

# start_swtpm [tcp]: swtpm on $dir/tpm, its data socket $dir/swtpm.sock
# (the control socket beside it, .ctrl), or with tcp on a loopback port
# P (control P+1) that tpm2-tools reach through $TPM2TOOLS_TCTI; sets $tpm
# to the spec for --tpm.
start_swtpm() {
	mkdir -p "$dir/tpm"
	if [ "${1:-}" = tcp ]; then
		port=$(shuf -i 10000-32000 -n 1) # below the ephemeral ports (32768-)
		server="type=tcp,port=$port,bindaddr=127.0.0.1" ctrl="type=tcp,port=$((port + 1)),bindaddr=127.0.0.1"
		tpm=swtpm:127.0.0.1:$port
		TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port
		export TPM2TOOLS_TCTI
	else
		server="type=unixio,path=$dir/swtpm.sock" ctrl="type=unixio,path=$dir/swtpm.sock.ctrl"
		tpm=swtpm:unix:$dir/swtpm.sock
	fi
	swtpm socket --tpm2 --tpmstate dir="$dir/tpm" --flags not-need-init,startup-clear \
		--server "$server" --ctrl "$ctrl" >"$dir/swtpm.log" 2>&1 &
	swtpm_pid=$!
	i=0
	until "$build/tep-provision" status --tpm "$tpm" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -le 50 ] || { echo "swtpm did not start" >&2; cat "$dir/swtpm.log" >&2; exit 1; }
		sleep 0.1
	done
}
