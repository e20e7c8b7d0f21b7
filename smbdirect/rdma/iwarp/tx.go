package iwarp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Send side. FPDU headers, PADs and CRCs are built in a reusable arena; the
// payload is referenced where it lies (caller buffers, registered regions)
// and everything goes out with writev (net.Buffers), several FPDUs and work
// requests per call: no copy of bulk data, no allocation per I/O.

const (
	txArenaSize  = 32 << 10
	txMaxIOV     = 1000 // Linux IOV_MAX is 1024
	txMaxBatch   = 64   // work requests taken from the send queue at once
	txCopyMax    = 128  // payload pieces this small are copied into the arena
	fpduOverhead = 2 + maxHeaderLen + 3 + 4
)

var errAborted = errors.New("iwarp: send aborted")

type txState struct {
	arena  []byte // headers, small payloads, PAD and CRC of pending FPDUs
	cur    int    // start of the arena bytes not yet in bufs
	bufs   [][]byte
	nb     net.Buffers // what WriteTo consumes (a field so it does not escape per call)
	open   bool        // inside an FPDU (a flush now must not be aborted)
	crc    uint32
	ul     int
	msn    [3]uint32 // next MSN per untagged queue
	work   []sqEntry
	rresp  []inRead
	pinned []*mr
}

func (t *txState) init() {
	t.arena = make([]byte, 0, txArenaSize)
	t.bufs = make([][]byte, 0, txMaxIOV+4)
	t.msn = [3]uint32{1, 1, 1}
}

func (q *qp) sendReadyLocked() bool {
	if q.waitFirst && !q.gotFirst {
		return false
	}
	if q.irq.n > 0 {
		return true
	}
	if q.sq.n == 0 {
		return false
	}
	return q.sq.front().wr.Op != rdma.OpRead || q.orq.n < q.ord
}

func (q *qp) sendLoop() {
	defer q.wg.Done()
	defer close(q.txDone)
	t := &q.tx
	q.mu.Lock()
	for {
		if q.err != nil {
			term := q.term
			q.mu.Unlock()
			if term != nil {
				q.conn.SetWriteDeadline(time.Now().Add(time.Second))
				q.conn.Write(term)
			}
			return
		}
		if !q.sendReadyLocked() {
			q.txCond.Wait()
			continue
		}
		// Inbound reads leave the IRD count when taken: the requester can
		// see a response complete (and issue its next read) before our
		// writev returns.
		for q.irq.n > 0 {
			t.rresp = append(t.rresp, *q.irq.front())
			*q.irq.front() = inRead{}
			q.irq.pop()
			q.irqOut--
		}
		for k := 0; k < q.sq.n && k < txMaxBatch; k++ {
			e := q.sq.at(k)
			if e.wr.Op == rdma.OpRead {
				if q.orq.n >= q.ord {
					break
				}
				*q.orq.pushSlot() = outRead{seq: e.seq, sink: e.sink, nextTO: e.sinkTO, remain: e.rlen, total: e.rlen}
			}
			t.work = append(t.work, *e)
		}
		q.mu.Unlock()

		err := q.transmit()
		if err != nil {
			q.resetTx()
		}

		q.mu.Lock()
		if q.err == nil {
			for i := range t.work {
				if w := &t.work[i]; w.wr.Op != rdma.OpRead {
					q.markDoneLocked(w.seq, msgLen(w.local))
				}
				e := q.sq.front()
				clear(e.local)
				e.wr, e.sink = rdma.SendWR{}, nil
				q.sq.pop()
			}
		}
		clear(t.work)
		t.work = t.work[:0]
		clear(t.rresp)
		t.rresp = t.rresp[:0]
		if err != nil && err != errAborted {
			q.failLocked(fmt.Errorf("%w: %v", ErrConnLost, err), nil, nil)
		}
	}
}

func msgLen(sgl [][]byte) int {
	n := 0
	for _, b := range sgl {
		n += len(b)
	}
	return n
}

// transmit sends the Read Responses and work requests taken by sendLoop.
func (q *qp) transmit() error {
	t := &q.tx
	for i := range t.rresp {
		r := &t.rresp[i]
		var src []byte
		if r.rr.Size > 0 {
			if a := r.src.acquire(r.rr.SrcSTag, r.rr.SrcTO, int(r.rr.Size), rdma.AccessRemoteRead); a != accOK {
				return fmt.Errorf("%w: read source %#x went away: %v", rdma.ErrAccess, r.rr.SrcSTag, a)
			}
			t.pinned = append(t.pinned, r.src)
			src = r.src.buf[r.rr.SrcTO : r.rr.SrcTO+uint64(r.rr.Size)]
		}
		h := Header{Tagged: true, Opcode: OpReadResponse, STag: r.rr.SinkSTag, TO: r.rr.SinkTO}
		if err := q.segment(&h, nil, src, q.payT); err != nil {
			return err
		}
	}
	for i := range t.work {
		e := &t.work[i]
		var err error
		switch e.wr.Op {
		case rdma.OpSend, rdma.OpSendInvalidate:
			h := Header{Opcode: OpSend, QN: QNSend, MSN: t.msn[QNSend]}
			if e.wr.Op == rdma.OpSendInvalidate {
				h.Opcode, h.RsvdULP = OpSendInvalidate, e.wr.RemoteSTag
			}
			t.msn[QNSend]++
			err = q.segment(&h, e.local, nil, q.payU)
		case rdma.OpWrite:
			h := Header{Tagged: true, Opcode: OpRDMAWrite, STag: e.wr.RemoteSTag, TO: e.wr.RemoteOffset}
			err = q.segment(&h, e.local, nil, q.payT)
		case rdma.OpRead:
			h := Header{Opcode: OpReadRequest, Last: true, QN: QNReadReq, MSN: t.msn[QNReadReq]}
			t.msn[QNReadReq]++
			rr := ReadRequest{SinkSTag: e.sink.stag, SinkTO: e.sinkTO, Size: e.rlen, SrcSTag: e.wr.RemoteSTag, SrcTO: e.wr.RemoteOffset}
			var b [ReadRequestLen]byte
			rr.Put(b[:])
			if err = q.fpduStart(&h, b[:], 0); err == nil {
				err = q.fpduEnd()
			}
		}
		if err != nil {
			return err
		}
	}
	return q.flush()
}

