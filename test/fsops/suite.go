// Package fsops is the file-operation suite of the kernel mount, written
// once and run against any server: Samba on loopback, whose share is a
// directory of this machine (fs tests), and ksmbd over SMB-Direct in the
// QEMU lab, whose disk is reached through the guest (test/lab).
//
// A Target is a live mount plus a Server: the server's own view of the
// share's disk, against which every result is checked (contents by
// checksum, sizes, times, inode numbers, the shape of a tree). What the
// server cannot store is declared in the Target with the server's reason;
// only the affected check is skipped, with that reason.
package fsops

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Server is the server's own view of the shared directory. Paths are
// slash-separated and relative to the directory the mount shows.
type Server interface {
	// ReadFile returns the content of a (small) file.
	ReadFile(p string) ([]byte, error)
	// Sum returns the hex SHA-256 of n bytes of p from offset off (n < 0:
	// to the end).
	Sum(p string, off, n int64) (string, error)
	// Stat describes p without following a final symlink; a missing path
	// gives an error that is fs.ErrNotExist.
	Stat(p string) (Stat, error)
	// Walk describes everything below the directory dir, by path relative
	// to dir.
	Walk(dir string) (map[string]Entry, error)
	// Populate creates the directory dir holding n one-byte files named
	// file-00000, file-00001, ... directly on the server's disk.
	Populate(dir string, n int) error
	// Stop stops the server (its connections break).
	Stop() error
}

// Stat is what the server's disk says about one path.
type Stat struct {
	IsDir   bool
	Size    int64
	ModTime time.Time
	Ino     uint64
	Nlink   uint64
	Link    string // the target, if p is a symlink
}

// Entry is one path of a Walk: its type ('d' directory, 'f' regular file,
// 'l' symlink), size, the hex SHA-256 of a file and the target of a symlink.
type Entry struct {
	Type   byte
	Size   int64
	Sum    string
	Target string
}

// SymlinkStore says how a symlink made through the mount ends up on the
// server's disk.
type SymlinkStore int

const (
	// MFSymlinks: the server stores no reparse points (Samba 4.17; ksmbd
	// answers FSCTL_SET_REPARSE_POINT with STATUS_NOT_SUPPORTED), so the
	// client writes a Minshall-French symlink file.
	MFSymlinks SymlinkStore = iota
	// ReparseSymlinks: the server keeps the reparse point as a symlink on
	// its disk.
	ReparseSymlinks
)

// Target is a mounted share and the server behind it.
type Target struct {
	Mnt    string // the mountpoint (the directory the suite works in)
	Server Server
	// LargeSize is the size of the large file of the data checks (default
	// 64 MiB + 12345).
	LargeSize int
	// ManyFiles is the size of the large directory (default 10000).
	ManyFiles int
	Symlinks  SymlinkStore
	// Unsupported maps a check the server cannot pass, by name (see the
	// constants below), to the server's reason; the check is skipped with
	// that reason.
	Unsupported map[string]string
}

// Names of checks a server may declare unsupported.
const (
	CheckXattr    = "xattr"             // user.* extended attributes (SMB EAs)
	CheckReadOnly = "setattr read-only" // chmod a-w kept as FILE_ATTRIBUTE_READONLY
	// Two handles to one file at once, one of them closed while the other
	// stays open: unlinking or locking a file another process has open.
	CheckTwoHandles = "two handles"
	// Punched holes that read back as holes (SEEK_HOLE): sparse files and
	// FSCTL_QUERY_ALLOCATED_RANGES on a file system with holes.
	CheckHoles = "holes"
)

func (tg *Target) m(p string) string { return filepath.Join(tg.Mnt, filepath.FromSlash(p)) }

func (tg *Target) largeSize() int {
	if tg.LargeSize > 0 {
		return tg.LargeSize
	}
	return 64<<20 + 12345
}

func (tg *Target) manyFiles() int {
	if tg.ManyFiles > 0 {
		return tg.ManyFiles
	}
	return 10000
}

// skipUnsupported skips t when the target declares check unsupported.
func (tg *Target) skipUnsupported(t *testing.T, check string) {
	t.Helper()
	if why, ok := tg.Unsupported[check]; ok {
		t.Skipf("%s: not supported by this server: %s", check, why)
	}
}

// serverFile returns the server's copy of p, failing t if it cannot.
func (tg *Target) serverFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := tg.Server.ReadFile(p)
	if err != nil {
		t.Fatalf("server's copy of %s: %v", p, err)
	}
	return b
}

// serverSum returns the server's checksum of a range of p.
func (tg *Target) serverSum(t *testing.T, p string, off, n int64) string {
	t.Helper()
	s, err := tg.Server.Sum(p, off, n)
	if err != nil {
		t.Fatalf("server's checksum of %s: %v", p, err)
	}
	return s
}

// serverStat stats p on the server, failing t unless it exists.
func (tg *Target) serverStat(t *testing.T, p string) Stat {
	t.Helper()
	st, err := tg.Server.Stat(p)
	if err != nil {
		t.Fatalf("server's stat of %s: %v", p, err)
	}
	return st
}

// serverGone reports whether p is absent on the server, failing t on
// other errors.
func (tg *Target) serverGone(t *testing.T, p string) bool {
	t.Helper()
	_, err := tg.Server.Stat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("server's stat of %s: %v", p, err)
	}
	return err != nil
}

// Case is one named check of a suite.
type Case struct {
	Name string
	Run  func(t *testing.T, tg *Target)
}

// run runs the cases named in only (all when only is empty) in suite order,
// each as a subtest.
func run(t *testing.T, tg *Target, cases []Case, only []string) {
	for _, n := range only {
		if !slices.ContainsFunc(cases, func(c Case) bool { return c.Name == n }) {
			t.Fatalf("no case %q in the suite", n)
		}
	}
	for _, c := range cases {
		if len(only) > 0 && !slices.Contains(only, c.Name) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) { c.Run(t, tg) })
	}
}

// Rnd returns n random bytes.
func Rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Sum is the hex SHA-256 of b.
func Sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func mustErrno(t *testing.T, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// poll calls ok every 20 ms until it is true or d has passed.
func poll(d time.Duration, ok func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if ok() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// localWalk describes the local tree below dir as Walk does. An entry
// that goes away while it is walked (a server deleting a file at its last
// close) is left out.
func localWalk(dir string) (map[string]Entry, error) {
	out := map[string]Entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			err = walkEntry(out, dir, p, d)
		}
		if errors.Is(err, fs.ErrNotExist) && p != dir {
			return nil
		}
		return err
	})
	return out, err
}

func walkEntry(out map[string]Entry, dir, p string, d fs.DirEntry) error {
	rel, _ := filepath.Rel(dir, p)
	rel = filepath.ToSlash(rel)
	fi, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case d.IsDir():
		out[rel] = Entry{Type: 'd'}
	case d.Type()&fs.ModeSymlink != 0:
		tgt, err := os.Readlink(p)
		if err != nil {
			return err
		}
		out[rel] = Entry{Type: 'l', Size: fi.Size(), Target: tgt}
	default:
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = Entry{Type: 'f', Size: fi.Size(), Sum: Sum(b)}
	}
	return nil
}
