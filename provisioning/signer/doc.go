// Package signer gives the admin's signing key as a crypto.Signer, from a
// PEM private-key file or from a key held in a PKCS#11 token (TEP itself,
// SoftHSM, a smart card), named by an RFC 7512 "pkcs11:" URI. tep-config
// seal and tep-luks sign use it, so that a key kept in a token never
// leaves it.
//
// A URI names the token and the key by its path attributes (token,
// manufacturer, serial, slot-id; object, id; type=private is implied) and
// the module and PIN by its query attributes: module-path (required: this
// package loads no default module), pin-value, or pin-source (a file
// whose first line is the PIN). Without a PIN the key must be usable
// without login. PKCS#11 logs in a process, not a session: while one
// signer of a token is open, a second Load of that token in the same
// process is logged in already, whatever PIN its URI gives.
package signer
