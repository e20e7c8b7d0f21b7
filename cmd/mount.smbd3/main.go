// Command mount.smbd3 mounts an SMB3 share with FUSE. It is a mount(8)
// helper: installed as /sbin/mount.smbd3, "mount -t smbd3 //srv/share /mnt
// -o ..." and fstab lines of type smbd3 run it as
//
//	mount.smbd3 //server[:port]/share[/subdir] MOUNTPOINT [-o options] [-f] [-v]
//
// and it returns only when the mount is live (exit 0) or has failed (exit 32,
// one line on stderr naming the cause; exit 1 for bad options). A daemon then
// serves the mount in the background until it is unmounted (umount,
// fusermount3 -u) or sent SIGTERM. "mount.smbd3 status MOUNTPOINT [--json]"
// asks a running daemon about its mount.
//
// The work is split: options.go parses the command line; main.go checks the
// mount point, obtains a password and is the status client; daemon.go
// connects, mounts, forks the daemon off and serves the status socket;
// log.go and errors.go say what happened. See packaging/mount.smbd3.8 for the user's view.
package main

import (
	"text/tabwriter"

	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dustin/go-humanize"
	"io"
	iofs "io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// version is set at build time with -ldflags "-X main.version=1.2.3";
// otherwise the module version or VCS revision is shown.
var version = ""

// progName prefixes every message.
const progName = "mount.smbd3"

// mountpointTimeout bounds the stat of the mount point: a hung file system
// mounted there must not hang the helper.
const mountpointTimeout = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main without the exit, for tests.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case daemonChildFlag:
			return runDaemonChild()
		case "status":
			return runStatus(args[1:], os.Stdout, os.Stderr)
		}
	}
	o, err := ParseArgs(args, nil)
	if err != nil {
		return fail(usageErrorf("%v", err))
	}
	switch {
	case o.ShowHelp:
		fmt.Print(optionsUsage)
		fmt.Print(statusUsage)
		return exitOK
	case o.ShowVersion:
		fmt.Printf("%s %s\n", progName, versionString())
		return exitOK
	}
	if o.Remount {
		return fail(remount(o))
	}
	if err := prepare(o); err != nil {
		return fail(err)
	}
	if o.Verbose {
		fmt.Fprintf(os.Stderr, "%s: mounting %s\n", progName, o.Redacted())
	}
	if o.Foreground {
		err = runForeground(o)
	} else {
		err = runBackground(o, args)
	}
	return fail(err)
}

// fail prints err's one line and returns its exit status (0 for nil).
func fail(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", progName, oneLine(err.Error()))
	return exitCode(err)
}

// versionString is the -V text.
func versionString() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok {
		v = bi.Main.Version
		if v == "" || v == "(devel)" {
			v = "devel"
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += "-" + s.Value[:12]
				}
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	goVersion := "unknown"
	if ok {
		goVersion = bi.GoVersion
	}
	return fmt.Sprintf("%s (%s, SMB 3.0/3.0.2/3.1.1)", v, goVersion)
}

// prepare does every check that needs no server: the mount point, the
// permission for allow_other, and the password (asked for on a terminal).
func prepare(o *Options) error {
	if err := checkMountpoint(o); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		if o.AllowOther && !fuseConfAllowsOther("/etc/fuse.conf") {
			return usageErrorf("allow_other: a regular user may use it only with user_allow_other in /etc/fuse.conf")
		}
		// fusermount3 opens /dev/fuse with the caller's rights.
		if err := unix.Access("/dev/fuse", unix.R_OK|unix.W_OK); err != nil {
			return failf("/dev/fuse: %v: regular users need it mode 0666 (as udev sets it); mount as root, or: chmod 0666 /dev/fuse", err)
		}
	}
	if o.NeedsPassword() {
		pw, err := promptPassword(fmt.Sprintf("Password for %s@%s: ", userName(o), o.UNC()))
		if err != nil {
			return err
		}
		o.Password, o.PasswordGiven = pw, true
	}
	return nil
}

