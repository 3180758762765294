package p11

// Function ids on the wire: a function's position in the PKCS#11 v2.40
// function list, counted from one (0 is the link's ping).
const (
	FnInitialize uint16 = iota + 1
	FnFinalize
	FnGetInfo
	FnGetFunctionList
	FnGetSlotList
	FnGetSlotInfo
	FnGetTokenInfo
	FnGetMechanismList
	FnGetMechanismInfo
	FnInitToken
	FnInitPIN
	FnSetPIN
	FnOpenSession
	FnCloseSession
	FnCloseAllSessions
	FnGetSessionInfo
	FnGetOperationState
	FnSetOperationState
	FnLogin
	FnLogout
	FnCreateObject
	FnCopyObject
	FnDestroyObject
	FnGetObjectSize
	FnGetAttributeValue
	FnSetAttributeValue
	FnFindObjectsInit
	FnFindObjects
	FnFindObjectsFinal
	FnEncryptInit
	FnEncrypt
	FnEncryptUpdate
	FnEncryptFinal
	FnDecryptInit
	FnDecrypt
	FnDecryptUpdate
	FnDecryptFinal
	FnDigestInit
	FnDigest
	FnDigestUpdate
	FnDigestKey
	FnDigestFinal
	FnSignInit
	FnSign
	FnSignUpdate
	FnSignFinal
	FnSignRecoverInit
	FnSignRecover
	FnVerifyInit
	FnVerify
	FnVerifyUpdate
	FnVerifyFinal
	FnVerifyRecoverInit
	FnVerifyRecover
	FnDigestEncryptUpdate
	FnDecryptDigestUpdate
	FnSignEncryptUpdate
	FnDecryptVerifyUpdate
	FnGenerateKey
	FnGenerateKeyPair
	FnWrapKey
	FnUnwrapKey
	FnDeriveKey
	FnSeedRandom
	FnGenerateRandom
	FnGetFunctionStatus
	FnCancelFunction
	FnWaitForSlotEvent
)

// FnKeepAlive is a oneway call a live client sends so that the server
// keeps its state past the lease; it is not a PKCS#11 function.
const FnKeepAlive uint16 = 0x100

// The shapes of arguments (…Req) and results (…Resp) on the wire. Every
// result starts with the return value; the other fields are meaningful
// only when it is CKR_OK (or CKR_BUFFER_TOO_SMALL for a Len). A failure
// without results travels as RVResp, the one-element array [rv], whatever
// the function (see IsFailure). Output
// buffers never cross the wire, only their capacity (OutCap, -1 for a NULL
// pointer): the server answers the length a NULL or short buffer needs
// and leaves the operation active, as PKCS#11's length convention wants.

// Hello registers a client at C_Initialize.
type HelloReq struct {
	PID int64
}

// HelloResp tells the client how long the server keeps a silent client's
// state, so that its keep-alives come often enough.
type HelloResp struct {
	RV      RV
	LeaseMs int64
}

// RVResp is the result of functions that return only a value.
type RVResp struct {
	RV RV
}

type SlotListReq struct {
	TokenPresent bool
}

type SlotListResp struct {
	RV    RV
	Slots []uint64
}

type SlotReq struct {
	Slot uint64
}

// Version is CK_VERSION.
type Version struct {
	Major uint8
	Minor uint8
}

type SlotInfoResp struct {
	RV              RV
	Description     string
	ManufacturerID  string
	Flags           uint64
	HardwareVersion Version
	FirmwareVersion Version
}

// TokenInfo is CK_TOKEN_INFO; counts may be CK_UNAVAILABLE_INFORMATION.
type TokenInfo struct {
	Label              string
	ManufacturerID     string
	Model              string
	SerialNumber       string
	Flags              uint64
	MaxSessionCount    uint64
	SessionCount       uint64
	MaxRwSessionCount  uint64
	RwSessionCount     uint64
	MaxPinLen          uint64
	MinPinLen          uint64
	TotalPublicMemory  uint64
	FreePublicMemory   uint64
	TotalPrivateMemory uint64
	FreePrivateMemory  uint64
	HardwareVersion    Version
	FirmwareVersion    Version
	UTCTime            string
}

type TokenInfoResp struct {
	RV   RV
	Info TokenInfo
}

type MechanismListResp struct {
	RV         RV
	Mechanisms []uint64
}

type MechanismInfoReq struct {
	Slot uint64
	Type uint64
}

type MechanismInfoResp struct {
	RV         RV
	MinKeySize uint64
	MaxKeySize uint64
	Flags      uint64
}

type InitTokenReq struct {
	Slot  uint64
	SOPIN []byte
	Label string // 32 bytes, space padded
}

type SessionReq struct {
	Session uint64
}

type InitPINReq struct {
	Session uint64
	PIN     []byte
}

type SetPINReq struct {
	Session uint64
	Old     []byte
	New     []byte
}

