package smbcrypto

import "encoding/binary"

// elem is an element of GF(2^128) as GCM defines it (NIST SP 800-38D 6.3):
// the bits of a 16-byte block, the first (most significant) bit of byte 0
// being the coefficient of x^0. hi holds bytes 0..7 and lo bytes 8..15, both
// big-endian. Only GMAC's tag correction uses it, a few dozen products per
// message, so the plain bitwise algorithm is enough.
type elem struct{ hi, lo uint64 }

func loadElem(b *[16]byte) elem {
	return elem{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// xorInto sets b ^= e.
func (e elem) xorInto(b *[16]byte) {
	binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(b[:8])^e.hi)
	binary.BigEndian.PutUint64(b[8:], binary.BigEndian.Uint64(b[8:])^e.lo)
}

// mul returns e*y (SP 800-38D, Algorithm 1).
func (e elem) mul(y elem) elem {
	var z elem
	v := y
	for i := 0; i < 128; i++ {
		var bit uint64
		if i < 64 {
			bit = e.hi >> (63 - i) & 1
		} else {
			bit = e.lo >> (127 - i) & 1
		}
		z.hi ^= v.hi & -bit
		z.lo ^= v.lo & -bit
		carry := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi = v.hi>>1 ^ (0xE1<<56)&-carry
	}
	return z
}

// pow returns e^k.
func (e elem) pow(k uint64) elem {
	r := elem{hi: 1 << 63} // the unit: coefficient 1 for x^0
	for ; k > 0; k >>= 1 {
		if k&1 != 0 {
			r = r.mul(e)
		}
		e = e.mul(e)
	}
	return r
}
