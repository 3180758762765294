package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// connPair is a connected pair of unix stream sockets in the poller; both
// close when the test ends.
func connPair(t *testing.T) (a, b *net.UnixConn, ra, rb Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	raws := make([]Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
		rc, err := conns[i].SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = Conn{RC: rc}
	}
	return conns[0], conns[1], raws[0], raws[1]
}

// TestConnLargeWrite: a write larger than the socket holds comes out
// whole and in order while the other end reads slowly.
func TestConnLargeWrite(t *testing.T) {
	_, b, ra, rb := connPair(t)
	want := make([]byte, 4<<20)
	for i := range want {
		want[i] = byte(i*7 + i>>13)
	}
	got := make(chan []byte, 1)
	go func() {
		b.SetReadDeadline(time.Now().Add(10 * time.Second))
		var all []byte
		buf := make([]byte, 5000)
		for len(all) < len(want) {
			n, err := rb.Read(buf)
			if err != nil {
				break
			}
			all = append(all, buf[:n]...)
			if len(all) < 256<<10 {
				time.Sleep(100 * time.Microsecond) // let the socket fill up
			}
		}
		got <- all
	}()
	if n, err := ra.Write(want); n != len(want) || err != nil {
		t.Fatalf("Write of 4 MiB = %d, %v", n, err)
	}
	if all := <-got; !bytes.Equal(all, want) {
		t.Fatalf("the other end read %d bytes, not the 4 MiB written", len(all))
	}
}

// TestConnReadEnds: a read waits for data, returns the deadline of the
// connection when none comes, and io.EOF once the other end has closed.
func TestConnReadEnds(t *testing.T) {
	a, b, _, rb := connPair(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		a.Write([]byte("late"))
	}()
	buf := make([]byte, 16)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rb.Read(buf); err != nil || string(buf[:n]) != "late" {
		t.Errorf("Read = %q, %v; want what came after 20 ms", buf[:n], err)
	}
	b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := rb.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read with nothing to read = %v, want the deadline", err)
	}
	b.SetReadDeadline(time.Time{})
	a.Close()
	if _, err := rb.Read(buf); err != io.EOF {
		t.Errorf("Read after the other end closed = %v, want io.EOF", err)
	}
}

// TestConnWriteClosed: a write on a closed connection fails, and one to a
// peer that has gone reports the errno.
func TestConnWriteClosed(t *testing.T) {
	a, b, ra, rb := connPair(t)
	b.Close()
	if _, err := ra.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Write to a closed peer = %v, want EPIPE", err)
	}
	a.Close()
	if _, err := ra.Write([]byte("x")); err == nil {
		t.Error("Write on a closed connection succeeded")
	}
	if _, err := rb.Read(make([]byte, 1)); err == nil {
		t.Error("Read on a closed connection succeeded")
	}
}
