package iwarp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Opcode is an RDMAP opcode ([RFC 5040] 4.2).
type Opcode uint8

const (
	OpRDMAWrite        Opcode = 0x0
	OpReadRequest      Opcode = 0x1
	OpReadResponse     Opcode = 0x2
	OpSend             Opcode = 0x3
	OpSendInvalidate   Opcode = 0x4
	OpSendSE           Opcode = 0x5
	OpSendSEInvalidate Opcode = 0x6
	OpTerminate        Opcode = 0x7
)

func (o Opcode) String() string {
	switch o {
	case OpRDMAWrite:
		return "RDMA_WRITE"
	case OpReadRequest:
		return "READ_REQUEST"
	case OpReadResponse:
		return "READ_RESPONSE"
	case OpSend:
		return "SEND"
	case OpSendInvalidate:
		return "SEND_INV"
	case OpSendSE:
		return "SEND_SE"
	case OpSendSEInvalidate:
		return "SEND_SE_INV"
	case OpTerminate:
		return "TERMINATE"
	}
	return fmt.Sprintf("OPCODE_%#x", uint8(o))
}

// ReadRequest is the RDMAP Read Request header that follows the untagged DDP
// header on QN 1 ([RFC 5040] 4.4).
type ReadRequest struct {
	SinkSTag uint32 // requester's buffer, target of the Read Response
	SinkTO   uint64
	Size     uint32 // RDMA Read Message Size
	SrcSTag  uint32 // responder's buffer being read
	SrcTO    uint64
}

// Put encodes r into b[:ReadRequestLen].
func (r *ReadRequest) Put(b []byte) {
	_ = b[ReadRequestLen-1]
	binary.BigEndian.PutUint32(b[0:], r.SinkSTag)
	binary.BigEndian.PutUint64(b[4:], r.SinkTO)
	binary.BigEndian.PutUint32(b[12:], r.Size)
	binary.BigEndian.PutUint32(b[16:], r.SrcSTag)
	binary.BigEndian.PutUint64(b[20:], r.SrcTO)
}

// Unmarshal decodes r from b (the bytes after the untagged DDP header).
func (r *ReadRequest) Unmarshal(b []byte) error {
	if len(b) < ReadRequestLen {
		return errShort
	}
	r.SinkSTag = binary.BigEndian.Uint32(b[0:])
	r.SinkTO = binary.BigEndian.Uint64(b[4:])
	r.Size = binary.BigEndian.Uint32(b[12:])
	r.SrcSTag = binary.BigEndian.Uint32(b[16:])
	r.SrcTO = binary.BigEndian.Uint64(b[20:])
	return nil
}

// Terminate error layers ([RFC 5040] 4.8).
const (
	LayerRDMAP = 0
	LayerDDP   = 1
	LayerLLP   = 2 // MPA
)

// RDMAP error types and codes.
const (
	RDMAPLocalCatastrophic = 0
	RDMAPRemoteProtection  = 1
	RDMAPRemoteOperation   = 2

	RDMAPInvalidSTag      = 0x00
	RDMAPBaseBounds       = 0x01
	RDMAPAccessRights     = 0x02
	RDMAPSTagNotAssoc     = 0x03
	RDMAPTOWrap           = 0x04
	RDMAPInvalidVersion   = 0x05
	RDMAPUnexpectedOpcode = 0x06
	RDMAPCatastrophic     = 0x07
	RDMAPCannotInvalidate = 0x09
	RDMAPUnspecified      = 0xff
)

// DDP error types and codes ([RFC 5041] 7).
const (
	DDPLocalCatastrophic = 0
	DDPTaggedBuffer      = 1
	DDPUntaggedBuffer    = 2

	DDPTInvalidSTag    = 0x00
	DDPTBaseBounds     = 0x01
	DDPTSTagNotAssoc   = 0x02
	DDPTTOWrap         = 0x03
	DDPTInvalidVersion = 0x04

	DDPUInvalidQN      = 0x01
	DDPUNoBuffer       = 0x02
	DDPUInvalidMSN     = 0x03
	DDPUInvalidMO      = 0x04
	DDPUTooLong        = 0x05
	DDPUInvalidVersion = 0x06
)

