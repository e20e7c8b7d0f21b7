package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/internal/ntlm"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

// A scripted SMB2 server over SMB-Direct, for the error paths a real server
// cannot be made to produce: our own smbdirect responder over our iWARP
// provider on loopback, answering NEGOTIATE (3.0.2), an anonymous
// SESSION_SETUP, TREE_CONNECT, CREATE and CLOSE like a server, and READ
// and WRITE through the test's handlers, which may misbehave at the SMB2,
// SMB-Direct or RDMA level. Underneath the responder, a tap on its queue
// pair lets a test rewrite or drop what it sends, go silent, or send raw
// SMB-Direct messages of its own.

// tapProvider is the server's provider: iWARP with every accepted QP
// wrapped in a tapQP.
type tapProvider struct {
	rdma.Provider
	// edit, if set, sees each Send the responder posts (n counts them from
	// 0, the Negotiate Response) and may change it; false drops it.
	edit atomic.Pointer[func(n int, wr *rdma.SendWR) bool]
	qps  chan *tapQP
}

func newTap() *tapProvider {
	return &tapProvider{Provider: iwarp.New(iwarp.Options{}), qps: make(chan *tapQP, 4)}
}

func (p *tapProvider) Listen(addr string, cp rdma.ConnParams) (rdma.Listener, error) {
	l, err := p.Provider.Listen(addr, cp)
	if err != nil {
		return nil, err
	}
	return &tapListener{Listener: l, p: p}, nil
}

type tapListener struct {
	rdma.Listener
	p *tapProvider
}

func (l *tapListener) Accept(ctx context.Context) (rdma.QP, error) {
	q, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	t := &tapQP{QP: q, p: l.p}
	select {
	case l.p.qps <- t:
	default:
	}
	return t, nil
}

// tapQP is the responder's queue pair as the tap sees it. Raw messages go
// out through QP.PostSend, past the tap.
type tapQP struct {
	rdma.QP
	p     *tapProvider
	mute  atomic.Bool // drop everything the responder sends
	mu    sync.Mutex
	sends int
}

func (q *tapQP) PostSend(wrs ...rdma.SendWR) error {
	if q.mute.Load() {
		return nil
	}
	edit := q.p.edit.Load()
	if edit == nil {
		return q.QP.PostSend(wrs...)
	}
	q.mu.Lock()
	out := make([]rdma.SendWR, 0, len(wrs))
	for _, wr := range wrs {
		if wr.Op == rdma.OpSend || wr.Op == rdma.OpSendInvalidate {
			keep := (*edit)(q.sends, &wr)
			q.sends++
			if !keep {
				continue
			}
		}
		out = append(out, wr)
	}
	q.mu.Unlock()
	return q.QP.PostSend(out...)
}

// raw sends SMB-Direct messages of the test's making, past the responder.
func (q *tapQP) raw(msgs ...[]byte) error {
	wrs := make([]rdma.SendWR, len(msgs))
	for i, m := range msgs {
		wrs[i] = rdma.SendWR{Op: rdma.OpSend, Local: [][]byte{m}}
	}
	return q.QP.PostSend(wrs...)
}

// dataMessage is a Data Transfer message with payload.
func dataMessage(credReq, grant uint16, remaining uint32, payload []byte) []byte {
	h := smbdirect.DataHeader{CreditsRequested: credReq, CreditsGranted: grant,
		RemainingDataLength: remaining, DataLength: uint32(len(payload))}
	return append(h.Append(nil), payload...)
}

// smbPeer is the scripted server.
type smbPeer struct {
	t    *testing.T
	tap  *tapProvider
	l    *smbdirect.Listener
	addr string

	mu   sync.Mutex
	file []byte // the share's one file
	// onRead and onWrite serve READ and WRITE; nil serves them as a server
	// does (serveRead, serveWrite). Set them with handle.
	onRead, onWrite func(x *exchange)

	conns chan *peerConn
}

// peerConn is one accepted SMB-Direct connection.
type peerConn struct {
	p  *smbPeer
	c  *smbdirect.Conn
	qp *tapQP
}

// exchange is one request as a handler sees it.
type exchange struct {
	pc   *peerConn
	hdr  smb2.Header
	read smb2.ReadRequest
	wr   smb2.WriteRequest
	ds   []smbdirect.BufferDescriptor // the request's channel info
}

