package bench

import (
	"fmt"
	"strings"
	"time"
)

// The fleet issue's targets and the figure they are set beside.
const (
	// targetDevices is one replica's target: devices attesting once a
	// minute, with p99 under p99Target.
	targetDevices = 2000
	// targetRatio is two replicas' target over one replica.
	targetRatio = 1.7
	// keylimeAgents is Keylime's verifier's comfortable load (keylime
	// issue 358) and keylimeInterval its agents' default quote
	// interval: about 250 attestations a second.
	keylimeAgents   = 500
	keylimeInterval = 2 * time.Second
	// quietShare is the most of the cores that other processes may use
	// during the steps a ratio compares: beyond it the two steps had
	// different machines to share, and their ratio says more about the
	// other work than about replication.
	quietShare = 0.15
)

// FleetTarget is one of the targets as the run measured it.
type FleetTarget struct {
	// Name is "one replica (SET-UP)", "two replicas" or "replica
	// SIGKILL soak"; Goal says the target.
	Name string `json:"name"`
	Goal string `json:"goal"`
	// Figure is the sustained fleet in devices a minute (one replica)
	// or the ratio of two replicas' to one's; Met whether it meets the
	// goal. Measured is false when the run did not measure it (Note
	// says why and how to).
	Figure   float64 `json:"figure"`
	Met      bool    `json:"met"`
	Measured bool    `json:"measured"`
	// Step is the largest sustained step the figure rests on (for the
	// ratio, the two replicas'); Base one replica's for the ratio.
	Step *FleetStep `json:"step,omitempty"`
	Base *FleetStep `json:"base,omitempty"`
	// KeylimeDevices is Figure over Keylime's 500 agents; KeylimeRate
	// the sustained attestations a second over Keylime's 250 (500
	// agents quoting every 2 s). One replica only.
	KeylimeDevices float64 `json:"keylime_devices_ratio,omitempty"`
	KeylimeRate    float64 `json:"keylime_rate_ratio,omitempty"`
	// CPUCeiling is, for the ratio, what two replicas could reach at
	// most on this machine if the second ran on the CPU that was spare
	// at one replica's largest step, at the same CPU per attestation:
	// (bench processes' share + spare share) / bench processes' share.
	// Spare is the idle CPU, and other processes' too when the bench ran
	// at a lower nice value than they did.
	CPUCeiling float64 `json:"cpu_ceiling,omitempty"`
	// Noisy is set when other processes used more than quietShare of
	// the cores during a step the figure rests on: a ratio is then not
	// counted as met, whatever it is.
	Noisy bool   `json:"noisy,omitempty"`
	Note  string `json:"note,omitempty"`
}

// fleetTargets sets the run's set-ups beside the targets.
// reclaim says that the bench ran at a lower nice value than the other
// work (FleetConfig.Nice), and so could have taken the CPU that work
// used too.
func fleetTargets(setups []FleetSetup, reclaim bool) []FleetTarget {
	var out []FleetTarget
	byName := map[string]*FleetSetup{}
	for i := range setups {
		s := &setups[i]
		byName[s.Name] = s
		if s.Replicas == 1 {
			out = append(out, oneReplicaTarget(s))
		}
	}
	if two := byName["postgres-2"]; two != nil {
		out = append(out, replicaRatioTarget(byName["postgres"], two, reclaim))
	}
	return append(out, FleetTarget{
		Name: "replica SIGKILL soak",
		Goal: "a replica SIGKILLed every 30 s for 5 min: no report lost or stored twice, every device attested within two intervals",
		Note: "not measured by this benchmark: TEP_SOAK=5m go test ./attest/e2e -run TestReplicaSoak -timeout 15m -v",
	})
}

