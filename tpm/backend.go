package tpm

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// SimSeedFile is the name of the file in the state directory that holds the
// simulator's seed, as 16 hexadecimal digits.
const SimSeedFile = "simulator-seed"

// simInUse is held while the process's one simulator is open, so that a
// second Open("sim") fails instead of blocking inside go-tpm-tools.
var simInUse sync.Mutex

func openBackend(spec, stateDir string) (backend, error) {
	switch {
	case spec == "sim":
		return openSim(stateDir)
	case strings.HasPrefix(spec, "swtpm:"):
		return openSWTPM(strings.TrimPrefix(spec, "swtpm:"))
	case strings.HasPrefix(spec, "/"):
		return openDevice(spec)
	}
	return backend{}, errors.New(`unknown TPM spec: want "sim", "swtpm:HOST:PORT", "swtpm:unix:PATH" or a device path`)
}

func openDevice(path string) (backend, error) {
	rw, err := linuxtpm.Open(path)
	if err != nil {
		return backend{}, err
	}
	// Through the kernel's resource manager every connection sees only its
	// own handles; on the raw device the handles on the TPM are ours.
	rm := strings.HasPrefix(filepath.Base(path), "tpmrm")
	return backend{rw: rw, hygiene: !rm}, nil
}

func openSim(stateDir string) (backend, error) {
	seed, err := simSeed(stateDir)
	if err != nil {
		return backend{}, err
	}
	if !simInUse.TryLock() {
		return backend{}, errors.New("the simulator is already open in this process")
	}
	// The simulator is manufactured afresh and started here; only the
	// hierarchy seeds carry over, derived from seed.
	sim, err := simulator.GetWithFixedSeedInsecure(int64(seed))
	if err != nil {
		simInUse.Unlock()
		return backend{}, fmt.Errorf("starting simulator: %w", err)
	}
	return backend{
		rw:       transport.FromReadWriteCloser(sim),
		release:  simInUse.Unlock,
		insecure: true,
		hygiene:  true,
	}, nil
}

// simSeed returns the seed stored in stateDir, creating it on first use.
func simSeed(stateDir string) (uint64, error) {
	if stateDir == "" {
		return randomSeed()
	}
	path := filepath.Join(stateDir, SimSeedFile)
	for {
		seed, err := readSeed(path)
		if !errors.Is(err, os.ErrNotExist) {
			return seed, err
		}
		seed, err = randomSeed()
		if err != nil {
			return 0, err
		}
		err = writeSeed(stateDir, path, seed)
		if errors.Is(err, os.ErrExist) {
			continue // another process won the race; use its seed
		}
		return seed, err
	}
}

func randomSeed() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("drawing simulator seed: %w", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

func readSeed(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading simulator seed: %w", err)
	}
	seed, err := strconv.ParseUint(strings.TrimSpace(string(b)), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing simulator seed %s: %w", path, err)
	}
	return seed, nil
}

// writeSeed creates the seed file, never replacing one: a lost seed loses
// every blob sealed under it. The seed is written to a temporary file that
// is then linked into place, so a crash never leaves a partial seed file.
func writeSeed(dir, path string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	f, err := os.CreateTemp(dir, SimSeedFile+".tmp*")
	if err != nil {
		return fmt.Errorf("creating simulator seed: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = fmt.Fprintf(f, "%016x\n", seed)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing simulator seed: %w", err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		return fmt.Errorf("creating simulator seed: %w", err)
	}
	return nil
}
