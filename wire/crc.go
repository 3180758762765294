package wire

// CRC-16 with eRPC's parameters: polynomial 0x1021, initial value 0xEF4A,
// most significant bit first, no reflection, no final xor.
const (
	crcPoly = 0x1021
	crcInit = 0xEF4A
)

// crcTable[k][b] is the CRC contribution of byte b followed by k zero
// bytes; eight tables let CRC16 consume eight bytes per step ("slicing by
// eight"), which keeps the checksum far below the cost of a pty write.
var crcTable = makeCRCTable()

func makeCRCTable() *[8][256]uint16 {
	t := new([8][256]uint16)
	for b := 0; b < 256; b++ {
		c := uint16(b) << 8
		for i := 0; i < 8; i++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ crcPoly
			} else {
				c <<= 1
			}
		}
		t[0][b] = c
	}
	for k := 1; k < 8; k++ {
		for b := 0; b < 256; b++ {
			c := t[k-1][b]
			t[k][b] = c<<8 ^ t[0][c>>8]
		}
	}
	return t
}

// CRC16 returns the eRPC CRC-16 of p.
func CRC16(p []byte) uint16 { return crcUpdate(crcInit, p) }

func crcUpdate(crc uint16, p []byte) uint16 {
	t := crcTable
	for len(p) >= 8 {
		crc = t[7][p[0]^byte(crc>>8)] ^ t[6][p[1]^byte(crc)] ^
			t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]] ^
			t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>8)^b]
	}
	return crc
}
