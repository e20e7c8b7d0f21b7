package smb2

import "fmt"

// Dialect is an SMB2 dialect revision ([MS-SMB2] 2.2.3).
type Dialect uint16

const (
	Dialect202      Dialect = 0x0202
	Dialect210      Dialect = 0x0210
	Dialect300      Dialect = 0x0300
	Dialect302      Dialect = 0x0302
	Dialect311      Dialect = 0x0311
	DialectWildcard Dialect = 0x02FF
)

func (d Dialect) String() string {
	switch d {
	case Dialect202:
		return "2.0.2"
	case Dialect210:
		return "2.1"
	case Dialect300:
		return "3.0"
	case Dialect302:
		return "3.0.2"
	case Dialect311:
		return "3.1.1"
	}
	return fmt.Sprintf("Dialect(0x%04x)", uint16(d))
}

// SecurityMode bits ([MS-SMB2] 2.2.3).
const (
	SigningEnabled  uint16 = 0x0001
	SigningRequired uint16 = 0x0002
)

// Capabilities bits ([MS-SMB2] 2.2.3).
const (
	CapDFS               uint32 = 0x00000001
	CapLeasing           uint32 = 0x00000002
	CapLargeMTU          uint32 = 0x00000004
	CapMultiChannel      uint32 = 0x00000008
	CapPersistentHandles uint32 = 0x00000010
	CapDirectoryLeasing  uint32 = 0x00000020
	CapEncryption        uint32 = 0x00000040
	CapNotifications     uint32 = 0x00000080
)

// NegotiateContextType ([MS-SMB2] 2.2.3.1).
type NegotiateContextType uint16

const (
	CtxPreauthIntegrity   NegotiateContextType = 0x0001
	CtxEncryption         NegotiateContextType = 0x0002
	CtxCompression        NegotiateContextType = 0x0003
	CtxNetname            NegotiateContextType = 0x0005
	CtxTransport          NegotiateContextType = 0x0006
	CtxRDMATransform      NegotiateContextType = 0x0007
	CtxSigning            NegotiateContextType = 0x0008
	CtxContextTypeReserve NegotiateContextType = 0x0100
)

// Hash, cipher and signing algorithm identifiers.
const (
	HashSHA512 uint16 = 0x0001

	CipherAES128CCM uint16 = 0x0001
	CipherAES128GCM uint16 = 0x0002
	CipherAES256CCM uint16 = 0x0003
	CipherAES256GCM uint16 = 0x0004

	SigningHMACSHA256 uint16 = 0x0000
	SigningAESCMAC    uint16 = 0x0001
	SigningAESGMAC    uint16 = 0x0002
)

// NegotiateContext is one raw negotiate context; Data is its body.
type NegotiateContext struct {
	Type NegotiateContextType
	Data []byte
}

// PreauthContext builds a PREAUTH_INTEGRITY_CAPABILITIES context ([MS-SMB2] 2.2.3.1.1).
func PreauthContext(salt []byte) NegotiateContext {
	d := ap16(nil, 1)
	d = ap16(d, uint16(len(salt)))
	d = ap16(d, HashSHA512)
	return NegotiateContext{CtxPreauthIntegrity, append(d, salt...)}
}

// ListContext builds a context whose body is a 16-bit count followed by
// 16-bit identifiers: ENCRYPTION_CAPABILITIES (2.2.3.1.2) and
// SIGNING_CAPABILITIES (2.2.3.1.7).
func ListContext(t NegotiateContextType, ids ...uint16) NegotiateContext {
	d := ap16(nil, uint16(len(ids)))
	for _, id := range ids {
		d = ap16(d, id)
	}
	return NegotiateContext{t, d}
}

// ParseListContext decodes a count-prefixed list of 16-bit identifiers.
func ParseListContext(d []byte) ([]uint16, error) {
	if len(d) < 2 {
		return nil, malformed("negotiate context list: %d bytes", len(d))
	}
	n := int(le16(d))
	if 2+2*n > len(d) {
		return nil, malformed("negotiate context list: %d ids in %d bytes", n, len(d))
	}
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = le16(d[2+2*i:])
	}
	return ids, nil
}

