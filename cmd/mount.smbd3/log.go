package main

// Logging. In the foreground (-f) the daemon logs text lines to stderr. In
// the background it logs to syslog through /dev/log (journald's socket on
// systemd machines) with the tag "mount.smbd3" and facility daemon. When
// /dev/log is missing (containers, early boot) it appends to
// mount.smbd3.log in its runtime directory (/run/mount.smbd3 for root, see
// runtimeDir), one file shared by all the user's daemons, each line naming
// its mount point and pid; the file is rotated to mount.smbd3.log.1 at 1 MiB,
// so at most two are kept. When even that fails it discards. -v lowers the
// level to debug, which includes the SMB engine's protocol trace.
//
// Nothing here ever sees the password: the daemon logs Options.Redacted().

import (
	"bytes"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
)

// syslogTag is the program name in syslog lines.
const syslogTag = "mount.smbd3"

// logLevel is the minimum level for -v or not.
func logLevel(verbose bool) slog.Level {
	if verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// newStderrLogger logs text lines with a time stamp to w (stderr).
func newStderrLogger(w io.Writer, verbose bool) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: logLevel(verbose)}))
}

// fallbackLogName is the log file used without /dev/log, and
// fallbackLogMax the size at which it is rotated.
const (
	fallbackLogName = "mount.smbd3.log"
	fallbackLogMax  = 1 << 20
)

// newDaemonLogger logs to syslog, else to the file fallback, else nowhere.
// where says which, for the first log line; close releases it.
func newDaemonLogger(verbose bool, fallback string) (log *slog.Logger, where string, closeFn func()) {
	if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, syslogTag); err == nil {
		return newSyslogLogger(w, verbose), "syslog", func() { w.Close() }
	}
	if fallback != "" {
		if f, err := openRotating(fallback, fallbackLogMax); err == nil {
			return newStderrLogger(f, verbose), fallback, func() { f.Close() }
		}
	}
	return slog.New(slog.DiscardHandler), "nowhere", func() {}
}

// rotatingFile appends to a file and renames it to path.1 once it passes
// max bytes. Several daemons may share it: each counts from the size it saw
// when it opened or rotated, so the pair of files stays near 2*max.
type rotatingFile struct {
	path string
	max  int64

	mu   sync.Mutex // guards f and size
	f    *os.File
	size int64
}

func openRotating(path string, max int64) (*rotatingFile, error) {
	r := &rotatingFile{path: path, max: max}
	if err := r.openLocked(0); err != nil {
		return nil, err
	}
	return r, nil
}

// openLocked opens path, rotating it first if it has no room for need more
// bytes (another daemon may have rotated it already).
func (r *rotatingFile) openLocked(need int64) error {
	if fi, err := os.Stat(r.path); err == nil && fi.Size() > 0 && fi.Size()+need >= r.max {
		os.Rename(r.path, r.path+".1")
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.size+int64(len(p)) > r.max && r.size > 0 {
		old := r.f
		if err := r.openLocked(int64(len(p))); err == nil {
			old.Close()
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}

// syslogWriter is the part of *syslog.Writer the logger uses.
type syslogWriter interface {
	Debug(string) error
	Info(string) error
	Warning(string) error
	Err(string) error
}

// newSyslogLogger formats records with slog's text handler (without a time
// stamp: syslog adds its own) and sends each one at the syslog priority of
// its level.
func newSyslogLogger(w syslogWriter, verbose bool) *slog.Logger {
	lw := &levelWriter{w: w}
	return slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{
		Level: logLevel(verbose),
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// levelWriter receives one formatted record per Write, "level=INFO msg=...",
// and hands it to syslog without the level, at the matching priority.
type levelWriter struct{ w syslogWriter }

func (l *levelWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	send := l.w.Info
	if rest, ok := strings.CutPrefix(line, "level="); ok {
		lvl, msg, _ := strings.Cut(rest, " ")
		line = msg
		switch {
		case strings.HasPrefix(lvl, "DEBUG"):
			send = l.w.Debug
		case strings.HasPrefix(lvl, "WARN"):
			send = l.w.Warning
		case strings.HasPrefix(lvl, "ERROR"):
			send = l.w.Err
		}
	}
	if err := send(line); err != nil {
		return 0, err
	}
	return len(p), nil
}
