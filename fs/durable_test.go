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
	"golang.org/x/sys/unix"
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
	c := mountCuttable(t, srv, nil)
	mnt := c.mnt
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
			c.net.Cut() // with writes behind and in flight
		}
		if _, err := f.Write(data[off : off+piece]); err != nil {
			t.Fatalf("write at %d after the connection dropped: %v", off, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if n := c.sessions(); n < 2 {
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
	// Samba refuses a reclaim when the file's stat differs from the one
	// it took at the loss, which writes still running then may change:
	// the mount opens the file again instead (TestReconnectRefused).
	if rec, reop, lost := c.ctl.Reclaims(); rec+reop != 2 || lost != 1 {
		t.Errorf("durable opens: %d reclaimed, %d opened again, %d lost; want 2 back (the reader, the writer) and 1 lost (the locked one)", rec, reop, lost)
	}
}

// cuttable is a mount whose connections the test cuts.
type cuttable struct {
	mnt      string
	net      netcut.Dialer
	ctl      smbfs.Control
	mu       sync.Mutex
	sessionN int // guarded by mu: how many sessions were set up
}

func (c *cuttable) sessions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionN
}

// mountCuttable mounts srv's share through a netcut.Dialer, with durable
// handles and reconnection; each reconnection first waits for gate to be
// closed, if it is not nil.
func mountCuttable(t *testing.T, srv *samba.Server, gate chan struct{}) *cuttable {
	c := &cuttable{}
	dial := func(ctx context.Context, guid [16]byte) (*session.Tree, error) {
		s, err := session.Dial(ctx, session.Config{Addr: srv.Addr, User: srv.User, Password: srv.Password,
			CharMap: session.MapSFM, Durable: true, ClientGUID: guid, Dial: c.net.Dial, Timeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { s.Close() })
		c.mu.Lock()
		c.sessionN++
		c.mu.Unlock()
		return s.Mount(ctx, srv.Share)
	}
	tree, err := dial(context.Background(), [16]byte{})
	if err != nil {
		t.Fatal(err)
	}
	guid := tree.Session().ClientGUID()
	c.mnt = mountTree(t, srv, tree, smbfs.Options{Control: &c.ctl, Reconnect: func(ctx context.Context) (*session.Tree, error) {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return dial(ctx, guid)
	}})
	return c
}

// TestReconnectRefused: the connection drops under a file open for
// writing, and the server will not give the durable open back because
// the file changed meanwhile on its disk (Samba compares the file's stat
// with the one it took at the loss; here blocks are allocated past the
// end). The mount opens the file again by path, as it is the same file:
// the program writes on, and the file has every byte. When another file
// is at the path by then, it is not opened, and the writes fail with EIO.
func TestReconnectRefused(t *testing.T) {
	samba.RequireTool(t, "fusermount3")
	srv := samba.Start(t, samba.Options{})
	for _, replace := range []bool{false, true} {
		name := map[bool]string{false: "changed", true: "replaced"}[replace]
		t.Run(name, func(t *testing.T) {
			gate := make(chan struct{})
			c := mountCuttable(t, srv, gate)
			f, err := os.OpenFile(filepath.Join(c.mnt, name), os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			data := rnd(4 << 20)
			half := len(data) / 2
			if _, err := f.Write(data[:half]); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			c.net.Cut()
			time.Sleep(500 * time.Millisecond) // smbd notices, and keeps the open with a stat of the file
			disk := filepath.Join(srv.Dir, name)
			if replace {
				if err := os.WriteFile(disk+".new", data[:half], 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(disk+".new", disk); err != nil {
					t.Fatal(err)
				}
			} else {
				df, err := os.OpenFile(disk, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				err = unix.Fallocate(int(df.Fd()), unix.FALLOC_FL_KEEP_SIZE, int64(half), 8<<20)
				df.Close()
				if err != nil {
					t.Skipf("cannot change the file's blocks: %v", err)
				}
			}
			close(gate)
			_, werr := f.Write(data[half:])
			if werr == nil {
				werr = f.Sync()
			}
			if replace {
				if !errors.Is(werr, syscall.EIO) {
					t.Errorf("write to a file replaced on the server: %v, want EIO", werr)
				}
				if b, _ := os.ReadFile(disk); !bytes.Equal(b, data[:half]) {
					t.Errorf("the file put at the path was changed: %d bytes", len(b))
				}
				if rec, reop, lost := c.ctl.Reclaims(); rec != 0 || reop != 0 || lost != 1 {
					t.Errorf("durable opens: %d reclaimed, %d opened again, %d lost; want 0, 0, 1", rec, reop, lost)
				}
				return
			}
			if werr != nil {
				t.Fatalf("write after the drop: %v", werr)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if b, err := os.ReadFile(disk); err != nil || !bytes.Equal(b, data) {
				t.Errorf("on disk: %d bytes (want %d), %v, same %v", len(b), len(data), err, bytes.Equal(b, data))
			}
			if rec, reop, lost := c.ctl.Reclaims(); rec != 0 || reop != 1 || lost != 0 {
				t.Errorf("durable opens: %d reclaimed, %d opened again, %d lost; want 0, 1, 0", rec, reop, lost)
			}
		})
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
