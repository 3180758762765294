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
// A lock file can be unlinked by anyone who may write its directory, and
// a second process then locks a new file at the same path. Where the
// directory belongs to one holder (tepd's state directory) AcquireDir
// locks the directory itself instead, which no unlink frees, and keeps a
// PID file beside only for the message. A pty link's or socket's lock
// stays a file: the directory holds other links, maybe of other
// processes. Its limit is the directory's: whoever may write it can
// unlink the lock, but can as well replace the link or the socket
// itself, so the lock guards against a second tepd by mistake, not
// against the directory's writers.
//
// Concurrency: a Lock is owned by one goroutine; Release is idempotent.
// The lock belongs to the open file description, which a child made by
// fork(2) shares; tepd does not fork, and exec closes the descriptor
// (O_CLOEXEC).
package lockfile
