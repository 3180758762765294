package wire

import (
	"errors"
	"fmt"
)

// Errors from Assembler.Add. A frame that causes one is dropped together
// with the partial message it would have continued; the next frame at
// offset zero starts afresh.
var (
	ErrTooLarge   = errors.New("wire: message exceeds the size limit")
	ErrOutOfOrder = errors.New("wire: frame does not continue the message")
)

// Assembler puts messages back together from frames. Frames of one message
// arrive in order (a link is a byte stream); a gap, a frame from another
// message, or a new message before the last one ended drops the partial
// message and is counted.
type Assembler struct {
	// MaxMessage bounds the message length, checked before allocating;
	// zero means DefaultMaxMessage.
	MaxMessage int

	buf    []byte // reused between messages
	total  int
	have   int
	active bool

	Messages uint64 // messages completed
	Broken   uint64 // partial messages dropped
}

// Add takes one frame. When the frame completes a message, Add returns it.
// A message that fits one frame aliases body; a longer one aliases the
// assembler's buffer. Either is valid until the next Add.
func (a *Assembler) Add(h Header, body []byte) ([]byte, error) {
	limit := a.MaxMessage
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	if len(body) != h.Size || !h.valid(limit) {
		a.drop()
		if h.Total > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, h.Total, limit)
		}
		return nil, fmt.Errorf("%w: impossible lengths %+v", ErrOutOfOrder, h)
	}
	if h.Offset == 0 {
		a.drop()
		if h.Size == h.Total {
			a.Messages++
			return body, nil
		}
		if cap(a.buf) < h.Total {
			a.buf = make([]byte, h.Total)
		}
		a.buf = a.buf[:h.Total]
		a.total, a.have, a.active = h.Total, 0, true
	} else if !a.active || h.Offset != a.have || h.Total != a.total {
		a.drop()
		return nil, fmt.Errorf("%w: offset %d of %d, expected %d", ErrOutOfOrder, h.Offset, h.Total, a.have)
	}
	a.have += copy(a.buf[a.have:], body)
	if a.have < a.total {
		return nil, nil
	}
	a.active = false
	a.Messages++
	msg := a.buf
	if cap(a.buf) > keepBuffer {
		a.buf = nil // do not pin a huge buffer after a rare large message
	}
	return msg, nil
}

// Active reports whether a partial message is waiting for more frames.
func (a *Assembler) Active() bool { return a.active }

// Reset abandons a partial message, if any, and lets go of the buffer: a
// partial message a reader gave up on must not keep its memory.
func (a *Assembler) Reset() {
	a.drop()
	a.buf = nil
}

// Trim lets go of the buffer, between messages, if it holds more than
// keep bytes.
func (a *Assembler) Trim(keep int) {
	if !a.active && cap(a.buf) > keep {
		a.buf = nil
	}
}

// drop abandons a partial message, if any.
func (a *Assembler) drop() {
	if a.active {
		a.Broken++
		a.active = false
	}
}

// keepBuffer is the largest reassembly buffer kept between messages.
const keepBuffer = 4 << 20
