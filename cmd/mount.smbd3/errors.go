package main

// Error reporting: every failure reaches the user as exactly one line on
// stderr, "mount.smbd3: <what>: <why>", and an exit status from mount(8)'s
// table:
//
//	0   success
//	1   incorrect invocation or permissions: a bad flag or -o option, no
//	    password and no terminal to ask for one, allow_other without
//	    user_allow_other, the status subcommand finding no daemon
//	32  mount failure: everything that goes wrong while mounting (mount
//	    point missing or unusable, server unreachable, authentication,
//	    share not found, access denied, the FUSE mount itself)
//
// describeMountError turns engine and network errors into that one line; it
// is the only place that knows which NTSTATUS means what to a user.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Exit statuses (mount(8), "RETURN CODES").
const (
	exitOK     = 0
	exitUsage  = 1  // incorrect invocation or permissions
	exitFailed = 32 // mount failure
)

// exitError is a failure with the message to print and the exit status.
type exitError struct {
	code int
	msg  string // one line, without the "mount.smbd3: " prefix
}

func (e *exitError) Error() string { return e.msg }

// usageErrorf is an exit status 1 failure.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// failf is an exit status 32 failure.
func failf(format string, args ...any) error {
	return &exitError{code: exitFailed, msg: fmt.Sprintf(format, args...)}
}

// exitCode is the status err calls for: exitError's own, else 32.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err == nil {
		return exitOK
	}
	return exitFailed
}

// oneLine makes s a single line: the first line of a multi-line message,
// trimmed (fusermount3 and the kernel end theirs with newlines).
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// Phases of mounting, for describeMountError: the same status means
// different things during session setup and tree connect.
const (
	phaseSession = "session" // connect, negotiate, authenticate
	phaseTree    = "tree"    // tree connect and the subdir check
	phaseFUSE    = "fuse"    // the kernel mount
)

// phaseError remembers in which phase err happened.
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string { return e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// userName is the account as the user wrote it: DOMAIN\user.
func userName(o *Options) string {
	if o.Domain != "" {
		return o.Domain + `\` + o.Username
	}
	return o.Username
}

// describeMountError explains a mount failure in one line, prefixed with the
// UNC. err is usually a *phaseError; an *exitError passes through unchanged.
func describeMountError(o *Options, err error, dialTimeout time.Duration) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	phase := phaseSession
	var pe *phaseError
	if errors.As(err, &pe) {
		phase = pe.phase
	}
	return failf("%s: %s", o.UNC(), cause(o, phase, err, dialTimeout))
}

// cause is the part of the message after the UNC.
func cause(o *Options, phase string, err error, dialTimeout time.Duration) string {
	server := o.Server
	who := fmt.Sprintf("user %s", quoteIfNeeded(userName(o)))
	if o.Sec == "none" {
		who = "an anonymous session"
	}

	var st smb2.Status
	if errors.As(err, &st) {
		name := st.String()
		switch st {
		case smb2.StatusLogonFailure, smb2.StatusWrongPassword:
			if o.Guest {
				return fmt.Sprintf("guest login refused by %s (%s)", server, name)
			}
			return fmt.Sprintf("authentication failed for %s: wrong password or unknown user (%s)", who, name)
		case smb2.StatusAccountDisabled:
			return fmt.Sprintf("authentication failed for %s: account disabled (%s)", who, name)
		case smb2.StatusPasswordExpired:
			return fmt.Sprintf("authentication failed for %s: password expired (%s)", who, name)
		case smb2.StatusAccountRestriction:
			return fmt.Sprintf("authentication failed for %s: account restriction, e.g. an empty password is not allowed (%s)", who, name)
		case smb2.StatusBadNetworkName:
			return fmt.Sprintf("share %q not found on %s (%s)", o.Share, server, name)
		case smb2.StatusAccessDenied:
			if phase == phaseTree {
				return fmt.Sprintf("access denied to share %q for %s (%s)", o.Share, who, name)
			}
			return fmt.Sprintf("access denied for %s (%s)", who, name)
		case smb2.StatusObjectNameNotFound, smb2.StatusObjectPathNotFound:
			if phase == phaseTree && o.Subdir != "" {
				return fmt.Sprintf("directory %q not found in share %q (%s)", o.Subdir, o.Share, name)
			}
		}
		if phase == phaseTree {
			return fmt.Sprintf("cannot connect to share %q: %s", o.Share, name)
		}
		if errors.Is(err, session.ErrAuth) {
			return fmt.Sprintf("authentication failed for %s (%s)", who, name)
		}
		return fmt.Sprintf("%s refused the session (%s)", server, name)
	}

	switch {
	case errors.Is(err, session.ErrSigningNeeded):
		return "the server requires signing, which a guest or anonymous session cannot do (give a user name and password)"
	case errors.Is(err, session.ErrNegotiate):
		return fmt.Sprintf("SMB3 negotiation with %s failed: %s (the server must offer SMB 3.0 or later; check vers=)", o.Addr(), stripPrefix(err))
	case errors.Is(err, session.ErrAuth):
		return fmt.Sprintf("authentication failed for %s: %s", who, stripPrefix(err))
	case errors.Is(err, session.ErrNotSupported):
		return stripPrefix(err)
	}

	if phase == phaseFUSE {
		return "FUSE mount failed: " + fuseCause(err)
	}

	// Network failures.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return fmt.Sprintf("cannot resolve server name %q", o.Server)
		}
		return fmt.Sprintf("cannot resolve server name %q: %s", o.Server, dnsErr.Err)
	}
	var opErr *net.OpError
	dialing := errors.As(err, &opErr) && opErr.Op == "dial"
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach server %s: connection refused (no SMB server on that port?)", o.Addr())
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("cannot reach server %s: no route to host", o.Addr())
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Sprintf("server %s closed the connection during setup (SMB3 disabled, or too many connections?)", o.Addr())
	case isTimeout(err) && dialing:
		return fmt.Sprintf("cannot reach server %s: no answer within %s", o.Addr(), dialTimeout)
	case isTimeout(err):
		return fmt.Sprintf("server %s did not answer within %s", o.Addr(), dialTimeout)
	case dialing:
		return fmt.Sprintf("cannot reach server %s: %s", o.Addr(), opErr.Err)
	case session.IsConnError(err):
		var ce *session.ConnError
		errors.As(err, &ce)
		return fmt.Sprintf("connection to %s lost during setup: %s", o.Addr(), stripPrefix(ce.Err))
	case errors.Is(err, session.ErrClosed):
		return fmt.Sprintf("connection to %s lost during setup", o.Addr())
	}
	return stripPrefix(err)
}

// isTimeout reports deadline and timeout errors of every kind in the chain.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, session.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fuseCause explains a failed kernel mount.
func fuseCause(err error) string {
	switch {
	case errors.Is(err, syscall.ENODEV), errors.Is(err, os.ErrNotExist) && strings.Contains(err.Error(), "/dev/fuse"):
		return "the kernel has no FUSE support (modprobe fuse)"
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("%s (regular users mount through fusermount3, which must be installed setuid root)", oneLine(err.Error()))
	}
	return oneLine(err.Error())
}

// stripPrefix drops the engine's "smb: " prefix, which says nothing to a
// user who is mounting an SMB share.
func stripPrefix(err error) string {
	return oneLine(strings.ReplaceAll(err.Error(), "smb: ", ""))
}
