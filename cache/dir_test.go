package cache

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

type dirent struct {
	Name string
	Size int64
}

func direntName(e dirent) string { return e.Name }

func listing(n int) []dirent {
	l := make([]dirent, n)
	for i := range l {
		l[i] = dirent{Name: fmt.Sprintf("f%d", i)}
	}
	return l
}

func newDirCache(clk *clock, max int) *DirCache[dirent] {
	return NewDirCache(Config{TTL: time.Second, MaxEntries: max, Now: clk.Now}, direntName)
}

func TestDirTTL(t *testing.T) {
	clk := newClock()
	c := newDirCache(clk, 100)
	c.Put("d", listing(3), c.Generation())
	clk.Advance(999 * time.Millisecond)
	if l, ok := c.Get("d"); !ok || len(l) != 3 {
		t.Fatalf("fresh listing: %v, %v", l, ok)
	}
	clk.Advance(time.Millisecond)
	if _, ok := c.Get("d"); ok {
		t.Fatal("expired listing served")
	}
	off := NewDirCache(Config{Now: clk.Now}, direntName)
	if off.Put("d", listing(1), off.Generation()) {
		t.Fatal("TTL 0 cache stored a listing")
	}
	c.c.check(t)
}

func TestDirEmptyListing(t *testing.T) {
	c := newDirCache(newClock(), 10)
	c.Put("empty", nil, c.Generation())
	if l, ok := c.Get("empty"); !ok || len(l) != 0 {
		t.Fatalf("empty listing: %v, %v", l, ok)
	}
	if s := c.Stats(); s.Weight != 1 {
		t.Fatalf("empty listing weighs %d, want 1", s.Weight)
	}
}

func TestDirWeightBound(t *testing.T) {
	clk := newClock()
	c := newDirCache(clk, 10)
	c.Put("a", listing(4), c.Generation())
	c.Put("b", listing(4), c.Generation())
	c.Get("a")
	c.Put("c", listing(5), c.Generation()) // 13 > 10: evicts b, the LRU
	if got, want := keys(&c.c), []string{"a", "c"}; !slices.Equal(got, want) {
		t.Fatalf("cached %q, want %q", got, want)
	}
	c.Put("huge", listing(20000), c.Generation()) // heavier than the bound
	if _, ok := c.Get("huge"); ok {
		t.Fatal("listing heavier than the cache was stored")
	}
	c.Put("a", listing(11), c.Generation()) // a replacement too heavy drops the old one
	if _, ok := c.Get("a"); ok {
		t.Fatal("superseded listing kept")
	}
	s := c.Stats()
	if s.Evictions != 1 || s.Rejected != 2 || s.Len != 1 || s.Weight != 5 {
		t.Fatalf("stats: %+v", s)
	}
	c.Put("d", listing(10), c.Generation()) // fills the bound alone: evicts c
	if s := c.Stats(); s.Len != 1 || s.Weight != 10 {
		t.Fatalf("stats: %+v", s)
	}
	c.c.check(t)
}

func TestDirInvalidation(t *testing.T) {
	dirs := []string{"", "a", "a/b", "ab", "x/y"}
	tests := []struct {
		name string
		op   func(c *DirCache[dirent])
		gone []string
	}{
		{"create in a", func(c *DirCache[dirent]) { c.Invalidate("a") }, []string{"a"}},
		{"rename a away", func(c *DirCache[dirent]) { c.InvalidatePrefix("/a") }, []string{"a", "a/b"}},
		{"rmdir x", func(c *DirCache[dirent]) { c.InvalidatePrefix("x") }, []string{"x/y"}},
		{"clear", func(c *DirCache[dirent]) { c.Clear() }, dirs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newDirCache(newClock(), 100)
			for _, d := range dirs {
				c.Put(d, listing(2), c.Generation())
			}
			tt.op(c)
			for _, d := range dirs {
				if _, ok := c.Get(d); ok == slices.Contains(tt.gone, d) {
					t.Errorf("Get(%q) ok=%v", d, ok)
				}
			}
			c.c.check(t)
		})
	}
}

