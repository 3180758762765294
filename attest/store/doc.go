// Package store keeps the attestation verifier's state: hosts and the AK
// bound to each, enrolments in flight, single-use nonces, operator and
// enrolment tokens (hashed), flavors, flavor groups and templates, and
// the trust reports with their history.
//
// [Store] is the interface the verifier uses; [SQLite] implements it on
// an embedded database (github.com/mattn/go-sqlite3: WAL, a busy
// timeout, every change in one transaction). The SQL is kept portable so
// that a PostgreSQL store can run the same migrations: no AUTOINCREMENT
// (ids are random text made in Go), no BLOB (bytes travel as base64
// text), times as BIGINT Unix nanoseconds, booleans as INTEGER 0/1, no
// INSERT OR REPLACE, and the schema version in a table of its own rather
// than SQLite's user_version. Statements use "?" placeholders; a
// PostgreSQL dialect rewrites them to "$n".
//
// Concurrency: a Store is safe for concurrent use. Lifetime: open at
// start, Close at shutdown.
package store
