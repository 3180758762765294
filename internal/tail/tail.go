// Package tail keeps the end of what a child process wrote, for the error
// that reports the process's failure: the launchers of swtpm and tepd
// (internal/swtpm, internal/tepdproc) hand a Buffer to exec as the
// process's stdout and stderr.
//
// Concurrency: a Buffer is safe for concurrent use; exec's copying
// goroutine writes while the launcher reads.
package tail

import "sync"

// DefaultSize is how many bytes a Buffer with no Size keeps.
const DefaultSize = 2048

// Buffer keeps the last Size bytes written to it. The zero value keeps
// DefaultSize.
type Buffer struct {
	Size int

	mu sync.Mutex
	b  []byte
}

// Write keeps the end of p with what came before; it never fails.
func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	size := t.Size
	if size <= 0 {
		size = DefaultSize
	}
	t.b = append(t.b, p...)
	if len(t.b) > size {
		t.b = append(t.b[:0], t.b[len(t.b)-size:]...)
	}
	return len(p), nil
}

// String returns the bytes kept.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
