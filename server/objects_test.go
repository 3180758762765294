package server

import (
	"testing"

	"tep.dev/tep/p11"
)

func attr(t uint64, v []byte) p11.Attribute { return p11.Attribute{Type: t, Value: v} }

func dataTemplate(label string, token, private bool) []p11.Attribute {
	return []p11.Attribute{
		attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_DATA)), attr(p11.CKA_LABEL, []byte(label)),
		attr(p11.CKA_TOKEN, p11.Bool(token)), attr(p11.CKA_PRIVATE, p11.Bool(private)),
		attr(p11.CKA_VALUE, []byte("This is my data object")),
	}
}

func TestObjectLifecycle(t *testing.T) {
	f := newFixture(t, "sim")
	a, b := f.dial(t), f.dial(t)
	ro, _ := a.OpenSession(1, p11.CKF_SERIAL_SESSION)
	rw, _ := a.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	_, err := a.CreateObject(ro, dataTemplate("tok", true, false))
	wantRV(t, "token object in a read-only session", err, p11.CKR_SESSION_READ_ONLY)
	_, err = a.CreateObject(rw, dataTemplate("priv", true, true))
	wantRV(t, "private object without login", err, p11.CKR_USER_NOT_LOGGED_IN)

	h, err := a.CreateObject(rw, dataTemplate("shared", true, false))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := a.AttributeValues(rw, h, []uint64{p11.CKA_LABEL, p11.CKA_VALUE, p11.CKA_MODIFIABLE, p11.CKA_MODULUS})
	wantRV(t, "GetAttributeValue with an invalid type", err, p11.CKR_ATTRIBUTE_TYPE_INVALID)
	if string(vals[0].Value) != "shared" || string(vals[1].Value) != "This is my data object" ||
		string(vals[2].Value) != "\x01" || vals[3].Status != p11.AttrInvalid {
		t.Errorf("attribute values = %+v", vals)
	}

	// Another process sees the token object at once.
	sb, _ := b.OpenSession(1, p11.CKF_SERIAL_SESSION)
	if err := b.FindObjectsInit(sb, []p11.Attribute{attr(p11.CKA_LABEL, []byte("shared"))}); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "second FindObjectsInit", b.FindObjectsInit(sb, nil), p11.CKR_OPERATION_ACTIVE)
	found, err := b.FindObjects(sb, 10)
	if err != nil || len(found) != 1 {
		t.Fatalf("client b found %v, %v: want the token object", found, err)
	}
	b.FindObjectsFinal(sb)
	_, err = b.FindObjects(sb, 10)
	wantRV(t, "FindObjects after Final", err, p11.CKR_OPERATION_NOT_INITIALIZED)

	// Session objects are the creator's, and go with the session.
	sh, err := a.CreateObject(ro, dataTemplate("mine", false, false))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AttributeValues(sb, sh, []uint64{p11.CKA_LABEL})
	wantRV(t, "another client's session object", err, p11.CKR_OBJECT_HANDLE_INVALID)
	a.CloseSession(ro)
	_, err = a.AttributeValues(rw, sh, []uint64{p11.CKA_LABEL})
	wantRV(t, "session object after its session closed", err, p11.CKR_OBJECT_HANDLE_INVALID)

	// Private objects appear with the user's login.
	if err := a.Login(rw, p11.CKU_USER, []byte(userPIN)); err != nil {
		t.Fatal(err)
	}
	ph, err := a.CreateObject(rw, dataTemplate("secret", true, true))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AttributeValues(sb, ph, []uint64{p11.CKA_LABEL})
	wantRV(t, "private object, other client not logged in", err, p11.CKR_OBJECT_HANDLE_INVALID)

	// Changes, copies and destruction.
	if err := a.SetAttributeValue(rw, h, []p11.Attribute{attr(p11.CKA_LABEL, []byte("renamed"))}); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "changing CKA_CLASS", a.SetAttributeValue(rw, h, []p11.Attribute{attr(p11.CKA_CLASS, p11.Ulong(p11.CKO_CERTIFICATE))}), p11.CKR_ATTRIBUTE_READ_ONLY)
	c, err := a.CopyObject(rw, h, []p11.Attribute{attr(p11.CKA_LABEL, []byte("copy")), attr(p11.CKA_TOKEN, p11.Bool(false))})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := a.AttributeValues(rw, c, []uint64{p11.CKA_VALUE, p11.CKA_TOKEN}); string(v[0].Value) != "This is my data object" || string(v[1].Value) != "\x00" {
		t.Errorf("copy = %+v", v)
	}
	if err := a.SetAttributeValue(rw, h, []p11.Attribute{attr(p11.CKA_MODIFIABLE, p11.Bool(false))}); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "changing an unmodifiable object", a.SetAttributeValue(rw, h, []p11.Attribute{attr(p11.CKA_LABEL, []byte("x"))}), p11.CKR_ACTION_PROHIBITED)
	nd, _ := a.CreateObject(rw, append(dataTemplate("stays", false, false), attr(p11.CKA_DESTROYABLE, p11.Bool(false)), attr(p11.CKA_COPYABLE, p11.Bool(false))))
	wantRV(t, "destroying an undestroyable object", a.DestroyObject(rw, nd), p11.CKR_ACTION_PROHIBITED)
	_, err = a.CopyObject(rw, nd, nil)
	wantRV(t, "copying an uncopyable object", err, p11.CKR_ACTION_PROHIBITED)
	if n, err := a.ObjectSize(rw, h); err != nil || n == 0 {
		t.Errorf("ObjectSize = %d, %v", n, err)
	}
	if err := a.DestroyObject(rw, ph); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "destroying twice", a.DestroyObject(rw, ph), p11.CKR_OBJECT_HANDLE_INVALID)
}