// checkMountpoint makes sure the mount point is a directory the caller can
// mount on. A dead mount.smbd3 mount there (its daemon was killed, so the
// kernel answers "transport endpoint is not connected") is detached and the
// mount proceeds; a dead mount of another file system is reported with the
// command that cleans it up. A live mount.smbd3 mount there is an error.
func checkMountpoint(o *Options) error {
	mp := o.Mountpoint
	fi, err := statTimeout(mp)
	m, mounted := findMount(mp)
	dead := errors.Is(err, syscall.ENOTCONN)
	if !dead && err == nil && mounted && strings.HasPrefix(m.FSType, "fuse") {
		// stat may be answered from the attribute cache; statfs always
		// asks the daemon, and the kernel answers ENOTCONN if it is gone.
		dead = errors.Is(statfsTimeout(mp), syscall.ENOTCONN)
	}
	if dead {
		if !mounted || m.FSType != fuseType {
			return failf("mount point %s: transport endpoint is not connected (a dead FUSE mount); clean it up with: fusermount3 -uz %s", mp, mp)
		}
		if derr := detach(mp); derr != nil {
			return failf("mount point %s is a dead mount.smbd3 mount and detaching it failed: %v (try: fusermount3 -uz %s)", mp, derr, mp)
		}
		if o.Verbose {
			fmt.Fprintf(os.Stderr, "%s: detached the dead mount of %s left at %s by a killed daemon\n", progName, m.Source, mp)
		}
		fi, err = statTimeout(mp)
	}
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return failf("mount point %s does not exist", mp)
	case errors.Is(err, errStatTimeout):
		return failf("mount point %s does not respond (a hung file system mounted there?)", mp)
	case errors.Is(err, iofs.ErrPermission):
		return failf("mount point %s: permission denied", mp)
	case err != nil:
		return failf("mount point %s: %v", mp, unwrapPathError(err))
	case !fi.IsDir():
		return failf("mount point %s is not a directory", mp)
	}
	if m, ok := findMount(mp); ok && m.FSType == fuseType {
		return failf("%s is already mounted (%s); unmount it first", mp, m.Source)
	}
	if os.Geteuid() != 0 {
		// fusermount3's rules for regular users.
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&os.ModeSticky != 0 && int(st.Uid) != os.Getuid() {
			return failf("mount point %s is a sticky directory owned by someone else", mp)
		}
		if unix.Access(mp, unix.W_OK) != nil {
			return failf("mount point %s: a regular user needs write access to the mount point", mp)
		}
	}
	return nil
}

var errStatTimeout = errors.New("stat timed out")

// statTimeout is os.Stat bounded by mountpointTimeout.
func statTimeout(path string) (os.FileInfo, error) {
	fis := make(chan os.FileInfo, 1)
	err := withTimeout(func() error {
		fi, err := os.Stat(path)
		fis <- fi
		return err
	})
	if err != nil {
		return nil, err
	}
	return <-fis, nil
}

// statfsTimeout is statfs(2) bounded by mountpointTimeout.
func statfsTimeout(path string) error {
	return withTimeout(func() error {
		var st unix.Statfs_t
		return unix.Statfs(path, &st)
	})
}

// withTimeout runs fn, giving up after mountpointTimeout (fn then finishes,
// or hangs, in the background).
func withTimeout(fn func() error) error {
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(mountpointTimeout):
		return errStatTimeout
	}
}

func unwrapPathError(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// detach lazily unmounts path: umount2(MNT_DETACH) as root, fusermount3 -uz
// for a regular user (who may only detach their own FUSE mounts).
func detach(path string) error {
	if os.Geteuid() == 0 {
		return unix.Unmount(path, unix.MNT_DETACH)
	}
	out, err := exec.Command(fusermountBinary(), "-uz", path).CombinedOutput()
	if err != nil {
		if msg := oneLine(string(out)); msg != "" {
			return errors.New(msg)
		}
		return err
	}
	return nil
}

// fusermountBinary is fusermount3 from PATH, else the plain name.
func fusermountBinary() string {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return "fusermount3"
}

// fuseConfAllowsOther reports whether the fuse.conf at path has a
// user_allow_other line.
func fuseConfAllowsOther(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "user_allow_other" {
			return true
		}
	}
	return false
}

