// Package providertest builds libtep_interface.so for tests and the bench's
// tests, the way the Makefile builds it: with its soname, and with the
// linker version script exports.map, so that the library exports the
// PKCS#11 functions and nothing else.
//
// It is a test helper: no binary of the product links it.
package providertest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Name is the module's file name and soname.
const Name = "libtep_interface.so"

// LDFlags returns the -ldflags value that gives the module its soname and
// its export map.
func LDFlags() string {
	return fmt.Sprintf("-extldflags '-Wl,-soname,%s -Wl,--version-script=%s'", Name, exportMap())
}

// exportMap is the path of provider/exports.map, found from this file's.
func exportMap() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "exports.map")
}

// Build builds the module into dir and returns its path. The error carries
// the compiler's output.
func Build(dir string) (string, error) {
	lib := filepath.Join(dir, Name)
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-ldflags", LDFlags(), "-o", lib, "tep.dev/tep/provider")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build of %s: %v\n%s", Name, err, out)
	}
	return lib, nil
}
