package ntlm

import (
	"encoding/asn1"
	"errors"
)

// Object identifiers, as DER contents.
var (
	spnegoOID  = []byte{0x2B, 0x06, 0x01, 0x05, 0x05, 0x02}                         // 1.3.6.1.5.5.2
	ntlmsspOID = []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0A} // 1.3.6.1.4.1.311.2.2.10

	// mechTypesDER is the MechTypeList the client offers, NTLMSSP alone;
	// the mechListMIC signs exactly these bytes.
	mechTypesDER = der(0x30, der(0x06, ntlmsspOID))
)

// OIDs of mechanisms a server may list in its NEGOTIATE security buffer.
var (
	OIDNTLMSSP    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
	OIDKerberos   = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}
	OIDMSKerberos = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}
	OIDNegoEx     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 30}
)

// negState values of a negTokenResp ([RFC4178] 4.2.2); NegStateAbsent
// stands for a token without one.
const (
	NegStateAbsent           = -1
	NegStateAcceptCompleted  = 0
	NegStateAcceptIncomplete = 1
	NegStateReject           = 2
	NegStateRequestMIC       = 3
)

// WrapNegTokenInit wraps an NTLM NEGOTIATE_MESSAGE for the first
// SESSION_SETUP request: a GSS-API InitialContextToken ([RFC2743] 3.1) for
// SPNEGO (1.3.6.1.5.5.2) holding a negTokenInit ([RFC4178] 4.2.1) with
// mechTypes = [NTLMSSP] and the message as mechToken.
func WrapNegTokenInit(ntlmNegotiate []byte) []byte {
	init := der(0x30, cat(der(0xA0, mechTypesDER), der(0xA2, der(0x04, ntlmNegotiate))))
	return der(0x60, cat(der(0x06, spnegoOID), der(0xA0, init)))
}

// WrapNegTokenResp wraps an NTLM AUTHENTICATE_MESSAGE for the second
// SESSION_SETUP request: a negTokenResp ([RFC4178] 4.2.2) with negState
// accept-incomplete, the message as responseToken and, if not nil,
// mechListMIC (see Client.MechListMIC). This is what Windows sends.
func WrapNegTokenResp(ntlmAuth, mechListMIC []byte) []byte {
	seq := cat(der(0xA0, der(0x0A, []byte{NegStateAcceptIncomplete})), der(0xA2, der(0x04, ntlmAuth)))
	if mechListMIC != nil {
		seq = cat(seq, der(0xA3, der(0x04, mechListMIC)))
	}
	return der(0xA1, der(0x30, seq))
}

// ParseNegTokenResp decodes the negTokenResp ([RFC4178] 4.2.2) of a
// SESSION_SETUP response: negState (NegStateAbsent if missing), the
// responseToken (for NTLM the CHALLENGE_MESSAGE, then usually nothing) and
// the mechListMIC, each nil if missing. The slices alias b.
func ParseNegTokenResp(b []byte) (negState int, mechToken []byte, mechListMIC []byte, err error) {
	negState = NegStateAbsent
	tag, body, _, _, err := readTLV(b)
	if err != nil {
		return negState, nil, nil, err
	}
	if tag != 0xA1 {
		return negState, nil, nil, malformed("negTokenResp tag 0x%02x", tag)
	}
	if tag, body, _, _, err = readTLV(body); err != nil {
		return negState, nil, nil, err
	}
	if tag != 0x30 {
		return negState, nil, nil, malformed("negTokenResp is not a SEQUENCE")
	}
	for len(body) > 0 {
		var inner []byte
		tag, inner, _, body, err = readTLV(body)
		if err != nil {
			return NegStateAbsent, nil, nil, err
		}
		switch tag {
		case 0xA0: // negState ENUMERATED
			t, v, _, _, err := readTLV(inner)
			if err != nil {
				return NegStateAbsent, nil, nil, err
			}
			if t != 0x0A || len(v) != 1 {
				return NegStateAbsent, nil, nil, malformed("bad negState")
			}
			negState = int(v[0])
		case 0xA1: // supportedMech: not needed with a single mechanism
		case 0xA2, 0xA3: // responseToken, mechListMIC: OCTET STRING
			t, v, _, _, err := readTLV(inner)
			if err != nil {
				return NegStateAbsent, nil, nil, err
			}
			if t != 0x04 {
				return NegStateAbsent, nil, nil, malformed("negTokenResp field 0x%02x is not an OCTET STRING", tag)
			}
			if tag == 0xA2 {
				mechToken = v
			} else {
				mechListMIC = v
			}
		default:
			return NegStateAbsent, nil, nil, malformed("negTokenResp field 0x%02x", tag)
		}
	}
	return negState, mechToken, mechListMIC, nil
}

