package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// recorder wraps Config.Dial: it records every address dialed and keeps
// the transports so a test can break one.
type recorder struct {
	mu     sync.Mutex
	dialed []string
	ts     []*breakable
}

func (r *recorder) dial(ctx context.Context, addr string) (channel.Transport, error) {
	r.mu.Lock()
	r.dialed = append(r.dialed, addr)
	r.mu.Unlock()
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// The network rule: tests never dial anything but loopback.
		return nil, fmt.Errorf("test refuses to dial non-loopback %s", addr)
	}
	t, err := channel.DialTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	b := &breakable{Transport: t, stall: make(chan struct{})}
	r.mu.Lock()
	r.ts = append(r.ts, b)
	r.mu.Unlock()
	return b, nil
}

func (r *recorder) transports() []*breakable {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*breakable(nil), r.ts...)
}

// breakable is a transport a test can cut (close: like an RST) or stall
// (link pulled: nothing arrives, nothing is sent, no error).
type breakable struct {
	channel.Transport
	once  sync.Once
	stall chan struct{}
}

func (b *breakable) Stall() { b.once.Do(func() { close(b.stall) }) }

func (b *breakable) stalled() bool {
	select {
	case <-b.stall:
		return true
	default:
		return false
	}
}

func (b *breakable) WriteMessage(ctx context.Context, msg net.Buffers) error {
	if b.stalled() {
		return nil // swallowed by the dead link
	}
	return b.Transport.WriteMessage(ctx, msg)
}

func (b *breakable) ReadMessage(place channel.Placer) (*channel.Message, error) {
	m, err := b.Transport.ReadMessage(place)
	if err == nil && b.stalled() {
		m.Release()
		// Nothing more arrives until the transport is closed.
		for {
			m, err := b.Transport.ReadMessage(nil)
			if err != nil {
				return nil, err
			}
			m.Release()
		}
	}
	return m, err
}

func mcServer(t *testing.T, o samba.Options) *samba.Server {
	o.MultiChannel = true
	if o.Interfaces == nil {
		o.Interfaces = []samba.Interface{
			{Addr: "127.0.0.1", SpeedBps: 1e9},
			{Addr: "127.0.0.2", SpeedBps: 1e9},
			{Addr: "127.0.0.3", SpeedBps: 1e9},
		}
	}
	return samba.Start(t, o)
}

func mcDial(t *testing.T, srv *samba.Server, rec *recorder, mod func(*session.Config)) *session.Session {
	return dial(t, srv, func(c *session.Config) {
		c.Multichannel = true
		c.Dial = rec.dial
		if testing.Verbose() {
			c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		if mod != nil {
			mod(c)
		}
	})
}

// waitChannels waits until the session has n active channels.
func waitChannels(t *testing.T, s *session.Session, n int, within time.Duration) []session.ChannelInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		chans := s.Channels()
		active := 0
		for _, c := range chans {
			if c.State == "active" {
				active++
			}
		}
		if active == n {
			return chans
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d active channels after %v, want %d: %+v", active, within, n, chans)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func activeAddrs(chans []session.ChannelInfo) map[string]int {
	m := map[string]int{}
	for _, c := range chans {
		if c.State == "active" {
			h, _, _ := net.SplitHostPort(c.ServerAddress)
			m[h]++
		}
	}
	return m
}

// checkSpread writes and reads a file and checks every channel moved data.
func checkSpread(t *testing.T, srv *samba.Server, s *session.Session, tr *session.Tree, name string, size int) {
	t.Helper()
	before := map[string]session.ChannelInfo{}
	for _, c := range s.Channels() {
		before[c.LocalAddress] = c
	}
	data := randBytes(size)
	writeFile(t, tr, name, data)
	got := readFile(t, tr, name)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("read back differs")
	}
	disk, err := os.ReadFile(filepath.Join(srv.Dir, name))
	if err != nil || sha256.Sum256(disk) != sha256.Sum256(data) {
		t.Fatalf("file on the server's disk differs: %v", err)
	}
	var rd, wr uint64
	for _, c := range s.Channels() {
		if c.State != "active" {
			continue
		}
		b := before[c.LocalAddress]
		dr, dw := c.BytesRead-b.BytesRead, c.BytesWritten-b.BytesWritten
		t.Logf("channel %s -> %s: read %d MiB, written %d MiB, %d requests, latency %.2f ms",
			c.LocalAddress, c.ServerAddress, dr>>20, dw>>20, c.Requests, c.LatencyMs)
		// Every channel carries a share of the traffic. The share is
		// counted over both directions: the picker rightly steers one
		// direction away from a channel that a loaded machine stalled
		// for a moment.
		if dr+dw < 2*uint64(size)/16 {
			t.Errorf("channel %s moved little: read %d, written %d of %d each way", c.ServerAddress, dr, dw, size)
		}
		rd += dr
		wr += dw
	}
	if rd < uint64(size) || wr < uint64(size) {
		t.Errorf("channels read %d and wrote %d bytes, want at least %d", rd, wr, size)
	}
}

