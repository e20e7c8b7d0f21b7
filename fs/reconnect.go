package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smbd3/mount.smbd3/session"
)

// Reconnection. A session whose every channel has failed (the server
// restarted, or the network dropped the last connection) can do nothing
// more, and multichannel cannot help: a server that restarted knows the
// session no more. With Options.Reconnect set, the next operation that
// needs the server finds the session lost and first sets up a new session
// and tree connection, so that a mount outlives a server restart as Linux
// cifs mounts do. One attempt runs at a time, and every operation that
// arrives meanwhile waits for it (Reconnect bounds it). After a failed
// attempt, operations fail at once (EIO) until the backoff has passed, so
// a server that stays away costs each operation no wait, and one that
// comes back is found within reconnectBackoffMax.
//
// A handle the server made durable (a lease and a durable handle, asked
// for at open; see session/durable.go) is reclaimed on the new session at
// its next use (file): the server kept it for us. Writes of such a handle
// that were in flight when the connection dropped are sent again on the
// reclaimed open (a WRITE of the same bytes at the same offset does no
// harm if the server had done it), so a program writing through a network
// drop sees no error. A handle holding byte-range locks is not reclaimed,
// although the protocol keeps the locks with the open: Samba 4.17 with its
// default "posix locking = yes" grants such opens durability, then
// panics (the smbd serving the new session dies) when one is reclaimed.
//
// A server may refuse the reclaim: it restarted (Samba keeps durable
// handles only while smbd runs), the handle timed out, or the file changed
// on its disk (Samba compares the file's stat with one it took at the
// loss, and our writes still running then change it). The handle is then
// opened again by path, as the Linux client does, and its writes in flight
// are sent again there, when the path still leads to the same file (same
// file id and creation time) and the file is at least as long as what the
// server acknowledged writing through the handle (shorter, the server lost
// data it had acknowledged, as a crash of its machine may).
//
// Otherwise what the old session held is gone: open files, byte-range
// locks, and write-behind data that had not reached the server (its error
// is reported by the flush or fsync of the handle that wrote it). A handle
// open for reading only, without locks, is opened again on the new
// session at its next read (file), when its path still leads to the same
// file; the others keep their lost server handle, and their reads, writes
// and fsync fail with EIO: what they wrote or locked may be gone, and the
// program must open the file again. Other operations in flight when the
// connection dropped fail too: whether the server carried them out is
// unknown, so none is sent again. The caches are emptied, since the
// server's files may have changed while it was out of reach.

const (
	reconnectTimeout    = 15 * time.Second // bound of one attempt, if Reconnect sets none tighter
	reconnectBackoffMin = 500 * time.Millisecond
	reconnectBackoffMax = 8 * time.Second
)

// reconnState is the fsys part of reconnection.
type reconnState struct {
	cur     atomic.Pointer[session.Tree] // the tree operations go to
	mu      sync.Mutex
	running chan struct{} // guarded by mu: closed when the attempt in flight ends; nil if none
	next    time.Time     // guarded by mu: no attempt before this, after a failure
	backoff time.Duration // guarded by mu: the wait after the last failure
}

// tree is the tree to send an operation to: the current one or, when its
// session is lost and the mount can reconnect, a new one. If reconnecting
// fails or is backing off, it is the lost tree, whose operations fail with
// the connection's error.
func (f *fsys) tree() *session.Tree {
	t := f.rc.cur.Load()
	if f.o.Reconnect == nil || !t.Session().Lost() {
		return t
	}
	return f.reconnect(t)
}

func (f *fsys) reconnect(lost *session.Tree) *session.Tree {
	r := &f.rc
	r.mu.Lock()
	if cur := r.cur.Load(); cur != lost {
		r.mu.Unlock()
		return cur // another operation reconnected meanwhile
	}
	if r.running == nil {
		if time.Now().Before(r.next) {
			r.mu.Unlock()
			return lost
		}
		r.running = make(chan struct{})
		go f.redial(lost, r.running)
	}
	done := r.running
	r.mu.Unlock()
	<-done
	return r.cur.Load()
}

// redial makes one attempt to replace the lost tree.
func (f *fsys) redial(lost *session.Tree, done chan struct{}) {
	f.log.Warn("connection to the server lost; reconnecting")
	ctx, cancel := context.WithTimeout(context.Background(), reconnectTimeout)
	t, err := f.o.Reconnect(ctx)
	cancel()
	r := &f.rc
	r.mu.Lock()
	if err == nil {
		// Drop what the caches know before the new tree is used: the
		// server's files may have changed while it was away.
		f.attrs.Clear()
		f.dirs.Clear()
		t.Session().OnLeaseBreak(f.leaseBroken)
		r.cur.Store(t)
		r.backoff, r.next = 0, time.Time{}
	} else {
		r.backoff = min(max(2*r.backoff, reconnectBackoffMin), reconnectBackoffMax)
		r.next = time.Now().Add(r.backoff)
	}
	backoff := r.backoff
	r.running = nil
	r.mu.Unlock()
	close(done)
	if err != nil {
		f.log.Warn("reconnect failed", "err", err, "retry_after", backoff)
		return
	}
	f.log.Warn("reconnected to the server: files opened before the loss must be opened again")
}

