package fsops

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Local is a server whose shared directory is a directory of this machine
// (Samba on loopback).
type Local struct {
	Dir  string // the directory the mount shows
	Halt func() // stops the server
}

var _ Server = Local{}

func (l Local) path(p string) string { return filepath.Join(l.Dir, filepath.FromSlash(p)) }

// ReadFile implements Server.
func (l Local) ReadFile(p string) ([]byte, error) { return os.ReadFile(l.path(p)) }

// Sum implements Server.
func (l Local) Sum(p string, off, n int64) (string, error) {
	f, err := os.Open(l.path(p))
	if err != nil {
		return "", err
	}
	defer f.Close()
	var r io.Reader = io.NewSectionReader(f, off, 1<<62)
	if n >= 0 {
		r = io.LimitReader(r, n)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// Stat implements Server.
func (l Local) Stat(p string) (Stat, error) {
	fi, err := os.Lstat(l.path(p))
	if err != nil {
		return Stat{}, err
	}
	st := Stat{IsDir: fi.IsDir(), Size: fi.Size(), ModTime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Ino, st.Nlink = sys.Ino, uint64(sys.Nlink)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if st.Link, err = os.Readlink(l.path(p)); err != nil {
			return Stat{}, err
		}
	}
	return st, nil
}

// Walk implements Server.
func (l Local) Walk(dir string) (map[string]Entry, error) { return localWalk(l.path(dir)) }

// Populate implements Server.
func (l Local) Populate(dir string, n int) error {
	d := l.path(dir)
	if err := os.Mkdir(d, 0o777); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("file-%05d", i)), []byte("x"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Stop implements Server.
func (l Local) Stop() error {
	l.Halt()
	return nil
}
