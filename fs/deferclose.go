package fs

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Deferred close (Options.CloseDelay, the closetimeo mount option). When
// the last descriptor of a file opened for reading only is closed, and the
// server granted its open a lease that caches reads and handles (RH), the
// server handle is kept open for a while instead of closed: the next open
// of the file for reading takes it over, without a CREATE or a CLOSE going
// to the server. Programs that open the same files again and again
// (compilers reading headers, scripts reading their configuration, a
// shell's cat after ls) save two round trips per open. Linux's SMB client
// does the same (its closetimeo).
//
// The lease is what makes this safe: while it caches reads, no other
// client has written the file, and while it caches handles, no other
// client waits for our open to go away. When the server breaks it (another
// client opens the file in a way that conflicts, or writes it), the kept
// handle is closed before the break is acknowledged. It is not taken over
// when this client itself changed the file since (a write, a truncation):
// the attributes it was opened with would be stale.
//
// A kept handle still holds the file open on the server, and SMB refuses
// some operations on open files, or on directories with open files below
// them. So before this client unlinks or renames a file or a directory,
// or removes a directory, it closes the kept handles at and below the
// path; before any other open of the file (for writing, or truncating),
// it closes the file's kept handle, so that a file never has two server
// handles open because of a kept one (ksmbd of Linux 6.1 corrupts its
// memory when one of two handles to a file is closed).

// maxDeferred bounds the handles kept open at once.
const maxDeferred = 256

// deferred is a server handle kept open after its last close.
type deferred struct {
	f     *session.File
	gen   uint64 // node.wgen when its open was made
	moved uint64 // node.moved then
	timer *time.Timer
}

// deferrals are the handles kept open, by node.
type deferrals struct {
	mu sync.Mutex
	m  map[*node]*deferred
}

// keepable reports whether f, a handle of n opened when n.wgen was gen
// and n.moved was moved, may be kept open or taken over: it belongs to
// the current session, its lease still caches reads and handles, this
// client has not written the file since, and the file is still at the
// path f was opened by (a kept handle is found by that path before the
// file or a directory above it is unlinked or renamed).
func (fsys *fsys) keepable(n *node, f *session.File, gen, moved uint64) bool {
	return f.Tree() == fsys.rc.cur.Load() && !f.Tree().Session().Lost() && handleCaching(f) &&
		n.wgen.Load() == gen && n.moved.Load() == moved && n.spath() == f.Path()
}

// handleCaching reports whether the lease of f caches reads and handles.
func handleCaching(f *session.File) bool {
	st, ok := f.Lease()
	return ok && st&(smb2.LeaseRead|smb2.LeaseHandle) == smb2.LeaseRead|smb2.LeaseHandle
}

// deferClose keeps h's server handle f open after h's release, if it may
// be (see above). It reports whether it did; if not, the caller closes f.
func (fsys *fsys) deferClose(h *handle, f *session.File) bool {
	n := h.n
	if fsys.o.CloseDelay <= 0 || h.flags&syscall.O_ACCMODE != syscall.O_RDONLY || !fsys.keepable(n, f, h.gen, h.moved) {
		return false
	}
	h.mu.Lock()
	locked := len(h.locks) > 0
	h.mu.Unlock()
	n.mu.Lock()
	writing := n.writingLocked()
	n.mu.Unlock()
	if locked || writing {
		return false
	}
	d := &deferred{f: f, gen: h.gen, moved: h.moved}
	ds := &fsys.deferred
	ds.mu.Lock()
	defer ds.mu.Unlock()
	// A break that takes handle caching away updates f's lease state,
	// then closes what is kept under ds.mu: checked under it, the state
	// either shows the break, or the break finds the handle kept.
	if ds.m[n] != nil || len(ds.m) >= maxDeferred || !handleCaching(f) {
		return false
	}
	if ds.m == nil {
		ds.m = make(map[*node]*deferred)
	}
	ds.m[n] = d
	d.timer = time.AfterFunc(fsys.o.CloseDelay, func() {
		ds.mu.Lock()
		mine := ds.m[n] == d
		if mine {
			delete(ds.m, n)
		}
		ds.mu.Unlock()
		if mine {
			fsys.closeKept(context.Background(), d)
		}
	})
	return true
}

// takeDeferred returns the kept handle of n for an open for reading, if
// it may serve one; a kept handle that may not is closed.
func (fsys *fsys) takeDeferred(ctx context.Context, n *node) *deferred {
	d := fsys.unkeep(n)
	if d == nil {
		return nil
	}
	if !fsys.keepable(n, d.f, d.gen, d.moved) {
		fsys.closeKept(ctx, d)
		return nil
	}
	return d
}

// unkeep takes n's kept handle out of the set, stopping its timer.
func (fsys *fsys) unkeep(n *node) *deferred {
	ds := &fsys.deferred
	ds.mu.Lock()
	d := ds.m[n]
	if d != nil {
		delete(ds.m, n)
		d.timer.Stop()
	}
	ds.mu.Unlock()
	return d
}

// closeDeferred closes n's kept handle, if it has one.
func (fsys *fsys) closeDeferred(ctx context.Context, n *node) {
	if d := fsys.unkeep(n); d != nil {
		fsys.closeKept(ctx, d)
	}
}

// closeDeferredUnder closes the kept handles of the file at the
// share-relative path p and of the files below it. Paths are compared
// without regard to case, as servers commonly do: git, for one, opens
// "CoNfIg" to learn whether the share tells case apart, and the handle
// kept for that name is the file "config".
func (fsys *fsys) closeDeferredUnder(ctx context.Context, p string) {
	ds := &fsys.deferred
	ds.mu.Lock()
	var ks []*deferred
	for n, d := range ds.m {
		if underFold(d.f.Path(), p) {
			delete(ds.m, n)
			d.timer.Stop()
			ks = append(ks, d)
		}
	}
	ds.mu.Unlock()
	for _, d := range ks {
		fsys.closeKept(ctx, d)
	}
}

// underFold reports whether path p is dir or below it, ignoring case.
func underFold(p, dir string) bool {
	if len(p) < len(dir) || !strings.EqualFold(p[:len(dir)], dir) {
		return false
	}
	return len(p) == len(dir) || p[len(dir)] == '/'
}

// closeDeferredKey closes the kept handle whose lease has key.
func (fsys *fsys) closeDeferredKey(key [16]byte) {
	ds := &fsys.deferred
	ds.mu.Lock()
	var kept *deferred
	for n, d := range ds.m {
		if n.lkey == key { // set before the node's first open, never changed
			delete(ds.m, n)
			d.timer.Stop()
			kept = d
			break
		}
	}
	ds.mu.Unlock()
	if kept != nil {
		fsys.closeKept(context.Background(), kept)
	}
}

// closeKept closes a kept handle that is out of the set.
func (fsys *fsys) closeKept(ctx context.Context, d *deferred) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := d.f.Close(ctx); err != nil {
		fsys.log.Debug("closing a kept handle", "path", d.f.Path(), "err", err)
	}
}