func TestDirEditChild(t *testing.T) {
	clk := newClock()
	c := newDirCache(clk, 100)
	c.Put("d", listing(3), c.Generation())
	before, _ := c.Get("d")

	if !c.Set("/d/", dirent{Name: "f1", Size: 99}) {
		t.Fatal("Set of a listed child failed")
	}
	if e, found, fresh := c.Lookup("d", "f1"); !found || !fresh || e.Size != 99 {
		t.Fatalf("Lookup after Set: %+v %v %v", e, found, fresh)
	}
	if before[1].Size != 0 {
		t.Fatal("Set modified a slice returned earlier")
	}
	if !c.Set("d", dirent{Name: "new", Size: 1}) {
		t.Fatal("Set of a new child failed")
	}
	if s := c.Stats(); s.Weight != 4 {
		t.Fatalf("weight after add: %d", s.Weight)
	}
	if !c.Modify("d", "new", func(e *dirent) { e.Size = 5 }) {
		t.Fatal("Modify of a listed child failed")
	}
	if c.Modify("d", "absent", func(e *dirent) { t.Fatal("called for an absent child") }) {
		t.Fatal("Modify of an absent child reported success")
	}
	if !c.Remove("d", "f0") {
		t.Fatal("Remove failed")
	}
	if _, found, fresh := c.Lookup("d", "f0"); found || !fresh {
		t.Fatalf("removed child: found %v fresh %v", found, fresh)
	}
	got, _ := c.Get("d")
	names := map[string]int64{}
	for _, e := range got {
		names[e.Name] = e.Size
	}
	if len(got) != 3 || names["f1"] != 99 || names["new"] != 5 || names["f2"] != 0 {
		t.Fatalf("listing after edits: %+v", got)
	}
	for _, n := range []string{"f1", "f2", "new"} {
		if _, found, _ := c.Lookup("d", n); !found {
			t.Fatalf("index lost %q", n)
		}
	}
	if s := c.Stats(); s.Weight != 3 {
		t.Fatalf("weight after remove: %d", s.Weight)
	}

	// A listing read before an edit must not overwrite it.
	g := c.Generation()
	c.Set("d", dirent{Name: "f2", Size: 7})
	if c.Put("d", listing(3), g) {
		t.Fatal("listing fetched before Set was stored")
	}

	// Nothing cached, or expired: nothing to edit.
	if c.Set("other", dirent{Name: "f1"}) || c.Remove("other", "f1") {
		t.Fatal("edit of an uncached dir reported success")
	}
	if _, _, fresh := c.Lookup("other", "f1"); fresh {
		t.Fatal("Lookup in an uncached dir reported a fresh listing")
	}
	c.Put("e", listing(2), c.Generation())
	clk.Advance(time.Second)
	if c.Set("e", dirent{Name: "f1"}) {
		t.Fatal("Set on an expired listing reported success")
	}
	c.c.check(t)
}

func TestDirEditEmpty(t *testing.T) {
	c := newDirCache(newClock(), 10)
	c.Put("d", nil, c.Generation())
	c.Set("d", dirent{Name: "a"})
	c.Remove("d", "a")
	c.Remove("d", "a")
	if s := c.Stats(); s.Weight != 1 {
		t.Fatalf("empty listing weighs %d, want 1", s.Weight)
	}
	if l, ok := c.Get("d"); !ok || len(l) != 0 {
		t.Fatalf("listing %v %v", l, ok)
	}
	c.c.check(t)
}

func TestDirGenerationRace(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile func(c *DirCache[dirent])
		stored    bool
	}{
		{"nothing", func(c *DirCache[dirent]) {}, true},
		{"create in p/d", func(c *DirCache[dirent]) { c.Invalidate("p/d") }, false},
		{"create in unrelated d", func(c *DirCache[dirent]) { c.Invalidate("d") }, true},
		{"rename of parent", func(c *DirCache[dirent]) { c.InvalidatePrefix("p") }, false},
		{"create in sibling", func(c *DirCache[dirent]) { c.Invalidate("p/dd") }, true},
		{"rename of lookalike", func(c *DirCache[dirent]) { c.InvalidatePrefix("p/d2") }, true},
		{"create in child dir", func(c *DirCache[dirent]) { c.Invalidate("p/d/sub") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newDirCache(newClock(), 100)
			g := c.Generation()
			tt.meanwhile(c)
			if got := c.Put("p/d", listing(2), g); got != tt.stored {
				t.Fatalf("Put stored=%v, want %v", got, tt.stored)
			}
		})
	}
}

func TestDirScan(t *testing.T) {
	c := newDirCache(newClock(), 100)
	if c.Scan("d", func(dirent) bool { t.Fatal("called for an uncached dir"); return true }) {
		t.Fatal("Scan of an uncached dir reported a listing")
	}
	c.Put("d", listing(5), c.Generation())
	var seen []string
	if !c.Scan("d", func(e dirent) bool { seen = append(seen, e.Name); return len(seen) < 3 }) {
		t.Fatal("Scan missed the listing")
	}
	if !slices.Equal(seen, []string{"f0", "f1", "f2"}) {
		t.Fatalf("scanned %v", seen)
	}
	if !c.Fresh("d") || c.Fresh("e") {
		t.Fatal("Fresh")
	}
}