// smbdConns lists the established TCP connections to the server's port
// with the pid of the process at the server end.
func smbdConns(t *testing.T, port int) map[string]string {
	t.Helper()
	out, err := exec.Command("ss", "-Htnp", "state", "established", fmt.Sprintf("( sport = :%d )", port)).CombinedOutput()
	if err != nil {
		t.Logf("ss: %v %s", err, out)
		return nil
	}
	re := regexp.MustCompile(`pid=(\d+)`)
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		pid := ""
		if p := re.FindStringSubmatch(line); p != nil {
			pid = p[1]
		}
		m[f[3]] = pid // peer address: our local end
	}
	return m
}

func TestMultichannelBind(t *testing.T) {
	for _, signing := range []bool{false, true} {
		srv := mcServer(t, samba.Options{SigningMandatory: signing})
		for _, d := range []smb2.Dialect{smb2.Dialect302, smb2.Dialect311} {
			for _, seal := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/signing=%v/seal=%v", d, signing, seal), func(t *testing.T) {
					rec := &recorder{}
					s := mcDial(t, srv, rec, func(c *session.Config) { c.Dialect = d; c.Seal = seal })
					if s.Signing() != signing {
						t.Fatalf("signing %v", s.Signing())
					}
					tr := mount(t, s, srv.Share)
					chans := waitChannels(t, s, 3, 10*time.Second)
					if a := activeAddrs(chans); a["127.0.0.1"] != 1 || a["127.0.0.2"] != 1 || a["127.0.0.3"] != 1 {
						t.Fatalf("channels to %v, want one to each of 127.0.0.1-3", a)
					}
					checkSpread(t, srv, s, tr, fmt.Sprintf("mc-%s-%v-%v", d, signing, seal), 48<<20)
					// The three connections end at one smbd process.
					pids := map[string]bool{}
					conns := smbdConns(t, srv.Port)
					for _, c := range chans {
						if p, ok := conns[c.LocalAddress]; ok {
							pids[p] = true
						} else {
							t.Errorf("ss does not list our connection %s", c.LocalAddress)
						}
					}
					if len(pids) != 1 {
						t.Errorf("channels end at smbd pids %v, want one process", pids)
					}
				})
			}
		}
	}
}

// TestMultichannelMaxChannels: RSS interfaces take more than one
// connection each, up to MaxChannels.
func TestMultichannelMaxChannels(t *testing.T) {
	srv := mcServer(t, samba.Options{Interfaces: []samba.Interface{
		{Addr: "127.0.0.1", SpeedBps: 1e9, RSS: true},
		{Addr: "127.0.0.2", SpeedBps: 1e9, RSS: true},
	}})
	rec := &recorder{}
	s := mcDial(t, srv, rec, func(c *session.Config) { c.MaxChannels = 6 })
	tr := mount(t, s, srv.Share)
	chans := waitChannels(t, s, 6, 15*time.Second)
	if a := activeAddrs(chans); a["127.0.0.1"] != 3 || a["127.0.0.2"] != 3 {
		t.Fatalf("channels %v, want 3 per address", a)
	}
	checkSpread(t, srv, s, tr, "six", 64<<20)
	time.Sleep(1500 * time.Millisecond)
	for _, c := range s.Channels() {
		if c.ThroughputReadBps == 0 && c.ThroughputWriteBps == 0 && c.CapacityBps == 0 {
			t.Errorf("channel %s has no rates: %+v", c.LocalAddress, c)
		}
	}
}

