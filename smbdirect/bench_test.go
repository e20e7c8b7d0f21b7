package smbdirect_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/smbd3/mount.smbd3/internal/rdmabench"
	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/internal/loop"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// The benchmarks run the loops of internal/rdmabench (shared with make
// bench-rdma) over the in-process loop provider (the transport's own cost)
// and over iWARP on 127.0.0.1.

var loopAddrs atomic.Int64

func forEachProviderB(b *testing.B, f func(b *testing.B, p rdma.Provider, addr string)) {
	b.Run("loop", func(b *testing.B) { f(b, loop.New(), fmt.Sprintf("bench%d", loopAddrs.Add(1))) })
	b.Run("iwarp", func(b *testing.B) { f(b, rdmabench.Provider(), "127.0.0.1:0") })
}

func run(b *testing.B, r rdmabench.Runner, err error, bytes int64) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	if err := r.Run(b.N); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundTrip: initiator → echoing responder → initiator, 100 bytes.
func BenchmarkRoundTrip(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, p rdma.Provider, addr string) {
		r, err := rdmabench.NewRoundTrip(p, addr, 100)
		run(b, r, err, 0)
	})
}

// BenchmarkThroughput1MiB: 1 MiB messages one way (fragmented to the
// default 8136-byte sends), the reader recycling its buffers.
func BenchmarkThroughput1MiB(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, p rdma.Provider, addr string) {
		s, err := rdmabench.NewStream(p, addr, 1<<20)
		run(b, s, err, 1<<20)
	})
}

// BenchmarkOffloadRead: per I/O, register 1 MiB for a READ, the peer
// RDMA-Writes it and answers with Send with Invalidate, release.
func BenchmarkOffloadRead(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, p rdma.Provider, addr string) {
		o, err := rdmabench.NewOffload(p, addr, smbdirect.ForRead, 1<<20)
		run(b, o, err, 1<<20)
	})
}

// BenchmarkOffloadWrite: the same for a WRITE (the peer RDMA-Reads).
func BenchmarkOffloadWrite(b *testing.B) {
	forEachProviderB(b, func(b *testing.B, p rdma.Provider, addr string) {
		o, err := rdmabench.NewOffload(p, addr, smbdirect.ForWrite, 1<<20)
		run(b, o, err, 1<<20)
	})
}
