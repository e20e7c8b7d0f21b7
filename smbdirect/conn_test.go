package smbdirect

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/internal/loop"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

func TestNegotiate(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		ccfg := testCfg()
		ccfg.MaxSendSize, ccfg.MaxReceiveSize, ccfg.MaxReadWriteSize = 1364, 4096, 4<<20
		scfg := testCfg()
		scfg.MaxSendSize, scfg.MaxReceiveSize, scfg.MaxFragmentedSize = 8136, 8192, 173910
		cli, srv := pair(t, e.new(t), e.addr(), ccfg, scfg)
		cp, sp := cli.Params(), srv.Params()
		// Responder: MaxReceiveSize = min(8192, 1364); MaxSendSize = min(8136, 4096).
		if sp.MaxReceiveSize != 1364 || sp.MaxSendSize != 4096 || sp.MaxFragmentedSendSize != 1<<20 {
			t.Errorf("responder %+v", sp)
		}
		// Initiator: MaxReceiveSize = min(4096, 4096); MaxSendSize = min(1364, 1364).
		if cp.MaxReceiveSize != 4096 || cp.MaxSendSize != 1364 || cp.MaxFragmentedSendSize != 173910 || cp.MaxReadWriteSize != 4<<20 {
			t.Errorf("initiator %+v", cp)
		}
		if s := srv.Stats(); s.ReceivesPosted != 254 {
			t.Errorf("responder posted %d receives", s.ReceivesPosted)
		}
	})
}

