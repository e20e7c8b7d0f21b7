package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/internal/smbcrypto"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Lock order: Session.mu may be held while taking conn.mu; conn.wmu may be
// held while taking conn.mu; never the reverse.

// encoder is any SMB2 request body.
type encoder interface {
	Append(b []byte) []byte
	Size() int
}

// request is one SMB2 request to send, alone or as part of a compound.
type request struct {
	cmd     smb2.Command
	body    encoder
	payload []byte // bytes after the body (WRITE data), sent without a copy when possible
	tree    uint32
	charge  uint16 // 0: computed as 1 for small requests
	dst     []byte // READ: where the response data may be placed directly
	related bool
	replay  bool
	// prepare, if set, adapts the request to the channel picked for it
	// (RDMA offload registers memory there) and returns what to do once
	// the call is over (nil call when it never completed); done reports a
	// response that breaks what prepare set up (it has then failed c).
	prepare func(c *conn) (done func(cl *call) error, err error)
}

// security says how requests of a session are protected on one channel.
type security struct {
	sessionID uint64
	signer    smbcrypto.Signer  // verifies signed responses; signs requests when sign is set
	sign      bool              // sign requests (when not sealed)
	cipher    *smbcrypto.Cipher // seals requests; nil: not encrypted
	decipher  *smbcrypto.Cipher // opens sealed responses
}

// call is a request in flight, completed by the read loop.
type call struct {
	id     uint64
	cmd    smb2.Command
	charge uint16
	acct   int64 // bytes counted in conn.outBytes until the call ends
	done   chan struct{}
	start  time.Time

	// guarded by conn.mu until done is closed
	async   uint64
	dst     []byte
	placing bool

	// valid after done is closed
	hdr  smb2.Header
	sent []byte // the request as sent (small requests; for the preauth hash)
	raw  []byte // the whole response message (header and body)
	body []byte // response body: raw[64:]
	data []byte // READ: data placed straight into dst, if any
	// invalidated is the STag an SMB-Direct Send with Invalidate carrying
	// the response revoked (0 if none).
	invalidated uint32
	msg         *channel.Message // owns body unless nil
	err         error
}

func (c *call) release() {
	if c.msg != nil {
		c.msg.Release()
		c.msg = nil
	}
}

// releaseWhenDone releases the call once it is done. A call whose wait was
// canceled may still be in flight: its answer (or the channel's failure)
// is to come, and with it the buffer to give back; releasing it now would
// race with the read loop filling it in.
func (c *call) releaseWhenDone() {
	select {
	case <-c.done:
		c.release()
	default:
		go func() {
			<-c.done
			c.release()
		}()
	}
}

// conn is one channel: a transport with its own read loop, credits,
// in-flight requests and (per session) signing key.
type conn struct {
	// immutable after negotiate
	t          channel.Transport
	addr       string
	log        *slog.Logger
	dialect    smb2.Dialect
	serverGUID [16]byte
	clientGUID [16]byte
	secMode    uint16
	caps       uint32
	maxRead    uint32
	maxWrite   uint32
	maxTrans   uint32
	cipherID   uint16
	signAlgo   uint16
	preauth    smbcrypto.PreauthHash // connection preauth hash after NEGOTIATE (3.1.1)
	timeout    time.Duration
	kind       channel.Kind

	// set before the conn is published to the session's channel set
	chanSigner smbcrypto.Signer // Channel.SigningKey of a bound channel; nil: the session's
	seq        *atomic.Uint32   // Session.ChannelSequence, sent in every request; nil: 0
	onFail     func(*conn)      // called once when the conn dies, before its calls complete

	// verify is the signer responses of the session are checked with; nil
	// before authentication. requireSigned rejects unsigned responses.
	verify        atomic.Pointer[security]
	requireSigned atomic.Bool
	notify        atomic.Pointer[func(hdr *smb2.Header, body []byte)] // server notifications (lease breaks)

	// counters, read without locks by status reporting and the picker
	bytesRead, bytesWritten, nreq atomic.Uint64
	nmsg                          atomic.Uint64 // messages sent: a compound is one
	rdmaRead, rdmaWritten         atomic.Uint64 // payload moved by RDMA (also in bytesRead/bytesWritten)
	lastRecv                      atomic.Int64  // unix nanoseconds
	failed                        atomic.Bool   // err is set
	outReqs, outBytes             atomic.Int64  // requests (and their bytes) in flight
	reserved                      atomic.Int64  // bytes picked for this channel and not yet sent
	speed                         atomic.Uint64 // advertised link speed of the server address, bits/s
	onFree                        func()        // called when a request ends (multichannel)
	busySince, busyNanos          atomic.Int64  // time with requests in flight
	latency                       atomic.Int64  // EWMA of response latency, ns
	stats                         chanStats     // rates, updated by the session's sampler

	wmu sync.Mutex // serializes writes to t

	mu       sync.Mutex
	pending  map[uint64]*call
	cr       credits
	crWake   chan struct{} // closed when credits are granted or the conn dies
	err      error         // set once when the conn dies
	echoSent time.Time
	placed   *call // the call whose READ data the transport is reading into its buffer
	closed   chan struct{}
}

