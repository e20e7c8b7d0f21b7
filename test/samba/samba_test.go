package samba_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// smbclient runs smbclient against s with extra arguments and the -c commands, and
// returns its combined output.
func smbclient(t *testing.T, s *samba.Server, extra []string, cmds string) (string, error) {
	t.Helper()
	return runSmbclient(t, append(s.SmbclientArgs(), extra...), cmds)
}

// withUser replaces the -U argument of s.SmbclientArgs.
func withUser(s *samba.Server, cred string) []string {
	args := s.SmbclientArgs()
	for i := range args {
		if args[i] == "-U" {
			args[i+1] = cred
		}
	}
	return args
}

func runSmbclient(t *testing.T, args []string, cmds string) (string, error) {
	t.Helper()
	samba.RequireTool(t, "smbclient")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "smbclient", append(args, "-c", cmds)...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const payload = "written by smbclient for test/samba\n"

// payloadFile returns a local file holding payload, for smbclient's put.
func payloadFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(p, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// putAndCheck uploads payload as name and checks it lands in the share.
func putAndCheck(t *testing.T, s *samba.Server, extra []string, name string) {
	t.Helper()
	out, err := smbclient(t, s, extra, "put "+payloadFile(t)+" "+name+"; ls")
	if err != nil || !strings.Contains(out, name) {
		t.Fatalf("smbclient put: %v\n%s", err, out)
	}
	checkFile(t, s, name)
}

func checkFile(t *testing.T, s *samba.Server, name string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		t.Fatalf("file missing from the share directory: %v", err)
	}
	if string(got) != payload {
		t.Fatalf("%s holds %q, want %q", name, got, payload)
	}
}

// negotiate returns what the server at addr answers to an SMB2 NEGOTIATE.
func negotiate(t *testing.T, addr string) (secMode uint16, caps uint32, dialect uint16) {
	t.Helper()
	return dialRaw(t, addr).negotiate()
}

// holdSession keeps an interactive smbclient session to s open while f runs.
func holdSession(t *testing.T, s *samba.Server, args []string, f func()) {
	t.Helper()
	samba.RequireTool(t, "smbclient")
	cmd := exec.Command("smbclient", args...)
	cmd.Dir = t.TempDir()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		<-exited
	}()
	io.WriteString(stdin, "ls\n")
	// smbclient buffers its output on a pipe, so ask the server instead.
	for deadline := time.Now().Add(15 * time.Second); len(status(t, s).Sessions) == 0; {
		select {
		case <-exited:
			t.Fatalf("smbclient exited: %v\n%s", cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("smbclient session did not show up in smbstatus:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	f()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// smbStatus is the part of "smbstatus --json" (Samba 4.17) the tests look at.
type smbStatus struct {
	Sessions map[string]struct {
		Username   string `json:"username"`
		Dialect    string `json:"session_dialect"`
		Encryption struct{ Cipher, Degree string }
		Signing    struct{ Cipher, Degree string }
	}
}

func status(t *testing.T, s *samba.Server) smbStatus {
	t.Helper()
	out := s.Status(t, "--json")
	var st smbStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("smbstatus --json: %v\n%s", err, out)
	}
	return st
}

func TestDefault(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{})
	putAndCheck(t, s, nil, "x")
	if fi, err := os.Stat(filepath.Join(s.Dir, "x")); err != nil || fi.Mode().Perm()&0o044 != 0o044 {
		t.Errorf("created file mode: %v %v", fi.Mode(), err)
	}
	if out, err := runSmbclient(t, withUser(s, s.User+"%wrong"), "ls"); err == nil || !strings.Contains(out, "NT_STATUS_LOGON_FAILURE") {
		t.Errorf("wrong password: err=%v\n%s", err, out)
	}
	if out, err := runSmbclient(t, withUser(s, "nobody-here%x"), "ls"); err == nil {
		t.Errorf("unknown user got in without guest access:\n%s", out)
	}
	// Any domain name works for the local user of a standalone server.
	for _, dom := range []string{s.Domain, "WORKGROUP"} {
		if out, err := smbclient(t, s, []string{"-W", dom}, "ls"); err != nil {
			t.Errorf("domain %s: %v\n%s", dom, err, out)
		}
	}
	secMode, caps, dialect := negotiate(t, s.Addr)
	if secMode&signingRequired != 0 || caps&capMultiChannel != 0 || dialect != 0x0302 {
		t.Errorf("negotiate: security mode %#x, capabilities %#x, dialect %#x", secMode, caps, dialect)
	}
	holdSession(t, s, s.SmbclientArgs(), func() {
		if st := s.Status(t); !strings.Contains(st, "Samba version 4") || !strings.Contains(st, s.User) {
			t.Errorf("smbstatus output:\n%s", st)
		}
		if ss := status(t, s).Sessions; len(ss) != 1 {
			t.Errorf("smbstatus --json sessions: %+v", ss)
		}
	})
}

func TestSigningMandatory(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{SigningMandatory: true})
	if secMode, _, _ := negotiate(t, s.Addr); secMode&signingRequired == 0 {
		t.Errorf("security mode %#x lacks SIGNING_REQUIRED", secMode)
	}
	putAndCheck(t, s, nil, "signed")
	// Samba's client signs when the server requires it, even when told not to.
	holdSession(t, s, append(s.SmbclientArgs(), "--client-protection=off"), func() {
		for _, ss := range status(t, s).Sessions {
			if ss.Signing.Degree != "full" {
				t.Errorf("session signing %+v, want full", ss.Signing)
			}
		}
	})
}

func TestEncryptRequired(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{EncryptRequired: true})
	if _, caps, _ := negotiate(t, s.Addr); caps&capEncryption == 0 {
		t.Errorf("capabilities %#x lack ENCRYPTION", caps)
	}
	putAndCheck(t, s, []string{"--client-protection=encrypt"}, "sealed")
	// SMB 2.1 cannot encrypt, so the session is refused.
	if out, err := smbclient(t, s, []string{"-m", "SMB2_10"}, "ls"); err == nil || !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("an SMB 2.1 client: err=%v\n%s", err, out)
	}
	// An SMB3 client is made to encrypt even when told not to.
	holdSession(t, s, append(s.SmbclientArgs(), "--client-protection=off"), func() {
		for _, ss := range status(t, s).Sessions {
			if ss.Encryption.Degree != "full" {
				t.Errorf("session encryption %+v, want full", ss.Encryption)
			}
		}
	})
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{ReadOnly: true})
	if err := os.WriteFile(filepath.Join(s.Dir, "present"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := smbclient(t, s, nil, "put "+payloadFile(t)+" x")
	if err == nil || !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("put on a read-only share: err=%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only share was written: %v", err)
	}
	if out, err := smbclient(t, s, nil, "ls; get present"); err != nil || !strings.Contains(out, "present") {
		t.Errorf("reading a read-only share: %v\n%s", err, out)
	}
}