func TestNegotiateResponderRefuses(t *testing.T) {
	e := loopEnv()
	for _, tc := range []struct {
		name   string
		mod    func(*NegotiateRequest)
		short  bool
		status uint32 // 0: dropped without a response
	}{
		{name: "short", short: true},
		{name: "version", mod: func(r *NegotiateRequest) { r.MinVersion, r.MaxVersion = 0x0200, 0x0200 }, status: StatusNotSupported},
		{name: "versions-reversed", mod: func(r *NegotiateRequest) { r.MinVersion, r.MaxVersion = 0x0101, 0x0100 }, status: StatusNotSupported},
		{name: "zero-credits", mod: func(r *NegotiateRequest) { r.CreditsRequested = 0 }},
		{name: "tiny-receive", mod: func(r *NegotiateRequest) { r.MaxReceiveSize = 127 }},
		{name: "tiny-fragmented", mod: func(r *NegotiateRequest) { r.MaxFragmentedSize = 131071 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.new(t)
			l, err := Listen(p, e.addr(), testCfg())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			qp, buf := rawDial(t, p, l.Addr().String())
			r := goodRequest()
			if tc.mod != nil {
				tc.mod(&r)
			}
			b := r.Append(nil)
			if tc.short {
				b = b[:19]
			}
			rawSend(t, qp, b)
			c, err := rawPoll(qp, 5*time.Second)
			if tc.status == 0 {
				if err == nil {
					t.Fatalf("got a %d-byte response, want a drop", c.Len)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var resp NegotiateResponse
			if err := resp.Unmarshal(buf[:c.Len]); err != nil || resp.Status != tc.status || resp.CreditsGranted != 0 || resp.MaxReceiveSize != 0 {
				t.Fatalf("%+v %v", resp, err)
			}
			if _, err := rawPoll(qp, 5*time.Second); err == nil {
				t.Fatal("not closed after the failure response")
			}
		})
	}
}

func TestNegotiateInitiatorRefuses(t *testing.T) {
	e := loopEnv()
	good := NegotiateResponse{Version, Version, Version, 255, 10, 0, 8 << 20, 1364, 1364, 173910}
	for _, tc := range []struct {
		name  string
		mod   func(*NegotiateResponse)
		short bool
	}{
		{name: "short", short: true},
		{name: "status", mod: func(r *NegotiateResponse) { r.Status = StatusNotSupported }},
		{name: "version", mod: func(r *NegotiateResponse) { r.NegotiatedVersion = 0x0200 }},
		{name: "no-grant", mod: func(r *NegotiateResponse) { r.CreditsGranted = 0 }},
		{name: "no-request", mod: func(r *NegotiateResponse) { r.CreditsRequested = 0 }},
		{name: "tiny-receive", mod: func(r *NegotiateResponse) { r.MaxReceiveSize = 127 }},
		{name: "tiny-fragmented", mod: func(r *NegotiateResponse) { r.MaxFragmentedSize = 131071 }},
		{name: "send-above-our-receive", mod: func(r *NegotiateResponse) { r.PreferredSendSize = 8193 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.new(t)
			addr := e.addr()
			l, _ := p.Listen(addr, rdma.ConnParams{})
			defer l.Close()
			go func() {
				qp, err := l.Accept(context.Background())
				if err != nil {
					return
				}
				buf := make([]byte, 512)
				qp.PostRecv(rdma.RecvWR{Buf: buf})
				if _, err := rawPoll(qp, 5*time.Second); err != nil {
					return
				}
				r := good
				if tc.mod != nil {
					tc.mod(&r)
				}
				b := r.Append(nil)
				if tc.short {
					b = b[:31]
				}
				qp.PostSend(rdma.SendWR{Op: rdma.OpSend, Local: [][]byte{b}})
			}()
			c, err := Dial(context.Background(), p, addr, testCfg())
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			if !errors.Is(err, ErrNegotiate) {
				t.Fatalf("error %v does not wrap ErrNegotiate", err)
			}
			var se *StatusError
			if tc.name == "status" && (!errors.As(err, &se) || se.Status != StatusNotSupported) {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestNegotiateTimeout(t *testing.T) {
	p := loop.New()
	l, _ := p.Listen("silent", rdma.ConnParams{})
	defer l.Close()
	go func() {
		qp, err := l.Accept(context.Background())
		if err == nil {
			qp.PostRecv(rdma.RecvWR{Buf: make([]byte, 512)})
		}
	}()
	cfg := testCfg()
	cfg.NegotiateTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err := Dial(context.Background(), p, "silent", cfg)
	if !errors.Is(err, ErrNegotiateTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
}

func TestConfigMinimums(t *testing.T) {
	for _, cfg := range []Config{
		{MaxReceiveSize: 128}, {MaxFragmentedSize: 131072}, {MaxSendSize: 128}, {ReceiveCreditMax: 3},
	} {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEchoFragmentation(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		ccfg, scfg := testCfg(), testCfg()
		ccfg.MaxSendSize, scfg.MaxSendSize = 1364, 1364
		cli, srv := pair(t, e.new(t), e.addr(), ccfg, scfg)
		go echo(srv)
		max := cli.Params().MaxFragmentedSendSize
		per := cli.Params().MaxSendSize - DataOffset
		for _, n := range []int{1, 7, per - 1, per, per + 1, 3 * per, 65536, 1000003, max} {
			msg := pattern(n, 1)
			// Split across buffers at awkward places.
			bufs := net.Buffers{msg[:n/3], msg[n/3 : n/2], msg[n/2:]}
			if err := cli.WriteMessage(context.Background(), bufs); err != nil {
				t.Fatal(n, err)
			}
			m, err := cli.ReadMessage()
			if err != nil {
				t.Fatal(n, err)
			}
			if !bytes.Equal(m.Buf, msg) {
				t.Fatalf("%d bytes: echo differs", n)
			}
		}
		if err := cli.WriteMessage(context.Background(), net.Buffers{make([]byte, max+1)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("over MaxFragmentedSize: %v", err)
		}
		if err := cli.WriteMessage(context.Background(), nil); err == nil {
			t.Fatal("empty message sent")
		}
		for _, c := range []*Conn{cli, srv} {
			if v := c.Stats().PeerLastCreditViolations; v != 0 {
				t.Errorf("%d last-credit violations", v)
			}
		}
	})
}

// A peer sending a message over our MaxFragmentedSize is dropped.
func TestReceiveTooLarge(t *testing.T) {
	scfg := testCfg()
	scfg.MaxFragmentedSize = 200000
	qp, srv, _ := rawInitiator(t, loopEnv(), scfg, 8)
	rawSend(t, qp, dataMsg(4, 0, 200000, make([]byte, 1000)))
	if _, err := srv.ReadMessage(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v", err)
	}
}

// Empty messages are skipped anywhere, also between fragments (lab quirk 8).
func TestEmptyMessagesSkipped(t *testing.T) {
	qp, srv, credits := rawInitiator(t, loopEnv(), testCfg(), 8)
	msg := pattern(3000, 2)
	seq := [][]byte{
		dataMsg(4, 0, 0, nil),
		dataMsg(0, 0, 2000, msg[:1000]),
		dataMsg(0, 0, 0, nil),
		dataMsg(0, 0, 1000, msg[1000:2000]),
		dataMsg(0, 0, 0, nil),
		dataMsg(0, 0, 0, msg[2000:]),
		dataMsg(0, 0, 0, nil),
	}
	if len(seq) > credits {
		t.Fatal("not enough credits")
	}
	for _, b := range seq {
		rawSend(t, qp, b)
	}
	m, err := srv.ReadMessage()
	if err != nil || !bytes.Equal(m.Buf, msg) {
		t.Fatalf("%v", err)
	}
	// The message is out before the receive loop took the last empty one.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().FragmentsReceived < uint64(len(seq)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s := srv.Stats(); s.EmptyReceived != 4 || s.MessagesReceived != 1 {
		t.Fatalf("%+v", s)
	}
}

// A fragment that does not continue the message exactly is a violation.
func TestBadFragmentSequence(t *testing.T) {
	qp, srv, _ := rawInitiator(t, loopEnv(), testCfg(), 8)
	rawSend(t, qp, dataMsg(4, 0, 2000, make([]byte, 1000)))
	rawSend(t, qp, dataMsg(0, 0, 500, make([]byte, 1000))) // claims 1500, 1000 expected after it... wrong total
	if _, err := srv.ReadMessage(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("%v", err)
	}
}

// The responder answers RESPONSE_REQUESTED promptly with an empty message,
// granting the credits it has reposted.
func TestResponseRequested(t *testing.T) {
	qp, srv, _ := rawInitiator(t, loopEnv(), testCfg(), 8)
	rawSend(t, qp, dataMsg(8, FlagResponseRequested, 0, nil))
	c, err := rawPoll(qp, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	if s := srv.Stats(); s.EmptySent != 1 {
		t.Fatalf("%+v", s)
	}
}

// Many writers on both sides, a slow reader, tiny credit windows: every
// message arrives intact, nobody deadlocks and no one ever spends its last
// credit without granting one.
func TestCreditsUnderLoad(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		cfg := testCfg()
		cfg.SendCreditTarget, cfg.ReceiveCreditMax = 4, 4
		cfg.MaxSendSize, cfg.MaxReceiveSize = 512, 512
		cli, srv := pair(t, e.new(t), e.addr(), cfg, cfg)
		const writers, per = 6, 60
		type sum struct {
			n   int
			crc uint32
		}
		run := func(w, r *Conn, slow bool) (sent, got sum) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range per {
						msg := pattern(1+(i*per+j)*97%5000, uint64(i))
						if err := w.WriteMessage(context.Background(), net.Buffers{msg}); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						sent.n++
						sent.crc ^= crc32.ChecksumIEEE(msg)
						mu.Unlock()
					}
				}()
			}
			for range writers * per {
				m, err := r.ReadMessage()
				if err != nil {
					t.Error(err)
					break
				}
				got.n++
				got.crc ^= crc32.ChecksumIEEE(m.Buf)
				if slow && got.n%20 == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			wg.Wait()
			return
		}
		within(t, 60*time.Second, "load", func() {
			var wg sync.WaitGroup
			wg.Add(2)
			var s1, g1, s2, g2 sum
			go func() { defer wg.Done(); s1, g1 = run(cli, srv, true) }()
			go func() { defer wg.Done(); s2, g2 = run(srv, cli, false) }()
			wg.Wait()
			if s1 != g1 || s2 != g2 {
				t.Errorf("sent %v got %v; sent %v got %v", s1, g1, s2, g2)
			}
		})
		for _, c := range []*Conn{cli, srv} {
			s := c.Stats()
			if s.PeerLastCreditViolations != 0 {
				t.Errorf("%d last-credit violations", s.PeerLastCreditViolations)
			}
			t.Logf("%+v", s)
		}
	})
}

// Writers blocked on credits get ctx errors and connection errors.
func TestBlockedWriter(t *testing.T) {
	qp, srv, _ := rawInitiator(t, loopEnv(), testCfg(), 3)
	_ = qp
	// The raw peer granted nothing: the responder has no send credits.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.WriteMessage(ctx, net.Buffers{[]byte("x")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	errc := make(chan error)
	go func() { errc <- srv.WriteMessage(context.Background(), net.Buffers{[]byte("x")}) }()
	time.Sleep(20 * time.Millisecond)
	qp.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrDisconnected) {
			t.Fatalf("%v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writer still blocked")
	}
}

func TestClose(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		cli, srv := pair(t, e.new(t), e.addr(), testCfg(), testCfg())
		errc := make(chan error, 2)
		go func() { _, err := cli.ReadMessage(); errc <- err }()
		go func() { _, err := srv.ReadMessage(); errc <- err }()
		time.Sleep(20 * time.Millisecond)
		cli.Close()
		for range 2 {
			select {
			case err := <-errc:
				if err != ErrClosed && !errors.Is(err, ErrDisconnected) {
					t.Fatalf("%v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("reader not woken")
			}
		}
		if err := cli.WriteMessage(context.Background(), net.Buffers{[]byte("x")}); err != ErrClosed {
			t.Fatalf("write after close: %v", err)
		}
		<-srv.Done()
		if !errors.Is(srv.Err(), ErrDisconnected) {
			t.Fatalf("peer: %v", srv.Err())
		}
	})
}

func kaCfg() Config {
	cfg := testCfg()
	cfg.KeepaliveInterval = 40 * time.Millisecond
	cfg.KeepaliveTimeout = 300 * time.Millisecond
	return cfg
}

// Idle connections keep each other alive.
func TestKeepaliveIdle(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		cli, srv := pair(t, e.new(t), e.addr(), kaCfg(), kaCfg())
		go echo(srv)
		time.Sleep(600 * time.Millisecond)
		if err := cli.Err(); err != nil {
			t.Fatal(err)
		}
		if err := cli.WriteMessage(context.Background(), net.Buffers{[]byte("ping")}); err != nil {
			t.Fatal(err)
		}
		if m, err := cli.ReadMessage(); err != nil || string(m.Buf) != "ping" {
			t.Fatal(err)
		}
		if s := cli.Stats(); s.KeepalivesSent == 0 {
			t.Fatalf("no keepalive sent: %+v", s)
		}
	})
}

// A peer that stops answering is detected within interval + timeout.
func TestKeepaliveDeadPeer(t *testing.T) {
	cli, srv := pair(t, loop.New(), "dead", kaCfg(), testCfg())
	srv.qp.(*loop.QP).SetMute(true)
	start := time.Now()
	select {
	case <-cli.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("dead peer not detected")
	}
	if !errors.Is(cli.Err(), ErrKeepaliveTimeout) {
		t.Fatalf("%v", cli.Err())
	}
	if d := time.Since(start); d > 40*time.Millisecond+300*time.Millisecond+500*time.Millisecond {
		t.Fatalf("detected after %v", d)
	}
	if _, err := cli.ReadMessage(); !errors.Is(err, ErrKeepaliveTimeout) {
		t.Fatalf("reader: %v", err)
	}
}

// An upper layer that does not read for a while is not dropped.
func TestBusyReaderNotDropped(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		cfg := kaCfg()
		cfg.SendCreditTarget, cfg.ReceiveCreditMax = 8, 8
		cli, srv := pair(t, e.new(t), e.addr(), cfg, cfg)
		go func() {
			for i := range 200 {
				if srv.WriteMessage(context.Background(), net.Buffers{pattern(3000, uint64(i))}) != nil {
					return
				}
			}
		}()
		time.Sleep(500 * time.Millisecond)
		for i := range 200 {
			m, err := cli.ReadMessage()
			if err != nil {
				t.Fatal(i, err)
			}
			if !bytes.Equal(m.Buf, pattern(3000, uint64(i))) {
				t.Fatal("order or content")
			}
		}
		if err := srv.Err(); err != nil {
			t.Fatal(err)
		}
	})
}
