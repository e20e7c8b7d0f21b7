package iwarp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// MPA Request/Reply ([RFC 5044] 7.1, [RFC 6581] 5; PROTOCOL.md C.2, C.3).
const (
	mpaReqKey = "MPA ID Req Frame"
	mpaRepKey = "MPA ID Rep Frame"

	MPAHeaderLen = 20

	mpaMarkers  = 0x80
	mpaCRC      = 0x40
	mpaReject   = 0x20
	mpaEnhanced = 0x10

	// MaxPrivateData is what siw accepts (RFC 5044 allows 512).
	MaxPrivateData = 256
	mpaMaxPDWire   = 512

	// RFC 6581 IRD/ORD word.
	mpaV2P2P      = 0x8000 // in the IRD half
	mpaV2ZeroSend = 0x4000 // in the IRD half
	mpaV2WriteRTR = 0x8000 // in the ORD half
	mpaV2ReadRTR  = 0x4000 // in the ORD half
	mpaV2IRDMask  = 0x3fff
	irdOrdLen     = 4
)

var (
	errBadKey  = errors.New("iwarp: not an MPA frame")
	errBadRev  = errors.New("iwarp: unsupported MPA revision")
	errPDLen   = errors.New("iwarp: MPA private data too long")
	errMarkers = errors.New("iwarp: peer asks for MPA markers")
)

// MPAFrame is an MPA Request or Reply. PrivateData is the raw private data,
// including the RFC 6581 IRD/ORD word when Enhanced is set.
type MPAFrame struct {
	Reply    bool
	Markers  bool
	CRC      bool
	Reject   bool
	Enhanced bool
	Rev      uint8
	// Flags3 is bit 0x08, siw's private "GSO" flag; kept only to round-trip it.
	Flags3      bool
	PrivateData []byte
}

// Size is the encoded length of f.
func (f *MPAFrame) Size() int { return MPAHeaderLen + len(f.PrivateData) }

// Append appends f to b.
func (f *MPAFrame) Append(b []byte) []byte {
	if f.Reply {
		b = append(b, mpaRepKey...)
	} else {
		b = append(b, mpaReqKey...)
	}
	var fl byte
	if f.Markers {
		fl |= mpaMarkers
	}
	if f.CRC {
		fl |= mpaCRC
	}
	if f.Reject {
		fl |= mpaReject
	}
	if f.Enhanced {
		fl |= mpaEnhanced
	}
	if f.Flags3 {
		fl |= 0x08
	}
	b = append(b, fl, f.Rev)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.PrivateData)))
	return append(b, f.PrivateData...)
}

// unmarshalHeader decodes the fixed 20 bytes and returns PD_Length.
func (f *MPAFrame) unmarshalHeader(b []byte) (int, error) {
	if len(b) < MPAHeaderLen {
		return 0, errShort
	}
	switch string(b[:16]) {
	case mpaReqKey:
		f.Reply = false
	case mpaRepKey:
		f.Reply = true
	default:
		return 0, errBadKey
	}
	fl := b[16]
	f.Markers = fl&mpaMarkers != 0
	f.CRC = fl&mpaCRC != 0
	f.Reject = fl&mpaReject != 0
	f.Enhanced = fl&mpaEnhanced != 0
	f.Flags3 = fl&0x08 != 0
	f.Rev = b[17]
	n := int(binary.BigEndian.Uint16(b[18:]))
	if n > mpaMaxPDWire {
		return 0, errPDLen
	}
	return n, nil
}

// Unmarshal decodes a whole frame; PrivateData aliases b.
func (f *MPAFrame) Unmarshal(b []byte) error {
	n, err := f.unmarshalHeader(b)
	if err != nil {
		return err
	}
	if len(b) < MPAHeaderLen+n {
		return errShort
	}
	f.PrivateData = b[MPAHeaderLen : MPAHeaderLen+n]
	return nil
}

// IRDORD is the RFC 6581 enhanced-mode word at the start of private data.
type IRDORD struct {
	IRD, ORD uint16 // 14 bits each
	P2P      bool
	ZeroSend bool // zero-length Send RTR
	WriteRTR bool // zero-length RDMA Write RTR
	ReadRTR  bool // zero-length RDMA Read RTR
}