// fuseType is the file system type of our mounts in /proc/self/mountinfo.
const fuseType = "fuse.smbd3"

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	Mountpoint   string
	FSType       string
	Source       string
	SuperOptions string
}

// UserID is the user_id= super option of a FUSE mount: who mounted it.
func (m mountEntry) UserID() (int, bool) {
	for _, opt := range strings.Split(m.SuperOptions, ",") {
		if v, ok := strings.CutPrefix(opt, "user_id="); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}

// findMount returns the topmost mount at path in /proc/self/mountinfo.
func findMount(path string) (mountEntry, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, false
	}
	defer f.Close()
	var found mountEntry
	ok := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m, good := parseMountInfoLine(sc.Text()); good && m.Mountpoint == path {
			found, ok = m, true
		}
	}
	return found, ok
}

// parseMountInfoLine parses "id parent maj:min root mountpoint opts
// [optional...] - fstype source superopts" (proc(5)).
func parseMountInfoLine(line string) (mountEntry, bool) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 {
		return mountEntry{}, false
	}
	m := mountEntry{Mountpoint: unescapeMountInfo(fields[4])}
	rest := fields[sep+1:]
	if len(rest) > 0 {
		m.FSType = unescapeMountInfo(rest[0])
	}
	if len(rest) > 1 {
		m.Source = unescapeMountInfo(rest[1])
	}
	if len(rest) > 2 {
		m.SuperOptions = rest[2]
	}
	return m, true
}

// unescapeMountInfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// promptPassword reads a password from the terminal on stdin without echo.
// Without a terminal it fails with the ways to give a password instead.
func promptPassword(prompt string) (string, error) {
	fd := int(os.Stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", usageErrorf("no password given and stdin is not a terminal to ask for one: use -o password=, credentials=FILE, guest, or the PASSWD, PASSWD_FD or PASSWD_FILE environment variables")
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", usageErrorf("cannot turn off echo on the terminal: %v", err)
	}
	restore := func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
	// ^C or a kill while echo is off must not leave the terminal silent.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	stop := make(chan struct{})
	defer func() {
		signal.Stop(sigs)
		close(stop)
	}()
	go func() {
		select {
		case <-sigs:
			restore()
			fmt.Fprintln(os.Stderr)
			os.Exit(exitUsage)
		case <-stop:
		}
	}()
	fmt.Fprint(os.Stderr, prompt)
	pw, err := readPasswordFD(fd)
	restore()
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", usageErrorf("reading the password: %v", err)
	}
	return pw, nil
}

// ---- status client (the daemon's side is in daemon.go) ----

// statusUsage is the help for the status subcommand.
const statusUsage = `
usage: mount.smbd3 status MOUNTPOINT [--json]

  Print what the daemon serving MOUNTPOINT knows about its mount: source,
  server, share, dialect, signing, encryption, uptime. --json prints it as
  one JSON object.
`

// runStatus is "mount.smbd3 status MOUNTPOINT [--json]".
func runStatus(args []string, stdout, stderr io.Writer) int {
	asJSON := false
	var pos []string
	for _, a := range args {
		switch a {
		case "--json", "-j":
			asJSON = true
		case "-h", "--help":
			fmt.Fprint(stdout, strings.TrimPrefix(statusUsage, "\n"))
			return exitOK
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(stderr, "%s: status: unknown flag %q\n", progName, a)
				return exitUsage
			}
			pos = append(pos, a)
		}
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "%s: status: want exactly one MOUNTPOINT (mount.smbd3 status MOUNTPOINT [--json])\n", progName)
		return exitUsage
	}
	mp, err := filepath.Abs(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "%s: status: %v\n", progName, err)
		return exitUsage
	}
	reply, raw, err := askDaemon(mp, "status")
	if err != nil {
		fmt.Fprintf(stderr, "%s: status: %v\n", progName, err)
		return exitUsage
	}
	if asJSON {
		stdout.Write(raw)
		return exitOK
	}
	printStatus(stdout, reply)
	return exitOK
}

