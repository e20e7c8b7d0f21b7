// Package rdmabench holds the set-ups and measured loops of the RDMA
// benchmarks: the pure-Go iWARP provider's RDMA Write, RDMA Read and Send,
// the SMB-Direct transport's round trips, message stream and offloaded
// READ/WRITE, and the plain loopback TCP references they are compared with.
// The testing.B benchmarks of smbdirect and smbdirect/rdma/iwarp and the
// bench-rdma command (make bench-rdma) run the same code.
//
// Every loop is an object built once (connections, registered memory,
// work-request slices) whose Run(n) does n operations and returns when
// they completed: nothing is set up inside the measured loop, so counting
// allocations around Run measures the data path.
package rdmabench

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

// QPPair connects an initiator and a responder QP of the iWARP provider
// over 127.0.0.1.
func QPPair(dopts, lopts iwarp.Options, dcp, lcp rdma.ConnParams) (cli, srv rdma.QP, err error) {
	l, err := iwarp.New(lopts).Listen("127.0.0.1:0", lcp)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	return connectPair(
		func(ctx context.Context) (rdma.QP, error) { return iwarp.New(dopts).Dial(ctx, l.Addr().String(), dcp) },
		func(ctx context.Context) (rdma.QP, error) { return l.Accept(ctx) })
}

// connectPair runs accept and dial at once (10 s at most) and returns both
// ends, or the first error with whatever end was made closed.
func connectPair[T interface{ Close() error }](dial, accept func(context.Context) (T, error)) (cli, srv T, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := accept(ctx)
		ch <- res{v, err}
	}()
	cli, err = dial(ctx)
	r := <-ch
	if err == nil {
		err = r.err
	}
	if err != nil {
		var zero T
		for _, v := range []T{cli, r.v} {
			if any(v) != any(zero) {
				v.Close()
			}
		}
		return zero, zero, err
	}
	return cli, r.v, nil
}

// RDMAWindow is how many RDMA operations the RDMA loop keeps posted; one
// in RDMAWindow is signaled, as an SMB-Direct peer would post them.
const RDMAWindow = 8

// RDMA issues RDMA Writes or Reads of one size from an initiator into (or
// out of) a region of the responder.
type RDMA struct {
	cli, srv      rdma.QP
	local, remote rdma.MR
	wrs           []rdma.SendWR
	cs            []rdma.Completion
}

