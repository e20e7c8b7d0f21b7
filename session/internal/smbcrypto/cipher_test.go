package smbcrypto

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

var allCiphers = []uint16{AES128CCM, AES128GCM, AES256CCM, AES256GCM}

func newTestCipher(t testing.TB, id uint16) *Cipher {
	t.Helper()
	n := 16
	if id == AES256CCM || id == AES256GCM {
		n = 32
	}
	key := make([]byte, n)
	for i := range key {
		key[i] = byte(i * 7)
	}
	c, err := NewCipher(id, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCipherRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, id := range allCiphers {
		c := newTestCipher(t, id)
		wantNonce := 12
		if id == AES128CCM || id == AES256CCM {
			wantNonce = 11
		}
		if c.NonceSize() != wantNonce || c.ID() != id {
			t.Fatalf("cipher %d: NonceSize %d, ID %d", id, c.NonceSize(), c.ID())
		}
		for _, n := range []int{0, 1, 64, 65, 1000, 70000} {
			pt := testMessage(r, max(n, 64))[:n]
			nonce := c.NewNonce()
			prefix := []byte("prefix")
			msg := c.Seal(bytes.Clone(prefix), 0x1122334455667788, nonce, pt, TransformEncrypted)
			if !bytes.HasPrefix(msg, prefix) {
				t.Fatal("Seal lost dst")
			}
			msg = msg[len(prefix):]
			if len(msg) != TransformHeaderSize+n {
				t.Fatalf("sealed length %d, want %d", len(msg), TransformHeaderSize+n)
			}
			h := msg[:TransformHeaderSize]
			if !bytes.Equal(h[:4], []byte{0xFD, 'S', 'M', 'B'}) ||
				!bytes.Equal(h[20:20+len(nonce)], nonce) ||
				!bytes.Equal(h[20+len(nonce):36], make([]byte, 16-len(nonce))) ||
				binary.LittleEndian.Uint32(h[36:]) != uint32(n) ||
				binary.LittleEndian.Uint16(h[40:]) != 0 ||
				binary.LittleEndian.Uint16(h[42:]) != 1 ||
				binary.LittleEndian.Uint64(h[44:]) != 0x1122334455667788 {
				t.Fatalf("cipher %d: bad header %X", id, h)
			}
			got, err := c.Open([]byte("x"), msg)
			if err != nil || !bytes.Equal(got, append([]byte("x"), pt...)) {
				t.Fatalf("cipher %d len %d: Open = %v", id, n, err)
			}

			// In place both ways.
			buf := make([]byte, TransformHeaderSize+n, TransformHeaderSize+n+16)
			copy(buf[TransformHeaderSize:], pt)
			sealed := c.Seal(buf[:0], 0x1122334455667788, nonce, buf[TransformHeaderSize:], TransformEncrypted)
			if !bytes.Equal(sealed, msg) || &sealed[0] != &buf[0] {
				t.Fatalf("cipher %d: in-place Seal differs", id)
			}
			opened, err := c.Open(sealed[:0], sealed)
			if err != nil || !bytes.Equal(opened, pt) {
				t.Fatalf("cipher %d: in-place Open = %v", id, err)
			}
		}
	}
}

// Every byte of the transform header is either checked or authenticated,
// except the Signature field's own tamper which the tag catches, and every
// byte of the ciphertext is authenticated.
func TestCipherRejectsTampering(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, id := range allCiphers {
		c := newTestCipher(t, id)
		msg := c.Seal(nil, 7, c.NewNonce(), testMessage(r, 200), TransformEncrypted)
		for i := range msg {
			bad := bytes.Clone(msg)
			bad[i] ^= 0x01
			if _, err := c.Open(nil, bad); err == nil {
				// The Nonce bytes the cipher does not use are only
				// authenticated, so changing them must still fail.
				t.Fatalf("cipher %d: flipped byte %d accepted", id, i)
			}
		}
		for n := range msg {
			if _, err := c.Open(nil, msg[:n]); err == nil {
				t.Fatalf("cipher %d: prefix of %d bytes accepted", id, n)
			}
		}
		long := append(bytes.Clone(msg), 0)
		if _, err := c.Open(nil, long); err == nil {
			t.Fatalf("cipher %d: trailing byte accepted", id)
		}
		other := newTestCipher(t, id)
		other.aead = newTestCipherKey(t, id, 1).aead
		if _, err := other.Open(nil, msg); err == nil {
			t.Fatalf("cipher %d: other key accepted", id)
		}
	}
}

func newTestCipherKey(t *testing.T, id uint16, fill byte) *Cipher {
	n := 16
	if id == AES256CCM || id == AES256GCM {
		n = 32
	}
	c, err := NewCipher(id, bytes.Repeat([]byte{fill}, n))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCipherFullNonceField(t *testing.T) {
	c := newTestCipher(t, AES128CCM)
	field := unhex(t, "66E69A111892584FB5ED524A744DA3EE")
	msg := c.Seal(nil, 1, field, []byte("hello"), TransformEncrypted)
	if !bytes.Equal(msg[20:36], field) {
		t.Fatalf("Nonce field %X", msg[20:36])
	}
	if pt, err := c.Open(nil, msg); err != nil || string(pt) != "hello" {
		t.Fatal(pt, err)
	}
	for _, n := range []int{0, 10, 13, 15, 17} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Seal with a %d-byte nonce did not panic", n)
				}
			}()
			c.Seal(nil, 1, make([]byte, n), nil, TransformEncrypted)
		}()
	}
}

