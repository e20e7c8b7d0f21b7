package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

// Session-level hostile-peer tests over SMB-Direct: an SMB3 session over
// our SMB-Direct initiator and iWARP provider against the scripted server
// of rdmapeer_test.go, which answers READ and WRITE in ways a real server
// does not. Every case must end promptly with a clear error to the caller
// (a *session.ConnError when the channel is lost, matching the cause with
// errors.Is), never a hang or a panic, and memory outside what the I/O
// granted must stay untouched: the I/O buffers sit between guard bytes.

const (
	guardLen = 4096
	ioSize   = 64 << 10 // one READ or WRITE, offloaded
	fileSize = 2 << 20
)

// guarded is an I/O buffer between guard bytes.
type guarded struct{ all []byte }

func newGuarded(n int, content []byte) *guarded {
	g := &guarded{all: bytes.Repeat([]byte{0xa5}, n+2*guardLen)}
	copy(g.buf(), content)
	return g
}

func (g *guarded) buf() []byte {
	n := len(g.all) - 2*guardLen
	return g.all[guardLen : guardLen+n : guardLen+n]
}

func (g *guarded) checkGuards(t *testing.T) {
	t.Helper()
	n := len(g.all) - 2*guardLen
	for i := range guardLen {
		if g.all[i] != 0xa5 || g.all[guardLen+n+i] != 0xa5 {
			t.Fatalf("guard byte %d around the I/O buffer changed", i)
		}
	}
}

// untouched reports whether the buffer still holds what it was made with.
func (g *guarded) holds(content []byte) bool {
	b := g.buf()
	return bytes.Equal(b[:len(content)], content) && bytes.Count(b[len(content):], []byte{0xa5}) == len(b)-len(content)
}

// hostileRun is one case's state: the peer, the session's open file, and
// what the handlers recorded.
type hostileRun struct {
	t    *testing.T
	peer *smbPeer
	f    *session.File
	mu   sync.Mutex
	toks []smbdirect.BufferDescriptor // first descriptor of each READ/WRITE served
	n    int                          // READs and WRITEs seen
}

func (r *hostileRun) record(x *exchange) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(x.ds) > 0 {
		r.toks = append(r.toks, x.ds[0])
	}
	r.n++
	return r.n
}

func (r *hostileRun) token(i int) smbdirect.BufferDescriptor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.toks[i]
}

