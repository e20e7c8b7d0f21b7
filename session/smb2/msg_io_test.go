package smb2

import (
	"bytes"
	"math"
	"testing"
)

// [MS-SMB2] 2.2.19.
func TestMsgReadRequest(t *testing.T) {
	in := &ReadRequest{Padding: 0x50, Flags: ReadFlagUnbuffered, Length: 1 << 20, Offset: 0x123456789, FileID: FileID{1, 2},
		MinimumCount: 1, Channel: ChannelNone, RemainingBytes: 0}
	enc := msgRoundTrip(t, in, &ReadRequest{})
	want := msgBuf(49).u16(0, 49).u8(2, 0x50).u8(3, 1).u32(4, 1<<20).u64(8, 0x123456789).u64(16, 1).u64(24, 2).
		u32(32, 1).u32(36, 0).u32(40, 0).u16(44, 0).u16(46, 0) // Buffer: one zero byte
	msgEqualBytes(t, "read request", enc, want)
	var r ReadRequest
	msgPrefixesFail(t, "read request", enc, 48, r.Unmarshal)

	// RDMA: a Buffer Descriptor V1 (16 bytes) as ReadChannelInfo at 112.
	in = &ReadRequest{Length: 1 << 20, FileID: FileID{3, 4}, Channel: ChannelRDMAV1, RemainingBytes: 1 << 20, ChannelInfo: msgSeq(0x40, 16)}
	enc = msgRoundTrip(t, in, &ReadRequest{})
	if len(enc) != 64 || le16(enc[44:]) != 112 || le16(enc[46:]) != 16 || !bytes.Equal(enc[48:], msgSeq(0x40, 16)) {
		t.Errorf("rdma read request % x", enc)
	}
	msgPrefixesFail(t, "rdma read request", enc, 0, r.Unmarshal)
}

// msgReadResponseFixture is a READ response body from [MS-SMB2] 2.2.20:
// DataOffset 0x50 (the header plus the 16-byte fixed part), 11 data bytes.
func msgReadResponseFixture() []byte {
	return msgBuf(16+11).
		u16(0, 17).   // StructureSize
		u8(2, 0x50).  // DataOffset (from the header)
		u8(3, 0).     // Reserved
		u32(4, 11).   // DataLength
		u32(8, 4096). // DataRemaining
		u32(12, 0).   // Flags / Reserved2
		put(16, []byte("hello world"))
}

func TestMsgReadResponse(t *testing.T) {
	fix := msgReadResponseFixture()
	in := &ReadResponse{DataRemaining: 4096, Data: []byte("hello world")}
	enc := msgRoundTrip(t, in, &ReadResponse{})
	msgEqualBytes(t, "read response", enc, fix)
	off, n, err := ReadResponseData(fix[:ReadResponseFixed])
	if err != nil || off != 0x50 || n != 11 {
		t.Errorf("ReadResponseData %d %d %v", off, n, err)
	}
	var r ReadResponse
	if err := r.Unmarshal(fix); err != nil || !msgWithin(fix, r.Data) || string(r.Data) != "hello world" {
		t.Errorf("decode %q %v", r.Data, err)
	}
	msgPrefixesFail(t, "read response", fix, 0, r.Unmarshal)
	msgPrefixesFail(t, "ReadResponseData", fix, ReadResponseFixed, func(b []byte) error { _, _, err := ReadResponseData(b); return err })

	// A zero-byte read (at end of file servers answer STATUS_END_OF_FILE,
	// but a 0-byte success is legal): the 16-byte fixed part is whole.
	empty := &ReadResponse{}
	enc = msgRoundTrip(t, empty, &ReadResponse{})
	msgPrefixesFail(t, "empty read response", enc, 16, r.Unmarshal)

	// Data need not start right after the fixed part.
	padded := msgBuf(16+8+3).u16(0, 17).u8(2, 0x58).u32(4, 3).put(24, []byte("abc"))
	if err := r.Unmarshal(padded); err != nil || string(r.Data) != "abc" {
		t.Errorf("padded %q %v", r.Data, err)
	}

	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"structure size 16", func(b msgBytes) { b.u16(0, 16) }},
		{"data offset in header", func(b msgBytes) { b.u8(2, 0x40-1) }},
		{"data offset 0", func(b msgBytes) { b.u8(2, 0) }},
		{"data offset past end", func(b msgBytes) { b.u8(2, 0xFF) }},
		{"data length past end", func(b msgBytes) { b.u32(4, 12) }},
		{"data length huge", func(b msgBytes) { b.u32(4, math.MaxUint32) }},
	} {
		b := append(msgBytes(nil), fix...)
		tc.mod(b)
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(b) }))
	}
}

