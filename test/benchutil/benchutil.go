// Package benchutil holds what the benchmark commands under test/cmd share:
// the mount table read without touching a file system, aborting a FUSE
// connection, dropping the caches between steps, dd's byte count, and
// medians.
package benchutil

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MountConn finds dir in the mount table and returns its FUSE connection
// number (the minor of the mount's device). Reading /proc/self/mountinfo
// never touches the file system, so it cannot hang on a dead mount.
func MountConn(dir string) (string, bool) {
	conn, found := "", false
	eachMount(func(fields []string) bool {
		if fields[4] == dir {
			_, conn, _ = strings.Cut(fields[2], ":")
			found = true
			return false
		}
		return true
	})
	return conn, found
}

// MountsUnder lists the mount points below dir.
func MountsUnder(dir string) []string {
	var ms []string
	eachMount(func(fields []string) bool {
		if strings.HasPrefix(fields[4], dir+"/") {
			ms = append(ms, fields[4])
		}
		return true
	})
	return ms
}

// eachMount calls fn with the fields of each line of /proc/self/mountinfo
// until fn returns false.
func eachMount(fn func(fields []string) bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && !fn(fields) {
			return
		}
	}
}

// AbortConn aborts a FUSE connection through fusectl, when it is mounted.
func AbortConn(conn string) {
	if conn != "" {
		os.WriteFile(filepath.Join("/sys/fs/fuse/connections", conn, "abort"), []byte("1"), 0o200)
	}
}

// DropCaches empties the page, dentry and inode caches after a sync.
func DropCaches(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, "sync").CombinedOutput(); err != nil {
		return fmt.Errorf("sync: %v: %s", err, out)
	}
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

var ddBytes = regexp.MustCompile(`(?m)^(\d+) bytes`)

// DDCheck makes sure dd's output says it moved want bytes.
func DDCheck(out []byte, want int64) error {
	m := ddBytes.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("dd: no byte count in %q", LastLine(string(out)))
	}
	if n, _ := strconv.ParseInt(string(m[1]), 10, 64); n != want {
		return fmt.Errorf("dd copied %d bytes, want %d", n, want)
	}
	return nil
}

// LastLine is the last line of a command's output, for error messages.
func LastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Median is the median of v (0 for none).
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
