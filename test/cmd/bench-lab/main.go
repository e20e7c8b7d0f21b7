// Command bench-lab measures the mount.smbd3 FUSE mount over TCP and over
// SMB-Direct (our pure-Go iWARP) against ksmbd in the QEMU lab
// (../shared/lab: ksmbd over Linux siw in an emulated guest), side by side
// in one run, with the guest's own kernel client as a reference.
//
// Rows (each works in its own directory r-NAME of the share):
//
//	smbd3-tcp       bin/mount.smbd3 //10.0.2.15/share MNT -f -o username=,password=
//	smbd3-rdma      the same with -o rdma (SMB-Direct on port 5445, MPA CRC off)
//	base-tcp        with -base BIN: smbd3-tcp and smbd3-rdma with another build
//	base-rdma       (before/after figures from one run)
//	cifs-tcp        the guest's cifs.ko mounting its own ksmbd (10.0.2.15, via lo)
//	cifs-rdma       the same with -o rdma (over the guest's siw_lo)
//
// There is no row with MPA CRC on: mount.smbd3 has no option for it, and
// the lab's siw knob (mpa_crc_required) does not make the server ask for it
// when the client does not (siw_cm.c keeps CRC as responder only when the
// initiator requested it).
//
// The mount.smbd3 daemons run inside the lab's network namespace (lab.sh run,
// which switches the network namespace only): the FUSE mount is visible to
// this process, which runs the workloads from the host. The cifs rows run
// entirely inside the guest (client, server and both stacks share the
// guest's emulated CPUs): a reference for what the server side reaches, not
// a peer on equal terms.
//
// Workloads, for every row in turn (the starting row rotates between
// workloads and runs), each with a fresh mount:
//
//	write  dd if=/dev/zero of=MNT/r-NAME/big bs=1M count=SIZE/1M conv=fsync
//	       (removed once checked: the share lives in the guest's RAM)
//	read   dd if=MNT/bench-read/big of=/dev/null bs=1M, after sync and
//	       drop_caches (the client's); one file of zeros made in the guest,
//	       read by every row
//	untar  tar -xf small.tar -C MNT/r-NAME/dir: -files files of 4 KiB in
//	       directories of 100
//
// The guest is emulated (TCG): the absolute figures say little about real
// hardware, so this is report only. The table gives MB/s for dd and the
// ratio to the TCP row of the same client (smbd3-rdma* against smbd3-tcp,
// base-rdma against base-tcp, cifs-rdma against cifs-tcp; above 1.0× is faster than TCP), plus the CPU
// the step cost: the client's (the mount daemon and dd or tar, on the host)
// and the guest's (busy CPU-seconds from the guest's /proc/stat around the
// step; the mount.smbd3 rows read them with lab.sh exec, whose own cost,
// measured at the start, is subtracted). With -packets it also counts the packets on the lab link
// during the step (tcpdump on the namespace's tap, headers only).
//
// The lab: LAB and NS from the environment (lab.sh's defaults when unset).
// A running lab is reused; otherwise it is started with nice -n 10 and
// stopped at the end (-keep leaves it running).
//
// Usage: go run ./test/cmd/bench-lab [-size 128MiB] [-files 500] [-runs 1]
// [-rows smbd3-tcp,smbd3-rdma,cifs-tcp,cifs-rdma]
// [-workloads write,read,untar] [-bin bin/mount.smbd3] [-base OLD_BINARY]
// [-lab ../shared/lab/lab.sh]
// [-json bin/bench-lab.json] [-timeout 5m] [-packets] [-keep]. Needs root.
package main

import (
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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
)

var allRows = []string{"smbd3-tcp", "smbd3-rdma", "base-tcp", "base-rdma", "cifs-tcp", "cifs-rdma"}

// defaultRows leaves out the base-* rows, which need -base.
var defaultRows = []string{"smbd3-tcp", "smbd3-rdma", "cifs-tcp", "cifs-rdma"}

var allWorkloads = []string{"write", "read", "untar"}

const (
	filesPerDir  = 100
	smallSize    = 4096
	mountTimeout = 60 * time.Second // emulated guest: mounting takes seconds
	pollEvery    = 10 * time.Millisecond
)

type config struct {
	runs      int
	size      int64
	files     int
	bin       string
	base      string
	script    string
	rows      []string
	workloads []string
	jsonPath  string
	timeout   time.Duration
	packets   bool
	keep      bool
}

