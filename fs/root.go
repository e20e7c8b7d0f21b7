package fs

import (
	"context"
	"log/slog"
	"path"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/cache"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// fsys is the state shared by all nodes of one mount.
type fsys struct {
	tree  *session.Tree
	o     Options
	log   *slog.Logger
	attrs *cache.AttrCache[entry]
	dirs  *cache.DirCache[entry]
}

func newFS(tree *session.Tree, o Options) *fsys {
	cfg := cache.Config{TTL: o.AttrTTL, MaxEntries: 200000}
	return &fsys{
		tree:  tree,
		o:     o,
		log:   o.Logger,
		attrs: cache.NewAttrCache[entry](cfg),
		dirs:  cache.NewDirCache[entry](cfg, func(e entry) string { return path.Base(e.info.Name) }),
	}
}

func (f *fsys) root() *node { return &node{fsys: f} }

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
	gen := f.attrs.Generation()
	info, err := f.tree.Stat(ctx, p)
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
		if t, err := f.tree.Readlink(ctx, p); err == nil {
			e.link, e.target = true, t
		}
	case !e.info.IsDir() && e.info.Size == smb2.MFSymlinkSize:
		if b, err := f.tree.ReadSmall(ctx, p, smb2.MFSymlinkSize); err == nil {
			if t, ok := smb2.DecodeMFSymlink(b); ok {
				e.link, e.target = true, t
			}
		}
	}
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
