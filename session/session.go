// Package session is the SMB3 protocol engine: it dials a server, negotiates,
// authenticates, connects trees and runs file operations over one or more
// channels (connections bound to the session).
//
// Concurrency: every exported method may be called from many goroutines at
// once. Each channel (conn) has one read loop that completes requests by
// MessageId; callers wait on their own request or on their context, and a
// cancelled context sends SMB2 CANCEL.
//
// Multichannel (Config.Multichannel): after the first Mount the server's
// interfaces are discovered (ifaces.go), extra connections are negotiated
// and bound to the session with per-channel signing keys (bind.go), each
// request goes to the channel Pick chooses (pick.go: least outstanding
// work weighted by delivered throughput, with a per-channel window so large
// transfers are placed as channels drain), and requests of a lost channel
// are replayed on another (failover.go). With one channel the request path
// takes no extra lock.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/internal/smbcrypto"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Config says how to reach and authenticate to a server.
type Config struct {
	Addr      string // host:port of the server (port 445 if omitted)
	Host      string // server name for UNC paths; default: host of Addr
	User      string
	Password  string
	Domain    string
	Anonymous bool // NTLM anonymous (sec=none)

	// Dialect pins one dialect (smb2.Dialect300, 302 or 311); 0 offers
	// 3.0, 3.0.2 and 3.1.1 and takes the highest the server has.
	Dialect smb2.Dialect
	Sign    bool // require signing even when the server does not
	Seal    bool // require encryption

	// Chunk is the largest READ or WRITE request issued; larger I/O is
	// split and pipelined. Default 1 MiB; capped by the server's maximum.
	Chunk int

	// Timeout bounds how long requests may go unanswered before the
	// channel is declared dead (after an ECHO probe at half of it); with
	// multichannel its requests then move to another channel. Default
	// 20 s, or 8 s with Multichannel.
	Timeout time.Duration
	// DialTimeout bounds connecting and session setup. Default 10 s.
	DialTimeout time.Duration
	// Dial opens a transport; default: TCP. With multichannel it is also
	// used for every extra channel, with an address the server advertised
	// (and the port of Addr).
	Dial func(ctx context.Context, addr string) (channel.Transport, error)

	// Multichannel opens extra channels to the addresses the server
	// advertises (FSCTL_QUERY_NETWORK_INTERFACE_INFO) after the first
	// Mount, binds them to the session and spreads requests over them.
	Multichannel bool
	// ClientGUID identifies the client to the server; zero: a random one.
	// A session set up again after a loss must use the old session's to
	// reclaim its durable opens.
	ClientGUID [16]byte
	// Durable asks for leases and durable handles on opens that carry a
	// lease key (CreateOptions.LeaseKey), so that Tree.Reopen can reclaim
	// them on a new session after the connection was lost.
	Durable bool
	// MaxChannels bounds the channels of a session, the first included:
	// default 4 with Multichannel, at most 32.
	MaxChannels int
	// DialRDMA, if set, opens SMB-Direct transports: with Multichannel,
	// interfaces the server advertises as RDMA-capable get SMB-Direct
	// channels (to RDMAPort, default 5445) next to the TCP ones.
	DialRDMA func(ctx context.Context, addr string) (channel.Transport, error)
	RDMAPort int
	// StartRDMA starts the session over SMB-Direct: the first channel is
	// dialed with DialRDMA at Addr's host and RDMAPort, and Addr's port
	// stays the one of the TCP channels multichannel adds (to interfaces
	// not advertised RDMA-capable).
	StartRDMA bool
	// InterfaceRefresh is how often the server's interface list is
	// queried again; default 10 minutes.
	InterfaceRefresh time.Duration
	// CharMap maps characters POSIX allows in names and SMB does not
	// (default MapNone; the mount uses MapSFM, as Linux cifs does).
	CharMap CharMap
	// Logger receives protocol-level debug output; default: discard.
	Logger *slog.Logger
}

