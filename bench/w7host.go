package bench

import (
	"bytes"
	"fmt"
	"time"

	"github.com/miekg/pkcs11"
)

// The signing workloads of W7 and Soak: every process signs with the one
// token key pair labelled w7Label, an operation being C_SignInit and one
// C_Sign into a buffer of the signature's size (see direct).
const (
	WorkW7ECDSA = "W7 P-256 ECDSA sign 32 B, many processes"
	WorkW7RSA   = "W7 RSA-2048 SHA256_RSA_PKCS sign 64 B, many processes"
)

// The set-up and check steps of W7 and Soak, run by a host of their own.
const (
	stepKeyECDSA  = "set-up: the W7 P-256 key pair"
	stepKeyRSA    = "set-up: the W7 RSA-2048 key pair"
	stepSoakWrite = "set-up: the soak data objects"
	stepSoakCheck = "check: the soak data objects and the W7 key"
)

// w7Label labels the token key pair W7's processes share.
const w7Label = "w7"

// soakObjects is how many token data objects Soak writes first and looks
// for last.
const soakObjects = 20

// soakLabel and soakValue are data object i's label and value.
func soakLabel(i int) string { return fmt.Sprintf("soak-%d", i) }
func soakValue(i int) []byte {
	return fmt.Appendf(nil, "soak object %d, kept across killed clients", i)
}

// w7Mech is one kind of W7 signature.
type w7Mech struct {
	name     string // as tep-bench's -mech takes it
	work     string // the signing workload
	keyStep  string // the step that makes the key pair
	mech     uint
	in, sig  int    // input and signature lengths
	rawWork  string // the same operation for the raw TPM
	template func() (pub, priv []*pkcs11.Attribute)
	keyGen   uint
}

var w7Mechs = []w7Mech{
	{"ecdsa", WorkW7ECDSA, stepKeyECDSA, pkcs11.CKM_ECDSA, 32, 64, WorkECDSASign, w7ECTemplates, pkcs11.CKM_EC_KEY_PAIR_GEN},
	{"rsa", WorkW7RSA, stepKeyRSA, pkcs11.CKM_SHA256_RSA_PKCS, 64, 256, WorkRSASign, w7RSATemplates, pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN},
}

// w7MechNamed returns the mechanism called name, or by workload or step.
func w7MechNamed(name string) (w7Mech, bool) {
	for _, m := range w7Mechs {
		if name == m.name || name == m.work || name == m.keyStep {
			return m, true
		}
	}
	return w7Mech{}, false
}

// w7Common are the attributes of both halves of the W7 key pair: a token
// object, so that every process sees it.
func w7Common(a ...*pkcs11.Attribute) []*pkcs11.Attribute {
	return append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, w7Label),
	}, a...)
}

func w7ECTemplates() (pub, priv []*pkcs11.Attribute) {
	return w7Common(pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, p256OID)),
		w7Common(pkcs11.NewAttribute(pkcs11.CKA_SIGN, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true))
}

func w7RSATemplates() (pub, priv []*pkcs11.Attribute) {
	return w7Common(pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true), pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, 2048),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, rsaPubExp)),
		w7Common(pkcs11.NewAttribute(pkcs11.CKA_SIGN, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true))
}

// w7Signer is a host's state for a W7 signing workload: the key found,
// the input and the signature's buffer, made once.
type w7Signer struct {
	m       w7Mech
	key     pkcs11.ObjectHandle
	mechs   []*pkcs11.Mechanism
	in, sig []byte
}

// w7Steps are the W7 and Soak requests a host serves, by workload.
var w7Steps = map[string]func(*system, hostRequest) hostReply{
	WorkW7ECDSA:   (*system).w7Sign,
	WorkW7RSA:     (*system).w7Sign,
	stepKeyECDSA:  (*system).w7KeyPair,
	stepKeyRSA:    (*system).w7KeyPair,
	stepSoakWrite: (*system).soakWrite,
	stepSoakCheck: (*system).soakCheck,
}

// w7KeyPair generates the W7 token key pair.
func (s *system) w7KeyPair(req hostRequest) hostReply {
	m, _ := w7MechNamed(req.Workload)
	pub, priv := m.template()
	if _, _, err := s.ctx.GenerateKeyPair(s.sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.keyGen, nil)}, pub, priv); err != nil {
		return hostReply{Err: fmt.Sprintf("C_GenerateKeyPair of the %s key: %v", m.name, err)}
	}
	return hostReply{}
}

