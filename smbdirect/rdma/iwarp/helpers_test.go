package iwarp

import (
	"bufio"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// pair connects a dialing and an accepting QP over loopback.
func pair(t testing.TB, dopts, lopts Options, dcp, lcp rdma.ConnParams) (cli, srv rdma.QP) {
	t.Helper()
	l, err := New(lopts).Listen("127.0.0.1:0", lcp)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		q   rdma.QP
		err error
	}
	ch := make(chan res, 1)
	go func() {
		q, err := l.Accept(ctx)
		ch <- res{q, err}
	}()
	cli, err = New(dopts).Dial(ctx, l.Addr().String(), dcp)
	if err != nil {
		t.Fatal("dial:", err)
	}
	r := <-ch
	if r.err != nil {
		cli.Close()
		t.Fatal("accept:", r.err)
	}
	t.Cleanup(func() { cli.Close(); r.q.Close() })
	return cli, r.q
}

// prime lets the responder send: the initiator's first FPDU (a Send).
func prime(t testing.TB, cli, srv rdma.QP) {
	t.Helper()
	b := make([]byte, 16)
	if err := srv.PostRecv(rdma.RecvWR{ID: 999, Buf: b}); err != nil {
		t.Fatal(err)
	}
	if err := cli.PostSend(rdma.SendWR{ID: 998, Op: rdma.OpSend, Local: [][]byte{[]byte("hello")}, Signaled: true}); err != nil {
		t.Fatal(err)
	}
	c := poll1(t, srv)
	if c.ID != 999 || c.Err != nil || c.Len != 5 {
		t.Fatalf("prime recv %+v", c)
	}
	c = poll1(t, cli)
	if c.ID != 998 || c.Err != nil {
		t.Fatalf("prime send %+v", c)
	}
}

func poll1(t testing.TB, q rdma.QP) rdma.Completion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cs [1]rdma.Completion
	got, err := q.Poll(ctx, cs[:])
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return got[0]
}

// pollErr polls until Poll returns an error, returning it and the
// completions seen before.
func pollErr(t testing.TB, q rdma.QP) (error, []rdma.Completion) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var all []rdma.Completion
	cs := make([]rdma.Completion, 16)
	for {
		got, err := q.Poll(ctx, cs)
		all = append(all, got...)
		if err != nil {
			if err == context.DeadlineExceeded {
				t.Fatal("no error from Poll")
			}
			return err, all
		}
	}
}

// ---- a raw peer: speaks MPA and FPDUs by hand ----

type rawPeer struct {
	c   net.Conn
	br  *bufio.Reader
	crc bool
	msn [3]uint32
}

func rawDial(t testing.TB, addr string, req MPAFrame) (*rawPeer, MPAFrame) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req.Append(nil)); err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{c: c, br: bufio.NewReader(c), msn: [3]uint32{1, 1, 1}}
	rep, err := readMPAFrame(p.br)
	if err != nil {
		t.Fatal("reading reply:", err)
	}
	p.crc = req.CRC || rep.CRC
	return p, rep
}

func rev2Req(crc bool, ird, ord uint16, pd []byte) MPAFrame {
	w := make([]byte, 4, 4+len(pd))
	(&IRDORD{IRD: ird, ORD: ord}).Put(w)
	return MPAFrame{CRC: crc, Rev: 2, Enhanced: true, PrivateData: append(w, pd...)}
}

// fpdu frames a ULPDU (header, extra, payload).
func fpdu(h Header, extra, payload []byte, crc bool) []byte {
	ul := h.Size() + len(extra) + len(payload)
	b := binary.BigEndian.AppendUint16(nil, uint16(ul))
	b = h.Append(b)
	b = append(b, extra...)
	b = append(b, payload...)
	b = append(b, make([]byte, padLen(ul))...)
	var c uint32
	if crc {
		c = crc32.Checksum(b, castagnoli)
	}
	return binary.LittleEndian.AppendUint32(b, c)
}

func (p *rawPeer) send(t testing.TB, b []byte) {
	t.Helper()
	if _, err := p.c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// readFPDU reads one FPDU, checks its CRC and returns the ULPDU.
func (p *rawPeer) readFPDU() ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(p.br, l[:]); err != nil {
		return nil, err
	}
	ul := int(binary.BigEndian.Uint16(l[:]))
	b := make([]byte, fpduLen(ul))
	copy(b, l[:])
	if _, err := io.ReadFull(p.br, b[2:]); err != nil {
		return nil, err
	}
	return CheckFPDU(b, p.crc)
}

// readTerminate reads FPDUs until a Terminate and then expects EOF.
func (p *rawPeer) readTerminate(t testing.TB) Terminate {
	t.Helper()
	for {
		u, err := p.readFPDU()
		if err != nil {
			t.Fatalf("no terminate: %v", err)
		}
		var h Header
		if err := h.Unmarshal(u); err != nil {
			t.Fatal(err)
		}
		if h.Opcode != OpTerminate {
			continue
		}
		if h.Tagged || h.QN != QNTerminate || h.MSN != 1 || h.MO != 0 || !h.Last {
			t.Fatalf("bad terminate header %v", &h)
		}
		var tm Terminate
		if err := tm.Unmarshal(u[UntaggedHeaderLen:]); err != nil {
			t.Fatal(err)
		}
		tm.Hdr = append([]byte(nil), tm.Hdr...)
		if _, err := p.br.ReadByte(); err != io.EOF {
			t.Fatalf("connection not closed after terminate: %v", err)
		}
		return tm
	}
}

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-ch
	if c2 == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return c1.(*net.TCPConn), c2.(*net.TCPConn)
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, rxBufSize) }