// ParsePreauthContext returns the hash algorithms of a preauth context.
func ParsePreauthContext(d []byte) (hashes []uint16, salt []byte, err error) {
	if len(d) < 4 {
		return nil, nil, malformed("preauth context: %d bytes", len(d))
	}
	n, sl := int(le16(d)), int(le16(d[2:]))
	if 4+2*n+sl > len(d) {
		return nil, nil, malformed("preauth context: lengths exceed %d bytes", len(d))
	}
	for i := 0; i < n; i++ {
		hashes = append(hashes, le16(d[4+2*i:]))
	}
	return hashes, d[4+2*n : 4+2*n+sl], nil
}

func appendContexts(b []byte, start int, ctxs []NegotiateContext) []byte {
	for i, c := range ctxs {
		if i > 0 {
			b = appendZeros(b, pad8(len(b)-start)-(len(b)-start))
		}
		b = ap16(b, uint16(c.Type))
		b = ap16(b, uint16(len(c.Data)))
		b = ap32(b, 0)
		b = append(b, c.Data...)
	}
	return b
}

func contextsSize(ctxs []NegotiateContext) int {
	n := 0
	for i, c := range ctxs {
		if i > 0 {
			n = pad8(n)
		}
		n += 8 + len(c.Data)
	}
	return n
}

func parseContexts(b []byte, count int) ([]NegotiateContext, error) {
	var out []NegotiateContext
	off := 0
	for i := 0; i < count; i++ {
		off = pad8(off)
		if off+8 > len(b) {
			return nil, malformed("negotiate context %d beyond buffer", i)
		}
		t, n := NegotiateContextType(le16(b[off:])), int(le16(b[off+2:]))
		if off+8+n > len(b) {
			return nil, malformed("negotiate context %d: %d bytes beyond buffer", i, n)
		}
		out = append(out, NegotiateContext{t, b[off+8 : off+8+n]})
		off += 8 + n
	}
	return out, nil
}

// NegotiateRequest is the SMB2 NEGOTIATE request ([MS-SMB2] 2.2.3).
type NegotiateRequest struct {
	SecurityMode uint16
	Capabilities uint32
	ClientGUID   [16]byte
	Dialects     []Dialect
	Contexts     []NegotiateContext // sent only when Dialects holds 3.1.1
}

func (r *NegotiateRequest) ctxStart() int { return pad8(HeaderSize+36+2*len(r.Dialects)) - HeaderSize }

// Size is the encoded body size.
func (r *NegotiateRequest) Size() int {
	if len(r.Contexts) == 0 {
		return 36 + 2*len(r.Dialects)
	}
	return r.ctxStart() + contextsSize(r.Contexts)
}

// Append appends the encoded body.
func (r *NegotiateRequest) Append(b []byte) []byte {
	start := len(b)
	b = ap16(b, 36)
	b = ap16(b, uint16(len(r.Dialects)))
	b = ap16(b, r.SecurityMode)
	b = ap16(b, 0)
	b = ap32(b, r.Capabilities)
	b = append(b, r.ClientGUID[:]...)
	if len(r.Contexts) > 0 {
		b = ap32(b, uint32(HeaderSize+r.ctxStart()))
		b = ap16(b, uint16(len(r.Contexts)))
		b = ap16(b, 0)
	} else {
		b = ap64(b, 0)
	}
	for _, d := range r.Dialects {
		b = ap16(b, uint16(d))
	}
	if len(r.Contexts) > 0 {
		b = appendZeros(b, r.ctxStart()-(len(b)-start))
		b = appendContexts(b, len(b), r.Contexts)
	}
	return b
}

