package bufpool

import (
	"runtime"
	"testing"
)

func TestGetPut(t *testing.T) {
	for _, n := range []int{1, 4096, 4097, 1 << 20, 8<<20 + 1, 16 << 20} {
		b := Get(n)
		if len(b) != n || cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(b)
	}
	if b := Get(17 << 20); len(b) != 17<<20 {
		t.Fatalf("oversized Get: %d", len(b))
	}
	Put(make([]byte, 5000)) // not from Get: ignored
}

// TestBigSurvivesGC: a large buffer put back is handed out again after a
// garbage collection, without a new allocation.
func TestBigSurvivesGC(t *testing.T) {
	b := Get(8 << 20)
	b[0] = 42
	p := &b[0]
	Put(b)
	runtime.GC()
	runtime.GC()
	c := Get(8 << 20)
	if &c[0] != p {
		t.Fatal("the 8 MiB buffer was not kept across GC")
	}
	Put(c)
	allocs := testing.AllocsPerRun(100, func() { Put(Get(8 << 20)) })
	if allocs != 0 {
		t.Fatalf("%v allocations per Get/Put of 8 MiB", allocs)
	}
}

func TestBigBounded(t *testing.T) {
	var bs [][]byte
	for range 20 {
		bs = append(bs, Get(16<<20))
	}
	for _, b := range bs {
		Put(b)
	}
	if n := Idle(); n > keepBytes*(maxClass-bigClass+1) || len(big[24].bufs)*(16<<20) > keepBytes {
		t.Fatalf("free lists hold %d bytes", n)
	}
}
