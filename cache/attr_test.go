package cache

import (
	"slices"
	"testing"
	"time"
)

func TestAttrTTL(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration
		negTTL  time.Duration
		age     time.Duration
		wantPos Result
		wantNeg Result
	}{
		{"fresh", time.Second, 0, 0, Hit, Negative},
		{"just before expiry", time.Second, 0, time.Second - 1, Hit, Negative},
		{"at expiry", time.Second, 0, time.Second, Miss, Miss},
		{"long after", time.Second, 0, time.Hour, Miss, Miss},
		{"ttl 0 caches nothing", 0, 0, 0, Miss, Miss},
		{"negative ttl shorter", time.Second, 100 * time.Millisecond, 200 * time.Millisecond, Hit, Miss},
		{"negative ttl longer", time.Second, 5 * time.Second, 2 * time.Second, Miss, Negative},
		{"negative caching off", time.Second, -1, 0, Hit, Miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := NewAttrCache[int](Config{TTL: tt.ttl, NegativeTTL: tt.negTTL, Now: clk.Now})
			c.Put("a/file", 42, c.Generation())
			c.PutNegative("a/missing", c.Generation())
			clk.Advance(tt.age)
			v, r := c.Lookup("a/file")
			if r != tt.wantPos || (r == Hit && v != 42) {
				t.Errorf("Lookup(a/file) = %d, %v; want %v", v, r, tt.wantPos)
			}
			if _, r := c.Lookup("a/missing"); r != tt.wantNeg {
				t.Errorf("Lookup(a/missing) = %v; want %v", r, tt.wantNeg)
			}
			c.c.check(t)
		})
	}
}

func TestAttrExpiredEntryIsRemoved(t *testing.T) {
	clk := newClock()
	c := NewAttrCache[int](Config{TTL: time.Second, Now: clk.Now})
	c.Put("f", 1, c.Generation())
	clk.Advance(2 * time.Second)
	if _, ok := c.Get("f"); ok {
		t.Fatal("expired entry served")
	}
	if s := c.Stats(); s.Len != 0 || s.Expired != 1 || s.Misses != 1 {
		t.Fatalf("stats after expiry: %+v", s)
	}
	c.c.check(t)
}

func TestAttrNegative(t *testing.T) {
	clk := newClock()
	c := NewAttrCache[string](Config{TTL: time.Second, Now: clk.Now})

	// A negative entry answers repeated lookups of a missing name.
	c.PutNegative("dir/.git/index.lock", c.Generation())
	for range 3 {
		if _, r := c.Lookup("dir/.git/index.lock"); r != Negative {
			t.Fatalf("Lookup = %v, want negative", r)
		}
	}
	if v, ok := c.Get("dir/.git/index.lock"); ok || v != "" {
		t.Fatalf("Get on a negative entry = %q, %v", v, ok)
	}

	// Create invalidates it.
	c.Invalidate("dir/.git/index.lock")
	if _, r := c.Lookup("dir/.git/index.lock"); r != Miss {
		t.Fatalf("after Invalidate: %v, want miss", r)
	}

	// A positive Put replaces a negative entry, and the reverse.
	c.PutNegative("x", c.Generation())
	c.Put("x", "attrs", c.Generation())
	if v, r := c.Lookup("x"); r != Hit || v != "attrs" {
		t.Fatalf("after positive Put: %q, %v", v, r)
	}
	c.PutNegative("x", c.Generation())
	if _, r := c.Lookup("x"); r != Negative {
		t.Fatalf("after PutNegative: %v", r)
	}

	// Rename into a path: Update stores the new attributes over the negative.
	c.PutNegative("y", c.Generation())
	c.Update("y", "renamed")
	if v, r := c.Lookup("y"); r != Hit || v != "renamed" {
		t.Fatalf("after Update: %q, %v", v, r)
	}

	// InvalidatePrefix drops negative entries below a renamed directory.
	c.PutNegative("d/sub/none", c.Generation())
	c.InvalidatePrefix("d")
	if _, r := c.Lookup("d/sub/none"); r != Miss {
		t.Fatalf("negative entry survived InvalidatePrefix: %v", r)
	}

	s := c.Stats()
	if s.NegativeHits != 5 || s.Hits != 2 {
		t.Fatalf("stats: %+v", s)
	}
	c.c.check(t)
}

func TestAttrNegativeDisabledDropsPositive(t *testing.T) {
	c := NewAttrCache[int](Config{TTL: time.Second, NegativeTTL: -1})
	c.Put("f", 1, c.Generation())
	if c.PutNegative("f", c.Generation()) {
		t.Fatal("PutNegative stored with negative caching off")
	}
	if _, r := c.Lookup("f"); r != Miss {
		t.Fatalf("stale positive entry kept: %v", r)
	}
	c.c.check(t)
}

func TestAttrInvalidatePrefix(t *testing.T) {
	all := []string{"", "a", "a/b", "a/b/c", "a/bc", "ab", "ab/c", "b", "b/a"}
	tests := []struct {
		prefix string
		gone   []string
	}{
		{"a", []string{"a", "a/b", "a/b/c", "a/bc"}},
		{"/a", []string{"a", "a/b", "a/b/c", "a/bc"}},
		{"a/", []string{"a", "a/b", "a/b/c", "a/bc"}},
		{"a/b", []string{"a/b", "a/b/c"}},
		{"ab", []string{"ab", "ab/c"}},
		{"b/a", []string{"b/a"}},
		{"a/b/c/d", nil},
		{"zz", nil},
		{"a/zz", nil},
		{"", all},
		{"/", all},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			c := NewAttrCache[string](Config{TTL: time.Second})
			for _, p := range all {
				c.Put(p, p, c.Generation())
			}
			c.InvalidatePrefix(tt.prefix)
			for _, p := range all {
				_, ok := c.Get(p)
				if want := !slices.Contains(tt.gone, p); ok != want {
					t.Errorf("after InvalidatePrefix(%q): Get(%q) ok=%v, want %v", tt.prefix, p, ok, want)
				}
			}
			if c.Len() != len(all)-len(tt.gone) {
				t.Errorf("Len = %d, want %d", c.Len(), len(all)-len(tt.gone))
			}
			c.c.check(t)
		})
	}
}

