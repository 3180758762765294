package device

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/tpm"
)

// MaxRaise bounds the increments of one RaiseCounter. A TPM counter only
// counts up by one (TPM2_NV_Increment, TPM 2.0 Part 3, 31.8), each step an
// NV write that a chip's flash counts against its endurance, so a counter
// is not raised by millions to meet a large value: epochs and revocation
// numbers are meant to count up by small steps.
const MaxRaise = 1000

// counterAttrs are the attributes of the project's NV counters: a
// TPM_NT_COUNTER (Part 2, 13.4) incremented only with the owner's
// authorization, so no guest or user of the TPM can run it up and lock
// configuration out; readable by the owner and with the index's empty
// authorization value, exempt from dictionary-attack counting, as that
// value is public. Not TPMA_NV_ORDERLY: an orderly counter may jump ahead
// after an unclean shutdown, and an epoch must stay exact.
func counterAttrs(written bool) tpm2.TPMANV {
	return tpm2.TPMANV{
		OwnerWrite: true,
		OwnerRead:  true,
		AuthRead:   true,
		NoDA:       true,
		NT:         tpm2.TPMNTCounter,
		Written:    written,
	}
}

// ReadCounter reads the NV counter at index. An index that does not exist
// is no error: defined is false and value 0. A counter defined but never
// incremented has no value yet (the TPM gives it one at its first
// increment): defined is true and value 0. An index that is not a counter
// with the attributes RaiseCounter gives it is refused.
func ReadCounter(t *tpm.TPM, index tpm2.TPMHandle) (value uint64, defined bool, err error) {
	err = t.Do(func(tr transport.TPM) error {
		value, defined, err = readCounter(tr, index)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("reading NV counter 0x%08x: %w", uint32(index), err)
	}
	return value, defined, nil
}

func readCounter(tr transport.TPM, index tpm2.TPMHandle) (uint64, bool, error) {
	pub, name, err := nvPublic(tr, index)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if pub.DataSize != 8 || pub.Attributes != counterAttrs(pub.Attributes.Written) {
		return 0, false, fmt.Errorf("NV index 0x%08x is not a counter of this project (attributes 0x%08x, %d bytes)", uint32(index), tpm2.Marshal(pub.Attributes), pub.DataSize)
	}
	if !pub.Attributes.Written {
		return 0, true, nil
	}
	b, err := nvRead(tr, pub, name)
	if err != nil {
		return 0, false, err
	}
	v, err := uint64Of(b)
	return v, true, err
}

// RaiseCounter raises the NV counter at index to exactly to, defining it
// first (with the owner's authorization) if it does not exist. A counter
// already at to is left alone. A counter above to is not changed and the
// error wraps ErrCounterAhead; so is one that would need more than
// MaxRaise increments (ErrRaiseTooFar).
//
// A counter's first increment does not start it from 0: the TPM sets it to
// the highest count of any counter it ever had (the reference
// implementation, swtpm's, keeps the highest of those deleted), then adds
// one (TPM 2.0 Part 1, "NV Counters"; Part 3, 31.8), so that undefining
// and defining again never rolls a counter back. If that first value is already above
// to, RaiseCounter stops there and returns an error wrapping
// ErrCounterAhead that gives the value: the counter then stays at it, and
// the caller must pick a value above it (tep-provision status shows it).
// Running tep-provision device first, which makes the first increment,
// lets the operator see the start value before any is chosen.
func RaiseCounter(t *tpm.TPM, index tpm2.TPMHandle, to uint64) error {
	err := t.Do(func(tr transport.TPM) error { return raiseCounter(tr, index, to) })
	if err != nil {
		return fmt.Errorf("raising NV counter 0x%08x to %d: %w", uint32(index), to, err)
	}
	return nil
}

func raiseCounter(tr transport.TPM, index tpm2.TPMHandle, to uint64) error {
	value, started, err := startCounter(tr, index)
	if err != nil {
		return err
	}
	first := ""
	if started {
		first = " (its first value, which the TPM sets from the highest count it ever had)"
	}
	switch {
	case value == to:
		return nil
	case value > to:
		return fmt.Errorf("%w: the counter is at %d%s", ErrCounterAhead, value, first)
	case to-value > MaxRaise:
		return fmt.Errorf("%w: the counter is at %d%s, more than %d below", ErrRaiseTooFar, value, first, MaxRaise)
	}
	for ; value < to; value++ {
		if err := increment(tr, index); err != nil {
			return err
		}
	}
	got, _, err := readCounter(tr, index)
	if err == nil && got != to {
		err = fmt.Errorf("the counter reads %d after the raise", got)
	}
	return err
}

// startCounter returns the counter's value, defining it if it does not
// exist and giving it its first value if it has none; started says it
// had none.
func startCounter(tr transport.TPM, index tpm2.TPMHandle) (value uint64, started bool, err error) {
	value, defined, err := readCounter(tr, index)
	if err != nil {
		return 0, false, err
	}
	if !defined {
		pub := tpm2.TPMSNVPublic{NVIndex: index, NameAlg: tpm2.TPMAlgSHA256, Attributes: counterAttrs(false), DataSize: 8}
		if _, err := (tpm2.NVDefineSpace{AuthHandle: ownerAuth, PublicInfo: tpm2.New2B(pub)}).Execute(tr); err != nil {
			return 0, false, fmt.Errorf("defining the counter: %w", err)
		}
	}
	if defined && value != 0 {
		return value, false, nil
	}
	// Defined, never incremented: it has no value yet (a written counter
	// is never 0).
	if err := increment(tr, index); err != nil {
		return 0, false, err
	}
	value, _, err = readCounter(tr, index)
	return value, true, err
}

// increment is TPM2_NV_Increment (Part 3, 31.8) by the owner.
func increment(tr transport.TPM, index tpm2.TPMHandle) error {
	// The owner authorizes: the index's name is not part of a password
	// session's check, so it is left out.
	_, err := tpm2.NVIncrement{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: index}}.Execute(tr)
	if err != nil {
		return fmt.Errorf("incrementing: %w", err)
	}
	return nil
}

// EnsureCounter defines the NV counter at index if need be and gives it
// its first value, so that its start (the highest count the TPM ever had,
// plus one) is known before any epoch is chosen. It returns the counter's
// value; a counter that has one is left alone.
func EnsureCounter(t *tpm.TPM, index tpm2.TPMHandle) (uint64, error) {
	var v uint64
	err := t.Do(func(tr transport.TPM) (err error) {
		v, _, err = startCounter(tr, index)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("starting NV counter 0x%08x: %w", uint32(index), err)
	}
	return v, nil
}

// uint64Of decodes a counter's 8 big-endian bytes.
func uint64Of(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("counter of %d bytes, not 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
