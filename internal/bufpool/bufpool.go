// Package bufpool recycles byte buffers by power-of-two size class, from
// 4 KiB to 16 MiB, for the message and I/O paths of every layer (channel,
// session, fs).
//
// Small classes live in a sync.Pool. Large classes (1 MiB and up) are kept
// in a bounded free list instead: a sync.Pool is emptied by every garbage
// collection, and a daemon that allocates an 8 MiB buffer per operation
// triggers a collection almost every time, so it would allocate and zero
// every large buffer afresh. The free list keeps at most keepBytes per
// class; buffers idle for longer than idleTrim are given back to the
// runtime, so an idle mount does not hold memory it does not use.
package bufpool

import (
	"sync"
	"time"
)

const (
	minClass = 12 // 4 KiB
	maxClass = 24 // 16 MiB
	bigClass = 20 // 1 MiB: from here on, free lists

	keepBytes = 48 << 20
	idleTrim  = 30 * time.Second
)

var (
	small [bigClass]sync.Pool
	big   [maxClass + 1]freeList
)

type freeList struct {
	mu      sync.Mutex
	bufs    [][]byte // guarded by mu
	lastPut time.Time
	trim    *time.Timer
}

func class(n int) int {
	c := minClass
	for (1<<c) < n && c <= maxClass {
		c++
	}
	return c
}

// Get returns a buffer of length n (contents undefined), pooled when n is
// at most 16 MiB.
func Get(n int) []byte {
	c := class(n)
	switch {
	case c > maxClass:
		return make([]byte, n)
	case c >= bigClass:
		if b := big[c].get(); b != nil {
			return b[:n]
		}
	default:
		if p, ok := small[c].Get().(*[]byte); ok {
			return (*p)[:n]
		}
	}
	return make([]byte, n, 1<<c)
}

// Put recycles a buffer obtained from Get; it must not be used afterwards.
func Put(b []byte) {
	c := class(cap(b))
	if c > maxClass || cap(b) != 1<<c {
		return
	}
	if c >= bigClass {
		big[c].put(b[:cap(b)])
		return
	}
	putSmall(c, b[:cap(b)])
}

// putSmall is apart from Put so that only small buffers pay for the
// pointer a sync.Pool keeps.
func putSmall(c int, b []byte) { small[c].Put(&b) }

func (l *freeList) get() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bufs) == 0 {
		return nil
	}
	b := l.bufs[len(l.bufs)-1]
	l.bufs[len(l.bufs)-1] = nil
	l.bufs = l.bufs[:len(l.bufs)-1]
	return b
}

func (l *freeList) put(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (len(l.bufs)+1)*cap(b) > keepBytes {
		return // the collector takes it
	}
	l.bufs = append(l.bufs, b)
	l.lastPut = time.Now()
	if l.trim == nil {
		l.trim = time.AfterFunc(idleTrim, l.trimIdle)
	}
}

// trimIdle drops the list's buffers once none was returned for idleTrim.
func (l *freeList) trimIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if idle := time.Since(l.lastPut); idle < idleTrim {
		l.trim = time.AfterFunc(idleTrim-idle, l.trimIdle)
		return
	}
	clear(l.bufs)
	l.bufs = l.bufs[:0]
	l.trim = nil
}

// Idle reports the bytes held in the large classes' free lists (for tests
// and the status command).
func Idle() int {
	n := 0
	for c := bigClass; c <= maxClass; c++ {
		big[c].mu.Lock()
		n += len(big[c].bufs) << c
		big[c].mu.Unlock()
	}
	return n
}
