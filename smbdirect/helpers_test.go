package smbdirect

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/internal/loop"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// provEnv is one provider the core tests run over.
type provEnv struct {
	name string
	new  func(t testing.TB) rdma.Provider
	addr func() string
}

var loopN atomic.Int64

func loopEnv() provEnv {
	return provEnv{
		name: "loop",
		new:  func(testing.TB) rdma.Provider { return loop.New() },
		addr: func() string { return fmt.Sprintf("loop%d", loopN.Add(1)) },
	}
}

// envs are the providers: the loopback one, and iwarp on 127.0.0.1 (see
// iwarp_test.go).
func envs() []provEnv { return append([]provEnv{loopEnv()}, extraEnvs...) }

var extraEnvs []provEnv

// forEachProvider runs f as a subtest over every provider.
func forEachProvider(t *testing.T, f func(t *testing.T, e provEnv)) {
	for _, e := range envs() {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

func testCfg() Config {
	return Config{NegotiateTimeout: 5 * time.Second}
}

// pair connects an initiator and a responder over p.
func pair(t testing.TB, p rdma.Provider, addr string, ccfg, scfg Config) (cli, srv *Conn) {
	t.Helper()
	l, err := Listen(p, addr, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept(ctx)
		ch <- res{c, err}
	}()
	cli, err = Dial(ctx, p, l.Addr().String(), ccfg)
	if err != nil {
		t.Fatal("dial:", err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal("accept:", r.err)
	}
	srv = r.c
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// echo answers every message with itself until the connection dies.
func echo(c *Conn) {
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if c.WriteMessage(context.Background(), net.Buffers{m.Buf}) != nil {
			return
		}
	}
}

// rawDial connects a bare QP to addr with one receive posted.
func rawDial(t *testing.T, p rdma.Provider, addr string) (rdma.QP, []byte) {
	t.Helper()
	qp, err := p.Dial(context.Background(), addr, rdma.ConnParams{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qp.Close() })
	buf := make([]byte, 8192)
	if err := qp.PostRecv(rdma.RecvWR{ID: 1, Buf: buf}); err != nil {
		t.Fatal(err)
	}
	return qp, buf
}

// rawSend sends b and waits for its completion.
func rawSend(t *testing.T, qp rdma.QP, b []byte) {
	t.Helper()
	if err := qp.PostSend(rdma.SendWR{ID: 99, Op: rdma.OpSend, Local: [][]byte{b}, Signaled: true}); err != nil {
		t.Fatal(err)
	}
}

// rawPoll waits for the next receive completion (skipping send ones).
func rawPoll(qp rdma.QP, d time.Duration) (rdma.Completion, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var cs [8]rdma.Completion
	for {
		got, err := qp.Poll(ctx, cs[:])
		if err != nil {
			return rdma.Completion{}, err
		}
		for _, c := range got {
			if c.Err != nil {
				return c, c.Err
			}
			if c.Op == rdma.OpRecv {
				return c, nil
			}
		}
	}
}

func goodRequest() NegotiateRequest {
	return NegotiateRequest{MinVersion: Version, MaxVersion: Version, CreditsRequested: 16,
		PreferredSendSize: 1364, MaxReceiveSize: 8192, MaxFragmentedSize: 1 << 20}
}

// rawInitiator negotiates by hand against a Listener and returns the QP
// (with `posted` receives of 8 KiB posted, IDs 10..) and the server Conn;
// the caller sends crafted data messages (the server granted `credits`).
func rawInitiator(t *testing.T, e provEnv, scfg Config, posted int) (qp rdma.QP, srv *Conn, credits int) {
	t.Helper()
	p := e.new(t)
	l, err := Listen(p, e.addr(), scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	qp, buf := rawDial(t, p, l.Addr().String())
	req := goodRequest()
	rawSend(t, qp, req.Append(nil))
	c, err := rawPoll(qp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r NegotiateResponse
	if err := r.Unmarshal(buf[:c.Len]); err != nil || r.Status != 0 {
		t.Fatalf("response %+v %v", r, err)
	}
	for i := range posted {
		if err := qp.PostRecv(rdma.RecvWR{ID: uint64(10 + i), Buf: make([]byte, 8192)}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err = l.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return qp, srv, int(r.CreditsGranted)
}

// dataMsg builds a Data Transfer message.
func dataMsg(grant uint16, flags uint16, remaining uint32, payload []byte) []byte {
	h := DataHeader{CreditsRequested: 16, CreditsGranted: grant, Flags: flags,
		RemainingDataLength: remaining, DataLength: uint32(len(payload))}
	return append(h.Append(nil), payload...)
}

func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not done within %v", what, d)
	}
}
