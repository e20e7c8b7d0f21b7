package smb2

// Lock flags ([MS-SMB2] 2.2.26.1).
const (
	LockShared          uint32 = 0x00000001
	LockExclusive       uint32 = 0x00000002
	LockUnlock          uint32 = 0x00000004
	LockFailImmediately uint32 = 0x00000010
)

// LockElement is one SMB2_LOCK_ELEMENT.
type LockElement struct {
	Offset uint64
	Length uint64
	Flags  uint32
}

// LockRequest is the SMB2 LOCK request ([MS-SMB2] 2.2.26).
type LockRequest struct {
	LockSequence uint32
	FileID       FileID
	Locks        []LockElement
}

// Size is the encoded body size.
func (r *LockRequest) Size() int { return 24 + 24*len(r.Locks) }

// Append appends the encoded body.
func (r *LockRequest) Append(b []byte) []byte {
	b = ap16(b, 48)
	b = ap16(b, uint16(len(r.Locks)))
	b = ap32(b, r.LockSequence)
	b = r.FileID.append(b)
	for _, l := range r.Locks {
		b = ap64(b, l.Offset)
		b = ap64(b, l.Length)
		b = ap32(b, l.Flags)
		b = ap32(b, 0)
	}
	return b
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *LockRequest) Unmarshal(body []byte) error {
	if err := checkStruct("lock request", body, 48, 48); err != nil {
		return err
	}
	n := int(le16(body[2:]))
	if 24+24*n > len(body) {
		return malformed("lock request: %d locks in %d bytes", n, len(body))
	}
	r.LockSequence = le32(body[4:])
	r.FileID = getFileID(body[8:])
	r.Locks = make([]LockElement, n)
	for i := range r.Locks {
		e := body[24+24*i:]
		r.Locks[i] = LockElement{le64(e), le64(e[8:]), le32(e[16:])}
	}
	return nil
}

// LeaseBreakNotification is the server's lease break ([MS-SMB2] 2.2.23.2).
type LeaseBreakNotification struct {
	NewEpoch          uint16
	Flags             uint32
	LeaseKey          [16]byte
	CurrentLeaseState uint32
	NewLeaseState     uint32
}

// LeaseBreakAckRequired is the Flags bit asking for an acknowledgment.
const LeaseBreakAckRequired uint32 = 0x01

// Unmarshal decodes a lease break notification body.
func (r *LeaseBreakNotification) Unmarshal(body []byte) error {
	if err := checkStruct("lease break", body, 44, 44); err != nil {
		return err
	}
	r.NewEpoch = le16(body[2:])
	r.Flags = le32(body[4:])
	copy(r.LeaseKey[:], body[8:24])
	r.CurrentLeaseState = le32(body[24:])
	r.NewLeaseState = le32(body[28:])
	return nil
}

// Append appends the encoded body (tests).
func (r *LeaseBreakNotification) Append(b []byte) []byte {
	b = ap16(b, 44)
	b = ap16(b, r.NewEpoch)
	b = ap32(b, r.Flags)
	b = append(b, r.LeaseKey[:]...)
	b = ap32(b, r.CurrentLeaseState)
	b = ap32(b, r.NewLeaseState)
	return appendZeros(b, 12)
}

// LeaseBreakAck is the lease break acknowledgment ([MS-SMB2] 2.2.24.2).
type LeaseBreakAck struct {
	LeaseKey   [16]byte
	LeaseState uint32
}

// Size is always 36.
func (r *LeaseBreakAck) Size() int { return 36 }

// Append appends the encoded body.
func (r *LeaseBreakAck) Append(b []byte) []byte {
	b = ap16(b, 36)
	b = ap16(b, 0)
	b = ap32(b, 0)
	b = append(b, r.LeaseKey[:]...)
	b = ap32(b, r.LeaseState)
	return ap64(b, 0)
}

// OplockBreak is the oplock break notification and acknowledgment
// ([MS-SMB2] 2.2.23.1, 2.2.24.1).
type OplockBreak struct {
	OplockLevel uint8
	FileID      FileID
}

// Size is always 24.
func (r *OplockBreak) Size() int { return 24 }

// Append appends the encoded body.
func (r *OplockBreak) Append(b []byte) []byte {
	b = ap16(b, 24)
	b = append(b, r.OplockLevel, 0)
	b = ap32(b, 0)
	return r.FileID.append(b)
}

// Unmarshal decodes the body.
func (r *OplockBreak) Unmarshal(body []byte) error {
	if err := checkStruct("oplock break", body, 24, 24); err != nil {
		return err
	}
	r.OplockLevel = body[2]
	r.FileID = getFileID(body[8:])
	return nil
}

// ErrorResponse is the SMB2 ERROR response ([MS-SMB2] 2.2.2).
type ErrorResponse struct {
	ErrorContextCount uint8
	ErrorData         []byte
}

// Unmarshal decodes the body.
func (r *ErrorResponse) Unmarshal(body []byte) error {
	if err := checkStruct("error response", body, 9, 8); err != nil {
		return err
	}
	r.ErrorContextCount = body[2]
	n := le32(body[4:])
	if uint64(n) > uint64(len(body)-8) {
		return malformed("error response: %d data bytes in %d", n, len(body)-8)
	}
	r.ErrorData = body[8 : 8+n]
	return nil
}

// Append appends the encoded body.
func (r *ErrorResponse) Append(b []byte) []byte {
	b = ap16(b, 9)
	b = append(b, r.ErrorContextCount, 0)
	b = ap32(b, uint32(len(r.ErrorData)))
	if len(r.ErrorData) == 0 {
		return append(b, 0)
	}
	return append(b, r.ErrorData...)
}

// IsErrorResponse reports whether a response body with a failure status has
// the ERROR layout rather than the command's own (StructureSize 9).
func IsErrorResponse(body []byte) bool { return len(body) >= 8 && le16(body) == 9 }
