package fs

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// node is a file, directory or symlink of the mount. Its path is computed
// from the inode tree, which go-fuse keeps up to date across renames.
type node struct {
	fs.Inode
	fsys *fsys

	mu      sync.Mutex
	handles map[*handle]struct{} // open file handles, for write-behind draining
	closing int                  // handles released whose SMB CLOSE has not completed
	cached  cacheStamp           // server mtime and size when pages were last cached
	// pagesCached: the file has been opened through the page cache, so
	// the kernel may hold its pages (even after close, in a mapping).
	pagesCached bool
	// wend is the end of what the open handles wrote since the file was
	// last truncated through this client. While a handle is open for
	// writing, the size given to the kernel is at least wend: the server
	// may not have all of it yet (write-behind), and a smaller size would
	// send the next O_APPEND write into the file's data.
	wend int64
	// wgen counts writes and truncations once they are queued or done;
	// read-ahead chunks made before a change are not used after it.
	wgen atomic.Uint64
	// lkey is the lease key of the file's opens (see leaseKey); zero
	// until the first.
	lkey [16]byte
	// moved counts the times the file lost a name (unlink, rename, or
	// replaced by a rename): handles opened before are closed at their
	// last close, not kept (see deferClose).
	moved atomic.Uint64
	// noWCache: the server granted the file's opens a lease without
	// write caching, or broke it to one: another client has the file
	// open, so writes go out at once rather than wait to be coalesced.
	// Without leases (nolease, a server that grants none) writes are
	// coalesced as ever.
	noWCache atomic.Bool
	// readOnly: the file had the read-only attribute when last seen, so
	// an unlink clears it before the delete instead of first being
	// refused (see fsys.remove).
	readOnly atomic.Bool
}

// saw records what the node's attributes, last given to the kernel, say
// that later operations use without asking the caches again.
func (n *node) saw(e *entry) {
	n.readOnly.Store(e.info.Attributes&uint32(smb2.FileAttributeReadonly) != 0)
}

// leased records the lease an open of the node was granted.
func (n *node) leased(f *session.File) {
	if st, ok := f.Lease(); ok {
		n.noWCache.Store(st&smb2.LeaseWrite == 0)
	}
}

// leaseKey is the key under which the node's opens ask for a lease (and
// so for a durable handle; see session/durable.go): one per file, so that
// this client's opens of it share the lease rather than break it.
func (n *node) leaseKey() *[16]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lkey == ([16]byte{}) {
		rand.Read(n.lkey[:])
	}
	k := n.lkey
	return &k
}

// setLeaseKey gives a node made for a file just created the key its
// create used.
func (n *node) setLeaseKey(k *[16]byte) {
	n.mu.Lock()
	if n.lkey == ([16]byte{}) {
		n.lkey = *k
	}
	n.mu.Unlock()
}

type cacheStamp struct {
	mtime time.Time
	size  int64
}

// spath is the node's share-relative path.
func (n *node) spath() string {
	return n.fsys.sharePath(n.Path(nil))
}

func (n *node) child(name string) string {
	p := n.spath()
	if p == "" {
		return name
	}
	return p + "/" + name
}

func (n *node) timeouts(out *fuse.EntryOut) {
	out.SetEntryTimeout(n.fsys.o.AttrTTL)
	out.SetAttrTimeout(n.fsys.o.AttrTTL)
}

// newChild makes (or finds) the inode for an entry.
func (n *node) newChild(ctx context.Context, e *entry, out *fuse.EntryOut) *fs.Inode {
	n.fsys.fillAttr(e, &out.Attr)
	n.timeouts(out)
	st := fs.StableAttr{Mode: e.mode(&n.fsys.o) & syscall.S_IFMT, Ino: e.info.FileID}
	ch := n.NewInode(ctx, &node{fsys: n.fsys}, st)
	if cn, ok := ch.Operations().(*node); ok {
		cn.saw(e)
	}
	return ch
}

// writingLocked reports a handle open for writing.
func (n *node) writingLocked() bool {
	for h := range n.handles {
		if h.flags&syscall.O_ACCMODE != syscall.O_RDONLY {
			return true
		}
	}
	return false
}

// wrote records data written through a handle up to end.
func (n *node) wrote(end int64) {
	n.mu.Lock()
	n.wend = max(n.wend, end)
	n.mu.Unlock()
}

