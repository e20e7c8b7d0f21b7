package iwarp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// hostile connects a raw peer (initiator) to one of our responders.
func hostile(t *testing.T, crc bool) (*rawPeer, rdma.QP) {
	t.Helper()
	l, err := New(Options{}).Listen("127.0.0.1:0", rdma.ConnParams{IRD: 2, ORD: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, rep := rawDial(t, l.Addr().String(), rev2Req(crc, 2, 2, nil))
	if rep.Reject || rep.Rev != 2 || !rep.Enhanced || rep.CRC != crc {
		t.Fatalf("reply %+v", rep)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return p, q
}

type hcase struct {
	name string
	// setup registers memory on q and returns the FPDU bytes to send and
	// the guarded buffers to check.
	setup              func(t *testing.T, p *rawPeer, q rdma.QP) (wire []byte, guards [][]byte)
	layer, etype, code uint8
	withHdr            bool
	err                error
}

func untagged(op Opcode, qn, msn, mo uint32, last bool) Header {
	return Header{Opcode: op, QN: qn, MSN: msn, MO: mo, Last: last}
}

func TestHostile(t *testing.T) {
	region := func(t *testing.T, q rdma.QP, acc rdma.Access) (rdma.MR, []byte) {
		return guarded(t, q, 4096, acc)
	}
	write := func(stag uint32, to uint64, n int, crc bool) []byte {
		return fpdu(Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: stag, TO: to}, nil, bytes.Repeat([]byte{0x5a}, n), crc)
	}
	readReq := func(stag uint32, to uint64, n uint32, crc bool) []byte {
		var rr [ReadRequestLen]byte
		(&ReadRequest{SinkSTag: 0x1234, SinkTO: 0, Size: n, SrcSTag: stag, SrcTO: to}).Put(rr[:])
		return fpdu(untagged(OpReadRequest, QNReadReq, 1, 0, true), rr[:], nil, crc)
	}
	cases := []hcase{
		{name: "write unknown STag", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteWrite)
			return write(m.STag()+0x100, 0, 16, p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPTaggedBuffer, code: DDPTInvalidSTag, withHdr: true, err: rdma.ErrAccess},
		{name: "write wrong key", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteWrite)
			return write(m.STag()^0x01, 0, 16, p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPTaggedBuffer, code: DDPTInvalidSTag, withHdr: true, err: rdma.ErrAccess},
		{name: "write invalidated STag", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteWrite)
			m.Invalidate()
			return write(m.STag(), 0, 16, p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPTaggedBuffer, code: DDPTInvalidSTag, withHdr: true, err: rdma.ErrAccess},
		{name: "write beyond region", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteWrite)
			return write(m.STag(), 4096-8, 16, p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPTaggedBuffer, code: DDPTBaseBounds, withHdr: true, err: rdma.ErrAccess},
		{name: "write TO wrap", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteWrite)
			return write(m.STag(), ^uint64(0)-3, 16, p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPTaggedBuffer, code: DDPTBaseBounds, withHdr: true, err: rdma.ErrAccess},
		{name: "write into read-only region", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteRead|rdma.AccessLocalWrite)
			return write(m.STag(), 0, 16, p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPTaggedBuffer, code: DDPTInvalidSTag, withHdr: true, err: rdma.ErrAccess},
		{name: "read unknown STag", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteRead)
			return readReq(m.STag()+0x100, 0, 16, p.crc), [][]byte{all}
		}, layer: LayerRDMAP, etype: RDMAPRemoteProtection, code: RDMAPInvalidSTag, withHdr: true, err: rdma.ErrAccess},
		{name: "read beyond region", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteRead)
			return readReq(m.STag(), 4000, 200, p.crc), [][]byte{all}
		}, layer: LayerRDMAP, etype: RDMAPRemoteProtection, code: RDMAPBaseBounds, withHdr: true, err: rdma.ErrAccess},
		{name: "read of write-only region", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessRemoteWrite)
			return readReq(m.STag(), 0, 16, p.crc), [][]byte{all}
		}, layer: LayerRDMAP, etype: RDMAPRemoteProtection, code: RDMAPAccessRights, withHdr: true, err: rdma.ErrAccess},
		{name: "send without receive", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			return fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("hi"), p.crc), nil
		}, layer: LayerDDP, etype: DDPUntaggedBuffer, code: DDPUNoBuffer, withHdr: true, err: rdma.ErrNoRecv},
		{name: "send too long", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			all := bytes.Repeat([]byte{0xa5}, 2*guard+10)
			q.PostRecv(rdma.RecvWR{ID: 1, Buf: all[guard : guard+10 : guard+10]})
			return fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, make([]byte, 11), p.crc), [][]byte{all}
		}, layer: LayerDDP, etype: DDPUntaggedBuffer, code: DDPUTooLong, withHdr: true, err: rdma.ErrRecvTooSmall},
		{name: "send with invalidate of unknown STag", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			q.PostRecv(rdma.RecvWR{ID: 1, Buf: make([]byte, 10)})
			h := untagged(OpSendInvalidate, QNSend, 1, 0, true)
			h.RsvdULP = 0x77
			return fpdu(h, nil, []byte("x"), p.crc), nil
		}, layer: LayerRDMAP, etype: RDMAPRemoteOperation, code: RDMAPCannotInvalidate, withHdr: true, err: rdma.ErrAccess},
		{name: "bad MSN", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			q.PostRecv(rdma.RecvWR{ID: 1, Buf: make([]byte, 10)})
			return fpdu(untagged(OpSend, QNSend, 2, 0, true), nil, []byte("x"), p.crc), nil
		}, layer: LayerDDP, etype: DDPUntaggedBuffer, code: DDPUInvalidMSN, withHdr: true, err: ErrProtocol},
		{name: "bad MO", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			q.PostRecv(rdma.RecvWR{ID: 1, Buf: make([]byte, 10)})
			return fpdu(untagged(OpSend, QNSend, 1, 4, true), nil, []byte("x"), p.crc), nil
		}, layer: LayerDDP, etype: DDPUntaggedBuffer, code: DDPUInvalidMO, withHdr: true, err: ErrProtocol},
		{name: "bad QN", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			return fpdu(untagged(OpSend, 3, 1, 0, true), nil, []byte("x"), p.crc), nil
		}, layer: LayerDDP, etype: DDPUntaggedBuffer, code: DDPUInvalidQN, withHdr: true, err: ErrProtocol},
		{name: "bad DDP version", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			b := fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("x"), false)
			b[2] = b[2]&^3 | 2
			return refix(b, p.crc), nil
		}, layer: LayerDDP, etype: DDPUntaggedBuffer, code: DDPUInvalidVersion, withHdr: true, err: ErrProtocol},
		{name: "bad RDMAP version", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			b := fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("x"), false)
			b[3] = b[3]&0x3f | 0x80
			return refix(b, p.crc), nil
		}, layer: LayerRDMAP, etype: RDMAPRemoteOperation, code: RDMAPInvalidVersion, withHdr: true, err: ErrProtocol},
		{name: "bad opcode", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			return fpdu(untagged(Opcode(9), QNSend, 1, 0, true), nil, []byte("x"), p.crc), nil
		}, layer: LayerRDMAP, etype: RDMAPRemoteOperation, code: RDMAPUnexpectedOpcode, withHdr: true, err: ErrProtocol},
		{name: "tagged Send", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			return fpdu(Header{Tagged: true, Last: true, Opcode: OpSend}, nil, []byte("x"), p.crc), nil
		}, layer: LayerRDMAP, etype: RDMAPRemoteOperation, code: RDMAPUnexpectedOpcode, withHdr: true, err: ErrProtocol},
		{name: "unsolicited read response", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			m, all := region(t, q, rdma.AccessLocalWrite)
			return fpdu(Header{Tagged: true, Last: true, Opcode: OpReadResponse, STag: m.STag()}, nil, []byte("abcd"), p.crc), [][]byte{all}
		}, layer: LayerRDMAP, etype: RDMAPRemoteOperation, code: RDMAPUnexpectedOpcode, withHdr: true, err: ErrProtocol},
		{name: "ULPDU shorter than header", setup: func(t *testing.T, p *rawPeer, q rdma.QP) ([]byte, [][]byte) {
			return []byte{0, 4, 0x41, 0x43, 0, 0, 0, 0}, nil
		}, layer: LayerLLP, etype: 0, code: LLPFPDUStart, err: ErrProtocol},
	}
	for _, crc := range []bool{false, true} {
		for _, c := range cases {
			t.Run(c.name+map[bool]string{false: "", true: "/crc"}[crc], func(t *testing.T) {
				p, q := hostile(t, crc)
				wire, guards := c.setup(t, p, q)
				p.send(t, wire)
				tm := p.readTerminate(t)
				if tm.Layer != c.layer || tm.EType != c.etype || tm.Code != c.code {
					t.Fatalf("terminate %s, want %s", TermReason(tm.Layer, tm.EType, tm.Code), TermReason(c.layer, c.etype, c.code))
				}
				if c.withHdr {
					hl := headerLenFor(wire[2])
					if tm.R {
						hl += ReadRequestLen
					}
					if !tm.M || !tm.D || int(tm.SegLen) != int(binary.BigEndian.Uint16(wire)) || !bytes.Equal(tm.Hdr, wire[2:2+hl]) {
						t.Fatalf("terminate offending header M=%v D=%v len %d hdr %x, sent %x", tm.M, tm.D, tm.SegLen, tm.Hdr, wire[:2+hl])
					}
				}
				err, _ := pollErr(t, q)
				if !errors.Is(err, c.err) {
					t.Fatalf("QP error %v, want %v", err, c.err)
				}
				var te *TerminateError
				if !errors.As(err, &te) || te.Remote || te.Code != c.code {
					t.Fatalf("QP error %v", err)
				}
				for _, g := range guards {
					for i, v := range g {
						if v != 0xa5 {
							t.Fatalf("memory changed at %d of %d", i, len(g))
						}
					}
				}
			})
		}
	}
}

