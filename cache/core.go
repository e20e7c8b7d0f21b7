package cache

import (
	"strings"
	"sync"
	"time"
)

// DefaultMaxEntries is the bound used when Config.MaxEntries is not positive.
const DefaultMaxEntries = 1 << 16

// genLogSize is how many recent invalidations a cache remembers for the
// generation check. A Put whose token is older than that is dropped.
const genLogSize = 256

// Config configures one cache. The zero value is a disabled cache (TTL 0).
type Config struct {
	// TTL is how long an entry stays fresh. Zero or negative disables caching.
	TTL time.Duration
	// NegativeTTL is how long a negative entry ("name does not exist") stays
	// fresh in an AttrCache: 0 means the same as TTL, negative disables
	// negative caching. DirCache ignores it.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache (see the package doc for how listings
	// count). Zero or negative means DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Gen is a generation token: take one with Generation before asking the server
// and hand it to Put, which drops the value if the path was invalidated since.
type Gen uint64

// Stats are counters for tests and the status command. Len and Weight are a
// snapshot; the rest count since the cache was created.
type Stats struct {
	Len          int    // cached keys (listings, attributes, negative entries)
	Weight       int    // units counted against MaxEntries
	Hits         uint64 // fresh positive entries served
	NegativeHits uint64 // fresh negative entries served (AttrCache)
	Misses       uint64 // lookups that found nothing fresh
	Expired      uint64 // entries found too old (also counted as misses)
	Evictions    uint64 // entries evicted to stay within MaxEntries
	Stale        uint64 // Puts dropped by the generation check
	Rejected     uint64 // Puts too heavy for the whole cache
}

// clean turns a path into a key: share-relative, no leading or trailing '/'.
func clean(p string) string { return strings.Trim(p, "/") }

// node is one element of the path trie. It is a cached entry when present is
// set; otherwise it only exists because something below it is cached.
type node[V any] struct {
	name   string // last path component ("" for the root)
	parent *node[V]
	kids   map[string]*node[V]

	present bool
	neg     bool
	key     string
	val     V
	expires time.Time
	weight  int

	prev, next *node[V] // LRU list; core.lru.next is the most recently used
}

// invalidation is one record of the generation log.
type invalidation struct {
	path    string
	subtree bool
}

func (iv *invalidation) covers(key string) bool {
	if !iv.subtree {
		return key == iv.path
	}
	return iv.path == "" || key == iv.path ||
		(len(key) > len(iv.path) && key[len(iv.path)] == '/' && strings.HasPrefix(key, iv.path))
}

// core is the machinery shared by AttrCache and DirCache: a map for lookups,
// an intrusive LRU list, a path trie for subtree invalidation, and the
// generation log. Its methods that end in Locked need mu held.
type core[V any] struct {
	// Immutable after init.
	ttl    time.Duration
	negTTL time.Duration
	max    int
	now    func() time.Time

	mu     sync.Mutex
	byKey  map[string]*node[V] // guarded by mu; present nodes only
	root   node[V]             // guarded by mu; trie root, key ""
	lru    node[V]             // guarded by mu; sentinel of the LRU ring
	weight int                 // guarded by mu
	gen    Gen                 // guarded by mu; bumped by every invalidation
	log    [genLogSize]invalidation
	stats  Stats // guarded by mu; Len and Weight filled in by snapshot
}

func (c *core[V]) init(cfg Config) {
	c.ttl = cfg.TTL
	c.negTTL = cfg.NegativeTTL
	if c.negTTL == 0 {
		c.negTTL = c.ttl
	}
	c.max = cfg.MaxEntries
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	c.now = cfg.Now
	if c.now == nil {
		c.now = time.Now
	}
	c.resetLocked()
}

func (c *core[V]) resetLocked() {
	c.byKey = make(map[string]*node[V])
	c.root = node[V]{}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	c.weight = 0
}

func (c *core[V]) generation() Gen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *core[V]) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Len = len(c.byKey)
	s.Weight = c.weight
	return s
}

