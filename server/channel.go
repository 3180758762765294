package server

import (
	"errors"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/p11"
	"tep.dev/tep/wire"
)

// DefaultMaxClients bounds the clients a server holds channels for.
const DefaultMaxClients = 4096

// dropLogInterval spaces the summary lines about dropped frames: a
// process writing forgeries must not fill the log.
const dropLogInterval = time.Minute

// ChannelStats counts what the secure channel accepted and dropped.
type ChannelStats struct {
	Handshakes uint64 // handshakes completed: clients created
	Refused    uint64 // handshakes refused: malformed, an id in use, no room
	Unknown    uint64 // sealed frames for a client id without a channel
	Replayed   uint64 // sealed frames whose sequence number was not fresh
	Forged     uint64 // sealed frames that did not authenticate
	Plain      uint64 // calls in clear other than ping and handshake
}

// ChannelStats returns the channel's counters since the server started.
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
	s.log.Warn("frames dropped by the secure channel (totals; "+when+")",
		"refused_handshakes", d.Refused, "unknown_client", d.Unknown, "replayed", d.Replayed,
		"forged", d.Forged, "plain", d.Plain)
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

func handshakes(d *ChannelStats) *uint64 { return &d.Handshakes }
func refused(d *ChannelStats) *uint64    { return &d.Refused }
func unknown(d *ChannelStats) *uint64    { return &d.Unknown }
func replayed(d *ChannelStats) *uint64   { return &d.Replayed }
func forged(d *ChannelStats) *uint64     { return &d.Forged }
func plain(d *ChannelStats) *uint64      { return &d.Plain }

// Handle answers one frame; it is the link.Handler of every port. Only a
// handshake and sealed calls are served (pings are answered by the link):
// a client exists once its handshake succeeded, and every call after it
// must open under its keys.
func (s *Server) Handle(req, reply *wire.Message) bool {
	switch req.Func {
	case wire.FuncHandshake:
		return s.handshake(req, reply)
	case wire.FuncSealed:
		return s.sealed(req, reply)
	}
	s.count(plain)
	return false
}

// handshake creates a client with the keys of a Noise handshake. A
// handshake for an id that has a channel is refused: it would hand a live
// client's id, and with it its sessions, to whoever sent it.
func (s *Server) handshake(req, reply *wire.Message) bool {
	msg1, ok := channel.Bin(req.Body)
	if !ok || s.live(req.Client) {
		s.count(refused)
		return false
	}
	msg2, keys, err := channel.Accept(s.key, req.Client, msg1, nil, nil)
	if err != nil {
		s.count(refused)
		return false
	}
	if err := s.addClient(req.Client, keys); err != nil {
		s.count(refused)
		return false
	}
	s.count(handshakes)
	reply.Body = channel.AppendBin(nil, msg2)
	return true
}

var errNoRoom = errors.New("no room for another client")

// live reports whether client id has a channel.
func (s *Server) live(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id] != nil
}

// addClient creates client id with keys, reaping expired clients first
// when the table is full.
func (s *Server) addClient(id uint64, keys *channel.Keys) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[id] != nil {
		return errNoRoom // raced with another handshake for the same id
	}
	if len(s.clients) >= s.maxClients {
		s.reapLocked()
	}
	if len(s.clients) >= s.maxClients {
		return errNoRoom
	}
	s.clients[id] = &client{id: id, lastSeen: s.now(), login: map[uint64]login{}, keys: keys}
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
