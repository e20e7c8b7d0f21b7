package smb2

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Fuzz targets, one per decoder of server data, plus one for the request
// decoders a test responder uses. Each checks, whatever the input: no
// panic; a failure wraps ErrMalformed; decoded slices lie within the input;
// and a decoded value re-encodes (Size == len(Append)) to bytes that decode
// to the same value. Run one with
//
//	go test -run=NONE -fuzz=FuzzCreateResponse -fuzztime=4s ./session/smb2

// msgFuzzCodec decodes data into a fresh *T and checks the invariants above.
// slices lists the byte slices of the decoded value that alias the input;
// reencode false skips the re-encoding check for a value the encoder
// cannot represent (e.g. a name too long for a 16-bit offset).
func msgFuzzCodec[T any, P interface {
	*T
	msgCodec
}](t *testing.T, data []byte, slices func(P) [][]byte, reencode func(P) bool) P {
	t.Helper()
	data = data[:len(data):len(data)]
	v := P(new(T))
	if err := v.Unmarshal(data); err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%T: error %v does not wrap ErrMalformed", v, err)
		}
		return nil
	}
	if slices != nil {
		for i, s := range slices(v) {
			if !msgWithin(data, s) {
				t.Fatalf("%T: slice %d (%d bytes) outside the input", v, i, len(s))
			}
		}
	}
	if reencode != nil && !reencode(v) {
		return v
	}
	enc := v.Append(nil)
	if v.Size() != len(enc) {
		t.Fatalf("%T: Size %d, Append %d bytes", v, v.Size(), len(enc))
	}
	w := P(new(T))
	if err := w.Unmarshal(enc); err != nil {
		t.Fatalf("%T: re-encoding does not decode: %v\nvalue %+v\n% x", v, err, v, enc)
	}
	if !reflect.DeepEqual(v, w) {
		t.Fatalf("%T: re-encoding decodes differently\n%+v\n%+v", v, v, w)
	}
	return v
}

// msgFuzzErr fails unless err is nil or wraps ErrMalformed.
func msgFuzzErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("%s: error %v does not wrap ErrMalformed", what, err)
	}
}

// msgCreateContextsEncodable reports whether every name fits the 16-bit
// DataOffset the encoder writes.
func msgCreateContextsEncodable(ctxs []CreateContext) bool {
	for _, c := range ctxs {
		if len(c.Name) > 60000 {
			return false
		}
	}
	return true
}

func msgCreateContextSlices(ctxs []CreateContext) [][]byte {
	var out [][]byte
	for _, c := range ctxs {
		out = append(out, c.Data)
	}
	return out
}

func FuzzHeader(f *testing.F) {
	f.Add((&Header{Command: CmdCreate, Credits: 10, Flags: FlagResponse | FlagSigned, Status: StatusAccessDenied, MessageID: 4, TreeID: 1, SessionID: 2}).Append(nil))
	f.Add((&Header{Command: CmdRead, Flags: FlagResponse | FlagAsync, Status: StatusPending, AsyncID: 77}).Append(nil))
	f.Add((&Header{Command: CmdWrite, ChannelSequence: 3}).Append(nil))
	f.Add(bytes.Repeat([]byte{0xFF}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		var h Header
		if err := h.Unmarshal(data); err != nil {
			msgFuzzErr(t, "header", err)
			return
		}
		enc := h.Append(nil)
		if len(enc) != h.Size() || !bytes.Equal(enc[:4], data[:4]) || !bytes.Equal(enc[48:64], data[48:64]) {
			t.Fatalf("re-encoding\n% x\nof\n% x", enc, data[:64])
		}
		var g Header
		if err := g.Unmarshal(enc); err != nil {
			t.Fatal(err)
		}
		if h.Flags&FlagResponse == 0 {
			// A request carries only ChannelSequence in those bytes.
			h.Status = Status(h.ChannelSequence)
		}
		if g != h {
			t.Fatalf("re-encoding decodes to\n%+v\nnot\n%+v", g, h)
		}
	})
}

func FuzzTransformHeader(f *testing.F) {
	f.Add((&TransformHeader{Signature: msgGUID(1), Nonce: msgGUID(2), OriginalMessageSize: 100, Flags: 1, SessionID: 3}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		var th TransformHeader
		if err := th.Unmarshal(data); err != nil {
			msgFuzzErr(t, "transform header", err)
			return
		}
		var g TransformHeader
		if err := g.Unmarshal(th.Append(nil)); err != nil || g != th {
			t.Fatalf("re-encoding: %+v %v", g, err)
		}
	})
}

