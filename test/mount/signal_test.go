package mount

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestSIGTERM: the daemon unmounts and exits on SIGTERM; when the mount is
// busy it detaches it at once and exits when the last file is closed.
func TestSIGTERM(t *testing.T) {
	s := setup(t, samba.Options{})
	mp := mountpoint(t)

	must(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
	pid := status(t, mp, "").PID
	syscall.Kill(pid, syscall.SIGTERM)
	waitUnmounted(t, mp, 5*time.Second)
	waitExit(t, pid, 5*time.Second)

	// Busy: this process holds the root directory open.
	must(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
	pid = status(t, mp, "").PID
	dir, err := os.Open(mp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Readdirnames(-1); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	waitUnmounted(t, mp, 5*time.Second) // detached lazily
	time.Sleep(200 * time.Millisecond)
	if !alive(pid) {
		t.Errorf("daemon exited while a file of the detached mount was still open")
	}
	dir.Close()
	waitExit(t, pid, 5*time.Second)
}

// TestSIGKILL: a killed daemon leaves a mount that fails with ENOTCONN;
// fusermount3 -uz and umount -l remove it, and mounting again on the same
// mount point detaches it by itself.
func TestSIGKILL(t *testing.T) {
	s := setup(t, samba.Options{})
	seed(t, s, "again.txt")
	mp := mountpoint(t)

	kill := func() {
		t.Helper()
		must(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
		pid := status(t, mp, "").PID
		syscall.Kill(pid, syscall.SIGKILL)
		waitExit(t, pid, 5*time.Second)
		if _, err := os.ReadDir(mp); !errors.Is(err, syscall.ENOTCONN) {
			t.Errorf("reading a dead mount: %v, want ENOTCONN", err)
		}
		r := run(t, nil, helperBin, "status", mp)
		if r.code != 1 || !strings.Contains(r.stderr, "no daemon answers: it was killed; clean up with: fusermount3 -uz "+mp) {
			t.Errorf("status of a dead mount: %v", r)
		}
	}

	for _, cleanup := range [][]string{{"fusermount3", "-uz"}, {"umount", "-l"}} {
		kill()
		must(t, nil, cleanup[0], append(cleanup[1:], mp)...)
		waitUnmounted(t, mp, 5*time.Second)
	}

	// Mounting again over a dead mount.
	kill()
	r := must(t, nil, helperBin, "-v", unc(s), mp, "-o", credArgs(s))
	if !strings.Contains(r.stderr, "detached the dead mount") {
		t.Errorf("re-mount over a dead mount: %v", r)
	}
	wantMounted(t, mp, s)
	if ls := must(t, nil, "ls", mp); !strings.Contains(ls.stdout, "again.txt") {
		t.Errorf("ls after re-mount: %v", ls)
	}
	pid := status(t, mp, "").PID
	must(t, nil, "umount", mp)
	waitUnmounted(t, mp, 5*time.Second)
	waitExit(t, pid, 5*time.Second)
}
