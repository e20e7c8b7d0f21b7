// Package smbdirect implements [MS-SMBD] v1, the SMB2 RDMA Transport, in
// both roles over the rdma seam: negotiate, credits, fragmentation and
// reassembly, keepalive, and buffer registration for RDMA Read/Write
// offload. It knows nothing about SMB2: a Conn carries whole upper-layer
// messages like a socket carrying length-framed messages.
//
// Goroutines per Conn: the receive loop (polls the completion queue, checks
// and reassembles Data Transfer messages, reposts receives, completes sends)
// and the control loop (sends credit-only and keepalive messages), plus the
// idle timer and a deregistration worker. Receives are reposted by the
// receive loop as soon as a fragment is copied out, so a busy upper layer
// never starves the peer of credits or leaves a keepalive unanswered; the
// memory queued for a slow reader is bounded by the upper protocol (SMB2
// credits), not here.
//
// Sending: one logical message at a time (sendSem), so a fragmented message
// is never interleaved with any other message, including credit-only and
// keepalive messages (PROTOCOL.md gotcha 2). WriteMessage returns once the
// provider has completed the last fragment, so the caller may reuse its
// buffers.
//
// Lock order: sendSem (a channel semaphore) before mu.
package smbdirect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Config holds the local [MS-SMBD] parameters. The zero value is usable:
// withDefaults fills what is left 0.
type Config struct {
	SendCreditTarget  uint16 // credits we ask the peer for (255)
	ReceiveCreditMax  uint16 // receives we post at most (255; at least 4)
	MaxSendSize       uint32 // our PreferredSendSize (8136, the most Windows accepts)
	MaxReceiveSize    uint32 // largest message we receive (8192)
	MaxFragmentedSize uint32 // largest upper-layer message we reassemble (1 MiB)
	MaxReadWriteSize  uint32 // RDMA bytes per upper-layer I/O (8 MiB)

	// NegotiateTimeout bounds connecting and negotiating (20 s; the spec
	// says 120 s for the initiator, 5 s for the responder).
	NegotiateTimeout time.Duration
	// KeepaliveInterval is the idle time before a keepalive (120 s);
	// negative disables keepalives. KeepaliveTimeout is how long the peer
	// has to answer one (5 s).
	KeepaliveInterval, KeepaliveTimeout time.Duration

	// ConnParams go to the provider. Zero means IRD 16, ORD 16 and the
	// [MS-SMBD] Appendix A header with the same values (big-endian).
	ConnParams rdma.ConnParams
	// Alloc returns a buffer of len n for a received message (default
	// make); the message is the caller's from ReadMessage on.
	Alloc func(n int) []byte
	// Logf reports what is not returned to a caller (refused peers).
	Logf func(format string, args ...any)
}

func (cfg Config) withDefaults() (Config, error) {
	def := func(v *uint32, d uint32) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.SendCreditTarget == 0 {
		cfg.SendCreditTarget = 255
	}
	if cfg.ReceiveCreditMax == 0 {
		cfg.ReceiveCreditMax = 255
	}
	def(&cfg.MaxSendSize, 8136)
	def(&cfg.MaxReceiveSize, 8192)
	def(&cfg.MaxFragmentedSize, 1<<20)
	def(&cfg.MaxReadWriteSize, 8<<20)
	if cfg.NegotiateTimeout <= 0 {
		cfg.NegotiateTimeout = 20 * time.Second
	}
	if cfg.KeepaliveInterval == 0 {
		cfg.KeepaliveInterval = 120 * time.Second
	}
	if cfg.KeepaliveTimeout <= 0 {
		cfg.KeepaliveTimeout = 5 * time.Second
	}
	if cfg.ConnParams.IRD == 0 && cfg.ConnParams.ORD == 0 && cfg.ConnParams.PrivateData == nil {
		cfg.ConnParams = rdma.ConnParams{IRD: 16, ORD: 16,
			PrivateData: []byte{0, 0, 0, 16, 0, 0, 0, 16}}
	}
	if cfg.Alloc == nil {
		cfg.Alloc = func(n int) []byte { return make([]byte, n) }
	}
	// Old ksmbd refuses the exact minimums (gotcha 7): stay strictly above.
	switch {
	case cfg.ReceiveCreditMax < 4:
		return cfg, fmt.Errorf("smbdirect: ReceiveCreditMax %d < 4", cfg.ReceiveCreditMax)
	case cfg.MaxReceiveSize <= MinReceiveSize:
		return cfg, fmt.Errorf("smbdirect: MaxReceiveSize %d <= %d", cfg.MaxReceiveSize, MinReceiveSize)
	case cfg.MaxSendSize <= MinReceiveSize:
		return cfg, fmt.Errorf("smbdirect: MaxSendSize %d <= %d", cfg.MaxSendSize, MinReceiveSize)
	case cfg.MaxFragmentedSize <= MinFragmentedSize:
		return cfg, fmt.Errorf("smbdirect: MaxFragmentedSize %d <= %d", cfg.MaxFragmentedSize, MinFragmentedSize)
	}
	return cfg, nil
}

