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

func TestDirUpdateChild(t *testing.T) {
	clk := newClock()
	c := newDirCache(clk, 100)
	c.Put("d", listing(3), c.Generation())
	before, _ := c.Get("d")

	if !c.UpdateChild("/d/", dirent{Name: "f1", Size: 99}) {
		t.Fatal("UpdateChild of a listed child failed")
	}
	after, _ := c.Get("d")
	if after[1].Size != 99 || len(after) != 3 {
		t.Fatalf("listing after UpdateChild: %+v", after)
	}
	if before[1].Size != 0 {
		t.Fatal("UpdateChild modified a slice returned earlier")
	}

	// A listing read before the setattr must not overwrite the update.
	g := c.Generation()
	c.UpdateChild("d", dirent{Name: "f2", Size: 7})
	if c.Put("d", listing(3), g) {
		t.Fatal("listing fetched before UpdateChild was stored")
	}

	// A child missing from the listing means the listing is out of date.
	if c.UpdateChild("d", dirent{Name: "new"}) {
		t.Fatal("UpdateChild of an unlisted child reported success")
	}
	if _, ok := c.Get("d"); ok {
		t.Fatal("inconsistent listing kept")
	}

	// Nothing cached, or expired: nothing to update.
	if c.UpdateChild("other", dirent{Name: "f1"}) {
		t.Fatal("UpdateChild on an uncached dir reported success")
	}
	c.Put("e", listing(2), c.Generation())
	clk.Advance(time.Second)
	if c.UpdateChild("e", dirent{Name: "f1"}) {
		t.Fatal("UpdateChild on an expired listing reported success")
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

func TestDirEdit(t *testing.T) {
	clk := &fakeClockForEdit{t: time.Unix(1000, 0)}
	c := NewDirCache[string](Config{TTL: time.Second, Now: clk.now}, func(s string) string { return s })
	if c.Edit("d", func(l []string) ([]string, bool) { return l, true }) {
		t.Fatal("edited a listing that is not cached")
	}
	c.Put("d", []string{"a", "b"}, c.Generation())
	if !c.Edit("d", func(l []string) ([]string, bool) { return append(l, "c"), true }) {
		t.Fatal("edit failed")
	}
	if got, ok := c.Get("d"); !ok || len(got) != 3 || got[2] != "c" {
		t.Fatalf("after add: %v %v", got, ok)
	}
	if c.Stats().Weight != 3 {
		t.Fatalf("weight %d", c.Stats().Weight)
	}
	c.Edit("d", func(l []string) ([]string, bool) { return nil, false })
	if _, ok := c.Get("d"); ok {
		t.Fatal("listing not dropped")
	}
	c.Put("d", []string{"a"}, c.Generation())
	clk.t = clk.t.Add(2 * time.Second)
	if c.Edit("d", func(l []string) ([]string, bool) { return l, true }) {
		t.Fatal("edited an expired listing")
	}
}

type fakeClockForEdit struct{ t time.Time }

func (c *fakeClockForEdit) now() time.Time { return c.t }
