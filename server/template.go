package server

import (
	"tep.dev/tep/p11"
)

// attrRule says how one attribute may be used in an object class.
type attrRule uint8

const (
	ruleOptional  attrRule = iota // may be given, may be changed
	ruleRequired                  // must be given at creation
	ruleFixed                     // may be given at creation, never changed
	ruleReadOnly                  // set by the token only
	ruleSensitive                 // never revealed (keys, later)
)

// storage attributes every object has (PKCS#11 v2.40, 4.4), with defaults.
var storageRules = map[uint64]attrRule{
	p11.CKA_CLASS: ruleRequired, p11.CKA_TOKEN: ruleFixed, p11.CKA_PRIVATE: ruleFixed,
	p11.CKA_MODIFIABLE: ruleFixed, p11.CKA_COPYABLE: ruleFixed, p11.CKA_DESTROYABLE: ruleFixed,
	p11.CKA_LABEL: ruleOptional,
}

// classRules are the further attributes of each class an application may
// create with C_CreateObject. Key classes made in the TPM come with their
// own rules (issue 4's key work); a key template here is refused.
var classRules = map[uint64]map[uint64]attrRule{
	p11.CKO_DATA: {
		p11.CKA_APPLICATION: ruleOptional, p11.CKA_OBJECT_ID: ruleOptional, p11.CKA_VALUE: ruleOptional,
	},
	p11.CKO_CERTIFICATE: {
		p11.CKA_CERTIFICATE_TYPE: ruleRequired, p11.CKA_TRUSTED: ruleFixed,
		p11.CKA_CERTIFICATE_CATEGORY: ruleFixed, p11.CKA_CHECK_VALUE: ruleFixed,
		p11.CKA_START_DATE: ruleOptional, p11.CKA_END_DATE: ruleOptional, p11.CKA_PUBLIC_KEY_INFO: ruleFixed,
		// X.509 (the only certificate type accepted)
		p11.CKA_SUBJECT: ruleRequired, p11.CKA_ID: ruleOptional, p11.CKA_ISSUER: ruleOptional,
		p11.CKA_SERIAL_NUMBER: ruleOptional, p11.CKA_VALUE: ruleRequired, p11.CKA_URL: ruleFixed,
		p11.CKA_HASH_OF_SUBJECT_PUBLIC_KEY: ruleFixed, p11.CKA_HASH_OF_ISSUER_PUBLIC_KEY: ruleFixed,
		p11.CKA_JAVA_MIDP_SECURITY_DOMAIN: ruleFixed, p11.CKA_NAME_HASH_ALGORITHM: ruleFixed,
	},
}

// keyRules are the attributes of key objects, by class, then by key type.
var keyRules = map[uint64]map[uint64]attrRule{
	p11.CKO_PRIVATE_KEY: privateRules,
	p11.CKO_SECRET_KEY:  secretRules,
	p11.CKO_PUBLIC_KEY: {
		p11.CKA_KEY_TYPE: ruleRequired, p11.CKA_ID: ruleOptional, p11.CKA_START_DATE: ruleOptional,
		p11.CKA_END_DATE: ruleOptional, p11.CKA_DERIVE: ruleOptional, p11.CKA_LOCAL: ruleReadOnly,
		p11.CKA_KEY_GEN_MECHANISM: ruleReadOnly, p11.CKA_ALLOWED_MECHANISMS: ruleFixed,
		p11.CKA_SUBJECT: ruleOptional, p11.CKA_ENCRYPT: ruleOptional, p11.CKA_VERIFY: ruleOptional,
		p11.CKA_VERIFY_RECOVER: ruleOptional, p11.CKA_WRAP: ruleOptional, p11.CKA_TRUSTED: ruleFixed,
		p11.CKA_PUBLIC_KEY_INFO: ruleFixed,
	},
}

var keyTypeRules = map[uint64]map[uint64]attrRule{
	p11.CKK_RSA: {p11.CKA_MODULUS: ruleRequired, p11.CKA_PUBLIC_EXPONENT: ruleRequired, p11.CKA_MODULUS_BITS: ruleReadOnly},
	p11.CKK_EC:  {p11.CKA_EC_PARAMS: ruleRequired, p11.CKA_EC_POINT: ruleRequired},
}