// ctx bounds every operation of a case: running into it is a hang.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startHostile sets a session up against a fresh scripted server, with
// the initiator's config changed by ccfg and the responder's Sends passed
// through edit (see tapProvider), if not nil.
func startHostile(t *testing.T, ccfg func(*smbdirect.Config), scfg smbdirect.Config, edit ...func(n int, wr *rdma.SendWR) bool) *hostileRun {
	t.Helper()
	r := &hostileRun{t: t, peer: newSMBPeer(t, scfg, pattern(fileSize))}
	if len(edit) > 0 {
		r.peer.tap.edit.Store(&edit[0])
	}
	ctx := bounded(t)
	s, err := dialPeer(ctx, r.peer, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tr, err := s.Mount(ctx, "share")
	if err != nil {
		t.Fatal(err)
	}
	if r.f, err = tr.Create(ctx, "f", session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *hostileRun) read(g *guarded, off int64) error {
	_, err := r.f.ReadAt(bounded(r.t), g.buf(), off)
	return err
}

func (r *hostileRun) write(g *guarded, off int64) error {
	_, err := r.f.WriteAt(bounded(r.t), g.buf(), off)
	return err
}

// checkLost checks err: the channel was lost (ConnError) for a cause that
// matches one of want, promptly; the server side was disconnected too.
func (r *hostileRun) checkLost(err error, want ...error) {
	t := r.t
	t.Helper()
	if err == nil {
		t.Fatal("the hostile answer was accepted")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
	if !session.IsConnError(err) {
		t.Fatalf("error %v: not a lost channel", err)
	}
	ok := false
	for _, w := range want {
		ok = ok || errors.Is(err, w)
	}
	if !ok {
		t.Fatalf("error %v does not match %v", err, want)
	}
	t.Logf("%v", err)
	select {
	case <-r.peer.conn().c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the server's side of the connection is still up")
	}
	// The session stays usable as an object: later calls fail at once.
	if err := r.read(newGuarded(ioSize, nil), 0); !session.IsConnError(err) {
		t.Fatalf("after the loss: %v", err)
	}
}

// wrongToken is a token none of ours: another index, same key byte.
func wrongToken(tok uint32) uint32 { return tok ^ 0x00ffff00 }

// TestHostileRDMAAccess: the peer reaches our memory where it may not. The
// iWARP provider refuses the access with a Terminate; the I/O fails with
// rdma.ErrAccess, and no byte outside what was granted changed.
func TestHostileRDMAAccess(t *testing.T) {
	data := pattern(fileSize)[:ioSize]
	src := pattern(ioSize + 99)[99:]
	for _, tc := range []struct {
		name  string
		write bool // the I/O is a WRITE
		prior bool // a good I/O of the same kind first, into another buffer
		serve func(r *hostileRun, x *exchange)
		// keep: the buffer must still hold its content (no legal placement happened)
		keep bool
	}{
		{name: "RDMA Write to an unknown token", keep: true, serve: func(r *hostileRun, x *exchange) {
			x.ds[0].Token = wrongToken(x.ds[0].Token)
			x.pc.c.RDMAWrite(context.Background(), x.ds, x.data())
			x.reply(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil))
		}},
		{name: "RDMA Write with an earlier READ's token", prior: true, keep: true, serve: func(r *hostileRun, x *exchange) {
			old := r.token(0)
			x.pc.c.RDMAWrite(context.Background(), []smbdirect.BufferDescriptor{old}, x.data())
			x.reply(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil))
		}},
		{name: "RDMA Write after invalidating the token itself", keep: true, serve: func(r *hostileRun, x *exchange) {
			x.interim(x.ds[0].Token)
			x.pc.c.RDMAWrite(context.Background(), x.ds, x.data())
			x.reply(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil))
		}},
		{name: "RDMA Write beyond the region", serve: func(r *hostileRun, x *exchange) {
			x.ds[0].Length += 2 * guardLen
			x.pc.c.RDMAWrite(context.Background(), x.ds, bytes.Repeat([]byte{0x5a}, int(x.ds[0].Length)))
			x.reply(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil))
		}},
		{name: "RDMA Write before the region", keep: true, serve: func(r *hostileRun, x *exchange) {
			x.ds[0].Offset -= guardLen
			x.pc.c.RDMAWrite(context.Background(), x.ds, bytes.Repeat([]byte{0x5a}, guardLen))
			x.reply(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil))
		}},
		{name: "RDMA Write into a WRITE's source", write: true, keep: true, serve: func(r *hostileRun, x *exchange) {
			x.pc.c.RDMAWrite(context.Background(), x.ds, make([]byte, x.ds[0].Length))
			x.reply(0, (&smb2.WriteResponse{Count: x.wr.RemainingBytes}).Append(nil))
		}},
		{name: "RDMA Read of a READ's sink", keep: true, serve: func(r *hostileRun, x *exchange) {
			x.pc.c.RDMARead(context.Background(), x.ds, make([]byte, x.ds[0].Length))
			x.reply(0, (&smb2.ReadResponse{Data: x.data()}).Append(nil))
		}},
		{name: "RDMA Read beyond a WRITE's source", write: true, keep: true, serve: func(r *hostileRun, x *exchange) {
			x.ds[0].Length += guardLen
			x.pc.c.RDMARead(context.Background(), x.ds, make([]byte, x.ds[0].Length))
			x.reply(0, (&smb2.WriteResponse{Count: x.wr.RemainingBytes}).Append(nil))
		}},
		{name: "RDMA Read with an earlier WRITE's token", write: true, prior: true, keep: true, serve: func(r *hostileRun, x *exchange) {
			x.pc.c.RDMARead(context.Background(), []smbdirect.BufferDescriptor{r.token(0)}, make([]byte, ioSize))
			x.reply(0, (&smb2.WriteResponse{Count: x.wr.RemainingBytes}).Append(nil))
		}},
		{name: "late RDMA Write after a response without remote invalidation", prior: true, keep: true, serve: func(r *hostileRun, x *exchange) {
			x.pc.c.RDMAWrite(context.Background(), []smbdirect.BufferDescriptor{r.token(0)}, make([]byte, ioSize))
			x.serveRead()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startHostile(t, nil, smbdirect.Config{})
			serve := func(x *exchange) {
				if r.record(x) == 1 && tc.prior {
					if tc.name == "late RDMA Write after a response without remote invalidation" {
						// The data by RDMA, the response by plain Send: we
						// must invalidate locally.
						x.pc.c.RDMAWrite(context.Background(), x.ds, x.data())
						x.replyPlain(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil))
						return
					}
					if tc.write {
						x.serveWrite()
					} else {
						x.serveRead()
					}
					return
				}
				tc.serve(r, x)
			}
			r.peer.handle(serve, serve)
			var first *guarded
			if tc.prior {
				if tc.write {
					first = newGuarded(ioSize, src)
					if err := r.write(first, 0); err != nil {
						t.Fatal(err)
					}
				} else {
					first = newGuarded(ioSize, nil)
					if err := r.read(first, 0); err != nil || !first.holds(data) {
						t.Fatal("first READ:", err)
					}
				}
			}
			g := newGuarded(ioSize, nil)
			var err error
			if tc.write {
				g = newGuarded(ioSize, src)
				err = r.write(g, 0)
			} else {
				err = r.read(g, 0)
			}
			r.checkLost(err, rdma.ErrAccess)
			var te *iwarp.TerminateError
			if !errors.As(err, &te) || te.Remote {
				t.Fatalf("no Terminate of ours behind %v", err)
			}
			g.checkGuards(t)
			if want := map[bool][]byte{false: nil, true: src}[tc.write]; tc.keep && !g.holds(want) {
				t.Fatal("the I/O buffer changed")
			}
			if first != nil {
				first.checkGuards(t)
				if want := map[bool][]byte{false: data, true: src}[tc.write]; !first.holds(want) {
					t.Fatal("the earlier I/O's buffer changed after it returned")
				}
			}
		})
	}
}

