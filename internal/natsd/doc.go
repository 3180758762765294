// Package natsd runs nats-server for TEP's tests and its fleet bench:
// Debian's nats-server on a free loopback port, with TLS and client
// credentials (user and password, or NKeys) when asked.
//
// It is the one launcher of nats-server: the tests of the agent's and
// the verifier's NATS transport and the fleet bench (a command, which
// must not link package testing) all call [Start].
//
// Lifetime: a [Server] runs as a child of this process until
// [Server.Stop]; [Server.Restart] stops it and starts it again on the
// same port, so that clients reconnect to the URL they know. If this
// process dies first, the kernel sends nats-server SIGKILL (Pdeathsig).
// The methods of a Server are safe for concurrent use.
package natsd
