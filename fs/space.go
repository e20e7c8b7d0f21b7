package fs

import (
	"context"
	"errors"
	"math"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// fallocate(2) modes the mount carries out.
const (
	fallocKeepSize  = 0x01 // FALLOC_FL_KEEP_SIZE
	fallocPunchHole = 0x02 // FALLOC_FL_PUNCH_HOLE
	fallocZeroRange = 0x10 // FALLOC_FL_ZERO_RANGE
)

var _ = (fs.NodeAllocater)((*node)(nil))

// Allocate is fallocate(2): plain allocation (posix_fallocate) reserves the
// room on the server (FileAllocationInformation) and moves the end of the
// file out unless FALLOC_FL_KEEP_SIZE; FALLOC_FL_PUNCH_HOLE and
// FALLOC_FL_ZERO_RANGE make the range read as zeros (FSCTL_SET_ZERO_DATA,
// which lets the server free the space). Other modes (collapse, insert,
// unshare) have no SMB counterpart: EOPNOTSUPP.
func (n *node) Allocate(ctx context.Context, fh fs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	h, ok := fh.(*handle)
	if !ok || mode&^(fallocKeepSize|fallocPunchHole|fallocZeroRange) != 0 ||
		mode&fallocPunchHole != 0 && mode&(fallocKeepSize|fallocZeroRange) != fallocKeepSize {
		return syscall.EOPNOTSUPP
	}
	if off > math.MaxInt64 || size > math.MaxInt64-off {
		return syscall.EFBIG
	}
	start, end := int64(off), int64(off+size)
	// Every write first: the size read below must count them, and the
	// zeros must land after the data written before them.
	if errno := n.drain(); errno != 0 {
		return errno
	}
	n.dropReadahead()
	f := h.file()
	p := n.spath()
	info, err := f.Stat(ctx)
	if err != nil {
		return toErrno(err)
	}
	grow := mode&fallocKeepSize == 0 && end > info.Size
	if mode&(fallocPunchHole|fallocZeroRange) != 0 {
		if zend := min(end, info.Size); start < zend {
			if mode&fallocPunchHole != 0 && smb2.FileAttributes(info.Attributes)&smb2.FileAttributeSparseFile == 0 {
				// Only a sparse file's zeroed ranges are freed; a server
				// without sparse files writes the zeros instead.
				if err := f.SetSparse(ctx); err != nil {
					n.fsys.log.Debug("cannot make a file sparse to punch a hole", "path", p, "err", err)
				}
			}
			err = f.ZeroRange(ctx, start, zend)
		}
	} else if end > info.Alloc {
		err = f.Allocate(ctx, max(end, info.Size))
	}
	if err == nil && grow {
		err = f.SetAttr(ctx, session.SetAttr{Size: &end})
	}
	n.wgen.Add(1)
	n.fsys.stale(p)
	if err != nil {
		return toErrno(err)
	}
	if grow {
		n.wrote(end)
	}
	return 0
}

// lseek(2) whences the kernel hands to the file system.
const (
	seekData = 3 // SEEK_DATA
	seekHole = 4 // SEEK_HOLE
)

var _ = (fs.NodeLseeker)((*node)(nil))

// Lseek answers SEEK_DATA and SEEK_HOLE from the server's allocated ranges
// (FSCTL_QUERY_ALLOCATED_RANGES): cp, tar --sparse and the like then skip
// the holes of a sparse file instead of reading zeros. A server that
// cannot say gets the answers of a file without holes.
func (n *node) Lseek(ctx context.Context, fh fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	ctx = uninterrupted(ctx)
	h, ok := fh.(*handle)
	if !ok || whence != seekData && whence != seekHole {
		return 0, syscall.EINVAL
	}
	// Every write first: the size and the ranges must count them.
	if errno := n.drain(); errno != 0 {
		return 0, errno
	}
	f := h.file()
	info, err := f.Stat(ctx)
	if err != nil {
		return 0, toErrno(err)
	}
	if off >= uint64(info.Size) {
		return 0, syscall.ENXIO
	}
	start := int64(off)
	data, hole, found := start, info.Size, false
	err = f.AllocatedRanges(ctx, start, info.Size, func(r smb2.AllocatedRange) bool {
		switch {
		case !found:
			found, data, hole = true, r.Offset, r.End()
			if r.Offset > start {
				hole = start
				return false
			}
			return whence == seekHole
		case r.Offset > hole:
			return false
		}
		hole = r.End()
		return true
	})
	var serr *session.Error
	switch {
	case errors.As(err, &serr):
		n.fsys.log.Debug("no allocated ranges: the file is taken as all data", "path", n.spath(), "err", err)
		data, hole = start, info.Size
	case err != nil:
		return 0, toErrno(err)
	case !found:
		data, hole = -1, start // a hole up to the end of the file
	}
	if whence == seekData {
		if data < 0 {
			return 0, syscall.ENXIO
		}
		return uint64(data), 0
	}
	return uint64(hole), 0
}
