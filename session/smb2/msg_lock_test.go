package smb2

import (
	"bytes"
	"math"
	"testing"
)

// [MS-SMB2] 2.2.26 with 2.2.26.1 elements.
func TestMsgLockRequest(t *testing.T) {
	in := &LockRequest{LockSequence: 0x12, FileID: FileID{1, 2}, Locks: []LockElement{
		{Offset: 0, Length: 100, Flags: LockExclusive | LockFailImmediately},
		{Offset: 1 << 40, Length: math.MaxUint64, Flags: LockUnlock},
	}}
	enc := msgRoundTrip(t, in, &LockRequest{})
	want := msgBuf(24+48).u16(0, 48).u16(2, 2).u32(4, 0x12).u64(8, 1).u64(16, 2).
		u64(24, 0).u64(32, 100).u32(40, 0x12).u32(44, 0).
		u64(48, 1<<40).u64(56, math.MaxUint64).u32(64, 4).u32(68, 0)
	msgEqualBytes(t, "lock request", enc, want)
	var r LockRequest
	msgPrefixesFail(t, "lock request", enc, 0, r.Unmarshal)
	bad := append(msgBytes(nil), enc...)
	bad.u16(2, 0xFFFF)
	msgWantMalformed(t, "lock count 65535", r.Unmarshal(bad))
	bad.u16(2, 2).u16(0, 24)
	msgWantMalformed(t, "structure size 24", r.Unmarshal(bad))
}

// [MS-SMB2] 2.2.23.2.
func TestMsgLeaseBreakNotification(t *testing.T) {
	in := &LeaseBreakNotification{NewEpoch: 5, Flags: LeaseBreakAckRequired, LeaseKey: msgGUID(0x40),
		CurrentLeaseState: LeaseRead | LeaseHandle | LeaseWrite, NewLeaseState: LeaseRead}
	want := msgBuf(44).u16(0, 44).u16(2, 5).u32(4, 1).put(8, msgSeq(0x40, 16)).u32(24, 7).u32(28, 1).
		u32(32, 0).u32(36, 0).u32(40, 0) // BreakReason, AccessMaskHint, ShareMaskHint
	enc := in.Append(nil)
	msgEqualBytes(t, "lease break", enc, want)
	var got LeaseBreakNotification
	if err := got.Unmarshal(enc); err != nil || got != *in {
		t.Errorf("round trip %+v %v", got, err)
	}
	msgPrefixesFail(t, "lease break", enc, 0, got.Unmarshal)
	msgWantMalformed(t, "lease break as oplock break size", got.Unmarshal(msgBuf(44).u16(0, 24)))
}

// [MS-SMB2] 2.2.24.2.
func TestMsgLeaseBreakAck(t *testing.T) {
	in := &LeaseBreakAck{LeaseKey: msgGUID(0x40), LeaseState: LeaseRead}
	enc := in.Append(nil)
	msgEqualBytes(t, "lease break ack", enc, msgBuf(36).u16(0, 36).put(8, msgSeq(0x40, 16)).u32(24, 1).u64(28, 0))
	if in.Size() != len(enc) {
		t.Errorf("Size %d", in.Size())
	}
	if got := in.Append([]byte{7}); got[0] != 7 || !bytes.Equal(got[1:], enc) {
		t.Error("Append does not append")
	}
}

// [MS-SMB2] 2.2.23.1, 2.2.24.1.
func TestMsgOplockBreak(t *testing.T) {
	in := &OplockBreak{OplockLevel: OplockII, FileID: FileID{3, 4}}
	enc := msgRoundTrip(t, in, &OplockBreak{})
	msgEqualBytes(t, "oplock break", enc, msgBuf(24).u16(0, 24).u8(2, 1).u64(8, 3).u64(16, 4))
	var r OplockBreak
	msgPrefixesFail(t, "oplock break", enc, 0, r.Unmarshal)
	msgWantMalformed(t, "oplock break size 44", r.Unmarshal(msgBuf(44).u16(0, 44)))
}

// [MS-SMB2] 2.2.2.
func TestMsgErrorResponse(t *testing.T) {
	// A symlink error context-less response: ByteCount and ErrorData.
	in := &ErrorResponse{ErrorData: msgSeq(1, 12)}
	enc := in.Append(nil)
	want := msgBuf(8+12).u16(0, 9).u8(2, 0).u8(3, 0).u32(4, 12).put(8, msgSeq(1, 12))
	msgEqualBytes(t, "error response", enc, want)
	var r ErrorResponse
	if err := r.Unmarshal(enc); err != nil || r.ErrorContextCount != 0 || !bytes.Equal(r.ErrorData, in.ErrorData) || !msgWithin(enc, r.ErrorData) {
		t.Errorf("round trip %+v %v", r, err)
	}
	msgPrefixesFail(t, "error response", enc, 0, r.Unmarshal)

	// ByteCount 0: the server sends one ErrorData byte, which we accept
	// missing too (the 8-byte fixed part is whole).
	enc = (&ErrorResponse{ErrorContextCount: 0}).Append(nil)
	msgEqualBytes(t, "empty error response", enc, []byte{9, 0, 0, 0, 0, 0, 0, 0, 0})
	if err := r.Unmarshal(enc); err != nil || len(r.ErrorData) != 0 {
		t.Errorf("empty: %v %v", r.ErrorData, err)
	}
	msgPrefixesFail(t, "empty error response", enc, 8, r.Unmarshal)

	in = &ErrorResponse{ErrorContextCount: 1, ErrorData: msgSeq(0, 16)}
	enc = in.Append(nil)
	if err := r.Unmarshal(enc); err != nil || r.ErrorContextCount != 1 || enc[2] != 1 {
		t.Errorf("context count: %+v %v", r, err)
	}

	msgWantMalformed(t, "byte count huge", r.Unmarshal(msgBuf(9).u16(0, 9).u32(4, math.MaxUint32)))
	msgWantMalformed(t, "byte count past end", r.Unmarshal(msgBuf(9).u16(0, 9).u32(4, 2)))
	msgWantMalformed(t, "structure size", r.Unmarshal(msgBuf(9).u16(0, 8)))

	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{enc, true},
		{msgBuf(8).u16(0, 9), true},
		{msgBuf(7).u16(0, 9), false},
		{msgBuf(16).u16(0, 17), false},
		{nil, false},
	} {
		if IsErrorResponse(tc.b) != tc.want {
			t.Errorf("IsErrorResponse(% x) = %v", tc.b, !tc.want)
		}
	}
}
