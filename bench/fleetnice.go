package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// renice sets the nice value of every thread of process pid (Linux
// keeps a nice value per thread, setpriority(2) with PRIO_PROCESS sets
// one thread's; threads made later inherit their maker's). The fleet
// benchmark gives the verifier, PostgreSQL and itself one nice value
// (FleetConfig.Nice) so that on a machine shared with other work its
// processes share the cores among themselves as on a machine of their
// own, and the others get what they leave. Lowering a nice value needs
// root (CAP_SYS_NICE).
func renice(pid, nice int) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return fmt.Errorf("setting process %d's nice value: %w", pid, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may have ended since the listing.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("setting process %d's nice value to %d: %w", pid, nice, err)
		}
	}
	return nil
}

// niceOf returns process pid's nice value (stat(5) field 19).
func niceOf(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[16])
}

// statFields returns /proc/PID/stat's fields from the third (state) on.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 17 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// renice gives the replicas and PostgreSQL (the postmaster and its
// processes so far; those it starts later inherit its value) nice.
func (v *fleetVerifier) renice(nice int) error {
	var pids []int
	for _, r := range v.reps {
		pids = append(pids, r.pid())
	}
	if v.pg != nil {
		pids = append(pids, v.pg.Pid())
		kids, _ := children(v.pg.Pid())
		pids = append(pids, kids...)
	}
	for _, pid := range pids {
		if err := renice(pid, nice); err != nil {
			return err
		}
	}
	return nil
}

// reniceSelf gives this process nice and returns a function that puts
// its value back.
func reniceSelf(nice int) (func(), error) {
	pid := os.Getpid()
	was, err := niceOf(pid)
	if err != nil {
		return nil, err
	}
	if err := renice(pid, nice); err != nil {
		return nil, err
	}
	return func() { renice(pid, was) }, nil
}
