package lab

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/smbd3/mount.smbd3/test/fsops"
)

// guestRun runs a shell script inside the lab's guest and returns what it
// printed (stdout and stderr together); a non-zero exit status is an
// *exec.ExitError carrying it.
func guestRun(script string) (string, error) {
	sh := os.Getenv("SMBD3_LAB_SCRIPT")
	if sh == "" {
		sh = "../../../shared/lab/lab.sh"
	}
	// A guest command that hangs (ksmbd.mountd against a server that
	// crashed) must not hang the suite until go test's own timeout.
	ctx, cancel := context.WithTimeout(context.Background(), guestTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, sh, "exec", script)
	c.WaitDelay = 5 * time.Second
	c.Env = append(os.Environ(), "LAB="+os.Getenv("SMBD3_LAB"))
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return string(out), fmt.Errorf("lab exec %q: %w\n%s%s", script, err, out, stderr.Bytes())
	}
	return string(out), nil
}

// guestTimeout bounds one guest command.
const guestTimeout = 2 * time.Minute

// quote makes s one shell word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// missing is the exit status guest scripts use for a missing path.
const missing = 44

// guestDisk is the ksmbd share's disk seen from inside the guest: the
// suite's server-side checks run there (sha256sum, stat, find).
type guestDisk struct {
	root string // the guest directory the mount shows, e.g. /srv/share/suite
}

var _ fsops.Server = guestDisk{}

func (g guestDisk) path(p string) string { return quote(path.Join(g.root, p)) }

// run runs script with $P set to the guest path of p; exit status 44
// (missing) becomes fs.ErrNotExist.
func (g guestDisk) run(p, script string) (string, error) {
	out, err := guestRun("P=" + g.path(p) + "\n" + script)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == missing {
		return "", fmt.Errorf("%s in the guest: %w", path.Join(g.root, p), fs.ErrNotExist)
	}
	return out, err
}

const ifMissing = `[ -e "$P" ] || [ -L "$P" ] || exit 44` + "\n"

// ReadFile implements fsops.Server.
func (g guestDisk) ReadFile(p string) ([]byte, error) {
	out, err := g.run(p, ifMissing+`base64 -w0 "$P"`)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(out))
}

// Sum implements fsops.Server.
func (g guestDisk) Sum(p string, off, n int64) (string, error) {
	script := ifMissing + `sha256sum <"$P"`
	if off != 0 || n >= 0 {
		count := ""
		if n >= 0 {
			count = fmt.Sprintf(" count=%d", n)
		}
		script = ifMissing + fmt.Sprintf(`dd if="$P" bs=1M iflag=skip_bytes,count_bytes skip=%d%s status=none | sha256sum`, off, count)
	}
	out, err := g.run(p, script)
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("sha256sum in the guest: %q", out)
	}
	return f[0], nil
}

