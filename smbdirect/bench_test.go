package smbdirect

import (
	"context"
	"net"
	"testing"
)

func forEachProviderB(b *testing.B, f func(b *testing.B, e provEnv)) {
	for _, e := range envs() {
		b.Run(e.name, func(b *testing.B) { f(b, e) })
	}
}

// BenchmarkRoundTrip: initiator → echo responder → initiator, 100 bytes.
func BenchmarkRoundTrip(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, e provEnv) {
		cli, srv := pair(b, e.new(b), e.addr(), Config{}, Config{})
		go echo(srv)
		msg := net.Buffers{make([]byte, 100)}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := cli.WriteMessage(ctx, msg); err != nil {
				b.Fatal(err)
			}
			if _, err := cli.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkThroughput1MiB: 1 MiB messages one way (fragmented to the
// default 8136-byte sends), reader discarding.
func BenchmarkThroughput1MiB(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, e provEnv) {
		// The reader recycles message buffers through Config.Alloc, as the
		// channel layer does with its pool.
		pool := make(chan []byte, 8)
		scfg := Config{Alloc: func(n int) []byte {
			select {
			case p := <-pool:
				if cap(p) >= n {
					return p[:n]
				}
			default:
			}
			return make([]byte, n)
		}}
		cli, srv := pair(b, e.new(b), e.addr(), Config{}, scfg)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				m, err := srv.ReadMessage()
				if err != nil {
					return
				}
				select {
				case pool <- m.Buf:
				default:
				}
			}
		}()
		msg := net.Buffers{make([]byte, 1<<20)}
		ctx := context.Background()
		b.SetBytes(1 << 20)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := cli.WriteMessage(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cli.Close()
		<-done
	})
}

// BenchmarkOffloadRead: register a 1 MiB READ region, the peer RDMA-Writes
// it and answers with Send with Invalidate.
func BenchmarkOffloadRead(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, e provEnv) {
		cli, srv := pair(b, e.new(b), e.addr(), Config{}, Config{})
		go offloadServer(srv)
		ctx := context.Background()
		b.SetBytes(1 << 20)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r, err := cli.Alloc(1<<20, ForRead)
			if err != nil {
				b.Fatal(err)
			}
			if err := cli.WriteMessage(ctx, net.Buffers{offloadReq(opFill, r.Token(), r)}); err != nil {
				b.Fatal(err)
			}
			m, err := cli.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if ok, _ := r.CheckInvalidated(m); !ok {
				b.Fatal("not invalidated")
			}
			r.Release()
		}
	})
}
