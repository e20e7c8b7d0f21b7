package smb2

// Channel values of READ and WRITE ([MS-SMB2] 2.2.19).
const (
	ChannelNone             uint32 = 0x00000000
	ChannelRDMAV1           uint32 = 0x00000001
	ChannelRDMAV1Invalidate uint32 = 0x00000002
	ChannelRDMATransform    uint32 = 0x00000003
)

// READ request flags ([MS-SMB2] 2.2.19).
const (
	ReadFlagUnbuffered     uint8  = 0x01
	ReadFlagCompressed     uint8  = 0x02
	WriteFlagWriteThrough  uint32 = 0x00000001
	WriteFlagWriteUnbuffer uint32 = 0x00000002
)

// ReadRequest is the SMB2 READ request ([MS-SMB2] 2.2.19). ChannelInfo holds
// Buffer Descriptor V1 entries for an RDMA read.
type ReadRequest struct {
	Padding        uint8
	Flags          uint8
	Length         uint32
	Offset         uint64
	FileID         FileID
	MinimumCount   uint32
	Channel        uint32
	RemainingBytes uint32
	ChannelInfo    []byte
}

// Size is the encoded body size.
func (r *ReadRequest) Size() int { return 48 + max(len(r.ChannelInfo), 1) }

// Append appends the encoded body.
func (r *ReadRequest) Append(b []byte) []byte {
	b = ap16(b, 49)
	b = append(b, r.Padding, r.Flags)
	b = ap32(b, r.Length)
	b = ap64(b, r.Offset)
	b = r.FileID.append(b)
	b = ap32(b, r.MinimumCount)
	b = ap32(b, r.Channel)
	b = ap32(b, r.RemainingBytes)
	if len(r.ChannelInfo) == 0 {
		b = ap32(b, 0)
		return append(b, 0)
	}
	b = ap16(b, HeaderSize+48)
	b = ap16(b, uint16(len(r.ChannelInfo)))
	return append(b, r.ChannelInfo...)
}

// Unmarshal decodes the body (tests, fuzzing, responder).
func (r *ReadRequest) Unmarshal(body []byte) error {
	if err := checkStruct("read request", body, 49, 48); err != nil {
		return err
	}
	r.Padding, r.Flags = body[2], body[3]
	r.Length = le32(body[4:])
	r.Offset = le64(body[8:])
	r.FileID = getFileID(body[16:])
	r.MinimumCount = le32(body[32:])
	r.Channel = le32(body[36:])
	r.RemainingBytes = le32(body[40:])
	var err error
	r.ChannelInfo, err = field(body, uint32(le16(body[44:])), uint32(le16(body[46:])))
	return err
}

// ReadResponse is the SMB2 READ response ([MS-SMB2] 2.2.20). Data aliases the
// message buffer.
type ReadResponse struct {
	DataRemaining uint32
	Flags         uint32
	Data          []byte
}

// ReadResponseFixed is the size of the READ response before its data; a
// transport may use it to read the data straight into the caller's buffer.
const ReadResponseFixed = 16

// Size is the encoded body size.
func (r *ReadResponse) Size() int { return 16 + len(r.Data) }

// Append appends the encoded body (tests and fake servers).
func (r *ReadResponse) Append(b []byte) []byte {
	b = ap16(b, 17)
	b = append(b, HeaderSize+16, 0)
	b = ap32(b, uint32(len(r.Data)))
	b = ap32(b, r.DataRemaining)
	b = ap32(b, r.Flags)
	return append(b, r.Data...)
}

// ReadResponseData returns the data offset (from the start of the header)
// and length from the fixed part of a READ response body.
func ReadResponseData(body []byte) (off, n uint32, err error) {
	if err := checkStruct("read response", body, 17, 16); err != nil {
		return 0, 0, err
	}
	return uint32(body[2]), le32(body[4:]), nil
}

// Unmarshal decodes the body.
func (r *ReadResponse) Unmarshal(body []byte) error {
	off, n, err := ReadResponseData(body)
	if err != nil {
		return err
	}
	r.DataRemaining = le32(body[8:])
	r.Flags = le32(body[12:])
	r.Data, err = field(body, off, n)
	return err
}

// WriteRequest is the SMB2 WRITE request ([MS-SMB2] 2.2.21). For an RDMA
// write, Data is empty, Length and RemainingBytes name the registered size,
// and ChannelInfo holds the buffer descriptors. With empty Data, no
// ChannelInfo and a non-zero Length, Append writes the fixed part only and
// the caller sends the Length data bytes right after it.
type WriteRequest struct {
	Offset         uint64
	FileID         FileID
	Channel        uint32
	RemainingBytes uint32
	Flags          uint32
	Length         uint32 // used when Data is empty (RDMA); otherwise len(Data)
	ChannelInfo    []byte
	Data           []byte
}

// WriteRequestFixed is the size of the WRITE request before its data.
const WriteRequestFixed = 48

// padByte reports whether Append adds the one Buffer byte a request needs
// when it carries nothing else ([MS-SMB2] 2.2.21). A non-zero Length with
// empty Data and no ChannelInfo means the caller sends the data right after
// the body (as a separate payload): no pad then, or the data would shift.
func (r *WriteRequest) padByte() bool {
	return len(r.Data) == 0 && len(r.ChannelInfo) == 0 && r.Length == 0
}

// Size is the encoded body size.
func (r *WriteRequest) Size() int {
	if r.padByte() {
		return 49
	}
	return 48 + len(r.ChannelInfo) + len(r.Data)
}

