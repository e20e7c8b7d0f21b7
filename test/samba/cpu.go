package samba

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU returns the processor time the server's processes have used so far:
// smbd, the children serving connections, its helpers (smbd-notifyd,
// samba-dcerpcd and its workers) and the children of theirs that have
// ended. Benchmarks take it before and after a workload to show how much
// of the time the server itself was busy: Samba serves a client's
// connection with one single-threaded process, so a workload whose server
// time is near its wall time is bound by the server, whatever the client.
func (s *Server) CPU() time.Duration {
	live := map[int]bool{}
	for _, pid := range configProcs(s.Config) {
		live[pid] = true
	}
	var ticks int64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		switch {
		case live[pid]:
			// A process's own time and that of the children it has
			// waited for; those are no longer in /proc.
			ticks += st.utime + st.stime + st.cutime + st.cstime
		case st.state == 'Z' && live[st.ppid]:
			// A child that has ended but is not yet waited for: its
			// cmdline is gone, so configProcs does not list it.
			ticks += st.utime + st.stime
		}
	}
	// /proc counts in clock ticks, USER_HZ, which Linux fixes at 100 for
	// every architecture it exports it on.
	return time.Duration(ticks) * (time.Second / 100)
}

// procStat is what CPU needs of /proc/PID/stat.
type procStat struct {
	state                        byte
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	return parseStat(string(b))
}

// parseStat reads a /proc/PID/stat line. The command name, field 2, is in
// parentheses and may hold spaces and parentheses itself, so the fields are
// counted from the last ')'.
func parseStat(line string) (procStat, bool) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 || len(f[0]) != 1 {
		return procStat{}, false
	}
	num := func(n int) (int64, bool) {
		v, err := strconv.ParseInt(f[n-3], 10, 64)
		return v, err == nil
	}
	var st procStat
	st.state = f[0][0]
	ppid, ok1 := num(4)
	ut, ok2 := num(14)
	stt, ok3 := num(15)
	cut, ok4 := num(16)
	cst, ok5 := num(17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return procStat{}, false
	}
	st.ppid, st.utime, st.stime, st.cutime, st.cstime = int(ppid), ut, stt, cut, cst
	return st, true
}