// defaults fill what a template leaves out.
var defaults = map[uint64][]byte{
	p11.CKA_TOKEN: p11.Bool(false), p11.CKA_PRIVATE: p11.Bool(false),
	p11.CKA_MODIFIABLE: p11.Bool(true), p11.CKA_COPYABLE: p11.Bool(true),
	p11.CKA_DESTROYABLE: p11.Bool(true), p11.CKA_LABEL: {},
}

var classDefaults = map[uint64]map[uint64][]byte{
	p11.CKO_PUBLIC_KEY: {
		p11.CKA_ID: {}, p11.CKA_START_DATE: {}, p11.CKA_END_DATE: {}, p11.CKA_DERIVE: p11.Bool(false),
		p11.CKA_LOCAL: p11.Bool(false), p11.CKA_KEY_GEN_MECHANISM: p11.Ulong(p11.CK_UNAVAILABLE_INFORMATION),
		p11.CKA_SUBJECT: {}, p11.CKA_ENCRYPT: p11.Bool(true), p11.CKA_VERIFY: p11.Bool(true),
		p11.CKA_VERIFY_RECOVER: p11.Bool(false), p11.CKA_WRAP: p11.Bool(false), p11.CKA_TRUSTED: p11.Bool(false),
	},
	p11.CKO_DATA: {p11.CKA_APPLICATION: {}, p11.CKA_OBJECT_ID: {}, p11.CKA_VALUE: {}},
	p11.CKO_CERTIFICATE: {
		p11.CKA_TRUSTED: p11.Bool(false), p11.CKA_CERTIFICATE_CATEGORY: p11.Ulong(0),
		p11.CKA_ID: {}, p11.CKA_ISSUER: {}, p11.CKA_SERIAL_NUMBER: {}, p11.CKA_START_DATE: {},
		p11.CKA_END_DATE: {}, p11.CKA_CHECK_VALUE: {}, p11.CKA_URL: {},
	},
}

// rule returns how attribute t may be used in an object of class (and, for
// keys, keyType), and whether it belongs to such an object at all.
func rule(class, keyType, t uint64) (attrRule, bool) {
	if r, ok := storageRules[t]; ok {
		return r, true
	}
	if r, ok := classRules[class][t]; ok {
		return r, true
	}
	if r, ok := keyRules[class][t]; ok {
		return r, true
	}
	if _, isKey := keyRules[class]; isKey {
		r, ok := typeRules(class)[keyType][t]
		return r, ok
	}
	return 0, false
}

// typeRules are the key-type rules of a key class.
func typeRules(class uint64) map[uint64]map[uint64]attrRule {
	switch class {
	case p11.CKO_PRIVATE_KEY:
		return privateTypeRules
	case p11.CKO_SECRET_KEY:
		return secretTypeRules
	}
	return keyTypeRules
}

// rulesOf lists the class's (and key type's) own rules.
func rulesOf(class, keyType uint64) []map[uint64]attrRule {
	if _, isKey := keyRules[class]; isKey {
		return []map[uint64]attrRule{keyRules[class], typeRules(class)[keyType]}
	}
	return []map[uint64]attrRule{classRules[class]}
}

