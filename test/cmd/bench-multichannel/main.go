// Command bench-multichannel measures multichannel on rate-limited links:
// Samba in a network namespace of its own (test/multichannel), reached
// over veth pairs shaped with tc tbf on both ends (default 400, 400 and
// 1000 Mbit/s) and advertising those links with those speeds and RSS.
// For each -channels value it dials link 0 with that MaxChannels
// (1 = multichannel off), waits for the channels the session plans,
// reads 64 MiB to warm up, then times a sequential read and a sequential
// write of -size MiB (16 outstanding 4 MiB ReadAt/WriteAt calls, in file
// order; the write includes the final flush) and prints per run:
//
//	channels  active channels per link
//	read/write MB/s, and % of the summed rate of all links and of the
//	          links the session uses
//	split     each link's share of the bytes, next to its share of the
//	          summed rate of the links in use, and the largest relative
//	          deviation
//
// Data are checked: the read against the file's SHA-256, the write on the
// server's disk. Needs root; everything it creates is removed on exit
// (also on SIGINT/SIGTERM).
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/test/multichannel"
)

func main() {
	var (
		sizeMiB  = flag.Int("size", 1024, "file size in MiB")
		chanList = flag.String("channels", "1,2,4,8", "MaxChannels values to measure")
		rateList = flag.String("rates", "400,400,1000", "link rates in Mbit/s")
		runs     = flag.Int("runs", 1, "measurements per MaxChannels value")
		verbose  = flag.Bool("v", false, "log topology progress")
	)
	flag.Parse()
	var rates []uint64
	for _, f := range strings.Split(*rateList, ",") {
		r, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil || r == 0 {
			fatalf("bad -rates %q", *rateList)
		}
		rates = append(rates, r*1e6)
	}
	var chans []int
	for _, f := range strings.Split(*chanList, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > session.MaxChannelsLimit {
			fatalf("bad -channels %q", *chanList)
		}
		chans = append(chans, c)
	}
	logf := func(string, ...any) {}
	if *verbose {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	topo, err := multichannel.Setup(rates, logf)
	// Clean up on every way out.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		topo.Close()
		os.Exit(2)
	}()
	defer topo.Close()
	if err != nil {
		topo.Close()
		fatalf("setup: %v", err)
	}
	code := bench(topo, *sizeMiB<<20, chans, *runs)
	topo.Close()
	os.Exit(code)
}

type row struct {
	max                int
	perLink            []int
	readMBs, writeMBs  float64
	readPct, writePct  float64 // of all links
	readUse, writeUse  float64 // of the links in use
	readSplit, wrSplit []float64
	weights            []float64
	readDev, writeDev  float64
}

