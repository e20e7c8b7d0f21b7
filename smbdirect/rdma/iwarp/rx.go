package iwarp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Receive side: one FPDU at a time through rxReader (rxbuf.go). Headers
// are parsed in place (Peek); tagged payload is read from the socket
// straight into the registered region after the STag, key, validity,
// rights and bounds checks, untagged payload straight into the posted
// receive buffer, each with a look-ahead that brings the trailer and the
// next header in the same system call. (Bytes already buffered are copied
// out of the buffer, and small payloads come through it.) Any violation
// stops the stream before a byte is placed outside the checked range, and
// a Terminate goes out.

// rxBufSize is the receive loop's buffer (see rxReader); mpaBufSize the
// MPA exchange's, whose left-over bytes the receive loop takes over.
const (
	rxBufSize  = 64 << 10
	mpaBufSize = 4 << 10
)

type rxState struct {
	hdr     Header
	raw     [2 + maxHeaderLen]byte // ULPDU_Length + header (+ Read Request) of the current FPDU
	rawN    int
	ul      int
	crc     uint32
	first   bool
	msn     [3]uint32 // expected MSN per untagged queue
	cur     rdma.RecvWR
	curOn   bool
	curN    int
	scratch [256]byte
}

func (r *rxState) init() { r.msn = [3]uint32{1, 1, 1} }

// termErr is a local protocol error: the Terminate to send.
type termErr struct {
	layer, etype, code uint8
	withHdr            bool // offending header known
	detail             string
}

func (e *termErr) Error() string {
	return TermReason(e.layer, e.etype, e.code) + ": " + e.detail
}

func terr(layer, etype, code uint8, format string, a ...any) error {
	return &termErr{layer, etype, code, true, fmt.Sprintf(format, a...)}
}

// streamLost reports a stream that ended inside an FPDU.
func streamLost(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &termErr{LayerLLP, 0, LLPStreamLost, false, "stream ended inside an FPDU"}
	}
	return err
}

func (q *qp) recvLoop() {
	defer q.wg.Done()
	for {
		err := q.readFPDU()
		if err == nil {
			continue
		}
		var te *termErr
		var rte *TerminateError
		switch {
		case errors.As(err, &te):
			e := &TerminateError{Layer: te.layer, EType: te.etype, Code: te.code, Detail: te.detail, Err: errFor(te.layer, te.etype, te.code)}
			var recvErr error
			if e.Err == rdma.ErrRecvTooSmall {
				recvErr = e
			}
			q.fail(e, recvErr, q.buildTerminate(te))
		case errors.As(err, &rte):
			q.fail(err, nil, nil)
		default:
			q.fail(fmt.Errorf("%w: %v", ErrConnLost, err), nil, nil)
		}
		return
	}
}