// checkValue checks a value's shape for its attribute's kind.
func checkValue(a p11.Attribute) error {
	switch p11.AttrKind(a.Type) {
	case p11.KindBool:
		if _, err := p11.AsBool(a.Value); err != nil {
			return p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
	case p11.KindUlong:
		if _, err := p11.AsUlong(a.Value); err != nil {
			return p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
	case p11.KindDate:
		if len(a.Value) != 0 && len(a.Value) != 8 {
			return p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
	}
	return nil
}

// newAttrs builds the attributes of an object an application creates from
// tmpl: every rule of PKCS#11 v2.40 section 4 that applies, in the order
// of its return values.
func newAttrs(tmpl []p11.Attribute) (map[uint64][]byte, error) {
	given := map[uint64][]byte{}
	for _, a := range tmpl {
		if err := checkValue(a); err != nil {
			return nil, err
		}
		if prev, ok := given[a.Type]; ok && string(prev) != string(a.Value) {
			return nil, p11.CKR_TEMPLATE_INCONSISTENT
		}
		given[a.Type] = a.Value
	}
	cv, ok := given[p11.CKA_CLASS]
	if !ok {
		return nil, p11.CKR_TEMPLATE_INCOMPLETE
	}
	class, _ := p11.AsUlong(cv)
	_, isKey := keyRules[class]
	if _, ok := classRules[class]; (!ok && !isKey) || class == p11.CKO_PRIVATE_KEY || class == p11.CKO_SECRET_KEY {
		// Private and secret keys are made in the TPM.
		return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
	}
	var keyType uint64
	if isKey {
		kt, ok := given[p11.CKA_KEY_TYPE]
		if !ok {
			return nil, p11.CKR_TEMPLATE_INCOMPLETE
		}
		keyType, _ = p11.AsUlong(kt)
		if _, ok := keyTypeRules[keyType]; !ok {
			return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
		}
	}
	if class == p11.CKO_CERTIFICATE {
		if ct, ok := given[p11.CKA_CERTIFICATE_TYPE]; ok {
			if v, _ := p11.AsUlong(ct); v != p11.CKC_X_509 {
				return nil, p11.CKR_ATTRIBUTE_VALUE_INVALID
			}
		}
	}
	attrs := map[uint64][]byte{}
	for t, v := range given {
		r, ok := rule(class, keyType, t)
		switch {
		case !ok:
			return nil, p11.CKR_ATTRIBUTE_TYPE_INVALID
		case r == ruleReadOnly, r == ruleSensitive:
			return nil, p11.CKR_ATTRIBUTE_READ_ONLY
		}
		attrs[t] = v
	}
	for _, rules := range rulesOf(class, keyType) {
		for t, r := range rules {
			if _, ok := attrs[t]; !ok && r == ruleRequired {
				return nil, p11.CKR_TEMPLATE_INCOMPLETE
			}
		}
	}
	if isKey {
		if err := completeKey(keyType, attrs); err != nil {
			return nil, err
		}
	}
	for _, d := range []map[uint64][]byte{defaults, classDefaults[class]} {
		for t, v := range d {
			if _, ok := attrs[t]; !ok {
				attrs[t] = v
			}
		}
	}
	return attrs, nil
}

// changeAttrs applies a C_SetAttributeValue (copy false) or C_CopyObject
// (copy true) template to a copy of attrs.
func changeAttrs(attrs map[uint64][]byte, tmpl []p11.Attribute, copying bool) (map[uint64][]byte, error) {
	class, _ := p11.AsUlong(attrs[p11.CKA_CLASS])
	keyType, _ := p11.AsUlong(attrs[p11.CKA_KEY_TYPE])
	out := make(map[uint64][]byte, len(attrs))
	for t, v := range attrs {
		out[t] = v
	}
	for _, a := range tmpl {
		if err := checkValue(a); err != nil {
			return nil, err
		}
		r, ok := rule(class, keyType, a.Type)
		if !ok {
			return nil, p11.CKR_ATTRIBUTE_TYPE_INVALID
		}
		if string(out[a.Type]) == string(a.Value) {
			continue // setting what is already there is no change
		}
		switch {
		case r == ruleOptional:
		case copying && (a.Type == p11.CKA_TOKEN || a.Type == p11.CKA_PRIVATE):
		case a.Type == p11.CKA_MODIFIABLE || a.Type == p11.CKA_COPYABLE || a.Type == p11.CKA_DESTROYABLE:
			// may only be turned off (PKCS#11 v2.40, 4.4, footnotes)
			if on, _ := p11.AsBool(a.Value); on {
				return nil, p11.CKR_ATTRIBUTE_READ_ONLY
			}
		default:
			return nil, p11.CKR_ATTRIBUTE_READ_ONLY
		}
		out[a.Type] = a.Value
	}
	return out, nil
}
