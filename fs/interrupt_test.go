package fs_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestSignalsDoNotInterrupt: a signal to a process waiting on the server
// (the kernel passes it on as FUSE_INTERRUPT) does not end the operation
// with EINTR, which programs do not expect from file operations (they set
// SA_RESTART, Go for all its signals); the answer comes once the server
// does, as with Linux cifs.
func TestSignalsDoNotInterrupt(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	// Made on the server's disk, so the mount has nothing cached about it.
	if err := os.WriteFile(filepath.Join(srv.Dir, "g"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Pause(t)
	tids := make(chan int)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine
		tids <- unix.Gettid()
		var st unix.Stat_t
		done <- unix.Stat(filepath.Join(mnt, "g"), &st) // x/sys/unix does not retry on EINTR
	}()
	tid := <-tids
	time.Sleep(500 * time.Millisecond) // the stat now waits for the server
	select {
	case err := <-done:
		t.Fatalf("stat did not wait for the paused server: %v", err)
	default:
	}
	for range 3 {
		if err := unix.Tgkill(os.Getpid(), tid, unix.SIGWINCH); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			srv.Resume(t)
			t.Fatalf("stat ended by a signal while the server was silent: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	srv.Resume(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stat while signalled: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stat did not end after the server answered")
	}
}
