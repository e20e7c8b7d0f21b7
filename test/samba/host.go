package samba

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

const (
	userName    = "smbd3test"
	netbiosName = "SMBD3TEST"
	stateDir    = "/run/smbd3-samba" // the host-wide lock and the lo address holders
	dirPrefix   = "smbd3-samba-"     // server directories, in shareParent()
)

// inCI reports whether the environment asks for missing prerequisites to be fatal.
func inCI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// unavailable skips the test, or fails it under CI, saying what is missing and how
// to fix it.
func unavailable(t testing.TB, missing, fix string) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s: fatal because CI is set (%s)", missing, fix)
	}
	t.Skipf("%s: skipping (%s)", missing, fix)
}

// RequireTool skips the test when the named program is not on PATH, or fails it when
// CI is set.
func RequireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		unavailable(t, name+" not found on PATH", "run scripts/deps.sh as root")
	}
}

// RequireRoot skips the test unless it runs as root, or fails it when CI is set.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "not running as root", "the Samba harness needs root for useradd, chown, ip addr and smbd")
	}
}

// hostLock serializes host-wide changes (the Unix account, lo addresses) between
// goroutines and between test processes, which go test runs in parallel.
func hostLock() (unlock func(), err error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}

// prepareHost creates the Unix account the SMB user maps to, once, returns its ids,
// and sweeps up after test processes that died without running their cleanups.
func prepareHost() (uid, gid int, err error) {
	unlock, err := hostLock()
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	sweepLocked()
	u, err := user.Lookup(userName)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return 0, 0, err
		}
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--comment", "mount.smbd3 test harness", userName).CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("useradd %s: %v: %s", userName, err, out)
		}
		if u, err = user.Lookup(userName); err != nil {
			return 0, 0, err
		}
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err = strconv.Atoi(u.Gid)
	return uid, gid, err
}

// holdSeq names this process's holds on lo addresses.
var holdSeq atomic.Uint64

// holdAddrs makes sure every extra address is on lo and records a hold on it; the
// returned release drops the holds and removes each address the harness added once
// no live process holds it any more.
func holdAddrs(addrs []string) (release func() error, err error) {
	if len(addrs) == 0 {
		return func() error { return nil }, nil
	}
	unlock, err := hostLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	hold := fmt.Sprintf("%d-%d", os.Getpid(), holdSeq.Add(1))
	var held []string
	releaseLocked := func() error {
		var errs []error
		for _, a := range held {
			errs = append(errs, dropHold(a, hold))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (func() error, error) {
		releaseLocked()
		return nil, err
	}
	for _, a := range addrs {
		d := filepath.Join(stateDir, "lo", a)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
		on, err := onLoopback(a)
		if err != nil {
			return fail(err)
		}
		if !on {
			if out, err := exec.Command("ip", "addr", "add", a+"/8", "dev", "lo").CombinedOutput(); err != nil {
				return fail(fmt.Errorf("ip addr add %s/8 dev lo: %v: %s", a, err, bytes.TrimSpace(out)))
			}
			if err := os.WriteFile(filepath.Join(d, "added"), nil, 0o644); err != nil {
				return fail(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "hold."+hold), nil, 0o644); err != nil {
			return fail(err)
		}
		held = append(held, a)
	}
	return func() error {
		unlock, err := hostLock()
		if err != nil {
			return err
		}
		defer unlock()
		return releaseLocked()
	}, nil
}

// dropHold removes one hold on addr and, if the harness added addr and no live
// process still holds it, removes it from lo. Called with the host lock held.
func dropHold(addr, hold string) error {
	d := filepath.Join(stateDir, "lo", addr)
	os.Remove(filepath.Join(d, "hold."+hold))
	ents, err := os.ReadDir(d)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), "hold.")
		if !ok {
			continue
		}
		if pid, _, _ := strings.Cut(name, "-"); alive(pid) {
			return nil // still in use
		}
		os.Remove(filepath.Join(d, e.Name())) // a crashed test's hold
	}
	if _, err := os.Stat(filepath.Join(d, "added")); err != nil {
		return nil // the address was there before the harness; leave it
	}
	if on, _ := onLoopback(addr); on {
		if out, err := exec.Command("ip", "addr", "del", addr+"/8", "dev", "lo").CombinedOutput(); err != nil {
			return fmt.Errorf("ip addr del %s/8 dev lo: %v: %s", addr, err, bytes.TrimSpace(out))
		}
	}
	return os.Remove(filepath.Join(d, "added"))
}

// sweepLocked removes lo addresses the harness added that no live process holds,
// and server directories whose owning process is gone and that no process uses.
// Called with the host lock held.
func sweepLocked() {
	addrs, _ := os.ReadDir(filepath.Join(stateDir, "lo"))
	for _, a := range addrs {
		dropHold(a.Name(), "")
	}
	dirs, _ := filepath.Glob(filepath.Join(shareParent(), dirPrefix+"*"))
	for _, d := range dirs {
		pid, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil || alive(strings.TrimSpace(string(pid))) {
			continue
		}
		if len(configProcs(filepath.Join(d, "smb.conf"))) == 0 {
			os.RemoveAll(d)
		}
	}
}

func alive(pid string) bool {
	if _, err := strconv.Atoi(pid); err != nil {
		return true // not a pid file of ours: leave the directory alone
	}
	_, err := os.Stat("/proc/" + pid)
	return err == nil
}

// onLoopback reports whether addr is assigned to lo.
func onLoopback(addr string) (bool, error) {
	want, err := netip.ParseAddr(addr)
	if err != nil {
		return false, err
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return false, err
	}
	as, err := lo.Addrs()
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == want {
				return true, nil
			}
		}
	}
	return false, nil
}

// configProcs returns the live processes whose command line names conf: smbd, its
// forked children, and samba-dcerpcd and its rpcd_* workers, which smbd starts in a
// session of their own with --configfile=conf.
func configProcs(conf string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(cmdline) == 0 { // gone, or a zombie
			continue
		}
		for _, arg := range strings.Split(string(cmdline), "\x00") {
			if arg == conf || arg == "--configfile="+conf || arg == "-s"+conf {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// shareParent returns a directory for server trees that the unprivileged share user
// can traverse: os.TempDir() when every ancestor is searchable by others, else /tmp.
func shareParent() string {
	dir := os.TempDir()
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

// Processes are started from one goroutine locked to its OS thread, which never
// exits: Pdeathsig fires when the thread that started the child exits, not the
// process, so this keeps it meaning "the test binary died".
var (
	spawnOnce sync.Once
	spawnc    chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

// Spawn starts cmd from that thread, so that a child with Pdeathsig set
// dies with the test binary (for other harnesses that start servers).
func Spawn(cmd *exec.Cmd) error { return spawn(cmd) }

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnc = make(chan spawnReq)
		go func() {
			runtime.LockOSThread()
			for r := range spawnc {
				r.errc <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd, make(chan error, 1)}
	spawnc <- r
	return <-r.errc
}
