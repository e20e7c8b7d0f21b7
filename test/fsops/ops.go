package fsops

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// FileOperations exercises each VFS operation through the kernel mount and
// checks the result on the server's disk. With names, only those cases run
// (in suite order; later cases use files of earlier ones: "overwrite in
// place and fsync" needs "large io checksum", "rename" needs "mkdir rmdir").
func FileOperations(t *testing.T, tg *Target, names ...string) {
	run(t, tg, fileOps, names)
}

// FileOperationNames lists the cases of FileOperations in order.
func FileOperationNames() []string {
	var n []string
	for _, c := range fileOps {
		n = append(n, c.Name)
	}
	return n
}

var fileOps = []Case{
	{"create excl trunc append", createExclTruncAppend},
	{"large io checksum", largeIO},
	{"overwrite in place and fsync", overwriteFsync},
	{"copy file range", copyFileRange},
	{"fallocate", fallocate},
	{"seek data hole", seekDataHole},
	{"unlink open file", unlinkOpen},
	{"mkdir rmdir", mkdirRmdir},
	{"rename", rename},
	{"hard link", hardLink},
	{"symlink", symlink},
	{"setattr", setattr},
	{"statfs", statfs},
	{"xattr", xattr},
	{"locks", locks},
	{"reserved characters", reservedChars},
}

