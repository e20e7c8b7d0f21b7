package fs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// mountedReconnecting mounts a Samba share whose mount sets up a new
// session when the server is lost.
func mountedReconnecting(t *testing.T) (string, *samba.Server) {
	samba.RequireTool(t, "fusermount3")
	srv := samba.Start(t, samba.Options{})
	o := smbfs.Options{Reconnect: func(ctx context.Context) (*session.Tree, error) {
		return dialTree(t, ctx, srv)
	}}
	return mountServer(t, srv, o), srv
}

// eventually retries op until it succeeds or d has passed.
func eventually(t *testing.T, d time.Duration, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReconnectAfterRestart: the server restarts under a mount. The next
// operations work through a new session, with what the server holds. A
// file open for reading only is opened again at its next read; so is one
// open for writing with a durable handle (which the restart lost), if the
// file is still as long as what it wrote. One holding a lock, or whose
// file lost what it wrote (cut short on the server's disk, as a crash of
// the server's machine may), fails with EIO, and closes without a hang.
func TestReconnectAfterRestart(t *testing.T) {
	mnt, srv := mountedReconnecting(t)
	m := func(name string) string { return filepath.Join(mnt, name) }
	data := rnd(3<<20 + 17)
	for _, name := range []string{"a", "ro", "locked"} {
		if err := os.WriteFile(m(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := os.Open(m("ro"))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	locked, err := os.Open(m("locked"))
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()
	lk := syscall.Flock_t{Type: syscall.F_RDLCK, Start: 0, Len: 100}
	if err := syscall.FcntlFlock(locked.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(m("w"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	short, err := os.OpenFile(m("short"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if _, err := short.Write(data[:100]); err != nil {
		t.Fatal(err)
	}
	if err := short.Sync(); err != nil {
		t.Fatal(err)
	}

	srv.Restart(t)
	if err := os.Truncate(filepath.Join(srv.Dir, "short"), 10); err != nil {
		t.Fatal(err)
	}
	// Changed on the server's disk while the mount was away from it.
	if err := os.WriteFile(filepath.Join(srv.Dir, "new"), []byte("made on the server"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The first operation after the restart reconnects: no retry needed
	// once the client has seen the connection close (at once, on loopback).
	time.Sleep(200 * time.Millisecond)
	got, err := os.ReadFile(m("a"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after restart: %v (%d bytes, want %d)", err, len(got), len(data))
	}
	if b, err := os.ReadFile(m("new")); err != nil || string(b) != "made on the server" {
		t.Fatalf("file made during the restart: %q, %v", b, err)
	}
	if err := os.WriteFile(m("b"), data[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "b")); err != nil || !bytes.Equal(b, data[:1<<20]) {
		t.Fatalf("written after restart, on the server's disk: %v", err)
	}
	names, err := os.ReadDir(mnt)
	if err != nil || len(names) != 7 {
		t.Fatalf("listing after restart: %d entries, %v", len(names), err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Read-only, no lock: opened again, reads go on (none of these
		// pages was read before, so they come from the server).
		buf := make([]byte, 64<<10)
		for _, off := range []int64{2 << 20, 0, 3 << 20} {
			n, err := ro.ReadAt(buf, off)
			if (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(buf[:n], data[off:min(off+int64(len(buf)), int64(len(data)))]) {
				t.Errorf("read at %d through a read-only handle from before the restart: %d bytes, %v", off, n, err)
			}
		}
		if fi, err := ro.Stat(); err != nil || fi.Size() != int64(len(data)) {
			t.Errorf("fstat of a read-only handle from before the restart: %v", err)
		}
		// A lock was held through it: the server forgot the lock.
		if _, err := locked.ReadAt(buf, 2<<20); !errors.Is(err, syscall.EIO) {
			t.Errorf("read through a handle whose lock the restart dropped: %v, want EIO", err)
		}
		// Open for writing, the file as long as what it wrote: opened
		// again, writes go on.
		if _, err := w.WriteAt([]byte("after"), 0); err != nil {
			t.Errorf("write through a handle opened before the restart: %v", err)
		} else if err := w.Sync(); err != nil {
			t.Errorf("fsync of a write through a handle opened before the restart: %v", err)
		}
		if fi, err := w.Stat(); err != nil || fi.Size() != int64(len("before")) {
			t.Errorf("fstat of a writable handle from before the restart: %v", err)
		}
		// The file lost what was written through it: EIO.
		if _, err := short.WriteAt([]byte("after"), 100); err == nil {
			err = short.Sync()
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("fsync through a handle whose writes the server lost: %v, want EIO", err)
			}
		}
		ro.Close()
		locked.Close()
		if err := w.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		short.Close()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("I/O on handles from before the restart hangs")
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "w")); err != nil || string(b) != "aftere" {
		t.Errorf("file written before and after the restart: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "short")); err != nil || !bytes.Equal(b, data[:10]) {
		t.Errorf("file cut short during the restart: %d bytes, %v", len(b), err)
	}
}

// TestReconnectAfterOutage: with the server down, operations fail in
// bounded time, and once it is back the mount works again without being
// mounted again.
func TestReconnectAfterOutage(t *testing.T) {
	mnt, srv := mountedReconnecting(t)
	if err := os.WriteFile(filepath.Join(mnt, "a"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	time.Sleep(1500 * time.Millisecond) // past the attribute TTL
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		_, err := os.Stat(filepath.Join(mnt, "a"))
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("stat with the server stopped: %v, want EIO", err)
		}
		t.Logf("stat with the server stopped: %v after %v", err, time.Since(t0).Round(time.Millisecond))
		if d := time.Since(t0); d > 20*time.Second {
			t.Fatalf("stat with the server stopped took %v", d)
		}
	}
	srv.Restart(t)
	eventually(t, 20*time.Second, "read after the server came back", func() error {
		b, err := os.ReadFile(filepath.Join(mnt, "a"))
		if err == nil && string(b) != "kept" {
			t.Fatalf("read %q after the outage", b)
		}
		return err
	})
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(srv.Dir, "d")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir after the outage, on the server's disk: %v", err)
	}
}
