package swtpm

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ctrlSuffix names the control socket of an swtpm reached by a Unix
// socket: the data socket's path with this added.
const ctrlSuffix = ".ctrl"

// Addr is where an swtpm listens: its data channel, which carries raw TPM
// commands, and its control channel, which speaks swtpm's own protocol,
// both on one network ("tcp" or "unix").
type Addr struct{ Network, Data, Ctrl string }

// ParseAddr reads an swtpm address, what follows "swtpm:" in a TPM spec:
// "HOST:PORT" (control port PORT+1) or "unix:PATH" (control socket
// PATH.ctrl).
func ParseAddr(addr string) (Addr, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return Addr{}, errors.New("swtpm address: empty socket path")
		}
		return Addr{"unix", path, path + ctrlSuffix}, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return Addr{}, fmt.Errorf("parsing swtpm address: %w", err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 || port == 65535 {
		return Addr{}, fmt.Errorf("parsing swtpm address: bad data port %q", portStr)
	}
	return Addr{"tcp", addr, net.JoinHostPort(host, strconv.FormatUint(port+1, 10))}, nil
}

// ParseSpec reads a TPM spec that names an swtpm ("swtpm:...").
func ParseSpec(spec string) (Addr, error) {
	rest, ok := strings.CutPrefix(spec, "swtpm:")
	if !ok {
		return Addr{}, fmt.Errorf("%q is not an swtpm spec", spec)
	}
	return ParseAddr(rest)
}

// Flags returns the --server and --ctrl flags of swtpm socket that make
// it listen at a.
func (a Addr) Flags() []string {
	channel := func(addr string) string {
		if a.Network == "unix" {
			return "type=unixio,path=" + addr
		}
		host, port, _ := net.SplitHostPort(addr)
		return "type=tcp,port=" + port + ",bindaddr=" + host
	}
	return []string{"--server", channel(a.Data), "--ctrl", channel(a.Ctrl)}
}
