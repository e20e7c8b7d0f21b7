package iwarp

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// benchRDMA runs b.N RDMA Writes or Reads of n bytes from one QP to the
// other, with a window of outstanding requests (only every 'window'th
// signaled, as an SMB-Direct peer would).
func benchRDMA(b *testing.B, op rdma.Opcode, n int, crc bool) {
	cli, srv := pair(b, Options{CRC: crc}, Options{}, rdma.ConnParams{IRD: 16, ORD: 16}, rdma.ConnParams{IRD: 16, ORD: 16})
	prime(b, cli, srv)
	const window = 8
	remote, _ := srv.RegisterMR(nil, n, rdma.AccessRemoteWrite|rdma.AccessRemoteRead)
	local, _ := cli.RegisterMR(nil, n, rdma.AccessLocalWrite)
	// PostSend through the interface: a reused slice, not a variadic list
	// (which the compiler would allocate per call).
	wrs := []rdma.SendWR{{Op: op, Local: [][]byte{local.Buf()}, LocalMR: local, RemoteSTag: remote.STag(), Length: uint32(n)}}
	wr := &wrs[0]
	cs := make([]rdma.Completion, 4)
	ctx := context.Background()
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	inflight := 0
	for i := 0; i < b.N; i++ {
		wr.ID = uint64(i)
		wr.Signaled = i%window == window-1 || i == b.N-1
		if err := cli.PostSend(wrs...); err != nil {
			b.Fatal(err)
		}
		if wr.Signaled {
			inflight++
		}
		for inflight > 1 || (i == b.N-1 && inflight > 0) {
			got, err := cli.Poll(ctx, cs)
			if err != nil {
				b.Fatal(err)
			}
			inflight -= len(got)
		}
	}
}

func BenchmarkRDMAWrite1MiB(b *testing.B)    { benchRDMA(b, rdma.OpWrite, 1<<20, false) }
func BenchmarkRDMARead1MiB(b *testing.B)     { benchRDMA(b, rdma.OpRead, 1<<20, false) }
func BenchmarkRDMAWrite64KiB(b *testing.B)   { benchRDMA(b, rdma.OpWrite, 64<<10, false) }
func BenchmarkRDMAWrite1MiBCRC(b *testing.B) { benchRDMA(b, rdma.OpWrite, 1<<20, true) }

// BenchmarkSend1KiB: messages per second of 1 KiB Sends, receives reposted
// as they complete.
func BenchmarkSend1KiB(b *testing.B) {
	cli, srv := pair(b, Options{}, Options{}, rdma.ConnParams{}, rdma.ConnParams{})
	prime(b, cli, srv)
	const depth = 64
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, 1024)
		srv.PostRecv(rdma.RecvWR{ID: uint64(i), Buf: bufs[i]})
	}
	msg := make([]byte, 1024)
	wrs := []rdma.SendWR{{Op: rdma.OpSend, Local: [][]byte{msg}}}
	wr := &wrs[0]
	// credits: the receiver returns one per reposted receive (in-process
	// stand-in for SMB-Direct credits)
	credits := make(chan struct{}, depth)
	for range depth {
		credits <- struct{}{}
	}
	ccs := make([]rdma.Completion, 8)
	scs := make([]rdma.Completion, depth)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { // receiver: repost
		rwr := make([]rdma.RecvWR, 1)
		for got := 0; got < b.N; {
			cs, err := srv.Poll(ctx, scs)
			if err != nil {
				done <- err
				return
			}
			for _, c := range cs {
				rwr[0] = rdma.RecvWR{ID: c.ID, Buf: bufs[c.ID]}
				srv.PostRecv(rwr...)
				credits <- struct{}{}
			}
			got += len(cs)
		}
		done <- nil
	}()
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	// the sender keeps at most depth/2 messages in flight: a signaled send
	// every 16 and at most 2 outstanding signals (credit-like)
	inflight := 0
	for i := 0; i < b.N; i++ {
		<-credits
		wr.Signaled = i%16 == 15 || i == b.N-1
		if err := cli.PostSend(wrs...); err != nil {
			b.Fatal(err)
		}
		if wr.Signaled {
			inflight++
		}
		for inflight > 1 || (i == b.N-1 && inflight > 0) {
			cs, err := cli.Poll(ctx, ccs)
			if err != nil {
				b.Fatal(err)
			}
			inflight -= len(cs)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkTCPStream1MiB is the reference: a plain loopback TCP stream of
// 1 MiB writes, read into a 1 MiB buffer on the other side.
func BenchmarkTCPStream1MiB(b *testing.B) {
	c1, c2 := tcpPair(b)
	c1.SetNoDelay(true)
	const n = 1 << 20
	buf := make([]byte, n)
	done := make(chan error, 1)
	go func() {
		rb := make([]byte, n)
		for i := 0; i < b.N; i++ {
			if _, err := io.ReadFull(c2, rb); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	var w net.Conn = c1
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
