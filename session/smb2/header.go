package smb2

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of the SMB2 sync and async header ([MS-SMB2] 2.2.1).
const HeaderSize = 64

// TransformHeaderSize is the size of the SMB2 TRANSFORM_HEADER ([MS-SMB2] 2.2.41).
const TransformHeaderSize = 52

// ErrMalformed reports bytes from the peer that do not decode.
var ErrMalformed = errors.New("smb2: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Protocol identifiers at the start of every message.
var (
	ProtocolSMB2      = [4]byte{0xFE, 'S', 'M', 'B'}
	ProtocolTransform = [4]byte{0xFD, 'S', 'M', 'B'}
	ProtocolSMB1      = [4]byte{0xFF, 'S', 'M', 'B'}
)

// Command is an SMB2 command code ([MS-SMB2] 2.2.1.2).
type Command uint16

const (
	CmdNegotiate      Command = 0x0000
	CmdSessionSetup   Command = 0x0001
	CmdLogoff         Command = 0x0002
	CmdTreeConnect    Command = 0x0003
	CmdTreeDisconnect Command = 0x0004
	CmdCreate         Command = 0x0005
	CmdClose          Command = 0x0006
	CmdFlush          Command = 0x0007
	CmdRead           Command = 0x0008
	CmdWrite          Command = 0x0009
	CmdLock           Command = 0x000A
	CmdIoctl          Command = 0x000B
	CmdCancel         Command = 0x000C
	CmdEcho           Command = 0x000D
	CmdQueryDirectory Command = 0x000E
	CmdChangeNotify   Command = 0x000F
	CmdQueryInfo      Command = 0x0010
	CmdSetInfo        Command = 0x0011
	CmdOplockBreak    Command = 0x0012
)

var commandNames = [...]string{
	"NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT",
	"CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL",
	"ECHO", "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO",
	"OPLOCK_BREAK",
}

func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	return fmt.Sprintf("Command(0x%04x)", uint16(c))
}

// HeaderFlags are the Flags of the SMB2 header ([MS-SMB2] 2.2.1.2).
type HeaderFlags uint32

const (
	FlagResponse          HeaderFlags = 0x00000001
	FlagAsync             HeaderFlags = 0x00000002
	FlagRelatedOperations HeaderFlags = 0x00000004
	FlagSigned            HeaderFlags = 0x00000008
	FlagPriorityMask      HeaderFlags = 0x00000070
	FlagDFSOperations     HeaderFlags = 0x10000000
	FlagReplayOperation   HeaderFlags = 0x20000000
)

// Header is the SMB2 packet header, sync or async form ([MS-SMB2] 2.2.1).
//
// In a request of dialect 3.x the 4 bytes that carry Status in a response
// carry ChannelSequence (and 2 reserved bytes): Append writes ChannelSequence
// when FlagResponse is clear, and Unmarshal fills both fields from those bytes.
type Header struct {
	CreditCharge    uint16
	Status          Status
	ChannelSequence uint16
	Command         Command
	Credits         uint16 // CreditRequest in a request, CreditResponse in a response
	Flags           HeaderFlags
	NextCommand     uint32
	MessageID       uint64
	AsyncID         uint64 // async form only (FlagAsync)
	TreeID          uint32 // sync form only
	SessionID       uint64
	Signature       [16]byte
}

// Size is always HeaderSize.
func (h *Header) Size() int { return HeaderSize }

// Append appends the 64-byte encoded header.
func (h *Header) Append(b []byte) []byte {
	b = append(b, ProtocolSMB2[:]...)
	b = binary.LittleEndian.AppendUint16(b, HeaderSize)
	b = binary.LittleEndian.AppendUint16(b, h.CreditCharge)
	if h.Flags&FlagResponse != 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(h.Status))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(h.ChannelSequence))
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Command))
	b = binary.LittleEndian.AppendUint16(b, h.Credits)
	b = binary.LittleEndian.AppendUint32(b, uint32(h.Flags))
	b = binary.LittleEndian.AppendUint32(b, h.NextCommand)
	b = binary.LittleEndian.AppendUint64(b, h.MessageID)
	if h.Flags&FlagAsync != 0 {
		b = binary.LittleEndian.AppendUint64(b, h.AsyncID)
	} else {
		b = binary.LittleEndian.AppendUint32(b, 0) // Reserved (ProcessId)
		b = binary.LittleEndian.AppendUint32(b, h.TreeID)
	}
	b = binary.LittleEndian.AppendUint64(b, h.SessionID)
	return append(b, h.Signature[:]...)
}

