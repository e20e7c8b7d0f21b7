package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountInfoLine(t *testing.T) {
	tests := []struct {
		line string
		want mountEntry
		ok   bool
	}{
		{"42 27 0:39 / /tmp/mnt1 rw,nosuid,nodev,relatime - fuse.smbd3 //127.0.0.1:4455/share rw,user_id=0,group_id=0,max_read=1048576",
			mountEntry{"/tmp/mnt1", "fuse.smbd3", "//127.0.0.1:4455/share", "rw,user_id=0,group_id=0,max_read=1048576"}, true},
		{"36 35 98:0 /mnt1 /mnt/my\\040dir rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue",
			mountEntry{"/mnt/my dir", "ext3", "/dev/root", "rw,errors=continue"}, true},
		{"garbage", mountEntry{}, false},
		{"1 2 3:4 / /x rw no separator here", mountEntry{}, false},
	}
	for _, tt := range tests {
		got, ok := parseMountInfoLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseMountInfoLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
	if uid, ok := (mountEntry{SuperOptions: "rw,user_id=65534,group_id=65534"}).UserID(); !ok || uid != 65534 {
		t.Errorf("UserID = %d, %v", uid, ok)
	}
	if _, ok := (mountEntry{SuperOptions: "rw"}).UserID(); ok {
		t.Error("UserID without user_id= reported ok")
	}
}

func TestUnescapeMountInfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:   "/a b",
		`/tab\011x`: "/tab\tx",
		`/back\134`: `/back\`,
		`/short\04`: `/short\04`,
		`/plain`:    "/plain",
	} {
		if got := unescapeMountInfo(in); got != want {
			t.Errorf("unescapeMountInfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindMountRoot(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc/self/mountinfo")
	}
	if _, ok := findMount("/"); !ok {
		t.Error("findMount(\"/\") found nothing")
	}
	if _, ok := findMount(filepath.Join(t.TempDir(), "nothing")); ok {
		t.Error("found a mount at a fresh path")
	}
}

func TestFuseConfAllowsOther(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "fuse.conf")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if fuseConfAllowsOther(write("# user_allow_other\n#user_allow_other\nmount_max = 10\n")) {
		t.Error("commented out option counted")
	}
	if !fuseConfAllowsOther(write("mount_max = 10\n  user_allow_other  \n")) {
		t.Error("option not found")
	}
	if fuseConfAllowsOther(filepath.Join(dir, "missing")) {
		t.Error("a missing file allows allow_other")
	}
}

func TestChildEnv(t *testing.T) {
	in := []string{"PATH=/bin", "PASSWD=s3cret", "PASSWD_FD=0", "PASSWD_FILE=/x", "USER=bob%s3cret", "HOME=/root", "XDG_RUNTIME_DIR=/run/user/0"}
	want := []string{"PATH=/bin", "HOME=/root", "XDG_RUNTIME_DIR=/run/user/0"}
	if got := childEnv(in); !reflect.DeepEqual(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	if got := childEnv([]string{"USER=bob"}); !reflect.DeepEqual(got, []string{"USER=bob"}) {
		t.Errorf("a plain USER was dropped: %q", got)
	}
}

func TestRunUsageErrors(t *testing.T) {
	stderr := captureStderrForTest(t, func() {
		if got := run([]string{"//srv/share", "/mnt", "-o", "nosuchoption"}); got != exitUsage {
			t.Errorf("unknown option: exit %d, want %d", got, exitUsage)
		}
	})
	if !strings.Contains(stderr, `mount.smbd3: unknown mount option "nosuchoption"`) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q", stderr)
	}

	missing := filepath.Join(t.TempDir(), "missing")
	stderr = captureStderrForTest(t, func() {
		if got := run([]string{"//127.0.0.1/share", missing, "-o", "username=u,password=p"}); got != exitFailed {
			t.Errorf("missing mount point: exit %d, want %d", got, exitFailed)
		}
	})
	if want := "mount.smbd3: mount point " + missing + " does not exist\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	stderr = captureStderrForTest(t, func() {
		if got := run([]string{"//127.0.0.1/share", file, "-o", "username=u,password=p"}); got != exitFailed {
			t.Errorf("file mount point: exit %d, want %d", got, exitFailed)
		}
	})
	if !strings.Contains(stderr, "is not a directory") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestNoPasswordWithoutTerminal(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	old := os.Stdin
	os.Stdin = devNull
	defer func() { os.Stdin = old }()
	t.Setenv("PASSWD", "")
	t.Setenv("PASSWD_FD", "")
	t.Setenv("PASSWD_FILE", "")
	stderr := captureStderrForTest(t, func() {
		if got := run([]string{"//127.0.0.1/share", t.TempDir(), "-o", "username=u"}); got != exitUsage {
			t.Errorf("exit %d, want %d", got, exitUsage)
		}
	})
	if !strings.Contains(stderr, "no password given and stdin is not a terminal") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestVersionString(t *testing.T) {
	v := versionString()
	if v == "" || !strings.Contains(v, "go") {
		t.Errorf("versionString() = %q", v)
	}
	old := version
	version = "1.2.3"
	defer func() { version = old }()
	if v := versionString(); !strings.HasPrefix(v, "1.2.3 ") {
		t.Errorf("with -X main.version: %q", v)
	}
}

// captureStderrForTest runs fn with os.Stderr redirected and returns what it
// wrote.
func captureStderrForTest(t *testing.T, fn func()) string {
	t.Helper()
	out, _ := captureStderr(func() error { fn(); return nil })
	return out
}

func TestRemountFlags(t *testing.T) {
	for _, tc := range []struct {
		cur    uintptr // statfs flags of the live mount
		opts   string
		want   uintptr
		wantRO bool
	}{
		// What mount(8) passes from the mount table: the state asked for.
		{unix.ST_NOSUID | unix.ST_NODEV, "ro,nosuid,nodev,relatime,remount,user_id=0,group_id=0,max_read=1048576",
			unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_RDONLY, true},
		// From an fstab line: flags not named stay as they are.
		{unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RDONLY, "remount,rw,credentials=/dev/null",
			unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, false},
		{unix.ST_NOSUID | unix.ST_RDONLY, "remount,exec,nodev",
			unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_RDONLY, true},
		{unix.ST_NOEXEC, "remount,exec,nosuid,suid", unix.MS_REMOUNT, false},
	} {
		o, err := ParseArgs([]string{"//srv/share", "/mnt", "-o", tc.opts}, func(string) string { return "" })
		if err != nil {
			t.Fatalf("%s: %v", tc.opts, err)
		}
		if got, ro := remountFlags(tc.cur, o); got != tc.want || ro != tc.wantRO {
			t.Errorf("%s on %#x: flags %#x ro %v, want %#x %v", tc.opts, tc.cur, got, ro, tc.want, tc.wantRO)
		}
	}
}
