// Package iwarp is a pure-Go software RNIC: iWARP (MPA rev 1/2 per RFC
// 5044 and RFC 6581, DDP per RFC 5041, RDMAP per RFC 5040) over a plain
// TCP connection, wire-compatible with Linux siw. It implements the
// rdma.Provider seam.
//
// What it speaks (PROTOCOL.md part C): MPA rev 2 with the enhanced-mode
// IRD/ORD word when dialing (rev 1 on request), either as responder; CRC32c
// when either side asks (little-endian trailer); never markers; FPDUs sized
// to the TCP MSS when sending, any size up to 64 KiB accepted; untagged
// Send, Send with Invalidate (and the SE variants on receive), RDMA Write,
// RDMA Read Request and Response, Terminate.
//
// Memory regions use zero-based tagged offsets: TO t is byte t of
// MR.Buf(), so the Offset of an [MS-SMBD] Buffer Descriptor for a region of
// ours is the byte offset into Buf(). Peers' TOs (siw uses virtual
// addresses) are sent as given in SendWR.RemoteOffset.
//
// Each QP runs two goroutines (receive loop and send loop); see qp.go.
package iwarp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Options configure a Provider. The zero value is siw-like: MPA rev 2, CRC
// only if ConnParams.CRC or the peer asks, FPDUs of one TCP MSS.
type Options struct {
	// CRC asks for MPA CRC32c on every connection (as if ConnParams.CRC).
	CRC bool
	// Rev is the MPA revision Dial asks for: 2 (default; enhanced mode with
	// IRD/ORD) or 1. Listeners answer whatever revision is asked.
	Rev int
	// MaxFPDU caps the wire size of an FPDU we send (header, payload, PAD,
	// CRC). 0 = the TCP MSS rounded down to 8, as siw; at most 65541.
	MaxFPDU int
	// DialTimeout bounds the MPA exchange when dialing (default 10 s, as
	// siw); AcceptTimeout when accepting (default 5 s).
	DialTimeout, AcceptTimeout time.Duration
	// FirstFPDUDelay holds back our first FPDU after the MPA Reply (a peer
	// running stock siw can miss an FPDU that arrives right after its reply,
	// lab quirk 2; 50 ms avoids it). Default 0.
	FirstFPDUDelay time.Duration
	// NoResponderWait lets a responder send before the initiator's first
	// FPDU arrived (RFC 5044 forbids it; siw initiators fail on it).
	NoResponderWait bool
}

// Provider is the iWARP rdma.Provider.
type Provider struct{ opts Options }

var _ rdma.Provider = (*Provider)(nil)

// New returns a provider with opts.
func New(opts Options) *Provider {
	if opts.Rev != 1 {
		opts.Rev = 2
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.AcceptTimeout <= 0 {
		opts.AcceptTimeout = 5 * time.Second
	}
	return &Provider{opts: opts}
}

// Dial connects to addr and runs the MPA exchange as initiator.
func (p *Provider) Dial(ctx context.Context, addr string, cp rdma.ConnParams) (rdma.QP, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	tc.SetNoDelay(true)
	stop := context.AfterFunc(ctx, func() { tc.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(tc, mpaBufSize)
	hs, err := initiate(tc, br, cp, cp.CRC || p.opts.CRC, p.opts.Rev, deadline(ctx, p.opts.DialTimeout))
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		tc.Close()
		return nil, err
	}
	if p.opts.FirstFPDUDelay > 0 {
		t := time.NewTimer(p.opts.FirstFPDUDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			tc.Close()
			return nil, ctx.Err()
		}
	}
	return newQP(tc, br, hs, false, &p.opts), nil
}

// Listen accepts connections on addr; the MPA exchange of each runs in its
// own goroutine, so a slow or hostile peer does not hold up others.
func (p *Provider) Listen(addr string, cp rdma.ConnParams) (rdma.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &listener{p: p, cp: cp, ln: ln.(*net.TCPListener), ch: make(chan *qp), done: make(chan struct{})}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

type listener struct {
	p    *Provider
	cp   rdma.ConnParams
	ln   *net.TCPListener
	ch   chan *qp
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.Mutex
	pending map[*net.TCPConn]struct{} // in the MPA exchange; closed by Close
}

// ErrListenerClosed is returned by Accept after Close.
var ErrListenerClosed = errors.New("iwarp: listener closed")

func (l *listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

func (l *listener) handshake(c *net.TCPConn) {
	defer l.wg.Done()
	l.mu.Lock()
	select {
	case <-l.done:
		l.mu.Unlock()
		c.Close()
		return
	default:
	}
	if l.pending == nil {
		l.pending = make(map[*net.TCPConn]struct{})
	}
	l.pending[c] = struct{}{}
	l.mu.Unlock()
	c.SetNoDelay(true)
	br := bufio.NewReaderSize(c, mpaBufSize)
	hs, err := respond(c, br, l.cp, l.cp.CRC || l.p.opts.CRC, time.Now().Add(l.p.opts.AcceptTimeout))
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	q := newQP(c, br, hs, true, &l.p.opts)
	select {
	case l.ch <- q:
	case <-l.done:
		q.Close()
	}
}

func (l *listener) Accept(ctx context.Context) (rdma.QP, error) {
	select {
	case q := <-l.ch:
		return q, nil
	case <-l.done:
		return nil, ErrListenerClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting; connections not yet returned by Accept are closed.
func (l *listener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.pending {
			c.Close()
		}
		l.mu.Unlock()
		err = l.ln.Close()
		l.wg.Wait()
	})
	return err
}

func getMSS(fd uintptr) int {
	v, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG)
	if err != nil {
		return 0
	}
	return v
}
