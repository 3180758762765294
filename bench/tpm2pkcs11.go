package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"tep.dev/tep/internal/swtpm"
)

// The tpm2-pkcs11 systems: libtpm2_pkcs11 in the host and behind p11-kit's
// RPC over a pty pair, each on an swtpm of its own. Each reaches its swtpm
// through tpm2-abrmd, the access broker tpm2-pkcs11 is meant to run on; when
// tpm2-abrmd cannot run, through the swtpm TCTI directly, and the system's
// name ends in directSuffix to say so.
const (
	SystemTPM2PKCS11 = "tpm2-pkcs11-swtpm"
	SystemP11KitTPM2 = "p11kit-rpc-pty-tpm2-pkcs11"

	directSuffix = "-direct"

	SystemTPM2PKCS11Direct = SystemTPM2PKCS11 + directSuffix
	SystemP11KitTPM2Direct = SystemP11KitTPM2 + directSuffix
)

// Where Debian's libtpm2-pkcs11-1 puts the module.
var tpm2PKCS11Paths = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
	"/usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1",
	"/usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
	"/usr/lib/aarch64-linux-gnu/libtpm2_pkcs11.so.1",
}

// tabrmdTCTI is how tpm2-pkcs11 and the tools reach the tpm2-abrmd on the
// session bus that DBUS_SESSION_BUS_ADDRESS names. tpm2-abrmd, or
// tpm2-pkcs11 itself when direct, reaches swtpm with the TSS's swtpm
// TCTI, which opens a new TCP connection for every TPM command (strace
// shows it): part of tpm2-pkcs11's cost on swtpm as Debian ships it, and
// the reason for the way swtpm.FreePortPair picks ports.
const tabrmdTCTI = "tabrmd:bus_type=session"

// tpm2Stack is what tpm2-pkcs11 runs on: an swtpm, a private D-Bus
// session bus and tpm2-abrmd on it (none of the two when direct), and a
// store (tpm2-pkcs11's SQLite database) holding the bench token and,
// with the broker, an AES-256 key in it labelled aesLabel.
type tpm2Stack struct {
	sw         *swtpm.Process
	bus, abrmd *proc
	module     string
	// env is what a process loading module needs besides its own
	// environment: the TCTI, the store and the bus.
	env []string
	// fallback is why tpm2-abrmd is not used, when it is not.
	fallback error
}

// startTPM2PKCS11 starts an swtpm and, with the command abrmd (normally
// "tpm2-abrmd"), a broker in front of it, then provisions a store. Its
// files in dir begin with name. A broker that does not come up is not an
// error: the stack then lets tpm2-pkcs11 reach swtpm directly, and
// fallback says why.
func startTPM2PKCS11(dir, name, abrmd string) (*tpm2Stack, error) {
	module, err := firstExisting(tpm2PKCS11Paths)
	if err != nil {
		return nil, err
	}
	sw, err := startSWTPM(dir, name+"-swtpm", ChipNice, true)
	if err != nil {
		return nil, err
	}
	t := &tpm2Stack{sw: sw, module: module}
	tcti := tcti(sw)
	if addr, err := t.startBroker(dir, name, abrmd, tcti); err != nil {
		t.fallback = err
	} else {
		tcti = tabrmdTCTI
		t.env = append(t.env, "DBUS_SESSION_BUS_ADDRESS="+addr)
	}
	store := filepath.Join(dir, name+"-store")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.stop()
		return nil, err
	}
	t.env = append(t.env, "TPM2_PKCS11_TCTI="+tcti, "TPM2_PKCS11_STORE="+store)
	if err := t.provision(store, tcti); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// provision makes the store: the bench token and, as tpm2-pkcs11 has no
