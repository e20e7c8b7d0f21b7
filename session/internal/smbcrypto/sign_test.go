package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
)

// testMessage returns an SMB2-shaped message of n bytes (n >= 64) with
// random contents, including a random Signature field.
func testMessage(r *rand.Rand, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		m[i] = byte(r.Uint32())
	}
	copy(m, "\xfeSMB")
	return m
}

// gmacReference is AES-GMAC computed the obvious way: on a copy of the
// message with the Signature field zeroed, with the nonce built field by
// field as [MS-SMB2] 3.1.4.1 describes it.
func gmacReference(t *testing.T, key, msg []byte) []byte {
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(b)
	m := bytes.Clone(msg)
	clear(m[48:64])
	nonce := make([]byte, 12)
	binary.LittleEndian.PutUint64(nonce, binary.LittleEndian.Uint64(m[24:]))
	isResponse := binary.LittleEndian.Uint32(m[16:])&1 != 0
	if isResponse {
		nonce[8] |= 1 // sender is the server
	}
	if !isResponse && binary.LittleEndian.Uint16(m[12:]) == 0x000C {
		nonce[8] |= 2 // CANCEL request
	}
	return g.Seal(nil, nonce, nil, m)
}

func TestGMACSigner(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	key := unhex(t, "73FE7A9A77BEF0BDE49C650D8CCB5F76")
	s, err := NewSigner(AESGMAC, key)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{64, 65, 79, 80, 81, 100, 128, 1000, 4096 + 64, 65536 + 64 + 3}
	for _, n := range sizes {
		for _, kind := range []struct {
			flags uint32
			cmd   uint16
		}{{0, 8}, {1, 8}, {0, 0x0C}, {1, 0x0C}, {8, 0x0C}} {
			m := testMessage(r, n)
			binary.LittleEndian.PutUint32(m[16:], kind.flags)
			binary.LittleEndian.PutUint16(m[12:], kind.cmd)
			want := gmacReference(t, key, m)
			got := s.Sign(m)
			if !bytes.Equal(got[:], want) {
				t.Fatalf("len %d flags %#x cmd %#x: Sign = %X, want %X", n, kind.flags, kind.cmd, got, want)
			}
			if s.Verify(m) && !bytes.Equal(m[48:64], want) {
				t.Fatal("Verify true for a wrong signature")
			}
			copy(m[48:], got[:])
			if !s.Verify(m) {
				t.Fatalf("len %d: Verify false after signing", n)
			}
			m[n-1] ^= 0x40
			if s.Verify(m) {
				t.Fatalf("len %d: Verify true for a modified message", n)
			}
		}
	}
}

// The GF(2^128) arithmetic behind the GMAC correction, checked against the
// standard library: GHASH of one block A with an empty ciphertext, xored
// with E(K, J0), is the GCM tag.
func TestGHASHAgainstGCM(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		key := make([]byte, 16)
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		b, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCM(b)
		var h, a, j0 [16]byte
		b.Encrypt(h[:], h[:])
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		nonce := make([]byte, 12)
		copy(j0[:], nonce)
		j0[15] = 1
		b.Encrypt(j0[:], j0[:])
		var lenBlock [16]byte
		binary.BigEndian.PutUint64(lenBlock[:8], 128)
		he := loadElem(&h)
		y := loadElem(&a).mul(he)
		l := loadElem(&lenBlock)
		y = elem{y.hi ^ l.hi, y.lo ^ l.lo}.mul(he)
		tag := j0
		y.xorInto(&tag)
		if want := g.Seal(nil, nonce, nil, a[:]); !bytes.Equal(tag[:], want) {
			t.Fatalf("GHASH tag %X, GCM %X", tag, want)
		}
		// And the powers: H^5 both ways.
		if p, q := he.pow(5), he.mul(he).mul(he).mul(he).mul(he); p != q {
			t.Fatal("pow(5) differs from repeated mul")
		}
	}
	one := elem{hi: 1 << 63}
	x := elem{0x0123456789abcdef, 0xfedcba9876543210}
	if x.mul(one) != x || one.mul(x) != x || x.pow(0) != one || x.pow(1) != x {
		t.Error("unit laws fail")
	}
}

