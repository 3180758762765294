package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// How long a host may take to load its module and log in, and to answer
// one round of calls. TEP's provider gives up on a silent server after
// 5 s at C_Initialize, and on a call after 2 minutes.
const (
	helloTimeout = time.Minute
	replyTimeout = 5 * time.Minute
)

// host is a running P11Host process, seen from P11.
type host struct {
	*proc
	name  string
	in    *os.File    // the host's stdin
	lines chan []byte // the host's stdout, a line at a time; closed at EOF
	hello hostHello
	dead  error // set once the host stopped answering
}

// startHost runs command with module appended, in this environment plus
// env, and reads its hello. The host's stderr goes to dir/name-host.log.
func startHost(dir, name string, command []string, module string, env []string) (*host, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	args := append(command[1:len(command):len(command)], module)
	p, err := startProcIO(filepath.Join(dir, name+"-host.log"), append(os.Environ(), env...), inR, outW, command[0], args...)
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	h := &host{proc: p, name: name, in: inW, lines: make(chan []byte, 1)}
	go func() {
		defer close(h.lines)
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			h.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	if err := h.read(&h.hello, helloTimeout); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

func (h *host) label() string { return h.name }

// request sends one request and waits for the reply.
func (h *host) request(req hostRequest) (hostReply, error) {
	if h.dead != nil {
		return hostReply{}, h.dead
	}
	var rep hostReply
	err := json.NewEncoder(h.in).Encode(req)
	if err == nil {
		err = h.read(&rep, replyTimeout)
	}
	if err != nil {
		h.dead = err
	}
	return rep, err
}

// read decodes the host's next line into v.
func (h *host) read(v any, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case line, ok := <-h.lines:
		if !ok {
			// Give the process a moment to be reaped, for its status.
			select {
			case <-h.done:
			case <-time.After(time.Second):
			}
			return h.failure(h.name + " host")
		}
		if err := json.Unmarshal(line, v); err != nil {
			return fmt.Errorf("%s host wrote %q: %v", h.name, line, err)
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("%s host: no answer in %v", h.name, timeout)
	}
}

// stop closes the host's stdin, which lets it log out, finalise and exit;
// one that does not exit within stopGrace is stopped like any process.
func (h *host) stop() {
	h.in.Close()
	select {
	case <-h.done:
	case <-time.After(stopGrace):
	}
	h.proc.stop()
	for range h.lines {
	}
}
