package smbdirect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// ErrNegotiate is wrapped by every failure of the SMBDirect negotiate.
var ErrNegotiate = errors.New("smbdirect: negotiate failed")

// ErrNegotiateTimeout reports a negotiate that did not finish within
// Config.NegotiateTimeout.
var ErrNegotiateTimeout = fmt.Errorf("%w: timed out", ErrNegotiate)

// StatusError is a failure Negotiate Response from the responder.
type StatusError struct{ Status uint32 }

func (e *StatusError) Error() string {
	return fmt.Sprintf("smbdirect: negotiate refused by the peer: NTSTATUS 0x%08X", e.Status)
}

// Is makes errors.Is(err, ErrNegotiate) true.
func (e *StatusError) Is(t error) bool { return t == ErrNegotiate }

func negErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNegotiate}, args...)...)
}

// Dial connects to an SMBDirect responder at addr ("host:port"; 5445 for
// iWARP) and negotiates as the initiator ([MS-SMBD] 3.1.4.1, 3.1.5.7).
func Dial(ctx context.Context, p rdma.Provider, addr string, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.NegotiateTimeout)
	defer cancel()
	qp, err := p.Dial(ctx, addr, cfg.ConnParams)
	if err != nil {
		return nil, err
	}
	c := newConn(qp, cfg, true)
	if err := c.negotiateInitiator(ctx); err != nil {
		qp.Close()
		return nil, timeoutErr(ctx, err)
	}
	c.start()
	return c, nil
}

func timeoutErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrNegotiateTimeout
	}
	return err
}

// negotiateInitiator sends the Negotiate Request with one receive posted
// first (gotcha 3) and validates the response (3.1.5.7).
func (c *Conn) negotiateInitiator(ctx context.Context) error {
	cfg := &c.cfg
	if err := c.qp.PostRecv(rdma.RecvWR{ID: 0, Buf: c.rbufs[0]}); err != nil {
		return err
	}
	req := NegotiateRequest{
		MinVersion:        Version,
		MaxVersion:        Version,
		CreditsRequested:  cfg.SendCreditTarget,
		PreferredSendSize: cfg.MaxSendSize,
		MaxReceiveSize:    cfg.MaxReceiveSize,
		MaxFragmentedSize: cfg.MaxFragmentedSize,
	}
	if err := c.qp.PostSend(rdma.SendWR{Op: rdma.OpSend, Local: [][]byte{req.Append(nil)}}); err != nil {
		return err
	}
	comp, err := c.pollRecv(ctx)
	if err != nil {
		return err
	}
	var r NegotiateResponse
	if err := r.Unmarshal(c.rbufs[0][:comp.Len]); err != nil {
		return negErr("response of %d bytes", comp.Len)
	}
	switch {
	case r.Status != StatusSuccess:
		return &StatusError{r.Status}
	case r.NegotiatedVersion != Version:
		return negErr("version 0x%04x", r.NegotiatedVersion)
	case r.CreditsRequested == 0:
		return negErr("CreditsRequested 0")
	case r.CreditsGranted == 0:
		return negErr("CreditsGranted 0")
	case r.MaxReceiveSize < MinReceiveSize:
		return negErr("MaxReceiveSize %d", r.MaxReceiveSize)
	case r.MaxFragmentedSize < MinFragmentedSize:
		return negErr("MaxFragmentedSize %d", r.MaxFragmentedSize)
	case r.PreferredSendSize > cfg.MaxReceiveSize:
		return negErr("PreferredSendSize %d above our MaxReceiveSize %d", r.PreferredSendSize, cfg.MaxReceiveSize)
	case r.PreferredSendSize < MinReceiveSize:
		return negErr("PreferredSendSize %d", r.PreferredSendSize)
	}
	c.maxRecv = int(max(min(cfg.MaxReceiveSize, r.PreferredSendSize), MinReceiveSize))
	c.maxSend = int(min(cfg.MaxSendSize, r.MaxReceiveSize))
	c.maxFragSend = int(r.MaxFragmentedSize)
	c.maxRW = int(min(cfg.MaxReadWriteSize, r.MaxReadWriteSize))
	c.cr.recvTarget = int(r.CreditsRequested)
	c.cr.send = int(r.CreditsGranted)
	// Buffer 0 held the response; it is free again.
	c.free = append(c.free, 0)
	c.mu.Lock()
	err = c.postLocked(c.cr.wantPost())
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if c.cr.posted == 0 {
		return negErr("no receive credits")
	}
	return nil
}

