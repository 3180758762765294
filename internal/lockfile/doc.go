// Package lockfile gives a process exclusive use of a path for its
// lifetime: tepd's state directory, and each pty link or unix socket it
// serves.
//
// A lock is a flock(2) on a small file that holds the holder's PID, so a
// refused process can name who holds it. The kernel drops the flock when
// its holder dies, even by SIGKILL, so a lock file left behind by a killed
// process blocks nobody: the next process takes it and writes its own PID.
//
// Release removes the file while still holding it; Acquire therefore checks,
// once it holds a file, that the path still names that file, and starts over
// when it does not (it locked a file that its last holder had just
// removed).
//
// Concurrency: a Lock is owned by one goroutine; Release is idempotent.
// The lock belongs to the open file description, which a child made by
// fork(2) shares; tepd does not fork, and exec closes the descriptor
// (O_CLOEXEC).
package lockfile
