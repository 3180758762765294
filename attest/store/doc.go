// Package store keeps the attestation verifier's state: hosts and the AK
// bound to each, enrolments in flight, single-use nonces, operator and
// enrolment tokens (hashed), flavors, flavor groups and templates, and
// the trust reports with their history.
//
// [Store] is the interface the verifier uses. [SQLite] implements it on
// an embedded database (github.com/mattn/go-sqlite3: WAL, a busy
// timeout, every change in one transaction), [Postgres] on a PostgreSQL
// database that verifier replicas share (github.com/jackc/pgx/v5
// through database/sql); [Open] picks one by name. Both run the same
// statements and the same migrations (sql.go), which keep to SQL that
// both take: no AUTOINCREMENT (ids are random text made in Go), no BLOB
// (bytes travel as base64 text), times as BIGINT Unix nanoseconds,
// booleans as INTEGER 0/1, upserts as INSERT ... ON CONFLICT rather
// than INSERT OR REPLACE, and the schema version in a table of its own
// rather than SQLite's user_version. Statements use "?" placeholders;
// the PostgreSQL dialect rewrites them to "$n". Writes that replicas can
// race on are single conditional statements (compare and set), which
// SQLite's database lock and PostgreSQL's row locks decide alike.
//
// [Scheduler] shares the pull-mode hosts' scheduled attestations
// between replicas with leases kept in the hosts' rows (schedule.go).
//
// Concurrency: a Store is safe for concurrent use. Lifetime: open at
// start, Close at shutdown.
package store
