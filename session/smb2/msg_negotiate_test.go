package smb2

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// msgNegotiateResponseFixture is a 3.1.1 NEGOTIATE response body laid out by
// hand from [MS-SMB2] 2.2.4 and 2.2.3.1: a 10-byte security blob at body 64
// (header offset 128), 6 pad bytes, then three negotiate contexts starting at
// header offset 144, each at an 8-byte aligned offset:
//
//	body  80: PREAUTH_INTEGRITY   8 + 38 bytes (1 hash, 32-byte salt), 2 pad
//	body 128: ENCRYPTION          8 + 4 bytes (AES-128-GCM), 4 pad
//	body 144: SIGNING             8 + 4 bytes (AES-GMAC), no trailing pad
func msgNegotiateResponseFixture() []byte {
	b := msgBuf(156).
		u16(0, 65).                  // StructureSize
		u16(2, SigningEnabled).      // SecurityMode
		u16(4, 0x0311).              // DialectRevision
		u16(6, 3).                   // NegotiateContextCount
		put(8, msgSeq(0x10, 16)).    // ServerGuid
		u32(24, 0x0000004F).         // Capabilities: DFS|LEASING|LARGE_MTU|MULTI_CHANNEL|ENCRYPTION
		u32(28, 8<<20).              // MaxTransactSize
		u32(32, 8<<20).              // MaxReadSize
		u32(36, 8<<20).              // MaxWriteSize
		u64(40, 0x01D9A1B2C3D4E5F6). // SystemTime
		u64(48, 0).                  // ServerStartTime
		u16(56, 128).                // SecurityBufferOffset (from the header)
		u16(58, 10).                 // SecurityBufferLength
		u32(60, 144).                // NegotiateContextOffset (from the header)
		put(64, []byte("`\x08+\x06\x01\x05\x05\x02\xa0\x00"))
	// Preauth: ContextType 1, DataLength 38, Reserved, then
	// HashAlgorithmCount 1, SaltLength 32, SHA-512, salt.
	b.u16(80, 1).u16(82, 38).u16(88, 1).u16(90, 32).u16(92, HashSHA512).put(94, msgSeq(0x80, 32))
	// Encryption: CipherCount 1, AES-128-GCM.
	b.u16(128, 2).u16(130, 4).u16(136, 1).u16(138, CipherAES128GCM)
	// Signing: SigningAlgorithmCount 1, AES-GMAC.
	b.u16(144, 8).u16(146, 4).u16(152, 1).u16(154, SigningAESGMAC)
	return b
}

func msgNegotiateResponseValue() *NegotiateResponse {
	return &NegotiateResponse{
		SecurityMode:    SigningEnabled,
		Dialect:         Dialect311,
		ServerGUID:      msgGUID(0x10),
		Capabilities:    CapDFS | CapLeasing | CapLargeMTU | CapMultiChannel | CapEncryption,
		MaxTransactSize: 8 << 20,
		MaxReadSize:     8 << 20,
		MaxWriteSize:    8 << 20,
		SystemTime:      0x01D9A1B2C3D4E5F6,
		SecurityBuffer:  []byte("`\x08+\x06\x01\x05\x05\x02\xa0\x00"),
		Contexts: []NegotiateContext{
			PreauthContext(msgSeq(0x80, 32)),
			ListContext(CtxEncryption, CipherAES128GCM),
			ListContext(CtxSigning, SigningAESGMAC),
		},
	}
}

