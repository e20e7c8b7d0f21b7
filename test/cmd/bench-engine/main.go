// Command bench-engine measures the SMB3 engine (package session) against
// smbclient and go-smb2 on 1 GiB sequential transfers, side by side in one run.
//
// It starts a private Samba on 127.0.0.1 (test/samba) whose share lives on
// tmpfs (-tmpfs, the default; so the server's disk limits no contender and the
// numbers are client + protocol + smbd CPU), writes a file of random data
// directly into the share's directory, copies the same bytes to /dev/shm for
// smbclient's upload, and then measures, -runs times, every contender in both
// directions:
//
//	engine    session.Dial + Mount + OpenFile/Create, then a pipeline of -depth
//	          outstanding File.ReadAt (or WriteAt) calls of -window bytes
//	          (the engine splits each call into -chunk READs/WRITEs in
//	          parallel), Close. Reads are handed to /dev/null in file order, as
//	          a read-ahead reader feeding a sequential consumer would; writes
//	          come from memory. The default, 16 calls of 1 MiB in flight, was
//	          the fastest of the shapes tried (1×8, 2×4, 2×8, 4×4, 4×8, 4×16,
//	          8×2, 8×4, 8×8, 16×1, 32×1 MiB), by a margin within the noise
//	          of a shared 2-core machine over 4×8 MiB.
//	engine:DxW  the same with another shape, e.g. engine:4x8MiB; list several
//	          to compare shapes in one run.
//	smbclient `smbclient //127.0.0.1/share -c 'get big /dev/null'` and
//	          `-c 'put /dev/shm/…/big NAME'`; the whole process is timed,
//	          start-up included (its own transfer-only figure is printed as a
//	          note and kept in the JSON as smbclient_reported_mbps).
//	go-smb2   github.com/hirochachacha/go-smb2: Dial + Mount + Open/Create,
//	          io.CopyBuffer with an 8 MiB buffer through File.Read/File.Write
//	          (its WriteTo/ReadFrom shortcuts are hidden so the buffer is really
//	          used; it then issues one 1 MiB request at a time, and it signs
//	          every request), Close.
//
// Every measurement covers connect, authenticate, tree connect, open, transfer
// and close, for every contender: each run starts from nothing, as smbclient
// does.
//
// Fairness: before every measurement the bench calls sync(2), so no contender
// pays for the write-back of an earlier one's pages. With -tmpfs=false it also
// reads the server's file once locally before every read, so the server's page
// cache is warm and identical for all (on tmpfs the file is always in memory). Written files are
// removed after each write. Within a run the contenders alternate, and the
// starting contender rotates from run to run; the table shows the median.
//
// Output: a header with the machine facts (CPUs, Go, Samba, kernel, the
// engine's negotiated dialect/signing/limits), then one row per contender and
// direction: the median throughput in SI units (MB/s = 10^6 bytes/s), the
// slowest and fastest run, and the ratio of the median to smbclient's median in
// the same direction (above 1.00× is faster than smbclient). -json prints the
// same data as JSON on stdout instead of the table; progress always goes to
// stderr.
//
// Profiling: -cpuprofile FILE writes a CPU profile of the whole bench in which
// every sample taken during a measurement carries the pprof labels contender
// and direction: `go tool pprof -tagfocus=contender=engine FILE` keeps the
// engine's samples; -contenders engine runs only the engine.
//
// Usage: go run ./test/cmd/bench-engine [-runs 3] [-size 1GiB] [-chunk 1MiB]
// [-depth 16] [-window 1MiB] [-contenders engine,smbclient,go-smb2]
// [-json] [-cpuprofile FILE] [-tmpfs=false]. Needs root (smbd) and Debian's
// samba and smbclient (make deps).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	gosmb2 "github.com/hirochachacha/go-smb2"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

const (
	remoteName   = "big"            // the file every read fetches
	goSMB2Buffer = 8 << 20          // io.CopyBuffer buffer for go-smb2
	stepTimeout  = 10 * time.Minute // one measurement, including connect
	memRing      = 64 << 20         // random bytes the in-memory writers cycle through
)

type config struct {
	runs       int
	size       int64
	chunk      int
	shape      shape // of the plain "engine" contender
	contenders []string
	tmpfs      bool
	jsonOut    bool
	cpuprofile string
}

// shape is an engine I/O pipeline: depth calls of window bytes in flight.
type shape struct{ depth, window int }

func (s shape) String() string {
	return fmt.Sprintf("%dx%s", s.depth, humanize.IBytes(uint64(s.window)))
}