func FuzzNegotiateResponse(f *testing.F) {
	f.Add(msgNegotiateResponseFixture())
	f.Add((&NegotiateResponse{Dialect: Dialect302, SecurityBuffer: []byte{1, 2, 3}}).Append(nil))
	f.Add((&NegotiateResponse{Dialect: Dialect311, Contexts: []NegotiateContext{{CtxNetname, nil}, PreauthContext(nil)}}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := msgFuzzCodec(t, data, func(r *NegotiateResponse) [][]byte {
			out := [][]byte{r.SecurityBuffer}
			for _, c := range r.Contexts {
				out = append(out, c.Data)
			}
			return out
		}, nil)
		if r == nil {
			return
		}
		for _, c := range r.Contexts {
			switch c.Type {
			case CtxPreauthIntegrity:
				_, salt, err := ParsePreauthContext(c.Data)
				msgFuzzErr(t, "preauth", err)
				if !msgWithin(data, salt) {
					t.Fatal("salt outside the input")
				}
			case CtxEncryption, CtxSigning:
				_, err := ParseListContext(c.Data)
				msgFuzzErr(t, "list context", err)
			}
		}
	})
}

func FuzzParseListContext(f *testing.F) {
	f.Add(ListContext(CtxEncryption, CipherAES128GCM, CipherAES256GCM).Data)
	f.Add([]byte{0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		ids, err := ParseListContext(data[:len(data):len(data)])
		if err != nil {
			msgFuzzErr(t, "list context", err)
			return
		}
		if 2+2*len(ids) > len(data) {
			t.Fatalf("%d ids from %d bytes", len(ids), len(data))
		}
		again, err := ParseListContext(ListContext(CtxSigning, ids...).Data)
		if err != nil || !reflect.DeepEqual(again, ids) {
			t.Fatalf("re-encoding: %v %v", again, err)
		}
	})
}

func FuzzParsePreauthContext(f *testing.F) {
	f.Add(PreauthContext(msgSeq(0, 32)).Data)
	f.Add([]byte{2, 0, 0, 0, 1, 0, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		hashes, salt, err := ParsePreauthContext(data)
		if err != nil {
			msgFuzzErr(t, "preauth context", err)
			return
		}
		if !msgWithin(data, salt) || 4+2*len(hashes)+len(salt) > len(data) {
			t.Fatalf("%d hashes, %d salt bytes from %d", len(hashes), len(salt), len(data))
		}
	})
}

func FuzzSessionSetupResponse(f *testing.F) {
	f.Add((&SessionSetupResponse{SecurityBuffer: msgSeq(0, 40)}).Append(nil))
	f.Add((&SessionSetupResponse{SessionFlags: SessionFlagIsGuest}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgFuzzCodec(t, data, func(r *SessionSetupResponse) [][]byte { return [][]byte{r.SecurityBuffer} }, nil)
	})
}

func FuzzTreeConnectResponse(f *testing.F) {
	f.Add((&TreeConnectResponse{ShareType: ShareTypeDisk, MaximalAccess: 0x1F01FF}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgFuzzCodec[TreeConnectResponse](t, data, nil, nil)
		msgFuzzCodec[Empty](t, data, nil, nil) // LOGOFF, TREE_DISCONNECT, ECHO, FLUSH, LOCK responses
		msgFuzzCodec[SetInfoResponse](t, data, nil, nil)
	})
}

func FuzzCreateResponse(f *testing.F) {
	f.Add(msgCreateResponseFixture())
	f.Add((&CreateResponse{FileID: FileID{1, 2}}).Append(nil))
	f.Add((&CreateResponse{Contexts: []CreateContext{{"", nil}}}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := msgFuzzCodec(t, data, func(r *CreateResponse) [][]byte { return msgCreateContextSlices(r.Contexts) },
			func(r *CreateResponse) bool { return msgCreateContextsEncodable(r.Contexts) })
		if r == nil {
			return
		}
		if d, ok := FindCreateContext(r.Contexts, CtxNameLease); ok {
			var l LeaseV2
			msgFuzzErr(t, "lease", l.Unmarshal(d))
		}
	})
}

