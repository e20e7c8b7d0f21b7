package smb2

// SESSION_SETUP request Flags and response SessionFlags ([MS-SMB2] 2.2.5, 2.2.6).
const (
	SessionFlagBinding uint8 = 0x01

	SessionFlagIsGuest     uint16 = 0x0001
	SessionFlagIsNull      uint16 = 0x0002
	SessionFlagEncryptData uint16 = 0x0004
)

// SessionSetupRequest is the SMB2 SESSION_SETUP request ([MS-SMB2] 2.2.5).
type SessionSetupRequest struct {
	Flags             uint8
	SecurityMode      uint8
	Capabilities      uint32
	PreviousSessionID uint64
	SecurityBuffer    []byte
}

// Size is the encoded body size.
func (r *SessionSetupRequest) Size() int { return 24 + max(len(r.SecurityBuffer), 1) }

// Append appends the encoded body.
func (r *SessionSetupRequest) Append(b []byte) []byte {
	b = ap16(b, 25)
	b = append(b, r.Flags, r.SecurityMode)
	b = ap32(b, r.Capabilities)
	b = ap32(b, 0) // Channel
	b = ap16(b, HeaderSize+24)
	b = ap16(b, uint16(len(r.SecurityBuffer)))
	b = ap64(b, r.PreviousSessionID)
	if len(r.SecurityBuffer) == 0 {
		return append(b, 0)
	}
	return append(b, r.SecurityBuffer...)
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *SessionSetupRequest) Unmarshal(body []byte) error {
	if err := checkStruct("session setup request", body, 25, 24); err != nil {
		return err
	}
	r.Flags, r.SecurityMode = body[2], body[3]
	r.Capabilities = le32(body[4:])
	r.PreviousSessionID = le64(body[16:])
	var err error
	r.SecurityBuffer, err = field(body, uint32(le16(body[12:])), uint32(le16(body[14:])))
	return err
}

// SessionSetupResponse is the SMB2 SESSION_SETUP response ([MS-SMB2] 2.2.6).
type SessionSetupResponse struct {
	SessionFlags   uint16
	SecurityBuffer []byte
}

// Size is the encoded body size.
func (r *SessionSetupResponse) Size() int { return 8 + len(r.SecurityBuffer) }

// Append appends the encoded body.
func (r *SessionSetupResponse) Append(b []byte) []byte {
	b = ap16(b, 9)
	b = ap16(b, r.SessionFlags)
	b = ap16(b, HeaderSize+8)
	b = ap16(b, uint16(len(r.SecurityBuffer)))
	return append(b, r.SecurityBuffer...)
}

// Unmarshal decodes the body.
func (r *SessionSetupResponse) Unmarshal(body []byte) error {
	if err := checkStruct("session setup response", body, 9, 8); err != nil {
		return err
	}
	r.SessionFlags = le16(body[2:])
	var err error
	r.SecurityBuffer, err = field(body, uint32(le16(body[4:])), uint32(le16(body[6:])))
	return err
}

// Empty is the 4-byte body of LOGOFF, TREE_DISCONNECT, ECHO, CANCEL (requests
// and responses) and of the FLUSH and LOCK responses ([MS-SMB2] 2.2.7 ...).
type Empty struct{}

// Size is always 4.
func (Empty) Size() int { return 4 }

// Append appends StructureSize 4 and two reserved bytes.
func (Empty) Append(b []byte) []byte { return append(b, 4, 0, 0, 0) }

// Unmarshal checks the StructureSize.
func (Empty) Unmarshal(body []byte) error { return checkStruct("empty body", body, 4, 4) }
