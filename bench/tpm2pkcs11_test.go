package bench

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestTPM2PKCS11 sets tpm2-pkcs11 up through tpm2-abrmd and, with a
// broker that does not exist, directly on swtpm, and makes calls through
// each: the fallback is otherwise never run where tpm2-abrmd works.
func TestTPM2PKCS11(t *testing.T) {
	for _, tool := range []string{"swtpm", "tpm2_ptool", "pkcs11-tool", "tpm2-abrmd", "dbus-daemon", "tpm2_getrandom"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run scripts/deps.sh", tool)
		}
	}
	for _, tc := range []struct {
		name, abrmd string
		direct      bool
		tcti        string
	}{
		{"broker", "tpm2-abrmd", false, "TPM2_PKCS11_TCTI=" + tabrmdTCTI},
		{"direct", "/nonexistent/tpm2-abrmd", true, "TPM2_PKCS11_TCTI=swtpm:host=127.0.0.1,port="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := startTPM2PKCS11(t.TempDir(), "tpm2", tc.abrmd)
			if err != nil {
				t.Fatal(err)
			}
			sw, procs := st.sw, []*proc{st.bus, st.abrmd}
			t.Cleanup(func() {
				st.stop()
				if !sw.Exited() {
					t.Errorf("swtpm still runs after stop")
				}
				for _, p := range procs {
					if p != nil && !p.exited() {
						t.Errorf("%s still runs after stop", p.name)
					}
				}
			})
			if st.direct() != tc.direct {
				t.Fatalf("direct() = %v (fallback %v), want %v", st.direct(), st.fallback, tc.direct)
			}
			if !slices.ContainsFunc(st.env, func(e string) bool { return strings.HasPrefix(e, tc.tcti) }) {
				t.Errorf("env = %q, want an entry starting %q", st.env, tc.tcti)
			}
			for _, e := range st.env {
				k, v, _ := strings.Cut(e, "=")
				t.Setenv(k, v)
			}
			in := `{"workload":"C_GenerateRandom(32)","calls":3}` + "\n"
			var out bytes.Buffer
			if err := P11Host(st.module, strings.NewReader(in), &out); err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(&out)
			var hello hostHello
			var rep hostReply
			if err := dec.Decode(&hello); err != nil || hello.InitErr != "" || hello.Err != "" {
				t.Fatalf("hello = %+v, %v; want a logged-in host", hello, err)
			}
			if err := dec.Decode(&rep); err != nil || rep.Err != "" || len(rep.Ns) != 3 {
				t.Errorf("reply = %+v, %v; want 3 timings", rep, err)
			}
		})
	}
}

func TestDBusEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/tmp/x-1/bus_2.sock", "/tmp/x-1/bus_2.sock"},
		{"/tmp/a b,c=d;é", "/tmp/a%20b%2cc%3dd%3b%c3%a9"},
		{`a\*`, `a\*`},
	} {
		if got := dbusEscape(tc.in); got != tc.want {
			t.Errorf("dbusEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
