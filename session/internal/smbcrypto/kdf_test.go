package smbcrypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"testing"
)

// kdfReference spells out SP800-108 counter mode for one or two blocks.
func kdfReference(key, label, context []byte, lBits int) []byte {
	var out []byte
	for i := uint32(1); len(out)*8 < lBits; i++ {
		var in []byte
		in = binary.BigEndian.AppendUint32(in, i)
		in = append(in, label...)
		in = append(in, 0)
		in = append(in, context...)
		in = binary.BigEndian.AppendUint32(in, uint32(lBits))
		m := hmac.New(sha256.New, key)
		m.Write(in)
		out = m.Sum(out)
	}
	return out[:lBits/8]
}

func TestKDFLengths(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, l := range []int{128, 256, 384, 512} {
		got := KDF(key, []byte("SMBC2SCipherKey\x00"), []byte("context"), l)
		if want := kdfReference(key, []byte("SMBC2SCipherKey\x00"), []byte("context"), l); !bytes.Equal(got, want) {
			t.Errorf("L=%d: %X, want %X", l, got, want)
		}
	}
	// L is part of the input: a 256-bit key does not start with the
	// 128-bit one.
	if bytes.HasPrefix(KDF(key, nil, nil, 256), KDF(key, nil, nil, 128)) {
		t.Error("L not in the KDF input")
	}
}

func TestDeriveKeysRules(t *testing.T) {
	pre := bytes.Repeat([]byte{0xAB}, 64)
	full := bytes.Repeat([]byte{1, 2, 3, 4}, 8) // 32 bytes
	short := full[:16]
	for _, id := range []uint16{0, AES128CCM, AES128GCM} {
		k := DeriveKeys(Dialect311, id, full, pre)
		if !bytes.Equal(k.Encryption, KDF(short, []byte("SMBC2SCipherKey\x00"), pre, 128)) ||
			!bytes.Equal(k.Decryption, KDF(short, []byte("SMBS2CCipherKey\x00"), pre, 128)) {
			t.Errorf("cipher %d: 128-bit keys not from the first 16 bytes", id)
		}
	}
	for _, id := range []uint16{AES256CCM, AES256GCM} {
		k := DeriveKeys(Dialect311, id, full, pre)
		if !bytes.Equal(k.Encryption, KDF(full, []byte("SMBC2SCipherKey\x00"), pre, 256)) ||
			!bytes.Equal(k.Decryption, KDF(full, []byte("SMBS2CCipherKey\x00"), pre, 256)) {
			t.Errorf("cipher %d: 256-bit keys not from the full key", id)
		}
		if !bytes.Equal(k.Signing, KDF(short, []byte("SMBSigningKey\x00"), pre, 128)) ||
			!bytes.Equal(k.Application, KDF(short, []byte("SMBAppKey\x00"), pre, 128)) {
			t.Errorf("cipher %d: signing/application keys not 128-bit from the session key", id)
		}
	}
	// A short cryptographic key is right-padded with zeros.
	k := DeriveKeys(Dialect300, AES128CCM, []byte{1, 2, 3}, nil)
	padded := append([]byte{1, 2, 3}, make([]byte, 13)...)
	if !bytes.Equal(k.Signing, KDF(padded, []byte("SMB2AESCMAC\x00"), []byte("SmbSign\x00"), 128)) {
		t.Error("short session key not zero-padded")
	}
	for _, d := range []uint16{Dialect202, Dialect210} {
		k := DeriveKeys(d, 0, full, nil)
		if !bytes.Equal(k.Signing, short) || k.Encryption != nil || k.Decryption != nil || k.Application != nil {
			t.Errorf("dialect %#x: %+v", d, k)
		}
	}
	if k := DeriveKeys(0x0400, 0, full, pre); k.Signing != nil {
		t.Error("unknown dialect gave keys")
	}
}

func TestPreauthHashUpdate(t *testing.T) {
	var h PreauthHash
	if h != (PreauthHash{}) {
		t.Fatal("zero value not zero")
	}
	h.Update([]byte("abc"))
	want := sha512.Sum512(append(make([]byte, 64), "abc"...))
	if h != want {
		t.Errorf("Update = %X", h)
	}
}
