package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// NegotiateFlags bits ([MS-NLMP] 2.2.2.5).
const (
	flagUnicode       = 0x00000001
	flagRequestTarget = 0x00000004
	flagSign          = 0x00000010
	flagSeal          = 0x00000020
	flagNTLM          = 0x00000200
	flagAnonymous     = 0x00000800
	flagAlwaysSign    = 0x00008000
	flagESS           = 0x00080000 // NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
	flagTargetInfo    = 0x00800000
	flagVersion       = 0x02000000
	flag128           = 0x20000000
	flagKeyExch       = 0x40000000
	flag56            = 0x80000000

	// negotiateFlags is what the client asks for.
	negotiateFlags = flagUnicode | flagRequestTarget | flagSign | flagSeal | flagNTLM |
		flagAlwaysSign | flagESS | flagTargetInfo | flagVersion | flag128 | flagKeyExch | flag56
)

// version is the VERSION structure ([MS-NLMP] 2.2.2.10) sent when
// NTLMSSP_NEGOTIATE_VERSION is negotiated: 10.0, build 0, NTLMSSP revision
// 15. It is for debugging only.
var version = [8]byte{10, 0, 0, 0, 0, 0, 0, 0x0F}

var signature = [8]byte{'N', 'T', 'L', 'M', 'S', 'S', 'P', 0}

// ErrMalformed is wrapped by the errors for a CHALLENGE_MESSAGE or SPNEGO
// token that cannot be decoded.
var ErrMalformed = errors.New("ntlm: malformed message")

// A Client authenticates one user with NTLMv2. Its fields are the
// credentials; Authenticate records the session key. A Client serves one
// authentication at a time and is not safe for concurrent use.
//
// Guest sessions are ordinary authentications with whatever name and
// password the server accepts. Anonymous sends the null session of
// [MS-NLMP] 3.1.5.1.2 instead: empty NT response, a one-byte LM response,
// NTLMSSP_NEGOTIATE_ANONYMOUS, and no session key.
type Client struct {
	User        string
	Password    string
	Domain      string // the user's domain; as given, not upper-cased
	Workstation string // the client's name, informational
	Anonymous   bool

	// rand and now replace crypto/rand and time.Now in tests.
	rand io.Reader
	now  func() time.Time

	flags      uint32 // negotiated, set by Authenticate
	sessionKey []byte // ExportedSessionKey
}

// Negotiate returns the NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1): the flags
// UNICODE, REQUEST_TARGET, SIGN, SEAL, NTLM, ALWAYS_SIGN,
// EXTENDED_SESSIONSECURITY, TARGET_INFO, VERSION, 128, KEY_EXCH and 56, no
// domain or workstation, and the version. It is the same for every call.
func (c *Client) Negotiate() []byte { return negotiateMessage() }

func negotiateMessage() []byte {
	b := make([]byte, 40)
	copy(b, signature[:])
	binary.LittleEndian.PutUint32(b[8:], 1)
	binary.LittleEndian.PutUint32(b[12:], negotiateFlags)
	// DomainNameFields and WorkstationFields stay empty; their offsets
	// point at the end of the message, as Windows does.
	binary.LittleEndian.PutUint32(b[20:], 40)
	binary.LittleEndian.PutUint32(b[28:], 40)
	copy(b[32:], version[:])
	return b
}

