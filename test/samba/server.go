package samba

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 20 * time.Second // until the port accepts connections
	termGrace    = 5 * time.Second  // between SIGTERM and SIGKILL
	portAttempts = 5                // a picked port can be taken before smbd binds it
)

// Server is one running smbd. The exported fields are fixed for its lifetime,
// across Stop and Restart.
type Server struct {
	Addr     string   // "127.0.0.1:PORT"
	Host     string   // "127.0.0.1"
	Port     int      // the same on every address
	Addrs    []string // every listening "IP:PORT": Addr, then the extra Options.Interfaces in order
	Share    string   // share name
	Dir      string   // the share's directory on disk
	User     string   // SMB user, mapped to the Unix account of the same name
	Password string   // random per server
	Domain   string   // NetBIOS name of the server's own SAM domain; any domain name is accepted
	Config   string   // path of the smb.conf
	LogFile  string   // smbd's debug output; helpers such as samba-dcerpcd log to samba.log beside it

	opts    Options
	root    string
	release func() error // gives back the loopback addresses held for opts.Interfaces

	mu   sync.Mutex // guards cmd and done: Stop and Restart may race with cleanup
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start runs a new smbd configured by opts and registers its removal with
// t.Cleanup. It skips the test (fails it under CI) when not root or when Samba is
// not installed, and fails it when the server does not come up within 20 s.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "smbd")
	RequireTool(t, "pdbedit")
	RequireTool(t, "ip")
	s, err := Launch(opts)
	if s != nil {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("samba: %s (config %s), last lines of %s:\n%s", s.Addr, s.Config, s.LogFile, s.logTail(60))
			}
			if os.Getenv("SMBD3_SAMBA_KEEP") != "" {
				t.Logf("samba: SMBD3_SAMBA_KEEP is set, keeping %s", s.root)
			}
			if err := s.Close(); err != nil {
				t.Errorf("samba: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("samba.Start: %v", err)
	}
	return s
}

// Launch is Start for programs (the demo, benchmarks): it returns an error
// instead of failing a test, and the caller must Close the server.
func Launch(opts Options) (*Server, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("samba: starting smbd needs root")
	}
	for _, tool := range []string{"smbd", "pdbedit", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("samba: %s not installed (run scripts/deps.sh)", tool)
		}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	uid, gid, err := prepareHost()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp(shareParent(), dirPrefix)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Host:     "127.0.0.1",
		Share:    "share",
		Dir:      filepath.Join(root, "share"),
		User:     userName,
		Domain:   netbiosName,
		Password: randomPassword(),
		Config:   filepath.Join(root, "smb.conf"),
		LogFile:  filepath.Join(root, "log", "smbd.log"),
		opts:     opts,
		root:     root,
		release:  func() error { return nil },
	}
	if err := s.launch(uid, gid); err != nil {
		return s, err
	}
	return s, nil
}

