package smbcrypto

import (
	"bytes"
	"crypto/aes"
	"testing"
)

type ccmVector struct {
	name                         string
	key, nonce, aad, pt, ct, tag string
}

// NIST SP 800-38C Appendix C, examples 1-3 (example 4 is below), and the 24
// packet vectors of RFC 3610 section 8. They use other nonce and tag sizes
// than SMB's 11 and 16 bytes, which NewCCM is generic over.
var ccmVectors = []ccmVector{
	{"SP800-38C C.1", "404142434445464748494a4b4c4d4e4f", "10111213141516", "0001020304050607",
		"20212223", "7162015b", "4dac255d"},
	{"SP800-38C C.2", "404142434445464748494a4b4c4d4e4f", "1011121314151617", "000102030405060708090a0b0c0d0e0f",
		"202122232425262728292a2b2c2d2e2f", "d2a1f0e051ea5f62081a7792073d593d", "1fc64fbfaccd"},
	{"SP800-38C C.3", "404142434445464748494a4b4c4d4e4f", "101112131415161718191a1b", "000102030405060708090a0b0c0d0e0f10111213",
		"202122232425262728292a2b2c2d2e2f3031323334353637", "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5", "484392fbc1b09951"},
	{"RFC3610 #1", rfc3610Key, "00000003020100a0a1a2a3a4a5", "0001020304050607",
		"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e", "588c979a61c663d2f066d0c2c0f989806d5f6b61dac384", "17e8d12cfdf926e0"},
	{"RFC3610 #2", rfc3610Key, "00000004030201a0a1a2a3a4a5", "0001020304050607",
		"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3b", "a091d56e10400916"},
	{"RFC3610 #3", rfc3610Key, "00000005040302a0a1a2a3a4a5", "0001020304050607",
		"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", "51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da859657", "4adaa76fbd9fb0c5"},
	{"RFC3610 #4", rfc3610Key, "00000006050403a0a1a2a3a4a5", "000102030405060708090a0b",
		"0c0d0e0f101112131415161718191a1b1c1d1e", "a28c6865939a9a79faaa5c4c2a9d4a91cdac8c", "96c861b9c9e61ef1"},
	{"RFC3610 #5", rfc3610Key, "00000007060504a0a1a2a3a4a5", "000102030405060708090a0b",
		"0c0d0e0f101112131415161718191a1b1c1d1e1f", "dcf1fb7b5d9e23fb9d4e131253658ad86ebdca3e", "51e83f077d9c2d93"},
	{"RFC3610 #6", rfc3610Key, "00000008070605a0a1a2a3a4a5", "000102030405060708090a0b",
		"0c0d0e0f101112131415161718191a1b1c1d1e1f20", "6fc1b011f006568b5171a42d953d469b2570a4bd87", "405a0443ac91cb94"},
	{"RFC3610 #7", rfc3610Key, "00000009080706a0a1a2a3a4a5", "0001020304050607",
		"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e", "0135d1b2c95f41d5d1d4fec185d166b8094e999dfed96c", "048c56602c97acbb7490"},
	{"RFC3610 #8", rfc3610Key, "0000000a090807a0a1a2a3a4a5", "0001020304050607",
		"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "7b75399ac0831dd2f0bbd75879a2fd8f6cae6b6cd9b7db24", "c17b4433f434963f34b4"},
	{"RFC3610 #9", rfc3610Key, "0000000b0a0908a0a1a2a3a4a5", "0001020304050607",
		"08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", "82531a60cc24945a4b8279181ab5c84df21ce7f9b73f42e197", "ea9c07e56b5eb17e5f4e"},
	{"RFC3610 #10", rfc3610Key, "0000000c0b0a09a0a1a2a3a4a5", "000102030405060708090a0b",
		"0c0d0e0f101112131415161718191a1b1c1d1e", "07342594157785152b074098330abb141b947b", "566aa9406b4d999988dd"},
	{"RFC3610 #11", rfc3610Key, "0000000d0c0b0aa0a1a2a3a4a5", "000102030405060708090a0b",
		"0c0d0e0f101112131415161718191a1b1c1d1e1f", "676bb20380b0e301e8ab79590a396da78b834934", "f53aa2e9107a8b6c022c"},
	{"RFC3610 #12", rfc3610Key, "0000000e0d0c0ba0a1a2a3a4a5", "000102030405060708090a0b",
		"0c0d0e0f101112131415161718191a1b1c1d1e1f20", "c0ffa0d6f05bdb67f24d43a4338d2aa4bed7b20e43", "cd1aa31662e7ad65d6db"},
	{"RFC3610 #13", rfc3610Key2, "00412b4ea9cdbe3c9696766cfa", "0be1a88bace018b1",
		"08e8cf97d820ea258460e96ad9cf5289054d895ceac47c", "4cb97f86a2a4689a877947ab8091ef5386a6ffbdd080f8", "e78cf7cb0cddd7b3"},
	{"RFC3610 #14", rfc3610Key2, "0033568ef7b2633c9696766cfa", "63018f76dc8a1bcb",
		"9020ea6f91bdd85afa0039ba4baff9bfb79c7028949cd0ec", "4ccb1e7ca981befaa0726c55d378061298c85c92814abc33", "c52ee81d7d77c08a"},
	{"RFC3610 #15", rfc3610Key2, "00103fe41336713c9696766cfa", "aa6cfa36cae86b40",
		"b916e0eacc1c00d7dcec68ec0b3bbb1a02de8a2d1aa346132e", "b1d23a2220ddc0ac900d9aa03c61fcf4a559a4417767089708", "a776796edb723506"},
	{"RFC3610 #16", rfc3610Key2, "00764c63b8058e3c9696766cfa", "d0d0735c531e1becf049c244",
		"12daac5630efa5396f770ce1a66b21f7b2101c", "14d253c3967b70609b7cbb7c49916028324526", "9a6f49975bcadeaf"},
	{"RFC3610 #17", rfc3610Key2, "00f8b678094e3b3c9696766cfa", "77b60f011c03e1525899bcae",
		"e88b6a46c78d63e52eb8c546efb5de6f75e9cc0d", "5545ff1a085ee2efbf52b2e04bee1e2336c73e3f", "762c0c7744fe7e3c"},
	{"RFC3610 #18", rfc3610Key2, "00d560912d3f703c9696766cfa", "cd9044d2b71fdb8120ea60c0",
		"6435acbafb11a82e2f071d7ca4a5ebd93a803ba87f", "009769ecabdf48625594c59251e6035722675e04c8", "47099e5ae0704551"},
	{"RFC3610 #19", rfc3610Key2, "0042fff8f1951c3c9696766cfa", "d85bc7e69f944fb8",
		"8a19b950bcf71a018e5e6701c91787659809d67dbedd18", "bc218daa947427b6db386a99ac1aef23ade0b52939cb6a", "637cf9bec2408897c6ba"},
	{"RFC3610 #20", rfc3610Key2, "00920f40e56cdc3c9696766cfa", "74a0ebc9069f5b37",
		"1761433c37c5a35fc1f39f406302eb907c6163be38c98437", "5810e6fd25874022e80361a478e3e9cf484ab04f447efff6", "f0a477cc2fc9bf548944"},
	{"RFC3610 #21", rfc3610Key2, "0027ca0c7120bc3c9696766cfa", "44a3aa3aae6475ca",
		"a434a8e58500c6e41530538862d686ea9e81301b5ae4226bfa", "f2beed7bc5098e83feb5b31608f8e29c38819a89c8e776f154", "4d4151a4ed3a8b87b9ce"},
	{"RFC3610 #22", rfc3610Key2, "005b8ccbcd9af83c9696766cfa", "ec46bb63b02520c33c49fd70",
		"b96b49e21d621741632875db7f6c9243d2d7c2", "31d750a09da3ed7fddd49a2032aabf17ec8ebf", "7d22c8088c666be5c197"},
	{"RFC3610 #23", rfc3610Key2, "003ebe94044b9a3c9696766cfa", "47a65ac78b3d594227e85e71",
		"e2fcfbb880442c731bf95167c8ffd7895e337076", "e882f1dbd38ce3eda7c23f04dd65071eb41342ac", "df7e00dccec7ae52987d"},
	{"RFC3610 #24", rfc3610Key2, "008d493b30ae8b3c9696766cfa", "6e37a6ef546d955d34ab6059",
		"abf21c0b02feb88f856df4a37381bce3cc128517d4", "f32905b88a641b04b9c9ffb58cc390900f3da12ab1", "6dce9e82efa16da62059"},
	// NIST CAVP CCM (VNT, AES-256): 13-byte nonce, 16-byte tag.
	{"CAVP AES-256", "4a75ff2f66dae2935403cce27e829ad8be98185c73f8bc61d3ce950a83007e11", "46eb390b175e75da6193d7edb6",
		"282f05f734f249c0535ee396282218b7c4913c39b59ad2a03ffaf5b0e9b0f780",
		"205f2a664a8512e18321a91c13ec13b9e6b633228c57cc1e", "58f1584f761983bef4d0060746b5d5ee610ecfda31101a7f",
		"5460e9b7856d60a5ad9803c0762f8176"},
}

const (
	rfc3610Key  = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	rfc3610Key2 = "d7828d13b2b0bdc325a76236df93cc6b"
)

func testCCMVector(t *testing.T, name string, key, nonce, aad, pt, ct, tag []byte) {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewCCM(b, len(nonce), len(tag))
	if err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(ct), tag...)
	if got := a.Seal(nil, nonce, pt, aad); !bytes.Equal(got, want) {
		t.Errorf("%s: Seal = %x, want %x", name, got, want)
	}
	if got, err := a.Open(nil, nonce, want, aad); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("%s: Open = %x, %v", name, got, err)
	}
	// In place.
	buf := bytes.Clone(pt)
	buf = a.Seal(buf[:0], nonce, buf, aad)
	if !bytes.Equal(buf, want) {
		t.Errorf("%s: in-place Seal = %x", name, buf)
	}
	if got, err := a.Open(buf[:0], nonce, buf, aad); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("%s: in-place Open = %x, %v", name, got, err)
	}
	// Any flipped bit, in the ciphertext, tag or associated data, fails.
	for i := range len(want) * 8 {
		bad := bytes.Clone(want)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := a.Open(nil, nonce, bad, aad); err == nil {
			t.Fatalf("%s: Open accepted a flipped bit %d", name, i)
		}
	}
	if len(aad) > 0 {
		bad := bytes.Clone(aad)
		bad[0] ^= 0x80
		if _, err := a.Open(nil, nonce, want, bad); err == nil {
			t.Errorf("%s: Open accepted modified associated data", name)
		}
	}
}

