package cache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a fake, concurrency-safe clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// check verifies the core's internal invariants: map, LRU list, trie and
// weight agree, and the trie holds no empty leaves.
func (c *core[V]) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := 0
	weight := 0
	for n := c.lru.next; n != &c.lru; n = n.next {
		if n.next.prev != n {
			t.Fatalf("LRU list broken at %q", n.key)
		}
		if !n.present || c.byKey[n.key] != n {
			t.Fatalf("LRU node %q not in map", n.key)
		}
		if got := c.findLocked(n.key, false); got != n {
			t.Fatalf("trie does not lead to %q", n.key)
		}
		seen++
		weight += n.weight
	}
	if seen != len(c.byKey) {
		t.Fatalf("LRU has %d nodes, map %d", seen, len(c.byKey))
	}
	if weight != c.weight {
		t.Fatalf("weight %d, sum of entries %d", c.weight, weight)
	}
	if c.weight > c.max {
		t.Fatalf("weight %d over bound %d", c.weight, c.max)
	}
	var walk func(n *node[V]) int
	walk = func(n *node[V]) int {
		count := 0
		if n.present {
			count++
		}
		for name, k := range n.kids {
			if k.parent != n || k.name != name {
				t.Fatalf("trie link broken at %q", name)
			}
			sub := walk(k)
			if sub == 0 {
				t.Fatalf("empty trie node %q left behind", name)
			}
			count += sub
		}
		return count
	}
	if got := walk(&c.root); got != len(c.byKey) {
		t.Fatalf("trie holds %d entries, map %d", got, len(c.byKey))
	}
}

func keys[V any](c *core[V]) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []string
	for k := range c.byKey {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestInvalidationCovers(t *testing.T) {
	tests := []struct {
		path    string
		subtree bool
		key     string
		want    bool
	}{
		{"a", false, "a", true},
		{"a", false, "a/b", false},
		{"a", true, "a", true},
		{"a", true, "a/b", true},
		{"a", true, "a/b/c", true},
		{"a", true, "ab", false},
		{"a", true, "ab/c", false},
		{"a", true, "", false},
		{"a/b", true, "a", false},
		{"", true, "anything/at/all", true},
		{"", true, "", true},
		{"", false, "a", false},
	}
	for _, tt := range tests {
		iv := invalidation{path: tt.path, subtree: tt.subtree}
		if got := iv.covers(tt.key); got != tt.want {
			t.Errorf("invalidation{%q, subtree=%v}.covers(%q) = %v, want %v", tt.path, tt.subtree, tt.key, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	clk := newClock()
	ac := NewAttrCache[int](Config{TTL: time.Second, MaxEntries: 50, Now: clk.Now})
	dc := NewDirCache[string](Config{TTL: time.Second, MaxEntries: 40, Now: clk.Now}, func(s string) string { return s })
	paths := []string{"", "a", "a/b", "a/b/c", "ab", "ab/c", "x/y/z", "x/y", "x"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 3000 {
				p := paths[r.IntN(len(paths))]
				if r.IntN(3) == 0 {
					p = fmt.Sprintf("%s/f%d", p, r.IntN(20))
				}
				switch r.IntN(10) {
				case 0:
					ac.InvalidatePrefix(p)
					dc.InvalidatePrefix(p)
				case 1:
					ac.Invalidate(p)
					dc.Set(p, "f1")
					dc.Remove(p, "f2")
					dc.Lookup(p, "f3")
				case 2:
					ac.PutNegative(p, ac.Generation())
				case 3:
					ac.Update(p, i)
				case 4:
					dc.Put(p, []string{"f1", "f2", "f3"}[:r.IntN(4)], dc.Generation())
				case 5:
					clk.Advance(100 * time.Millisecond)
				default:
					g := ac.Generation()
					if _, r := ac.Lookup(p); r == Miss {
						ac.Put(p, i, g)
					}
					dc.Get(p)
				}
			}
		}()
	}
	wg.Wait()
	ac.c.check(t)
	dc.c.check(t)
}

func BenchmarkAttrGetHit(b *testing.B) {
	c := NewAttrCache[[64]byte](Config{TTL: time.Hour, MaxEntries: 1 << 16})
	for i := range 1000 {
		c.Put(fmt.Sprintf("dir%d/file%d", i%10, i), [64]byte{}, c.Generation())
	}
	for i := 0; b.Loop(); i++ {
		if _, ok := c.Get("dir3/file513"); !ok {
			b.Fatal("miss")
		}
	}
}
