package smbdirect

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the only [MS-SMBD] protocol version (1.0).
const Version = 0x0100

// Sizes of the fixed [MS-SMBD] structures.
const (
	NegotiateRequestSize  = 20
	NegotiateResponseSize = 32
	DataHeaderSize        = 20 // a Data Transfer message without payload
	DataOffset            = 24 // where payload starts ([MS-SMBD] 2.2.3 SHOULD; Linux and Windows)
	BufferDescriptorSize  = 16
)

// Protocol minimums ([MS-SMBD] 3.1.5.6/3.1.5.7).
const (
	MinReceiveSize    = 128
	MinFragmentedSize = 131072
)

// FlagResponseRequested is SMB_DIRECT_RESPONSE_REQUESTED.
const FlagResponseRequested = 0x0001

// NTSTATUS values used by the negotiate.
const (
	StatusSuccess              = 0x00000000
	StatusNotSupported         = 0xC00000BB
	StatusInsufficientResource = 0xC000009A
)

// ErrShort reports a structure shorter than its fixed size.
var ErrShort = errors.New("smbdirect: message too short")

// NegotiateRequest is the SMBDirect Negotiate Request ([MS-SMBD] 2.2.1).
type NegotiateRequest struct {
	MinVersion        uint16
	MaxVersion        uint16
	CreditsRequested  uint16
	PreferredSendSize uint32
	MaxReceiveSize    uint32
	MaxFragmentedSize uint32
}

// Size is the wire size.
func (*NegotiateRequest) Size() int { return NegotiateRequestSize }

// Append appends the wire form to b.
func (r *NegotiateRequest) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, r.MinVersion)
	b = binary.LittleEndian.AppendUint16(b, r.MaxVersion)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, r.CreditsRequested)
	b = binary.LittleEndian.AppendUint32(b, r.PreferredSendSize)
	b = binary.LittleEndian.AppendUint32(b, r.MaxReceiveSize)
	return binary.LittleEndian.AppendUint32(b, r.MaxFragmentedSize)
}

// Unmarshal decodes b (extra bytes are ignored). It checks only the length;
// the responder's checks are in validate.
func (r *NegotiateRequest) Unmarshal(b []byte) error {
	if len(b) < NegotiateRequestSize {
		return ErrShort
	}
	le := binary.LittleEndian
	*r = NegotiateRequest{
		MinVersion:        le.Uint16(b[0:]),
		MaxVersion:        le.Uint16(b[2:]),
		CreditsRequested:  le.Uint16(b[6:]),
		PreferredSendSize: le.Uint32(b[8:]),
		MaxReceiveSize:    le.Uint32(b[12:]),
		MaxFragmentedSize: le.Uint32(b[16:]),
	}
	return nil
}

// NegotiateResponse is the SMBDirect Negotiate Response ([MS-SMBD] 2.2.2).
type NegotiateResponse struct {
	MinVersion        uint16
	MaxVersion        uint16
	NegotiatedVersion uint16
	CreditsRequested  uint16
	CreditsGranted    uint16
	Status            uint32
	MaxReadWriteSize  uint32
	PreferredSendSize uint32
	MaxReceiveSize    uint32
	MaxFragmentedSize uint32
}

// Size is the wire size.
func (*NegotiateResponse) Size() int { return NegotiateResponseSize }

// Append appends the wire form to b.
func (r *NegotiateResponse) Append(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint16(b, r.MinVersion)
	b = le.AppendUint16(b, r.MaxVersion)
	b = le.AppendUint16(b, r.NegotiatedVersion)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, r.CreditsRequested)
	b = le.AppendUint16(b, r.CreditsGranted)
	b = le.AppendUint32(b, r.Status)
	b = le.AppendUint32(b, r.MaxReadWriteSize)
	b = le.AppendUint32(b, r.PreferredSendSize)
	b = le.AppendUint32(b, r.MaxReceiveSize)
	return le.AppendUint32(b, r.MaxFragmentedSize)
}

// Unmarshal decodes b (extra bytes are ignored); it checks only the length.
func (r *NegotiateResponse) Unmarshal(b []byte) error {
	if len(b) < NegotiateResponseSize {
		return ErrShort
	}
	le := binary.LittleEndian
	*r = NegotiateResponse{
		MinVersion:        le.Uint16(b[0:]),
		MaxVersion:        le.Uint16(b[2:]),
		NegotiatedVersion: le.Uint16(b[4:]),
		CreditsRequested:  le.Uint16(b[8:]),
		CreditsGranted:    le.Uint16(b[10:]),
		Status:            le.Uint32(b[12:]),
		MaxReadWriteSize:  le.Uint32(b[16:]),
		PreferredSendSize: le.Uint32(b[20:]),
		MaxReceiveSize:    le.Uint32(b[24:]),
		MaxFragmentedSize: le.Uint32(b[28:]),
	}
	return nil
}

// DataHeader is the fixed part of an SMBDirect Data Transfer message
// ([MS-SMBD] 2.2.3). With DataLength 0 the message is 20 bytes; otherwise
// the payload follows at DataOffset (24 when we send).
type DataHeader struct {
	CreditsRequested    uint16
	CreditsGranted      uint16
	Flags               uint16
	RemainingDataLength uint32
	DataOffset          uint32
	DataLength          uint32
}