// oneReplicaTarget is the first target on one set-up of one replica.
func oneReplicaTarget(s *FleetSetup) FleetTarget {
	t := FleetTarget{
		Name: fmt.Sprintf("one replica (%s)", s.Name),
		Goal: fmt.Sprintf("at least %d devices a minute with p99 under %v", targetDevices, p99Target),
	}
	st := s.largestStep()
	if st == nil {
		t.Note = "no step sustained"
		if s.Err != "" {
			t.Note += ": " + s.Err
		}
		return t
	}
	t.Measured, t.Step, t.Figure = true, st, float64(st.Fleet)
	t.Met = st.Fleet >= targetDevices
	if s.capped() {
		t.Note = "every step was sustained: the limit is higher (give larger -steps)"
	}
	if st.OtherShare() > quietShare {
		// Other work only takes CPU away: the figure is a floor.
		t.Noisy = true
		t.Note = strings.TrimPrefix(t.Note+"; ", "; ") +
			fmt.Sprintf("other processes used %.0f%% of the cores: on a quiet machine the figure can only be higher", 100*st.OtherShare())
	}
	t.KeylimeDevices = float64(st.Fleet) / keylimeAgents
	t.KeylimeRate = st.Rate / (keylimeAgents / keylimeInterval.Seconds())
	return t
}

// replicaRatioTarget is the second target: two replicas over one, both on
// PostgreSQL.
func replicaRatioTarget(one, two *FleetSetup, reclaim bool) FleetTarget {
	t := FleetTarget{Name: "two replicas", Goal: fmt.Sprintf("at least %.1f× one replica's sustained fleet, both on one PostgreSQL", targetRatio)}
	if one == nil {
		t.Note = "needs the postgres set-up too (-setups postgres,postgres-2)"
		return t
	}
	base, st := one.largestStep(), two.largestStep()
	t.Base, t.Step = base, st
	if base == nil || st == nil {
		t.Note = "one of the set-ups sustained no step"
		return t
	}
	if one.capped() {
		t.Note = fmt.Sprintf("one replica sustained every step, up to %d devices/min: its limit, and so the ratio, is unknown (give larger -steps)", base.Fleet)
		return t
	}
	t.Measured = true
	t.Figure = float64(st.Fleet) / float64(base.Fleet)
	t.Noisy = base.OtherShare() > quietShare || st.OtherShare() > quietShare
	t.Met = t.Figure >= targetRatio && !t.Noisy
	bench := base.VerifierShare + base.DatabaseShare + base.GeneratorShare
	if bench > 0 {
		spare := max(1-base.MachineShare, 0)
		if reclaim {
			spare += base.OtherShare()
		}
		t.CPUCeiling = (bench + spare) / bench
	}
	switch {
	case two.capped() && !t.Met:
		t.Note = fmt.Sprintf("two replicas sustained every step, up to %d devices/min: the ratio is at least this (give larger -steps)", st.Fleet)
	case t.Noisy:
		t.Note = fmt.Sprintf("not dependable: other processes used %.0f%% of the cores at one replica's largest step and %.0f%% at two's "+
			"(over %.0f%% the two steps did not have the same machine); re-run on a quiet machine",
			100*base.OtherShare(), 100*st.OtherShare(), 100*quietShare)
	case t.Met:
	case t.CPUCeiling > 0 && t.CPUCeiling < targetRatio:
		t.Note = fmt.Sprintf("the cores bound it: at one replica's largest step the machine was %.0f%% busy "+
			"(verifier %.0f%%, PostgreSQL %.0f%%, generator %.0f%%, other processes %.0f%%); a second replica "+
			"on the same cores, at the same CPU per attestation, could reach at most %.2f×",
			100*base.MachineShare, 100*base.VerifierShare, 100*base.DatabaseShare, 100*base.GeneratorShare,
			100*base.OtherShare(), t.CPUCeiling)
	default:
		t.Note = fmt.Sprintf("not for want of CPU: %.0f%% of the cores was idle at one replica's largest step (a ceiling of %.2f×)",
			100*max(1-base.MachineShare, 0), t.CPUCeiling)
	}
	return t
}

// capped says whether every step of s was sustained: its largest is
// then the ladder's top, not its limit.
func (s *FleetSetup) capped() bool {
	for _, st := range s.Steps {
		if !st.Sustained && !st.Superseded {
			return false
		}
	}
	return true
}

// largestStep returns the largest sustained step, or nil.
func (s *FleetSetup) largestStep() *FleetStep {
	var best *FleetStep
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Sustained && (best == nil || st.Fleet > best.Fleet) {
			best = st
		}
	}
	return best
}

// OtherShare is the share of the cores that processes other than the
// verifier, PostgreSQL and the generator used over the step.
func (st *FleetStep) OtherShare() float64 {
	return max(st.MachineShare-st.VerifierShare-st.DatabaseShare-st.GeneratorShare, 0)
}