// refix recomputes PAD and CRC of a hand-edited FPDU.
func refix(b []byte, crc bool) []byte {
	ul := int(binary.BigEndian.Uint16(b))
	out := append([]byte(nil), b[:2+ul]...)
	out = append(out, make([]byte, padLen(ul))...)
	var c uint32
	if crc {
		c = crc32.Checksum(out, castagnoli)
	}
	return binary.LittleEndian.AppendUint32(out, c)
}

func TestHostileBadCRC(t *testing.T) {
	p, q := hostile(t, true)
	m, all := guarded(t, q, 4096, rdma.AccessRemoteWrite)
	b := fpdu(Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: m.STag(), TO: 8}, nil, []byte("12345678"), true)
	b[len(b)-1] ^= 0xff
	p.send(t, b)
	tm := p.readTerminate(t)
	if tm.Layer != LayerLLP || tm.Code != LLPCRCError || !tm.D || !bytes.Equal(tm.Hdr, b[2:2+TaggedHeaderLen]) {
		t.Fatalf("terminate %+v", tm)
	}
	if err, _ := pollErr(t, q); !errors.Is(err, ErrProtocol) {
		t.Fatalf("QP error %v", err)
	}
	// placement stayed inside [8, 16) of the region
	for i, v := range all {
		if (i < guard+8 || i >= guard+16) && v != 0xa5 {
			t.Fatalf("byte %d changed", i)
		}
	}
}

