// Command bench-rdma measures the RDMA data path against plain loopback
// TCP, side by side in one run, and prints a table with ratios:
//
//	RDMA WRITE / READ   the pure-Go iWARP provider moving 1 MiB and 64 KiB
//	                    per operation from one QP into (or out of) the other's
//	                    region, 8 posted at a time, one in 8 signaled (also
//	                    1 MiB WRITE with MPA CRC32c)
//	Send 1 KiB          1 KiB Sends, the receiver reposting each receive
//	SMB-Direct          our initiator and responder over iWARP: round trip of
//	                    a 100-byte message, a stream of 1 MiB messages, and
//	                    offloaded READ and WRITE of 1 MiB (per I/O: register,
//	                    request with the Buffer Descriptor, the peer RDMA-
//	                    Writes or -Reads and answers with Send with
//	                    Invalidate, release; one I/O at a time)
//
// Each is compared with a plain Go TCP connection on 127.0.0.1 moving the
// same bytes: a stream of writes of the same size read with io.ReadFull
// into a buffer of that size, or, for the round trip, a 100-byte ping-pong.
// The ratio is ours over TCP as a speed (above 1.00x is faster; for the
// round trip, TCP's time over ours). Target: RDMA WRITE and READ of 1 MiB
// at 0.8x the TCP stream or better.
//
// Also per row, for our side: allocations per operation (runtime.MemStats
// around the measured loop; both ends run in this process, so the
// responder's are included) and bytes copied in memory per byte moved, as
// counted by the provider and the transport where they copy() payload
// (iwarp.CopiedBytes + smbdirect.CopiedBytes; compiled in with the build
// tag copycount, which make bench-rdma sets; without it the column is
// n/a). The kernel's copies into and out of socket buffers are not in it:
// the TCP reference makes them too.
//
// Fairness: set-up (connecting, registering) is outside the timed loop,
// which is warmed up first; within a round the two sides of a row run one
// after the other, the order alternating from round to round; the table
// shows the medians of -rounds rounds (the machine is shared and noisy).
// -cpuprofile FILE labels every sample with row and side:
// go tool pprof -tagfocus=side=ours FILE.
//
// Usage: go run -tags copycount ./test/cmd/bench-rdma [-rounds 3]
// [-scale 1] [-only REGEXP] [-cpuprofile FILE] [-side ours|tcp]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/smbd3/mount.smbd3/internal/rdmabench"
	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

type maker func() (rdmabench.Runner, error)

type row struct {
	name   string
	ops    int // operations per measurement at -scale 1
	moved  int // payload bytes per operation
	unit   string
	target float64 // least ratio wanted; 0: none
	ours   maker
	ref    maker
	refIs  string

	// results, one per round
	ourT, refT     []time.Duration
	ourCPU, refCPU []time.Duration // CPU time per operation
	allocs         []float64
	copied         []float64
}

