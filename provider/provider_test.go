package main

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"tep.dev/tep/provider/providertest"
)

func TestGuard(t *testing.T) {
	tests := []struct {
		name  string
		body  func(rv *uint64)
		wantR uint64
	}{
		{"return", func(rv *uint64) { *rv = 0x54 }, 0x54},
		{"panic", func(rv *uint64) { *rv = 0x54; panic("test panic") }, ckrGeneralError},
		{"runtime error", func(rv *uint64) { *rv /= *rv }, ckrGeneralError}, // *rv is 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thunk := func() (rv uint64) {
				defer guard(&rv, "C_Test")
				tt.body(&rv)
				return rv
			}
			if got := thunk(); got != tt.wantR {
				t.Errorf("thunk() = %#x, want %#x", got, tt.wantR)
			}
		})
	}
}

// TestLibrary builds libtep_interface.so and loads it as applications do:
// from a C program (testdata/loader.c) and with pkcs11-tool.
func TestLibrary(t *testing.T) {
	dir := t.TempDir()
	loader := filepath.Join(dir, "loader")
	lib, err := providertest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	run(t, time.Minute, "gcc", "-std=c11", "-Wall", "-Wextra", "-Werror",
		"-I", "../c_headers", "-o", loader, "testdata/loader.c", "-ldl")

	// The dynamic symbol table holds the PKCS#11 functions and nothing
	// else: not the Go thunks, the cgo glue or the runtime's globals.
	t.Run("symbols", func(t *testing.T) {
		want := map[string]bool{}
		for _, name := range functionNames(t) {
			want[name] = true
		}
		got := exportedSymbols(t, lib)
		for name := range want {
			if !got[name] {
				t.Errorf("%s is not an exported function of the library", name)
			}
		}
		for name := range got {
			if !want[name] {
				t.Errorf("the library exports %s, which is not a PKCS#11 function", name)
			}
		}
	})

	for _, tt := range []struct {
		check, wantOut string
	}{
		{"list", ""},
		{"calls", ""},
		{"fork", "cannot be used in a child process after fork() without exec()"},
	} {
		t.Run(tt.check, func(t *testing.T) {
			out := run(t, time.Minute, loader, lib, tt.check)
			if !strings.Contains(out, "PASS") {
				t.Errorf("loader %s printed no PASS:\n%s", tt.check, out)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("loader %s output lacks %q:\n%s", tt.check, tt.wantOut, out)
			}
		})
	}

	t.Run("pkcs11-tool", func(t *testing.T) {
		tool, err := exec.LookPath("pkcs11-tool")
		if err != nil {
			t.Fatalf("pkcs11-tool not found (Debian package opensc): %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, tool, "--module", lib, "-I").CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("pkcs11-tool -I did not finish: %v\n%s", ctx.Err(), out)
		}
		// An error exit is fine while the module has no server; a crash is not.
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("pkcs11-tool -I died of %v:\n%s", ws.Signal(), out)
			}
		} else if err != nil {
			t.Fatalf("pkcs11-tool -I: %v", err)
		}
		// It got the function list and called into the module.
		if s := string(out); !strings.Contains(s, "Cryptoki version") && !strings.Contains(s, "C_Initialize") {
			t.Errorf("pkcs11-tool -I shows no sign of calling the module:\n%s", s)
		}
		t.Logf("pkcs11-tool -I:\n%s", out)
	})
}

// run runs a command in the package directory and returns its combined
// output, failing the test if it fails or outlives timeout.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// functionNames returns the 68 function names listed in pkcs11f.h.
func functionNames(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../c_headers/pkcs11f.h")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`X\(CK_RV, (C_\w+),`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) != 68 {
		t.Fatalf("pkcs11f.h lists %d functions, want 68", len(names))
	}
	return names
}

// exportedSymbols returns the names of the symbols, of any kind, that the
// library at path defines in its dynamic symbol table.
func exportedSymbols(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	names := make(map[string]bool)
	for _, s := range syms {
		if elf.ST_BIND(s.Info) != elf.STB_LOCAL && s.Section != elf.SHN_UNDEF {
			names[s.Name] = true
		}
	}
	return names
}
