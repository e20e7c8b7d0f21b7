package fs_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
)

// TestReadAtOpen: opening a small file for reading reads it in the same
// round trip, so reading it whole costs two (the open with its READ, and
// the close), not three. Reads at any offset get the right bytes, a file
// larger than what the open reads is read as ever, and a write through
// the mount after the open is seen by the next read, not the data the
// open brought.
func TestReadAtOpen(t *testing.T) {
	mnt, _, tree, _ := mountedTree(t, smbfs.Options{AttrTTL: 10 * time.Second, CloseDelay: -1})
	s := tree.Session()
	m := func(name string) string { return filepath.Join(mnt, name) }

	rng := rand.New(rand.NewPCG(1, 2))
	content := map[string][]byte{}
	for _, size := range []int{1, 4095, 4096, 20000, 64 << 10, 64<<10 + 1, 300000} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		name := fmt.Sprintf("f%d", size)
		content[name] = b
		if err := os.WriteFile(m(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.ReadDir(mnt); err != nil { // the listing: sizes known
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the kernel sends the releases after close(2) returns
	for name, want := range content {
		before := messages(s)
		got, err := os.ReadFile(m(name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: read %d bytes, not what was written (%d)", name, len(got), len(want))
		}
		time.Sleep(50 * time.Millisecond) // the release
		if n := messages(s) - before; len(want) <= 64<<10 && n > 2 {
			t.Errorf("reading %s (%d bytes) whole took %d round trips, want 2", name, len(want), n)
		}
	}

	// Reads at offsets, through a descriptor that bypasses the page cache
	// of the others (O_DIRECT), so every read reaches the daemon.
	want := content["f20000"]
	f, err := os.OpenFile(m("f20000"), os.O_RDONLY|0o40000 /* O_DIRECT */, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for _, off := range []int64{8192, 0, 16384} {
		n, err := f.ReadAt(buf, off)
		if n != min(4096, len(want)-int(off)) || !bytes.Equal(buf[:n], want[off:int(off)+n]) {
			t.Fatalf("pread at %d: %d bytes, %v; not the file's", off, n, err)
		}
	}
	f.Close()

	// A write through the mount after the open: the read sees it.
	r, err := os.Open(m("f4096"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.WriteFile(m("f4096"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	n, _ := r.ReadAt(got, 0)
	if string(got[:n]) != "new" {
		t.Errorf("read after a write through the mount: %q, want %q", got[:n], "new")
	}
}