// Size is the header's wire size as Append writes it: 20 bytes without
// payload, 24 (with the 4 padding bytes) with.
func (h *DataHeader) Size() int {
	if h.DataLength == 0 {
		return DataHeaderSize
	}
	return DataOffset
}

// Append appends the header (and padding up to DataOffset 24 when
// DataLength is not 0) to b. DataOffset is written as 24 or 0, whatever
// h.DataOffset says.
func (h *DataHeader) Append(b []byte) []byte {
	le := binary.LittleEndian
	off := uint32(0)
	if h.DataLength != 0 {
		off = DataOffset
	}
	b = le.AppendUint16(b, h.CreditsRequested)
	b = le.AppendUint16(b, h.CreditsGranted)
	b = le.AppendUint16(b, h.Flags)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, h.RemainingDataLength)
	b = le.AppendUint32(b, off)
	b = le.AppendUint32(b, h.DataLength)
	if h.DataLength != 0 {
		b = le.AppendUint32(b, 0)
	}
	return b
}

// putDataHeader writes a 24-byte header with DataOffset 24 into b.
func putDataHeader(b []byte, credReq, credGrant, flags uint16, remaining, n uint32) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], credReq)
	le.PutUint16(b[2:], credGrant)
	le.PutUint16(b[4:], flags)
	le.PutUint16(b[6:], 0)
	le.PutUint32(b[8:], remaining)
	le.PutUint32(b[12:], DataOffset)
	le.PutUint32(b[16:], n)
	le.PutUint32(b[20:], 0)
}

// ErrBadData reports a Data Transfer message that fails [MS-SMBD] 3.1.5.8.
var ErrBadData = errors.New("smbdirect: malformed data transfer message")

// Unmarshal decodes and validates a whole received message b ([MS-SMBD]
// 3.1.5.8: length, DataOffset alignment, payload inside the message) and
// returns the payload, a subslice of b. Credit and size checks that need
// connection state are the caller's.
func (h *DataHeader) Unmarshal(b []byte) (payload []byte, err error) {
	if len(b) < DataHeaderSize {
		return nil, ErrShort
	}
	le := binary.LittleEndian
	*h = DataHeader{
		CreditsRequested:    le.Uint16(b[0:]),
		CreditsGranted:      le.Uint16(b[2:]),
		Flags:               le.Uint16(b[4:]),
		RemainingDataLength: le.Uint32(b[8:]),
		DataOffset:          le.Uint32(b[12:]),
		DataLength:          le.Uint32(b[16:]),
	}
	if h.DataLength == 0 {
		return nil, nil
	}
	if h.DataOffset%8 != 0 || h.DataOffset < DataHeaderSize {
		return nil, fmt.Errorf("%w: DataOffset %d", ErrBadData, h.DataOffset)
	}
	if uint64(h.DataOffset)+uint64(h.DataLength) > uint64(len(b)) {
		return nil, fmt.Errorf("%w: DataOffset %d + DataLength %d > %d", ErrBadData, h.DataOffset, h.DataLength, len(b))
	}
	return b[h.DataOffset : h.DataOffset+h.DataLength], nil
}

// BufferDescriptor is SMB_DIRECT_BUFFER_DESCRIPTOR_V1 ([MS-SMBD] 2.2.3.1):
// Offset is the tagged offset of the first byte, Token the STag.
type BufferDescriptor struct {
	Offset uint64
	Token  uint32
	Length uint32
}

// Size is the wire size.
func (*BufferDescriptor) Size() int { return BufferDescriptorSize }

// Append appends the wire form to b.
func (d *BufferDescriptor) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, d.Offset)
	b = binary.LittleEndian.AppendUint32(b, d.Token)
	return binary.LittleEndian.AppendUint32(b, d.Length)
}

// Unmarshal decodes one descriptor from b.
func (d *BufferDescriptor) Unmarshal(b []byte) error {
	if len(b) < BufferDescriptorSize {
		return ErrShort
	}
	d.Offset = binary.LittleEndian.Uint64(b)
	d.Token = binary.LittleEndian.Uint32(b[8:])
	d.Length = binary.LittleEndian.Uint32(b[12:])
	return nil
}

// ErrBadDescriptors reports a malformed descriptor array.
var ErrBadDescriptors = errors.New("smbdirect: malformed buffer descriptor array")

// UnmarshalBufferDescriptors decodes an array of descriptors (the
// ReadChannelInfo/WriteChannelInfo of an SMB2 READ/WRITE). b must be a
// non-empty multiple of 16 bytes.
func UnmarshalBufferDescriptors(b []byte) ([]BufferDescriptor, error) {
	if len(b) == 0 || len(b)%BufferDescriptorSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadDescriptors, len(b))
	}
	ds := make([]BufferDescriptor, len(b)/BufferDescriptorSize)
	for i := range ds {
		_ = ds[i].Unmarshal(b[i*BufferDescriptorSize:])
	}
	return ds, nil
}

// AppendBufferDescriptors appends ds in wire form.
func AppendBufferDescriptors(b []byte, ds []BufferDescriptor) []byte {
	for i := range ds {
		b = ds[i].Append(b)
	}
	return b
}