func TestTemplateErrors(t *testing.T) {
	f := newFixture(t, "sim")
	c := f.dial(t)
	s, _ := c.OpenSession(1, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	cls := func(v uint64) p11.Attribute { return attr(p11.CKA_CLASS, p11.Ulong(v)) }
	for _, tt := range []struct {
		name string
		tmpl []p11.Attribute
		want p11.RV
	}{
		{"no class", []p11.Attribute{attr(p11.CKA_LABEL, []byte("x"))}, p11.CKR_TEMPLATE_INCOMPLETE},
		{"key without login", []p11.Attribute{cls(p11.CKO_PRIVATE_KEY)}, p11.CKR_USER_NOT_LOGGED_IN},
		{"attribute of another class", []p11.Attribute{cls(p11.CKO_DATA), attr(p11.CKA_MODULUS, []byte{1})}, p11.CKR_ATTRIBUTE_TYPE_INVALID},
		{"bool of four bytes", []p11.Attribute{cls(p11.CKO_DATA), attr(p11.CKA_TOKEN, []byte{0, 0, 0, 1})}, p11.CKR_ATTRIBUTE_VALUE_INVALID},
		{"contradiction", []p11.Attribute{cls(p11.CKO_DATA), attr(p11.CKA_TOKEN, p11.Bool(true)), attr(p11.CKA_TOKEN, p11.Bool(false))}, p11.CKR_TEMPLATE_INCONSISTENT},
		{"certificate without subject", []p11.Attribute{cls(p11.CKO_CERTIFICATE), attr(p11.CKA_CERTIFICATE_TYPE, p11.Ulong(p11.CKC_X_509)), attr(p11.CKA_VALUE, []byte{0x30})}, p11.CKR_TEMPLATE_INCOMPLETE},
		{"non-X.509 certificate", []p11.Attribute{cls(p11.CKO_CERTIFICATE), attr(p11.CKA_CERTIFICATE_TYPE, p11.Ulong(p11.CKC_WTLS))}, p11.CKR_ATTRIBUTE_VALUE_INVALID},
	} {
		_, err := c.CreateObject(s, tt.tmpl)
		wantRV(t, tt.name, err, tt.want)
	}
}