func TestMsgNegotiateResponseFixture(t *testing.T) {
	fix := msgNegotiateResponseFixture()
	in := msgNegotiateResponseValue()
	enc := msgRoundTrip(t, in, &NegotiateResponse{})
	msgEqualBytes(t, "negotiate response", enc, fix)

	var r NegotiateResponse
	if err := r.Unmarshal(fix); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&r, in) {
		t.Errorf("fixture decodes to %+v", r)
	}
	// Offsets count from the header: in the whole message the contexts
	// start at NegotiateContextOffset, which is 8-byte aligned.
	msg := append((&Header{Flags: FlagResponse}).Append(nil), enc...)
	off := int(le32(enc[60:]))
	if off%8 != 0 || le16(msg[off:]) != uint16(CtxPreauthIntegrity) {
		t.Errorf("context offset %d: % x", off, msg[off:off+8])
	}
	if so := le16(enc[56:]); !bytes.Equal(msg[so:so+10], in.SecurityBuffer) {
		t.Errorf("security buffer offset %d", so)
	}
	hashes, salt, err := ParsePreauthContext(r.Contexts[0].Data)
	if err != nil || !reflect.DeepEqual(hashes, []uint16{HashSHA512}) || !bytes.Equal(salt, msgSeq(0x80, 32)) {
		t.Errorf("preauth: %v %x %v", hashes, salt, err)
	}
	if d, ok := r.Context(CtxEncryption); !ok {
		t.Error("no encryption context")
	} else if ids, err := ParseListContext(d); err != nil || !reflect.DeepEqual(ids, []uint16{CipherAES128GCM}) {
		t.Errorf("ciphers %v %v", ids, err)
	}
	if d, ok := r.Context(CtxSigning); !ok {
		t.Error("no signing context")
	} else if ids, err := ParseListContext(d); err != nil || !reflect.DeepEqual(ids, []uint16{SigningAESGMAC}) {
		t.Errorf("signing %v %v", ids, err)
	}
	if _, ok := r.Context(CtxCompression); ok {
		t.Error("compression context found")
	}
	// Every shorter buffer loses part of a context or of the security blob.
	msgPrefixesFail(t, "negotiate response", fix, 0, func(b []byte) error { var r NegotiateResponse; return r.Unmarshal(b) })
}

// An SMB 3.0.2 (or 2.x) response has no contexts: the count and offset
// fields are Reserved and must be ignored.
func TestMsgNegotiateResponseOlderDialect(t *testing.T) {
	in := &NegotiateResponse{SecurityMode: SigningEnabled | SigningRequired, Dialect: Dialect302, ServerGUID: msgGUID(1),
		Capabilities: CapLargeMTU, MaxTransactSize: 1 << 20, MaxReadSize: 1 << 20, MaxWriteSize: 1 << 20,
		SystemTime: 1, ServerStartTime: 2, SecurityBuffer: []byte{1, 2, 3}}
	enc := msgRoundTrip(t, in, &NegotiateResponse{})
	if len(enc) != 67 || le32(enc[60:]) != 0 || le16(enc[6:]) != 0 {
		t.Errorf("encoding % x", enc)
	}
	enc = append([]byte(nil), enc...)
	enc[6], enc[60], enc[61] = 0xFF, 0xFF, 0xFF // garbage in Reserved fields
	var r NegotiateResponse
	if err := r.Unmarshal(enc); err != nil || r.Contexts != nil {
		t.Errorf("reserved fields not ignored: %v %v", r.Contexts, err)
	}
	msgPrefixesFail(t, "negotiate response 3.0.2", enc, 0, r.Unmarshal)

	// With an empty security buffer the 64-byte fixed part is the whole
	// message: StructureSize 65 counts a Buffer byte that servers may omit.
	in.SecurityBuffer = nil
	enc = msgRoundTrip(t, in, &NegotiateResponse{})
	if len(enc) != 64 {
		t.Errorf("%d bytes", len(enc))
	}
	msgPrefixesFail(t, "negotiate response, no blob", enc, 64, r.Unmarshal)
}

// A 3.1.1 response without a security blob: contexts start at body 64
// (header offset 128), already aligned.
func TestMsgNegotiateResponseNoBlob(t *testing.T) {
	in := &NegotiateResponse{Dialect: Dialect311, Contexts: []NegotiateContext{PreauthContext(msgSeq(1, 5)), {Type: CtxNetname, Data: []byte{}}}}
	enc := msgRoundTrip(t, in, &NegotiateResponse{})
	if le32(enc[60:]) != 128 || le16(enc[64:]) != 1 {
		t.Errorf("context offset %d", le32(enc[60:]))
	}
	// Preauth: 8+11 bytes ends at body 83, next context at body 88.
	if le16(enc[88:]) != uint16(CtxNetname) || len(enc) != 96 {
		t.Errorf("second context misplaced:\n% x", enc)
	}
}