// NewRDMA connects a pair (MPA CRC if crc) and registers the regions.
func NewRDMA(op rdma.Opcode, size int, crc bool) (*RDMA, error) {
	cp := rdma.ConnParams{IRD: 16, ORD: 16}
	cli, srv, err := QPPair(iwarp.Options{CRC: crc}, iwarp.Options{}, cp, cp)
	if err != nil {
		return nil, err
	}
	r := &RDMA{cli: cli, srv: srv, cs: make([]rdma.Completion, 4)}
	if r.remote, err = srv.RegisterMR(nil, size, rdma.AccessRemoteWrite|rdma.AccessRemoteRead); err == nil {
		r.local, err = cli.RegisterMR(nil, size, rdma.AccessLocalWrite)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	// A reused one-element slice: PostSend(wrs...) then allocates nothing
	// (a variadic list would be built per call).
	r.wrs = []rdma.SendWR{{Op: op, Local: [][]byte{r.local.Buf()}, LocalMR: r.local,
		RemoteSTag: r.remote.STag(), Length: uint32(size)}}
	return r, nil
}

// Run does n operations and waits for the last.
func (r *RDMA) Run(n int) error {
	wr := &r.wrs[0]
	ctx := context.Background()
	inflight := 0
	for i := 0; i < n; i++ {
		wr.ID = uint64(i)
		wr.Signaled = i%RDMAWindow == RDMAWindow-1 || i == n-1
		if err := r.cli.PostSend(r.wrs...); err != nil {
			return err
		}
		if wr.Signaled {
			inflight++
		}
		for inflight > 1 || (i == n-1 && inflight > 0) {
			got, err := r.cli.Poll(ctx, r.cs)
			if err != nil {
				return err
			}
			for _, c := range got {
				if c.Err != nil {
					return c.Err
				}
			}
			inflight -= len(got)
		}
	}
	return nil
}

// Close tears the pair down.
func (r *RDMA) Close() {
	r.cli.Close()
	r.srv.Close()
}

// SendDepth is how many receives the Send loop's receiver keeps posted.
const SendDepth = 64

// Sends sends messages of one size from the initiator; the responder
// reposts each receive as it completes and returns a credit for it (an
// in-process stand-in for SMB-Direct credits), so the sender never finds
// the peer without a posted receive.
type Sends struct {
	cli, srv rdma.QP
	bufs     [][]byte
	wrs      []rdma.SendWR
	credits  chan struct{}
	ccs      []rdma.Completion
}

// NewSends connects a pair and posts the receives.
func NewSends(size int) (*Sends, error) {
	cli, srv, err := QPPair(iwarp.Options{}, iwarp.Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	if err != nil {
		return nil, err
	}
	s := &Sends{cli: cli, srv: srv, bufs: make([][]byte, SendDepth), credits: make(chan struct{}, SendDepth),
		ccs: make([]rdma.Completion, 8)}
	for i := range s.bufs {
		s.bufs[i] = make([]byte, size)
		if err := srv.PostRecv(rdma.RecvWR{ID: uint64(i), Buf: s.bufs[i]}); err != nil {
			s.Close()
			return nil, err
		}
		s.credits <- struct{}{}
	}
	s.wrs = []rdma.SendWR{{Op: rdma.OpSend, Local: [][]byte{make([]byte, size)}}}
	return s, nil
}

// Run sends n messages and returns when the receiver has them all. The
// sender signals one Send in 16 and keeps at most two signals outstanding.
func (s *Sends) Run(n int) error {
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { // the receiver: repost, return the credit
		scs := make([]rdma.Completion, SendDepth)
		rwr := make([]rdma.RecvWR, 1)
		for got := 0; got < n; {
			cs, err := s.srv.Poll(ctx, scs)
			if err != nil {
				done <- err
				return
			}
			for _, c := range cs {
				if c.Err != nil {
					done <- c.Err
					return
				}
				rwr[0] = rdma.RecvWR{ID: c.ID, Buf: s.bufs[c.ID]}
				s.srv.PostRecv(rwr...)
				s.credits <- struct{}{}
			}
			got += len(cs)
		}
		done <- nil
	}()
	wr := &s.wrs[0]
	inflight := 0
	for i := 0; i < n; i++ {
		<-s.credits
		wr.Signaled = i%16 == 15 || i == n-1
		if err := s.cli.PostSend(s.wrs...); err != nil {
			return err
		}
		if wr.Signaled {
			inflight++
		}
		for inflight > 1 || (i == n-1 && inflight > 0) {
			cs, err := s.cli.Poll(ctx, s.ccs)
			if err != nil {
				return err
			}
			inflight -= len(cs)
		}
	}
	return <-done
}

// Close tears the pair down.
func (s *Sends) Close() {
	s.cli.Close()
	s.srv.Close()
}

// TCPStream is the reference: a plain loopback TCP connection (Nagle off)
// carrying writes of one size, read on the other side into a buffer of
// that size with io.ReadFull: the bytes an RDMA loop moves, moved by the
// kernel's TCP alone.
type TCPStream struct {
	w, r *net.TCPConn
	wbuf []byte
	rbuf []byte
}

// NewTCPStream connects the pair.
func NewTCPStream(size int) (*TCPStream, error) {
	w, r, err := tcpPair()
	if err != nil {
		return nil, err
	}
	w.SetNoDelay(true)
	return &TCPStream{w: w, r: r, wbuf: make([]byte, size), rbuf: make([]byte, size)}, nil
}

// Run writes n buffers and returns when the reader has them all.
func (s *TCPStream) Run(n int) error {
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(s.r, s.rbuf); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var w net.Conn = s.w // through the interface, as any stream user
	for i := 0; i < n; i++ {
		if _, err := w.Write(s.wbuf); err != nil {
			return err
		}
	}
	return <-done
}

// Close closes the connection.
func (s *TCPStream) Close() {
	s.w.Close()
	s.r.Close()
}

// TCPPingPong is the round-trip reference: a message of one size written
// on a loopback TCP connection and echoed back by the peer.
type TCPPingPong struct {
	a, b *net.TCPConn
	buf  []byte
	done chan struct{}
}

// NewTCPPingPong connects the pair and starts the echoing side.
func NewTCPPingPong(size int) (*TCPPingPong, error) {
	a, b, err := tcpPair()
	if err != nil {
		return nil, err
	}
	a.SetNoDelay(true)
	b.SetNoDelay(true)
	p := &TCPPingPong{a: a, b: b, buf: make([]byte, size), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(b, buf); err != nil {
				return
			}
			if _, err := b.Write(buf); err != nil {
				return
			}
		}
	}()
	return p, nil
}

// Run does n round trips.
func (p *TCPPingPong) Run(n int) error {
	for i := 0; i < n; i++ {
		if _, err := p.a.Write(p.buf); err != nil {
			return err
		}
		if _, err := io.ReadFull(p.a, p.buf); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the connection and waits for the echoing side.
func (p *TCPPingPong) Close() {
	p.a.Close()
	p.b.Close()
	<-p.done
}

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair() (*net.TCPConn, *net.TCPConn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	c2 := <-ch
	if err != nil || c2 == nil {
		if c1 != nil {
			c1.Close()
		}
		if c2 != nil {
			c2.Close()
		}
		return nil, nil, errors.Join(err, errors.New("rdmabench: loopback TCP accept failed"))
	}
	return c1.(*net.TCPConn), c2.(*net.TCPConn), nil
}

// Runner is any of the loops.
type Runner interface {
	Run(n int) error
	Close()
}
