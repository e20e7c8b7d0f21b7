package main

// The daemon: connect, mount, serve until unmounted.
//
// # Daemonizing
//
// Go cannot fork, so the helper re-executes itself. The foreground process
// (the one mount(8) runs) parses the options, checks the mount point and
// obtains the password, then starts os.Executable() as
//
//	mount.smbd3 --daemon-child <the original arguments without passwords>
//
// in a new session (setsid), in "/", with stdin, stdout and stderr on
// /dev/null and two inherited pipes:
//
//	fd 3  the resolved Options as JSON, password included; the parent writes
//	      it and closes its end, the child reads to EOF. Nothing but the
//	      two processes ever sees it: the password is in neither argv
//	      (ScrubPasswordArgs) nor the environment (PASSWD, PASSWD_FD,
//	      PASSWD_FILE and a USER holding user%password are removed), so
//	      /proc/PID/cmdline and /proc/PID/environ of the daemon are clean.
//	fd 4  the status pipe: the child writes "ok" once the kernel mount is
//	      live, or "error CODE MESSAGE" after a failure, and closes it.
//
// The child does the real work — dial, authenticate, tree connect, check the
// subdirectory, mount — so the server is contacted once; the parent waits for
// the status line (bounded by startTimeout), prints the message and exits 32
// on failure, exits 0 on success. Connecting is bounded by connectTimeout, so
// even a blackholed server fails within 10 s. -f skips all this: the same
// steps run in the one process, which logs to stderr and serves until
// unmounted.
//
// # Running
//
// SIGTERM or SIGINT unmounts (retrying while busy, then detaching lazily and
// giving open files unmountGrace to close) and exits 0; a second signal exits
// at once. An external umount or fusermount3 -u ends the FUSE serve loop,
// after which the daemon disconnects the tree, closes the session, removes
// its socket and exits 0. SIGHUP is ignored. A daemon killed with SIGKILL
// leaves a mount whose every access fails with ENOTCONN; umount -l or
// fusermount3 -uz removes it, and the next mount.smbd3 on that mount point
// detaches it by itself (main.go, checkMountpoint).
//
// # Status socket
//
// The daemon listens on a Unix socket named after a hash of the mount point
// (statusSocketPath) in a directory only its user can enter: /run/mount.smbd3
// for root; for other users $XDG_RUNTIME_DIR/mount.smbd3, else
// /run/user/UID/mount.smbd3, else /tmp/mount.smbd3-UID (all mode 0700, the
// socket 0600, each checked to be owned by the user). It also checks the
// peer's credentials (SO_PEERCRED): only its own user and root are answered.
// The protocol is one request line and one JSON reply line (statusReply).
// The requests are "status", whose client is "mount.smbd3 status
// MOUNTPOINT [--json]" (main.go, runStatus), and "remount ro" or "remount
// rw" from "mount -o remount,…" (main.go, remount).

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

const (
	daemonChildFlag = "--daemon-child"
	childConfigFD   = 3 // the Options, as JSON
	childStatusFD   = 4 // "ok" or "error CODE MESSAGE"

	connectTimeout = 7 * time.Second  // dial, negotiate, authenticate, tree connect
	startTimeout   = 25 * time.Second // the parent's wait for the child's status
	unmountGrace   = 10 * time.Second // for open files after a lazy unmount
	statusTimeout  = 5 * time.Second  // a status query, end to end
)

// daemon is one mounted share.
type daemon struct {
	o       *Options
	log     *slog.Logger
	srv     *fuse.Server
	ctl     fs.Control // read-only state, which a remount changes
	started time.Time

	mu         sync.Mutex // guards the session fields: a reconnection replaces them
	sess       *session.Session
	info       sessionInfo // sess, seen through what status needs
	tree       *session.Tree
	reconnects int  // sessions set up again after the server was lost
	closing    bool // shutdown has begun: no more reconnections

	ln       *net.UnixListener // status socket; nil if it could not be created
	sockPath string
	shutOnce sync.Once
}

