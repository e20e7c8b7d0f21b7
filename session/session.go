// Package session is the SMB3 protocol engine: it dials a server, negotiates,
// authenticates, connects trees and runs file operations over one or more
// channels (connections bound to the session).
//
// Concurrency: every exported method may be called from many goroutines at
// once. Each channel (conn) has one read loop that completes requests by
// MessageId; callers wait on their own request or on their context, and a
// cancelled context sends SMB2 CANCEL.
package session

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"sync"
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
	// channel is declared dead (after an ECHO probe). Default 20 s.
	Timeout time.Duration
	// DialTimeout bounds connecting and session setup. Default 10 s.
	DialTimeout time.Duration
	// Dial opens a transport; default: TCP.
	Dial func(ctx context.Context, addr string) (channel.Transport, error)
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

	mu     sync.Mutex
	conns  []*conn
	closed bool
}

// Dial connects, negotiates and authenticates.
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
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
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context, addr string) (channel.Transport, error) {
			return channel.DialTCP(ctx, addr)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	s := &Session{cfg: cfg, log: cfg.Logger}
	c, err := s.dialConn(ctx, cfg.Addr)
	if err != nil {
		return nil, err
	}
	if err := s.setup(ctx, c); err != nil {
		c.close()
		return nil, err
	}
	s.conns = []*conn{c}
	return s, nil
}

// dialConn opens a transport and negotiates on it.
func (s *Session) dialConn(ctx context.Context, addr string) (*conn, error) {
	t, err := s.cfg.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	c := newConn(t, addr, s.log, s.cfg.Timeout)
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
	rand.Read(req.ClientGUID[:])
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

// conn returns the channel to send on.
func (s *Session) conn() (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	for _, c := range s.conns {
		if c.dead() == nil {
			return c, nil
		}
	}
	if len(s.conns) > 0 {
		return nil, s.conns[0].dead()
	}
	return nil, ErrClosed
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
func (s *Session) MaxRead() int { c, _ := s.conn(); return int(c.maxRead) }

// MaxWrite is the largest WRITE the server takes.
func (s *Session) MaxWrite() int { c, _ := s.conn(); return int(c.maxWrite) }

// Close logs off and closes every channel.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	conns := s.conns
	s.mu.Unlock()
	var err error
	if len(conns) > 0 && conns[0].dead() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl, e := conns[0].roundTrip(ctx, *s.sec(), &request{cmd: smb2.CmdLogoff, body: smb2.Empty{}})
		if cl != nil {
			cl.release()
		}
		cancel()
		err = e
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return err
}