// C_GenerateKey, Crypto's AES key, with tpm2_ptool through the broker.
//
// Without the broker tpm2_ptool fails: it runs tpm2-tools one after
// another, each leaving what it loaded in the TPM when no resource
// manager flushes it, and swtpm holds three objects. tpm2-pkcs11 itself
// flushes what it loads, so then the token is made through PKCS#11 with
// pkcs11-tool, and there is no AES key.
func (t *tpm2Stack) provision(store, tcti string) error {
	env := append(os.Environ(), t.env...)
	if t.direct() {
		if err := runTool(env, "pkcs11-tool", "--init-token", "--module", t.module,
			"--label", tokenLabel, "--so-pin", soPIN); err != nil {
			return err
		}
		return runTool(env, "pkcs11-tool", "--init-pin", "--module", t.module, "--token-label", tokenLabel,
			"--login", "--login-type", "so", "--so-pin", soPIN, "--pin", userPIN)
	}
	// tpm2_ptool reads its TCTI from TPM2TOOLS_TCTI. A fresh store's
	// first primary key has id 1.
	env = append(env, "TPM2TOOLS_TCTI="+tcti)
	for _, args := range [][]string{
		{"init", "--path", store},
		{"addtoken", "--pid=1", "--label=" + tokenLabel, "--sopin=" + soPIN, "--userpin=" + userPIN, "--path", store},
		{"addkey", "--label=" + tokenLabel, "--key-label=" + aesLabel, "--algorithm=aes256", "--userpin=" + userPIN, "--path", store},
	} {
		if err := runTool(env, "tpm2_ptool", args...); err != nil {
			return err
		}
	}
	return nil
}

// startBroker starts a D-Bus session daemon listening only on a unix
// socket in dir, and tpm2-abrmd on it in front of the TPM at tcti, and
// waits until a TPM command goes through. It returns the bus's address;
// on failure it stops what it started.
func (t *tpm2Stack) startBroker(dir, name, abrmd, tcti string) (string, error) {
	sock := filepath.Join(dir, name+"-bus")
	addr := "unix:path=" + dbusEscape(sock)
	conf := filepath.Join(dir, name+"-dbus.conf")
	if err := os.WriteFile(conf, dbusConfig(addr), 0o600); err != nil {
		return "", err
	}
	var err error
	t.bus, err = startProc(filepath.Join(dir, name+"-dbus.log"), nil,
		"dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	if err != nil {
		return "", err
	}
	if err := waitPath(t.bus, sock, 5*time.Second); err != nil {
		t.stopBroker()
		return "", err
	}
	env := append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr)
	// --flush-all: nothing a previous user left in the TPM counts
	// against the broker's limits. --allow-root: the bench may run as
	// root, as CI does.
	t.abrmd, err = startProc(filepath.Join(dir, name+"-abrmd.log"), env,
		abrmd, "--session", "--tcti="+tcti, "--flush-all", "--allow-root")
	if err != nil {
		t.stopBroker()
		return "", err
	}
	if err := waitBroker(t.abrmd, append(env, "TPM2TOOLS_TCTI="+tabrmdTCTI)); err != nil {
		t.stopBroker()
		return "", err
	}
	return addr, nil
}

// waitBroker waits until tpm2_getrandom gets an answer from the TPM
// through the broker p, for at most 10 s or until p exits. The broker
// takes its name on the bus only once it has reached the TPM, and a
// client finds no broker before that.
func waitBroker(p *proc, env []string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cmd := exec.CommandContext(ctx, "tpm2_getrandom", "--hex", "8")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		if p.exited() || time.Now().After(deadline) {
			return fmt.Errorf("%w; tpm2_getrandom through it: %v: %s",
				p.failure("waiting for tpm2-abrmd"), err, bytes.TrimSpace(out))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dbusConfig is a session bus that listens on addr alone, starts no
// services (so that a stray tpm2-abrmd cannot be activated on it) and
// lets its one user do anything.
func dbusConfig(addr string) []byte {
	var esc bytes.Buffer
	xml.EscapeText(&esc, []byte(addr))
	return []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>` + esc.String() + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`)
}

// dbusEscape escapes a value in a D-Bus address: every byte outside
// [-0-9A-Za-z_/.\*] becomes %xx (D-Bus Specification, Server Addresses).
func dbusEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte(`-_/.\*`, c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// stop ends the broker, then the bus, then swtpm.
func (t *tpm2Stack) stop() {
	t.stopBroker()
	t.sw.Stop()
}

func (t *tpm2Stack) stopBroker() {
	if t.abrmd != nil {
		t.abrmd.stop()
		t.abrmd = nil
	}
	if t.bus != nil {
		t.bus.stop()
		t.bus = nil
	}
}

// direct says whether tpm2-pkcs11 reaches swtpm without the broker.
func (t *tpm2Stack) direct() bool { return t.fallback != nil }
