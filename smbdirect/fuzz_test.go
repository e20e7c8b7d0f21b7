package smbdirect

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/internal/loop"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Fuzz targets that feed peer bytes to a live connection (over the loop
// provider), beyond the codecs of pdu_test.go: the negotiate of either
// role and the receive path of an established connection.

// FuzzNegotiateInitiator answers our Negotiate Request with arbitrary
// bytes: Dial must fail with ErrNegotiate or set up a connection within
// the protocol's limits, promptly.
func FuzzNegotiateInitiator(f *testing.F) {
	good := NegotiateResponse{Version, Version, Version, 255, 10, 0, 8 << 20, 1364, 1364, 173910}
	f.Add(good.Append(nil))
	f.Add(good.Append(nil)[:31])
	bad := good
	bad.NegotiatedVersion, bad.CreditsGranted = 0x0200, 0
	f.Add(bad.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := loop.New()
		l, _ := p.Listen("fuzz", rdma.ConnParams{})
		defer l.Close()
		go func() {
			qp, err := l.Accept(context.Background())
			if err != nil {
				return
			}
			qp.PostRecv(rdma.RecvWR{Buf: make([]byte, 512)}, rdma.RecvWR{ID: 1, Buf: make([]byte, 8192)})
			if _, err := rawPoll(qp, 5*time.Second); err != nil {
				return
			}
			qp.PostSend(rdma.SendWR{Op: rdma.OpSend, Local: [][]byte{b}})
		}()
		cfg := testCfg()
		cfg.NegotiateTimeout = 5 * time.Second
		c, err := Dial(context.Background(), p, "fuzz", cfg)
		if err != nil {
			if errors.Is(err, ErrNegotiateTimeout) {
				t.Fatal("negotiate hung")
			}
			return
		}
		defer c.Close()
		pp := c.Params()
		if pp.MaxSendSize < MinReceiveSize || pp.MaxSendSize > 8136 || pp.MaxReceiveSize < MinReceiveSize ||
			pp.MaxReceiveSize > 8192 || pp.MaxFragmentedSendSize < MinFragmentedSize || pp.MaxReadWriteSize > 8<<20 {
			t.Fatalf("accepted %+v", pp)
		}
	})
}

// FuzzNegotiateResponder sends arbitrary bytes as the Negotiate Request:
// the responder answers or drops the connection, promptly.
func FuzzNegotiateResponder(f *testing.F) {
	r := goodRequest()
	f.Add(r.Append(nil))
	f.Add(r.Append(nil)[:19])
	r.MinVersion, r.MaxVersion, r.CreditsRequested = 0x0200, 0x0100, 0
	f.Add(r.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 8192 {
			return // larger than the posted receive: the provider's matter
		}
		p := loop.New()
		l, err := Listen(p, "fuzz", testCfg())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		qp, buf := rawDial(t, p, "fuzz")
		rawSend(t, qp, b)
		c, err := rawPoll(qp, 5*time.Second)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("responder neither answered nor dropped the connection")
		}
		if err != nil {
			return
		}
		var resp NegotiateResponse
		if err := resp.Unmarshal(buf[:c.Len]); err != nil {
			t.Fatalf("answer of %d bytes", c.Len)
		}
		if resp.Status != StatusSuccess {
			return
		}
		var q NegotiateRequest
		if q.Unmarshal(b) != nil || q.CreditsRequested == 0 || resp.CreditsGranted == 0 ||
			resp.PreferredSendSize > q.MaxReceiveSize || resp.MaxReceiveSize < MinReceiveSize {
			t.Fatalf("accepted %+v with %+v", q, resp)
		}
		srv, err := l.Accept(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		srv.Close()
	})
}

// FuzzReceive sends a sequence of arbitrary Data Transfer messages (each
// prefixed by a 2-byte length in the input) to an established responder,
// then disconnects: every message it delivers is within its limits, and
// it ends with an error, never a panic or a hang.
func FuzzReceive(f *testing.F) {
	seq := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
			b = append(b, m...)
		}
		return b
	}
	f.Add(seq(dataMsg(4, 0, 0, []byte("whole"))))
	f.Add(seq(dataMsg(4, 0, 3, []byte("frag")), dataMsg(0, 0, 0, nil), dataMsg(0, 1, 0, []byte("end"))))
	f.Add(seq(dataMsg(4, 0, 1<<20, []byte("huge")), dataMsg(0, 0, 0, []byte("x"))))
	f.Add(seq(dataMsg(0, 0, 0, []byte("no credits requested")), dataMsg(2, 0, 0, nil)))
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := testCfg()
		cfg.MaxFragmentedSize = MinFragmentedSize + 1
		qp, srv, credits := rawInitiator(t, loopEnv(), cfg, 8)
		for n := 0; len(in) >= 2 && n <= credits; n++ {
			k := min(int(binary.BigEndian.Uint16(in)), len(in)-2, 8192)
			if err := qp.PostSend(rdma.SendWR{Op: rdma.OpSend, Local: [][]byte{in[2 : 2+k]}}); err != nil {
				break
			}
			in = in[2+k:]
		}
		qp.Close()
		done := make(chan error, 1)
		go func() {
			for {
				m, err := srv.ReadMessage()
				if err != nil {
					done <- err
					return
				}
				if len(m.Buf) == 0 || len(m.Buf) > int(cfg.MaxFragmentedSize) {
					done <- errors.New("delivered a message of the wrong size")
					return
				}
			}
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrDisconnected) {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("responder still up after the peer left")
		}
	})
}
