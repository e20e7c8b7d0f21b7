package smb2

import (
	"testing"
)

// [MS-SMB2] 2.2.5.
func TestMsgSessionSetupRequest(t *testing.T) {
	in := &SessionSetupRequest{Flags: SessionFlagBinding, SecurityMode: 1, Capabilities: CapDFS,
		PreviousSessionID: 0x0102030405060708, SecurityBuffer: []byte("NTLMSSP\x00\x01")}
	enc := msgRoundTrip(t, in, &SessionSetupRequest{})
	want := msgBuf(24+9).
		u16(0, 25).u8(2, 1).u8(3, 1).u32(4, CapDFS).
		u32(8, 0). // Channel
		u16(12, 88).u16(14, 9).u64(16, 0x0102030405060708).
		put(24, []byte("NTLMSSP\x00\x01"))
	msgEqualBytes(t, "session setup request", enc, want)
	var r SessionSetupRequest
	msgPrefixesFail(t, "session setup request", enc, 0, r.Unmarshal)

	// An empty security buffer still sends one Buffer byte.
	in = &SessionSetupRequest{}
	enc = msgRoundTrip(t, in, &SessionSetupRequest{})
	if len(enc) != 25 {
		t.Errorf("empty request: %d bytes", len(enc))
	}
}

// [MS-SMB2] 2.2.6.
func TestMsgSessionSetupResponse(t *testing.T) {
	blob := []byte{0xA1, 0x81, 0x02, 0x03, 0x04}
	in := &SessionSetupResponse{SessionFlags: SessionFlagEncryptData, SecurityBuffer: blob}
	enc := msgRoundTrip(t, in, &SessionSetupResponse{})
	want := msgBuf(8+5).u16(0, 9).u16(2, 4).u16(4, 72).u16(6, 5).put(8, blob)
	msgEqualBytes(t, "session setup response", enc, want)
	var r SessionSetupResponse
	msgPrefixesFail(t, "session setup response", enc, 0, r.Unmarshal)

	// The final response of a session setup may carry no blob: 8 bytes
	// are then a whole response.
	in = &SessionSetupResponse{SessionFlags: SessionFlagIsGuest}
	enc = msgRoundTrip(t, in, &SessionSetupResponse{})
	msgPrefixesFail(t, "session setup response, no blob", enc, 8, r.Unmarshal)

	for _, tc := range []struct {
		name string
		b    msgBytes
	}{
		{"structure size 8", msgBuf(9).u16(0, 8)},
		{"offset in header", msgBuf(9).u16(0, 9).u16(4, 60).u16(6, 1)},
		{"length past end", msgBuf(9).u16(0, 9).u16(4, 72).u16(6, 2)},
		{"offset past end", msgBuf(9).u16(0, 9).u16(4, 0xFFFF).u16(6, 0xFFFF)},
	} {
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(tc.b) }))
	}
}

// [MS-SMB2] 2.2.7, 2.2.8, 2.2.11, 2.2.12, 2.2.28, 2.2.29, 2.2.18, 2.2.27.
func TestMsgEmpty(t *testing.T) {
	enc := msgRoundTrip(t, Empty{}, Empty{})
	msgEqualBytes(t, "empty", enc, []byte{4, 0, 0, 0})
	msgPrefixesFail(t, "empty", enc, 0, Empty{}.Unmarshal)
	msgWantMalformed(t, "empty, size 2", Empty{}.Unmarshal([]byte{2, 0, 0, 0}))
	if err := (Empty{}).Unmarshal([]byte{4, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Errorf("padded empty body: %v", err)
	}
}

// [MS-SMB2] 2.2.9.
func TestMsgTreeConnectRequest(t *testing.T) {
	in := &TreeConnectRequest{Path: `\\srv\share`}
	enc := msgRoundTrip(t, in, &TreeConnectRequest{})
	want := msgBuf(8+22).u16(0, 9).u16(4, 72).u16(6, 22).put(8, EncodeUTF16(`\\srv\share`))
	msgEqualBytes(t, "tree connect request", enc, want)
	var r TreeConnectRequest
	msgPrefixesFail(t, "tree connect request", enc, 0, r.Unmarshal)
	msgWantMalformed(t, "odd path length", r.Unmarshal(msgBuf(11).u16(0, 9).u16(4, 72).u16(6, 3)))

	// An empty path still sends one Buffer byte.
	enc = msgRoundTrip(t, &TreeConnectRequest{Flags: 1}, &TreeConnectRequest{})
	if len(enc) != 9 {
		t.Errorf("empty path: %d bytes", len(enc))
	}
}

// [MS-SMB2] 2.2.10.
func TestMsgTreeConnectResponse(t *testing.T) {
	in := &TreeConnectResponse{ShareType: ShareTypeDisk, ShareFlags: ShareFlagEncryptData | 0x30,
		Capabilities: ShareCapContinuousAv | ShareCapScaleout, MaximalAccess: 0x001F01FF}
	enc := msgRoundTrip(t, in, &TreeConnectResponse{})
	want := msgBuf(16).u16(0, 16).u8(2, 1).u32(4, 0x8030).u32(8, 0x30).u32(12, 0x001F01FF)
	msgEqualBytes(t, "tree connect response", enc, want)
	var r TreeConnectResponse
	msgPrefixesFail(t, "tree connect response", enc, 0, r.Unmarshal)
	msgWantMalformed(t, "structure size 9", r.Unmarshal(msgBuf(16).u16(0, 9)))
}
