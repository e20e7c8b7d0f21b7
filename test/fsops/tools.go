package fsops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// Tools runs ordinary tools inside the mount: cp -a, diff -r, tar, git
// init/add/commit/log/fsck/status, rm -rf; the copies are checked on the
// server's disk file by file.
func Tools(t *testing.T, tg *Target) {
	for _, tool := range []string{"cp", "tar", "diff", "git", "ls", "rm"} {
		samba.RequireTool(t, tool)
	}
	mnt := tg.Mnt
	src := t.TempDir()
	for i := 0; i < 50; i++ {
		dir := filepath.Join(src, fmt.Sprintf("d%d", i%5), "sub")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), Rnd(1000*i+1), 0o644)
	}
	os.Symlink("d0/sub", filepath.Join(src, "link"))
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		// The shell goes to dir, not the child of exec.Command: that child
		// shares this process's memory until it execs (vfork), and when
		// its chdir waits for the FUSE server in this process while the
		// runtime stops the world for the garbage collector (which waits
		// for the thread the vfork suspends), none can go on.
		cmd := exec.Command("sh", append([]string{"-c", `cd "$0" && exec "$@"`, dir, name}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "HOME="+src)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run(mnt, "cp", "-a", src, filepath.Join(mnt, "copy"))
	run(mnt, "diff", "-r", "--no-dereference", src, filepath.Join(mnt, "copy"))
	// The server's disk agrees.
	tg.sameTree(t, src, "copy")

	tarball := filepath.Join(t.TempDir(), "x.tar")
	run(src, "tar", "-cf", tarball, ".")
	os.Mkdir(filepath.Join(mnt, "untar"), 0o755)
	run(mnt, "tar", "-xf", tarball, "-C", filepath.Join(mnt, "untar"))
	run(mnt, "diff", "-r", "--no-dereference", src, filepath.Join(mnt, "untar"))
	tg.sameTree(t, src, "untar")
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
	if b := tg.serverFile(t, "repo/README"); string(b) != "hello again\n" {
		t.Fatalf("server's repo/README: %q", b)
	}
	run(mnt, "rm", "-rf", filepath.Join(mnt, "copy"))
	if !tg.serverGone(t, "copy") {
		t.Fatal("rm -rf left files on the server")
	}
}

// sameTree checks that the server's dir holds what the local directory
// src holds: the same directories, files with the same contents, and each
// symlink stored as the target's SymlinkStore says.
func (tg *Target) sameTree(t *testing.T, src, dir string) {
	t.Helper()
	want, err := localWalk(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tg.Server.Walk(dir)
	if err != nil {
		t.Fatalf("server's %s: %v", dir, err)
	}
	var bad []string
	for p, w := range want {
		g, ok := got[p]
		delete(got, p)
		switch {
		case !ok:
			bad = append(bad, "missing on the server: "+p)
		case w.Type == 'l' && tg.Symlinks == MFSymlinks:
			// A regular file in the Minshall-French format; its content is
			// checked by the symlink case.
			if g.Type != 'f' || g.Size != smb2.MFSymlinkSize {
				bad = append(bad, fmt.Sprintf("%s: symlink stored as %+v, want a %d-byte symlink file", p, g, smb2.MFSymlinkSize))
			}
		case w.Type == 'l':
			if g.Type != 'l' || g.Target != w.Target {
				bad = append(bad, fmt.Sprintf("%s: symlink stored as %+v, want -> %s", p, g, w.Target))
			}
		case w.Type == 'd':
			if g.Type != 'd' {
				bad = append(bad, fmt.Sprintf("%s: %+v on the server, want a directory", p, g))
			}
		default:
			if g.Type != 'f' || g.Size != w.Size || g.Sum != w.Sum {
				bad = append(bad, fmt.Sprintf("%s: %+v on the server, want %+v", p, g, w))
			}
		}
	}
	for p := range got {
		bad = append(bad, "extra on the server: "+p)
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Fatalf("server's %s differs from %s:\n%s", dir, src, strings.Join(bad, "\n"))
	}
}

// ListLargeDirectory: ls -l of a directory of ManyFiles files made on the
// server's disk.
func ListLargeDirectory(t *testing.T, tg *Target) {
	n := tg.manyFiles()
	if err := tg.Server.Populate("many", n); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ls", "-l", filepath.Join(tg.Mnt, "many")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(out), "\n-"); got != n {
		t.Fatalf("ls -l listed %d files, want %d", got, n)
	}
}

// ServerStopped: with the server gone, I/O fails within bounded time.
// The caller checks that the mount still unmounts cleanly.
func ServerStopped(t *testing.T, tg *Target) {
	os.WriteFile(tg.m("f"), Rnd(1<<20), 0o644)
	f, err := os.OpenFile(tg.m("f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tg.Server.Stop(); err != nil {
		t.Fatal(err)
	}
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
		if errors.Is(err, io.EOF) {
			// The file is 1 MiB long: a lost server must not read as
			// its end (cp would make a short copy and succeed).
			t.Fatalf("read with the server stopped: %v, want an I/O error", err)
		}
		t.Logf("I/O error as expected: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("I/O hangs with the server stopped")
	}
	if _, err := os.Stat(tg.m("other")); err == nil {
		t.Fatal("stat succeeded with the server stopped")
	}
}