// Session is an authenticated SMB3 session.
type Session struct {
	cfg     Config
	log     *slog.Logger
	id      uint64
	dialect smb2.Dialect
	keys    smbcrypto.Keys
	guest   bool
	null    bool
	encrypt bool // every request of the session is sealed

	signer  smbcrypto.Signer
	enc     *smbcrypto.Cipher
	dec     *smbcrypto.Cipher
	signing bool // requests are signed (when not sealed)

	clientGUID [16]byte
	leaseBreak atomic.Pointer[func(key [16]byte, from, to uint32)] // see OnLeaseBreak
	leases     leaseSet                                            // open files holding leases (see durable.go)
	leaseTree  atomic.Pointer[Tree]                                // the last tree granted a lease: lease break acks go there (see durable.go)
	chanSeq    atomic.Uint32                                       // Session.ChannelSequence (low 16 bits are sent)
	replays    atomic.Uint64                                       // requests sent again after a channel loss
	live       atomic.Pointer[[]*conn]                             // channels requests go to; nil when closed
	rr         atomic.Uint32                                       // rotating start of the picker
	waiters    atomic.Int32                                        // requests waiting for a channel's window
	waitMu     sync.Mutex                                          // guards freeCh
	freeCh     chan struct{}                                       // closed when a request ends and someone waits
	stop       chan struct{}                                       // closed by Close
	stopCtx    context.Context                                     // cancelled by Close
	stopCancel context.CancelFunc

	mu     sync.Mutex
	first  *conn   // the channel the session was set up on
	conns  []*conn // channels in use; the last one stays after it fails
	mc     *multi  // multichannel discovery and binding; nil without
	closed bool
}

// MaxChannelsLimit is the most channels a session may have.
const MaxChannelsLimit = 32

// Dial connects, negotiates and authenticates.
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
		if cfg.Multichannel {
			cfg.Timeout = 8 * time.Second
		}
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		cfg.Addr = net.JoinHostPort(cfg.Addr, "445")
	}
	if cfg.Host == "" {
		cfg.Host, _, _ = net.SplitHostPort(cfg.Addr)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Multichannel && cfg.MaxChannels == 0 {
		cfg.MaxChannels = 4
	}
	cfg.MaxChannels = min(max(cfg.MaxChannels, 1), MaxChannelsLimit)
	if cfg.RDMAPort == 0 {
		cfg.RDMAPort = 5445
	}
	if cfg.InterfaceRefresh == 0 {
		cfg.InterfaceRefresh = 10 * time.Minute
	}
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context, addr string) (channel.Transport, error) {
			return channel.DialTCP(ctx, addr)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	s := &Session{cfg: cfg, log: cfg.Logger, stop: make(chan struct{})}
	s.clientGUID = cfg.ClientGUID
	if s.clientGUID == ([16]byte{}) {
		rand.Read(s.clientGUID[:])
	}
	first, dial := cfg.Addr, cfg.Dial
	if cfg.StartRDMA {
		if cfg.DialRDMA == nil {
			return nil, errors.New("smb: StartRDMA without DialRDMA")
		}
		first, dial = net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.RDMAPort)), cfg.DialRDMA
		if h, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			first = net.JoinHostPort(h, strconv.Itoa(cfg.RDMAPort))
		}
	}
	c, err := s.dialConnVia(ctx, first, dial)
	if err != nil {
		return nil, err
	}
	if err := s.setup(ctx, c); err != nil {
		c.close()
		return nil, err
	}
	s.stopCtx, s.stopCancel = context.WithCancel(context.Background())
	s.first = c
	s.addConn(c)
	go s.sampler()
	return s, nil
}

// addConn publishes a ready channel to the picker; false if the session
// is closed (the caller closes c).
func (s *Session) addConn(c *conn) bool {
	c.seq = &s.chanSeq
	c.onFail = s.channelLost
	if s.cfg.Multichannel {
		c.onFree = s.wakeWaiters
	}
	c.stats.at = time.Now().UnixNano()
	c.stats.lastRead, c.stats.lastWrite = c.bytesRead.Load(), c.bytesWritten.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns = append(s.conns, c)
	s.publishLocked()
	if c.failed.Load() {
		// It died before onFail was set: drop it now.
		go s.channelLost(c)
	}
	return true
}

func (s *Session) publishLocked() {
	cs := append([]*conn(nil), s.conns...)
	s.live.Store(&cs)
}

// channelLost removes a dead channel from the set when others remain,
// moves Session.ChannelSequence on ([MS-SMB2] 3.2.7: requests replayed
// elsewhere carry the new sequence) and asks for a replacement. The last
// channel stays, failed, so its error is what callers see.
func (s *Session) channelLost(c *conn) {
	s.mu.Lock()
	i := -1
	others := false
	for j, o := range s.conns {
		if o == c {
			i = j
		} else if !o.failed.Load() {
			others = true
		}
	}
	removed := false
	if i >= 0 && others && !s.closed {
		s.conns = append(s.conns[:i:i], s.conns[i+1:]...)
		s.publishLocked()
		s.chanSeq.Add(1)
		removed = true
	}
	m := s.mc
	s.mu.Unlock()
	if removed {
		s.log.Info("channel lost", "addr", c.addr, "err", c.dead())
	}
	if m != nil {
		m.lost(c)
	}
}

