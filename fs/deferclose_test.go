package fs_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// TestDeferredClose: a file read and closed is read again within the
// close delay without a request to the server (the kept handle is taken
// over, the pages kept). What this client or another does to the file
// meanwhile is seen: another client's write breaks the lease and closes
// the kept handle, our own write closes it first, and unlink, rename of
// the file or of its directory, and rmdir go through at once. The delay
// is long here (30 s), so that only a break can explain what is seen.
//
// The server sends the break of a read lease as it carries out the other
// client's WRITE, without waiting for us: until it arrives, an open here
// may still take the kept handle over and read the cached pages (as with
// Linux cifs and Windows). The test waits for the new data to show.
func TestDeferredClose(t *testing.T) {
	mnt, srv, tree, other := mountedTree(t, smbfs.Options{AttrTTL: 10 * time.Second, CloseDelay: 30 * time.Second})
	ctx := context.Background()
	s := tree.Session()
	m := func(name string) string { return filepath.Join(mnt, name) }
	if err := os.Mkdir(m("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f", "d/g", "u", "r"} {
		if err := os.WriteFile(m(name), []byte("v1 "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name, want string) {
		t.Helper()
		if b, err := os.ReadFile(m(name)); err != nil || string(b) != want {
			t.Fatalf("read %s: %q, %v; want %q", name, b, err, want)
		}
	}

	read("f", "v1 f")
	time.Sleep(100 * time.Millisecond) // the kernel sends the release after close(2) returns
	before := requests(s)
	for range 5 {
		read("f", "v1 f")
		time.Sleep(50 * time.Millisecond) // for the release (an open that comes first makes its own)
	}
	// Each open and close would cost 3 requests (CREATE and QUERY_INFO
	// in a compound, CLOSE). Usually none goes; one open may come before
	// the kernel's release of the last and make its own.
	if n := requests(s) - before; n > 3 {
		t.Errorf("reading a file again 5 times within the close delay sent %d requests, want at most 3", n)
	}

	// Another client writes: the lease breaks, the kept handle closes,
	// and its open does not wait for us.
	start := time.Now()
	of, err := other.Create(ctx, "f", session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite, Options: smb2.FileNonDirectoryFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := of.WriteAt(ctx, []byte("v2"), 0); err != nil {
		t.Fatal(err)
	}
	of.Close(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("another client's open and write took %v", d)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(m("f"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) == "v2 f" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("another client's write not seen after 10 s (close delay 30 s): %q", b)
		}
	}

	// Our own write: the kept handle is closed before the writer opens.
	read("f", "v2 f")
	if err := os.WriteFile(m("f"), []byte("v3 f"), 0o644); err != nil {
		t.Fatal(err)
	}
	read("f", "v3 f")

	// Unlink, rename and rmdir of what was just read.
	read("u", "v1 u")
	if err := os.Remove(m("u")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "u")); !os.IsNotExist(err) {
		t.Errorf("unlinked file on the server's disk: %v", err)
	}
	read("r", "v1 r")
	if err := os.Rename(m("r"), m("r2")); err != nil {
		t.Fatal(err)
	}
	read("d/g", "v1 d/g")
	if err := os.Rename(m("d"), m("d2")); err != nil {
		t.Fatalf("rename of a directory with a file just read: %v", err)
	}
	read("d2/g", "v1 d/g")
	if err := os.Remove(m("d2/g")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m("d2")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "d2")); !os.IsNotExist(err) {
		t.Errorf("removed directory on the server's disk: %v", err)
	}

	// An open that the kept handle's share mode would refuse breaks the
	// handle caching: the kept handle closes, and the open goes through
	// without waiting out the server's break timeout (35 s).
	read("r2", "v1 r")
	time.Sleep(100 * time.Millisecond) // for the release
	start = time.Now()
	of, err = other.Create(ctx, "r2", session.CreateOptions{Access: smb2.GenericRead | smb2.Delete, Options: smb2.FileNonDirectoryFile, Share: smb2.ShareDelete})
	if err != nil {
		t.Fatalf("exclusive open of a file whose handle is kept: %v", err)
	}
	of.Close(ctx)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("exclusive open of a file whose handle is kept took %v", d)
	}
	if log, _ := os.ReadFile(srv.LogFile); bytes.Contains(log, []byte("PANIC")) {
		t.Error("smbd panicked")
	}
}