// sessionInfo is what the status reply reports about the session.
type sessionInfo interface {
	Dialect() smb2.Dialect
	IsGuest() bool
	Signing() bool
	Encrypting() bool
	Channels() []session.ChannelInfo
}

var _ sessionInfo = (*session.Session)(nil)

// startDaemon connects and mounts. It returns once the kernel mount is live.
func startDaemon(o *Options, log *slog.Logger) (*daemon, error) {
	setProcs()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	sess, tree, err := connect(ctx, o, [16]byte{}, log)
	if err != nil {
		return nil, err
	}
	d := &daemon{o: o, log: log, sess: sess, info: sess, tree: tree, started: time.Now()}
	srv, err := mountFUSE(o, tree, d.reconnect, &d.ctl, log)
	if err != nil {
		tree.Disconnect(ctx)
		sess.Close()
		return nil, &phaseError{phase: phaseFUSE, err: err}
	}
	d.srv = srv
	if err := d.listenStatus(); err != nil {
		log.Warn("status socket unavailable", "err", err)
	}
	log.Info("mounted", "mount", o.Redacted(), "dialect", sess.Dialect().String(),
		"signing", sess.Signing(), "encryption", sess.Encrypting())
	return d, nil
}

// sessionConfig is the session the options ask for, over TCP.
func sessionConfig(o *Options, clientGUID [16]byte, log *slog.Logger) session.Config {
	return session.Config{
		Addr:         o.tcpAddr(), // rdma starts at RDMAPort
		Host:         o.Server,
		User:         o.Username,
		Password:     o.Password,
		Domain:       o.Domain,
		Anonymous:    o.Sec == "none",
		Dialect:      dialectOf(o.Vers),
		Sign:         o.Sign,
		Seal:         o.Seal,
		Chunk:        chunkOf(o),
		Multichannel: o.Multichannel,
		MaxChannels:  o.MaxChannels,
		DialTimeout:  connectTimeout,
		CharMap:      charMapOf(o.CharMap),
		Durable:      !o.NoLease,
		ClientGUID:   clientGUID,
		// echo_interval: a probe after that long unanswered, given up at
		// twice it, as Linux cifs; 0 is the session's default.
		Timeout: 2 * time.Duration(o.EchoIntervalSec) * time.Second,
		Logger:  log.With("component", "smb"),
	}
}

// connect dials, authenticates, connects the share and checks the subdir.
//
// clientGUID is the old session's when reconnecting (the server hands
// durable opens back only to the client that made them), else zero.
func connect(ctx context.Context, o *Options, clientGUID [16]byte, log *slog.Logger) (*session.Session, *session.Tree, error) {
	cfg := sessionConfig(o, clientGUID, log)
	// SMB-Direct uses the pure-Go iWARP provider: no kernel RDMA needed.
	// rdma_crc asks for MPA CRC32c on every SMB-Direct connection.
	prov := iwarp.New(iwarp.Options{CRC: o.RDMACRC})
	dialRDMA := func(ctx context.Context, addr string) (channel.Transport, error) {
		return channel.DialRDMA(ctx, prov, addr)
	}
	// With multichannel, interfaces the server advertises as RDMA-capable
	// get SMB-Direct channels next to the TCP ones; rdma starts the
	// session over SMB-Direct at rdma_port (TCP channels added to other
	// interfaces still go to port).
	cfg.DialRDMA, cfg.RDMAPort, cfg.StartRDMA = dialRDMA, o.RDMAPort, o.RDMA
	if !o.Multichannel && !o.RDMA {
		cfg.DialRDMA = nil
	}
	sess, err := session.Dial(ctx, cfg)
	if err != nil {
		return nil, nil, &phaseError{phase: phaseSession, err: err}
	}
	tree, err := sess.Mount(ctx, o.Share)
	if err != nil {
		sess.Close()
		return nil, nil, &phaseError{phase: phaseTree, err: err}
	}
	if o.Subdir != "" {
		fi, err := tree.Stat(ctx, o.Subdir)
		if err == nil && !fi.IsDir() {
			err = failf("%s: %q in share %q is not a directory", o.UNC(), o.Subdir, o.Share)
		}
		if err != nil {
			tree.Disconnect(ctx)
			sess.Close()
			return nil, nil, &phaseError{phase: phaseTree, err: err}
		}
	}
	return sess, tree, nil
}

