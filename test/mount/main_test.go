// Package mount tests the mount.smbd3 helper end to end: the real binary,
// the real kernel FUSE mount (directly, through mount(8), an fstab file and,
// for a regular user, fusermount3) against a real Samba on loopback.
//
// The helper is built once, on first use, into a world-readable temporary
// directory (the non-root test runs it as "nobody"). Every test starts its own smbd
// (test/samba), uses fresh mount points, arms a watchdog so that a hang
// fails the run instead of blocking it, and detaches whatever it left
// mounted. Tests skip without root, Samba, fusermount3 or mount(8), and fail
// instead under CI=true (samba.RequireTool and friends).
//
// The daemon logs to syslog; on machines without /dev/log (containers) it
// appends to /run/mount.smbd3/mount.smbd3.log, whose lines about a test's
// mount points the tests print on failure and check for leaked passwords.
package mount

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// helperBin is the built mount.smbd3 (see buildHelper).
var (
	helperDir  string
	helperBin  string
	buildOnce  sync.Once
	buildErr   error
	buildSetup error
)

func TestMain(m *testing.M) {
	helperDir, buildSetup = os.MkdirTemp("", "smbd3-mount-test-")
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	os.Exit(code)
}

// buildHelper builds the helper once, on first use, into a directory every
// user can read ("nobody" runs it too). GOFLAGS applies, so GOFLAGS=-race
// builds a race-detecting daemon (set GORACE=log_path=... to see reports:
// the daemon's stderr is /dev/null).
func buildHelper(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		if buildErr = buildSetup; buildErr != nil {
			return
		}
		os.Chmod(helperDir, 0o755)
		helperBin = filepath.Join(helperDir, "mount.smbd3")
		cmd := exec.Command("go", "build", "-o", helperBin, "github.com/smbd3/mount.smbd3/cmd/mount.smbd3")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// Timeouts.
const (
	testTimeout = 90 * time.Second // whole test, by the watchdog
	cmdTimeout  = 30 * time.Second // any one command
	failBound   = 10 * time.Second // a failing mount must report within this
)

// setup checks the prerequisites, arms the watchdog and starts a Samba.
func setup(t *testing.T, opts samba.Options) *samba.Server {
	t.Helper()
	samba.RequireRoot(t)
	for _, tool := range []string{"fusermount3", "mount", "umount"} {
		samba.RequireTool(t, tool)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		samba.RequireTool(t, "/dev/fuse") // skips, or fails under CI
	}
	buildHelper(t)
	watchdog(t, testTimeout)
	return samba.Start(t, opts)
}

// watchdog kills the test binary with a stack dump if the test hangs: a
// stuck FUSE request must not block CI until go test's global timeout.
func watchdog(t *testing.T, d time.Duration) {
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		panic(fmt.Sprintf("%s still running after %s: hung mount?", name, d))
	})
	t.Cleanup(func() { timer.Stop() })
}

// mountpoint makes an empty directory that every user can reach, and makes
// sure nothing stays mounted there after the test.
func mountpoint(t *testing.T) string {
	t.Helper()
	parent := t.TempDir()
	for d := parent; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	mp := filepath.Join(parent, "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 5 && mounted(mp); i++ {
			t.Errorf("%s still mounted at the end of the test; detaching", mp)
			syscall.Unmount(mp, syscall.MNT_DETACH)
		}
		if t.Failed() {
			if lines := daemonLog(mp, 0); lines != "" {
				t.Logf("daemon log lines for %s:\n%s", mp, lines)
			}
		}
	})
	return mp
}

// daemonLogPath is the daemons' fallback log when run as uid, used when
// there is no /dev/log (see cmd/mount.smbd3/log.go and runtimeDir).
func daemonLogPath(uid int) string {
	if uid == 0 {
		return "/run/mount.smbd3/mount.smbd3.log"
	}
	return fmt.Sprintf("/tmp/mount.smbd3-%d/mount.smbd3.log", uid)
}

// daemonLog is the lines of the fallback log about mp.
func daemonLog(mp string, uid int) string {
	data, _ := os.ReadFile(daemonLogPath(uid))
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.Contains(line, "mountpoint="+mp+" ") || strings.Contains(line, "mountpoint="+mp+"\n") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// result is a finished command.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s; stdout %q; stderr %q", r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// run runs a command with cmdTimeout; env entries are added to os.Environ().
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%s %q: %v", name, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q timed out: %v", name, args, r)
	}
	return r
}

// must runs a command that has to succeed.
func must(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	r := run(t, env, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %q: %v", name, args, r)
	}
	return r
}

// credArgs are the -o options naming the server and its account.
func credArgs(s *samba.Server) string {
	return fmt.Sprintf("port=%d,username=%s,password=%s", s.Port, s.User, s.Password)
}

// unc is the share's UNC without the port (given as port=).
func unc(s *samba.Server) string { return "//" + s.Host + "/" + s.Share }

