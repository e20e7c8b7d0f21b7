package iwarp_test

import (
	"testing"

	"github.com/smbd3/mount.smbd3/internal/rdmabench"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// The benchmarks run the loops of internal/rdmabench, shared with make
// bench-rdma (which runs them side by side with the TCP references and
// prints ratios).

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

func benchRDMA(b *testing.B, op rdma.Opcode, n int, crc bool) {
	r, err := rdmabench.NewRDMA(op, n, crc)
	run(b, r, err, int64(n))
}

func BenchmarkRDMAWrite1MiB(b *testing.B)    { benchRDMA(b, rdma.OpWrite, 1<<20, false) }
func BenchmarkRDMARead1MiB(b *testing.B)     { benchRDMA(b, rdma.OpRead, 1<<20, false) }
func BenchmarkRDMAWrite64KiB(b *testing.B)   { benchRDMA(b, rdma.OpWrite, 64<<10, false) }
func BenchmarkRDMARead64KiB(b *testing.B)    { benchRDMA(b, rdma.OpRead, 64<<10, false) }
func BenchmarkRDMAWrite1MiBCRC(b *testing.B) { benchRDMA(b, rdma.OpWrite, 1<<20, true) }

// BenchmarkSend1KiB: 1 KiB Sends, receives reposted as they complete.
func BenchmarkSend1KiB(b *testing.B) {
	s, err := rdmabench.NewSends(1024)
	run(b, s, err, 1024)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkTCPStream1MiB is the reference: a plain loopback TCP stream of
// 1 MiB writes, read into a 1 MiB buffer on the other side.
func BenchmarkTCPStream1MiB(b *testing.B) {
	s, err := rdmabench.NewTCPStream(1 << 20)
	run(b, s, err, 1<<20)
}