func FuzzParseCreateContexts(f *testing.F) {
	f.Add(msgCreateResponseFixture()[88:])
	f.Add(appendCreateContexts(nil, []CreateContext{{"A", nil}, {"", []byte{1}}, {"Long name!", msgSeq(0, 9)}}))
	f.Add(bytes.Repeat(msgBuf(16).u32(0, 16), 4))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		ctxs, err := ParseCreateContexts(data)
		if err != nil {
			msgFuzzErr(t, "create contexts", err)
			return
		}
		if len(ctxs) == 0 || 16*len(ctxs) > len(data) {
			t.Fatalf("%d contexts from %d bytes", len(ctxs), len(data))
		}
		for _, s := range msgCreateContextSlices(ctxs) {
			if !msgWithin(data, s) {
				t.Fatal("context data outside the input")
			}
		}
		if !msgCreateContextsEncodable(ctxs) {
			return
		}
		enc := appendCreateContexts(nil, ctxs)
		if len(enc) != createContextsSize(ctxs) {
			t.Fatalf("size %d, encoded %d", createContextsSize(ctxs), len(enc))
		}
		again, err := ParseCreateContexts(enc)
		if err != nil || !reflect.DeepEqual(again, ctxs) {
			t.Fatalf("re-encoding: %+v %v", again, err)
		}
	})
}

func FuzzLeaseV2(f *testing.F) {
	f.Add((&LeaseV2{Key: msgGUID(1), State: 7, ParentKey: msgGUID(2), Epoch: 9}).Append(nil))
	f.Add(msgSeq(0, 32))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l LeaseV2
		if err := l.Unmarshal(data[:len(data):len(data)]); err != nil {
			msgFuzzErr(t, "lease", err)
			return
		}
		var g LeaseV2
		if err := g.Unmarshal(l.Append(nil)); err != nil || g != l {
			t.Fatalf("re-encoding %+v %v", g, err)
		}
	})
}

func FuzzOnDiskID(f *testing.F) {
	f.Add((&OnDiskID{DiskFileID: 0x1122334455667788, VolumeID: 42}).Append(nil))
	f.Add(msgSeq(0, 31))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d OnDiskID
		if err := d.Unmarshal(data[:len(data):len(data)]); err != nil {
			msgFuzzErr(t, "on-disk id", err)
			return
		}
		var g OnDiskID
		if err := g.Unmarshal(d.Append(nil)); err != nil || g != d {
			t.Fatalf("re-encoding %+v %v", g, err)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	f.Add(msgReadResponseFixture())
	f.Add((&ReadResponse{}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := msgFuzzCodec(t, data, func(r *ReadResponse) [][]byte { return [][]byte{r.Data} }, nil)
		off, n, err := ReadResponseData(data[:len(data):len(data)])
		if (err == nil) != (len(data) >= ReadResponseFixed && le16(data) == 17) {
			t.Fatalf("ReadResponseData: %v", err)
		}
		msgFuzzErr(t, "ReadResponseData", err)
		if r != nil && (uint32(len(r.Data)) != n || (n > 0 && off < HeaderSize)) {
			t.Fatalf("ReadResponseData %d,%d for %d data bytes", off, n, len(r.Data))
		}
	})
}

func FuzzWriteResponse(f *testing.F) {
	f.Add((&WriteResponse{Count: 100}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgFuzzCodec[WriteResponse](t, data, nil, nil)
	})
}

func FuzzCloseResponse(f *testing.F) {
	f.Add((&CloseResponse{Flags: 1, FileTimes: FileTimes{1, 2, 3, 4, 5, 6, 7}}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgFuzzCodec[CloseResponse](t, data, nil, nil)
	})
}

func FuzzOutputResponse(f *testing.F) {
	f.Add((&OutputResponse{Buffer: msgSeq(0, 40)}).Append(nil))
	f.Add((&OutputResponse{}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgFuzzCodec(t, data, func(r *OutputResponse) [][]byte { return [][]byte{r.Buffer} }, nil)
	})
}

func FuzzIoctlResponse(f *testing.F) {
	f.Add(msgIoctlValidateResponseFixture())
	f.Add((&IoctlResponse{Input: msgSeq(0, 5), Output: msgSeq(9, 9)}).Append(nil))
	f.Add((&IoctlResponse{Output: msgInterfacesFixture()}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := msgFuzzCodec(t, data, func(r *IoctlResponse) [][]byte { return [][]byte{r.Input, r.Output} }, nil)
		if r == nil {
			return
		}
		var v ValidateNegotiateInfo
		msgFuzzErr(t, "validate negotiate", v.UnmarshalResponse(r.Output))
		_, err := ParseNetworkInterfaces(r.Output)
		msgFuzzErr(t, "network interfaces", err)
	})
}

func FuzzValidateNegotiateResponse(f *testing.F) {
	f.Add((&ValidateNegotiateInfo{Capabilities: 1, GUID: msgGUID(0), SecurityMode: 1, Dialects: []Dialect{Dialect311}}).AppendResponse(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v ValidateNegotiateInfo
		if err := v.UnmarshalResponse(data[:len(data):len(data)]); err != nil {
			msgFuzzErr(t, "validate negotiate", err)
			return
		}
		if len(v.Dialects) != 1 {
			t.Fatalf("%d dialects", len(v.Dialects))
		}
		var g ValidateNegotiateInfo
		if err := g.UnmarshalResponse(v.AppendResponse(nil)); err != nil || !reflect.DeepEqual(g, v) {
			t.Fatalf("re-encoding %+v %v", g, err)
		}
	})
}

func FuzzParseNetworkInterfaces(f *testing.F) {
	f.Add(msgInterfacesFixture())
	f.Add(msgInterfacesFixture()[:152])
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		ifs, err := ParseNetworkInterfaces(data)
		if err != nil {
			msgFuzzErr(t, "network interfaces", err)
			return
		}
		if 152*len(ifs) > len(data) {
			t.Fatalf("%d interfaces from %d bytes", len(ifs), len(data))
		}
		for _, ni := range ifs {
			if (ni.Family == 2 && len(ni.Addr) != 4) || (ni.Family == 0x17 && len(ni.Addr) != 16) ||
				(ni.Family != 2 && ni.Family != 0x17 && ni.Addr != nil) {
				t.Fatalf("family %#x with %d address bytes", ni.Family, len(ni.Addr))
			}
		}
		again, err := ParseNetworkInterfaces(AppendNetworkInterfaces(nil, ifs))
		if err != nil || !reflect.DeepEqual(again, ifs) {
			t.Fatalf("re-encoding: %+v %v", again, err)
		}
	})
}

