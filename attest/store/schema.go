package store

// migrations[i] brings the schema from version i to i+1, one statement
// at a time. Portable SQL only (doc.go): a PostgreSQL store runs the same
// list.
var migrations = [][]string{{
	`CREATE TABLE hosts (
		id           TEXT PRIMARY KEY,
		ek_hash      TEXT NOT NULL UNIQUE,
		ek_public    TEXT NOT NULL,
		ek_cert      TEXT NOT NULL,
		ak_public    TEXT NOT NULL,
		ak_name      TEXT NOT NULL,
		facts        TEXT NOT NULL,
		pull_url     TEXT NOT NULL,
		pull_cert    TEXT NOT NULL,
		flavor_group TEXT NOT NULL,
		state        TEXT NOT NULL,
		last_report  TEXT NOT NULL,
		created      BIGINT NOT NULL,
		activated    BIGINT NOT NULL
	)`,
	`CREATE TABLE enrollments (
		id          TEXT PRIMARY KEY,
		host_id     TEXT NOT NULL,
		ek_hash     TEXT NOT NULL,
		ek_public   TEXT NOT NULL,
		ek_cert     TEXT NOT NULL,
		ak_public   TEXT NOT NULL,
		ak_name     TEXT NOT NULL,
		secret_hash TEXT NOT NULL,
		facts       TEXT NOT NULL,
		pull_url    TEXT NOT NULL,
		pull_cert   TEXT NOT NULL,
		status      TEXT NOT NULL,
		created     BIGINT NOT NULL,
		expires     BIGINT NOT NULL
	)`,
	`CREATE INDEX enrollments_expires ON enrollments (expires)`,
	`CREATE TABLE nonces (
		nonce   TEXT PRIMARY KEY,
		host_id TEXT NOT NULL,
		expires BIGINT NOT NULL,
		used    INTEGER NOT NULL
	)`,
	`CREATE INDEX nonces_host ON nonces (host_id, expires)`,
	`CREATE TABLE tokens (
		id      TEXT PRIMARY KEY,
		hash    TEXT NOT NULL UNIQUE,
		role    TEXT NOT NULL,
		created BIGINT NOT NULL,
		expires BIGINT NOT NULL,
		revoked INTEGER NOT NULL,
		used_by TEXT NOT NULL
	)`,
	`CREATE TABLE ek_allow (ek_hash TEXT PRIMARY KEY)`,
	`CREATE TABLE policies (
		kind      TEXT NOT NULL,
		id        TEXT NOT NULL,
		name      TEXT NOT NULL,
		body      TEXT NOT NULL,
		signature TEXT NOT NULL,
		created   BIGINT NOT NULL,
		PRIMARY KEY (kind, id)
	)`,
	`CREATE TABLE reports (
		id      TEXT PRIMARY KEY,
		host_id TEXT NOT NULL,
		created BIGINT NOT NULL,
		trusted INTEGER NOT NULL,
		body    TEXT NOT NULL,
		jws     TEXT NOT NULL
	)`,
	`CREATE INDEX reports_host ON reports (host_id, created)`,
	`CREATE INDEX reports_created ON reports (created)`,
}, {
	// Scheduled pulls shared by replicas (schedule.go): when the host's
	// last report was made, and which replica holds it until when.
	`ALTER TABLE hosts ADD COLUMN reported BIGINT NOT NULL DEFAULT 0`,
	`ALTER TABLE hosts ADD COLUMN claimed_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE hosts ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0`,
	`CREATE INDEX hosts_due ON hosts (reported)`,
}, {
	// Version 3: the outcome of the verifier's attempts to attest pulled
	// hosts (contact.go), so that an unreachable one is stale, not
	// untrusted.
	`CREATE TABLE contacts (
		host_id       TEXT PRIMARY KEY,
		last_report   BIGINT NOT NULL,
		failing_since BIGINT NOT NULL,
		failures      INTEGER NOT NULL,
		last_error    TEXT NOT NULL,
		updated       BIGINT NOT NULL
	)`,
}, {
	// Version 4: an EK's recent enrolments, counted at every enrolment
	// (RecentEnrollments).
	`CREATE INDEX enrollments_ek ON enrollments (ek_hash, created)`,
}}
