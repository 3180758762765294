// Package flavor holds the verifier's expectations of a host as Intel
// SecL's flavors do, and evaluates a host's verified evidence against
// them.
//
// A flavor covers one part: PLATFORM (firmware, PCRs 0–7 as a rule),
// OS (the boot loader and kernel), HOST_UNIQUE (values only one host
// has; it applies to that host alone) or IMA (a runtime policy for the
// IMA log). Its PCR rules are SecL's: pcr_matches (the quoted value
// equals the flavor's), eventlog_equals (the PCR's verified boot-log
// events, less those with an excluded tag, are exactly the flavor's),
// eventlog_includes (they include the flavor's); a PCR rule with an
// event-log condition gets the event-log integrity rule added, which
// holds when the boot log replayed to the quoted PCR in that bank.
//
// Templates say which parts and rules to make for which hosts
// (conditions on host facts); Import makes flavors from a golden host's
// verified evidence with them. Groups say how the flavors of each part
// must match (ANY_OF, ALL_OF, LATEST; REQUIRED or REQUIRED_IF_DEFINED).
// The verifier signs each flavor it stores (a JWS of typ
// "tep-flavor+json" over the flavor's JSON); a flavor whose signature
// does not verify is not used, and the report says
// FlavorSignatureNotTrusted.
//
// Evaluation is a pure function of its arguments and safe for
// concurrent use. Checking a signature re-encodes the flavor and
// compiling a runtime policy builds its maps, which for a 5,000-path
// policy costs far more than evaluating it, so a verifier keeps the
// checked flavors in a Cache (keyed by each stored row's exact bytes
// and signature, so that a changed row is checked again) and evaluates
// them with Group.EvaluateChecked.
package flavor
