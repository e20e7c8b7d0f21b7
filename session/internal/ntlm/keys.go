package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"strings"

	"golang.org/x/crypto/md4"
)

// hmacMD5 is HMAC_MD5(key, data...) ([MS-NLMP] 6).
func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntowfv2 is NTOWFv2 ([MS-NLMP] 3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)),
// UNICODE(ConcatenationOf(Uppercase(User), UserDom))). LMOWFv2 is the same
// function, so it is also ResponseKeyLM.
func ntowfv2(password, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// ntlmv2Response computes NTProofStr and NtChallengeResponse ([MS-NLMP]
// 3.3.2): temp is the NTLMv2_CLIENT_CHALLENGE (2.2.2.7) with the time, the
// client challenge and the AV pairs, and NTProofStr =
// HMAC_MD5(ResponseKeyNT, ServerChallenge || temp).
func ntlmv2Response(keyNT []byte, serverChallenge, clientChallenge, ts [8]byte, targetInfo []byte) (ntProof, resp []byte) {
	temp := make([]byte, 0, 28+len(targetInfo)+4)
	temp = append(temp, 1, 1, 0, 0, 0, 0, 0, 0) // RespType, HiRespType, Reserved
	temp = append(temp, ts[:]...)
	temp = append(temp, clientChallenge[:]...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, targetInfo...)
	temp = append(temp, 0, 0, 0, 0)
	ntProof = hmacMD5(keyNT, serverChallenge[:], temp)
	return ntProof, append(ntProof[:16:16], temp...)
}

// lmv2Response is the LMv2 response: HMAC_MD5(ResponseKeyLM,
// ServerChallenge || ClientChallenge) || ClientChallenge.
func lmv2Response(keyLM []byte, serverChallenge, clientChallenge [8]byte) []byte {
	return append(hmacMD5(keyLM, serverChallenge[:], clientChallenge[:]), clientChallenge[:]...)
}

// rc4K is RC4K(key, data) ([MS-NLMP] 6): data encrypted with a fresh RC4
// key schedule.
func rc4K(key, data []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic(err) // key is always 16 bytes
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

// Magic constants of SIGNKEY and SEALKEY ([MS-NLMP] 3.4.5.2, 3.4.5.3),
// terminating NUL included.
const (
	clientSignMagic = "session key to client-to-server signing key magic constant\x00"
	serverSignMagic = "session key to server-to-client signing key magic constant\x00"
	clientSealMagic = "session key to client-to-server sealing key magic constant\x00"
	serverSealMagic = "session key to server-to-client sealing key magic constant\x00"
)

// signKey is SIGNKEY with extended session security.
func signKey(exported []byte, magic string) []byte {
	h := md5.New()
	h.Write(exported)
	h.Write([]byte(magic))
	return h.Sum(nil)
}

// sealKey is SEALKEY with extended session security: the session key cut
// to the negotiated strength, then hashed with the magic constant.
func sealKey(flags uint32, exported []byte, magic string) []byte {
	k := exported
	switch {
	case flags&flag128 != 0:
	case flags&flag56 != 0:
		k = k[:7]
	default:
		k = k[:5]
	}
	return signKey(k, magic)
}

// mac is the NTLMSSP_MESSAGE_SIGNATURE of msg with extended session
// security ([MS-NLMP] 3.4.4.2): version 1, the first 8 bytes of
// HMAC_MD5(SigningKey, SeqNum || msg), encrypted with the sealing RC4 stream
// if KEY_EXCH was negotiated, and SeqNum. The RC4 stream is fresh, which is
// right for the first message signed in each direction, the only one SPNEGO
// needs.
func mac(flags uint32, exported []byte, signMagic, sealMagic string, seq uint32, msg []byte) []byte {
	var seqb [4]byte
	binary.LittleEndian.PutUint32(seqb[:], seq)
	checksum := hmacMD5(signKey(exported, signMagic), seqb[:], msg)[:8]
	if flags&flagKeyExch != 0 {
		checksum = rc4K(sealKey(flags, exported, sealMagic), checksum)
	}
	sig := make([]byte, 0, 16)
	sig = binary.LittleEndian.AppendUint32(sig, 1)
	sig = append(sig, checksum...)
	return append(sig, seqb[:]...)
}

// MechListMIC returns the SPNEGO mechListMIC for the mechTypes list that
// WrapNegTokenInit sends: the NTLM signature of its DER encoding with the
// client's signing key and sequence number 0 ([RFC4178] 5, [MS-SPNG]
// 3.1.5.1). Servers may require it when the AUTHENTICATE_MESSAGE has a MIC
// (Windows does not insist, Samba ignores it). It is nil before
// Authenticate, for anonymous authentication, and without extended session
// security.
func (c *Client) MechListMIC() []byte {
	if c.sessionKey == nil || c.flags&flagESS == 0 {
		return nil
	}
	return mac(c.flags, c.sessionKey, clientSignMagic, clientSealMagic, 0, mechTypesDER)
}

// VerifyMechListMIC reports whether mic, the mechListMIC of the server's
// last negTokenResp, is the server's signature of the mechTypes list
// (server signing key, sequence number 0). It is false whenever MechListMIC
// would be nil.
func (c *Client) VerifyMechListMIC(mic []byte) bool {
	if c.sessionKey == nil || c.flags&flagESS == 0 {
		return false
	}
	want := mac(c.flags, c.sessionKey, serverSignMagic, serverSealMagic, 0, mechTypesDER)
	return subtle.ConstantTimeCompare(want, mic) == 1
}
