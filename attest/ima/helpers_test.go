package ima_test

import (
	"crypto/sha1"

	"tep.dev/tep/attest/ima"
)

// templateSHA1 is the kernel's SHA-1 template hash of e.
func templateSHA1(e *ima.Entry) []byte {
	h := sha1.New()
	if e.Template == ima.TemplateIMA {
		pad := make([]byte, 256)
		copy(pad, e.Name)
		h.Write(e.Data[:20])
		h.Write(pad)
	} else {
		h.Write(e.Data)
	}
	return h.Sum(nil)
}
