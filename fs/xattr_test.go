package fs_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestXattrOtherNamespaces: names outside user.* are not supported, and say
// so with EOPNOTSUPP (which is what makes ls -l stop asking for ACLs and
// security labels of every file).
func TestXattrOtherNamespaces(t *testing.T) {
	mnt, _ := mounted(t, samba.Options{}, smbfs.Options{})
	f := filepath.Join(mnt, "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for _, name := range []string{"security.selinux", "system.posix_acl_access", "security.capability", "trusted.x"} {
		if _, err := unix.Lgetxattr(f, name, buf); err != syscall.EOPNOTSUPP {
			t.Errorf("getxattr %s: %v, want EOPNOTSUPP", name, err)
		}
		if err := unix.Removexattr(f, name); err != syscall.EOPNOTSUPP {
			t.Errorf("removexattr %s: %v, want EOPNOTSUPP", name, err)
		}
	}
	for _, name := range []string{"security.selinux", "trusted.x"} { // the kernel checks ACL and capability values itself
		if err := unix.Setxattr(f, name, []byte("v"), 0); err != syscall.EOPNOTSUPP {
			t.Errorf("setxattr %s: %v, want EOPNOTSUPP", name, err)
		}
	}
	// The user namespace still works after those refusals.
	if err := unix.Setxattr(f, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Getxattr(f, "user.k", buf); err != nil || string(buf[:n]) != "v" {
		t.Fatalf("user.k: %q %v", buf[:n], err)
	}
}
