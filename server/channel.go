package server

import (
	"errors"
	"sync"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	"tep.dev/tep/wire"
)

// DefaultMaxClients bounds the clients a server holds channels for.
const DefaultMaxClients = 4096

// dropLogInterval spaces the summary lines about what clients did: a
// process writing forgeries, or flooding, must not fill the log.
const dropLogInterval = time.Minute

// ChannelStats counts what the secure channel accepted and dropped, the
// noise the ports saw, the limits clients hit and the clients reaped:
// the events that one rate-limited summary line reports.
type ChannelStats struct {
	Handshakes uint64 // handshakes completed: clients created
	Refused    uint64 // handshakes refused: malformed, an id in use, no room
	Unknown    uint64 // sealed frames for a client id without a channel
	Replayed   uint64 // sealed frames whose sequence number was not fresh
	Forged     uint64 // sealed frames that did not authenticate
	Plain      uint64 // calls in clear other than ping and handshake

	Throttled    uint64 // handshakes refused by the rate limit
	ClientLimit  uint64 // handshakes refused: no room in the table or the port's share
	SessionLimit uint64 // sessions refused: CKR_SESSION_COUNT
	ObjectLimit  uint64 // objects refused by a count: CKR_DEVICE_MEMORY
	ByteLimit    uint64 // objects or searches refused by bytes: CKR_DEVICE_MEMORY
	Reaped       uint64 // clients dropped when their lease ran out
	ReapedSilent uint64 // clients dropped for no call after their handshake

	NoiseBytes  uint64 // bytes the ports skipped looking for frames
	BadFrames   uint64 // frames with a bad header, length or CRC, or cut short
	Broken      uint64 // partial messages dropped (of which Expired for time)
	Expired     uint64 // partial messages given up: quiet too long or too slow
	OverBudget  uint64 // multi-frame messages refused: partial messages' bytes
	BadMessages uint64 // complete messages that did not decode
}

// ChannelStats returns the counters since the server started.
func (s *Server) ChannelStats() ChannelStats {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	return s.drops
}

// PublicKey returns the public half of the server's static key, the one
// clients pin.
func (s *Server) PublicKey() channel.PublicKey { return s.key.Public() }

// count bumps one counter and, at most once per dropLogInterval, logs a
// summary of all of them.
func (s *Server) count(field func(*ChannelStats) *uint64) {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	*field(&s.drops)++
	if field(&s.drops) == &s.drops.Handshakes {
		return
	}
	s.summarise()
}

// countPort adds what a port's Conn dropped since the last call (st
// against last) to the counters.
func (s *Server) countPort(st, last link.Stats) {
	d := ChannelStats{
		NoiseBytes: st.Dropped - last.Dropped,
		BadFrames: st.BadHeader + st.BadLength + st.BadBody + st.Truncated -
			(last.BadHeader + last.BadLength + last.BadBody + last.Truncated),
		Broken: st.Broken - last.Broken, Expired: st.Expired - last.Expired,
		OverBudget: st.Refused - last.Refused, BadMessages: st.BadMessages - last.BadMessages,
	}
	if d == (ChannelStats{}) {
		return
	}
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	s.drops.NoiseBytes += d.NoiseBytes
	s.drops.BadFrames += d.BadFrames
	s.drops.Broken += d.Broken
	s.drops.Expired += d.Expired
	s.drops.OverBudget += d.OverBudget
	s.drops.BadMessages += d.BadMessages
	s.summarise()
}

// summarise logs the counters if none was logged for dropLogInterval.
// s.dropMu is held.
func (s *Server) summarise() {
	s.dropsUnlogged = true
	now := s.now()
	if !s.dropLogged.IsZero() && now.Sub(s.dropLogged) < dropLogInterval {
		return
	}
	s.dropLogged = now
	s.logDropsLocked("next summary in a minute at the earliest")
}

// logDropsLocked logs the drop counters. s.dropMu is held.
func (s *Server) logDropsLocked(when string) {
	s.dropsUnlogged = false
	d := s.drops
	s.log.Warn("frames dropped, limits hit, clients reaped (totals; "+when+")",
		"refused_handshakes", d.Refused, "throttled_handshakes", d.Throttled, "client_limit", d.ClientLimit, "unknown_client", d.Unknown,
		"replayed", d.Replayed, "forged", d.Forged, "plain", d.Plain,
		"session_limit", d.SessionLimit, "object_limit", d.ObjectLimit, "byte_limit", d.ByteLimit,
		"reaped", d.Reaped, "reaped_silent", d.ReapedSilent,
		"noise_bytes", d.NoiseBytes, "bad_frames", d.BadFrames, "broken_messages", d.Broken,
		"expired_messages", d.Expired, "over_budget", d.OverBudget, "bad_messages", d.BadMessages)
}

// logFinalDrops logs the totals at shutdown if drops happened since the
// last summary line, so that none goes unreported.
func (s *Server) logFinalDrops() {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	if s.dropsUnlogged {
		s.logDropsLocked("at shutdown")
	}
}

