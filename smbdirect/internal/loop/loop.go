// Package loop is an in-process rdma.Provider for the tests and benchmarks
// of smbdirect, which need a provider with the seam's exact semantics and
// no network under it.
package loop

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Provider is an in-process rdma.Provider for tests: two QPs joined by
// one mutex. Work requests are carried out synchronously inside PostSend,
// with the seam's semantics: a Send needs a posted receive at the peer (else
// both QPs die, ErrNoRecv), RDMA Write/Read check STag, validity, rights and
// bounds (else both die, ErrAccess), Send with Invalidate revokes the
// peer's STag and reports it in the receive completion. Tagged offsets are
// base-relative, Base being the provider's (0 like iwarp, or not, to check
// that the descriptor Offset follows the MR's TaggedOffset).
type Provider struct {
	mu   sync.Mutex
	ls   map[string]*listener
	Base uint64 // tagged offset of every region's first byte
}

func New() *Provider { return &Provider{ls: make(map[string]*listener)} }

type netAddr string

func (a netAddr) Network() string { return "loop" }
func (a netAddr) String() string  { return string(a) }

type listener struct {
	p    *Provider
	addr string
	ch   chan *QP
	done chan struct{}
	once sync.Once
}

func (p *Provider) Listen(addr string, cp rdma.ConnParams) (rdma.Listener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.ls[addr]; ok {
		return nil, errors.New("loop: address in use")
	}
	l := &listener{p: p, addr: addr, ch: make(chan *QP, 16), done: make(chan struct{})}
	p.ls[addr] = l
	return l, nil
}

func (l *listener) Accept(ctx context.Context) (rdma.QP, error) {
	select {
	case q := <-l.ch:
		return q, nil
	case <-l.done:
		return nil, errors.New("loop: listener closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) Addr() net.Addr { return netAddr(l.addr) }

func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.p.mu.Lock()
		delete(l.p.ls, l.addr)
		l.p.mu.Unlock()
	})
	return nil
}