// LLP (MPA) error codes, error type 0 ([RFC 5044] 8, [RFC 6581] 4).
const (
	LLPStreamLost        = 0x01
	LLPCRCError          = 0x02
	LLPFPDUStart         = 0x03
	LLPInvalidMPA        = 0x04
	LLPLocalCatastrophic = 0x05
	LLPInsufficientIRD   = 0x06
	LLPNoMatchingRTR     = 0x07
)

// Terminate header bits after Layer/EType/Code.
const (
	termM = 0x80 // DDP Segment Length valid
	termD = 0x40 // DDP header included
	termR = 0x20 // RDMAP Read Request header included
)

// Terminate is the payload of an RDMAP Terminate message ([RFC 5040] 4.8,
// PROTOCOL.md C.8): it follows the untagged DDP header on QN 2.
type Terminate struct {
	Layer, EType, Code uint8
	M, D, R            bool
	SegLen             uint16 // ULPDU_Length of the offending segment (if M)
	// Hdr is the offending DDP header (if D) followed by its Read Request
	// header (if R); aliases the decoded buffer.
	Hdr []byte
}

// Size is the encoded length of t.
func (t *Terminate) Size() int { return 6 + len(t.Hdr) }

// Append appends t to b.
func (t *Terminate) Append(b []byte) []byte {
	var c [6]byte
	c[0] = t.Layer<<4 | t.EType&0x0f
	c[1] = t.Code
	if t.M {
		c[2] |= termM
	}
	if t.D {
		c[2] |= termD
	}
	if t.R {
		c[2] |= termR
	}
	binary.BigEndian.PutUint16(c[4:], t.SegLen)
	b = append(b, c[:]...)
	return append(b, t.Hdr...)
}

// Unmarshal decodes t from the bytes after the untagged DDP header.
func (t *Terminate) Unmarshal(b []byte) error {
	if len(b) < 4 {
		return errShort
	}
	t.Layer = b[0] >> 4
	t.EType = b[0] & 0x0f
	t.Code = b[1]
	t.M = b[2]&termM != 0
	t.D = b[2]&termD != 0
	t.R = b[2]&termR != 0
	t.SegLen, t.Hdr = 0, nil
	rest := b[4:]
	if t.M || t.D {
		if len(rest) < 2 {
			return errShort
		}
		t.SegLen = binary.BigEndian.Uint16(rest)
		rest = rest[2:]
	}
	if t.D {
		if len(rest) < 1 {
			return errShort
		}
		n := headerLenFor(rest[0])
		if t.R {
			n += ReadRequestLen
		}
		if len(rest) < n {
			return errShort
		}
		t.Hdr = rest[:n]
	}
	return nil
}

// TerminateError is why a queue pair failed with a Terminate: sent by the
// peer (Remote, wraps rdma.ErrTerminated) or by us on a local protocol error
// (wraps rdma.ErrAccess, rdma.ErrNoRecv, rdma.ErrRecvTooSmall or ErrProtocol).
type TerminateError struct {
	Remote             bool
	Layer, EType, Code uint8
	Detail             string
	Err                error
}

func (e *TerminateError) Error() string {
	who := "local"
	if e.Remote {
		who = "peer"
	}
	s := fmt.Sprintf("iwarp: %s terminate: %s", who, TermReason(e.Layer, e.EType, e.Code))
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s + " (" + e.Err.Error() + ")"
}

func (e *TerminateError) Unwrap() error { return e.Err }

// ErrProtocol is a local protocol error that has no rdma-level error (bad
// CRC, version, opcode, MSN or framing).
var ErrProtocol = errors.New("iwarp: protocol error")