// reconnect replaces a session whose every channel failed (the file
// system calls it; see fs.Options.Reconnect): it sets up a new session and
// tree connection as at mount time, and closes the lost session.
func (d *daemon) reconnect(ctx context.Context) (*session.Tree, error) {
	d.mu.Lock()
	guid := d.sess.ClientGUID()
	d.mu.Unlock()
	sess, tree, err := connect(ctx, d.o, guid, d.log)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		tree.Disconnect(ctx)
		sess.Close()
		return nil, errors.New("unmounting")
	}
	old := d.sess
	d.sess, d.info, d.tree = sess, sess, tree
	d.reconnects++
	d.mu.Unlock()
	go old.Close() // its channels are dead: nothing to log off
	return tree, nil
}

// dialectOf maps vers= to the engine's dialect pin (0: negotiate).
func dialectOf(vers string) smb2.Dialect {
	switch vers {
	case "3.0":
		return smb2.Dialect300
	case "3.0.2":
		return smb2.Dialect302
	case "3.1.1":
		return smb2.Dialect311
	}
	return 0
}

// charMapOf maps the CharMap option to the engine's name mapping.
func charMapOf(m string) session.CharMap {
	switch m {
	case "sfm":
		return session.MapSFM
	case "sfu":
		return session.MapSFU
	}
	return session.MapNone
}

// chunkOf is the engine's largest READ/WRITE: the smaller of rsize and wsize
// when given, else the engine's default.
func chunkOf(o *Options) int {
	switch {
	case o.Rsize != 0 && o.Wsize != 0:
		return int(min(o.Rsize, o.Wsize))
	case o.Rsize != 0:
		return int(o.Rsize)
	}
	return int(o.Wsize)
}

// fsOptions maps the mount options onto the file system's.
func fsOptions(o *Options, log *slog.Logger) fs.Options {
	fo := fs.Options{
		UID: o.UID, GID: o.GID,
		FileMode: o.FileMode, DirMode: o.DirMode,
		ReadOnly:      o.ReadOnly,
		Cache:         o.Cache,
		DirectReadMin: o.DirectReadMin,
		AttrTTL:       min(o.FileTTL(), o.DirTTL()),
		CloseDelay:    time.Duration(o.CloseTimeoSec) * time.Second,
		AllowOther:    o.AllowOther,
		NoLocks:       o.NoBRL,
		FsName:        o.UNC(),
		Subdir:        o.Subdir,
		Logger:        log.With("component", "fuse"),
	}
	if o.DirectReadMin == 0 {
		fo.DirectReadMin = -1 // never
	}
	// exec/noexec, suid/nosuid, dev/nodev: go-fuse turns them into mount
	// flags (fusermount3 keeps nosuid and nodev for other users).
	fo.MountOptions = append(fo.MountOptions, o.VFSFlags...)
	if o.Wsize != 0 && o.Wsize < 1<<20 {
		fo.MaxWrite = int(o.Wsize)
	}
	return fo
}

