package swtpm

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreePortPair returns a loopback port P such that P and P+1, the data and
// control ports of an swtpm, were free a moment ago; swtpm may still lose a
// race for them, and the caller retries. The ports are drawn below the
// kernel's ephemeral range: ports it hands out are where outgoing
// connections and their TIME-WAIT remains crowd (tss2's swtpm TCTI opens a
// connection per command), and it hands out odd ports for bind, even ones
// for connect, so P+1 of a kernel-chosen P is often taken.
func FreePortPair() (int, error) {
	lo, hi := 10000, ephemeralLow()-2
	if hi <= lo {
		lo, hi = 1024, 65534
	}
	var err error
	for range 100 {
		port := lo + mrand.IntN(hi-lo)
		var l, l2 net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			continue
		}
		l2, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no two adjacent free loopback ports: %w", err)
}

// ephemeralLow returns the first port of the kernel's ephemeral range, or
// 32768, Linux's default, if it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	if n, err := strconv.Atoi(f[0]); err == nil {
		return n
	}
	return 32768
}
