package link

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"tep.dev/tep/wire"
)

// Config tunes a Conn. The zero value works.
type Config struct {
	// MaxMessage bounds the messages sent and accepted; zero means
	// wire.DefaultMaxMessage.
	MaxMessage int
	// IdleGap is how long the line may stay quiet in the middle of a
	// frame before the partial frame is given up (its sender died or
	// bytes were lost); zero means DefaultIdleGap.
	IdleGap time.Duration
	// MessageGap is how long the line may stay quiet between the frames
	// of one message before the partial message is given up; zero means
	// DefaultMessageGap.
	MessageGap time.Duration
	// MessageTime bounds the time from a message's first frame to its
	// last; zero means DefaultMessageTime.
	MessageTime time.Duration
	// Budget, when set, bounds the bytes that the partial messages of
	// all Conns sharing it hold together (see Budget). A Conn with a
	// Budget also lets go of a multi-frame message's buffer once the
	// message has been used.
	Budget *Budget
	// BudgetWait is how long a message waits for room in the Budget
	// before it is refused; zero means DefaultBudgetWait.
	BudgetWait time.Duration
}

// DefaultIdleGap is the pause after which a partial frame is abandoned.
// It is far longer than any gap inside a frame a live sender writes, and
// short enough that a killed client costs the next one little.
const DefaultIdleGap = 250 * time.Millisecond

// DefaultMessageGap is the pause between two frames of one message after
// which the partial message is abandoned: a sender writes a message's
// frames back to back.
const DefaultMessageGap = time.Second

// DefaultMessageTime bounds the assembly of one message: the client's
// default call timeout, past which nobody waits for the answer.
const DefaultMessageTime = 2 * time.Minute

// timeZero is the zero deadline: wait for ever.
var timeZero time.Time

// Errors from Receive.
var (
	ErrTimeout     = errors.New("link: no reply before the deadline")
	ErrInterrupted = errors.New("link: interrupted")
	ErrTooLarge    = errors.New("link: message exceeds the size limit")
)

// Stats counts what a Conn received and dropped.
type Stats struct {
	wire.ScanStats
	Messages    uint64 // messages delivered
	Broken      uint64 // partial multi-frame messages dropped
	BadMessages uint64 // complete messages that did not decode
	Expired     uint64 // partial messages given up for time (of Broken)
	Refused     uint64 // multi-frame messages refused by the Budget
}

// Conn reads and writes wire messages on a Stream.
type Conn struct {
	s        Stream
	idleGap  time.Duration
	max      int
	scan     wire.Scanner
	asm      wire.Assembler
	msg      wire.Message
	out      []byte
	stop     atomic.Bool
	deadline time.Time // the read deadline last set on s
	lastByte time.Time // when bytes last arrived

	msgGap, msgTime time.Duration
	budgetWait      time.Duration
	msgStart        time.Time // when the partial message's first frame came
	budget          *Budget
	reserved        int64 // of budget, for the message being assembled

	bad, expired, refused uint64
}

// NewConn returns a Conn on s. The Conn does not own s: closing s is the
// caller's business.
func NewConn(s Stream, cfg Config) *Conn {
	c := &Conn{s: s, idleGap: cfg.IdleGap, max: cfg.MaxMessage, msgGap: cfg.MessageGap, msgTime: cfg.MessageTime, budget: cfg.Budget}
	if c.idleGap <= 0 {
		c.idleGap = DefaultIdleGap
	}
	if c.msgGap <= 0 {
		c.msgGap = DefaultMessageGap
	}
	if c.msgTime <= 0 {
		c.msgTime = DefaultMessageTime
	}
	c.budgetWait = cfg.BudgetWait
	if c.budgetWait <= 0 {
		c.budgetWait = DefaultBudgetWait
	}
	if c.max <= 0 {
		c.max = wire.DefaultMaxMessage
	}
	c.scan.MaxMessage, c.asm.MaxMessage = c.max, c.max
	return c
}

// Send writes m, in as many frames as it needs.
func (c *Conn) Send(m *wire.Message) error {
	// Encode behind room for one header: a message that fits one
	// frame then goes out in one write without a copy.
	if cap(c.out) < wire.HeaderSize {
		c.out = make([]byte, 0, 4096)
	}
	buf := m.Append(c.out[:wire.HeaderSize])
	msg := buf[wire.HeaderSize:]
	defer c.keep(buf)
	if len(msg) > c.max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg), c.max)
	}
	if len(msg) <= wire.MaxBody {
		wire.PutHeader(buf, msg, len(msg), 0)
		_, err := c.s.Write(buf)
		return err
	}
	var frame []byte
	for off := 0; off < len(msg); off += wire.MaxBody {
		chunk := msg[off:min(off+wire.MaxBody, len(msg))]
		frame = wire.AppendFrame(frame[:0], chunk, len(msg), off)
		if _, err := c.s.Write(frame); err != nil {
			return err
		}
	}
	return nil
}

// keep holds on to the output buffer for the next Send unless a rare large
// message made it big.
func (c *Conn) keep(buf []byte) {
	if cap(buf) <= 1<<20 {
		c.out = buf[:0]
	} else {
		c.out = nil
	}
}

