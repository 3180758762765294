// Package natsquote carries the verifier's quote requests to agents over
// NATS request/reply, for devices behind NAT that keep one outbound
// connection (Intel SecL's "outbound" trust agent mode) instead of
// serving HTTPS.
//
// Subjects: the agent of host ID subscribes to [QuoteSubject]
// "trust-agent.ID.quote"; the verifier requests on it with an
// attest.QuoteRequest in JSON and the agent replies with a [Reply]:
// the evidence, or an error. An enrolled host is reached over NATS when
// its pull URL is [URL] ("nats:trust-agent.ID"), so the verifier's pull
// schedule (and whatever shares it among replicas) covers NATS hosts as
// it covers HTTPS ones.
//
// Announcements: the agent publishes on [OnlineSubject]
// "trust-agent-online.ID" at start and after every reconnection; the
// verifier replicas [Listen] in the queue group [Queue], so that one of
// them attests the host at once rather than at its next scheduled pull.
//
// Nothing in a NATS message is trusted for its transport: the evidence
// is signed by the host's activated AK over a nonce the verifier issued
// once, so a stranger that answers on a host's subject can only fail the
// attestation, never pass one or mark the host untrusted. NATS TLS (with
// the server's CA, never without checks) and credentials keep strangers
// off the subjects to begin with.
//
// Concurrency: [Serve] answers one quote at a time (nats.go delivers a
// subscription's messages in order); a [Fetcher] is safe for concurrent
// use; [Listen] runs at most its parallel attestations at once. [Connect] returns a connection that reconnects forever with
// capped exponential backoff; nats.go resubscribes after a reconnect.
package natsquote