func rows() []*row {
	rdmaRow := func(name string, op rdma.Opcode, size, ops int, crc bool, target float64) *row {
		return &row{name: name, ops: ops, moved: size, unit: "MB/s", target: target,
			ours:  func() (rdmabench.Runner, error) { return rdmabench.NewRDMA(op, size, crc) },
			ref:   func() (rdmabench.Runner, error) { return rdmabench.NewTCPStream(size) },
			refIs: fmt.Sprintf("stream of %s writes", size2s(size))}
	}
	smbd := func(name string, ops, size int, mk func(p rdma.Provider) (rdmabench.Runner, error)) *row {
		return &row{name: name, ops: ops, moved: size, unit: "MB/s",
			ours:  func() (rdmabench.Runner, error) { return mk(rdmabench.Provider()) },
			ref:   func() (rdmabench.Runner, error) { return rdmabench.NewTCPStream(size) },
			refIs: fmt.Sprintf("stream of %s writes", size2s(size))}
	}
	const lo = "127.0.0.1:0"
	return []*row{
		rdmaRow("iWARP RDMA WRITE 1 MiB", rdma.OpWrite, 1<<20, 400, false, 0.8),
		rdmaRow("iWARP RDMA READ 1 MiB", rdma.OpRead, 1<<20, 400, false, 0.8),
		rdmaRow("iWARP RDMA WRITE 64 KiB", rdma.OpWrite, 64<<10, 4000, false, 0),
		rdmaRow("iWARP RDMA READ 64 KiB", rdma.OpRead, 64<<10, 4000, false, 0),
		rdmaRow("iWARP RDMA WRITE 1 MiB, CRC", rdma.OpWrite, 1<<20, 300, true, 0),
		{name: "iWARP Send 1 KiB", ops: 200000, moved: 1024, unit: "msg/s",
			ours:  func() (rdmabench.Runner, error) { return rdmabench.NewSends(1024) },
			ref:   func() (rdmabench.Runner, error) { return rdmabench.NewTCPStream(1024) },
			refIs: "stream of 1 KiB writes"},
		{name: "SMB-Direct round trip 100 B", ops: 4000, moved: 200, unit: "µs",
			ours: func() (rdmabench.Runner, error) {
				return rdmabench.NewRoundTrip(rdmabench.Provider(), lo, 100)
			},
			ref:   func() (rdmabench.Runner, error) { return rdmabench.NewTCPPingPong(100) },
			refIs: "100-byte ping-pong"},
		smbd("SMB-Direct messages 1 MiB", 300, 1<<20, func(p rdma.Provider) (rdmabench.Runner, error) {
			return rdmabench.NewStream(p, lo, 1<<20)
		}),
		smbd("SMB-Direct offloaded READ 1 MiB", 300, 1<<20, func(p rdma.Provider) (rdmabench.Runner, error) {
			return rdmabench.NewOffload(p, lo, smbdirect.ForRead, 1<<20)
		}),
		smbd("SMB-Direct offloaded WRITE 1 MiB", 300, 1<<20, func(p rdma.Provider) (rdmabench.Runner, error) {
			return rdmabench.NewOffload(p, lo, smbdirect.ForWrite, 1<<20)
		}),
	}
}

