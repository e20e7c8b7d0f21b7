package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestUnlinkReadOnly: POSIX lets a read-only file be unlinked; SMB refuses
// to delete a file with the read-only attribute, so the client clears it
// first. When the client knows the attribute (git writes its objects
// 0444) that is two round trips, not four; when another client set it,
// the server's refusal tells. A delete still refused leaves
// the file as it was, read-only.
func TestUnlinkReadOnly(t *testing.T) {
	mnt, srv, tree, other := mountedTree(t, smbfs.Options{AttrTTL: 10 * time.Second})
	ctx := context.Background()
	m := func(name string) string { return filepath.Join(mnt, name) }
	gone := func(name string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(srv.Dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still on the server: %v", name, err)
		}
	}

	// Known read-only: two round trips (the attribute cleared, the delete).
	if err := os.WriteFile(m("ro"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(m("ro")); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Fatalf("mode %v %v", st, err)
	}
	time.Sleep(100 * time.Millisecond) // the kernel sends the release after close(2) returns
	before := messages(tree.Session())
	if err := os.Remove(m("ro")); err != nil {
		t.Fatal(err)
	}
	if n := messages(tree.Session()) - before; n > 2 {
		t.Errorf("unlinking a file known read-only took %d round trips, want 2", n)
	}
	gone("ro")
	if err := os.Remove(m("ro")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second unlink: %v", err)
	}

	// git's pattern: a read-only file linked to its final name, the
	// temporary name unlinked, the final name read.
	if err := os.WriteFile(m("tmp_obj"), []byte("object"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(m("tmp_obj"), m("obj")); err != nil {
		t.Fatal(err)
	}
	keep, err := os.Open(m("obj"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m("tmp_obj")); err != nil {
		t.Fatal(err)
	}
	keep.Close()
	time.Sleep(100 * time.Millisecond) // the release
	if b, err := os.ReadFile(m("obj")); err != nil || string(b) != "object" {
		t.Fatalf("the link left after unlinking the other: %q, %v", b, err)
	}
	gone("tmp_obj")

	// Made read-only by another client after the caches looked.
	if err := os.WriteFile(m("later"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m("later")); err != nil {
		t.Fatal(err)
	}
	if err := other.SetAttr(ctx, "later", session.SetAttr{Attributes: uint32(smb2.FileAttributeReadonly | smb2.FileAttributeArchive)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m("later")); err != nil {
		t.Fatal(err)
	}
	gone("later")

	// Still refused: another client has it open without sharing delete.
	// The unlink fails and the file stays read-only.
	if err := os.WriteFile(m("held"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := other.Create(ctx, "held", session.CreateOptions{Access: smb2.GenericRead, Share: smb2.ShareRead})
	if err != nil {
		t.Fatal(err)
	}
	err = os.Remove(m("held"))
	f.Close(ctx)
	if err == nil {
		t.Fatal("unlinked a file another client holds without sharing delete")
	}
	info, err := other.Stat(ctx, "held")
	if err != nil {
		t.Fatalf("the refused file: %v", err)
	}
	if info.Attributes&uint32(smb2.FileAttributeReadonly) == 0 {
		t.Errorf("a refused unlink left the file without its read-only attribute: %#x", info.Attributes)
	}
	if err := os.Remove(m("held")); err != nil {
		t.Fatalf("unlink once the other client closed: %v", err)
	}
	gone("held")

	if err := os.Mkdir(m("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m("d")); err != nil { // rmdir
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
