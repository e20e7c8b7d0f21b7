package fs

import "sync/atomic"

// Control holds what may change while the file system is mounted: the
// mount helper's remount (mount -o remount,ro|rw) reaches it through the
// daemon. The zero value is a read-write mount.
type Control struct {
	readOnly atomic.Bool
	// reclaimed and lost count open files after reconnections: durable
	// opens reclaimed from the server, and those that could not be.
	reclaimed, lost atomic.Int64
}

// Reclaims reports how many open files reconnections have reclaimed from
// the server (durable handles) and how many they could not.
func (c *Control) Reclaims() (reclaimed, lost int64) { return c.reclaimed.Load(), c.lost.Load() }

// SetReadOnly makes every operation that would change the share fail with
// EROFS (true), or allows them again (false). Handles already open for
// writing fail their next write with EROFS too.
func (c *Control) SetReadOnly(ro bool) { c.readOnly.Store(ro) }

// ReadOnly reports whether the mount refuses changes.
func (c *Control) ReadOnly() bool { return c.readOnly.Load() }

// readOnly reports whether changes are refused: the mount option ro, or a
// remount since.
func (f *fsys) readOnly() bool { return f.o.Control.ReadOnly() }
