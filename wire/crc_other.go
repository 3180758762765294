//go:build !amd64

package wire

const haveFold = false

func fold(p []byte, init uint64, k *[2]uint64) (lo, hi uint64) { panic("unreachable") }
