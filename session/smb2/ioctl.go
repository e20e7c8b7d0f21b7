package smb2

// FSCTL and IOCTL codes the client uses ([MS-SMB2] 2.2.31, [MS-FSCC] 2.3).
const (
	FsctlValidateNegotiateInfo     uint32 = 0x00140204
	FsctlQueryNetworkInterfaceInfo uint32 = 0x001401FC
	FsctlGetReparsePoint           uint32 = 0x000900A8
	FsctlSetReparsePoint           uint32 = 0x000900A4
	FsctlDeleteReparsePoint        uint32 = 0x000900AC
	FsctlSrvCopychunk              uint32 = 0x001440F2
	FsctlSrvCopychunkWrite         uint32 = 0x001480F2
	FsctlSrvRequestResumeKey       uint32 = 0x00140078
	FsctlPipeTransceive            uint32 = 0x0011C017
	FsctlSetSparse                 uint32 = 0x000900C4
	FsctlSetZeroData               uint32 = 0x000980C8
	FsctlQueryAllocatedRanges      uint32 = 0x000940CF

	IoctlFlagIsFsctl uint32 = 0x00000001
)

// IoctlRequest is the SMB2 IOCTL request ([MS-SMB2] 2.2.31).
type IoctlRequest struct {
	CtlCode           uint32
	FileID            FileID
	Input             []byte
	MaxInputResponse  uint32
	MaxOutputResponse uint32
	Flags             uint32
}

// Size is the encoded body size.
func (r *IoctlRequest) Size() int { return 56 + max(len(r.Input), 1) }

// Append appends the encoded body.
func (r *IoctlRequest) Append(b []byte) []byte {
	b = ap16(b, 57)
	b = ap16(b, 0)
	b = ap32(b, r.CtlCode)
	b = r.FileID.append(b)
	if len(r.Input) > 0 {
		b = ap32(b, HeaderSize+56)
	} else {
		b = ap32(b, 0)
	}
	b = ap32(b, uint32(len(r.Input)))
	b = ap32(b, r.MaxInputResponse)
	b = ap32(b, 0) // OutputOffset
	b = ap32(b, 0) // OutputCount
	b = ap32(b, r.MaxOutputResponse)
	b = ap32(b, r.Flags)
	b = ap32(b, 0)
	if len(r.Input) == 0 {
		return append(b, 0)
	}
	return append(b, r.Input...)
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *IoctlRequest) Unmarshal(body []byte) error {
	if err := checkStruct("ioctl request", body, 57, 56); err != nil {
		return err
	}
	r.CtlCode = le32(body[4:])
	r.FileID = getFileID(body[8:])
	r.MaxInputResponse = le32(body[32:])
	r.MaxOutputResponse = le32(body[44:])
	r.Flags = le32(body[48:])
	var err error
	r.Input, err = field(body, le32(body[24:]), le32(body[28:]))
	return err
}

// IoctlResponse is the SMB2 IOCTL response ([MS-SMB2] 2.2.32).
type IoctlResponse struct {
	CtlCode uint32
	FileID  FileID
	Input   []byte
	Output  []byte
	Flags   uint32
}

// outOff is the body offset of Output: InputOffset + InputCount rounded up
// to a multiple of 8 ([MS-SMB2] 2.2.32).
func (r *IoctlResponse) outOff() int { return pad8(HeaderSize+48+len(r.Input)) - HeaderSize }

// Size is the encoded body size.
func (r *IoctlResponse) Size() int {
	if len(r.Output) == 0 {
		return 48 + len(r.Input)
	}
	return r.outOff() + len(r.Output)
}

// Append appends the encoded body (tests and fake servers).
func (r *IoctlResponse) Append(b []byte) []byte {
	b = ap16(b, 49)
	b = ap16(b, 0)
	b = ap32(b, r.CtlCode)
	b = r.FileID.append(b)
	b = ap32(b, HeaderSize+48)
	b = ap32(b, uint32(len(r.Input)))
	b = ap32(b, uint32(HeaderSize+r.outOff()))
	b = ap32(b, uint32(len(r.Output)))
	b = ap32(b, r.Flags)
	b = ap32(b, 0)
	b = append(b, r.Input...)
	if len(r.Output) == 0 {
		return b
	}
	b = appendZeros(b, pad8(len(r.Input))-len(r.Input))
	return append(b, r.Output...)
}

// Unmarshal decodes the body.
func (r *IoctlResponse) Unmarshal(body []byte) error {
	if err := checkStruct("ioctl response", body, 49, 48); err != nil {
		return err
	}
	r.CtlCode = le32(body[4:])
	r.FileID = getFileID(body[8:])
	r.Flags = le32(body[40:])
	var err error
	if r.Input, err = field(body, le32(body[24:]), le32(body[28:])); err != nil {
		return err
	}
	r.Output, err = field(body, le32(body[32:]), le32(body[36:]))
	return err
}