func newConn(t channel.Transport, addr string, log *slog.Logger, timeout time.Duration) *conn {
	c := &conn{
		t: t, addr: addr, log: log, timeout: timeout,
		pending: make(map[uint64]*call),
		cr:      credits{avail: 1, target: 2048},
		crWake:  make(chan struct{}),
		closed:  make(chan struct{}),
		kind:    t.Kind(),
	}
	c.lastRecv.Store(time.Now().UnixNano())
	go c.readLoop()
	if timeout > 0 {
		go c.watchdog()
	}
	return c
}

// fail marks the connection dead and completes every pending call.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if errors.Is(err, io.EOF) {
		// The server closed the connection. That is no end of a file:
		// callers that look for io.EOF (a short read) must not take
		// the loss for one and return truncated data as complete.
		err = ErrServerClosed
	}
	c.err = &ConnError{Addr: c.addr, Err: err}
	c.failed.Store(true)
	p := c.pending
	c.pending = map[uint64]*call{}
	placed := c.placed
	close(c.crWake)
	close(c.closed)
	c.mu.Unlock()
	c.t.Close()
	if c.onFail != nil {
		c.onFail(c)
	}
	now := time.Now().UnixNano()
	for _, cl := range p {
		c.endWork(cl, now, false)
		if cl == placed {
			// The read loop is writing into the caller's buffer: it
			// completes the call when the transport read returns, so a
			// replay cannot race with the stale data.
			continue
		}
		cl.err = c.err
		close(cl.done)
	}
	c.log.Debug("connection closed", "addr", c.addr, "err", err)
}

func (c *conn) dead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// close shuts the connection down; pending calls fail with ErrClosed.
func (c *conn) close() { c.fail(ErrClosed) }

// watchdog fails the connection when requests are outstanding and the
// server has sent nothing for c.timeout, after one ECHO probe.
//
// Requests the server has answered with an interim STATUS_PENDING (async:
// a blocking lock, a slow READ or WRITE under load) count as outstanding
// too: they may legitimately wait for minutes, but a server that stops
// answering while only such requests are pending must still be noticed.
// The ECHO tells the two apart: a live server answers it (which refreshes
// lastRecv), a dead one does not, and the waiting calls then fail with
// ErrTimeout instead of hanging forever.
func (c *conn) watchdog() {
	tick := time.NewTicker(max(c.timeout/8, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-tick.C:
		}
		last := time.Unix(0, c.lastRecv.Load())
		c.mu.Lock()
		busy := false
		for _, cl := range c.pending {
			if cl.start.Before(time.Now().Add(-c.timeout / 2)) {
				busy = true
				break
			}
		}
		silent := time.Since(last)
		probe := busy && silent > c.timeout/2 && c.echoSent.IsZero()
		if probe {
			c.echoSent = time.Now()
		}
		if !busy || silent < c.timeout/2 {
			c.echoSent = time.Time{}
		}
		dead := busy && silent > c.timeout
		c.mu.Unlock()
		if dead {
			c.fail(fmt.Errorf("%w (%v without a reply)", ErrTimeout, silent.Round(time.Millisecond)))
			return
		}
		if probe {
			go c.echo()
		}
	}
}

