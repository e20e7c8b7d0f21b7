package iwarp

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

func FuzzMPAFrame(f *testing.F) {
	req := rev2Req(false, 32, 1, []byte{0, 0, 0, 32, 0, 0, 0, 1})
	f.Add(req.Append(nil))
	f.Add((&MPAFrame{Reply: true, CRC: true, Rev: 1}).Append(nil))
	f.Add([]byte("MPA ID Rep Frame\x50\x02\x02\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr MPAFrame
		if err := fr.Unmarshal(b); err != nil {
			return
		}
		out := fr.Append(nil)
		want := append([]byte(nil), b[:fr.Size()]...)
		want[16] &^= 0x07 // reserved flag bits are not kept
		if len(out) != fr.Size() || !bytes.Equal(out, want) {
			t.Fatalf("round trip %x -> %x", b[:fr.Size()], out)
		}
		if fr.Enhanced {
			var w IRDORD
			if w.Unmarshal(fr.PrivateData) == nil {
				var o [4]byte
				w.Put(o[:])
				if !bytes.Equal(o[:], fr.PrivateData[:4]) {
					t.Fatalf("IRD/ORD round trip %x -> %x", fr.PrivateData[:4], o)
				}
			}
		}
		// the stream reader agrees with the buffer decoder
		fr2, err := readMPAFrame(bytes.NewReader(b))
		if err != nil || !bytes.Equal(fr2.PrivateData, fr.PrivateData) {
			t.Fatalf("readMPAFrame: %v", err)
		}
	})
}

func FuzzRDMAPHeader(f *testing.F) {
	f.Add((&Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: 0x6c22b801, TO: 1 << 60}).Append(nil))
	f.Add((&Header{Opcode: OpSendInvalidate, RsvdULP: 7, QN: 0, MSN: 3, MO: 1340}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := h.Unmarshal(b); err != nil {
			if len(b) >= h.Size() && len(b) >= 2 {
				t.Fatalf("refused %d bytes", len(b))
			}
			return
		}
		_ = h.String()
		if h.DDPVersion != 1 || h.RDMAPVersion != 1 {
			return
		}
		out := h.Append(nil)
		// reserved bits are dropped; everything else round-trips
		want := append([]byte(nil), b[:h.Size()]...)
		want[0] &= ddpTagged | ddpLast | ddpDVMask
		want[1] &= rdmapRVMask | rdmapOpMask
		if !bytes.Equal(out, want) {
			t.Fatalf("round trip %x -> %x", want, out)
		}
	})
}

func FuzzReadRequest(f *testing.F) {
	var b [ReadRequestLen]byte
	(&ReadRequest{SinkSTag: 1, SinkTO: 2, Size: 3, SrcSTag: 4, SrcTO: 5}).Put(b[:])
	f.Add(b[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ReadRequest
		if err := r.Unmarshal(b); err != nil {
			if len(b) >= ReadRequestLen {
				t.Fatal("refused")
			}
			return
		}
		var o [ReadRequestLen]byte
		r.Put(o[:])
		if !bytes.Equal(o[:], b[:ReadRequestLen]) {
			t.Fatal("round trip")
		}
	})
}

func FuzzTerminate(f *testing.F) {
	h := (&Header{Tagged: true, Opcode: OpRDMAWrite, STag: 9}).Append(nil)
	f.Add((&Terminate{Layer: LayerDDP, EType: 1, Code: 1, M: true, D: true, SegLen: 30, Hdr: h}).Append(nil))
	f.Add([]byte{0x02, 0x06, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tm Terminate
		if err := tm.Unmarshal(b); err != nil {
			return
		}
		_ = TermReason(tm.Layer, tm.EType, tm.Code)
		out := tm.Append(nil)
		var tm2 Terminate
		if err := tm2.Unmarshal(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if tm2.Layer != tm.Layer || tm2.EType != tm.EType || tm2.Code != tm.Code || !bytes.Equal(tm2.Hdr, tm.Hdr) {
			t.Fatal("round trip")
		}
	})
}

// FuzzFPDU feeds arbitrary bytes, as the stream after a completed MPA
// exchange, into a live QP's receive path. It must fail or consume them
// without panicking, and never write outside the granted regions.
func FuzzFPDU(f *testing.F) {
	w := (&Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: 0x100, TO: 0}).Append(nil)
	f.Add(fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("hello"), false), false)
	f.Add(fpdu(untagged(OpSend, QNSend, 1, 0, false), nil, []byte("hel"), true), true)
	f.Add(append(binaryLen(len(w)+8), append(w, "12345678\x00\x00\x00\x00"...)...), false)
	f.Fuzz(func(t *testing.T, b []byte, crc bool) {
		c1, c2 := tcpPair(t)
		hs := handshake{crc: crc, ird: 2, ord: 2}
		opts := Options{NoResponderWait: true}
		q := newQP(c1, bufioReader(c1), hs, true, &opts)
		defer q.Close()
		m, all := guarded(t, q, 256, rdma.AccessRemoteWrite|rdma.AccessRemoteRead)
		// make the region reachable with a predictable STag
		q.mu.Lock()
		delete(q.mrs, m.STag())
		m.(*mr).stag = 0x100
		q.mrs[0x100] = m.(*mr)
		q.mu.Unlock()
		rb := make([]byte, 64+2*guard)
		for i := range rb {
			rb[i] = 0xa5
		}
		q.PostRecv(rdma.RecvWR{ID: 1, Buf: rb[guard : guard+64 : guard+64]})
		c2.Write(b)
		c2.CloseWrite()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs := make([]rdma.Completion, 4)
		for {
			_, err := q.Poll(ctx, cs)
			if err == context.DeadlineExceeded {
				t.Fatal("QP neither failed nor finished")
			}
			if err != nil {
				break
			}
		}
		q.Close()
		checkGuards(t, all)
		checkGuards(t, rb)
	})
}

