// Package profile writes a pprof CPU profile of the whole process to a
// file: tepd's -cpuprofile and the provider's TEP_CPUPROFILE.
package profile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Start profiles the process's CPU use into file, created or truncated,
// until stop is called. Only one profile runs at a time in a process.
func Start(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("profiling into %s: %w", file, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
