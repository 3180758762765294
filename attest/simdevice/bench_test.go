package simdevice

import (
	"syscall"
	"testing"
	"time"

	"tep.dev/tep/attest"
)

// BenchmarkEvidence measures one report of a fleet of 2,000 devices,
// each with a 5,000-entry IMA log growing by 50 entries a report, as the
// fleet target has them (issue 19): round after round, every device
// answers an incremental request (the entries since its last report).
func BenchmarkEvidence(b *testing.B) {
	benchEvidence(b, newGenerator(b, "sha256", "sha384"), KeyP256)
}

// BenchmarkEvidenceRSA is BenchmarkEvidence with RSA-2048 AKs, on 200
// devices (RSA keys are slow to make).
func BenchmarkEvidenceRSA(b *testing.B) {
	benchEvidence(b, newGenerator(b, "sha256", "sha384"), KeyRSA2048)
}

func benchEvidence(b *testing.B, src LogSource, ak string) {
	n := 2000
	if ak == KeyRSA2048 {
		n = 200
	}
	f, err := New(Config{Devices: n, AK: ak, IMA: src, IMAEntries: 5000, IMAStep: 50})
	if err != nil {
		b.Fatal(err)
	}
	from := make([]int, n)
	req := attest.QuoteRequest{Nonce: make([]byte, 32), PCRs: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Banks: []string{"sha256", "sha384"}}
	// Every device's first report, with its whole log, before timing.
	for i, d := range f.Devices {
		ev, err := d.Evidence(req)
		if err != nil {
			b.Fatal(err)
		}
		if len(ev.IMALog) == 0 {
			b.Fatal("a first report without its log")
		}
		from[i] = d.IMALen()
	}
	var logBytes int
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := range b.N {
		k := i % n
		req.IMAFrom = from[k]
		ev, err := f.Devices[k].Evidence(req)
		if err != nil {
			b.Fatal(err)
		}
		from[k] = f.Devices[k].IMALen()
		logBytes += len(ev.IMALog)
	}
	b.StopTimer()
	// CPU time, unlike ns/op, holds on a machine that others share:
	// what the load generator's devices cost the CPU it shares with the
	// verifier.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(logBytes)/float64(b.N), "logbytes/op")
}

// cpuTime is this process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNew measures making a device (keys and EK certificate), the
// load generator's start-up cost per device.
func BenchmarkNew(b *testing.B) {
	for _, kind := range []string{KeyP256, KeyRSA2048} {
		b.Run("ek-"+kind, func(b *testing.B) {
			ca, err := NewCA(nil)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := New(Config{Devices: 1, CA: ca, EK: kind}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
