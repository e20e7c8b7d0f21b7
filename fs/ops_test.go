package fs_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func mustErrno(t *testing.T, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// TestFileOperations exercises each VFS operation through the kernel mount
// and checks the result on the server's disk.
func TestFileOperations(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{ExtraShare: map[string]string{"ea support": "yes"}}, smbfs.Options{})
	m := func(p string) string { return filepath.Join(mnt, p) }
	d := func(p string) string { return filepath.Join(srv.Dir, p) }

	t.Run("create excl trunc append", func(t *testing.T) {
		f, err := os.OpenFile(m("c"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("hello")
		f.Close()
		_, err = os.OpenFile(m("c"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		mustErrno(t, err, syscall.EEXIST)
		f, err = os.OpenFile(m("c"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(" world")
		f.Close()
		if b, _ := os.ReadFile(d("c")); string(b) != "hello world" {
			t.Fatalf("append: %q", b)
		}
		f, err = os.OpenFile(m("c"), os.O_TRUNC|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("new")
		f.Close()
		if b, _ := os.ReadFile(d("c")); string(b) != "new" {
			t.Fatalf("trunc: %q", b)
		}
	})
	t.Run("large io checksum", func(t *testing.T) {
		data := rnd(64<<20 + 12345)
		if err := os.WriteFile(m("big"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		disk, _ := os.ReadFile(d("big"))
		if sum(disk) != sum(data) {
			t.Fatal("server disk checksum differs")
		}
		got, err := os.ReadFile(m("big"))
		if err != nil || sum(got) != sum(data) {
			t.Fatalf("read back checksum differs: %v", err)
		}
		// random-offset reads after the sequential ones
		f, _ := os.Open(m("big"))
		defer f.Close()
		buf := make([]byte, 100000)
		for _, off := range []int64{0, 5 << 20, 33<<20 + 7, int64(len(data)) - 1000} {
			n, err := f.ReadAt(buf, off)
			if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
				t.Fatalf("pread at %d: %d %v", off, n, err)
			}
		}
	})
	t.Run("overwrite in place and fsync", func(t *testing.T) {
		f, err := os.OpenFile(m("big"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		patch := rnd(3 << 20)
		f.WriteAt(patch, 1<<20)
		f.WriteAt(patch[:10], 1<<20) // overlapping rewrite keeps order
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		disk, _ := os.ReadFile(d("big"))
		if !bytes.Equal(disk[1<<20:4<<20], patch) {
			t.Fatal("patched range differs on disk")
		}
		got := make([]byte, 3<<20)
		f.ReadAt(got, 1<<20)
		if !bytes.Equal(got, patch) {
			t.Fatal("patched range read back differs")
		}
		f.Close()
	})
	t.Run("unlink open file", func(t *testing.T) {
		os.WriteFile(m("u"), []byte("still here"), 0o644)
		f, err := os.Open(m("u"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(m("u")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(m("u")); !os.IsNotExist(err) {
			t.Fatalf("stat after unlink: %v", err)
		}
		b, err := io.ReadAll(f)
		if err != nil || string(b) != "still here" {
			t.Fatalf("read after unlink: %q %v", b, err)
		}
		f.Close()
		// close(2) does not wait for the kernel's RELEASE: poll briefly.
		for i := 0; ; i++ {
			if _, err := os.Stat(d("u")); os.IsNotExist(err) {
				break
			}
			if i == 100 {
				t.Fatal("file left on server after the last close")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("mkdir rmdir", func(t *testing.T) {
		if err := os.MkdirAll(m("a/b/c"), 0o755); err != nil {
			t.Fatal(err)
		}
		mustErrno(t, os.Mkdir(m("a"), 0o755), syscall.EEXIST)
		mustErrno(t, syscall.Rmdir(m("a")), syscall.ENOTEMPTY)
		if err := os.Remove(m("a/b/c")); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(d("a/b")); err != nil || !st.IsDir() {
			t.Fatal("a/b missing on server")
		}
		if _, err := os.Stat(d("a/b/c")); !os.IsNotExist(err) {
			t.Fatal("a/b/c still on server")
		}
	})
	t.Run("rename", func(t *testing.T) {
		os.WriteFile(m("r1"), []byte("one"), 0o644)
		os.WriteFile(m("r2"), []byte("two"), 0o644)
		mustErrno(t, unix.Renameat2(unix.AT_FDCWD, m("r1"), unix.AT_FDCWD, m("r2"), unix.RENAME_NOREPLACE), syscall.EEXIST)
		if err := os.Rename(m("r1"), m("r2")); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(d("r2")); string(b) != "one" {
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
	})
	t.Run("hard link", func(t *testing.T) {
		os.WriteFile(m("l1"), []byte("linked"), 0o644)
		if err := os.Link(m("l1"), m("l2")); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		syscall.Stat(m("l2"), &st)
		if st.Nlink != 2 {
			t.Fatalf("nlink %d", st.Nlink)
		}
		a, _ := os.Stat(d("l1"))
		b, _ := os.Stat(d("l2"))
		if !os.SameFile(a, b) {
			t.Fatal("not one inode on the server")
		}
	})
	t.Run("symlink", func(t *testing.T) {
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
	})
	t.Run("setattr", func(t *testing.T) {
		os.WriteFile(m("s"), rnd(5000), 0o644)
		if err := os.Truncate(m("s"), 100); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(d("s")); st.Size() != 100 {
			t.Fatalf("size on disk %d", st.Size())
		}
		mt := time.Date(2010, 5, 6, 7, 8, 9, 0, time.UTC)
		if err := os.Chtimes(m("s"), mt, mt); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(d("s")); !st.ModTime().Equal(mt) {
			t.Fatalf("mtime on disk %v", st.ModTime())
		}
		if st, _ := os.Stat(m("s")); !st.ModTime().Equal(mt) {
			t.Fatalf("mtime via mount %v", st.ModTime())
		}
		if err := os.Chmod(m("s"), 0o444); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(m("s")); st.Mode().Perm()&0o222 != 0 {
			t.Fatalf("mode after chmod 444: %v", st.Mode())
		}
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
		f.Close()
		if st, _ := os.Stat(d("s")); st.Size() != 50 {
			t.Fatalf("size after ftruncate %d", st.Size())
		}
	})
	t.Run("statfs", func(t *testing.T) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); err != nil || st.Blocks == 0 || st.Bsize == 0 {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("xattr", func(t *testing.T) {
		os.WriteFile(m("x"), []byte("x"), 0o644)
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
	})
	t.Run("locks", func(t *testing.T) {
		samba.RequireTool(t, "flock")
		os.WriteFile(m("lk"), []byte("lock me"), 0o644)
		holder := exec.Command("flock", "-x", m("lk"), "sleep", "3")
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer holder.Wait()
		time.Sleep(500 * time.Millisecond)
		if err := exec.Command("flock", "-n", "-x", m("lk"), "true").Run(); err == nil {
			t.Fatal("second exclusive flock succeeded while held")
		}
		// A blocking lock waits for the holder and then succeeds.
		start := time.Now()
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
		out, _ := exec.Command("flock", "-n", "-s", m("lk"), "true").CombinedOutput()
		_ = out
		lk.Type = unix.F_UNLCK
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("flock", "-n", "-x", m("lk"), "true").Run(); err != nil {
			t.Fatalf("lock still held after unlock: %v", err)
		}
	})
}

// TestTools runs ordinary tools inside the mount.
func TestTools(t *testing.T) {
	for _, tool := range []string{"cp", "tar", "diff", "git", "ls"} {
		samba.RequireTool(t, tool)
	}
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	src := t.TempDir()
	for i := 0; i < 50; i++ {
		dir := filepath.Join(src, fmt.Sprintf("d%d", i%5), "sub")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), rnd(1000*i+1), 0o644)
	}
	os.Symlink("d0/sub", filepath.Join(src, "link"))
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "HOME="+src)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run(mnt, "cp", "-a", src, filepath.Join(mnt, "copy"))
	run(mnt, "diff", "-r", "--no-dereference", src, filepath.Join(mnt, "copy"))
	// The server's disk agrees (symlinks are stored as mfsymlink files there).
	run(mnt, "diff", "-r", "--exclude=link", src, filepath.Join(srv.Dir, "copy")+"/")

	tarball := filepath.Join(t.TempDir(), "x.tar")
	run(src, "tar", "-cf", tarball, ".")
	os.Mkdir(filepath.Join(mnt, "untar"), 0o755)
	run(mnt, "tar", "-xf", tarball, "-C", filepath.Join(mnt, "untar"))
	run(mnt, "diff", "-r", "--no-dereference", src, filepath.Join(mnt, "untar"))
	run(mnt, "tar", "-cf", filepath.Join(mnt, "back.tar"), "-C", filepath.Join(mnt, "untar"), ".")

	repo := filepath.Join(mnt, "repo")
	os.Mkdir(repo, 0o755)
	run(repo, "git", "init", "-q")
	os.WriteFile(filepath.Join(repo, "README"), []byte("hello\n"), 0o644)
	run(repo, "git", "add", "README")
	run(repo, "git", "commit", "-q", "-m", "first")
	os.WriteFile(filepath.Join(repo, "README"), []byte("hello again\n"), 0o644)
	run(repo, "git", "commit", "-q", "-a", "-m", "second")
	if log := run(repo, "git", "log", "--oneline"); strings.Count(log, "\n") != 2 {
		t.Fatalf("git log: %q", log)
	}
	run(repo, "git", "fsck", "--no-progress")
	if st := run(repo, "git", "status", "--porcelain"); st != "" {
		t.Fatalf("git status: %q", st)
	}
	run(mnt, "rm", "-rf", filepath.Join(mnt, "copy"))
	if _, err := os.Stat(filepath.Join(srv.Dir, "copy")); !os.IsNotExist(err) {
		t.Fatal("rm -rf left files on the server")
	}
}

// TestListLargeDirectory: ls -l of a 10,000-file directory.
func TestListLargeDirectory(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	dir := filepath.Join(srv.Dir, "many")
	os.Mkdir(dir, 0o777)
	for i := 0; i < 10000; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d", i)), []byte("x"), 0o644)
	}
	out, err := exec.Command("ls", "-l", filepath.Join(mnt, "many")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "\n-"); n != 10000 {
		t.Fatalf("ls -l listed %d files", n)
	}
}

// TestServerStopped: with the server gone, I/O fails within bounded time,
// and the mount still unmounts cleanly.
func TestServerStopped(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	os.WriteFile(filepath.Join(mnt, "f"), rnd(1<<20), 0o644)
	f, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	srv.Stop()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		_, err := f.ReadAt(buf, 512<<10)
		if err == nil {
			_, err = f.WriteAt(buf, 0)
			if err == nil {
				err = f.Sync()
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("I/O succeeded with the server stopped")
		}
		t.Logf("I/O error as expected: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("I/O hangs with the server stopped")
	}
	if _, err := os.Stat(filepath.Join(mnt, "other")); err == nil {
		t.Fatal("stat succeeded with the server stopped")
	}
}
