package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

type fakeInfo struct{}

func (fakeInfo) Dialect() smb2.Dialect { return smb2.Dialect311 }
func (fakeInfo) IsGuest() bool         { return false }
func (fakeInfo) Signing() bool         { return true }
func (fakeInfo) Encrypting() bool      { return false }
func (fakeInfo) Channels() []session.ChannelInfo {
	return []session.ChannelInfo{{ID: 0, Transport: "tcp", ServerAddress: "127.0.0.1:445", State: "active", BytesRead: 1 << 20}}
}

func TestStatusSocket(t *testing.T) {
	o := testOptions(t, "port=4455,domain=CORP,ro")
	started := time.Now().Add(-90 * time.Second)
	d := &daemon{o: o, log: slog.New(slog.DiscardHandler), info: fakeInfo{}, started: started}
	d.ctl.SetReadOnly(o.ReadOnly) // as fs.Mount does
	path := filepath.Join(t.TempDir(), "s.sock")
	if err := d.listenStatusAt(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v; want mode 0600", fi.Mode(), err)
	}

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	reply, raw, err := ask(c, "status")
	if err != nil {
		t.Fatal(err)
	}
	want := statusReply{
		Source: "//srv:4455/share", Mountpoint: "/mnt", Server: "srv:4455", Share: "share",
		User: `CORP\bob`, Dialect: "3.1.1", Signing: true, ReadOnly: true, Cache: "strict",
		PID: os.Getpid(), Started: started.UTC().Truncate(time.Second), Version: versionString(),
		Channels: fakeInfo{}.Channels(),
	}
	if reply.UptimeSeconds < 89 || reply.UptimeSeconds > 120 {
		t.Errorf("uptime %v, want about 90 s", reply.UptimeSeconds)
	}
	reply.UptimeSeconds = 0
	if !reply.Started.Equal(want.Started) {
		t.Errorf("started %v, want %v", reply.Started, want.Started)
	}
	reply.Started = want.Started
	if !reflect.DeepEqual(reply, want) {
		t.Errorf("reply\n%+v\nwant\n%+v", reply, want)
	}
	if bytes.Contains(raw, []byte("secret")) || !bytes.HasSuffix(raw, []byte("\n")) {
		t.Errorf("raw reply %q", raw)
	}

	// A remount changes what the file system refuses, and the status says so.
	for _, ro := range []bool{false, true} {
		req := map[bool]string{false: "remount rw", true: "remount ro"}[ro]
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		reply, _, err := ask(c, req)
		if err != nil || reply.ReadOnly != ro || d.ctl.ReadOnly() != ro {
			t.Errorf("%s: read-only %v (control %v), %v", req, reply.ReadOnly, d.ctl.ReadOnly(), err)
		}
	}

	// An unknown request gets an error, not the status.
	c, err = net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "shutdown\n")
	line, _ := io.ReadAll(c)
	c.Close()
	var r statusReply
	if err := json.Unmarshal(line, &r); err != nil || r.Error != "unknown request" || r.Source != "" {
		t.Errorf("unknown request: %q (%v)", line, err)
	}

	d.closeStatus()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket still there after close: %v", err)
	}
}

func TestPrintStatus(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, statusReply{
		Source: "//srv/share/sub", Mountpoint: "/mnt", Server: "srv:445", Share: "share", Subdir: "sub",
		Dialect: "3.0.2", Encryption: true, Cache: "loose", PID: 7, UptimeSeconds: 3725.4, Version: "v1",
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	out := b.String()
	for _, want := range []string{
		"source:     //srv/share/sub\n", "subdir:     sub\n", "user:       (anonymous)\n",
		"dialect:    SMB 3.0.2\n", "signing:    no\n", "encryption: yes\n", "uptime:     1h2m5s (since ",
		"daemon:     pid 7, mount.smbd3 v1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestRunStatusErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if got := runStatus(nil, &out, &errb); got != exitUsage || !strings.Contains(errb.String(), "want exactly one MOUNTPOINT") {
		t.Errorf("no args: %d %q", got, errb.String())
	}
	errb.Reset()
	if got := runStatus([]string{"/mnt", "--bogus"}, &out, &errb); got != exitUsage || !strings.Contains(errb.String(), `unknown flag "--bogus"`) {
		t.Errorf("bad flag: %d %q", got, errb.String())
	}
	errb.Reset()
	dir := t.TempDir()
	if got := runStatus([]string{dir, "--json"}, &out, &errb); got != exitUsage || !strings.Contains(errb.String(), "is not a mount.smbd3 mount point") {
		t.Errorf("not mounted: %d %q", got, errb.String())
	}
	out.Reset()
	if got := runStatus([]string{"-h"}, &out, &errb); got != exitOK || !strings.HasPrefix(out.String(), "usage: mount.smbd3 status") {
		t.Errorf("-h: %d %q", got, out.String())
	}
}

func TestRuntimeDirs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := runtimeDirCandidates(0, env(map[string]string{"XDG_RUNTIME_DIR": "/run/user/0"})); !reflect.DeepEqual(got, []string{"/run/mount.smbd3"}) {
		t.Errorf("root: %q", got)
	}
	got := runtimeDirCandidates(1000, env(map[string]string{"XDG_RUNTIME_DIR": "/xdg"}))
	want := []string{"/xdg/mount.smbd3", "/run/user/1000/mount.smbd3", "/tmp/mount.smbd3-1000"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("user: %q, want %q", got, want)
	}
	if got := runtimeDirCandidates(1000, env(map[string]string{"XDG_RUNTIME_DIR": "relative"})); len(got) != 2 {
		t.Errorf("relative XDG_RUNTIME_DIR used: %q", got)
	}

	// The XDG directory is used when it is the user's own.
	uid := os.Geteuid()
	xdg := t.TempDir()
	os.Chmod(xdg, 0o700)
	if uid != 0 {
		dir, err := runtimeDir(uid, env(map[string]string{"XDG_RUNTIME_DIR": xdg}), true)
		if err != nil || dir != filepath.Join(xdg, "mount.smbd3") {
			t.Errorf("runtimeDir = %q, %v", dir, err)
		}
	}
}

