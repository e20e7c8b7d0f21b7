package smb2

// Share types and flags ([MS-SMB2] 2.2.10).
const (
	ShareTypeDisk  uint8 = 0x01
	ShareTypePipe  uint8 = 0x02
	ShareTypePrint uint8 = 0x03

	ShareFlagEncryptData uint32 = 0x00008000
	ShareCapContinuousAv uint32 = 0x00000010
	ShareCapScaleout     uint32 = 0x00000020
	ShareCapCluster      uint32 = 0x00000040
)

// TreeConnectRequest is the SMB2 TREE_CONNECT request ([MS-SMB2] 2.2.9);
// Path is the UNC path, e.g. `\\server\share`.
type TreeConnectRequest struct {
	Flags uint16
	Path  string
}

// Size is the encoded body size.
func (r *TreeConnectRequest) Size() int { return 8 + max(UTF16Len(r.Path), 1) }

// Append appends the encoded body.
func (r *TreeConnectRequest) Append(b []byte) []byte {
	n := UTF16Len(r.Path)
	b = ap16(b, 9)
	b = ap16(b, r.Flags)
	b = ap16(b, HeaderSize+8)
	b = ap16(b, uint16(n))
	if n == 0 {
		return append(b, 0) // the Buffer is at least one byte
	}
	return AppendUTF16(b, r.Path)
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *TreeConnectRequest) Unmarshal(body []byte) error {
	if err := checkStruct("tree connect request", body, 9, 8); err != nil {
		return err
	}
	r.Flags = le16(body[2:])
	p, err := field(body, uint32(le16(body[4:])), uint32(le16(body[6:])))
	if err != nil {
		return err
	}
	r.Path, err = DecodeUTF16(p)
	return err
}

// TreeConnectResponse is the SMB2 TREE_CONNECT response ([MS-SMB2] 2.2.10).
type TreeConnectResponse struct {
	ShareType     uint8
	ShareFlags    uint32
	Capabilities  uint32
	MaximalAccess uint32
}

// Size is always 16.
func (r *TreeConnectResponse) Size() int { return 16 }

// Append appends the encoded body.
func (r *TreeConnectResponse) Append(b []byte) []byte {
	b = ap16(b, 16)
	b = append(b, r.ShareType, 0)
	b = ap32(b, r.ShareFlags)
	b = ap32(b, r.Capabilities)
	return ap32(b, r.MaximalAccess)
}

// Unmarshal decodes the body.
func (r *TreeConnectResponse) Unmarshal(body []byte) error {
	if err := checkStruct("tree connect response", body, 16, 16); err != nil {
		return err
	}
	r.ShareType = body[2]
	r.ShareFlags = le32(body[4:])
	r.Capabilities = le32(body[8:])
	r.MaximalAccess = le32(body[12:])
	return nil
}
