package smb2

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// msgCreateResponseFixture is a CREATE response body laid out by hand from
// [MS-SMB2] 2.2.14 with three response create contexts (2.2.13.2), the
// chain at body 88 (header offset 152), each entry 8-byte aligned:
//
//	ctx  0: "MxAc" QUERY_MAXIMAL_ACCESS_RESPONSE (2.2.14.2.5), 8 data bytes; Next 32
//	ctx 32: "RqLs" lease V2 response (2.2.14.2.11), 52 data bytes, 4 pad; Next 80
//	ctx112: "QFid" QUERY_ON_DISK_ID response (2.2.14.2.9), 32 data bytes; Next 0
func msgCreateResponseFixture() []byte {
	b := msgBuf(88+168).
		u16(0, 89).                  // StructureSize
		u8(2, OplockLease).          // OplockLevel
		u8(3, 0).                    // Flags
		u32(4, FileOpened).          // CreateAction
		u64(8, 0x01D0000000000001).  // CreationTime
		u64(16, 0x01D0000000000002). // LastAccessTime
		u64(24, 0x01D0000000000003). // LastWriteTime
		u64(32, 0x01D0000000000004). // ChangeTime
		u64(40, 4096).               // AllocationSize
		u64(48, 1234).               // EndofFile
		u32(56, 0x20).               // FileAttributes: ARCHIVE
		u32(60, 0).                  // Reserved2
		u64(64, 0x1111).             // FileId.Persistent
		u64(72, 0x2222).             // FileId.Volatile
		u32(80, 152).                // CreateContextsOffset (from the header)
		u32(84, 168)                 // CreateContextsLength
	c := b[88:]
	// MxAc: Next, NameOffset 16, NameLength 4, Reserved, DataOffset 24, DataLength 8.
	c.u32(0, 32).u16(4, 16).u16(6, 4).u16(10, 24).u32(12, 8).put(16, []byte("MxAc")).
		u32(24, 0).u32(28, 0x001F01FF) // QueryStatus, MaximalAccess
	// RqLs: lease V2 response.
	c.u32(32, 80).u16(36, 16).u16(38, 4).u16(42, 24).u32(44, 52).put(48, []byte("RqLs")).
		put(56, msgSeq(0xA0, 16)).u32(72, LeaseRead|LeaseHandle).u32(76, 0x4). // LeaseKey, LeaseState, Flags (PARENT_LEASE_KEY_SET)
		u64(80, 0).put(88, msgSeq(0xB0, 16)).u16(104, 3)                       // LeaseDuration, ParentLeaseKey, Epoch
	// QFid: DiskFileId, VolumeId, Reserved.
	c.u32(112, 0).u16(116, 16).u16(118, 4).u16(122, 24).u32(124, 32).put(128, []byte("QFid")).
		put(136, msgSeq(0xD0, 32))
	return b
}

func msgCreateResponseValue() *CreateResponse {
	lease := (&LeaseV2{Key: msgGUID(0xA0), State: LeaseRead | LeaseHandle, Flags: 4, ParentKey: msgGUID(0xB0), Epoch: 3}).Append(nil)
	return &CreateResponse{
		OplockLevel:  OplockLease,
		CreateAction: FileOpened,
		FileTimes: FileTimes{CreationTime: 0x01D0000000000001, LastAccessTime: 0x01D0000000000002,
			LastWriteTime: 0x01D0000000000003, ChangeTime: 0x01D0000000000004, AllocationSize: 4096, EndOfFile: 1234, FileAttributes: 0x20},
		FileID: FileID{0x1111, 0x2222},
		Contexts: []CreateContext{
			{CtxNameMaximalAccess, []byte{0, 0, 0, 0, 0xFF, 0x01, 0x1F, 0x00}},
			{CtxNameLease, lease},
			{CtxNameQueryOnDiskID, msgSeq(0xD0, 32)},
		},
	}
}

func TestMsgCreateResponseFixture(t *testing.T) {
	fix := msgCreateResponseFixture()
	in := msgCreateResponseValue()
	enc := msgRoundTrip(t, in, &CreateResponse{})
	msgEqualBytes(t, "create response", enc, fix)

	var r CreateResponse
	if err := r.Unmarshal(fix); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&r, in) {
		t.Errorf("fixture decodes to %+v", r)
	}
	d, ok := FindCreateContext(r.Contexts, CtxNameLease)
	var l LeaseV2
	if !ok || l.Unmarshal(d) != nil || l.Key != msgGUID(0xA0) || l.State != 3 || l.ParentKey != msgGUID(0xB0) || l.Epoch != 3 {
		t.Errorf("lease %v %+v", ok, l)
	}
	if _, ok := FindCreateContext(r.Contexts, CtxNameDurableV2); ok {
		t.Error("found DH2Q")
	}
	// Every create context starts 8-byte aligned from the header.
	for off := 88; ; {
		if (64+off)%8 != 0 {
			t.Errorf("context at body %d unaligned", off)
		}
		next := int(le32(fix[off:]))
		if next == 0 {
			break
		}
		off += next
	}
	msgPrefixesFail(t, "create response", fix, 0, func(b []byte) error { var r CreateResponse; return r.Unmarshal(b) })
}