func main() {
	var c config
	size := uint64(128 << 20)
	var rows, workloads string
	flag.IntVar(&c.runs, "runs", 1, "runs of every workload; the table shows the median")
	flag.Func("size", "bytes of the dd workloads, a multiple of 1MiB (default 128MiB)", func(s string) error {
		n, err := humanize.ParseBytes(s)
		if err == nil && (n == 0 || n%(1<<20) != 0) {
			err = errors.New("must be a positive multiple of 1MiB")
		}
		size = n
		return err
	})
	flag.IntVar(&c.files, "files", 500, "files of 4 KiB in the untar workload")
	flag.StringVar(&c.bin, "bin", "bin/mount.smbd3", "the mount.smbd3 binary")
	flag.StringVar(&c.base, "base", "", "another mount.smbd3 `binary` (an older build) measured in the rows base-tcp and base-rdma, for before/after figures from one run")
	flag.StringVar(&c.script, "lab", "../shared/lab/lab.sh", "the lab script")
	flag.StringVar(&rows, "rows", "", "comma-separated rows (default "+strings.Join(defaultRows, ",")+", plus base-tcp,base-rdma with -base)")
	flag.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "comma-separated workloads")
	flag.StringVar(&c.jsonPath, "json", "bin/bench-lab.json", "write the results as JSON to `FILE` (\"\" for none)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit for one step of one row")
	flag.BoolVar(&c.packets, "packets", false, "count the lab link's packets during each step (tcpdump)")
	flag.BoolVar(&c.keep, "keep", false, "leave a lab this bench started running")
	flag.Parse()
	c.size = int64(size)
	if rows == "" {
		rows = strings.Join(defaultRows, ",")
		if c.base != "" {
			rows += ",base-tcp,base-rdma"
		}
	}
	var err error
	if c.rows, err = pick(rows, allRows); err == nil {
		c.workloads, err = pick(workloads, allWorkloads)
	}
	if err != nil {
		fatalf("%v", err)
	}
	if c.base == "" && slices.ContainsFunc(c.rows, func(r string) bool { return strings.HasPrefix(r, "base-") }) {
		fatalf("the base-* rows need -base")
	}
	if c.runs < 1 || c.files < 1 {
		fatalf("-runs and -files must be positive")
	}
	if os.Geteuid() != 0 {
		fatalf("needs root (lab, mounts, drop_caches)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fatalf("%v", err)
	}
}

// pick parses a comma-separated subset of all, in all's order.
func pick(list string, all []string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("unknown %q (have %s)", n, strings.Join(all, ", "))
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	slices.SortStableFunc(out, func(a, b string) int { return slices.Index(all, a) - slices.Index(all, b) })
	return slices.Compact(out), nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-lab: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-lab: "+format+"\n", args...)
}

// bench is the state shared by every step.
type bench struct {
	cfg     config
	lab     *lab
	work    string // private directory: mount points, inputs, the binary's snapshot
	tarball string
	bin     string // snapshots of -bin and -base
	baseBin string
	// idleGuest is the guest CPU two back-to-back lab.sh exec calls cost
	// (subtracted from the mount.smbd3 rows' guest CPU); guestCPUs its CPUs.
	idleGuest float64
	guestCPUs int
	active    map[string]*mounted
}

