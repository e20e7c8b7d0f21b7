package fs

import (
	"context"
	"errors"
	"syscall"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// statusErrno maps NTSTATUS values to errno; anything else is EIO.
var statusErrno = map[smb2.Status]syscall.Errno{
	smb2.StatusObjectNameNotFound:     syscall.ENOENT,
	smb2.StatusObjectPathNotFound:     syscall.ENOENT,
	smb2.StatusNoSuchFile:             syscall.ENOENT,
	smb2.StatusNotFound:               syscall.ENOENT,
	smb2.StatusDeletePending:          syscall.ENOENT,
	smb2.StatusFileDeleted:            syscall.ENOENT,
	smb2.StatusObjectNameCollision:    syscall.EEXIST,
	smb2.StatusAccessDenied:           syscall.EACCES,
	smb2.StatusPrivilegeNotHeld:       syscall.EPERM,
	smb2.StatusCannotDelete:           syscall.EACCES,
	smb2.StatusSharingViolation:       syscall.EBUSY,
	smb2.StatusDirectoryNotEmpty:      syscall.ENOTEMPTY,
	smb2.StatusNotADirectory:          syscall.ENOTDIR,
	smb2.StatusFileIsADirectory:       syscall.EISDIR,
	smb2.StatusDiskFull:               syscall.ENOSPC,
	smb2.StatusQuotaExceeded:          syscall.EDQUOT,
	smb2.StatusNameTooLong:            syscall.ENAMETOOLONG,
	smb2.StatusObjectNameInvalid:      syscall.EINVAL,
	smb2.StatusObjectPathSyntaxBad:    syscall.EINVAL,
	smb2.StatusObjectPathInvalid:      syscall.ENOTDIR,
	smb2.StatusInvalidParameter:       syscall.EINVAL,
	smb2.StatusInvalidViewSize:        syscall.EINVAL,
	smb2.StatusNotSupported:           syscall.EOPNOTSUPP,
	smb2.StatusNotImplemented:         syscall.EOPNOTSUPP,
	smb2.StatusInvalidDeviceRequest:   syscall.EOPNOTSUPP,
	smb2.StatusInvalidInfoClass:       syscall.EOPNOTSUPP,
	smb2.StatusMediaWriteProtected:    syscall.EROFS,
	smb2.StatusFileLockConflict:       syscall.EAGAIN,
	smb2.StatusLockNotGranted:         syscall.EAGAIN,
	smb2.StatusRangeNotLocked:         syscall.ENOLCK,
	smb2.StatusNotSameDevice:          syscall.EXDEV,
	smb2.StatusIOTimeout:              syscall.ETIMEDOUT,
	smb2.StatusNoEASOnFile:            syscall.ENODATA,
	smb2.StatusNonexistentEAEntry:     syscall.ENODATA,
	smb2.StatusEAListInconsistent:     syscall.EINVAL,
	smb2.StatusInvalidEAName:          syscall.EINVAL,
	smb2.StatusTooManyLinks:           syscall.EMLINK,
	smb2.StatusFileTooLarge:           syscall.EFBIG,
	smb2.StatusInsufficientResources:  syscall.ENOMEM,
	smb2.StatusNoMemory:               syscall.ENOMEM,
	smb2.StatusCancelled:              syscall.EINTR,
	smb2.StatusNotAReparsePoint:       syscall.EINVAL,
	smb2.StatusFileSystemLimitation:   syscall.EFBIG,
	smb2.StatusNetworkNameDeleted:     syscall.EIO,
	smb2.StatusUserSessionDeleted:     syscall.EIO,
	smb2.StatusNetworkSessionExpired:  syscall.EIO,
	smb2.StatusInvalidHandle:          syscall.EBADF,
	smb2.StatusFileClosed:             syscall.EBADF,
	smb2.StatusBufferTooSmall:         syscall.ERANGE,
	smb2.StatusBadNetworkName:         syscall.ENOENT,
	smb2.StatusInvalidDeviceState:     syscall.EIO,
	smb2.StatusIOReparseTagNotHandled: syscall.EIO,
}

// toErrno is the one place errors become errno values.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if session.IsConnError(err) && !errors.Is(err, session.ErrTimeout) {
		// The connection was lost (reset, refused, closed): the same
		// EIO whatever the socket said, as a local disk that fails.
		return syscall.EIO
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	var st smb2.Status
	if errors.As(err, &st) {
		if n, ok := statusErrno[st]; ok {
			return n
		}
		return syscall.EIO
	}
	switch {
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, session.ErrTimeout):
		return syscall.ETIMEDOUT
	case errors.Is(err, session.ErrNotSupported):
		return syscall.EOPNOTSUPP
	}
	return syscall.EIO
}
