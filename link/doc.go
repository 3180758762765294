// Package link carries wire messages over the byte streams between guest
// and trusted VM: serial devices, pseudo-terminals and unix sockets.
//
// Both sides use it. The server opens serial devices (OpenSerial), makes
// pseudo-terminal pairs for development and tests (NewPTY) and listens on
// unix sockets; it reads requests with a Conn and answers them with Serve.
// The client opens its port with Dial and makes calls with a Client, which
// serialises request/reply exchanges on the port with a Lock: a mutex
// within the process and an open-file-description lock on the tty across
// processes, so several applications can share one tty.
//
// The server claims each pty link and unix socket path it serves with a
// lock file beside it (internal/lockfile) for as long as it serves it, and
// at the end removes the link or socket only if the path still names its
// own: two servers never take a path from each other, and a server that
// died leaves nothing that blocks the next.
// A Client's Handshake sets up its secure channel (package channel); from
// then on it seals every call and opens every reply, and a reply that does
// not open is dropped like a foreign one. The serve loop knows nothing of
// the channel: it answers pings itself and hands everything else to the
// Handler, which may drop a frame without any answer.
//
// A reader that meets noise, a truncated frame (a client killed
// mid-write) or a foreign reply (the answer to a call whose client died)
// drops it, counts it, and carries on with the next valid message. A
// partial multi-frame message is given up after a quiet gap or its time
// (Config.MessageGap, MessageTime), and Conns that share a Budget hold
// partial messages of at most its bytes together.
//
// Concurrency: a Conn is used by one goroutine at a time (Serve or the
// Client that owns it). A Client is safe for concurrent use. A Lock is
// safe for concurrent use.
package link