// Put encodes w into b[:4].
func (w *IRDORD) Put(b []byte) {
	ird := w.IRD & mpaV2IRDMask
	ord := w.ORD & mpaV2IRDMask
	if w.P2P {
		ird |= mpaV2P2P
	}
	if w.ZeroSend {
		ird |= mpaV2ZeroSend
	}
	if w.WriteRTR {
		ord |= mpaV2WriteRTR
	}
	if w.ReadRTR {
		ord |= mpaV2ReadRTR
	}
	binary.BigEndian.PutUint16(b, ird)
	binary.BigEndian.PutUint16(b[2:], ord)
}

// Unmarshal decodes w from b.
func (w *IRDORD) Unmarshal(b []byte) error {
	if len(b) < irdOrdLen {
		return errShort
	}
	ird := binary.BigEndian.Uint16(b)
	ord := binary.BigEndian.Uint16(b[2:])
	*w = IRDORD{
		IRD: ird & mpaV2IRDMask, ORD: ord & mpaV2IRDMask,
		P2P: ird&mpaV2P2P != 0, ZeroSend: ird&mpaV2ZeroSend != 0,
		WriteRTR: ord&mpaV2WriteRTR != 0, ReadRTR: ord&mpaV2ReadRTR != 0,
	}
	return nil
}

// readMPAFrame reads one MPA frame from r; private data is a fresh slice.
func readMPAFrame(r io.Reader) (MPAFrame, error) {
	var f MPAFrame
	var hdr [MPAHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return f, err
	}
	n, err := f.unmarshalHeader(hdr[:])
	if err != nil {
		return f, err
	}
	f.PrivateData = make([]byte, n)
	if _, err := io.ReadFull(r, f.PrivateData); err != nil {
		return f, err
	}
	return f, nil
}

// ---- FPDU framing (PROTOCOL.md C.4) ----

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// padLen is the PAD that makes an FPDU with this ULPDU_Length 4-byte aligned.
func padLen(ulpduLen int) int { return (4 - (ulpduLen+2)%4) % 4 }

// fpduLen is the wire length of an FPDU: ULPDU_Length field, ULPDU, PAD, CRC.
func fpduLen(ulpduLen int) int { return 2 + ulpduLen + padLen(ulpduLen) + 4 }

// CheckFPDU verifies the little-endian CRC32c trailer of one whole FPDU
// (ULPDU_Length through CRC). It returns the ULPDU.
func CheckFPDU(b []byte, crcOn bool) ([]byte, error) {
	if len(b) < 2 {
		return nil, errShort
	}
	ul := int(binary.BigEndian.Uint16(b))
	if len(b) < fpduLen(ul) {
		return nil, errShort
	}
	end := 2 + ul + padLen(ul)
	if crcOn {
		want := binary.LittleEndian.Uint32(b[end:])
		if got := crc32.Checksum(b[:end], castagnoli); got != want {
			return nil, fmt.Errorf("%w: bad CRC %#08x, computed %#08x", ErrProtocol, want, got)
		}
	}
	return b[2 : 2+ul], nil
}

// ---- handshake ----

type handshake struct {
	crc      bool            // CRC in use
	peer     rdma.ConnParams // peer's IRD/ORD and ULP private data
	enhanced bool
	ird, ord int // effective: inbound reads we serve, outbound reads we may issue
}

func clampIRD(v uint32) uint16 {
	if v == 0 {
		return DefaultIRDORD
	}
	return uint16(min(v, mpaV2IRDMask))
}

// DefaultIRDORD is used for ConnParams.IRD/ORD left at 0.
const DefaultIRDORD = 16

func deadline(ctx interface{ Deadline() (time.Time, bool) }, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if ctx != nil {
		if cd, ok := ctx.Deadline(); ok && cd.Before(t) {
			return cd
		}
	}
	return t
}

