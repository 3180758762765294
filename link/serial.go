package link

import (
	"fmt"
	"os"
	"sync"
	"time"

	"go.bug.st/serial"
)

// OpenSerial opens a real serial device for the server: raw 8N1 at baud,
// claimed exclusively so that no second server can open it.
func OpenSerial(path string, baud int) (Stream, error) {
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("opening serial port %s: %w", path, err)
	}
	return &serialStream{port: p}, nil
}

// serialStream turns go.bug.st/serial's per-read timeout into the read
// deadline that Stream promises.
type serialStream struct {
	port serial.Port

	mu       sync.Mutex
	deadline time.Time
}

// pollSlice bounds one blocking read, so that a deadline moved while a read
// waits (Conn.Interrupt) takes effect within it.
const pollSlice = 200 * time.Millisecond

func (s *serialStream) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		d := s.deadline
		s.mu.Unlock()
		timeout := pollSlice
		if !d.IsZero() {
			left := time.Until(d)
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			timeout = min(timeout, left)
		}
		if err := s.port.SetReadTimeout(timeout); err != nil {
			return 0, err
		}
		if n, err := s.port.Read(p); n > 0 || err != nil {
			return n, err
		}
	}
}

func (s *serialStream) Write(p []byte) (int, error) { return s.port.Write(p) }
func (s *serialStream) Close() error                { return s.port.Close() }

func (s *serialStream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	return nil
}