func TestGuest(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{Guest: true})
	args := s.SmbclientArgs()
	for i := range args {
		if args[i] == "-U" {
			args = append(args[:i:i], args[i+2:]...)
			break
		}
	}
	for _, cred := range [][]string{{"-N"}, {"-U", "guest%"}, {"-U", "someone-unknown%pw"}} {
		out, err := runSmbclient(t, append(append([]string(nil), args...), cred...), "put "+payloadFile(t)+" g; ls")
		if err != nil || !strings.Contains(out, " g ") {
			t.Errorf("guest %v: %v\n%s", cred, err, out)
			continue
		}
		checkFile(t, s, "g")
	}
	// A known user with a wrong password is refused, not mapped to guest.
	if out, err := runSmbclient(t, withUser(s, s.User+"%wrong"), "ls"); err == nil {
		t.Errorf("wrong password was accepted:\n%s", out)
	}
}

func TestMultiChannelInterfaces(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{
		MultiChannel: true,
		Interfaces: []samba.Interface{
			{Addr: "127.0.0.2", SpeedBps: 1_000_000_000, RSS: true},
			{Addr: "127.0.0.3", SpeedBps: 10_000_000_000, RSS: true, RDMA: true, IfIndex: 77},
		},
	})
	conf, err := os.ReadFile(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if want := `interfaces = 127.0.0.1 "127.0.0.2;speed=1000000000,capability=RSS" "127.0.0.3;if_index=77,speed=10000000000,capability=RSS,capability=RDMA"`; !strings.Contains(string(conf), want) {
		t.Errorf("smb.conf lacks %s:\n%s", want, conf)
	}
	if len(s.Addrs) != 3 {
		t.Fatalf("Addrs = %v", s.Addrs)
	}
	// What a multichannel client learns: every address, with the configured speed
	// and capabilities.
	r := dialRaw(t, s.Addr)
	r.negotiate()
	r.anonymousLogon()
	r.treeConnect(`\\127.0.0.1\IPC$`)
	got := map[string]netIface{}
	for _, i := range r.queryInterfaces() {
		got[i.Addr.String()] = i
	}
	for _, w := range []netIface{
		{Addr: netip.MustParseAddr("127.0.0.2"), IfIndex: 1, Speed: 1_000_000_000, Capability: ifaceRSS}, // lo's index
		{Addr: netip.MustParseAddr("127.0.0.3"), IfIndex: 77, Speed: 10_000_000_000, Capability: ifaceRSS | ifaceRDMA},
	} {
		g, ok := got[w.Addr.String()]
		if !ok || g != w {
			t.Errorf("interface %s: got %+v (present %v), want %+v", w.Addr, g, ok, w)
		}
	}
	if _, ok := got["127.0.0.1"]; !ok {
		t.Errorf("127.0.0.1 missing from the interface list %+v", got)
	}
	t.Logf("FSCTL_QUERY_NETWORK_INTERFACE_INFO: %+v", got)
	for _, a := range s.Addrs {
		if _, caps, _ := negotiate(t, a); caps&capMultiChannel == 0 {
			t.Errorf("%s: capabilities %#x lack MULTI_CHANNEL", a, caps)
		}
	}
	// Only the listed addresses are bound: 127.0.0.4 is loopback too, but refused.
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.4", strconv.Itoa(s.Port)), time.Second); err == nil {
		c.Close()
		t.Errorf("smbd accepts on 127.0.0.4 although it is not in interfaces")
	}
	args := s.SmbclientArgs()
	args[0] = "//127.0.0.3/" + s.Share
	if out, err := runSmbclient(t, args, "put "+payloadFile(t)+" mc; ls"); err != nil {
		t.Fatalf("smbclient via 127.0.0.3: %v\n%s", err, out)
	}
	checkFile(t, s, "mc")
}