// TestHostileInvalidation: a Send with Invalidate that names a token other
// than the one the I/O registered is not trusted.
func TestHostileInvalidation(t *testing.T) {
	data := pattern(fileSize)
	t.Run("token of another READ in flight", func(t *testing.T) {
		// Two READs (one ReadAt split in two): the answer to the first
		// invalidates the second's token. The first completes (and is
		// invalidated by us); the second's data cannot land any more.
		r := startHostile(t, nil, smbdirect.Config{})
		var first *exchange
		r.peer.handle(func(x *exchange) {
			if first == nil {
				first = x
				return
			}
			a, b := first, x
			a.pc.c.RDMAWrite(context.Background(), a.ds, a.data())
			a.replyInvalidate(0, (&smb2.ReadResponse{DataRemaining: uint32(len(a.data()))}).Append(nil), b.ds[0].Token)
			b.pc.c.RDMAWrite(context.Background(), b.ds, b.data())
			b.reply(0, (&smb2.ReadResponse{DataRemaining: uint32(len(b.data()))}).Append(nil))
		}, nil)
		g := newGuarded(2<<20, nil)
		err := r.read(g, 0)
		r.checkLost(err, rdma.ErrAccess)
		g.checkGuards(t)
		// One half holds its data, the other nothing.
		lo, hi := g.buf()[:1<<20], g.buf()[1<<20:]
		if !(bytes.Equal(lo, data[:1<<20]) && bytes.Count(hi, []byte{0xa5}) == len(hi) ||
			bytes.Equal(hi, data[1<<20:2<<20]) && bytes.Count(lo, []byte{0xa5}) == len(lo)) {
			t.Fatal("READ buffers hold something else than one answer")
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		r := startHostile(t, nil, smbdirect.Config{})
		r.peer.handle(func(x *exchange) {
			x.pc.c.RDMAWrite(context.Background(), x.ds, x.data())
			x.replyInvalidate(0, (&smb2.ReadResponse{DataRemaining: ioSize}).Append(nil), wrongToken(x.ds[0].Token))
		}, nil)
		g := newGuarded(ioSize, nil)
		r.checkLost(r.read(g, 0), rdma.ErrAccess)
		g.checkGuards(t)
	})
}

// TestHostileRDMAResponses: READ responses that do not fit what was asked
// by RDMA fail the I/O with session.ErrProtocol and drop the channel, whose
// peer broke the RDMA contract (it may have written anything into the
// region); a WRITE response claiming more than was written fails the WRITE.
func TestHostileRDMAResponses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write bool
		serve func(x *exchange)
	}{
		{name: "READ DataRemaining beyond the request", serve: func(x *exchange) {
			x.pc.c.RDMAWrite(context.Background(), x.ds, x.data())
			x.reply(0, (&smb2.ReadResponse{DataRemaining: ioSize + 1}).Append(nil))
		}},
		{name: "READ data inline although RDMA was asked", serve: func(x *exchange) {
			x.reply(0, (&smb2.ReadResponse{Data: x.data()}).Append(nil))
		}},
		{name: "READ data inline and by RDMA", serve: func(x *exchange) {
			x.pc.c.RDMAWrite(context.Background(), x.ds, x.data())
			x.reply(0, (&smb2.ReadResponse{Data: x.data()[:100], DataRemaining: ioSize}).Append(nil))
		}},
		{name: "WRITE Count beyond the request", write: true, serve: func(x *exchange) {
			x.pc.c.RDMARead(context.Background(), x.ds, make([]byte, x.wr.RemainingBytes))
			x.reply(0, (&smb2.WriteResponse{Count: x.wr.RemainingBytes + 1}).Append(nil))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startHostile(t, nil, smbdirect.Config{})
			r.peer.handle(tc.serve, tc.serve)
			g := newGuarded(ioSize, nil)
			var err error
			if tc.write {
				err = r.write(g, 0)
			} else {
				err = r.read(g, 0)
			}
			if tc.write {
				// Not an RDMA matter: the WRITE fails, the channel stays.
				if !errors.Is(err, session.ErrProtocol) || session.IsConnError(err) {
					t.Fatalf("error %v", err)
				}
				t.Log(err)
			} else {
				r.checkLost(err, session.ErrProtocol)
			}
			g.checkGuards(t)
		})
	}
}

