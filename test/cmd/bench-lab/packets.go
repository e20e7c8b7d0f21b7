package main

// -packets: tcpdump on the lab link (inside the namespace) while a step
// runs, headers only; the pcap is summarized here per direction. On the
// tap, a GSO frame the guest's virtio NIC hands over in one piece shows as
// one packet larger than the MTU, which is what matters for the emulated
// guest's per-packet cost.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Packets summarizes one step's traffic on the lab link.
type Packets struct {
	FromServer Flow `json:"from_server"`
	ToServer   Flow `json:"to_server"`
}

// Flow is one direction.
type Flow struct {
	Packets     int   `json:"packets"`
	DataPackets int   `json:"data_packets"` // with TCP payload
	PayloadMax  int   `json:"payload_max"`
	Payload     int64 `json:"payload_bytes"`
}

// MeanPayload is the mean TCP payload of the packets that carry some.
func (f Flow) MeanPayload() float64 {
	if f.DataPackets == 0 {
		return 0
	}
	return float64(f.Payload) / float64(f.DataPackets)
}

func (p *Packets) String() string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("  from server: %d packets, %.1f MB (%d with data, mean %.0f B, max %d); to server: %d packets, %.1f MB",
		p.FromServer.Packets, float64(p.FromServer.Payload)/1e6, p.FromServer.DataPackets, p.FromServer.MeanPayload(), p.FromServer.PayloadMax,
		p.ToServer.Packets, float64(p.ToServer.Payload)/1e6)
}

type capture struct {
	cmd    *exec.Cmd
	file   string
	server netip.Addr
	done   chan struct{}
}

// startCapture runs tcpdump in the lab namespace on the link to the guest
// for the server port, and returns once it listens.
func (b *bench) startCapture(ctx context.Context, port int) (*capture, error) {
	iface := "lo" // NET=user: the guest's addresses are on the namespace's lo
	if out, err := b.lab.run(ctx, "ip", "-o", "link", "show").Output(); err == nil && bytes.Contains(out, []byte("smbd3tap0")) {
		iface = "smbd3tap0"
	}
	server, err := netip.ParseAddr(b.lab.env["SMBD3_LAB_SERVER"])
	if err != nil {
		return nil, err
	}
	c := &capture{file: filepath.Join(b.work, "step.pcap"), server: server, done: make(chan struct{})}
	os.Remove(c.file)
	c.cmd = b.lab.run(context.Background(), "tcpdump", "-i", iface, "-s", "128", "-U", "-n", "-w", c.file,
		"-Z", "root", fmt.Sprintf("tcp port %d", port))
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "listening on") {
				close(listening)
				once = true
			}
		}
		if !once {
			close(listening)
		}
		c.cmd.Wait()
		close(c.done)
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		c.stop()
		return nil, fmt.Errorf("tcpdump did not start")
	}
	return c, nil
}

// stop ends the capture and summarizes it.
func (c *capture) stop() *Packets {
	time.Sleep(200 * time.Millisecond) // let the last packets through -U
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
	f, err := os.Open(c.file)
	if err != nil {
		return nil
	}
	defer f.Close()
	p, err := summarizePcap(bufio.NewReader(f), c.server)
	if err != nil {
		logf("pcap: %v", err)
	}
	return p
}

// summarizePcap reads a classic pcap file of Ethernet frames and counts
// IPv4 TCP packets by direction relative to server.
func summarizePcap(r io.Reader, server netip.Addr) (*Packets, error) {
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return nil, err
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(gh[:]) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("not a pcap file")
	}
	if lt := bo.Uint32(gh[20:]); lt != 1 {
		return nil, fmt.Errorf("link type %d, want Ethernet", lt)
	}
	p := &Packets{}
	var rh [16]byte
	buf := make([]byte, 0, 256)
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return p, nil
			}
			return p, err
		}
		incl, orig := int(bo.Uint32(rh[8:])), int(bo.Uint32(rh[12:]))
		if incl > 1<<18 {
			return p, fmt.Errorf("record of %d bytes", incl)
		}
		buf = buf[:0]
		if cap(buf) < incl {
			buf = make([]byte, 0, incl)
		}
		buf = buf[:incl]
		if _, err := io.ReadFull(r, buf); err != nil {
			return p, nil
		}
		// Ethernet, IPv4, TCP.
		if len(buf) < 14+20 || binary.BigEndian.Uint16(buf[12:]) != 0x0800 {
			continue
		}
		ip := buf[14:]
		ihl := int(ip[0]&0xf) * 4
		if ip[9] != 6 || len(ip) < ihl+20 {
			continue
		}
		thl := int(ip[ihl+12]>>4) * 4
		payload := orig - 14 - ihl - thl
		if tot := int(binary.BigEndian.Uint16(ip[2:])); tot != 0 && tot <= orig-14 {
			payload = tot - ihl - thl // without Ethernet padding
		}
		src := netip.AddrFrom4([4]byte(ip[12:16]))
		fl := &p.ToServer
		if src == server {
			fl = &p.FromServer
		}
		fl.Packets++
		if payload > 0 {
			fl.DataPackets++
			fl.Payload += int64(payload)
			fl.PayloadMax = max(fl.PayloadMax, payload)
		}
	}
}
