package mount

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestServerRestart: the server restarts under a mount made by the helper.
// The mount goes on without being mounted again: ls and cat work through a
// new session, the status counts the reconnection, and umount is clean.
func TestServerRestart(t *testing.T) {
	s := setup(t, samba.Options{})
	seed(t, s, "hello.txt")
	mp := mountpoint(t)
	must(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
	defer run(t, nil, "umount", mp)
	wantMounted(t, mp, s)
	pid := status(t, mp, "").PID

	s.Restart(t)
	seed(t, s, "after.txt") // made while the mount's session was gone
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := run(t, nil, "ls", mp)
		if r.code == 0 && strings.Contains(r.stdout, "after.txt") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ls after the restart: %v\ndaemon log:\n%s", r, daemonLog(mp, 0))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if cat := must(t, nil, "cat", filepath.Join(mp, "hello.txt")); cat.stdout != "hello from samba\n" {
		t.Errorf("cat: %v", cat)
	}
	st := status(t, mp, "")
	if st.PID != pid || st.Reconnects != 1 {
		t.Errorf("status after the restart: pid %d (was %d), reconnects %d, want 1", st.PID, pid, st.Reconnects)
	}
	if text := must(t, nil, helperBin, "status", mp).stdout; !strings.Contains(text, "reconnects: 1") {
		t.Errorf("status output lacks the reconnection:\n%s", text)
	}
	if log := daemonLog(mp, 0); !strings.Contains(log, "reconnected to the server") {
		t.Errorf("daemon log lacks the reconnection:\n%s", log)
	}
	must(t, nil, "umount", mp)
	waitUnmounted(t, mp, 5*time.Second)
	waitExit(t, pid, 5*time.Second)
}
