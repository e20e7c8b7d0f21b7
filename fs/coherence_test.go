package fs_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// Write-only opens write around the page cache; what they write must show
// at once through other descriptors of the same file that read through
// the page cache, and through a mapping made before.
func TestDirectWriteSeenByCachedReaders(t *testing.T) {
	mnt, _ := mounted(t, samba.Options{}, smbfs.Options{})
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte("A"), 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func(off int64, n int) string {
		t.Helper()
		b := make([]byte, n)
		k, err := r.ReadAt(b, off)
		if k == 0 && err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		return string(b[:k])
	}
	if got := read(0, 4); got != "AAAA" {
		t.Fatalf("first read %q", got)
	}
	m := mapInChild(t, p)
	if got := m.read(4); got != "AAAA" {
		t.Fatalf("mapping %q", got)
	}

	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("BBBB"), 0); err != nil {
		t.Fatal(err)
	}
	if got := read(0, 4); got != "BBBB" {
		t.Errorf("cached reader after a write-only write: %q, want BBBB", got)
	}
	if got := m.read(4); got != "BBBB" {
		t.Errorf("mapping after a write-only write: %q, want BBBB", got)
	}
	// Across the old end of file, which sat inside a cached page.
	if _, err := w.WriteAt([]byte("CCCCCCCC"), 9996); err != nil {
		t.Fatal(err)
	}
	if got := read(9990, 100); got != "AAAAAACCCCCCCC" {
		t.Errorf("cached reader across the old end: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

}

// A log appended to while another descriptor follows it (tail -f), by a
// write-only writer (around the page cache) and by a read-write one
// (through it).
func TestAppendFollowedByReader(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	for _, mode := range []int{os.O_WRONLY, os.O_RDWR} {
		name := fmt.Sprintf("log%d", mode)
		lp := filepath.Join(mnt, name)
		lw, err := os.OpenFile(lp, mode|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := os.Open(lp)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []byte
		buf := make([]byte, 100)
		for i := range 40 {
			line := fmt.Appendf(nil, "line %d\n", i)
			want = append(want, line...)
			if _, err := lw.Write(line); err != nil {
				t.Fatal(err)
			}
			k, _ := lr.Read(buf)
			got = append(got, buf[:k]...)
		}
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
		lr.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: follower read %q, want %q", name, got, want)
		}
		disk, _ := os.ReadFile(filepath.Join(srv.Dir, name))
		if !bytes.Equal(disk, want) {
			t.Errorf("%s: server has %q", name, disk)
		}
	}
}

// An appending writer while other processes stat the file, with attributes
// that expire at once: a stat or lookup that went to the server while
// appended data was still on its way there would give the kernel a
// smaller size, and the next append would land inside the file.
func TestAppendWhileStatted(t *testing.T) {
	for _, list := range []bool{false, true} {
		t.Run(fmt.Sprintf("list=%v", list), func(t *testing.T) { appendWhileStatted(t, list) })
	}
}

func appendWhileStatted(t *testing.T, list bool) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{AttrTTL: time.Millisecond})
	p := filepath.Join(mnt, "log")
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if list {
				// ls -l: attributes come with the listing (readdirplus).
				ents, _ := os.ReadDir(mnt)
				for _, e := range ents {
					e.Info()
				}
			} else {
				os.Stat(p)
			}
		}
	}()
	var want []byte
	for i := range 300 {
		line := bytes.Repeat(fmt.Appendf(nil, "%d ", i), 200)
		line = append(line, '\n')
		want = append(want, line...)
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(5 * time.Millisecond) // the attributes expire
		}
	}
	close(stop)
	<-done
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	disk, _ := os.ReadFile(filepath.Join(srv.Dir, "log"))
	if !bytes.Equal(disk, want) {
		t.Errorf("server has %d bytes, want %d (first difference at %d)", len(disk), len(want), firstDiff(disk, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A read that ends before data another descriptor wrote further on comes
// back short from the server while that data is on its way there; the
// kernel takes a short read for the end of the file, so the data must be
// on the server first, or the kernel's size shrinks and a read or an
// append beyond loses it.
func TestReadShortOfPendingWrite(t *testing.T) {
	mnt, _ := mounted(t, samba.Options{}, smbfs.Options{})
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte("a"), 4500), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []int{os.O_WRONLY, os.O_RDWR} {
		w, err := os.OpenFile(p, mode, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteAt(bytes.Repeat([]byte("x"), 100), 9000); err != nil {
			t.Fatal(err)
		}
		rd := r
		if mode == os.O_RDWR {
			rd = w // the writer reads short of its own pending write
		}
		buf := make([]byte, 4096)
		if n, _ := rd.ReadAt(buf, 4096); n != 4096 {
			t.Errorf("mode %d: read %d bytes at 4096, want 4096 (the file is 9100 bytes)", mode, n)
		}
		if n, _ := r.ReadAt(buf, 9000); n != 100 || buf[0] != 'x' {
			t.Errorf("mode %d: read %d bytes at 9000, want the 100 written", mode, n)
		}
		if fi, err := r.Stat(); err != nil || fi.Size() != 9100 {
			t.Errorf("mode %d: size %v (%v), want 9100", mode, fi.Size(), err)
		}
		w.Close()
		r.Close()
		if err := os.Truncate(p, 4500); err != nil {
			t.Fatal(err)
		}
	}
}

// Two descriptors write the same bytes one after the other: the later
// write is what the file keeps, whichever descriptor gets its data to the
// server first.
func TestOverlappingWritesKeepOrder(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte("-"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []int{os.O_WRONLY, os.O_RDWR} {
		a, err := os.OpenFile(p, mode, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.OpenFile(p, mode, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.WriteAt([]byte("aaaa"), 10); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteAt([]byte("bbbb"), 10); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		disk, _ := os.ReadFile(filepath.Join(srv.Dir, "f"))
		if string(disk[10:14]) != "bbbb" {
			t.Errorf("mode %d: the server has %q at 10, want the later write, bbbb", mode, disk[10:14])
		}
		got, _ := os.ReadFile(p)
		if string(got[10:14]) != "bbbb" {
			t.Errorf("mode %d: the mount reads %q at 10, want bbbb", mode, got[10:14])
		}
	}
}

// fsync through one descriptor makes the file's data durable, whichever
// descriptor wrote it.
func TestFsyncCoversOtherDescriptors(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	p := filepath.Join(mnt, "f")
	a, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Write([]byte("written through a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if disk, _ := os.ReadFile(filepath.Join(srv.Dir, "f")); string(disk) != "written through a" {
		t.Errorf("after fsync through another descriptor the server has %q", disk)
	}
}

// An open with O_TRUNC comes after what other descriptors wrote before it:
// their data must not reach the server after the truncation.
func TestTruncatingOpenAfterPendingWrite(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteAt([]byte("written before the truncation"), 100); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("new"), 0o644); err != nil { // O_TRUNC
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if disk, _ := os.ReadFile(filepath.Join(srv.Dir, "f")); string(disk) != "new" {
		t.Errorf("the server has %q, want \"new\"", disk)
	}
	if got, _ := os.ReadFile(p); string(got) != "new" {
		t.Errorf("the mount reads %q, want \"new\"", got)
	}
}

// childMapping is a shared read-only mapping of a file on the mount, held
// by a child process (the test binary in mapHelper mode). A mapping of the
// mount in the process that serves it can deadlock: a page fault holds the
// address space's lock while it waits for the server, whose goroutines may
// need that lock to grow the heap.
type childMapping struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Reader
}

func mapInChild(t *testing.T, path string) *childMapping {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMapHelper$")
	cmd.Env = append(os.Environ(), "SMBD3_MAP_FILE="+path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	return &childMapping{t: t, in: in, out: bufio.NewReader(out)}
}

// read returns the mapping's first n bytes.
func (m *childMapping) read(n int) string {
	m.t.Helper()
	fmt.Fprintln(m.in, n)
	for {
		line, err := m.out.ReadString('\n')
		if err != nil {
			m.t.Fatalf("mapping helper: %v", err)
		}
		if v, ok := strings.CutPrefix(line, "MAPPED "); ok {
			b, err := hex.DecodeString(strings.TrimSpace(v))
			if err != nil {
				m.t.Fatalf("mapping helper: %q", line)
			}
			return string(b)
		}
		if strings.HasPrefix(line, "MAPERR ") {
			m.t.Fatalf("mapping helper: %s", line)
		}
	}
}

// TestMapHelper is the child of mapInChild: it maps SMBD3_MAP_FILE and
// prints the first n bytes for every n read from stdin.
func TestMapHelper(t *testing.T) {
	p := os.Getenv("SMBD3_MAP_FILE")
	if p == "" {
		t.Skip("the child process of mapInChild")
	}
	f, err := os.Open(p)
	if err != nil {
		fmt.Println("MAPERR", err)
		return
	}
	fi, _ := f.Stat()
	m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	f.Close()
	if err != nil {
		fmt.Println("MAPERR", err)
		return
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		n, _ := strconv.Atoi(sc.Text())
		fmt.Println("MAPPED", hex.EncodeToString(m[:min(n, len(m))]))
	}
}

// With cache=none (direct I/O) a file can still be mapped shared
// (CAP_DIRECT_IO_ALLOW_MMAP), and the mapping shows the file.
func TestSharedMapWithoutPageCache(t *testing.T) {
	mnt, _ := mounted(t, samba.Options{}, smbfs.Options{Cache: "none"})
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, []byte("mapped through direct I/O"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mapInChild(t, p).read(6); got != "mapped" {
		t.Errorf("mapping reads %q", got)
	}
}
