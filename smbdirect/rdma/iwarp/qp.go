package iwarp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// qp is one iWARP connection. Two goroutines serve it: the receive loop
// (rx.go) owns the read side of the socket and places inbound data; the
// send loop (tx.go) owns the write side and transmits send-queue work
// requests, Read Responses for inbound Read Requests and the Terminate.
// Callers post and poll under mu. Lock order: qp.mu only (mr uses atomics).
type qp struct {
	// Immutable after newQP.
	conn      *net.TCPConn
	in        *rxReader // the receive loop's
	crc       bool
	peer      rdma.ConnParams
	ird, ord  int  // inbound reads served, outbound reads outstanding (negotiated)
	payT      int  // max payload of a tagged FPDU we send
	payU      int  // max payload of an untagged FPDU we send
	waitFirst bool // responder: no FPDU out before the initiator's first arrived

	dead atomic.Bool // set with err; lets the send loop stop between flushes

	mu       sync.Mutex
	txCond   *sync.Cond // send loop waits on it, with mu
	mrs      map[uint32]*mr
	rq       ring[rdma.RecvWR]
	sq       ring[sqEntry]   // posted, not yet transmitted (front entries may be in transmission)
	pend     ring[pendEntry] // every posted send WR, in order, until its completion is queued
	seq      uint64          // sequence number of the next posted send WR
	orq      ring[outRead]   // outbound reads sent or being sent
	irq      ring[inRead]    // inbound reads to answer
	irqOut   int             // inbound reads accepted and not fully answered
	cq       ring[rdma.Completion]
	cqWake   chan struct{} // capacity 1
	gotFirst bool
	err      error  // why the QP died; nil while alive
	term     []byte // Terminate FPDU the send loop should send before stopping
	closed   bool
	done     chan struct{} // closed when err is set
	recvCur  *rdma.RecvWR  // receive being filled by a multi-segment Send (rx only, under mu for flush)
	recvWR   rdma.RecvWR

	wg     sync.WaitGroup
	txDone chan struct{}

	tx txState // send loop only
	rx rxState // receive loop only
}

var _ rdma.QP = (*qp)(nil)

type sqEntry struct {
	wr    rdma.SendWR
	local [][]byte // our copy of wr.Local (slot storage reused)
	seq   uint64
	// for reads, resolved at post time
	sink   *mr
	sinkTO uint64
	rlen   uint32
}

type pendEntry struct {
	seq      uint64
	id       uint64
	op       rdma.Opcode
	n        int
	signaled bool
	done     bool
}

type outRead struct {
	seq    uint64
	sink   *mr
	nextTO uint64
	remain uint32
	total  uint32
}

type inRead struct {
	rr  ReadRequest
	src *mr // nil for zero-length reads
}

func newQP(c *net.TCPConn, br *bufio.Reader, hs handshake, responder bool, o *Options) *qp {
	q := &qp{
		conn: c, in: newRxReader(c, br), crc: hs.crc, peer: hs.peer,
		ird: hs.ird, ord: hs.ord,
		waitFirst: responder && !o.NoResponderWait,
		cqWake:    make(chan struct{}, 1),
		done:      make(chan struct{}),
		txDone:    make(chan struct{}),
	}
	q.txCond = sync.NewCond(&q.mu)
	max := o.MaxFPDU
	if max <= 0 {
		max = tcpMSS(c) &^ 7
	}
	max = min(max, 2+65535+4)
	q.payT = min(max-2-TaggedHeaderLen-4, 65535-TaggedHeaderLen) &^ 3
	q.payU = min(max-2-UntaggedHeaderLen-4, 65535-UntaggedHeaderLen) &^ 3
	q.payT, q.payU = max2(q.payT, 4), max2(q.payU, 4)
	q.tx.init()
	q.rx.init()
	q.wg.Add(2)
	go q.sendLoop()
	go q.recvLoop()
	return q
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// tcpMSS is the socket's TCP_MAXSEG, 1448 if it cannot be read.
func tcpMSS(c *net.TCPConn) int {
	mss := 0
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { mss = getMSS(fd) })
	}
	if mss < 536 {
		mss = 1448
	}
	return mss
}

func (q *qp) PeerParams() rdma.ConnParams {
	p := q.peer
	p.CRC = q.crc
	return p
}
func (q *qp) LocalAddr() net.Addr  { return q.conn.LocalAddr() }
func (q *qp) RemoteAddr() net.Addr { return q.conn.RemoteAddr() }

