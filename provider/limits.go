package main

import "tep.dev/tep/wire"

// The limits of the C edge, in one place (README.md, "Limits", lists
// them). Every count and length an application passes is checked against
// one of them before anything is allocated, copied or converted to a Go
// int: a Go allocation that fails is a fatal error no recover can catch,
// and would take the application down with it.
const (
	// maxRequest bounds the bytes of one call's variable-length arguments
	// together (data, signature, PIN, seed, mechanism parameter, template
	// values, and attrOverhead per template entry): a request must fit in
	// one message on the wire, wire.DefaultMaxMessage (32 MiB), with
	// requestSlack to spare for its fixed fields and their encoding.
	maxRequest = wire.DefaultMaxMessage - requestSlack

	// requestSlack is what a request's fixed fields and encoding may take
	// besides its variable-length arguments.
	requestSlack = 64 << 10

	// attrOverhead is what one template entry costs on the wire besides
	// its value: its type and the encoding of both.
	attrOverhead = 16

	// maxAttributes bounds the entries of one template.
	maxAttributes = 4096

	// maxHandles bounds the handles one C_FindObjects returns; a larger
	// ulMaxObjectCount asks for this many.
	maxHandles = 1 << 16

	// maxOut bounds an output: a reply is one message, so a buffer larger
	// than a message counts as this large.
	maxOut = wire.DefaultMaxMessage

	// maxRandom bounds one C_GenerateRandom.
	maxRandom = maxRequest

	// maxDigest bounds the data of one C_Digest, which the client sends
	// in parts and the edge reads in place, without a copy.
	maxDigest = 1 << 30
)
