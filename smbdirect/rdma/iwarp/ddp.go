package iwarp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DDP and RDMAP control bits (RFC 5041 section 4, RFC 5040 section 4.1),
// the first two bytes of every ULPDU.
const (
	ddpTagged  = 0x80 // T: tagged buffer model
	ddpLast    = 0x40 // L: last segment of the DDP message
	ddpVersion = 0x01 // DV in bits 1..0 of byte 0
	ddpDVMask  = 0x03

	rdmapVersion = 0x40 // RV = 01 in bits 7..6 of byte 1
	rdmapRVMask  = 0xc0
	rdmapOpMask  = 0x0f
)

// Header sizes in bytes, counted from the start of the ULPDU (after the
// 2-byte MPA ULPDU_Length).
const (
	TaggedHeaderLen   = 14 // ctrl(2) STag(4) TO(8)
	UntaggedHeaderLen = 18 // ctrl(2) RsvdULP(4) QN(4) MSN(4) MO(4)
	ReadRequestLen    = 28 // RDMAP Read Request header after the untagged DDP header
	maxHeaderLen      = UntaggedHeaderLen + ReadRequestLen
)

// Untagged queue numbers (RFC 5040 section 5.1).
const (
	QNSend      = 0 // Send, Send with Invalidate, Send with SE (and Invalidate)
	QNReadReq   = 1 // RDMA Read Request
	QNTerminate = 2 // Terminate
)

var errShort = errors.New("iwarp: truncated header")

// Header is a DDP segment header with the RDMAP control byte
// ([RFC 5041] 4.2 tagged, 4.3 untagged; [RFC 5040] 4.1). Versions are
// reported as found so the caller can answer with the right Terminate.
type Header struct {
	Tagged       bool
	Last         bool
	DDPVersion   uint8 // 1 on the wire
	RDMAPVersion uint8 // 1 on the wire
	Opcode       Opcode

	// Tagged buffer model.
	STag uint32
	TO   uint64

	// Untagged buffer model.
	RsvdULP uint32 // Invalidate STag for Send with Invalidate
	QN      uint32
	MSN     uint32
	MO      uint32
}

// Size is the encoded length of h.
func (h *Header) Size() int {
	if h.Tagged {
		return TaggedHeaderLen
	}
	return UntaggedHeaderLen
}

// Put encodes h at the start of b (len(b) >= h.Size()) with DV = RV = 1 and
// returns the encoded length.
func (h *Header) Put(b []byte) int {
	b0 := byte(ddpVersion)
	if h.Tagged {
		b0 |= ddpTagged
	}
	if h.Last {
		b0 |= ddpLast
	}
	b[0] = b0
	b[1] = rdmapVersion | byte(h.Opcode)&rdmapOpMask
	if h.Tagged {
		_ = b[13]
		binary.BigEndian.PutUint32(b[2:], h.STag)
		binary.BigEndian.PutUint64(b[6:], h.TO)
		return TaggedHeaderLen
	}
	_ = b[17]
	binary.BigEndian.PutUint32(b[2:], h.RsvdULP)
	binary.BigEndian.PutUint32(b[6:], h.QN)
	binary.BigEndian.PutUint32(b[10:], h.MSN)
	binary.BigEndian.PutUint32(b[14:], h.MO)
	return UntaggedHeaderLen
}

// Append appends the encoding of h to b.
func (h *Header) Append(b []byte) []byte {
	var tmp [UntaggedHeaderLen]byte
	n := h.Put(tmp[:])
	return append(b, tmp[:n]...)
}

// Unmarshal decodes a header from the start of a ULPDU. It fails only when b
// is too short for the buffer model its first byte announces.
func (h *Header) Unmarshal(b []byte) error {
	if len(b) < 2 {
		return errShort
	}
	h.Tagged = b[0]&ddpTagged != 0
	h.Last = b[0]&ddpLast != 0
	h.DDPVersion = b[0] & ddpDVMask
	h.RDMAPVersion = b[1] >> 6
	h.Opcode = Opcode(b[1] & rdmapOpMask)
	if h.Tagged {
		if len(b) < TaggedHeaderLen {
			return errShort
		}
		h.STag = binary.BigEndian.Uint32(b[2:])
		h.TO = binary.BigEndian.Uint64(b[6:])
		h.RsvdULP, h.QN, h.MSN, h.MO = 0, 0, 0, 0
		return nil
	}
	if len(b) < UntaggedHeaderLen {
		return errShort
	}
	h.STag, h.TO = 0, 0
	h.RsvdULP = binary.BigEndian.Uint32(b[2:])
	h.QN = binary.BigEndian.Uint32(b[6:])
	h.MSN = binary.BigEndian.Uint32(b[10:])
	h.MO = binary.BigEndian.Uint32(b[14:])
	return nil
}

func (h *Header) String() string {
	if h.Tagged {
		return fmt.Sprintf("%v tagged L=%v stag=%#x to=%#x", h.Opcode, h.Last, h.STag, h.TO)
	}
	return fmt.Sprintf("%v untagged L=%v qn=%d msn=%d mo=%d inv=%#x", h.Opcode, h.Last, h.QN, h.MSN, h.MO, h.RsvdULP)
}

// headerLenFor is the DDP header length announced by the first ULPDU byte.
func headerLenFor(b0 byte) int {
	if b0&ddpTagged != 0 {
		return TaggedHeaderLen
	}
	return UntaggedHeaderLen
}
