package natsquote

import "strings"

// Prefix begins every subject of an agent.
const Prefix = "trust-agent."

// Scheme is the pull URL scheme of a host reached over NATS.
const Scheme = "nats"

// QuoteSubject is where host hostID's agent answers quote requests.
func QuoteSubject(hostID string) string { return Prefix + hostID + ".quote" }

// URL is the pull URL that marks host hostID as reached over NATS: the
// verifier requests on QuoteSubject(hostID). The agent's NATS server is
// not in it: the verifier uses its own connection.
func URL(hostID string) string { return Scheme + ":" + Prefix + hostID }

// IsURL says whether u is a NATS pull URL (of any host).
func IsURL(u string) bool { return strings.HasPrefix(u, Scheme+":") }