func TestOwnedDir(t *testing.T) {
	dir := t.TempDir()
	uid := os.Geteuid()
	os.Chmod(dir, 0o700)
	if !ownedDir(dir, uid) {
		t.Error("own 0700 directory refused")
	}
	if ownedDir(dir, uid+1) {
		t.Error("directory accepted for another uid")
	}
	os.Chmod(dir, 0o777)
	if ownedDir(dir, uid) {
		t.Error("world-writable directory accepted")
	}
	os.Chmod(dir, 0o700)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if ownedDir(link, uid) {
		t.Error("symlink accepted")
	}
}

func TestMountKey(t *testing.T) {
	a, b := mountKey("/mnt/x"), mountKey("/mnt/x/")
	if a != b || len(a) != 24 || a == mountKey("/mnt/y") {
		t.Errorf("mountKey: %q %q", a, b)
	}
}

func TestOptionMapping(t *testing.T) {
	o := testOptions(t, "vers=3.0,rsize=65536,wsize=131072,actimeo=5,acdirmax=2,file_mode=0640,uid=12,allow_other,ro,cache=loose")
	o.Subdir = "a/b"
	if d := dialectOf(o.Vers); d != smb2.Dialect300 {
		t.Errorf("dialect %v", d)
	}
	if d := dialectOf("default"); d != 0 {
		t.Errorf("default dialect %v", d)
	}
	if c := chunkOf(o); c != 65536 {
		t.Errorf("chunk %d", c)
	}
	fo := fsOptions(o, slog.New(slog.DiscardHandler))
	if fo.UID != 12 || fo.FileMode != 0o640 || !fo.ReadOnly || !fo.AllowOther || fo.Cache != "loose" ||
		fo.AttrTTL != 2*time.Second || fo.FsName != "//srv/share/a/b" || fo.Subdir != "a/b" || fo.MaxWrite != 131072 || fo.NoLocks {
		t.Errorf("fs options %+v", fo)
	}
	log := slog.New(slog.DiscardHandler)
	if c := sessionConfig(o, [16]byte{}, log); c.Addr != "srv:445" || c.Host != "srv" || c.Timeout != 0 {
		t.Errorf("session config: addr %q host %q timeout %v", c.Addr, c.Host, c.Timeout)
	}

	// cifs's ip=, echo_interval= and nobrl.
	o = testOptions(t, "ip=192.0.2.7,port=4455,echo_interval=5,nobrl")
	if c := sessionConfig(o, [16]byte{}, log); c.Addr != "192.0.2.7:4455" || c.Host != "srv" || c.Timeout != 10*time.Second {
		t.Errorf("session config: addr %q host %q timeout %v", c.Addr, c.Host, c.Timeout)
	}
	if fo := fsOptions(o, log); !fo.NoLocks || fo.FsName != "//srv:4455/share" {
		t.Errorf("fs options %+v", fo)
	}
}

func TestCaptureStderr(t *testing.T) {
	out, err := captureStderr(func() error {
		cmd := exec.Command("sh", "-c", "echo 'fusermount3: nope' >&2")
		cmd.Stderr = os.Stderr // what go-fuse does for fusermount3
		return cmd.Run()
	})
	if err != nil || out != "fusermount3: nope\n" {
		t.Errorf("got %q, %v", out, err)
	}
}
