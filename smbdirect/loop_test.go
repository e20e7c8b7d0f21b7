package smbdirect

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// loopProvider is an in-process rdma.Provider for tests: two QPs joined by
// one mutex. Work requests are carried out synchronously inside PostSend,
// with the seam's semantics: a Send needs a posted receive at the peer (else
// both QPs die, ErrNoRecv), RDMA Write/Read check STag, validity, rights and
// bounds (else both die, ErrAccess), Send with Invalidate revokes the
// peer's STag and reports it in the receive completion. Tagged offsets are
// base-relative, base being the provider's (0 like iwarp, or not, to check
// that the descriptor Offset follows the MR's TaggedOffset).
type loopProvider struct {
	mu   sync.Mutex
	ls   map[string]*loopListener
	base uint64
}

func newLoop() *loopProvider { return &loopProvider{ls: make(map[string]*loopListener)} }

type loopAddr string

func (a loopAddr) Network() string { return "loop" }
func (a loopAddr) String() string  { return string(a) }

type loopListener struct {
	p    *loopProvider
	addr string
	ch   chan *loopQP
	done chan struct{}
	once sync.Once
}

func (p *loopProvider) Listen(addr string, cp rdma.ConnParams) (rdma.Listener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.ls[addr]; ok {
		return nil, errors.New("loop: address in use")
	}
	l := &loopListener{p: p, addr: addr, ch: make(chan *loopQP, 16), done: make(chan struct{})}
	p.ls[addr] = l
	return l, nil
}

func (l *loopListener) Accept(ctx context.Context) (rdma.QP, error) {
	select {
	case q := <-l.ch:
		return q, nil
	case <-l.done:
		return nil, errors.New("loop: listener closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *loopListener) Addr() net.Addr { return loopAddr(l.addr) }

func (l *loopListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.p.mu.Lock()
		delete(l.p.ls, l.addr)
		l.p.mu.Unlock()
	})
	return nil
}

func (p *loopProvider) Dial(ctx context.Context, addr string, cp rdma.ConnParams) (rdma.QP, error) {
	p.mu.Lock()
	l := p.ls[addr]
	p.mu.Unlock()
	if l == nil {
		return nil, errors.New("loop: connection refused")
	}
	a, b := newLoopPair(p.base, addr)
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

type loopPair struct{ mu sync.Mutex }

type loopQP struct {
	pr     *loopPair
	peer   *loopQP
	base   uint64
	laddr  loopAddr
	params rdma.ConnParams

	// guarded by pr.mu
	rq   []rdma.RecvWR
	cq   []rdma.Completion
	mrs  map[uint32]*loopMR
	err  error
	mute bool // sends vanish (a peer that died without a word)
	// A passive QP takes no inbound Send before its first PostRecv: they
	// wait in inbox, as bytes wait in the TCP buffer before a provider's
	// receive path starts (the seam cannot post receives before Accept).
	passive, started bool
	inbox            []rdma.SendWR
	notify           chan struct{}
}

func newLoopPair(base uint64, addr string) (*loopQP, *loopQP) {
	pr := &loopPair{}
	a := &loopQP{pr: pr, base: base, laddr: "client", mrs: map[uint32]*loopMR{}, notify: make(chan struct{}, 1)}
	b := &loopQP{pr: pr, base: base, laddr: loopAddr(addr), mrs: map[uint32]*loopMR{}, notify: make(chan struct{}, 1), passive: true}
	a.peer, b.peer = b, a
	return a, b
}

type loopMR struct {
	q     *loopQP
	stag  uint32
	buf   []byte
	acc   rdma.Access
	valid bool // guarded by pr.mu
}

func (m *loopMR) STag() uint32         { return m.stag }
func (m *loopMR) Buf() []byte          { return m.buf }
func (m *loopMR) Access() rdma.Access  { return m.acc }
func (m *loopMR) TaggedOffset() uint64 { return m.q.base }
func (m *loopMR) Invalidate() error {
	m.q.pr.mu.Lock()
	m.valid = false
	m.q.pr.mu.Unlock()
	return nil
}
func (m *loopMR) Deregister() error {
	m.q.pr.mu.Lock()
	m.valid = false
	delete(m.q.mrs, m.stag)
	m.q.pr.mu.Unlock()
	return nil
}

func (q *loopQP) RegisterMR(buf []byte, size int, acc rdma.Access) (rdma.MR, error) {
	if buf == nil {
		buf = alignedAlloc(size)
	}
	q.pr.mu.Lock()
	defer q.pr.mu.Unlock()
	m := &loopMR{q: q, buf: buf, acc: acc, valid: true}
	for {
		m.stag = rand.Uint32()
		if _, dup := q.mrs[m.stag]; m.stag != 0 && !dup {
			break
		}
	}
	q.mrs[m.stag] = m
	return m, nil
}

func (q *loopQP) PostRecv(wrs ...rdma.RecvWR) error {
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

func (q *loopQP) pushLocked(c rdma.Completion) {
	q.cq = append(q.cq, c)
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// dieLocked kills q: pending receives flush with err.
func (q *loopQP) dieLocked(err error) {
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

func (q *loopQP) PostSend(wrs ...rdma.SendWR) error {
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

func (q *loopQP) execLocked(wr *rdma.SendWR) error {
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

func (q *loopQP) reachLocked(stag uint32, to uint64, n int, need rdma.Access) ([]byte, error) {
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

func (q *loopQP) Poll(ctx context.Context, cs []rdma.Completion) ([]rdma.Completion, error) {
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

func (q *loopQP) setMute(v bool) { q.pr.mu.Lock(); q.mute = v; q.pr.mu.Unlock() }

func (q *loopQP) PeerParams() rdma.ConnParams { return q.peer.params }
func (q *loopQP) LocalAddr() net.Addr         { return q.laddr }
func (q *loopQP) RemoteAddr() net.Addr        { return q.peer.laddr }

func (q *loopQP) Close() error {
	q.pr.mu.Lock()
	defer q.pr.mu.Unlock()
	q.dieLocked(rdma.ErrFlushed)
	q.peer.dieLocked(rdma.ErrTerminated)
	return nil
}
