package smb2

import (
	"testing"
)

// [MS-SMB2] 2.2.1.2: SMB2 Packet Header - SYNC, and 2.2.1.1 ASYNC.
func TestMsgHeaderFixtureSyncResponse(t *testing.T) {
	h := Header{
		CreditCharge: 1,
		Status:       StatusMoreProcessingRequired,
		Command:      CmdSessionSetup,
		Credits:      33,
		Flags:        FlagResponse | FlagSigned,
		NextCommand:  0,
		MessageID:    0x0102030405060708,
		TreeID:       0xA1A2A3A4,
		SessionID:    0x1112131415161718,
		Signature:    msgGUID(0xC0),
	}
	h.ChannelSequence = uint16(h.Status) // Unmarshal fills both from the same bytes
	want := msgBuf(64).
		put(0, []byte{0xFE, 'S', 'M', 'B'}).
		u16(4, 64).                  // StructureSize
		u16(6, 1).                   // CreditCharge
		u32(8, 0xC0000016).          // Status
		u16(12, 0x0001).             // Command
		u16(14, 33).                 // CreditResponse
		u32(16, 0x00000009).         // Flags
		u32(20, 0).                  // NextCommand
		u64(24, 0x0102030405060708). // MessageId
		u32(32, 0).                  // Reserved (ProcessId)
		u32(36, 0xA1A2A3A4).         // TreeId
		u64(40, 0x1112131415161718). // SessionId
		put(48, msgSeq(0xC0, 16))    // Signature
	var got Header
	enc := msgRoundTrip(t, &h, &got)
	msgEqualBytes(t, "sync response header", enc, want)
	msgPrefixesFail(t, "header", enc, 0, func(b []byte) error { var h Header; return h.Unmarshal(b) })
	if SignatureOffset != 48 {
		t.Errorf("SignatureOffset %d", SignatureOffset)
	}
}

func TestMsgHeaderAsync(t *testing.T) {
	h := Header{
		Status:    StatusPending,
		Command:   CmdRead,
		Credits:   1,
		Flags:     FlagResponse | FlagAsync,
		MessageID: 9,
		AsyncID:   0x2122232425262728,
		SessionID: 7,
	}
	h.ChannelSequence = uint16(h.Status)
	var got Header
	enc := msgRoundTrip(t, &h, &got)
	want := msgBuf(64).put(0, ProtocolSMB2[:]).u16(4, 64).u32(8, 0x103).u16(12, 8).u16(14, 1).
		u32(16, 3).u64(24, 9).u64(32, 0x2122232425262728).u64(40, 7)
	msgEqualBytes(t, "async header", enc, want)
}

// In a request the Status bytes carry ChannelSequence and 2 reserved bytes
// ([MS-SMB2] 2.2.1.2, dialect 3.x).
func TestMsgHeaderRequestChannelSequence(t *testing.T) {
	h := Header{ChannelSequence: 0x0304, Command: CmdWrite, Credits: 8, CreditCharge: 2, MessageID: 5, TreeID: 1, SessionID: 2,
		Status: 0xDEAD0000} // ignored in a request
	enc := h.Append(nil)
	if len(enc) != HeaderSize || h.Size() != HeaderSize {
		t.Fatalf("size %d", len(enc))
	}
	if enc[8] != 0x04 || enc[9] != 0x03 || enc[10] != 0 || enc[11] != 0 {
		t.Errorf("ChannelSequence bytes % x", enc[8:12])
	}
	var got Header
	if err := got.Unmarshal(enc); err != nil {
		t.Fatal(err)
	}
	if got.ChannelSequence != 0x0304 || got.Status != 0x0304 || got.Command != CmdWrite || got.TreeID != 1 || got.MessageID != 5 {
		t.Errorf("decoded %+v", got)
	}
}

func TestMsgHeaderRejects(t *testing.T) {
	good := (&Header{Flags: FlagResponse}).Append(nil)
	for _, tc := range []struct {
		name string
		mod  func(b []byte)
	}{
		{"SMB1 protocol", func(b []byte) { copy(b, ProtocolSMB1[:]) }},
		{"transform protocol", func(b []byte) { copy(b, ProtocolTransform[:]) }},
		{"structure size 0", func(b []byte) { b[4] = 0 }},
		{"structure size 65", func(b []byte) { b[4] = 65 }},
	} {
		b := append([]byte(nil), good...)
		tc.mod(b)
		var h Header
		msgWantMalformed(t, tc.name, h.Unmarshal(b))
	}
	// Trailing bytes (the body) are not the header's business.
	var h Header
	if err := h.Unmarshal(append(good, 1, 2, 3)); err != nil {
		t.Errorf("header with body: %v", err)
	}
}

// [MS-SMB2] 2.2.41: SMB2 TRANSFORM_HEADER.
func TestMsgTransformHeader(t *testing.T) {
	th := TransformHeader{
		Signature:           msgGUID(0x10),
		Nonce:               msgGUID(0x40),
		OriginalMessageSize: 0x11223344,
		Flags:               1,
		SessionID:           0x5566778899AABBCC,
	}
	want := msgBuf(52).
		put(0, []byte{0xFD, 'S', 'M', 'B'}).
		put(4, msgSeq(0x10, 16)).
		put(20, msgSeq(0x40, 16)).
		u32(36, 0x11223344).
		u16(40, 0). // Reserved
		u16(42, 1). // Flags / EncryptionAlgorithm
		u64(44, 0x5566778899AABBCC)
	enc := th.Append(nil)
	msgEqualBytes(t, "transform header", enc, want)
	if len(enc) != TransformHeaderSize {
		t.Errorf("len %d", len(enc))
	}
	if got := th.Append([]byte{9}); got[0] != 9 || string(got[1:]) != string(enc) {
		t.Error("Append does not append")
	}
	var got TransformHeader
	if err := got.Unmarshal(enc); err != nil || got != th {
		t.Errorf("round trip %+v %v", got, err)
	}
	msgPrefixesFail(t, "transform header", enc, 0, func(b []byte) error { var t TransformHeader; return t.Unmarshal(b) })
	bad := append([]byte(nil), enc...)
	copy(bad, ProtocolSMB2[:])
	msgWantMalformed(t, "transform header with SMB2 protocol id", got.Unmarshal(bad))
}

func TestMsgCommandString(t *testing.T) {
	if CmdOplockBreak.String() != "OPLOCK_BREAK" || CmdNegotiate.String() != "NEGOTIATE" || Command(0x13).String() != "Command(0x0013)" {
		t.Error(CmdOplockBreak, CmdNegotiate, Command(0x13))
	}
}

func TestMsgFieldHelper(t *testing.T) {
	body := msgSeq(0, 16)
	for _, tc := range []struct {
		off, n uint32
		ok     bool
		want   []byte
	}{
		{64, 16, true, body},
		{70, 2, true, body[6:8]},
		{80, 0, true, nil},
		{0, 0, true, nil},          // zero length: offset ignored
		{0xFFFFFFFF, 0, true, nil}, // idem
		{63, 1, false, nil},        // inside the header
		{0, 1, false, nil},
		{79, 2, false, nil},
		{64, 17, false, nil},
		{0xFFFFFFFF, 0xFFFFFFFF, false, nil},
		{64, 0xFFFFFFFF, false, nil},
	} {
		got, err := field(body[:16:16], tc.off, tc.n)
		if tc.ok != (err == nil) || string(got) != string(tc.want) {
			t.Errorf("field(%d,%d) = % x, %v", tc.off, tc.n, got, err)
		}
		if err != nil {
			msgWantMalformed(t, "field", err)
		}
	}
}