// parseShape parses "4x8MiB".
func parseShape(v string) (shape, error) {
	d, w, ok := strings.Cut(v, "x")
	depth, err := strconv.Atoi(d)
	if !ok || err != nil || depth < 1 {
		return shape{}, fmt.Errorf("bad engine shape %q, want DEPTHxWINDOW such as 4x8MiB", v)
	}
	window, err := humanize.ParseBytes(w)
	if err != nil || window < 1 {
		return shape{}, fmt.Errorf("bad engine shape %q, want DEPTHxWINDOW such as 4x8MiB", v)
	}
	return shape{depth, int(window)}, nil
}

// contenderShape returns the pipeline of an "engine" or "engine:4x8MiB" contender.
func (c *config) contenderShape(who string) shape {
	if _, v, ok := strings.Cut(who, ":"); ok {
		sh, _ := parseShape(v) // validated in main
		return sh
	}
	return c.shape
}

// kind strips the shape from a contender name.
func kind(who string) string {
	k, _, _ := strings.Cut(who, ":")
	return k
}

// bytesFlag is a flag.Value for sizes such as "1GiB", "8MiB" or "1048576".
type bytesFlag struct{ v *int64 }

func (b bytesFlag) String() string {
	if b.v == nil {
		return ""
	}
	return humanize.IBytes(uint64(*b.v))
}

func (b bytesFlag) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return err
	}
	*b.v = int64(n)
	return nil
}

func main() {
	var c config
	size, chunk, window := int64(1<<30), int64(0), int64(0)
	var contenders string
	flag.IntVar(&c.runs, "runs", 3, "measurements per contender and direction; the median is reported")
	flag.Var(bytesFlag{&size}, "size", "bytes transferred in each direction")
	flag.Var(bytesFlag{&chunk}, "chunk", "engine READ/WRITE request size (session.Config.Chunk); 0: engine default")
	flag.IntVar(&c.shape.depth, "depth", 16, "engine: outstanding ReadAt/WriteAt calls (read-ahead depth)")
	flag.Var(bytesFlag{&window}, "window", "engine: bytes per ReadAt/WriteAt call; default: -chunk, or 1MiB (one READ/WRITE per call)")
	flag.StringVar(&contenders, "contenders", "engine,smbclient,go-smb2",
		"comma-separated contenders to run: engine, smbclient, go-smb2, and engine:DEPTHxWINDOW (e.g. engine:16x1MiB) to compare pipeline shapes")
	flag.BoolVar(&c.tmpfs, "tmpfs", true, "keep the server's share on tmpfs (/dev/shm), so the server's disk does not limit writes")
	flag.BoolVar(&c.jsonOut, "json", false, "print the results as JSON on stdout instead of the table")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile (samples labelled contender=, direction=) to `FILE`")
	flag.Parse()
	c.size, c.chunk, c.shape.window = size, int(chunk), int(window)
	if c.shape.window == 0 {
		c.shape.window = cmp.Or(c.chunk, 1<<20)
	}
	for _, name := range strings.Split(contenders, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allContenders, kind(name)) {
			fatalf("unknown contender %q (have %s)", name, strings.Join(allContenders, ", "))
		}
		if k, v, ok := strings.Cut(name, ":"); ok {
			if _, err := parseShape(v); k != "engine" || err != nil {
				fatalf("bad contender %q: only engine takes a shape, as engine:4x8MiB", name)
			}
		}
		c.contenders = append(c.contenders, name)
	}
	if c.runs < 1 || c.size < 1 || c.shape.depth < 1 || c.shape.window < 1 || len(c.contenders) == 0 {
		fatalf("-runs, -size, -depth, -window and -contenders must be positive")
	}
	if err := run(c); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-engine: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-engine: "+format+"\n", args...)
}

var allContenders = []string{"engine", "smbclient", "go-smb2"}

// bench holds what every measurement needs.
type bench struct {
	cfg   config
	srv   *samba.Server
	local string // the upload source on tmpfs
	ring  []byte // random bytes for in-memory writers
}

// sample is one measurement.
type sample struct {
	dur      time.Duration
	reported float64 // smbclient's own MB/s, 0 if none
	err      error
}

