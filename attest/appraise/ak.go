package appraise

import (
	"sync"

	"tep.dev/tep/attest/quote"
)

// maxAKs bounds the parsed AKs an Appraiser keeps: one per host it
// appraises, so a fleet's worth. Beyond it, an arbitrary one is
// dropped (and parsed again when its host attests).
const maxAKs = 1 << 14

// akCache keeps enrolled AKs parsed, keyed by their TPMT_PUBLIC bytes:
// parsing one (go-tpm's reflective unmarshal and the name's digest) was
// a sixth of an incremental appraisal. A key is the exact bytes, so a
// host whose AK changed gets its new AK parsed.
type akCache struct {
	max int // 0: maxAKs

	mu  sync.Mutex // guards aks
	aks map[string]*quote.AK
}

// parse returns pub parsed, from the cache or by quote.ParseAK.
func (c *akCache) parse(pub []byte) (*quote.AK, error) {
	c.mu.Lock()
	ak, ok := c.aks[string(pub)]
	c.mu.Unlock()
	if ok {
		return ak, nil
	}
	ak, err := quote.ParseAK(pub)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aks == nil {
		c.aks = map[string]*quote.AK{}
	}
	bound := c.max
	if bound <= 0 {
		bound = maxAKs
	}
	if len(c.aks) >= bound {
		for k := range c.aks {
			delete(c.aks, k)
			break
		}
	}
	c.aks[string(pub)] = ak
	return ak, nil
}
