package fs

import (
	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/smbd3/mount.smbd3/session"
)

type fsys struct {
	tree *session.Tree
	o    Options
}

func newFS(tree *session.Tree, o Options) *fsys { return &fsys{tree: tree, o: o} }

type node struct {
	fs.Inode
	fsys *fsys
}

func (f *fsys) root() *node { return &node{fsys: f} }
