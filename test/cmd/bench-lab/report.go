package main

// Summaries, the table and the machine facts.

import (
	"context"
	"fmt"
	"github.com/smbd3/mount.smbd3/test/benchutil"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
)

// summarize turns the runs of one cell into a row: the median time of the
// successful runs, and the first error.
func (b *bench) summarize(w, who string, steps []Step) *Row {
	r := &Row{Workload: w, Row: who, Runs: steps}
	var secs []float64
	for _, s := range steps {
		if s.Error != "" {
			if r.Error == "" {
				r.Error = s.Error
			}
			continue
		}
		secs = append(secs, s.Seconds)
	}
	if len(secs) == 0 {
		if r.Error == "" {
			r.Error = "not run"
		}
		return r
	}
	r.Seconds = benchutil.Median(secs)
	if w == "write" || w == "read" {
		r.MBps = float64(b.cfg.size) / r.Seconds / 1e6
	}
	return r
}

// medianOf is the median of f over the successful steps.
func medianOf(steps []Step, f func(*Step) float64) float64 {
	var v []float64
	for i := range steps {
		if steps[i].Error == "" {
			v = append(v, f(&steps[i]))
		}
	}
	if len(v) == 0 {
		return 0
	}
	return benchutil.Median(v)
}

func printTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "\nmount.smbd3 over TCP and SMB-Direct against ksmbd in the QEMU lab (emulated guest: report only)\n")
	fmt.Fprintf(w, "dd %s, untar %d files of %d B, median of %d run(s)\n", humanize.IBytes(uint64(rep.SizeBytes)), rep.Files, rep.FileBytes, rep.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\trow\tseconds\tMB/s\tvs TCP\tclient CPU s\tguest CPU s\tguest busy\tvia\t")
	for _, r := range rep.Rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\tFAILED: %s\t\t\t\t\t\t\t\n", r.Workload, r.Row, shorten(r.Error, 70))
			continue
		}
		mbps, vs := "-", "-"
		if r.MBps > 0 {
			mbps = fmt.Sprintf("%.1f", r.MBps)
		}
		if r.VsTCP > 0 {
			vs = fmt.Sprintf("%.2f×", r.VsTCP)
		}
		via := ""
		for _, s := range r.Runs {
			if s.Error == "" {
				via = s.Transport
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%.2f\t%.2f\t%.0f%%\t%s\t\n", r.Workload, r.Row, r.Seconds, mbps, vs,
			medianOf(r.Runs, func(s *Step) float64 { return s.ClientCPU }),
			medianOf(r.Runs, func(s *Step) float64 { return s.GuestCPU }),
			100*medianOf(r.Runs, func(s *Step) float64 { return s.GuestBusy }), via)
	}
	tw.Flush()
	var pk []string
	for _, r := range rep.Rows {
		for _, s := range r.Runs {
			if s.Packets != nil && s.Error == "" {
				pk = append(pk, fmt.Sprintf("%-5s %-14s%s", r.Workload, r.Row, s.Packets.String()))
				break
			}
		}
	}
	if len(pk) > 0 {
		fmt.Fprintf(w, "\npackets on the lab link (first run):\n  %s\n", strings.Join(pk, "\n  "))
	}
	fmt.Fprintf(w, "\nvs TCP: the TCP row's time / this row's (smbd3-rdma against smbd3-tcp, base-rdma against base-tcp, cifs-rdma against cifs-tcp).\n")
	fmt.Fprintf(w, "client CPU: mount daemon + dd/tar on the host; for the in-guest cifs rows, the whole guest.\n")
	fmt.Fprintf(w, "guest CPU: busy CPU-seconds from the guest's /proc/stat around the step (smbd3 rows: less what a lab.sh exec round trip costs);\n")
	fmt.Fprintf(w, "guest busy: that over the step's time and the guest's CPUs.\n")
	fmt.Fprintf(w, "bench took %s\n\n", time.Duration(rep.Seconds*float64(time.Second)).Round(time.Second))
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// machine records what the numbers were measured on.
func (b *bench) machine(ctx context.Context) map[string]string {
	m := map[string]string{
		"cpus": fmt.Sprint(runtime.NumCPU()),
		"go":   runtime.Version(),
	}
	if out, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["host_kernel"] = strings.TrimSpace(string(out))
	}
	if out, err := b.lab.exec(ctx, "uname -r; nproc"); err == nil {
		f := strings.Fields(out)
		if len(f) > 0 {
			m["guest_kernel"] = f[0]
		}
		if len(f) > 1 {
			m["guest_cpus"] = f[1]
		}
	}
	if out, err := b.lab.cmd(ctx, "status").Output(); err == nil {
		m["lab"] = strings.TrimSpace(string(out))
	}
	return m
}
