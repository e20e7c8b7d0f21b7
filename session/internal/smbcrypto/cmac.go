package smbcrypto

import (
	"crypto/cipher"
	"encoding/binary"
)

// blockMAC is the chaining state of a CBC-MAC over a byte stream, shared by
// AES-CMAC and the MAC half of CCM. The last block, even a full one, stays
// in buf until finished: CMAC treats a full final block differently.
type blockMAC struct {
	x   [16]byte // chaining value
	buf [16]byte // pending bytes
	n   int      // len of pending bytes
}

func (m *blockMAC) reset() { *m = blockMAC{} }

// xorBlock sets dst ^= src for 16-byte blocks.
func xorBlock(dst, src []byte) {
	_ = dst[15]
	_ = src[15]
	binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(dst)^binary.LittleEndian.Uint64(src))
	binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(dst[8:])^binary.LittleEndian.Uint64(src[8:]))
}

// write feeds p into the MAC.
func (m *blockMAC) write(b cipher.Block, p []byte) {
	for len(p) > 0 {
		if m.n == 16 {
			xorBlock(m.x[:], m.buf[:])
			b.Encrypt(m.x[:], m.x[:])
			m.n = 0
		}
		if m.n == 0 {
			for len(p) > 16 {
				xorBlock(m.x[:], p[:16])
				b.Encrypt(m.x[:], m.x[:])
				p = p[16:]
			}
		}
		k := copy(m.buf[m.n:], p)
		m.n += k
		p = p[k:]
	}
}

// pad completes a partial pending block with zeros and absorbs any pending
// block, as CCM does at the end of the associated data and of the payload.
func (m *blockMAC) pad(b cipher.Block) {
	if m.n == 0 {
		return
	}
	clear(m.buf[m.n:])
	xorBlock(m.x[:], m.buf[:])
	b.Encrypt(m.x[:], m.x[:])
	m.n = 0
}

// cmac is AES-CMAC ([RFC4493]) with its subkeys. It is read-only after
// newCMAC and so safe for concurrent use; the per-message state is a
// blockMAC.
type cmac struct {
	b      cipher.Block
	k1, k2 [16]byte
}

// newCMAC computes the subkeys of [RFC4493] 2.3 for a block cipher with
// 16-byte blocks.
func newCMAC(b cipher.Block) *cmac {
	c := &cmac{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	double(&c.k1, &l)
	double(&c.k2, &c.k1)
	return c
}

// double sets dst to src * x in GF(2^128) with the CMAC polynomial
// (shift left by one bit, xor Rb = 0x87 on carry).
func double(dst, src *[16]byte) {
	hi := binary.BigEndian.Uint64(src[:8])
	lo := binary.BigEndian.Uint64(src[8:])
	carry := hi >> 63
	hi = hi<<1 | lo>>63
	lo = lo<<1 ^ (0x87 & -carry)
	binary.BigEndian.PutUint64(dst[:8], hi)
	binary.BigEndian.PutUint64(dst[8:], lo)
}

// sum finishes the MAC of the bytes written to m ([RFC4493] 2.4, steps 3-6)
// and leaves m unusable until reset.
func (c *cmac) sum(m *blockMAC, out *[16]byte) {
	if m.n == 16 {
		xorBlock(m.buf[:], c.k1[:])
	} else {
		m.buf[m.n] = 0x80
		clear(m.buf[m.n+1:])
		xorBlock(m.buf[:], c.k2[:])
	}
	xorBlock(m.x[:], m.buf[:])
	c.b.Encrypt(out[:], m.x[:])
}
