package ntlm

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"testing"
)

func TestNegTokenRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 40, 127, 128, 255, 256, 300, 70000} {
		tok := bytes.Repeat([]byte{0xAB}, n)
		for _, mic := range [][]byte{nil, make([]byte, 16)} {
			state, got, gotMIC, err := ParseNegTokenResp(WrapNegTokenResp(tok, mic))
			if err != nil || state != NegStateAcceptIncomplete || !bytes.Equal(got, tok) || !bytes.Equal(gotMIC, mic) {
				t.Fatalf("token of %d bytes: %d %d %X %v", n, state, len(got), gotMIC, err)
			}
		}
		init := WrapNegTokenInit(tok)
		mechs, err := ParseNegTokenInit(init)
		if err != nil || len(mechs) != 1 || !mechs[0].Equal(OIDNTLMSSP) {
			t.Fatalf("negTokenInit of %d bytes: %v %v", n, mechs, err)
		}
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(init, &raw); err != nil || len(rest) != 0 || raw.Class != asn1.ClassApplication {
			t.Fatalf("negTokenInit is not DER encoding/asn1 reads: %v", err)
		}
	}
}

// A Samba-style NEGOTIATE security buffer: negTokenInit2 with negHints.
func TestParseNegTokenInit2(t *testing.T) {
	oid := func(o asn1.ObjectIdentifier) []byte {
		b, _ := asn1.Marshal(o)
		return b
	}
	mechs := der(0x30, cat(cat(oid(OIDMSKerberos), oid(OIDKerberos)), oid(OIDNTLMSSP)))
	hints := der(0x30, der(0xA0, der(0x1B, []byte("not_defined_in_RFC4178@please_ignore"))))
	tok := der(0x60, cat(der(0x06, spnegoOID), der(0xA0, der(0x30, cat(der(0xA0, mechs), der(0xA3, hints))))))
	got, err := ParseNegTokenInit(tok)
	want := []asn1.ObjectIdentifier{OIDMSKerberos, OIDKerberos, OIDNTLMSSP}
	if err != nil || len(got) != 3 {
		t.Fatal(got, err)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("mech %d = %v, want %v", i, got[i], want[i])
		}
	}
	if m, err := ParseNegTokenInit(nil); m != nil || err != nil {
		t.Error("empty buffer:", m, err)
	}
}

func TestSPNEGOMalformed(t *testing.T) {
	resp := WrapNegTokenResp([]byte("token"), []byte("mic"))
	init := WrapNegTokenInit([]byte("token"))
	for n := range len(resp) {
		if _, _, _, err := ParseNegTokenResp(resp[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("negTokenResp prefix of %d bytes: %v", n, err)
		}
	}
	for n := 1; n < len(init); n++ {
		if _, err := ParseNegTokenInit(init[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("negTokenInit prefix of %d bytes: %v", n, err)
		}
	}
	for name, b := range map[string][]byte{
		"init as resp":       init,
		"not a sequence":     der(0xA1, der(0x31, nil)),
		"negState type":      der(0xA1, der(0x30, der(0xA0, der(0x02, []byte{1})))),
		"negState length":    der(0xA1, der(0x30, der(0xA0, der(0x0A, []byte{0, 1})))),
		"token type":         der(0xA1, der(0x30, der(0xA2, der(0x03, []byte{0})))),
		"unknown field":      der(0xA1, der(0x30, der(0xA7, nil))),
		"indefinite length":  {0xA1, 0x80, 0, 0},
		"5-byte length":      {0xA1, 0x85, 0, 0, 0, 0, 1, 0},
		"high tag":           {0xBF, 0x01, 0x00},
		"length past end":    {0xA1, 0x84, 0xFF, 0xFF, 0xFF, 0xFF},
		"element past outer": der(0xA1, der(0x30, []byte{0xA2, 0x05, 0x04, 0x01})),
	} {
		if _, _, _, err := ParseNegTokenResp(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("negTokenResp %s: %v", name, err)
		}
	}
	for name, b := range map[string][]byte{
		"resp as init":  resp,
		"other mech":    der(0x60, cat(der(0x06, ntlmsspOID), der(0xA0, nil))),
		"no mechTypes":  der(0x60, cat(der(0x06, spnegoOID), der(0xA0, der(0x30, der(0xA2, der(0x04, nil)))))),
		"bad OID":       der(0x60, cat(der(0x06, spnegoOID), der(0xA0, der(0x30, der(0xA0, der(0x30, der(0x06, nil))))))),
		"not an OID":    der(0x60, cat(der(0x06, spnegoOID), der(0xA0, der(0x30, der(0xA0, der(0x30, der(0x04, nil))))))),
		"mechTypes set": der(0x60, cat(der(0x06, spnegoOID), der(0xA0, der(0x30, der(0xA0, der(0x31, nil)))))),
		"not init":      der(0x60, cat(der(0x06, spnegoOID), der(0xA1, nil))),
	} {
		if _, err := ParseNegTokenInit(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("negTokenInit %s: %v", name, err)
		}
	}
}

func FuzzParseNegTokenResp(f *testing.F) {
	f.Add(WrapNegTokenResp([]byte("NTLMSSP\x00\x02"), []byte("0123456789abcdef")))
	f.Add(der(0xA1, der(0x30, cat(der(0xA0, der(0x0A, []byte{0})), der(0xA1, der(0x06, ntlmsspOID))))))
	f.Add(securityBuffer(f, traceSetupResponse1))
	f.Add(securityBuffer(f, traceSetupResponse2))
	f.Fuzz(func(t *testing.T, b []byte) {
		state, tok, mic, err := ParseNegTokenResp(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		if state < NegStateAbsent || state > 255 {
			t.Fatalf("negState %d", state)
		}
		// What was read re-encodes to something that reads the same.
		if tok != nil {
			_, tok2, mic2, err := ParseNegTokenResp(WrapNegTokenResp(tok, mic))
			if err != nil || !bytes.Equal(tok, tok2) || !bytes.Equal(mic, mic2) {
				t.Fatal("re-encoding differs")
			}
		}
	})
}

func FuzzParseNegTokenInit(f *testing.F) {
	f.Add(WrapNegTokenInit([]byte("NTLMSSP\x00\x01")))
	f.Add([]byte{})
	f.Add(securityBuffer(f, traceNegotiateResponse))
	f.Fuzz(func(t *testing.T, b []byte) {
		mechs, err := ParseNegTokenInit(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
		for _, m := range mechs {
			_ = m.String()
		}
	})
}