func TestConcurrentServers(t *testing.T) {
	t.Parallel()
	a := samba.Start(t, samba.Options{})
	b := samba.Start(t, samba.Options{})
	if a.Port == b.Port || a.Dir == b.Dir {
		t.Fatalf("servers share port or directory: %v %v", a.Addr, b.Addr)
	}
	putAndCheck(t, a, nil, "a")
	putAndCheck(t, b, nil, "b")
	if _, err := os.Stat(filepath.Join(a.Dir, "b")); err == nil {
		t.Errorf("file written to server b appeared in server a")
	}
	if out, err := runSmbclient(t, withUser(a, b.User+"%"+b.Password), "ls"); err == nil {
		t.Errorf("server a accepted server b's password:\n%s", out)
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := samba.Start(t, samba.Options{})
	// A connected client (smbd forks per client) must not keep the server alive.
	r := dialRaw(t, s.Addr)
	r.negotiate()
	s.Stop()
	s.Stop() // idempotent
	if c2, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c2.Close()
		t.Fatal("port still accepts connections after Stop")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Stop: %v, want connection refused", err)
	}
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection from before Stop: read %v, want it closed by the server", err)
	}

	s.Restart(t)
	putAndCheck(t, s, nil, "again")
	s.Restart(t) // while running
	if out, err := smbclient(t, s, nil, "ls"); err != nil || !strings.Contains(out, "again") {
		t.Errorf("after restart: %v\n%s", err, out)
	}
}

// TestCPU checks that the server's processor time is counted, including
// that of connection processes that have ended: each smbclient run forks an
// smbd for its connection, which has exited by the time smbclient has.
func TestCPU(t *testing.T) {
	s := samba.Start(t, samba.Options{})
	before := s.CPU()
	for range 5 {
		if out, err := smbclient(t, s, nil, "ls"); err != nil {
			t.Fatalf("smbclient ls: %v\n%s", err, out)
		}
	}
	if after := s.CPU(); after <= before {
		t.Errorf("server CPU went from %v to %v across five connections", before, after)
	}
}