// initiate runs the initiator side: request, then the reply fully read
// (gotcha 21). rev is 1 or 2.
func initiate(c net.Conn, br *bufio.Reader, p rdma.ConnParams, crc bool, rev int, dl time.Time) (handshake, error) {
	var hs handshake
	if len(p.PrivateData) > MaxPrivateData-irdOrdLen {
		return hs, errPDLen
	}
	ird, ord := clampIRD(p.IRD), clampIRD(p.ORD)
	req := MPAFrame{CRC: crc, Rev: uint8(rev)}
	pd := make([]byte, 0, irdOrdLen+len(p.PrivateData))
	if rev == 2 {
		req.Enhanced = true
		w := IRDORD{IRD: ird, ORD: ord}
		pd = pd[:irdOrdLen]
		w.Put(pd)
	}
	req.PrivateData = append(pd, p.PrivateData...)
	c.SetDeadline(dl)
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req.Append(nil)); err != nil {
		return hs, err
	}
	rep, err := readMPAFrame(br)
	if err != nil {
		return hs, fmt.Errorf("iwarp: reading MPA reply: %w", err)
	}
	if !rep.Reply {
		return hs, fmt.Errorf("iwarp: MPA reply expected, got a request")
	}
	if rep.Reject {
		return hs, fmt.Errorf("%w (private data %x)", ErrRejected, rep.PrivateData)
	}
	if rep.Markers {
		return hs, errMarkers
	}
	if len(rep.PrivateData) > MaxPrivateData {
		return hs, errPDLen
	}
	hs.crc = crc || rep.CRC
	hs.ird, hs.ord = int(ird), int(ord)
	hs.peer.CRC = rep.CRC
	rpd := rep.PrivateData
	if rev == 2 {
		if rep.Rev != 2 || !rep.Enhanced || len(rpd) < irdOrdLen {
			return hs, fmt.Errorf("%w: enhanced MPA request answered with rev %d enhanced=%v", errBadRev, rep.Rev, rep.Enhanced)
		}
		var w IRDORD
		w.Unmarshal(rpd)
		hs.enhanced = true
		hs.peer.IRD, hs.peer.ORD = uint32(w.IRD), uint32(w.ORD)
		hs.ord = min(hs.ord, int(w.IRD)) // relaxed: accept a lower peer IRD
		rpd = rpd[irdOrdLen:]
	} else if rep.Rev != 1 {
		return hs, fmt.Errorf("%w: rev 1 request answered with rev %d", errBadRev, rep.Rev)
	}
	hs.peer.PrivateData = rpd
	return hs, nil
}

// respond runs the responder side. On a request it cannot accept it sends a
// reply with R=1 and returns an error.
func respond(c net.Conn, br *bufio.Reader, p rdma.ConnParams, crc bool, dl time.Time) (handshake, error) {
	var hs handshake
	c.SetDeadline(dl)
	defer c.SetDeadline(time.Time{})
	req, err := readMPAFrame(br)
	if err != nil {
		return hs, fmt.Errorf("iwarp: reading MPA request: %w", err)
	}
	reject := func(e error) (handshake, error) {
		rep := MPAFrame{Reply: true, Reject: true, Rev: req.Rev, Enhanced: req.Enhanced && req.Rev == 2}
		c.Write(rep.Append(nil))
		return hs, e
	}
	if req.Reply {
		return hs, fmt.Errorf("iwarp: MPA request expected, got a reply")
	}
	if req.Markers {
		return reject(errMarkers)
	}
	if len(req.PrivateData) > MaxPrivateData {
		return reject(errPDLen)
	}
	if req.Rev > 2 {
		return reject(errBadRev)
	}
	ird, ord := clampIRD(p.IRD), clampIRD(p.ORD)
	hs.crc = crc || req.CRC
	hs.peer.CRC = req.CRC
	hs.ird, hs.ord = int(ird), int(ord)
	rep := MPAFrame{Reply: true, CRC: hs.crc, Rev: req.Rev}
	rpd := req.PrivateData
	var pd []byte
	if req.Rev == 2 && req.Enhanced {
		if len(rpd) < irdOrdLen {
			return reject(fmt.Errorf("%w: enhanced request without IRD/ORD", ErrProtocol))
		}
		var w IRDORD
		w.Unmarshal(rpd)
		rpd = rpd[irdOrdLen:]
		hs.enhanced = true
		hs.peer.IRD, hs.peer.ORD = uint32(w.IRD), uint32(w.ORD)
		// Relaxed negotiation as siw: serve no more reads than the peer
		// may issue, issue no more than it serves. Peer-to-peer RTR is
		// not offered (siw never asks for it).
		// (A peer ORD of 0, as cifs.ko over siw sends, leaves our IRD:
		// ksmbd answers IRD 1 to it in the golden capture.)
		if w.ORD > 0 {
			hs.ird = min(hs.ird, int(w.ORD))
		}
		hs.ord = min(hs.ord, int(w.IRD))
		rep.Enhanced = true
		pd = make([]byte, irdOrdLen, irdOrdLen+len(p.PrivateData))
		(&IRDORD{IRD: uint16(hs.ird), ORD: uint16(hs.ord)}).Put(pd)
	}
	if len(p.PrivateData)+len(pd) > MaxPrivateData {
		return reject(errPDLen)
	}
	rep.PrivateData = append(pd, p.PrivateData...)
	hs.peer.PrivateData = rpd
	if _, err := c.Write(rep.Append(nil)); err != nil {
		return hs, err
	}
	return hs, nil
}
