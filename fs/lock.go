package fs

import (
	"context"
	"math"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// POSIX (fcntl) and BSD (flock) locks map to SMB byte-range locks on the
// handle ([MS-SMB2] 3.2.4.19). SMB locks do not merge, split or convert as
// POSIX locks do, so each handle remembers what it holds: relocking a held
// range with another type releases and retakes it, and an unlock that
// covers part of a lock retakes the parts left over. flock locks the whole
// file. SMB locks are enforced by the server for everyone (mandatory), not
// only for cooperating lockers.

type posixLock struct {
	owner      uint64
	start, end uint64 // [start, end]
	excl       bool
}

func (l posixLock) elem(flags uint32) smb2.LockElement {
	return smb2.LockElement{Offset: l.start, Length: l.end - l.start + 1, Flags: flags}
}

func lockRange(lk *fuse.FileLock, flock bool) (uint64, uint64) {
	if flock {
		return 0, math.MaxUint64 - 1
	}
	end := lk.End
	if end == math.MaxUint64 {
		end = math.MaxUint64 - 1
	}
	return lk.Start, end
}

var _ = (fs.FileGetlker)((*handle)(nil))

// Getlk tests whether a lock could be taken: SMB has no test operation, so
// it takes the lock without waiting and releases it.
func (h *handle) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	ctx = uninterrupted(ctx)
	start, end := lockRange(lk, flags&fuse.FUSE_LK_FLOCK != 0)
	l := posixLock{owner: owner, start: start, end: end, excl: lk.Typ == syscall.F_WRLCK}
	h.mu.Lock()
	for _, held := range h.locks {
		if held.start <= end && start <= held.end {
			h.mu.Unlock()
			*out = fuse.FileLock{Typ: syscall.F_UNLCK}
			return 0 // our own locks never conflict with us
		}
	}
	h.mu.Unlock()
	f := uint32(smb2.LockShared)
	if l.excl {
		f = smb2.LockExclusive
	}
	err := h.file().Lock(ctx, []smb2.LockElement{l.elem(f | smb2.LockFailImmediately)})
	if err == nil {
		h.file().Lock(context.WithoutCancel(ctx), []smb2.LockElement{l.elem(smb2.LockUnlock)})
		*out = fuse.FileLock{Typ: syscall.F_UNLCK}
		return 0
	}
	if toErrno(err) != syscall.EAGAIN {
		return toErrno(err)
	}
	*out = fuse.FileLock{Start: start, End: end, Typ: syscall.F_WRLCK, Pid: 0}
	return 0
}

var _ = (fs.FileSetlker)((*handle)(nil))

// Setlk takes or releases a lock without waiting.
func (h *handle) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	return h.setlk(ctx, owner, lk, flags, false)
}

var _ = (fs.FileSetlkwer)((*handle)(nil))

// Setlkw takes a lock, waiting for it (interruptible).
func (h *handle) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.setlk(ctx, owner, lk, flags, true)
}

func (h *handle) setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, wait bool) syscall.Errno {
	start, end := lockRange(lk, flags&fuse.FUSE_LK_FLOCK != 0)
	if errno := h.unlockRange(ctx, owner, start, end); errno != 0 {
		return errno
	}
	if lk.Typ == syscall.F_UNLCK {
		return 0
	}
	l := posixLock{owner: owner, start: start, end: end, excl: lk.Typ == syscall.F_WRLCK}
	f := uint32(smb2.LockShared)
	if l.excl {
		f = smb2.LockExclusive
	}
	if !wait {
		f |= smb2.LockFailImmediately
	}
	if err := h.file().Lock(ctx, []smb2.LockElement{l.elem(f)}); err != nil {
		return toErrno(err)
	}
	h.mu.Lock()
	h.locks = append(h.locks, l)
	h.mu.Unlock()
	return 0
}

// unlockRange releases the owner's locks overlapping [start, end] and
// retakes the parts outside it.
func (h *handle) unlockRange(ctx context.Context, owner, start, end uint64) syscall.Errno {
	h.mu.Lock()
	var hit, keep []posixLock
	for _, l := range h.locks {
		if l.owner == owner && l.start <= end && start <= l.end {
			hit = append(hit, l)
		} else {
			keep = append(keep, l)
		}
	}
	h.locks = keep
	h.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	for _, l := range hit {
		if err := h.file().Lock(ctx, []smb2.LockElement{l.elem(smb2.LockUnlock)}); err != nil {
			return toErrno(err)
		}
		var rest []posixLock
		if l.start < start {
			rest = append(rest, posixLock{owner, l.start, start - 1, l.excl})
		}
		if l.end > end {
			rest = append(rest, posixLock{owner, end + 1, l.end, l.excl})
		}
		for _, r := range rest {
			f := uint32(smb2.LockShared | smb2.LockFailImmediately)
			if r.excl {
				f = smb2.LockExclusive | smb2.LockFailImmediately
			}
			if err := h.file().Lock(ctx, []smb2.LockElement{r.elem(f)}); err == nil {
				h.mu.Lock()
				h.locks = append(h.locks, r)
				h.mu.Unlock()
			}
		}
	}
	return 0
}
