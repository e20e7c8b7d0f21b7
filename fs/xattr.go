package fs

import (
	"bytes"
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// Extended attributes: the user.* namespace maps to SMB extended
// attributes ([MS-FSCC] 2.4.15) with the "user." prefix removed, as Linux
// cifs does. Other namespaces (security.*, system.*, trusted.*) are not
// stored by SMB: every call for them fails with EOPNOTSUPP. That is what
// tools take as "this filesystem has no ACLs or security labels": ls -l,
// which otherwise asks for system.posix_acl_access and security.selinux of
// every file (two FUSE round trips each), stops asking after the first.
//
// The EaSize that listings and FileEaInformation report cannot be trusted
// to skip asking for a file's EAs: ksmbd reports 0 whatever the file has.

const userPrefix = "user."

func eaName(attr string) (string, bool) {
	if !strings.HasPrefix(attr, userPrefix) || len(attr) == len(userPrefix) {
		return "", false
	}
	return attr[len(userPrefix):], true
}

var _ = (fs.NodeGetxattrer)((*node)(nil))

// Getxattr reads one attribute.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	name, ok := eaName(attr)
	if !ok {
		return 0, syscall.EOPNOTSUPP
	}
	eas, err := n.fsys.tree().GetEAs(ctx, n.spath())
	if err != nil {
		return 0, toErrno(err)
	}
	for _, e := range eas {
		if strings.EqualFold(e.Name, name) {
			if len(dest) == 0 {
				return uint32(len(e.Value)), 0
			}
			if len(dest) < len(e.Value) {
				return uint32(len(e.Value)), syscall.ERANGE
			}
			return uint32(copy(dest, e.Value)), 0
		}
	}
	return 0, syscall.ENODATA
}

var _ = (fs.NodeListxattrer)((*node)(nil))

// Listxattr lists the attributes as user.NAME.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	eas, err := n.fsys.tree().GetEAs(ctx, n.spath())
	if err != nil {
		return 0, toErrno(err)
	}
	var b bytes.Buffer
	for _, e := range eas {
		b.WriteString(userPrefix)
		b.WriteString(strings.ToLower(e.Name))
		b.WriteByte(0)
	}
	if len(dest) == 0 {
		return uint32(b.Len()), 0
	}
	if len(dest) < b.Len() {
		return uint32(b.Len()), syscall.ERANGE
	}
	return uint32(copy(dest, b.Bytes())), 0
}

var _ = (fs.NodeSetxattrer)((*node)(nil))

// Setxattr sets one attribute, honouring XATTR_CREATE and XATTR_REPLACE.
func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	name, ok := eaName(attr)
	if !ok {
		return syscall.EOPNOTSUPP
	}
	const xattrCreate, xattrReplace = 1, 2
	if flags&(xattrCreate|xattrReplace) != 0 {
		_, errno := n.Getxattr(ctx, attr, nil)
		exists := errno == 0
		if flags&xattrCreate != 0 && exists {
			return syscall.EEXIST
		}
		if flags&xattrReplace != 0 && !exists {
			return syscall.ENODATA
		}
	}
	if len(data) == 0 {
		// SMB has no empty EA values: writing one deletes the EA. Refuse
		// rather than silently remove the attribute.
		return syscall.EINVAL
	}
	return toErrno(n.fsys.tree().SetEA(ctx, n.spath(), name, data))
}

var _ = (fs.NodeRemovexattrer)((*node)(nil))

// Removexattr deletes one attribute.
func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return syscall.EROFS
	}
	name, ok := eaName(attr)
	if !ok {
		return syscall.EOPNOTSUPP
	}
	if _, errno := n.Getxattr(ctx, attr, nil); errno != 0 {
		return errno
	}
	return toErrno(n.fsys.tree().SetEA(ctx, n.spath(), name, nil))
}