func newSMBPeer(t *testing.T, cfg smbdirect.Config, file []byte) *smbPeer {
	t.Helper()
	p := &smbPeer{t: t, tap: newTap(), file: file, conns: make(chan *peerConn, 4)}
	if cfg.NegotiateTimeout == 0 {
		cfg.NegotiateTimeout = 5 * time.Second
	}
	l, err := smbdirect.Listen(p.tap, "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.l, p.addr = l, l.Addr().String()
	var wg sync.WaitGroup
	var open []*smbdirect.Conn
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept(context.Background())
			if err != nil {
				return
			}
			var q *tapQP
			select {
			case q = <-p.tap.qps:
			default:
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			pc := &peerConn{p: p, c: c, qp: q}
			select {
			case p.conns <- pc:
			default:
			}
			wg.Add(1)
			go func() { defer wg.Done(); pc.serve() }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

// handle makes read and write serve READ and WRITE from now on. (The
// mutex also orders what the test set up before against the server's
// goroutines, which the race detector does not see through the network.)
func (p *smbPeer) handle(read, write func(x *exchange)) {
	p.mu.Lock()
	p.onRead, p.onWrite = read, write
	p.mu.Unlock()
}

func (p *smbPeer) handlers() (read, write func(x *exchange)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.onRead, p.onWrite
}

// conn returns the peer's connection (after a session was dialled).
func (p *smbPeer) conn() *peerConn {
	p.t.Helper()
	select {
	case pc := <-p.conns:
		p.conns <- pc
		return pc
	case <-time.After(5 * time.Second):
		p.t.Fatal("no connection to the scripted server")
		return nil
	}
}

const peerSessionID = 0x4242

// challenge is a minimal NTLM CHALLENGE_MESSAGE (Unicode, no target info)
// in its SPNEGO negTokenResp: enough for an anonymous session.
func challenge() []byte {
	b := make([]byte, 48)
	copy(b, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(b[8:], 2)
	binary.LittleEndian.PutUint32(b[16:], 48)
	binary.LittleEndian.PutUint32(b[20:], 0x00000001|0x00000200|0x00080000) // UNICODE, NTLM, EXTENDED_SESSIONSECURITY
	copy(b[24:32], "chalnge!")
	binary.LittleEndian.PutUint32(b[44:], 48)
	return ntlm.WrapNegTokenResp(b, nil)
}

func (pc *peerConn) serve() {
	for {
		m, err := pc.c.ReadMessage()
		if err != nil {
			return
		}
		x := &exchange{pc: pc}
		if x.hdr.Unmarshal(m.Buf) != nil {
			pc.c.Close()
			return
		}
		body := m.Buf[smb2.HeaderSize:]
		switch x.hdr.Command {
		case smb2.CmdNegotiate:
			x.reply(0, (&smb2.NegotiateResponse{
				SecurityMode: smb2.SigningEnabled, Dialect: smb2.Dialect302, Capabilities: smb2.CapLargeMTU,
				MaxTransactSize: 1 << 20, MaxReadSize: 8 << 20, MaxWriteSize: 8 << 20,
			}).Append(nil))
		case smb2.CmdSessionSetup:
			if x.hdr.SessionID == 0 {
				x.reply(smb2.StatusMoreProcessingRequired, (&smb2.SessionSetupResponse{SecurityBuffer: challenge()}).Append(nil))
			} else {
				x.reply(0, (&smb2.SessionSetupResponse{SessionFlags: smb2.SessionFlagIsNull}).Append(nil))
			}
		case smb2.CmdTreeConnect:
			x.reply(0, (&smb2.TreeConnectResponse{ShareType: smb2.ShareTypeDisk, MaximalAccess: 0x1F01FF}).Append(nil))
		case smb2.CmdCreate:
			pc.p.mu.Lock()
			n := uint64(len(pc.p.file))
			pc.p.mu.Unlock()
			x.reply(0, (&smb2.CreateResponse{CreateAction: 1, FileID: smb2.FileID{Persistent: 1, Volatile: 2},
				FileTimes: smb2.FileTimes{EndOfFile: n, AllocationSize: n}}).Append(nil))
		case smb2.CmdClose:
			x.reply(0, (&smb2.CloseResponse{}).Append(nil))
		case smb2.CmdRead:
			if x.read.Unmarshal(body) != nil || x.channelInfo(x.read.Channel, x.read.ChannelInfo) != nil {
				pc.c.Close()
				return
			}
			if h, _ := pc.p.handlers(); h != nil {
				h(x)
			} else {
				x.serveRead()
			}
		case smb2.CmdWrite:
			if x.wr.Unmarshal(body) != nil || x.channelInfo(x.wr.Channel, x.wr.ChannelInfo) != nil {
				pc.c.Close()
				return
			}
			if _, h := pc.p.handlers(); h != nil {
				h(x)
			} else {
				x.serveWrite()
			}
		default: // LOGOFF, TREE_DISCONNECT, ECHO, FLUSH
			x.reply(0, smb2.Empty{}.Append(nil))
		}
	}
}

func (x *exchange) channelInfo(ch uint32, info []byte) error {
	if ch == smb2.ChannelNone {
		return nil
	}
	var err error
	x.ds, err = smbdirect.UnmarshalBufferDescriptors(info)
	return err
}

// response builds the SMB2 response to x.
func (x *exchange) response(status smb2.Status, body []byte) []byte {
	h := smb2.Header{Command: x.hdr.Command, Status: status, Flags: smb2.FlagResponse, MessageID: x.hdr.MessageID,
		Credits: max(x.hdr.Credits, 1), TreeID: x.hdr.TreeID, SessionID: peerSessionID}
	return append(h.Append(nil), body...)
}

// reply sends the response; with RDMA_V1_INVALIDATE asked, by Send with
// Invalidate of the request's first token.
func (x *exchange) reply(status smb2.Status, body []byte) error {
	if len(x.ds) > 0 && (x.read.Channel == smb2.ChannelRDMAV1Invalidate || x.wr.Channel == smb2.ChannelRDMAV1Invalidate) {
		return x.replyInvalidate(status, body, x.ds[0].Token)
	}
	return x.pc.c.WriteMessage(context.Background(), net.Buffers{x.response(status, body)})
}

// replyInvalidate sends the response by Send with Invalidate of token.
func (x *exchange) replyInvalidate(status smb2.Status, body []byte, token uint32) error {
	return x.pc.c.WriteMessageInvalidate(context.Background(), net.Buffers{x.response(status, body)}, token)
}

// replyPlain sends the response by a plain Send, whatever was asked.
func (x *exchange) replyPlain(status smb2.Status, body []byte) error {
	return x.pc.c.WriteMessage(context.Background(), net.Buffers{x.response(status, body)})
}

// interim sends STATUS_PENDING for x (async id 7), by Send with Invalidate
// of token when it is not 0.
func (x *exchange) interim(token uint32) error {
	h := smb2.Header{Command: x.hdr.Command, Status: smb2.StatusPending, Flags: smb2.FlagResponse | smb2.FlagAsync,
		MessageID: x.hdr.MessageID, AsyncID: 7, Credits: 1, SessionID: peerSessionID}
	msg := net.Buffers{append(h.Append(nil), smb2.Empty{}.Append(nil)...)}
	if token != 0 {
		return x.pc.c.WriteMessageInvalidate(context.Background(), msg, token)
	}
	return x.pc.c.WriteMessage(context.Background(), msg)
}

// data is the file's content the READ asks for.
func (x *exchange) data() []byte {
	p := x.pc.p
	p.mu.Lock()
	defer p.mu.Unlock()
	off := min(int(x.read.Offset), len(p.file))
	end := min(off+int(x.read.Length), len(p.file))
	return p.file[off:end]
}

// serveRead answers a READ as a server does.
func (x *exchange) serveRead() {
	d := x.data()
	if len(x.ds) == 0 {
		x.reply(0, (&smb2.ReadResponse{Data: d}).Append(nil))
		return
	}
	if x.pc.c.RDMAWrite(context.Background(), x.ds, d) != nil {
		return
	}
	x.reply(0, (&smb2.ReadResponse{DataRemaining: uint32(len(d))}).Append(nil))
}

// serveWrite answers a WRITE as a server does.
func (x *exchange) serveWrite() {
	data := x.wr.Data
	if len(x.ds) > 0 {
		data = make([]byte, x.wr.RemainingBytes)
		if x.pc.c.RDMARead(context.Background(), x.ds, data) != nil {
			return
		}
	}
	p := x.pc.p
	p.mu.Lock()
	if end := int(x.wr.Offset) + len(data); end > len(p.file) {
		p.file = append(p.file, make([]byte, end-len(p.file))...)
	}
	copy(p.file[x.wr.Offset:], data)
	p.mu.Unlock()
	x.reply(0, (&smb2.WriteResponse{Count: uint32(len(data))}).Append(nil))
}

// dialPeer opens an anonymous session to p over our SMB-Direct initiator
// and iWARP provider, with the initiator's config changed by mod.
func dialPeer(ctx context.Context, p *smbPeer, mod func(*smbdirect.Config)) (*session.Session, error) {
	// The responder cannot post its first receive before the QP is
	// accepted: hold our first FPDU back a little (see smbdirect/iwarp_test.go).
	prov := iwarp.New(iwarp.Options{FirstFPDUDelay: 50 * time.Millisecond})
	cfg := smbdirect.Config{NegotiateTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	return session.Dial(ctx, session.Config{
		Addr: p.addr, Anonymous: true, Timeout: 30 * time.Second, DialTimeout: 10 * time.Second,
		Dial: func(ctx context.Context, addr string) (channel.Transport, error) {
			c, err := smbdirect.Dial(ctx, prov, addr, cfg)
			if err != nil {
				return nil, err
			}
			return channel.NewRDMA(c), nil
		},
	})
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

// TestScriptedPeerSane: the scripted server, unscripted, serves a whole
// session with READ and WRITE by RDMA (the baseline the hostile cases
// depart from).
func TestScriptedPeerSane(t *testing.T) {
	peer := newSMBPeer(t, smbdirect.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := dialPeer(ctx, peer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Mount(ctx, "share")
	if err != nil {
		t.Fatal(err)
	}
	f, err := tr.Create(ctx, "f", session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite})
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(3<<20 + 5)
	if n, err := f.WriteAt(ctx, data, 0); err != nil || n != len(data) {
		t.Fatal(n, err)
	}
	back := make([]byte, len(data))
	if n, err := f.ReadAt(ctx, back, 0); err != nil || n != len(data) || !bytes.Equal(back, data) {
		t.Fatal(n, err)
	}
	if ch := s.Channels(); ch[0].RDMABytesRead < 3<<20 || ch[0].RDMABytesWritten < 3<<20 {
		t.Fatalf("not by RDMA: %+v", ch[0])
	}
}