// Step is one timed execution.
type Step struct {
	Seconds   float64  `json:"seconds"`
	ClientCPU float64  `json:"client_cpu_seconds,omitempty"` // daemon + dd/tar on the host; the whole guest for cifs rows
	GuestCPU  float64  `json:"guest_cpu_seconds,omitempty"`  // busy CPU-seconds of the guest around the step
	GuestBusy float64  `json:"guest_busy_fraction,omitempty"`
	RDMABytes uint64   `json:"rdma_bytes,omitempty"` // moved by RDMA (mount.smbd3 status)
	Transport string   `json:"transport,omitempty"`
	Packets   *Packets `json:"packets,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// Row is one workload × row cell of the output.
type Row struct {
	Workload string  `json:"workload"`
	Row      string  `json:"row"`
	Seconds  float64 `json:"median_seconds,omitempty"`
	MBps     float64 `json:"mbps,omitempty"`     // dd: 10^6 bytes per second
	VsTCP    float64 `json:"vs_tcp,omitempty"`   // the TCP row's time / this time
	Baseline string  `json:"baseline,omitempty"` // the row VsTCP compares with
	Error    string  `json:"error,omitempty"`
	Runs     []Step  `json:"runs"`
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
	l := &lab{script: c.script}
	if _, err := os.Stat(c.script); err != nil {
		return fmt.Errorf("lab script: %v", err)
	}
	if err := l.up(ctx); err != nil {
		return err
	}
	if !c.keep {
		defer l.down()
	}
	work, err := os.MkdirTemp("/dev/shm", "bench-lab-")
	if err != nil {
		return err
	}
	b := &bench{cfg: c, lab: l, work: work, active: map[string]*mounted{}}
	defer func() {
		b.unmountAll()
		if m := benchutil.MountsUnder(work); len(m) > 0 {
			logf("not removing %s: still mounted: %s", work, strings.Join(m, " "))
			return
		}
		os.RemoveAll(work)
	}()
	if err := b.prepare(ctx); err != nil {
		return err
	}
	defer b.cleanGuest()
	if err := b.calibrate(ctx); err != nil {
		return err
	}

	steps := map[string][]Step{}
	key := func(w, who string) string { return w + "/" + who }
	for r := 0; r < c.runs; r++ {
		if err := b.resetGuest(ctx); err != nil {
			return err
		}
		for wi, w := range c.workloads {
			for i := range c.rows {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				who := c.rows[(i+wi+r)%len(c.rows)]
				s := b.step(ctx, who, w)
				if s.Error != "" {
					logf("run %d %-5s %-14s FAILED after %.3fs: %s", r+1, w, who, s.Seconds, s.Error)
				} else {
					logf("run %d %-5s %-14s %8.3fs  client CPU %.2fs  guest CPU %.2fs%s", r+1, w, who, s.Seconds, s.ClientCPU, s.GuestCPU, s.Packets.String())
				}
				steps[key(w, who)] = append(steps[key(w, who)], s)
			}
		}
	}

	rep := Report{Machine: b.machine(ctx), SizeBytes: c.size, Files: c.files, FileBytes: smallSize, Runs: c.runs}
	for _, w := range c.workloads {
		rows := map[string]*Row{}
		for _, who := range c.rows {
			rows[who] = b.summarize(w, who, steps[key(w, who)])
		}
		for _, who := range c.rows {
			r := rows[who]
			base := baselineOf(who)
			if br := rows[base]; br != nil && base != who && br.Error == "" && r.Error == "" && r.Seconds > 0 {
				r.VsTCP, r.Baseline = br.Seconds/r.Seconds, base
			}
			rep.Rows = append(rep.Rows, *r)
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

// baselineOf is the TCP row a row's ratio compares with.
func baselineOf(who string) string {
	switch {
	case strings.HasPrefix(who, "cifs-"):
		return "cifs-tcp"
	case strings.HasPrefix(who, "base-"):
		return "base-tcp"
	}
	return "smbd3-tcp"
}

// prepare writes the small-file tree's tarball (for the host and, through
// the lab's 9p share, for the guest) and snapshots the binary.
func (b *bench) prepare(ctx context.Context) error {
	src := filepath.Join(b.work, "small")
	var names []string
	buf := make([]byte, smallSize)
	for i := 0; i < b.cfg.files; i++ {
		d := fmt.Sprintf("d%02d", i/filesPerDir)
		if i%filesPerDir == 0 {
			names = append(names, d)
			if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
				return err
			}
		}
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(src, d, fmt.Sprintf("f%03d", i%filesPerDir)), buf, 0o644); err != nil {
			return err
		}
	}
	b.tarball = filepath.Join(b.work, "small.tar")
	if out, err := exec.CommandContext(ctx, "tar", append([]string{"-cf", b.tarball, "-C", src}, names...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	os.RemoveAll(src)
	if b.wants("cifs-") {
		dir := filepath.Join(b.lab.env["SMBD3_LAB"], "out", "bench-lab")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(dir, "small.tar"), b.tarball); err != nil {
			return err
		}
		if _, err := b.lab.exec(ctx, "cp /out/bench-lab/small.tar /tmp/bench-lab-small.tar"); err != nil {
			return err
		}
	}
	// Other builds may replace bin/ during the run: measure snapshots.
	b.bin = filepath.Join(b.work, "mount.smbd3")
	if err := copyFile(b.bin, b.cfg.bin); err != nil {
		return fmt.Errorf("%v (run make build)", err)
	}
	os.Chmod(b.bin, 0o755)
	if b.cfg.base != "" {
		b.baseBin = filepath.Join(b.work, "mount.smbd3.base")
		if err := copyFile(b.baseBin, b.cfg.base); err != nil {
			return err
		}
		os.Chmod(b.baseBin, 0o755)
	}
	return nil
}

func (b *bench) wants(prefix string) bool {
	return slices.ContainsFunc(b.cfg.rows, func(r string) bool { return strings.HasPrefix(r, prefix) })
}

// resetGuest empties the rows' directories on the server.
func (b *bench) resetGuest(ctx context.Context) error {
	var sb strings.Builder
	sb.WriteString("set -e; cd /srv/share; rm -rf r-*\n")
	for _, who := range b.cfg.rows {
		fmt.Fprintf(&sb, "mkdir -p r-%s/dir; chmod -R a+rwX r-%s\n", who, who)
	}
	if slices.Contains(b.cfg.workloads, "read") {
		fmt.Fprintf(&sb, "mkdir -p r-read; dd if=/dev/zero of=r-read/big bs=1M count=%d status=none; chmod -R a+rwX r-read\n", b.cfg.size>>20)
	}
	// Room for the read file and one written file at a time.
	fmt.Fprintf(&sb, "test $(df -k --output=avail /srv/share | tail -1) -gt %d || { echo 'not enough room in the guest for -size'; df -h /srv/share; exit 1; }\n",
		(b.cfg.size>>10)+64<<10)
	_, err := b.lab.exec(ctx, sb.String())
	return err
}

// cleanGuest removes what the bench left in the guest.
func (b *bench) cleanGuest() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.lab.exec(ctx, "rm -rf /srv/share/r-* /tmp/bench-lab-small.tar /out/bench-lab")
}

func copyFile(dst, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
