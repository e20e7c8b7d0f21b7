package main

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// pcapOf builds a classic little-endian pcap of Ethernet/IPv4/TCP frames:
// each packet is (source, TCP payload length), captured up to 96 bytes.
func pcapOf(pkts ...struct {
	src     [4]byte
	payload int
}) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 96)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for _, p := range pkts {
		frame := make([]byte, 14+20+32)
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+32+p.payload))
		ip[9] = 6
		copy(ip[12:], p.src[:])
		ip[20+12] = 8 << 4 // 32-byte TCP header
		orig := len(frame) + p.payload
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = binary.LittleEndian.AppendUint32(b, uint32(orig))
		b = append(b, frame...)
	}
	return b
}

func TestSummarizePcap(t *testing.T) {
	srv, cli := [4]byte{10, 0, 2, 15}, [4]byte{10, 0, 2, 2}
	type pk = struct {
		src     [4]byte
		payload int
	}
	data := pcapOf(pk{srv, 1448}, pk{srv, 1448}, pk{cli, 0}, pk{srv, 100}, pk{cli, 200}, pk{srv, 0})
	p, err := summarizePcap(bytes.NewReader(data), netip.AddrFrom4(srv))
	if err != nil {
		t.Fatal(err)
	}
	want := Packets{
		FromServer: Flow{Packets: 4, DataPackets: 3, PayloadMax: 1448, Payload: 2996},
		ToServer:   Flow{Packets: 2, DataPackets: 1, PayloadMax: 200, Payload: 200},
	}
	if *p != want {
		t.Fatalf("got %+v, want %+v", *p, want)
	}
	if m := p.FromServer.MeanPayload(); m < 998 || m > 999 {
		t.Fatalf("mean %v", m)
	}
	// Truncated files end the summary without an error past the header.
	for n := 24; n < len(data); n++ {
		if _, err := summarizePcap(bytes.NewReader(data[:n]), netip.AddrFrom4(srv)); err != nil {
			t.Fatalf("prefix %d: %v", n, err)
		}
	}
	if _, err := summarizePcap(bytes.NewReader(data[:10]), netip.AddrFrom4(srv)); err == nil {
		t.Fatal("short header accepted")
	}
}

func FuzzSummarizePcap(f *testing.F) {
	f.Add(pcapOf(struct {
		src     [4]byte
		payload int
	}{[4]byte{10, 0, 2, 15}, 1448}))
	f.Fuzz(func(t *testing.T, b []byte) {
		summarizePcap(bytes.NewReader(b), netip.AddrFrom4([4]byte{10, 0, 2, 15}))
	})
}

func TestParseCPU(t *testing.T) {
	out := "junk\ncpu  100 5 200 1000 50 7 8 9 30 0\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu  200 5 300 1500 60 7 8 9 40 0\n"
	a, ok := parseCPU(out, true)
	z, ok2 := parseCPU(out, false)
	if !ok || !ok2 {
		t.Fatal("no cpu line")
	}
	// busy = user+nice+system+irq+softirq+steal; guest fields are left out.
	if a.busy != 100+5+200+7+8+9 || a.total != a.busy+1000+50 {
		t.Fatalf("first %+v", a)
	}
	secs, frac := guestCPU(a, z)
	if secs != 2 || frac < 0.28 || frac > 0.29 {
		t.Fatalf("guestCPU %v %v", secs, frac)
	}
	if _, ok := parseCPU("nothing", true); ok {
		t.Fatal("found a cpu line in nothing")
	}
}