// mountFUSE mounts the tree. fusermount3, which go-fuse runs for regular
// users, reports why it failed on stderr: that is captured into the error
// (the daemon's own stderr is /dev/null).
func mountFUSE(o *Options, tree *session.Tree, reconnect func(context.Context) (*session.Tree, error), ctl *fs.Control, log *slog.Logger) (*fuse.Server, error) {
	var srv *fuse.Server
	out, err := captureStderr(func() error {
		var err error
		fo := fsOptions(o, log)
		fo.Reconnect = reconnect
		fo.Control = ctl
		srv, err = fs.Mount(o.Mountpoint, tree, fo)
		return err
	})
	if err != nil {
		if msg := oneLine(out); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return srv, nil
}

// captureStderr runs fn with os.Stderr pointing into a pipe and returns what
// was written there (go-fuse hands os.Stderr to fusermount3).
func captureStderr(fn func() error) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", fn()
	}
	done := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 4096))
		io.Copy(io.Discard, r)
		r.Close()
		done <- b
	}()
	old := os.Stderr
	os.Stderr = w
	err = fn()
	os.Stderr = old
	w.Close()
	return string(<-done), err
}

// serve runs until the mount is gone, handling signals.
func (d *daemon) serve() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		d.srv.Wait()
		close(done)
	}()
	var grace <-chan time.Time
	for {
		select {
		case <-done:
			d.shutdown("unmounted")
			return
		case <-grace:
			d.shutdown("files still open on the detached mount: exiting anyway")
			return
		case s := <-sigs:
			switch {
			case s == syscall.SIGHUP:
				d.log.Info("SIGHUP ignored")
			case grace != nil:
				d.shutdown("second signal: exiting without waiting")
				return
			default:
				d.log.Info("unmounting", "signal", s.String())
				grace = time.After(unmountGrace)
				go d.unmount()
			}
		}
	}
}

// unmount unmounts, detaching lazily if the mount stays busy.
func (d *daemon) unmount() {
	err := d.srv.Unmount() // retries a few times while busy
	if err == nil {
		return
	}
	d.log.Warn("unmount failed; detaching lazily", "err", oneLine(err.Error()))
	if err := detach(d.o.Mountpoint); err != nil {
		d.log.Error("lazy unmount failed", "err", err)
	}
}

// shutdown releases everything once; why goes to the log.
func (d *daemon) shutdown(why string) {
	d.shutOnce.Do(func() {
		d.closeStatus()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		d.mu.Lock()
		d.closing = true
		sess, tree := d.sess, d.tree
		d.mu.Unlock()
		tree.Disconnect(ctx)
		sess.Close()
		d.log.Info(why, "uptime", time.Since(d.started).Round(time.Second).String())
	})
}

// runForeground is -f: mount and serve in this process, logging to stderr.
func runForeground(o *Options) error {
	log := newStderrLogger(os.Stderr, o.Verbose).With("mountpoint", o.Mountpoint)
	d, err := startDaemon(o, log)
	if err != nil {
		return describeMountError(o, err, connectTimeout)
	}
	d.serve()
	return nil
}