func (q *qp) readFPDU() error {
	r := &q.rx
	b, err := q.in.Peek(4)
	if err != nil {
		if len(b) == 0 {
			return err
		}
		return streamLost(err)
	}
	r.rawN = 0
	ul := int(binary.BigEndian.Uint16(b))
	hl := headerLenFor(b[2])
	if ul < hl {
		return &termErr{LayerLLP, 0, LLPFPDUStart, false, fmt.Sprintf("ULPDU_Length %d shorter than the DDP header", ul)}
	}
	extra := 0
	if hl == UntaggedHeaderLen && Opcode(b[3]&rdmapOpMask) == OpReadRequest && ul >= hl+ReadRequestLen {
		extra = ReadRequestLen
	}
	hb, err := q.in.Peek(2 + hl + extra)
	if err != nil {
		return streamLost(err)
	}
	r.rawN = copy(r.raw[:], hb)
	r.ul = ul
	q.in.Discard(len(hb))
	h := &r.hdr
	h.Unmarshal(r.raw[2:r.rawN])
	if q.crc {
		r.crc = crc32.Update(0, castagnoli, r.raw[:r.rawN])
	}
	if !r.first {
		r.first = true
		q.mu.Lock()
		q.gotFirst = true
		q.txCond.Signal()
		q.mu.Unlock()
	}
	n := ul - hl - extra
	if h.DDPVersion != ddpVersion {
		if h.Tagged {
			return terr(LayerDDP, DDPTaggedBuffer, DDPTInvalidVersion, "DDP version %d", h.DDPVersion)
		}
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidVersion, "DDP version %d", h.DDPVersion)
	}
	if h.RDMAPVersion != 1 {
		return terr(LayerRDMAP, RDMAPRemoteOperation, RDMAPInvalidVersion, "RDMAP version %d", h.RDMAPVersion)
	}
	if h.Tagged {
		switch h.Opcode {
		case OpRDMAWrite:
			return q.rxWrite(n)
		case OpReadResponse:
			return q.rxReadResponse(n)
		}
		return terr(LayerRDMAP, RDMAPRemoteOperation, RDMAPUnexpectedOpcode, "tagged %v", h.Opcode)
	}
	if h.QN > QNTerminate {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidQN, "QN %d", h.QN)
	}
	switch h.Opcode {
	case OpSend, OpSendInvalidate, OpSendSE, OpSendSEInvalidate:
		if h.QN != QNSend {
			return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidQN, "%v on QN %d", h.Opcode, h.QN)
		}
		return q.rxSend(n)
	case OpReadRequest:
		if h.QN != QNReadReq {
			return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidQN, "%v on QN %d", h.Opcode, h.QN)
		}
		if extra == 0 || n != 0 {
			return terr(LayerRDMAP, RDMAPRemoteOperation, RDMAPUnspecified, "Read Request ULPDU of %d bytes", ul)
		}
		return q.rxReadRequest()
	case OpTerminate:
		if h.QN != QNTerminate {
			return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidQN, "%v on QN %d", h.Opcode, h.QN)
		}
		return q.rxTerminate(n)
	}
	return terr(LayerRDMAP, RDMAPRemoteOperation, RDMAPUnexpectedOpcode, "untagged %v", h.Opcode)
}

// place reads len(dst) payload bytes into dst (see rxReader.Read).
func (q *qp) place(dst []byte) error {
	copied, err := q.in.Read(dst)
	countCopy(copied)
	if err != nil {
		return streamLost(err)
	}
	if q.crc {
		q.rx.crc = crc32.Update(q.rx.crc, castagnoli, dst)
	}
	return nil
}