// PostRecv queues receive buffers.
func (q *qp) PostRecv(wrs ...rdma.RecvWR) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	for i := range wrs {
		q.rq.push(wrs[i])
	}
	return nil
}

// PostSend queues send work requests; they are transmitted in order by the
// send loop, several per writev. The gather list is copied; the memory it
// names must stay untouched until the request completes.
func (q *qp) PostSend(wrs ...rdma.SendWR) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	for i := range wrs {
		if err := q.checkWRLocked(&wrs[i]); err != nil {
			return err
		}
	}
	for i := range wrs {
		wr := &wrs[i]
		e := q.sq.pushSlot()
		local := append(e.local[:0], wr.Local...)
		*e = sqEntry{wr: *wr, local: local, seq: q.seq}
		e.wr.Local = local
		if wr.Op == rdma.OpRead {
			e.sink, e.sinkTO, e.rlen = q.readSinkLocked(wr)
		}
		p := q.pend.pushSlot()
		*p = pendEntry{seq: q.seq, id: wr.ID, op: wr.Op, signaled: wr.Signaled}
		q.seq++
	}
	q.txCond.Signal()
	return nil
}

var errBadWR = errors.New("iwarp: invalid work request")

func (q *qp) checkWRLocked(wr *rdma.SendWR) error {
	switch wr.Op {
	case rdma.OpSend, rdma.OpSendInvalidate, rdma.OpWrite:
		var n uint64
		for _, b := range wr.Local {
			n += uint64(len(b))
		}
		if n > 1<<32-1 {
			return fmt.Errorf("%w: message of %d bytes", errBadWR, n)
		}
		return nil
	case rdma.OpRead:
		if q.ord == 0 {
			// It would wait for an ORD slot forever.
			return fmt.Errorf("%w: the peer serves no RDMA Reads (MPA IRD 0)", errBadWR)
		}
		m, ok := wr.LocalMR.(*mr)
		if !ok || m.qp != q || !m.valid.Load() {
			return fmt.Errorf("%w: RDMA Read needs a valid LocalMR of this QP", errBadWR)
		}
		if m.access&rdma.AccessLocalWrite == 0 {
			return fmt.Errorf("%w: RDMA Read sink lacks AccessLocalWrite", errBadWR)
		}
		_, to, n := q.readSinkLocked(wr)
		if to == ^uint64(0) || to+uint64(n) > uint64(len(m.buf)) {
			return fmt.Errorf("%w: RDMA Read sink outside LocalMR", errBadWR)
		}
		return nil
	}
	return fmt.Errorf("%w: opcode %v", errBadWR, wr.Op)
}

// readSinkLocked resolves an RDMA Read's sink: LocalMR, the offset of
// Local[0] in it (0 without Local) and the length (Length, else len(Local[0])).
func (q *qp) readSinkLocked(wr *rdma.SendWR) (*mr, uint64, uint32) {
	m := wr.LocalMR.(*mr)
	n := wr.Length
	if len(wr.Local) == 0 || len(m.buf) == 0 {
		return m, 0, n
	}
	l := wr.Local[0]
	if n == 0 {
		n = uint32(len(l))
	}
	if cap(l) == 0 {
		return m, 0, n
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m.buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(l)))
	if p < base || p > base+uintptr(len(m.buf)) {
		return m, ^uint64(0), n
	}
	return m, uint64(p - base), n
}

// Poll returns at least one completion, waiting for one or for ctx. Once the
// QP has failed and every completion was returned it returns the failure.
func (q *qp) Poll(ctx context.Context, cs []rdma.Completion) ([]rdma.Completion, error) {
	if len(cs) == 0 {
		cs = cs[:cap(cs)]
		if len(cs) == 0 {
			return nil, errors.New("iwarp: Poll with no room")
		}
	}
	for {
		q.mu.Lock()
		if q.cq.n > 0 {
			n := 0
			for n < len(cs) && q.cq.n > 0 {
				cs[n] = *q.cq.front()
				q.cq.pop()
				n++
			}
			more := q.cq.n > 0
			q.mu.Unlock()
			if more {
				q.wakeCQ()
			}
			return cs[:n], nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			return cs[:0], err
		}
		select {
		case <-q.cqWake:
		case <-q.done:
		case <-ctx.Done():
			return cs[:0], ctx.Err()
		}
	}
}

