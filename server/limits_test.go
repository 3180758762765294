package server

import (
	"testing"
	"time"

	"tep.dev/tep/link"
)

// TestLimitsDefaults: a zero field takes its default; a set one stays.
func TestLimitsDefaults(t *testing.T) {
	l := Limits{}.withDefaults()
	if l.Assembly != DefaultAssembly || l.AssemblyWait != link.DefaultBudgetWait || l.Bytes != DefaultBytes {
		t.Errorf("defaults: assembly %d, assembly_wait %v, bytes %d", l.Assembly, l.AssemblyWait, l.Bytes)
	}
	l = Limits{AssemblyWait: 10 * time.Minute, Bytes: 5}.withDefaults()
	if l.AssemblyWait != 10*time.Minute || l.Bytes != 5 {
		t.Errorf("set limits changed: assembly_wait %v, bytes %d", l.AssemblyWait, l.Bytes)
	}
}
