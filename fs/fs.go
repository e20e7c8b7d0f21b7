// Package fs is the FUSE filesystem over an SMB3 tree (go-fuse v2 node API).
//
// Kernel caching: attributes and directory entries are given to the kernel
// with the attribute TTL (mount option actimeo); the page cache is used as
// the cache mode allows: "strict" keeps cached pages only while a file is
// unchanged on the server (checked at open: mtime and size), "loose" keeps
// them across opens, "none" bypasses the page cache (direct I/O). In
// strict and loose mode a write-only open bypasses it too (see openFlags).
//
// Deadlocks: no node method holds a lock while calling into the kernel
// (notifications are sent from separate goroutines), and no server round
// trip happens under a node lock.
//
// Interrupts: the kernel turns any signal to a process waiting on the
// mount into FUSE_INTERRUPT, which cancels the operation's context. File
// operations do not end with EINTR for that: programs restart their
// system calls after a signal (SA_RESTART; Go does it for all of its
// signals) and do not expect EINTR from a stat or a write. As Linux cifs,
// which waits killably, every operation runs to its end (the session's
// timeouts bound a silent server), except waiting for a lock (Setlkw),
// which a signal ends, as on a local file system.
package fs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/smbd3/mount.smbd3/session"
)

// Options configure the mount.
type Options struct {
	UID, GID   uint32
	FileMode   uint32        // permission bits of regular files (default 0755)
	DirMode    uint32        // permission bits of directories (default 0755)
	ReadOnly   bool          // at mount time; Control changes it later
	Cache      string        // "strict" (default), "loose" or "none"
	AttrTTL    time.Duration // attribute and entry cache lifetime (actimeo); 0 disables
	AllowOther bool
	// NoLocks leaves POSIX and flock locks to the kernel, on this client
	// only (the nobrl mount option); none reach the server.
	NoLocks  bool
	FsName   string // shown in /proc/mounts, e.g. //server/share
	Subdir   string // share-relative directory to mount instead of the root
	MaxWrite int    // largest FUSE write (default 1 MiB)
	// CloseDelay keeps the server handle of a file opened for reading
	// open this long after its last close, for the next open to take
	// over (see deferclose.go; the closetimeo mount option); 0 closes at
	// once.
	CloseDelay time.Duration
	// DirectReadMin: in strict mode, a read-only open of a file of at
	// least this many bytes reads around the page cache (see openFlags).
	// 0 means DefaultDirectReadMin; negative, never.
	DirectReadMin int64
	Debug         bool // FUSE protocol trace
	// Reconnect, if set, sets up a new session and tree connection when
	// every channel of the current session has failed (see reconnect.go);
	// it owns the sessions it makes, and the old one. Without it a lost
	// session fails every operation until the mount is unmounted.
	Reconnect func(ctx context.Context) (*session.Tree, error)
	Logger    *slog.Logger
	// MountOptions are extra options for the kernel mount (e.g.
	// "default_permissions", "noexec").
	MountOptions []string
	// Control, if set, is how the caller changes the mount while it runs
	// (see Control); its read-only state starts as ReadOnly.
	Control *Control
}

func (o *Options) defaults() {
	if o.FileMode == 0 {
		o.FileMode = 0o755
	}
	if o.DirMode == 0 {
		o.DirMode = 0o755
	}
	if o.Cache == "" {
		o.Cache = "strict"
	}
	if o.MaxWrite == 0 {
		o.MaxWrite = 1 << 20
	}
	if o.DirectReadMin == 0 {
		o.DirectReadMin = DefaultDirectReadMin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Control == nil {
		o.Control = &Control{}
	}
	o.Control.SetReadOnly(o.ReadOnly)
}

// DefaultDirectReadMin is the default Options.DirectReadMin: files this
// large are streamed (media, archives, images) more often than read again.
const DefaultDirectReadMin = 64 << 20

// Mount mounts tree at mountpoint and returns once the kernel mount is live.
// Serve requests until Unmount; server.Wait() returns when it is unmounted.
func Mount(mountpoint string, tree *session.Tree, o Options) (*fuse.Server, error) {
	o.defaults()
	root := newFS(tree, o).root()
	ttl := o.AttrTTL
	opts := &fs.Options{
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &ttl,
		UID:             o.UID,
		GID:             o.GID,
		MountOptions: fuse.MountOptions{
			AllowOther:    o.AllowOther,
			FsName:        o.FsName,
			Name:          "smbd3",
			MaxWrite:      o.MaxWrite,
			MaxReadAhead:  1 << 20,
			MaxBackground: 64,
			Debug:         o.Debug,
			Options:       o.MountOptions,
			DirectMount:   true,
			// Replies come from memory, never from a file descriptor:
			// go-fuse would otherwise try to splice every read reply,
			// writing its header into a pipe (and failing, with a log
			// line, for 1 MiB replies) before falling back to writev.
			DisableSplice: true,
			EnableLocks:   !o.NoLocks,
			// Clearing set-user-ID bits and security.capability on
			// write, truncate and chown is ours to do, and there is
			// nothing to clear: SMB stores neither, modes come from
			// file_mode/dir_mode and security.* xattrs are refused.
			// Without them the kernel fetches the attributes again
			// before every chown or truncate, a round trip per file of
			// an untar. (It still asks for security.capability before
			// the first write to a file and before a chown: the VFS
			// does that whatever the flags.)
			ExtraCapabilities: fuse.CAP_HANDLE_KILLPRIV | fuse.CAP_HANDLE_KILLPRIV_V2 | fuse.CAP_DIRECT_IO_ALLOW_MMAP,
		},
	}
	if o.ReadOnly {
		opts.MountOptions.Options = append(opts.MountOptions.Options, "ro")
	}
	srv, err := fs.Mount(mountpoint, root, opts)
	if err != nil {
		return nil, fmt.Errorf("fuse mount on %s: %w", mountpoint, err)
	}
	raiseReadahead(mountpoint, o.Logger)
	return srv, nil
}

// readaheadKB is the kernel read-ahead for the mount. FUSE starts with
// 128 KiB, which makes sequential reads arrive as 128 KiB requests; a
// larger window lets the kernel send 1 MiB reads, several at a time.
const readaheadKB = 8192

// raiseReadahead sets the mount's backing device read-ahead
// (/sys/class/bdi/MAJ:MIN/read_ahead_kb). Only root may; others keep the
// default, which the filesystem's own read-ahead makes up for.
func raiseReadahead(mountpoint string, log *slog.Logger) {
	var st unix.Stat_t
	if err := unix.Stat(mountpoint, &st); err != nil {
		return
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(fmt.Sprint(readaheadKB)), 0); err != nil {
		log.Debug("cannot raise read-ahead", "path", p, "err", err)
	}
}

// uninterrupted detaches ctx from FUSE_INTERRUPT (see the package doc).
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
