package mount

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestMountFailures: every failure is reported by the foreground process
// with exit status 32 (1 for a bad option) within 10 s, in one line naming
// the cause, and leaves neither a mount nor a daemon behind.
func TestMountFailures(t *testing.T) {
	s := setup(t, samba.Options{})

	closed := closedPort(t)
	silent := silentServer(t)
	port := fmt.Sprint(s.Port)
	user := "username=" + s.User
	tests := []struct {
		name   string
		args   func(mp string) []string
		code   int
		stderr []string
	}{
		{"wrong password",
			func(mp string) []string {
				return []string{unc(s), mp, "-o", "port=" + port + "," + user + ",password=wrong"}
			},
			32, []string{"//127.0.0.1:" + port + "/share: authentication failed for user " + s.User + ": wrong password or unknown user (STATUS_LOGON_FAILURE)"}},
		{"unknown user",
			func(mp string) []string {
				return []string{unc(s), mp, "-o", "port=" + port + ",username=nosuchuser,password=x"}
			},
			32, []string{"authentication failed for user nosuchuser", "STATUS_LOGON_FAILURE"}},
		{"unknown share",
			func(mp string) []string {
				return []string{"//127.0.0.1/nosuchshare", mp, "-o", "port=" + port + "," + user + ",password=" + s.Password}
			},
			32, []string{`share "nosuchshare" not found on 127.0.0.1 (STATUS_BAD_NETWORK_NAME)`}},
		{"unknown subdirectory",
			func(mp string) []string {
				return []string{unc(s) + "/no/such/dir", mp, "-o", "port=" + port + "," + user + ",password=" + s.Password}
			},
			32, []string{`directory "no/such/dir" not found in share "share"`}},
		{"unknown option",
			func(mp string) []string { return []string{unc(s), mp, "-o", "port=" + port + ",frobnicate," + user} },
			1, []string{`unknown mount option "frobnicate"`}},
		{"bad option value",
			func(mp string) []string { return []string{unc(s), mp, "-o", "port=" + port + ",vers=2.1," + user} },
			1, []string{"vers: SMB 2.1 is not supported"}},
		{"unknown flag",
			func(mp string) []string { return []string{unc(s), mp, "-Z"} },
			1, []string{`unknown flag "-Z"`}},
		{"missing mount point",
			func(mp string) []string { return []string{unc(s), mp + "/missing", "-o", credArgs(s)} },
			32, []string{"mount point ", "/missing does not exist"}},
		{"refused",
			func(mp string) []string {
				return []string{unc(s), mp, "-o", "port=" + closed + "," + user + ",password=x"}
			},
			32, []string{"cannot reach server 127.0.0.1:" + closed + ": connection refused"}},
		{"silent server",
			func(mp string) []string {
				return []string{unc(s), mp, "-o", "port=" + silent + "," + user + ",password=x"}
			},
			32, []string{"server 127.0.0.1:" + silent + " did not answer within"}},
		{"silent server, foreground",
			func(mp string) []string {
				return []string{"-f", unc(s), mp, "-o", "port=" + silent + "," + user + ",password=x"}
			},
			32, []string{"server 127.0.0.1:" + silent + " did not answer within"}},
	}
	// The slow cases (the silent server takes the whole connect timeout)
	// run in parallel with the rest.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mp := mountpoint(t)
			r := run(t, nil, helperBin, tt.args(mp)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d: %v", r.code, tt.code, r)
			}
			if r.took > failBound {
				t.Errorf("took %s, want under %s", r.took, failBound)
			}
			oneLine(t, r.stderr)
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
			if strings.Contains(r.stderr, s.Password) {
				t.Errorf("stderr shows the password: %q", r.stderr)
			}
			if mounted(mp) {
				t.Errorf("%s is mounted after a failure", mp)
			}
			noDaemonFor(t, mp)
		})
	}
}

// closedPort is a loopback port nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// silentServer accepts connections and never answers: a server that hangs
// (the nearest to a blackholed address loopback allows).
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestMountpointChecks: a mount point that is a file, or already an smbd3
// mount, is refused with a clear line.
func TestMountpointChecks(t *testing.T) {
	s := setup(t, samba.Options{})
	mp := mountpoint(t)
	file := filepath.Join(mp, "..", "afile")
	must(t, nil, "touch", file)
	if r := run(t, nil, helperBin, unc(s), file, "-o", credArgs(s)); r.code != 32 || !strings.Contains(r.stderr, "is not a directory") {
		t.Errorf("file as mount point: %v", r)
	}

	must(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
	pid := status(t, mp, "").PID
	r := run(t, nil, helperBin, unc(s), mp, "-o", credArgs(s))
	if r.code != 32 || !strings.Contains(r.stderr, "is already mounted") {
		t.Errorf("second mount: %v", r)
	}
	oneLine(t, r.stderr)
	must(t, nil, "umount", mp)
	waitUnmounted(t, mp, cmdTimeout)
	waitExit(t, pid, cmdTimeout)
}
