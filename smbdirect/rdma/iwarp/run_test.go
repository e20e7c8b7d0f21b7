package iwarp

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Run reads (rxReader.ReadRun): segments of one tagged message read in
// one system call on the guess that they follow each other in equal
// sizes. These tests send streams whose segments break the guess in
// every way (other sizes, a short last segment, a Send right behind,
// writes that go back below earlier ones) and deliver them in pieces of
// random size with pauses between, so that reads end inside headers,
// gaps and payloads; the memory must hold what the peer wrote, and
// nothing the peer did not write may be spoiled.

// seg is one tagged segment: payload length and Last flag.
type seg struct {
	n    int
	last bool
}

// trickle writes b to the peer's socket in pieces of random size with
// short pauses, so that the receiver's reads end at random places.
func trickle(t *testing.T, p *rawPeer, b []byte, r *rand.Rand) {
	t.Helper()
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(96<<10))
		p.send(t, b[:n])
		b = b[n:]
		if r.IntN(3) == 0 {
			time.Sleep(time.Duration(r.IntN(400)) * time.Microsecond)
		}
	}
}

// tagged frames the segments of one message of op to stag from to,
// with payload from data[to:].
func tagged(op Opcode, stag uint32, to uint64, segs []seg, data []byte) []byte {
	var b []byte
	for _, s := range segs {
		b = append(b, fpdu(Header{Tagged: true, Last: s.last, Opcode: op, STag: stag, TO: to}, nil, data[to:to+uint64(s.n)], false)...)
		to += uint64(s.n)
	}
	return b
}

func TestRunWrites(t *testing.T) {
	const size = 512 << 10
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		p, q := hostile(t, false)
		m, all := guarded(t, q, size, rdma.AccessRemoteWrite)
		region := all[guard : guard+size]
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		written := make([]bool, size)
		write := func(to uint64, segs ...seg) []byte {
			end := to
			for _, s := range segs {
				end += uint64(s.n)
			}
			for i := to; i < end; i++ {
				written[i] = true
			}
			return tagged(OpRDMAWrite, m.STag(), to, segs, data)
		}
		var wire []byte
		// Equal segments: the guess holds.
		wire = append(wire, write(0, seg{32 << 10, false}, seg{32 << 10, false}, seg{32 << 10, false}, seg{32 << 10, false}, seg{32 << 10, true})...)
		// Sizes that change: the guess fails on the second segment.
		wire = append(wire, write(160<<10, seg{20 << 10, false}, seg{40 << 10, false}, seg{20 << 10, false}, seg{20 << 10, true})...)
		// Written first, above the next message: must survive it.
		wire = append(wire, write(320<<10, seg{32 << 10, true})...)
		// Below it, with a short last segment: no guess may reach 320K.
		wire = append(wire, write(256<<10, seg{32 << 10, false}, seg{17 << 10, true})...)
		// A short last segment with a Send right behind it.
		wire = append(wire, write(384<<10, seg{32 << 10, false}, seg{32 << 10, false}, seg{5000, true})...)
		recv := make([]byte, 64)
		if err := q.PostRecv(rdma.RecvWR{ID: 9, Buf: recv}); err != nil {
			t.Fatal(err)
		}
		wire = append(wire, fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("end of the writes"), false)...)
		trickle(t, p, wire, r)
		c := poll1(t, q)
		if c.ID != 9 || c.Err != nil || string(recv[:c.Len]) != "end of the writes" {
			t.Fatalf("seed %d: send after the writes: %+v %q", seed, c, recv[:c.Len])
		}
		checkGuards(t, all)
		// Every byte the peer wrote is there, the earlier message above
		// the later one's end included. (Where the peer wrote nothing, a
		// wrong guess may have left stream bytes: see rxWrite.)
		for i := range region {
			if written[i] && region[i] != data[i] {
				t.Fatalf("seed %d: byte %d (%#x) differs from what the peer wrote", seed, i, i)
			}
		}
	}
}

