package main

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
)

// daemonProcs is the daemon's GOMAXPROCS floor. A FUSE daemon keeps
// goroutines blocked in reads of /dev/fuse, each holding a P in a system
// call; with as many Ps as cores, the runtime's monitor thread keeps
// taking those Ps back and never sleeps long. With Ps to spare it stays
// quiet: an untar of 2,000 small files measured 20% less daemon CPU and a
// fifth fewer context switches with 8 than with 2 on a 2-core machine
// (each switch is dear in a virtual machine). The environment's
// GOMAXPROCS, if set, wins.
const daemonProcs = 8

func setProcs() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < daemonProcs {
		runtime.GOMAXPROCS(daemonProcs)
	}
}

// startProfile writes a CPU profile of the daemon's whole life to the file
// named by SMBD3_CPUPROFILE, for developers (`go tool pprof FILE`). It
// returns the function that stops it.
func startProfile(log *slog.Logger) func() {
	path := os.Getenv("SMBD3_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Warn("cpu profile", "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Warn("cpu profile", "err", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