// file is the server handle h works through: its own or, after a
// reconnection, the durable open reclaimed or one opened again on the new
// session (see above). When that cannot be done, it is the lost one, whose
// operations fail.
func (h *handle) file() *session.File {
	f := h.f.Load()
	fsys := h.n.fsys
	writer := h.flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if fsys.o.Reconnect == nil || (!f.Durable() && writer) {
		return f
	}
	cur := fsys.tree()
	if f.Tree() == cur || cur.Session().Lost() {
		return f
	}
	h.reopenMu.Lock()
	defer h.reopenMu.Unlock()
	if f = h.f.Load(); f.Tree() == cur || h.lost == f {
		return f // reopened meanwhile, or given up
	}
	h.mu.Lock()
	locked, closed := len(h.locks) > 0, h.closed
	h.mu.Unlock()
	if closed {
		return f // a released handle (a read-ahead still running) needs nothing
	}
	h.lost = f // unless one of the below brings it back
	ctx, cancel := context.WithTimeout(context.Background(), reconnectTimeout)
	defer cancel()
	if f.Durable() {
		if locked {
			// See above: Samba may panic; and without the open, the
			// locks are gone: going on as if held would lie.
			fsys.o.Control.lost.Add(1)
			fsys.log.Warn("durable handle holding locks not reclaimed after reconnecting", "path", f.Path())
			return f
		}
		nf, err := cur.Reopen(ctx, f)
		if err == nil {
			h.f.Store(nf)
			fsys.o.Control.reclaimed.Add(1)
			fsys.log.Info("durable handle reclaimed after reconnecting", "path", f.Path())
			return nf
		}
		fsys.log.Warn("durable handle not reclaimed after reconnecting", "path", f.Path(), "err", err)
		// The server let it go (it restarted, the handle timed out, or
		// it found the file changed: Samba compares its stat with one
		// taken at the loss, and writes of ours still running then
		// change it). Open the same file again, as for a reader below.
	} else if locked {
		return f // the locks are gone: reading on as if held would lie
	}
	p := h.n.spath()
	nf, info, err := h.n.openOn(ctx, cur, p, h.flags&^syscall.O_TRUNC)
	if err != nil {
		fsys.log.Warn("cannot open again after reconnecting", "path", p, "err", err)
	} else if old := f.Info; old.FileID != 0 && info.FileID != old.FileID || !old.Created.IsZero() && !info.Created.Equal(old.Created) {
		nf.Close(ctx)
		fsys.log.Warn("not opened again after reconnecting: another file is at its path now", "path", p)
	} else if w := h.written.Load(); info.Size < w {
		nf.Close(ctx)
		fsys.log.Warn("not opened again after reconnecting: the file is shorter than what was written through the handle", "path", p, "size", info.Size, "written", w)
	} else {
		h.f.Store(nf)
		if f.Durable() {
			fsys.o.Control.reopened.Add(1)
		}
		fsys.log.Info("opened again after reconnecting", "path", p)
		return nf
	}
	if f.Durable() {
		fsys.o.Control.lost.Add(1)
	}
	return f
}

// usable reports that h's server handle is (or can be made) one of the
// current session: operations through a lost one fail, and those that can
// go by path should.
func (h *handle) usable() bool {
	return h.file().Tree() == h.n.fsys.rc.cur.Load()
}

// through runs op on h's server handle and, if the connection dropped
// under it and the durable open is back, once more on the reclaimed open
// (op must be safe to repeat: the same bytes at the same offset, a read,
// a flush, a setattr).
func (h *handle) through(op func(f *session.File) error) error {
	f := h.file()
	err := op(f)
	if err != nil && f.Durable() && f.Tree().Session().Lost() {
		if nf := h.file(); nf != f {
			err = op(nf)
		}
	}
	return err
}

// readAt reads through h's server handle (see through).
func (h *handle) readAt(ctx context.Context, dest []byte, off int64) (n int, err error) {
	err = h.through(func(f *session.File) (err error) {
		n, err = f.ReadAt(ctx, dest, off)
		return err
	})
	return n, err
}
