package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fakeSyslog struct{ lines []string }

func (f *fakeSyslog) Debug(m string) error   { f.lines = append(f.lines, "debug "+m); return nil }
func (f *fakeSyslog) Info(m string) error    { f.lines = append(f.lines, "info "+m); return nil }
func (f *fakeSyslog) Warning(m string) error { f.lines = append(f.lines, "warning "+m); return nil }
func (f *fakeSyslog) Err(m string) error     { f.lines = append(f.lines, "err "+m); return nil }

func TestSyslogLogger(t *testing.T) {
	f := &fakeSyslog{}
	log := newSyslogLogger(f, true)
	log.Debug("d", "k", 1)
	log.Info("mounted", "mount", "//srv/share on /mnt")
	log.With("component", "smb").Warn("w")
	log.Error("e", "err", "boom")
	want := []string{
		"debug msg=d k=1",
		`info msg=mounted mount="//srv/share on /mnt"`,
		"warning msg=w component=smb",
		"err msg=e err=boom",
	}
	if strings.Join(f.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(f.lines, "\n"), strings.Join(want, "\n"))
	}

	f.lines = nil
	quiet := newSyslogLogger(f, false)
	quiet.Debug("hidden")
	quiet.Info("shown")
	if len(f.lines) != 1 || f.lines[0] != "info msg=shown" {
		t.Errorf("without -v: %q", f.lines)
	}
}

func TestStderrLogger(t *testing.T) {
	var b bytes.Buffer
	newStderrLogger(&b, false).Debug("hidden")
	newStderrLogger(&b, false).Info("shown")
	if s := b.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "msg=shown") || !strings.Contains(s, "time=") {
		t.Errorf("got %q", s)
	}
}

func TestDaemonLoggerFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	log, where, closeFn := newDaemonLogger(false, path)
	log.Info("hello")
	closeFn()
	if where == "syslog" {
		t.Skip("/dev/log exists: the daemon logs to syslog, no fallback to check")
	}
	if where != path {
		t.Fatalf("logging to %q, want the fallback %q", where, path)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), "msg=hello") {
		t.Errorf("fallback file: %q, %v", data, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("fallback file mode %v, want 0600", fi.Mode().Perm())
	}

	_, where, closeFn = newDaemonLogger(false, "/nonexistent/dir/x.log")
	closeFn()
	if where != "syslog" && where != "nowhere" {
		t.Errorf("unwritable fallback: logging to %q", where)
	}
}

func TestRotatingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	r, err := openRotating(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes
	for i := 0; i < 7; i++ {
		if _, err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) > 100 || len(old) > 100 || len(cur)+len(old) < 80 {
		t.Errorf("sizes after rotation: current %d, old %d", len(cur), len(old))
	}

	// A file already too big is rotated when opened.
	os.WriteFile(path, bytes.Repeat([]byte("y"), 150), 0o600)
	r, err = openRotating(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	r.Write(line)
	r.Close()
	if cur, _ := os.ReadFile(path); string(cur) != string(line) {
		t.Errorf("after rotating at open: %q", cur)
	}
	if old, _ := os.ReadFile(path + ".1"); len(old) != 150 {
		t.Errorf("rotated file has %d bytes, want 150", len(old))
	}
}