func TestHostileTruncated(t *testing.T) {
	p, q := hostile(t, false)
	q.PostRecv(rdma.RecvWR{ID: 1, Buf: make([]byte, 100)})
	b := fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, make([]byte, 50), false)
	p.send(t, b[:30])
	p.c.(interface{ CloseWrite() error }).CloseWrite()
	tm := p.readTerminate(t)
	if tm.Layer != LayerLLP || tm.Code != LLPStreamLost || tm.D {
		t.Fatalf("terminate %+v", tm)
	}
	err, cs := pollErr(t, q)
	if !errors.Is(err, ErrProtocol) || len(cs) != 1 || cs[0].Err == nil {
		t.Fatalf("QP error %v, completions %+v", err, cs)
	}
}

func TestHostileRemoteTerminate(t *testing.T) {
	p, q := hostile(t, false)
	offending := Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: 0xabcdef01, TO: 0x1000}
	tm := Terminate{Layer: LayerDDP, EType: DDPTaggedBuffer, Code: DDPTBaseBounds, M: true, D: true, SegLen: 100, Hdr: offending.Append(nil)}
	p.send(t, appendTerminateFPDU(nil, &tm, false))
	err, _ := pollErr(t, q)
	var te *TerminateError
	if !errors.Is(err, rdma.ErrTerminated) || !errors.As(err, &te) || !te.Remote || te.Code != DDPTBaseBounds || te.Layer != LayerDDP {
		t.Fatalf("QP error %v", err)
	}
	t.Log(err)
}

