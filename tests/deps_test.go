package tests

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestNoTestingInProducts checks that no product links package testing
// (or a package under it), which a test helper in a production package
// would bring in: not the commands and the module as go list sees them,
// and not the tepd and libtep_interface.so that TestMain built.
func TestNoTestingInProducts(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "../cmd/...", "../provider").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkgs++
		for _, dep := range f[1:] {
			if isTesting(dep) {
				t.Errorf("%s imports %s", f[0], dep)
			}
		}
	}
	if pkgs < 3 {
		t.Errorf("go list named %d packages, want the commands and the provider:\n%s", pkgs, out)
	}
	for _, bin := range []string{bin.tepd, bin.module} {
		syms, err := exec.Command("go", "tool", "nm", bin).Output()
		if err != nil {
			t.Fatalf("go tool nm %s: %v", bin, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(syms))
		n := 0
		for sc.Scan() {
			n++
			// address, type, name
			if f := strings.Fields(sc.Text()); len(f) == 3 && isTesting(f[2]) {
				t.Errorf("%s has symbol %s", bin, f[2])
			}
		}
		if n < 1000 {
			t.Errorf("go tool nm %s listed %d symbols, want Go's", bin, n)
		}
	}
}

// isTesting says whether name, a package path or a symbol, is of package
// testing or of a package under it.
func isTesting(name string) bool {
	return name == "testing" || strings.HasPrefix(name, "testing.") || strings.HasPrefix(name, "testing/")
}