// Unmarshal decodes the header at the start of b.
func (h *Header) Unmarshal(b []byte) error {
	if len(b) < HeaderSize {
		return malformed("header: %d bytes", len(b))
	}
	if [4]byte(b[0:4]) != ProtocolSMB2 {
		return malformed("header: protocol id % x", b[0:4])
	}
	if le16(b[4:]) != HeaderSize {
		return malformed("header: structure size %d", le16(b[4:]))
	}
	h.CreditCharge = le16(b[6:])
	h.Status = Status(le32(b[8:]))
	h.ChannelSequence = uint16(h.Status)
	h.Command = Command(le16(b[12:]))
	h.Credits = le16(b[14:])
	h.Flags = HeaderFlags(le32(b[16:]))
	h.NextCommand = le32(b[20:])
	h.MessageID = le64(b[24:])
	if h.Flags&FlagAsync != 0 {
		h.AsyncID = le64(b[32:])
		h.TreeID = 0
	} else {
		h.AsyncID = 0
		h.TreeID = le32(b[36:])
	}
	h.SessionID = le64(b[40:])
	copy(h.Signature[:], b[48:64])
	return nil
}

// SignatureOffset is where the 16-byte signature sits in the header.
const SignatureOffset = 48

// TransformHeader precedes an encrypted message ([MS-SMB2] 2.2.41).
type TransformHeader struct {
	Signature           [16]byte
	Nonce               [16]byte // 11 bytes used by CCM, 12 by GCM; the rest zero
	OriginalMessageSize uint32
	Flags               uint16 // 0x0001 Encrypted (3.1.1); EncryptionAlgorithm in 3.0.x
	SessionID           uint64
}

// Append appends the 52-byte transform header.
func (t *TransformHeader) Append(b []byte) []byte {
	b = append(b, ProtocolTransform[:]...)
	b = append(b, t.Signature[:]...)
	b = append(b, t.Nonce[:]...)
	b = binary.LittleEndian.AppendUint32(b, t.OriginalMessageSize)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, t.Flags)
	return binary.LittleEndian.AppendUint64(b, t.SessionID)
}

// Unmarshal decodes a transform header at the start of b.
func (t *TransformHeader) Unmarshal(b []byte) error {
	if len(b) < TransformHeaderSize {
		return malformed("transform header: %d bytes", len(b))
	}
	if [4]byte(b[0:4]) != ProtocolTransform {
		return malformed("transform header: protocol id % x", b[0:4])
	}
	copy(t.Signature[:], b[4:20])
	copy(t.Nonce[:], b[20:36])
	t.OriginalMessageSize = le32(b[36:])
	t.Flags = le16(b[42:])
	t.SessionID = le64(b[44:])
	return nil
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// field returns b[off-HeaderSize : off-HeaderSize+n] for an offset counted
// from the start of the SMB2 header, checking bounds; body starts right after
// the header. A zero length yields nil whatever the offset.
func field(body []byte, off uint32, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if off < HeaderSize {
		return nil, malformed("offset %d inside the header", off)
	}
	start := uint64(off) - HeaderSize
	end := start + uint64(n)
	if end > uint64(len(body)) {
		return nil, malformed("field [%d,+%d) beyond %d-byte body", off, n, len(body)+HeaderSize)
	}
	return body[start:end], nil
}

// checkStruct verifies the StructureSize at the start of body and that body
// holds at least the fixed part (fixed bytes).
func checkStruct(name string, body []byte, structureSize uint16, fixed int) error {
	if len(body) < fixed {
		return malformed("%s: %d bytes, need %d", name, len(body), fixed)
	}
	if got := le16(body); got != structureSize {
		return malformed("%s: structure size %d, want %d", name, got, structureSize)
	}
	return nil
}

// pad8 returns n rounded up to a multiple of 8.
func pad8(n int) int { return (n + 7) &^ 7 }

// appendZeros appends n zero bytes.
func appendZeros(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, 0)
	}
	return b
}
