package mount

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestPasswordNotExposed mounts with the password on the command line, in
// PASSWD, in a credentials file and through PASSWD_FD, and checks that the
// daemon's command line, environment, the process list and the daemon's
// log (at debug level: -v) never contain it.
func TestPasswordNotExposed(t *testing.T) {
	s := setup(t, samba.Options{})
	port := fmt.Sprint(s.Port)
	tests := []struct {
		name  string
		args  func(mp string) []string
		env   []string
		fdPwd bool // write the password to fd 3 and set PASSWD_FD=3
	}{
		{"command line", func(mp string) []string {
			return []string{"-v", unc(s), mp, "-o", "port=" + port + ",username=" + s.User + ",password=" + s.Password}
		}, nil, false},
		{"user%password", func(mp string) []string {
			return []string{unc(s), mp, "-v", "-o", "port=" + port + ",user=" + s.User + "%" + s.Password}
		}, nil, false},
		{"PASSWD", func(mp string) []string {
			return []string{unc(s), mp, "-o", "port=" + port + ",username=" + s.User}
		}, []string{"PASSWD=" + s.Password}, false},
		{"USER=user%password", func(mp string) []string {
			return []string{unc(s), mp, "-o", "port=" + port}
		}, []string{"USER=" + s.User + "%" + s.Password}, false},
		{"credentials file", func(mp string) []string {
			return []string{unc(s), mp, "-o", "port=" + port + ",credentials=" + credFile(t, s, 0)}
		}, nil, false},
		{"PASSWD_FD", func(mp string) []string {
			return []string{unc(s), mp, "-o", "port=" + port + ",username=" + s.User}
		}, []string{"PASSWD_FD=3"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mp := mountpoint(t)
			r := mountWith(t, tt.args(mp), tt.env, tt.fdPwd, s.Password)
			if r.code != 0 {
				t.Fatalf("mount: %v", r)
			}
			if strings.Contains(r.stderr, s.Password) {
				t.Errorf("the helper printed the password: %q", r.stderr)
			}
			pid := status(t, mp, "").PID
			for _, f := range []string{"cmdline", "environ"} {
				data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(data, []byte(s.Password)) {
					t.Errorf("/proc/%d/%s contains the password: %q", pid, f, bytes.ReplaceAll(data, []byte{0}, []byte{' '}))
				}
				if f == "cmdline" && !bytes.Contains(data, []byte(mp)) {
					t.Errorf("/proc/%d/cmdline does not name the mount point: %q", pid, data)
				}
			}
			if ps := must(t, nil, "ps", "-eo", "pid,args"); strings.Contains(ps.stdout, s.Password) {
				t.Errorf("ps shows the password")
			}
			must(t, nil, "ls", mp) // the daemon really authenticated
			must(t, nil, "umount", mp)
			waitExit(t, pid, 5*time.Second)
			for _, f := range []string{daemonLogPath(0), daemonLogPath(0) + ".1"} {
				if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte(s.Password)) {
					t.Errorf("the daemon log %s contains the password", f)
				}
			}
		})
	}
}

// mountWith runs the helper, optionally feeding the password on fd 3.
func mountWith(t *testing.T, args, env []string, fdPwd bool, password string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, helperBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if fdPwd {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		io.WriteString(w, password+"\n")
		w.Close()
		cmd.ExtraFiles = []*os.File{r}
	}
	start := time.Now()
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPasswordPrompt runs the helper on a terminal without a password: it
// asks, does not echo, and mounts with what was typed.
func TestPasswordPrompt(t *testing.T) {
	s := setup(t, samba.Options{})
	mp := mountpoint(t)
	master, slave := openPTY(t)

	cmd := exec.Command(helperBin, unc(s), mp, "-o", fmt.Sprintf("port=%d,username=%s", s.Port, s.User))
	cmd.Env = append(os.Environ(), "PASSWD=", "PASSWD_FD=", "PASSWD_FILE=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()

	var seen bytes.Buffer
	readUntil := func(want string) {
		t.Helper()
		buf := make([]byte, 1024)
		deadline := time.Now().Add(cmdTimeout)
		for !strings.Contains(seen.String(), want) {
			master.SetReadDeadline(deadline)
			n, err := master.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				t.Fatalf("waiting for %q on the terminal: %v; got %q", want, err, seen.String())
			}
		}
	}
	readUntil("Password for " + s.User + "@")
	io.WriteString(master, s.Password+"\n")

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Drain the terminal while the helper finishes.
	go io.Copy(io.Discard, master)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper: %v; terminal: %q", err, seen.String())
		}
	case <-time.After(cmdTimeout):
		cmd.Process.Kill()
		t.Fatalf("helper did not finish; terminal: %q", seen.String())
	}
	if strings.Contains(seen.String(), s.Password) {
		t.Errorf("the password was echoed: %q", seen.String())
	}
	wantMounted(t, mp, s)
	pid := status(t, mp, "").PID
	must(t, nil, "umount", mp)
	waitExit(t, pid, 5*time.Second)
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		samba.RequireTool(t, "/dev/ptmx")
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); sl.Close() })
	return m, sl
}

// TestForeground: -f mounts and serves in the one process, logging to
// stderr, and SIGTERM unmounts and exits 0.
func TestForeground(t *testing.T) {
	s := setup(t, samba.Options{})
	seed(t, s, "fg.txt")
	mp := mountpoint(t)
	cmd := exec.Command(helperBin, "-f", unc(s), mp, "-o", credArgs(s))
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(failBound)
	for !mounted(mp) {
		if time.Now().After(deadline) {
			t.Fatalf("not mounted after %s; stderr %q", failBound, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ls := must(t, nil, "ls", mp); !strings.Contains(ls.stdout, "fg.txt") {
		t.Errorf("ls: %v", ls)
	}
	if st := status(t, mp, ""); st.PID != cmd.Process.Pid {
		t.Errorf("status pid %d, want the foreground process %d", st.PID, cmd.Process.Pid)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(cmdTimeout):
		t.Fatal("no exit after SIGTERM")
	}
	if mounted(mp) {
		t.Errorf("still mounted after SIGTERM")
	}
	log := errb.String()
	if !strings.Contains(log, "msg=mounted") || !strings.Contains(log, "msg=unmounted") || strings.Contains(log, s.Password) {
		t.Errorf("foreground log:\n%s", log)
	}
}

// syncBuffer is a bytes.Buffer that exec's copying goroutine may write
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