// w7Signer finds the W7 key for m the first time it is asked for.
func (s *system) w7Signer(m w7Mech) (*w7Signer, error) {
	if s.signer != nil && s.signer.m.work == m.work {
		return s.signer, nil
	}
	if s.d == nil {
		d, err := newDirect(s.ctx, s.module)
		if err != nil {
			return nil, err
		}
		s.d = d
	}
	key, err := s.findKey(pkcs11.CKO_PRIVATE_KEY, w7Label)
	if err != nil {
		return nil, err
	}
	s.signer = &w7Signer{m: m, key: key, mechs: []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech, nil)},
		in: bytes.Repeat([]byte("m"), m.in), sig: make([]byte, m.sig)}
	return s.signer, nil
}

// sign makes one signature.
func (w *w7Signer) sign(s *system) error {
	if err := s.ctx.SignInit(s.sh, w.mechs, w.key); err != nil {
		return fmt.Errorf("C_SignInit: %w", err)
	}
	n, err := s.d.sign(s.sh, w.in, w.sig)
	return wantLen("C_Sign", n, w.m.sig, err)
}

// w7Sign signs for req.Seconds, or req.Calls times when that is 0; a
// request for neither only finds the key, so that a host can say it is
// ready. A failed call is counted and the loop goes on: Err is the first
// failure, Ns the times of the calls that succeeded.
func (s *system) w7Sign(req hostRequest) hostReply {
	m, _ := w7MechNamed(req.Workload)
	w, err := s.w7Signer(m)
	if err != nil {
		return hostReply{Err: "finding the W7 key: " + err.Error(), Errors: 1}
	}
	var rep hostReply
	start := time.Now()
	deadline := start.Add(time.Duration(req.Seconds * float64(time.Second)))
	for i := 0; ; i++ {
		if req.Seconds > 0 && !time.Now().Before(deadline) || req.Seconds <= 0 && i >= req.Calls {
			break
		}
		t := time.Now()
		err := w.sign(s)
		d := time.Since(t)
		if err != nil {
			if rep.Errors++; rep.Err == "" {
				rep.Err = err.Error()
			}
			continue
		}
		rep.Ns = append(rep.Ns, int64(d))
	}
	rep.ElapsedNs = int64(time.Since(start))
	return rep
}

// soakWrite creates Soak's token data objects.
func (s *system) soakWrite(hostRequest) hostReply {
	for i := range soakObjects {
		_, err := s.ctx.CreateObject(s.sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, soakLabel(i)),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, soakValue(i)),
		})
		if err != nil {
			return hostReply{Err: fmt.Sprintf("C_CreateObject %s: %v", soakLabel(i), err)}
		}
	}
	return hostReply{}
}

// soakCheck looks for Soak's data objects, with their values, and for
// both halves of the W7 key; Missing says what it did not find.
func (s *system) soakCheck(hostRequest) hostReply {
	var rep hostReply
	for i := range soakObjects {
		h, err := s.findKey(pkcs11.CKO_DATA, soakLabel(i))
		if err != nil {
			rep.Missing = append(rep.Missing, fmt.Sprintf("%s: %v", soakLabel(i), err))
			continue
		}
		attrs, err := s.ctx.GetAttributeValue(s.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err == nil && len(attrs) != 1 {
			err = fmt.Errorf("%d attributes, want 1", len(attrs))
		}
		switch {
		case err != nil:
			rep.Missing = append(rep.Missing, fmt.Sprintf("%s: C_GetAttributeValue: %v", soakLabel(i), err))
		case !bytes.Equal(attrs[0].Value, soakValue(i)):
			rep.Missing = append(rep.Missing, fmt.Sprintf("%s: value %q, want %q", soakLabel(i), attrs[0].Value, soakValue(i)))
		}
	}
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
		if _, err := s.findKey(class, w7Label); err != nil {
			rep.Missing = append(rep.Missing, fmt.Sprintf("%s (class %d): %v", w7Label, class, err))
		}
	}
	return rep
}