// Result is one row of the output.
type Result struct {
	Contender        string    `json:"contender"`
	Direction        string    `json:"direction"`
	MedianMBps       float64   `json:"median_mbps"` // 10^6 bytes per second
	MinMBps          float64   `json:"min_mbps"`
	MaxMBps          float64   `json:"max_mbps"`
	RatioVsSmbclient float64   `json:"ratio_vs_smbclient,omitempty"`
	RunsSeconds      []float64 `json:"runs_seconds"`
	SmbclientOwnMBps float64   `json:"smbclient_reported_mbps,omitempty"`
	Error            string    `json:"error,omitempty"`
}

// Report is the -json output.
type Report struct {
	Machine   map[string]string `json:"machine"`
	SizeBytes int64             `json:"size_bytes"`
	Runs      int               `json:"runs"`
	Chunk     int               `json:"engine_chunk"`
	Depth     int               `json:"engine_depth"`
	Window    int               `json:"engine_window"`
	Tmpfs     bool              `json:"share_on_tmpfs"`
	Results   []Result          `json:"results"`
	Seconds   float64           `json:"bench_seconds"`
}

func run(c config) error {
	start := time.Now()
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.tmpfs {
		// test/samba puts the server's directory, share included, in $TMPDIR.
		os.Setenv("TMPDIR", "/dev/shm")
	}
	srv, err := samba.Launch(samba.Options{})
	if srv != nil {
		defer srv.Close()
	}
	if err != nil {
		return err
	}
	shm, err := os.MkdirTemp("/dev/shm", "bench-engine-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(shm)
	b := &bench{cfg: c, srv: srv, local: filepath.Join(shm, "big"), ring: make([]byte, memRing)}
	for _, who := range c.contenders {
		if kind(who) == "engine" && c.contenderShape(who).window > len(b.ring) {
			b.ring = make([]byte, c.contenderShape(who).window)
		}
	}
	logf("samba on %s, share dir %s; writing %s of random data", srv.Addr, srv.Dir, humanize.IBytes(uint64(c.size)))
	if err := b.prepare(); err != nil {
		return err
	}
	facts := b.machine()

	dirs := []string{"read", "write"}
	samples := map[string][]sample{}
	key := func(who, dir string) string { return who + "/" + dir }
	for r := 0; r < c.runs; r++ {
		for _, dir := range dirs {
			for i := range c.contenders {
				who := c.contenders[(i+r)%len(c.contenders)]
				s := b.measure(who, dir, r)
				if s.err != nil {
					logf("run %d %-9s %-5s failed: %v", r+1, who, dir, s.err)
				} else {
					logf("run %d %-9s %-5s %8.3fs  %s/s", r+1, who, dir, s.dur.Seconds(), humanize.Bytes(uint64(mbps(c.size, s.dur)*1e6)))
				}
				samples[key(who, dir)] = append(samples[key(who, dir)], s)
			}
		}
	}

	rep := Report{Machine: facts, SizeBytes: c.size, Runs: c.runs, Chunk: c.chunk, Depth: c.shape.depth, Window: c.shape.window, Tmpfs: c.tmpfs}
	for _, dir := range dirs {
		base := summarize("smbclient", dir, c.size, samples[key("smbclient", dir)])
		for _, who := range c.contenders {
			res := summarize(who, dir, c.size, samples[key(who, dir)])
			if res.Error == "" && base.Error == "" && base.MedianMBps > 0 {
				res.RatioVsSmbclient = res.MedianMBps / base.MedianMBps
			}
			rep.Results = append(rep.Results, res)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if c.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(os.Stdout, rep)
	return nil
}

// prepare writes the random file into the share directory and the same bytes
// to tmpfs for the uploads.
func (b *bench) prepare() error {
	var seed [32]byte
	rand.Read(seed[:])
	gen := mrand.NewChaCha8(seed)
	gen.Read(b.ring)
	remote, err := os.Create(filepath.Join(b.srv.Dir, remoteName))
	if err != nil {
		return err
	}
	defer remote.Close()
	local, err := os.Create(b.local)
	if err != nil {
		return err
	}
	defer local.Close()
	buf := make([]byte, 8<<20)
	for left := b.cfg.size; left > 0; {
		n := int(min(int64(len(buf)), left))
		gen.Read(buf[:n])
		if _, err := remote.Write(buf[:n]); err != nil {
			return err
		}
		if _, err := local.Write(buf[:n]); err != nil {
			return err
		}
		left -= int64(n)
	}
	if err := remote.Close(); err != nil {
		return err
	}
	syscall.Sync()
	return nil
}

// warm reads the server's copy once so smbd finds it in the page cache.
func (b *bench) warm() error {
	f, err := os.Open(filepath.Join(b.srv.Dir, remoteName))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(onlyWriter{io.Discard}, onlyReader{f}, make([]byte, 8<<20))
	return err
}

// measure runs one contender in one direction.
func (b *bench) measure(who, dir string, runIdx int) sample {
	syscall.Sync()
	dst := fmt.Sprintf("up-%s-%d", strings.ReplaceAll(who, ":", "-"), runIdx)
	if dir == "read" && !b.cfg.tmpfs { // tmpfs pages are always in memory
		if err := b.warm(); err != nil {
			return sample{err: fmt.Errorf("warming the server's page cache: %w", err)}
		}
	} else {
		defer func() {
			os.Remove(filepath.Join(b.srv.Dir, dst))
			syscall.Sync()
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	var s sample
	pprof.Do(ctx, pprof.Labels("contender", who, "direction", dir), func(ctx context.Context) {
		t0 := time.Now()
		switch kind(who) + "/" + dir {
		case "engine/read":
			s.err = b.engineRead(ctx, b.cfg.contenderShape(who))
		case "engine/write":
			s.err = b.engineWrite(ctx, dst, b.cfg.contenderShape(who))
		case "smbclient/read":
			s.reported, s.err = b.smbclient(ctx, "get "+remoteName+" /dev/null")
		case "smbclient/write":
			s.reported, s.err = b.smbclient(ctx, "put "+b.local+" "+dst)
		case "go-smb2/read":
			s.err = b.goSMB2Read(ctx)
		case "go-smb2/write":
			s.err = b.goSMB2Write(ctx, dst)
		}
		s.dur = time.Since(t0)
	})
	if s.err == nil && dir == "write" {
		s.err = b.checkSize(dst)
	}
	return s
}

// checkSize makes sure a write really produced the whole file.
func (b *bench) checkSize(name string) error {
	st, err := os.Stat(filepath.Join(b.srv.Dir, name))
	if err != nil {
		return err
	}
	if st.Size() != b.cfg.size {
		return fmt.Errorf("uploaded file has %d bytes, want %d", st.Size(), b.cfg.size)
	}
	return nil
}

// engineTree dials a fresh session; the caller closes it.
func (b *bench) engineTree(ctx context.Context) (*session.Session, *session.Tree, error) {
	s, err := session.Dial(ctx, session.Config{Addr: b.srv.Addr, User: b.srv.User, Password: b.srv.Password, Chunk: b.cfg.chunk})
	if err != nil {
		return nil, nil, err
	}
	t, err := s.Mount(ctx, b.srv.Share)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, t, nil
}

// engineRead reads the file with -depth ReadAt calls of -window bytes in
// flight and hands the windows to /dev/null in file order, like a read-ahead
// reader feeding a sequential consumer.
func (b *bench) engineRead(ctx context.Context, sh shape) error {
	s, t, err := b.engineTree(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := t.OpenFile(ctx, remoteName)
	if err != nil {
		return err
	}
	sink, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer sink.Close()

	type window struct {
		buf  []byte
		n    int
		err  error
		done chan struct{}
	}
	free := make(chan []byte, sh.depth) // a buffer is free: another read may start
	for range sh.depth {
		free <- make([]byte, sh.window)
	}
	inflight := make(chan *window, sh.depth)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // producer: start reads in file order
		defer close(inflight)
		for off := int64(0); off < b.cfg.size; off += int64(sh.window) {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			w := &window{buf: buf[:min(int64(len(buf)), b.cfg.size-off)], done: make(chan struct{})}
			go func() {
				w.n, w.err = f.ReadAt(ctx, w.buf, off)
				close(w.done)
			}()
			inflight <- w
		}
	}()
	var total int64
	var firstErr error
	for w := range inflight { // consumer: in order
		<-w.done
		if w.err != nil && !(errors.Is(w.err, io.EOF) && w.n == len(w.buf)) && firstErr == nil {
			firstErr = w.err
			cancel()
		}
		if firstErr == nil {
			if _, err := sink.Write(w.buf[:w.n]); err != nil {
				firstErr = err
				cancel()
			}
			total += int64(w.n)
		}
		free <- w.buf[:cap(w.buf)]
	}
	if firstErr != nil {
		f.Close(ctx)
		return firstErr
	}
	if total != b.cfg.size {
		return fmt.Errorf("read %d bytes, want %d", total, b.cfg.size)
	}
	return f.Close(ctx)
}

// engineWrite writes -size bytes from memory with -depth WriteAt calls of
// -window bytes in flight.
func (b *bench) engineWrite(ctx context.Context, name string, sh shape) error {
	s, t, err := b.engineTree(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := t.Create(ctx, name, session.CreateOptions{
		Access: smb2.GenericRead | smb2.GenericWrite, Disposition: smb2.FileOverwriteIf,
		Options: smb2.FileNonDirectoryFile,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, sh.depth)
	var inflight int
	var firstErr error
	collect := func() {
		if err := <-done; err != nil && firstErr == nil {
			firstErr = err
			cancel()
		}
		inflight--
	}
	for off := int64(0); off < b.cfg.size && firstErr == nil; off += int64(sh.window) {
		if inflight == sh.depth {
			collect()
		}
		inflight++
		p := b.ringSlice(off, int(min(int64(sh.window), b.cfg.size-off)))
		go func() {
			_, err := f.WriteAt(ctx, p, off)
			done <- err
		}()
	}
	for inflight > 0 {
		collect()
	}
	if firstErr != nil {
		f.Close(ctx)
		return firstErr
	}
	return f.Close(ctx)
}

// ringSlice returns n bytes of the random ring for file offset off; n never
// exceeds the ring size, so a window wraps by restarting at the ring's start.
func (b *bench) ringSlice(off int64, n int) []byte {
	n = min(n, len(b.ring))
	start := int(off % int64(len(b.ring)))
	if start+n > len(b.ring) {
		start = 0
	}
	return b.ring[start : start+n]
}

// ringReader yields size bytes from the ring, for io.Copy-style writers.
type ringReader struct {
	b    *bench
	off  int64
	size int64
}

func (r *ringReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := copy(p, r.b.ringSlice(r.off, int(min(int64(len(p)), r.size-r.off))))
	r.off += int64(n)
	return n, nil
}

// smbclientRate matches the end of smbclient's get and put lines:
// "(average 2048000.0 KiloBytes/sec)" and "(average 366122.9 kb/s)".
var smbclientRate = regexp.MustCompile(`\(average ([0-9.]+) (?:KiloBytes/sec|kb/s)\)`)

// smbclient runs one smbclient command and returns its self-reported rate in
// MB/s (smbclient's "KiloBytes" and "kb" are 1024 bytes).
func (b *bench) smbclient(ctx context.Context, command string) (float64, error) {
	args := append(b.srv.SmbclientArgs(), "-c", command)
	cmd := exec.CommandContext(ctx, "smbclient", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("smbclient -c %q: %v: %s", command, err, lastLine(out.String()))
	}
	if strings.Contains(out.String(), "NT_STATUS_") {
		return 0, fmt.Errorf("smbclient -c %q: %s", command, lastLine(out.String()))
	}
	var rate float64
	if m := smbclientRate.FindStringSubmatch(out.String()); m != nil {
		kb, _ := strconv.ParseFloat(m[1], 64)
		rate = kb * 1024 / 1e6
	}
	return rate, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// goSMB2Share dials go-smb2; the caller runs the returned cleanup.
func (b *bench) goSMB2Share(ctx context.Context) (*gosmb2.Share, func(), error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", b.srv.Addr)
	if err != nil {
		return nil, nil, err
	}
	dl := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: b.srv.User, Password: b.srv.Password}}
	s, err := dl.DialContext(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	sh, err := s.Mount(b.srv.Share)
	if err != nil {
		s.Logoff()
		conn.Close()
		return nil, nil, err
	}
	return sh.WithContext(ctx), func() { sh.Umount(); s.Logoff(); conn.Close() }, nil
}

// onlyReader and onlyWriter hide io.WriterTo and io.ReaderFrom so that
// io.CopyBuffer really uses the caller's buffer.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

func (b *bench) goSMB2Read(ctx context.Context) error {
	sh, done, err := b.goSMB2Share(ctx)
	if err != nil {
		return err
	}
	defer done()
	f, err := sh.Open(remoteName)
	if err != nil {
		return err
	}
	sink, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		f.Close()
		return err
	}
	defer sink.Close()
	n, err := io.CopyBuffer(onlyWriter{sink}, onlyReader{f}, make([]byte, goSMB2Buffer))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != b.cfg.size {
		err = fmt.Errorf("read %d bytes, want %d", n, b.cfg.size)
	}
	return err
}

func (b *bench) goSMB2Write(ctx context.Context, name string) error {
	sh, done, err := b.goSMB2Share(ctx)
	if err != nil {
		return err
	}
	defer done()
	f, err := sh.Create(name)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(onlyWriter{f}, onlyReader{&ringReader{b: b, size: b.cfg.size}}, make([]byte, goSMB2Buffer))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// machine collects the facts printed in the header.
func (b *bench) machine() map[string]string {
	m := map[string]string{
		"cpus":   strconv.Itoa(runtime.NumCPU()),
		"go":     runtime.Version(),
		"os":     runtime.GOOS + "/" + runtime.GOARCH,
		"cpu":    cpuModel(),
		"kernel": strings.TrimSpace(cmdOutput("uname", "-r")),
		"samba":  strings.TrimSpace(cmdOutput("smbd", "--version")),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s, _, err := b.engineTree(ctx); err == nil {
		m["engine_session"] = fmt.Sprintf("dialect %v, signing %v, encryption %v, max read %s, max write %s",
			s.Dialect(), s.Signing(), s.Encrypting(), humanize.IBytes(uint64(s.MaxRead())), humanize.IBytes(uint64(s.MaxWrite())))
		s.Close()
	} else {
		m["engine_session"] = "dial failed: " + err.Error()
	}
	m["go-smb2_session"] = "signs every request (AES-CMAC), one 1 MiB READ/WRITE in flight"
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func cmdOutput(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	return string(out)
}

func mbps(size int64, d time.Duration) float64 {
	return float64(size) / d.Seconds() / 1e6
}

// summarize turns the samples of one contender and direction into a row; a
// row with any failed run reports the first error.
func summarize(who, dir string, size int64, ss []sample) Result {
	r := Result{Contender: who, Direction: dir}
	var rates, own []float64
	for _, s := range ss {
		if s.err != nil {
			if r.Error == "" {
				r.Error = s.err.Error()
			}
			continue
		}
		r.RunsSeconds = append(r.RunsSeconds, s.dur.Seconds())
		rates = append(rates, mbps(size, s.dur))
		if s.reported > 0 {
			own = append(own, s.reported)
		}
	}
	if len(rates) == 0 {
		if r.Error == "" {
			r.Error = "not run"
		}
		return r
	}
	r.MedianMBps, r.MinMBps, r.MaxMBps = median(rates), slices.Min(rates), slices.Max(rates)
	if len(own) > 0 {
		r.SmbclientOwnMBps = median(own)
	}
	return r
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w io.Writer, rep Report) {
	keys := make([]string, 0, len(rep.Machine))
	for k := range rep.Machine {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	where := "disk"
	if rep.Tmpfs {
		where = "tmpfs"
	}
	fmt.Fprintf(w, "bench-engine: %s sequential, median of %d runs, engine depth %d × window %s, chunk %s, share on %s\n",
		humanize.IBytes(uint64(rep.SizeBytes)), rep.Runs, rep.Depth, humanize.IBytes(uint64(rep.Window)), chunkName(rep.Chunk), where)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-16s %s\n", k+":", rep.Machine[k])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tdirection\tmedian\tmin\tmax\tvs smbclient\t")
	for _, r := range rep.Results {
		if r.Error != "" && r.MedianMBps == 0 {
			fmt.Fprintf(tw, "%s\t%s\tFAILED: %s\t\t\t\t\n", r.Contender, r.Direction, r.Error)
			continue
		}
		ratio := "-"
		if r.RatioVsSmbclient > 0 {
			ratio = fmt.Sprintf("%.2f×", r.RatioVsSmbclient)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/s\t%s/s\t%s/s\t%s\t\n", r.Contender, r.Direction,
			humanize.Bytes(uint64(r.MedianMBps*1e6)), humanize.Bytes(uint64(r.MinMBps*1e6)), humanize.Bytes(uint64(r.MaxMBps*1e6)), ratio)
	}
	tw.Flush()
	for _, r := range rep.Results {
		if r.Error != "" && r.MedianMBps > 0 {
			fmt.Fprintf(w, "note: %s %s: some runs failed: %s\n", r.Contender, r.Direction, r.Error)
		}
		if r.SmbclientOwnMBps > 0 {
			fmt.Fprintf(w, "note: smbclient %s: its own transfer-only figure (no process start-up): %s/s\n",
				r.Direction, humanize.Bytes(uint64(r.SmbclientOwnMBps*1e6)))
		}
	}
	fmt.Fprintf(w, "bench took %s\n", time.Duration(rep.Seconds*float64(time.Second)).Round(time.Second))
}

func chunkName(c int) string {
	if c == 0 {
		return "engine default"
	}
	return humanize.IBytes(uint64(c))
}
