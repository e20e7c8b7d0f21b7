package rdmabench

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

// Provider is the iWARP provider the SMB-Direct loops dial with. Our
// responder cannot post its first receive before the QP is accepted, so
// the initiator holds its first FPDU back 50 ms (see smbdirect/iwarp_test.go);
// it costs nothing once connected.
func Provider() rdma.Provider {
	return iwarp.New(iwarp.Options{FirstFPDUDelay: 50 * time.Millisecond})
}

// SMBDPair connects an SMB-Direct initiator and responder over p
// (addr "127.0.0.1:0" for iWARP).
func SMBDPair(p rdma.Provider, addr string, ccfg, scfg smbdirect.Config) (cli, srv *smbdirect.Conn, err error) {
	l, err := smbdirect.Listen(p, addr, scfg)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	return connectPair(
		func(ctx context.Context) (*smbdirect.Conn, error) {
			return smbdirect.Dial(ctx, p, l.Addr().String(), ccfg)
		},
		func(ctx context.Context) (*smbdirect.Conn, error) { return l.Accept(ctx) })
}

// Pool recycles received message buffers through smbdirect.Config.Alloc,
// as the channel layer does with its own pool.
type Pool chan []byte

// NewPool holds up to n buffers.
func NewPool(n int) Pool { return make(Pool, n) }

// Alloc is a smbdirect.Config.Alloc.
func (p Pool) Alloc(n int) []byte {
	select {
	case b := <-p:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n)
}

// Put returns a buffer.
func (p Pool) Put(b []byte) {
	select {
	case p <- b:
	default:
	}
}

// RoundTrip sends a message of one size to a responder that sends it back.
type RoundTrip struct {
	cli, srv *smbdirect.Conn
	msg      net.Buffers
	pool     Pool
}

// NewRoundTrip connects a pair over p and starts the echoing responder.
func NewRoundTrip(p rdma.Provider, addr string, size int) (*RoundTrip, error) {
	pool := NewPool(4)
	cfg := smbdirect.Config{Alloc: pool.Alloc}
	cli, srv, err := SMBDPair(p, addr, cfg, cfg)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			m, err := srv.ReadMessage()
			if err != nil {
				return
			}
			err = srv.WriteMessage(context.Background(), net.Buffers{m.Buf})
			pool.Put(m.Buf)
			if err != nil {
				return
			}
		}
	}()
	return &RoundTrip{cli: cli, srv: srv, msg: net.Buffers{make([]byte, size)}, pool: pool}, nil
}

// Run does n round trips.
func (r *RoundTrip) Run(n int) error {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := r.cli.WriteMessage(ctx, r.msg); err != nil {
			return err
		}
		m, err := r.cli.ReadMessage()
		if err != nil {
			return err
		}
		r.pool.Put(m.Buf)
	}
	return nil
}

// Close tears the pair down.
func (r *RoundTrip) Close() {
	r.cli.Close()
	r.srv.Close()
}

// Stream sends messages of one size one way, fragmented into Data
// Transfer messages of the default size; the responder reads them and
// recycles their buffers.
type Stream struct {
	cli, srv *smbdirect.Conn
	msg      net.Buffers
	pool     Pool
}

// NewStream connects a pair over p.
func NewStream(p rdma.Provider, addr string, size int) (*Stream, error) {
	pool := NewPool(32)
	cli, srv, err := SMBDPair(p, addr, smbdirect.Config{}, smbdirect.Config{Alloc: pool.Alloc})
	if err != nil {
		return nil, err
	}
	return &Stream{cli: cli, srv: srv, msg: net.Buffers{make([]byte, size)}, pool: pool}, nil
}

// Run sends n messages and returns when the responder has them all.
func (s *Stream) Run(n int) error {
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			m, err := s.srv.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			s.pool.Put(m.Buf)
		}
		done <- nil
	}()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := s.cli.WriteMessage(ctx, s.msg); err != nil {
			return err
		}
	}
	return <-done
}

// Close tears the pair down.
func (s *Stream) Close() {
	s.cli.Close()
	s.srv.Close()
}

// The offload protocol between Offload and its responder, standing in for
// SMB2 READ and WRITE with RDMA channels: op byte, then the Buffer
// Descriptor V1 of the region; the answer is a short message sent with
// Send with Invalidate of the region's token.
const (
	opRead  = 'R' // RDMA-Write the region full (an SMB2 READ's data)
	opWrite = 'W' // RDMA-Read the region (an SMB2 WRITE's data)
)

// Offload moves the data of READ-like or WRITE-like requests by RDMA: per
// I/O the initiator registers its buffer for the one direction, sends the
// descriptor, and waits for the answer, which invalidates the token; then
// it releases the region. One I/O at a time.
type Offload struct {
	cli, srv *smbdirect.Conn
	dir      smbdirect.Direction
	buf      []byte
	req      []byte
	pool     Pool
}

// NewOffload connects a pair over p and starts the responder.
func NewOffload(p rdma.Provider, addr string, dir smbdirect.Direction, size int) (*Offload, error) {
	pool := NewPool(4)
	cfg := smbdirect.Config{Alloc: pool.Alloc}
	cli, srv, err := SMBDPair(p, addr, cfg, cfg)
	if err != nil {
		return nil, err
	}
	go serveOffload(srv, pool, size)
	o := &Offload{cli: cli, srv: srv, dir: dir, buf: make([]byte, size), pool: pool,
		req: make([]byte, 0, 1+smbdirect.BufferDescriptorSize)}
	return o, nil
}

func serveOffload(c *smbdirect.Conn, pool Pool, size int) {
	ctx := context.Background()
	data := make([]byte, size)
	ds := make([]smbdirect.BufferDescriptor, 1)
	ans := net.Buffers{[]byte("done")}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if len(m.Buf) != 1+smbdirect.BufferDescriptorSize || ds[0].Unmarshal(m.Buf[1:]) != nil || int(ds[0].Length) > size {
			c.Close()
			return
		}
		op := m.Buf[0]
		pool.Put(m.Buf)
		n := int(ds[0].Length)
		if op == opRead {
			err = c.RDMAWrite(ctx, ds, data[:n])
		} else {
			err = c.RDMARead(ctx, ds, data[:n])
		}
		if err == nil {
			err = c.WriteMessageInvalidate(ctx, ans, ds[0].Token)
		}
		if err != nil {
			return
		}
	}
}

// Run does n I/Os.
func (o *Offload) Run(n int) error {
	ctx := context.Background()
	op := byte(opRead)
	if o.dir == smbdirect.ForWrite {
		op = opWrite
	}
	msg := make(net.Buffers, 1)
	for i := 0; i < n; i++ {
		r, err := o.cli.Register(o.buf, o.dir)
		if err != nil {
			return err
		}
		o.req = r.AppendDescriptor(append(o.req[:0], op))
		msg[0] = o.req
		if err := o.cli.WriteMessage(ctx, msg); err != nil {
			r.Release()
			return err
		}
		m, err := o.cli.ReadMessage()
		if err != nil {
			r.Release()
			return err
		}
		ok, err := r.CheckInvalidated(m)
		o.pool.Put(m.Buf)
		r.Release()
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("rdmabench: the answer did not invalidate the region")
		}
	}
	return nil
}

// Close tears the pair down.
func (o *Offload) Close() {
	o.cli.Close()
	o.srv.Close()
}