func (cfg *Config) logf(format string, args ...any) {
	if cfg.Logf != nil {
		cfg.Logf(format, args...)
	}
}

// Errors of a connection. A connection-fatal error is reported to every
// pending and later call; it wraps ErrDisconnected unless the connection
// was closed locally (ErrClosed).
var (
	ErrClosed           = errors.New("smbdirect: connection closed")
	ErrDisconnected     = errors.New("smbdirect: connection lost")
	ErrKeepaliveTimeout = errors.New("smbdirect: peer did not answer a keepalive")
	ErrProtocol         = errors.New("smbdirect: protocol violation by the peer")
)

// Message is one received upper-layer message.
type Message struct {
	Buf []byte // from Config.Alloc; the caller's
	// Invalidated is the STag of ours that the peer invalidated with the
	// Send with Invalidate carrying this message (0 if none). The region it
	// belonged to, if still registered, already reports
	// RemotelyInvalidated.
	Invalidated uint32
}

// Params are the values a connection negotiated.
type Params struct {
	MaxSendSize           int // largest Data Transfer message we send
	MaxReceiveSize        int // largest one we accept
	MaxFragmentedSendSize int // largest upper-layer message we may send
	MaxFragmentedRecvSize int // largest one we accept
	MaxReadWriteSize      int // RDMA bytes per upper-layer I/O
}

// Stats are counters of a connection.
type Stats struct {
	MessagesSent, MessagesReceived   uint64 // upper-layer messages
	FragmentsSent, FragmentsReceived uint64 // Data Transfer messages, empty ones included
	EmptySent, EmptyReceived         uint64 // credit-only and keepalive messages
	KeepalivesSent                   uint64 // with RESPONSE_REQUESTED
	CreditStalls                     uint64 // times a sender waited for send credits
	PeerLastCreditViolations         int    // peer spent its last credit without granting
	SendCredits                      int
	ReceivesPosted, ReceivesGranted  int
}

type kaState int

const (
	kaNone kaState = iota
	kaPending
	kaSent
)

// Conn is an established SMBDirect connection.
type Conn struct {
	// Immutable after negotiate.
	qp          rdma.QP
	cfg         Config
	initiator   bool
	maxSend     int
	maxRecv     int
	maxFragSend int
	maxRW       int
	ctx         context.Context // cancelled when the connection dies
	cancel      context.CancelFunc
	done        chan struct{} // closed when the connection dies
	sendSem     chan struct{} // held for one whole logical message
	kick        chan struct{} // wakes the control loop
	deregq      chan *Region
	// Wake-ups (capacity 1, never closed): a message was queued, credits
	// or receives changed, the last fragment of a message completed.
	// Reused rather than closed and remade, so the data path allocates
	// nothing; the waiters re-check the state they wait for.
	msgReady, credReady, sent chan struct{}

	// Receive loop only.
	ra reassembler

	// sendSem holders only.
	scratch sendScratch

	mu            sync.Mutex
	err           error
	cr            credits
	queue         []Message
	qhead         int
	rbufs         [][]byte // receive buffers by RecvWR.ID
	free          []uint64 // receive buffers not posted
	rwrs          []rdma.RecvWR
	waiters       map[uint64]chan struct{} // by send WR ID; signalled on completion
	nextID        uint64
	empties       []*emptySlot // empty messages, by index (WR ID idEmpty|index)
	emptyFree     []int        // empties not in a posted WR
	sendImmediate bool         // the peer asked for a response
	ka            kaState
	lastRecv      time.Time
	timer         *time.Timer
	regions       map[uint32]*Region
	invalidated   uint32 // reported with the message being reassembled
	stats         Stats
}