// Lost reports that every channel of the session has failed: nothing can
// reach the server through it any more (the server restarted, or the
// network dropped the last connection), and only a new session can. A
// closed session is not lost.
func (s *Session) Lost() bool {
	p := s.live.Load()
	if p == nil {
		return false
	}
	for _, c := range *p {
		if !c.failed.Load() {
			return false
		}
	}
	return len(*p) > 0
}

// dialConnVia opens a transport with dial and negotiates on it.
func (s *Session) dialConnVia(ctx context.Context, addr string, dial func(context.Context, string) (channel.Transport, error)) (*conn, error) {
	t, err := dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	c := newConn(t, addr, s.log, s.cfg.Timeout)
	notify := s.onNotify
	c.notify.Store(&notify)
	if err := s.negotiate(ctx, c); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (s *Session) dialects() []smb2.Dialect {
	if s.cfg.Dialect != 0 {
		return []smb2.Dialect{s.cfg.Dialect}
	}
	return []smb2.Dialect{smb2.Dialect300, smb2.Dialect302, smb2.Dialect311}
}

const clientCaps = smb2.CapLargeMTU | smb2.CapMultiChannel | smb2.CapEncryption | smb2.CapLeasing

func (s *Session) securityMode() uint16 {
	if s.cfg.Sign {
		return smb2.SigningEnabled | smb2.SigningRequired
	}
	return smb2.SigningEnabled
}

// negotiate runs NEGOTIATE on a fresh connection ([MS-SMB2] 3.2.4.2.2.2).
func (s *Session) negotiate(ctx context.Context, c *conn) error {
	req := &smb2.NegotiateRequest{
		SecurityMode: s.securityMode(),
		Capabilities: clientCaps,
		Dialects:     s.dialects(),
	}
	req.ClientGUID = s.clientGUID
	c.clientGUID = req.ClientGUID
	var preauth smbcrypto.PreauthHash
	offer311 := false
	for _, d := range req.Dialects {
		offer311 = offer311 || d == smb2.Dialect311
	}
	if offer311 {
		salt := make([]byte, 32)
		rand.Read(salt)
		req.Contexts = []smb2.NegotiateContext{
			smb2.PreauthContext(salt),
			smb2.ListContext(smb2.CtxEncryption, smb2.CipherAES128GCM, smb2.CipherAES128CCM, smb2.CipherAES256GCM, smb2.CipherAES256CCM),
			smb2.ListContext(smb2.CtxSigning, smb2.SigningAESGMAC, smb2.SigningAESCMAC),
		}
	}
	r := &request{cmd: smb2.CmdNegotiate, body: req}
	calls, err := c.send(ctx, security{}, r)
	if err != nil {
		return err
	}
	cl := calls[0]
	if err := c.wait(ctx, cl); err != nil {
		return err
	}
	defer cl.release()
	if err := statusErr(cl); err != nil {
		return fmt.Errorf("%w: %w", ErrNegotiate, err)
	}
	var resp smb2.NegotiateResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return fmt.Errorf("%w: %w", ErrNegotiate, err)
	}
	ok := false
	for _, d := range req.Dialects {
		ok = ok || d == resp.Dialect
	}
	if !ok {
		return fmt.Errorf("%w: server chose dialect %s, which was not offered (server may not support SMB3)", ErrNegotiate, resp.Dialect)
	}
	c.dialect = resp.Dialect
	c.serverGUID = resp.ServerGUID
	c.secMode = resp.SecurityMode
	c.caps = resp.Capabilities
	c.maxRead, c.maxWrite, c.maxTrans = resp.MaxReadSize, resp.MaxWriteSize, resp.MaxTransactSize
	c.signAlgo = smb2.SigningAESCMAC
	if resp.Dialect != smb2.Dialect311 {
		if resp.Capabilities&smb2.CapEncryption != 0 {
			c.cipherID = smb2.CipherAES128CCM
		}
	} else {
		data, ok := resp.Context(smb2.CtxPreauthIntegrity)
		if !ok {
			return fmt.Errorf("%w: 3.1.1 response without preauth integrity context", ErrNegotiate)
		}
		hashes, _, err := smb2.ParsePreauthContext(data)
		if err != nil || len(hashes) != 1 || hashes[0] != smb2.HashSHA512 {
			return fmt.Errorf("%w: bad preauth integrity context", ErrNegotiate)
		}
		if data, ok := resp.Context(smb2.CtxEncryption); ok {
			ids, err := smb2.ParseListContext(data)
			if err != nil || len(ids) != 1 || ids[0] > smb2.CipherAES256GCM {
				return fmt.Errorf("%w: bad encryption context", ErrNegotiate)
			}
			c.cipherID = ids[0]
		}
		if data, ok := resp.Context(smb2.CtxSigning); ok {
			ids, err := smb2.ParseListContext(data)
			if err != nil || len(ids) != 1 || (ids[0] != smb2.SigningAESCMAC && ids[0] != smb2.SigningAESGMAC) {
				return fmt.Errorf("%w: bad signing context", ErrNegotiate)
			}
			c.signAlgo = ids[0]
		}
		preauth.Update(cl.sent)
		preauth.Update(cl.raw)
		c.preauth = preauth
	}
	s.log.Debug("negotiated", "addr", c.addr, "dialect", c.dialect, "cipher", c.cipherID, "signing", c.signAlgo,
		"maxread", c.maxRead, "maxwrite", c.maxWrite, "secmode", c.secMode, "caps", fmt.Sprintf("%#x", c.caps))
	return nil
}