func createExclTruncAppend(t *testing.T, tg *Target) {
	f, err := os.OpenFile(tg.m("c"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello")
	f.Close()
	_, err = os.OpenFile(tg.m("c"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	mustErrno(t, err, syscall.EEXIST)
	f, err = os.OpenFile(tg.m("c"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(" world")
	f.Close()
	if b := tg.serverFile(t, "c"); string(b) != "hello world" {
		t.Fatalf("append: %q", b)
	}
	f, err = os.OpenFile(tg.m("c"), os.O_TRUNC|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new")
	f.Close()
	if b := tg.serverFile(t, "c"); string(b) != "new" {
		t.Fatalf("trunc: %q", b)
	}
}

func largeIO(t *testing.T, tg *Target) {
	data := Rnd(tg.largeSize())
	if err := os.WriteFile(tg.m("big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if tg.serverSum(t, "big", 0, -1) != Sum(data) {
		t.Fatal("server disk checksum differs")
	}
	got, err := os.ReadFile(tg.m("big"))
	if err != nil || Sum(got) != Sum(data) {
		t.Fatalf("read back checksum differs: %v", err)
	}
	// random-offset reads after the sequential ones
	f, _ := os.Open(tg.m("big"))
	defer f.Close()
	buf := make([]byte, 100000)
	mid := int64(33<<20 + 7)
	if mid+int64(len(buf)) > int64(len(data)) {
		mid = int64(len(data))/2 + 7
	}
	for _, off := range []int64{0, 5 << 20, mid, int64(len(data)) - 1000} {
		n, err := f.ReadAt(buf, off)
		if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("pread at %d: %d %v", off, n, err)
		}
	}
}

func overwriteFsync(t *testing.T, tg *Target) {
	f, err := os.OpenFile(tg.m("big"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patch := Rnd(3 << 20)
	f.WriteAt(patch, 1<<20)
	f.WriteAt(patch[:10], 1<<20) // overlapping rewrite keeps order
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if tg.serverSum(t, "big", 1<<20, 3<<20) != Sum(patch) {
		t.Fatal("patched range differs on disk")
	}
	got := make([]byte, 3<<20)
	f.ReadAt(got, 1<<20)
	if !bytes.Equal(got, patch) {
		t.Fatal("patched range read back differs")
	}
}

// copyFileRange: cp (which copies by copy_file_range(2) since coreutils 9)
// and copy_file_range itself, between ranges of files with data still on
// its way and pages in the kernel's cache.
func copyFileRange(t *testing.T, tg *Target) {
	if out, err := exec.Command("cp", tg.m("big"), tg.m("big-copy")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if tg.serverSum(t, "big-copy", 0, -1) != tg.serverSum(t, "big", 0, -1) {
		t.Fatal("cp's copy differs from the original on the server's disk")
	}
	if err := os.Remove(tg.m("big-copy")); err != nil {
		t.Fatal(err)
	}

	dst, err := os.OpenFile(tg.m("cfr"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	want := bytes.Repeat([]byte{'x'}, 1<<20)
	if _, err := dst.Write(want); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.ReadAt(make([]byte, len(want)), 0); err != nil { // pages cached
		t.Fatal(err)
	}
	src, err := os.OpenFile(tg.m("cfr-src"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	patch := Rnd(300<<10 + 5)
	if _, err := src.Write(patch); err != nil { // not flushed: still on its way
		t.Fatal(err)
	}
	copyRange := func(inOff, outOff int64, n int) int {
		t.Helper()
		total := 0
		for total < n {
			k, err := unix.CopyFileRange(int(src.Fd()), &inOff, int(dst.Fd()), &outOff, n-total, 0)
			if err != nil {
				t.Fatalf("copy_file_range: %v", err)
			}
			if k == 0 {
				break
			}
			total += k
		}
		return total
	}
	if k := copyRange(0, 4097, len(patch)); k != len(patch) {
		t.Fatalf("copied %d of %d", k, len(patch))
	}
	copy(want[4097:], patch)
	// Past the source's end: what there is, then nothing.
	if k := copyRange(int64(len(patch))-100, 0, 1000); k != 100 {
		t.Fatalf("copy across the source's end: %d bytes, want 100", k)
	}
	copy(want, patch[len(patch)-100:])
	if k := copyRange(int64(len(patch))+10, 0, 1000); k != 0 {
		t.Fatalf("copy from past the source's end: %d bytes", k)
	}
	// Past the target's end: the file grows.
	if k := copyRange(7, 2<<20, 5000); k != 5000 {
		t.Fatalf("copied %d of 5000", k)
	}
	want = append(want, make([]byte, 1<<20)...)
	want = append(want, patch[7:5007]...)
	got := make([]byte, len(want)+10)
	if n, err := dst.ReadAt(got, 0); n != len(want) || !bytes.Equal(got[:n], want) {
		t.Fatalf("read back after the copies: %d bytes (want %d), %v", n, len(want), err)
	}
	if st, err := dst.Stat(); err != nil || st.Size() != int64(len(want)) {
		t.Fatalf("size after the copies: %v %v, want %d", st.Size(), err, len(want))
	}
	dst.Close()
	if tg.serverSum(t, "cfr", 0, -1) != Sum(want) {
		t.Fatal("the copies differ on the server's disk")
	}
}

// fallocate: posix_fallocate past the end, FALLOC_FL_KEEP_SIZE, punching a
// hole and zeroing a range, on a file with writes still on their way; and
// fallocate(1).
func fallocate(t *testing.T, tg *Target) {
	f, err := os.OpenFile(tg.m("falloc"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	want := Rnd(256 << 10)
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	size := func(what string, n int) {
		t.Helper()
		if st, err := f.Stat(); err != nil || st.Size() != int64(n) {
			t.Fatalf("%s: size %d (%v), want %d", what, st.Size(), err, n)
		}
	}
	if err := unix.Fallocate(fd, 0, 0, 1<<20); err != nil {
		t.Fatalf("fallocate: %v", err)
	}
	want = append(want, make([]byte, 1<<20-len(want))...)
	size("after fallocate past the end", len(want))
	if err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, 4<<20); err != nil {
		t.Fatalf("fallocate keep size: %v", err)
	}
	size("after fallocate with FALLOC_FL_KEEP_SIZE", len(want))
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 4096, 8192); err != nil {
		t.Fatalf("punch hole: %v", err)
	}
	clear(want[4096 : 4096+8192])
	if err := unix.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE, 100<<10+3, 1000); err != nil {
		t.Fatalf("zero range: %v", err)
	}
	clear(want[100<<10+3 : 100<<10+1003])
	if err := unix.Fallocate(fd, unix.FALLOC_FL_ZERO_RANGE, 1<<20-100, 200); err != nil {
		t.Fatalf("zero range past the end: %v", err)
	}
	clear(want[1<<20-100:])
	want = append(want, make([]byte, 100)...)
	size("after zeroing past the end", len(want))
	got := make([]byte, len(want)+10)
	if n, err := f.ReadAt(got, 0); n != len(want) || !bytes.Equal(got[:n], want) {
		t.Fatalf("read back: %d bytes (want %d), %v", n, len(want), err)
	}
	f.Close()
	if tg.serverSum(t, "falloc", 0, -1) != Sum(want) {
		t.Fatal("the file differs on the server's disk")
	}
	if out, err := exec.Command("fallocate", "-l", "3MiB", tg.m("falloc-tool")).CombinedOutput(); err != nil {
		t.Fatalf("fallocate(1): %v %s", err, out)
	}
	if st := tg.serverStat(t, "falloc-tool"); st.Size != 3<<20 {
		t.Fatalf("fallocate -l 3MiB: %d bytes on the server", st.Size)
	}
}

func unlinkOpen(t *testing.T, tg *Target) {
	tg.skipUnsupported(t, CheckTwoHandles)
	os.WriteFile(tg.m("u"), []byte("still here"), 0o644)
	f, err := os.Open(tg.m("u"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tg.m("u")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tg.m("u")); !os.IsNotExist(err) {
		t.Fatalf("stat after unlink: %v", err)
	}
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "still here" {
		t.Fatalf("read after unlink: %q %v", b, err)
	}
	f.Close()
	// close(2) does not wait for the kernel's RELEASE: poll briefly.
	if !poll(5*time.Second, func() bool { return tg.serverGone(t, "u") }) {
		t.Fatal("file left on server after the last close")
	}

	// The name is free at once, as POSIX has it: a new file takes it while
	// the unlinked one is still open, and nothing of the old one is left
	// on the server after the last close.
	os.Mkdir(tg.m("unl"), 0o755)
	os.WriteFile(tg.m("unl/u"), []byte("old"), 0o644)
	if f, err = os.Open(tg.m("unl/u")); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(tg.m("unl/u")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tg.m("unl/u"), []byte("new"), 0o644); err != nil {
		t.Fatalf("new file in the place of an unlinked open one: %v", err)
	}
	if b, err := io.ReadAll(f); err != nil || string(b) != "old" {
		t.Fatalf("unlinked file read after its name was taken: %q %v", b, err)
	}
	if ents, err := os.ReadDir(tg.m("unl")); err != nil || len(ents) != 1 || ents[0].Name() != "u" {
		t.Fatalf("listing: %v %v", ents, err)
	}
	if b := tg.serverFile(t, "unl/u"); string(b) != "new" {
		t.Fatalf("server's unl/u: %q", b)
	}
	f.Close()
	var left map[string]Entry
	if !poll(5*time.Second, func() bool {
		var err error
		if left, err = tg.Server.Walk("unl"); err != nil {
			t.Fatal(err)
		}
		return len(left) == 1
	}) {
		t.Fatalf("server's unl after the last close: %v", left)
	}
}

func mkdirRmdir(t *testing.T, tg *Target) {
	if err := os.MkdirAll(tg.m("a/b/c"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustErrno(t, os.Mkdir(tg.m("a"), 0o755), syscall.EEXIST)
	mustErrno(t, syscall.Rmdir(tg.m("a")), syscall.ENOTEMPTY)
	if err := os.Remove(tg.m("a/b/c")); err != nil {
		t.Fatal(err)
	}
	if st, err := tg.Server.Stat("a/b"); err != nil || !st.IsDir {
		t.Fatalf("a/b missing on server: %+v %v", st, err)
	}
	if !tg.serverGone(t, "a/b/c") {
		t.Fatal("a/b/c still on server")
	}
}

func rename(t *testing.T, tg *Target) {
	m := tg.m
	os.WriteFile(m("r1"), []byte("one"), 0o644)
	os.WriteFile(m("r2"), []byte("two"), 0o644)
	mustErrno(t, unix.Renameat2(unix.AT_FDCWD, m("r1"), unix.AT_FDCWD, m("r2"), unix.RENAME_NOREPLACE), syscall.EEXIST)
	if err := os.Rename(m("r1"), m("r2")); err != nil {
		t.Fatal(err)
	}
	if b := tg.serverFile(t, "r2"); string(b) != "one" {
		t.Fatalf("r2 = %q", b)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, m("r2"), unix.AT_FDCWD, m("a/r3"), unix.RENAME_NOREPLACE); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(m("a/r3")); string(b) != "one" {
		t.Fatalf("a/r3 = %q %v", b, err)
	}
	// directory rename, then a path below it
	os.MkdirAll(m("dir1/sub"), 0o755)
	os.WriteFile(m("dir1/sub/f"), []byte("deep"), 0o644)
	if err := os.Rename(m("dir1"), m("dir2")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(m("dir2/sub/f")); string(b) != "deep" {
		t.Fatalf("after dir rename: %q %v", b, err)
	}
	// replacing an empty directory, as POSIX allows
	os.Mkdir(m("empty"), 0o755)
	os.Mkdir(m("dir3"), 0o755)
	// (os.Rename refuses directory targets itself: use the system call.)
	if err := syscall.Rename(m("dir3"), m("empty")); err != nil {
		t.Fatalf("rename onto empty dir: %v", err)
	}
}

func hardLink(t *testing.T, tg *Target) {
	os.WriteFile(tg.m("l1"), []byte("linked"), 0o644)
	if err := os.Link(tg.m("l1"), tg.m("l2")); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	syscall.Stat(tg.m("l2"), &st)
	if st.Nlink != 2 {
		t.Fatalf("nlink %d", st.Nlink)
	}
	a, b := tg.serverStat(t, "l1"), tg.serverStat(t, "l2")
	if a.Ino != b.Ino {
		t.Fatal("not one inode on the server")
	}
}

func symlink(t *testing.T, tg *Target) {
	m := tg.m
	if err := os.Symlink("../target/path", m("sl")); err != nil {
		t.Fatal(err)
	}
	got, err := os.Readlink(m("sl"))
	if err != nil || got != "../target/path" {
		t.Fatalf("readlink %q %v", got, err)
	}
	st, err := os.Lstat(m("sl"))
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("lstat %v %v", st, err)
	}
	os.WriteFile(m("real"), []byte("via link"), 0o644)
	os.Symlink("real", m("sl2"))
	if b, err := os.ReadFile(m("sl2")); string(b) != "via link" {
		t.Fatalf("follow: %q %v", b, err)
	}
	ents, _ := os.ReadDir(m(""))
	for _, e := range ents {
		if e.Name() == "sl" && e.Type()&os.ModeSymlink == 0 {
			t.Fatal("readdir does not report the symlink type")
		}
	}
	// What the server keeps.
	switch tg.Symlinks {
	case MFSymlinks:
		if t2, ok := smb2.DecodeMFSymlink(tg.serverFile(t, "sl")); !ok || t2 != "../target/path" {
			t.Fatalf("server's sl is not a Minshall-French symlink to ../target/path: %q %v", t2, ok)
		}
	case ReparseSymlinks:
		if s := tg.serverStat(t, "sl"); s.Link != "../target/path" {
			t.Fatalf("server's sl: %+v", s)
		}
	}
}

func setattr(t *testing.T, tg *Target) {
	m := tg.m
	os.WriteFile(m("s"), Rnd(5000), 0o644)
	if err := os.Truncate(m("s"), 100); err != nil {
		t.Fatal(err)
	}
	if st := tg.serverStat(t, "s"); st.Size != 100 {
		t.Fatalf("size on disk %d", st.Size)
	}
	mt := time.Date(2010, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(m("s"), mt, mt); err != nil {
		t.Fatal(err)
	}
	if st := tg.serverStat(t, "s"); !st.ModTime.Equal(mt) {
		t.Fatalf("mtime on disk %v", st.ModTime)
	}
	if st, _ := os.Stat(m("s")); !st.ModTime().Equal(mt) {
		t.Fatalf("mtime via mount %v", st.ModTime())
	}
	// The change time after a utimes is the server's, not this host's:
	// it stays put when the attribute cache refreshes (tar -c checks).
	os.Mkdir(m("sd"), 0o755)
	os.WriteFile(m("sd/f"), nil, 0o644)
	os.Stat(m("sd"))
	if err := os.Chtimes(m("sd"), mt, mt); err != nil {
		t.Fatal(err)
	}
	c1 := ctimeOf(t, m("sd"))
	time.Sleep(1200 * time.Millisecond) // past actimeo
	if c2 := ctimeOf(t, m("sd")); c1 != c2 {
		t.Errorf("ctime of a directory moved from %v to %v with nothing changing it", c1, c2)
	}
	t.Run("read-only", func(t *testing.T) {
		if err := os.Chmod(m("s"), 0o444); err != nil {
			t.Fatal(err)
		}
		tg.skipUnsupported(t, CheckReadOnly)
		if st, _ := os.Stat(m("s")); st.Mode().Perm()&0o222 != 0 {
			t.Fatalf("mode after chmod 444: %v", st.Mode())
		}
	})
	if err := os.Chmod(m("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(m("s")); st.Mode().Perm()&0o200 == 0 {
		t.Fatalf("mode after chmod 644: %v", st.Mode())
	}
	// ftruncate through an open handle with pending writes
	f, _ := os.OpenFile(m("s"), os.O_RDWR, 0)
	f.WriteAt([]byte("abc"), 200)
	f.Truncate(50)
	c1 = ctimeOf(t, m("s"))
	time.Sleep(1200 * time.Millisecond) // past actimeo
	if c2 := ctimeOf(t, m("s")); c1 != c2 {
		t.Errorf("ctime after ftruncate moved from %v to %v with nothing changing it", c1, c2)
	}
	f.Close()
	if st := tg.serverStat(t, "s"); st.Size != 50 {
		t.Fatalf("size after ftruncate %d", st.Size)
	}
}

func statfs(t *testing.T, tg *Target) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(tg.Mnt, &st); err != nil || st.Blocks == 0 || st.Bsize == 0 {
		t.Fatalf("%+v %v", st, err)
	}
	// st_blksize: 1 MiB for files (cp and dd size their I/O from it),
	// 64 KiB for directories (glibc sizes getdents, and so the kernel its
	// READDIRPLUS requests, from it).
	os.WriteFile(tg.m("bs"), []byte("x"), 0o644)
	os.Mkdir(tg.m("bsdir"), 0o755)
	for p, want := range map[string]int64{"bs": 1 << 20, "bsdir": 64 << 10} {
		var s syscall.Stat_t
		if err := syscall.Stat(tg.m(p), &s); err != nil {
			t.Fatal(err)
		}
		if int64(s.Blksize) != want {
			t.Errorf("st_blksize of %s = %d, want %d", p, s.Blksize, want)
		}
	}
}

func xattr(t *testing.T, tg *Target) {
	m := tg.m
	os.WriteFile(m("x"), []byte("x"), 0o644)
	if why, ok := tg.Unsupported[CheckXattr]; ok {
		// The client still answers cleanly.
		mustErrno(t, unix.Setxattr(m("x"), "user.color", []byte("blue"), 0), syscall.EOPNOTSUPP)
		t.Skipf("%s: not supported by this server: %s", CheckXattr, why)
	}
	if err := unix.Setxattr(m("x"), "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(m("x"), "user.color", buf)
	if err != nil || string(buf[:n]) != "blue" {
		t.Fatalf("getxattr %q %v", buf[:n], err)
	}
	n, err = unix.Listxattr(m("x"), buf)
	if err != nil || !strings.Contains(string(buf[:n]), "user.color") {
		t.Fatalf("listxattr %q %v", buf[:n], err)
	}
	mustErrno(t, unix.Setxattr(m("x"), "user.color", []byte("red"), unix.XATTR_CREATE), syscall.EEXIST)
	if err := unix.Removexattr(m("x"), "user.color"); err != nil {
		t.Fatal(err)
	}
	_, err = unix.Getxattr(m("x"), "user.color", buf)
	mustErrno(t, err, syscall.ENODATA)
}

func locks(t *testing.T, tg *Target) {
	samba.RequireTool(t, "flock")
	tg.skipUnsupported(t, CheckTwoHandles)
	m := tg.m
	os.WriteFile(m("lk"), []byte("lock me"), 0o644)
	holder := exec.Command("flock", "-x", m("lk"), "sleep", "4")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	time.Sleep(500 * time.Millisecond)
	if err := exec.Command("flock", "-n", "-x", m("lk"), "true").Run(); err == nil {
		t.Fatal("second exclusive flock succeeded while held")
	}
	// A signal ends a lock wait: flock -w gives up at its alarm.
	start := time.Now()
	if err := exec.Command("flock", "-w", "1", "-x", m("lk"), "true").Run(); err == nil {
		t.Fatal("flock -w 1 succeeded while held")
	} else if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("flock -w 1 gave up after %v", d)
	}
	// A blocking lock waits for the holder and then succeeds.
	start = time.Now()
	if out, err := exec.Command("flock", "-x", m("lk"), "true").CombinedOutput(); err != nil {
		t.Fatalf("blocking flock: %v %s", err, out)
	}
	if time.Since(start) < time.Second {
		t.Fatal("blocking flock did not wait for the holder")
	}
	// fcntl locks on ranges from two processes
	f, _ := os.OpenFile(m("lk"), os.O_RDWR, 0)
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 4}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	exec.Command("flock", "-n", "-s", m("lk"), "true").Run()
	lk.Type = unix.F_UNLCK
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("flock", "-n", "-x", m("lk"), "true").Run(); err != nil {
		t.Fatalf("lock still held after unlock: %v", err)
	}
}

// reservedChars creates, lists, renames and removes names with characters
// POSIX allows and SMB does not. The mount maps them as Linux cifs and
// macOS do (SFM, U+F0xx), so the server's disk holds the mapped names.
func reservedChars(t *testing.T, tg *Target) {
	m := tg.m
	if err := os.MkdirAll(m("rc/back"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{ // local name: name on the server's disk
		"12:30":      "12\uf02230",
		`quo"te`:     "quo\uf020te",
		"st*r":       "st\uf021r",
		"lt<gt>":     "lt\uf023gt\uf024",
		"why?":       "why\uf025",
		`back\slash`: "back\uf026slash",
		"pi|pe":      "pi\uf027pe",
		"ctl\x01":    "ctl\uf001",
		"dot.":       "dot\uf029",
		"space ":     "space\uf028",
		"a.b c":      "a.b c",
	}
	for local, disk := range names {
		if err := os.WriteFile(m("rc/"+local), []byte(local), 0o644); err != nil {
			t.Fatalf("create %q: %v", local, err)
		}
		if b := tg.serverFile(t, "rc/"+disk); string(b) != local {
			t.Fatalf("server's %q = %q, want %q", disk, b, local)
		}
	}
	if ents, err := os.ReadDir(m("rc/back")); err != nil || len(ents) != 0 {
		t.Fatalf(`"back\slash" reached the directory "back": %v %v`, ents, err)
	}
	ents, err := os.ReadDir(m("rc"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range ents {
		got[e.Name()] = true
	}
	for local := range names {
		if !got[local] {
			t.Errorf("listing lacks %q: %v", local, got)
		}
	}
	if len(got) != len(names)+1 {
		t.Errorf("listing has %d names, want %d: %v", len(got), len(names)+1, got)
	}
	if err := os.Mkdir(m("rc/d:ir."), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m("rc/12:30"), m("rc/d:ir./13:45?")); err != nil {
		t.Fatal(err)
	}
	if b := tg.serverFile(t, "rc/d\uf022ir\uf029/13\uf02245\uf025"); string(b) != "12:30" {
		t.Fatalf("renamed file on the server = %q", b)
	}
	if b, err := os.ReadFile(m("rc/d:ir./13:45?")); err != nil || string(b) != "12:30" {
		t.Fatalf("read back through the mount: %q %v", b, err)
	}
	if err := os.RemoveAll(m("rc")); err != nil {
		t.Fatal(err)
	}
	if !tg.serverGone(t, "rc") {
		t.Fatal("rc still on the server")
	}
}

// seekDataHole punches a hole in the middle of a file and walks the file
// with SEEK_DATA and SEEK_HOLE: the hole is reported where it is (unless
// the server cannot keep holes), every byte reported as a hole reads as
// zero, and cp carries the file out of the mount intact.
func seekDataHole(t *testing.T, tg *Target) {
	const size, holeAt, holeEnd = 4 << 20, 1 << 20, 3 << 20
	want := Rnd(size)
	if err := os.WriteFile(tg.m("sparse"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(tg.m("sparse"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, holeAt, holeEnd-holeAt); err != nil {
		t.Fatalf("punch hole: %v", err)
	}
	clear(want[holeAt:holeEnd])
	seek := func(off int64, whence int) int64 {
		t.Helper()
		got, err := unix.Seek(fd, off, whence)
		if err != nil {
			t.Fatalf("lseek(%d, %d): %v", off, whence, err)
		}
		return got
	}
	if _, err := unix.Seek(fd, size, unix.SEEK_DATA); err != syscall.ENXIO {
		t.Fatalf("SEEK_DATA at the end: %v, want ENXIO", err)
	}
	if _, err := unix.Seek(fd, size+1, unix.SEEK_HOLE); err != syscall.ENXIO {
		t.Fatalf("SEEK_HOLE past the end: %v, want ENXIO", err)
	}
	if got := seek(0, unix.SEEK_DATA); got != 0 {
		t.Fatalf("SEEK_DATA from 0 = %d", got)
	}
	// Walk data and holes: what is a hole must read as zeros.
	var holes int64
	for off := int64(0); off < size; {
		h := seek(off, unix.SEEK_HOLE)
		if h <= off && off != 0 || h > size {
			t.Fatalf("SEEK_HOLE from %d = %d", off, h)
		}
		if h == size {
			break
		}
		d, err := unix.Seek(fd, h, unix.SEEK_DATA)
		if err == syscall.ENXIO {
			d = size
		} else if err != nil || d <= h {
			t.Fatalf("SEEK_DATA from %d = %d, %v", h, d, err)
		}
		for _, c := range want[h:d] {
			if c != 0 {
				t.Fatalf("[%d, %d) reported as a hole holds data", h, d)
			}
		}
		holes += d - h
		off = d
	}
	if _, ok := tg.Unsupported[CheckHoles]; !ok {
		if got := seek(0, unix.SEEK_HOLE); got != holeAt {
			t.Errorf("SEEK_HOLE from 0 = %d, want %d", got, holeAt)
		}
		if got := seek(holeAt+5, unix.SEEK_DATA); got != holeEnd {
			t.Errorf("SEEK_DATA from inside the hole = %d, want %d", got, holeEnd)
		}
		if got := seek(holeEnd, unix.SEEK_HOLE); got != size {
			t.Errorf("SEEK_HOLE from after the hole = %d, want %d", got, size)
		}
	} else {
		t.Logf("holes not kept by this server (%s): %d bytes reported as holes", tg.Unsupported[CheckHoles], holes)
	}
	out := filepath.Join(t.TempDir(), "sparse-copy")
	if b, err := exec.Command("cp", "--sparse=always", tg.m("sparse"), out).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("cp out of the mount: %d bytes, %v; differs", len(got), err)
	}
	if tg.serverSum(t, "sparse", 0, -1) != Sum(want) {
		t.Fatal("the file differs on the server's disk")
	}
}

func ctimeOf(t *testing.T, p string) time.Time {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return time.Unix(st.Ctim.Unix())
}