func bench(topo *multichannel.Topo, size int, chans []int, runs int) int {
	data := make([]byte, size)
	multichannel.Fill(data, 1)
	sum := sha256.Sum256(data)
	if err := topo.PutFile("read.bin", data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	wdata := make([]byte, size)
	multichannel.Fill(wdata, 2)
	wsum := sha256.Sum256(wdata)
	buf := make([]byte, size)
	allMBs := float64(topo.SumRateBps()) / 8e6

	fmt.Printf("links: ")
	for i, l := range topo.Links {
		fmt.Printf("link%d %d Mbit/s (%s)  ", i, l.RateBps/1e6, l.ServIP)
	}
	fmt.Printf("\nsum %.0f MB/s; file %d MiB; %d x %d MiB outstanding\n\n", allMBs, size>>20, multichannel.Depth, multichannel.Block>>20)

	var rows []row
	failed := false
	for _, mc := range chans {
		for r := 0; r < runs; r++ {
			row, err := measure(topo, mc, data, sum, wdata, wsum, buf)
			if err != nil {
				fmt.Fprintf(os.Stderr, "max_channels %d: %v\n", mc, err)
				failed = true
				continue
			}
			row.readPct = 100 * row.readMBs / allMBs
			row.writePct = 100 * row.writeMBs / allMBs
			rows = append(rows, row)
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "max_ch\tper link\tread MB/s\t% all\t% used\twrite MB/s\t% all\t% used\tweights\tread split\tdev\twrite split\tdev\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.0f%%\t%.0f%%\t%.1f\t%.0f%%\t%.0f%%\t%s\t%s\t%.1f%%\t%s\t%.1f%%\t\n",
			r.max, ints(r.perLink), r.readMBs, r.readPct, r.readUse, r.writeMBs, r.writePct, r.writeUse,
			pcts(r.weights), pcts(r.readSplit), 100*r.readDev, pcts(r.wrSplit), 100*r.writeDev)
	}
	tw.Flush()
	fmt.Println("\n% all: of the summed rate of all links; % used: of the links with a channel.")
	fmt.Println("weights: each link's share of the summed rate of the links in use; dev: largest |split-weight|/weight.")
	if failed {
		return 1
	}
	return 0
}

func measure(topo *multichannel.Topo, mc int, data []byte, sum [32]byte, wdata []byte, wsum [32]byte, buf []byte) (row, error) {
	r := row{max: mc}
	ctx := context.Background()
	cfg := topo.SessionConfig(mc)
	cfg.Timeout = 5 * time.Second
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := session.Dial(dctx, cfg)
	if err != nil {
		return r, fmt.Errorf("dial: %w", err)
	}
	defer s.Close()
	tr, err := s.Mount(dctx, topo.Share)
	if err != nil {
		return r, fmt.Errorf("mount: %w", err)
	}
	// Wait until the channel count stops growing.
	want := min(mc, 4*len(topo.Links))
	deadline := time.Now().Add(15 * time.Second)
	for {
		lb := topo.Split(nil, s.Channels())
		n := 0
		for _, c := range lb.Channels {
			n += c
		}
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := multichannel.Read(ctx, tr, "read.bin", buf[:64<<20], nil); err != nil {
		return r, fmt.Errorf("warm-up read: %w", err)
	}

	syscall.Sync()
	clear(buf)
	before := s.Channels()
	d, err := multichannel.Read(ctx, tr, "read.bin", buf, nil)
	if err != nil {
		return r, fmt.Errorf("read: %w", err)
	}
	lb := topo.Split(before, s.Channels())
	if sha256.Sum256(buf) != sum {
		return r, fmt.Errorf("read data differ")
	}
	r.perLink = lb.Channels
	used := make([]bool, len(topo.Links))
	var usedBps uint64
	for i, n := range lb.Channels {
		used[i] = n > 0
		if used[i] {
			usedBps += topo.Links[i].RateBps
		}
	}
	r.weights = topo.Weights(used)
	r.readMBs = float64(len(buf)) / 1e6 / d.Seconds()
	r.readUse = 100 * r.readMBs / (float64(usedBps) / 8e6)
	r.readSplit = multichannel.Shares(lb.Read)
	r.readDev = dev(r.readSplit, r.weights)

	syscall.Sync()
	before = s.Channels()
	d, err = multichannel.Write(ctx, tr, "write.bin", wdata, nil)
	if err != nil {
		return r, fmt.Errorf("write: %w", err)
	}
	lb = topo.Split(before, s.Channels())
	r.writeMBs = float64(len(wdata)) / 1e6 / d.Seconds()
	r.writeUse = 100 * r.writeMBs / (float64(usedBps) / 8e6)
	r.wrSplit = multichannel.Shares(lb.Written)
	r.writeDev = dev(r.wrSplit, r.weights)
	if ds, err := topo.DiskSum("write.bin"); err != nil || ds != wsum {
		return r, fmt.Errorf("written file on the server's disk differs (%v)", err)
	}
	os.Remove(topo.Dir + "/write.bin")
	return r, nil
}

func dev(split, w []float64) float64 {
	d := 0.0
	for i := range w {
		if w[i] > 0 {
			d = math.Max(d, math.Abs(split[i]-w[i])/w[i])
		}
	}
	return d
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, "/")
}

func pcts(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(100*x, 'f', 1, 64)
	}
	return strings.Join(s, "/")
}

func fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench-multichannel: "+f+"\n", a...)
	os.Exit(1)
}
