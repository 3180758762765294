package tpm

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// response builds a TPM response of size bytes in all.
func response(size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint16(b, 0x8001)
	binary.BigEndian.PutUint32(b[2:], uint32(size))
	for i := tpmHeaderLength; i < size; i++ {
		b[i] = byte(i)
	}
	return b
}

func TestReadResponse(t *testing.T) {
	for _, size := range []int{tpmHeaderLength, 64, firstReadLength, firstReadLength + 1, maxResponseLength} {
		want := response(size)
		for name, r := range map[string]io.Reader{
			"whole":       bytes.NewReader(want),
			"byte a time": iotest.OneByteReader(bytes.NewReader(want)),
		} {
			got, err := readResponse(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("size %d, %s: got %d bytes, %v; want the response", size, name, len(got), err)
			}
		}
	}
}

func TestReadResponseBad(t *testing.T) {
	big := response(64)
	binary.BigEndian.PutUint32(big[2:], maxResponseLength+1)
	small := response(64)
	binary.BigEndian.PutUint32(small[2:], tpmHeaderLength-1)
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short header", response(64)[:6], "EOF"},
		{"cut body", response(64)[:40], "EOF"},
		{"size over the limit", big, "out of range"},
		{"size under a header", small, "out of range"},
		{"a second response behind", append(response(20), response(20)...), "after a response"},
	} {
		if _, err := readResponse(bytes.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
