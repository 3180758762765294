package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// capBatch is how many handles one TPM2_GetCapability asks for.
const capBatch = 64

// LoadedTransients returns how many transient objects are loaded: right
// after Open, just the storage primary key. Through a resource manager it
// counts only this connection's objects.
func (t *TPM) LoadedTransients() (int, error) {
	var hs []tpm2.TPMHandle
	err := t.do(func(l locked) (err error) {
		hs, err = l.handles(tpm2.TPMHTTransient)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("listing transient objects: %w", err)
	}
	return len(hs), nil
}

// LoadedSessions returns how many sessions the TPM holds, loaded or
// context-saved.
func (t *TPM) LoadedSessions() (int, error) {
	n := 0
	err := t.do(func(l locked) error {
		for _, ht := range []tpm2.TPMHT{tpm2.TPMHTLoadedSession, tpm2.TPMHTSavedSession} {
			hs, err := l.handles(ht)
			if err != nil {
				return err
			}
			n += len(hs)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing sessions: %w", err)
	}
	return n, nil
}

// Inspect connects to the TPM named by spec (an swtpm or a device path,
// as for Open), counts the transient objects and the loaded
// or saved sessions on it with TPM2_GetCapability, and disconnects. Unlike
// Open it neither starts the TPM nor flushes anything, so it shows what
// the TPM's last user left: after a process that used Open ends without
// Close, at least its storage primary key. Through a resource manager
// (/dev/tpmrm*) it sees only its own connection, and so counts nothing.
// swtpm serves one connection at a time: Inspect waits while another is
// open. "sim" is refused: the simulator keeps nothing between processes.
func Inspect(spec string) (transients, sessions int, err error) {
	if spec == "sim" {
		return 0, 0, errors.New(`inspecting TPM "sim": the simulator lives in the process that opened it`)
	}
	b, err := openBackend(spec, "")
	if err != nil {
		return 0, 0, fmt.Errorf("inspecting TPM %q: %w", spec, err)
	}
	t := &TPM{rw: b.rw, release: b.release}
	defer func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if cerr := t.drop(); err == nil && cerr != nil {
			err = fmt.Errorf("inspecting TPM %q: %w", spec, cerr)
		}
	}()
	if transients, err = t.LoadedTransients(); err != nil {
		return 0, 0, fmt.Errorf("inspecting TPM %q: %w", spec, err)
	}
	if sessions, err = t.LoadedSessions(); err != nil {
		return 0, 0, fmt.Errorf("inspecting TPM %q: %w", spec, err)
	}
	return transients, sessions, nil
}

// flushAll flushes every transient object and every loaded or saved
// session (TPM 2.0 Part 3, 28.4: FlushContext takes saved sessions too).
func (l locked) flushAll() error {
	for _, ht := range []tpm2.TPMHT{tpm2.TPMHTTransient, tpm2.TPMHTLoadedSession, tpm2.TPMHTSavedSession} {
		hs, err := l.handles(ht)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(l); err != nil {
				return fmt.Errorf("flushing handle 0x%08x: %w", uint32(h), err)
			}
		}
	}
	return nil
}

// handles lists the handles of one type (TPM 2.0 Part 3, 30.2,
// TPM_CAP_HANDLES). The TPM lists only that type, but saved sessions come
// back with their session handles (0x02… or 0x03…), so the listing goes by
// the handle type in the request, not in the answer.
func (l locked) handles(ht tpm2.TPMHT) ([]tpm2.TPMHandle, error) {
	var out []tpm2.TPMHandle
	next := uint32(ht) << 24
	for {
		rsp, err := tpm2.GetCapability{
			Capability:    tpm2.TPMCapHandles,
			Property:      next,
			PropertyCount: capBatch,
		}.Execute(l)
		if err != nil {
			return nil, err
		}
		list, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return nil, err
		}
		out = append(out, list.Handle...)
		if !rsp.MoreData || len(list.Handle) == 0 {
			return out, nil
		}
		last := uint32(list.Handle[len(list.Handle)-1]) & 0x00FFFFFF
		if last == 0x00FFFFFF {
			return out, nil
		}
		next = uint32(ht)<<24 | (last + 1)
	}
}

// errNoProperty means the TPM does not report a property.
var errNoProperty = errors.New("TPM did not report the property")

// property reads one TPM property (TPM_CAP_TPM_PROPERTIES).
func (l locked) property(pt tpm2.TPMPT) (uint32, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(pt),
		PropertyCount: 1,
	}.Execute(l)
	if err != nil {
		return 0, err
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return 0, err
	}
	if len(props.TPMProperty) == 0 || props.TPMProperty[0].Property != pt {
		return 0, errNoProperty
	}
	return props.TPMProperty[0].Value, nil
}

// flush flushes a handle this package created. Its error is returned for
// callers that can report it; a handle that cannot be flushed (the TPM is
// gone) is left to the next Open's cleanup.
func (l locked) flush(h tpm2.TPMHandle) error {
	if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(l); err != nil {
		return fmt.Errorf("flushing handle 0x%08x: %w", uint32(h), err)
	}
	return nil
}