// A CREATE response without contexts is 88 bytes: StructureSize 89 counts a
// Buffer byte, but nothing needs to follow the fixed part.
func TestMsgCreateResponseNoContexts(t *testing.T) {
	in := msgCreateResponseValue()
	in.Contexts = nil
	enc := msgRoundTrip(t, in, &CreateResponse{})
	if len(enc) != 88 || le32(enc[80:]) != 0 || le32(enc[84:]) != 0 {
		t.Errorf("% x", enc)
	}
	var r CreateResponse
	msgPrefixesFail(t, "create response, no contexts", enc, 88, r.Unmarshal)
}

func TestMsgCreateResponseRejects(t *testing.T) {
	fix := msgCreateResponseFixture()
	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"structure size 88", func(b msgBytes) { b.u16(0, 88) }},
		{"contexts offset in header", func(b msgBytes) { b.u32(80, 60) }},
		{"contexts offset past end", func(b msgBytes) { b.u32(80, 0xFFFFFFF0) }},
		{"contexts length past end", func(b msgBytes) { b.u32(84, 169) }},
		{"contexts length huge", func(b msgBytes) { b.u32(84, math.MaxUint32) }},
		{"contexts length short", func(b msgBytes) { b.u32(84, 167) }},
		{"contexts length 8", func(b msgBytes) { b.u32(84, 8) }},
		{"next past chain", func(b msgBytes) { b.u32(88+112, 64) }},
		{"next 8", func(b msgBytes) { b.u32(88, 8) }},
		{"next 0xFFFFFFFF", func(b msgBytes) { b.u32(88, math.MaxUint32) }},
		{"name past next", func(b msgBytes) { b.u16(88+4, 30) }},
		{"name length huge", func(b msgBytes) { b.u16(88+6, 0xFFFF) }},
		{"name in entry header", func(b msgBytes) { b.u16(88+4, 0) }},
		{"data offset in entry header", func(b msgBytes) { b.u16(88+10, 8) }},
		{"data offset 0", func(b msgBytes) { b.u16(88+10, 0) }},
		{"data past next", func(b msgBytes) { b.u32(88+12, 9) }},
		{"data length huge", func(b msgBytes) { b.u32(88+12, math.MaxUint32) }},
		{"data length 2^31", func(b msgBytes) { b.u32(88+12, 1<<31) }},
		{"data length 2^31-16", func(b msgBytes) { b.u32(88+12, 1<<31-16) }},
		{"data offset huge", func(b msgBytes) { b.u16(88+10, 0xFFFF) }},
		{"last data past end", func(b msgBytes) { b.u32(88+112+12, 33) }},
	} {
		b := append(msgBytes(nil), fix...)
		tc.mod(b)
		var r CreateResponse
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(b) }))
	}
}

func TestMsgParseCreateContexts(t *testing.T) {
	chain := appendCreateContexts(nil, []CreateContext{{"A", nil}, {"", []byte{1}}, {"Long name!", msgSeq(0, 9)}})
	got, err := ParseCreateContexts(chain)
	if err != nil || len(got) != 3 || got[0].Name != "A" || got[0].Data != nil || got[1].Name != "" ||
		!bytes.Equal(got[1].Data, []byte{1}) || !bytes.Equal(got[2].Data, msgSeq(0, 9)) {
		t.Fatalf("%+v %v", got, err)
	}
	if n := createContextsSize([]CreateContext{{"A", nil}, {"", []byte{1}}, {"Long name!", msgSeq(0, 9)}}); n != len(chain) {
		t.Errorf("size %d, encoded %d", n, len(chain))
	}
	// "A": 16+8 = 24; "" + 1 byte: 17 -> 24; last: 16+16+9 = 41.
	if len(chain) != 24+24+41 || le32(chain) != 24 || le32(chain[24:]) != 24 || le32(chain[48:]) != 0 {
		t.Errorf("layout % x", chain)
	}
	if le16(chain[10:]) != 0 || le16(chain[24+10:]) != 16 || le16(chain[48+10:]) != 32 {
		t.Errorf("data offsets %d %d %d", le16(chain[10:]), le16(chain[24+10:]), le16(chain[48+10:]))
	}
	msgPrefixesFail(t, "create contexts", chain, 0, func(b []byte) error { _, err := ParseCreateContexts(b); return err })

	// A chain of minimal 16-byte entries, each Next 16: no loop, linear,
	// and the last one must end the chain.
	loop := bytes.Repeat(msgBuf(16).u32(0, 16), 1000)
	_, err = ParseCreateContexts(loop)
	msgWantMalformed(t, "chain without end", err)
	msgBytes(loop).u32(len(loop)-16, 0)
	if got, err := ParseCreateContexts(loop); err != nil || len(got) != 1000 {
		t.Errorf("1000 empty contexts: %d %v", len(got), err)
	}
	// Next = 0 on a longer buffer: the rest is ignored (the last entry
	// need not fill the buffer).
	if got, err := ParseCreateContexts(append(msgBuf(16), 0xEE, 0xEE)); err != nil || len(got) != 1 {
		t.Errorf("trailing bytes: %v %v", got, err)
	}
	// An empty name needs no offset, but a wild one is still rejected.
	if got, err := ParseCreateContexts(msgBuf(16)); err != nil || got[0].Name != "" {
		t.Errorf("empty name: %v %v", got, err)
	}
	_, err = ParseCreateContexts(msgBuf(16).u16(4, 0xFFFF))
	msgWantMalformed(t, "empty name, wild offset", err)
}

