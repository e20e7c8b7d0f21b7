package fs

import (
	"context"
	"math"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/session"
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
	if n.fsys.o.ReadOnly {
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
	f := h.f.Load()
	p := n.spath()
	info, err := f.Stat(ctx)
	if err != nil {
		return toErrno(err)
	}
	grow := mode&fallocKeepSize == 0 && end > info.Size
	if mode&(fallocPunchHole|fallocZeroRange) != 0 {
		if zend := min(end, info.Size); start < zend {
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