// skip consumes n payload bytes, keeping the first len(scratch).
func (q *qp) skip(n int) error {
	r := &q.rx
	for n > 0 {
		k := min(n, len(r.scratch))
		if err := q.place(r.scratch[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// trailer consumes PAD and CRC and checks the CRC when it is on.
func (q *qp) trailer() error {
	r := &q.rx
	pad := padLen(r.ul)
	tb, err := q.in.Peek(pad + 4)
	if err != nil {
		return streamLost(err)
	}
	if q.crc {
		c := crc32.Update(r.crc, castagnoli, tb[:pad])
		if got := binary.LittleEndian.Uint32(tb[pad:]); got != c {
			return terr(LayerLLP, 0, LLPCRCError, "CRC %#08x, computed %#08x", got, c)
		}
	}
	q.in.Discard(pad + 4)
	return nil
}

func (q *qp) lookup(stag uint32) *mr {
	q.mu.Lock()
	m := q.mrs[stag]
	q.mu.Unlock()
	return m
}

// rxWrite places an RDMA Write segment, and with it, when the stream
// already holds them, the segments of the same message that follow it
// (placeRun). Those are predicted only into the part of the region past
// everything the peer has written into it so far (mr.peerEnd), so that a
// wrong guess cannot spoil data the peer wrote: it can only leave stream
// bytes in memory the peer has not written (yet), which for a region
// given to the peer to write into (an SMB2 READ's) holds nothing of
// value. The memory outside the region, and its bounds, are never
// touched.
func (q *qp) rxWrite(n int) error {
	h := &q.rx.hdr
	if n > 0 {
		m := q.lookup(h.STag)
		if m == nil {
			return terr(LayerDDP, DDPTaggedBuffer, DDPTInvalidSTag, "RDMA Write to unknown STag %#x", h.STag)
		}
		end := h.TO + uint64(n)
		k := 0
		if !q.crc && !h.Last && n >= rxDirectMin && end >= m.peerEnd && end <= uint64(len(m.buf)) {
			k = min(rxAhead, int((uint64(len(m.buf))-end)/uint64(n)))
		}
		span := n * (1 + k)
		if a := m.acquire(h.STag, h.TO, span, rdma.AccessRemoteWrite); a != accOK {
			return terr(LayerDDP, DDPTaggedBuffer, a.tagged(), "RDMA Write of %d bytes at STag %#x TO %#x: %v", n, h.STag, h.TO, a)
		}
		var err error
		more := 0
		if k == 0 {
			err = q.place(m.buf[h.TO:end])
		} else {
			more, _, err = q.placeRun(m.buf[h.TO:h.TO+uint64(span)], n, k)
		}
		m.peerEnd = max(m.peerEnd, end+uint64(more))
		m.release()
		if err != nil {
			return err
		}
	}
	return q.trailer()
}

// rxReadResponse places a Read Response segment for the oldest outbound
// read, and with it, when the stream already holds them, the segments
// that follow it (placeRun).
func (q *qp) rxReadResponse(n int) error {
	h := &q.rx.hdr
	q.mu.Lock()
	if q.orq.n == 0 {
		q.mu.Unlock()
		return terr(LayerRDMAP, RDMAPRemoteOperation, RDMAPUnexpectedOpcode, "Read Response without a Read Request")
	}
	o := *q.orq.front()
	q.mu.Unlock()
	if h.STag != o.sink.stag {
		return terr(LayerDDP, DDPTaggedBuffer, DDPTInvalidSTag, "Read Response to STag %#x, expected %#x", h.STag, o.sink.stag)
	}
	if h.TO != o.nextTO || uint32(n) > o.remain || n > int(o.remain) {
		return terr(LayerDDP, DDPTaggedBuffer, DDPTBaseBounds, "Read Response at TO %#x+%d, expected %#x+%d", h.TO, n, o.nextTO, o.remain)
	}
	moved, last := uint32(n), h.Last
	if n > 0 {
		// The segments a run may predict lie in the part of the sink the
		// response has yet to fill, which it fills in order (each segment
		// must come at nextTO): a wrong guess only writes there.
		k := 0
		if !q.crc && !h.Last && n >= rxDirectMin {
			k = min(rxAhead, int((o.remain-uint32(n))/uint32(n)))
		}
		span := n * (1 + k)
		if a := o.sink.acquire(h.STag, h.TO, span, rdma.AccessLocalWrite); a != accOK {
			return terr(LayerDDP, DDPTaggedBuffer, a.tagged(), "Read Response sink %#x: %v", h.STag, a)
		}
		var err error
		if k == 0 {
			err = q.place(o.sink.buf[h.TO : h.TO+uint64(n)])
		} else {
			var more int
			more, last, err = q.placeRun(o.sink.buf[h.TO:h.TO+uint64(span)], n, k)
			moved += uint32(more)
		}
		o.sink.release()
		if err != nil {
			return err
		}
	}
	if err := q.trailer(); err != nil {
		return err
	}
	if last && o.remain != moved {
		return terr(LayerDDP, DDPTaggedBuffer, DDPTBaseBounds, "Read Response ends %d bytes short", o.remain-moved)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.orq.n == 0 {
		return nil // flushed meanwhile
	}
	f := q.orq.front()
	f.nextTO += uint64(moved)
	f.remain -= moved
	if last {
		seq, total := f.seq, f.total
		*f = outRead{}
		q.orq.pop()
		q.markDoneLocked(seq, int(total))
		q.txCond.Signal()
	}
	return nil
}

// placeRun places the current tagged segment's n payload bytes at the
// start of sink and, in the same system calls, up to k following segments
// of the same message predicted to carry the next n bytes each
// (rxReader.ReadRun). It returns how many payload bytes of following
// segments it placed, and whether the last segment placed ended the
// message; the stream is then at that segment's trailer, and q.rx.ul is
// that segment's ULPDU_Length.
func (q *qp) placeRun(sink []byte, n, k int) (more int, last bool, err error) {
	r := &q.rx
	var ahead [rxAhead][]byte
	for i := range k {
		ahead[i] = sink[n*(i+1) : n*(i+2)]
	}
	pad := padLen(r.ul)
	res, copied, err := q.in.ReadRun(sink[:n], ahead[:k], r.raw[:2+TaggedHeaderLen],
		uint64(n), pad+4+2+TaggedHeaderLen, pad+4)
	countCopy(copied)
	if err != nil {
		return 0, false, streamLost(err)
	}
	more = res.bytes
	if res.whole > 0 {
		r.ul, last = res.ul, res.last
	}
	if res.part >= 0 {
		// One more header was taken and part of its payload is in place:
		// read the rest.
		if err := q.place(ahead[res.whole][res.part:res.partLen]); err != nil {
			return 0, false, err
		}
		more += res.partLen
		r.ul, last = res.partUL, res.partLast
	}
	return more, last, nil
}

// rxSend places a Send segment into the current posted receive.
func (q *qp) rxSend(n int) error {
	r := &q.rx
	h := &r.hdr
	if h.MSN != r.msn[QNSend] {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidMSN, "Send MSN %d, expected %d", h.MSN, r.msn[QNSend])
	}
	if !r.curOn {
		if h.MO != 0 {
			return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidMO, "first Send segment at MO %d", h.MO)
		}
		q.mu.Lock()
		if q.rq.n == 0 {
			q.mu.Unlock()
			return terr(LayerDDP, DDPUntaggedBuffer, DDPUNoBuffer, "Send MSN %d with no receive posted", h.MSN)
		}
		r.cur = *q.rq.front()
		*q.rq.front() = rdma.RecvWR{}
		q.rq.pop()
		q.recvWR = r.cur
		q.recvCur = &q.recvWR
		q.mu.Unlock()
		r.curOn, r.curN = true, 0
	} else if int(h.MO) != r.curN {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidMO, "Send segment at MO %d, expected %d", h.MO, r.curN)
	}
	if n > len(r.cur.Buf)-r.curN {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUTooLong, "Send of more than %d bytes into a %d-byte receive", r.curN+n, len(r.cur.Buf))
	}
	if err := q.place(r.cur.Buf[r.curN : r.curN+n]); err != nil {
		return err
	}
	r.curN += n
	if err := q.trailer(); err != nil {
		return err
	}
	if !h.Last {
		return nil
	}
	var inv uint32
	if h.Opcode == OpSendInvalidate || h.Opcode == OpSendSEInvalidate {
		m := q.lookup(h.RsvdULP)
		if m == nil {
			return terr(LayerRDMAP, RDMAPRemoteOperation, RDMAPCannotInvalidate, "Send with Invalidate of unknown STag %#x", h.RsvdULP)
		}
		m.valid.Store(false)
		inv = h.RsvdULP
	}
	q.mu.Lock()
	if q.recvCur != nil {
		q.recvCur = nil
		q.pushCQLocked(rdma.Completion{ID: r.cur.ID, Op: rdma.OpRecv, Len: r.curN, Invalidated: inv})
	}
	q.mu.Unlock()
	r.cur = rdma.RecvWR{}
	r.curOn = false
	r.msn[QNSend]++
	return nil
}

// rxReadRequest queues an inbound RDMA Read for the send loop.
func (q *qp) rxReadRequest() error {
	r := &q.rx
	h := &r.hdr
	if h.MSN != r.msn[QNReadReq] {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidMSN, "Read Request MSN %d, expected %d", h.MSN, r.msn[QNReadReq])
	}
	if h.MO != 0 || !h.Last {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidMO, "Read Request MO %d L=%v", h.MO, h.Last)
	}
	var rr ReadRequest
	rr.Unmarshal(r.raw[2+UntaggedHeaderLen : r.rawN])
	if err := q.trailer(); err != nil {
		return err
	}
	var src *mr
	if rr.Size > 0 {
		src = q.lookup(rr.SrcSTag)
		if src == nil {
			return terr(LayerRDMAP, RDMAPRemoteProtection, RDMAPInvalidSTag, "Read Request of unknown STag %#x", rr.SrcSTag)
		}
		if a := src.acquire(rr.SrcSTag, rr.SrcTO, int(rr.Size), rdma.AccessRemoteRead); a != accOK {
			return terr(LayerRDMAP, RDMAPRemoteProtection, a.rdmap(), "Read Request of %d bytes at STag %#x TO %#x: %v", rr.Size, rr.SrcSTag, rr.SrcTO, a)
		}
		src.release()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.irqOut >= q.ird {
		return terr(LayerDDP, DDPUntaggedBuffer, DDPUInvalidMSN, "more than IRD %d Read Requests outstanding", q.ird)
	}
	q.irq.push(inRead{rr: rr, src: src})
	q.irqOut++
	r.msn[QNReadReq]++
	q.txCond.Signal()
	return nil
}