// conn returns a channel for a small request.
func (s *Session) conn() (*conn, error) { return s.pick(Op{}) }

// pick returns a channel for op without waiting.
func (s *Session) pick(op Op) (*conn, error) {
	c, _, err := s.pickOne(op)
	return c, err
}

// pickWait returns the channel op should go to (see Pick), waiting while
// every channel's window is full (see Window), and reserves op's bytes on
// it (the caller subtracts them from conn.reserved once sent). With one
// channel it takes no lock and allocates nothing.
func (s *Session) pickWait(ctx context.Context, op Op) (*conn, error) {
	for {
		c, full, err := s.pickOne(op)
		if err != nil || !full {
			if err == nil {
				c.reserved.Add(int64(op.Bytes))
			}
			return c, err
		}
		s.waiters.Add(1)
		s.waitMu.Lock()
		if s.freeCh == nil {
			s.freeCh = make(chan struct{})
		}
		ch := s.freeCh
		s.waitMu.Unlock()
		// Look again: a request may have ended before we registered.
		if c, full, err = s.pickOne(op); err != nil || !full {
			s.waiters.Add(-1)
			if err == nil {
				c.reserved.Add(int64(op.Bytes))
			}
			return c, err
		}
		t := time.NewTimer(50 * time.Millisecond) // a channel may be lost or added meanwhile
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s.waiters.Add(-1)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

func (s *Session) wakeWaiters() {
	if s.waiters.Load() == 0 {
		return
	}
	s.waitMu.Lock()
	if s.freeCh != nil {
		close(s.freeCh)
		s.freeCh = nil
	}
	s.waitMu.Unlock()
}

// pickOne chooses a channel for op; full reports that its window is full.
func (s *Session) pickOne(op Op) (c *conn, full bool, err error) {
	p := s.live.Load()
	if p == nil {
		return nil, false, ErrClosed
	}
	cs := *p
	if len(cs) == 1 {
		c := cs[0]
		if c.failed.Load() {
			return nil, false, c.dead()
		}
		return c, false, nil
	}
	var buf [MaxChannelsLimit]ChannelState
	st := buf[:len(cs)]
	for i, c := range cs {
		st[i] = ChannelState{
			Kind: c.kind, Healthy: !c.failed.Load(),
			InFlight: int(c.outReqs.Load()), InFlightBytes: c.outBytes.Load() + c.reserved.Load(),
			Capacity: loadF(&c.stats.capacity), Speed: c.speed.Load(),
		}
	}
	i := Pick(st, op, int(s.rr.Add(1)%uint32(len(cs))))
	if i < 0 {
		return nil, false, cs[0].dead()
	}
	return cs[i], Full(&st[i], op), nil
}

func (s *Session) chunk() int {
	if s.cfg.Chunk > 0 {
		return s.cfg.Chunk
	}
	return defaultChunk
}

// Dialect is the negotiated dialect.
func (s *Session) Dialect() smb2.Dialect { return s.dialect }

// IsGuest reports a guest session.
func (s *Session) IsGuest() bool { return s.guest }

// Signing reports whether requests are signed.
func (s *Session) Signing() bool { return s.signing }

// Encrypting reports whether the whole session is encrypted.
func (s *Session) Encrypting() bool { return s.encrypt }

// MaxRead and MaxWrite are the largest READ and WRITE the server takes.
func (s *Session) MaxRead() int { return int(s.first.maxRead) }

// MaxWrite is the largest WRITE the server takes.
func (s *Session) MaxWrite() int { return int(s.first.maxWrite) }

// Close logs off and closes every channel.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	m := s.mc
	s.mu.Unlock()
	close(s.stop)
	s.stopCancel()
	if m != nil {
		m.wait()
	}
	var err error
	if c, e := s.conn(); e == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl, e := c.roundTrip(ctx, *s.sec(), &request{cmd: smb2.CmdLogoff, body: smb2.Empty{}})
		if cl != nil {
			cl.release()
		}
		cancel()
		err = e
	}
	s.live.Store(nil)
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return err
}
