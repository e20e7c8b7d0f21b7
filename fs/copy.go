package fs

import (
	"context"
	"errors"
	"math"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/session"
)

// Server-side copy: copy_file_range(2) between two files of the mount, which
// cp (coreutils 9) uses for every regular file it copies, becomes
// FSCTL_SRV_COPYCHUNK_WRITE. The data moves inside the server and never
// crosses the network. When the server cannot copy (or the two handles are
// not of one session, as after a reconnection), the answer is EOPNOTSUPP,
// and the kernel copies by reading and writing instead.

// maxCopyCall bounds the bytes one copy_file_range request copies; the
// caller asks again for the rest, as it must for any short copy.
const maxCopyCall = 1 << 30

var _ = (fs.NodeCopyFileRanger)((*node)(nil))

// CopyFileRange copies on the server. Writes of either file that are still
// on their way go first: the copy reads what was written before it, and
// overwrites what was written before it.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	hin, ok1 := fhIn.(*handle)
	hout, ok2 := fhOut.(*handle)
	if !ok1 || !ok2 || flags != 0 || offIn > math.MaxInt64 || offOut > math.MaxInt64 {
		return 0, syscall.EOPNOTSUPP
	}
	if n.fsys.readOnly() {
		return 0, syscall.EROFS
	}
	length = min(length, maxCopyCall)
	inOff, outOff := int64(offIn), int64(offOut)
	// As a read does: everything from inOff on, so the size asked below
	// counts writes still on their way past the range too.
	if err := hin.wait(inOff, math.MaxInt64); err != 0 {
		return 0, err
	}
	hin.settleOthers(inOff, math.MaxInt64)
	outEnd := outOff + int64(length)
	if outEnd < outOff {
		outEnd = math.MaxInt64
	}
	if err := hout.wait(outOff, outEnd); err != 0 {
		return 0, err
	}
	hout.settleOthers(outOff, outEnd)

	src, dst := hin.file(), hout.file()
	if src.Tree() != dst.Tree() {
		return 0, syscall.EOPNOTSUPP
	}
	// The server copies nothing past the source's end (Samba refuses such
	// a chunk whole), and copy_file_range copies up to it.
	info, err := src.Stat(ctx)
	if err != nil {
		return 0, toErrno(err)
	}
	if inOff >= info.Size {
		return 0, 0
	}
	want := min(int64(length), info.Size-inOff)
	done, err := dst.CopyRange(ctx, src, inOff, outOff, want)
	if done > 0 {
		dn := hout.n
		dn.dropReadahead()
		dn.wrote(outOff + done)
		dn.wgen.Add(1)
		dn.fsys.wrote(dn.spath(), outOff+done)
	}
	if err != nil {
		if errors.Is(err, session.ErrNotSupported) {
			n.fsys.log.Debug("server-side copy not available, the kernel copies", "err", err)
			return uint32(done), errnoIf(done == 0, syscall.EOPNOTSUPP)
		}
		if done == 0 {
			return 0, toErrno(err)
		}
	}
	return uint32(done), 0
}

// errnoIf is e when cond holds, else 0.
func errnoIf(cond bool, e syscall.Errno) syscall.Errno {
	if cond {
		return e
	}
	return 0
}
