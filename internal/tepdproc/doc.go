// Package tepdproc runs tepd as a child process: tepd init makes a token,
// tepd serve serves it on ptys (and on whatever else the caller's flags
// add), and the caller gets the ports once they exist. It is the one
// launcher of tepd, shared by the end-to-end tests and the bench; it does
// not import testing, as the bench is a command.
//
// Lifetime: a [Server] is tepd serve running until [Server.Stop], which is
// safe to call more than once; if this process dies first, the kernel
// sends tepd SIGTERM (Pdeathsig). tepd locks its state directory: Serve
// on a state that a tepd holds fails, naming that tepd, without starting
// another; Serve after Stop serves the same token again.
package tepdproc
