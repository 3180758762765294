package server

import (
	"time"

	"tep.dev/tep/link"
	"tep.dev/tep/p11"
)

// Limits bounds what clients can make the server hold, each client alone
// and all of them together, so that no client starves the others. The
// zero value of a field means its default (README.md, "Limits of the
// server", lists them). When a limit is hit the call fails as PKCS#11
// v2.40 defines: C_OpenSession with CKR_SESSION_COUNT; a call that would
// create or grow an object, or start a search, with CKR_DEVICE_MEMORY
// (the token has no room), which every such function may return.
type Limits struct {
	// SessionsPerClient and Sessions bound the open sessions of one
	// client and of all clients.
	SessionsPerClient int
	Sessions          int
	// ObjectsPerClient and Objects bound the session objects of one
	// client and of all clients.
	ObjectsPerClient int
	Objects          int
	// BytesPerClient and Bytes bound the bytes that session objects'
	// attributes and open searches' templates take, of one client and
	// of all clients.
	BytesPerClient int64
	Bytes          int64
	// TokenObjects and TokenBytes bound the token objects of all tokens
	// together, and the bytes their attributes take.
	TokenObjects int
	TokenBytes   int64
	// HandshakeRate is how many handshakes a second the server accepts
	// on average, in bursts of up to HandshakeBurst; the rest are
	// refused (each costs an X25519 computation and a client's memory).
	HandshakeRate  float64
	HandshakeBurst int
	// ClientsPerPort bounds the clients whose handshake came through one
	// port (a unix socket counts as one): a process that fills its own
	// port's share, and keeps its clients alive, leaves the other ports'
	// guests room to start. Config.MaxClients bounds all ports together.
	ClientsPerPort int
	// Silent is how long a client may stay after its handshake without
	// a single call before it is dropped; the lease applies after that.
	Silent time.Duration
	// Connections bounds the connections each unix socket serves at
	// once; more wait to be accepted.
	Connections int
	// Assembly bounds the bytes that partial multi-frame messages hold
	// across all ports (link.Budget); AssemblyWait is how long a message
	// waits for room in it before its frames are dropped.
	Assembly     int64
	AssemblyWait time.Duration
}

// Defaults of Limits. Together they keep what clients can make tepd hold
// near 144 MiB (Bytes + TokenBytes + Assembly), whatever they do.
const (
	DefaultSessionsPerClient = 1024
	DefaultSessions          = 16384
	DefaultObjectsPerClient  = 4096
	DefaultObjects           = 65536
	DefaultBytesPerClient    = 32 << 20
	DefaultBytes             = 48 << 20
	DefaultTokenObjects      = 10000
	DefaultTokenBytes        = 64 << 20
	DefaultHandshakeRate     = 100
	DefaultHandshakeBurst    = 64
	DefaultClientsPerPort    = 512 // six ports take 3072 of DefaultMaxClients
	DefaultSilent            = 10 * time.Second
	DefaultConnections       = 64
	DefaultAssembly          = 32 << 20 // the largest message: it always fits, alone
)

// MaxRandom bounds one C_GenerateRandom call on the wire; the provider
// splits longer requests into calls of this size.
const MaxRandom = 1 << 20

// withDefaults returns l with its zero fields defaulted.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def64 := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.SessionsPerClient, DefaultSessionsPerClient)
	def(&l.Sessions, DefaultSessions)
	def(&l.ObjectsPerClient, DefaultObjectsPerClient)
	def(&l.Objects, DefaultObjects)
	def64(&l.BytesPerClient, DefaultBytesPerClient)
	def64(&l.Bytes, DefaultBytes)
	def(&l.TokenObjects, DefaultTokenObjects)
	def64(&l.TokenBytes, DefaultTokenBytes)
	if l.HandshakeRate <= 0 {
		l.HandshakeRate = DefaultHandshakeRate
	}
	def(&l.HandshakeBurst, DefaultHandshakeBurst)
	def(&l.ClientsPerPort, DefaultClientsPerPort)
	if l.Silent <= 0 {
		l.Silent = DefaultSilent
	}
	def(&l.Connections, DefaultConnections)
	def64(&l.Assembly, DefaultAssembly)
	if l.AssemblyWait <= 0 {
		l.AssemblyWait = link.DefaultBudgetWait
	}
	return l
}

// usage is what clients hold now, against Limits. Guarded by Server.mu.
type usage struct {
	sessions     int
	objects      int   // session objects
	bytes        int64 // session objects and search templates
	tokenObjects int
	tokenBytes   int64
}

// roomForSession checks that c may open one more session. s.mu is held.
func (s *Server) roomForSession(c *client) error {
	if len(c.sessions) >= s.limits.SessionsPerClient || s.use.sessions >= s.limits.Sessions {
		s.count(sessionLimit)
		return p11.CKR_SESSION_COUNT
	}
	return nil
}

// roomFor checks that o, new or grown by grow bytes (its whole size when
// new), fits: a token object in the tokens' limits, a session object in
// its client's and everyone's. s.mu is held.
func (s *Server) roomFor(c *client, o *object, isNew bool, grow int64) error {
	n := 0
	if isNew {
		n = 1
	}
	if o.session == 0 {
		if s.use.tokenObjects+n > s.limits.TokenObjects || s.use.tokenBytes+grow > s.limits.TokenBytes {
			s.count(objectLimit)
			return p11.CKR_DEVICE_MEMORY
		}
		return nil
	}
	if c.objects+n > s.limits.ObjectsPerClient || s.use.objects+n > s.limits.Objects {
		s.count(objectLimit)
		return p11.CKR_DEVICE_MEMORY
	}
	return s.roomForBytes(c, grow)
}

// roomForBytes checks that c may hold n more bytes. s.mu is held.
func (s *Server) roomForBytes(c *client, n int64) error {
	if c.bytes+n > s.limits.BytesPerClient || s.use.bytes+n > s.limits.Bytes {
		s.count(byteLimit)
		return p11.CKR_DEVICE_MEMORY
	}
	return nil
}

// charge counts n objects and b bytes of client c's (token objects when
// tok, and c may be nil then) in the usage; negative amounts refund.
// s.mu is held.
func (s *Server) charge(c *client, tok bool, n int, b int64) {
	if tok {
		s.use.tokenObjects += n
		s.use.tokenBytes += b
		return
	}
	s.use.objects += n
	s.use.bytes += b
	if c != nil {
		c.objects += n
		c.bytes += b
	}
}

// growth checks that object o of c may take attrs instead of its own, and
// returns by how many bytes it grows (to charge once the change is made).
// s.mu is held.
func (s *Server) growth(c *client, o *object, attrs map[uint64][]byte) (int64, error) {
	grow := int64((&object{attrs: attrs}).size()) - int64(o.size())
	if grow > 0 {
		if err := s.roomFor(c, o, false, grow); err != nil {
			return 0, err
		}
	}
	return grow, nil
}

// templateSize is what a search's template costs in the byte limits.
func templateSize(tmpl []p11.Attribute) int64 {
	var n int64
	for _, a := range tmpl {
		n += int64(len(a.Value)) + 16
	}
	return n
}