type OpenSessionReq struct {
	Slot  uint64
	Flags uint64
}

type OpenSessionResp struct {
	RV      RV
	Session uint64
}

type SessionInfoResp struct {
	RV          RV
	Slot        uint64
	State       uint64
	Flags       uint64
	DeviceError uint64
}

type LoginReq struct {
	Session  uint64
	UserType uint64
	PIN      []byte
}

type GenerateRandomReq struct {
	Session uint64
	Len     uint64
}

type DataResp struct {
	RV   RV
	Data []byte
}

// Mechanism is CK_MECHANISM; Param holds the parameter bytes as the C
// structure would, in this protocol's encoding for that mechanism.
type Mechanism struct {
	Type  uint64
	Param []byte
}

type OpInitReq struct {
	Session   uint64
	Mechanism Mechanism
	Key       uint64
}

type DataReq struct {
	Session uint64
	Data    []byte
}

// OutReq carries input data and the capacity of the caller's output
// buffer (-1: a NULL pointer, the caller asks for the length).
type OutReq struct {
	Session uint64
	Data    []byte
	OutCap  int64
}

// OutResp returns output data, or with CKR_BUFFER_TOO_SMALL (or CKR_OK to
// a NULL buffer) only the length the output needs.
type OutResp struct {
	RV  RV
	Out []byte
	Len uint64
}

// Result returns the return value.
func (r *RVResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *HelloResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *SlotListResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *SlotInfoResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *TokenInfoResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *MechanismListResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *MechanismInfoResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *OpenSessionResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *SessionInfoResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *DataResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *OutResp) Result() RV { return r.RV }

// Resp is what every result shape has: a return value.
type Resp interface{ Result() RV }

// IsFailure reports whether a reply body is the bare [rv] of a failure
// rather than the function's full result shape.
func IsFailure(body []byte) bool { return len(body) > 0 && body[0] == 0x91 }

// TemplateReq carries a template: C_CreateObject (Object unused),
// C_CopyObject, C_SetAttributeValue and C_FindObjectsInit.
type TemplateReq struct {
	Session  uint64
	Object   uint64
	Template []Attribute
}

// ObjectReq names an object: C_DestroyObject, C_GetObjectSize.
type ObjectReq struct {
	Session uint64
	Object  uint64
}

// ObjectResp returns an object handle or size.
type ObjectResp struct {
	RV     RV
	Object uint64
}

// GetAttrReq asks for the values of attribute types of an object.
type GetAttrReq struct {
	Session uint64
	Object  uint64
	Types   []uint64
}

// Attribute status in a GetAttrResp.
const (
	AttrOK        = 0
	AttrSensitive = 1 // CKR_ATTRIBUTE_SENSITIVE for this one
	AttrInvalid   = 2 // CKR_ATTRIBUTE_TYPE_INVALID for this one
)

// AttrValue is one answer of C_GetAttributeValue.
type AttrValue struct {
	Status uint8
	Value  []byte
}

// GetAttrResp answers every requested type, in order; RV summarises as
// PKCS#11 wants (sensitive or invalid types), the provider adds
// CKR_BUFFER_TOO_SMALL from the caller's buffers.
type GetAttrResp struct {
	RV     RV
	Values []AttrValue
}

// FindReq asks for up to Max more handles of an active search.
type FindReq struct {
	Session uint64
	Max     uint64
}

// FindResp returns the handles found.
type FindResp struct {
	RV      RV
	Objects []uint64
}

// Result returns the return value.
func (r *ObjectResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *GetAttrResp) Result() RV { return r.RV }

// Result returns the return value.
func (r *FindResp) Result() RV { return r.RV }

// VerifyReq carries data and a signature: C_Verify (both), C_VerifyFinal
// (signature only).
type VerifyReq struct {
	Session   uint64
	Data      []byte
	Signature []byte
}

// KeyPairReq is C_GenerateKeyPair's arguments.
type KeyPairReq struct {
	Session   uint64
	Mechanism Mechanism
	Public    []Attribute
	Private   []Attribute
}

// KeyPairResp returns the two new objects.
type KeyPairResp struct {
	RV      RV
	Public  uint64
	Private uint64
}

// Result returns the return value.
func (r *KeyPairResp) Result() RV { return r.RV }

// KeyReq is C_GenerateKey's arguments.
type KeyReq struct {
	Session   uint64
	Mechanism Mechanism
	Template  []Attribute
}

// WrapReq is C_WrapKey's arguments (Key is the key to wrap, Wrapping the
// wrapping key) and C_UnwrapKey's (Wrapping is the unwrapping key, Data
// the wrapped key, Template the new key's).
type WrapReq struct {
	Session   uint64
	Mechanism Mechanism
	Wrapping  uint64
	Key       uint64
	Data      []byte
	Template  []Attribute
	OutCap    int64
}