// Close stops smbd and removes the server's files (kept when
// SMBD3_SAMBA_KEEP is set) and the loopback addresses it added.
func (s *Server) Close() error {
	s.Stop()
	err := s.release()
	if os.Getenv("SMBD3_SAMBA_KEEP") != "" {
		return err
	}
	if rerr := os.RemoveAll(s.root); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func (s *Server) launch(uid, gid int) error {
	root := s.root
	if err := os.Chmod(root, 0o755); err != nil { // the share user must reach Dir
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
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
	if err := os.Chown(s.Dir, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(s.Dir, 0o775); err != nil {
		return err
	}
	var extra []string
	for _, i := range s.opts.Interfaces {
		if i.Addr != "127.0.0.1" {
			extra = append(extra, i.Addr)
		}
	}
	release, err := holdAddrs(extra)
	if err != nil {
		return err
	}
	s.release = release
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.setPort(port, extra)
		if err := os.WriteFile(s.Config, []byte(s.config()), 0o644); err != nil {
			return err
		}
		if attempt == 1 {
			if err := s.addUser(); err != nil {
				return err
			}
		}
		s.mu.Lock()
		err = s.startLocked()
		s.mu.Unlock()
		if err == nil {
			return nil
		}
		if errors.Is(err, errPortInUse) && attempt < portAttempts {
			continue
		}
		return fmt.Errorf("%w\nlast lines of %s:\n%s", err, s.LogFile, s.logTail(40))
	}
}

func (s *Server) setPort(port int, extra []string) {
	s.Port = port
	p := strconv.Itoa(port)
	s.Addr = net.JoinHostPort(s.Host, p)
	s.Addrs = []string{s.Addr}
	for _, a := range extra {
		s.Addrs = append(s.Addrs, net.JoinHostPort(a, p))
	}
}

// addUser puts the SMB user with s.Password into this server's passdb.
func (s *Server) addUser() error {
	cmd := exec.Command("pdbedit", "--configfile="+s.Config, "-a", "-t", "-u", s.User)
	cmd.Stdin = strings.NewReader(s.Password + "\n" + s.Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pdbedit -a %s: %v: %s", s.User, err, bytes.TrimSpace(out))
	}
	return nil
}

var errPortInUse = errors.New("port already in use")

// startLocked starts smbd and waits until every address accepts connections.
func (s *Server) startLocked() error {
	if s.cmd != nil {
		return errors.New("smbd is already running")
	}
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	logStart, _ := logf.Seek(0, 2)
	fmt.Fprintf(logf, "==== mount.smbd3 test/samba: starting smbd on %s at %s\n", strings.Join(s.Addrs, " "), time.Now().Format(time.RFC3339Nano))

	cmd := exec.Command("smbd", "--foreground", "--no-process-group", "--debug-stdout", "--configfile="+s.Config)
	cmd.Dir = s.root
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own process group, so Stop reaches smbd's forked children; SIGKILL if the test
	// binary dies without running its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("starting smbd: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			s.stopLocked()
			if logHas(s.LogFile, logStart, "Address already in use") {
				return fmt.Errorf("smbd on port %d: %w", s.Port, errPortInUse)
			}
			return fmt.Errorf("smbd exited during startup: %v", cmd.ProcessState)
		default:
		}
		if s.accepting() {
			return nil
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("smbd did not accept connections on %s within %v", strings.Join(s.Addrs, ", "), startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// accepting reports whether every address accepts a TCP connection.
func (s *Server) accepting() bool {
	for _, a := range s.Addrs {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// Stop stops smbd now: SIGTERM to smbd, its children and its RPC helpers, SIGKILL
// to whatever is left after 5 s. It returns when none of them is running, so the
// port refuses connections. Stop is idempotent and safe to call concurrently.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	syscall.Kill(-pgid, syscall.SIGCONT) // a stopped (Paused) process acts on SIGTERM only once continued
	for _, pid := range configProcs(s.Config) {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(termGrace):
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // children that outlived smbd
	<-s.done
	s.cmd, s.done = nil, nil

	// samba-dcerpcd and its workers live in their own session; smbd's children may
	// still be exiting.
	deadline := time.Now().Add(termGrace)
	for {
		pids := configProcs(s.Config)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			deadline = time.Now().Add(termGrace) // SIGKILL cannot be ignored
		}
		time.Sleep(20 * time.Millisecond)
	}
	// An exiting process loses its command line before it closes its files, so a
	// child may still hold the listening socket: wait until the port can be bound.
	for _, a := range s.Addrs {
		for deadline := time.Now().Add(termGrace); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if l, err := net.Listen("tcp", a); err == nil {
				l.Close()
				break
			}
		}
	}
}

// Restart starts smbd again with the same port, configuration and passdb, stopping
// it first if it is running.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if err := s.startLocked(); err != nil {
		t.Fatalf("samba.Restart: %v", err) // the cleanup prints the log tail
	}
}

// SmbclientArgs returns smbclient arguments that connect to the share as the user
// over SMB3, using the server's smb.conf so smbclient keeps its caches in the
// server's directory rather than in /var/lib/samba. Append "-c", "cmd; cmd".
func (s *Server) SmbclientArgs() []string {
	return []string{
		"//" + s.Host + "/" + s.Share,
		"-p", strconv.Itoa(s.Port),
		"-U", s.User + "%" + s.Password,
		"-m", "SMB3",
		"--configfile=" + s.Config,
	}
}

// Status returns the output of smbstatus for this server, with extra arguments such
// as "--json" or "-b".
func (s *Server) Status(t testing.TB, args ...string) string {
	t.Helper()
	RequireTool(t, "smbstatus")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "smbstatus", append([]string{"--configfile=" + s.Config}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("smbstatus %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out)
}

// logTail returns the last n lines of the smbd log.
func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logHas reports whether the log, from offset on, contains s.
func logHas(path string, offset int64, s string) bool {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return false
	}
	return bytes.Contains(b[offset:], []byte(s))
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "Pw-" + hex.EncodeToString(b)
}