func FuzzLeaseBreak(f *testing.F) {
	f.Add((&LeaseBreakNotification{NewEpoch: 2, Flags: 1, LeaseKey: msgGUID(3), CurrentLeaseState: 7, NewLeaseState: 1}).Append(nil))
	f.Add((&OplockBreak{OplockLevel: OplockII, FileID: FileID{1, 2}}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		var r LeaseBreakNotification
		if err := r.Unmarshal(data); err != nil {
			msgFuzzErr(t, "lease break", err)
		} else {
			var g LeaseBreakNotification
			if err := g.Unmarshal(r.Append(nil)); err != nil || g != r {
				t.Fatalf("re-encoding %+v %v", g, err)
			}
		}
		// The same command code carries an oplock break.
		msgFuzzCodec[OplockBreak](t, data, nil, nil)
	})
}

func FuzzErrorResponse(f *testing.F) {
	f.Add((&ErrorResponse{ErrorData: msgSeq(0, 24)}).Append(nil))
	f.Add((&ErrorResponse{}).Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data):len(data)]
		var r ErrorResponse
		err := r.Unmarshal(data)
		if IsErrorResponse(data) != (len(data) >= 8 && le16(data) == 9) {
			t.Fatal("IsErrorResponse")
		}
		if err != nil {
			msgFuzzErr(t, "error response", err)
			return
		}
		if !IsErrorResponse(data) || !msgWithin(data, r.ErrorData) {
			t.Fatalf("decoded %d data bytes from %d", len(r.ErrorData), len(data))
		}
		var g ErrorResponse
		if err := g.Unmarshal(r.Append(nil)); err != nil || g.ErrorContextCount != r.ErrorContextCount || !bytes.Equal(g.ErrorData, r.ErrorData) {
			t.Fatalf("re-encoding %+v %v", g, err)
		}
	})
}

