package smbdirect

import (
	"bytes"
	"testing"
)

func TestNegotiateRequestCodec(t *testing.T) {
	r := goodRequest()
	b := r.Append(nil)
	if len(b) != r.Size() || len(b) != 20 {
		t.Fatalf("size %d", len(b))
	}
	var got NegotiateRequest
	if err := got.Unmarshal(b); err != nil || got != r {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		if got.Unmarshal(b[:i]) == nil {
			t.Fatalf("prefix %d accepted", i)
		}
	}
}

func TestNegotiateResponseCodec(t *testing.T) {
	r := NegotiateResponse{Version, Version, Version, 255, 10, 0, 8 << 20, 1364, 1364, 173910}
	b := r.Append(nil)
	if len(b) != r.Size() || len(b) != 32 {
		t.Fatalf("size %d", len(b))
	}
	var got NegotiateResponse
	if err := got.Unmarshal(b); err != nil || got != r {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		if got.Unmarshal(b[:i]) == nil {
			t.Fatalf("prefix %d accepted", i)
		}
	}
}

func TestDataHeaderCodec(t *testing.T) {
	empty := DataHeader{CreditsRequested: 255, CreditsGranted: 3, Flags: FlagResponseRequested}
	b := empty.Append(nil)
	if len(b) != 20 || empty.Size() != 20 {
		t.Fatalf("empty message %d bytes", len(b))
	}
	var h DataHeader
	if p, err := h.Unmarshal(b); err != nil || p != nil || h != empty {
		t.Fatalf("%+v %v", h, err)
	}
	payload := []byte("hello, world")
	full := DataHeader{CreditsRequested: 1, RemainingDataLength: 7, DataLength: uint32(len(payload))}
	b = append(full.Append(nil), payload...)
	if full.Size() != 24 {
		t.Fatal("size")
	}
	p, err := h.Unmarshal(b)
	full.DataOffset = 24
	if err != nil || h != full || !bytes.Equal(p, payload) {
		t.Fatalf("%+v %q %v", h, p, err)
	}
	var hb [24]byte
	putDataHeader(hb[:], 1, 0, 0, 7, uint32(len(payload)))
	if !bytes.Equal(hb[:], b[:24]) {
		t.Fatalf("putDataHeader %x != %x", hb, b[:24])
	}
	for i := range 20 {
		if _, err := h.Unmarshal(b[:i]); err == nil {
			t.Fatalf("prefix %d accepted", i)
		}
	}
	for i := 24; i < len(b); i++ {
		if _, err := h.Unmarshal(b[:i]); err == nil {
			t.Fatalf("truncated payload %d accepted", i)
		}
	}
	bad := bytes.Clone(b)
	bad[12] = 20 // DataOffset not 8-aligned... 20 is 4-aligned
	if _, err := h.Unmarshal(bad); err == nil {
		t.Fatal("DataOffset 20 accepted")
	}
	bad[12] = 16 // inside the header
	if _, err := h.Unmarshal(bad); err == nil {
		t.Fatal("DataOffset 16 accepted")
	}
}

func TestBufferDescriptorCodec(t *testing.T) {
	ds := []BufferDescriptor{{Offset: 0, Token: 0x12345678, Length: 1 << 20}, {Offset: 1 << 40, Token: 7, Length: 5}}
	b := AppendBufferDescriptors(nil, ds)
	if len(b) != 32 || ds[0].Size() != 16 {
		t.Fatal("size")
	}
	got, err := UnmarshalBufferDescriptors(b)
	if err != nil || len(got) != 2 || got[0] != ds[0] || got[1] != ds[1] {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		if i%16 == 0 && i > 0 {
			continue
		}
		if _, err := UnmarshalBufferDescriptors(b[:i]); err == nil {
			t.Fatalf("length %d accepted", i)
		}
	}
	var d BufferDescriptor
	if d.Unmarshal(b[:15]) == nil {
		t.Fatal("short descriptor accepted")
	}
}

func FuzzNegotiateRequest(f *testing.F) {
	r := goodRequest()
	f.Add(r.Append(nil))
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var q NegotiateRequest
		if q.Unmarshal(b) != nil {
			return
		}
		if !bytes.Equal(q.Append(nil), append(b[:4:4], append([]byte{0, 0}, b[6:20]...)...)) {
			t.Fatal("round trip")
		}
	})
}

func FuzzNegotiateResponse(f *testing.F) {
	r := NegotiateResponse{Version, Version, Version, 255, 10, 0, 8 << 20, 1364, 1364, 173910}
	f.Add(r.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q NegotiateResponse
		if q.Unmarshal(b) != nil {
			return
		}
		var q2 NegotiateResponse
		if q2.Unmarshal(q.Append(nil)) != nil || q2 != q {
			t.Fatal("round trip")
		}
	})
}

func FuzzDataTransfer(f *testing.F) {
	f.Add(dataMsg(1, 0, 0, []byte("abc")))
	f.Add(dataMsg(0, 1, 0, nil))
	f.Add(dataMsg(0, 0, 100, make([]byte, 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h DataHeader
		p, err := h.Unmarshal(b)
		if err != nil {
			return
		}
		if len(p) != int(h.DataLength) {
			t.Fatal("payload length")
		}
		// Feed it to a reassembler, as the receive loop does.
		r := reassembler{max: MinFragmentedSize + 1, alloc: func(n int) []byte { return make([]byte, n) }}
		for range 3 {
			m, err := r.add(p, h.RemainingDataLength)
			if err != nil {
				return
			}
			if m != nil && len(m) > r.max {
				t.Fatal("over max")
			}
		}
	})
}

func FuzzBufferDescriptors(f *testing.F) {
	f.Add(AppendBufferDescriptors(nil, []BufferDescriptor{{0, 1, 2}}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := UnmarshalBufferDescriptors(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendBufferDescriptors(nil, ds), b) {
			t.Fatal("round trip")
		}
	})
}
