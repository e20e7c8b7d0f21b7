package smb2

// DurableV2Request is the SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 context
// body ([MS-SMB2] 2.2.13.2.11): ask that the open outlive a lost
// connection, for Timeout milliseconds (0: the server's default).
type DurableV2Request struct {
	Timeout    uint32
	Flags      uint32 // DurablePersistent for a persistent handle
	CreateGUID [16]byte
}

// DurablePersistent asks for (and grants) a persistent handle.
const DurablePersistent uint32 = 0x02

// Append appends the 32-byte body.
func (d *DurableV2Request) Append(b []byte) []byte {
	b = ap32(b, d.Timeout)
	b = ap32(b, d.Flags)
	b = ap64(b, 0)
	return append(b, d.CreateGUID[:]...)
}

// Unmarshal decodes the body (tests and fake servers).
func (d *DurableV2Request) Unmarshal(b []byte) error {
	if len(b) < 32 {
		return malformed("durable v2 request: %d bytes", len(b))
	}
	d.Timeout, d.Flags = le32(b), le32(b[4:])
	copy(d.CreateGUID[:], b[16:32])
	return nil
}

// DurableV2Response is the SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2 context
// body ([MS-SMB2] 2.2.14.2.12): its presence means the open is durable.
type DurableV2Response struct {
	Timeout uint32 // milliseconds the server keeps the open after a loss
	Flags   uint32
}

// Append appends the 8-byte body (tests and fake servers).
func (d *DurableV2Response) Append(b []byte) []byte {
	return ap32(ap32(b, d.Timeout), d.Flags)
}

// Unmarshal decodes the body.
func (d *DurableV2Response) Unmarshal(b []byte) error {
	if len(b) < 8 {
		return malformed("durable v2 response: %d bytes", len(b))
	}
	d.Timeout, d.Flags = le32(b), le32(b[4:])
	return nil
}

// DurableV2Reconnect is the SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2
// context body ([MS-SMB2] 2.2.13.2.12): reclaim a durable open on a new
// connection and session.
type DurableV2Reconnect struct {
	FileID     FileID
	CreateGUID [16]byte
	Flags      uint32
}

// Append appends the 36-byte body.
func (d *DurableV2Reconnect) Append(b []byte) []byte {
	b = d.FileID.append(b)
	b = append(b, d.CreateGUID[:]...)
	return ap32(b, d.Flags)
}

// Unmarshal decodes the body (tests and fake servers).
func (d *DurableV2Reconnect) Unmarshal(b []byte) error {
	if len(b) < 36 {
		return malformed("durable v2 reconnect: %d bytes", len(b))
	}
	d.FileID = getFileID(b)
	copy(d.CreateGUID[:], b[16:32])
	d.Flags = le32(b[32:])
	return nil
}
