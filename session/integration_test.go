package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

func dial(t testing.TB, srv *samba.Server, mod func(*session.Config)) *session.Session {
	t.Helper()
	cfg := session.Config{Addr: srv.Addr, User: srv.User, Password: srv.Password}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := session.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mount(t testing.TB, s *session.Session, share string) *session.Tree {
	t.Helper()
	tr, err := s.Mount(context.Background(), share)
	if err != nil {
		t.Fatalf("mount %s: %v", share, err)
	}
	return tr
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func writeFile(t testing.TB, tr *session.Tree, path string, data []byte) {
	t.Helper()
	ctx := context.Background()
	f, err := tr.Create(ctx, path, session.CreateOptions{
		Access: smb2.GenericRead | smb2.GenericWrite, Disposition: smb2.FileOverwriteIf,
		Options: smb2.FileNonDirectoryFile,
	})
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	if n, err := f.WriteAt(ctx, data, 0); err != nil || n != len(data) {
		t.Fatalf("write %s: %d %v", path, n, err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func readFile(t testing.TB, tr *session.Tree, path string) []byte {
	t.Helper()
	ctx := context.Background()
	f, err := tr.OpenFile(ctx, path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close(ctx)
	buf := make([]byte, f.Info.Size+10)
	n, err := f.ReadAt(ctx, buf, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("read %s: %v", path, err)
	}
	return buf[:n]
}

// TestDialects reads and writes on every dialect, with each cipher and
// signing algorithm the server can be made to pick.
func TestDialects(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	for _, d := range []smb2.Dialect{smb2.Dialect300, smb2.Dialect302, smb2.Dialect311} {
		for _, seal := range []bool{false, true} {
			for _, sign := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/seal=%v/sign=%v", d, seal, sign), func(t *testing.T) {
					s := dial(t, srv, func(c *session.Config) { c.Dialect = d; c.Seal = seal; c.Sign = sign })
					if s.Dialect() != d {
						t.Fatalf("dialect %s, want %s", s.Dialect(), d)
					}
					if s.Encrypting() != seal {
						t.Fatalf("encrypting %v", s.Encrypting())
					}
					tr := mount(t, s, srv.Share)
					data := randBytes(3<<20 + 17)
					name := fmt.Sprintf("d-%s-%v-%v.bin", d, seal, sign)
					writeFile(t, tr, name, data)
					if got := readFile(t, tr, name); !bytes.Equal(got, data) {
						t.Fatalf("read back differs")
					}
					disk, err := os.ReadFile(filepath.Join(srv.Dir, name))
					if err != nil || !bytes.Equal(disk, data) {
						t.Fatalf("file on server's disk differs: %v", err)
					}
				})
			}
		}
	}
}

func TestCiphersAndSigningAlgorithms(t *testing.T) {
	for _, c := range []string{"aes-128-gcm", "aes-128-ccm", "aes-256-gcm", "aes-256-ccm"} {
		t.Run("cipher="+c, func(t *testing.T) {
			srv := samba.Start(t, samba.Options{EncryptRequired: true, ExtraGlobal: map[string]string{
				"server smb3 encryption algorithms": c,
			}})
			s := dial(t, srv, nil)
			tr := mount(t, s, srv.Share)
			data := randBytes(1<<20 + 3)
			writeFile(t, tr, "x", data)
			if !bytes.Equal(readFile(t, tr, "x"), data) {
				t.Fatal("read back differs")
			}
		})
	}
	for _, a := range []string{"aes-128-gmac", "aes-128-cmac"} {
		t.Run("signing="+a, func(t *testing.T) {
			srv := samba.Start(t, samba.Options{SigningMandatory: true, ExtraGlobal: map[string]string{
				"server smb3 signing algorithms": a,
			}})
			s := dial(t, srv, nil)
			if !s.Signing() {
				t.Fatal("session not signed on a signing-mandatory server")
			}
			tr := mount(t, s, srv.Share)
			data := randBytes(2<<20 + 5)
			writeFile(t, tr, "x", data)
			if !bytes.Equal(readFile(t, tr, "x"), data) {
				t.Fatal("read back differs")
			}
		})
	}
}

func TestErrorsAreClear(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	ctx := context.Background()
	t.Run("wrong password", func(t *testing.T) {
		start := time.Now()
		_, err := session.Dial(ctx, session.Config{Addr: srv.Addr, User: srv.User, Password: "nope"})
		if !errors.Is(err, smb2.StatusLogonFailure) || !errors.Is(err, session.ErrAuth) {
			t.Fatalf("err = %v, want logon failure", err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("too slow")
		}
	})
	t.Run("unknown share", func(t *testing.T) {
		s := dial(t, srv, nil)
		_, err := s.Mount(ctx, "nosuchshare")
		if !errors.Is(err, smb2.StatusBadNetworkName) {
			t.Fatalf("err = %v, want BAD_NETWORK_NAME", err)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		l, err := netListen()
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		start := time.Now()
		_, err = session.Dial(ctx, session.Config{Addr: addr, User: "u", Password: "p"})
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
	t.Run("no such file", func(t *testing.T) {
		s := dial(t, srv, nil)
		tr := mount(t, s, srv.Share)
		_, err := tr.Stat(ctx, "missing/file")
		if !errors.Is(err, smb2.StatusObjectPathNotFound) && !errors.Is(err, smb2.StatusObjectNameNotFound) {
			t.Fatalf("err = %v", err)
		}
		var se *session.Error
		if !errors.As(err, &se) || se.Path != "missing/file" {
			t.Fatalf("error does not carry the path: %#v", err)
		}
	})
}

// TestServerKilled: requests in flight when the server dies end with a
// connection error promptly, never a hang.
func TestServerKilled(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	s := dial(t, srv, func(c *session.Config) { c.Timeout = 3 * time.Second })
	tr := mount(t, s, srv.Share)
	if s.Lost() {
		t.Fatal("live session reports itself lost")
	}
	writeFile(t, tr, "big", randBytes(64<<20))
	ctx := context.Background()
	f, err := tr.OpenFile(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<20)
		for {
			if _, err := f.ReadAt(ctx, buf, 0); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	srv.Stop()
	select {
	case err := <-errc:
		if !session.IsConnError(err) {
			t.Fatalf("err = %v, want a connection error", err)
		}
		if errors.Is(err, io.EOF) {
			t.Fatalf("err = %v: a dropped connection must not look like the end of the file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still hanging 10 s after the server died")
	}
	if _, err := tr.Stat(ctx, "big"); err == nil {
		t.Fatal("stat on a dead session succeeded")
	}
	if !s.Lost() || tr.Session() != s {
		t.Errorf("session with its only channel dead: Lost() = %v", s.Lost())
	}
	s.Close()
	if s.Lost() {
		t.Error("closed session reports itself lost")
	}
}

// TestServerHung: a server that stops answering (SIGSTOP: no RST) is
// detected by the ECHO watchdog within the configured timeout.
func TestServerHung(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	s := dial(t, srv, func(c *session.Config) { c.Timeout = 2 * time.Second })
	tr := mount(t, s, srv.Share)
	writeFile(t, tr, "f", []byte("x"))
	srv.Pause(t)
	defer srv.Resume(t)
	start := time.Now()
	_, err := tr.Stat(context.Background(), "f")
	if !session.IsConnError(err) || !errors.Is(err, session.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout connection error", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("detected after %v", d)
	}
}

// TestServerHungAsync: a server that stops answering while the only
// request in flight has gone async (STATUS_PENDING: a blocking lock
// waiting on another handle's lock) is still detected by the watchdog; the
// waiting call gets the connection error instead of hanging forever.
func TestServerHungAsync(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	s := dial(t, srv, func(c *session.Config) { c.Timeout = 2 * time.Second })
	tr := mount(t, s, srv.Share)
	writeFile(t, tr, "f", []byte("locked"))
	ctx := context.Background()
	open := func() *session.File {
		f, err := tr.Create(ctx, "f", session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := open(), open()
	if err := a.Lock(ctx, []smb2.LockElement{{Length: 1, Flags: smb2.LockExclusive | smb2.LockFailImmediately}}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- b.Lock(ctx, []smb2.LockElement{{Length: 1, Flags: smb2.LockExclusive}}) }()
	// The blocking lock waits on the server (interim STATUS_PENDING);
	// the watchdog must not take that wait for a dead server.
	select {
	case err := <-errc:
		t.Fatalf("blocking lock returned while the range is held: %v", err)
	case <-time.After(5 * time.Second):
	}
	srv.Pause(t)
	defer srv.Resume(t)
	start := time.Now()
	select {
	case err := <-errc:
		if !session.IsConnError(err) || !errors.Is(err, session.ErrTimeout) {
			t.Fatalf("err = %v, want a timeout connection error", err)
		}
		t.Logf("detected after %v", time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatal("async lock wait still hanging 30 s after the server stopped answering")
	}
}

// TestConcurrentRandomIO: 64 goroutines read and write one file at random
// offsets; the final content is checked by checksum on the server's disk.
func TestConcurrentRandomIO(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	s := dial(t, srv, nil)
	tr := mount(t, s, srv.Share)
	const size = 32 << 20
	const block = 64 << 10
	model := randBytes(size)
	writeFile(t, tr, "shared.bin", model)
	ctx := context.Background()
	f, err := tr.Create(ctx, "shared.bin", session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite})
	if err != nil {
		t.Fatal(err)
	}
	// Each goroutine owns the blocks i where i%64 == g, so the expected
	// content is well defined; reads check blocks of their own.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	var mu sync.Mutex
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(g), 7))
			buf := make([]byte, block)
			for i := 0; i < 40; i++ {
				b := (r.IntN(size/block/64))*64 + g
				off := int64(b * block)
				if r.IntN(2) == 0 {
					data := randBytes(block)
					if _, err := f.WriteAt(ctx, data, off); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					copy(model[off:], data)
					mu.Unlock()
				} else {
					if _, err := f.ReadAt(ctx, buf, off); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					ok := bytes.Equal(buf, model[off:off+block])
					mu.Unlock()
					if !ok {
						errs <- fmt.Errorf("block %d read back wrong", b)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(filepath.Join(srv.Dir, "shared.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(disk) != sha256.Sum256(model) {
		t.Fatal("checksum of the file on the server differs from the model")
	}
}

func TestCancel(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	s := dial(t, srv, nil)
	tr := mount(t, s, srv.Share)
	writeFile(t, tr, "big", randBytes(32<<20))
	f, err := tr.OpenFile(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<20)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*time.Millisecond)
		f.ReadAt(ctx, buf, 0)
		cancel()
	}
	// The session is still usable and consistent after the cancellations.
	if _, err := f.ReadAt(context.Background(), buf, 0); err != nil {
		t.Fatalf("read after cancels: %v", err)
	}
	if disk, _ := os.ReadFile(filepath.Join(srv.Dir, "big")); !bytes.Equal(disk, buf) {
		t.Fatal("content differs after cancellations")
	}
}

func netListen() (interface {
	Addr() net.Addr
	Close() error
}, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}