func TestRunReadResponses(t *testing.T) {
	const size = 512 << 10
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 11))
		p, q := hostile(t, false)
		// The responder speaks first (MPA): an empty RDMA Write.
		p.send(t, fpdu(Header{Tagged: true, Last: true, Opcode: OpRDMAWrite, STag: 1}, nil, nil, false))
		sink, all := guarded(t, q, size, rdma.AccessLocalWrite)
		region := all[guard : guard+size]
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		reads := []struct {
			off  uint64
			segs []seg
		}{
			{0, []seg{{64<<10 - 64, false}, {64<<10 - 64, false}, {64<<10 - 64, false}, {64<<10 - 64, false}, {256, true}}},
			{256 << 10, []seg{{20 << 10, false}, {40 << 10, false}, {20 << 10, false}, {20 << 10, true}}},
			{360 << 10, []seg{{32 << 10, false}, {24 << 10, false}, {32 << 10, false}, {8 << 10, true}}},
			{456 << 10, []seg{{16 << 10, false}, {16 << 10, false}, {16 << 10, false}, {5 << 10, true}}},
		}
		recv := make([]byte, 64)
		if err := q.PostRecv(rdma.RecvWR{ID: 9, Buf: recv}); err != nil {
			t.Fatal(err)
		}
		for i, rd := range reads {
			n := 0
			for _, s := range rd.segs {
				n += s.n
			}
			if err := q.PostSend(rdma.SendWR{ID: uint64(i), Op: rdma.OpRead, LocalMR: sink,
				Local: [][]byte{region[rd.off : rd.off+uint64(n)]}, RemoteSTag: 0x4242, RemoteOffset: rd.off,
				Length: uint32(n), Signaled: true}); err != nil {
				t.Fatal(err)
			}
			u, err := p.readFPDU()
			if err != nil {
				t.Fatal(err)
			}
			var h Header
			var rr ReadRequest
			if h.Unmarshal(u) != nil || h.Opcode != OpReadRequest || rr.Unmarshal(u[UntaggedHeaderLen:]) != nil {
				t.Fatalf("expected a Read Request, got %x", u[:min(len(u), 32)])
			}
			wire := tagged(OpReadResponse, rr.SinkSTag, rr.SinkTO, rd.segs, shift(data, rd.off, rr.SinkTO))
			if i == len(reads)-1 {
				wire = append(wire, fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("after the reads"), false)...)
			}
			trickle(t, p, wire, r)
			c := poll1(t, q)
			if c.ID != uint64(i) || c.Err != nil || c.Op != rdma.OpRead || c.Len != n {
				t.Fatalf("seed %d read %d: %+v", seed, i, c)
			}
			if d := firstDiff(region[rd.off:rd.off+uint64(n)], data[rd.off:rd.off+uint64(n)]); d >= 0 {
				t.Fatalf("seed %d read %d: sink differs at byte %d", seed, i, d)
			}
		}
		c := poll1(t, q)
		if c.ID != 9 || c.Err != nil || string(recv[:c.Len]) != "after the reads" {
			t.Fatalf("seed %d: send after the reads: %+v", seed, c)
		}
		checkGuards(t, all)
	}
}

// shift returns a slice whose index to holds data[off]: the payload the
// responder sends for sink TO to.
func shift(data []byte, off, to uint64) []byte {
	b := make([]byte, to+uint64(len(data))-off)
	copy(b[to:], data[off:])
	return b
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// FuzzRunWrites sends RDMA Writes of sizes, offsets and Last flags the
// fuzzer picks, large enough for run reads, in pieces of sizes it picks,
// then a Send. The QP must not panic, must touch nothing outside the
// region, and when it took the stream, every byte the peer wrote must
// hold what the peer wrote last there.
func FuzzRunWrites(f *testing.F) {
	f.Add([]byte{0x80, 0x80, 0x80, 0x81}, []byte{7, 200, 3})
	f.Add([]byte{0x80, 0x40, 0x93, 0x80, 0x81}, []byte{1, 2, 3, 4, 5, 6})
	f.Add([]byte{0x90, 0x90, 0x20, 0x90, 0x91, 0x05}, []byte{255})
	f.Fuzz(func(t *testing.T, plan, cuts []byte) {
		const size = 256 << 10
		if len(plan) > 24 {
			plan = plan[:24]
		}
		p, q := hostile(t, false)
		m, all := guarded(t, q, size, rdma.AccessRemoteWrite)
		region := all[guard : guard+size]
		model := make([]int, size) // index+1 of the data byte last written, 0 none
		var wire []byte
		to := uint64(0)
		for i, b := range plan {
			// b: bit 0 Last, bits 1-5 payload in 2 KiB steps (0 = 1 byte),
			// bit 6 a jump to another offset.
			n := int(b>>1&0x1f) << 11
			if n == 0 {
				n = 1
			}
			if b&0x40 != 0 && i > 0 {
				to = uint64(int(b)*3<<10) % size // jump somewhere else
			}
			if to+uint64(n) > size {
				to = 0
			}
			payload := make([]byte, n)
			for j := range payload {
				payload[j] = byte(i*31 + j)
				model[int(to)+j] = i*65536 + j + 1
			}
			wire = append(wire, fpdu(Header{Tagged: true, Last: b&1 != 0, Opcode: OpRDMAWrite, STag: m.STag(), TO: to}, nil, payload, false)...)
			to += uint64(n)
		}
		recv := make([]byte, 16)
		q.PostRecv(rdma.RecvWR{ID: 9, Buf: recv})
		wire = append(wire, fpdu(untagged(OpSend, QNSend, 1, 0, true), nil, []byte("end"), false)...)
		for k := 0; len(wire) > 0; k++ {
			n := len(wire)
			if len(cuts) > 0 {
				n = min(n, 1+int(cuts[k%len(cuts)])*97)
			}
			if _, err := p.c.Write(wire[:n]); err != nil {
				break
			}
			wire = wire[n:]
		}
		c := poll1(t, q)
		checkGuards(t, all)
		if c.ID != 9 || c.Err != nil || string(recv[:c.Len]) != "end" {
			t.Fatalf("send after the writes: %+v", c)
		}
		for i, w := range model {
			if w == 0 {
				continue
			}
			seq, off := (w-1)/65536, (w-1)%65536
			if region[i] != byte(seq*31+off) {
				t.Fatalf("byte %d: %#x, the peer wrote %#x (write %d)", i, region[i], byte(seq*31+off), seq)
			}
		}
	})
}