// truncated records that the file now ends at size.
func (n *node) truncated(size int64) {
	n.mu.Lock()
	n.wend = size
	hs := make([]*handle, 0, len(n.handles))
	for h := range n.handles {
		hs = append(hs, h)
	}
	n.mu.Unlock()
	n.wgen.Add(1)
	for _, h := range hs {
		for w := h.written.Load(); w > size && !h.written.CompareAndSwap(w, size); w = h.written.Load() {
		}
	}
}

// statChild makes the inode for a path just created, asking the server for
// its attributes and recording it in the caches.
func (n *node) statChild(ctx context.Context, p string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	info, err := n.fsys.tree().Stat(ctx, p)
	if err != nil {
		n.fsys.changed(p)
		return nil, toErrno(err)
	}
	e := entry{info: info}
	n.fsys.resolveLink(ctx, p, &e)
	n.fsys.added(p, e)
	return n.newChild(ctx, &e, out), 0
}

var _ = (fs.NodeLookuper)((*node)(nil))

// Lookup finds a directory entry.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if isAside(name) {
		return nil, syscall.ENOENT // an unlinked file still open (see Unlink)
	}
	e, errno := n.fsys.stat(ctx, n.child(name))
	if errno != 0 {
		if errno == syscall.ENOENT {
			out.SetEntryTimeout(n.fsys.o.AttrTTL) // negative entry
		}
		return nil, errno
	}
	return n.newChild(ctx, &e, out), 0
}

var _ = (fs.NodeGetattrer)((*node)(nil))

// Getattr reports attributes; pending writes are flushed first so the size
// is right.
func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	// Fresh cached attributes are current: this client's own writes and
	// setattrs keep them so, whether or not they have reached the server.
	if e, ok := n.fsys.attrs.Get(n.spath()); ok && !n.IsRoot() {
		n.saw(&e)
		n.fsys.fillAttr(&e, &out.Attr)
		out.SetTimeout(n.fsys.o.AttrTTL)
		return 0
	}
	// Writes on their way to the server first, so the size is right; their
	// errors are for the writer's next write, flush or fsync to report.
	n.settle(nil, 0, -1)
	var e entry
	var errno syscall.Errno
	if h, ok := fh.(*handle); ok && h.usable() {
		// An open file: ask through the handle, which works even after
		// an unlink.
		info, err := h.f.Load().Stat(ctx)
		if err != nil {
			return toErrno(err)
		}
		e = entry{info: info}
	} else if n.IsRoot() {
		info, err := n.fsys.tree().Stat(ctx, n.spath())
		if err != nil {
			return toErrno(err)
		}
		e = entry{info: info}
	} else if e, errno = n.fsys.stat(ctx, n.spath()); errno != 0 {
		return errno
	}
	n.saw(&e)
	n.fsys.fillAttr(&e, &out.Attr)
	out.SetTimeout(n.fsys.o.AttrTTL)
	return 0
}

var _ = (fs.NodeSetattrer)((*node)(nil))