func TestAttrInvalidateKeepsChildren(t *testing.T) {
	c := NewAttrCache[int](Config{TTL: time.Second})
	for _, p := range []string{"a", "a/b", "ab"} {
		c.Put(p, 1, c.Generation())
	}
	c.Invalidate("/a")
	if got, want := keys(&c.c), []string{"a/b", "ab"}; !slices.Equal(got, want) {
		t.Fatalf("after Invalidate(/a): %q, want %q", got, want)
	}
	c.Invalidate("a/b")
	c.c.check(t) // the now-empty trie node "a" must be pruned
	c.Clear()
	if c.Len() != 0 {
		t.Fatalf("Len after Clear = %d", c.Len())
	}
	c.c.check(t)
}

func TestAttrLRU(t *testing.T) {
	c := NewAttrCache[int](Config{TTL: time.Second, MaxEntries: 3})
	for i, p := range []string{"a", "b", "c"} {
		c.Put(p, i, c.Generation())
	}
	c.Get("a")                         // a is now the most recently used
	c.PutNegative("d", c.Generation()) // evicts b
	c.Put("c", 9, c.Generation())      // replacing refreshes c, no eviction
	c.Put("e", 5, c.Generation())      // evicts a (LRU order now a, d, c, e)
	if got, want := keys(&c.c), []string{"c", "d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("cached %q, want %q", got, want)
	}
	if s := c.Stats(); s.Evictions != 2 || s.Len != 3 || s.Weight != 3 {
		t.Fatalf("stats: %+v", s)
	}
	c.c.check(t)
}

func TestAttrDefaultBound(t *testing.T) {
	c := NewAttrCache[int](Config{TTL: time.Second})
	if c.c.max != DefaultMaxEntries {
		t.Fatalf("default bound %d", c.c.max)
	}
}

// TestAttrGenerationRace: a fetch that started before an invalidation must not
// insert what it fetched after it.
func TestAttrGenerationRace(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile func(c *AttrCache[string])
		stored    bool
	}{
		{"nothing happened", func(c *AttrCache[string]) {}, true},
		{"same path invalidated", func(c *AttrCache[string]) { c.Invalidate("d/f") }, false},
		{"same path updated", func(c *AttrCache[string]) { c.Update("d/f", "new") }, false},
		{"parent subtree invalidated", func(c *AttrCache[string]) { c.InvalidatePrefix("d") }, false},
		{"cleared", func(c *AttrCache[string]) { c.Clear() }, false},
		{"other path invalidated", func(c *AttrCache[string]) { c.Invalidate("d/g") }, true},
		{"parent only invalidated", func(c *AttrCache[string]) { c.Invalidate("d") }, true},
		{"deeper subtree invalidated", func(c *AttrCache[string]) { c.InvalidatePrefix("d/f/x") }, true},
		{"lookalike prefix", func(c *AttrCache[string]) { c.InvalidatePrefix("/d/f2"); c.InvalidatePrefix("dd") }, true},
		{"parent subtree with slashes", func(c *AttrCache[string]) { c.InvalidatePrefix("/d/") }, false},
		{"many unrelated", func(c *AttrCache[string]) {
			for range genLogSize {
				c.Invalidate("other")
			}
		}, true},
		{"too many to tell", func(c *AttrCache[string]) {
			for range genLogSize + 1 {
				c.Invalidate("other")
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewAttrCache[string](Config{TTL: time.Second})
			g := c.Generation() // lookup starts, request goes out
			tt.meanwhile(c)     // a local create/rename/setattr completes
			ok := c.Put("/d/f", "old", g)
			if ok != tt.stored {
				t.Fatalf("Put stored=%v, want %v", ok, tt.stored)
			}
			v, hit := c.Get("d/f")
			if (hit && v == "old") != tt.stored {
				t.Fatalf("Get = %q, %v", v, hit)
			}
			gn := c.Generation()
			c.Invalidate("d/f")
			if c.PutNegative("d/f", gn) {
				t.Fatal("stale negative entry stored")
			}
			if !tt.stored && c.Stats().Stale != 2 {
				t.Fatalf("Stale = %d, want 2", c.Stats().Stale)
			}
		})
	}
}

func TestAttrUpdateWinsOverOlderFetch(t *testing.T) {
	c := NewAttrCache[string](Config{TTL: time.Second})
	g := c.Generation()             // getattr goes out
	c.Update("f", "after setattr")  // setattr completes first
	c.Put("f", "before setattr", g) // the older getattr reply arrives
	if v, _ := c.Get("f"); v != "after setattr" {
		t.Fatalf("Get = %q", v)
	}
}

func TestAttrForeignToken(t *testing.T) {
	a := NewAttrCache[int](Config{TTL: time.Second})
	b := NewAttrCache[int](Config{TTL: time.Second})
	b.Invalidate("x")
	if a.Put("f", 1, b.Generation()) {
		t.Fatal("token from the future accepted")
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Miss: "miss", Hit: "hit", Negative: "negative", 7: "Result(?)"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q", r, r.String())
		}
	}
}
