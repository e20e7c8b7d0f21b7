package smbcrypto

import (
	"crypto/aes"
	"testing"
)

// RFC 4493 section 4: subkeys and the four examples.
func TestCMACRFC4493(t *testing.T) {
	b, err := aes.NewCipher(unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCMAC(b)
	checkBytes(t, "K1", c.k1[:], "fbeed618357133667c85e08f7236a8de")
	checkBytes(t, "K2", c.k2[:], "f7ddac306ae266ccf90bc11ee46d513b")

	msg := unhex(t, `6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
		30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`)
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		// Whole, and fed in every split into two and three pieces.
		for i := 0; i <= tc.n; i++ {
			for j := i; j <= tc.n; j++ {
				var m blockMAC
				m.write(b, msg[:i])
				m.write(b, msg[i:j])
				m.write(b, msg[j:tc.n])
				var out [16]byte
				c.sum(&m, &out)
				if i == 0 && j == 0 {
					checkBytes(t, "AES-CMAC of example message", out[:], tc.want)
				} else if w := unhex(t, tc.want); string(out[:]) != string(w) {
					t.Fatalf("len %d split %d,%d: %X, want %X", tc.n, i, j, out, w)
				}
			}
		}
	}
}