// TestMultichannelOddServers: what the server offers is used and
// nothing else; none of it fails the mount.
func TestMultichannelOddServers(t *testing.T) {
	t.Run("unreachable address", func(t *testing.T) {
		// 127.0.0.9 is advertised (in the configuration after the
		// server has bound its addresses) but nothing listens there.
		srv := mcServer(t, samba.Options{Interfaces: []samba.Interface{
			{Addr: "127.0.0.1", SpeedBps: 1e9}, {Addr: "127.0.0.2", SpeedBps: 1e9},
		}})
		rec := &recorder{}
		s := mcDial(t, srv, rec, func(c *session.Config) {
			dial := c.Dial
			c.Dial = func(ctx context.Context, addr string) (channel.Transport, error) {
				if strings.HasPrefix(addr, "127.0.0.2:") {
					return nil, fmt.Errorf("connect %s: connection refused (test)", addr)
				}
				return dial(ctx, addr)
			}
		})
		tr := mount(t, s, srv.Share)
		time.Sleep(500 * time.Millisecond)
		chans := s.Channels()
		a := activeAddrs(chans)
		if a["127.0.0.1"] != 1 || len(a) != 1 {
			t.Fatalf("channels %v", a)
		}
		found := false
		for _, c := range chans {
			if c.State == "reconnecting" && strings.HasPrefix(c.ServerAddress, "127.0.0.2:") && c.LastError != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("the unreachable address is not reported: %+v", chans)
		}
		data := randBytes(5 << 20)
		writeFile(t, tr, "u", data)
		if !bytes.Equal(readFile(t, tr, "u"), data) {
			t.Fatal("read back differs")
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, a := range rec.dialed {
			if !strings.HasPrefix(a, "127.0.0.1:") && !strings.HasPrefix(a, "127.0.0.2:") {
				t.Errorf("dialed %s, which the server did not advertise", a)
			}
		}
	})
	t.Run("no extra interfaces", func(t *testing.T) {
		srv := mcServer(t, samba.Options{Interfaces: []samba.Interface{}})
		rec := &recorder{}
		s := mcDial(t, srv, rec, nil)
		tr := mount(t, s, srv.Share)
		time.Sleep(500 * time.Millisecond)
		waitChannels(t, s, 1, time.Second)
		data := randBytes(3 << 20)
		writeFile(t, tr, "e", data)
		if !bytes.Equal(readFile(t, tr, "e"), data) {
			t.Fatal("read back differs")
		}
	})
	t.Run("server without multichannel", func(t *testing.T) {
		srv := samba.Start(t, samba.Options{MultiChannel: false, Interfaces: []samba.Interface{{Addr: "127.0.0.2"}}})
		rec := &recorder{}
		s := mcDial(t, srv, rec, nil)
		tr := mount(t, s, srv.Share)
		time.Sleep(500 * time.Millisecond)
		waitChannels(t, s, 1, time.Second)
		data := randBytes(3 << 20)
		writeFile(t, tr, "n", data)
		if !bytes.Equal(readFile(t, tr, "n"), data) {
			t.Fatal("read back differs")
		}
		if len(rec.dialed) != 1 {
			t.Errorf("dialed %v", rec.dialed)
		}
	})
	t.Run("binding refused", func(t *testing.T) {
		// A second smbd (another server) behind 127.0.0.2: its ServerGuid
		// differs, so the new connection is dropped after NEGOTIATE; the
		// session keeps its first channel and reports the refusal.
		srv := mcServer(t, samba.Options{Interfaces: []samba.Interface{
			{Addr: "127.0.0.1", SpeedBps: 1e9}, {Addr: "127.0.0.2", SpeedBps: 1e9},
		}})
		other := samba.Start(t, samba.Options{MultiChannel: true})
		rec := &recorder{}
		s := mcDial(t, srv, rec, func(c *session.Config) {
			dial := c.Dial
			c.Dial = func(ctx context.Context, addr string) (channel.Transport, error) {
				if strings.HasPrefix(addr, "127.0.0.2:") {
					addr = other.Addr
				}
				return dial(ctx, addr)
			}
		})
		tr := mount(t, s, srv.Share)
		time.Sleep(time.Second)
		chans := s.Channels()
		if a := activeAddrs(chans); a["127.0.0.1"] != 1 || len(a) != 1 {
			t.Fatalf("channels %+v", chans)
		}
		refused := false
		for _, c := range chans {
			refused = refused || strings.Contains(c.LastError, "binding refused")
		}
		if !refused {
			t.Errorf("refusal not reported: %+v", chans)
		}
		data := randBytes(3 << 20)
		writeFile(t, tr, "b", data)
		if !bytes.Equal(readFile(t, tr, "b"), data) {
			t.Fatal("read back differs")
		}
	})
}

// TestMultichannelFailover breaks one of three channels in the middle of
// large reads and writes: no error reaches the caller, the data is right,
// and the channel comes back.
func TestMultichannelFailover(t *testing.T) {
	for _, mode := range []string{"close", "stall"} {
		for _, signing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/signing=%v", mode, signing), func(t *testing.T) {
				srv := mcServer(t, samba.Options{SigningMandatory: signing})
				rec := &recorder{}
				s := mcDial(t, srv, rec, func(c *session.Config) { c.Timeout = 2 * time.Second })
				tr := mount(t, s, srv.Share)
				waitChannels(t, s, 3, 10*time.Second)
				const size = 256 << 20
				data := randBytes(size)
				writeFile(t, tr, "big", data)
				want := sha256.Sum256(data)

				ctx := context.Background()
				f, err := tr.Create(ctx, "big", session.CreateOptions{
					Access: smb2.GenericRead | smb2.GenericWrite, Options: smb2.FileNonDirectoryFile,
				})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close(ctx)
				var victim *breakable
				for _, b := range rec.transports() {
					if strings.HasPrefix(b.RemoteAddr().String(), "127.0.0.2:") {
						victim = b
					}
				}
				go breakWhenBusy(s, victim, mode)
				h := sha256.New()
				buf := make([]byte, 8<<20)
				start := time.Now()
				for off := int64(0); off < size; off += int64(len(buf)) {
					n, err := f.ReadAt(ctx, buf, off)
					if err != nil && err != io.EOF {
						t.Fatalf("read at %d after %v: %v", off, time.Since(start), err)
					}
					h.Write(buf[:n])
				}
				if [32]byte(h.Sum(nil)) != want {
					t.Fatal("checksum differs after failover")
				}
				t.Logf("read 256 MiB through the failure in %v, %d replays", time.Since(start), s.Replays())
				if s.Replays() == 0 {
					t.Error("no request was replayed: the channel broke outside the read?")
				}
				// Writes through a second failure on the same path.
				waitChannels(t, s, 3, 15*time.Second)
				for _, b := range rec.transports() {
					if strings.HasPrefix(b.RemoteAddr().String(), "127.0.0.3:") {
						victim = b
					}
				}
				go breakWhenBusy(s, victim, mode)
				for off := int64(0); off < 128<<20; off += int64(len(buf)) {
					if _, err := f.WriteAt(ctx, data[off:off+int64(len(buf))], off); err != nil {
						t.Fatalf("write at %d: %v", off, err)
					}
				}
				if err := f.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				disk, err := os.ReadFile(filepath.Join(srv.Dir, "big"))
				if err != nil || sha256.Sum256(disk) != want {
					t.Fatalf("file on disk differs after write failover: %v", err)
				}
				t.Logf("%d replays in all", s.Replays())
				chans := waitChannels(t, s, 3, 15*time.Second)
				if a := activeAddrs(chans); len(a) != 3 {
					t.Fatalf("channels not restored: %v", a)
				}
			})
		}
	}
}

// breakWhenBusy cuts or stalls the victim once it has requests in flight.
func breakWhenBusy(s *session.Session, victim *breakable, mode string) {
	local := victim.LocalAddr().String()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		busy := false
		for _, c := range s.Channels() {
			busy = busy || (c.LocalAddress == local && c.InFlight > 1)
		}
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if mode == "close" {
		victim.Close()
	} else {
		victim.Stall()
	}
}

// TestMultichannelLastChannel: when every channel is gone the error
// reaches the caller as a ConnError.
func TestMultichannelLastChannel(t *testing.T) {
	srv := mcServer(t, samba.Options{})
	rec := &recorder{}
	s := mcDial(t, srv, rec, func(c *session.Config) { c.Timeout = 2 * time.Second })
	tr := mount(t, s, srv.Share)
	waitChannels(t, s, 3, 10*time.Second)
	srv.Stop()
	for _, b := range rec.transports() {
		b.Close()
	}
	_, err := tr.Stat(context.Background(), "")
	if err == nil || !session.IsConnError(err) {
		t.Fatalf("stat with every channel gone: %v, want a ConnError", err)
	}
}