func newConn(qp rdma.QP, cfg Config, initiator bool) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		qp:        qp,
		cfg:       cfg,
		initiator: initiator,
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		sendSem:   make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
		deregq:    make(chan *Region, 256),
		msgReady:  make(chan struct{}, 1),
		credReady: make(chan struct{}, 1),
		sent:      make(chan struct{}, 1),
		waiters:   make(map[uint64]chan struct{}),
		nextID:    2,
		regions:   make(map[uint32]*Region),
		cr: credits{
			sendTarget: int(cfg.SendCreditTarget),
			recvMax:    int(cfg.ReceiveCreditMax),
		},
	}
	c.ra = reassembler{max: int(cfg.MaxFragmentedSize), alloc: cfg.Alloc}
	c.rbufs = [][]byte{make([]byte, max(int(cfg.MaxReceiveSize), 512))}
	return c
}

// postLocked posts n more receives, allocating buffers as needed.
func (c *Conn) postLocked(n int) error {
	if n <= 0 {
		return nil
	}
	wrs := c.rwrs[:0]
	for ; n > 0; n-- {
		var id uint64
		if k := len(c.free); k > 0 {
			id = c.free[k-1]
			c.free = c.free[:k-1]
		} else {
			id = uint64(len(c.rbufs))
			c.rbufs = append(c.rbufs, make([]byte, len(c.rbufs[0])))
		}
		wrs = append(wrs, rdma.RecvWR{ID: id, Buf: c.rbufs[id]})
	}
	c.rwrs = wrs[:0]
	if err := c.qp.PostRecv(wrs...); err != nil {
		for _, w := range wrs {
			c.free = append(c.free, w.ID)
		}
		return err
	}
	c.cr.posted += len(wrs)
	return nil
}

func (c *Conn) start() {
	c.mu.Lock()
	c.lastRecv = time.Now()
	if c.cfg.KeepaliveInterval > 0 {
		c.timer = time.AfterFunc(c.cfg.KeepaliveInterval, c.onTimer)
	}
	peerLow := c.cr.peerLow()
	c.mu.Unlock()
	go c.recvLoop()
	go c.controlLoop()
	go c.deregLoop()
	if peerLow {
		c.kickControl()
	}
}

// wake signals ch (a capacity-1 wake-up) without waiting.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *Conn) kickControl() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// fail makes err the connection's error and tears it down; the first
// error wins.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if err != ErrClosed && !errors.Is(err, ErrDisconnected) {
		err = fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	c.err = err
	close(c.done)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	c.qp.Close()
}

// Err returns the error the connection died of, or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection dies.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close waits (briefly) for a message being sent to finish, then tears the
// connection down. Pending and later calls fail with ErrClosed.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := c.acquireSend(ctx)
	cancel()
	c.fail(ErrClosed)
	if err == nil {
		c.releaseSend()
	}
	return nil
}

// Params returns the negotiated values.
func (c *Conn) Params() Params {
	return Params{
		MaxSendSize:           c.maxSend,
		MaxReceiveSize:        c.maxRecv,
		MaxFragmentedSendSize: c.maxFragSend,
		MaxFragmentedRecvSize: int(c.cfg.MaxFragmentedSize),
		MaxReadWriteSize:      c.maxRW,
	}
}

// MaxReadWriteSize is the most an upper-layer I/O may move by RDMA.
func (c *Conn) MaxReadWriteSize() int { return c.maxRW }

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.PeerLastCreditViolations = c.cr.lastCreditViolations
	s.SendCredits = c.cr.send
	s.ReceivesPosted = c.cr.posted
	s.ReceivesGranted = c.cr.granted
	return s
}

// LocalAddr and RemoteAddr are the QP's addresses.
func (c *Conn) LocalAddr() net.Addr  { return c.qp.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.qp.RemoteAddr() }

