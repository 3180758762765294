package server

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"tep.dev/tep/channel"
	"tep.dev/tep/link"
	"tep.dev/tep/p11"
	"tep.dev/tep/server/store"
	"tep.dev/tep/tpm"
)

// TPM is what the server needs of the TPM layer.
type TPM interface {
	GetRandom(n int) ([]byte, error)
	StirRandom(data []byte) error
	Seal(secret, auth []byte) (tpm.Sealed, error)
	SealNoDA(secret []byte) (tpm.Sealed, error)
	Unseal(s tpm.Sealed, auth []byte) ([]byte, error)
	Algorithms() (tpm.Caps, error)
	CreateKey(spec tpm.KeySpec, auth []byte) (tpm.KeyBlob, crypto.PublicKey, error)
	Sign(k tpm.KeyBlob, auth, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	SymCrypt(k tpm.KeyBlob, auth []byte, decrypt bool, mode tpm.SymMode, iv, data []byte) (out, nextIV []byte, err error)
	ImportKey(spec tpm.KeySpec, priv any, auth []byte) (tpm.KeyBlob, error)
	RSADecrypt(k tpm.KeyBlob, auth, ciphertext []byte, oaep *rsa.OAEPOptions) ([]byte, error)
	HMAC(k tpm.KeyBlob, auth, data []byte) ([]byte, error)
	// FlushKeys unloads the keys and closes the sessions kept for them.
	FlushKeys() error
	// DictionaryAttackState reads the TPM's lockout counter and limits.
	DictionaryAttackState() (tpm.DAState, error)
}

// Config tunes a Server. The zero value works.
type Config struct {
	// Lease is how long a client may stay silent before its sessions
	// and logins are dropped; live clients send keep-alives well within
	// it. Zero means DefaultLease.
	Lease time.Duration
	// Log receives diagnostics; nil means slog.Default().
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Key is the static key of the secure channel, the one clients pin
	// (tepd keeps it sealed by the TPM). Nil means a key made for this
	// server alone, logged at start: for tests, which pin nothing.
	Key *channel.StaticKey
	// MaxClients bounds the clients with a channel; zero means
	// DefaultMaxClients.
	MaxClients int
	// Limits bounds what clients can make the server hold; the zero
	// value takes the defaults.
	Limits Limits
	// AllowTokenInit offers guests a free slot with an uninitialised
	// token, on which C_InitToken makes a new token whose SO the caller
	// becomes. Off by default: every wrong PIN on any token spends the
	// TPM's one dictionary-attack budget, and the SO of a token of its
	// own can reset that token's PIN counts at will, so anyone on the
	// ports could keep the TPM's budget spent and every PIN check refused.
	AllowTokenInit bool
}

// DefaultLease is the silence after which a client is presumed dead.
const DefaultLease = time.Minute

// Server answers PKCS#11 calls.
type Server struct {
	tpm   TPM
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	lease time.Duration
	key   *channel.StaticKey

	maxClients     int
	allowTokenInit bool
	limits         Limits
	handshakes     *bucket      // Handle's handshake rate
	assembly       *link.Budget // shared by every port's Conn
	dropMu         sync.Mutex
	drops          ChannelStats // guarded by dropMu: what the summary counts
	dropLogged     time.Time    // guarded by dropMu: the last summary line
	// dropsUnlogged says drops happened since the last summary line.
	dropsUnlogged bool // guarded by dropMu

	mu       sync.Mutex
	clients  map[uint64]*client
	sessions map[uint64]*session // by handle, across clients
	tokens   map[uint64]*token   // by slot
	objects  map[uint64]*object  // by handle, token and session objects
	unlocked map[uint64]bool     // by slot: its private objects are open (atrest.go)
	caps     tpm.Caps
	mechs    map[uint64]p11.MechanismInfoResp // what this TPM makes possible
	use      usage                            // against limits
	nextSess uint64
	nextObj  uint64
	stop     chan struct{}
	done     sync.WaitGroup
	// pinMu serialises PIN checks against the TPM and the changes of
	// their counts (pin.go); taken before mu, never while holding it.
	pinMu sync.Mutex
}

// New returns a server on t and st, with the tokens st holds.
func New(t TPM, st *store.Store, cfg Config) (*Server, error) {
	s := &Server{
		tpm: t, store: st, log: cfg.Log, now: cfg.Now, lease: cfg.Lease, key: cfg.Key, maxClients: cfg.MaxClients,
		allowTokenInit: cfg.AllowTokenInit,
		clients:        map[uint64]*client{}, sessions: map[uint64]*session{}, tokens: map[uint64]*token{},
		objects: map[uint64]*object{},
		stop:    make(chan struct{}),
		limits:  cfg.Limits.withDefaults(),
	}
	s.handshakes = s.newBucket()
	s.assembly = link.NewBudget(s.limits.Assembly)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if s.maxClients <= 0 {
		s.maxClients = DefaultMaxClients
	}
	if s.key == nil {
		k, err := channel.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		s.key = k
		s.log.Info("no static channel key given: using one made for this run", "public_key", k.Public().String())
	}
	var err error
	if s.caps, err = t.Algorithms(); err != nil {
		return nil, fmt.Errorf("asking the TPM what it supports: %w", err)
	}
	s.mechs = mechanismsFor(s.caps)
	if err := s.loadTokens(); err != nil {
		return nil, err
	}
	if err := s.loadObjects(); err != nil {
		return nil, err
	}
	s.done.Add(1)
	go s.reap()
	return s, nil
}

// Close stops the lease reaper. It does not close the TPM or the store.
func (s *Server) Close() {
	close(s.stop)
	s.done.Wait()
	s.logFinalDrops()
}

// handler answers one call of a client to function fn, from its encoded
// arguments.
type handler func(s *Server, c *client, fn uint16, body []byte) (p11.Resp, error)

// handle makes a handler of f, which takes its arguments decoded: a body
// that does not decode as a Req is CKR_ARGUMENTS_BAD. A call that
// continues an operation and fails ends the operation (endOnError).
func handle[Req any](f func(s *Server, c *client, req *Req) (p11.Resp, error)) handler {
	return func(s *Server, c *client, fn uint16, body []byte) (p11.Resp, error) {
		req := new(Req)
		err := decode(body, req)
		var resp p11.Resp
		if err == nil {
			resp, err = f(s, c, req)
		}
		if on, ok := any(req).(p11.OnSession); ok && err != nil {
			s.endOnError(c, fn, on.SessionHandle(), err)
		}
		return resp, err
	}
}

var handlers = map[uint16]handler{
	p11.FnInitialize:        handle((*Server).hello),
	p11.FnFinalize:          (*Server).goodbye,
	p11.FnEndOperation:      locked((*Server).endOperation),
	p11.FnDigestKey:         locked((*Server).digestKey),
	p11.FnDigestMore:        handle((*Server).digestMore),
	p11.FnGetSlotList:       handle((*Server).slotList),
	p11.FnGetSlotInfo:       handle((*Server).slotInfo),
	p11.FnGetTokenInfo:      handle((*Server).tokenInfo),
	p11.FnGetMechanismList:  handle((*Server).mechanismList),
	p11.FnGetMechanismInfo:  handle((*Server).mechanismInfo),
	p11.FnInitToken:         handle((*Server).initToken),
	p11.FnInitPIN:           handle((*Server).initPIN),
	p11.FnSetPIN:            handle((*Server).setPIN),
	p11.FnOpenSession:       handle((*Server).openSession),
	p11.FnCloseSession:      locked((*Server).closeSession),
	p11.FnCloseAllSessions:  handle((*Server).closeAllSessions),
	p11.FnGetSessionInfo:    locked((*Server).sessionInfo),
	p11.FnLogin:             handle((*Server).login),
	p11.FnLogout:            locked((*Server).logout),
	p11.FnCreateObject:      handle((*Server).createObject),
	p11.FnCopyObject:        handle((*Server).copyObject),
	p11.FnDestroyObject:     handle((*Server).destroyObject),
	p11.FnGetObjectSize:     handle((*Server).getObjectSize),
	p11.FnGetAttributeValue: handle((*Server).getAttributeValue),
	p11.FnSetAttributeValue: handle((*Server).setAttributeValue),
	p11.FnFindObjectsInit:   locked((*Server).findObjectsInit),
	p11.FnFindObjects:       locked((*Server).findObjects),
	p11.FnFindObjectsFinal:  locked((*Server).findObjectsFinal),
	p11.FnGenerateKey:       handle((*Server).generateKey),
	p11.FnWrapKey:           locked((*Server).wrapKey),
	p11.FnUnwrapKey:         handle((*Server).unwrapKey),
	p11.FnEncryptInit:       locked((*Server).encryptInit),
	p11.FnEncrypt:           handle((*Server).encrypt),
	p11.FnEncryptUpdate:     handle((*Server).encryptUpdate),
	p11.FnEncryptFinal:      handle((*Server).encryptFinal),
	p11.FnDecryptInit:       locked((*Server).decryptInit),
	p11.FnDecrypt:           handle((*Server).decrypt),
	p11.FnDecryptUpdate:     handle((*Server).decryptUpdate),
	p11.FnDecryptFinal:      handle((*Server).decryptFinal),
	p11.FnSignInit:          locked((*Server).signInit),
	p11.FnSign:              handle((*Server).sign),
	p11.FnSignUpdate:        handle((*Server).signUpdate),
	p11.FnSignFinal:         handle((*Server).signFinal),
	p11.FnGenerateKeyPair:   handle((*Server).generateKeyPair),
	p11.FnVerifyInit:        locked((*Server).verifyInit),
	p11.FnVerify:            handle((*Server).verify),
	p11.FnVerifyUpdate:      handle((*Server).verifyUpdate),
	p11.FnVerifyFinal:       handle((*Server).verifyFinal),
	p11.FnGenerateRandom:    handle((*Server).generateRandom),
	p11.FnSeedRandom:        handle((*Server).seedRandom),
	p11.FnDigestInit:        locked((*Server).digestInit),
	p11.FnDigest:            handle((*Server).digest),
	p11.FnDigestUpdate:      handle((*Server).digestUpdate),
	p11.FnDigestFinal:       handle((*Server).digestFinal),
}

// locked makes a handler of fn, which runs under s.mu on the caller's
// session: a handle that is not one of c's sessions is
// CKR_SESSION_HANDLE_INVALID before fn looks at anything else.
func locked[Req any, P interface {
	*Req
	p11.OnSession
}](fn func(s *Server, c *client, sess *session, req P) (p11.Resp, error)) handler {
	return handle(func(s *Server, c *client, req *Req) (p11.Resp, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sess, err := s.sessionOf(c, P(req).SessionHandle())
		if err != nil {
			return nil, err
		}
		return fn(s, c, sess, req)
	})
}

// dispatch answers one opened call of client c to function fn.
func (s *Server) dispatch(c *client, fn uint16, args []byte) []byte {
	h, ok := handlers[fn]
	var resp p11.Resp
	var err error
	if !ok {
		err = p11.CKR_FUNCTION_NOT_SUPPORTED
	} else {
		resp, err = h(s, c, fn, args)
	}
	if err != nil {
		resp = &p11.RVResp{RV: s.rvOf(fn, err)}
	}
	body, err := p11.Marshal(resp)
	if err != nil {
		s.log.Error("encoding a reply", "func", fn, "err", err)
		body, _ = p11.Marshal(&p11.RVResp{RV: p11.CKR_GENERAL_ERROR})
	}
	return body
}

// rvOf maps an error to the return value the caller sees, in this one
// place: a p11.RV is itself; the TPM layer's sentinels (tpm/errors.go)
// have their PKCS#11 meaning; anything else is the device's fault. What is
// not the caller's doing is logged here.
func (s *Server) rvOf(fn uint16, err error) p11.RV {
	var rv p11.RV
	if errors.As(err, &rv) {
		return rv
	}
	switch {
	case errors.Is(err, errBadArguments):
		return p11.CKR_ARGUMENTS_BAD
	case errors.Is(err, tpm.ErrUsage):
		return p11.CKR_KEY_FUNCTION_NOT_PERMITTED
	case errors.Is(err, tpm.ErrDecrypt):
		return p11.CKR_ENCRYPTED_DATA_INVALID
	case errors.Is(err, tpm.ErrUnsupported):
		return p11.CKR_MECHANISM_PARAM_INVALID
	case errors.Is(err, tpm.ErrLockout):
		// A key made before keys were noDA, used while the TPM refuses
		// every authorization: the token's secrets are locked as a PIN
		// is, until the recovery time passes or the SO resets it.
		s.log.Warn("the TPM is in dictionary-attack lockout", "func", fn, "err", err)
		return p11.CKR_PIN_LOCKED
	case errors.Is(err, tpm.ErrAuthFail):
		// A key's stored authorization that the TPM refuses: the record
		// and the key disagree, which is not the caller's doing.
		s.log.Error("the TPM refused a key's authorization", "func", fn, "err", err)
		return p11.CKR_FUNCTION_FAILED
	}
	s.log.Error("call failed", "func", fn, "err", err)
	return p11.CKR_DEVICE_ERROR
}

// errBadArguments marks a body that does not decode as its function's
// arguments.
var errBadArguments = errors.New("arguments do not decode")

// decode reads a call's arguments.
func decode(body []byte, v any) error {
	if err := p11.Unmarshal(body, v); err != nil {
		return errBadArguments
	}
	return nil
}
