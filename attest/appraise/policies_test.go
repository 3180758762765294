package appraise

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"tep.dev/tep/attest/store"
)

func TestPolicies(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a := New(Config{Key: key})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b := New(Config{Key: other})
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, kind, body string
		ok               bool
	}{
		{"platform flavor", store.KindFlavor, `{"meta":{"flavor_part":"PLATFORM"},"pcrs":[{"pcr":{"index":0,"bank":"sha256"},"measurement":"00","pcr_matches":true}]}`, true},
		{"unknown part", store.KindFlavor, `{"meta":{"flavor_part":"BIOS"}}`, false},
		{"host unique without a host", store.KindFlavor, `{"meta":{"flavor_part":"HOST_UNIQUE"}}`, false},
		{"unknown field", store.KindFlavor, `{"meta":{"flavor_part":"OS"},"pcr":[]}`, false},
		{"two values", store.KindFlavor, `{"meta":{"flavor_part":"OS"}} {}`, false},
		{"group", store.KindFlavorGroup, `{"name":"g","flavor_match_policy":[{"flavor_part":"OS","match_type":"ALL_OF","required":"REQUIRED"}]}`, true},
		{"group without a name", store.KindFlavorGroup, `{"flavor_match_policy":[]}`, false},
		{"group with a bad match", store.KindFlavorGroup, `{"name":"g","flavor_match_policy":[{"flavor_part":"OS","match_type":"SOME_OF","required":"REQUIRED"}]}`, false},
		{"template", store.KindTemplate, `{"id":"t","label":"t","flavor_parts":{}}`, true},
		{"template without an id", store.KindTemplate, `{"label":"t","flavor_parts":{}}`, false},
		{"template with an unknown fact", store.KindTemplate, `{"id":"t","conditions":[{"fact":"colour","equals":"red"}],"flavor_parts":{}}`, false},
		{"unknown kind", "report", `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _, body, err := a.Check(tc.kind, []byte(tc.body), now)
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if id == "" {
				t.Error("Check gave no id")
			}
			sig, err := a.Sign(tc.kind, body)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Verify(tc.kind, body, sig); err != nil {
				t.Errorf("Verify(signed) = %v", err)
			}
			if err := b.Verify(tc.kind, body, sig); err == nil {
				t.Error("another verifier's key verified the signature")
			}
			changed := bytes.Replace(body, []byte(`"`), []byte(`"x`), 1)
			if err := a.Verify(tc.kind, changed, sig); err == nil {
				t.Errorf("Verify(changed body %s) succeeded", changed)
			}
		})
	}
}
