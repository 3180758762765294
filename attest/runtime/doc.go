// Package runtime checks an IMA measurement list against a runtime
// policy in the shape of Keylime's (version 1): the digests allowed for
// each path, path patterns to exclude, and the keyrings whose
// measurements are ignored or checked.
//
// A file that is measured, not excluded and not in the policy is a
// fault naming it (attest.FaultIMAFileUnknown); a path in the policy
// measured with a digest the policy does not list is another
// (attest.FaultIMAFileDigest). Violations (entries whose template hash
// is zero) carry no digest to check and are left to the replay, which
// accounts for them. Exclude patterns are Go regular expressions (RE2),
// anchored at the start of the path as Keylime's re.match is.
//
// A Checker is compiled once from a Policy and is safe for concurrent
// use; checking an entry costs a map lookup and, only for a path not
// allowed as measured, the exclude expression.
package runtime
