// Package multichannel holds the multichannel tests and benchmark on
// rate-limited links: smbd runs in a network namespace of its own, reached
// from the root namespace over veth pairs shaped with tc (tbf on the egress
// of both ends), and advertises exactly those links, with their rates, as
// its interfaces.
//
// Network rule: every address involved is on a veth pair created here, in a
// private /24 that is directly connected; a blackhole route for each /24
// (higher metric than the connected route) keeps packets for a link that is
// down from following the root namespace's default route, and Topo.Dial
// refuses any address but the server's link addresses.
package multichannel

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/test/samba"
)

const (
	nsPrefix  = "smbd3mc-"
	stateDir  = "/run/smbd3-mc" // lock and one state file per live topology
	smbUser   = "smbd3test"     // the Unix account test/samba creates
	port      = 445             // the namespace has its own port space
	blackhole = "4000"          // metric of the guard routes
)

// Link is one shaped veth pair.
type Link struct {
	RateBps uint64       // shaped rate and advertised speed, bits/s
	HostIf  string       // root-namespace end
	NSIf    string       // server-namespace end
	Subnet  netip.Prefix // 192.168.X.0/24
	HostIP  netip.Addr   // 192.168.X.1
	ServIP  netip.Addr   // 192.168.X.2
}

// Topo is a running topology: a namespace with smbd and its links.
type Topo struct {
	NS       string
	Links    []Link
	Share    string
	Dir      string // the share's directory in the root namespace's file system
	User     string
	Password string
	Config   string // smb.conf
	LogFile  string

	root  string
	state string
	cmd   *exec.Cmd
	done  chan struct{}
	logf  func(string, ...any)
}

// Addr is the server address of link 0, the one a session dials first.
func (t *Topo) Addr() string { return t.LinkAddr(0) }

// LinkAddr is "IP:445" of link i's server end.
func (t *Topo) LinkAddr(i int) string {
	return netip.AddrPortFrom(t.Links[i].ServIP, port).String()
}

// SumRateBps is the summed rate of all links, bits/s.
func (t *Topo) SumRateBps() uint64 {
	var s uint64
	for _, l := range t.Links {
		s += l.RateBps
	}
	return s
}

// LinkOf returns the index of the link whose server address is in the
// "IP:port" addr, or -1.
func (t *Topo) LinkOf(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return -1
	}
	for i, l := range t.Links {
		if l.ServIP == ap.Addr().Unmap() {
			return i
		}
	}
	return -1
}

// Dial is a session.Config.Dial that connects only to the server's link
// addresses on port 445 and refuses everything else.
func (t *Topo) Dial(ctx context.Context, addr string) (channel.Transport, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() != port || t.LinkOf(addr) < 0 {
		return nil, fmt.Errorf("multichannel test refuses to dial %s: not one of its own link addresses", addr)
	}
	return channel.DialTCP(ctx, addr)
}

// SessionConfig returns a multichannel session configuration for the
// share, dialing link 0 through t.Dial.
func (t *Topo) SessionConfig(maxChannels int) session.Config {
	return session.Config{
		Addr:         t.Addr(),
		User:         t.User,
		Password:     t.Password,
		Multichannel: maxChannels > 1,
		MaxChannels:  maxChannels,
		Dial:         t.Dial,
	}
}

// SetLink takes the root-namespace end of link i down or up: the link
// goes silent (no RST, no FIN) until it comes back.
func (t *Topo) SetLink(i int, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return run("ip", "link", "set", "dev", t.Links[i].HostIf, state)
}

