package session_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/netcut"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// durableSamba is a Samba whose durable handles keep byte-range locks:
// share modes and locks kept by smbd alone. (With its default "posix
// locking = yes", Samba 4.17 grants durable handles too, but panics when
// one that holds a lock is reclaimed.)
func durableSamba(t *testing.T) *samba.Server {
	return samba.Start(t, samba.Options{ExtraShare: map[string]string{
		"kernel share modes": "no", "posix locking": "no", "kernel oplocks": "no", "durable handles": "yes",
	}})
}

// TestDurableReopen opens a file durably, writes and locks through it,
// loses the connection (the server lives on), and reclaims the open on a
// new session: writing goes on through the same open, the lock is still
// held against another client, and the file on disk has everything. A
// third client's open for writing breaks the lease, which is acknowledged
// so that the open goes through at once rather than after the server's
// break timeout.
func TestDurableReopen(t *testing.T) {
	srv := durableSamba(t)
	var net1 netcut.Dialer
	s1 := dial(t, srv, func(c *session.Config) { c.Durable, c.Dial = true, net1.Dial })
	tr1 := mount(t, s1, srv.Share)
	ctx := context.Background()
	key := [16]byte{1, 2, 3}
	f, err := tr1.Create(ctx, "dur", session.CreateOptions{
		Access: smb2.GenericRead | smb2.GenericWrite, Disposition: smb2.FileOverwriteIf,
		Options: smb2.FileNonDirectoryFile, LeaseKey: &key,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Durable() {
		t.Fatal("Samba with durable handles on did not grant one")
	}
	if st, ok := f.Lease(); !ok || st != smb2.LeaseRead|smb2.LeaseHandle|smb2.LeaseWrite {
		t.Errorf("lease %#x (granted %v), want read, handle and write caching", st, ok)
	}
	if _, err := f.WriteAt(ctx, []byte("hello "), 0); err != nil {
		t.Fatal(err)
	}
	lock := smb2.LockElement{Offset: 100, Length: 10, Flags: smb2.LockExclusive | smb2.LockFailImmediately}
	if err := f.Lock(ctx, []smb2.LockElement{lock}); err != nil {
		t.Fatal(err)
	}

	net1.Cut()
	deadline := time.Now().Add(10 * time.Second)
	for !s1.Lost() {
		if time.Now().After(deadline) {
			t.Fatal("session not lost 10 s after its connection was cut")
		}
		tr1.Stat(ctx, "dur") // notices the loss
		time.Sleep(10 * time.Millisecond)
	}

	s2 := dial(t, srv, func(c *session.Config) {
		c.Durable, c.ClientGUID = true, s1.ClientGUID()
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tr2 := mount(t, s2, srv.Share)
	nf, err := tr2.Reopen(ctx, f)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if nf.ID() != f.ID() && nf.ID().Persistent != f.ID().Persistent {
		t.Errorf("reopened as %v, was %v", nf.ID(), f.ID())
	}
	if _, err := nf.WriteAt(ctx, []byte("world"), 6); err != nil {
		t.Fatalf("write after reopen: %v", err)
	}

	// Another client: the lock is still held, and its open for writing
	// breaks the lease, which s2 acknowledges.
	s3 := dial(t, srv, nil)
	tr3 := mount(t, s3, srv.Share)
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	other, err := tr3.Create(octx, "dur", session.CreateOptions{
		Access: smb2.GenericRead | smb2.GenericWrite, Options: smb2.FileNonDirectoryFile,
	})
	if err != nil {
		t.Fatalf("another client's open: %v", err)
	}
	t.Logf("another client's open took %v (a lease break unanswered takes Samba's 35 s)", time.Since(start).Round(time.Millisecond))
	defer other.Close(ctx)
	if err := other.Lock(ctx, []smb2.LockElement{lock}); err == nil {
		t.Error("another client took the range the durable open had locked")
	}
	if err := nf.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "dur")); err != nil || string(b) != "hello world" {
		t.Errorf("on disk: %q, %v", b, err)
	}
	if err := other.Lock(ctx, []smb2.LockElement{lock}); err != nil {
		t.Errorf("lock after the durable open closed: %v", err)
	}

	// Against the default Samba (posix locking on) nothing is durable,
	// and opens work as before.
}