// AppendFixed appends the body without Data, for a transport that sends the
// data from the caller's buffer without copying it.
func (r *WriteRequest) AppendFixed(b []byte) []byte {
	length := r.Length
	if len(r.Data) > 0 {
		length = uint32(len(r.Data))
	}
	b = ap16(b, 49)
	dataOff := uint16(HeaderSize + 48 + len(r.ChannelInfo))
	switch {
	case r.Channel != ChannelNone && len(r.Data) == 0 && length == 0:
		// An RDMA write carries no data: DataOffset and Length are 0
		// (ksmbd rejects anything else).
		dataOff = 0
	case len(r.Data) == 0 && len(r.ChannelInfo) == 0:
		dataOff = HeaderSize + 48
	}
	b = ap16(b, dataOff)
	b = ap32(b, length)
	b = ap64(b, r.Offset)
	b = r.FileID.append(b)
	b = ap32(b, r.Channel)
	b = ap32(b, r.RemainingBytes)
	if len(r.ChannelInfo) > 0 {
		b = ap16(b, HeaderSize+48)
		b = ap16(b, uint16(len(r.ChannelInfo)))
	} else {
		b = ap32(b, 0)
	}
	b = ap32(b, r.Flags)
	return append(b, r.ChannelInfo...)
}

// Append appends the encoded body including Data.
func (r *WriteRequest) Append(b []byte) []byte {
	b = r.AppendFixed(b)
	if r.padByte() {
		return append(b, 0) // the Buffer is at least one byte
	}
	return append(b, r.Data...)
}

// Unmarshal decodes the body (tests, fuzzing).
func (r *WriteRequest) Unmarshal(body []byte) error {
	if err := checkStruct("write request", body, 49, 48); err != nil {
		return err
	}
	r.Length = le32(body[4:])
	r.Offset = le64(body[8:])
	r.FileID = getFileID(body[16:])
	r.Channel = le32(body[32:])
	r.RemainingBytes = le32(body[36:])
	r.Flags = le32(body[44:])
	var err error
	if r.ChannelInfo, err = field(body, uint32(le16(body[40:])), uint32(le16(body[42:]))); err != nil {
		return err
	}
	r.Data = nil
	if r.Channel == ChannelNone {
		r.Data, err = field(body, uint32(le16(body[2:])), r.Length)
	}
	return err
}

// WriteResponse is the SMB2 WRITE response ([MS-SMB2] 2.2.22).
type WriteResponse struct {
	Count     uint32
	Remaining uint32
}

// Size is always 16.
func (r *WriteResponse) Size() int { return 16 }

// Append appends the encoded body.
func (r *WriteResponse) Append(b []byte) []byte {
	b = ap16(b, 17)
	b = ap16(b, 0)
	b = ap32(b, r.Count)
	b = ap32(b, r.Remaining)
	return ap32(b, 0)
}

// Unmarshal decodes the body.
func (r *WriteResponse) Unmarshal(body []byte) error {
	if err := checkStruct("write response", body, 17, 16); err != nil {
		return err
	}
	r.Count = le32(body[4:])
	r.Remaining = le32(body[8:])
	return nil
}

// FlushRequest is the SMB2 FLUSH request ([MS-SMB2] 2.2.17).
type FlushRequest struct{ FileID FileID }

// Size is always 24.
func (r *FlushRequest) Size() int { return 24 }

// Append appends the encoded body.
func (r *FlushRequest) Append(b []byte) []byte {
	b = ap16(b, 24)
	b = ap16(b, 0)
	b = ap32(b, 0)
	return r.FileID.append(b)
}

// Unmarshal decodes the body.
func (r *FlushRequest) Unmarshal(body []byte) error {
	if err := checkStruct("flush request", body, 24, 24); err != nil {
		return err
	}
	r.FileID = getFileID(body[8:])
	return nil
}

// CloseFlagPostQueryAttrib asks CLOSE to return the final attributes.
const CloseFlagPostQueryAttrib uint16 = 0x0001

// CloseRequest is the SMB2 CLOSE request ([MS-SMB2] 2.2.15).
type CloseRequest struct {
	Flags  uint16
	FileID FileID
}

// Size is always 24.
func (r *CloseRequest) Size() int { return 24 }

// Append appends the encoded body.
func (r *CloseRequest) Append(b []byte) []byte {
	b = ap16(b, 24)
	b = ap16(b, r.Flags)
	b = ap32(b, 0)
	return r.FileID.append(b)
}

// Unmarshal decodes the body.
func (r *CloseRequest) Unmarshal(body []byte) error {
	if err := checkStruct("close request", body, 24, 24); err != nil {
		return err
	}
	r.Flags = le16(body[2:])
	r.FileID = getFileID(body[8:])
	return nil
}

// CloseResponse is the SMB2 CLOSE response ([MS-SMB2] 2.2.16).
type CloseResponse struct {
	Flags uint16
	FileTimes
}

// Size is always 60.
func (r *CloseResponse) Size() int { return 60 }

// Append appends the encoded body.
func (r *CloseResponse) Append(b []byte) []byte {
	b = ap16(b, 60)
	b = ap16(b, r.Flags)
	b = ap32(b, 0)
	return r.FileTimes.append(b)
}

// Unmarshal decodes the body.
func (r *CloseResponse) Unmarshal(body []byte) error {
	if err := checkStruct("close response", body, 60, 60); err != nil {
		return err
	}
	r.Flags = le16(body[2:])
	r.FileTimes.decode(body[8:])
	return nil
}
