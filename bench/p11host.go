package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/miekg/pkcs11"
)

// HostCommand is the argument a program that calls P11 with a zero
// P11Config.Host must dispatch to P11Host: P11 runs the program again as
// "PROGRAM p11-host MODULE" for every module.
const HostCommand = "p11-host"

// The host protocol is JSON, one message a line. The host writes a
// hostHello; then for each hostRequest it reads, it writes a hostReply,
// until its stdin ends.
type (
	hostHello struct {
		// BeforeKiB is the host's VmRSS before loading the module,
		// AfterKiB after C_Initialize.
		BeforeKiB int64 `json:"before_kib"`
		AfterKiB  int64 `json:"after_kib"`
		// InitErr is why loading or C_Initialize failed; Err why the
		// session could not be set up. Either means no workloads.
		InitErr string `json:"init_error,omitempty"`
		Err     string `json:"error,omitempty"`
	}
	hostRequest struct {
		Workload string `json:"workload"`
		Calls    int    `json:"calls"`
		// Seconds, for W7's signing workloads, is how long to call in a
		// loop instead of Calls times.
		Seconds float64 `json:"seconds,omitempty"`
	}
	hostReply struct {
		Ns  []int64 `json:"ns"`
		Err string  `json:"error,omitempty"`
		// For W7's signing workloads, which go on after a failed call:
		// the failures (Err is the first), and the time from the
		// request to the end of the last call.
		Errors    int   `json:"errors,omitempty"`
		ElapsedNs int64 `json:"elapsed_ns,omitempty"`
		// Missing, for Soak's check, is what it did not find.
		Missing []string `json:"missing,omitempty"`
	}
)

// P11Host is the host process for one PKCS#11 module, run by P11 as a
// fresh process so that the module sees its settings in the process's
// initial environment (a Go shared library such as TEP's reads only that,
// not what setenv adds later) and so that the host's memory before and
// after loading the module is the module's alone. It reads its VmRSS,
// loads module, calls C_Initialize, reads VmRSS again, logs in to the
// token labelled "bench", and then times the calls P11 asks for on in, until in ends.
func P11Host(module string, in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	s := &system{module: module}
	hello, err := s.open(module)
	if err != nil {
		return err
	}
	if err := enc.Encode(hello); err != nil {
		return err
	}
	defer s.close()
	if hello.InitErr != "" || hello.Err != "" {
		return nil
	}
	dec := json.NewDecoder(bufio.NewReader(in))
	for {
		var req hostRequest
		if err := dec.Decode(&req); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		if err := enc.Encode(s.run(req)); err != nil {
			return err
		}
	}
}

// system is one loaded PKCS#11 module with a logged-in session.
type system struct {
	module string
	ctx    *pkcs11.Ctx
	sh     pkcs11.SessionHandle
	in     bool // logged in
	// For Crypto's workloads: see setUpCrypto and collect.
	tokenKeys bool // see generateKeyPair
	d         *direct
	keys      *cryptoKeys
	garbage   []pkcs11.ObjectHandle
	// For W7's and Soak's: see w7Signer.
	signer *w7Signer
}

// open loads module and sets up the session, measuring the memory that
// costs. Failures of the module go into the hello; the error is for
// failures to measure.
func (s *system) open(module string) (hostHello, error) {
	var h hostHello
	var err error
	if h.BeforeKiB, err = vmRSS(os.Getpid()); err != nil {
		return h, err
	}
	s.ctx = pkcs11.New(module)
	if s.ctx == nil {
		h.InitErr = fmt.Sprintf("loading %s failed (dlopen or C_GetFunctionList)", module)
	} else if err := s.ctx.Initialize(); err != nil {
		h.InitErr = fmt.Sprintf("C_Initialize: %v", err)
		s.ctx = nil // nothing to finalise; the library stays loaded
	}
	if h.AfterKiB, err = vmRSS(os.Getpid()); err != nil {
		return h, err
	}
	if h.InitErr == "" {
		if s.sh, err = login(s.ctx); err != nil {
			h.Err = err.Error()
		} else {
			s.in = true
		}
	}
	return h, nil
}

func login(ctx *pkcs11.Ctx) (pkcs11.SessionHandle, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, slot := range slots {
		info, err := ctx.GetTokenInfo(slot)
		if err != nil {
			return 0, fmt.Errorf("C_GetTokenInfo(%d): %w", slot, err)
		}
		if info.Label != tokenLabel {
			continue
		}
		// Read-write: tpm2-pkcs11 creates no object, not even a session
		// object, in a read-only session.
		sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return 0, fmt.Errorf("C_OpenSession: %w", err)
		}
		if err := ctx.Login(sh, pkcs11.CKU_USER, userPIN); err != nil {
			return 0, fmt.Errorf("C_Login: %w", err)
		}
		return sh, nil
	}
	return 0, fmt.Errorf("no token labelled %q among %d slots", tokenLabel, len(slots))
}

// close ends the session and finalises the module. The library stays
// loaded: a Go shared library such as TEP's cannot be unloaded.
func (s *system) close() {
	if s.ctx == nil {
		return
	}
	if s.in {
		s.ctx.Logout(s.sh)
		s.ctx.CloseSession(s.sh)
	}
	s.ctx.Finalize()
}

// run times req.Calls calls of a workload, stopping at the first error,
// or runs one of W7's and Soak's (see w7Steps).
func (s *system) run(req hostRequest) hostReply {
	if step, ok := w7Steps[req.Workload]; ok {
		return step(s, req)
	}
	call, ok := p11Calls[req.Workload]
	if !ok {
		if call, ok = cryptoCalls[req.Workload]; !ok {
			return hostReply{Err: fmt.Sprintf("unknown workload %q", req.Workload)}
		}
		if err := s.setUpCrypto(); err != nil {
			return hostReply{Err: "setting up keys: " + err.Error()}
		}
		if err := s.keys.missing(req.Workload); err != nil {
			return hostReply{Err: err.Error()}
		}
		if err := s.collect(); err != nil {
			return hostReply{Err: err.Error()}
		}
	}
	r := hostReply{Ns: make([]int64, 0, req.Calls)}
	for range req.Calls {
		t := time.Now()
		err := call(s)
		d := time.Since(t)
		if err != nil {
			r.Err = err.Error()
			break
		}
		r.Ns = append(r.Ns, int64(d))
	}
	return r
}

// p11Workloads are the calls P11 times, in order.
var p11Workloads = []string{"C_GenerateRandom(32)", "C_GetSessionInfo"}

var p11Calls = map[string]func(*system) error{
	"C_GenerateRandom(32)": func(s *system) error {
		b, err := s.ctx.GenerateRandom(s.sh, 32)
		if err == nil && len(b) != 32 {
			err = fmt.Errorf("C_GenerateRandom returned %d bytes, want 32", len(b))
		}
		return err
	},
	"C_GetSessionInfo": func(s *system) error {
		_, err := s.ctx.GetSessionInfo(s.sh)
		return err
	},
}