func binaryLen(n int) []byte { return []byte{byte(n >> 8), byte(n)} }

func FuzzCheckFPDU(f *testing.F) {
	f.Add(fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("hello"), true), true)
	f.Add(fpdu(Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: 7}, nil, []byte("abc"), false), false)
	f.Add([]byte{0, 200, 1}, true)
	f.Fuzz(func(t *testing.T, b []byte, crc bool) {
		u, err := CheckFPDU(b, crc)
		if err != nil {
			return
		}
		ul := int(binary.BigEndian.Uint16(b))
		if len(u) != ul || len(b) < fpduLen(ul) || !bytes.Equal(u, b[2:2+ul]) {
			t.Fatalf("ULPDU of %d bytes from a %d-byte FPDU announcing %d", len(u), len(b), ul)
		}
		if crc && !bytes.Equal(refix(b, true)[:fpduLen(ul)], b[:fpduLen(ul)]) {
			t.Fatal("accepted a bad CRC")
		}
	})
}

// FuzzMPAExchange feeds arbitrary bytes to the MPA exchange as the peer's
// Request (we respond) or Reply (we initiate, rev 2 or 1). It must fail or
// agree on something sane, never panic or wait past its deadline.
func FuzzMPAExchange(f *testing.F) {
	req := rev2Req(false, 32, 1, []byte{0, 0, 0, 32, 0, 0, 0, 1})
	f.Add(req.Append(nil), false, true)
	f.Add((&MPAFrame{Reply: true, Rev: 2, Enhanced: true, CRC: true, PrivateData: []byte{0, 4, 0, 2}}).Append(nil), true, true)
	f.Add((&MPAFrame{Reply: true, Rev: 1}).Append(nil), true, false)
	f.Add((&MPAFrame{Reply: true, Reject: true, Rev: 2, Enhanced: true}).Append(nil), true, true)
	f.Add([]byte("MPA ID Req Frame\x10\x02\x00\x02\x00"), false, true)
	f.Fuzz(func(t *testing.T, b []byte, initiator, rev2 bool) {
		c1, c2 := tcpPair(t)
		go func() {
			if initiator {
				readMPAFrame(c2) // our request
			}
			c2.Write(b)
			c2.CloseWrite()
			io.Copy(io.Discard, c2) // our reply, if any
		}()
		cp := rdma.ConnParams{IRD: 4, ORD: 4, PrivateData: []byte{0, 0, 0, 4, 0, 0, 0, 4}}
		dl := time.Now().Add(5 * time.Second)
		var hs handshake
		var err error
		if initiator {
			rev := 1
			if rev2 {
				rev = 2
			}
			hs, err = initiate(c1, bufioReader(c1), cp, false, rev, dl)
		} else {
			hs, err = respond(c1, bufioReader(c1), cp, false, dl)
		}
		c1.Close()
		if time.Now().After(dl) {
			t.Fatal("MPA exchange ran into its deadline")
		}
		if err != nil {
			return
		}
		if hs.ird < 0 || hs.ird > 4 || hs.ord < 0 || hs.ord > 4 || len(hs.peer.PrivateData) > MaxPrivateData {
			t.Fatalf("agreed on %+v", hs)
		}
	})
}
