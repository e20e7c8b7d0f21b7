package cache

// DirCache caches complete directory listings by directory path. E is the fs
// layer's entry type; name extracts an entry's file name (it runs under the
// cache's lock, so it must be a plain field access).
//
// A listing is kept with an index by name, so that a lookup of one child
// and an edit of one child (the fs layer's own create, write, unlink) cost
// a map access, not a walk or a copy of the listing: an untar into a large
// directory stays linear. Get returns a copy for the caller to keep.
//
// A listing weighs len(entries) units against MaxEntries. All methods are
// safe for concurrent use (one mutex per cache).
//
// Any change in a directory that this client did not apply itself through
// Set, Remove or Modify must Invalidate it; a rename or removal of a
// directory subtree must InvalidatePrefix it.
type DirCache[E any] struct {
	c    core[*dirList[E]]
	name func(E) string
}

// dirList is one cached directory: its entries and where each name is.
// Guarded by the cache's mutex; never handed out.
type dirList[E any] struct {
	entries []E
	index   map[string]int
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

// Get returns a copy of dir's complete listing if it is cached and fresh.
func (c *DirCache[E]) Get(dir string) ([]E, bool) {
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.c.getLocked(key)
	if n == nil {
		return nil, false
	}
	c.c.stats.Hits++
	return append([]E{}, n.val.entries...), true
}

// Lookup answers for one name in dir's listing: fresh reports whether a
// fresh listing is cached, found whether it has the name.
func (c *DirCache[E]) Lookup(dir, name string) (e E, found, fresh bool) {
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.c.getLocked(key)
	if n == nil {
		return e, false, false
	}
	c.c.stats.Hits++
	i, ok := n.val.index[name]
	if !ok {
		return e, false, true
	}
	return n.val.entries[i], true, true
}

// Fresh reports whether dir's listing is cached and fresh.
func (c *DirCache[E]) Fresh(dir string) bool {
	return c.Scan(dir, func(E) bool { return false })
}

// Scan calls fn with each entry of dir's fresh listing, under the cache's
// lock (fn must be quick and must not call the cache), until fn returns
// false. It reports whether a fresh listing is cached.
func (c *DirCache[E]) Scan(dir string, fn func(E) bool) bool {
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.c.getLocked(key)
	if n == nil {
		return false
	}
	c.c.stats.Hits++
	for _, e := range n.val.entries {
		if !fn(e) {
			break
		}
	}
	return true
}

// Put caches the complete listing of dir unless dir was invalidated since g
// was taken. The cache takes ownership of entries. It reports whether the
// listing was stored (a listing heavier than the whole cache is not).
func (c *DirCache[E]) Put(dir string, entries []E, g Gen) bool {
	if c.c.ttl <= 0 {
		return false
	}
	l := &dirList[E]{entries: entries, index: make(map[string]int, len(entries))}
	for i, e := range entries {
		l.index[c.name(e)] = i
	}
	key := clean(dir)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	if c.c.staleLocked(key, g) {
		c.c.stats.Stale++
		return false
	}
	return c.c.storeLocked(key, l, false, max(1, len(entries)), c.c.ttl)
}

// editLocked returns dir's fresh listing for a change this client made
// itself, or nil. The change counts as an invalidation of dir for listings
// in flight (a listing read before it must not overwrite it).
func (c *DirCache[E]) editLocked(dir string) *node[*dirList[E]] {
	key := clean(dir)
	c.c.noteLocked(key, false)
	n := c.c.byKey[key]
	if n == nil {
		return nil
	}
	if !c.c.now().Before(n.expires) {
		c.c.removeLocked(n)
		return nil
	}
	return n
}

// Set adds e to dir's cached listing or replaces the entry of the same
// name, so that the listing stays usable after this client created or
// changed the entry. The expiry is kept. It reports whether a fresh
// listing was edited.
func (c *DirCache[E]) Set(dir string, e E) bool {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.editLocked(dir)
	if n == nil {
		return false
	}
	l, name := n.val, c.name(e)
	if i, ok := l.index[name]; ok {
		l.entries[i] = e
		return true
	}
	if c.c.weight+1 > c.c.max {
		c.c.removeLocked(n)
		return false
	}
	l.index[name] = len(l.entries)
	l.entries = append(l.entries, e)
	if len(l.entries) > 1 {
		n.weight++
		c.c.weight++
	}
	return true
}

// Remove drops name from dir's cached listing (this client removed it).
// The last entry takes its place. It reports whether a fresh listing was
// edited.
func (c *DirCache[E]) Remove(dir, name string) bool {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.editLocked(dir)
	if n == nil {
		return false
	}
	l := n.val
	i, ok := l.index[name]
	if !ok {
		return true
	}
	last := len(l.entries) - 1
	if i != last {
		l.entries[i] = l.entries[last]
		l.index[c.name(l.entries[i])] = i
	}
	var zero E
	l.entries[last] = zero
	l.entries = l.entries[:last]
	delete(l.index, name)
	if last > 0 {
		n.weight--
		c.c.weight--
	}
	return true
}

// Modify changes the entry called name in dir's cached listing in place.
// It reports whether a fresh listing has the entry.
func (c *DirCache[E]) Modify(dir, name string, fn func(*E)) bool {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	n := c.editLocked(dir)
	if n == nil {
		return false
	}
	i, ok := n.val.index[name]
	if ok {
		fn(&n.val.entries[i])
	}
	return ok
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
