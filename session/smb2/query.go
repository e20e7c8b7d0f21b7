package smb2

// QUERY_DIRECTORY flags ([MS-SMB2] 2.2.33).
const (
	QueryDirRestartScans      uint8 = 0x01
	QueryDirReturnSingleEntry uint8 = 0x02
	QueryDirIndexSpecified    uint8 = 0x04
	QueryDirReopen            uint8 = 0x10
)

// QueryDirectoryRequest is the SMB2 QUERY_DIRECTORY request ([MS-SMB2] 2.2.33).
type QueryDirectoryRequest struct {
	InfoClass          uint8
	Flags              uint8
	FileIndex          uint32
	FileID             FileID
	Pattern            string
	OutputBufferLength uint32
}

// Size is the encoded body size.
func (r *QueryDirectoryRequest) Size() int { return 32 + max(UTF16Len(r.Pattern), 1) }

// Append appends the encoded body.
func (r *QueryDirectoryRequest) Append(b []byte) []byte {
	n := UTF16Len(r.Pattern)
	b = ap16(b, 33)
	b = append(b, r.InfoClass, r.Flags)
	b = ap32(b, r.FileIndex)
	b = r.FileID.append(b)
	if n > 0 {
		b = ap16(b, HeaderSize+32)
	} else {
		b = ap16(b, 0)
	}
	b = ap16(b, uint16(n))
	b = ap32(b, r.OutputBufferLength)
	if n == 0 {
		return append(b, 0)
	}
	return AppendUTF16(b, r.Pattern)
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *QueryDirectoryRequest) Unmarshal(body []byte) error {
	if err := checkStruct("query directory request", body, 33, 32); err != nil {
		return err
	}
	r.InfoClass, r.Flags = body[2], body[3]
	r.FileIndex = le32(body[4:])
	r.FileID = getFileID(body[8:])
	r.OutputBufferLength = le32(body[28:])
	p, err := field(body, uint32(le16(body[24:])), uint32(le16(body[26:])))
	if err != nil {
		return err
	}
	r.Pattern, err = DecodeUTF16(p)
	return err
}

// OutputResponse is the body shared by the QUERY_DIRECTORY and QUERY_INFO
// responses ([MS-SMB2] 2.2.34, 2.2.38): an output buffer.
type OutputResponse struct {
	Buffer []byte
}

// Size is the encoded body size.
func (r *OutputResponse) Size() int { return 8 + len(r.Buffer) }

// Append appends the encoded body.
func (r *OutputResponse) Append(b []byte) []byte {
	b = ap16(b, 9)
	b = ap16(b, HeaderSize+8)
	b = ap32(b, uint32(len(r.Buffer)))
	return append(b, r.Buffer...)
}

// Unmarshal decodes the body.
func (r *OutputResponse) Unmarshal(body []byte) error {
	if err := checkStruct("output response", body, 9, 8); err != nil {
		return err
	}
	var err error
	r.Buffer, err = field(body, uint32(le16(body[2:])), le32(body[4:]))
	return err
}

// QueryInfoRequest is the SMB2 QUERY_INFO request ([MS-SMB2] 2.2.37).
type QueryInfoRequest struct {
	InfoType              InfoType
	InfoClass             uint8
	OutputBufferLength    uint32
	AdditionalInformation uint32
	Flags                 uint32
	FileID                FileID
	Input                 []byte
}

// Size is the encoded body size.
func (r *QueryInfoRequest) Size() int { return 40 + max(len(r.Input), 1) }

// Append appends the encoded body.
func (r *QueryInfoRequest) Append(b []byte) []byte {
	b = ap16(b, 41)
	b = append(b, byte(r.InfoType), r.InfoClass)
	b = ap32(b, r.OutputBufferLength)
	if len(r.Input) > 0 {
		b = ap16(b, HeaderSize+40)
	} else {
		b = ap16(b, 0)
	}
	b = ap16(b, 0)
	b = ap32(b, uint32(len(r.Input)))
	b = ap32(b, r.AdditionalInformation)
	b = ap32(b, r.Flags)
	b = r.FileID.append(b)
	if len(r.Input) == 0 {
		return append(b, 0)
	}
	return append(b, r.Input...)
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *QueryInfoRequest) Unmarshal(body []byte) error {
	if err := checkStruct("query info request", body, 41, 40); err != nil {
		return err
	}
	r.InfoType, r.InfoClass = InfoType(body[2]), body[3]
	r.OutputBufferLength = le32(body[4:])
	r.AdditionalInformation = le32(body[16:])
	r.Flags = le32(body[20:])
	r.FileID = getFileID(body[24:])
	var err error
	r.Input, err = field(body, uint32(le16(body[8:])), le32(body[12:]))
	return err
}

// SetInfoRequest is the SMB2 SET_INFO request ([MS-SMB2] 2.2.39).
type SetInfoRequest struct {
	InfoType              InfoType
	InfoClass             uint8
	AdditionalInformation uint32
	FileID                FileID
	Buffer                []byte
}

// Size is the encoded body size.
func (r *SetInfoRequest) Size() int { return 32 + max(len(r.Buffer), 1) }

// Append appends the encoded body.
func (r *SetInfoRequest) Append(b []byte) []byte {
	b = ap16(b, 33)
	b = append(b, byte(r.InfoType), r.InfoClass)
	b = ap32(b, uint32(len(r.Buffer)))
	b = ap16(b, HeaderSize+32)
	b = ap16(b, 0)
	b = ap32(b, r.AdditionalInformation)
	b = r.FileID.append(b)
	if len(r.Buffer) == 0 {
		return append(b, 0)
	}
	return append(b, r.Buffer...)
}

// Unmarshal decodes the body (tests and fuzzing).
func (r *SetInfoRequest) Unmarshal(body []byte) error {
	if err := checkStruct("set info request", body, 33, 32); err != nil {
		return err
	}
	r.InfoType, r.InfoClass = InfoType(body[2]), body[3]
	r.AdditionalInformation = le32(body[12:])
	r.FileID = getFileID(body[16:])
	var err error
	r.Buffer, err = field(body, uint32(le16(body[8:])), le32(body[4:]))
	return err
}

// SetInfoResponse is the 2-byte SET_INFO response body ([MS-SMB2] 2.2.40).
type SetInfoResponse struct{}

// Size is always 2.
func (SetInfoResponse) Size() int { return 2 }

// Append appends the encoded body.
func (SetInfoResponse) Append(b []byte) []byte { return append(b, 2, 0) }

// Unmarshal checks the StructureSize.
func (SetInfoResponse) Unmarshal(body []byte) error {
	return checkStruct("set info response", body, 2, 2)
}
