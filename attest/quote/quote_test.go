package quote

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"tep.dev/tep/attest"
)

// goldenNonce is the nonce of the quotes in testdata, which an swtpm
// made (a fresh one: PCRs 0 to 10 are zero in both banks) through
// package attest/agent.
var goldenNonce = []byte("0123456789abcdef0123456789abcdef")

// golden reads testdata's quote by an AK of type typ ("rsa", "ecc") as
// evidence, with the verifier's input for it.
func golden(t testing.TB, typ string) (attest.Evidence, Input) {
	t.Helper()
	read := func(ext string) []byte {
		b, err := os.ReadFile("testdata/quote-" + typ + "." + ext)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ev := attest.Evidence{Quote: read("attest"), Signature: read("sig"), Nonce: goldenNonce}
	for _, b := range []struct {
		name string
		size int
	}{{"sha256", 32}, {"sha384", 48}} {
		bank := attest.PCRBank{Bank: b.name, Values: map[int][]byte{}}
		for i := range 11 {
			bank.Values[i] = make([]byte, b.size)
		}
		ev.PCRs = append(ev.PCRs, bank)
	}
	pub := read("akpub")
	ak, err := ParseAK(pub)
	if err != nil {
		t.Fatal(err)
	}
	return ev, Input{AKPublic: pub, ActivatedName: ak.Name, Nonce: goldenNonce,
		Policy: Policy{Banks: []string{"sha256", "sha384"}}}
}

func TestParseAttest(t *testing.T) {
	ev, _ := golden(t, "rsa")
	a, err := ParseAttest(ev.Quote)
	if err != nil {
		t.Fatal(err)
	}
	if a.Magic != TPMGeneratedValue || a.Type != TPMSTAttestQuote || !bytes.Equal(a.ExtraData, goldenNonce) || !a.Safe {
		t.Errorf("ParseAttest = %+v", a)
	}
	if len(a.Selections) != 2 || !slices.Equal(a.Selections[1].PCRs(), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("selections %+v, want sha256 and sha384, PCRs 0-10", a.Selections)
	}
	if !bytes.Equal(a.Marshal(), ev.Quote) {
		t.Error("ParseAttest(b).Marshal() != b")
	}
	for n := range len(ev.Quote) {
		if _, err := ParseAttest(ev.Quote[:n]); err == nil {
			t.Errorf("ParseAttest accepts the quote cut to %d bytes", n)
		}
	}
	if _, err := ParseAttest(append(slices.Clone(ev.Quote), 0)); err == nil {
		t.Error("ParseAttest accepts trailing bytes")
	}
	bad := slices.Clone(ev.Quote)
	bad[6+2+len(a.QualifiedSigner)+2+len(a.ExtraData)+16] = 2 // safe
	if _, err := ParseAttest(bad); err == nil {
		t.Error("ParseAttest accepts safe = 2")
	}
	many := *a
	many.Selections = make([]Selection, maxSelections+1)
	if _, err := ParseAttest(many.Marshal()); err == nil {
		t.Error("ParseAttest accepts 17 PCR selections")
	}
	other := *a
	other.Type, other.Other = 0x8017, []byte{1, 2, 3}
	if o, err := ParseAttest(other.Marshal()); err != nil || !bytes.Equal(o.Other, other.Other) {
		t.Errorf("ParseAttest(certify) = %+v, %v", o, err)
	}
}

func TestVerifyGolden(t *testing.T) {
	for _, typ := range []string{"rsa", "ecc"} {
		ev, in := golden(t, typ)
		r, err := Verify(ev, in)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || len(r.PCRs["sha256"]) != 11 || r.State.Clock == 0 {
			t.Errorf("%s: Verify = %+v", typ, r)
		}
	}
}

func names(fs []attest.Fault) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// TestVerifyFaults changes one thing in a good quote, or in what the
// verifier expects, and checks the fault that Verify names.
func TestVerifyFaults(t *testing.T) {
	a, _ := ParseAttest(func() []byte { ev, _ := golden(t, "rsa"); return ev.Quote }())
	_, eccIn := golden(t, "ecc")
	for _, c := range []struct {
		name string
		edit func(*attest.Evidence, *Input)
		want []string
	}{
		{"old nonce", func(_ *attest.Evidence, in *Input) { in.Nonce = []byte("another nonce") }, []string{attest.FaultQuoteNonce}},
		{"never activated", func(_ *attest.Evidence, in *Input) { in.ActivatedName = nil }, []string{attest.FaultAKNotActivated}},
		{"AK swapped after activation", func(_ *attest.Evidence, in *Input) { in.ActivatedName = eccIn.ActivatedName }, []string{attest.FaultAKNotActivated}},
		{"another AK's quote", func(_ *attest.Evidence, in *Input) { *in = eccIn }, []string{attest.FaultQuoteSignature}},
		{"attest byte changed", func(ev *attest.Evidence, _ *Input) { ev.Quote[len(ev.Quote)-1] ^= 1 }, []string{attest.FaultQuoteSignature}},
		{"signature changed", func(ev *attest.Evidence, _ *Input) { ev.Signature[len(ev.Signature)-1] ^= 1 }, []string{attest.FaultQuoteSignature}},
		{"signature garbage", func(ev *attest.Evidence, _ *Input) { ev.Signature = []byte{0, 0x14} }, []string{attest.FaultQuoteSignature}},
		{"signature scheme", func(ev *attest.Evidence, _ *Input) { ev.Signature[1] = 0x16 }, []string{attest.FaultQuoteSignature}},
		{"PCR value changed", func(ev *attest.Evidence, _ *Input) { ev.PCRs[0].Values[10] = bytes.Repeat([]byte{1}, 32) }, []string{attest.FaultQuotePCRDigest}},
		{"PCR value missing", func(ev *attest.Evidence, _ *Input) { delete(ev.PCRs[1].Values, 7) }, []string{attest.FaultPcrValueMissing}},
		{"PCR value short", func(ev *attest.Evidence, _ *Input) { ev.PCRs[1].Values[7] = make([]byte, 32) }, []string{attest.FaultPcrValueMissing}},
		{"bank twice", func(ev *attest.Evidence, _ *Input) { ev.PCRs = append(ev.PCRs, ev.PCRs[0]) }, []string{attest.FaultQuotePCRDigest}},
		{"bank missing", func(_ *attest.Evidence, in *Input) { in.Policy.Banks = []string{"sha512"} }, []string{attest.FaultQuoteBankMissing}},
		{"PCR not quoted", func(_ *attest.Evidence, in *Input) { in.Policy.PCRs = []int{11} }, []string{attest.FaultPcrValueMissing, attest.FaultPcrValueMissing}},
		{"resetCount down", func(_ *attest.Evidence, in *Input) { in.Prev = &State{ResetCount: a.ResetCount + 1} }, []string{attest.FaultQuoteResetCount}},
		{"restartCount down", func(_ *attest.Evidence, in *Input) {
			in.Prev = &State{ResetCount: a.ResetCount, RestartCount: a.RestartCount + 1}
		}, []string{attest.FaultQuoteRestartCount}},
		{"clock back", func(_ *attest.Evidence, in *Input) {
			in.Prev = &State{ResetCount: a.ResetCount, RestartCount: a.RestartCount, Clock: a.Clock + 1}
		}, []string{attest.FaultQuoteClock}},
		{"firmware claimed", func(ev *attest.Evidence, _ *Input) { ev.Facts.TPMFirmware = "1.2.3.4" }, []string{attest.FaultFirmwareMismatch}},
		{"firmware in policy", func(_ *attest.Evidence, in *Input) { in.Policy.Firmware = "1.2.3.4" }, []string{attest.FaultFirmwareMismatch}},
		// Allowed: a TPM reset restarts restartCount and may set the clock
		// back; a restart may too; the same state again is fine.
		{"after reset", func(_ *attest.Evidence, in *Input) {
			in.Prev = &State{ResetCount: a.ResetCount - 1, RestartCount: a.RestartCount + 5, Clock: a.Clock + 1000}
		}, nil},
		{"clock forward", func(_ *attest.Evidence, in *Input) {
			in.Prev = &State{ResetCount: a.ResetCount, RestartCount: a.RestartCount, Clock: a.Clock - 1}
		}, nil},
		{"firmware as claimed", func(ev *attest.Evidence, in *Input) {
			ev.Facts.TPMFirmware = attest.FirmwareVersion(a.FirmwareVersion)
			in.Policy.Firmware = ev.Facts.TPMFirmware
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, in := golden(t, "rsa")
			c.edit(&ev, &in)
			r, err := Verify(ev, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(r.Faults); !slices.Equal(got, c.want) {
				t.Errorf("faults %v (%+v), want %v", got, r.Faults, c.want)
			}
		})
	}
}

func TestVerifyBadInput(t *testing.T) {
	ev, in := golden(t, "rsa")
	noNonce := in
	noNonce.Nonce = nil
	badAK := in
	badAK.AKPublic = []byte{0, 1}
	for _, in := range []Input{noNonce, badAK} {
		if _, err := Verify(ev, in); err == nil {
			t.Errorf("Verify(%+v) succeeded", in)
		}
	}
}

// TestCheckClock covers what the golden quote cannot: its restartCount
// is 0, and an swtpm does not clear safe on demand (a TPM that may have
// shown a later clock before says so with safe = NO).
func TestCheckClock(t *testing.T) {
	prev := &State{ResetCount: 3, RestartCount: 2, Clock: 1000}
	for _, c := range []struct {
		a    Attest
		want []string
	}{
		{Attest{Safe: true, ResetCount: 3, RestartCount: 3, Clock: 10}, nil},
		{Attest{Safe: true, ResetCount: 3, RestartCount: 2, Clock: 1000}, nil},
		{Attest{Safe: true, ResetCount: 3, RestartCount: 1, Clock: 2000}, []string{attest.FaultQuoteRestartCount}},
		{Attest{Safe: false, ResetCount: 3, RestartCount: 2, Clock: 2000}, []string{attest.FaultQuoteNotSafe}},
	} {
		r := &Result{}
		r.checkClock(&c.a, prev)
		if got := names(r.Faults); !slices.Equal(got, c.want) {
			t.Errorf("checkClock(%+v) faults %v, want %v", c.a, got, c.want)
		}
	}
}

func TestSHA1Only(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want []string
	}{
		{Policy{}, []string{attest.FaultQuoteSHA1Only, attest.FaultQuoteBankMissing}},
		{Policy{Banks: []string{"sha1"}}, []string{attest.FaultQuoteSHA1Only}},
		{Policy{Banks: []string{"sha1"}, AllowSHA1Only: true}, nil},
	} {
		r := &Result{}
		r.checkSelection(&Attest{Selections: []Selection{{Hash: banks["sha1"], Select: []byte{0xff, 0x07, 0}}}}, c.p)
		if got := names(r.Faults); !slices.Equal(got, c.want) {
			t.Errorf("policy %+v: faults %v, want %v", c.p, got, c.want)
		}
	}
}

// FuzzParseAttest checks that ParseAttest never panics and that what it
// accepts marshals back to the same bytes.
func FuzzParseAttest(f *testing.F) {
	for _, typ := range []string{"rsa", "ecc"} {
		ev, _ := golden(f, typ)
		f.Add(ev.Quote)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAttest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(a.Marshal(), b) {
			t.Errorf("ParseAttest(%x).Marshal() = %x", b, a.Marshal())
		}
	})
}

// FuzzVerify checks that no quote and signature bytes make Verify panic
// or accept what the AK did not sign.
func FuzzVerify(f *testing.F) {
	ev, _ := golden(f, "ecc")
	f.Add(ev.Quote, ev.Signature)
	f.Fuzz(func(t *testing.T, quote, sig []byte) {
		ev, in := golden(t, "ecc")
		good := bytes.Equal(quote, ev.Quote)
		ev.Quote, ev.Signature = quote, sig
		r, err := Verify(ev, in)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() && !good {
			t.Errorf("Verify accepts quote %x", quote)
		}
	})
}