// [MS-SMB2] 2.2.21.
func TestMsgWriteRequest(t *testing.T) {
	in := &WriteRequest{Offset: 4096, FileID: FileID{5, 6}, Flags: WriteFlagWriteThrough, Length: 5, Data: []byte("abcde")}
	enc := msgRoundTrip(t, in, &WriteRequest{})
	want := msgBuf(48+5).u16(0, 49).u16(2, 112).u32(4, 5).u64(8, 4096).u64(16, 5).u64(24, 6).u32(32, 0).u32(36, 0).
		u16(40, 0).u16(42, 0).u32(44, 1).put(48, []byte("abcde"))
	msgEqualBytes(t, "write request", enc, want)
	var r WriteRequest
	msgPrefixesFail(t, "write request", enc, 0, r.Unmarshal)
	if fixed := in.AppendFixed(nil); !bytes.Equal(fixed, enc[:WriteRequestFixed]) {
		t.Errorf("AppendFixed % x", fixed)
	}

	// The caller may send the data after the body without copying it
	// (WriteRequest with Length and no Data): the body must then be the
	// fixed part only, DataOffset pointing right after it.
	zc := &WriteRequest{Offset: 4096, FileID: FileID{5, 6}, Flags: WriteFlagWriteThrough, Length: 5}
	body := zc.Append(nil)
	if zc.Size() != len(body) || len(body) != 48 {
		t.Errorf("zero-copy body: Size %d, %d bytes", zc.Size(), len(body))
	}
	msg := append(body, "abcde"...)
	msgEqualBytes(t, "zero-copy write", msg, enc)
	if err := r.Unmarshal(msg); err != nil || string(r.Data) != "abcde" {
		t.Errorf("zero-copy write decodes to %q %v", r.Data, err)
	}

	// Nothing to write: one Buffer byte.
	in = &WriteRequest{FileID: FileID{1, 1}}
	enc = msgRoundTrip(t, in, &WriteRequest{})
	if len(enc) != 49 || le16(enc[2:]) != 112 {
		t.Errorf("empty write % x", enc)
	}

	// RDMA: Data empty, the length in Length and RemainingBytes, and a
	// Buffer Descriptor V1 as WriteChannelInfo at 112.
	in = &WriteRequest{Offset: 1 << 30, FileID: FileID{7, 8}, Channel: ChannelRDMAV1Invalidate, RemainingBytes: 1 << 20,
		Length: 1 << 20, ChannelInfo: msgSeq(0x60, 16)}
	enc = msgRoundTrip(t, in, &WriteRequest{})
	if len(enc) != 64 || le16(enc[40:]) != 112 || le16(enc[42:]) != 16 || le32(enc[32:]) != 2 {
		t.Errorf("rdma write % x", enc)
	}
	msgPrefixesFail(t, "rdma write request", enc, 0, r.Unmarshal)

	bad := append(msgBytes(nil), want...)
	bad.u32(4, 6)
	msgWantMalformed(t, "length past end", r.Unmarshal(bad))
	bad.u32(4, 5).u16(2, 10)
	msgWantMalformed(t, "data offset in header", r.Unmarshal(bad))
}

// [MS-SMB2] 2.2.22.
func TestMsgWriteResponse(t *testing.T) {
	in := &WriteResponse{Count: 65536, Remaining: 0}
	enc := msgRoundTrip(t, in, &WriteResponse{})
	msgEqualBytes(t, "write response", enc, msgBuf(16).u16(0, 17).u32(4, 65536))
	var r WriteResponse
	msgPrefixesFail(t, "write response", enc, 0, r.Unmarshal)
	msgWantMalformed(t, "structure size", r.Unmarshal(msgBuf(16).u16(0, 16)))
}

// [MS-SMB2] 2.2.17, 2.2.15, 2.2.16.
func TestMsgFlushClose(t *testing.T) {
	fl := &FlushRequest{FileID: FileID{0x0102, 0x0304}}
	enc := msgRoundTrip(t, fl, &FlushRequest{})
	msgEqualBytes(t, "flush request", enc, msgBuf(24).u16(0, 24).u64(8, 0x0102).u64(16, 0x0304))
	msgPrefixesFail(t, "flush request", enc, 0, (&FlushRequest{}).Unmarshal)

	cl := &CloseRequest{Flags: CloseFlagPostQueryAttrib, FileID: FileID{9, 10}}
	enc = msgRoundTrip(t, cl, &CloseRequest{})
	msgEqualBytes(t, "close request", enc, msgBuf(24).u16(0, 24).u16(2, 1).u64(8, 9).u64(16, 10))
	msgPrefixesFail(t, "close request", enc, 0, (&CloseRequest{}).Unmarshal)

	cr := &CloseResponse{Flags: CloseFlagPostQueryAttrib, FileTimes: FileTimes{1, 2, 3, 4, 8192, 5000, 0x10}}
	enc = msgRoundTrip(t, cr, &CloseResponse{})
	want := msgBuf(60).u16(0, 60).u16(2, 1).u32(4, 0).u64(8, 1).u64(16, 2).u64(24, 3).u64(32, 4).
		u64(40, 8192).u64(48, 5000).u32(56, 0x10)
	msgEqualBytes(t, "close response", enc, want)
	var r CloseResponse
	msgPrefixesFail(t, "close response", enc, 0, r.Unmarshal)
	msgWantMalformed(t, "close response size", r.Unmarshal(msgBuf(60).u16(0, 24)))
	msgWantMalformed(t, "flush size", (&FlushRequest{}).Unmarshal(msgBuf(24).u16(0, 4)))
}
