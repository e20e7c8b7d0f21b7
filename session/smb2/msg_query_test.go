package smb2

import (
	"math"
	"testing"
)

// [MS-SMB2] 2.2.33.
func TestMsgQueryDirectoryRequest(t *testing.T) {
	in := &QueryDirectoryRequest{InfoClass: 0x25, Flags: QueryDirRestartScans, FileIndex: 0, FileID: FileID{1, 2},
		Pattern: "*", OutputBufferLength: 65536}
	enc := msgRoundTrip(t, in, &QueryDirectoryRequest{})
	want := msgBuf(34).u16(0, 33).u8(2, 0x25).u8(3, 1).u32(4, 0).u64(8, 1).u64(16, 2).u16(24, 96).u16(26, 2).
		u32(28, 65536).put(32, []byte{'*', 0})
	msgEqualBytes(t, "query directory request", enc, want)
	var r QueryDirectoryRequest
	msgPrefixesFail(t, "query directory request", enc, 0, r.Unmarshal)

	// No pattern: offset and length 0, one Buffer byte.
	in = &QueryDirectoryRequest{InfoClass: 1, FileID: FileID{1, 2}, OutputBufferLength: 100}
	enc = msgRoundTrip(t, in, &QueryDirectoryRequest{})
	if len(enc) != 33 || le16(enc[24:]) != 0 || le16(enc[26:]) != 0 {
		t.Errorf("no pattern % x", enc)
	}
	msgWantMalformed(t, "odd pattern", r.Unmarshal(msgBuf(35).u16(0, 33).u16(24, 96).u16(26, 3)))
}

// [MS-SMB2] 2.2.34 and 2.2.38 share this layout.
func TestMsgOutputResponse(t *testing.T) {
	in := &OutputResponse{Buffer: msgSeq(1, 24)}
	enc := msgRoundTrip(t, in, &OutputResponse{})
	want := msgBuf(8+24).u16(0, 9).u16(2, 72).u32(4, 24).put(8, msgSeq(1, 24))
	msgEqualBytes(t, "output response", enc, want)
	var r OutputResponse
	if err := r.Unmarshal(want); err != nil || !msgWithin(want, r.Buffer) {
		t.Errorf("%v", err)
	}
	msgPrefixesFail(t, "output response", enc, 0, r.Unmarshal)

	// An empty output (STATUS_NO_MORE_FILES comes as an ERROR response,
	// but a 0-byte buffer is legal): the fixed part alone is whole.
	enc = msgRoundTrip(t, &OutputResponse{}, &OutputResponse{})
	msgPrefixesFail(t, "empty output response", enc, 8, r.Unmarshal)

	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"structure size", func(b msgBytes) { b.u16(0, 8) }},
		{"offset in header", func(b msgBytes) { b.u16(2, 8) }},
		{"offset past end", func(b msgBytes) { b.u16(2, 0xFFFF) }},
		{"length past end", func(b msgBytes) { b.u32(4, 25) }},
		{"length huge", func(b msgBytes) { b.u32(4, math.MaxUint32) }},
	} {
		b := append(msgBytes(nil), want...)
		tc.mod(b)
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(b) }))
	}
}

// [MS-SMB2] 2.2.37.
func TestMsgQueryInfoRequest(t *testing.T) {
	in := &QueryInfoRequest{InfoType: 1, InfoClass: 0x12, OutputBufferLength: 4096, AdditionalInformation: 0,
		Flags: 0, FileID: FileID{3, 4}}
	enc := msgRoundTrip(t, in, &QueryInfoRequest{})
	want := msgBuf(41).u16(0, 41).u8(2, 1).u8(3, 0x12).u32(4, 4096).u16(8, 0).u16(10, 0).u32(12, 0).
		u32(16, 0).u32(20, 0).u64(24, 3).u64(32, 4)
	msgEqualBytes(t, "query info request", enc, want)
	var r QueryInfoRequest
	msgPrefixesFail(t, "query info request", enc, 40, r.Unmarshal)

	// With an input buffer (FileFullEaInformation's EA name list).
	in = &QueryInfoRequest{InfoType: 1, InfoClass: 15, OutputBufferLength: 100, AdditionalInformation: 7, Flags: 1,
		FileID: FileID{3, 4}, Input: msgSeq(0x30, 12)}
	enc = msgRoundTrip(t, in, &QueryInfoRequest{})
	if le16(enc[8:]) != 104 || le32(enc[12:]) != 12 || len(enc) != 52 || le32(enc[16:]) != 7 || le32(enc[20:]) != 1 {
		t.Errorf("with input % x", enc)
	}
	msgPrefixesFail(t, "query info request", enc, 0, r.Unmarshal)
}

// [MS-SMB2] 2.2.39, 2.2.40.
func TestMsgSetInfo(t *testing.T) {
	in := &SetInfoRequest{InfoType: 1, InfoClass: 4, AdditionalInformation: 0, FileID: FileID{5, 6}, Buffer: msgSeq(0, 40)}
	enc := msgRoundTrip(t, in, &SetInfoRequest{})
	want := msgBuf(32+40).u16(0, 33).u8(2, 1).u8(3, 4).u32(4, 40).u16(8, 96).u16(10, 0).u32(12, 0).
		u64(16, 5).u64(24, 6).put(32, msgSeq(0, 40))
	msgEqualBytes(t, "set info request", enc, want)
	var r SetInfoRequest
	msgPrefixesFail(t, "set info request", enc, 0, r.Unmarshal)

	enc = msgRoundTrip(t, &SetInfoRequest{InfoType: 3, FileID: FileID{5, 6}}, &SetInfoRequest{})
	if len(enc) != 33 {
		t.Errorf("empty set info % x", enc)
	}

	enc = msgRoundTrip(t, SetInfoResponse{}, SetInfoResponse{})
	msgEqualBytes(t, "set info response", enc, []byte{2, 0})
	msgPrefixesFail(t, "set info response", enc, 0, SetInfoResponse{}.Unmarshal)
	msgWantMalformed(t, "set info response size", SetInfoResponse{}.Unmarshal([]byte{4, 0, 0, 0}))
}
