package mount

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestRemount mounts from an fstab line with noexec, then remounts
// read-only through the fstab line (mount(8) runs /sbin/mount.smbd3) and
// read-write again through the mount table (mount(8) runs
// /sbin/mount.fuse.smbd3, with the options /proc/mounts shows): writes
// fail with EROFS in between and work after, noexec holds throughout, a
// remount read-only with a file open for writing is refused and changes
// nothing, and a remount of a directory that is no such mount fails.
func TestRemount(t *testing.T) {
	s := setup(t, samba.Options{})
	installHelper(t)
	mp := mountpoint(t)
	cred := credFile(t, s, 0)
	fstab := filepath.Join(t.TempDir(), "fstab")
	line := fmt.Sprintf("%s %s smbd3 credentials=%s,port=%d,noexec,_netdev 0 0\n", unc(s), mp, cred, s.Port)
	if err := os.WriteFile(fstab, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, nil, "mount", "-T", fstab, mp)
	wantMounted(t, mp, s)
	t.Cleanup(func() { run(t, nil, "umount", mp) })

	flags := func() int64 {
		t.Helper()
		var st unix.Statfs_t
		if err := unix.Statfs(mp, &st); err != nil {
			t.Fatal(err)
		}
		return st.Flags
	}
	script := filepath.Join(mp, "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	noexec := func(when string) {
		t.Helper()
		if flags()&unix.ST_NOEXEC == 0 {
			t.Errorf("%s: the mount lost noexec", when)
		}
		if out, err := exec.Command(script).CombinedOutput(); !errors.Is(err, os.ErrPermission) {
			t.Errorf("%s: running a script on a noexec mount: %v, %q", when, err, out)
		}
	}
	noexec("mounted")

	// Read-only refused while a file is open for writing: nothing changes.
	f, err := os.OpenFile(filepath.Join(mp, "open.txt"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "mount", "-T", fstab, "-o", "remount,ro", mp)
	if r.code == 0 || !strings.Contains(r.stderr, "busy") {
		t.Errorf("remount ro with a file open for writing: %v", r)
	}
	if _, err := f.WriteString("still writable\n"); err != nil {
		t.Errorf("write after a refused remount: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("close after a refused remount: %v", err)
	}
	if flags()&unix.ST_RDONLY != 0 || status(t, mp, "").ReadOnly {
		t.Errorf("read-only after a refused remount")
	}

	pid := status(t, mp, "").PID
	must(t, nil, "mount", "-T", fstab, "-o", "remount,ro", mp)
	if flags()&unix.ST_RDONLY == 0 || !status(t, mp, "").ReadOnly {
		t.Errorf("remount ro: statfs flags %#x, status read-only %v", flags(), status(t, mp, "").ReadOnly)
	}
	if err := os.WriteFile(filepath.Join(mp, "new.txt"), []byte("x"), 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("create on a read-only remount: %v, want EROFS", err)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "open.txt")); err != nil || string(b) != "still writable\n" {
		t.Errorf("read on a read-only remount: %q, %v", b, err)
	}
	noexec("remounted ro")

	// Back to read-write through the mount table, as "mount -o remount,rw
	// MOUNTPOINT" does without an fstab line.
	must(t, nil, "mount", "-o", "remount,rw", mp)
	if flags()&unix.ST_RDONLY != 0 || status(t, mp, "").ReadOnly {
		t.Errorf("remount rw: statfs flags %#x, status read-only %v", flags(), status(t, mp, "").ReadOnly)
	}
	if err := os.WriteFile(filepath.Join(mp, "new.txt"), []byte("x"), 0o644); err != nil {
		t.Errorf("create after remount rw: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir, "new.txt")); err != nil || string(b) != "x" {
		t.Errorf("server's new.txt: %q, %v", b, err)
	}
	noexec("remounted rw")
	if got := status(t, mp, "").PID; got != pid {
		t.Errorf("daemon pid %d after remounts, was %d: a remount must not mount again", got, pid)
	}

	// Not a mount.smbd3 mount point.
	other := t.TempDir()
	r = run(t, nil, helperBin, unc(s), other, "-o", "remount,ro")
	if r.code != 32 || !strings.Contains(r.stderr, "not a mount.smbd3 mount point") {
		t.Errorf("remount of a plain directory: %v", r)
	}
}
