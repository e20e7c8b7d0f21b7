package cache

// DirCache caches complete directory listings by directory path. E is the fs
// layer's entry type; name extracts an entry's file name (it runs under the
// cache's lock, so it must be a plain field access).
//
// A listing weighs len(entries) units against MaxEntries. Listings passed to
// Put and returned by Get are shared, never copied: nobody may modify them.
// All methods are safe for concurrent use (one mutex per cache).
//
// Any change in a directory (create, unlink, mkdir, rmdir, rename in or out)
// must Invalidate it; a rename or removal of a directory subtree must
// InvalidatePrefix it. A setattr of a child may instead UpdateChild.
type DirCache[E any] struct {
	c    core[[]E]
	name func(E) string
}

// NewDirCache returns an empty listing cache.
func NewDirCache[E any](cfg Config, name func(E) string) *DirCache[E] {
	c := &DirCache[E]{name: name}
	c.c.init(cfg)
	return c
}

// Generation returns the token to pass to Put for a listing read from the
// server after this call.
func (c *DirCache[E]) Generation() Gen { return c.c.generation() }

// Get returns dir's complete listing if it is cached and fresh. The slice is
// shared: do not modify it.
func (c *DirCache[E]) Get(dir string) ([]E, bool) {
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.c.getLocked(key)
	if n == nil {
		return nil, false
	}
	c.c.stats.Hits++
	return n.val, true
}

// Put caches the complete listing of dir unless dir was invalidated since g
// was taken. The cache takes ownership of entries. It reports whether the
// listing was stored (a listing heavier than the whole cache is not).
func (c *DirCache[E]) Put(dir string, entries []E, g Gen) bool {
	if c.c.ttl <= 0 {
		return false
	}
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	if c.c.staleLocked(key, g) {
		c.c.stats.Stale++
		return false
	}
	return c.c.storeLocked(key, entries, false, max(1, len(entries)), c.c.ttl)
}

// UpdateChild replaces the entry named like e in dir's cached listing, for a
// setattr of that child. The listing is copied, so slices returned earlier by
// Get do not change; its expiry is kept. If the listing is cached but has no
// such entry it is dropped, being evidently out of date. UpdateChild counts as
// an invalidation of dir for listings in flight. It reports whether a cached
// listing was updated.
func (c *DirCache[E]) UpdateChild(dir string, e E) bool {
	key := clean(dir)
	name := c.name(e)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	c.c.noteLocked(key, false)
	n := c.c.byKey[key]
	if n == nil {
		return false
	}
	if !c.c.now().Before(n.expires) {
		c.c.removeLocked(n)
		return false
	}
	for i, old := range n.val {
		if c.name(old) == name {
			list := make([]E, len(n.val))
			copy(list, n.val)
			list[i] = e
			n.val = list
			return true
		}
	}
	c.c.removeLocked(n)
	return false
}

// Edit changes dir's cached listing in place, for a change this client made
// itself (a create adds an entry, an unlink removes one) so that the listing
// stays usable instead of being fetched again. fn gets a copy of the
// listing and returns the new one, or false to drop the listing. The expiry
// is kept. Like UpdateChild it counts as an invalidation of dir for
// listings in flight. It reports whether a fresh listing was edited.
func (c *DirCache[E]) Edit(dir string, fn func([]E) ([]E, bool)) bool {
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	c.c.noteLocked(key, false)
	n := c.c.byKey[key]
	if n == nil {
		return false
	}
	if !c.c.now().Before(n.expires) {
		c.c.removeLocked(n)
		return false
	}
	list, ok := fn(append([]E(nil), n.val...))
	if !ok {
		c.c.removeLocked(n)
		return false
	}
	w := max(1, len(list))
	if c.c.weight-n.weight+w > c.c.max {
		c.c.removeLocked(n)
		return false
	}
	c.c.weight += w - n.weight
	n.val, n.weight = list, w
	return true
}

// Invalidate drops dir's listing.
func (c *DirCache[E]) Invalidate(dir string) {
	c.c.invalidate(dir, false)
}

// InvalidatePrefix drops the listings of dir and of every directory below it
// ("a" covers "a/b" but not "ab"); "" clears the whole cache.
func (c *DirCache[E]) InvalidatePrefix(dir string) {
	c.c.invalidate(dir, true)
}

// Clear drops every listing (and in-flight fetches with it).
func (c *DirCache[E]) Clear() { c.InvalidatePrefix("") }

// Len returns the number of cached listings; Stats().Weight is the number of
// entries they hold.
func (c *DirCache[E]) Len() int { return c.c.len() }

// Stats returns the cache's counters.
func (c *DirCache[E]) Stats() Stats { return c.c.snapshot() }