// TestHostileSMBDirect: the peer breaks [MS-SMBD] in the middle of a
// session (while a READ waits for its answer). The initiator terminates
// the connection; the READ fails with the cause.
func TestHostileSMBDirect(t *testing.T) {
	small := func(c *smbdirect.Config) { c.SendCreditTarget, c.ReceiveCreditMax = 8, 8 }
	for _, tc := range []struct {
		name  string
		ccfg  func(*smbdirect.Config)
		scfg  smbdirect.Config
		serve func(x *exchange)
		want  []error
	}{
		{name: "message larger than our receive buffers", serve: func(x *exchange) {
			x.pc.qp.raw(dataMessage(255, 0, 0, make([]byte, 9000)))
		}, want: []error{rdma.ErrRecvTooSmall}},
		{name: "message larger than the negotiated receive size", scfg: smbdirect.Config{MaxSendSize: 1364}, serve: func(x *exchange) {
			x.pc.qp.raw(dataMessage(255, 0, 0, make([]byte, 2000)))
		}, want: []error{smbdirect.ErrProtocol}},
		{name: "fragmented message beyond MaxFragmentedSize", serve: func(x *exchange) {
			x.pc.qp.raw(dataMessage(255, 0, 1<<20, make([]byte, 100)))
		}, want: []error{smbdirect.ErrTooLarge}},
		{name: "message interleaved in a fragmented one", serve: func(x *exchange) {
			x.pc.qp.raw(dataMessage(255, 0, 1000, make([]byte, 104)), dataMessage(255, 0, 0, make([]byte, 48)))
		}, want: []error{smbdirect.ErrProtocol}},
		{name: "CreditsRequested 0", serve: func(x *exchange) {
			x.pc.qp.raw(dataMessage(0, 0, 0, x.response(0, (&smb2.ReadResponse{Data: x.data()[:100]}).Append(nil))))
		}, want: []error{smbdirect.ErrProtocol}},
		{name: "DataOffset not 8-byte aligned", serve: func(x *exchange) {
			m := dataMessage(255, 0, 0, make([]byte, 64))
			binary.LittleEndian.PutUint32(m[12:], 28)
			x.pc.qp.raw(m)
		}, want: []error{smbdirect.ErrProtocol}},
		{name: "payload beyond the message", serve: func(x *exchange) {
			m := dataMessage(255, 0, 0, make([]byte, 64))
			binary.LittleEndian.PutUint32(m[16:], 65)
			x.pc.qp.raw(m)
		}, want: []error{smbdirect.ErrProtocol}},
		{name: "Sends beyond the credits granted", ccfg: small, serve: func(x *exchange) {
			// Silence the responder (no more grants to us), then send more
			// messages than we can have granted: at most ReceiveCreditMax
			// outstanding at a time, renewed by at most one message of ours
			// per send credit we hold.
			x.pc.qp.mute.Store(true)
			held := x.pc.c.Stats().ReceivesGranted
			k := 8*(held+1) + 1
			msgs := make([][]byte, k)
			for i := range msgs {
				msgs[i] = dataMessage(255, 0, 0, nil)
			}
			x.pc.qp.raw(msgs...)
		}, want: []error{smbdirect.ErrProtocol, rdma.ErrNoRecv}},
		{name: "peer goes silent", ccfg: func(c *smbdirect.Config) {
			c.KeepaliveInterval, c.KeepaliveTimeout = 500*time.Millisecond, 2*time.Second
		}, serve: func(x *exchange) {
			x.pc.qp.mute.Store(true)
		}, want: []error{smbdirect.ErrKeepaliveTimeout}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startHostile(t, tc.ccfg, tc.scfg)
			r.peer.handle(tc.serve, nil)
			g := newGuarded(ioSize, nil)
			r.checkLost(r.read(g, 0), tc.want...)
			g.checkGuards(t)
			if !g.holds(nil) {
				t.Fatal("the READ buffer changed")
			}
		})
	}
}