// askDaemon finds the daemon for mountpoint and sends it req ("status",
// "remount ro", "remount rw").
func askDaemon(mountpoint, req string) (statusReply, []byte, error) {
	var reply statusReply
	m, mounted := findMount(mountpoint)
	dirs := runtimeDirs(os.Geteuid(), os.Getenv, false)
	// Root may ask about a user's mount: that user's directories, found by
	// the user_id= the kernel records for FUSE mounts.
	if uid, ok := m.UserID(); mounted && ok && os.Geteuid() == 0 && uid != 0 {
		dirs = append(dirs, runtimeDirs(uid, func(string) string { return "" }, false)...)
	}
	var paths []string
	for _, dir := range dirs {
		paths = append(paths, filepath.Join(dir, mountKey(mountpoint)+".sock"))
	}
	for _, p := range paths {
		c, err := net.DialTimeout("unix", p, statusTimeout)
		if err == nil {
			return ask(c, req)
		}
	}
	if mounted && m.FSType == fuseType {
		return reply, nil, fmt.Errorf("%s is mounted (%s) but no daemon answers: it was killed; clean up with: fusermount3 -uz %s", mountpoint, m.Source, mountpoint)
	}
	return reply, nil, fmt.Errorf("%s is not a mount.smbd3 mount point (no daemon answers for it)", mountpoint)
}

// ask sends req on c, closes it and decodes the reply.
func ask(c net.Conn, req string) (statusReply, []byte, error) {
	var reply statusReply
	defer c.Close()
	c.SetDeadline(time.Now().Add(statusTimeout))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return reply, nil, fmt.Errorf("asking the daemon: %v", err)
	}
	raw, err := bufio.NewReader(io.LimitReader(c, 1<<20)).ReadBytes('\n')
	if err != nil {
		return reply, nil, fmt.Errorf("no answer from the daemon: %v", err)
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return reply, nil, fmt.Errorf("bad answer from the daemon: %v", err)
	}
	if reply.Error != "" {
		return reply, nil, fmt.Errorf("daemon: %s", reply.Error)
	}
	return reply, raw, nil
}

// printStatus writes the human-readable form.
func printStatus(w io.Writer, r statusReply) {
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	user := r.User
	switch {
	case user == "":
		user = "(anonymous)"
	case r.Guest:
		user += " (guest)"
	}
	uptime := time.Duration(r.UptimeSeconds * float64(time.Second)).Round(time.Second)
	rows := [][2]string{
		{"source", r.Source},
		{"mountpoint", r.Mountpoint},
		{"server", r.Server},
		{"share", r.Share},
	}
	if r.Subdir != "" {
		rows = append(rows, [2]string{"subdir", r.Subdir})
	}
	rows = append(rows,
		[2]string{"user", user},
		[2]string{"dialect", "SMB " + r.Dialect},
		[2]string{"signing", yesNo(r.Signing)},
		[2]string{"encryption", yesNo(r.Encryption)},
		[2]string{"read-only", yesNo(r.ReadOnly)},
		[2]string{"cache", r.Cache},
		[2]string{"uptime", fmt.Sprintf("%s (since %s)", uptime, r.Started.Local().Format(time.RFC3339))},
		[2]string{"daemon", fmt.Sprintf("pid %d, %s %s", r.PID, progName, r.Version)},
	)
	if r.Reconnects > 0 {
		rows = append(rows, [2]string{"reconnects", strconv.Itoa(r.Reconnects)})
		rows = append(rows, [2]string{"durable opens", fmt.Sprintf("%d reclaimed, %d opened again by path, %d lost", r.Reclaimed, r.Reopened, r.NotReclaimed)})
	}
	for _, row := range rows {
		fmt.Fprintf(w, "%-11s %s\n", row[0]+":", row[1])
	}
	if len(r.Channels) == 0 {
		return
	}
	fmt.Fprintf(w, "channels:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  id\ttransport\tlocal\tserver\tstate\tread\twritten\tby RDMA (r/w)\trequests\tin flight\tread rate\twrite rate\tlatency")
	for _, c := range r.Channels {
		state := c.State
		if c.LastError != "" && c.State != "active" {
			state += " (" + c.LastError + ")"
		}
		rdma := "-"
		if c.Transport == "rdma" {
			rdma = humanize.IBytes(c.RDMABytesRead) + "/" + humanize.IBytes(c.RDMABytesWritten)
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s/s\t%s/s\t%.2f ms\n",
			c.ID, c.Transport, c.LocalAddress, c.ServerAddress, state,
			humanize.IBytes(c.BytesRead), humanize.IBytes(c.BytesWritten), rdma, c.Requests, c.InFlight,
			humanize.Bytes(uint64(c.ThroughputReadBps)), humanize.Bytes(uint64(c.ThroughputWriteBps)), c.LatencyMs)
	}
	tw.Flush()
}

