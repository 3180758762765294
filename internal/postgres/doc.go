// Package postgres runs a real PostgreSQL server for TEP's tests and its
// fleet bench: Debian's binaries (initdb, postgres) on a data folder of
// its own, reachable only through a Unix socket in that folder, never
// over TCP.
//
// It is the one launcher of PostgreSQL: the verifier's store tests and
// the fleet bench (a command, which must not link package testing) both
// call [Start]. PostgreSQL refuses to run as root, so when this process
// is root the server runs as the "postgres" user, which gets the folder.
//
// Lifetime: a [Server] runs as a child of this process, in a process
// group of its own, until [Server.Stop]. [Server.Kill] ends the whole
// group with SIGKILL, as a crash would, and [Server.Restart] starts it
// again on the same data (PostgreSQL then runs its crash recovery). If
// this process dies first, the kernel sends the postmaster SIGKILL
// (Pdeathsig) and its backends follow it when they see it gone. The
// methods of a Server are safe for concurrent use.
package postgres
