package smbcrypto

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// ccm is CCM mode (NIST SP 800-38C, [RFC3610]) over a 128-bit block cipher:
// CBC-MAC over the formatted nonce, associated data and payload, then CTR
// encryption of the payload and the tag. SMB uses 11-byte nonces (so a
// 4-byte length field, L = 4) and 16-byte tags ([MS-SMB2] 2.2.41, [RFC4309]).
type ccm struct {
	b         cipher.Block
	nonceSize int
	tagSize   int
}

var errOpen = errors.New("smbcrypto: message authentication failed")

// NewCCM returns CCM mode over b, a cipher with 16-byte blocks, for nonces
// of nonceSize bytes (7 to 13; the length field is 15-nonceSize bytes) and
// tags of tagSize bytes (4, 6, ..., 16). The AEAD is safe for concurrent
// use. As with crypto/cipher's GCM, Seal and Open may work in place when the
// output exactly overlaps the input.
func NewCCM(b cipher.Block, nonceSize, tagSize int) (cipher.AEAD, error) {
	if b.BlockSize() != 16 {
		return nil, errors.New("smbcrypto: CCM needs a 128-bit block cipher")
	}
	if nonceSize < 7 || nonceSize > 13 {
		return nil, fmt.Errorf("smbcrypto: CCM nonce size %d not in 7..13", nonceSize)
	}
	if tagSize < 4 || tagSize > 16 || tagSize%2 != 0 {
		return nil, fmt.Errorf("smbcrypto: CCM tag size %d not an even number in 4..16", tagSize)
	}
	return &ccm{b: b, nonceSize: nonceSize, tagSize: tagSize}, nil
}

func (c *ccm) NonceSize() int { return c.nonceSize }
func (c *ccm) Overhead() int  { return c.tagSize }

// maxLen is the largest payload the length field can describe.
func (c *ccm) maxLen() uint64 {
	l := 15 - c.nonceSize
	if l >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*l) - 1
}

// mac computes the unencrypted tag T of SP 800-38C 6.1, steps 1-4.
func (c *ccm) mac(nonce, payload, aad []byte) [16]byte {
	var m blockMAC
	l := 15 - c.nonceSize
	var b0 [16]byte
	b0[0] = byte((c.tagSize-2)/2<<3 | (l - 1))
	if len(aad) > 0 {
		b0[0] |= 0x40
	}
	copy(b0[1:], nonce)
	var q [8]byte
	binary.BigEndian.PutUint64(q[:], uint64(len(payload)))
	copy(b0[1+c.nonceSize:], q[8-l:])
	m.write(c.b, b0[:])
	if len(aad) > 0 {
		var enc [10]byte
		var n int
		switch a := uint64(len(aad)); {
		case a < 1<<16-1<<8:
			binary.BigEndian.PutUint16(enc[:], uint16(a))
			n = 2
		case a <= 1<<32-1:
			enc[0], enc[1] = 0xFF, 0xFE
			binary.BigEndian.PutUint32(enc[2:], uint32(a))
			n = 6
		default:
			enc[0], enc[1] = 0xFF, 0xFF
			binary.BigEndian.PutUint64(enc[2:], a)
			n = 10
		}
		m.write(c.b, enc[:n])
		m.write(c.b, aad)
		m.pad(c.b)
	}
	m.write(c.b, payload)
	m.pad(c.b)
	return m.x
}

// counter returns counter block A_i (SP 800-38C A.3) for i = 0 or 1.
func (c *ccm) counter(nonce []byte, i byte) (a [16]byte) {
	a[0] = byte(15 - c.nonceSize - 1)
	copy(a[1:], nonce)
	a[15] = i
	return a
}

// crypt encrypts or decrypts src into dst with the counter blocks A_1...
// The counter field never wraps into the nonce: a payload of at most maxLen
// bytes needs fewer than 2^(8L) blocks, so crypto/cipher's 128-bit counter
// gives the same blocks as CCM's L-byte one.
func (c *ccm) crypt(nonce, dst, src []byte) {
	if len(src) == 0 {
		return
	}
	a1 := c.counter(nonce, 1)
	cipher.NewCTR(c.b, a1[:]).XORKeyStream(dst, src)
}

// tagMask returns S_0 = E(K, A_0), which encrypts the tag.
func (c *ccm) tagMask(nonce []byte) [16]byte {
	a0 := c.counter(nonce, 0)
	c.b.Encrypt(a0[:], a0[:])
	return a0
}

func (c *ccm) Seal(dst, nonce, plaintext, aad []byte) []byte {
	if len(nonce) != c.nonceSize {
		panic("smbcrypto: incorrect nonce length given to CCM")
	}
	if uint64(len(plaintext)) > c.maxLen() {
		panic("smbcrypto: message too large for CCM")
	}
	ret, out := sliceForAppend(dst, len(plaintext)+c.tagSize)
	t := c.mac(nonce, plaintext, aad)
	s0 := c.tagMask(nonce)
	xorBlock(t[:], s0[:])
	c.crypt(nonce, out, plaintext)
	copy(out[len(plaintext):], t[:c.tagSize])
	return ret
}

func (c *ccm) Open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(nonce) != c.nonceSize {
		panic("smbcrypto: incorrect nonce length given to CCM")
	}
	if len(ciphertext) < c.tagSize {
		return nil, errOpen
	}
	n := len(ciphertext) - c.tagSize
	if uint64(n) > c.maxLen() {
		return nil, errOpen
	}
	var tag [16]byte
	copy(tag[:], ciphertext[n:])
	ret, out := sliceForAppend(dst, n)
	c.crypt(nonce, out, ciphertext[:n])
	t := c.mac(nonce, out, aad)
	s0 := c.tagMask(nonce)
	xorBlock(t[:], s0[:])
	if subtle.ConstantTimeCompare(t[:c.tagSize], tag[:c.tagSize]) != 1 {
		clear(out)
		return nil, errOpen
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, reallocating if needed, and returns
// the whole slice and the new tail.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	total := len(in) + n
	if cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}
