package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSendNotify: the datagram reaches a real unix datagram socket, named
// by a path or in the abstract namespace; a socket that is not there or
// a relative name is an error; no socket is no error.
func TestSendNotify(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		fmt.Sprintf("@tepd-test-notify-%d", os.Getpid()),
	} {
		l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		if err := sendNotify(name, "READY=1"); err != nil {
			t.Errorf("sendNotify(%q): %v", name, err)
		}
		l.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		n, err := l.Read(buf)
		if err != nil || string(buf[:n]) != "READY=1" {
			t.Errorf("%s received %q, %v; want READY=1", name, buf[:n], err)
		}
		l.Close()
	}
	if err := sendNotify("", "READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v, want nothing done", err)
	}
	for _, bad := range []string{filepath.Join(t.TempDir(), "absent"), "relative/notify"} {
		if err := sendNotify(bad, "READY=1"); err == nil {
			t.Errorf("sendNotify(%q) succeeded", bad)
		}
	}
}