// runBackground starts the daemon child and waits for its verdict.
func runBackground(o *Options, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return failf("cannot find my own executable: %v", err)
	}
	payload, err := json.Marshal(o)
	if err != nil {
		return failf("encoding options: %v", err)
	}
	defer clear(payload)
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return failf("pipe: %v", err)
	}
	defer cfgW.Close()
	stR, stW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return failf("pipe: %v", err)
	}
	defer stR.Close()
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		cfgR.Close()
		stW.Close()
		return failf("%s: %v", os.DevNull, err)
	}

	cmd := exec.Command(exe, append([]string{daemonChildFlag}, ScrubPasswordArgs(args)...)...)
	cmd.Args[0] = progName
	cmd.Env = childEnv(os.Environ())
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, devNull, devNull
	cmd.ExtraFiles = []*os.File{cfgR, stW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	cfgR.Close()
	stW.Close()
	devNull.Close()
	if err != nil {
		return failf("starting the daemon: %v", err)
	}
	// The payload is far below the pipe's capacity: this does not block.
	_, werr := cfgW.Write(payload)
	cfgW.Close()
	if werr != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return failf("handing the options to the daemon: %v", werr)
	}

	// ^C while waiting must not leave a daemon mounting behind our back.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	type verdict struct {
		line string
		err  error
	}
	ch := make(chan verdict, 1)
	stR.SetReadDeadline(time.Now().Add(startTimeout))
	go func() {
		line, err := bufio.NewReader(io.LimitReader(stR, 4096)).ReadString('\n')
		ch <- verdict{strings.TrimSuffix(line, "\n"), err}
	}()
	var v verdict
	select {
	case v = <-ch:
	case s := <-sigs:
		abandonChild(cmd, o.Mountpoint)
		return &exitError{code: exitFailed, msg: fmt.Sprintf("%s: interrupted by %v", o.UNC(), s)}
	}

	switch {
	case v.line == "ok":
		cmd.Process.Release()
		return nil
	case strings.HasPrefix(v.line, "error "):
		waitBriefly(cmd)
		code, msg, _ := strings.Cut(strings.TrimPrefix(v.line, "error "), " ")
		n, err := strconv.Atoi(code)
		if err != nil || n == 0 {
			n = exitFailed
		}
		return &exitError{code: n, msg: msg}
	case errors.Is(v.err, os.ErrDeadlineExceeded):
		abandonChild(cmd, o.Mountpoint)
		return failf("%s: no answer from the mount daemon within %s", o.UNC(), startTimeout)
	default:
		state := waitBriefly(cmd)
		return failf("%s: the mount daemon exited without reporting (%s); see the system log", o.UNC(), state)
	}
}

// abandonChild kills a daemon that did not report and detaches whatever it
// may have mounted.
func abandonChild(cmd *exec.Cmd, mountpoint string) {
	cmd.Process.Kill()
	waitBriefly(cmd)
	if m, ok := findMount(mountpoint); ok && m.FSType == fuseType {
		detach(mountpoint)
	}
}

// waitBriefly reaps the child if it exits within a second and says how it
// ended.
func waitBriefly(cmd *exec.Cmd) string {
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	select {
	case err := <-ch:
		if err != nil {
			return err.Error()
		}
		return "exit status 0"
	case <-time.After(time.Second):
		return "still running"
	}
}