// remount is "mount -o remount,…": it changes a live mount's read-only
// state and its exec, suid and dev flags, as the kernel's MS_REMOUNT does
// for any file system, and tells the daemon, which refuses changes itself
// while read-only. What the session was set up with (server, user,
// caching, sizes) stays as it is: mount(8) passes the fstab or mtab
// options along, and they are accepted and ignored.
func remount(o *Options) error {
	mp := o.Mountpoint
	if m, ok := findMount(mp); !ok || m.FSType != fuseType {
		return failf("remount: %s is not a mount.smbd3 mount point", mp)
	}
	if os.Geteuid() != 0 {
		return failf("remount: only root can remount (unmount and mount again)")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mp, &st); err != nil {
		return failf("remount: %s: %v", mp, err)
	}
	flags, ro := remountFlags(uintptr(st.Flags), o)
	kernel := func() error {
		if err := unix.Mount("", mp, "", flags, ""); err != nil {
			if errors.Is(err, unix.EBUSY) && ro {
				return failf("remount: %s is busy: files are open for writing", mp)
			}
			return failf("remount: %s: %v", mp, err)
		}
		return nil
	}
	daemon := func(req string) error {
		if _, _, err := askDaemon(mp, req); err != nil {
			return failf("remount: %v", err)
		}
		return nil
	}
	if ro {
		// The kernel first: it refuses while files are open for writing,
		// and then nothing has changed.
		if err := kernel(); err != nil {
			return err
		}
		return daemon("remount ro")
	}
	if err := daemon("remount rw"); err != nil {
		return err
	}
	if err := kernel(); err != nil {
		if st.Flags&unix.ST_RDONLY != 0 {
			askDaemon(mp, "remount ro")
		}
		return err
	}
	return nil
}

// remountFlags is the MS_REMOUNT flag word for the mount whose statfs
// flags are cur, with o's changes, and whether it makes the mount
// read-only. Flags the options do not name stay as they are.
func remountFlags(cur uintptr, o *Options) (uintptr, bool) {
	flags := uintptr(unix.MS_REMOUNT)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
	} {
		if cur&f.st != 0 {
			flags |= f.ms
		}
	}
	flags = vfsFlags(flags, o.VFSFlags)
	ro := cur&unix.ST_RDONLY != 0
	if o.ReadOnlyGiven {
		ro = o.ReadOnly
	}
	if ro {
		flags |= unix.MS_RDONLY
	}
	return flags, ro
}

// vfsFlags applies exec/noexec, suid/nosuid and dev/nodev, in order, to
// a mount(2) flag word.
func vfsFlags(flags uintptr, opts []string) uintptr {
	for _, opt := range opts {
		switch opt {
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "suid":
			flags &^= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "dev":
			flags &^= unix.MS_NODEV
		}
	}
	return flags
}