func (q *qp) wakeCQ() {
	select {
	case q.cqWake <- struct{}{}:
	default:
	}
}

func (q *qp) pushCQLocked(c rdma.Completion) {
	q.cq.push(c)
	q.wakeCQ()
}

// markDoneLocked records that send WR seq finished and queues the
// completions that are now in order.
func (q *qp) markDoneLocked(seq uint64, n int) {
	if q.pend.n == 0 {
		return
	}
	i := int(seq - q.pend.front().seq)
	if i < 0 || i >= q.pend.n {
		return // flushed meanwhile
	}
	p := q.pend.at(i)
	p.done, p.n = true, n
	for q.pend.n > 0 && q.pend.front().done {
		p := q.pend.front()
		if p.signaled {
			q.pushCQLocked(rdma.Completion{ID: p.id, Op: p.op, Len: p.n})
		}
		q.pend.pop()
	}
}

// failLocked kills the QP with err: every pending work request completes
// (with ErrFlushed unless it had finished), Poll then reports err, and the
// send loop sends term (if any) and stops.
func (q *qp) failLocked(err error, recvErr error, term []byte) {
	if q.err != nil {
		return
	}
	q.err = err
	q.term = term
	q.dead.Store(true)
	for q.pend.n > 0 {
		p := q.pend.front()
		if p.done {
			if p.signaled {
				q.pushCQLocked(rdma.Completion{ID: p.id, Op: p.op, Len: p.n})
			}
		} else {
			q.pushCQLocked(rdma.Completion{ID: p.id, Op: p.op, Err: rdma.ErrFlushed})
		}
		q.pend.pop()
	}
	if q.recvCur != nil {
		e := rdma.ErrFlushed
		if recvErr != nil {
			e = recvErr
		}
		q.pushCQLocked(rdma.Completion{ID: q.recvCur.ID, Op: rdma.OpRecv, Err: e})
		q.recvCur = nil
	} else if recvErr != nil && q.rq.n > 0 {
		// The receive the offending Send would have consumed.
		q.pushCQLocked(rdma.Completion{ID: q.rq.front().ID, Op: rdma.OpRecv, Err: recvErr})
		q.rq.pop()
	}
	for q.rq.n > 0 {
		q.pushCQLocked(rdma.Completion{ID: q.rq.front().ID, Op: rdma.OpRecv, Err: rdma.ErrFlushed})
		q.rq.pop()
	}
	q.orq.clear()
	q.irq.clear()
	close(q.done)
	q.txCond.Broadcast()
	q.wakeCQ()
}

// Close tears the connection down. Like siw on a normal disconnect it
// closes TCP without a Terminate (a Terminate reports an error to the
// peer); pending work requests complete with ErrFlushed. It waits for the
// QP's goroutines, so no registered memory is touched after it returns.
func (q *qp) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.failLocked(rdma.ErrFlushed, nil, nil)
	q.mu.Unlock()
	err := q.conn.Close()
	q.wg.Wait()
	return err
}

// fail is the receive loop's exit: queue a Terminate for the send loop,
// give it a moment to go out, then close the socket.
func (q *qp) fail(err error, recvErr error, term []byte) {
	q.mu.Lock()
	first := q.err == nil
	q.failLocked(err, recvErr, term)
	q.mu.Unlock()
	if first && term != nil {
		select {
		case <-q.txDone:
		case <-time.After(time.Second):
		}
	}
	q.conn.Close()
}

// ring is a growable FIFO; slots keep their contents after pop so that
// slices in them can be reused (pushSlot).
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func (r *ring[T]) pushSlot() *T {
	if r.n == len(r.buf) {
		nb := make([]T, max2(2*len(r.buf), 16))
		for i := 0; i < len(r.buf); i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.n++
	return &r.buf[(r.head+r.n-1)%len(r.buf)]
}

func (r *ring[T]) push(v T)    { *r.pushSlot() = v }
func (r *ring[T]) front() *T   { return &r.buf[r.head] }
func (r *ring[T]) at(i int) *T { return &r.buf[(r.head+i)%len(r.buf)] }
func (r *ring[T]) pop() {
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}
func (r *ring[T]) clear() {
	var zero T
	for r.n > 0 {
		*r.front() = zero
		r.pop()
	}
}
