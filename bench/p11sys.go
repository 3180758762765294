package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"tep.dev/tep/internal/tepdproc"
)

// The token every system serves, with the same PINs everywhere.
const (
	tokenLabel = "bench"
	soPIN      = "87654321"
	userPIN    = "1234"
)

// Where Debian puts the modules; the first that exists is used.
var (
	softHSMPaths = []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	}
	p11KitClientPaths = []string{
		"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
		"/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so",
		"/usr/lib/pkcs11/p11-kit-client.so",
	}
)

func firstExisting(paths []string) (string, error) {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s exists", strings.Join(paths, ", "))
}

// tepd is a running tepd serving six pty ports, and the module that
// reaches it.
type tepd struct {
	*tepdproc.Server
	so  string   // libtep_interface.so
	log *os.File // tepd serve's output
}

// startTEPD initialises a token on TPM spec (as tepd's --tpm takes it) in
// dir/name and serves it on ptys in dir/name/run, with build/tepd and
// serveFlags added to its serve command; its output goes to dir/name.log.
func startTEPD(dir, name, build, spec string, serveFlags ...string) (*tepd, error) {
	build, err := filepath.Abs(build)
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	srv, _, err := tepdproc.Start(tepdproc.Config{Bin: filepath.Join(build, "tepd"), State: filepath.Join(dir, name), TPM: spec,
		Label: tokenLabel, SOPIN: soPIN, UserPIN: userPIN, ServeArgs: serveFlags, Output: log})
	if err != nil {
		log.Close()
		return nil, err
	}
	return &tepd{Server: srv, so: filepath.Join(build, "libtep_interface.so"), log: log}, nil
}

// stop ends tepd and closes its log.
func (t *tepd) stop() {
	t.Stop()
	t.log.Close()
}

// setUpSoftHSM writes a SoftHSMv2 configuration with its token directory
// in dir, initialises the bench token, and returns the configuration's
// path for SOFTHSM2_CONF.
func setUpSoftHSM(dir string) (string, error) {
	tokens := filepath.Join(dir, "softhsm-tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return "", err
	}
	env := append(os.Environ(), "SOFTHSM2_CONF="+conf)
	err := runTool(env, "softhsm2-util", "--init-token", "--free", "--label", tokenLabel, "--so-pin", soPIN, "--pin", userPIN)
	return conf, err
}

// p11KitChain is p11-kit's RPC protocol carried over a pty pair to a
// module (SoftHSMv2 or tpm2-pkcs11), the way a guest could reach a
// PKCS#11 module in another VM through a virtual UART without TEP:
//
//	p11-kit-client.so in the host (P11_KIT_SERVER_ADDRESS=unix:path=S)
//	  ⇅ unix socket S
//	socat B: UNIX-LISTEN:S ⇄ OPEN:P,rawer     holds the pty's slave end P
//	  ⇅ pty pair (raw mode, so the line discipline passes every byte as is)
//	socat A: PTY,link=P,rawer,wait-slave ⇄ EXEC   holds /dev/ptmx
//	  ⇅ socketpair (p11-kit remote's stdin and stdout)
//	p11-kit remote MODULE
//
// Two socats are needed because p11-kit remote refuses to run with a
// terminal as its stdin ("not meant to be run from a terminal"), so the pty
// cannot end at p11-kit remote itself, and the client module only speaks to
// a unix socket, a vsock or a command's pipes, never to a tty. So this
// peer pays two user-space relays that TEP, whose host opens the pty
// slave itself, does not; stock p11-kit offers no shorter way onto a pty.
// Every byte of every call crosses the pty: checkPTY verifies that socat A
// holds the master, socat B the slave and p11-kit remote neither, and
// strace of a run shows each request written by socat B to the slave and
// read by socat A from /dev/ptmx.
//
// The chain serves one client connection (socat B does not fork), since
// p11-kit remote speaks to one client from start to end.
type p11KitChain struct {
	a, b *proc
	pty  string // symlink to the slave end
	addr string // for P11_KIT_SERVER_ADDRESS
}

// startP11Kit starts a chain to module in dir whose files begin with
// name; p11-kit remote, which loads module, runs in this environment plus
// env.
func startP11Kit(dir, name, module string, env []string) (*p11KitChain, error) {
	// socat splits addresses at these characters.
	if strings.ContainsAny(dir+module, ":,!;'\"\\ ") {
		return nil, fmt.Errorf("path %q or %q has a character socat cannot take in an address", dir, module)
	}
	c := &p11KitChain{pty: filepath.Join(dir, name+"-pty")}
	sock := filepath.Join(dir, name+".sock")
	c.addr = "unix:path=" + sock
	var err error
	c.a, err = startProc(filepath.Join(dir, name+"-a.log"), append(os.Environ(), env...), "socat",
		"PTY,link="+c.pty+",rawer,wait-slave", "EXEC:p11-kit remote "+module)
	if err != nil {
		return nil, err
	}
	if err := waitPath(c.a, c.pty, 5*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	c.b, err = startProc(filepath.Join(dir, name+"-b.log"), nil, "socat",
		"UNIX-LISTEN:"+sock, "OPEN:"+c.pty+",rawer")
	if err != nil {
		c.stop()
		return nil, err
	}
	if err := waitPath(c.b, sock, 5*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// stop ends socat B, then socat A, which closes p11-kit remote's stdin,
// and then waits for p11-kit remote to end too.
func (c *p11KitChain) stop() {
	remote, err := c.server()
	if c.b != nil {
		c.b.stop()
	}
	if c.a != nil {
		c.a.stop()
	}
	if err == nil {
		endOrphan(remote, "p11-kit")
	}
}

// checkPTY verifies, once a client is connected, that the bytes between
// the socket and p11-kit remote have no way around the pty: socat A holds
// /dev/ptmx, socat B the slave it links to, and p11-kit remote neither.
func (c *p11KitChain) checkPTY() error {
	slave, err := filepath.EvalSymlinks(c.pty)
	if err != nil {
		return err
	}
	a, err := openFiles(c.a.pid())
	if err != nil {
		return err
	}
	b, err := openFiles(c.b.pid())
	if err != nil {
		return err
	}
	if !slices.Contains(a, "/dev/ptmx") {
		return fmt.Errorf("socat A does not hold the pty master: %v", a)
	}
	if !slices.Contains(b, slave) {
		return fmt.Errorf("socat B does not hold the pty slave %s: %v", slave, b)
	}
	remote, err := c.server()
	if err != nil {
		return err
	}
	r, err := openFiles(remote)
	if err != nil {
		return err
	}
	if slices.Contains(r, slave) || slices.Contains(r, "/dev/ptmx") {
		return fmt.Errorf("p11-kit remote holds the pty itself: %v", r)
	}
	return nil
}

// server returns the process id of p11-kit remote, socat A's child.
func (c *p11KitChain) server() (int, error) {
	if c.a == nil || c.a.exited() {
		return 0, errors.New("socat A is not running")
	}
	kids, err := children(c.a.pid())
	if err != nil {
		return 0, err
	}
	if len(kids) != 1 {
		return 0, errors.New("socat A has not started p11-kit remote")
	}
	return kids[0], nil
}