// Setup builds the topology with one link per rate (bits/s) and starts
// smbd advertising the links with those speeds and RSS. logf receives
// progress; nil discards it. The caller must Close the Topo, also when
// Setup fails with a non-nil Topo.
func Setup(rates []uint64, logf func(string, ...any)) (*Topo, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the shaped-link topology needs root")
	}
	for _, tool := range []string{"ip", "tc", "smbd", "pdbedit"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not installed", tool)
		}
	}
	if len(rates) == 0 || len(rates) > 8 {
		return nil, errors.New("want 1 to 8 links")
	}
	u, err := ensureUser()
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	sweep(logf)

	tag := randHex(3)
	t := &Topo{NS: nsPrefix + tag, Share: "share", User: smbUser, Password: "Pw-" + randHex(12), logf: logf}
	base, err := freeSubnets(len(rates))
	if err != nil {
		return nil, err
	}
	for i, r := range rates {
		x := base + i
		t.Links = append(t.Links, Link{
			RateBps: r,
			HostIf:  fmt.Sprintf("smc%sh%d", tag, i),
			NSIf:    fmt.Sprintf("smc%sn%d", tag, i),
			Subnet:  netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(x), 0}), 24),
			HostIP:  netip.AddrFrom4([4]byte{192, 168, byte(x), 1}),
			ServIP:  netip.AddrFrom4([4]byte{192, 168, byte(x), 2}),
		})
	}
	// Record the topology before creating anything, so a crashed run is
	// swept up by the next Setup.
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	t.state = filepath.Join(stateDir, t.NS)
	var st strings.Builder
	fmt.Fprintf(&st, "pid %d\n", os.Getpid())
	for _, l := range t.Links {
		fmt.Fprintf(&st, "subnet %s\nif %s\n", l.Subnet, l.HostIf)
	}
	if err := os.WriteFile(t.state, []byte(st.String()), 0o644); err != nil {
		return nil, err
	}
	if err := t.network(); err != nil {
		return t, err
	}
	if err := t.startSmbd(uid, gid); err != nil {
		return t, err
	}
	logf("topology %s: smbd on %s", t.NS, t.describe())
	return t, nil
}

func (t *Topo) describe() string {
	var parts []string
	for i, l := range t.Links {
		parts = append(parts, fmt.Sprintf("link%d %s<->%s %d Mbit/s", i, l.HostIP, l.ServIP, l.RateBps/1e6))
	}
	return strings.Join(parts, ", ")
}

