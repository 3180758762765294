package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// rig is what one P11 or Crypto run has started, to be stopped in
// reverse order (hosts before the servers they call, servers before the
// TPMs under them), and what it noted on the way for the reader. Its
// methods set up a p11System each: what fails goes into the system's err.
type rig struct {
	dir   string
	stops []func()
	notes []string
}

// onStop has stop call f, before whatever was added earlier.
func (r *rig) onStop(f func()) { r.stops = append(r.stops, f) }

// stop stops everything the rig started, the last first.
func (r *rig) stop() {
	for i := len(r.stops) - 1; i >= 0; i-- {
		r.stops[i]()
	}
	r.stops = nil
}

// tep sets s up as TEP over a pty: tepd with its state in dir/name, on
// TPM spec as tepd's --tpm takes it, and libtep_interface.so from build.
func (r *rig) tep(s *p11System, name, build, spec string) *tepd {
	t, err := startTEPD(r.dir, name, build, spec)
	if err != nil {
		s.err = err
		return nil
	}
	r.onStop(t.stop)
	if _, err := os.Stat(t.so); err != nil {
		s.err = err
	} else {
		s.module, s.env = t.so, []string{"TEC_COMM_PORT=" + t.Ports[0]}
	}
	return t
}

// softHSM sets s up as SoftHSMv2 with a fresh token.
func (r *rig) softHSM(s *p11System) {
	if s.module, s.err = firstExisting(softHSMPaths); s.err != nil {
		return
	}
	var conf string
	conf, s.err = setUpSoftHSM(r.dir)
	s.env = []string{"SOFTHSM2_CONF=" + conf}
}

// tpm2 sets s up as tpm2-pkcs11 on an swtpm of its own behind
// tpm2-abrmd, with files in the rig's directory beginning with files.
// When the broker cannot run, s reaches the swtpm directly, directSuffix
// is added to its name, and a note says why.
func (r *rig) tpm2(s *p11System, files string) *tpm2Stack {
	t, err := startTPM2PKCS11(r.dir, files, "tpm2-abrmd")
	if err != nil {
		s.err = err
		return nil
	}
	r.onStop(t.stop)
	if t.direct() {
		s.name += directSuffix
		r.notes = append(r.notes, fmt.Sprintf("%s reaches its swtpm without tpm2-abrmd, which could not run: %v", s.name, t.fallback))
	}
	s.module, s.env, s.tpm2 = t.module, t.env, true
	return t
}

// p11Kit sets kit up as p11-kit's RPC over a pty pair (see p11KitChain)
// to the module of back, a system set up but not measured itself.
func (r *rig) p11Kit(kit, back *p11System) {
	if back.err != nil {
		kit.err = back.err
		return
	}
	if kit.module, kit.err = firstExisting(p11KitClientPaths); kit.err != nil {
		return
	}
	c, err := startP11Kit(r.dir, kit.name, back.module, back.env)
	if err != nil {
		kit.err = err
		return
	}
	r.onStop(c.stop)
	kit.env, kit.chain, kit.tpm2 = []string{"P11_KIT_SERVER_ADDRESS=" + c.addr}, c, back.tpm2
}

// p11KitTPM2 sets kit up as p11-kit's RPC over a pty pair to tpm2-pkcs11
// on a TPM of its own, named with directSuffix when that TPM is reached
// without tpm2-abrmd.
func (r *rig) p11KitTPM2(kit *p11System) {
	back := &p11System{name: kit.name}
	r.tpm2(back, kit.name+"-server")
	kit.name = back.name
	r.p11Kit(kit, back)
}

// startHosts starts a host for each system that is ready and records, in
// res, the memory its module added (once per module). A module that
// fails to initialise, or a token that cannot be logged in to, goes into
// the system's err.
func (r *rig) startHosts(c P11Config, systems []*p11System, res *P11Result) {
	seen := map[string]bool{}
	for _, s := range systems {
		if s.err != nil {
			continue
		}
		s.host, s.err = startHost(c.Dir, s.name, c.Host, s.module, s.env)
		if s.host == nil {
			continue
		}
		r.onStop(s.host.stop)
		hello := s.host.hello
		if !seen[s.module] {
			seen[s.module] = true
			res.RSS = append(res.RSS, P11RSS{What: "added to a host by " + filepath.Base(s.module),
				KiB: hello.AfterKiB - hello.BeforeKiB, BeforeKiB: hello.BeforeKiB, AfterKiB: hello.AfterKiB, Err: hello.InitErr})
		}
		if hello.InitErr != "" {
			s.err = errors.New(hello.InitErr)
		} else if hello.Err != "" {
			s.err = errors.New(hello.Err)
		}
	}
}

// checkChains makes sure that the calls of each p11-kit system cross its
// pty (see checkPTY), once its host is connected: a chain that went
// around it would flatter the peer.
func checkChains(systems []*p11System) {
	for _, s := range systems {
		if s.err != nil || s.chain == nil {
			continue
		}
		if err := s.chain.checkPTY(); err != nil {
			s.err = fmt.Errorf("the chain does not run through a pty: %w", err)
		}
	}
}