func handshakes(d *ChannelStats) *uint64   { return &d.Handshakes }
func refused(d *ChannelStats) *uint64      { return &d.Refused }
func unknown(d *ChannelStats) *uint64      { return &d.Unknown }
func replayed(d *ChannelStats) *uint64     { return &d.Replayed }
func forged(d *ChannelStats) *uint64       { return &d.Forged }
func plain(d *ChannelStats) *uint64        { return &d.Plain }
func throttled(d *ChannelStats) *uint64    { return &d.Throttled }
func sessionLimit(d *ChannelStats) *uint64 { return &d.SessionLimit }
func clientLimit(d *ChannelStats) *uint64  { return &d.ClientLimit }
func objectLimit(d *ChannelStats) *uint64  { return &d.ObjectLimit }
func byteLimit(d *ChannelStats) *uint64    { return &d.ByteLimit }
func reaped(d *ChannelStats) *uint64       { return &d.Reaped }
func reapedSilent(d *ChannelStats) *uint64 { return &d.ReapedSilent }

// bucket is a token bucket: rate tokens a second, at most burst saved.
// Each port has its own for handshakes (a unix socket one for all its
// connections), so that a flood on one port leaves the others' clients
// room to start.
//
// A port's bucket also counts the clients whose handshake came through
// it, against Limits.ClientsPerPort.
type bucket struct {
	mu                  sync.Mutex
	rate, burst, tokens float64
	last                time.Time

	clients int // guarded by Server.mu
}

// newBucket returns a full handshake bucket for a port.
func (s *Server) newBucket() *bucket {
	return &bucket{rate: s.limits.HandshakeRate, burst: float64(s.limits.HandshakeBurst), tokens: float64(s.limits.HandshakeBurst)}
}

// take reports whether a token was there at now, and takes it.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// admit reports whether the port's handshake rate (b) lets one more in,
// counting a refusal.
func (s *Server) admit(b *bucket) bool {
	ok := b.take(s.now())
	if !ok {
		s.count(throttled)
	}
	return ok
}

// Handle answers one frame; it is the link.Handler of every port. Only a
// handshake and sealed calls are served (pings are answered by the link):
// a client exists once its handshake succeeded, and every call after it
// must open under its keys.
//
// Handle counts every handshake against one rate for all its callers; the
// ports that the server serves itself have one each.
func (s *Server) Handle(req, reply *wire.Message) bool {
	return s.handle(req, reply, s.handshakes)
}

// handle is Handle with the handshake rate of the port, b.
func (s *Server) handle(req, reply *wire.Message, b *bucket) bool {
	switch req.Func {
	case wire.FuncHandshake:
		return s.handshake(req, reply, b)
	case wire.FuncSealed:
		return s.sealed(req, reply)
	}
	s.count(plain)
	return false
}

// handshake creates a client with the keys of a Noise handshake. A
// handshake for an id that has a channel is refused: it would hand a live
// client's id, and with it its sessions, to whoever sent it.
func (s *Server) handshake(req, reply *wire.Message, b *bucket) bool {
	msg1, ok := channel.Bin(req.Body)
	if !ok || s.live(req.Client) {
		s.count(refused)
		return false
	}
	// The rate is checked before the X25519 work it saves.
	if !s.admit(b) {
		return false
	}
	msg2, keys, err := channel.Accept(s.key, req.Client, msg1, nil, nil)
	if err != nil {
		s.count(refused)
		return false
	}
	if err := s.addClient(req.Client, keys, b); err != nil {
		if errors.Is(err, errNoRoom) {
			s.count(clientLimit)
		} else {
			s.count(refused)
		}
		return false
	}
	s.count(handshakes)
	reply.Body = channel.AppendBin(nil, msg2)
	return true
}

// Errors of addClient.
var (
	errNoRoom  = errors.New("no room for another client")
	errIDInUse = errors.New("client id in use")
)

// live reports whether client id has a channel.
func (s *Server) live(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id] != nil
}

// addClient creates client id with keys, whose handshake came through the
// port of bucket b, reaping expired clients first when the table, or the
// port's share of it, is full.
func (s *Server) addClient(id uint64, keys *channel.Keys, b *bucket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[id] != nil {
		return errIDInUse // raced with another handshake for the same id
	}
	full := func() bool { return len(s.clients) >= s.maxClients || b.clients >= s.limits.ClientsPerPort }
	if full() {
		s.reapLocked()
	}
	if full() {
		return errNoRoom
	}
	b.clients++
	s.clients[id] = &client{id: id, lastSeen: s.now(), login: map[uint64]login{}, keys: keys,
		sessions: map[uint64]*session{}, slots: map[uint64]int{}, port: b}
	return nil
}

// sealed opens a sealed call, answers it and seals the answer. A frame
// for an id without a channel gets FuncNoChannel in clear; one that is
// replayed or does not open is dropped without an answer.
func (s *Server) sealed(req, reply *wire.Message) bool {
	s.mu.Lock()
	c := s.clients[req.Client]
	s.mu.Unlock()
	if c == nil {
		s.count(unknown)
		reply.Func = wire.FuncNoChannel
		return true
	}
	var hdr [32]byte
	c.ch.Lock()
	n, fn, body, err := c.keys.OpenNext(req.AppendHeader(hdr[:0]), req.Seq, req.Body)
	c.ch.Unlock()
	switch {
	case errors.Is(err, channel.ErrReplay):
		s.count(replayed)
		return false
	case err != nil:
		s.count(forged)
		return false
	}
	s.mu.Lock()
	c.lastSeen = s.now() // only an authenticated call renews the lease
	c.called = true
	s.mu.Unlock()
	if fn == p11.FnKeepAlive {
		return true
	}
	out := s.dispatch(c, fn, body)
	c.ch.Lock()
	reply.Body = c.keys.Seal(make([]byte, 0, len(out)+channel.Overhead), reply.AppendHeader(hdr[:0]), n, fn, out)
	c.ch.Unlock()
	return true
}
