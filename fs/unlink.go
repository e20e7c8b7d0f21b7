package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Unlinking a file that is open through this mount: SMB deletes a file
// when its last handle closes, and until then the name stays taken by a
// file in the delete-pending state, which servers refuse to open
// (STATUS_DELETE_PENDING): a new file of that name cannot be made, where
// POSIX frees the name at once. So such a file is first renamed aside, to
// a hidden name in the same directory, and deleted there, as libfuse's
// "hide" and NFS's silly rename do: the name is free, the open handles
// keep working, and the server removes the file at the last close (or
// when the session ends, so nothing is left behind). Hidden names never
// show in listings and never reach the server in lookups.

// asidePrefix begins the name of an unlinked file that is still open.
const asidePrefix = ".smbd3-deleted-"

func isAside(name string) bool { return strings.HasPrefix(name, asidePrefix) }

var _ = (fs.NodeUnlinker)((*node)(nil))

// Unlink removes a file; an open file stays usable until closed. A file
// with the read-only attribute is unlinked too, as POSIX allows.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	p := n.child(name)
	n.letGo(ctx, name)
	ro := n.childReadOnly(name)
	var err error
	if n.childOpen(name) {
		var aside string
		if aside, err = n.moveAside(ctx, p); err == nil {
			if err = n.fsys.remove(ctx, aside, ro); err != nil {
				// Put it back rather than leave it hidden.
				n.fsys.tree().Rename(context.WithoutCancel(ctx), aside, p, false)
			}
		} else {
			n.fsys.log.Debug("cannot move an open file aside to unlink it", "path", p, "err", err)
			err = n.fsys.remove(ctx, p, ro)
		}
	} else {
		err = n.fsys.remove(ctx, p, ro)
	}
	if err != nil {
		n.fsys.changed(p)
		return toErrno(err)
	}
	n.fsys.removed(p)
	return 0
}

// letGo readies the child name for an unlink, rename or rmdir (see
// deferclose.go). The child's handles are no longer kept open after their
// last close: its file is losing the name a kept handle is found by. Then
// the handles kept of it and of the files below it are closed: SMB deletes
// an open file only at its last close, and refuses to rename an open file
// over another or a directory with open files below it. (A release that
// comes before the first step is kept, and closed by the second.)
func (n *node) letGo(ctx context.Context, name string) {
	if ch := n.GetChild(name); ch != nil {
		if cn, ok := ch.Operations().(*node); ok {
			cn.moved.Add(1)
		}
	}
	n.fsys.closeDeferredUnder(ctx, n.child(name))
}

// moveAside renames the file at p, a child of n, to a hidden name in n.
func (n *node) moveAside(ctx context.Context, p string) (string, error) {
	aside := n.child(asidePrefix + randomHex())
	return aside, n.fsys.tree().Rename(ctx, p, aside, false)
}

// childOpen reports whether the child name has handles open through this
// mount, or closing: the kernel sends the last close of a file (RELEASE)
// after close(2) has returned, so a file just closed may still be open on
// the server.
func (n *node) childOpen(name string) bool {
	ch := n.GetChild(name)
	if ch == nil {
		return false
	}
	cn, ok := ch.Operations().(*node)
	if !ok {
		return false
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return len(cn.handles) > 0 || cn.closing > 0
}

// childReadOnly reports whether the child name was read-only when last
// seen.
func (n *node) childReadOnly(name string) bool {
	if ch := n.GetChild(name); ch != nil {
		if cn, ok := ch.Operations().(*node); ok {
			return cn.readOnly.Load()
		}
	}
	return false
}

// remove deletes the file p, clearing the read-only attribute if that is
// what stops it: at once when the file is known read-only (ro: its inode
// was when last seen; or the caches say so), else once the server has
// refused. git writes its objects with mode 0444; tar and cp -p keep such
// modes.
func (f *fsys) remove(ctx context.Context, p string, ro bool) error {
	if e, ok := f.cached(p); ok {
		ro = e.info.Attributes&uint32(smb2.FileAttributeReadonly) != 0
	}
	if ro {
		return f.tree().RemoveReadOnly(ctx, p)
	}
	err := f.tree().Remove(ctx, p)
	if toErrno(err) == syscall.EACCES {
		// What was known did not explain the refusal: ask.
		if info, serr := f.tree().Stat(ctx, p); serr == nil && info.Attributes&uint32(smb2.FileAttributeReadonly) != 0 {
			err = f.tree().RemoveReadOnly(ctx, p)
		}
	}
	return err
}

// cached returns what the caches know of p, fresh or not, without asking
// the server.
func (f *fsys) cached(p string) (entry, bool) {
	if e, ok := f.attrs.Get(p); ok {
		return e, true
	}
	return f.fromListingAny(p)
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
