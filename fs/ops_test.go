package fs_test

import (
	"testing"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/fsops"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// The file-operation suite lives in test/fsops, so that the lab runs the
// same checks against ksmbd over SMB-Direct (test/lab); here it runs
// against a local Samba, whose share is a directory of this machine.

// sambaTarget mounts a Samba share and describes it for the suite.
func sambaTarget(t *testing.T, sopts samba.Options) *fsops.Target {
	mnt, srv := mounted(t, sopts, smbfs.Options{})
	return &fsops.Target{
		Mnt:    mnt,
		Server: fsops.Local{Dir: srv.Dir, Halt: srv.Stop},
		// Samba 4.17 keeps no reparse points.
		Symlinks: fsops.MFSymlinks,
	}
}

// TestFileOperations exercises each VFS operation through the kernel mount
// and checks the result on the server's disk.
func TestFileOperations(t *testing.T) {
	fsops.FileOperations(t, sambaTarget(t, samba.Options{ExtraShare: map[string]string{"ea support": "yes"}}))
}

// TestTools runs ordinary tools inside the mount.
func TestTools(t *testing.T) {
	fsops.Tools(t, sambaTarget(t, samba.Options{}))
}

// TestListLargeDirectory: ls -l of a 10,000-file directory.
func TestListLargeDirectory(t *testing.T) {
	fsops.ListLargeDirectory(t, sambaTarget(t, samba.Options{}))
}

// TestServerStopped: with the server gone, I/O fails within bounded time,
// and the mount still unmounts cleanly (mounted's cleanup checks it).
func TestServerStopped(t *testing.T) {
	fsops.ServerStopped(t, sambaTarget(t, samba.Options{}))
}
