package signer

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// URI is a parsed RFC 7512 PKCS#11 URI, reduced to what names a private
// key: empty fields match anything.
type URI struct {
	Token        string
	Manufacturer string
	Serial       string
	SlotID       *uint
	Object       string // CKA_LABEL
	ID           []byte // CKA_ID
	ModulePath   string
	PIN          string
	HasPIN       bool
}

// ParseURI parses s, which must start with "pkcs11:". Attribute values are
// percent-decoded; an unknown path attribute is an error (RFC 7512 lets a
// consumer ignore vendor attributes, but a misspelled "objet=" would then
// match the first key of the token); unknown query attributes are
// ignored as the RFC says.
func ParseURI(s string) (URI, error) {
	var u URI
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return u, errors.New(`a PKCS#11 URI starts with "pkcs11:"`)
	}
	path, query, _ := strings.Cut(rest, "?")
	for _, attr := range splitNonEmpty(path, ";") {
		name, raw, _ := strings.Cut(attr, "=")
		val, err := url.PathUnescape(raw)
		if err != nil {
			return u, fmt.Errorf("pkcs11 URI attribute %s: %w", name, err)
		}
		switch name {
		case "token":
			u.Token = val
		case "manufacturer":
			u.Manufacturer = val
		case "serial":
			u.Serial = val
		case "slot-id":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return u, fmt.Errorf("pkcs11 URI slot-id %q: not a number", val)
			}
			id := uint(n)
			u.SlotID = &id
		case "object":
			u.Object = val
		case "id":
			u.ID = []byte(val)
		case "type":
			if val != "private" {
				return u, fmt.Errorf("pkcs11 URI type=%s: a signing key is type=private", val)
			}
		case "library-description", "library-manufacturer", "library-version", "model", "slot-description", "slot-manufacturer":
			// Informational for this use.
		default:
			return u, fmt.Errorf("pkcs11 URI: unknown path attribute %q", name)
		}
	}
	for _, attr := range splitNonEmpty(query, "&") {
		name, raw, _ := strings.Cut(attr, "=")
		val, err := url.PathUnescape(raw)
		if err != nil {
			return u, fmt.Errorf("pkcs11 URI attribute %s: %w", name, err)
		}
		switch name {
		case "module-path":
			u.ModulePath = val
		case "pin-value":
			u.PIN, u.HasPIN = val, true
		case "pin-source":
			pin, err := readPINSource(val)
			if err != nil {
				return u, err
			}
			u.PIN, u.HasPIN = pin, true
		}
	}
	if u.ModulePath == "" {
		return u, errors.New("pkcs11 URI: module-path= is required (for example module-path=/usr/lib/softhsm/libsofthsm2.so)")
	}
	if u.Object == "" && u.ID == nil {
		return u, errors.New("pkcs11 URI: name the key with object= or id=")
	}
	return u, nil
}

// readPINSource reads the first line of the file that a pin-source names,
// as a path or a file: URI.
func readPINSource(src string) (string, error) {
	path := strings.TrimPrefix(src, "file:")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("pkcs11 URI pin-source: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
