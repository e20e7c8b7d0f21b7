package smb2

import "fmt"

// Status is an NTSTATUS code ([MS-ERREF] 2.3). It is an error: a request that
// failed with a status wraps it, so errors.Is(err, smb2.StatusAccessDenied)
// works along the whole chain.
type Status uint32

// Severity helpers.
func (s Status) IsError() bool   { return s>>30 == 3 }
func (s Status) IsWarning() bool { return s>>30 == 2 }

// NTSTATUS values the client meets.
const (
	StatusSuccess                Status = 0x00000000
	StatusPending                Status = 0x00000103
	StatusNotifyEnumDir          Status = 0x0000010C
	StatusBufferOverflow         Status = 0x80000005
	StatusNoMoreFiles            Status = 0x80000006
	StatusStoppedOnSymlink       Status = 0x8000002D
	StatusUnsuccessful           Status = 0xC0000001
	StatusNotImplemented         Status = 0xC0000002
	StatusInvalidInfoClass       Status = 0xC0000003
	StatusInfoLengthMismatch     Status = 0xC0000004
	StatusInvalidHandle          Status = 0xC0000008
	StatusInvalidParameter       Status = 0xC000000D
	StatusNoSuchDevice           Status = 0xC000000E
	StatusNoSuchFile             Status = 0xC000000F
	StatusInvalidDeviceRequest   Status = 0xC0000010
	StatusEndOfFile              Status = 0xC0000011
	StatusMoreProcessingRequired Status = 0xC0000016
	StatusInvalidViewSize        Status = 0xC000001F
	StatusNoMemory               Status = 0xC0000017
	StatusAccessDenied           Status = 0xC0000022
	StatusBufferTooSmall         Status = 0xC0000023
	StatusObjectTypeMismatch     Status = 0xC0000024
	StatusObjectNameInvalid      Status = 0xC0000033
	StatusObjectNameNotFound     Status = 0xC0000034
	StatusObjectNameCollision    Status = 0xC0000035
	StatusObjectPathInvalid      Status = 0xC0000039
	StatusObjectPathNotFound     Status = 0xC000003A
	StatusObjectPathSyntaxBad    Status = 0xC000003B
	StatusDataError              Status = 0xC000003E
	StatusSharingViolation       Status = 0xC0000043
	StatusEAListInconsistent     Status = 0xC0000050
	StatusFileLockConflict       Status = 0xC0000054
	StatusLockNotGranted         Status = 0xC0000055
	StatusDeletePending          Status = 0xC0000056
	StatusPrivilegeNotHeld       Status = 0xC0000061
	StatusWrongPassword          Status = 0xC000006A
	StatusLogonFailure           Status = 0xC000006D
	StatusAccountRestriction     Status = 0xC000006E
	StatusPasswordExpired        Status = 0xC0000071
	StatusAccountDisabled        Status = 0xC0000072
	StatusRangeNotLocked         Status = 0xC000007E
	StatusDiskFull               Status = 0xC000007F
	StatusInsufficientResources  Status = 0xC000009A
	StatusFileIsADirectory       Status = 0xC00000BA
	StatusNotSupported           Status = 0xC00000BB
	StatusNetworkNameDeleted     Status = 0xC00000C9
	StatusBadNetworkName         Status = 0xC00000CC
	StatusRequestNotAccepted     Status = 0xC00000D0
	StatusNotSameDevice          Status = 0xC00000D4
	StatusFileRenamed            Status = 0xC00000D5
	StatusDirectoryNotEmpty      Status = 0xC0000101
	StatusNotADirectory          Status = 0xC0000103
	StatusNameTooLong            Status = 0xC0000106
	StatusCancelled              Status = 0xC0000120
	StatusFileDeleted            Status = 0xC0000123
	StatusFileClosed             Status = 0xC0000128
	StatusInvalidLevel           Status = 0xC0000148
	StatusPipeBroken             Status = 0xC000014B
	StatusMediaWriteProtected    Status = 0xC00000A2
	StatusIOTimeout              Status = 0xC00000B5
	StatusInvalidNetworkResponse Status = 0xC00000C3
	StatusUserSessionDeleted     Status = 0xC0000203
	StatusNetworkSessionExpired  Status = 0xC000035C
	StatusConnectionDisconnected Status = 0xC000020C
	StatusConnectionReset        Status = 0xC000020D
	StatusNotAReparsePoint       Status = 0xC0000275
	StatusIOReparseTagNotHandled Status = 0xC0000279
	StatusFileSystemLimitation   Status = 0xC0000427
	StatusNotFound               Status = 0xC0000225
	StatusStoppedOnSymlinkError  Status = 0xC0000280
	StatusQuotaExceeded          Status = 0xC0000044
	StatusTooManyLinks           Status = 0xC0000265
	StatusFileTooLarge           Status = 0xC0000904
	StatusCannotDelete           Status = 0xC0000121
	StatusServerUnavailable      Status = 0xC0000466
	StatusNoEASOnFile            Status = 0xC0000052
	StatusNonexistentEAEntry     Status = 0xC0000051
	StatusInvalidEAName          Status = 0x80000013
	StatusUnexpectedNetworkError Status = 0xC00000C4
	StatusDuplicateName          Status = 0xC00000BD
	StatusHostUnreachable        Status = 0xC000023D
	StatusBadImpersonationLevel  Status = 0xC00000A5
	StatusFileNotAvailable       Status = 0xC0000467
	StatusInvalidDeviceState     Status = 0xC0000184
)

