package ntlm

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

func checkBytes(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if w := unhex(t, want); !bytes.Equal(got, w) {
		t.Errorf("%s = %X, want %X", what, got, w)
	}
}

// A Windows 10 client authenticating to a Windows server over SMB 3.1.1,
// from Microsoft's Open Specifications blog "SMB 2 and SMB 3 security in
// Windows 10: the anatomy of signing and cryptographic keys", appendix: the
// NEGOTIATE response and the SESSION_SETUP messages of the first channel,
// the password (Password01!), and the keys the post derives step by step
// ("NTLMv2 SessionKey calculation example").
const (
	traceNegotiateResponse = `FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000
		000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942
		BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001
		80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182
		3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000
		60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51
		FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000
		5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000
		7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000
		3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562
		6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075
		626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4
		83CA5B65385A251117BEB30712E50000020004000000000001000200`
	traceSetupRequest1 = `FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000
		00000000000000000000000000000000000000000000000019000001010000000000000058004A00
		0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
		04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
		000F`
	traceSetupResponse1 = `FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000
		190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003
		0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038
		00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53
		005500540033003100310002000C0053005500540033003100310001000C00530055005400330031
		00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1
		A1F5ADCBAED00100000000`
	traceSetupRequest2 = `FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000
		1900000000100000000000000000000000000000000000001900000101000000000000005800CF01
		0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000
		001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000
		001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055
		005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049
		0056004500520033003100310000000000000000000000000000000000000000000000000063078E
		B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000
		0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055
		00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004
		00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B
		8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016
		0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F
		5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000`
	traceSetupResponse2 = `FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000
		1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01
		00A3120410010000003B453CDC3524164200000000`

	traceSessionKey = "270E1BA896585EEB7AF3472D3B4C75A7"
)

// securityBuffer returns the security buffer of an SMB2 NEGOTIATE response
// or SESSION_SETUP request or response ([MS-SMB2] 2.2.4, 2.2.5, 2.2.6).
func securityBuffer(t testing.TB, s string) []byte {
	m := unhex(t, s)
	body := m[64:]
	var at int
	switch binary.LittleEndian.Uint16(body) {
	case 65: // NEGOTIATE response
		at = 56
	case 25: // SESSION_SETUP request
		at = 12
	case 9: // SESSION_SETUP response
		at = 4
	default:
		t.Fatal("not a message with a security buffer")
	}
	off := binary.LittleEndian.Uint16(body[at:])
	n := binary.LittleEndian.Uint16(body[at+2:])
	return m[off : int(off)+int(n)]
}

// traceTokens returns the NTLM messages of the trace and the client's
// mechListMIC.
func traceTokens(t *testing.T) (neg, chal, auth, mic []byte) {
	req1 := securityBuffer(t, traceSetupRequest1)
	neg = req1[len(req1)-40:]
	state, chal, m, err := ParseNegTokenResp(securityBuffer(t, traceSetupResponse1))
	if err != nil || state != NegStateAcceptIncomplete || m != nil {
		t.Fatalf("response 1: state %d, mic %X, %v", state, m, err)
	}
	state, auth, mic, err = ParseNegTokenResp(securityBuffer(t, traceSetupRequest2))
	if err != nil || state != NegStateAcceptIncomplete {
		t.Fatalf("request 2: state %d, %v", state, err)
	}
	return neg, chal, auth, mic
}

func TestTraceSPNEGO(t *testing.T) {
	neg, chal, auth, mic := traceTokens(t)
	if !bytes.HasPrefix(neg, []byte("NTLMSSP\x00\x01")) || !bytes.HasPrefix(chal, []byte("NTLMSSP\x00\x02")) ||
		!bytes.HasPrefix(auth, []byte("NTLMSSP\x00\x03")) {
		t.Fatal("tokens are not NTLM messages 1, 2, 3")
	}
	// Windows' encodings are the DER this package writes.
	if got := WrapNegTokenInit(neg); !bytes.Equal(got, securityBuffer(t, traceSetupRequest1)) {
		t.Errorf("WrapNegTokenInit = %X", got)
	}
	if got := WrapNegTokenResp(auth, mic); !bytes.Equal(got, securityBuffer(t, traceSetupRequest2)) {
		t.Errorf("WrapNegTokenResp = %X", got)
	}
	state, tok, serverMIC, err := ParseNegTokenResp(securityBuffer(t, traceSetupResponse2))
	if err != nil || state != NegStateAcceptCompleted || tok != nil {
		t.Fatalf("final response: %d %X %v", state, tok, err)
	}
	checkBytes(t, "server mechListMIC", serverMIC, "010000003B453CDC3524164200000000")

	mechs, err := ParseNegTokenInit(securityBuffer(t, traceNegotiateResponse))
	if err != nil || len(mechs) != 2 || !mechs[0].Equal(OIDNegoEx) || !mechs[1].Equal(OIDNTLMSSP) {
		t.Errorf("NEGOTIATE mechTypes %v, %v", mechs, err)
	}
}

