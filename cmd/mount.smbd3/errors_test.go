package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

func testOptions(t *testing.T, extra string) *Options {
	t.Helper()
	args := []string{"//srv/share", "/mnt", "-o", "username=bob,password=secret"}
	if extra != "" {
		args[3] += "," + extra
	}
	o, err := ParseArgs(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDescribeMountError(t *testing.T) {
	authErr := func(st smb2.Status) error {
		return fmt.Errorf("%w: %w", session.ErrAuth, &session.Error{Op: "SESSION_SETUP", Status: st})
	}
	treeErr := func(st smb2.Status) error {
		return &phaseError{phase: phaseTree, err: &session.Error{Op: "tree connect", Path: "share", Status: st}}
	}
	dialErr := func(err error) error {
		return &phaseError{phase: phaseSession, err: fmt.Errorf("connect to srv:445: %w",
			&net.OpError{Op: "dial", Net: "tcp", Err: err})}
	}
	tests := []struct {
		name  string
		extra string
		err   error
		want  string
	}{
		{"wrong password", "", &phaseError{phaseSession, authErr(smb2.StatusLogonFailure)},
			"//srv/share: authentication failed for user bob: wrong password or unknown user (STATUS_LOGON_FAILURE)"},
		{"no phase defaults to session", "", authErr(smb2.StatusLogonFailure),
			"//srv/share: authentication failed for user bob: wrong password or unknown user (STATUS_LOGON_FAILURE)"},
		{"domain user", "domain=CORP", authErr(smb2.StatusLogonFailure),
			`//srv/share: authentication failed for user CORP\bob: wrong password`},
		{"disabled", "", authErr(smb2.StatusAccountDisabled), "account disabled (STATUS_ACCOUNT_DISABLED)"},
		{"expired", "", authErr(smb2.StatusPasswordExpired), "password expired (STATUS_PASSWORD_EXPIRED)"},
		{"guest refused", "guest", authErr(smb2.StatusLogonFailure), "guest login refused by srv (STATUS_LOGON_FAILURE)"},
		{"unknown share", "", treeErr(smb2.StatusBadNetworkName),
			`//srv/share: share "share" not found on srv (STATUS_BAD_NETWORK_NAME)`},
		{"tree access denied", "", treeErr(smb2.StatusAccessDenied),
			`//srv/share: access denied to share "share" for user bob (STATUS_ACCESS_DENIED)`},
		{"anonymous tree access denied", "sec=none", treeErr(smb2.StatusAccessDenied),
			`access denied to share "share" for an anonymous session (STATUS_ACCESS_DENIED)`},
		{"session access denied", "", authErr(smb2.StatusAccessDenied),
			"//srv/share: access denied for user bob (STATUS_ACCESS_DENIED)"},
		{"other tree status", "", treeErr(smb2.StatusInsufficientResources),
			`cannot connect to share "share": STATUS_INSUFFICIENT_RESOURCES`},
		{"refused", "", dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)),
			"//srv/share: cannot reach server srv:445: connection refused"},
		{"no route", "", dialErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH)),
			"cannot reach server srv:445: no route to host"},
		{"dial timeout", "", dialErr(context.DeadlineExceeded),
			"cannot reach server srv:445: no answer within 7s"},
		{"dial i/o timeout", "", dialErr(os.ErrDeadlineExceeded),
			"cannot reach server srv:445: no answer within 7s"},
		{"silent server", "", &phaseError{phaseSession, context.DeadlineExceeded},
			"server srv:445 did not answer within 7s"},
		{"engine timeout", "", &phaseError{phaseSession, session.ErrTimeout},
			"server srv:445 did not answer within 7s"},
		{"silent server over SMB-Direct", "rdma", &phaseError{phaseSession, session.ErrTimeout},
			"server srv:5445 did not answer within 7s"},
		{"dns", "", &phaseError{phaseSession, &net.DNSError{Err: "no such host", Name: "srv", IsNotFound: true}},
			`cannot resolve server name "srv"`},
		{"conn lost", "", &phaseError{phaseSession, &session.ConnError{Addr: "srv:445", Err: errors.New("EOF")}},
			"connection to srv:445 lost during setup: EOF"},
		{"reset", "", &phaseError{phaseSession, fmt.Errorf("read: %w", syscall.ECONNRESET)},
			"server srv:445 closed the connection during setup"},
		{"negotiate", "", &phaseError{phaseSession, fmt.Errorf("%w: no common dialect", session.ErrNegotiate)},
			"SMB3 negotiation with srv:445 failed: negotiation failed: no common dialect"},
		{"signing", "", &phaseError{phaseSession, session.ErrSigningNeeded},
			"the server requires signing, which a guest or anonymous session cannot do"},
		{"fuse", "", &phaseError{phaseFUSE, errors.New("/usr/bin/fusermount3: mount failed: Operation not permitted\nmore")},
			"//srv/share: FUSE mount failed: /usr/bin/fusermount3: mount failed: Operation not permitted"},
		{"fuse eperm", "", &phaseError{phaseFUSE, fmt.Errorf("fuse mount: %w", syscall.EPERM)},
			"FUSE mount failed: fuse mount: operation not permitted (regular users mount through fusermount3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t, tt.extra)
			err := describeMountError(o, tt.err, 7*time.Second)
			if got := exitCode(err); got != exitFailed {
				t.Errorf("exit code %d, want %d", got, exitFailed)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("got  %q\nwant it to contain %q", msg, tt.want)
			}
			if !strings.HasPrefix(msg, o.UNC()+": ") {
				t.Errorf("%q does not start with the UNC", msg)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "secret") {
				t.Errorf("%q: not one line, or shows the password", msg)
			}
		})
	}
}

func TestDescribeMountErrorPassesExitErrors(t *testing.T) {
	o := testOptions(t, "")
	in := usageErrorf("bad")
	if got := describeMountError(o, &phaseError{phaseTree, in}, time.Second); got != in {
		t.Errorf("got %v, want the exitError itself", got)
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{usageErrorf("x"), 1},
		{failf("x"), 32},
		{fmt.Errorf("wrapped: %w", usageErrorf("x")), 1},
		{errors.New("plain"), 32},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("  first\nsecond\n"); got != "first" {
		t.Errorf("got %q", got)
	}
}