func TestNewNonce(t *testing.T) {
	for _, id := range []uint16{AES128CCM, AES128GCM} {
		c := newTestCipher(t, id)
		seen := map[string]bool{}
		for range 10000 {
			n := c.NewNonce()
			if len(n) != c.NonceSize() {
				t.Fatalf("nonce of %d bytes", len(n))
			}
			if seen[string(n)] {
				t.Fatal("nonce repeated")
			}
			seen[string(n)] = true
		}
		d := newTestCipher(t, id)
		if bytes.Equal(c.NewNonce()[:c.NonceSize()-8], d.NewNonce()[:d.NonceSize()-8]) &&
			bytes.Equal(c.NewNonce(), d.NewNonce()) {
			t.Error("two Ciphers start from the same nonce")
		}
	}
}

func TestNewCipherErrors(t *testing.T) {
	for _, tc := range []struct {
		id  uint16
		key int
	}{{0, 16}, {5, 16}, {AES128CCM, 32}, {AES128GCM, 24}, {AES256CCM, 16}, {AES256GCM, 0}} {
		if _, err := NewCipher(tc.id, make([]byte, tc.key)); err == nil {
			t.Errorf("NewCipher(%d, %d bytes) accepted", tc.id, tc.key)
		}
	}
}

// AES-256 keys from DeriveKeys drive the AES-256 ciphers end to end.
func TestAES256KeysRoundTrip(t *testing.T) {
	full := make([]byte, 32) // e.g. a Kerberos AES-256 session key
	for i := range full {
		full[i] = byte(100 + i)
	}
	var pre PreauthHash
	pre.Update([]byte("negotiate"))
	for _, id := range []uint16{AES256CCM, AES256GCM} {
		k := DeriveKeys(Dialect311, id, full, pre[:])
		if len(k.Encryption) != 32 || len(k.Decryption) != 32 || len(k.Signing) != 16 || len(k.Application) != 16 {
			t.Fatalf("key sizes %d %d %d %d", len(k.Encryption), len(k.Decryption), len(k.Signing), len(k.Application))
		}
		client, err := NewCipher(id, k.Encryption)
		if err != nil {
			t.Fatal(err)
		}
		server, _ := NewCipher(id, k.Encryption)
		msg := client.Seal(nil, 9, client.NewNonce(), []byte("an SMB2 message"), TransformEncrypted)
		if pt, err := server.Open(nil, msg); err != nil || string(pt) != "an SMB2 message" {
			t.Fatal(pt, err)
		}
		wrong, _ := NewCipher(id, k.Decryption)
		if _, err := wrong.Open(nil, msg); err == nil {
			t.Error("decryption key opened a client message")
		}
	}
}

func FuzzOpen(f *testing.F) {
	c := newTestCipher(f, AES128GCM)
	ccm := newTestCipher(f, AES128CCM)
	f.Add(c.Seal(nil, 1, c.NewNonce(), []byte("0123456789abcdef0123456789abcdef"), TransformEncrypted))
	f.Add(ccm.Seal(nil, 1, ccm.NewNonce(), []byte("x"), TransformEncrypted))
	f.Add([]byte("\xfdSMB"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, x := range []*Cipher{c, ccm} {
			if pt, err := x.Open(nil, bytes.Clone(msg)); err == nil && len(pt) != len(msg)-TransformHeaderSize {
				t.Fatalf("plaintext of %d bytes from %d", len(pt), len(msg))
			}
			buf := bytes.Clone(msg)
			x.Open(buf[:0], buf)
		}
		SessionID(msg)
	})
}

func BenchmarkCipher(b *testing.B) {
	pt := make([]byte, 1<<20)
	for _, id := range allCiphers {
		c := newTestCipher(b, id)
		buf := make([]byte, 0, len(pt)+TransformHeaderSize+16)
		name := map[uint16]string{AES128CCM: "AES-128-CCM", AES128GCM: "AES-128-GCM", AES256CCM: "AES-256-CCM", AES256GCM: "AES-256-GCM"}[id]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				msg := c.Seal(buf[:0], 1, c.NewNonce(), pt, TransformEncrypted)
				if _, err := c.Open(msg[:0], msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