// ParseNegTokenInit decodes the security buffer of a NEGOTIATE response
// ([MS-SMB2] 2.2.4): a GSS-API InitialContextToken for SPNEGO holding a
// negTokenInit ([RFC4178] 4.2.1) or [MS-SPNG]'s negTokenInit2, and returns
// its mechTypes. An empty buffer (the server leaves the choice to the
// client) gives no mechanisms and no error.
func ParseNegTokenInit(b []byte) (mechs []asn1.ObjectIdentifier, err error) {
	if len(b) == 0 {
		return nil, nil
	}
	tag, body, _, _, err := readTLV(b)
	if err != nil {
		return nil, err
	}
	if tag != 0x60 {
		return nil, malformed("InitialContextToken tag 0x%02x", tag)
	}
	tag, oid, _, rest, err := readTLV(body)
	if err != nil {
		return nil, err
	}
	if tag != 0x06 || string(oid) != string(spnegoOID) {
		return nil, malformed("mechanism is not SPNEGO")
	}
	if tag, body, _, _, err = readTLV(rest); err != nil {
		return nil, err
	}
	if tag != 0xA0 {
		return nil, malformed("not a negTokenInit")
	}
	if tag, body, _, _, err = readTLV(body); err != nil {
		return nil, err
	}
	if tag != 0x30 {
		return nil, malformed("negTokenInit is not a SEQUENCE")
	}
	for len(body) > 0 {
		var inner []byte
		if tag, inner, _, body, err = readTLV(body); err != nil {
			return nil, err
		}
		if tag != 0xA0 {
			continue // reqFlags, mechToken, negHints, mechListMIC
		}
		if tag, inner, _, _, err = readTLV(inner); err != nil {
			return nil, err
		}
		if tag != 0x30 {
			return nil, malformed("mechTypes is not a SEQUENCE")
		}
		mechs = []asn1.ObjectIdentifier{}
		for len(inner) > 0 {
			var full []byte
			if tag, _, full, inner, err = readTLV(inner); err != nil {
				return nil, err
			}
			var oid asn1.ObjectIdentifier
			if tag != 0x06 {
				return nil, malformed("mechType is not an OID")
			}
			if _, err := asn1.Unmarshal(full, &oid); err != nil {
				return nil, malformed("mechType: %v", err)
			}
			mechs = append(mechs, oid)
		}
		return mechs, nil
	}
	return nil, malformed("negTokenInit without mechTypes")
}

var errTruncated = errors.New("truncated")

// readTLV splits the DER element at the start of b into its tag, contents,
// whole encoding, and the bytes after it. Only low tag numbers and definite
// lengths of up to four bytes are accepted, which covers SPNEGO.
func readTLV(b []byte) (tag byte, contents, full, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, nil, malformed("DER: %v", errTruncated)
	}
	tag = b[0]
	if tag&0x1F == 0x1F {
		return 0, nil, nil, nil, malformed("DER: high tag number")
	}
	n, hdr := uint64(b[1]), 2
	if n >= 0x80 {
		k := int(n & 0x7F)
		if k == 0 || k > 4 {
			return 0, nil, nil, nil, malformed("DER: length of %d bytes", k)
		}
		if len(b) < 2+k {
			return 0, nil, nil, nil, malformed("DER: %v", errTruncated)
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | uint64(c)
		}
		hdr += k
	}
	if n > uint64(len(b)-hdr) {
		return 0, nil, nil, nil, malformed("DER: %d bytes of contents, %d left", n, len(b)-hdr)
	}
	end := hdr + int(n)
	return tag, b[hdr:end], b[:end], b[end:], nil
}

// der encodes one DER element.
func der(tag byte, contents []byte) []byte {
	n := len(contents)
	b := []byte{tag}
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xFF:
		b = append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		b = append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, contents...)
}

func cat(a, b []byte) []byte { return append(a[:len(a):len(a)], b...) }
