package report_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"tep.dev/tep/attest"
	"tep.dev/tep/attest/bootlog"
	"tep.dev/tep/attest/bootlog/bootlogtest"
	"tep.dev/tep/attest/flavor"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/attest/report"
)

// The verifier's IMA, boot-log and flavor checks after the quote has
// verified, ending in a signed report that a relying party checks
// offline. The evidence here is synthetic.
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	banks := []string{"sha256", "sha384"}

	// Evidence: an IMA log, a boot log and the quoted PCRs.
	gen, _ := imagen.New(imagen.Config{Banks: banks})
	gen.Append(200)
	boot := bootlogtest.Sample("1.0")
	bootLog, _ := bootlogtest.Build(banks, boot)
	var quoted []attest.PCRBank
	for _, b := range banks {
		v := bootlogtest.PCRs(b, boot)
		v[ima.PCR] = gen.PCR10(b)
		quoted = append(quoted, attest.PCRBank{Bank: b, Values: v})
	}

	// IMA: replay from the stored state (none yet: a first report).
	entries, err := ima.Parse(gen.Log(), ima.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	state, _ := ima.NewState(banks...)
	n, replayFaults := state.Replay(entries, quoted)

	// Boot log, then flavors (here imported from this very host).
	h := &flavor.Host{ID: "edge-1", PCRs: quoted, IMA: entries[:n],
		Facts: attest.HostFacts{OS: "Debian GNU/Linux 12 (bookworm)"}}
	h.EventLog, h.EventLogFaults = bootlog.Verify(bootLog, quoted, nil)
	tmpl := flavor.Template{ID: "t", Label: "uefi", Parts: map[flavor.Part]flavor.PartTemplate{
		flavor.Platform: {Rules: []flavor.RuleTemplate{{PCR: 0, Banks: banks, PCRMatches: true, EventlogEquals: true}}},
		flavor.IMA:      {RuntimePolicy: true},
	}}
	made, _ := flavor.Import(h, []flavor.Template{tmpl}, time.Now())
	var stored []flavor.Signed
	for _, f := range made {
		s, _ := flavor.Sign(f, key)
		stored = append(stored, s)
	}
	group := flavor.DefaultGroup()
	group.Policies = group.Policies[:1] // PLATFORM only, plus IMA below
	group.Policies = append(group.Policies, flavor.MatchPolicy{Part: flavor.IMA, Match: flavor.AnyOf, Required: flavor.Require})
	rules := append([]report.Rule{report.Check("ima_replay", replayFaults)}, group.Evaluate(h, stored, key.Public())...)

	// The signed report, and a relying party's check of it.
	signed, _ := report.Sign(report.New(h.ID, time.Now(), rules), key)
	r, err := report.Verify(signed, key.Public())
	fmt.Println(r.HostID, "trusted:", r.Trusted, "rules:", len(r.Rules), "IMA entries:", state.Entries, err)
	// Output: edge-1 trusted: true rules: 8 IMA entries: 200 <nil>
}
