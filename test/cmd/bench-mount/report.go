package main

// Summaries, the targets of the issue, the table and the machine facts.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/smbd3/mount.smbd3/test/benchutil"
)

// summarize turns the runs of one cell into a row: the median time of the
// successful runs, and the first error.
func (b *bench) summarize(w, who string, steps []Step) *Row {
	r := &Row{Workload: w, Contender: who, Runs: steps}
	var secs, cpu []float64
	for _, s := range steps {
		if s.Error != "" {
			if r.Error == "" {
				r.Error = s.Error
			}
			continue
		}
		secs = append(secs, s.Seconds)
		cpu = append(cpu, s.ServerCPU)
	}
	if len(secs) == 0 {
		if r.Error == "" {
			r.Error = "not run"
		}
		return r
	}
	r.Seconds = benchutil.Median(secs)
	r.ServerCPU = benchutil.Median(cpu)
	if w == "write" || w == "read" || w == "cp" {
		r.MBps = float64(b.cfg.size) / r.Seconds / 1e6
	}
	return r
}

// judge fills in mount.smbd3's targets from the issue.
func judge(r *Row, rows map[string]*Row) {
	var want []string
	var missed []string
	unknown := false
	switch r.Workload {
	case "write", "read", "cp", "untar":
		want = append(want, "≥1.0× smbclient")
		switch base := rows["smbclient"]; {
		case base == nil || base.Error != "":
			unknown = true
		case r.Error == "":
			if r.Seconds > base.Seconds {
				missed = append(missed, fmt.Sprintf("%.2f× smbclient", base.Seconds/r.Seconds))
			}
		}
	case "ls":
		want = append(want, "≤0.1 s")
		if r.Error == "" && r.Seconds > 0.1 {
			missed = append(missed, fmt.Sprintf("%.3f s > 0.1 s", r.Seconds))
		}
	case "rm":
		want = append(want, "≤1 s")
		if r.Error == "" && r.Seconds > 1 {
			missed = append(missed, fmt.Sprintf("%.3f s > 1 s", r.Seconds))
		}
	}
	var peers []string
	for _, p := range []string{"rclone", "rclone-writes", "smbnetfs"} {
		pr := rows[p]
		if pr == nil {
			continue
		}
		peers = append(peers, p)
		if pr.Error != "" {
			continue // a failed peer is beaten
		}
		if r.Error == "" && r.Seconds >= pr.Seconds {
			missed = append(missed, "behind "+p)
		}
	}
	if len(peers) > 0 {
		want = append(want, "ahead of "+strings.Join(peers, ", "))
	}
	r.Target = strings.Join(want, "; ")
	if r.Error != "" {
		no := false
		r.TargetMet = &no
		return
	}
	if unknown && len(missed) == 0 {
		return // no smbclient figure to compare with
	}
	met := len(missed) == 0
	r.TargetMet = &met
	if !met {
		r.Target += " — missed: " + strings.Join(missed, ", ")
	}
}

func printTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "\nbench-mount: dd %s, untar/ls/rm of %d × %s files, median of %d run(s)\n",
		humanize.IBytes(uint64(rep.SizeBytes)), rep.Files, humanize.IBytes(uint64(rep.FileBytes)), rep.Runs)
	keys := make([]string, 0, len(rep.Machine))
	for k := range rep.Machine {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-14s %s\n", k+":", rep.Machine[k])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tcontender\ttime\tMB/s\tvs smbclient\tserver CPU\ttarget met?")
	last := ""
	var failures []string
	for _, r := range rep.Rows {
		wl := r.Workload
		if wl == last {
			wl = ""
		} else if last != "" {
			fmt.Fprintln(tw, "\t\t\t\t\t\t")
		}
		last = r.Workload
		met := ""
		if r.Contender == "mount.smbd3" {
			switch {
			case r.TargetMet == nil:
				met = "? (no smbclient figure)"
			case *r.TargetMet:
				met = "yes"
			default:
				met = "NO"
			}
			if r.TargetMet != nil && !*r.TargetMet && r.Error == "" {
				met += " (" + r.Target[strings.Index(r.Target, "missed: ")+len("missed: "):] + ")"
			}
		}
		if r.Error != "" {
			failures = append(failures, fmt.Sprintf("[%d] %s %s: %s", len(failures)+1, r.Contender, r.Workload, r.Error))
			fmt.Fprintf(tw, "%s\t%s\tFAILED [%d]\t\t\t\t%s\n", wl, r.Contender, len(failures), met)
			continue
		}
		rate, ratio := "", ""
		if r.MBps > 0 {
			rate = humanize.Bytes(uint64(r.MBps*1e6)) + "/s"
		}
		if r.VsSmbclient > 0 {
			ratio = fmt.Sprintf("%.2f×", r.VsSmbclient)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f s\t%s\t%s\t%.2f s\t%s\n", wl, r.Contender, r.Seconds, rate, ratio, r.ServerCPU, met)
	}
	tw.Flush()
	if len(failures) > 0 {
		fmt.Fprintln(w)
		for _, f := range failures {
			fmt.Fprintln(w, f)
		}
	}
	fmt.Fprintln(w, "\nserver CPU: processor time of Samba's processes during the step (median); Samba serves a session with one single-threaded process")
	fmt.Fprintln(w, "targets for mount.smbd3: read/write (and cp) ≥1.0× smbclient, untar ≤ smbclient's mput, ls -lR ≤0.1 s, rm -rf ≤1 s, every workload ahead of the rclone and smbnetfs rows")
	for _, r := range rep.Rows {
		for i, s := range r.Runs {
			if s.Error == "" && s.Seconds-s.ReturnSeconds > 0.1*s.Seconds && s.Seconds-s.ReturnSeconds > 0.01 {
				fmt.Fprintf(w, "note: %s %s run %d: the command returned after %.3f s, the server had the result after %.3f s\n",
					r.Contender, r.Workload, i+1, s.ReturnSeconds, s.Seconds)
			}
		}
	}
	fmt.Fprintf(w, "bench took %s\n", time.Duration(rep.Seconds*float64(time.Second)).Round(time.Second))
}

// machine collects the facts printed in the header.
func (b *bench) machine() map[string]string {
	first := func(name string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil && len(out) == 0 {
			return "?"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	m := map[string]string{
		"cpus":     strconv.Itoa(runtime.NumCPU()),
		"cpu":      cpuModel(),
		"kernel":   first("uname", "-r"),
		"go":       runtime.Version(),
		"samba":    first("smbd", "--version"),
		"rclone":   first("rclone", "version"),
		"smbnetfs": first("dpkg-query", "-W", "-f", "${Version}", "smbnetfs"),
		"share":    b.srv.Dir,
	}
	if b.bin != "" {
		m["mount.smbd3"] = first(b.bin, "-V")
	}
	return m
}

// copyFile copies an executable.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