// ReadMessage returns the next reassembled message. After the peer
// disconnects, messages already received are returned first.
func (c *Conn) ReadMessage() (Message, error) {
	c.mu.Lock()
	for {
		if c.err == ErrClosed {
			c.mu.Unlock()
			return Message{}, ErrClosed
		}
		if c.qhead < len(c.queue) {
			m := c.queue[c.qhead]
			c.queue[c.qhead] = Message{}
			c.qhead++
			if c.qhead == len(c.queue) {
				c.queue, c.qhead = c.queue[:0], 0
			} else {
				wake(c.msgReady) // for another reader
			}
			c.mu.Unlock()
			return m, nil
		}
		if c.err != nil {
			c.mu.Unlock()
			return Message{}, c.err
		}
		c.mu.Unlock()
		select {
		case <-c.msgReady:
		case <-c.done:
		}
		c.mu.Lock()
	}
}

// recvLoop polls the completion queue until the connection dies.
func (c *Conn) recvLoop() {
	cs := make([]rdma.Completion, 64)
	for {
		got, err := c.qp.Poll(c.ctx, cs)
		if err != nil {
			c.fail(err)
			return
		}
		for i := range got {
			x := &got[i]
			if x.Err != nil {
				if errors.Is(x.Err, rdma.ErrFlushed) {
					// The QP is going down. Its own error, which Poll
					// returns once the flushed completions are drained,
					// says why (a Terminate, an access violation).
					continue
				}
				c.fail(fmt.Errorf("%v completion: %w", x.Op, x.Err))
				return
			}
			if x.Op == rdma.OpRecv {
				if err := c.handleRecv(x); err != nil {
					c.fail(err)
					return
				}
				continue
			}
			if x.ID&idEmpty != 0 {
				c.mu.Lock()
				c.emptyFree = append(c.emptyFree, int(x.ID&^idEmpty))
				c.mu.Unlock()
			} else if x.ID != 0 {
				c.mu.Lock()
				ch := c.waiters[x.ID]
				delete(c.waiters, x.ID)
				c.mu.Unlock()
				if ch != nil {
					wake(ch)
				}
			}
		}
	}
}

// handleRecv processes one received Data Transfer message ([MS-SMBD]
// 3.1.5.8, PROTOCOL.md A.9).
func (c *Conn) handleRecv(x *rdma.Completion) error {
	// rbufs grows under mu (a sender may post an extra receive).
	var buf []byte
	c.mu.Lock()
	if x.ID < uint64(len(c.rbufs)) {
		buf = c.rbufs[x.ID]
	}
	c.mu.Unlock()
	if buf == nil || x.Len > len(buf) {
		return fmt.Errorf("%w: bad receive completion", ErrProtocol)
	}
	if x.Len > c.maxRecv {
		return fmt.Errorf("%w: message of %d bytes, MaxReceiveSize %d", ErrProtocol, x.Len, c.maxRecv)
	}
	var h DataHeader
	payload, err := h.Unmarshal(buf[:x.Len])
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	case h.CreditsRequested == 0:
		return fmt.Errorf("%w: CreditsRequested 0", ErrProtocol)
	case uint64(h.DataLength)+uint64(h.RemainingDataLength) > uint64(c.cfg.MaxFragmentedSize):
		return fmt.Errorf("%w: %d + %d bytes (we accept %d)", ErrTooLarge, h.DataLength, h.RemainingDataLength, c.cfg.MaxFragmentedSize)
	}
	msg, err := c.ra.add(payload, h.RemainingDataLength)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	// The buffer is free again: everything needed was copied out.
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cr.received(h.CreditsRequested, h.CreditsGranted) {
		return fmt.Errorf("%w: message without a credit", ErrProtocol)
	}
	c.lastRecv = time.Now()
	c.ka = kaNone
	c.stats.FragmentsReceived++
	if h.DataLength == 0 {
		c.stats.EmptyReceived++
	}
	if h.Flags&FlagResponseRequested != 0 {
		c.sendImmediate = true
	}
	if x.Invalidated != 0 {
		if r := c.regions[x.Invalidated]; r != nil {
			r.remote.Store(true)
		}
		c.invalidated = x.Invalidated
	}
	if msg != nil {
		c.queue = append(c.queue, Message{Buf: msg, Invalidated: c.invalidated})
		c.invalidated = 0
		c.stats.MessagesReceived++
	}
	c.free = append(c.free, x.ID)
	if err := c.postLocked(c.cr.wantPost()); err != nil {
		return err
	}
	if msg != nil {
		wake(c.msgReady)
	}
	// New credits, or a receive reposted (which a sender holding its last
	// credit may need to grant).
	wake(c.credReady)
	if c.sendImmediate || c.cr.peerLow() {
		c.kickControl()
	}
	return nil
}