// Authenticate answers the server's CHALLENGE_MESSAGE with an
// AUTHENTICATE_MESSAGE ([MS-NLMP] 3.1.5.1.2) carrying an NTLMv2 response.
// The target information of the challenge is echoed in the response with
// MsvAvFlags 0x2 (a MIC is present) and, if the server sent none, an
// MsvAvTimestamp of the client's clock; the LMv2 response is zeros when the
// server sent a timestamp. With KEY_EXCH negotiated the ExportedSessionKey
// is random and sent RC4-encrypted with the KeyExchangeKey. The MIC is
// HMAC-MD5 under the ExportedSessionKey of the three messages.
func (c *Client) Authenticate(challengeMsg []byte) ([]byte, error) {
	c.flags, c.sessionKey = 0, nil
	ch, err := parseChallenge(challengeMsg)
	if err != nil {
		return nil, err
	}
	if ch.flags&flagUnicode == 0 {
		return nil, errors.New("ntlm: server does not offer Unicode")
	}
	flags := ch.flags & negotiateFlags
	if c.Anonymous {
		flags = flags&^flagKeyExch | flagAnonymous
		c.flags = flags
		return authenticateMessage(flags, []byte{0}, nil, nil, nil, utf16le(c.Workstation), nil)
	}

	rnd := c.rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var clientChallenge [8]byte
	if _, err := io.ReadFull(rnd, clientChallenge[:]); err != nil {
		return nil, err
	}
	ts, hasTS := ch.timestamp()
	if !hasTS {
		now := time.Now
		if c.now != nil {
			now = c.now
		}
		ts = filetime(now())
	}
	targetInfo := echoTargetInfo(ch.pairs, ts, !hasTS)

	keyNT := ntowfv2(c.Password, c.User, c.Domain)
	ntProof, ntResp := ntlmv2Response(keyNT, ch.serverChallenge, clientChallenge, ts, targetInfo)
	lmResp := make([]byte, 24)
	if !hasTS {
		lmResp = lmv2Response(keyNT, ch.serverChallenge, clientChallenge)
	}
	keyExchangeKey := hmacMD5(keyNT, ntProof) // SessionBaseKey; KXKEY for NTLMv2
	exported, encrypted := keyExchangeKey, []byte(nil)
	if flags&flagKeyExch != 0 {
		exported = make([]byte, 16)
		if _, err := io.ReadFull(rnd, exported); err != nil {
			return nil, err
		}
		encrypted = rc4K(keyExchangeKey, exported)
	}

	msg, err := authenticateMessage(flags, lmResp, ntResp, utf16le(c.Domain), utf16le(c.User),
		utf16le(c.Workstation), encrypted)
	if err != nil {
		return nil, err
	}
	mic := hmac.New(md5.New, exported)
	mic.Write(negotiateMessage())
	mic.Write(challengeMsg)
	mic.Write(msg)
	copy(msg[micOffset:], mic.Sum(nil))
	c.flags, c.sessionKey = flags, exported
	return msg, nil
}

// SessionKey returns the ExportedSessionKey after a successful Authenticate,
// the key SMB 3 derives its keys from ([MS-SMB2] 3.2.5.3.1); nil before,
// after a failure, and for anonymous authentication.
func (c *Client) SessionKey() []byte { return c.sessionKey }

// AUTHENTICATE_MESSAGE layout ([MS-NLMP] 2.2.1.3).
const (
	authHeaderSize = 88 // fields, flags, version and MIC
	micOffset      = 72
)

// authenticateMessage lays out an AUTHENTICATE_MESSAGE with a zero MIC.
func authenticateMessage(flags uint32, lm, nt, domain, user, workstation, key []byte) ([]byte, error) {
	payload := [][]byte{domain, user, workstation, lm, nt, key}
	size := authHeaderSize
	for _, p := range payload {
		if len(p) > 0xFFFF {
			return nil, fmt.Errorf("ntlm: AUTHENTICATE field of %d bytes", len(p))
		}
		size += len(p)
	}
	b := make([]byte, authHeaderSize, size)
	copy(b, signature[:])
	binary.LittleEndian.PutUint32(b[8:], 3)
	// Field descriptors in message order: LM, NT, domain, user,
	// workstation, session key.
	fieldAt := [6]int{28, 36, 44, 12, 20, 52}
	for i, p := range payload {
		f := b[fieldAt[i]:]
		binary.LittleEndian.PutUint16(f, uint16(len(p)))
		binary.LittleEndian.PutUint16(f[2:], uint16(len(p)))
		binary.LittleEndian.PutUint32(f[4:], uint32(len(b)))
		b = append(b, p...)
	}
	binary.LittleEndian.PutUint32(b[60:], flags)
	if flags&flagVersion != 0 {
		copy(b[64:], version[:])
	}
	return b, nil
}

// filetime converts t to a FILETIME: 100 ns units since 1601-01-01 UTC.
func filetime(t time.Time) [8]byte {
	const epochDelta = 116444736000000000 // 1601 to 1970 in 100 ns
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(t.Unix()*1e7+int64(t.Nanosecond()/100)+epochDelta))
	return b
}
