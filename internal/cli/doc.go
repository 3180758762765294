// Package cli is the shape TEP's commands share: the first word of the
// command line picks a subcommand from a table; "help", "-h" and
// "--help" print the usage on stdout; an error is printed once, on
// stderr, as "PROGRAM: message", followed by the usage when it is a
// [UsageError]; and the exit status is 0 for success (and for a
// subcommand's --help, [flag.ErrHelp]), 2 for a usage error and 1 for
// any other error, unless the program maps errors itself.
//
// The commands stay thin: each declares a [Program] with its usage text
// and its table, calls [Program.Main] from main, and keeps its flags and
// its work in its own files.
//
// Concurrency: a Program is read-only once declared; Run and Main may be
// called from several goroutines (tests do).
package cli
