package tpm

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
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
)

func openSWTPM(hostPort string) (backend, error) {
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return backend{}, fmt.Errorf("parsing swtpm address: %w", err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 || port == 65535 {
		return backend{}, fmt.Errorf("parsing swtpm address: bad data port %q", portStr)
	}
	ctrl := net.JoinHostPort(host, strconv.FormatUint(port+1, 10))
	c, err := net.DialTimeout("tcp", hostPort, swtpmDialTimeout)
	if err != nil {
		return backend{}, fmt.Errorf("connecting to swtpm: %w", err)
	}
	return backend{
		rw:      &swtpmConn{c: c},
		hygiene: true,
		powerOn: func() error { return swtpmInit(ctrl) },
	}, nil
}

// swtpmConn is a transport.TPMCloser over swtpm's data port.
type swtpmConn struct{ c net.Conn }

func (s *swtpmConn) Send(cmd []byte) ([]byte, error) {
	if err := s.c.SetDeadline(time.Now().Add(swtpmCmdTimeout)); err != nil {
		return nil, err
	}
	if _, err := s.c.Write(cmd); err != nil {
		return nil, fmt.Errorf("sending to swtpm: %w", err)
	}
	rsp, err := readResponse(s.c)
	if err != nil {
		return nil, fmt.Errorf("reading from swtpm: %w", err)
	}
	return rsp, nil
}

func (s *swtpmConn) Close() error { return s.c.Close() }

// readResponse reads one TPM response: the header, then as many bytes as
// its size field says, within bounds.
func readResponse(r io.Reader) ([]byte, error) {
	var hdr [tpmHeaderLength]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < tpmHeaderLength || size > maxResponseLength {
		return nil, fmt.Errorf("response size %d out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(r, rsp[tpmHeaderLength:]); err != nil {
		return nil, err
	}
	return rsp, nil
}

// swtpmInit sends CMD_INIT on swtpm's control port: the TPM_Init a
// platform gives a TPM at power-on. swtpm started without
// --flags not-need-init waits for it.
func swtpmInit(addr string) error {
	c, err := net.DialTimeout("tcp", addr, swtpmDialTimeout)
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
