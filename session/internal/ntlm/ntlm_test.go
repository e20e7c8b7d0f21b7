package ntlm

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"testing"
	"time"
	"unicode/utf16"
)

type authMsg struct {
	lm, nt, domain, user, workstation, key []byte
	flags                                  uint32
	version, mic                           []byte
}

// parseAuth decodes an AUTHENTICATE_MESSAGE the way a server would.
func parseAuth(t *testing.T, b []byte) authMsg {
	t.Helper()
	if len(b) < authHeaderSize || string(b[:8]) != "NTLMSSP\x00" || binary.LittleEndian.Uint32(b[8:]) != 3 {
		t.Fatalf("not an AUTHENTICATE_MESSAGE: %X", b)
	}
	get := func(at int) []byte {
		n := int(binary.LittleEndian.Uint16(b[at:]))
		if m := int(binary.LittleEndian.Uint16(b[at+2:])); m != n {
			t.Fatalf("field at %d: MaxLen %d, Len %d", at, m, n)
		}
		off := int(binary.LittleEndian.Uint32(b[at+4:]))
		if off < authHeaderSize || off+n > len(b) {
			t.Fatalf("field at %d: %d bytes at %d out of %d", at, n, off, len(b))
		}
		return b[off : off+n]
	}
	return authMsg{
		lm: get(12), nt: get(20), domain: get(28), user: get(36), workstation: get(44), key: get(52),
		flags:   binary.LittleEndian.Uint32(b[60:]),
		version: b[64:72], mic: b[72:88],
	}
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// verifyAsServer checks an AUTHENTICATE_MESSAGE from c as the server would:
// names, the NTLMv2 proof, the AV pairs, the session key and the MIC.
func verifyAsServer(t *testing.T, c *Client, chalMsg, auth []byte) authMsg {
	t.Helper()
	ch, err := parseChallenge(chalMsg)
	if err != nil {
		t.Fatal(err)
	}
	a := parseAuth(t, auth)
	if decodeUTF16(a.user) != c.User || decodeUTF16(a.domain) != c.Domain || decodeUTF16(a.workstation) != c.Workstation {
		t.Errorf("names %q %q %q", decodeUTF16(a.user), decodeUTF16(a.domain), decodeUTF16(a.workstation))
	}
	if len(a.nt) < 16+28+4+4 {
		t.Fatalf("NT response of %d bytes", len(a.nt))
	}
	keyNT := ntowfv2(c.Password, c.User, c.Domain)
	blob := a.nt[16:]
	proof := hmacMD5(keyNT, ch.serverChallenge[:], blob)
	if !bytes.Equal(proof, a.nt[:16]) {
		t.Fatal("NTProofStr does not verify")
	}
	if !bytes.Equal(blob[:8], []byte{1, 1, 0, 0, 0, 0, 0, 0}) || !bytes.Equal(blob[len(blob)-4:], make([]byte, 4)) {
		t.Errorf("blob framing %X", blob)
	}
	pairs, err := parseAVPairs(blob[28 : len(blob)-4])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(blob[:len(blob)-4], []byte{0, 0, 0, 0}) {
		t.Error("AV pairs do not end with MsvAvEOL")
	}
	var flagsSeen, tsSeen int
	for _, p := range pairs {
		switch p.id {
		case avFlags:
			flagsSeen++
			if binary.LittleEndian.Uint32(p.value)&avFlagMIC == 0 {
				t.Error("MsvAvFlags without the MIC bit")
			}
		case avTimestamp:
			tsSeen++
			if !bytes.Equal(p.value, blob[8:16]) {
				t.Error("MsvAvTimestamp differs from the blob's time")
			}
		}
	}
	if flagsSeen != 1 || tsSeen != 1 {
		t.Errorf("%d MsvAvFlags, %d MsvAvTimestamp", flagsSeen, tsSeen)
	}
	for _, sp := range ch.pairs {
		found := false
		for _, p := range pairs {
			found = found || (p.id == sp.id && (p.id == avFlags || bytes.Equal(p.value, sp.value)))
		}
		if !found {
			t.Errorf("server AV pair 0x%04x not echoed", sp.id)
		}
	}
	exported := hmacMD5(keyNT, proof)
	if a.flags&flagKeyExch != 0 {
		exported = rc4K(exported, a.key)
	} else if len(a.key) != 0 {
		t.Error("EncryptedRandomSessionKey without KEY_EXCH")
	}
	if !bytes.Equal(exported, c.SessionKey()) {
		t.Errorf("server's session key %X, client's %X", exported, c.SessionKey())
	}
	zeroed := bytes.Clone(auth)
	clear(zeroed[micOffset : micOffset+16])
	m := hmac.New(md5.New, exported)
	m.Write(c.Negotiate())
	m.Write(chalMsg)
	m.Write(zeroed)
	if !bytes.Equal(m.Sum(nil), a.mic) {
		t.Error("MIC does not verify")
	}
	return a
}

// [MS-NLMP] 4.2.4: NTLMv2 with User "User", UserDom "Domain", Passwd
// "Password", ServerChallenge 0123456789abcdef, ClientChallenge aa..., Time
// 0, RandomSessionKey 55..., and the CHALLENGE_MESSAGE of 4.2.4.3.
const (
	spec424Challenge = `4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000
		060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000`
	spec424TargetInfo = "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"
)

func TestMSNLMP424(t *testing.T) {
	keyNT := ntowfv2("Password", "User", "Domain")
	checkBytes(t, "NTOWFv2 (4.2.4.1.1)", keyNT, "0c868a403bfd7a93a3001ef22ef02e3f")
	server := [8]byte(unhex(t, "0123456789abcdef"))
	client := [8]byte(unhex(t, "aaaaaaaaaaaaaaaa"))
	checkBytes(t, "LMv2 response (4.2.4.2.1)", lmv2Response(keyNT, server, client),
		"86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
	proof, resp := ntlmv2Response(keyNT, server, client, [8]byte{}, unhex(t, spec424TargetInfo))
	checkBytes(t, "NTProofStr (4.2.4.2.2)", proof, "68cd0ab851e51c96aabc927bebef6a1c")
	checkBytes(t, "NTLMv2 response (4.2.4.3)", resp, `68cd0ab851e51c96aabc927bebef6a1c
		01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000
		02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000 00000000`)
	base := hmacMD5(keyNT, proof)
	checkBytes(t, "SessionBaseKey (4.2.4.1.2)", base, "8de40ccadbc14a82f15cb0ad0de95ca3")
	// KXKEY is the SessionBaseKey for NTLMv2 (3.4.5.1).
	random := bytes.Repeat([]byte{0x55}, 16)
	checkBytes(t, "EncryptedSessionKey (4.2.4.2.3)", rc4K(base, random), "c5dad2544fc9799094ce1ce90bc9d03e")
	flags := uint32(0xE28A8233)
	checkBytes(t, "client SignKey (4.2.4.1.3)", signKey(random, clientSignMagic), "4788dc861b4782f35d43fd98fe1a2d39")
	checkBytes(t, "client SealKey (4.2.4.1.3)", sealKey(flags, random, clientSealMagic), "59f600973cc4960a25480a7c196e4c58")

	// The whole message from Client, with the same inputs. The server
	// sent no timestamp, so the LMv2 response is the spec's and the
	// client adds MsvAvTimestamp (Time 0) next to MsvAvFlags.
	c := &Client{User: "User", Password: "Password", Domain: "Domain", Workstation: "COMPUTER",
		rand: bytes.NewReader(append(client[:], random...)),
		now:  func() time.Time { return time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	chal := unhex(t, spec424Challenge)
	auth, err := c.Authenticate(chal)
	if err != nil {
		t.Fatal(err)
	}
	a := verifyAsServer(t, c, chal, auth)
	checkBytes(t, "LmChallengeResponse", a.lm, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
	checkBytes(t, "time in blob", a.nt[24:32], "0000000000000000")
	if !bytes.Equal(c.SessionKey(), random) {
		t.Errorf("SessionKey %X", c.SessionKey())
	}
	// The negotiated flags lose OEM (0x2) and TARGET_TYPE_SERVER
	// (0x20000), which the client did not ask for.
	if a.flags != flags&negotiateFlags {
		t.Errorf("flags %#x, want %#x", a.flags, flags&negotiateFlags)
	}
	checkBytes(t, "version", a.version, "0a0000000000000f")
}

func TestFiletime(t *testing.T) {
	ts := filetime(time.Date(2015, 6, 24, 22, 18, 21, 389456700, time.UTC))
	// The Windows trace's client time, "06/24/2015, 22:18:21.389456 UTC".
	if binary.LittleEndian.Uint64(ts[:])/10 != binary.LittleEndian.Uint64(unhex(t, "A1A1F5ADCBAED001"))/10 {
		t.Errorf("filetime %X", ts)
	}
}

func TestNegotiateMessage(t *testing.T) {
	c := &Client{}
	n := c.Negotiate()
	checkBytes(t, "NEGOTIATE_MESSAGE", n, "4e544c4d5353500001000000 358288e2 0000000028000000 0000000028000000 0a0000000000000f")
	if !bytes.Equal(n, c.Negotiate()) {
		t.Error("Negotiate not stable")
	}
}

func TestAnonymous(t *testing.T) {
	c := &Client{Anonymous: true, Workstation: "HOST", User: "ignored", Password: "ignored"}
	chal := unhex(t, spec424Challenge)
	auth, err := c.Authenticate(chal)
	if err != nil {
		t.Fatal(err)
	}
	a := parseAuth(t, auth)
	if !bytes.Equal(a.lm, []byte{0}) || len(a.nt) != 0 || len(a.user) != 0 || len(a.domain) != 0 || len(a.key) != 0 {
		t.Errorf("anonymous message %+v", a)
	}
	if decodeUTF16(a.workstation) != "HOST" {
		t.Errorf("workstation %q", decodeUTF16(a.workstation))
	}
	if a.flags&flagAnonymous == 0 || a.flags&flagKeyExch != 0 {
		t.Errorf("flags %#x", a.flags)
	}
	if c.SessionKey() != nil || c.MechListMIC() != nil || c.VerifyMechListMIC(make([]byte, 16)) {
		t.Error("anonymous session has a key")
	}
	if !bytes.Equal(a.mic, make([]byte, 16)) {
		t.Error("anonymous message has a MIC")
	}
}

// withFlags returns a copy of the 4.2.4 challenge with other flags.
func withFlags(t *testing.T, flags uint32) []byte {
	b := unhex(t, spec424Challenge)
	binary.LittleEndian.PutUint32(b[20:], flags)
	return b
}

func TestWithoutKeyExchange(t *testing.T) {
	c := &Client{User: "u", Password: "p", Domain: "d"}
	chal := withFlags(t, 0xE28A8233&^flagKeyExch)
	auth, err := c.Authenticate(chal)
	if err != nil {
		t.Fatal(err)
	}
	a := verifyAsServer(t, c, chal, auth)
	if len(a.key) != 0 || a.flags&flagKeyExch != 0 || len(c.SessionKey()) != 16 {
		t.Errorf("key %X flags %#x", a.key, a.flags)
	}
	// Without KEY_EXCH the mechListMIC checksum is not RC4-encrypted.
	if mic := c.MechListMIC(); len(mic) != 16 ||
		!bytes.Equal(mic[4:12], hmacMD5(signKey(c.SessionKey(), clientSignMagic), make([]byte, 4), mechTypesDER)[:8]) {
		t.Errorf("MechListMIC %X", mic)
	}
}

func TestRandomSessionsDiffer(t *testing.T) {
	chal := unhex(t, spec424Challenge)
	c1 := &Client{User: "u", Password: "p"}
	c2 := &Client{User: "u", Password: "p"}
	a1, err1 := c1.Authenticate(chal)
	a2, err2 := c2.Authenticate(chal)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	verifyAsServer(t, c1, chal, a1)
	if bytes.Equal(c1.SessionKey(), c2.SessionKey()) || bytes.Equal(a1, a2) {
		t.Error("two authentications share randomness")
	}
	wrong := &Client{User: "u", Password: "other"}
	wrong.Authenticate(chal)
	if bytes.Equal(wrong.SessionKey(), c1.SessionKey()) {
		t.Error("password ignored")
	}
}

func TestAuthenticateErrors(t *testing.T) {
	c := &Client{User: "u", Password: "p"}
	chal := unhex(t, spec424Challenge)
	for n := range len(chal) {
		if _, err := c.Authenticate(chal[:n]); err == nil {
			t.Errorf("challenge prefix of %d bytes accepted", n)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("prefix of %d bytes: %v is not ErrMalformed", n, err)
		}
		if c.SessionKey() != nil {
			t.Error("session key after a failure")
		}
	}
	if _, err := c.Authenticate(withFlags(t, 0xE28A8233&^flagUnicode)); err == nil {
		t.Error("OEM-only server accepted")
	}
	short := &Client{User: "u", Password: "p", rand: bytes.NewReader(make([]byte, 10))}
	if _, err := short.Authenticate(chal); err == nil {
		t.Error("Authenticate without enough randomness succeeded")
	}

	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(chal)
		f(b)
		return b
	}
	for name, b := range map[string][]byte{
		"signature":          mutate(func(b []byte) { b[0] = 'n' }),
		"type":               mutate(func(b []byte) { b[8] = 3 }),
		"target name offset": mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0xFFFFFFFF) }),
		"target info length": mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[40:], 0x25) }),
		"target info offset": mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[44:], 0xFFFFFFF0) }),
		"AV pair length":     mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[0x44+2:], 0x30) }),
		"AV pair cut":        mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[40:], 0x22) }),
		"flags pair size":    mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[0x44:], avFlags) }),
		"timestamp size":     mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[0x44:], avTimestamp) }),
	} {
		if _, err := parseChallenge(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A target info without MsvAvEOL ends at the end of the field.
	noEOL := mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[40:], 0x24-4) })
	if ch, err := parseChallenge(noEOL); err != nil || len(ch.pairs) != 2 {
		t.Errorf("no MsvAvEOL: %v", err)
	}
	// An oversized target info cannot be echoed in a 16-bit field.
	huge := make([]byte, 48, 48+0xFFFF)
	copy(huge, chal[:48])
	binary.LittleEndian.PutUint16(huge[12:], 0)
	binary.LittleEndian.PutUint16(huge[40:], 0xFFFF)
	binary.LittleEndian.PutUint32(huge[44:], 48)
	huge = appendAVPair(huge, 1, make([]byte, 0xFFFF-8))
	huge = appendAVPair(huge, avEOL, nil)
	if _, err := c.Authenticate(huge); err == nil {
		t.Error("oversized target info accepted")
	}
}

func FuzzChallenge(f *testing.F) {
	f.Add(unhex(f, spec424Challenge))
	f.Add(withFlagsF(f, 0xE28A8233&^flagKeyExch))
	f.Add([]byte("NTLMSSP\x00\x02\x00\x00\x00"))
	_, chal, _, _ := ParseNegTokenResp(securityBuffer(f, traceSetupResponse1))
	f.Add(chal)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseChallenge(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for _, c := range []*Client{{User: "u", Password: "p", Domain: "d"}, {Anonymous: true}} {
			auth, err := c.Authenticate(b)
			if err != nil {
				continue
			}
			if len(auth) < authHeaderSize || (c.SessionKey() == nil) != c.Anonymous {
				t.Fatalf("Authenticate gave %d bytes, key %X", len(auth), c.SessionKey())
			}
		}
	})
}

func withFlagsF(f *testing.F, flags uint32) []byte {
	b := unhex(f, spec424Challenge)
	binary.LittleEndian.PutUint32(b[20:], flags)
	return b
}
