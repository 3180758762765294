package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/server"
)

func runInit(_ context.Context, args []string, std cli.IO) error {
	stdout, stderr := std.Out, std.Err
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory (database, simulator seed)")
	tpmSpec := fs.String("tpm", "", "TPM: sim, swtpm:HOST:PORT, swtpm:unix:PATH or a device path")
	label := fs.String("label", "TEP Token", "token label")
	soPIN := fs.String("so-pin", "", "security officer PIN")
	userPIN := fs.String("user-pin", "", "user PIN")
	pinTries := fs.Int("pin-tries", server.DefaultPINTries, "wrong PINs in a row that lock the user PIN (until the SO's C_InitPIN) or the SO PIN (until tepd unlock-so)")
	minRSA := fs.Int("min-rsa-bits", server.DefaultMinRSABits, "the smallest RSA modulus the token makes or imports (1024 for legacy peers, if the TPM has it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" || *tpmSpec == "" || *soPIN == "" || *userPIN == "" {
		return errors.New("init needs --state, --tpm, --so-pin and --user-pin")
	}
	if *pinTries < 1 || *pinTries > server.MaxPINTries {
		return fmt.Errorf("--pin-tries %d out of range 1-%d", *pinTries, server.MaxPINTries)
	}
	if len(*label) > 32 {
		return fmt.Errorf("label %q is longer than 32 bytes", *label)
	}
	b, err := openBackends(*state, *tpmSpec)
	if err != nil {
		return err
	}
	defer b.Close()
	key, _, err := channelKey(b.tpm, *state)
	if err != nil {
		return err
	}
	srv, err := server.New(b.tpm, b.store, server.Config{Log: slog.New(slog.NewTextHandler(stderr, nil)), Key: key})
	if err != nil {
		return err
	}
	defer srv.Close()
	if n, err := b.store.Tokens(); err != nil {
		return err
	} else if len(n) > 0 {
		return fmt.Errorf("%s already holds %d token(s); use a fresh state directory", *state, len(n))
	}
	slot, err := srv.CreateToken(*label, []byte(*soPIN))
	if err != nil {
		return fmt.Errorf("creating the token: %w", err)
	}
	if err := srv.SetPINTries(slot, *pinTries); err != nil {
		return err
	}
	if err := srv.SetMinRSABits(slot, *minRSA); err != nil {
		return fmt.Errorf("--min-rsa-bits: %w", err)
	}
	if err := srv.SetUserPIN(slot, []byte(*soPIN), []byte(*userPIN)); err != nil {
		return fmt.Errorf("setting the user PIN: %w", err)
	}
	if err := srv.ProvisionSamples(slot, []byte(*userPIN)); err != nil {
		return fmt.Errorf("provisioning the sample AES key and data object: %w", err)
	}
	fmt.Fprintf(stdout, "token %q initialised in slot %d of %s (TPM %s), with %q and %q; %d wrong PINs in a row lock a PIN\n",
		*label, slot, *state, *tpmSpec, server.SampleAESLabel, server.SampleDataLabel, *pinTries)
	pinHint(stdout, key.Public())
	return nil
}
