package fs

import "sync/atomic"

// Control holds what may change while the file system is mounted: the
// mount helper's remount (mount -o remount,ro|rw) reaches it through the
// daemon. The zero value is a read-write mount.
type Control struct {
	readOnly atomic.Bool
	// reclaimed, reopened and lost count durable opens after
	// reconnections: reclaimed from the server, opened again by path when
	// the server refused that, and lost.
	reclaimed, reopened, lost atomic.Int64
}

// Reclaims reports what reconnections did with durable opens: how many
// they reclaimed from the server, how many they opened again by path when
// the server would not give them back, and how many they lost.
func (c *Control) Reclaims() (reclaimed, reopened, lost int64) {
	return c.reclaimed.Load(), c.reopened.Load(), c.lost.Load()
}

// SetReadOnly makes every operation that would change the share fail with
// EROFS (true), or allows them again (false). Handles already open for
// writing fail their next write with EROFS too.
func (c *Control) SetReadOnly(ro bool) { c.readOnly.Store(ro) }

// ReadOnly reports whether the mount refuses changes.
func (c *Control) ReadOnly() bool { return c.readOnly.Load() }

// readOnly reports whether changes are refused: the mount option ro, or a
// remount since.
func (f *fsys) readOnly() bool { return f.o.Control.ReadOnly() }