func (c *conn) echo() {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	calls, err := c.send(ctx, security{}, &request{cmd: smb2.CmdEcho, body: smb2.Empty{}})
	if err == nil {
		c.wait(ctx, calls[0])
		calls[0].releaseWhenDone()
	}
}

// acquire takes credits for reqs and registers their calls.
func (c *conn) acquire(ctx context.Context, reqs []*request) ([]*call, []uint16, error) {
	need := 0
	for _, r := range reqs {
		if r.charge == 0 {
			r.charge = 1
		}
		if c.caps&smb2.CapLargeMTU == 0 && c.dialect != 0 {
			r.charge = 1
		}
		need += int(r.charge)
	}
	calls := make([]*call, len(reqs))
	asks := make([]uint16, len(reqs))
	c.mu.Lock()
	for {
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return nil, nil, err
		}
		if uint32(need) <= c.cr.avail {
			break
		}
		if len(c.pending) == 0 {
			// Nothing in flight can grant more: waiting would be forever.
			avail := c.cr.avail
			c.mu.Unlock()
			return nil, nil, fmt.Errorf("%w: need %d, have %d", ErrNoCredits, need, avail)
		}
		wake := c.crWake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		c.mu.Lock()
	}
	now := time.Now()
	for i, r := range reqs {
		id, _ := c.cr.take(r.charge)
		asks[i] = c.cr.request(r.charge)
		cl := &call{id: id, cmd: r.cmd, charge: r.charge, acct: int64(r.charge) << 16,
			done: make(chan struct{}), start: now, dst: r.dst}
		c.pending[id] = cl
		calls[i] = cl
		c.startWork(cl, now)
	}
	c.mu.Unlock()
	return calls, asks, nil
}

// send writes reqs as one message (a compound when more than one) and
// returns their calls; wait on each with c.wait.
func (c *conn) send(ctx context.Context, sec security, reqs ...*request) ([]*call, error) {
	calls, asks, err := c.acquire(ctx, reqs)
	if err != nil {
		return nil, err
	}
	msg := c.encode(sec, reqs, calls, asks)
	c.wmu.Lock()
	err = c.t.WriteMessage(ctx, msg)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		return nil, c.dead()
	}
	c.nreq.Add(uint64(len(reqs)))
	c.nmsg.Add(1)
	for _, r := range reqs {
		c.bytesWritten.Add(uint64(len(r.payload)))
	}
	return calls, nil
}

// encode builds the wire form of reqs: headers, bodies, signatures,
// compound padding and, for a sealed session, the transform.
func (c *conn) encode(sec security, reqs []*request, calls []*call, asks []uint16) net.Buffers {
	var out net.Buffers
	zeroCopy := !sec.sign && sec.cipher == nil && len(reqs) == 1
	signer := c.signerFor(&sec)
	var seq uint16
	if c.seq != nil {
		seq = uint16(c.seq.Load())
	}
	var buf []byte
	for i, r := range reqs {
		start := len(buf)
		h := smb2.Header{
			CreditCharge: r.charge,
			Command:      r.cmd,
			Credits:      asks[i],
			MessageID:    calls[i].id,
			TreeID:       r.tree,
			SessionID:    sec.sessionID,
		}
		if c.dialect == 0 || r.cmd == smb2.CmdNegotiate {
			h.CreditCharge = 0
		} else {
			h.ChannelSequence = seq
		}
		if r.related {
			h.Flags |= smb2.FlagRelatedOperations
		}
		if r.replay {
			h.Flags |= smb2.FlagReplayOperation
		}
		if sec.sign && signer != nil && sec.cipher == nil {
			h.Flags |= smb2.FlagSigned
		}
		buf = h.Append(buf)
		buf = r.body.Append(buf)
		if zeroCopy && len(r.payload) > 0 {
			out = append(out, buf, r.payload)
			return out
		}
		buf = append(buf, r.payload...)
		if i < len(reqs)-1 {
			for (len(buf)-start)%8 != 0 {
				buf = append(buf, 0)
			}
			binary.LittleEndian.PutUint32(buf[start+20:], uint32(len(buf)-start))
		}
		if h.Flags&smb2.FlagSigned != 0 {
			sig := signer.Sign(buf[start:])
			copy(buf[start+smb2.SignatureOffset:], sig[:])
		}
		calls[i].sent = buf[start:]
	}
	if sec.cipher != nil {
		sealed := sec.cipher.Seal(nil, sec.sessionID, sec.cipher.NewNonce(), buf, 1)
		return net.Buffers{sealed}
	}
	return append(out, buf)
}