// childEnv is env without any password: PASSWD, PASSWD_FD and PASSWD_FILE
// are dropped (the child gets the resolved password on fd 3), and so is a
// USER of the form user%password.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "PASSWD", k == "PASSWD_FD", k == "PASSWD_FILE":
			continue
		case k == "USER" && strings.Contains(v, "%"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// runDaemonChild is the background daemon: read the options from fd 3,
// mount, report on fd 4, serve.
func runDaemonChild() int {
	cfg := os.NewFile(childConfigFD, "config")
	status := os.NewFile(childStatusFD, "status")
	if cfg == nil || status == nil {
		fmt.Fprintf(os.Stderr, "%s: %s is internal\n", progName, daemonChildFlag)
		return exitUsage
	}
	data, err := io.ReadAll(io.LimitReader(cfg, 1<<20))
	cfg.Close()
	var o Options
	if err == nil {
		err = json.Unmarshal(data, &o)
	}
	clear(data)
	report := func(err error) int {
		code := exitCode(err)
		if err == nil {
			fmt.Fprintln(status, "ok")
		} else {
			fmt.Fprintf(status, "error %d %s\n", code, oneLine(err.Error()))
		}
		status.Close()
		return code
	}
	if err != nil {
		return report(failf("daemon: reading the options: %v", err))
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)

	fallback := ""
	if dir, err := runtimeDir(os.Geteuid(), os.Getenv, true); err == nil {
		fallback = filepath.Join(dir, fallbackLogName)
	}
	log, where, closeLog := newDaemonLogger(o.Verbose, fallback)
	defer closeLog()
	log = log.With("mountpoint", o.Mountpoint)
	if where != "syslog" {
		log = log.With("pid", os.Getpid()) // syslog adds it itself
	}
	log.Debug("daemon starting", "log", where)
	d, err := startDaemon(&o, log)
	if err != nil {
		err = describeMountError(&o, err, connectTimeout)
		log.Error("mount failed", "err", err.Error())
		return report(err)
	}
	report(nil)
	defer startProfile(log)()
	d.serve()
	return exitOK
}

// ---- status socket ----

// statusReply is the daemon's answer to "status". The multichannel work
// adds per-channel fields; clients ignore what they do not know.
type statusReply struct {
	Source        string                `json:"source"` // the UNC, //server[:port]/share[/subdir]
	Mountpoint    string                `json:"mountpoint"`
	Server        string                `json:"server"` // host:port
	Share         string                `json:"share"`
	Subdir        string                `json:"subdir,omitempty"`
	User          string                `json:"user,omitempty"` // DOMAIN\user; empty for anonymous
	Guest         bool                  `json:"guest"`
	Dialect       string                `json:"dialect"`
	Signing       bool                  `json:"signing"`
	Encryption    bool                  `json:"encryption"`
	ReadOnly      bool                  `json:"read_only"`
	Cache         string                `json:"cache"`
	PID           int                   `json:"pid"`
	Started       time.Time             `json:"started"`
	UptimeSeconds float64               `json:"uptime_seconds"`
	Version       string                `json:"version"`
	Channels      []session.ChannelInfo `json:"channels"`
	Reconnects    int                   `json:"reconnects"`      // sessions set up again after the server was lost
	Reclaimed     int64                 `json:"reclaimed_opens"` // open files reclaimed from the server after reconnections (durable handles)
	Reopened      int64                 `json:"reopened_opens"`  // durable opens the server would not give back, opened again by path
	NotReclaimed  int64                 `json:"lost_opens"`      // durable opens neither reclaimed nor opened again
	Error         string                `json:"error,omitempty"` // set instead of the rest for a bad request
}

// status is the current statusReply.
func (d *daemon) status() statusReply {
	user := ""
	if d.o.Sec != "none" {
		user = userName(d.o)
	}
	d.mu.Lock()
	info, reconnects := d.info, d.reconnects
	reclaimed, reopened, lost := d.ctl.Reclaims()
	d.mu.Unlock()
	return statusReply{
		Source:        d.o.UNC(),
		Mountpoint:    d.o.Mountpoint,
		Server:        d.o.Addr(),
		Share:         d.o.Share,
		Subdir:        d.o.Subdir,
		User:          user,
		Guest:         info.IsGuest(),
		Dialect:       info.Dialect().String(),
		Signing:       info.Signing(),
		Encryption:    info.Encrypting(),
		ReadOnly:      d.ctl.ReadOnly(),
		Cache:         d.o.Cache,
		PID:           os.Getpid(),
		Started:       d.started.UTC().Truncate(time.Second),
		UptimeSeconds: time.Since(d.started).Round(time.Millisecond).Seconds(),
		Version:       versionString(),
		Channels:      info.Channels(),
		Reconnects:    reconnects,
		Reclaimed:     reclaimed,
		Reopened:      reopened,
		NotReclaimed:  lost,
	}
}

// mountKey names a mount point's socket and log file: a hash, because a
// path can be longer than a socket address allows.
func mountKey(mountpoint string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(mountpoint)))
	return hex.EncodeToString(sum[:12])
}

// runtimeDirCandidates lists where a daemon running as uid keeps its socket,
// in order of preference.
func runtimeDirCandidates(uid int, env func(string) string) []string {
	if uid == 0 {
		return []string{"/run/mount.smbd3"}
	}
	var dirs []string
	if x := env("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		dirs = append(dirs, filepath.Join(x, "mount.smbd3"))
	}
	return append(dirs,
		fmt.Sprintf("/run/user/%d/mount.smbd3", uid),
		fmt.Sprintf("/tmp/mount.smbd3-%d", uid))
}

