package mount

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/netcut"
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

// TestNetworkDrop: the connection of a mount made by the helper drops (a
// proxy between it and the server cuts it) while a program has a file open
// for writing. The daemon reconnects with the old session's client GUID
// and reclaims the durable open: the program's writes, fsync and close
// succeed, and the server's file has every byte.
func TestNetworkDrop(t *testing.T) {
	s := setup(t, samba.Options{})
	p, err := netcut.NewProxy(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, port, _ := net.SplitHostPort(p.Addr)
	mp := mountpoint(t)
	must(t, nil, helperBin, unc(s), mp, "-o", fmt.Sprintf("port=%s,username=%s,password=%s", port, s.User, s.Password))
	defer run(t, nil, "umount", mp)
	wantMounted(t, mp, s)

	f, err := os.OpenFile(filepath.Join(mp, "w"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 8<<20)
	rand.Read(data)
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if _, err := f.Write(data[half:]); err != nil {
		t.Fatalf("write after the drop: %v\ndaemon log:\n%s", err, daemonLog(mp, 0))
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync after the drop: %v\ndaemon log:\n%s", err, daemonLog(mp, 0))
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close after the drop: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir, "w")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("server's file: %d bytes of %d, %v", len(b), len(data), err)
	}
	if st := status(t, mp, ""); st.Reconnects != 1 || st.Reclaimed != 1 {
		t.Errorf("status: %d reconnections, %d opens reclaimed; want 1 and 1", st.Reconnects, st.Reclaimed)
	}
	if text := must(t, nil, helperBin, "status", mp).stdout; !strings.Contains(text, "durable opens: 1 reclaimed, 0 opened again by path, 0 lost") {
		t.Errorf("status output lacks the reclaim:\n%s", text)
	}
	if log := daemonLog(mp, 0); !strings.Contains(log, "durable handle reclaimed") {
		t.Errorf("daemon log lacks the reclaim:\n%s", log)
	}
}