// wait blocks until cl completes or ctx ends; on cancellation it sends an
// SMB2 CANCEL and leaves the call to be reaped by the read loop.
func (c *conn) wait(ctx context.Context, cl *call) error {
	select {
	case <-cl.done:
		return cl.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	if cl.placing {
		// The data is being read into the caller's buffer right now; it
		// ends with the message, which is already arriving.
		c.mu.Unlock()
		<-cl.done
		return cl.err
	}
	cl.dst = nil
	async := cl.async
	_, live := c.pending[cl.id]
	c.mu.Unlock()
	if live {
		c.cancel(cl.id, async)
	}
	return ctx.Err()
}

// cancel sends SMB2 CANCEL for a request ([MS-SMB2] 3.2.4.24); it uses no
// credits and gets no response.
func (c *conn) cancel(id, async uint64) {
	sec := c.verify.Load()
	h := smb2.Header{Command: smb2.CmdCancel, MessageID: id}
	if async != 0 {
		h.Flags |= smb2.FlagAsync
		h.AsyncID = async
		h.MessageID = 0
	}
	if sec != nil {
		h.SessionID = sec.sessionID
	}
	buf := h.Append(nil)
	buf = smb2.Empty{}.Append(buf)
	if sec != nil && sec.sign && sec.signer != nil && sec.cipher == nil {
		binary.LittleEndian.PutUint32(buf[16:], uint32(h.Flags|smb2.FlagSigned))
		sig := c.signerFor(sec).Sign(buf)
		copy(buf[smb2.SignatureOffset:], sig[:])
	}
	var msg net.Buffers
	if sec != nil && sec.cipher != nil {
		msg = net.Buffers{sec.cipher.Seal(nil, sec.sessionID, sec.cipher.NewNonce(), buf, 1)}
	} else {
		msg = net.Buffers{buf}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.wmu.Lock()
	err := c.t.WriteMessage(ctx, msg)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
	}
}

// place is the transport's Placer: it lets a successful READ response's data
// go straight into the waiting caller's buffer.
func (c *conn) place(head []byte, total int) []byte {
	if [4]byte(head[0:4]) != smb2.ProtocolSMB2 {
		return nil
	}
	h := head[:smb2.HeaderSize]
	if smb2.Command(binary.LittleEndian.Uint16(h[12:])) != smb2.CmdRead ||
		binary.LittleEndian.Uint32(h[8:]) != 0 || // Status
		binary.LittleEndian.Uint32(h[20:]) != 0 || // NextCommand
		binary.LittleEndian.Uint32(h[16:])&uint32(smb2.FlagSigned) != 0 {
		return nil
	}
	off, n, err := smb2.ReadResponseData(head[smb2.HeaderSize:])
	if err != nil || off != channel.HeadSize || int(off)+int(n) != total {
		return nil
	}
	id := binary.LittleEndian.Uint64(h[24:])
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.pending[id]
	if cl == nil || cl.dst == nil || int(n) > len(cl.dst) {
		return nil
	}
	cl.placing = true
	c.placed = cl
	return cl.dst[:n]
}

func (c *conn) readLoop() {
	defer c.finishPlaced()
	for {
		m, err := c.t.ReadMessage(c.place)
		if err != nil {
			c.fail(err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if err := c.dispatch(m); err != nil {
			c.fail(err)
			return
		}
	}
}

// dispatch decrypts and splits one transport message and completes calls.
func (c *conn) dispatch(m *channel.Message) error {
	buf := m.Buf
	encrypted := false
	if len(buf) >= 4 && [4]byte(buf[0:4]) == smb2.ProtocolTransform {
		sec := c.verify.Load()
		if sec == nil || sec.decipher == nil {
			m.Release()
			return protoErr("encrypted message on a session without encryption")
		}
		var th smb2.TransformHeader
		if err := th.Unmarshal(buf); err != nil || th.SessionID != sec.sessionID {
			m.Release()
			return protoErr("transform header for another session")
		}
		plain, err := sec.decipher.Open(channel.GetBuf(len(buf))[:0], buf)
		m.Release()
		if err != nil {
			return fmt.Errorf("%w: decrypt: %v", ErrProtocol, err)
		}
		m = channel.PooledMessage(plain)
		buf = plain
		encrypted = true
	}
	compound := false
	for len(buf) > 0 {
		var h smb2.Header
		if err := h.Unmarshal(buf); err != nil {
			m.Release()
			return err
		}
		if h.Flags&smb2.FlagResponse == 0 {
			m.Release()
			return protoErr("request received from server")
		}
		end := len(buf)
		if h.NextCommand != 0 {
			compound = true
			if h.NextCommand < smb2.HeaderSize || int(h.NextCommand) > len(buf) || h.NextCommand%8 != 0 {
				m.Release()
				return protoErr("NextCommand %d", h.NextCommand)
			}
			end = int(h.NextCommand)
		}
		one := buf[:end]
		buf = buf[end:]
		shared := compound || len(buf) > 0
		if err := c.complete(&h, one, m, shared, encrypted); err != nil {
			if shared {
				m.Release()
			}
			return err
		}
	}
	if compound {
		m.Release()
	}
	return nil
}

// complete hands one response to its call. When shared is set the message
// holds several responses and the call gets a copy.
func (c *conn) complete(h *smb2.Header, one []byte, m *channel.Message, shared, encrypted bool) error {
	if h.MessageID == ^uint64(0) {
		if fn := c.notify.Load(); h.Command == smb2.CmdOplockBreak && fn != nil {
			(*fn)(h, append([]byte(nil), one[smb2.HeaderSize:]...))
		}
		if !shared {
			m.Release()
		}
		return nil
	}
	c.mu.Lock()
	if c.err != nil {
		// The connection died (watchdog, close) while this was arriving.
		c.mu.Unlock()
		if !shared {
			m.Release()
		}
		return c.err
	}
	cl := c.pending[h.MessageID]
	c.cr.grant(h.Credits)
	if h.Credits > 0 {
		close(c.crWake)
		c.crWake = make(chan struct{})
	}
	if cl == nil {
		c.mu.Unlock()
		if !shared {
			m.Release()
		}
		return protoErr("response to unknown MessageId %d (%s)", h.MessageID, h.Command)
	}
	if h.Status == smb2.StatusPending && h.Flags&smb2.FlagAsync != 0 {
		cl.async = h.AsyncID
		c.mu.Unlock()
		if !shared {
			m.Release()
		}
		return nil
	}
	delete(c.pending, h.MessageID)
	placed := cl.placing
	if c.placed == cl {
		c.placed = nil
	}
	c.mu.Unlock()
	c.endWork(cl, c.lastRecv.Load(), true)

	if !encrypted {
		if err := c.checkSignature(h, one, m, placed); err != nil {
			cl.err = err
			if !shared {
				m.Release()
			}
			close(cl.done)
			return nil
		}
	}
	cl.hdr = *h
	if shared {
		cl.raw = append([]byte(nil), one...)
	} else {
		cl.raw = one
		cl.msg = m
		if placed {
			cl.data = m.Tail
		}
	}
	cl.body = cl.raw[smb2.HeaderSize:]
	cl.invalidated = m.Invalidated
	c.bytesRead.Add(uint64(len(one) + len(m.Tail)))
	close(cl.done)
	return nil
}

// checkSignature verifies a signed response ([MS-SMB2] 3.2.5.1.3).
func (c *conn) checkSignature(h *smb2.Header, one []byte, m *channel.Message, placed bool) error {
	sec := c.verify.Load()
	if h.Flags&smb2.FlagSigned == 0 {
		if c.requireSigned.Load() && h.SessionID != 0 && sec != nil && h.SessionID == sec.sessionID &&
			h.Command != smb2.CmdSessionSetup {
			return fmt.Errorf("%w: unsigned %s response on a signed session", ErrBadSignature, h.Command)
		}
		return nil
	}
	if sec == nil || sec.signer == nil || h.SessionID != sec.sessionID {
		return nil // the session setup path verifies its own final response
	}
	if placed {
		return fmt.Errorf("%w: signed READ placed without verification", ErrBadSignature)
	}
	if !sec.signer.Verify(one) {
		return fmt.Errorf("%w: %s MessageId %d", ErrBadSignature, h.Command, h.MessageID)
	}
	return nil
}

// roundTrip sends one request and waits for its response; a failure status
// is returned as *Error and releases the call. Warnings (BUFFER_OVERFLOW)
// and MORE_PROCESSING_REQUIRED return the call, whose body carries data.
func (c *conn) roundTrip(ctx context.Context, sec security, r *request) (*call, error) {
	calls, err := c.send(ctx, sec, r)
	if err != nil {
		return nil, err
	}
	cl := calls[0]
	if err := c.wait(ctx, cl); err != nil {
		cl.releaseWhenDone()
		return nil, err
	}
	if err := statusErr(cl); err != nil {
		cl.release()
		return nil, err
	}
	return cl, nil
}

// statusErr converts a response status to an error; warnings and
// MORE_PROCESSING_REQUIRED are not errors.
func statusErr(cl *call) error {
	s := cl.hdr.Status
	if s == smb2.StatusSuccess || !s.IsError() || s == smb2.StatusMoreProcessingRequired {
		return nil
	}
	return &Error{Op: cl.hdr.Command.String(), Status: s}
}

// finishPlaced completes, when the read loop ends, a call whose data the
// transport was placing when the conn failed.
func (c *conn) finishPlaced() {
	c.mu.Lock()
	cl := c.placed
	c.placed = nil
	err := c.err
	c.mu.Unlock()
	if cl != nil {
		cl.err = err
		close(cl.done)
	}
}

// signerFor is the key requests of sec are signed with on this channel:
// the channel's own signing key once it is bound ([MS-SMB2] 3.2.4.1.1),
// else the one sec carries (the session's, which also signs the binding
// SESSION_SETUP itself).
func (c *conn) signerFor(sec *security) smbcrypto.Signer {
	if sec.signer != nil && c.chanSigner != nil {
		return c.chanSigner
	}
	return sec.signer
}

// startWork and endWork keep the in-flight counters the picker reads and
// the busy time the throughput estimate divides by.
func (c *conn) startWork(cl *call, now time.Time) {
	if c.outReqs.Add(1) == 1 {
		c.busySince.Store(now.UnixNano())
	}
	c.outBytes.Add(cl.acct)
}

func (c *conn) endWork(cl *call, now int64, answered bool) {
	c.outBytes.Add(-cl.acct)
	if c.outReqs.Add(-1) == 0 {
		c.busyNanos.Add(now - c.busySince.Load())
	}
	if c.onFree != nil {
		c.onFree()
	}
	if lat := now - cl.start.UnixNano(); answered && lat > 0 {
		old := c.latency.Load()
		if old == 0 {
			c.latency.Store(lat)
		} else {
			c.latency.Store(old + (lat-old)/8)
		}
	}
}