// runtimeDir picks the first usable candidate directory, creating it (mode
// 0700) when create is set. A candidate is usable when its parent is the
// user's own directory (or /run for root, /tmp for the last resort) and it
// is itself a real directory owned by uid that others cannot write: that
// check is what keeps another user from planting /tmp/mount.smbd3-UID.
func runtimeDir(uid int, env func(string) string, create bool) (string, error) {
	dirs := runtimeDirs(uid, env, create)
	if len(dirs) == 0 {
		return "", fmt.Errorf("no usable runtime directory for uid %d among %s", uid,
			strings.Join(runtimeDirCandidates(uid, env), ", "))
	}
	return dirs[0], nil
}

// runtimeDirs is every usable candidate (see runtimeDir), best first; with
// create it stops at the first it could create or find.
func runtimeDirs(uid int, env func(string) string, create bool) []string {
	var out []string
	for _, dir := range runtimeDirCandidates(uid, env) {
		parent := filepath.Dir(dir)
		if uid != 0 && parent != "/tmp" && !ownedDir(parent, uid) {
			continue // not this user's runtime directory
		}
		if create {
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				continue
			}
		}
		if !ownedDir(dir, uid) || len(filepath.Join(dir, mountKey("/")+".sock")) >= 108 {
			continue // someone else's, or too long for a socket address
		}
		out = append(out, dir)
		if create {
			break
		}
	}
	return out
}

// ownedDir reports whether path is a directory (not a symlink) owned by uid
// that group and others cannot write.
func ownedDir(path string, uid int) bool {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == uid && st.Mode&0o022 == 0
}

// statusSocketPath is where the daemon for mountpoint listens when running
// as uid.
func statusSocketPath(mountpoint string, uid int, create bool) (string, error) {
	dir, err := runtimeDir(uid, os.Getenv, create)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, mountKey(mountpoint)+".sock"), nil
}

// listenStatus opens the status socket and serves it in the background.
func (d *daemon) listenStatus() error {
	path, err := statusSocketPath(d.o.Mountpoint, os.Geteuid(), true)
	if err != nil {
		return err
	}
	return d.listenStatusAt(path)
}

// listenStatusAt is listenStatus on a given path.
func (d *daemon) listenStatusAt(path string) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path) // left by a killed daemon; a live one would be a mount we refused
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	d.ln, d.sockPath = ln, path
	go d.acceptStatus(ln)
	d.log.Debug("status socket", "path", path)
	return nil
}

func (d *daemon) closeStatus() {
	if d.ln != nil {
		d.ln.Close() // also removes the socket file
	}
}

func (d *daemon) acceptStatus(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Warn("status socket", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go d.answerStatus(c)
	}
}

// answerStatus serves one client: its own user or root only.
func (d *daemon) answerStatus(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(statusTimeout))
	if uid, err := peerUID(c); err != nil || (uid != os.Geteuid() && uid != 0) {
		d.log.Warn("status request refused", "peer_uid", uid, "err", err)
		return
	}
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil {
		return
	}
	var reply statusReply
	switch req := strings.TrimSpace(line); req {
	case "status":
		reply = d.status()
	case "remount ro", "remount rw":
		// The helper has changed (or is about to change) the kernel's
		// flag; this is the file system's own refusal of changes, which
		// a mount without the kernel's flag (or a handle opened before
		// it) would otherwise still get past.
		ro := req == "remount ro"
		if d.ctl.ReadOnly() != ro {
			d.ctl.SetReadOnly(ro)
			d.log.Info("remounted", "read_only", ro)
		}
		reply = d.status()
	default:
		reply.Error = "unknown request"
	}
	b, _ := json.Marshal(reply)
	c.Write(append(b, '\n'))
}

// peerUID is the connecting process's user (SO_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid := -1
	var cerr error
	err = raw.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if cerr == nil {
			uid = int(cred.Uid)
		}
	})
	return uid, errors.Join(err, cerr)
}
