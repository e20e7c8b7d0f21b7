// Command bench-mount measures the mount.smbd3 FUSE mount against the other
// ways Linux users reach an SMB share without the kernel client, side by side
// in one run against one local Samba.
//
// Contenders (each works in its own fresh directory c-NAME of the share):
//
//	mount.smbd3    bin/mount.smbd3 //127.0.0.1/share MNT -o port=,username=,password=
//	               (default options)
//	smbclient      not a mount: its native commands for each workload (put, get,
//	               mput with "prompt off; recurse on", "recurse on; ls", deltree)
//	rclone         rclone mount of the smb backend (configured through
//	               RCLONE_CONFIG_X_* variables), --vfs-cache-mode off (default)
//	rclone-writes  the same with --vfs-cache-mode writes, cache on tmpfs
//	smbnetfs       smbnetfs (libsmbclient) with a private $HOME/.smb, share at
//	               MNT/127.0.0.1:PORT/share (libsmbclient ignores "smb ports" of
//	               ~/.smb/smb.conf; the host:port path form works)
//
// Workloads, in this order, for every contender in turn (the starting
// contender rotates between workloads and runs):
//
//	write  dd if=/dev/zero of=MNT/c-NAME/big bs=1M count=1024 conv=fsync
//	       (smbclient: put of a 1 GiB file of zeros on tmpfs)
//	read   dd if=MNT/c-NAME/big of=/dev/null bs=1M (smbclient: get to /dev/null)
//	cp     cp MNT/c-NAME/big MNT/c-NAME/big-copy, only when -workloads names
//	       it (smbclient, which cannot copy on the server: get to tmpfs, then
//	       put, in one session)
//	untar  tar -xf small.tar -C MNT/c-NAME/dir: 2,000 files of 4 KiB in 20
//	       directories (smbclient: mput of the same tree from tmpfs)
//	ls     ls -lR MNT/c-NAME/dir, cold (smbclient: "recurse on; ls")
//	rm     rm -rf MNT/c-NAME/dir (smbclient: deltree)
//
// Every step gets a fresh mount (mounting and unmounting are not timed) and
// starts from the same state: before every step the bench runs sync and
// "echo 3 > /proc/sys/vm/drop_caches", for every contender, so the client's
// page cache never serves read and ls, and no step inherits the cache of
// an earlier one; the server's share is on tmpfs (-tmpfs), so
// the server's disk is out of the picture and its data stays in memory. A step
// is timed until its command returns AND the server's directory shows the
// result (the full-size file, all 2,000 files, the directory gone): a client
// that uploads after close (rclone --vfs-cache-mode writes) is timed until the
// data is really on the server. Each step runs under a timeout; a failing or
// hung contender is reported as failed and the run goes on; every mount is
// unmounted on the way out, also on failure or Ctrl-C.
//
// Output: a table of workload × contender with the median time of -runs runs,
// MB/s for the dd rows, the speed relative to smbclient (smbclient's time
// divided by the contender's: above 1.0× is faster than smbclient), and for
// mount.smbd3 the column "target met?" with the goals of the issue: read and
// write (and cp) at least 1.0× smbclient, untar no slower than smbclient's mput, ls -lR
// at most 0.1 s, rm -rf at most 1 s, and every workload ahead of both rclone
// rows and smbnetfs. The column "server CPU" is the processor time Samba's
// processes used during the step (median). Samba serves a session, all its
// channels included, with one single-threaded process, so a step whose
// server CPU is close to its time is bound by the server: a client of one
// session cannot take it below that, however little it does itself. The
// same data goes to the -json file. Progress goes to stderr.
//
// Usage: go run ./test/cmd/bench-mount [-runs 1] [-bin bin/mount.smbd3]
// [-contenders mount.smbd3,smbclient,rclone,rclone-writes,smbnetfs]
// [-workloads write,read,untar,ls,rm (and cp)] [-json bin/bench-mount.json]
// [-size 1GiB] [-timeout 5m]. Needs root.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/smbd3/mount.smbd3/test/benchutil"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// The small-file tree: dirs × filesPerDir files of smallSize bytes.
const (
	dirs        = 20
	filesPerDir = 100
	smallFiles  = dirs * filesPerDir
	smallSize   = 4096

	mountTimeout = 30 * time.Second // mount or unmount
	pollEvery    = 5 * time.Millisecond
)