// acquireSend takes the right to send one logical message.
func (c *Conn) acquireSend(ctx context.Context) error {
	select {
	case c.sendSem <- struct{}{}:
		return nil
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Conn) releaseSend() { <-c.sendSem }

// reserve waits until up to want messages may be sent and takes their
// credits. The last of them carries grant and flags, so a batch that spends
// the last send credit grants at least one (A.8 step 3).
func (c *Conn) reserve(ctx context.Context, want int) (k int, grant, flags uint16, err error) {
	c.mu.Lock()
	for {
		if c.err != nil {
			err = c.err
			c.mu.Unlock()
			return
		}
		var extra bool
		k, extra = c.cr.canSend(want)
		if extra && c.postLocked(1) != nil {
			k = 0
		}
		if k > 0 {
			break
		}
		c.stats.CreditStalls++
		c.mu.Unlock()
		select {
		case <-c.credReady:
		case <-c.done:
		case <-ctx.Done():
			return 0, 0, 0, ctx.Err()
		}
		c.mu.Lock()
	}
	c.cr.send -= k
	grant = uint16(min(c.cr.unannounced(), 0xffff))
	c.cr.granted += int(grant)
	if c.ka == kaPending {
		flags = FlagResponseRequested
		c.ka = kaSent
		c.stats.KeepalivesSent++
		if c.timer != nil {
			c.timer.Reset(c.cfg.KeepaliveTimeout)
		}
	}
	c.sendImmediate = false
	c.stats.FragmentsSent += uint64(k)
	c.mu.Unlock()
	return k, grant, flags, nil
}

// sendScratch is reused by successive messages (under sendSem; a message's
// buffers are free once its last fragment completed).
type sendScratch struct {
	hdrs   []byte
	locals [][]byte
	wrs    []rdma.SendWR
}

// WriteMessage sends the concatenation of msg as one upper-layer message,
// fragmented to the peer's MaxReceiveSize. It waits for send credits (or
// ctx, before the first fragment goes) and returns when the provider has
// completed the message, so the caller may reuse msg.
func (c *Conn) WriteMessage(ctx context.Context, msg net.Buffers) error {
	return c.writeMessage(ctx, msg, false, 0)
}

// WriteMessageInvalidate is WriteMessage with the last fragment sent as a
// Send with Invalidate of the peer's token (an SMB2 server answering an
// RDMA_V1_INVALIDATE request).
func (c *Conn) WriteMessageInvalidate(ctx context.Context, msg net.Buffers, token uint32) error {
	return c.writeMessage(ctx, msg, true, token)
}

func (c *Conn) writeMessage(ctx context.Context, msg net.Buffers, inv bool, token uint32) error {
	total := 0
	for _, b := range msg {
		total += len(b)
	}
	if total == 0 {
		return errors.New("smbdirect: empty message")
	}
	if total > c.maxFragSend {
		return fmt.Errorf("%w: %d bytes (peer accepts %d)", ErrTooLarge, total, c.maxFragSend)
	}
	if err := c.acquireSend(ctx); err != nil {
		return err
	}
	defer c.releaseSend()

	per := c.maxSend - DataOffset
	nfrag := (total + per - 1) / per
	s := &c.scratch
	if cap(s.hdrs) < nfrag*DataOffset {
		s.hdrs = make([]byte, nfrag*DataOffset)
	}
	s.locals = s.locals[:0]
	s.wrs = s.wrs[:0]
	bi, off := 0, 0 // position in msg
	remaining := total
	select { // a left-over wake-up (there should be none)
	case <-c.sent:
	default:
	}
	for i := 0; i < nfrag; {
		// Only the first fragment may be abandoned for ctx: once part of a
		// message went out, the rest must follow.
		wctx := ctx
		if i > 0 {
			wctx = c.ctx
		}
		k, grant, flags, err := c.reserve(wctx, nfrag-i)
		if err != nil {
			return err
		}
		for j := 0; j < k; j++ {
			n := min(per, remaining)
			remaining -= n
			h := s.hdrs[i*DataOffset : (i+1)*DataOffset]
			var g, f uint16
			if j == k-1 {
				g, f = grant, flags
			}
			putDataHeader(h, c.cfg.SendCreditTarget, g, f, uint32(remaining), uint32(n))
			start := len(s.locals)
			s.locals = append(s.locals, h)
			for n > 0 {
				b := msg[bi][off:]
				if len(b) > n {
					b = b[:n]
				}
				if len(b) > 0 {
					s.locals = append(s.locals, b)
				}
				n -= len(b)
				off += len(b)
				if off == len(msg[bi]) {
					bi, off = bi+1, 0
				}
			}
			wr := rdma.SendWR{Op: rdma.OpSend, Local: s.locals[start:len(s.locals):len(s.locals)]}
			if i == nfrag-1 {
				if inv {
					wr.Op, wr.RemoteSTag = rdma.OpSendInvalidate, token
				}
				wr.Signaled = true
				c.mu.Lock()
				wr.ID = c.nextID
				c.nextID++
				c.waiters[wr.ID] = c.sent
				c.mu.Unlock()
			}
			s.wrs = append(s.wrs, wr)
			i++
		}
		if err := c.qp.PostSend(s.wrs...); err != nil {
			c.fail(err)
			return c.Err()
		}
		s.wrs = s.wrs[:0]
	}
	select {
	case <-c.sent:
	case <-c.done:
		return c.Err()
	}
	c.mu.Lock()
	c.stats.MessagesSent++
	c.mu.Unlock()
	return nil
}

// controlLoop sends the messages nobody else sends: credit grants when the
// peer runs low, answers to RESPONSE_REQUESTED and our keepalives. Each is
// an empty Data Transfer message, sent only between whole messages.
func (c *Conn) controlLoop() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		if !c.controlNeeded() {
			continue
		}
		if c.acquireSend(c.ctx) != nil {
			return
		}
		// A data message may have carried it meanwhile.
		if c.controlNeeded() {
			if err := c.sendEmpty(); err != nil {
				c.releaseSend()
				return
			}
		}
		c.releaseSend()
	}
}

