package swtpm

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		spec, flags, network, data, ctrl string
	}{
		{"swtpm:unix:/run/tpm.sock", "--server type=unixio,path=/run/tpm.sock --ctrl type=unixio,path=/run/tpm.sock.ctrl", "unix", "/run/tpm.sock", "/run/tpm.sock.ctrl"},
		{"swtpm:127.0.0.1:2321", "--server type=tcp,port=2321,bindaddr=127.0.0.1 --ctrl type=tcp,port=2322,bindaddr=127.0.0.1", "tcp", "127.0.0.1:2321", "127.0.0.1:2322"},
	} {
		a, err := ParseSpec(c.spec)
		if err != nil || strings.Join(a.Flags(), " ") != c.flags || a.Network != c.network || a.Data != c.data || a.Ctrl != c.ctrl {
			t.Errorf("ParseSpec(%q) = %+v (flags %q), %v; want %s %s %s, flags %q", c.spec, a, a.Flags(), err, c.network, c.data, c.ctrl, c.flags)
		}
	}
	for _, spec := range []string{"sim", "swtpm:unix:", "swtpm:127.0.0.1:0", "swtpm:127.0.0.1:65535", "swtpm:127.0.0.1:port", "swtpm:nohost"} {
		if _, err := ParseSpec(spec); err == nil {
			t.Errorf("ParseSpec(%q) succeeded, want an error", spec)
		}
	}
}

// TestStart starts swtpm both ways and checks that its spec reaches it
// and that Stop ends it and removes its sockets.
func TestStart(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		log := filepath.Join(t.TempDir(), "swtpm.log")
		p, err := Start(Config{State: filepath.Join(t.TempDir(), "state"), TCP: tcp, Log: log})
		if err != nil {
			t.Fatalf("Start(TCP %v) = %v", tcp, err)
		}
		a, err := ParseSpec(p.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if (a.Network == "tcp") != tcp || (p.Port != 0) != tcp {
			t.Errorf("Start(TCP %v): spec %q, port %d", tcp, p.Spec, p.Port)
		}
		c, err := net.Dial(a.Network, a.Ctrl)
		if err != nil {
			t.Errorf("dialling the control channel of %s: %v", p.Spec, err)
		} else {
			c.Close()
		}
		p.Stop()
		p.Stop()
		if !p.Exited() {
			t.Errorf("swtpm at %s still runs after Stop", p.Spec)
		}
		if _, err := os.Stat(filepath.Dir(a.Data)); !tcp && !os.IsNotExist(err) {
			t.Errorf("socket directory of %s after Stop: %v, want it gone", p.Spec, err)
		}
	}
}

// TestStartFails checks that an swtpm that cannot start is an error that
// carries what swtpm said.
func TestStartFails(t *testing.T) {
	state := t.TempDir()
	// libtpms refuses state that does not begin with its magic number.
	junk := bytes.Repeat([]byte{0x5a}, 3000)
	if err := os.WriteFile(filepath.Join(state, "tpm2-00.permall"), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "swtpm.log")
	p, err := Start(Config{State: state, Log: log})
	if err == nil {
		p.Stop()
		t.Fatalf("Start on a corrupt state succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "swtpm exited") || !strings.Contains(err.Error(), "libtpms") {
		t.Errorf("Start error %q, want swtpm's exit and its output", err)
	}
	if b, err := os.ReadFile(log); err != nil || !bytes.Contains(b, []byte("libtpms")) {
		t.Errorf("swtpm's log = %q, %v; want its output", b, err)
	}
	if _, err := Start(Config{}); err == nil {
		t.Error("Start without a state directory succeeded, want an error")
	}
}

func TestFreePortPair(t *testing.T) {
	port, err := FreePortPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{port, port + 1} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d of the pair: %v", p, err)
			continue
		}
		l.Close()
	}
}
