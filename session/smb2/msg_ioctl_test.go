package smb2

import (
	"bytes"
	"math"
	"net/netip"
	"reflect"
	"testing"
)

// [MS-SMB2] 2.2.31 with a VALIDATE_NEGOTIATE_INFO request (2.2.31.4).
func TestMsgIoctlRequest(t *testing.T) {
	vni := &ValidateNegotiateInfo{Capabilities: CapLargeMTU | CapEncryption, GUID: msgGUID(0x30), SecurityMode: SigningEnabled,
		Dialects: []Dialect{Dialect300, Dialect302, Dialect311}}
	input := vni.AppendRequest(nil)
	msgEqualBytes(t, "validate negotiate request", input,
		msgBuf(24+6).u32(0, 0x44).put(4, msgSeq(0x30, 16)).u16(20, 1).u16(22, 3).u16(24, 0x300).u16(26, 0x302).u16(28, 0x311))

	in := &IoctlRequest{CtlCode: FsctlValidateNegotiateInfo, FileID: AnyFileID, Input: input, MaxOutputResponse: 24, Flags: IoctlFlagIsFsctl}
	enc := msgRoundTrip(t, in, &IoctlRequest{})
	want := msgBuf(56+30).u16(0, 57).u16(2, 0).u32(4, 0x00140204).u64(8, math.MaxUint64).u64(16, math.MaxUint64).
		u32(24, 120).u32(28, 30).u32(32, 0).u32(36, 0).u32(40, 0).u32(44, 24).u32(48, 1).u32(52, 0).put(56, input)
	msgEqualBytes(t, "ioctl request", enc, want)
	var r IoctlRequest
	msgPrefixesFail(t, "ioctl request", enc, 0, r.Unmarshal)

	// No input: offset 0, one Buffer byte.
	in = &IoctlRequest{CtlCode: FsctlQueryNetworkInterfaceInfo, FileID: AnyFileID, MaxOutputResponse: 65536, Flags: IoctlFlagIsFsctl}
	enc = msgRoundTrip(t, in, &IoctlRequest{})
	if len(enc) != 57 || le32(enc[24:]) != 0 || le32(enc[28:]) != 0 {
		t.Errorf("no input % x", enc)
	}
}

// msgIoctlValidateResponseFixture is an IOCTL response body ([MS-SMB2]
// 2.2.32) carrying a VALIDATE_NEGOTIATE_INFO response (2.2.32.6), as
// Windows sends it: InputOffset = OutputOffset = 0x70, InputCount 0.
func msgIoctlValidateResponseFixture() []byte {
	return msgBuf(48+24).
		u16(0, 49).                 // StructureSize
		u16(2, 0).                  // Reserved
		u32(4, 0x00140204).         // CtlCode
		u64(8, math.MaxUint64).     // FileId.Persistent
		u64(16, math.MaxUint64).    // FileId.Volatile
		u32(24, 0x70).              // InputOffset
		u32(28, 0).                 // InputCount
		u32(32, 0x70).              // OutputOffset
		u32(36, 24).                // OutputCount
		u32(40, 0).                 // Flags
		u32(44, 0).                 // Reserved2
		u32(48, 0x4F).              // Capabilities
		put(52, msgSeq(0x10, 16)).  // Guid
		u16(68, SigningEnabled).    // SecurityMode
		u16(70, uint16(Dialect311)) // Dialect
}

func TestMsgIoctlResponseValidateNegotiate(t *testing.T) {
	fix := msgIoctlValidateResponseFixture()
	vni := &ValidateNegotiateInfo{Capabilities: 0x4F, GUID: msgGUID(0x10), SecurityMode: SigningEnabled, Dialects: []Dialect{Dialect311}}
	in := &IoctlResponse{CtlCode: FsctlValidateNegotiateInfo, FileID: AnyFileID, Output: vni.AppendResponse(nil)}
	enc := msgRoundTrip(t, in, &IoctlResponse{})
	msgEqualBytes(t, "ioctl response", enc, fix)

	var r IoctlResponse
	if err := r.Unmarshal(fix); err != nil || r.Input != nil || !msgWithin(fix, r.Output) {
		t.Fatalf("%+v %v", r, err)
	}
	var got ValidateNegotiateInfo
	if err := got.UnmarshalResponse(r.Output); err != nil || !reflect.DeepEqual(&got, vni) {
		t.Errorf("validate negotiate %+v %v", got, err)
	}
	msgPrefixesFail(t, "ioctl response", fix, 0, r.Unmarshal)
	msgPrefixesFail(t, "validate negotiate response", r.Output, 0, got.UnmarshalResponse)

	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"structure size", func(b msgBytes) { b.u16(0, 48) }},
		{"output offset in header", func(b msgBytes) { b.u32(32, 0) }},
		{"output offset past end", func(b msgBytes) { b.u32(32, 0x71) }},
		{"output offset huge", func(b msgBytes) { b.u32(32, math.MaxUint32) }},
		{"output count huge", func(b msgBytes) { b.u32(36, math.MaxUint32) }},
		{"input count past end", func(b msgBytes) { b.u32(28, 25) }},
		{"input offset in header", func(b msgBytes) { b.u32(24, 0x10).u32(28, 4) }},
	} {
		b := append(msgBytes(nil), fix...)
		tc.mod(b)
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(b) }))
	}
	// OutputCount 0: the OutputOffset is ignored ([MS-SMB2] 3.2.5.14).
	b := append(msgBytes(nil), fix[:48]...)
	b.u32(32, math.MaxUint32).u32(36, 0)
	if err := r.Unmarshal(b); err != nil || r.Output != nil {
		t.Errorf("no output: %v", err)
	}
}

