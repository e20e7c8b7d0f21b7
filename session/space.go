package session

import (
	"context"
	"encoding/binary"
	"errors"

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

// SetSparse marks f sparse (FSCTL_SET_SPARSE, [MS-FSCC] 2.3.84), so that
// zeroed ranges (ZeroRange) free their space and read back as holes.
func (f *File) SetSparse(ctx context.Context) error {
	cl, err := f.t.roundTrip(ctx, &request{cmd: smb2.CmdIoctl, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlSetSparse, FileID: f.id, Input: []byte{1}, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err != nil {
		return withPath(err, "set sparse", f.path)
	}
	cl.release()
	return nil
}

// rangesBuffer bounds one FSCTL_QUERY_ALLOCATED_RANGES answer: 4,096
// ranges.
var rangesBuffer = 4096 * smb2.AllocatedRangeSize // a variable for tests

// AllocatedRanges calls fn with the parts of [off, end) of f that hold
// data, in order, clipped to [off, end) (FSCTL_QUERY_ALLOCATED_RANGES,
// [MS-FSCC] 2.3.51): the gaps are holes. A file that is not sparse is all
// data. fn may stop the walk by returning false.
//
// When the ranges do not fit in one answer, Windows sends those that fit
// (STATUS_BUFFER_OVERFLOW) and the query goes on from the end of the last
// one; Samba sends none (STATUS_BUFFER_TOO_SMALL) and the query is split.
func (f *File) AllocatedRanges(ctx context.Context, off, end int64, fn func(smb2.AllocatedRange) bool) error {
	// Ranges that touch (a split query cuts one in two) are handed on as
	// one: pend is held until the next one is known not to continue it.
	var pend smb2.AllocatedRange
	stopped := false
	emit := func(r smb2.AllocatedRange) bool {
		switch {
		case pend.Length > 0 && r.Offset == pend.End():
			pend.Length += r.Length
			return true
		case pend.Length > 0 && !fn(pend):
			stopped = true
			return false
		}
		pend = r
		return true
	}
	if err := f.allocatedRanges(ctx, off, end, emit); err != nil {
		return err
	}
	if pend.Length > 0 && !stopped {
		fn(pend)
	}
	return nil
}

func (f *File) allocatedRanges(ctx context.Context, off, end int64, fn func(smb2.AllocatedRange) bool) error {
	qend := end
	for off < end {
		in := smb2.AppendAllocatedRange(nil, smb2.AllocatedRange{Offset: off, Length: qend - off})
		cl, err := f.t.roundTrip(ctx, &request{cmd: smb2.CmdIoctl, charge: charge(rangesBuffer), body: &smb2.IoctlRequest{
			CtlCode: smb2.FsctlQueryAllocatedRanges, FileID: f.id, Input: in,
			MaxOutputResponse: uint32(rangesBuffer), Flags: smb2.IoctlFlagIsFsctl,
		}})
		if errors.Is(err, smb2.StatusBufferTooSmall) && qend-off > 1 {
			qend = off + (qend-off)/2
			continue
		}
		if err != nil {
			return withPath(err, "query allocated ranges", f.path)
		}
		more := cl.hdr.Status == smb2.StatusBufferOverflow
		var resp smb2.IoctlResponse
		err = resp.Unmarshal(cl.body)
		var rs []smb2.AllocatedRange
		if err == nil {
			rs, err = smb2.ParseAllocatedRanges(resp.Output)
		}
		cl.release()
		if err != nil {
			return withPath(err, "query allocated ranges", f.path)
		}
		for _, r := range rs {
			s, e := max(r.Offset, off), min(r.End(), qend)
			if s < e && !fn(smb2.AllocatedRange{Offset: s, Length: e - s}) {
				return nil
			}
		}
		if more && len(rs) > 0 && rs[len(rs)-1].End() > off && rs[len(rs)-1].End() < qend {
			off = rs[len(rs)-1].End() // the rest of [off, qend)
			continue
		}
		off, qend = qend, end
	}
	return nil
}
