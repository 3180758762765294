#include "textflag.h"

// Byte-reversal mask for PSHUFB: the first byte of a block becomes the
// most significant, as the MSB-first CRC reads it.
DATA reverse<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA reverse<>+8(SB)/8, $0x0001020304050607
GLOBL reverse<>(SB), RODATA|NOPTR, $16

// func fold(p []byte, init uint64, k *[2]uint64) (lo, hi uint64)
TEXT ·fold(SB), NOSPLIT, $0-56
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	MOVQ init+24(FP), AX
	MOVQ k+32(FP), BX
	MOVOU (BX), X3            // X3 = [x^128 mod P, x^192 mod P]
	MOVOU reverse<>(SB), X4

	// A = first block, with init in its top 16 bits.
	MOVOU (SI), X0
	PSHUFB X4, X0
	MOVQ AX, X6
	PSLLDQ $8, X6
	PXOR X6, X0
	ADDQ $16, SI
	SUBQ $16, CX

loop:
	CMPQ CX, $16
	JB done
	MOVOU (SI), X5
	PSHUFB X4, X5
	MOVOU X0, X1
	PCLMULQDQ $0x11, X3, X0   // A.hi · x^192
	PCLMULQDQ $0x00, X3, X1   // A.lo · x^128
	PXOR X1, X0
	PXOR X5, X0
	ADDQ $16, SI
	SUBQ $16, CX
	JMP loop

done:
	MOVQ X0, lo+40(FP)
	PEXTRQ $1, X0, AX
	MOVQ AX, hi+48(FP)
	RET