// Stat implements fsops.Server.
func (g guestDisk) Stat(p string) (fsops.Stat, error) {
	out, err := g.run(p, ifMissing+`stat -c '%F|%s|%i|%h|%.9Y' "$P" && if [ -L "$P" ]; then readlink "$P"; fi`)
	if err != nil {
		return fsops.Stat{}, err
	}
	lines := strings.SplitN(strings.TrimRight(out, "\n"), "\n", 2)
	f := strings.Split(lines[0], "|")
	if len(f) != 5 {
		return fsops.Stat{}, fmt.Errorf("stat in the guest: %q", out)
	}
	var st fsops.Stat
	st.IsDir = f[0] == "directory"
	st.Size, _ = strconv.ParseInt(f[1], 10, 64)
	st.Ino, _ = strconv.ParseUint(f[2], 10, 64)
	st.Nlink, _ = strconv.ParseUint(f[3], 10, 64)
	sec, nsec, _ := strings.Cut(f[4], ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt(nsec, 10, 64)
	if err1 != nil || err2 != nil {
		return fsops.Stat{}, fmt.Errorf("stat in the guest: mtime %q", f[4])
	}
	st.ModTime = time.Unix(s, ns)
	if f[0] == "symbolic link" && len(lines) == 2 {
		st.Link = lines[1]
	}
	return st, nil
}

// Walk implements fsops.Server. A file that goes away while it is
// walked (deleted at its last close) is left out.
func (g guestDisk) Walk(dir string) (map[string]fsops.Entry, error) {
	out, err := g.run(dir, `cd "$P" 2>/dev/null || exit 44
find . -mindepth 1 -printf '%y|%s|%P|%l\n' 2>/dev/null
echo '=='
find . -type f -print0 2>/dev/null | xargs -0r sha256sum 2>/dev/null
true`)
	if err != nil {
		return nil, err
	}
	list, sums, ok := strings.Cut(out, "==\n")
	if !ok {
		return nil, fmt.Errorf("find in the guest: %q", out)
	}
	ents := map[string]fsops.Entry{}
	for _, l := range strings.Split(list, "\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, "|", 4)
		if len(f) != 4 || len(f[0]) != 1 {
			return nil, fmt.Errorf("find in the guest: %q", l)
		}
		size, _ := strconv.ParseInt(f[1], 10, 64)
		ents[f[2]] = fsops.Entry{Type: f[0][0], Size: size, Target: f[3]}
	}
	for _, l := range strings.Split(sums, "\n") {
		if l == "" {
			continue
		}
		sum, name, ok := strings.Cut(l, "  ./")
		if !ok {
			return nil, fmt.Errorf("sha256sum in the guest: %q", l)
		}
		if e, known := ents[name]; known {
			e.Sum = sum
			ents[name] = e
		}
	}
	for name, e := range ents {
		if e.Type == 'f' && e.Sum == "" {
			delete(ents, name) // gone before sha256sum got to it
		}
	}
	return ents, nil
}

// Populate implements fsops.Server.
func (g guestDisk) Populate(dir string, n int) error {
	_, err := g.run(dir, fmt.Sprintf(`mkdir "$P" && cd "$P" || exit 1
for i in $(seq -f %%05g 0 %d); do printf x >file-$i; done`, n-1))
	return err
}

// Stop implements fsops.Server: it stops ksmbd.mountd and the kernel
// server, which drops every connection. restartKsmbd brings it back.
func (g guestDisk) Stop() error {
	_, err := guestRun(stopKsmbd)
	return err
}

// stopKsmbd stops ksmbd for sure, one step at a time, doing by hand what
// ksmbd.control -s of ksmbd-tools 3.5.2 does at once (it has also been
// seen to crash half way): mountd first (by the pid in its lock file),
// waiting until it is gone, then a second's pause; then it resets every
// SMB connection (ss -K on ports 445 and 5445, what a stopping server
// does to them anyway) and waits until ksmbd's connection threads
// (ksmbd:PORT, ksmbd:r5445) are gone; then the kernel server
// (kill_server), then nothing may listen any more.
//
// The reset comes first because ksmbd 6.1 oopses when kill_server finds
// a connection still there: stop_sessions shuts it down with the list
// lock dropped, its thread frees it, and the list walk goes on through
// freed memory (LIST_POISON in ksmbd_conn_transport_destroy; see
// TestLabServerStoppedRDMA). With ksmbd.control -s that happened at the
// first or second stop of a freshly booted lab; spaced out without the
// reset, in 2 of the 7 clean-clone runs of one session.
const stopKsmbd = `pid=$(cat /run/ksmbd.lock 2>/dev/null)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
sleep 1
ss -K '( sport = :445 or sport = :5445 )' >/dev/null 2>&1
for i in $(seq 1 50); do
  ps -e -o comm= | grep -q '^ksmbd:[r0-9]' || break
  sleep 0.2
done
grep -q running /sys/class/ksmbd-control/stats && echo hard >/sys/class/ksmbd-control/kill_server
for i in $(seq 1 100); do
  ss -ltn | grep -q ':445 \|:5445 ' || exit 0
  sleep 0.2
done
ss -ltn; cat /sys/class/ksmbd-control/stats; exit 1
`

// restartKsmbd starts ksmbd again after Stop and waits for its listeners
// (TCP 445 and SMB-Direct 5445; the siw devices are still there, so ksmbd
// picks 5445 again), stopping and starting once more if they do not come.
func restartKsmbd() error {
	var err error
	for range 3 {
		if _, err = guestRun(`ksmbd.mountd || exit 1
for i in $(seq 1 100); do
  ss -ltn | grep -q ':445 ' && ss -ltn | grep -q ':5445 ' && exit 0
  sleep 0.2
done
ss -ltn; cat /sys/class/ksmbd-control/stats; exit 1`); err == nil {
			return nil
		}
		guestRun(stopKsmbd)
	}
	return err
}