// Setattr changes size, times and the read-only attribute (from the owner
// write bit). Ownership and other mode bits are not stored by an SMB server
// without POSIX extensions; changes to them are accepted and ignored, as
// Linux cifs does.
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	p := n.spath()
	var a session.SetAttr
	if sz, ok := in.GetSize(); ok {
		s := int64(sz)
		a.Size = &s
		n.dropReadahead() // prefetched data may lie past the new end
	}
	if t, ok := in.GetMTime(); ok {
		a.Modified = t
	}
	if t, ok := in.GetATime(); ok {
		a.Accessed = t
	}
	if mode, ok := in.GetMode(); ok && !n.IsDir() {
		cur, errno := n.fsys.stat(ctx, p)
		if errno != 0 {
			return errno
		}
		attrs := cur.info.Attributes &^ uint32(smb2.FileAttributeNormal)
		if mode&0o200 == 0 {
			attrs |= uint32(smb2.FileAttributeReadonly)
		} else {
			attrs &^= uint32(smb2.FileAttributeReadonly)
		}
		if attrs == 0 {
			attrs = uint32(smb2.FileAttributeNormal)
		}
		if attrs != cur.info.Attributes {
			a.Attributes = attrs
		}
	}
	if a.Size == nil && a.Attributes == 0 && a.Modified.IsZero() && a.Accessed.IsZero() {
		// Nothing SMB stores changes (chown, other mode bits).
		return n.Getattr(ctx, fh, out)
	}
	h, _ := fh.(*handle)
	if h == nil {
		h = n.writableHandle()
	}
	var err error
	if h != nil && a.Size == nil && a.Attributes == 0 {
		// Times only, with the file open for writing: they go out with
		// the handle's pending write, without waiting; close and fsync
		// wait for them and report their errors, like those of writes.
		h.setTimes(a)
	} else if errno := n.drain(); errno != 0 {
		return errno
	} else {
		// The result comes back in the same compound: the server's change
		// time, not ours, or tar -c of a directory whose times tar -x just
		// set sees the ctime move when the cache entry expires ("file
		// changed as we read it").
		var info session.FileInfo
		if h != nil {
			err = h.through(func(f *session.File) (err error) {
				info, err = f.SetAttrStat(ctx, a)
				return err
			})
		} else {
			info, err = n.fsys.tree().SetAttrStat(ctx, p, a)
		}
		if err != nil {
			n.fsys.changed(p)
			return toErrno(err)
		}
		if a.Size != nil {
			n.truncated(*a.Size)
		}
		e := entry{info: info}
		if old, ok := n.fsys.attrs.Get(p); ok {
			e.link, e.target = old.link, old.target
		} else if old, ok := n.fsys.fromListingAny(p); ok {
			e.link, e.target = old.link, old.target
		}
		n.fsys.added(p, e)
		n.saw(&e)
		n.fsys.fillAttr(&e, &out.Attr)
		out.SetTimeout(n.fsys.o.AttrTTL)
		return 0
	}
	// Times through a handle open for writing, on their way (setTimes):
	// apply them to the cached attributes rather than wait. The change
	// time the server will report is not known; this host's clock stands
	// in until the cache entry expires.
	if e, ok := n.fsys.attrs.Get(p); ok {
		if !a.Modified.IsZero() {
			e.info.Modified = a.Modified
		}
		if !a.Accessed.IsZero() {
			e.info.Accessed = a.Accessed
		}
		e.info.Changed = time.Now()
		n.fsys.added(p, e)
		n.fsys.fillAttr(&e, &out.Attr)
		out.SetTimeout(n.fsys.o.AttrTTL)
		return 0
	}
	n.fsys.stale(p)
	return n.Getattr(ctx, fh, out)
}

func (n *node) IsDir() bool { return n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFDIR }

var _ = (fs.NodeMkdirer)((*node)(nil))

// Mkdir creates a directory.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return nil, syscall.EROFS
	}
	p := n.child(name)
	dgen := n.fsys.dirs.Generation()
	info, err := n.fsys.tree().MkdirStat(ctx, p)
	if err != nil {
		n.fsys.changed(p)
		return nil, toErrno(err)
	}
	if info.FileID == 0 {
		return n.statChild(ctx, p, out)
	}
	e := entry{info: info}
	n.fsys.added(p, e)
	n.fsys.dirs.Put(p, []entry{}, dgen) // a new directory is empty
	return n.newChild(ctx, &e, out), 0
}

var _ = (fs.NodeRmdirer)((*node)(nil))

// Rmdir removes an empty directory.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	p := n.child(name)
	n.letGo(ctx, name)
	err := n.fsys.tree().Rmdir(ctx, p)
	if err != nil {
		n.fsys.changedTree(p)
		return toErrno(err)
	}
	n.fsys.removed(p)
	return 0
}

var _ = (fs.NodeRenamer)((*node)(nil))

// Rename moves an entry; RENAME_NOREPLACE is honoured, RENAME_EXCHANGE is
// not supported by SMB.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	const renameNoreplace, renameExchange = 1, 2
	if flags&renameExchange != 0 {
		return syscall.EINVAL
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	from, to := n.child(name), np.child(newName)
	n.letGo(ctx, name)
	np.letGo(ctx, newName)
	replace := flags&renameNoreplace == 0
	if replace && np.childOpen(newName) && !(n == np && name == newName) {
		return n.renameOverOpen(ctx, from, to, np)
	}
	err := n.fsys.tree().Rename(ctx, from, to, replace)
	if e := toErrno(err); err != nil && replace && (e == syscall.EACCES || e == syscall.EEXIST) {
		// POSIX replaces an empty directory; SMB refuses to. Remove it
		// and try once more.
		if e, errno := n.fsys.stat(ctx, to); errno == 0 && e.info.IsDir() {
			if n.fsys.tree().Rmdir(ctx, to) == nil {
				err = n.fsys.tree().Rename(ctx, from, to, replace)
			}
		}
	}
	if err != nil {
		n.fsys.changedTree(from)
		n.fsys.changedTree(to)
		return toErrno(err)
	}
	n.fsys.renamed(from, to)
	return 0
}

// renamed updates the caches after a rename of from to to.
func (f *fsys) renamed(from, to string) {
	moved, ok := f.attrs.Get(from)
	f.removed(from)
	f.removed(to)
	if ok {
		f.added(to, moved)
	} else {
		f.changed(to)
	}
}