func TestMsgNegotiateResponseRejects(t *testing.T) {
	fix := msgNegotiateResponseFixture()
	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"structure size 64", func(b msgBytes) { b.u16(0, 64) }},
		{"structure size 36", func(b msgBytes) { b.u16(0, 36) }},
		{"context count 65535", func(b msgBytes) { b.u16(6, 65535) }},
		{"context count 4", func(b msgBytes) { b.u16(6, 4) }},
		{"context offset 0", func(b msgBytes) { b.u32(60, 0) }},
		{"context offset 63", func(b msgBytes) { b.u32(60, 63) }},
		{"context offset at end", func(b msgBytes) { b.u32(60, 64+156) }},
		{"context offset past end", func(b msgBytes) { b.u32(60, 64+157) }},
		{"context offset 0xFFFFFFFF", func(b msgBytes) { b.u32(60, math.MaxUint32) }},
		{"context offset 0xFFFFFFF8", func(b msgBytes) { b.u32(60, 0xFFFFFFF8) }},
		{"context length past end", func(b msgBytes) { b.u16(146, 5) }},
		{"context length 0xFFFF", func(b msgBytes) { b.u16(82, 0xFFFF) }},
		{"security offset in header", func(b msgBytes) { b.u16(56, 8) }},
		{"security offset 0", func(b msgBytes) { b.u16(56, 0) }},
		{"security length past end", func(b msgBytes) { b.u16(58, 0xFFFF) }},
		{"security offset past end", func(b msgBytes) { b.u16(56, 0xFFFF) }},
	} {
		b := append(msgBytes(nil), fix...)
		tc.mod(b)
		var r NegotiateResponse
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(b) }))
	}
	// A context count of 65535 against a buffer that holds 65535 empty
	// contexts decodes, in linear time.
	b := msgBuf(64+8*65535).u16(0, 65).u16(4, 0x0311).u16(6, 65535).u32(60, 128)
	var r NegotiateResponse
	if err := r.Unmarshal(b); err != nil || len(r.Contexts) != 65535 {
		t.Errorf("65535 empty contexts: %d, %v", len(r.Contexts), err)
	}
	msgWantMalformed(t, "65535 contexts, one byte short", r.Unmarshal(b[:len(b)-1]))
}

// [MS-SMB2] 2.2.3: the request, with the contexts at the first 8-byte
// aligned offset (from the header) after the Dialects array.
func TestMsgNegotiateRequest(t *testing.T) {
	all := []Dialect{Dialect202, Dialect210, Dialect300, Dialect302, Dialect311, 0x0312}
	for n := 1; n <= len(all); n++ {
		in := &NegotiateRequest{
			SecurityMode: SigningEnabled,
			Capabilities: CapDFS | CapLeasing | CapLargeMTU | CapMultiChannel | CapEncryption,
			ClientGUID:   msgGUID(0x30),
			Dialects:     append([]Dialect{Dialect311}, all[:n-1]...),
			Contexts: []NegotiateContext{
				PreauthContext(msgSeq(0x90, 32)),
				ListContext(CtxEncryption, CipherAES256GCM, CipherAES128GCM, CipherAES256CCM, CipherAES128CCM),
				ListContext(CtxSigning, SigningAESGMAC, SigningAESCMAC),
			},
		}
		enc := msgRoundTrip(t, in, &NegotiateRequest{})
		off := int(le32(enc[28:]))
		wantOff := (64 + 36 + 2*n + 7) &^ 7
		if off != wantOff || le16(enc[32:]) != 3 || le16(enc[2:]) != uint16(n) {
			t.Errorf("%d dialects: context offset %d (want %d), count %d", n, off, wantOff, le16(enc[32:]))
		}
		for i := 36 + 2*n; i < off-64; i++ {
			if enc[i] != 0 {
				t.Errorf("%d dialects: pad byte %d = %#x", n, i, enc[i])
			}
		}
		// Walk the contexts by hand: each 8-byte aligned from the header.
		p := off - 64
		for i, c := range in.Contexts {
			if (p+64)%8 != 0 || NegotiateContextType(le16(enc[p:])) != c.Type || int(le16(enc[p+2:])) != len(c.Data) ||
				le32(enc[p+4:]) != 0 || !bytes.Equal(enc[p+8:p+8+len(c.Data)], c.Data) {
				t.Errorf("%d dialects: context %d at body %d: % x", n, i, p, enc[p:])
			}
			p = (p + 8 + len(c.Data) + 7) &^ 7
		}
		if p < len(enc) || len(enc) != off-64+(8+38+2)+(8+10+6)+(8+6) {
			t.Errorf("%d dialects: %d bytes", n, len(enc))
		}
		var r NegotiateRequest
		msgPrefixesFail(t, "negotiate request", enc, 0, r.Unmarshal)
	}
	// Without 3.1.1 there are no contexts and the 8 bytes are ClientStartTime.
	in := &NegotiateRequest{SecurityMode: SigningRequired, ClientGUID: msgGUID(1), Dialects: []Dialect{Dialect202, Dialect210}}
	enc := msgRoundTrip(t, in, &NegotiateRequest{})
	want := msgBuf(40).u16(0, 36).u16(2, 2).u16(4, 2).put(12, msgSeq(1, 16)).u16(36, 0x0202).u16(38, 0x0210)
	msgEqualBytes(t, "negotiate request 2.x", enc, want)
}

