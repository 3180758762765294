package tpm

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/rawio"
)

// swtpm's data port carries raw TPM commands and responses, one at a time.
// Its control port speaks swtpm's own protocol (swtpm's tpm_ioctl.h,
// "Commands used by the non-CUSE TPMs"): a big-endian 32-bit command code
// and its request, answered by a 32-bit result and the response.
const (
	swtpmCmdInit      = 0x02 // CMD_INIT, request: u32 init_flags
	swtpmDialTimeout  = 5 * time.Second
	swtpmCmdTimeout   = 2 * time.Minute
	maxResponseLength = 1 << 16
	tpmHeaderLength   = 10 // tag u16, size u32, code u32 (Part 1, 18.1)
	firstReadLength   = 4096
)

func openSWTPM(addr string) (backend, error) {
	ch, err := swtpm.ParseAddr(addr)
	if err != nil {
		return backend{}, err
	}
	c, err := net.DialTimeout(ch.Network, ch.Data, swtpmDialTimeout)
	if err != nil {
		return backend{}, fmt.Errorf("connecting to swtpm: %w", err)
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		c.Close()
		return backend{}, fmt.Errorf("connecting to swtpm: %w", err)
	}
	return backend{
		rw:      &swtpmConn{c: c, raw: rawio.Conn{RC: rc}},
		hygiene: true,
		powerOn: func() error { return swtpmInit(ch.Network, ch.Ctrl) },
	}, nil
}

// swtpmConn is a transport.TPMCloser over swtpm's data port. Commands
// and responses go in raw calls (see rawio) on the connection, whose
// deadline bounds the waits.
type swtpmConn struct {
	c   net.Conn
	raw rawio.Conn
}

func (s *swtpmConn) Send(cmd []byte) ([]byte, error) {
	if err := s.c.SetDeadline(time.Now().Add(swtpmCmdTimeout)); err != nil {
		return nil, err
	}
	if _, err := s.raw.Write(cmd); err != nil {
		return nil, fmt.Errorf("sending to swtpm: %w", err)
	}
	rsp, err := readResponse(s.raw)
	if err != nil {
		return nil, fmt.Errorf("reading from swtpm: %w", err)
	}
	return rsp, nil
}

func (s *swtpmConn) Close() error { return s.c.Close() }

// readResponse reads one TPM response: the header, then as many bytes as
// its size field says, within bounds. Most responses fit the first read.
// swtpm answers one command at a time, so a read that returns more than
// the response is swtpm out of step: an error.
func readResponse(r io.Reader) ([]byte, error) {
	buf := make([]byte, firstReadLength)
	n, err := io.ReadAtLeast(r, buf, tpmHeaderLength)
	if err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(buf[2:6]))
	switch {
	case size < tpmHeaderLength || size > maxResponseLength:
		return nil, fmt.Errorf("response size %d out of range", size)
	case n > size:
		return nil, fmt.Errorf("%d bytes after a response of %d", n-size, size)
	case n == size:
		return buf[:n], nil
	}
	rsp := make([]byte, size)
	copy(rsp, buf[:n])
	if _, err := io.ReadFull(r, rsp[n:]); err != nil {
		return nil, err
	}
	return rsp, nil
}

// swtpmInit sends CMD_INIT on swtpm's control port: the TPM_Init a
// platform gives a TPM at power-on. swtpm started without
// --flags not-need-init waits for it.
func swtpmInit(network, addr string) error {
	c, err := net.DialTimeout(network, addr, swtpmDialTimeout)
	if err != nil {
		return fmt.Errorf("connecting to swtpm control port: %w", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(swtpmCmdTimeout)); err != nil {
		return err
	}
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], swtpmCmdInit)
	// init_flags 0: keep any volatile state swtpm has stored.
	if _, err := c.Write(req[:]); err != nil {
		return fmt.Errorf("sending CMD_INIT: %w", err)
	}
	var res [4]byte
	if _, err := io.ReadFull(c, res[:]); err != nil {
		return fmt.Errorf("reading CMD_INIT result: %w", err)
	}
	if code := binary.BigEndian.Uint32(res[:]); code != 0 {
		return fmt.Errorf("swtpm CMD_INIT failed with code 0x%x", code)
	}
	return nil
}