// With input echoed back (pass-through), the output starts at InputOffset +
// InputCount rounded up to a multiple of 8 ([MS-SMB2] 2.2.32).
func TestMsgIoctlResponseOutputAligned(t *testing.T) {
	for n := 0; n <= 9; n++ {
		in := &IoctlResponse{CtlCode: FsctlPipeTransceive, FileID: FileID{1, 2}, Input: msgSeq(0x20, n), Output: msgSeq(0x80, 5)}
		if n == 0 {
			in.Input = nil
		}
		enc := msgRoundTrip(t, in, &IoctlResponse{})
		oo := le32(enc[32:])
		if oo%8 != 0 || oo < 112+uint32(n) || oo >= 112+uint32(n)+8 || !bytes.Equal(enc[oo-64:], in.Output) {
			t.Errorf("input %d: output offset %d\n% x", n, oo, enc)
		}
		msgPrefixesFail(t, "ioctl response with input", enc, 0, (&IoctlResponse{}).Unmarshal)
	}
	// No output at all.
	enc := msgRoundTrip(t, &IoctlResponse{CtlCode: FsctlSetSparse, FileID: FileID{1, 2}}, &IoctlResponse{})
	if len(enc) != 48 {
		t.Errorf("no output: % x", enc)
	}
}

// msgInterfacesFixture is a FSCTL_QUERY_NETWORK_INTERFACE_INFO output of two
// 152-byte NETWORK_INTERFACE_INFO entries ([MS-SMB2] 2.2.32.5) with
// SOCKADDR_STORAGE (2.2.32.5.1): 10.0.0.5 on interface 3 (RSS, 10 Gb/s),
// then fe80::1%3 on interface 4 (RSS+RDMA, 25 Gb/s).
func msgInterfacesFixture() []byte {
	b := msgBuf(2 * 152)
	b.u32(0, 152).u32(4, 3).u32(8, InterfaceRSSCapable).u32(12, 0).u64(16, 10_000_000_000).
		u16(24, 0x0002).             // Family InterNetwork
		u16(26, 0).                  // Port
		put(28, []byte{10, 0, 0, 5}) // IPv4Address, then 8 reserved bytes
	e := b[152:]
	e.u32(0, 0).u32(4, 4).u32(8, InterfaceRSSCapable|InterfaceRDMACapable).u64(16, 25_000_000_000).
		u16(24, 0x0017). // Family InterNetworkV6
		u16(26, 0).      // Port
		u32(28, 0).      // FlowInfo
		put(32, netip.MustParseAddr("fe80::1").AsSlice()).
		u32(48, 3) // ScopeId
	return b
}

func msgInterfacesValue() []NetworkInterface {
	return []NetworkInterface{
		{IfIndex: 3, Capability: InterfaceRSSCapable, LinkSpeed: 10_000_000_000, Family: 2, Addr: []byte{10, 0, 0, 5}},
		{IfIndex: 4, Capability: InterfaceRSSCapable | InterfaceRDMACapable, LinkSpeed: 25_000_000_000, Family: 0x17,
			Addr: netip.MustParseAddr("fe80::1").AsSlice(), ScopeID: 3},
	}
}

