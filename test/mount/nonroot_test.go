package mount

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// nonRootUser runs the helper in TestNonRootUser.
const nonRootUser = "nobody"

// TestNonRootUser mounts as a regular user through fusermount3 on a
// directory the user owns, lists it, queries the status as that user (and as
// root), and unmounts with fusermount3 -u.
func TestNonRootUser(t *testing.T) {
	s := setup(t, samba.Options{})
	samba.RequireTool(t, "runuser")
	uid := lookupUID(t, nonRootUser)
	userDevFuse(t)
	seed(t, s, "users-file.txt")

	mp := mountpoint(t)
	if err := os.Chown(mp, uid, -1); err != nil {
		t.Fatal(err)
	}
	cred := credFile(t, s, uid)
	as := func(args ...string) []string { return append([]string{"-u", nonRootUser, "--"}, args...) }

	r := must(t, nil, "runuser", as(helperBin, unc(s), mp, "-o", fmt.Sprintf("port=%d,credentials=%s", s.Port, cred))...)
	if r.stderr != "" {
		t.Errorf("mount: %v", r)
	}
	m := wantMounted(t, mp, s)
	if !strings.Contains(m.superOpts, fmt.Sprintf("user_id=%d", uid)) {
		t.Errorf("mount options %q: not mounted by uid %d", m.superOpts, uid)
	}
	if ls := must(t, nil, "runuser", as("ls", "-l", mp)...); !strings.Contains(ls.stdout, "users-file.txt") || !strings.Contains(ls.stdout, nonRootUser) {
		t.Errorf("ls as %s: %v", nonRootUser, ls)
	}
	st := status(t, mp, nonRootUser)
	if st.Share != s.Share {
		t.Errorf("status as %s: %+v", nonRootUser, st)
	}
	if text := must(t, nil, "runuser", as(helperBin, "status", mp)...).stdout; !strings.Contains(text, "dialect:") {
		t.Errorf("status text as %s: %q", nonRootUser, text)
	}
	if root := status(t, mp, ""); root.PID != st.PID {
		t.Errorf("root's status sees pid %d, the user's %d", root.PID, st.PID)
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.PID)); err != nil || !strings.Contains(string(data), fmt.Sprintf("\nUid:\t%d\t", uid)) {
		t.Errorf("daemon does not run as %s: %v", nonRootUser, err)
	}

	must(t, nil, "runuser", as("fusermount3", "-u", mp)...)
	waitUnmounted(t, mp, 5*time.Second)
	waitExit(t, st.PID, 5*time.Second)

	// allow_other needs user_allow_other in /etc/fuse.conf.
	if data, _ := os.ReadFile("/etc/fuse.conf"); !hasLine(string(data), "user_allow_other") {
		r := run(t, nil, "runuser", as(helperBin, unc(s), mp, "-o", fmt.Sprintf("port=%d,credentials=%s,allow_other", s.Port, cred))...)
		if r.code != 1 || !strings.Contains(r.stderr, "user_allow_other in /etc/fuse.conf") {
			t.Errorf("allow_other as a user: %v", r)
		}
		oneLine(t, r.stderr)
	}

	// A mount point the user cannot write to.
	other := mountpoint(t)
	r = run(t, nil, "runuser", as(helperBin, unc(s), other, "-o", fmt.Sprintf("port=%d,credentials=%s", s.Port, cred))...)
	if r.code != 32 || !strings.Contains(r.stderr, "needs write access to the mount point") {
		t.Errorf("foreign mount point: %v", r)
	}
}

// userDevFuse makes /dev/fuse usable by regular users for the test, as
// udev's default rule does (mode 0666): fusermount3 opens it with the
// caller's rights. Minimal containers leave it 0600.
func userDevFuse(t *testing.T) {
	fi, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	mode := fi.Mode().Perm()
	if mode&0o006 == 0o006 {
		return
	}
	t.Logf("/dev/fuse is mode %#o: making it 0666 (as udev does) for this test", mode)
	if err := os.Chmod("/dev/fuse", 0o666); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod("/dev/fuse", mode) })
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