// credFile writes a credentials file owned by uid, mode 0600.
func credFile(t *testing.T, s *samba.Server, uid int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smb.cred")
	os.Chmod(filepath.Dir(p), 0o755)
	body := fmt.Sprintf("# test\nusername=%s\npassword=%s\ndomain=%s\n", s.User, s.Password, s.Domain)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, -1); err != nil {
		t.Fatal(err)
	}
	return p
}

// mountEntry is the topmost mount at a path.
type mountEntry struct{ fstype, source, superOpts string }

// findMount looks mp up in /proc/self/mountinfo.
func findMount(mp string) (mountEntry, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, false
	}
	defer f.Close()
	var m mountEntry
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || strings.ReplaceAll(fields[4], `\040`, " ") != mp {
			continue
		}
		for i := 6; i+3 < len(fields); i++ {
			if fields[i] == "-" {
				m, found = mountEntry{fields[i+1], fields[i+2], fields[i+3]}, true
				break
			}
		}
	}
	return m, found
}

func mounted(mp string) bool {
	_, ok := findMount(mp)
	return ok
}

// wantMounted checks that mp is an smbd3 mount of the server.
func wantMounted(t *testing.T, mp string, s *samba.Server) mountEntry {
	t.Helper()
	m, ok := findMount(mp)
	if !ok {
		t.Fatalf("%s is not mounted", mp)
	}
	if m.fstype != "fuse.smbd3" || !strings.Contains(m.source, s.Share) {
		t.Fatalf("%s: mounted as %+v, want fuse.smbd3 of %s", mp, m, s.Share)
	}
	return m
}

// waitUnmounted waits for mp to disappear from the mount table.
func waitUnmounted(t *testing.T, mp string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for mounted(mp) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still mounted after %s", mp, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether any thread of pid still runs. A zombie leader does
// not count (PID 1 in a container may be slow to reap the reparented
// daemon), but a leader that exited before its other threads does: the
// process still holds its files, /dev/fuse included.
func alive(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, task := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue
		}
		s := string(data)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X' {
			return true
		}
	}
	return false
}

// waitExit waits for the daemon to exit.
func waitExit(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon %d still running after %s", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusReply is the part of the status JSON the tests check.
type statusReply struct {
	Source     string  `json:"source"`
	Mountpoint string  `json:"mountpoint"`
	Server     string  `json:"server"`
	Share      string  `json:"share"`
	User       string  `json:"user"`
	Dialect    string  `json:"dialect"`
	Signing    *bool   `json:"signing"`
	Encryption *bool   `json:"encryption"`
	PID        int     `json:"pid"`
	Uptime     float64 `json:"uptime_seconds"`
	Reconnects int     `json:"reconnects"`
	ReadOnly   bool    `json:"read_only"`
	Reclaimed  int64   `json:"reclaimed_opens"`
}

// status runs "mount.smbd3 status MP --json", as another user when asUser
// is set (runuser -u).
func status(t *testing.T, mp, asUser string) statusReply {
	t.Helper()
	args := []string{helperBin, "status", mp, "--json"}
	if asUser != "" {
		args = append([]string{"-u", asUser, "--"}, args...)
	}
	var r result
	if asUser != "" {
		r = must(t, nil, "runuser", args...)
	} else {
		r = must(t, nil, args[0], args[1:]...)
	}
	var st statusReply
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v: %q", err, r.stdout)
	}
	if st.PID <= 0 || st.Mountpoint != mp || st.Dialect == "" || st.Signing == nil || st.Encryption == nil {
		t.Fatalf("status --json: %+v", st)
	}
	return st
}

// seed puts a file in the share so that a listing has something to show.
func seed(t *testing.T, s *samba.Server, name string) {
	t.Helper()
	p := filepath.Join(s.Dir, name)
	if err := os.WriteFile(p, []byte("hello from samba\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(p, int(ownerUID(t, s.Dir)), -1)
}

func ownerUID(t *testing.T, path string) uint32 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// lookupUID is the uid of a user name.
func lookupUID(t *testing.T, name string) int {
	t.Helper()
	out := must(t, nil, "id", "-u", name).stdout
	uid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

// oneLine checks that a failure printed exactly one line with the prefix.
func oneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "mount.smbd3: ") {
		t.Errorf("stderr is not one mount.smbd3 line: %q", stderr)
	}
}

// noDaemonFor checks that no daemon for mp is left running.
func noDaemonFor(t *testing.T, mp string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		pids := daemonsFor(mp)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("daemons still running for %s: %v", mp, pids)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// daemonsFor lists live processes whose command line names mp.
func daemonsFor(mp string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("--daemon-child")) {
			continue
		}
		for _, arg := range bytes.Split(cmdline, []byte{0}) {
			if string(arg) == mp && alive(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