// segment sends one DDP message with header template h (MO, TO and L are
// set per segment) and payload sgl, or one when sgl is nil, in FPDUs of at
// most pay payload bytes (a multiple of 4), all of about the same size: a
// message a little over a multiple of pay is not followed by a runt FPDU,
// which the peer would read through its buffer instead of straight into
// place (see rxReader).
func (q *qp) segment(h *Header, sgl [][]byte, one []byte, pay int) error {
	total := len(one)
	if sgl != nil {
		total = msgLen(sgl)
	}
	if total > pay {
		k := (total + pay - 1) / pay
		pay = ((total+k-1)/k + 3) &^ 3
	}
	si, off, sent := 0, 0, 0
	for {
		n := min(pay, total-sent)
		h.Last = sent+n == total
		if !h.Tagged {
			h.MO = uint32(sent)
		}
		if err := q.fpduStart(h, nil, n); err != nil {
			return err
		}
		for rem := n; rem > 0; {
			var b []byte
			if sgl == nil {
				b = one[off:]
			} else {
				b = sgl[si][off:]
			}
			if len(b) == 0 {
				si, off = si+1, 0
				continue
			}
			k := min(len(b), rem)
			if err := q.payload(b[:k]); err != nil {
				return err
			}
			off += k
			rem -= k
		}
		if err := q.fpduEnd(); err != nil {
			return err
		}
		if h.Tagged {
			h.TO += uint64(n)
		}
		sent += n
		if sent == total {
			return nil
		}
	}
}

// fpduStart appends ULPDU_Length, the header and extra (a Read Request
// header) of an FPDU carrying n payload bytes.
func (q *qp) fpduStart(h *Header, extra []byte, n int) error {
	t := &q.tx
	if cap(t.arena)-len(t.arena) < fpduOverhead+txCopyMax || len(t.bufs) > txMaxIOV-4 {
		if err := q.flush(); err != nil {
			return err
		}
	}
	t.ul = h.Size() + len(extra) + n
	s := len(t.arena)
	t.arena = binary.BigEndian.AppendUint16(t.arena, uint16(t.ul))
	t.arena = t.arena[:s+2+h.Size()]
	h.Put(t.arena[s+2:])
	t.arena = append(t.arena, extra...)
	if q.crc {
		t.crc = crc32.Update(0, castagnoli, t.arena[s:])
	}
	t.open = true
	return nil
}

func (q *qp) payload(b []byte) error {
	t := &q.tx
	if q.crc {
		t.crc = crc32.Update(t.crc, castagnoli, b)
	}
	if len(b) <= txCopyMax && cap(t.arena)-len(t.arena) >= len(b)+8 {
		t.arena = append(t.arena, b...)
		countCopy(len(b))
		return nil
	}
	if len(t.arena) > t.cur {
		t.bufs = append(t.bufs, t.arena[t.cur:])
		t.cur = len(t.arena)
	}
	t.bufs = append(t.bufs, b)
	if len(t.bufs) > txMaxIOV-2 {
		return q.flush()
	}
	return nil
}

var zeros [4]byte

func (q *qp) fpduEnd() error {
	t := &q.tx
	pad := padLen(t.ul)
	t.arena = append(t.arena, zeros[:pad]...)
	var c uint32
	if q.crc {
		c = crc32.Update(t.crc, castagnoli, zeros[:pad])
	}
	t.arena = binary.LittleEndian.AppendUint32(t.arena, c)
	t.open = false
	return nil
}

// flush writes everything pending with one writev. Between FPDUs it stops
// if the QP died (the send loop then sends the Terminate on a clean FPDU
// boundary).
func (q *qp) flush() error {
	t := &q.tx
	if !t.open && q.dead.Load() {
		q.resetTx()
		return errAborted
	}
	if len(t.arena) > t.cur {
		t.bufs = append(t.bufs, t.arena[t.cur:])
	}
	var err error
	if len(t.bufs) > 0 {
		t.nb = t.bufs
		_, err = t.nb.WriteTo(q.conn)
	}
	q.resetTx()
	return err
}

func (q *qp) resetTx() {
	t := &q.tx
	clear(t.bufs)
	t.bufs = t.bufs[:0]
	t.arena = t.arena[:0]
	t.cur = 0
	for i, m := range t.pinned {
		m.release()
		t.pinned[i] = nil
	}
	t.pinned = t.pinned[:0]
}