func TestCCMVectors(t *testing.T) {
	for _, v := range ccmVectors {
		testCCMVector(t, v.name, unhex(t, v.key), unhex(t, v.nonce), unhex(t, v.aad),
			unhex(t, v.pt), unhex(t, v.ct), unhex(t, v.tag))
	}
}

// SP 800-38C C.4: 64 KiB of associated data (the 0xFF 0xFE length form)
// and a 14-byte tag.
func TestCCMLongAssociatedData(t *testing.T) {
	aad := make([]byte, 65536)
	for i := range aad {
		aad[i] = byte(i)
	}
	testCCMVector(t, "SP800-38C C.4", unhex(t, "404142434445464748494a4b4c4d4e4f"),
		unhex(t, "101112131415161718191a1b1c"), aad,
		unhex(t, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"),
		unhex(t, "69915dad1e84c6376a68c2967e4dab615ae0fd1faec44cc484828529463ccf72"),
		unhex(t, "b4ac6bec93e8598e7f0dadbcea5b"))
}

func TestCCMParameters(t *testing.T) {
	b, _ := aes.NewCipher(make([]byte, 16))
	for _, p := range [][2]int{{6, 16}, {14, 16}, {11, 3}, {11, 18}, {11, 5}} {
		if _, err := NewCCM(b, p[0], p[1]); err == nil {
			t.Errorf("NewCCM(nonce %d, tag %d) accepted", p[0], p[1])
		}
	}
	a, err := NewCCM(b, 11, 16)
	if err != nil {
		t.Fatal(err)
	}
	if a.NonceSize() != 11 || a.Overhead() != 16 {
		t.Errorf("sizes %d %d", a.NonceSize(), a.Overhead())
	}
	nonce := make([]byte, 11)
	for n := range 15 {
		if _, err := a.Open(nil, nonce, make([]byte, n), nil); err == nil {
			t.Errorf("Open of %d bytes, shorter than the tag, succeeded", n)
		}
	}
	// An empty payload authenticates the associated data alone.
	sealed := a.Seal(nil, nonce, nil, []byte("aad"))
	if _, err := a.Open(nil, nonce, sealed, []byte("aad")); err != nil {
		t.Error(err)
	}
	if _, err := a.Open(nil, nonce, sealed, []byte("aaD")); err == nil {
		t.Error("empty payload: Open accepted other associated data")
	}
	// The 2-byte length field of a 13-byte nonce caps the payload.
	short, _ := NewCCM(b, 13, 16)
	if _, err := short.Open(nil, make([]byte, 13), make([]byte, 1<<16+16), nil); err == nil {
		t.Error("Open of a payload longer than the length field accepted")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Seal of an oversize payload did not panic")
			}
		}()
		short.Seal(nil, make([]byte, 13), make([]byte, 1<<16), nil)
	}()
}