// TestHostileCreditsWithheld: the peer answers but stops granting
// SMB-Direct credits. Once ours are spent nothing can be sent, not even a
// keepalive: the connection is dropped after one keepalive interval
// without one, and the waiting request fails.
func TestHostileCreditsWithheld(t *testing.T) {
	var withhold atomic.Bool
	r := startHostile(t, func(c *smbdirect.Config) {
		c.SendCreditTarget, c.ReceiveCreditMax = 8, 8
		c.KeepaliveInterval, c.KeepaliveTimeout = 500*time.Millisecond, 2*time.Second
	}, smbdirect.Config{}, func(n int, wr *rdma.SendWR) bool {
		if n > 0 && withhold.Load() {
			binary.LittleEndian.PutUint16(wr.Local[0][2:], 0) // CreditsGranted
		}
		return true
	})
	withhold.Store(true)
	var err error
	for i := 0; err == nil; i++ {
		if i > 100 {
			t.Fatal("still reading after 100 READs without credits")
		}
		err = r.read(newGuarded(ioSize, nil), 0)
	}
	r.checkLost(err, smbdirect.ErrKeepaliveTimeout)
}

// TestHostileNegotiate: SMB-Direct negotiate nonsense from the responder;
// the session is not set up, with smbdirect.ErrNegotiate.
func TestHostileNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*smbdirect.NegotiateResponse)
		cut  int  // truncate the response to cut bytes
		drop bool // no response at all
		want error
	}{
		{name: "NegotiatedVersion 0x0200", mod: func(r *smbdirect.NegotiateResponse) { r.NegotiatedVersion = 0x0200 }},
		{name: "versions 0x0200 only", mod: func(r *smbdirect.NegotiateResponse) {
			r.MinVersion, r.MaxVersion, r.NegotiatedVersion = 0x0200, 0x0200, 0x0200
		}},
		{name: "CreditsGranted 0", mod: func(r *smbdirect.NegotiateResponse) { r.CreditsGranted = 0 }},
		{name: "CreditsRequested 0", mod: func(r *smbdirect.NegotiateResponse) { r.CreditsRequested = 0 }},
		{name: "MaxReceiveSize below 128", mod: func(r *smbdirect.NegotiateResponse) { r.MaxReceiveSize = 127 }},
		{name: "MaxFragmentedSize below 131072", mod: func(r *smbdirect.NegotiateResponse) { r.MaxFragmentedSize = 131071 }},
		{name: "PreferredSendSize above our MaxReceiveSize", mod: func(r *smbdirect.NegotiateResponse) { r.PreferredSendSize = 8193 }},
		{name: "PreferredSendSize below 128", mod: func(r *smbdirect.NegotiateResponse) { r.PreferredSendSize = 100 }},
		{name: "failure status", mod: func(r *smbdirect.NegotiateResponse) { r.Status = smbdirect.StatusNotSupported }},
		{name: "truncated", cut: smbdirect.NegotiateResponseSize - 1},
		{name: "no answer", drop: true, want: smbdirect.ErrNegotiateTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := newSMBPeer(t, smbdirect.Config{}, nil)
			edit := func(n int, wr *rdma.SendWR) bool {
				if n != 0 {
					return true
				}
				if tc.drop {
					return false
				}
				var r smbdirect.NegotiateResponse
				if err := r.Unmarshal(bytes.Join(wr.Local, nil)); err != nil {
					panic(err)
				}
				b := r.Append(nil)
				if tc.mod != nil {
					tc.mod(&r)
					b = r.Append(nil)
				}
				if tc.cut > 0 {
					b = b[:tc.cut]
				}
				wr.Local = [][]byte{b}
				return true
			}
			peer.tap.edit.Store(&edit)
			ctx := bounded(t)
			s, err := dialPeer(ctx, peer, func(c *smbdirect.Config) { c.NegotiateTimeout = time.Second })
			if err == nil {
				s.Close()
				t.Fatal("session set up")
			}
			want := tc.want
			if want == nil {
				want = smbdirect.ErrNegotiate
			}
			if errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, want) {
				t.Fatalf("error %v, want %v", err, want)
			}
			var se *smbdirect.StatusError
			if tc.name == "failure status" && (!errors.As(err, &se) || se.Status != smbdirect.StatusNotSupported) {
				t.Fatalf("error %v", err)
			}
			t.Log(err)
		})
	}
}
