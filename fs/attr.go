package fs

import (
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// blockSize is what stat reports as st_blksize of files: tools such as cp
// and dd size their buffers from it, and large I/O is what SMB3 does well.
//
// Directories report dirBlockSize instead: glibc sizes the getdents buffer
// of opendir from it (at least 32 KiB, at most 1 MiB), and the kernel asks
// the daemon for READDIRPLUS answers of that size, each a buffer go-fuse
// allocates and clears. 64 KiB holds some 400 entries, a typical
// directory in one call; with 1 MiB every directory of a walk cost a
// fresh megabyte.
const (
	blockSize    = 1 << 20
	dirBlockSize = 64 << 10
)

// entry is what the caches hold for a path: the server's attributes and,
// for Minshall-French symlinks, the link target.
type entry struct {
	info   session.FileInfo
	target string // symlink target (mfsymlink or reparse point), if known
	link   bool
	stale  bool // in a listing: the file changed since; only the name is current
}

func (e *entry) mode(o *Options) uint32 {
	switch {
	case e.link:
		return syscall.S_IFLNK | 0o777
	case e.info.IsDir():
		return syscall.S_IFDIR | o.DirMode&0o7777
	}
	m := syscall.S_IFREG | o.FileMode&0o7777
	if e.info.Attributes&uint32(smb2.FileAttributeReadonly) != 0 {
		m &^= 0o222
	}
	return uint32(m)
}

func (e *entry) isSymlinkReparse() bool {
	return e.info.IsReparse() && (e.info.ReparseTag == uint32(smb2.ReparseTagSymlink) ||
		e.info.ReparseTag == uint32(smb2.ReparseTagNFS) || e.info.ReparseTag == uint32(smb2.ReparseTagLXSymlink))
}

func setTime(t time.Time, sec *uint64, nsec *uint32) {
	if t.IsZero() {
		return
	}
	*sec = uint64(t.Unix())
	*nsec = uint32(t.Nanosecond())
}

func (f *fsys) fillAttr(e *entry, a *fuse.Attr) {
	a.Ino = e.info.FileID
	a.Size = uint64(e.info.Size)
	if e.link {
		a.Size = uint64(len(e.target))
	} else if end := f.writtenEnd(e.info.FileID); end > e.info.Size {
		a.Size = uint64(end)
	}
	a.Blocks = uint64(e.info.Alloc+511) / 512
	a.Blksize = blockSize
	if e.info.IsDir() {
		a.Blksize = dirBlockSize
	}
	a.Mode = e.mode(&f.o)
	a.Nlink = max(e.info.Nlink, 1)
	a.Owner = fuse.Owner{Uid: f.o.UID, Gid: f.o.GID}
	setTime(e.info.Accessed, &a.Atime, &a.Atimensec)
	setTime(e.info.Modified, &a.Mtime, &a.Mtimensec)
	setTime(e.info.Changed, &a.Ctime, &a.Ctimensec)
}
