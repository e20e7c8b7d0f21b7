package smbcrypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
)

// Dialects that select a key derivation ([MS-SMB2] 2.2.3).
const (
	Dialect202 uint16 = 0x0202
	Dialect210 uint16 = 0x0210
	Dialect300 uint16 = 0x0300
	Dialect302 uint16 = 0x0302
	Dialect311 uint16 = 0x0311
)

// Cipher ids of the SMB2_ENCRYPTION_CAPABILITIES context ([MS-SMB2] 2.2.3.1.2).
const (
	AES128CCM uint16 = 0x0001
	AES128GCM uint16 = 0x0002
	AES256CCM uint16 = 0x0003
	AES256GCM uint16 = 0x0004
)

// Signing algorithm ids of the SMB2_SIGNING_CAPABILITIES context
// ([MS-SMB2] 2.2.3.1.7).
const (
	HMACSHA256 uint16 = 0x0000
	AESCMAC    uint16 = 0x0001
	AESGMAC    uint16 = 0x0002
)

// KDF is the key derivation function of [MS-SMB2] 3.1.4.2: NIST SP800-108
// in counter mode with HMAC-SHA256 as the PRF, a 32-bit counter (r = 32) and
// a 32-bit L. The fixed input is i || label || 0x00 || context || L, all
// integers big-endian. label and context are used exactly as given, so the
// callers include the terminating NULs that [MS-SMB2] puts in its labels
// ("SMBSigningKey\x00"). lBits is the output length in bits, a multiple of 8
// (SMB uses 128 and 256).
func KDF(key, label, context []byte, lBits int) []byte {
	n := lBits / 8
	out := make([]byte, 0, n+sha256.Size)
	mac := hmac.New(sha256.New, key)
	var word [4]byte
	for i := uint32(1); len(out) < n; i++ {
		mac.Reset()
		binary.BigEndian.PutUint32(word[:], i)
		mac.Write(word[:])
		mac.Write(label)
		mac.Write([]byte{0})
		mac.Write(context)
		binary.BigEndian.PutUint32(word[:], uint32(lBits))
		mac.Write(word[:])
		out = mac.Sum(out)
	}
	return out[:n]
}

// Keys are the keys of one session, from the client's side: Encryption
// protects client-to-server messages and Decryption server-to-client ones.
// For 2.0.2 and 2.1 only Signing is set (the session key itself).
type Keys struct {
	Signing     []byte
	Encryption  []byte // client to server
	Decryption  []byte // server to client
	Application []byte
}

// Labels and contexts of [MS-SMB2] 3.2.5.3.1, NULs included.
var (
	label300Sign   = []byte("SMB2AESCMAC\x00")
	context300Sign = []byte("SmbSign\x00")
	label300Cipher = []byte("SMB2AESCCM\x00")
	context300C2S  = []byte("ServerIn \x00") // the space is in the spec
	context300S2C  = []byte("ServerOut\x00")
	label300App    = []byte("SMB2APP\x00")
	context300App  = []byte("SmbRpc\x00")
	label311Sign   = []byte("SMBSigningKey\x00")
	label311C2S    = []byte("SMBC2SCipherKey\x00")
	label311S2C    = []byte("SMBS2CCipherKey\x00")
	label311App    = []byte("SMBAppKey\x00")
)

// sessionKeyBytes is the size of Session.SessionKey.
const sessionKeyBytes = 16

// DeriveKeys derives the keys of a session ([MS-SMB2] 3.2.5.3.1) from the
// cryptographic key of the authentication (for NTLM the ExportedSessionKey)
// and, for 3.1.1, the session's pre-authentication integrity hash (64
// bytes, PreauthHash). cipher is the negotiated cipher id (0 if none).
//
// Session.SessionKey is the first 16 bytes of sessionKey, right-padded with
// zeros. The signing and application keys are always 128-bit and derived
// from it. The encryption and decryption keys are 128-bit as well, except
// for 3.1.1 with AES-256-CCM or AES-256-GCM, where they are 256-bit ('L' of
// 3.1.4.2 is 256) and derived from the full key (Session.FullSessionKey).
// For 2.0.2 and 2.1 the signing key is the session key; an unknown dialect
// gives empty Keys.
func DeriveKeys(dialect uint16, cipher uint16, sessionKey, preauthHash []byte) Keys {
	short := make([]byte, sessionKeyBytes)
	copy(short, sessionKey)
	switch dialect {
	case Dialect202, Dialect210:
		return Keys{Signing: short}
	case Dialect300, Dialect302:
		return Keys{
			Signing:     KDF(short, label300Sign, context300Sign, 128),
			Encryption:  KDF(short, label300Cipher, context300C2S, 128),
			Decryption:  KDF(short, label300Cipher, context300S2C, 128),
			Application: KDF(short, label300App, context300App, 128),
		}
	case Dialect311:
		cipherKey, bits := short, 128
		if cipher == AES256CCM || cipher == AES256GCM {
			cipherKey, bits = sessionKey, 256
		}
		return Keys{
			Signing:     KDF(short, label311Sign, preauthHash, 128),
			Encryption:  KDF(cipherKey, label311C2S, preauthHash, bits),
			Decryption:  KDF(cipherKey, label311S2C, preauthHash, bits),
			Application: KDF(short, label311App, preauthHash, 128),
		}
	}
	return Keys{}
}

// PreauthHash is Connection.PreauthIntegrityHashValue or
// Session.PreauthIntegrityHashValue ([MS-SMB2] 3.2.5.2, 3.2.5.3.1): a
// SHA-512 chain over the NEGOTIATE and SESSION_SETUP messages of a 3.1.1
// connection. The zero value is the initial value, 64 zero bytes; copy the
// connection's value to start a session's.
type PreauthHash [sha512.Size]byte

// Update sets h to SHA-512(h || msg). msg is a whole SMB2 message, header
// included, without the 4-byte transport prefix.
func (h *PreauthHash) Update(msg []byte) {
	s := sha512.New()
	s.Write(h[:])
	s.Write(msg)
	s.Sum(h[:0])
}
