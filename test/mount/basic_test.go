package mount

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestMountAndUnmount mounts with -o username=,password=, lists and reads
// through the mount, asks for the status, and unmounts with umount(8) and
// with fusermount3 -u: either way the daemon exits and nothing stays mounted.
func TestMountAndUnmount(t *testing.T) {
	s := setup(t, samba.Options{})
	seed(t, s, "hello.txt")
	for _, unmount := range [][]string{{"umount"}, {"fusermount3", "-u"}} {
		t.Run(strings.Join(unmount, " "), func(t *testing.T) {
			mp := mountpoint(t)
			r := must(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
			if r.stdout != "" || r.stderr != "" || r.took > failBound {
				t.Errorf("mount: %v; want silence within %s", r, failBound)
			}
			m := wantMounted(t, mp, s)
			if want := fmt.Sprintf("//%s:%d/%s", s.Host, s.Port, s.Share); m.source != want {
				t.Errorf("source %q, want %q", m.source, want)
			}
			if ls := must(t, nil, "ls", "-la", mp); !strings.Contains(ls.stdout, "hello.txt") {
				t.Errorf("ls: %v", ls)
			}
			if cat := must(t, nil, "cat", filepath.Join(mp, "hello.txt")); cat.stdout != "hello from samba\n" {
				t.Errorf("cat: %v", cat)
			}

			st := status(t, mp, "")
			if st.Share != s.Share || st.Server != s.Addr || st.User != s.User || !alive(st.PID) {
				t.Errorf("status: %+v", st)
			}
			text := must(t, nil, helperBin, "status", mp).stdout
			for _, want := range []string{"source:", "server:     " + s.Addr, "share:      share", "dialect:    SMB 3.", "signing:", "encryption:", "uptime:"} {
				if !strings.Contains(text, want) {
					t.Errorf("status output lacks %q:\n%s", want, text)
				}
			}

			must(t, nil, unmount[0], append(unmount[1:], mp)...)
			waitUnmounted(t, mp, 5*time.Second)
			waitExit(t, st.PID, 5*time.Second)
			if r := run(t, nil, helperBin, "status", mp); r.code != 1 || !strings.Contains(r.stderr, "not a mount.smbd3 mount point") {
				t.Errorf("status after unmount: %v", r)
			}
		})
	}
}

// installHelper puts the built helper where mount(8) looks for it, and
// restores what was there before: /sbin/mount.smbd3 for "mount -t smbd3"
// and fstab lines of type smbd3, /sbin/mount.fuse.smbd3 (as
// packaging/install.sh links it) for what the mount table calls the mount.
func installHelper(t *testing.T) {
	t.Helper()
	installAs(t, "/sbin/mount.smbd3")
	installAs(t, "/sbin/mount.fuse.smbd3")
}

func installAs(t *testing.T, path string) {
	t.Helper()
	backup := path + ".smbd3-test-backup"
	if _, err := os.Lstat(backup); err != nil { // else: left by a crashed run, and path is ours
		if _, err := os.Lstat(path); err == nil {
			if err := os.Rename(path, backup); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		if _, err := os.Lstat(backup); err == nil {
			os.Rename(backup, path)
		} else {
			os.Remove(path)
		}
	})
	data, err := os.ReadFile(helperBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// TestMountTypeSmbd3 mounts through mount(8), which runs /sbin/mount.smbd3,
// with a credentials file, and unmounts with umount(8).
func TestMountTypeSmbd3(t *testing.T) {
	s := setup(t, samba.Options{})
	installHelper(t)
	seed(t, s, "via-mount8.txt")
	mp := mountpoint(t)
	cred := credFile(t, s, 0)
	r := must(t, nil, "mount", "-t", "smbd3", unc(s), mp, "-o", fmt.Sprintf("port=%d,credentials=%s", s.Port, cred))
	if r.stderr != "" {
		t.Errorf("mount: %v", r)
	}
	wantMounted(t, mp, s)
	if ls := must(t, nil, "ls", mp); !strings.Contains(ls.stdout, "via-mount8.txt") {
		t.Errorf("ls: %v", ls)
	}
	pid := status(t, mp, "").PID
	must(t, nil, "umount", mp)
	waitUnmounted(t, mp, 5*time.Second)
	waitExit(t, pid, 5*time.Second)

	// A failure comes back through mount(8) with the helper's status and line.
	bad := filepath.Join(t.TempDir(), "bad.cred")
	os.WriteFile(bad, []byte("username="+s.User+"\npassword=wrong\n"), 0o600)
	r = run(t, nil, "mount", "-t", "smbd3", unc(s), mp, "-o", fmt.Sprintf("port=%d,credentials=%s", s.Port, bad))
	if r.code != 32 || !strings.Contains(r.stderr, "STATUS_LOGON_FAILURE") {
		t.Errorf("mount(8) with a wrong password: %v", r)
	}
	if mounted(mp) {
		t.Errorf("%s mounted after a failure", mp)
	}
}

// TestFstab mounts from an fstab line (mount -T FILE MOUNTPOINT), with the
// mount(8) options _netdev and nofail that the helper must accept.
func TestFstab(t *testing.T) {
	s := setup(t, samba.Options{})
	installHelper(t)
	seed(t, s, "via-fstab.txt")
	mp := mountpoint(t)
	cred := credFile(t, s, 0)
	fstab := filepath.Join(t.TempDir(), "fstab")
	line := fmt.Sprintf("%s %s smbd3 credentials=%s,port=%d,_netdev,nofail,x-systemd.automount 0 0\n", unc(s), mp, cred, s.Port)
	if err := os.WriteFile(fstab, []byte("# test fstab\n"+line), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, nil, "mount", "-T", fstab, mp)
	wantMounted(t, mp, s)
	if ls := must(t, nil, "ls", mp); !strings.Contains(ls.stdout, "via-fstab.txt") {
		t.Errorf("ls: %v", ls)
	}
	pid := status(t, mp, "").PID
	must(t, nil, "umount", mp)
	waitUnmounted(t, mp, 5*time.Second)
	waitExit(t, pid, 5*time.Second)
}

// TestVersionAndHelp checks -V and -h.
func TestVersionAndHelp(t *testing.T) {
	buildHelper(t)
	if r := run(t, nil, helperBin, "-V"); r.code != 0 || !strings.HasPrefix(r.stdout, "mount.smbd3 ") {
		t.Errorf("-V: %v", r)
	}
	if r := run(t, nil, helperBin, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "mount.smbd3 ") {
		t.Errorf("--version: %v", r)
	}
	r := run(t, nil, helperBin, "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: mount.smbd3 //server") || !strings.Contains(r.stdout, "mount.smbd3 status MOUNTPOINT") {
		t.Errorf("-h: %v", r)
	}
}
