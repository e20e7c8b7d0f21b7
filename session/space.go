package session

import (
	"context"
	"encoding/binary"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Space of an open file: what fallocate(2) maps to.

// Allocate asks the server to reserve room for the first size bytes of f
// (FileAllocationInformation, [MS-FSCC] 2.4.4) without changing its end.
// A size below the file's end would cut the file there: callers pass at
// least the end.
func (f *File) Allocate(ctx context.Context, size int64) error {
	buf := binary.LittleEndian.AppendUint64(nil, uint64(size))
	cl, err := f.t.roundTrip(ctx, setInfo(f.id, smb2.InfoTypeFile, uint8(smb2.FileAllocationInformationClass), buf))
	if err != nil {
		return withPath(err, "allocate", f.path)
	}
	cl.release()
	return nil
}

// ZeroRange makes the bytes [off, end) of f read as zeros
// (FSCTL_SET_ZERO_DATA, [MS-FSCC] 2.3.85); a server may free their space.
// The file's end does not move.
func (f *File) ZeroRange(ctx context.Context, off, end int64) error {
	in := binary.LittleEndian.AppendUint64(nil, uint64(off))
	in = binary.LittleEndian.AppendUint64(in, uint64(end))
	cl, err := f.t.roundTrip(ctx, &request{cmd: smb2.CmdIoctl, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlSetZeroData, FileID: f.id, Input: in, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err != nil {
		return withPath(err, "zero range", f.path)
	}
	cl.release()
	return nil
}
