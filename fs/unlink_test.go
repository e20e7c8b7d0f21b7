package fs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestUnlinkReadOnly: POSIX lets a read-only file be unlinked; SMB refuses
// to delete a file with the read-only attribute, so the client clears it
// first.
func TestUnlinkReadOnly(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	m := filepath.Join(mnt, "ro")
	if err := os.WriteFile(m, []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(m); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Fatalf("mode %v %v", st, err)
	}
	if err := os.Remove(m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(srv.Dir, "ro")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("still on the server: %v", err)
	}
	if err := os.Remove(m); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second unlink: %v", err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "d")); err != nil { // rmdir
		t.Fatal(err)
	}
}

// TestRenameOverOpenFile: POSIX replaces a file that is open (an editor
// saving over a file a viewer has open; a file closed a moment ago, whose
// release the kernel has not sent yet); SMB refuses to replace an open
// file. The open descriptor keeps the old file, the name gets the new one,
// and nothing is left behind on the server.
func TestRenameOverOpenFile(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	m := func(p string) string { return filepath.Join(mnt, p) }
	if err := os.WriteFile(m("doc"), []byte("old text"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(m("doc"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.WriteFile(m(".doc.swp"), []byte("new text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m(".doc.swp"), m("doc")); err != nil {
		t.Fatalf("rename over an open file: %v", err)
	}
	if b, err := os.ReadFile(m("doc")); err != nil || string(b) != "new text" {
		t.Fatalf("doc through the mount = %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(srv.Dir, "doc")); err != nil || string(b) != "new text" {
		t.Fatalf("doc on the server = %q %v", b, err)
	}
	buf := make([]byte, 64)
	if n, err := f.ReadAt(buf, 0); string(buf[:n]) != "old text" {
		t.Fatalf("the open descriptor reads %q (%v), want the old file", buf[:n], err)
	}
	f.Close()
	// Close, then rename over at once, many times: the release of each
	// close may still be on its way.
	for i := range 20 {
		if err := os.WriteFile(m("a"), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(m("b"), []byte("b"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(m("a"), m("b")); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	// The replaced doc goes once the descriptor's release has reached the
	// server, which the kernel sends after close(2) returns.
	var names []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ents, err := os.ReadDir(srv.Dir)
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if len(names) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(names) != 2 {
		t.Fatalf("server's directory holds %v, want doc and b", names)
	}
}