// Receive returns the next message, waiting until deadline (zero: for
// ever). Noise, broken frames and undecodable messages are skipped and
// counted. The message and its Body are valid until the next Receive.
func (c *Conn) Receive(deadline time.Time) (*wire.Message, error) {
	for {
		if m := c.next(); m != nil {
			return m, nil
		}
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			return nil, ErrTimeout
		}
		// While part of a frame or of a message is buffered, wake up
		// when its time is up, and give up on it then.
		rd := deadline
		due, gaveUp := c.expire(now)
		if gaveUp {
			continue
		}
		if !due.IsZero() && (rd.IsZero() || due.Before(rd)) {
			rd = due
		}
		if err := c.setDeadline(rd, now); err != nil {
			return nil, err
		}
		if c.stop.Load() {
			return nil, ErrInterrupted
		}
		n, err := c.scan.Fill(c.s)
		if n > 0 {
			c.lastByte = time.Now()
		}
		switch {
		case err == nil:
		case isTimeout(err) && c.stop.Load():
			return nil, ErrInterrupted
		case isTimeout(err):
			// The loop decides whether the call's deadline or the idle
			// gap has passed, or the deadline fired early.
		default:
			return nil, err
		}
	}
}

// setDeadline arranges for a read to return by rd (zero: never). A deadline
// already set that falls between now and rd is kept: waking early costs a
// loop, while moving a deadline on every read costs a timer update each.
func (c *Conn) setDeadline(rd, now time.Time) error {
	cur := c.deadline
	if !cur.IsZero() && cur.After(now) && (rd.IsZero() || !cur.After(rd)) {
		return nil
	}
	if cur.Equal(rd) {
		return nil
	}
	if err := c.s.SetReadDeadline(rd); err != nil {
		return err
	}
	c.deadline = rd
	return nil
}

// expire gives up on a partial frame that the line has been quiet on for
// the idle gap, and on a partial message quiet for the message gap or
// older than the message time. It returns when the next of these is due
// (zero: nothing pending) and whether it gave up on anything.
func (c *Conn) expire(now time.Time) (due time.Time, gaveUp bool) {
	if c.scan.Buffered() > 0 {
		at := c.lastByte.Add(c.idleGap)
		if !now.Before(at) {
			c.scan.Idle()
			return time.Time{}, true
		}
		due = at
	}
	if c.asm.Active() {
		at := c.lastByte.Add(c.msgGap)
		if end := c.msgStart.Add(c.msgTime); end.Before(at) {
			at = end
		}
		if !now.Before(at) {
			c.asm.Reset()
			c.expired++
			c.settle()
			return time.Time{}, true
		}
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	return due, false
}

// start notes the first frame of a multi-frame message and reserves its
// length from the budget, waiting for room; it reports false, having
// dropped any partial message, when the budget had no room in time.
func (c *Conn) start(h wire.Header) bool {
	c.msgStart = time.Now()
	if c.budget == nil || h.Total > c.max {
		return true // too large: the assembler refuses it itself
	}
	c.asm.Reset() // the new message ends the last one in any case
	c.settle()
	if !c.budget.wait(int64(h.Total), time.Now().Add(c.budgetWait), c.stop.Load) {
		c.refused++
		return false
	}
	c.reserved = int64(h.Total)
	// The sender was held up by the wait, not quiet: its message's
	// clocks start now.
	c.msgStart, c.lastByte = time.Now(), time.Now()
	return true
}

// settle returns the reservation of a message that is no longer being
// assembled, and its buffer with it unless the buffer is small (a call
// of a little more than a frame, such as a 64 KiB piece of AES, is common
// and its buffer worth keeping). The message that completed was used
// before the next call of next, which calls settle.
func (c *Conn) settle() {
	if c.reserved == 0 || c.asm.Active() {
		return
	}
	c.asm.Trim(keepSmall)
	c.budget.give(c.reserved)
	c.reserved = 0
}

// keepSmall is the largest assembly buffer a Conn with a Budget keeps
// between messages, outside the Budget.
const keepSmall = 256 << 10

// Close returns what the Conn holds of its Budget. Call it from the
// goroutine using the Conn, when done with it.
func (c *Conn) Close() {
	c.asm.Reset()
	c.settle()
}

// next returns the next complete, decodable message already buffered.
func (c *Conn) next() *wire.Message {
	for {
		c.settle()
		h, body, ok := c.scan.Next()
		if !ok {
			return nil
		}
		if h.Offset == 0 && h.Size < h.Total && !c.start(h) {
			continue
		}
		raw, err := c.asm.Add(h, body)
		if err != nil || raw == nil {
			continue
		}
		if err := c.msg.Decode(raw); err != nil {
			c.bad++
			continue
		}
		return &c.msg
	}
}

// Interrupt makes a Receive in progress, or the next one, return
// ErrInterrupted. It may be called from any goroutine.
func (c *Conn) Interrupt() {
	c.stop.Store(true)
	c.s.SetReadDeadline(time.Unix(1, 0))
}

// Stats returns the counters. Call it from the goroutine using the Conn.
func (c *Conn) Stats() Stats {
	return Stats{
		ScanStats:   c.scan.Stats,
		Messages:    c.asm.Messages - c.bad,
		Broken:      c.asm.Broken,
		BadMessages: c.bad,
		Expired:     c.expired,
		Refused:     c.refused,
	}
}