func (c *core[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

// getLocked returns the fresh entry for key, or nil (counting a miss).
func (c *core[V]) getLocked(key string) *node[V] {
	n := c.byKey[key]
	if n == nil {
		c.stats.Misses++
		return nil
	}
	if !c.now().Before(n.expires) {
		c.removeLocked(n)
		c.stats.Expired++
		c.stats.Misses++
		return nil
	}
	if c.lru.next != n {
		c.unlinkLRU(n)
		c.pushFront(n)
	}
	return n
}

// staleLocked reports whether an invalidation since g covered key.
func (c *core[V]) staleLocked(key string, g Gen) bool {
	if g == c.gen {
		return false
	}
	if g > c.gen || c.gen-g > genLogSize {
		return true // not from this cache, or too old to tell
	}
	for x := g + 1; x <= c.gen; x++ {
		if c.log[x%genLogSize].covers(key) {
			return true
		}
	}
	return false
}

// noteLocked records an invalidation of key (and below it if subtree).
func (c *core[V]) noteLocked(key string, subtree bool) {
	c.gen++
	c.log[c.gen%genLogSize] = invalidation{path: key, subtree: subtree}
}

// storeLocked inserts or replaces key, then evicts down to the bound.
func (c *core[V]) storeLocked(key string, v V, neg bool, weight int, ttl time.Duration) bool {
	n := c.byKey[key]
	if weight > c.max {
		if n != nil {
			c.removeLocked(n) // superseded, and the new value cannot be kept
		}
		c.stats.Rejected++
		return false
	}
	if n == nil {
		n = c.findLocked(key, true)
		n.present = true
		n.key = key
		c.byKey[key] = n
	} else {
		c.unlinkLRU(n)
		c.weight -= n.weight
	}
	n.val, n.neg, n.weight = v, neg, weight
	n.expires = c.now().Add(ttl)
	c.weight += weight
	c.pushFront(n)
	for c.weight > c.max {
		c.removeLocked(c.lru.prev) // never n: it is first and fits alone
		c.stats.Evictions++
	}
	return true
}

// findLocked walks the trie to key, creating missing nodes if create is set.
func (c *core[V]) findLocked(key string, create bool) *node[V] {
	n := &c.root
	for key != "" {
		name, rest := key, ""
		if i := strings.IndexByte(key, '/'); i >= 0 {
			name, rest = key[:i], key[i+1:]
		}
		k := n.kids[name]
		if k == nil {
			if !create {
				return nil
			}
			if n.kids == nil {
				n.kids = make(map[string]*node[V])
			}
			k = &node[V]{name: name, parent: n}
			n.kids[name] = k
		}
		n, key = k, rest
	}
	return n
}

// removeLocked drops one cached entry and prunes trie nodes left empty.
func (c *core[V]) removeLocked(n *node[V]) {
	c.forgetLocked(n)
	for n != &c.root && !n.present && len(n.kids) == 0 {
		delete(n.parent.kids, n.name)
		n = n.parent
	}
}

// forgetLocked drops n's entry but leaves the trie alone.
func (c *core[V]) forgetLocked(n *node[V]) {
	c.unlinkLRU(n)
	delete(c.byKey, n.key)
	c.weight -= n.weight
	var zero V
	n.val, n.present, n.neg, n.weight = zero, false, false, 0
}

// invalidateLocked records and performs the invalidation of key (and of
// everything below it if subtree).
// invalidate drops key (with subtree, everything below it too).
func (c *core[V]) invalidate(path string, subtree bool) {
	key := clean(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidateLocked(key, subtree)
}

func (c *core[V]) invalidateLocked(key string, subtree bool) {
	c.noteLocked(key, subtree)
	if !subtree {
		if n := c.byKey[key]; n != nil {
			c.removeLocked(n)
		}
		return
	}
	if key == "" {
		c.resetLocked()
		return
	}
	n := c.findLocked(key, false)
	if n == nil {
		return
	}
	c.purgeLocked(n)
	p := n.parent
	delete(p.kids, n.name)
	for p != &c.root && !p.present && len(p.kids) == 0 {
		delete(p.parent.kids, p.name)
		p = p.parent
	}
}

// purgeLocked forgets every entry in n's subtree.
func (c *core[V]) purgeLocked(n *node[V]) {
	if n.present {
		c.forgetLocked(n)
	}
	for _, k := range n.kids {
		c.purgeLocked(k)
	}
	n.kids = nil
}

func (c *core[V]) unlinkLRU(n *node[V]) {
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
}

func (c *core[V]) pushFront(n *node[V]) {
	n.prev = &c.lru
	n.next = c.lru.next
	c.lru.next.prev = n
	c.lru.next = n
}
