// Package throttle is the verifier's admission control for enrolments:
// token buckets that refuse (and say when to come back) rather than
// make a request wait.
//
// [Global] is one bucket for the costly work of every enrolment (the EK
// certificate chain, the AK, the credential, the database row). When it
// is empty it gives each refused request its own appointment, 1/rate
// after the previous one, so that a crowd of devices that all boot at
// once comes back spread over time at the rate the bucket refills,
// instead of all at the same second.
//
// [Sources] is a bucket per source address for refused requests, so that
// one address that keeps sending bad enrolments is turned away before
// it costs even a database lookup, and cannot spend the global budget
// that legitimate devices need; an address already refused that is
// then turned away by the global bucket spends its bucket too
// ([Sources.RefusedIfKept]), while one never refused (devices behind one
// NAT that boot together) does not. Addresses are keyed by [Key]: an IPv4
// address, or an IPv6 address's /64 (one host or site usually holds a
// whole /64, and could otherwise take a new address for every request).
// Only addresses that were refused are kept, at most a set number of
// them: the least recently refused is forgotten first, so memory is
// bounded whatever the number of addresses a flood comes from.
//
// The buckets are golang.org/x/time/rate's; every method takes the time
// as a parameter, so tests need no sleeps.
//
// Concurrency: Global and Sources are safe for concurrent use. Lifetime:
// make them once, with the server.
package throttle
