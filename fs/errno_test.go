package fs

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

func TestToErrno(t *testing.T) {
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{&session.Error{Op: "open", Status: smb2.StatusObjectNameNotFound}, syscall.ENOENT},
		{fmt.Errorf("wrapped: %w", syscall.ENOSPC), syscall.ENOSPC},
		// A lost connection is EIO whatever the socket said.
		{&session.ConnError{Addr: "a", Err: syscall.ECONNRESET}, syscall.EIO},
		{&session.ConnError{Addr: "a", Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, syscall.EIO},
		{&session.ConnError{Addr: "a", Err: session.ErrServerClosed}, syscall.EIO},
		{&session.ConnError{Addr: "a", Err: fmt.Errorf("%w (8s without a reply)", session.ErrTimeout)}, syscall.ETIMEDOUT},
		{context.Canceled, syscall.EINTR},
		{io.ErrUnexpectedEOF, syscall.EIO},
	} {
		if got := toErrno(c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