// FuzzRequests covers the request decoders (for a test responder): the
// first byte picks the decoder, the rest is the body.
func FuzzRequests(f *testing.F) {
	reqs := []msgCodec{
		&NegotiateRequest{Dialects: []Dialect{Dialect311, Dialect302}, Contexts: []NegotiateContext{PreauthContext(msgSeq(0, 32)), ListContext(CtxEncryption, 1, 2)}},
		&SessionSetupRequest{SecurityBuffer: msgSeq(0, 20)},
		&TreeConnectRequest{Path: `\\srv\share`},
		&CreateRequest{Name: `a\b`, Contexts: []CreateContext{{CtxNameMaximalAccess, nil}, {CtxNameLease, (&LeaseV2{}).Append(nil)}}},
		&ReadRequest{Length: 10, ChannelInfo: msgSeq(0, 16)},
		&WriteRequest{Length: 3, Data: []byte("abc")},
		&FlushRequest{FileID: FileID{1, 2}},
		&CloseRequest{Flags: 1},
		&QueryDirectoryRequest{Pattern: "*"},
		&QueryInfoRequest{Input: msgSeq(0, 8)},
		&SetInfoRequest{Buffer: msgSeq(0, 8)},
		&IoctlRequest{Input: msgSeq(0, 24)},
		&LockRequest{Locks: []LockElement{{1, 2, 3}}},
	}
	for i, r := range reqs {
		f.Add(append([]byte{byte(i)}, r.Append(nil)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		body := data[1:]
		switch int(data[0]) % len(reqs) {
		case 0:
			msgFuzzCodec(t, body, func(r *NegotiateRequest) [][]byte {
				var out [][]byte
				for _, c := range r.Contexts {
					out = append(out, c.Data)
				}
				return out
			}, nil)
		case 1:
			msgFuzzCodec(t, body, func(r *SessionSetupRequest) [][]byte { return [][]byte{r.SecurityBuffer} }, nil)
		case 2:
			msgFuzzCodec[TreeConnectRequest](t, body, nil, nil)
		case 3:
			msgFuzzCodec(t, body, func(r *CreateRequest) [][]byte { return msgCreateContextSlices(r.Contexts) },
				func(r *CreateRequest) bool { return msgCreateContextsEncodable(r.Contexts) })
		case 4:
			msgFuzzCodec(t, body, func(r *ReadRequest) [][]byte { return [][]byte{r.ChannelInfo} }, nil)
		case 5:
			msgFuzzCodec(t, body, func(r *WriteRequest) [][]byte { return [][]byte{r.ChannelInfo, r.Data} },
				func(r *WriteRequest) bool { return len(r.ChannelInfo) < 60000 })
		case 6:
			msgFuzzCodec[FlushRequest](t, body, nil, nil)
		case 7:
			msgFuzzCodec[CloseRequest](t, body, nil, nil)
		case 8:
			msgFuzzCodec[QueryDirectoryRequest](t, body, nil, nil)
		case 9:
			msgFuzzCodec(t, body, func(r *QueryInfoRequest) [][]byte { return [][]byte{r.Input} }, nil)
		case 10:
			msgFuzzCodec(t, body, func(r *SetInfoRequest) [][]byte { return [][]byte{r.Buffer} }, nil)
		case 11:
			msgFuzzCodec(t, body, func(r *IoctlRequest) [][]byte { return [][]byte{r.Input} }, nil)
		case 12:
			// LockCount MUST be at least 1 ([MS-SMB2] 2.2.26): a decoded
			// empty lock list has no 48-byte encoding to compare.
			msgFuzzCodec(t, body, nil, func(r *LockRequest) bool { return len(r.Locks) > 0 })
		}
	})
}

func FuzzCopyChunkResponse(f *testing.F) {
	f.Add((&CopyChunkResponse{ChunksWritten: 16, ChunkBytesWritten: 1 << 20, TotalBytesWritten: 16 << 20}).Append(nil))
	f.Add(msgSeq(0, 11))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgFuzzCodec[CopyChunkResponse](t, data, nil, func(*CopyChunkResponse) bool { return true })
	})
}

func FuzzResumeKey(f *testing.F) {
	f.Add(AppendResumeKey(nil, [ResumeKeySize]byte{1, 2, 3}))
	f.Add(msgSeq(0, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParseResumeKey(data[:len(data):len(data)])
		if err != nil {
			msgFuzzErr(t, "resume key", err)
			return
		}
		if !bytes.Equal(key[:], data[:ResumeKeySize]) {
			t.Fatalf("key %x from %x", key, data)
		}
	})
}

// FuzzAllocatedRanges: the decoder takes any bytes without panicking, and
// what it accepts is in order and encodes back to the same bytes.
func FuzzAllocatedRanges(f *testing.F) {
	f.Add(AppendAllocatedRange(AppendAllocatedRange(nil, AllocatedRange{0, 4096}), AllocatedRange{1 << 20, 8192}))
	f.Add([]byte{1, 2, 3})
	f.Add(AppendAllocatedRange(nil, AllocatedRange{-1, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseAllocatedRanges(b)
		if err != nil {
			return
		}
		var enc []byte
		var end int64
		for _, r := range rs {
			if r.Offset < end || r.Length < 0 || r.End() < r.Offset {
				t.Fatalf("accepted out-of-order or bad range %+v after %d", r, end)
			}
			end = r.End()
			enc = AppendAllocatedRange(enc, r)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("round trip: %x != %x", enc, b)
		}
	})
}