func size2s(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func main() {
	rounds := flag.Int("rounds", 3, "measurements of each side per row (the table shows medians)")
	scale := flag.Float64("scale", 1, "multiplies the operations per measurement")
	only := flag.String("only", "", "run only the rows whose name matches this regexp")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile, samples labelled row and side")
	sideOnly := flag.String("side", "", "ours or tcp: measure only that side (for profiling; no ratios)")
	flag.Parse()
	var re *regexp.Regexp
	if *only != "" {
		re = regexp.MustCompile(*only)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	var todo []*row
	for _, r := range rows() {
		if re == nil || re.MatchString(r.name) {
			todo = append(todo, r)
		}
	}
	for round := 0; round < *rounds; round++ {
		for _, r := range todo {
			n := max(int(float64(r.ops)**scale), 1)
			sides := []bool{true, false}
			if round%2 == 1 {
				sides = []bool{false, true}
			}
			switch *sideOnly {
			case "ours":
				sides = []bool{true}
			case "tcp":
				sides = []bool{false}
			}
			for _, ours := range sides {
				fmt.Fprintf(os.Stderr, "round %d: %s (%s)\n", round+1, r.name, map[bool]string{true: "ours", false: "tcp"}[ours])
				if err := measure(r, ours, n); err != nil {
					fatal(fmt.Errorf("%s: %w", r.name, err))
				}
			}
		}
	}
	report(todo, *rounds)
}

// measure builds one side of r, warms it up and times n operations.
func measure(r *row, ours bool, n int) error {
	mk := r.ref
	side := "tcp"
	if ours {
		mk, side = r.ours, "ours"
	}
	// The side's goroutines are started under the labels, so they carry
	// them too.
	labels := pprof.Labels("row", r.name, "side", side)
	var run rdmabench.Runner
	var err error
	pprof.Do(context.Background(), labels, func(context.Context) { run, err = mk() })
	if err != nil {
		return err
	}
	defer run.Close()
	if err := run.Run(max(n/20, 1)); err != nil {
		return err
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c0 := iwarp.CopiedBytes() + smbdirect.CopiedBytes()
	u0 := cpuTime()
	var d time.Duration
	pprof.Do(context.Background(), labels, func(context.Context) {
		start := time.Now()
		err = run.Run(n)
		d = time.Since(start)
	})
	cpu := cpuTime() - u0
	c1 := iwarp.CopiedBytes() + smbdirect.CopiedBytes()
	runtime.ReadMemStats(&m1)
	if err != nil {
		return err
	}
	if ours {
		r.ourT = append(r.ourT, d/time.Duration(n))
		r.ourCPU = append(r.ourCPU, cpu/time.Duration(n))
		r.allocs = append(r.allocs, float64(m1.Mallocs-m0.Mallocs)/float64(n))
		r.copied = append(r.copied, float64(c1-c0)/float64(n*r.moved))
	} else {
		r.refT = append(r.refT, d/time.Duration(n))
		r.refCPU = append(r.refCPU, cpu/time.Duration(n))
	}
	return nil
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median[T time.Duration | float64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// rate is the figure shown for one operation time.
func (r *row) rate(per time.Duration) string {
	switch r.unit {
	case "µs":
		return fmt.Sprintf("%.1f µs", float64(per)/1e3)
	case "msg/s":
		return fmt.Sprintf("%.0f k msg/s", 1e6/float64(per))
	}
	return fmt.Sprintf("%.0f MB/s", float64(r.moved)*1e3/float64(per))
}

func report(rs []*row, rounds int) {
	fmt.Printf("bench-rdma: %d CPUs, %s %s/%s, loopback; medians of %d rounds; copy counting %s\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, rounds, map[bool]string{true: "on", false: "off (build with -tags copycount)"}[iwarp.CopyCounting])
	fmt.Println("ratio: ours relative to TCP as a speed (>1.00x faster); CPU ratio: TCP's CPU time per operation over ours (>1.00x cheaper),")
	fmt.Println("less disturbed by other load than the speed; allocs/op: both ends, in this process; copied/B: bytes copied in memory by")
	fmt.Println("the provider and transport per byte moved")
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tours\tTCP loopback\t\tratio\ttarget\tCPU ratio\tallocs/op\tcopied/B\tspread (ours, TCP)")
	below := false
	for _, r := range rs {
		switch { // -side: one side only, no ratios
		case len(r.refT) == 0:
			r.refT, r.refCPU = r.ourT, r.ourCPU
		case len(r.ourT) == 0:
			r.ourT, r.ourCPU = r.refT, r.refCPU
			r.allocs, r.copied = []float64{0}, []float64{0}
		}
		ot, rt := median(r.ourT), median(r.refT)
		ratio := float64(rt) / float64(ot)
		tgt := ""
		if r.target > 0 {
			tgt = fmt.Sprintf(">= %.2fx ok", r.target)
			if ratio < r.target {
				tgt = fmt.Sprintf(">= %.2fx BELOW", r.target)
				below = true
			}
		}
		cp := "n/a"
		if iwarp.CopyCounting {
			cp = fmt.Sprintf("%.3f", median(r.copied))
		}
		cpuRatio := float64(median(r.refCPU)) / float64(median(r.ourCPU))
		fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\t%.2fx\t%s\t%.2fx\t%.1f\t%s\t%s, %s\n", r.name, r.rate(ot), r.rate(rt), r.refIs,
			ratio, tgt, cpuRatio, median(r.allocs), cp, spread(r, r.ourT), spread(r, r.refT))
	}
	tw.Flush()
	if below {
		fmt.Println("\nsome figures are below their target")
	}
}

// spread shows the slowest and fastest round.
func spread(r *row, v []time.Duration) string {
	s := slices.Clone(v)
	slices.Sort(s)
	if r.unit == "µs" {
		return strings.TrimSuffix(r.rate(s[0]), " µs") + "–" + r.rate(s[len(s)-1])
	}
	return strings.Fields(r.rate(s[len(s)-1]))[0] + "–" + r.rate(s[0])
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench-rdma:", err)
	os.Exit(1)
}
