package cache

// Result is what a lookup in an AttrCache found.
type Result uint8

const (
	Miss     Result = iota // nothing fresh: ask the server
	Hit                    // fresh attributes
	Negative               // fresh "does not exist"
)

func (r Result) String() string {
	switch r {
	case Miss:
		return "miss"
	case Hit:
		return "hit"
	case Negative:
		return "negative"
	}
	return "Result(?)"
}

// AttrCache caches attributes by path, and negative entries recording that a
// path does not exist. V is whatever attribute value the fs layer keeps; it is
// stored and returned by value. All methods are safe for concurrent use (one
// mutex per cache).
//
// The fs layer is expected to:
//   - on lookup/getattr: Lookup; on Miss take g := Generation(), ask the
//     server, then Put(path, attr, g) or PutNegative(path, g);
//   - after its own create/mkdir/setattr/write: Update(path, attr) with the
//     attributes the server returned, or Invalidate(path); also Invalidate the
//     parent directory, whose mtime changed;
//   - after unlink/rmdir: Invalidate(path) (rmdir: InvalidatePrefix);
//   - after rename: InvalidatePrefix(old) and InvalidatePrefix(new).
type AttrCache[V any] struct {
	c core[V]
}

// NewAttrCache returns an empty attribute cache.
func NewAttrCache[V any](cfg Config) *AttrCache[V] {
	c := &AttrCache[V]{}
	c.c.init(cfg)
	return c
}

// Generation returns the token to pass to Put or PutNegative for a value
// fetched from the server after this call.
func (c *AttrCache[V]) Generation() Gen { return c.c.generation() }

// Lookup reports whether path is cached as existing (Hit, with its
// attributes), as not existing (Negative), or not freshly cached (Miss).
func (c *AttrCache[V]) Lookup(path string) (V, Result) {
	key := clean(path)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	var v V
	n := c.c.getLocked(key)
	switch {
	case n == nil:
		return v, Miss
	case n.neg:
		c.c.stats.NegativeHits++
		return v, Negative
	}
	c.c.stats.Hits++
	return n.val, Hit
}

// Get returns path's attributes if they are cached and fresh.
func (c *AttrCache[V]) Get(path string) (V, bool) {
	v, r := c.Lookup(path)
	return v, r == Hit
}

// Put caches v for path unless path was invalidated since g was taken (see
// Generation). It reports whether v was stored.
func (c *AttrCache[V]) Put(path string, v V, g Gen) bool {
	if c.c.ttl <= 0 {
		return false
	}
	key := clean(path)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	if c.c.staleLocked(key, g) {
		c.c.stats.Stale++
		return false
	}
	return c.c.storeLocked(key, v, false, 1, c.c.ttl)
}

// PutNegative records that path does not exist, unless path was invalidated
// since g was taken. With negative caching disabled it only drops whatever
// was cached for path. It reports whether the negative entry was stored.
func (c *AttrCache[V]) PutNegative(path string, g Gen) bool {
	if c.c.ttl <= 0 {
		return false
	}
	key := clean(path)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	if c.c.staleLocked(key, g) {
		c.c.stats.Stale++
		return false
	}
	if c.c.negTTL <= 0 {
		if n := c.c.byKey[key]; n != nil {
			c.c.removeLocked(n)
		}
		return false
	}
	var zero V
	return c.c.storeLocked(key, zero, true, 1, c.c.negTTL)
}

// Update stores v for path as the result of the caller's own modification of
// path. It counts as an invalidation of path, so fetches that were in flight
// before it cannot overwrite v with older attributes.
func (c *AttrCache[V]) Update(path string, v V) {
	key := clean(path)
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	c.c.noteLocked(key, false)
	if c.c.ttl > 0 {
		c.c.storeLocked(key, v, false, 1, c.c.ttl)
	}
}

// Invalidate drops path's entry, positive or negative. Create, mkdir,
// rename-into and unlink of path all call it.
func (c *AttrCache[V]) Invalidate(path string) {
	c.c.invalidate(path, false)
}

// InvalidatePrefix drops dir and every path below it ("a" covers "a/b" but
// not "ab"); "" clears the whole cache. Its cost is the size of the subtree.
func (c *AttrCache[V]) InvalidatePrefix(dir string) {
	c.c.invalidate(dir, true)
}

// Clear drops everything (and in-flight fetches with it).
func (c *AttrCache[V]) Clear() { c.InvalidatePrefix("") }

// Len returns the number of cached paths, negative entries included.
func (c *AttrCache[V]) Len() int { return c.c.len() }

// Stats returns the cache's counters.
func (c *AttrCache[V]) Stats() Stats { return c.c.snapshot() }
