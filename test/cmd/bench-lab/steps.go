package main

// One step: a workload of one row, mounted fresh, timed, checked, unmounted.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/smbd3/mount.smbd3/test/benchutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func (b *bench) step(parent context.Context, who, w string) Step {
	ctx, cancel := context.WithTimeout(parent, b.cfg.timeout)
	defer cancel()
	var s Step
	var err error
	if strings.HasPrefix(who, "cifs-") {
		s, err = b.guestStep(ctx, who, w)
	} else {
		s, err = b.mountStep(ctx, who, w)
	}
	if err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			err = fmt.Errorf("timed out after %v: %w", b.cfg.timeout, err)
		}
		s.Error = err.Error()
	}
	return s
}

// mountStep runs workload w through a mount.smbd3 mount from the host.
func (b *bench) mountStep(ctx context.Context, who, w string) (s Step, err error) {
	rel := "r-" + who
	if w == "untar" {
		if _, err := b.lab.exec(ctx, fmt.Sprintf("rm -rf /srv/share/%s/dir; mkdir -m 0777 /srv/share/%s/dir", rel, rel)); err != nil {
			return s, err
		}
	}
	m, err := b.mount(ctx, who)
	if err != nil {
		return s, fmt.Errorf("mount: %w", err)
	}
	defer func() {
		if uerr := b.unmount(m); uerr != nil && err == nil {
			err = fmt.Errorf("unmount: %w", uerr)
		}
	}()
	if w == "read" {
		if err := benchutil.DropCaches(ctx); err != nil {
			return s, fmt.Errorf("drop caches: %w", err)
		}
	}
	d := filepath.Join(m.dir, rel)
	count := strconv.FormatInt(b.cfg.size>>20, 10)
	var cmd *exec.Cmd
	switch w {
	case "write":
		cmd = exec.CommandContext(ctx, "dd", "if=/dev/zero", "of="+filepath.Join(d, "big"), "bs=1M", "count="+count, "conv=fsync")
	case "read":
		cmd = exec.CommandContext(ctx, "dd", "if="+filepath.Join(m.dir, "r-read", "big"), "of=/dev/null", "bs=1M")
	case "untar":
		cmd = exec.CommandContext(ctx, "tar", "-xf", b.tarball, "-C", filepath.Join(d, "dir"))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second

	g0, gerr := b.guestCPU(ctx)
	c0 := procCPU(m.cmd.Process.Pid)
	var capt *capture
	if b.cfg.packets {
		if capt, err = b.startCapture(ctx, m.port); err != nil {
			return s, err
		}
	}
	t0 := time.Now()
	err = cmd.Run()
	s.Seconds = time.Since(t0).Seconds()
	if capt != nil {
		s.Packets = capt.stop()
	}
	c1 := procCPU(m.cmd.Process.Pid)
	g1, gerr1 := b.guestCPU(ctx)
	if err != nil {
		return s, fmt.Errorf("%s: %v: %s", cmd.Path, err, benchutil.LastLine(out.String()))
	}
	s.ClientCPU = c1 - c0
	if ps := cmd.ProcessState; ps != nil {
		s.ClientCPU += (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	if gerr == nil && gerr1 == nil {
		s.GuestCPU, _ = guestCPU(g0, g1)
		s.GuestCPU = max(0, s.GuestCPU-b.idleGuest)
		s.GuestBusy = min(1, s.GuestCPU/float64(b.guestCPUs)/s.Seconds)
	}
	switch w {
	case "write", "read":
		if err := benchutil.DDCheck(out.Bytes(), b.cfg.size); err != nil {
			return s, err
		}
	}
	if err := b.checkServer(ctx, rel, w); err != nil {
		return s, err
	}
	s.Transport, s.RDMABytes, err = b.status(ctx, m, w)
	if err == nil && strings.Contains(who, "rdma") && w != "untar" && s.RDMABytes < uint64(b.cfg.size) {
		err = fmt.Errorf("only %d bytes moved by RDMA (transport %s)", s.RDMABytes, s.Transport)
	}
	return s, err
}

// checkServer makes sure the guest's share shows the result of w.
func (b *bench) checkServer(ctx context.Context, rel, w string) error {
	switch w {
	case "write":
		// Checked, then removed: the share lives in the guest's RAM.
		f := "/srv/share/" + rel + "/big"
		out, err := b.lab.exec(ctx, "stat -c %s "+f+"; rm -f "+f)
		if err != nil {
			return err
		}
		if n, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64); n != b.cfg.size {
			return fmt.Errorf("the server's file has %s bytes, want %d", strings.TrimSpace(out), b.cfg.size)
		}
	case "untar":
		out, err := b.lab.exec(ctx, "find /srv/share/"+rel+"/dir -type f -size 4096c | wc -l")
		if err != nil {
			return err
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(out)); n != b.cfg.files {
			return fmt.Errorf("the server has %s complete files, want %d", strings.TrimSpace(out), b.cfg.files)
		}
	}
	return nil
}

// status asks the mount's daemon which transport its channel uses and how
// many bytes of workload w moved by RDMA.
func (b *bench) status(ctx context.Context, m *mounted, w string) (string, uint64, error) {
	out, err := exec.CommandContext(ctx, m.bin, "status", "--json", m.dir).Output()
	if err != nil {
		return "", 0, fmt.Errorf("status: %v", err)
	}
	var st struct {
		Channels []struct {
			Transport        string `json:"transport"`
			RDMABytesRead    uint64 `json:"rdma_bytes_read"`
			RDMABytesWritten uint64 `json:"rdma_bytes_written"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", 0, fmt.Errorf("status: %v", err)
	}
	var kinds []string
	var n uint64
	for _, c := range st.Channels {
		kinds = append(kinds, c.Transport)
		if w == "read" {
			n += c.RDMABytesRead
		} else {
			n += c.RDMABytesWritten
		}
	}
	return strings.Join(kinds, "+"), n, nil
}

// guestStep runs workload w with the guest's cifs.ko against its own ksmbd,
// timed inside the guest.
func (b *bench) guestStep(ctx context.Context, who, w string) (Step, error) {
	var s Step
	env := b.lab.env
	rel := "r-" + who
	opts := fmt.Sprintf("vers=3.1.1,username=%s,password=%s", env["SMBD3_LAB_USER"], env["SMBD3_LAB_PASSWORD"])
	if who == "cifs-rdma" {
		opts += ",rdma"
	}
	var work string
	count := b.cfg.size >> 20
	switch w {
	case "write":
		work = fmt.Sprintf("dd if=/dev/zero of=/mnt/%s/big bs=1M count=%d conv=fsync 2>&1", rel, count)
	case "read":
		work = "dd if=/mnt/r-read/big of=/dev/null bs=1M 2>&1"
	case "untar":
		work = fmt.Sprintf("tar -xf /tmp/bench-lab-small.tar -C /mnt/%s/dir", rel)
	}
	pre := ""
	if w == "untar" {
		pre = fmt.Sprintf("rm -rf /srv/share/%s/dir; mkdir -m 0777 /srv/share/%s/dir", rel, rel)
	}
	script := fmt.Sprintf(`set -e
umount /mnt 2>/dev/null || true
%s
mount -t cifs //%s/%s /mnt -o %s
trap 'umount /mnt' EXIT
sync; echo 3 > /proc/sys/vm/drop_caches
%s
echo T0 $(date +%%s.%%N)
%s
echo T1 $(date +%%s.%%N)
%s
`, pre, env["SMBD3_LAB_SERVER"], env["SMBD3_LAB_SHARE"], opts, guestStatCmd, work, guestStatCmd)
	out, err := b.lab.exec(ctx, script)
	if err != nil {
		return s, err
	}
	t0, t1 := marker(out, "T0"), marker(out, "T1")
	if t0 == 0 || t1 < t0 {
		return s, fmt.Errorf("no timing in the guest's output: %s", benchutil.LastLine(out))
	}
	s.Seconds = t1 - t0
	s.Transport = "in-guest tcp"
	if who == "cifs-rdma" {
		s.Transport = "in-guest rdma"
	}
	a, ok1 := parseCPU(out, true)
	z, ok2 := parseCPU(out, false)
	if ok1 && ok2 {
		s.GuestCPU, _ = guestCPU(a, z)
		s.GuestBusy = min(1, s.GuestCPU/float64(b.guestCPUs)/s.Seconds)
		s.ClientCPU = s.GuestCPU
	}
	if w != "untar" {
		if err := benchutil.DDCheck([]byte(out), b.cfg.size); err != nil {
			return s, err
		}
	}
	return s, b.checkServer(ctx, rel, w)
}

func marker(out, name string) float64 {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return 0
}

// calibrate measures what the guest spends on two back-to-back lab.sh exec
// calls (the mount.smbd3 rows read the guest's counters that way around
// each step) and how many CPUs it has.
func (b *bench) calibrate(ctx context.Context) error {
	out, err := b.lab.exec(ctx, "nproc")
	if err != nil {
		return err
	}
	if b.guestCPUs, _ = strconv.Atoi(strings.TrimSpace(out)); b.guestCPUs < 1 {
		return fmt.Errorf("guest nproc: %q", out)
	}
	var idle []float64
	for range 3 {
		a, err := b.guestCPU(ctx)
		if err != nil {
			return err
		}
		z, err := b.guestCPU(ctx)
		if err != nil {
			return err
		}
		secs, _ := guestCPU(a, z)
		idle = append(idle, secs)
	}
	b.idleGuest = benchutil.Median(idle)
	logf("guest: %d CPUs; a lab.sh exec round trip costs it %.2f CPU-seconds", b.guestCPUs, b.idleGuest)
	return nil
}

// guestCPU reads the guest's CPU counters.
func (b *bench) guestCPU(ctx context.Context) (cpuTimes, error) {
	out, err := b.lab.exec(ctx, guestStatCmd)
	if err != nil {
		return cpuTimes{}, err
	}
	ct, ok := parseCPU(out, true)
	if !ok {
		return ct, errors.New("no cpu line in the guest's /proc/stat")
	}
	return ct, nil
}

// procCPU is the user+system CPU-seconds of a process and its reaped
// children.
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14).
	if len(f) < 15 {
		return 0
	}
	var t float64
	for _, k := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseFloat(f[k], 64)
		t += v
	}
	return t / 100 // USER_HZ
}

// mounted is one live mount.smbd3 mount.
type mounted struct {
	who  string
	dir  string
	bin  string
	port int           // the server port of its connection (445 or 5445)
	cmd  *exec.Cmd     // the daemon in the foreground (-f), in the lab namespace
	done chan struct{} // closed when cmd has exited
	log  *bytes.Buffer
	conn string // FUSE connection number
}

// mount starts mount.smbd3 -f inside the lab's namespace and waits for the
// mount to appear.
func (b *bench) mount(ctx context.Context, who string) (*mounted, error) {
	ctx, cancel := context.WithTimeout(ctx, mountTimeout)
	defer cancel()
	dir, err := os.MkdirTemp(b.work, "mnt-"+who+"-")
	if err != nil {
		return nil, err
	}
	env := b.lab.env
	opts := fmt.Sprintf("username=%s,password=%s", env["SMBD3_LAB_USER"], env["SMBD3_LAB_PASSWORD"])
	m := &mounted{who: who, dir: dir, bin: b.bin, port: 445, log: &bytes.Buffer{}, done: make(chan struct{})}
	if strings.HasPrefix(who, "base-") {
		m.bin = b.baseBin
	}
	if strings.Contains(who, "rdma") {
		opts += ",rdma"
		m.port = 5445
	}
	// Not bound to ctx: the daemon outlives this function.
	m.cmd = b.lab.run(context.Background(), m.bin, "//"+env["SMBD3_LAB_SERVER"]+"/"+env["SMBD3_LAB_SHARE"], dir, "-f", "-o", opts)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { m.cmd.Wait(); close(m.done) }()
	b.active[dir] = m
	for {
		if conn, ok := benchutil.MountConn(dir); ok {
			m.conn = conn
			break
		}
		select {
		case <-m.done:
			b.unmount(m)
			return nil, fmt.Errorf("mount.smbd3 exited before mounting: %s", benchutil.LastLine(m.log.String()))
		case <-ctx.Done():
			b.unmount(m)
			return nil, fmt.Errorf("not mounted after %v: %s", mountTimeout, benchutil.LastLine(m.log.String()))
		case <-time.After(pollEvery):
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r-"+who)); err != nil {
		b.unmount(m)
		return nil, err
	}
	return m, nil
}

// unmount unmounts m and waits for its daemon; a hung mount has its FUSE
// connection aborted and is detached.
func (b *bench) unmount(m *mounted) error {
	delete(b.active, m.dir)
	var err error
	if _, ok := benchutil.MountConn(m.dir); ok {
		if out, uerr := exec.Command("umount", m.dir).CombinedOutput(); uerr != nil {
			err = fmt.Errorf("umount: %v: %s", uerr, out)
			if m.conn != "" {
				os.WriteFile(filepath.Join("/sys/fs/fuse/connections", m.conn, "abort"), []byte("1"), 0o200)
			}
			exec.Command("umount", "-l", m.dir).Run()
		}
	}
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
		err = errors.Join(err, errors.New("mount.smbd3 did not exit after the unmount: killed"))
	}
	os.Remove(m.dir)
	return err
}

func (b *bench) unmountAll() {
	for _, m := range b.active {
		if err := b.unmount(m); err != nil {
			logf("cleanup of %s: %v", m.dir, err)
		}
	}
}
