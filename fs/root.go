package fs

import (
	"context"
	"log/slog"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/cache"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// fsys is the state shared by all nodes of one mount.
type fsys struct {
	rc    reconnState
	o     Options
	log   *slog.Logger
	attrs *cache.AttrCache[entry]
	dirs  *cache.DirCache[entry]
	ahead dirAheadState

	deferred deferrals // server handles kept open after their last close (deferclose.go)

	wmu     sync.Mutex
	writing map[uint64]*node   // by file ID: nodes with handles open for writing
	leased  map[[16]byte]*node // the same by lease key (see leaseBroken)
}

func newFS(tree *session.Tree, o Options) *fsys {
	cfg := cache.Config{TTL: o.AttrTTL, MaxEntries: 200000}
	f := &fsys{
		o:     o,
		log:   o.Logger,
		attrs: cache.NewAttrCache[entry](cfg),
		dirs:  cache.NewDirCache[entry](cfg, func(e entry) string { return path.Base(e.info.Name) }),
	}
	f.rc.cur.Store(tree)
	tree.Session().OnLeaseBreak(f.leaseBroken)
	return f
}

// leaseBroken is called when the server breaks a lease of ours (another
// client opened the file) from state from to state to, before the break
// is acknowledged. When it takes write caching away, the data the file's
// handles still hold behind goes to the server first, so that the other
// client reads it (write errors stay with the handles, for their fsync
// and close to report). When it takes read or handle caching away, the
// file's server handle kept open after its last close is closed.
func (f *fsys) leaseBroken(key [16]byte, from, to uint32) {
	const rh = smb2.LeaseRead | smb2.LeaseHandle
	if to&rh != rh {
		f.closeDeferredKey(key)
	}
	if from&smb2.LeaseWrite == 0 || to&smb2.LeaseWrite != 0 {
		return
	}
	f.wmu.Lock()
	n := f.leased[key]
	f.wmu.Unlock()
	if n == nil {
		return
	}
	n.noWCache.Store(true)
	for _, h := range n.openHandles(nil) {
		h.mu.Lock()
		h.settleLocked(0, -1)
		h.mu.Unlock()
	}
}

func (f *fsys) root() *node { return &node{fsys: f} }

// writtenEnd is the end of what handles open for writing on the file with
// this ID wrote through this client since its last truncation here (see
// node.wend), or 0. Attributes given to the kernel, wherever they come
// from (a lookup, a listing, a stat, all possibly answered by the server
// before write-behind data reached it), say at least that size.
func (f *fsys) writtenEnd(id uint64) int64 {
	if id == 0 {
		return 0
	}
	f.wmu.Lock()
	n := f.writing[id]
	f.wmu.Unlock()
	if n == nil {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.wend
}

// writers records whether n has a handle open for writing (called with
// n.mu held).
func (f *fsys) writers(n *node, open bool) {
	id := n.StableAttr().Ino
	f.wmu.Lock()
	defer f.wmu.Unlock()
	switch {
	case open:
		if f.writing == nil {
			f.writing = make(map[uint64]*node)
			f.leased = make(map[[16]byte]*node)
		}
		f.writing[id] = n
		if n.lkey != ([16]byte{}) {
			f.leased[n.lkey] = n
		}
	case f.writing[id] == n:
		delete(f.writing, id)
		if f.leased[n.lkey] == n {
			delete(f.leased, n.lkey)
		}
	}
}

// sharePath turns a mount-relative path into the share-relative path.
func (f *fsys) sharePath(p string) string {
	if f.o.Subdir == "" {
		return p
	}
	if p == "" {
		return f.o.Subdir
	}
	return f.o.Subdir + "/" + p
}

// stat returns the attributes of the share path p, from the cache when fresh.
func (f *fsys) stat(ctx context.Context, p string) (entry, syscall.Errno) {
	if e, res := f.attrs.Lookup(p); res == cache.Hit {
		return e, 0
	} else if res == cache.Negative {
		return entry{}, syscall.ENOENT
	}
	if e, ok, known := f.fromListing(p); known {
		if !ok {
			return entry{}, syscall.ENOENT
		}
		return e, 0
	}
	gen := f.attrs.Generation()
	info, err := f.tree().Stat(ctx, p)
	if err != nil {
		errno := toErrno(err)
		if errno == syscall.ENOENT {
			f.attrs.PutNegative(p, gen)
		}
		return entry{}, errno
	}
	e := entry{info: info}
	f.resolveLink(ctx, p, &e)
	f.attrs.Put(p, e, gen)
	return e, 0
}

// resolveLink recognises symlinks: reparse points, and regular files in the
// Minshall-French format (what Linux cifs writes when a server stores no
// reparse points, as Samba 4.17 does not).
func (f *fsys) resolveLink(ctx context.Context, p string, e *entry) {
	switch {
	case e.isSymlinkReparse():
		if t, err := f.tree().Readlink(ctx, p); err == nil {
			e.link, e.target = true, t
		}
	case !e.info.IsDir() && e.info.Size == smb2.MFSymlinkSize:
		if b, err := f.tree().ReadSmall(ctx, p, smb2.MFSymlinkSize); err == nil {
			if t, ok := smb2.DecodeMFSymlink(b); ok {
				e.link, e.target = true, t
			}
		}
	}
}

func parentOf(p string) string { return path.Dir("/" + p)[1:] }

// fromListing answers a lookup from the parent directory's cached listing:
// known is false when there is no fresh listing.
func (f *fsys) fromListing(p string) (e entry, ok, known bool) {
	e, found, fresh := f.dirs.Lookup(parentOf(p), path.Base(p))
	switch {
	case !fresh:
		return entry{}, false, false
	case !found:
		return entry{}, false, true
	case e.stale:
		return entry{}, false, false // the name exists; ask for the rest
	}
	return e, true, true
}

// fromListingAny returns p's listing entry even if stale.
func (f *fsys) fromListingAny(p string) (entry, bool) {
	e, found, _ := f.dirs.Lookup(parentOf(p), path.Base(p))
	return e, found
}

// wrote records a write through this client ending at end: the cached
// size grows to cover it and the times become now (the server's own
// values replace them when the cache entry expires). The parent's listing
// entry is marked stale.
func (f *fsys) wrote(p string, end int64) {
	e, ok := f.attrs.Get(p)
	if !ok {
		f.stale(p)
		return
	}
	e.info.Size = max(e.info.Size, end)
	now := time.Now()
	e.info.Modified, e.info.Changed = now, now
	f.attrs.Update(p, e)
	if le, ok := f.fromListingAny(p); ok && !le.stale {
		f.markStale(p) // once: marking counts as a change of the listing
	}
}

// stale records that p's attributes changed on the server (a write): the
// cached attributes go, and its listing entry only vouches for the name.
func (f *fsys) stale(p string) {
	f.attrs.Invalidate(p)
	f.markStale(p)
}

// markStale marks p's entry in its parent's listing as vouching only for
// the name.
func (f *fsys) markStale(p string) {
	f.dirs.Modify(parentOf(p), path.Base(p), func(e *entry) { e.stale = true })
}

// added records an entry this client created (or changed) at p: its
// attributes, and its place in the parent's listing.
func (f *fsys) added(p string, e entry) {
	f.attrs.Update(p, e)
	e.info.Name = path.Base(p)
	f.dirs.Set(parentOf(p), e)
}

// removed records that p is gone (with everything below it).
func (f *fsys) removed(p string) {
	f.attrs.InvalidatePrefix(p)
	f.dirs.InvalidatePrefix(p)
	f.dirs.Remove(parentOf(p), path.Base(p))
}

// changed drops what the caches know about p and its parent's listing.
func (f *fsys) changed(p string) {
	f.attrs.Invalidate(p)
	f.dirs.Invalidate(path.Dir("/" + p)[1:])
}

// changedTree drops p, everything below it and its parent's listing.
func (f *fsys) changedTree(p string) {
	f.attrs.InvalidatePrefix(p)
	f.dirs.InvalidatePrefix(p)
	f.dirs.Invalidate(path.Dir("/" + p)[1:])
}

var _ = (fs.InodeEmbedder)((*node)(nil))