var allContenders = []string{"mount.smbd3", "smbclient", "rclone", "rclone-writes", "smbnetfs"}

// workloads are all the workloads in the order they run; defaultWorkloads
// those run unless -workloads says otherwise (the issue's).
var (
	workloads        = []string{"write", "read", "cp", "untar", "ls", "rm"}
	defaultWorkloads = []string{"write", "read", "untar", "ls", "rm"}
)

type config struct {
	runs       int
	size       int64
	bin        string
	contenders []string
	jsonPath   string
	timeout    time.Duration
	tmpfs      bool
	workloads  []string
}

func main() {
	var c config
	size := uint64(1 << 30)
	var contenders, wl string
	flag.IntVar(&c.runs, "runs", 1, "runs of every workload; the table shows the median")
	flag.Func("size", "bytes of the dd workloads, a multiple of 1MiB (default 1GiB)", func(s string) error {
		n, err := humanize.ParseBytes(s)
		if err == nil && (n == 0 || n%(1<<20) != 0) {
			err = errors.New("must be a positive multiple of 1MiB")
		}
		size = n
		return err
	})
	flag.StringVar(&c.bin, "bin", "bin/mount.smbd3", "the mount.smbd3 binary")
	flag.StringVar(&contenders, "contenders", strings.Join(allContenders, ","), "comma-separated contenders")
	flag.StringVar(&wl, "workloads", strings.Join(defaultWorkloads, ","), "comma-separated workloads of "+strings.Join(workloads, ",")+", run in that order (read and cp need write's file)")
	flag.StringVar(&c.jsonPath, "json", "bin/bench-mount.json", "write the results as JSON to `FILE` (\"\" for none)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit for one step of one contender")
	flag.BoolVar(&c.tmpfs, "tmpfs", true, "keep the server's share on tmpfs (/dev/shm)")
	flag.Parse()
	c.size = int64(size)
	for _, n := range strings.Split(contenders, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(allContenders, n) {
			fatalf("unknown contender %q (have %s)", n, strings.Join(allContenders, ", "))
		}
		c.contenders = append(c.contenders, n)
	}
	for _, w := range workloads {
		if slices.Contains(strings.Split(wl, ","), w) {
			c.workloads = append(c.workloads, w)
		}
	}
	for _, w := range strings.Split(wl, ",") {
		if !slices.Contains(workloads, strings.TrimSpace(w)) {
			fatalf("unknown workload %q (have %s)", w, strings.Join(workloads, ", "))
		}
	}
	if c.runs < 1 || len(c.contenders) == 0 || len(c.workloads) == 0 {
		fatalf("-runs, -contenders and -workloads must not be empty")
	}
	if os.Geteuid() != 0 {
		fatalf("needs root (smbd, mounts, drop_caches)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-mount: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-mount: "+format+"\n", args...)
}

// bench is the state shared by every step.
type bench struct {
	cfg     config
	srv     *samba.Server
	work    string // private tmpfs directory: mount points, inputs, configs
	zeros   string // 1 GiB of zeros for smbclient put
	small   string // the small-file tree for smbclient mput
	tarball string
	bin     string // snapshot of -bin taken at the start
	uid     int    // owner of the share directory (the Samba user)
	gid     int
	active  map[string]*mounted // live mounts by mount point, for the cleanup
}

// Step is one timed execution.
type Step struct {
	Seconds       float64 `json:"seconds"`
	ReturnSeconds float64 `json:"command_seconds"`    // until the command returned; Seconds adds the wait for the server's view
	ServerCPU     float64 `json:"server_cpu_seconds"` // processor time of Samba's processes during Seconds
	Error         string  `json:"error,omitempty"`
}

// Row is one workload × contender cell of the output.
type Row struct {
	Workload    string  `json:"workload"`
	Contender   string  `json:"contender"`
	Seconds     float64 `json:"median_seconds,omitempty"`
	ServerCPU   float64 `json:"median_server_cpu_seconds,omitempty"`
	MBps        float64 `json:"mbps,omitempty"`               // dd workloads: 10^6 bytes per second
	VsSmbclient float64 `json:"speed_vs_smbclient,omitempty"` // smbclient's time / this time
	Target      string  `json:"target,omitempty"`
	TargetMet   *bool   `json:"target_met,omitempty"`
	Error       string  `json:"error,omitempty"`
	Runs        []Step  `json:"runs"`
}

// Report is the JSON file.
type Report struct {
	Machine   map[string]string `json:"machine"`
	SizeBytes int64             `json:"dd_bytes"`
	Files     int               `json:"small_files"`
	FileBytes int               `json:"small_file_bytes"`
	Runs      int               `json:"runs"`
	Rows      []Row             `json:"rows"`
	Seconds   float64           `json:"bench_seconds"`
}

func run(ctx context.Context, c config) error {
	start := time.Now()
	if c.tmpfs {
		os.Setenv("TMPDIR", "/dev/shm") // test/samba puts the server's directory in $TMPDIR
	}
	srv, err := samba.Launch(samba.Options{})
	if srv != nil {
		defer srv.Close()
	}
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("/dev/shm", "bench-mount-")
	if err != nil {
		return err
	}
	defer func() {
		// Never recurse into a mount that could not be removed.
		if m := benchutil.MountsUnder(work); len(m) > 0 {
			logf("not removing %s: still mounted: %s", work, strings.Join(m, " "))
			return
		}
		os.RemoveAll(work)
	}()
	b := &bench{cfg: c, srv: srv, work: work, active: map[string]*mounted{}}
	defer b.unmountAll()
	st, err := os.Stat(srv.Dir)
	if err != nil {
		return err
	}
	b.uid, b.gid = int(st.Sys().(*syscall.Stat_t).Uid), int(st.Sys().(*syscall.Stat_t).Gid)
	logf("samba on %s, share %s; preparing inputs in %s", srv.Addr, srv.Dir, work)
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if slices.Contains(c.contenders, "mount.smbd3") {
		// Other builds may replace bin/ during the run: measure a snapshot.
		b.bin = filepath.Join(work, "mount.smbd3")
		if err := copyFile(b.bin, c.bin); err != nil {
			logf("mount.smbd3 will fail: %v (run make build)", err)
		}
	}
	for _, who := range c.contenders {
		if err := b.serverMkdir("c-" + who); err != nil {
			return err
		}
	}

	steps := map[string][]Step{}
	key := func(w, who string) string { return w + "/" + who }
	for r := 0; r < c.runs; r++ {
		for wi, w := range c.workloads {
			for i := range c.contenders {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				who := c.contenders[(i+wi+r)%len(c.contenders)]
				s := b.step(ctx, who, w)
				if s.Error != "" {
					logf("run %d %-5s %-13s FAILED after %.3fs: %s", r+1, w, who, s.Seconds, s.Error)
				} else {
					logf("run %d %-5s %-13s %8.3fs (command returned after %.3fs)", r+1, w, who, s.Seconds, s.ReturnSeconds)
				}
				steps[key(w, who)] = append(steps[key(w, who)], s)
			}
		}
		// Next run: start again from empty directories.
		for _, who := range c.contenders {
			os.RemoveAll(filepath.Join(srv.Dir, "c-"+who))
			if err := b.serverMkdir("c-" + who); err != nil {
				return err
			}
		}
	}

	rep := Report{Machine: b.machine(), SizeBytes: c.size, Files: smallFiles, FileBytes: smallSize, Runs: c.runs}
	for _, w := range c.workloads {
		rows := map[string]*Row{}
		for _, who := range c.contenders {
			rows[who] = b.summarize(w, who, steps[key(w, who)])
		}
		if base := rows["smbclient"]; base != nil && base.Error == "" {
			for _, r := range rows {
				if r.Error == "" && r.Seconds > 0 {
					r.VsSmbclient = base.Seconds / r.Seconds
				}
			}
		}
		if r := rows["mount.smbd3"]; r != nil {
			judge(r, rows)
		}
		for _, who := range c.contenders {
			rep.Rows = append(rep.Rows, *rows[who])
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	printTable(os.Stdout, rep)
	if c.jsonPath != "" {
		if err := os.MkdirAll(filepath.Dir(c.jsonPath), 0o755); err != nil {
			return err
		}
		out, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.jsonPath, append(out, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Printf("JSON: %s\n", c.jsonPath)
	}
	return nil
}

// prepare writes the inputs: a 1 GiB file of zeros for smbclient put, the
// small-file tree and its tarball.
func (b *bench) prepare(ctx context.Context) error {
	b.zeros = filepath.Join(b.work, "zeros")
	f, err := os.Create(b.zeros)
	if err != nil {
		return err
	}
	zero := make([]byte, 8<<20)
	for left := b.cfg.size; left > 0; left -= int64(len(zero)) {
		if _, err := f.Write(zero[:min(int64(len(zero)), left)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	b.small = filepath.Join(b.work, "small")
	var names []string
	buf := make([]byte, smallSize)
	for d := range dirs {
		name := fmt.Sprintf("d%02d", d)
		names = append(names, name)
		if err := os.MkdirAll(filepath.Join(b.small, name), 0o755); err != nil {
			return err
		}
		for i := range filesPerDir {
			rand.Read(buf)
			if err := os.WriteFile(filepath.Join(b.small, name, fmt.Sprintf("f%03d", i)), buf, 0o644); err != nil {
				return err
			}
		}
	}
	b.tarball = filepath.Join(b.work, "small.tar")
	_, err = b.command(ctx, nil, "tar", append([]string{"-cf", b.tarball, "-C", b.small}, names...)...)
	return err
}

// serverMkdir creates a directory in the share, owned by the share's user, as
// if the client had created it.
func (b *bench) serverMkdir(rel string) error {
	p := filepath.Join(b.srv.Dir, rel)
	if err := os.Mkdir(p, 0o775); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chown(p, b.uid, b.gid)
}

// step runs one workload of one contender: mount, prepare, time, unmount.
func (b *bench) step(parent context.Context, who, w string) (s Step) {
	ctx, cancel := context.WithTimeout(parent, b.cfg.timeout)
	defer cancel()
	rel := "c-" + who
	if w == "cp" {
		os.Remove(filepath.Join(b.srv.Dir, rel, "big-copy"))
	}
	if w == "untar" {
		os.RemoveAll(filepath.Join(b.srv.Dir, rel, "dir"))
		if err := b.serverMkdir(filepath.Join(rel, "dir")); err != nil {
			return Step{Error: err.Error()}
		}
	}
	var m *mounted
	if who != "smbclient" {
		var err error
		if m, err = b.mount(ctx, who); err != nil {
			return Step{Error: "mount: " + err.Error()}
		}
		defer func() {
			if err := b.unmount(m); err != nil && s.Error == "" {
				s.Error = "unmount: " + err.Error()
			}
		}()
	}
	// Every step starts from the same memory state: the page cache of
	// earlier steps (a slow contender's 1 GiB write, say) is not left for
	// the next one to reclaim, and read and ls start cold.
	if err := benchutil.DropCaches(ctx); err != nil {
		return Step{Error: "drop caches: " + err.Error()}
	}
	var run func() error
	if m != nil {
		run = b.mountWorkload(ctx, m, rel, w)
	} else {
		run = b.smbclientWorkload(ctx, rel, w)
	}
	cpu0 := b.srv.CPU()
	t0 := time.Now()
	err := run()
	s.ReturnSeconds = time.Since(t0).Seconds()
	if err == nil {
		err = b.settle(ctx, rel, w)
	}
	s.Seconds = time.Since(t0).Seconds()
	s.ServerCPU = (b.srv.CPU() - cpu0).Seconds()
	if err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			err = fmt.Errorf("timed out after %v: %w", b.cfg.timeout, err)
		}
		s.Error = err.Error()
	}
	return s
}

// mountWorkload returns the command of workload w on a mount.
func (b *bench) mountWorkload(ctx context.Context, m *mounted, rel, w string) func() error {
	d := filepath.Join(m.root, rel)
	count := strconv.FormatInt(b.cfg.size>>20, 10)
	switch w {
	case "write":
		return func() error {
			out, err := b.command(ctx, nil, "dd", "if=/dev/zero", "of="+filepath.Join(d, "big"), "bs=1M", "count="+count, "conv=fsync")
			if err != nil {
				return err
			}
			return benchutil.DDCheck(out, b.cfg.size)
		}
	case "read":
		return func() error {
			out, err := b.command(ctx, nil, "dd", "if="+filepath.Join(d, "big"), "of=/dev/null", "bs=1M")
			if err != nil {
				return err
			}
			return benchutil.DDCheck(out, b.cfg.size)
		}
	case "cp":
		return func() error {
			_, err := b.command(ctx, nil, "cp", filepath.Join(d, "big"), filepath.Join(d, "big-copy"))
			return err
		}
	case "untar":
		return func() error {
			_, err := b.command(ctx, nil, "tar", "-xf", b.tarball, "-C", filepath.Join(d, "dir"))
			return err
		}
	case "ls":
		return func() error {
			out, err := b.command(ctx, nil, "ls", "-lR", filepath.Join(d, "dir"))
			if err != nil {
				return err
			}
			if n := countLines(out, lsFile); n != smallFiles {
				return fmt.Errorf("ls -lR listed %d files, want %d", n, smallFiles)
			}
			return nil
		}
	case "rm":
		return func() error {
			_, err := b.command(ctx, nil, "rm", "-rf", filepath.Join(d, "dir"))
			return err
		}
	}
	panic("unknown workload " + w)
}

// smbclientWorkload returns smbclient's equivalent of workload w.
func (b *bench) smbclientWorkload(ctx context.Context, rel, w string) func() error {
	var script string
	switch w {
	case "write":
		script = fmt.Sprintf(`put "%s" "%s\big"`, b.zeros, rel)
	case "read":
		script = fmt.Sprintf(`get "%s\big" /dev/null`, rel)
	case "cp":
		tmp := filepath.Join(b.work, "cp-tmp")
		script = fmt.Sprintf(`get "%s\big" "%s"; put "%s" "%s\big-copy"`, rel, tmp, tmp, rel)
	case "untar":
		script = fmt.Sprintf(`cd "%s\dir"; lcd "%s"; prompt off; recurse on; mput *`, rel, b.small)
	case "ls":
		script = fmt.Sprintf(`cd "%s\dir"; recurse on; ls`, rel)
	case "rm":
		script = fmt.Sprintf(`deltree "%s\dir"`, rel)
	}
	return func() error {
		defer os.Remove(filepath.Join(b.work, "cp-tmp"))
		out, err := b.command(ctx, nil, "smbclient", append(b.srv.SmbclientArgs(), "-c", script)...)
		if err == nil {
			if i := bytes.Index(out, []byte("NT_STATUS_")); i >= 0 {
				err = fmt.Errorf("smbclient: %s", lineAt(out, i))
			}
		}
		if err == nil && w == "ls" {
			if n := countLines(out, smbclientFile); n != smallFiles {
				err = fmt.Errorf("smbclient ls listed %d files, want %d", n, smallFiles)
			}
		}
		return err
	}
}

var (
	lsFile        = regexp.MustCompile(`^-`)                              // a regular file in ls -l
	smbclientFile = regexp.MustCompile(`^  \S+\s+[AHSRN]+\s+\d+  \w{3} `) // "  f000   A   4096  Tue Nov…"; not D
)

func countLines(out []byte, re *regexp.Regexp) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if re.Match(sc.Bytes()) {
			n++
		}
	}
	return n
}

func lineAt(b []byte, i int) string {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := bytes.IndexByte(b[i:], '\n')
	if end < 0 {
		end = len(b) - i
	}
	return string(b[start : i+end])
}

// settle waits until the server's directory shows the result of workload w.
func (b *bench) settle(ctx context.Context, rel, w string) error {
	dir := filepath.Join(b.srv.Dir, rel)
	var done func() (bool, string)
	switch w {
	case "write", "cp":
		name := map[string]string{"write": "big", "cp": "big-copy"}[w]
		done = func() (bool, string) {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				return false, err.Error()
			}
			return st.Size() == b.cfg.size, fmt.Sprintf("the server's %s has %d bytes", name, st.Size())
		}
	case "untar":
		done = func() (bool, string) {
			n := 0
			filepath.WalkDir(filepath.Join(dir, "dir"), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if fi, err := d.Info(); err == nil && fi.Size() == smallSize {
						n++
					}
				}
				return nil
			})
			return n == smallFiles, fmt.Sprintf("the server has %d complete files", n)
		}
	case "rm":
		done = func() (bool, string) {
			_, err := os.Lstat(filepath.Join(dir, "dir"))
			return errors.Is(err, os.ErrNotExist), "the directory is still on the server"
		}
	default:
		return nil
	}
	for {
		ok, state := done()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the server to show the result: %s", state)
		case <-time.After(pollEvery):
		}
	}
}

// command runs a program, bounded by ctx, and returns its combined output; the
// error carries the output's last line.
func (b *bench) command(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %v: %s", name, err, benchutil.LastLine(out.String()))
	}
	return out.Bytes(), err
}
