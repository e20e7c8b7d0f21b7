package fs_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// residentBytes is how much of path the kernel holds in its page cache,
// from fincore(1) in its own process (mapping the mount in this one,
// which serves it, can deadlock: see mapInChild).
func residentBytes(t *testing.T, path string) int64 {
	t.Helper()
	out, err := exec.Command("fincore", "--bytes", "--noheadings", "--output", "RES", path).CombinedOutput()
	if err != nil {
		t.Fatalf("fincore: %v: %s", err, out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("fincore: %q", out)
	}
	return n
}

// In strict mode, read-only opens of files of at least DirectReadMin bytes
// read around the page cache, smaller files and read-write opens through
// it; the data is the server's either way, and large files can still be
// mapped.
func TestDirectReadOfLargeFiles(t *testing.T) {
	samba.RequireTool(t, "fincore")
	const min = 1 << 20
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{DirectReadMin: min})
	files := map[string][]byte{"big": make([]byte, 3*min+123), "small": make([]byte, min-1)}
	for name, data := range files {
		rand.Read(data)
		p := filepath.Join(srv.Dir, name)
		if err := os.WriteFile(p, data, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o666); err != nil { // the share's user writes it too
			t.Fatal(err)
		}
	}
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("%s: read %d bytes that differ from the server's %d", name, len(got), len(data))
		}
	}
	if n := residentBytes(t, filepath.Join(mnt, "big")); n != 0 {
		t.Errorf("big: %d bytes in the page cache after a read-only read, want 0", n)
	}
	if n := residentBytes(t, filepath.Join(mnt, "small")); n == 0 {
		t.Errorf("small: nothing in the page cache after a read")
	}

	// A second read-only open streams again: the first left no pages to
	// keep.
	if _, err := os.ReadFile(filepath.Join(mnt, "big")); err != nil {
		t.Fatal(err)
	}
	if n := residentBytes(t, filepath.Join(mnt, "big")); n != 0 {
		t.Errorf("big: %d bytes in the page cache after a second read, want 0", n)
	}

	// A mapping of a streamed file goes through the page cache and shows
	// the file.
	if got, want := mapInChild(t, filepath.Join(mnt, "big")).read(16), string(files["big"][:16]); got != want {
		t.Errorf("mapping reads %x, want %x", got, want)
	}

	// A read-write open reads through the page cache, and sees what a
	// streaming descriptor saw.
	f, err := os.OpenFile(filepath.Join(mnt, "big"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 2*min); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, files["big"][2*min:2*min+4096]) {
		t.Errorf("read-write open reads other data")
	}
	if n := residentBytes(t, filepath.Join(mnt, "big")); n == 0 {
		t.Errorf("big: nothing in the page cache after a read-write read")
	}
}