func (p *Provider) Dial(ctx context.Context, addr string, cp rdma.ConnParams) (rdma.QP, error) {
	p.mu.Lock()
	l := p.ls[addr]
	p.mu.Unlock()
	if l == nil {
		return nil, errors.New("loop: connection refused")
	}
	a, b := newPair(p.Base, addr)
	a.params, b.params = cp, cp
	select {
	case l.ch <- b:
		return a, nil
	case <-l.done:
		return nil, errors.New("loop: connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pair struct{ mu sync.Mutex }

type QP struct {
	pr     *pair
	peer   *QP
	base   uint64
	laddr  netAddr
	params rdma.ConnParams

	// guarded by pr.mu
	rq   []rdma.RecvWR
	cq   []rdma.Completion
	mrs  map[uint32]*mr
	err  error
	mute bool // sends vanish (a peer that died without a word)
	// A passive QP takes no inbound Send before its first PostRecv: they
	// wait in inbox, as bytes wait in the TCP buffer before a provider's
	// receive path starts (the seam cannot post receives before Accept).
	passive, started bool
	inbox            []rdma.SendWR
	notify           chan struct{}
}

func newPair(base uint64, addr string) (*QP, *QP) {
	pr := &pair{}
	a := &QP{pr: pr, base: base, laddr: "client", mrs: map[uint32]*mr{}, notify: make(chan struct{}, 1)}
	b := &QP{pr: pr, base: base, laddr: netAddr(addr), mrs: map[uint32]*mr{}, notify: make(chan struct{}, 1), passive: true}
	a.peer, b.peer = b, a
	return a, b
}

type mr struct {
	q     *QP
	stag  uint32
	buf   []byte
	acc   rdma.Access
	valid bool // guarded by pr.mu
}

func (m *mr) STag() uint32         { return m.stag }
func (m *mr) Buf() []byte          { return m.buf }
func (m *mr) Access() rdma.Access  { return m.acc }
func (m *mr) TaggedOffset() uint64 { return m.q.base }
func (m *mr) Invalidate() error {
	m.q.pr.mu.Lock()
	m.valid = false
	m.q.pr.mu.Unlock()
	return nil
}
func (m *mr) Deregister() error {
	m.q.pr.mu.Lock()
	m.valid = false
	delete(m.q.mrs, m.stag)
	m.q.pr.mu.Unlock()
	return nil
}

func (q *QP) RegisterMR(buf []byte, size int, acc rdma.Access) (rdma.MR, error) {
	if buf == nil {
		buf = make([]byte, size)
	}
	q.pr.mu.Lock()
	defer q.pr.mu.Unlock()
	m := &mr{q: q, buf: buf, acc: acc, valid: true}
	for {
		m.stag = rand.Uint32()
		if _, dup := q.mrs[m.stag]; m.stag != 0 && !dup {
			break
		}
	}
	q.mrs[m.stag] = m
	return m, nil
}

func (q *QP) PostRecv(wrs ...rdma.RecvWR) error {
	q.pr.mu.Lock()
	defer q.pr.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.rq = append(q.rq, wrs...)
	if q.passive && !q.started {
		q.started = true
		for i := range q.inbox {
			if err := q.peer.execLocked(&q.inbox[i]); err != nil {
				q.dieLocked(err)
				q.peer.dieLocked(rdma.ErrTerminated)
				break
			}
		}
		q.inbox = nil
	}
	return nil
}

func (q *QP) pushLocked(c rdma.Completion) {
	q.cq = append(q.cq, c)
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// dieLocked kills q: pending receives flush with err.
func (q *QP) dieLocked(err error) {
	if q.err != nil {
		return
	}
	q.err = err
	for _, r := range q.rq {
		q.pushLocked(rdma.Completion{ID: r.ID, Op: rdma.OpRecv, Err: err})
	}
	q.rq = nil
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *QP) PostSend(wrs ...rdma.SendWR) error {
	q.pr.mu.Lock()
	defer q.pr.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	for i := range wrs {
		if err := q.execLocked(&wrs[i]); err != nil {
			q.pushLocked(rdma.Completion{ID: wrs[i].ID, Op: wrs[i].Op, Err: err})
			q.dieLocked(err)
			q.peer.dieLocked(rdma.ErrTerminated)
			return nil
		}
		if wrs[i].Signaled {
			q.pushLocked(rdma.Completion{ID: wrs[i].ID, Op: wrs[i].Op})
		}
	}
	return nil
}

func (q *QP) execLocked(wr *rdma.SendWR) error {
	p := q.peer
	if p.err != nil {
		return rdma.ErrTerminated
	}
	if q.mute {
		return nil
	}
	switch wr.Op {
	case rdma.OpSend, rdma.OpSendInvalidate:
		if p.passive && !p.started {
			c := *wr
			c.Local = [][]byte{bytes.Join(wr.Local, nil)}
			p.inbox = append(p.inbox, c)
			return nil
		}
		if len(p.rq) == 0 {
			p.dieLocked(rdma.ErrNoRecv)
			return rdma.ErrTerminated
		}
		r := p.rq[0]
		n := 0
		for _, b := range wr.Local {
			n += len(b)
		}
		if n > len(r.Buf) {
			p.dieLocked(rdma.ErrRecvTooSmall)
			return rdma.ErrTerminated
		}
		p.rq = p.rq[1:]
		n = 0
		for _, b := range wr.Local {
			n += copy(r.Buf[n:], b)
		}
		c := rdma.Completion{ID: r.ID, Op: rdma.OpRecv, Len: n}
		if wr.Op == rdma.OpSendInvalidate {
			m := p.mrs[wr.RemoteSTag]
			if m == nil {
				p.dieLocked(rdma.ErrAccess)
				return rdma.ErrAccess
			}
			m.valid = false
			c.Invalidated = wr.RemoteSTag
		}
		p.pushLocked(c)
	case rdma.OpWrite:
		n := 0
		for _, b := range wr.Local {
			n += len(b)
		}
		dst, err := p.reachLocked(wr.RemoteSTag, wr.RemoteOffset, n, rdma.AccessRemoteWrite)
		if err != nil {
			return err
		}
		n = 0
		for _, b := range wr.Local {
			n += copy(dst[n:], b)
		}
	case rdma.OpRead:
		if wr.LocalMR == nil || wr.LocalMR.Access()&rdma.AccessLocalWrite == 0 || len(wr.Local) != 1 || len(wr.Local[0]) < int(wr.Length) {
			return rdma.ErrAccess
		}
		src, err := p.reachLocked(wr.RemoteSTag, wr.RemoteOffset, int(wr.Length), rdma.AccessRemoteRead)
		if err != nil {
			return err
		}
		copy(wr.Local[0], src)
	default:
		return errors.New("loop: bad opcode")
	}
	return nil
}

func (q *QP) reachLocked(stag uint32, to uint64, n int, need rdma.Access) ([]byte, error) {
	m := q.mrs[stag]
	if m == nil || !m.valid || m.acc&need == 0 || to < q.base {
		return nil, rdma.ErrAccess
	}
	off := to - q.base
	if off > uint64(len(m.buf)) || uint64(n) > uint64(len(m.buf))-off {
		return nil, rdma.ErrAccess
	}
	return m.buf[off : off+uint64(n)], nil
}

func (q *QP) Poll(ctx context.Context, cs []rdma.Completion) ([]rdma.Completion, error) {
	for {
		q.pr.mu.Lock()
		if len(q.cq) > 0 {
			n := copy(cs, q.cq)
			q.cq = append(q.cq[:0], q.cq[n:]...)
			q.pr.mu.Unlock()
			return cs[:n], nil
		}
		if err := q.err; err != nil {
			q.pr.mu.Unlock()
			return nil, err
		}
		q.pr.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// SetMute makes q's sends vanish (a peer that died without a word).
func (q *QP) SetMute(v bool) { q.pr.mu.Lock(); q.mute = v; q.pr.mu.Unlock() }

func (q *QP) PeerParams() rdma.ConnParams { return q.peer.params }
func (q *QP) LocalAddr() net.Addr         { return q.laddr }
func (q *QP) RemoteAddr() net.Addr        { return q.peer.laddr }

func (q *QP) Close() error {
	q.pr.mu.Lock()
	defer q.pr.mu.Unlock()
	q.dieLocked(rdma.ErrFlushed)
	q.peer.dieLocked(rdma.ErrTerminated)
	return nil
}
