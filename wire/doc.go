// Package wire defines the bytes that cross a TEP link: frames and the
// messages they carry.
//
// A frame is a sync marker, an eRPC-style header (crcHeader, size, crcBody)
// extended with the message length and the frame's offset in it, and a body
// of at most MaxBody bytes. A message is a msgpack array carrying protocol
// version, type, function id, client id, sequence number and one msgpack
// value of arguments or results. A message longer than one frame travels in
// several frames and is put back together by an Assembler.
//
// The package does no I/O of its own and holds no policy: a Scanner is fed
// bytes (or filled from an io.Reader) and yields the valid frames it finds,
// skipping noise; the caller decides when the line has been idle long enough
// to give up on a partial frame (Scanner.Idle). docs/wire.md is the
// specification.
//
// Concurrency: Scanner and Assembler are not safe for concurrent use; give
// each reader its own. Slices returned by Scanner.Next, Assembler.Add and
// Message.Decode alias internal or caller buffers and are valid only until
// the next call on the same value.
package wire