// ErrRejected is returned by Dial when the responder rejects the MPA request.
var ErrRejected = errors.New("iwarp: MPA request rejected")

// ErrConnLost means the TCP stream ended or failed.
var ErrConnLost = errors.New("iwarp: connection lost")

// errFor maps a terminate reason to the rdma error a local terminate reports.
func errFor(layer, etype, code uint8) error {
	switch {
	case layer == LayerDDP && etype == DDPTaggedBuffer && code != DDPTInvalidVersion:
		return rdma.ErrAccess
	case layer == LayerRDMAP && etype == RDMAPRemoteProtection:
		return rdma.ErrAccess
	case layer == LayerRDMAP && etype == RDMAPRemoteOperation && code == RDMAPCannotInvalidate:
		return rdma.ErrAccess
	case layer == LayerDDP && etype == DDPUntaggedBuffer && code == DDPUNoBuffer:
		return rdma.ErrNoRecv
	case layer == LayerDDP && etype == DDPUntaggedBuffer && code == DDPUTooLong:
		return rdma.ErrRecvTooSmall
	}
	return ErrProtocol
}

// TermReason names a terminate layer/type/code triple.
func TermReason(layer, etype, code uint8) string {
	var l, t, c string
	switch layer {
	case LayerRDMAP:
		l = "RDMAP"
		t = [...]string{"local catastrophic", "remote protection", "remote operation"}[min(int(etype), 2)]
		if etype > 2 {
			t = fmt.Sprintf("etype %d", etype)
		}
		switch code {
		case RDMAPInvalidSTag:
			c = "invalid STag"
		case RDMAPBaseBounds:
			c = "base or bounds violation"
		case RDMAPAccessRights:
			c = "access rights violation"
		case RDMAPSTagNotAssoc:
			c = "STag not associated with stream"
		case RDMAPTOWrap:
			c = "TO wrap"
		case RDMAPInvalidVersion:
			c = "invalid RDMAP version"
		case RDMAPUnexpectedOpcode:
			c = "unexpected opcode"
		case RDMAPCatastrophic:
			c = "catastrophic (stream)"
		case 0x08:
			c = "catastrophic (global)"
		case RDMAPCannotInvalidate:
			c = "STag cannot be invalidated"
		default:
			c = fmt.Sprintf("code %#x", code)
		}
	case LayerDDP:
		l = "DDP"
		switch etype {
		case DDPLocalCatastrophic:
			t, c = "local catastrophic", fmt.Sprintf("code %#x", code)
		case DDPTaggedBuffer:
			t = "tagged buffer"
			c = fmt.Sprintf("code %#x", code)
			if int(code) < 5 {
				c = [...]string{"invalid STag", "base or bounds violation", "STag not associated", "TO wrap", "invalid DDP version"}[code]
			}
		case DDPUntaggedBuffer:
			t = "untagged buffer"
			c = fmt.Sprintf("code %#x", code)
			if code >= 1 && code <= 6 {
				c = [...]string{"invalid QN", "invalid MSN - no buffer", "invalid MSN - range", "invalid MO", "message too long", "invalid DDP version"}[code-1]
			}
		default:
			t, c = fmt.Sprintf("etype %d", etype), fmt.Sprintf("code %#x", code)
		}
	case LayerLLP:
		l, t = "MPA", fmt.Sprintf("etype %d", etype)
		c = fmt.Sprintf("code %#x", code)
		if code >= 1 && code <= 7 {
			c = [...]string{"TCP stream lost", "CRC error", "marker/ULPDU length mismatch", "invalid MPA request/reply", "local catastrophic", "insufficient IRD resources", "no matching RTR model"}[code-1]
		}
	default:
		return fmt.Sprintf("layer %d etype %d code %#x", layer, etype, code)
	}
	return l + " " + t + ": " + c
}
