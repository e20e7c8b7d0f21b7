package fs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestUnlinkReadOnly: POSIX lets a read-only file be unlinked; SMB refuses
// to delete a file with the read-only attribute, so the client clears it
// first.
func TestUnlinkReadOnly(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	m := filepath.Join(mnt, "ro")
	if err := os.WriteFile(m, []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(m); err != nil || st.Mode().Perm()&0o222 != 0 {
		t.Fatalf("mode %v %v", st, err)
	}
	if err := os.Remove(m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(srv.Dir, "ro")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("still on the server: %v", err)
	}
	if err := os.Remove(m); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second unlink: %v", err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "d")); err != nil { // rmdir
		t.Fatal(err)
	}
}