func (c *Conn) controlNeeded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err == nil && (c.sendImmediate || c.ka == kaPending || c.cr.peerLow())
}

// idEmpty marks the WR ID of an empty message: its low bits index its
// emptySlot, which is free again when the send completes.
const idEmpty = 1 << 62

// emptySlot is the memory of one empty message in flight.
type emptySlot struct {
	hdr   [DataHeaderSize]byte
	local [1][]byte // the gather list: hdr
}

// sendEmpty sends a 20-byte Data Transfer message (under sendSem), from
// a header kept for reuse.
func (c *Conn) sendEmpty() error {
	_, grant, flags, err := c.reserve(c.ctx, 1)
	if err != nil {
		return err
	}
	c.mu.Lock()
	var i int
	if k := len(c.emptyFree); k > 0 {
		i = c.emptyFree[k-1]
		c.emptyFree = c.emptyFree[:k-1]
	} else {
		i = len(c.empties)
		e := new(emptySlot)
		e.local[0] = e.hdr[:]
		c.empties = append(c.empties, e)
	}
	e := c.empties[i]
	c.mu.Unlock()
	h := DataHeader{CreditsRequested: c.cfg.SendCreditTarget, CreditsGranted: grant, Flags: flags}
	h.Append(e.hdr[:0])
	s := &c.scratch
	s.wrs = append(s.wrs[:0], rdma.SendWR{ID: idEmpty | uint64(i), Op: rdma.OpSend, Local: e.local[:], Signaled: true})
	err = c.qp.PostSend(s.wrs...)
	s.wrs[0] = rdma.SendWR{}
	if err != nil {
		c.fail(err)
		return err
	}
	c.mu.Lock()
	c.stats.EmptySent++
	c.mu.Unlock()
	return nil
}
