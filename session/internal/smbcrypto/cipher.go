package smbcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// SMB2 TRANSFORM_HEADER layout ([MS-SMB2] 2.2.41).
const (
	// TransformHeaderSize is the size of the SMB2 TRANSFORM_HEADER.
	TransformHeaderSize = 52

	thSignature = 4  // 16 bytes: the AEAD tag
	thNonce     = 20 // 16 bytes: 11 used by CCM, 12 by GCM
	thOrigSize  = 36 // OriginalMessageSize, 4 bytes
	thReserved  = 40 // 2 bytes
	thFlags     = 42 // Flags (3.1.1) / EncryptionAlgorithm (3.0.x), 2 bytes
	thSessionID = 44 // 8 bytes

	// TransformEncrypted is the Flags value of 3.1.1 (Encrypted) and the
	// EncryptionAlgorithm value of 3.0.x (SMB2_ENCRYPTION_AES128_CCM); both
	// are 0x0001.
	TransformEncrypted uint16 = 0x0001
)

// transformProtocolID is 0xFD 'S' 'M' 'B'.
var transformProtocolID = [4]byte{0xFD, 'S', 'M', 'B'}

// ErrTransform is returned by Open for a message that is not a well-formed
// TRANSFORM_HEADER or whose authentication fails.
var ErrTransform = errors.New("smbcrypto: bad encrypted message")

// A Cipher encrypts and decrypts SMB2 messages with one key and cipher id
// ([MS-SMB2] 3.1.4.3, 3.2.5.1.1.1). It is safe for concurrent use.
type Cipher struct {
	id     uint16
	aead   cipher.AEAD
	prefix [4]byte // random nonce prefix, see NewNonce
	ctr    atomic.Uint64
}

