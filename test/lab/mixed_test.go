package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// TestLabMixedChannels: one session with TCP and SMB-Direct channels.
// ksmbd advertises eth0 as RDMA-capable (10.0.2.15) and dummy0 as RSS
// (10.0.2.100), so multichannel adds SMB-Direct channels to
// 10.0.2.15:5445 and TCP channels to 10.0.2.100:445. The session starts
// over TCP, or over SMB-Direct (mount -o rdma,multichannel), which must
// not carry over to the TCP channels. Both kinds must carry I/O; data is
// checked on the guest's disk.
func TestLabMixedChannels(t *testing.T) {
	for _, startRDMA := range []bool{false, true} {
		t.Run(fmt.Sprintf("start-rdma=%v", startRDMA), func(t *testing.T) { mixedChannels(t, startRDMA) })
	}
}

func mixedChannels(t *testing.T, startRDMA bool) {
	lab := labEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var refused []string
	check := func(addr string, allowed ...string) error {
		if slices.Contains(allowed, addr) {
			return nil
		}
		mu.Lock()
		refused = append(refused, addr)
		mu.Unlock()
		return fmt.Errorf("test refuses to dial %s", addr)
	}
	tcp := func(ctx context.Context, addr string) (channel.Transport, error) {
		if err := check(addr, lab.smb, lab.rss); err != nil {
			return nil, err
		}
		return channel.DialTCP(ctx, addr)
	}
	rdmaTo := rdmaDial(false)
	rdma := func(ctx context.Context, addr string) (channel.Transport, error) {
		if err := check(addr, lab.smbd); err != nil {
			return nil, err
		}
		return rdmaTo(ctx, addr)
	}
	s, err := session.Dial(ctx, session.Config{
		Addr: lab.smb, Host: strings.Split(lab.smb, ":")[0], User: lab.user, Password: lab.pass,
		Dial: tcp, DialRDMA: rdma, StartRDMA: startRDMA, Multichannel: true, MaxChannels: 4,
		Timeout: 30 * time.Second, DialTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if first := s.Channels()[0]; startRDMA != (first.Transport == "rdma") {
		t.Fatalf("first channel %s to %s", first.Transport, first.ServerAddress)
	}
	tr, err := s.Mount(ctx, lab.share)
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the channels the interface list calls for.
	deadline := time.Now().Add(30 * time.Second)
	// Starting over TCP: TCP to eth0 and dummy0, SMB-Direct to eth0.
	// Starting over SMB-Direct: SMB-Direct to eth0, TCP to dummy0.
	wantTCP := 2
	if startRDMA {
		wantTCP = 1
	}
	kinds := map[string]int{}
	for time.Now().Before(deadline) {
		kinds = map[string]int{}
		for _, c := range s.Channels() {
			if c.State == "active" {
				kinds[c.Transport]++
			}
		}
		if kinds["rdma"] > 0 && kinds["tcp"] >= wantTCP {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if kinds["rdma"] == 0 || kinds["tcp"] < wantTCP {
		t.Fatalf("channels: %+v", s.Channels())
	}
	data := make([]byte, 24<<20)
	rand.Read(data)
	f, err := tr.Create(ctx, "mixed.bin", session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite, Disposition: smb2.FileOverwriteIf})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := f.WriteAt(ctx, data, 0); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, len(data))
		if _, err := f.ReadAt(ctx, back, 0); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("read back: %v", err)
		}
	}
	f.Close(ctx)
	moved := map[string]uint64{}
	for _, c := range s.Channels() {
		moved[c.Transport] += c.BytesRead + c.BytesWritten
		host, _, _ := net.SplitHostPort(c.ServerAddress)
		t.Logf("channel %d %s %s: read %d written %d (RDMA %d/%d)", c.ID, c.Transport, host, c.BytesRead, c.BytesWritten, c.RDMABytesRead, c.RDMABytesWritten)
	}
	if moved["rdma"] < 1<<20 || moved["tcp"] < 1<<20 {
		t.Fatalf("both transports must carry I/O: %v", moved)
	}
	mu.Lock()
	if len(refused) > 0 {
		t.Errorf("the session tried to dial %v (TCP to %s and %s, SMB-Direct to %s only)", refused, lab.smb, lab.rss, lab.smbd)
	}
	mu.Unlock()
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	if g := guest(t, "sha256sum /srv/share/mixed.bin"); !strings.Contains(g, sum) {
		t.Fatalf("guest's copy differs: %s", g)
	}
}
