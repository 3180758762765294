package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame layout, all integers little-endian as eRPC writes them:
//
//	0   4  sync       7E 54 45 50 ("~TEP")
//	4   2  crcHeader  CRC16 of bytes 6..17
//	6   2  size       body length, 0..65535
//	8   2  crcBody    CRC16 of the body
//	10  4  total      length of the whole message
//	14  4  offset     where this body starts in the message
//	18  …  body
const (
	// HeaderSize is the size of sync marker plus header.
	HeaderSize = 18
	// MaxBody is the largest frame body: eRPC's 16-bit size field.
	MaxBody = 65535
	// MaxFrame is the largest frame on the wire.
	MaxFrame = HeaderSize + MaxBody
)

// Sync is the marker that starts every frame. A reader that lost its place
// searches for it; the header CRC then confirms the find.
var Sync = [4]byte{0x7E, 0x54, 0x45, 0x50}

// Header is a decoded frame header.
type Header struct {
	Size   int // body length
	Total  int // message length
	Offset int // body's position in the message
}

// PutHeader writes the sync marker and header for body into dst, which must
// hold HeaderSize bytes. The caller guarantees len(body) <= MaxBody and
// offset+len(body) <= total.
func PutHeader(dst []byte, body []byte, total, offset int) {
	_ = dst[HeaderSize-1]
	copy(dst, Sync[:])
	binary.LittleEndian.PutUint16(dst[6:], uint16(len(body)))
	binary.LittleEndian.PutUint16(dst[8:], CRC16(body))
	binary.LittleEndian.PutUint32(dst[10:], uint32(total))
	binary.LittleEndian.PutUint32(dst[14:], uint32(offset))
	binary.LittleEndian.PutUint16(dst[4:], CRC16(dst[6:HeaderSize]))
}

// AppendFrame appends one complete frame carrying body to dst.
func AppendFrame(dst, body []byte, total, offset int) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	PutHeader(dst[n:], body, total, offset)
	return append(dst, body...)
}

// AppendFrames appends msg to dst cut into as many frames as it needs.
func AppendFrames(dst, msg []byte) []byte {
	for off := 0; ; {
		end := min(off+MaxBody, len(msg))
		dst = AppendFrame(dst, msg[off:end], len(msg), off)
		off = end
		if off >= len(msg) {
			return dst
		}
	}
}

// ScanStats counts what a Scanner found and what it threw away.
type ScanStats struct {
	Frames    uint64 // valid frames delivered
	Dropped   uint64 // bytes skipped while looking for a frame
	BadHeader uint64 // sync marker found, header CRC wrong
	BadLength uint64 // header CRC right, lengths impossible
	BadBody   uint64 // body CRC wrong
	Truncated uint64 // partial frames abandoned by Idle
}

// Scanner finds frames in a byte stream. Feed or Fill it with bytes, then
// call Next until it reports no frame. Garbage, truncated frames, wrong
// CRCs and impossible lengths are skipped: the scan resumes one byte after
// the rejected sync marker, so a valid frame hidden in the rejected bytes is
// still found.
type Scanner struct {
	// MaxMessage bounds the message length a header may declare; zero
	// means DefaultMaxMessage.
	MaxMessage int

	buf   []byte // buf[r:] is unconsumed
	r     int
	base  int64 // stream position of buf[0]
	Stats ScanStats

	// The CRC of a body that is still arriving is computed as its bytes
	// come in, while the line is slow anyway, not all at once at the end.
	crcFrame int64 // 1 + stream position of the frame it belongs to; 0: none
	crcN     int   // body bytes covered
	crc      uint16
}

// DefaultMaxMessage is the message-size bound used when none is configured.
const DefaultMaxMessage = 32 << 20

// ErrBufferFull is returned by Fill when the scanner cannot take more bytes;
// it cannot happen when Next is called after every Fill.
var ErrBufferFull = errors.New("wire: scanner buffer full")

// Feed appends p to the bytes waiting to be scanned.
func (s *Scanner) Feed(p []byte) {
	s.compact(len(p))
	s.buf = append(s.buf, p...)
}

// Fill reads once from r into the scanner's own buffer, so bytes are copied
// only once on their way from the line to a frame.
func (s *Scanner) Fill(r io.Reader) (int, error) {
	s.compact(4096)
	if len(s.buf) == cap(s.buf) {
		return 0, ErrBufferFull
	}
	n, err := r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	return n, err
}

