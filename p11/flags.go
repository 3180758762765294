package p11

// Slot information flags (CK_SLOT_INFO.flags).
const (
	CKF_TOKEN_PRESENT    = 0x1
	CKF_REMOVABLE_DEVICE = 0x2
	CKF_HW_SLOT          = 0x4
)

// Token information flags (CK_TOKEN_INFO.flags).
const (
	CKF_RNG                           = 0x1
	CKF_WRITE_PROTECTED               = 0x2
	CKF_LOGIN_REQUIRED                = 0x4
	CKF_USER_PIN_INITIALIZED          = 0x8
	CKF_RESTORE_KEY_NOT_NEEDED        = 0x20
	CKF_CLOCK_ON_TOKEN                = 0x40
	CKF_PROTECTED_AUTHENTICATION_PATH = 0x100
	CKF_DUAL_CRYPTO_OPERATIONS        = 0x200
	CKF_TOKEN_INITIALIZED             = 0x400
	CKF_USER_PIN_COUNT_LOW            = 0x10000
	CKF_USER_PIN_FINAL_TRY            = 0x20000
	CKF_USER_PIN_LOCKED               = 0x40000
	CKF_USER_PIN_TO_BE_CHANGED        = 0x80000
	CKF_SO_PIN_COUNT_LOW              = 0x100000
	CKF_SO_PIN_FINAL_TRY              = 0x200000
	CKF_SO_PIN_LOCKED                 = 0x400000
	CKF_SO_PIN_TO_BE_CHANGED          = 0x800000
)

// Session flags (CK_SESSION_INFO.flags, C_OpenSession).
const (
	CKF_RW_SESSION     = 0x2
	CKF_SERIAL_SESSION = 0x4
)

// C_Initialize argument flags and C_WaitForSlotEvent flags.
const (
	CKF_LIBRARY_CANT_CREATE_OS_THREADS = 0x1
	CKF_OS_LOCKING_OK                  = 0x2
	CKF_DONT_BLOCK                     = 0x1
)

// Mechanism information flags (CK_MECHANISM_INFO.flags).
const (
	CKF_HW                = 0x1
	CKF_ENCRYPT           = 0x100
	CKF_DECRYPT           = 0x200
	CKF_DIGEST            = 0x400
	CKF_SIGN              = 0x800
	CKF_VERIFY            = 0x2000
	CKF_GENERATE          = 0x8000
	CKF_GENERATE_KEY_PAIR = 0x10000
	CKF_WRAP              = 0x20000
	CKF_UNWRAP            = 0x40000
	CKF_EC_F_P            = 0x100000
	CKF_EC_NAMEDCURVE     = 0x800000
	CKF_EC_UNCOMPRESS     = 0x1000000
)

// User types.
const (
	CKU_SO               = 0
	CKU_USER             = 1
	CKU_CONTEXT_SPECIFIC = 2
)

// Session states.
const (
	CKS_RO_PUBLIC_SESSION = 0
	CKS_RO_USER_FUNCTIONS = 1
	CKS_RW_PUBLIC_SESSION = 2
	CKS_RW_USER_FUNCTIONS = 3
	CKS_RW_SO_FUNCTIONS   = 4
)

// Mechanisms.
const (
	CKM_SHA_1  = 0x220
	CKM_SHA256 = 0x250
	CKM_SHA384 = 0x260
	CKM_SHA512 = 0x270
)

// CK_UNAVAILABLE_INFORMATION and CK_EFFECTIVELY_INFINITE as CK_ULONG.
const (
	CK_UNAVAILABLE_INFORMATION = ^uint64(0)
	CK_EFFECTIVELY_INFINITE    = 0
)