// NewCipher returns the Cipher for a cipher id (AES128CCM, AES128GCM,
// AES256CCM, AES256GCM) and key (16 or 32 bytes, as the id says).
func NewCipher(id uint16, key []byte) (*Cipher, error) {
	want := 16
	if id == AES256CCM || id == AES256GCM {
		want = 32
	}
	if id < AES128CCM || id > AES256GCM {
		return nil, fmt.Errorf("smbcrypto: unknown cipher 0x%04x", id)
	}
	if len(key) != want {
		return nil, fmt.Errorf("smbcrypto: cipher 0x%04x needs a %d-byte key, got %d", id, want, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	c := &Cipher{id: id}
	if id == AES128CCM || id == AES256CCM {
		c.aead, err = NewCCM(b, 11, 16)
	} else {
		c.aead, err = cipher.NewGCM(b)
	}
	if err != nil {
		return nil, err
	}
	var seed [12]byte
	rand.Read(seed[:])
	copy(c.prefix[:], seed[:4])
	c.ctr.Store(binary.LittleEndian.Uint64(seed[4:]))
	return c, nil
}

// ID returns the cipher id.
func (c *Cipher) ID() uint16 { return c.id }

// NonceSize returns the number of nonce bytes the cipher uses: 11 for CCM,
// 12 for GCM.
func (c *Cipher) NonceSize() int { return c.aead.NonceSize() }

// NewNonce returns a fresh nonce of NonceSize bytes: a prefix drawn at
// random when the Cipher was made, then a 64-bit counter that started at a
// random value. It never repeats within one Cipher (before 2^64 calls), and
// two Ciphers made for the same key collide only with negligible
// probability; still, share one Cipher per key, for instance between the
// channels of a session.
func (c *Cipher) NewNonce() []byte {
	n := make([]byte, c.NonceSize())
	k := copy(n, c.prefix[:len(n)-8])
	binary.LittleEndian.PutUint64(n[k:], c.ctr.Add(1))
	return n
}

// Seal appends to dst the TRANSFORM_HEADER for plaintext, a whole SMB2
// message (or compound chain), followed by the ciphertext, and returns the
// result. The header holds ProtocolId 0xFD 'S' 'M' 'B', the AEAD tag as
// Signature, the nonce, OriginalMessageSize, Flags/EncryptionAlgorithm =
// flagsOrAlg (TransformEncrypted) and sessionID; the additional data is
// the header from Nonce to the end (32 bytes).
//
// nonce is either NonceSize bytes, the rest of the 16-byte Nonce field
// being zero, or the whole 16-byte field, of which the cipher uses the first
// NonceSize bytes. It must never repeat under one key: see NewNonce. Seal
// panics on another nonce length.
//
// To encrypt in place, put the plaintext at buf[52:] and call
// Seal(buf[:0], ...): the ciphertext then exactly overwrites it. buf needs
// 16 bytes of spare capacity past the plaintext, where the tag is made
// before it moves into the header; without them Seal allocates.
func (c *Cipher) Seal(dst []byte, sessionID uint64, nonce []byte, plaintext []byte, flagsOrAlg uint16) []byte {
	ns := c.NonceSize()
	if len(nonce) != ns && len(nonce) != 16 {
		panic(fmt.Sprintf("smbcrypto: nonce of %d bytes, want %d or 16", len(nonce), ns))
	}
	start := len(dst)
	out := slices.Grow(dst, TransformHeaderSize+len(plaintext)+16)[:start+TransformHeaderSize]
	h := out[start:]
	copy(h, transformProtocolID[:])
	clear(h[thSignature:thOrigSize])
	copy(h[thNonce:], nonce)
	binary.LittleEndian.PutUint32(h[thOrigSize:], uint32(len(plaintext)))
	binary.LittleEndian.PutUint16(h[thReserved:], 0)
	binary.LittleEndian.PutUint16(h[thFlags:], flagsOrAlg)
	binary.LittleEndian.PutUint64(h[thSessionID:], sessionID)

	out = c.aead.Seal(out, h[thNonce:thNonce+ns], plaintext, h[thNonce:])
	end := len(out) - 16
	copy(out[start+thSignature:], out[end:])
	return out[:end]
}

// headerPool holds copies of transform headers for Open.
var headerPool = sync.Pool{New: func() any { return new([TransformHeaderSize]byte) }}

// Open checks msg, a TRANSFORM_HEADER followed by ciphertext as received
// from the peer, and appends the decrypted SMB2 message to dst. It fails
// with ErrTransform, and never panics, for anything but a well-formed,
// authentic message: wrong ProtocolId, OriginalMessageSize not equal to the
// ciphertext length, Flags/EncryptionAlgorithm not 0x0001, or a tag that
// does not verify. It does not check SessionId: the caller picks the
// Cipher by it (SessionID reads it).
//
// dst may be msg[:0] to decrypt in place (the plaintext then starts where
// the header did).
func (c *Cipher) Open(dst, msg []byte) ([]byte, error) {
	if len(msg) < TransformHeaderSize ||
		[4]byte(msg[:4]) != transformProtocolID ||
		binary.LittleEndian.Uint32(msg[thOrigSize:]) != uint32(len(msg)-TransformHeaderSize) ||
		uint64(len(msg)-TransformHeaderSize) > 0xFFFFFFFF ||
		binary.LittleEndian.Uint16(msg[thFlags:]) != TransformEncrypted {
		return nil, ErrTransform
	}
	// The header is copied first: with dst overlapping msg, the moves
	// below may overwrite it.
	h := headerPool.Get().(*[TransformHeaderSize]byte)
	defer headerPool.Put(h)
	copy(h[:], msg)
	n := len(msg) - TransformHeaderSize
	start := len(dst)
	out := slices.Grow(dst, n+16)[:start+n+16]
	copy(out[start:], msg[TransformHeaderSize:])
	copy(out[start+n:], h[thSignature:thNonce])
	_, err := c.aead.Open(out[start:start], h[thNonce:thNonce+c.NonceSize()], out[start:], h[thNonce:])
	if err != nil {
		clear(out[start:])
		return nil, ErrTransform
	}
	return out[:start+n], nil
}

// SessionID returns the SessionId of a TRANSFORM_HEADER, so that a receiver
// can pick the session's Cipher; ok is false if msg is too short or is not
// a TRANSFORM_HEADER.
func SessionID(msg []byte) (id uint64, ok bool) {
	if len(msg) < TransformHeaderSize || [4]byte(msg[:4]) != transformProtocolID {
		return 0, false
	}
	return binary.LittleEndian.Uint64(msg[thSessionID:]), true
}