// Buffered reports how many bytes wait to be scanned.
func (s *Scanner) Buffered() int { return len(s.buf) - s.r }

// compact makes room for at least n more bytes. The buffer never needs to
// exceed two frames: Next consumes a frame as soon as it is complete.
func (s *Scanner) compact(n int) {
	if s.r > 0 && (s.r == len(s.buf) || cap(s.buf)-len(s.buf) < n) {
		s.buf = s.buf[:copy(s.buf, s.buf[s.r:])]
		s.base += int64(s.r)
		s.r = 0
	}
	if cap(s.buf)-len(s.buf) < n {
		want := max(2*MaxFrame, len(s.buf)+n)
		nb := make([]byte, len(s.buf), want)
		copy(nb, s.buf)
		s.buf = nb
	}
}

func (s *Scanner) maxMessage() int {
	if s.MaxMessage > 0 {
		return s.MaxMessage
	}
	return DefaultMaxMessage
}

// Next returns the next valid frame. The body aliases the scanner's buffer
// and is valid until the next Feed, Fill or Next. ok is false when more
// bytes are needed.
func (s *Scanner) Next() (h Header, body []byte, ok bool) {
	for {
		p := s.buf[s.r:]
		i := bytes.Index(p, Sync[:])
		if i < 0 {
			// Keep a tail that may be the start of a marker.
			keep := min(len(p), len(Sync)-1)
			for keep > 0 && !bytes.HasPrefix(Sync[:], p[len(p)-keep:]) {
				keep--
			}
			s.skip(len(p) - keep)
			return Header{}, nil, false
		}
		s.skip(i)
		p = p[i:]
		if len(p) < HeaderSize {
			return Header{}, nil, false
		}
		if binary.LittleEndian.Uint16(p[4:]) != CRC16(p[6:HeaderSize]) {
			s.Stats.BadHeader++
			s.skip(1)
			continue
		}
		h = Header{
			Size:   int(binary.LittleEndian.Uint16(p[6:])),
			Total:  int(binary.LittleEndian.Uint32(p[10:])),
			Offset: int(binary.LittleEndian.Uint32(p[14:])),
		}
		if !h.valid(s.maxMessage()) {
			s.Stats.BadLength++
			s.skip(1)
			continue
		}
		at := s.base + int64(s.r) + 1
		if s.crcFrame != at {
			s.crcFrame, s.crcN, s.crc = at, 0, crcInit
		}
		if len(p) < HeaderSize+h.Size {
			s.crc = crcUpdate(s.crc, p[HeaderSize+s.crcN:])
			s.crcN = len(p) - HeaderSize
			return Header{}, nil, false
		}
		body = p[HeaderSize : HeaderSize+h.Size]
		crc := crcUpdate(s.crc, body[s.crcN:])
		s.crcFrame = 0
		if binary.LittleEndian.Uint16(p[8:]) != crc {
			s.Stats.BadBody++
			s.skip(1)
			continue
		}
		s.r += HeaderSize + h.Size
		s.Stats.Frames++
		return h, body, true
	}
}

// valid reports whether the lengths can describe part of a message no
// longer than limit. An empty body is only valid for an empty message.
func (h Header) valid(limit int) bool {
	return h.Total <= limit && h.Offset <= h.Total-h.Size &&
		(h.Size > 0 || h.Total == 0)
}

func (s *Scanner) skip(n int) {
	s.r += n
	s.Stats.Dropped += uint64(n)
}

// Idle tells the scanner that the line has gone quiet: the partial frame it
// holds, if any, will never be completed. The scanner drops its marker and
// rescans what follows. It reports whether anything was dropped.
func (s *Scanner) Idle() bool {
	if s.Buffered() == 0 {
		return false
	}
	s.Stats.Truncated++
	if bytes.HasPrefix(s.buf[s.r:], Sync[:]) {
		s.skip(1)
	} else {
		s.skip(s.Buffered()) // a lone partial marker
	}
	return true
}

// String summarises the counters for logs.
func (st ScanStats) String() string {
	return fmt.Sprintf("frames=%d dropped=%dB badHeader=%d badLength=%d badBody=%d truncated=%d",
		st.Frames, st.Dropped, st.BadHeader, st.BadLength, st.BadBody, st.Truncated)
}