// [MS-SMB2] 2.2.13.
func TestMsgCreateRequest(t *testing.T) {
	lease := &LeaseV2{Key: msgGUID(1), State: LeaseRead | LeaseWrite | LeaseHandle}
	in := &CreateRequest{
		RequestedOplockLevel: OplockLease,
		ImpersonationLevel:   ImpersonationImpersonation,
		DesiredAccess:        GenericRead | FileReadAttributes,
		FileAttributes:       0x80,
		ShareAccess:          ShareAll,
		CreateDisposition:    FileOpenIf,
		CreateOptions:        FileNonDirectoryFile,
		Name:                 `dir\file.txt`,
		Contexts: []CreateContext{
			{CtxNameMaximalAccess, nil},
			{CtxNameLease, lease.Append(nil)},
			{CtxNameQueryOnDiskID, nil},
		},
	}
	enc := msgRoundTrip(t, in, &CreateRequest{})
	nameLen := 2 * len(`dir\file.txt`)
	want := msgBuf(56).u16(0, 57).u8(2, 0).u8(3, 0xFF).u32(4, 2).u32(24, 0x80000080).u32(28, 0x80).u32(32, 7).
		u32(36, 3).u32(40, 0x40).u16(44, 120).u16(46, uint16(nameLen)).
		u32(48, uint32(64+(56+nameLen+7)&^7)).u32(52, uint32(24+(16+8+52+4)+24))
	msgEqualBytes(t, "create request fixed part", enc[:56], want)
	if !bytes.Equal(enc[56:56+nameLen], EncodeUTF16(in.Name)) {
		t.Error("name")
	}
	if co := le32(enc[48:]); co%8 != 0 {
		t.Errorf("contexts offset %d unaligned", co)
	}
	var r CreateRequest
	msgPrefixesFail(t, "create request", enc, 0, r.Unmarshal)

	// An empty name (the share root) without contexts sends one Buffer byte.
	root := &CreateRequest{DesiredAccess: FileReadAttributes, CreateDisposition: FileOpen, CreateOptions: FileDirectoryFile}
	enc = msgRoundTrip(t, root, &CreateRequest{})
	if len(enc) != 57 || le16(enc[46:]) != 0 || le32(enc[48:]) != 0 {
		t.Errorf("root: % x", enc)
	}
	// An empty name with contexts: the contexts are the Buffer, at 120.
	root.Contexts = []CreateContext{{CtxNameMaximalAccess, nil}}
	enc = msgRoundTrip(t, root, &CreateRequest{})
	if len(enc) != 56+24 || le32(enc[48:]) != 120 {
		t.Errorf("root with context: % x", enc)
	}
	// A name with an odd UTF-16 length is malformed.
	bad := append(msgBytes(nil), enc...)
	bad.u16(44, 120).u16(46, 3)
	msgWantMalformed(t, "odd name", r.Unmarshal(bad))
}

// [MS-SMB2] 2.2.13.2.10 and 2.2.14.2.11 (V2), 2.2.13.2.8 (V1, 32 bytes).
func TestMsgLeaseV2(t *testing.T) {
	in := LeaseV2{Key: msgGUID(0x10), State: LeaseRead | LeaseHandle, Flags: 4, ParentKey: msgGUID(0x20), Epoch: 7}
	enc := in.Append(nil)
	want := msgBuf(52).put(0, msgSeq(0x10, 16)).u32(16, 3).u32(20, 4).u64(24, 0).put(32, msgSeq(0x20, 16)).u16(48, 7).u16(50, 0)
	msgEqualBytes(t, "lease v2", enc, want)
	var got LeaseV2
	if err := got.Unmarshal(enc); err != nil || got != in {
		t.Errorf("round trip %+v %v", got, err)
	}
	// Prefixes of 32..51 bytes decode as a V1 lease (no parent key, no
	// epoch); shorter ones fail.
	msgPrefixesFail(t, "lease", enc, 32, got.Unmarshal)
	if err := got.Unmarshal(enc[:32]); err != nil || got.Key != in.Key || got.State != 3 || got.ParentKey != ([16]byte{}) || got.Epoch != 0 {
		t.Errorf("v1 into a used value: %+v %v", got, err)
	}
}