// negotiateResponder posts a receive, waits for the Negotiate Request and
// answers it (3.1.5.6). The spec wants the receive posted before accepting;
// the seam's Accept returns a connected QP, so the provider must hold
// inbound Sends of an accepted QP until its first PostRecv (see
// iwarp_test.go for the current iwarp gap).
func (c *Conn) negotiateResponder(ctx context.Context) error {
	cfg := &c.cfg
	if err := c.qp.PostRecv(rdma.RecvWR{ID: 0, Buf: c.rbufs[0]}); err != nil {
		return err
	}
	comp, err := c.pollRecv(ctx)
	if err != nil {
		return err
	}
	var q NegotiateRequest
	if err := q.Unmarshal(c.rbufs[0][:comp.Len]); err != nil {
		return negErr("request of %d bytes", comp.Len) // drop, no response
	}
	if q.MinVersion > Version || q.MaxVersion < Version {
		c.refuse(ctx, StatusNotSupported)
		return negErr("peer versions 0x%04x-0x%04x", q.MinVersion, q.MaxVersion)
	}
	switch {
	case q.CreditsRequested == 0:
		return negErr("CreditsRequested 0")
	case q.MaxReceiveSize < MinReceiveSize:
		return negErr("MaxReceiveSize %d", q.MaxReceiveSize)
	case q.MaxFragmentedSize < MinFragmentedSize:
		return negErr("MaxFragmentedSize %d", q.MaxFragmentedSize)
	}
	c.maxRecv = int(max(min(cfg.MaxReceiveSize, q.PreferredSendSize), MinReceiveSize))
	c.maxSend = int(min(cfg.MaxSendSize, q.MaxReceiveSize))
	c.maxFragSend = int(q.MaxFragmentedSize)
	c.maxRW = int(cfg.MaxReadWriteSize)
	c.cr.recvTarget = int(q.CreditsRequested)
	c.free = append(c.free, 0)
	c.mu.Lock()
	err = c.postLocked(c.cr.wantPost())
	grant := c.cr.posted
	c.cr.granted = grant
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if grant == 0 {
		c.refuse(ctx, StatusInsufficientResource)
		return negErr("no receive credits")
	}
	r := NegotiateResponse{
		MinVersion:        Version,
		MaxVersion:        Version,
		NegotiatedVersion: Version,
		CreditsRequested:  cfg.SendCreditTarget,
		CreditsGranted:    uint16(grant),
		MaxReadWriteSize:  uint32(c.maxRW),
		PreferredSendSize: uint32(c.maxSend),
		MaxReceiveSize:    uint32(c.maxRecv),
		MaxFragmentedSize: cfg.MaxFragmentedSize,
	}
	return c.qp.PostSend(rdma.SendWR{Op: rdma.OpSend, Local: [][]byte{r.Append(nil)}})
}

// refuse sends a failure Negotiate Response and waits briefly for it to
// leave before the caller closes the connection.
func (c *Conn) refuse(ctx context.Context, status uint32) {
	r := NegotiateResponse{MinVersion: Version, MaxVersion: Version, Status: status}
	if c.qp.PostSend(rdma.SendWR{ID: 1, Op: rdma.OpSend, Local: [][]byte{r.Append(nil)}, Signaled: true}) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var cs [4]rdma.Completion
	for {
		got, err := c.qp.Poll(ctx, cs[:])
		if err != nil {
			return
		}
		for _, x := range got {
			if x.Op != rdma.OpRecv && x.ID == 1 || x.Err != nil {
				return
			}
		}
	}
}

// pollRecv polls until a receive completes (before the receive loop runs).
func (c *Conn) pollRecv(ctx context.Context) (rdma.Completion, error) {
	var cs [4]rdma.Completion
	for {
		got, err := c.qp.Poll(ctx, cs[:])
		if err != nil {
			return rdma.Completion{}, err
		}
		for _, x := range got {
			if x.Err != nil {
				return x, x.Err
			}
			if x.Op == rdma.OpRecv {
				return x, nil
			}
		}
	}
}

// Listener accepts SMBDirect connections and negotiates as the responder,
// several at a time, so one slow peer does not hold up the others.
type Listener struct {
	l     rdma.Listener
	cfg   Config
	conns chan *Conn
	done  chan struct{}
}

// Listen listens on addr with the provider.
func Listen(p rdma.Provider, addr string, cfg Config) (*Listener, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l, err := p.Listen(addr, cfg.ConnParams)
	if err != nil {
		return nil, err
	}
	ln := &Listener{l: l, cfg: cfg, conns: make(chan *Conn), done: make(chan struct{})}
	go ln.loop()
	return ln, nil
}

func (l *Listener) loop() {
	for {
		qp, err := l.l.Accept(context.Background())
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			l.cfg.logf("smbdirect: accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go l.negotiate(qp)
	}
}

func (l *Listener) negotiate(qp rdma.QP) {
	c := newConn(qp, l.cfg, false)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.NegotiateTimeout)
	err := c.negotiateResponder(ctx)
	err = timeoutErr(ctx, err)
	cancel()
	if err != nil {
		l.cfg.logf("smbdirect: negotiate with %v: %v", qp.RemoteAddr(), err)
		qp.Close()
		return
	}
	c.start()
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next negotiated connection.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return l.l.Addr() }

// Close stops listening; connections already accepted stay open.
func (l *Listener) Close() error {
	select {
	case <-l.done:
		return nil
	default:
	}
	close(l.done)
	return l.l.Close()
}
