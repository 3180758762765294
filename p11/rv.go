package p11

import "fmt"

// RV is a PKCS#11 return value (CK_RV).
type RV uint32

// String returns the spec name of rv, or its number.
func (rv RV) String() string {
	if s, ok := rvNames[rv]; ok {
		return s
	}
	return fmt.Sprintf("CKR_0x%X", uint32(rv))
}

// Error makes a return value other than CKR_OK a Go error, so that a
// server can return one through layers that speak error; RVOf recovers it.
func (rv RV) Error() string { return rv.String() }
