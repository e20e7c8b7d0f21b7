package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// SMB2 header layout used by signing ([MS-SMB2] 2.2.1).
const (
	headerSize      = 64
	sigOffset       = 48 // Signature, 16 bytes
	commandOffset   = 12
	flagsOffset     = 16
	messageIDOffset = 24

	flagServerToRedir = 0x00000001
	commandCancel     = 0x000C
)

var zeroBlock [16]byte

// A Signer computes and checks the signatures of SMB2 messages with one
// signing key ([MS-SMB2] 3.1.4.1, 3.1.5.1). msg is one whole SMB2 message
// (one element of a compound, padding included) starting at its 64-byte
// header, without the 4-byte transport prefix. The signature is computed as
// if the Signature field (bytes 48..64) were zero, whatever it holds; msg is
// neither modified nor copied.
//
// Signers are safe for concurrent use and, once warm, do not allocate.
type Signer interface {
	// Sign returns the signature of msg. It panics if msg is shorter than
	// an SMB2 header.
	Sign(msg []byte) [16]byte
	// Verify reports whether bytes 48..64 of msg hold its signature. It is
	// false for a message shorter than an SMB2 header.
	Verify(msg []byte) bool
}

// NewSigner returns the Signer for a signing algorithm id (HMACSHA256,
// AESCMAC or AESGMAC) and key: the session key for HMAC-SHA256 (2.0.2,
// 2.1), a 16-byte signing key for the AES algorithms (3.x).
func NewSigner(algo uint16, key []byte) (Signer, error) {
	switch algo {
	case HMACSHA256:
		k := append([]byte(nil), key...)
		s := &hmacSigner{}
		s.pool.New = func() any { return &hmacState{h: hmac.New(sha256.New, k)} }
		return s, nil
	case AESCMAC, AESGMAC:
		if len(key) != 16 {
			return nil, fmt.Errorf("smbcrypto: signing key is %d bytes, want 16", len(key))
		}
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if algo == AESCMAC {
			return &cmacSigner{mac: newCMAC(b)}, nil
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		s := &gmacSigner{gcm: g}
		var h [16]byte
		b.Encrypt(h[:], h[:])
		s.h = loadElem(&h)
		return s, nil
	}
	return nil, fmt.Errorf("smbcrypto: unknown signing algorithm 0x%04x", algo)
}

var errShort = errors.New("smbcrypto: message shorter than an SMB2 header")

func mustHeader(msg []byte) {
	if len(msg) < headerSize {
		panic(errShort)
	}
}

// verify compares the Signature field of msg with a computed signature in
// constant time.
func verify(s Signer, msg []byte) bool {
	if len(msg) < headerSize {
		return false
	}
	sig := s.Sign(msg)
	return subtle.ConstantTimeCompare(sig[:], msg[sigOffset:sigOffset+16]) == 1
}

// hmacSigner is HMAC-SHA256 truncated to 16 bytes ([MS-SMB2] 3.1.4.1 for
// 2.0.2 and 2.1).
type hmacSigner struct{ pool sync.Pool }

type hmacState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func (s *hmacSigner) Sign(msg []byte) (sig [16]byte) {
	mustHeader(msg)
	st := s.pool.Get().(*hmacState)
	st.h.Reset()
	st.h.Write(msg[:sigOffset])
	st.h.Write(zeroBlock[:])
	st.h.Write(msg[sigOffset+16:])
	st.h.Sum(st.sum[:0])
	copy(sig[:], st.sum[:16])
	s.pool.Put(st)
	return sig
}

func (s *hmacSigner) Verify(msg []byte) bool { return verify(s, msg) }

// cmacSigner is AES-128-CMAC ([RFC4493]), the 3.0/3.0.2 algorithm and the
// 3.1.1 default.
type cmacSigner struct {
	mac  *cmac
	pool sync.Pool // of *cmacState
}

type cmacState struct {
	m   blockMAC
	out [16]byte
}

func (s *cmacSigner) Sign(msg []byte) [16]byte {
	mustHeader(msg)
	st, _ := s.pool.Get().(*cmacState)
	if st == nil {
		st = new(cmacState)
	}
	st.m.reset()
	st.m.write(s.mac.b, msg[:sigOffset])
	st.m.write(s.mac.b, zeroBlock[:])
	st.m.write(s.mac.b, msg[sigOffset+16:])
	s.mac.sum(&st.m, &st.out)
	sig := st.out
	s.pool.Put(st)
	return sig
}

func (s *cmacSigner) Verify(msg []byte) bool { return verify(s, msg) }

// gmacSigner is AES-128-GMAC ([RFC4543]): AES-GCM with the message as
// additional data and nothing to encrypt; the tag is the signature. The
// 12-byte nonce is MessageId (8 bytes, as in the header) followed by a
// 32-bit little-endian word whose bit 0 is set when the sender is the server
// and bit 1 for a CANCEL request ([MS-SMB2] 3.1.4.1).
//
// To treat the Signature field as zero without copying the message, the tag
// of the message as it is gets corrected: GHASH is linear in each block of
// the additional data, and the Signature field is exactly the fourth block,
// so zeroing it changes the tag by S*H^(n-3), where S is the field's value, H
// the hash key and n the number of GHASH blocks (data blocks plus the length
// block).
type gmacSigner struct {
	gcm  cipher.AEAD
	h    elem // hash key E(K, 0^128)
	pool sync.Pool
}

type gmacState struct {
	nonce [12]byte
	tag   [16]byte
}

func (s *gmacSigner) Sign(msg []byte) [16]byte {
	mustHeader(msg)
	st, _ := s.pool.Get().(*gmacState)
	if st == nil {
		st = new(gmacState)
	}
	copy(st.nonce[:8], msg[messageIDOffset:messageIDOffset+8])
	var role uint32
	if binary.LittleEndian.Uint32(msg[flagsOffset:])&flagServerToRedir != 0 {
		role |= 1
	} else if binary.LittleEndian.Uint16(msg[commandOffset:]) == commandCancel {
		role |= 2
	}
	binary.LittleEndian.PutUint32(st.nonce[8:], role)
	s.gcm.Seal(st.tag[:0], st.nonce[:], nil, msg)
	sig := st.tag
	s.pool.Put(st)

	field := (*[16]byte)(msg[sigOffset : sigOffset+16])
	if *field != zeroBlock {
		n := uint64(len(msg)+15)/16 + 1
		d := loadElem(field).mul(s.h.pow(n - 3))
		d.xorInto(&sig)
	}
	return sig
}

func (s *gmacSigner) Verify(msg []byte) bool { return verify(s, msg) }
