package main

// The lab: lab.sh status/start/stop/env/run/exec, and what the bench reads
// from the guest (its CPU counters).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/smbd3/mount.smbd3/test/benchutil"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lab drives ../shared/lab/lab.sh. LAB and NS come from the environment
// (lab.sh's own defaults when unset) and reach every lab.sh call.
type lab struct {
	script  string
	started bool              // this bench started the lab (and stops it)
	env     map[string]string // lab.sh env
}

func (l *lab) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, l.script, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c
}

// up starts the lab unless it runs, and reads its addresses.
func (l *lab) up(ctx context.Context) error {
	if err := l.cmd(ctx, "status").Run(); err != nil {
		logf("starting the lab (LAB=%s NS=%s): nice -n 10 %s start", envOr("LAB", "default"), envOr("NS", "default"), l.script)
		c := exec.CommandContext(ctx, "nice", "-n", "10", l.script, "start")
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			return fmt.Errorf("lab.sh start: %v: %s", err, benchutil.LastLine(out.String()))
		}
		l.started = true
	}
	out, err := l.cmd(ctx, "env").Output()
	if err != nil {
		return fmt.Errorf("lab.sh env: %v", err)
	}
	l.env = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			l.env[k] = v
		}
	}
	for _, k := range []string{"SMBD3_LAB_SERVER", "SMBD3_LAB_SHARE", "SMBD3_LAB_USER", "SMBD3_LAB_PASSWORD", "SMBD3_LAB"} {
		if l.env[k] == "" {
			return fmt.Errorf("lab.sh env: no %s", k)
		}
	}
	return nil
}

// down stops the lab if this bench started it.
func (l *lab) down() {
	if !l.started {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := l.cmd(ctx, "stop").CombinedOutput(); err != nil {
		logf("lab.sh stop: %v: %s", err, benchutil.LastLine(string(out)))
	}
}

// exec runs a shell script in the guest and returns its output.
func (l *lab) exec(ctx context.Context, script string) (string, error) {
	c := l.cmd(ctx, "exec", script)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err != nil {
		err = fmt.Errorf("guest: %v: %s", err, benchutil.LastLine(out.String()))
	}
	return out.String(), err
}

// run returns a command that runs inside the lab's network namespace.
func (l *lab) run(ctx context.Context, args ...string) *exec.Cmd {
	return l.cmd(ctx, append([]string{"run"}, args...)...)
}

// cpuTimes is the first line of the guest's /proc/stat: jiffies summed
// over its CPUs.
type cpuTimes struct{ busy, total uint64 }

// guestStatCmd prints the guest's aggregate CPU line.
const guestStatCmd = "head -1 /proc/stat"

// parseCPU reads the "cpu ..." line of /proc/stat out of s (the last one
// if there are several, the first if first).
func parseCPU(s string, first bool) (cpuTimes, bool) {
	var ct cpuTimes
	found := false
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i == 8 || i == 9 { // guest, guest_nice: already in user, nice
				continue
			}
			t.total += n
			if i != 3 && i != 4 { // idle, iowait
				t.busy += n
			}
		}
		ct, found = t, true
		if first {
			break
		}
	}
	return ct, found
}

// userHZ is the guest's clock tick (Debian kernels: 100).
const userHZ = 100

// guestCPU is the busy CPU-seconds and the busy fraction between a and b.
func guestCPU(a, b cpuTimes) (secs, frac float64) {
	if b.total <= a.total {
		return 0, 0
	}
	return float64(b.busy-a.busy) / userHZ, float64(b.busy-a.busy) / float64(b.total-a.total)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