// rxTerminate decodes the peer's Terminate.
func (q *qp) rxTerminate(n int) error {
	r := &q.rx
	keep := min(n, len(r.scratch))
	if err := q.place(r.scratch[:keep]); err != nil {
		return err
	}
	var t Terminate
	tail := make([]byte, keep)
	copy(tail, r.scratch[:keep])
	if err := q.skip(n - keep); err != nil {
		return err
	}
	crcErr := q.trailer()
	e := &TerminateError{Remote: true, Err: rdma.ErrTerminated}
	if err := t.Unmarshal(tail); err != nil {
		e.Detail = "undecodable terminate"
	} else {
		e.Layer, e.EType, e.Code = t.Layer, t.EType, t.Code
		if t.D && len(t.Hdr) > 0 {
			var oh Header
			if oh.Unmarshal(t.Hdr) == nil {
				e.Detail = "offending " + oh.String()
			}
		}
	}
	if crcErr != nil {
		e.Detail += " (bad CRC)"
	}
	return e
}

// buildTerminate encodes the Terminate FPDU for a local error.
func (q *qp) buildTerminate(te *termErr) []byte {
	r := &q.rx
	t := Terminate{Layer: te.layer, EType: te.etype, Code: te.code}
	if te.withHdr && r.rawN >= 2+TaggedHeaderLen {
		t.M, t.D = true, true
		t.SegLen = binary.BigEndian.Uint16(r.raw[:])
		t.Hdr = r.raw[2:r.rawN]
		t.R = r.rawN == 2+UntaggedHeaderLen+ReadRequestLen
	}
	return appendTerminateFPDU(nil, &t, q.crc)
}

// appendTerminateFPDU frames t as a Terminate message (QN 2, MSN 1, L=1).
func appendTerminateFPDU(b []byte, t *Terminate, crcOn bool) []byte {
	h := Header{Opcode: OpTerminate, Last: true, QN: QNTerminate, MSN: 1}
	ul := UntaggedHeaderLen + t.Size()
	s := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(ul))
	b = h.Append(b)
	b = t.Append(b)
	b = append(b, zeros[:padLen(ul)]...)
	var c uint32
	if crcOn {
		c = crc32.Checksum(b[s:], castagnoli)
	}
	return binary.LittleEndian.AppendUint32(b, c)
}