func TestHostileIRDOverflow(t *testing.T) {
	// IRD 2: the third outstanding Read Request is refused. The peer does
	// not read, so the first (large) response stalls the send loop.
	p, q := hostile(t, false)
	m, err := q.RegisterMR(nil, 16<<20, rdma.AccessRemoteRead)
	if err != nil {
		t.Fatal(err)
	}
	var wire []byte
	for i := uint32(1); i <= 3; i++ {
		var rr [ReadRequestLen]byte
		(&ReadRequest{SinkSTag: 0x1234, Size: 16 << 20, SrcSTag: m.STag()}).Put(rr[:])
		wire = append(wire, fpdu(untagged(OpReadRequest, QNReadReq, i, 0, true), rr[:], nil, false)...)
	}
	p.send(t, wire)
	err, _ = pollErr(t, q)
	var te *TerminateError
	if !errors.As(err, &te) || te.Layer != LayerDDP || te.Code != DDPUInvalidMSN {
		t.Fatalf("QP error %v", err)
	}
}

func TestListenerCloseDuringHandshake(t *testing.T) {
	l, err := New(Options{}).Listen("127.0.0.1:0", rdma.ConnParams{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("MPA ID Req")) // half a request, then silence
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	l.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	if _, err := l.Accept(context.Background()); err != ErrListenerClosed {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// A local Invalidate returns only once a placement that passed the STag
// check before it has finished: afterwards the memory is the owner's again
// (an SMB2 READ whose region it was has returned to its caller), even if
// the peer sent the FPDU's header and then stalled inside its payload.
func TestInvalidateWaitsForPlacement(t *testing.T) {
	p, q := hostile(t, false)
	m, all := guarded(t, q, 4096, rdma.AccessRemoteWrite)
	payload := bytes.Repeat([]byte{0x5a}, 1024)
	wire := fpdu(Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: m.STag()}, nil, payload, false)
	split := 2 + TaggedHeaderLen + 100
	p.send(t, wire[:split])
	within := time.Now().Add(5 * time.Second)
	for m.(*mr).inflight.Load() == 0 {
		if time.Now().After(within) {
			t.Fatal("placement did not start")
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { m.Invalidate(); close(done) }()
	select {
	case <-done:
		t.Fatal("Invalidate returned while a placement into the region was under way")
	case <-time.After(50 * time.Millisecond):
	}
	p.send(t, wire[split:])
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Invalidate still waiting after the placement ended")
	}
	region := all[guard : guard+4096]
	if !bytes.Equal(region[:len(payload)], payload) || !bytes.Equal(region[len(payload):], bytes.Repeat([]byte{0xa5}, 4096-len(payload))) {
		t.Fatal("region is not the whole first Write and nothing else")
	}
	checkGuards(t, all)
	// The next Write to it is refused.
	p.send(t, fpdu(Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: m.STag()}, nil, []byte("late"), false))
	if tm := p.readTerminate(t); tm.Code != DDPTInvalidSTag {
		t.Fatalf("terminate %s", TermReason(tm.Layer, tm.EType, tm.Code))
	}
	checkGuards(t, all)
}

// A peer that serves no RDMA Reads (MPA IRD 0): an RDMA Read posted to it
// fails at once instead of waiting forever for an ORD slot.
func TestReadWithPeerIRDZero(t *testing.T) {
	l, err := New(Options{}).Listen("127.0.0.1:0", rdma.ConnParams{IRD: 2, ORD: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, rep := rawDial(t, l.Addr().String(), rev2Req(false, 0, 2, nil))
	var w IRDORD
	if rep.Reject || w.Unmarshal(rep.PrivateData) != nil || w.ORD != 0 {
		t.Fatalf("reply %+v (IRD/ORD %+v)", rep, w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	sink, err := q.RegisterMR(nil, 4096, rdma.AccessLocalWrite)
	if err != nil {
		t.Fatal(err)
	}
	err = q.PostSend(rdma.SendWR{ID: 1, Op: rdma.OpRead, LocalMR: sink, RemoteSTag: 0x100, Length: 16, Signaled: true})
	if err == nil {
		t.Fatal("RDMA Read posted to a peer with IRD 0")
	}
	t.Log(err)
}