// network creates the namespace, the veth pairs, addresses, guard routes
// and shaping.
func (t *Topo) network() error {
	ns := t.NS
	cmds := [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
	}
	for _, l := range t.Links {
		burst := max(256<<10, l.RateBps/8/200) // at least 5 ms of data
		rate := strconv.FormatUint(l.RateBps, 10) + "bit"
		tbf := []string{"root", "tbf", "rate", rate, "burst", strconv.FormatUint(burst, 10), "latency", "50ms"}
		cmds = append(cmds,
			[]string{"ip", "link", "add", l.HostIf, "type", "veth", "peer", "name", l.NSIf, "netns", ns},
			[]string{"sysctl", "-qw", "net.ipv6.conf." + l.HostIf + ".disable_ipv6=1"},
			[]string{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf." + l.NSIf + ".disable_ipv6=1"},
			[]string{"ip", "addr", "add", netip.PrefixFrom(l.HostIP, 24).String(), "dev", l.HostIf},
			[]string{"ip", "-n", ns, "addr", "add", netip.PrefixFrom(l.ServIP, 24).String(), "dev", l.NSIf},
			// While the link is down its connected route is gone: this
			// route drops the packets instead of the default route
			// taking them out of the machine.
			[]string{"ip", "route", "add", "blackhole", l.Subnet.String(), "metric", blackhole},
			append([]string{"tc", "qdisc", "add", "dev", l.HostIf}, tbf...),
			append([]string{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", l.NSIf}, tbf...),
			[]string{"ip", "link", "set", "dev", l.HostIf, "up"},
			[]string{"ip", "-n", ns, "link", "set", "dev", l.NSIf, "up"},
		)
	}
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func (t *Topo) config() string {
	dir := func(n string) string { return filepath.Join(t.root, n) }
	var ifaces []string
	for _, l := range t.Links {
		ifaces = append(ifaces, fmt.Sprintf(`"%s;speed=%d,capability=RSS"`, l.ServIP, l.RateBps))
	}
	g := [][2]string{
		{"server role", "standalone server"},
		{"security", "user"},
		{"workgroup", "WORKGROUP"},
		{"netbios name", "SMBD3MC"},
		{"smb ports", strconv.Itoa(port)},
		{"interfaces", strings.Join(ifaces, " ")},
		{"bind interfaces only", "yes"},
		{"disable netbios", "yes"},
		{"server min protocol", "SMB2_10"},
		{"server max protocol", "SMB3_11"},
		{"server multi channel support", "yes"},
		{"passdb backend", "tdbsam"},
		{"unix password sync", "no"},
		{"obey pam restrictions", "no"},
		{"load printers", "no"},
		{"printing", "bsd"},
		{"printcap name", "/dev/null"},
		{"disable spoolss", "yes"},
		{"private dir", dir("private")},
		{"lock directory", dir("lock")},
		{"state directory", dir("state")},
		{"cache directory", dir("cache")},
		{"pid directory", dir("pid")},
		{"ncalrpc dir", dir("ncalrpc")},
		{"binddns dir", dir("binddns")},
		{"winbindd socket directory", dir("winbindd")},
		{"usershare path", dir("usershares")},
		{"log file", dir("log/samba.log")},
		{"max log size", "0"},
		{"log level", "1"},
	}
	var b strings.Builder
	b.WriteString("# written by mount.smbd3 test/multichannel\n[global]\n")
	for _, p := range g {
		fmt.Fprintf(&b, "\t%s = %s\n", p[0], p[1])
	}
	fmt.Fprintf(&b, "\n[%s]\n\tpath = %s\n\tread only = no\n\tcreate mask = 0664\n\tdirectory mask = 0775\n", t.Share, t.Dir)
	return b.String()
}

func (t *Topo) startSmbd(uid, gid int) error {
	root, err := os.MkdirTemp("/tmp", t.NS+"-")
	if err != nil {
		return err
	}
	t.root = root
	t.Dir = filepath.Join(root, "share")
	t.Config = filepath.Join(root, "smb.conf")
	t.LogFile = filepath.Join(root, "log", "smbd.log")
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "winbindd", "usershares", "log", "share"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "private"), 0o700); err != nil {
		return err
	}
	if err := os.Chown(t.Dir, uid, gid); err != nil {
		return err
	}
	if err := os.WriteFile(t.Config, []byte(t.config()), 0o644); err != nil {
		return err
	}
	// The state file learns the config so a sweep can find the helpers.
	f, err := os.OpenFile(t.state, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		fmt.Fprintf(f, "config %s\nroot %s\n", t.Config, root)
		f.Close()
	}
	pdb := exec.Command("pdbedit", "--configfile="+t.Config, "-a", "-t", "-u", t.User)
	pdb.Stdin = strings.NewReader(t.Password + "\n" + t.Password + "\n")
	if out, err := pdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pdbedit: %v: %s", err, strings.TrimSpace(string(out)))
	}
	logf, err := os.OpenFile(t.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", t.NS, "smbd", "--foreground", "--no-process-group", "--debug-stdout", "--configfile="+t.Config)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := samba.Spawn(cmd); err != nil {
		return fmt.Errorf("starting smbd: %w", err)
	}
	t.cmd, t.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(t.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-t.done:
			return fmt.Errorf("smbd exited during startup: %v; log:\n%s", cmd.ProcessState, t.LogTail(30))
		default:
		}
		ok := true
		for i := range t.Links {
			c, err := net.DialTimeout("tcp", t.LinkAddr(i), time.Second)
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("smbd does not accept connections on every link within 20 s; log:\n%s", t.LogTail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LogTail returns the last n lines of smbd's log.
func (t *Topo) LogTail(n int) string {
	b, err := os.ReadFile(t.LogFile)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops smbd and removes the namespace, the links, the guard routes
// and the server's files. It is safe to call more than once.
func (t *Topo) Close() error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.cmd != nil {
		pg := t.cmd.Process.Pid
		syscall.Kill(-pg, syscall.SIGTERM)
		select {
		case <-t.done:
		case <-time.After(5 * time.Second):
		}
		syscall.Kill(-pg, syscall.SIGKILL)
		<-t.done
		t.cmd = nil
	}
	killNS(t.NS, t.Config)
	st := &staleState{ns: t.NS, config: t.Config, root: t.root}
	for _, l := range t.Links {
		st.subnets = append(st.subnets, l.Subnet.String())
		st.ifs = append(st.ifs, l.HostIf)
	}
	errs = append(errs, st.remove())
	if t.state != "" {
		os.Remove(t.state)
		t.state = ""
	}
	return errors.Join(errs...)
}

type staleState struct {
	ns, config, root string
	pid              int
	subnets, ifs     []string
}

// remove deletes everything the state names; missing pieces are fine.
func (s *staleState) remove() error {
	var errs []error
	// The host ends of the veth pairs go first: deleting one removes its
	// peer at once, whereas a deleted namespace takes its devices (and
	// their host-side peers) down later, from a kernel work queue, so a
	// link seen after "ip netns del" may vanish before "ip link del"
	// reaches it.
	for _, ifname := range s.ifs {
		if linkExists(ifname) {
			if err := run("ip", "link", "del", ifname); err != nil && linkExists(ifname) {
				errs = append(errs, err)
			}
		}
	}
	if nsExists(s.ns) {
		if err := run("ip", "netns", "del", s.ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, sn := range s.subnets {
		out, _ := exec.Command("ip", "route", "show", "type", "blackhole", sn).Output()
		if strings.TrimSpace(string(out)) != "" {
			if err := run("ip", "route", "del", "blackhole", sn, "metric", blackhole); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.root != "" && strings.HasPrefix(filepath.Base(s.root), nsPrefix) && os.Getenv("SMBD3_MC_KEEP") == "" {
		if err := os.RemoveAll(s.root); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killNS kills every process in the namespace and every process started
// with the configuration (samba-dcerpcd and its workers).
func killNS(ns, config string) {
	for try := 0; try < 100; try++ {
		var pids []int
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if p, err := strconv.Atoi(f); err == nil && p != os.Getpid() {
					pids = append(pids, p)
				}
			}
		}
		if config != "" {
			pids = append(pids, configProcs(config)...)
		}
		if len(pids) == 0 {
			return
		}
		sig := syscall.SIGTERM
		if try > 20 {
			sig = syscall.SIGKILL
		}
		for _, p := range pids {
			syscall.Kill(p, sig)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func configProcs(conf string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(cmdline) == 0 {
			continue
		}
		for _, arg := range strings.Split(string(cmdline), "\x00") {
			if arg == conf || arg == "--configfile="+conf || arg == "-s"+conf {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// sweep removes the topologies of processes that died without closing
// them. Called with the lock held.
func sweep(logf func(string, ...any)) {
	ents, _ := os.ReadDir(stateDir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), nsPrefix) {
			continue
		}
		path := filepath.Join(stateDir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		st := &staleState{ns: e.Name()}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			switch k {
			case "pid":
				st.pid, _ = strconv.Atoi(v)
			case "subnet":
				st.subnets = append(st.subnets, v)
			case "if":
				st.ifs = append(st.ifs, v)
			case "config":
				st.config = v
			case "root":
				st.root = v
			}
		}
		f.Close()
		if st.pid != 0 && syscall.Kill(st.pid, 0) == nil {
			continue // still running
		}
		logf("sweeping stale topology %s of dead pid %d", st.ns, st.pid)
		killNS(st.ns, st.config)
		st.remove()
		os.Remove(path)
	}
}

// linkExists reports whether the host has a network device named ifname.
func linkExists(ifname string) bool {
	_, err := net.InterfaceByName(ifname)
	return err == nil
}

func nsExists(ns string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil
}

// freeSubnets returns X such that 192.168.X.0/24 … 192.168.(X+n-1).0/24
// are not routed anywhere in the root namespace.
func freeSubnets(n int) (int, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return 0, fmt.Errorf("ip route: %v", err)
	}
	var used []netip.Prefix
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if p, err := netip.ParsePrefix(f); err == nil {
				used = append(used, p)
			} else if a, err := netip.ParseAddr(f); err == nil && a.Is4() {
				used = append(used, netip.PrefixFrom(a, 32))
			}
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	for base := 210; base+n <= 250; base += n {
		ok := true
		for x := base; x < base+n && ok; x++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(x), 0}), 24)
			for _, u := range used {
				if u.Bits() > 0 && u.Overlaps(p) {
					ok = false
					break
				}
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free 192.168.210-249.0/24 subnets")
}

// ensureUser returns the Unix account the SMB user maps to, creating it as
// test/samba does, under test/samba's host lock.
func ensureUser() (*user.User, error) {
	if u, err := user.Lookup(smbUser); err == nil {
		return u, nil
	}
	unlock, err := flock("/run/smbd3-samba")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if u, err := user.Lookup(smbUser); err == nil {
		return u, nil
	}
	out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--comment", "mount.smbd3 test harness", smbUser).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("useradd %s: %v: %s", smbUser, err, out)
	}
	return user.Lookup(smbUser)
}

func lock() (func(), error) { return flock(stateDir) }

func flock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
