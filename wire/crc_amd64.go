package wire

import "golang.org/x/sys/cpu"

// haveFold reports whether the CPU can fold with PCLMULQDQ; PSHUFB
// (SSSE3) reverses bytes and PEXTRQ (SSE4.1) reads the result.
var haveFold = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSSE3 && cpu.X86.HasSSE41

// fold is implemented in crc_amd64.s. len(p) is a positive multiple of 16;
// init is XORed into the top bits of the first block.
//
//go:noescape
func fold(p []byte, init uint64, k *[2]uint64) (lo, hi uint64)
