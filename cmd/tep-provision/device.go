package main

import (
	"context"
	"fmt"
	"io"

	"tep.dev/tep/internal/cli"
	"tep.dev/tep/provisioning"
	"tep.dev/tep/provisioning/device"
)

const deviceLine = "tep-provision device --policy-key pub.pem --aes-key key.bin|- [--profile auto|ptt|dtpm] [--replace] [--shred] [--tpm SPEC]"

// runDevice is `tep-provision device`: the policy key into NV, the AES
// key to its persistent handle.
func runDevice(_ context.Context, args []string, std cli.IO) error {
	stdin, stdout, stderr := std.In, std.Out, std.Err
	fs := newFlagSet("device", deviceLine, stdout, stderr)
	policyPath := fs.String("policy-key", "", "the operator's policy-signing public key, PEM (P-384 for ptt, P-256 for dtpm)")
	keyPath := fs.String("aes-key", "", "the configuration AES key, 32 (ptt) or 16 (dtpm) raw bytes; - reads standard input")
	profile := fs.String("profile", "auto", "auto (from the TPM's algorithms), ptt (AES-256, P-384) or dtpm (AES-128, P-256)")
	replace := fs.Bool("replace", false, "overwrite a different policy key or AES key already in the TPM")
	shred := fs.Bool("shred", false, "after success, overwrite and remove the AES key file")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case *policyPath == "" || *keyPath == "":
		return cli.Usagef("device needs --policy-key and --aes-key")
	case *shred && *keyPath == "-":
		return cli.Usagef("--shred needs a key file, not standard input")
	case *profile != "auto" && *profile != "ptt" && *profile != "dtpm":
		return cli.Usagef("--profile %q: want auto, ptt or dtpm", *profile)
	}
	pub, err := device.ReadPolicyKeyFile(*policyPath)
	if err != nil {
		return err
	}
	key, warning, err := device.ReadAESKey(*keyPath, stdin)
	if err != nil {
		return err
	}
	defer clear(key)
	if warning != "" {
		fmt.Fprintln(stderr, "tep-provision: warning:", warning)
	}
	t, err := fs.open()
	if err != nil {
		return err
	}
	r, err := device.Provision(t, device.Request{PolicyKey: pub, AESKey: key, Profile: *profile, Replace: *replace})
	clear(key)
	if cerr := t.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	printResult(stdout, r)
	if *shred {
		if err := device.Shred(*keyPath); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "shredded %s\n", *keyPath)
	}
	return nil
}

func printResult(w io.Writer, r device.Result) {
	did := func(changed bool, verb string) string {
		if changed {
			return verb
		}
		return "unchanged"
	}
	fmt.Fprintf(w, "profile %v\n", r.Profile)
	fmt.Fprintf(w, "policy key  NV 0x%08x: %s (ECC %s, SHA256:%x)\n", uint32(provisioning.PolicyKeyIndex),
		did(r.PolicyKeyChanged, "written and write-locked"), r.Profile.Curve.Params().Name, r.PolicyKeyFingerprint)
	fmt.Fprintf(w, "AES key     0x%08x: %s (AES-%d, SHA256:%x)\n", uint32(provisioning.AESKeyHandle),
		did(r.AESKeyChanged, "imported"), r.Profile.AESBits, r.AESKeyFingerprint)
	fmt.Fprintf(w, "counters    NV 0x%08x (configuration epoch) = %d, NV 0x%08x (LUKS revocation) = %d\n",
		uint32(provisioning.ConfigEpochIndex), r.Epoch, uint32(provisioning.LUKSRevocationIndex), r.Revocation)
	if !r.Changed() {
		fmt.Fprintln(w, "unchanged: the TPM already holds these keys")
	}
}