func TestMsgNetworkInterfaces(t *testing.T) {
	fix := msgInterfacesFixture()
	want := msgInterfacesValue()
	msgEqualBytes(t, "network interfaces", AppendNetworkInterfaces(nil, want), fix)
	got, err := ParseNetworkInterfaces(fix)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v %v", got, err)
	}
	// Addr is a copy, not an alias of the message buffer.
	got[0].Addr[0] = 99
	if fix[28] != 10 {
		t.Error("Addr aliases the input")
	}
	// The empty list decodes to no interfaces; every other prefix fails,
	// including the first entry alone, whose Next promises a second.
	if ifs, err := ParseNetworkInterfaces(nil); err != nil || len(ifs) != 0 {
		t.Errorf("empty: %v %v", ifs, err)
	}
	for n := 1; n < len(fix); n++ {
		_, err := ParseNetworkInterfaces(fix[:n:n])
		msgWantMalformed(t, "interface list prefix", err)
	}
	// An unknown family keeps the entry without an address.
	b := append(msgBytes(nil), fix[:152]...)
	b.u32(0, 0).u16(24, 0x1E)
	if ifs, err := ParseNetworkInterfaces(b); err != nil || len(ifs) != 1 || ifs[0].Addr != nil || ifs[0].Family != 0x1E {
		t.Errorf("unknown family %+v %v", ifs, err)
	}
	// A Next larger than 152 (padding between entries) is followed.
	gap := append(append(append(msgBytes(nil), fix[:152]...), make([]byte, 8)...), fix[152:]...)
	gap.u32(0, 160)
	if ifs, err := ParseNetworkInterfaces(gap); err != nil || !reflect.DeepEqual(ifs, want) {
		t.Errorf("Next 160: %+v %v", ifs, err)
	}
}

func TestMsgNetworkInterfacesRejects(t *testing.T) {
	fix := msgInterfacesFixture()
	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"next 1", func(b msgBytes) { b.u32(0, 1) }},
		{"next 8", func(b msgBytes) { b.u32(0, 8) }},
		{"next 151", func(b msgBytes) { b.u32(0, 151) }},
		{"next past end", func(b msgBytes) { b.u32(0, 153) }},
		{"next to end", func(b msgBytes) { b.u32(0, 304) }},
		{"next huge", func(b msgBytes) { b.u32(0, math.MaxUint32) }},
		{"last next nonzero", func(b msgBytes) { b.u32(152, 152) }},
	} {
		b := append(msgBytes(nil), fix...)
		tc.mod(b)
		_, err := ParseNetworkInterfaces(b)
		msgWantMalformed(t, tc.name, err)
	}
	// Many entries chained by Next 152: linear, no loop.
	many := AppendNetworkInterfaces(nil, make([]NetworkInterface, 1000))
	if ifs, err := ParseNetworkInterfaces(many); err != nil || len(ifs) != 1000 {
		t.Errorf("1000 entries: %d %v", len(ifs), err)
	}
}

func TestMsgValidateNegotiateInfo(t *testing.T) {
	v := &ValidateNegotiateInfo{Capabilities: 1, GUID: msgGUID(0), SecurityMode: SigningRequired, Dialects: []Dialect{Dialect302}}
	enc := v.AppendResponse(nil)
	msgEqualBytes(t, "validate negotiate response", enc, msgBuf(24).u32(0, 1).put(4, msgSeq(0, 16)).u16(20, 2).u16(22, 0x302))
	var got ValidateNegotiateInfo
	if err := got.UnmarshalResponse(enc); err != nil || !reflect.DeepEqual(&got, v) {
		t.Errorf("%+v %v", got, err)
	}
	msgPrefixesFail(t, "validate negotiate response", enc, 0, got.UnmarshalResponse)
}

// [MS-SMB2] 2.2.31.1 SRV_COPYCHUNK_COPY with two SRV_COPYCHUNKs (2.2.31.1.1),
// 2.2.32.3 SRV_REQUEST_RESUME_KEY and 2.2.32.1 SRV_COPYCHUNK_RESPONSE.
func TestMsgCopyChunk(t *testing.T) {
	var key [ResumeKeySize]byte
	copy(key[:], msgSeq(0x40, ResumeKeySize))
	enc := AppendCopyChunkCopy(nil, key, []CopyChunk{
		{SourceOffset: 0x1000, TargetOffset: 0x2000, Length: 1 << 20},
		{SourceOffset: 0x101000, TargetOffset: 7, Length: 5},
	})
	want := msgBuf(32+2*24).put(0, msgSeq(0x40, 24)).u32(24, 2).u32(28, 0).
		u64(32, 0x1000).u64(40, 0x2000).u32(48, 1<<20).u32(52, 0).
		u64(56, 0x101000).u64(64, 7).u32(72, 5).u32(76, 0)
	msgEqualBytes(t, "copychunk copy", enc, want)

	rk := msgBuf(24+4+4).put(0, msgSeq(0x40, 24)).u32(24, 4).u32(28, 0xdeadbeef) // with a context
	got, err := ParseResumeKey(rk)
	if err != nil || got != key {
		t.Fatalf("resume key %x, %v", got, err)
	}
	msgPrefixesFail(t, "resume key", rk, 28, func(b []byte) error { _, err := ParseResumeKey(b); return err })

	r := &CopyChunkResponse{ChunksWritten: 2, ChunkBytesWritten: 5, TotalBytesWritten: 1<<20 + 5}
	msgEqualBytes(t, "copychunk response", msgRoundTrip(t, r, &CopyChunkResponse{}),
		msgBuf(12).u32(0, 2).u32(4, 5).u32(8, 1<<20+5))
}