// ValidateNegotiateInfo is the VALIDATE_NEGOTIATE_INFO request and response
// ([MS-SMB2] 2.2.31.4, 2.2.32.6). A response carries one dialect.
type ValidateNegotiateInfo struct {
	Capabilities uint32
	GUID         [16]byte
	SecurityMode uint16
	Dialects     []Dialect
}

// AppendRequest appends the request form.
func (v *ValidateNegotiateInfo) AppendRequest(b []byte) []byte {
	b = ap32(b, v.Capabilities)
	b = append(b, v.GUID[:]...)
	b = ap16(b, v.SecurityMode)
	b = ap16(b, uint16(len(v.Dialects)))
	for _, d := range v.Dialects {
		b = ap16(b, uint16(d))
	}
	return b
}

// AppendResponse appends the response form (Dialects[0]).
func (v *ValidateNegotiateInfo) AppendResponse(b []byte) []byte {
	b = ap32(b, v.Capabilities)
	b = append(b, v.GUID[:]...)
	b = ap16(b, v.SecurityMode)
	return ap16(b, uint16(v.Dialects[0]))
}

// UnmarshalResponse decodes the 24-byte response form.
func (v *ValidateNegotiateInfo) UnmarshalResponse(b []byte) error {
	if len(b) < 24 {
		return malformed("validate negotiate response: %d bytes", len(b))
	}
	v.Capabilities = le32(b)
	copy(v.GUID[:], b[4:20])
	v.SecurityMode = le16(b[20:])
	v.Dialects = []Dialect{Dialect(le16(b[22:]))}
	return nil
}

// NetworkInterface is one NETWORK_INTERFACE_INFO entry ([MS-SMB2] 2.2.32.5).
type NetworkInterface struct {
	IfIndex    uint32
	Capability uint32 // RSS_CAPABLE 0x1, RDMA_CAPABLE 0x2
	LinkSpeed  uint64 // bits per second
	Family     uint16 // 0x2 InterNetwork, 0x17 InterNetworkV6
	Addr       []byte // 4 or 16 bytes
	ScopeID    uint32 // IPv6 only
}

// Interface capability bits.
const (
	InterfaceRSSCapable  uint32 = 0x1
	InterfaceRDMACapable uint32 = 0x2
)

// ParseNetworkInterfaces decodes the FSCTL_QUERY_NETWORK_INTERFACE_INFO output.
func ParseNetworkInterfaces(b []byte) ([]NetworkInterface, error) {
	var out []NetworkInterface
	for off := 0; len(b) > 0; {
		e := b[off:]
		if len(e) < 152 {
			return nil, malformed("network interface entry: %d bytes", len(e))
		}
		next := int(le32(e))
		ni := NetworkInterface{IfIndex: le32(e[4:]), Capability: le32(e[8:]), LinkSpeed: le64(e[16:])}
		sa := e[24:152]
		ni.Family = le16(sa)
		switch ni.Family {
		case 0x2:
			ni.Addr = append([]byte(nil), sa[4:8]...)
		case 0x17:
			ni.Addr = append([]byte(nil), sa[8:24]...)
			ni.ScopeID = le32(sa[24:])
		}
		out = append(out, ni)
		if next == 0 {
			break
		}
		// A non-zero Next promises another whole entry ([MS-SMB2]
		// 2.2.32.5): the next pass fails if it is not there, rather than
		// the list being cut short silently.
		if next < 152 || next > len(e) {
			return nil, malformed("network interface entry: next %d", next)
		}
		off += next
	}
	return out, nil
}

// AppendNetworkInterfaces encodes interface entries (tests and fake servers).
func AppendNetworkInterfaces(b []byte, ifs []NetworkInterface) []byte {
	for i, ni := range ifs {
		next := uint32(152)
		if i == len(ifs)-1 {
			next = 0
		}
		b = ap32(b, next)
		b = ap32(b, ni.IfIndex)
		b = ap32(b, ni.Capability)
		b = ap32(b, 0)
		b = ap64(b, ni.LinkSpeed)
		sa := make([]byte, 128)
		sa[0], sa[1] = byte(ni.Family), byte(ni.Family>>8)
		switch ni.Family {
		case 0x2:
			copy(sa[4:8], ni.Addr)
		case 0x17:
			copy(sa[8:24], ni.Addr)
			sa[24], sa[25], sa[26], sa[27] = byte(ni.ScopeID), byte(ni.ScopeID>>8), byte(ni.ScopeID>>16), byte(ni.ScopeID>>24)
		}
		b = append(b, sa...)
	}
	return b
}
