package ntlm

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// AV_PAIR ids ([MS-NLMP] 2.2.2.1).
const (
	avEOL       = 0x0000
	avFlags     = 0x0006
	avTimestamp = 0x0007

	avFlagMIC = 0x00000002 // MsvAvFlags: the AUTHENTICATE_MESSAGE has a MIC
)

type avPair struct {
	id    uint16
	value []byte
}

// challenge is a decoded CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2). Its slices
// alias the message.
type challenge struct {
	flags           uint32
	serverChallenge [8]byte
	targetName      []byte
	targetInfo      []byte
	pairs           []avPair // targetInfo without MsvAvEOL
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// parseChallenge decodes a CHALLENGE_MESSAGE from the server. It checks the
// signature, the message type, every field's offset and length against the
// message, and the AV_PAIR list.
func parseChallenge(b []byte) (*challenge, error) {
	if len(b) < 48 {
		return nil, malformed("CHALLENGE_MESSAGE of %d bytes", len(b))
	}
	if [8]byte(b[:8]) != signature {
		return nil, malformed("no NTLMSSP signature")
	}
	if t := binary.LittleEndian.Uint32(b[8:]); t != 2 {
		return nil, malformed("message type %d, want 2", t)
	}
	ch := &challenge{
		flags:           binary.LittleEndian.Uint32(b[20:]),
		serverChallenge: [8]byte(b[24:32]),
	}
	var err error
	if ch.targetName, err = field(b, 12); err != nil {
		return nil, err
	}
	if ch.targetInfo, err = field(b, 40); err != nil {
		return nil, err
	}
	if ch.pairs, err = parseAVPairs(ch.targetInfo); err != nil {
		return nil, err
	}
	return ch, nil
}

// field returns the payload that the 8-byte field descriptor (Len, MaxLen,
// BufferOffset) at b[at:] points to.
func field(b []byte, at int) ([]byte, error) {
	n := uint64(binary.LittleEndian.Uint16(b[at:]))
	off := uint64(binary.LittleEndian.Uint32(b[at+4:]))
	if n == 0 {
		return nil, nil
	}
	if off+n > uint64(len(b)) {
		return nil, malformed("field at %d: %d bytes at offset %d past the end (%d)", at, n, off, len(b))
	}
	return b[off : off+n], nil
}

// parseAVPairs decodes an AV_PAIR list, up to MsvAvEOL or the end. The
// MsvAvFlags and MsvAvTimestamp values must have their fixed sizes.
func parseAVPairs(b []byte) ([]avPair, error) {
	var pairs []avPair
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, malformed("truncated AV_PAIR")
		}
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n > len(b)-4 {
			return nil, malformed("AV_PAIR 0x%04x of %d bytes, %d left", id, n, len(b)-4)
		}
		if id == avEOL {
			break
		}
		v := b[4 : 4+n]
		if (id == avFlags && n != 4) || (id == avTimestamp && n != 8) {
			return nil, malformed("AV_PAIR 0x%04x of %d bytes", id, n)
		}
		pairs = append(pairs, avPair{id, v})
		b = b[4+n:]
	}
	return pairs, nil
}

// timestamp returns the server's MsvAvTimestamp, if it sent one.
func (ch *challenge) timestamp() (ts [8]byte, ok bool) {
	for _, p := range ch.pairs {
		if p.id == avTimestamp {
			return [8]byte(p.value), true
		}
	}
	return ts, false
}

// echoTargetInfo builds the AV_PAIR list of the NTLMv2 response
// ([MS-NLMP] 3.1.5.1.2): the server's pairs, MsvAvFlags with the MIC bit
// added, MsvAvTimestamp ts if addTS, and MsvAvEOL.
func echoTargetInfo(pairs []avPair, ts [8]byte, addTS bool) []byte {
	var flags uint32 = avFlagMIC
	var b []byte
	for _, p := range pairs {
		if p.id == avFlags {
			flags |= binary.LittleEndian.Uint32(p.value)
			continue
		}
		b = appendAVPair(b, p.id, p.value)
	}
	b = appendAVPair(b, avFlags, binary.LittleEndian.AppendUint32(nil, flags))
	if addTS {
		b = appendAVPair(b, avTimestamp, ts[:])
	}
	return appendAVPair(b, avEOL, nil)
}

func appendAVPair(b []byte, id uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// utf16le encodes s as UTF-16 little-endian, without a terminator.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}
