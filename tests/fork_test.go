package tests

import (
	"testing"
	"time"
)

// TestForkWithoutExec: a child made by fork() without exec gets clean
// errors, not a hang, and does not inherit the port the parent holds, so
// it cannot keep the port lock or read the parent's replies; the parent
// keeps its session.
func TestForkWithoutExec(t *testing.T) {
	d := startTepd(t, "sim")
	out, err := withTimeout(d.clientCmd("fork"), time.Minute)
	if err != nil {
		t.Fatalf("p11client fork: %v\n%s", err, out)
	}
	r := results(out)
	for what, want := range map[string]string{
		"parent_port_fds":         "1",
		"child_port_fds":          "0",
		"child_C_Initialize":      "0x5",   // CKR_GENERAL_ERROR
		"child_C_GetInfo":         "0x190", // CKR_CRYPTOKI_NOT_INITIALIZED
		"child_exit":              "0",
		"parent_C_GetSessionInfo": "0x0",
		"parent_C_Finalize":       "0x0",
	} {
		if r[what] != want {
			t.Errorf("%s = %q, want %q\n%s", what, r[what], want, out)
		}
	}
}
