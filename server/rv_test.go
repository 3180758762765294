package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"tep.dev/tep/p11"
	"tep.dev/tep/tpm"
)

// TestRVOf checks the one map from errors to return values: the TPM
// layer's sentinels, wrapped as the TPM package and the handlers wrap
// them, keep their PKCS#11 meaning.
func TestRVOf(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	wrap := func(sentinel error, rc error) error {
		return fmt.Errorf("signing: %w", fmt.Errorf("%w: %w", sentinel, rc))
	}
	for _, tc := range []struct {
		name string
		err  error
		want p11.RV
	}{
		{"rv", fmt.Errorf("x: %w", p11.CKR_KEY_HANDLE_INVALID), p11.CKR_KEY_HANDLE_INVALID},
		{"bad arguments", errBadArguments, p11.CKR_ARGUMENTS_BAD},
		{"lockout", wrap(tpm.ErrLockout, tpm2.TPMRCLockout), p11.CKR_PIN_LOCKED},
		{"auth fail", wrap(tpm.ErrAuthFail, tpm2.TPMRCAuthFail), p11.CKR_FUNCTION_FAILED},
		{"usage", fmt.Errorf("signing: %w", tpm.ErrUsage), p11.CKR_KEY_FUNCTION_NOT_PERMITTED},
		{"decrypt", fmt.Errorf("decrypting: %w", tpm.ErrDecrypt), p11.CKR_ENCRYPTED_DATA_INVALID},
		{"unsupported", fmt.Errorf("x: %w", tpm.ErrUnsupported), p11.CKR_MECHANISM_PARAM_INVALID},
		{"other", errors.New("disk on fire"), p11.CKR_DEVICE_ERROR},
	} {
		if got := s.rvOf(p11.FnSign, tc.err); got != tc.want {
			t.Errorf("rvOf(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
