package session

import (
	"errors"
	"fmt"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Error is a request the server answered with a failure status. It unwraps
// to the smb2.Status, so errors.Is(err, smb2.StatusObjectNameNotFound) works.
type Error struct {
	Op     string // the command or operation, e.g. "CREATE" or "rename"
	Path   string // share-relative path, when there is one
	Status smb2.Status
}

func (e *Error) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("smb %s %q: %s", e.Op, e.Path, e.Status)
	}
	return fmt.Sprintf("smb %s: %s", e.Op, e.Status)
}

// Unwrap gives the NTSTATUS.
func (e *Error) Unwrap() error { return e.Status }

// ConnError means the connection (channel) failed: the request may or may
// not have reached the server. It is distinct from a request failure.
type ConnError struct {
	Addr string
	Err  error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("smb connection to %s lost: %v", e.Addr, e.Err)
}

// Unwrap gives the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// Errors the engine returns besides Error and ConnError.
var (
	ErrClosed        = errors.New("smb: session closed")
	ErrServerClosed  = errors.New("smb: server closed the connection")
	ErrTimeout       = errors.New("smb: server did not answer in time")
	ErrNoCredits     = errors.New("smb: server granted no credits")
	ErrBadSignature  = errors.New("smb: response signature does not verify")
	ErrProtocol      = errors.New("smb: protocol violation by server")
	ErrNegotiate     = errors.New("smb: negotiation failed")
	ErrAuth          = errors.New("smb: authentication failed")
	ErrNotSupported  = errors.New("smb: not supported by server")
	ErrSigningNeeded = errors.New("smb: server requires signing, which a guest or anonymous session cannot do")
)

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// IsConnError reports whether err means the channel was lost.
func IsConnError(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce)
}