// Unmarshal decodes a NEGOTIATE request body (used by tests and fuzzing).
func (r *NegotiateRequest) Unmarshal(body []byte) error {
	if err := checkStruct("negotiate request", body, 36, 36); err != nil {
		return err
	}
	n := int(le16(body[2:]))
	if 36+2*n > len(body) {
		return malformed("negotiate request: %d dialects", n)
	}
	r.SecurityMode = le16(body[4:])
	r.Capabilities = le32(body[8:])
	copy(r.ClientGUID[:], body[12:28])
	r.Dialects = make([]Dialect, n)
	has311 := false
	for i := range r.Dialects {
		r.Dialects[i] = Dialect(le16(body[36+2*i:]))
		has311 = has311 || r.Dialects[i] == Dialect311
	}
	r.Contexts = nil
	if has311 && le16(body[32:]) > 0 {
		off := le32(body[28:])
		if off < HeaderSize || uint64(off-HeaderSize) > uint64(len(body)) {
			return malformed("negotiate request: context offset %d", off)
		}
		var err error
		r.Contexts, err = parseContexts(body[off-HeaderSize:], int(le16(body[32:])))
		return err
	}
	return nil
}

// NegotiateResponse is the SMB2 NEGOTIATE response ([MS-SMB2] 2.2.4).
type NegotiateResponse struct {
	SecurityMode    uint16
	Dialect         Dialect
	ServerGUID      [16]byte
	Capabilities    uint32
	MaxTransactSize uint32
	MaxReadSize     uint32
	MaxWriteSize    uint32
	SystemTime      uint64
	ServerStartTime uint64
	SecurityBuffer  []byte
	Contexts        []NegotiateContext
}

// Size is the encoded body size.
func (r *NegotiateResponse) Size() int { return len(r.Append(nil)) }

// Append appends the encoded body (used by tests and fake servers).
func (r *NegotiateResponse) Append(b []byte) []byte {
	start := len(b)
	b = ap16(b, 65)
	b = ap16(b, r.SecurityMode)
	b = ap16(b, uint16(r.Dialect))
	b = ap16(b, uint16(len(r.Contexts)))
	b = append(b, r.ServerGUID[:]...)
	b = ap32(b, r.Capabilities)
	b = ap32(b, r.MaxTransactSize)
	b = ap32(b, r.MaxReadSize)
	b = ap32(b, r.MaxWriteSize)
	b = ap64(b, r.SystemTime)
	b = ap64(b, r.ServerStartTime)
	b = ap16(b, HeaderSize+64)
	b = ap16(b, uint16(len(r.SecurityBuffer)))
	ctxOff := 0
	if len(r.Contexts) > 0 {
		ctxOff = pad8(64 + len(r.SecurityBuffer))
		b = ap32(b, uint32(HeaderSize+ctxOff))
	} else {
		b = ap32(b, 0)
	}
	b = append(b, r.SecurityBuffer...)
	if len(r.Contexts) > 0 {
		b = appendZeros(b, ctxOff-(len(b)-start))
		b = appendContexts(b, len(b), r.Contexts)
	}
	return b
}

// Unmarshal decodes a NEGOTIATE response body.
func (r *NegotiateResponse) Unmarshal(body []byte) error {
	if err := checkStruct("negotiate response", body, 65, 64); err != nil {
		return err
	}
	r.SecurityMode = le16(body[2:])
	r.Dialect = Dialect(le16(body[4:]))
	copy(r.ServerGUID[:], body[8:24])
	r.Capabilities = le32(body[24:])
	r.MaxTransactSize = le32(body[28:])
	r.MaxReadSize = le32(body[32:])
	r.MaxWriteSize = le32(body[36:])
	r.SystemTime = le64(body[40:])
	r.ServerStartTime = le64(body[48:])
	var err error
	if r.SecurityBuffer, err = field(body, uint32(le16(body[56:])), uint32(le16(body[58:]))); err != nil {
		return err
	}
	r.Contexts = nil
	if n := int(le16(body[6:])); r.Dialect == Dialect311 && n > 0 {
		off := le32(body[60:])
		if off < HeaderSize || uint64(off-HeaderSize) > uint64(len(body)) {
			return malformed("negotiate response: context offset %d", off)
		}
		r.Contexts, err = parseContexts(body[off-HeaderSize:], n)
	}
	return err
}

// Context returns the first context of type t, if any.
func (r *NegotiateResponse) Context(t NegotiateContextType) ([]byte, bool) {
	for _, c := range r.Contexts {
		if c.Type == t {
			return c.Data, true
		}
	}
	return nil, false
}