// renameOverOpen replaces a file that is open through this mount (or
// whose last close is on its way). SMB refuses to replace an open file
// (STATUS_ACCESS_DENIED), where POSIX replaces the name and leaves the
// open descriptors on the old file. So the target is moved aside first,
// as Unlink does, and deleted there once the rename has succeeded; if the
// rename fails, it is put back.
func (n *node) renameOverOpen(ctx context.Context, from, to string, np *node) syscall.Errno {
	aside, err := np.moveAside(ctx, to)
	if err != nil {
		n.fsys.changedTree(to)
		return toErrno(err)
	}
	if err := n.fsys.tree().Rename(ctx, from, to, false); err != nil {
		n.fsys.tree().Rename(context.WithoutCancel(ctx), aside, to, false)
		n.fsys.changedTree(from)
		n.fsys.changedTree(to)
		return toErrno(err)
	}
	if err := n.fsys.remove(ctx, aside, false); err != nil {
		n.fsys.log.Warn("cannot delete the file a rename replaced", "path", to, "err", err)
	}
	n.fsys.renamed(from, to)
	return 0
}

var _ = (fs.NodeLinker)((*node)(nil))

// Link makes a hard link.
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return nil, syscall.EROFS
	}
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	p := n.child(name)
	old := t.spath()
	err := n.fsys.tree().Link(ctx, old, p)
	n.fsys.changed(p)
	n.fsys.changed(old)
	if err != nil {
		return nil, toErrno(err)
	}
	return n.statChild(ctx, p, out)
}

var _ = (fs.NodeSymlinker)((*node)(nil))

// Symlink stores a symlink as a reparse point, or as a Minshall-French
// symlink file when the server keeps no reparse points.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return nil, syscall.EROFS
	}
	p := n.child(name)
	err := n.fsys.tree().Symlink(ctx, target, p)
	if err != nil && toErrno(err) != syscall.EEXIST {
		err = n.fsys.mfSymlink(ctx, target, p)
	}
	n.fsys.changed(p)
	if err != nil {
		return nil, toErrno(err)
	}
	return n.statChild(ctx, p, out)
}

func (f *fsys) mfSymlink(ctx context.Context, target, p string) error {
	data, err := smb2.EncodeMFSymlink(target)
	if err != nil {
		return syscall.ENAMETOOLONG
	}
	h, err := f.tree().Create(ctx, p, session.CreateOptions{
		Access: smb2.GenericWrite | smb2.GenericRead, Disposition: smb2.FileCreate, Options: smb2.FileNonDirectoryFile,
	})
	if err != nil {
		return err
	}
	_, err = h.WriteAt(ctx, data, 0)
	if cerr := h.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

var _ = (fs.NodeReadlinker)((*node)(nil))

// Readlink returns a symlink's target.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ctx = uninterrupted(ctx)
	e, errno := n.fsys.stat(ctx, n.spath())
	if errno != 0 {
		return nil, errno
	}
	if !e.link {
		return nil, syscall.EINVAL
	}
	return []byte(e.target), 0
}

var _ = (fs.NodeStatfser)((*node)(nil))

// Statfs reports the share's capacity.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	fi, err := n.fsys.tree().Statfs(ctx)
	if err != nil {
		return toErrno(err)
	}
	out.Bsize = uint32(min(fi.BlockSize, 1<<30))
	out.Frsize = out.Bsize
	out.Blocks = fi.Blocks
	out.Bfree = fi.BlocksFree
	out.Bavail = fi.BlocksAvail
	out.NameLen = fi.NameMax
	out.Files = 1 << 20
	out.Ffree = 1 << 20
	return 0
}

var _ = (fs.NodeReaddirer)((*node)(nil))

// Readdir lists the directory in as few round trips as the server allows
// and caches every entry's attributes, so that the kernel's READDIRPLUS
// (which looks each entry up) needs no further round trips.
func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	ctx = uninterrupted(ctx)
	list, err := n.fsys.listDir(ctx, n.spath())
	if err != nil {
		return nil, toErrno(err)
	}
	return fs.NewListDirStream(dirEntries(list, &n.fsys.o)), 0
}

func dirEntries(list []entry, o *Options) []fuse.DirEntry {
	out := make([]fuse.DirEntry, len(list))
	for i := range list {
		out[i] = fuse.DirEntry{Name: list[i].info.Name, Mode: list[i].mode(o), Ino: list[i].info.FileID}
	}
	return out
}
