package flavor

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"tep.dev/tep/attest/runtime"
)

// Checked is a stored flavor after its signature check: the flavor and
// its compiled runtime policy, or Err, the reason it is not trusted (a
// flavor with Err is never applied; it gives a FlavorSignatureNotTrusted
// rule). Callers must not change it: a Cache hands the same Checked to
// every appraisal.
type Checked struct {
	Flavor Flavor
	Err    error
	// runtime is Flavor.Runtime compiled, or nil with runtimeErr when
	// it does not compile (or when the flavor has no runtime policy).
	runtime    *runtime.Checker
	runtimeErr error
}

// Check verifies s with the verifier's public key and, if it verifies,
// compiles its runtime policy.
func Check(s Signed, pub crypto.PublicKey) *Checked {
	c := &Checked{Flavor: s.Flavor}
	if c.Err = s.Verify(pub); c.Err == nil && s.Flavor.Runtime != nil {
		c.runtime, c.runtimeErr = s.Flavor.Runtime.Compile()
	}
	return c
}

// Row is a flavor as a store keeps it: the JSON that was signed (or,
// if the row was changed, what is there now) and the signature.
type Row struct {
	ID        string
	Body      []byte
	Signature string
}

// Cache keeps the Checked form of stored flavors so that a row is
// verified and its runtime policy compiled once, not for every report:
// re-encoding a 5,000-path runtime policy for the signature check and
// compiling it were most of an incremental appraisal's time. Entries
// are keyed by the SHA-256 of the row's exact bytes and signature, so a
// row changed in any way (body or signature) misses and is verified
// again, and fails. Load replaces the whole set, so the cache holds the
// flavors of the last Load and no more: it is bounded by the store's
// flavors, which the caller reads anyway. Safe for concurrent use.
type Cache struct {
	pub crypto.PublicKey

	mu      sync.Mutex // guards entries
	entries map[[sha256.Size]byte]*Checked
}

// NewCache returns an empty Cache that checks signatures with pub.
func NewCache(pub crypto.PublicKey) *Cache {
	return &Cache{pub: pub, entries: map[[sha256.Size]byte]*Checked{}}
}

// rowKey hashes a row's body and signature, the body's length first so
// that no two rows share an encoding.
func rowKey(r Row) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(r.Body)))
	h.Write(n[:])
	h.Write(r.Body)
	h.Write([]byte(r.Signature))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// Load returns the rows checked, in order: a row whose bytes and
// signature the cache has seen reuses that check, any other is decoded,
// verified and compiled. Rows not in this Load are forgotten.
func (c *Cache) Load(rows []Row) []*Checked {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[[sha256.Size]byte]*Checked, len(rows))
	out := make([]*Checked, 0, len(rows))
	for _, r := range rows {
		k := rowKey(r)
		ch, ok := c.entries[k]
		if !ok {
			ch = checkRow(r, c.pub)
		}
		next[k] = ch
		out = append(out, ch)
	}
	c.entries = next
	return out
}

// Len is the number of rows the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// checkRow decodes and checks one row; a body that does not decode is
// not trusted (it cannot be what the verifier signed).
func checkRow(r Row, pub crypto.PublicKey) *Checked {
	var f Flavor
	if err := json.Unmarshal(r.Body, &f); err != nil {
		return &Checked{Flavor: Flavor{Meta: Meta{ID: r.ID}},
			Err: fmt.Errorf("flavor %s: %w: the stored body does not decode: %v", r.ID, ErrSignature, err)}
	}
	return Check(Signed{Flavor: f, Signature: r.Signature}, pub)
}
