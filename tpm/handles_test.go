package tpm

import (
	"testing"

	"tep.dev/tep/tpm/tpmtest"
)

// TestInspect checks that Inspect counts what a crashed user left on an
// swtpm, flushes none of it, and counts nothing once Open has cleaned up
// and Close has flushed its own handles.
func TestInspect(t *testing.T) {
	tg := target{tpmtest.StartSWTPM(t), ""}
	inspect := func(when string, wantTransients, wantSessions int) {
		t.Helper()
		tr, se, err := Inspect(tg.spec)
		if err != nil || tr != wantTransients || se != wantSessions {
			t.Errorf("Inspect() %s = %d, %d, %v, want %d, %d, nil", when, tr, se, err, wantTransients, wantSessions)
		}
	}
	inspect("on a fresh swtpm", 0, 0)

	tp, err := Open(tg.spec, tg.dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v", tg.spec, err)
	}
	leaveLeftovers(t, tp)
	tp.abandon()
	// The storage primary key, the leftover object and two sessions, one
	// of them saved; twice, since inspecting must not flush them.
	inspect("after a crash", 2, 2)
	inspect("a second time", 2, 2)

	tp = openTPM(t, tg)
	if err := tp.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	inspect("after Open and Close", 0, 0)
}

func TestInspectErrors(t *testing.T) {
	for _, spec := range []string{"sim", "nonsense", "swtpm:127.0.0.1:0"} {
		if tr, se, err := Inspect(spec); err == nil {
			t.Errorf("Inspect(%q) = %d, %d, nil, want an error", spec, tr, se)
		}
	}
}
