package iwarp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

func TestHandshake(t *testing.T) {
	for _, rev := range []int{1, 2} {
		for _, cc := range []struct{ cli, srv bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			t.Run(fmt.Sprintf("rev%d/crc-cli=%v,srv=%v", rev, cc.cli, cc.srv), func(t *testing.T) {
				dcp := rdma.ConnParams{IRD: 32, ORD: 4, PrivateData: []byte("client pd"), CRC: cc.cli}
				lcp := rdma.ConnParams{IRD: 8, ORD: 16, PrivateData: []byte{0, 0, 0, 1, 0, 0, 0, 8}, CRC: cc.srv}
				cli, srv := pair(t, Options{Rev: rev}, Options{}, dcp, lcp)
				cp, sp := cli.PeerParams(), srv.PeerParams()
				want := cc.cli || cc.srv
				if cp.CRC != want || sp.CRC != want {
					t.Errorf("CRC in use: cli %v srv %v, want %v", cp.CRC, sp.CRC, want)
				}
				if !bytes.Equal(cp.PrivateData, lcp.PrivateData) || !bytes.Equal(sp.PrivateData, dcp.PrivateData) {
					t.Errorf("private data: cli got %q, srv got %q", cp.PrivateData, sp.PrivateData)
				}
				if rev == 2 {
					if sp.IRD != 32 || sp.ORD != 4 {
						t.Errorf("srv sees peer IRD/ORD %d/%d", sp.IRD, sp.ORD)
					}
					// responder: IRD = min(8, peer ORD 4), ORD = min(16, peer IRD 32)
					if cp.IRD != 4 || cp.ORD != 16 {
						t.Errorf("cli sees peer IRD/ORD %d/%d", cp.IRD, cp.ORD)
					}
					if q := cli.(*qp); q.ord != 4 || q.ird != 32 {
						t.Errorf("cli effective ird/ord %d/%d", q.ird, q.ord)
					}
				} else if cp.IRD != 0 || sp.IRD != 0 {
					t.Errorf("rev 1 has no IRD/ORD")
				}
				prime(t, cli, srv)
			})
		}
	}
}

