package fs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/netcut"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestReconnectDurable: the connection drops (the server lives on) while
// a program writes a file through the mount and another reads one. Against
// Samba as configured by default, which grants durable handles, the mount
// sets up a new session with the same client GUID and reclaims the opens:
// no write, fsync, read or close fails, and the file on the server's disk
// has every byte written. A handle holding a lock is not reclaimed (see
// fs/reconnect.go): its reads fail with EIO, and the server lives on.
func TestReconnectDurable(t *testing.T) {
	samba.RequireTool(t, "fusermount3")
	srv := samba.Start(t, samba.Options{})
	var net netcut.Dialer
	var mu sync.Mutex
	var sessions []*session.Session
	dial := func(ctx context.Context, guid [16]byte) (*session.Tree, error) {
		s, err := session.Dial(ctx, session.Config{Addr: srv.Addr, User: srv.User, Password: srv.Password,
			CharMap: session.MapSFM, Durable: true, ClientGUID: guid, Dial: net.Dial, Timeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { s.Close() })
		mu.Lock()
		sessions = append(sessions, s)
		mu.Unlock()
		return s.Mount(ctx, srv.Share)
	}
	ctx := context.Background()
	tree, err := dial(ctx, [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	guid := tree.Session().ClientGUID()
	mnt := mountTree(t, srv, tree, smbfs.Options{Reconnect: func(ctx context.Context) (*session.Tree, error) {
		return dial(ctx, guid)
	}})
	m := func(name string) string { return filepath.Join(mnt, name) }

	ro := rnd(3<<20 + 5)
	if err := os.WriteFile(filepath.Join(srv.Dir, "ro"), ro, 0o644); err != nil {
		t.Fatal(err)
	}
	rf, err := os.Open(m("ro"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if _, err := rf.ReadAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(m("lk"), ro, 0o644); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(m("lk"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 1 << 30, Len: 10}
	if err := syscall.FcntlFlock(lf.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}

	f, err := os.OpenFile(m("w"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644) // a reclaim must not truncate again
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := rnd(24 << 20)
	const piece = 256 << 10
	for off := 0; off < len(data); off += piece {
		if off == len(data)/3 {
			net.Cut() // with writes behind and in flight
		}
		if _, err := f.Write(data[off : off+piece]); err != nil {
			t.Fatalf("write at %d after the connection dropped: %v", off, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	mu.Lock()
	n := len(sessions)
	mu.Unlock()
	if n < 2 {
		t.Fatalf("%d sessions: the cut went unnoticed", n)
	}

	// The locked handle was not reclaimed: its lock may be gone.
	if _, err := lf.ReadAt(make([]byte, 10), 1<<20); !errors.Is(err, syscall.EIO) {
		t.Errorf("read through a handle that held a lock before the drop: %v, want EIO", err)
	}

	// The reader reads on.
	got := make([]byte, len(ro))
	if n, err := rf.ReadAt(got, 0); n != len(ro) || err != nil || !bytes.Equal(got, ro) {
		t.Errorf("read after the drop: %d bytes, %v, same %v", n, err, bytes.Equal(got, ro))
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "w")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("on disk: %d bytes (want %d), %v, same %v", len(b), len(data), err, bytes.Equal(b, data))
	}
	if log, _ := os.ReadFile(srv.LogFile); bytes.Contains(log, []byte("PANIC")) {
		t.Error("smbd panicked")
	}
}

// TestLeaseBreakFlushes: a program writes through the mount and keeps the
// file open; the data waits behind (write coalescing) when another client
// opens the file. That open breaks the mount's lease (read, handle and
// write caching to read and handle), and the mount sends the data before
// it acknowledges the break: the other client reads it. (After the break
// the file's writes go out at once instead of waiting to be coalesced;
// that they reach the server before another client looks is not
// guaranteed, so it is not checked.)
func TestLeaseBreakFlushes(t *testing.T) {
	samba.RequireTool(t, "fusermount3")
	srv := samba.Start(t, samba.Options{})
	mnt := mountServer(t, srv, smbfs.Options{})
	f, err := os.OpenFile(filepath.Join(mnt, "c"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other, err := dialTree(t, context.Background(), srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const want = "written behind\n"
	if _, err := f.WriteAt([]byte(want), 0); err != nil {
		t.Fatal(err)
	}
	of, err := other.Create(ctx, "c", session.CreateOptions{Access: smb2.GenericRead, Options: smb2.FileNonDirectoryFile})
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close(ctx)
	got := make([]byte, len(want))
	n, err := of.ReadAt(ctx, got, 0)
	if string(got[:n]) != want {
		t.Errorf("another client read %q (%v) right after the write of %q", got[:n], err, want)
	}
	if _, err := f.WriteAt([]byte(want), 100); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := of.ReadAt(ctx, got, 100); string(got[:n]) != want {
		t.Errorf("another client read %q (%v) after the close", got[:n], err)
	}
}
