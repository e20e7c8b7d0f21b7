package session

import (
	"context"
	"errors"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Failover ([MS-SMB2] 3.2.7, 3.2.4.1.2 replay): when a channel dies — its
// transport fails, or the watchdog finds it silent for Config.Timeout after
// an ECHO probe — it leaves the channel set, Session.ChannelSequence is
// incremented, and every request that was in flight on it and is safe to
// repeat is sent again on another channel with SMB2_FLAGS_REPLAY_OPERATION
// and the new ChannelSequence. The caller sees the replayed answer, not
// the loss. Requests answered STATUS_FILE_NOT_AVAILABLE (the server still
// has older-sequence requests of the open in flight) are retried the same
// way after a short pause.
//
// Safe to replay: requests that act on an open FileId and give the same
// result when done twice — READ, WRITE (same bytes at the same offset),
// FLUSH, QUERY_INFO, SET_INFO through a handle (size, times, attributes),
// IOCTL, CLOSE (a repeated CLOSE answered FILE_CLOSED counts as done),
// ECHO — and compounds that open, query or read, and close a file in one
// message. Not replayed: CREATE on its own (without durable or persistent
// handles the server cannot tell a replay from a second open, so a lost
// answer could leak an open or, for FILE_CREATE, fail with a collision),
// path operations that change the namespace (mkdir, rename, unlink), LOCK
// and QUERY_DIRECTORY (the enumeration cursor moves). Their callers get
// the ConnError. When the last channel dies the error surfaces too:
// reconnecting a whole session is not done here.

// maxReplays bounds how often one request is sent again.
const maxReplays = 6

// replayable reports whether a single request may be sent again after its
// channel was lost.
func replayable(r *request) bool {
	switch r.cmd {
	case smb2.CmdRead, smb2.CmdWrite, smb2.CmdFlush, smb2.CmdQueryInfo, smb2.CmdSetInfo,
		smb2.CmdClose, smb2.CmdEcho, smb2.CmdIoctl:
		return true
	}
	return false
}

// replayableCompound reports whether a compound only opens an existing
// file, reads or queries it, and closes it again.
func replayableCompound(reqs []*request) bool {
	if len(reqs) < 2 || reqs[len(reqs)-1].cmd != smb2.CmdClose {
		return false
	}
	for _, r := range reqs {
		switch r.cmd {
		case smb2.CmdCreate:
			cr, ok := r.body.(*smb2.CreateRequest)
			if !ok || cr.CreateDisposition != smb2.FileOpen ||
				cr.DesiredAccess&^(smb2.GenericRead|smb2.FileReadAttributes|smb2.FileReadEA|smb2.FileReadData|smb2.FileListDirectory|smb2.Synchronize|smb2.ReadControl) != 0 {
				return false
			}
		case smb2.CmdRead, smb2.CmdQueryInfo, smb2.CmdClose:
		case smb2.CmdIoctl:
			io, ok := r.body.(*smb2.IoctlRequest)
			if !ok || io.CtlCode != smb2.FsctlGetReparsePoint {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// do sends reqs (one request or a compound) on a channel picked for op and
// waits for every response. With replay set, a lost channel or
// STATUS_FILE_NOT_AVAILABLE sends them again on another channel as a
// replay. A chain longer than the picked channel takes goes out in
// pieces (doSplit). The calls are returned with their status unchecked;
// release them.
func (s *Session) do(ctx context.Context, sec security, op Op, replay bool, reqs ...*request) ([]*call, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.pickWait(ctx, op)
		if err != nil {
			return nil, err
		}
		if lim := c.t.Limits().MaxChainParts; lim > 0 && len(reqs) > 1 && chainParts(reqs) > lim {
			c.reserved.Add(-int64(op.Bytes))
			return s.doSplit(ctx, sec, op, replay, lim, reqs)
		}
		dones, err := prepareAll(c, reqs)
		if err != nil {
			c.reserved.Add(-int64(op.Bytes))
			return nil, err
		}
		calls, err := c.send(ctx, sec, reqs...)
		c.reserved.Add(-int64(op.Bytes))
		if err == nil {
			err = c.waitAll(ctx, calls)
		}
		if ferr := finishAll(dones, calls, err); err == nil && ferr != nil {
			for _, cl := range calls {
				cl.release()
			}
			err = ferr
		}
		if err != nil {
			if !replay || attempt >= maxReplays || ctx.Err() != nil || !IsConnError(err) || !s.canReplay(c) {
				return nil, err
			}
			s.log.Debug("replaying on another channel", "cmd", reqs[0].cmd, "lost", c.addr, "err", err)
			s.replays.Add(1)
			markReplay(reqs)
			continue
		}
		if replay && attempt < maxReplays && fileNotAvailable(calls) {
			for _, cl := range calls {
				cl.release()
			}
			markReplay(reqs)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
			}
			continue
		}
		return calls, nil
	}
}

// waitAll waits for every call; on an error it releases them all.
func (c *conn) waitAll(ctx context.Context, calls []*call) error {
	var werr error
	for _, cl := range calls {
		if err := c.wait(ctx, cl); err != nil && werr == nil {
			werr = err
		}
	}
	if werr != nil {
		for _, cl := range calls {
			cl.releaseWhenDone()
		}
	}
	return werr
}

func markReplay(reqs []*request) {
	for _, r := range reqs {
		r.replay = true
	}
}

func fileNotAvailable(calls []*call) bool {
	for _, cl := range calls {
		if cl.hdr.Status == smb2.StatusFileNotAvailable {
			return true
		}
	}
	return false
}

// canReplay reports whether another healthy channel can take the requests
// of the lost channel c.
func (s *Session) canReplay(c *conn) bool {
	p := s.live.Load()
	if p == nil {
		return false
	}
	for _, o := range *p {
		if o != c && !o.failed.Load() {
			return true
		}
	}
	return false
}

// Replays counts the requests (or compounds) the session sent again on
// another channel after losing the one they were on.
func (s *Session) Replays() uint64 { return s.replays.Load() }

// replayedClose reports a CLOSE that was replayed and found the handle
// already closed: the first attempt reached the server.
func replayedClose(r *request, err error) bool {
	return r.replay && errors.Is(err, smb2.StatusFileClosed)
}

// prepareAll adapts requests to the channel c (see request.prepare).
func prepareAll(c *conn, reqs []*request) ([]func(*call) error, error) {
	var dones []func(*call) error
	for i, r := range reqs {
		if r.prepare == nil {
			continue
		}
		if dones == nil {
			dones = make([]func(*call) error, len(reqs))
		}
		d, err := r.prepare(c)
		if err != nil {
			finishAll(dones, nil, err)
			return nil, err
		}
		dones[i] = d
	}
	return dones, nil
}

// finishAll runs what prepareAll set up once the calls are over and
// returns the first error a done reports.
func finishAll(dones []func(*call) error, calls []*call, err error) error {
	var first error
	for i, d := range dones {
		if d == nil {
			continue
		}
		var cl *call
		if err == nil && i < len(calls) {
			cl = calls[i]
		}
		if e := d(cl); e != nil && first == nil {
			first = e
		}
	}
	return first
}