func TestMsgNegotiateRequestRejects(t *testing.T) {
	in := &NegotiateRequest{Dialects: []Dialect{Dialect311}, Contexts: []NegotiateContext{PreauthContext(nil)}}
	enc := in.Append(nil)
	for _, tc := range []struct {
		name string
		mod  func(b msgBytes)
	}{
		{"structure size", func(b msgBytes) { b.u16(0, 37) }},
		{"dialect count", func(b msgBytes) { b.u16(2, 0xFFFF) }},
		{"context count", func(b msgBytes) { b.u16(32, 0xFFFF) }},
		{"context offset in header", func(b msgBytes) { b.u32(28, 10) }},
		{"context offset 0xFFFFFFFF", func(b msgBytes) { b.u32(28, 0xFFFFFFFF) }},
		{"context offset 0xFFFFFFF0", func(b msgBytes) { b.u32(28, 0xFFFFFFF0) }},
		{"context length", func(b msgBytes) { b.u16(42, 0xFFFF) }},
	} {
		b := append(msgBytes(nil), enc...)
		tc.mod(b)
		var r NegotiateRequest
		msgWantMalformed(t, tc.name, msgNoPanic(func() error { return r.Unmarshal(b) }))
	}
}

// [MS-SMB2] 2.2.3.1.1, 2.2.3.1.2 and 2.2.3.1.7.
func TestMsgNegotiateContextBodies(t *testing.T) {
	pre := PreauthContext([]byte{0xAA, 0xBB})
	msgEqualBytes(t, "preauth", pre.Data, []byte{1, 0, 2, 0, 1, 0, 0xAA, 0xBB})
	enc := ListContext(CtxEncryption, CipherAES256GCM, CipherAES128CCM)
	msgEqualBytes(t, "encryption", enc.Data, []byte{2, 0, 4, 0, 1, 0})
	if enc.Type != CtxEncryption || pre.Type != CtxPreauthIntegrity {
		t.Error("types")
	}

	msgPrefixesFail(t, "list context", enc.Data, 0, func(b []byte) error { _, err := ParseListContext(b); return err })
	msgPrefixesFail(t, "preauth context", pre.Data, 0, func(b []byte) error { _, _, err := ParsePreauthContext(b); return err })

	if ids, err := ParseListContext([]byte{0, 0}); err != nil || len(ids) != 0 {
		t.Errorf("empty list: %v %v", ids, err)
	}
	_, err := ParseListContext([]byte{0xFF, 0xFF, 1, 0})
	msgWantMalformed(t, "list count 65535", err)
	_, _, err = ParsePreauthContext([]byte{0xFF, 0xFF, 0xFF, 0xFF, 1, 0})
	msgWantMalformed(t, "preauth counts 65535", err)
	_, _, err = ParsePreauthContext([]byte{1, 0, 0xFF, 0xFF, 1, 0})
	msgWantMalformed(t, "preauth salt 65535", err)
	// Extra bytes after the list are tolerated.
	if ids, err := ParseListContext([]byte{1, 0, 2, 0, 9, 9, 9}); err != nil || !reflect.DeepEqual(ids, []uint16{2}) {
		t.Errorf("trailing bytes: %v %v", ids, err)
	}
}

func TestMsgDialectString(t *testing.T) {
	for d, s := range map[Dialect]string{Dialect202: "2.0.2", Dialect210: "2.1", Dialect300: "3.0", Dialect302: "3.0.2",
		Dialect311: "3.1.1", DialectWildcard: "Dialect(0x02ff)"} {
		if d.String() != s {
			t.Errorf("%04x: %q", uint16(d), d.String())
		}
	}
}
