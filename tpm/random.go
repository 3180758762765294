package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

const (
	// maxRandomRequest bounds one TPM2_GetRandom request. The TPM returns
	// at most the size of its largest digest per call (Part 3, 16.1), often
	// less than asked; GetRandom loops for the rest.
	maxRandomRequest = 64
	// maxSymData is MAX_SYM_DATA, the size of TPM2B_SENSITIVE_DATA's
	// buffer (Part 2, 11.1.14): the most one TPM2_StirRandom takes and the
	// largest secret a sealed-data object holds.
	maxSymData = 128
)

// GetRandom returns n bytes from the TPM's random number generator.
func (t *TPM) GetRandom(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("getting %d random bytes: negative length", n)
	}
	out := make([]byte, 0, n)
	err := t.do(func(l locked) error {
		for len(out) < n {
			want := min(n-len(out), maxRandomRequest)
			rsp, err := tpm2.GetRandom{BytesRequested: uint16(want)}.Execute(l)
			if err != nil {
				return err
			}
			got := rsp.RandomBytes.Buffer
			if len(got) == 0 || len(got) > want {
				return fmt.Errorf("asked for %d bytes, TPM returned %d", want, len(got))
			}
			out = append(out, got...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("getting random bytes: %w", err)
	}
	return out, nil
}

// StirRandom mixes data into the TPM's random number generator state
// (TPM2_StirRandom, Part 3, 16.2), in as many commands as it takes.
func (t *TPM) StirRandom(data []byte) error {
	err := t.do(func(l locked) error {
		for len(data) > 0 {
			chunk := data[:min(len(data), maxSymData)]
			data = data[len(chunk):]
			params := tpm2.Marshal(tpm2.TPM2BSensitiveData{Buffer: chunk})
			if _, err := l.command(tpm2.TPMCCStirRandom, nil, params); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stirring random: %w", err)
	}
	return nil
}