func TestTraceKeys(t *testing.T) {
	neg, chalMsg, auth, clientMIC := traceTokens(t)
	ch, err := parseChallenge(chalMsg)
	if err != nil {
		t.Fatal(err)
	}
	checkBytes(t, "ServerChallenge", ch.serverChallenge[:], "0D1D8BA31179D008")
	if ch.flags != 0xE28A8215 || string(ch.targetName) != string(utf16le("SUT311")) || len(ch.pairs) != 5 {
		t.Errorf("challenge flags %#x, target %q, %d pairs", ch.flags, ch.targetName, len(ch.pairs))
	}
	if ts, ok := ch.timestamp(); !ok || hex.EncodeToString(ts[:]) != "a1a1f5adcbaed001" {
		t.Errorf("timestamp %X %v", ts, ok)
	}

	keyNT := ntowfv2("Password01!", "administrator", "SUT311")
	checkBytes(t, "ResponseKeyNT", keyNT, "AEE3959B44A815F1EB28C9511B4F533B")

	// The NTLMv2 response of the trace, rebuilt from its parts.
	a := parseAuth(t, auth)
	ntResp := a.nt
	var ts, cc [8]byte
	copy(ts[:], ntResp[24:32])
	copy(cc[:], ntResp[32:40])
	checkBytes(t, "ClientChallenge", cc[:], "BC4AD05F223CC90F")
	proof, resp := ntlmv2Response(keyNT, ch.serverChallenge, cc, ts, ntResp[44:len(ntResp)-4])
	checkBytes(t, "NTProofStr", proof, "63078EB639FE03E20A231C3AE3BF2308")
	if !bytes.Equal(resp, ntResp) {
		t.Errorf("NtChallengeResponse = %X, want %X", resp, ntResp)
	}
	kxk := hmacMD5(keyNT, proof)
	checkBytes(t, "KeyExchangeKey", kxk, "B4CF22566926B1C069ACD80E4D73C814")
	checkBytes(t, "EncryptedRandomSessionKey", a.key, "3B9BDFF38F5EE8F9663F11A0F4C03A78")
	checkBytes(t, "ExportedSessionKey", rc4K(kxk, a.key), traceSessionKey)
	exported := unhex(t, traceSessionKey)

	// The MIC over the three messages with the MIC field zeroed.
	zeroed := bytes.Clone(auth)
	clear(zeroed[micOffset : micOffset+16])
	checkBytes(t, "MIC", hmacMD5(exported, neg, chalMsg, zeroed), "ECAC77A5F385A8BF9C38C706EEEDDCD3")
	checkBytes(t, "MIC field", auth[micOffset:micOffset+16], "ECAC77A5F385A8BF9C38C706EEEDDCD3")

	// Signing and sealing keys, and the mechListMICs of both sides.
	checkBytes(t, "client signing key", signKey(exported, clientSignMagic), "D43F36C44BCE0630250A09EA0C2E8C2C")
	checkBytes(t, "server signing key", signKey(exported, serverSignMagic), "E1BD8B416B0B709D295E12F2CF18E6C5")
	checkBytes(t, "client sealing key", sealKey(a.flags, exported, clientSealMagic), "31E5557D99BE13F1B2665C7C7C52CE70")
	checkBytes(t, "server sealing key", sealKey(a.flags, exported, serverSealMagic), "B0F5A0B32C81FF34A878E1409B3B0EF2")
	c := &Client{flags: a.flags, sessionKey: exported}
	checkBytes(t, "MechListMIC", c.MechListMIC(), hex.EncodeToString(clientMIC))
	_, _, serverMIC, _ := ParseNegTokenResp(securityBuffer(t, traceSetupResponse2))
	if !c.VerifyMechListMIC(serverMIC) {
		t.Error("the server's mechListMIC does not verify")
	}
	if c.VerifyMechListMIC(clientMIC) {
		t.Error("the client's mechListMIC verifies as the server's")
	}
}

// The same exchange through Client, with the trace's client challenge and
// session key as randomness: the response differs from Windows' only in
// the AV pairs (Windows adds MsvAvSingleHost, channel bindings and the SPN),
// so it is checked the way a server would check it.
func TestTraceAuthenticate(t *testing.T) {
	_, chalMsg, _, _ := traceTokens(t)
	c := &Client{User: "administrator", Password: "Password01!", Domain: "SUT311", Workstation: "DRIVER311",
		rand: bytes.NewReader(unhex(t, "BC4AD05F223CC90F"+traceSessionKey))}
	auth, err := c.Authenticate(chalMsg)
	if err != nil {
		t.Fatal(err)
	}
	checkBytes(t, "SessionKey", c.SessionKey(), traceSessionKey)
	a := verifyAsServer(t, c, chalMsg, auth)
	if !bytes.Equal(a.lm, make([]byte, 24)) {
		t.Errorf("LM response %X with a server timestamp, want zeros", a.lm)
	}
	checkBytes(t, "timestamp in response", a.nt[24:32], "A1A1F5ADCBAED001")
	if a.flags != 0xE2888215 {
		t.Errorf("flags %#x, want Windows' 0xE2888215", a.flags)
	}
}