var statusNames = map[Status]string{
	StatusSuccess:                "STATUS_SUCCESS",
	StatusPending:                "STATUS_PENDING",
	StatusNotifyEnumDir:          "STATUS_NOTIFY_ENUM_DIR",
	StatusBufferOverflow:         "STATUS_BUFFER_OVERFLOW",
	StatusNoMoreFiles:            "STATUS_NO_MORE_FILES",
	StatusStoppedOnSymlink:       "STATUS_STOPPED_ON_SYMLINK",
	StatusUnsuccessful:           "STATUS_UNSUCCESSFUL",
	StatusNotImplemented:         "STATUS_NOT_IMPLEMENTED",
	StatusInvalidInfoClass:       "STATUS_INVALID_INFO_CLASS",
	StatusInfoLengthMismatch:     "STATUS_INFO_LENGTH_MISMATCH",
	StatusInvalidHandle:          "STATUS_INVALID_HANDLE",
	StatusInvalidParameter:       "STATUS_INVALID_PARAMETER",
	StatusNoSuchDevice:           "STATUS_NO_SUCH_DEVICE",
	StatusNoSuchFile:             "STATUS_NO_SUCH_FILE",
	StatusInvalidDeviceRequest:   "STATUS_INVALID_DEVICE_REQUEST",
	StatusEndOfFile:              "STATUS_END_OF_FILE",
	StatusMoreProcessingRequired: "STATUS_MORE_PROCESSING_REQUIRED",
	StatusInvalidViewSize:        "STATUS_INVALID_VIEW_SIZE",
	StatusNoMemory:               "STATUS_NO_MEMORY",
	StatusAccessDenied:           "STATUS_ACCESS_DENIED",
	StatusBufferTooSmall:         "STATUS_BUFFER_TOO_SMALL",
	StatusObjectTypeMismatch:     "STATUS_OBJECT_TYPE_MISMATCH",
	StatusObjectNameInvalid:      "STATUS_OBJECT_NAME_INVALID",
	StatusObjectNameNotFound:     "STATUS_OBJECT_NAME_NOT_FOUND",
	StatusObjectNameCollision:    "STATUS_OBJECT_NAME_COLLISION",
	StatusObjectPathInvalid:      "STATUS_OBJECT_PATH_INVALID",
	StatusObjectPathNotFound:     "STATUS_OBJECT_PATH_NOT_FOUND",
	StatusObjectPathSyntaxBad:    "STATUS_OBJECT_PATH_SYNTAX_BAD",
	StatusDataError:              "STATUS_DATA_ERROR",
	StatusSharingViolation:       "STATUS_SHARING_VIOLATION",
	StatusEAListInconsistent:     "STATUS_EA_LIST_INCONSISTENT",
	StatusFileLockConflict:       "STATUS_FILE_LOCK_CONFLICT",
	StatusLockNotGranted:         "STATUS_LOCK_NOT_GRANTED",
	StatusDeletePending:          "STATUS_DELETE_PENDING",
	StatusPrivilegeNotHeld:       "STATUS_PRIVILEGE_NOT_HELD",
	StatusWrongPassword:          "STATUS_WRONG_PASSWORD",
	StatusLogonFailure:           "STATUS_LOGON_FAILURE",
	StatusAccountRestriction:     "STATUS_ACCOUNT_RESTRICTION",
	StatusPasswordExpired:        "STATUS_PASSWORD_EXPIRED",
	StatusAccountDisabled:        "STATUS_ACCOUNT_DISABLED",
	StatusRangeNotLocked:         "STATUS_RANGE_NOT_LOCKED",
	StatusDiskFull:               "STATUS_DISK_FULL",
	StatusInsufficientResources:  "STATUS_INSUFFICIENT_RESOURCES",
	StatusFileIsADirectory:       "STATUS_FILE_IS_A_DIRECTORY",
	StatusNotSupported:           "STATUS_NOT_SUPPORTED",
	StatusNetworkNameDeleted:     "STATUS_NETWORK_NAME_DELETED",
	StatusBadNetworkName:         "STATUS_BAD_NETWORK_NAME",
	StatusRequestNotAccepted:     "STATUS_REQUEST_NOT_ACCEPTED",
	StatusNotSameDevice:          "STATUS_NOT_SAME_DEVICE",
	StatusFileRenamed:            "STATUS_FILE_RENAMED",
	StatusDirectoryNotEmpty:      "STATUS_DIRECTORY_NOT_EMPTY",
	StatusNotADirectory:          "STATUS_NOT_A_DIRECTORY",
	StatusNameTooLong:            "STATUS_NAME_TOO_LONG",
	StatusCancelled:              "STATUS_CANCELLED",
	StatusFileDeleted:            "STATUS_FILE_DELETED",
	StatusFileClosed:             "STATUS_FILE_CLOSED",
	StatusInvalidLevel:           "STATUS_INVALID_LEVEL",
	StatusPipeBroken:             "STATUS_PIPE_BROKEN",
	StatusMediaWriteProtected:    "STATUS_MEDIA_WRITE_PROTECTED",
	StatusIOTimeout:              "STATUS_IO_TIMEOUT",
	StatusInvalidNetworkResponse: "STATUS_INVALID_NETWORK_RESPONSE",
	StatusUserSessionDeleted:     "STATUS_USER_SESSION_DELETED",
	StatusNetworkSessionExpired:  "STATUS_NETWORK_SESSION_EXPIRED",
	StatusConnectionDisconnected: "STATUS_CONNECTION_DISCONNECTED",
	StatusConnectionReset:        "STATUS_CONNECTION_RESET",
	StatusNotAReparsePoint:       "STATUS_NOT_A_REPARSE_POINT",
	StatusIOReparseTagNotHandled: "STATUS_IO_REPARSE_TAG_NOT_HANDLED",
	StatusFileSystemLimitation:   "STATUS_FILE_SYSTEM_LIMITATION",
	StatusNotFound:               "STATUS_NOT_FOUND",
	StatusQuotaExceeded:          "STATUS_QUOTA_EXCEEDED",
	StatusTooManyLinks:           "STATUS_TOO_MANY_LINKS",
	StatusFileTooLarge:           "STATUS_FILE_TOO_LARGE",
	StatusCannotDelete:           "STATUS_CANNOT_DELETE",
	StatusServerUnavailable:      "STATUS_SERVER_UNAVAILABLE",
	StatusNoEASOnFile:            "STATUS_NO_EAS_ON_FILE",
	StatusNonexistentEAEntry:     "STATUS_NONEXISTENT_EA_ENTRY",
	StatusInvalidEAName:          "STATUS_INVALID_EA_NAME",
	StatusUnexpectedNetworkError: "STATUS_UNEXPECTED_NETWORK_ERROR",
	StatusDuplicateName:          "STATUS_DUPLICATE_NAME",
	StatusHostUnreachable:        "STATUS_HOST_UNREACHABLE",
	StatusBadImpersonationLevel:  "STATUS_BAD_IMPERSONATION_LEVEL",
	StatusFileNotAvailable:       "STATUS_FILE_NOT_AVAILABLE",
	StatusInvalidDeviceState:     "STATUS_INVALID_DEVICE_STATE",
}

// String gives the symbolic name, or the hex code.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("NTSTATUS(0x%08x)", uint32(s))
}

// Error makes Status an error.
func (s Status) Error() string { return s.String() }