func TestHandshakeBytes(t *testing.T) {
	// The initiator's request must match siw/cifs.ko's layout (PROTOCOL.md C.9).
	l, err := New(Options{}).Listen("127.0.0.1:0", rdma.ConnParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ln := l.(*listener)
	_ = ln
	var h handshake
	c1, c2 := tcpPair(t)
	done := make(chan []byte, 1)
	go func() {
		b := make([]byte, 32)
		n, _ := c2.Read(b)
		done <- b[:n]
		rep := MPAFrame{Reply: true, Rev: 2, Enhanced: true, PrivateData: []byte{0, 1, 0, 8}}
		c2.Write(rep.Append(nil))
	}()
	h, err = initiate(c1, bufioReader(c1), rdma.ConnParams{IRD: 32, ORD: 1, PrivateData: []byte{0, 0, 0, 32, 0, 0, 0, 1}}, false, 2, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("MPA ID Req Frame"), 0x10, 2, 0, 12, 0, 0x20, 0, 1, 0, 0, 0, 0x20, 0, 0, 0, 1)
	if got := <-done; !bytes.Equal(got, want) {
		t.Fatalf("request\n got %x\nwant %x", got, want)
	}
	if h.peer.IRD != 1 || h.peer.ORD != 8 || h.ord != 1 || len(h.peer.PrivateData) != 0 {
		t.Fatalf("handshake %+v", h)
	}
}

func TestRejectMarkers(t *testing.T) {
	l, err := New(Options{}).Listen("127.0.0.1:0", rdma.ConnParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	req := rev2Req(false, 4, 4, nil)
	req.Markers = true
	_, rep := rawDial(t, l.Addr().String(), req)
	if !rep.Reply || !rep.Reject {
		t.Fatalf("markers request not rejected: %+v", rep)
	}
	// and too much private data
	_, rep = rawDial(t, l.Addr().String(), rev2Req(false, 4, 4, make([]byte, 300)))
	if !rep.Reject {
		t.Fatalf("300 bytes of private data not rejected")
	}
	// an initiator that gets a reply with markers aborts
	c1, c2 := tcpPair(t)
	go func() {
		readMPAFrame(c2)
		rep := MPAFrame{Reply: true, Markers: true, Rev: 2, Enhanced: true, PrivateData: []byte{0, 1, 0, 1}}
		c2.Write(rep.Append(nil))
	}()
	if _, err := initiate(c1, bufioReader(c1), rdma.ConnParams{}, false, 2, time.Now().Add(5*time.Second)); err == nil {
		t.Fatal("reply with M=1 accepted")
	}
	// a rejecting responder: ErrRejected
	c1, c2 = tcpPair(t)
	go func() {
		readMPAFrame(c2)
		rep := MPAFrame{Reply: true, Reject: true, Rev: 2, Enhanced: true}
		c2.Write(rep.Append(nil))
	}()
	if _, err := initiate(c1, bufioReader(c1), rdma.ConnParams{}, false, 2, time.Now().Add(5*time.Second)); !errors.Is(err, ErrRejected) {
		t.Fatalf("reject: %v", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	c1, _ := tcpPair(t)
	start := time.Now()
	_, err := initiate(c1, bufioReader(c1), rdma.ConnParams{}, false, 2, time.Now().Add(200*time.Millisecond))
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("no timeout: %v after %v", err, time.Since(start))
	}
}

func fill(b []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

func TestSendRecvSizes(t *testing.T) {
	for _, o := range []Options{{}, {CRC: true, MaxFPDU: 1500}, {MaxFPDU: 100}} {
		t.Run(fmt.Sprintf("crc=%v,maxfpdu=%d", o.CRC, o.MaxFPDU), func(t *testing.T) {
			cli, srv := pair(t, o, o, rdma.ConnParams{}, rdma.ConnParams{})
			prime(t, cli, srv)
			sizes := []int{0, 1, 2, 3, 4, 5, 1000, 1364, 1500, 4096, 65536, 200001, 1 << 20}
			for i, n := range sizes {
				for _, dir := range []struct{ a, b rdma.QP }{{cli, srv}, {srv, cli}} {
					msg := make([]byte, n)
					fill(msg, uint64(i))
					rbuf := make([]byte, n+10)
					if err := dir.b.PostRecv(rdma.RecvWR{ID: uint64(i), Buf: rbuf}); err != nil {
						t.Fatal(err)
					}
					// gather list in three pieces
					a, b := n/3, 2*n/3
					if err := dir.a.PostSend(rdma.SendWR{ID: 100 + uint64(i), Op: rdma.OpSend, Local: [][]byte{msg[:a], msg[a:b], nil, msg[b:]}, Signaled: true}); err != nil {
						t.Fatal(err)
					}
					c := poll1(t, dir.b)
					if c.Err != nil || c.ID != uint64(i) || c.Op != rdma.OpRecv || c.Len != n || !bytes.Equal(rbuf[:n], msg) {
						t.Fatalf("size %d: recv %+v, content equal %v", n, c, bytes.Equal(rbuf[:n], msg))
					}
					c = poll1(t, dir.a)
					if c.Err != nil || c.ID != 100+uint64(i) || c.Op != rdma.OpSend || c.Len != n {
						t.Fatalf("size %d: send completion %+v", n, c)
					}
				}
			}
		})
	}
}

func TestSendWithInvalidate(t *testing.T) {
	cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(t, cli, srv)
	m, err := cli.RegisterMR(nil, 8192, rdma.AccessLocalWrite|rdma.AccessRemoteWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Deregister()
	rb := make([]byte, 64)
	cli.PostRecv(rdma.RecvWR{ID: 1, Buf: rb})
	srv.PostSend(rdma.SendWR{ID: 2, Op: rdma.OpWrite, Local: [][]byte{[]byte("data")}, RemoteSTag: m.STag(), RemoteOffset: 100},
		rdma.SendWR{ID: 3, Op: rdma.OpSendInvalidate, Local: [][]byte{[]byte("response")}, RemoteSTag: m.STag(), Signaled: true})
	c := poll1(t, cli)
	if c.Err != nil || c.Invalidated != m.STag() || c.Len != 8 || string(rb[:8]) != "response" {
		t.Fatalf("recv %+v", c)
	}
	if string(m.Buf()[100:104]) != "data" {
		t.Fatal("write before send not placed")
	}
	if c := poll1(t, srv); c.ID != 3 || c.Err != nil {
		t.Fatalf("send %+v", c)
	}
	// the STag is dead now: a write to it fails the connection
	srv.PostSend(rdma.SendWR{ID: 4, Op: rdma.OpWrite, Local: [][]byte{[]byte("x")}, RemoteSTag: m.STag(), Signaled: true})
	err, _ = pollErr(t, cli)
	if !errors.Is(err, rdma.ErrAccess) {
		t.Fatalf("write to invalidated STag: %v", err)
	}
	err, _ = pollErr(t, srv)
	if !errors.Is(err, rdma.ErrTerminated) {
		t.Fatalf("writer: %v", err)
	}
	var te *TerminateError
	if !errors.As(err, &te) || te.Layer != LayerDDP || te.EType != DDPTaggedBuffer || te.Code != DDPTInvalidSTag {
		t.Fatalf("writer terminate %v", err)
	}
}

const guard = 4096

// guarded registers the middle of a buffer with guard bytes on both sides.
func guarded(t testing.TB, q rdma.QP, n int, acc rdma.Access) (rdma.MR, []byte) {
	all := make([]byte, n+2*guard)
	for i := range all {
		all[i] = 0xa5
	}
	m, err := q.RegisterMR(all[guard:guard+n:guard+n], 0, acc)
	if err != nil {
		t.Fatal(err)
	}
	return m, all
}

func checkGuards(t testing.TB, all []byte) {
	t.Helper()
	n := len(all) - 2*guard
	for i := 0; i < guard; i++ {
		if all[i] != 0xa5 || all[guard+n+i] != 0xa5 {
			t.Fatalf("guard byte changed at %d", i)
		}
	}
}

func TestWriteRead(t *testing.T) {
	for _, crc := range []bool{false, true} {
		cli, srv := pair(t, Options{CRC: crc}, Options{}, rdma.ConnParams{IRD: 4, ORD: 4}, rdma.ConnParams{IRD: 4, ORD: 4})
		prime(t, cli, srv)
		sizes := []int{1 << 10, 4097, 64 << 10, 1 << 20, 16 << 20}
		if testing.Short() || crc {
			sizes = sizes[:4]
		}
		for _, n := range sizes {
			t.Run(fmt.Sprintf("crc=%v/%d", crc, n), func(t *testing.T) {
				// srv region the client writes into and reads from
				remote, rall := guarded(t, srv, n+64, rdma.AccessRemoteWrite|rdma.AccessRemoteRead)
				defer remote.Deregister()
				src, err := cli.RegisterMR(nil, n, rdma.AccessLocalWrite)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Deregister()
				fill(src.Buf(), uint64(n))
				sink, sall := guarded(t, cli, n, rdma.AccessLocalWrite)
				defer sink.Deregister()
				err = cli.PostSend(
					rdma.SendWR{ID: 1, Op: rdma.OpWrite, Local: [][]byte{src.Buf()}, RemoteSTag: remote.STag(), RemoteOffset: 64},
					rdma.SendWR{ID: 2, Op: rdma.OpRead, LocalMR: sink, Local: [][]byte{sink.Buf()}, RemoteSTag: remote.STag(), RemoteOffset: 64, Length: uint32(n), Signaled: true})
				if err != nil {
					t.Fatal(err)
				}
				c := poll1(t, cli)
				if c.ID != 2 || c.Err != nil || c.Op != rdma.OpRead || c.Len != n {
					t.Fatalf("read completion %+v", c)
				}
				// a Send after the Write orders the test's view of the
				// region (the race detector does not see TCP causality)
				srv.PostRecv(rdma.RecvWR{ID: 9, Buf: make([]byte, 1)})
				cli.PostSend(rdma.SendWR{ID: 3, Op: rdma.OpSend, Signaled: true})
				poll1(t, srv)
				poll1(t, cli)
				if !bytes.Equal(remote.Buf()[64:], src.Buf()) {
					t.Fatal("RDMA Write content")
				}
				if !bytes.Equal(sink.Buf(), src.Buf()) {
					t.Fatal("RDMA Read content")
				}
				checkGuards(t, rall)
				checkGuards(t, sall)
			})
		}
	}
}

func TestReadSubrangeAndOrder(t *testing.T) {
	// several reads outstanding (ORD 4 > 2 posted at once limit check), into
	// parts of one sink, and a signaled Send after them completes after them.
	cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{IRD: 2, ORD: 2}, rdma.ConnParams{IRD: 2, ORD: 2})
	prime(t, cli, srv)
	remote, _ := srv.RegisterMR(nil, 1<<16, rdma.AccessRemoteRead)
	fill(remote.Buf(), 3)
	sink, _ := cli.RegisterMR(nil, 1<<16, rdma.AccessLocalWrite)
	srv.PostRecv(rdma.RecvWR{ID: 50, Buf: make([]byte, 10)})
	var wrs []rdma.SendWR
	for i := 0; i < 8; i++ {
		off := i * 8192
		wrs = append(wrs, rdma.SendWR{ID: uint64(i), Op: rdma.OpRead, LocalMR: sink, Local: [][]byte{sink.Buf()[off : off+8192]}, RemoteSTag: remote.STag(), RemoteOffset: uint64(off), Signaled: i%2 == 0})
	}
	wrs = append(wrs, rdma.SendWR{ID: 8, Op: rdma.OpSend, Local: [][]byte{[]byte("done")}, Signaled: true})
	if err := cli.PostSend(wrs...); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{0, 2, 4, 6, 8} {
		if c := poll1(t, cli); c.ID != id || c.Err != nil {
			t.Fatalf("completion %+v, want ID %d", c, id)
		}
	}
	if !bytes.Equal(sink.Buf(), remote.Buf()) {
		t.Fatal("read content")
	}
	poll1(t, srv)
}

func TestBatchUnsignaled(t *testing.T) {
	cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(t, cli, srv)
	const n = 200
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 100)
		srv.PostRecv(rdma.RecvWR{ID: uint64(i), Buf: bufs[i]})
	}
	remote, _ := srv.RegisterMR(nil, n*10, rdma.AccessRemoteWrite)
	wrs := make([]rdma.SendWR, 0, 2*n)
	for i := 0; i < n; i++ {
		wrs = append(wrs, rdma.SendWR{ID: uint64(i), Op: rdma.OpWrite, Local: [][]byte{bytes.Repeat([]byte{byte(i)}, 10)}, RemoteSTag: remote.STag(), RemoteOffset: uint64(i * 10)})
		wrs = append(wrs, rdma.SendWR{ID: uint64(1000 + i), Op: rdma.OpSend, Local: [][]byte{[]byte(fmt.Sprint("msg", i))}, Signaled: i == n-1})
	}
	if err := cli.PostSend(wrs...); err != nil {
		t.Fatal(err)
	}
	c := poll1(t, cli)
	if c.ID != 1000+n-1 || c.Err != nil {
		t.Fatalf("completion %+v", c)
	}
	for i := 0; i < n; i++ {
		c := poll1(t, srv)
		if c.ID != uint64(i) || string(bufs[i][:c.Len]) != fmt.Sprint("msg", i) {
			t.Fatalf("recv %d: %+v %q", i, c, bufs[i][:c.Len])
		}
		if remote.Buf()[i*10+9] != byte(i) {
			t.Fatalf("write %d not placed before its send", i)
		}
	}
	// nothing else queued on the sender
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if cs, err := cli.Poll(ctx, make([]rdma.Completion, 4)); err == nil {
		t.Fatalf("unexpected completions %+v", cs)
	}
}

func TestNoRecvAndTooSmall(t *testing.T) {
	t.Run("norecv", func(t *testing.T) {
		cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
		prime(t, cli, srv)
		cli.PostSend(rdma.SendWR{ID: 1, Op: rdma.OpSend, Local: [][]byte{[]byte("x")}})
		if err, _ := pollErr(t, srv); !errors.Is(err, rdma.ErrNoRecv) {
			t.Fatalf("receiver: %v", err)
		}
		err, _ := pollErr(t, cli)
		var te *TerminateError
		if !errors.As(err, &te) || !errors.Is(err, rdma.ErrTerminated) || te.Layer != LayerDDP || te.EType != DDPUntaggedBuffer || te.Code != DDPUNoBuffer {
			t.Fatalf("sender: %v", err)
		}
	})
	t.Run("toosmall", func(t *testing.T) {
		cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
		prime(t, cli, srv)
		buf := make([]byte, 100+2*guard)
		srv.PostRecv(rdma.RecvWR{ID: 7, Buf: buf[guard : guard+100 : guard+100]}, rdma.RecvWR{ID: 8, Buf: make([]byte, 10)})
		cli.PostSend(rdma.SendWR{ID: 1, Op: rdma.OpSend, Local: [][]byte{bytes.Repeat([]byte{1}, 101)}})
		err, cs := pollErr(t, srv)
		if !errors.Is(err, rdma.ErrRecvTooSmall) {
			t.Fatalf("receiver: %v", err)
		}
		if len(cs) != 2 || cs[0].ID != 7 || !errors.Is(cs[0].Err, rdma.ErrRecvTooSmall) || cs[1].ID != 8 || cs[1].Err != rdma.ErrFlushed {
			t.Fatalf("completions %+v", cs)
		}
		for i := range buf {
			if buf[i] != 0 {
				t.Fatalf("receive buffer touched at %d", i)
			}
		}
	})
}

func TestCloseFlushes(t *testing.T) {
	cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(t, cli, srv)
	srv.PostRecv(rdma.RecvWR{ID: 1, Buf: make([]byte, 10)}, rdma.RecvWR{ID: 2, Buf: make([]byte, 10)})
	srv.Close()
	err, cs := pollErr(t, srv)
	if err != rdma.ErrFlushed || len(cs) != 2 || cs[0].Err != rdma.ErrFlushed || cs[1].ID != 2 {
		t.Fatalf("after close: %v %+v", err, cs)
	}
	if err := srv.PostSend(rdma.SendWR{Op: rdma.OpSend}); err == nil {
		t.Fatal("PostSend after Close")
	}
	// the peer sees the connection go
	want := 0
	if cli.PostRecv(rdma.RecvWR{ID: 3, Buf: make([]byte, 10)}) == nil {
		want = 1 // posted before the EOF was seen
	}
	err, cs = pollErr(t, cli)
	if !errors.Is(err, ErrConnLost) || len(cs) != want || want == 1 && cs[0].Err != rdma.ErrFlushed {
		t.Fatalf("peer: %v %+v", err, cs)
	}
}

func TestRemoteReadRights(t *testing.T) {
	// Read of a region registered without RemoteRead: RDMAP remote
	// protection / access rights, both sides fail.
	cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(t, cli, srv)
	remote, _ := srv.RegisterMR(nil, 4096, rdma.AccessRemoteWrite)
	sink, _ := cli.RegisterMR(nil, 4096, rdma.AccessLocalWrite)
	cli.PostSend(rdma.SendWR{ID: 1, Op: rdma.OpRead, LocalMR: sink, RemoteSTag: remote.STag(), Length: 10, Signaled: true})
	err, _ := pollErr(t, srv)
	if !errors.Is(err, rdma.ErrAccess) {
		t.Fatalf("responder: %v", err)
	}
	err, cs := pollErr(t, cli)
	var te *TerminateError
	if !errors.As(err, &te) || te.Layer != LayerRDMAP || te.EType != RDMAPRemoteProtection || te.Code != RDMAPAccessRights {
		t.Fatalf("requester: %v", err)
	}
	if len(cs) != 1 || cs[0].ID != 1 || cs[0].Err != rdma.ErrFlushed {
		t.Fatalf("read completion %+v", cs)
	}
}

func TestPostSendInvalid(t *testing.T) {
	cli, srv := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(t, cli, srv)
	other, _ := srv.RegisterMR(nil, 10, rdma.AccessLocalWrite)
	noLW, _ := cli.RegisterMR(nil, 10, rdma.AccessRemoteRead)
	for _, wr := range []rdma.SendWR{
		{Op: rdma.OpRead, Length: 10},
		{Op: rdma.OpRead, LocalMR: other, Length: 10},
		{Op: rdma.OpRead, LocalMR: noLW, Length: 10},
		{Op: rdma.OpRecv},
	} {
		if err := cli.PostSend(wr); err == nil {
			t.Errorf("accepted %+v", wr)
		}
	}
	ok, _ := cli.RegisterMR(nil, 10, rdma.AccessLocalWrite)
	if err := cli.PostSend(rdma.SendWR{Op: rdma.OpRead, LocalMR: ok, Length: 11}); err == nil {
		t.Error("read longer than the sink accepted")
	}
}

func TestDeregisterUnmaps(t *testing.T) {
	cli, _ := pair(t, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	m, err := cli.RegisterMR(nil, 10000, rdma.AccessLocalWrite)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Buf()) != 10000 || cap(m.Buf())%pageSize != 0 {
		t.Fatalf("buf len %d cap %d", len(m.Buf()), cap(m.Buf()))
	}
	if m.STag()>>8 == 0 {
		t.Fatal("STag index 0")
	}
	if err := m.Deregister(); err != nil {
		t.Fatal(err)
	}
	if err := m.Deregister(); err == nil {
		t.Fatal("double deregister")
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	cli, srv := pair(t, Options{CRC: true}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(t, cli, srv)
	remote, _ := srv.RegisterMR(nil, 256<<10, rdma.AccessRemoteWrite|rdma.AccessRemoteRead)
	local, _ := cli.RegisterMR(nil, 256<<10, rdma.AccessLocalWrite)
	wrs := []rdma.SendWR{
		{Op: rdma.OpWrite, Local: [][]byte{local.Buf()}, RemoteSTag: remote.STag()},
		{Op: rdma.OpRead, LocalMR: local, RemoteSTag: remote.STag(), Length: 256 << 10, Signaled: true},
	}
	cs := make([]rdma.Completion, 2)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if err := cli.PostSend(wrs...); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Poll(ctx, cs); err != nil {
			t.Fatal(err)
		}
	})
	// AllocsPerRun counts every goroutine: both QPs' loops are included.
	if allocs > 0 {
		t.Fatalf("%v allocations per RDMA Write + Read", allocs)
	}
}