func TestHMACSigner(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	key := []byte("a session key of 16")
	s, err := NewSigner(HMACSHA256, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{64, 100, 3000} {
		m := testMessage(r, n)
		z := bytes.Clone(m)
		clear(z[48:64])
		mac := hmac.New(sha256.New, key)
		mac.Write(z)
		want := mac.Sum(nil)[:16]
		got := s.Sign(m)
		if !bytes.Equal(got[:], want) {
			t.Fatalf("Sign = %X, want %X", got, want)
		}
		copy(m[48:], got[:])
		if !s.Verify(m) {
			t.Fatal("Verify false after signing")
		}
		m[n-1] ^= 1
		if s.Verify(m) {
			t.Fatal("Verify true for a modified message")
		}
	}
}

func TestCMACSignerMatchesWholeMessage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	key := unhex(t, "0B7E9C5CAC36C0F6EA9AB275298CEDCE")
	s, _ := NewSigner(AESCMAC, key)
	b, _ := aes.NewCipher(key)
	c := newCMAC(b)
	for n := 64; n < 200; n++ {
		m := testMessage(r, n)
		z := bytes.Clone(m)
		clear(z[48:64])
		var bm blockMAC
		bm.write(b, z)
		var want [16]byte
		c.sum(&bm, &want)
		if got := s.Sign(m); got != want {
			t.Fatalf("len %d: %X, want %X", n, got, want)
		}
	}
}

func TestSignerErrors(t *testing.T) {
	if _, err := NewSigner(3, make([]byte, 16)); err == nil {
		t.Error("unknown algorithm accepted")
	}
	for _, algo := range []uint16{AESCMAC, AESGMAC} {
		if _, err := NewSigner(algo, make([]byte, 32)); err == nil {
			t.Errorf("algorithm %d: 32-byte key accepted", algo)
		}
	}
	for _, algo := range []uint16{HMACSHA256, AESCMAC, AESGMAC} {
		s, err := NewSigner(algo, make([]byte, 16))
		if err != nil {
			t.Fatal(err)
		}
		for n := range 64 {
			if s.Verify(make([]byte, n)) {
				t.Errorf("algorithm %d: Verify of %d bytes is true", algo, n)
			}
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("algorithm %d: Sign of a short message did not panic", algo)
				}
			}()
			s.Sign(make([]byte, 63))
		}()
	}
}

func TestSignersConcurrentAndAllocationFree(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	msgs := make([][]byte, 8)
	for i := range msgs {
		msgs[i] = testMessage(r, 64+i*777)
	}
	for _, algo := range []uint16{HMACSHA256, AESCMAC, AESGMAC} {
		s, _ := NewSigner(algo, unhex(t, "000102030405060708090a0b0c0d0e0f"))
		want := make([][16]byte, len(msgs))
		for i, m := range msgs {
			want[i] = s.Sign(m)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 200 {
					i := (g + k) % len(msgs)
					if s.Sign(msgs[i]) != want[i] {
						t.Errorf("algorithm %d: concurrent Sign differs", algo)
						return
					}
				}
			}()
		}
		wg.Wait()
		m := msgs[3]
		if raceEnabled {
			continue
		}
		if a := testing.AllocsPerRun(100, func() { s.Sign(m) }); a != 0 {
			t.Errorf("algorithm %d: Sign allocates %.0f times", algo, a)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	m := testMessage(r, 1<<20+64)
	for _, tc := range []struct {
		name string
		algo uint16
	}{{"HMAC-SHA256", HMACSHA256}, {"AES-CMAC", AESCMAC}, {"AES-GMAC", AESGMAC}} {
		s, _ := NewSigner(tc.algo, make([]byte, 16))
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(m)))
			for b.Loop() {
				s.Verify(m)
			}
		})
	}
}
