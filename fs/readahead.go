package fs

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/smbd3/mount.smbd3/internal/bufpool"
)

// Read-ahead: when a handle is read sequentially, it keeps raDepth chunks
// of raChunk bytes requested ahead of the reader, so that the server
// streams large READs while the kernel asks for 1 MiB pieces. A read that
// lies in one chunk is answered from the chunk itself (no copy); chunks are
// pooled buffers with a reference count, recycled when neither the window
// nor a reply in progress uses them. Any write to the file drops the window.
//
// The kernel's own read-ahead arrives as concurrent requests that go-fuse
// serves in any order: a read may come several MiB behind one already
// answered. Such a read is still sequential (raSlack), and the window keeps
// a chunk until the kernel has read all of it (it asks for every byte once)
// or the reader is raSlack past it; a read from behind the window is
// answered directly and leaves the window alone. Dropping the window on
// every late read would fetch the same data again.
const (
	raChunk = 8 << 20
	raDepth = 2
	// raSlack is how far from the furthest read end a read still counts as
	// sequential: two kernel read-ahead windows (the next one is started
	// while the last is outstanding) and one request.
	raSlack = 2*readaheadKB<<10 + 1<<20
)

type raBuf struct {
	gen  uint64 // the node's write generation when the read that made it began
	off  int64
	buf  []byte
	n    int
	err  error
	done chan struct{}
	refs atomic.Int32 // the window, the fetch in progress, and replies
	used atomic.Int64 // bytes replied from it
}

// consumed reports a chunk whose every byte has been replied.
func (c *raBuf) consumed() bool {
	select {
	case <-c.done:
		return c.used.Load() >= int64(c.n)
	default:
		return false
	}
}

func (c *raBuf) unref() {
	if c.refs.Add(-1) == 0 {
		bufpool.Put(c.buf)
		c.buf = nil
	}
}

type readahead struct {
	lastEnd int64
	seq     int
	chunks  []*raBuf // ordered by offset, contiguous
}

func (r *readahead) dropLocked() {
	for _, c := range r.chunks {
		c.unref()
	}
	r.chunks = nil
	r.seq = 0
}

// dropReadahead forgets prefetched data of every handle of the node.
func (n *node) dropReadahead() {
	for _, h := range n.openHandles(nil) {
		h.mu.Lock()
		h.ra.dropLocked()
		h.mu.Unlock()
	}
}

// chunkResult is a read answered straight from a chunk; go-fuse calls Done
// once the reply is written, which gives the chunk back. Slices makes
// go-fuse write the reply from the chunk and call Done only after that
// (without it, with splice disabled, Done comes before the write).
type chunkResult struct {
	c    *raBuf
	data []byte
}

func (r *chunkResult) Slices() ([][]byte, fuse.Status)    { return [][]byte{r.data}, fuse.OK }
func (r *chunkResult) Bytes([]byte) ([]byte, fuse.Status) { return r.data, fuse.OK }
func (r *chunkResult) Size() int                          { return len(r.data) }
func (r *chunkResult) Done()                              { r.c.unref() }

// read serves a read from prefetched chunks when the handle is read
// sequentially, and straight from the server otherwise.
//
// gen is the node's write generation (node.wgen) when the read began,
// before it waited for pending writes: chunks made by a read that began
// earlier may miss data a write queued after that read had waited, and are
// dropped, also when that read, running at the same time, adds them after
// this one has looked.
func (h *handle) read(ctx context.Context, dest []byte, off int64, gen uint64) (fuse.ReadResult, error) {
	end := off + int64(len(dest))
	h.mu.Lock()
	ra := &h.ra
	for _, c := range ra.chunks {
		if c.gen < gen {
			ra.dropLocked()
			break
		}
	}
	if d := off - ra.lastEnd; d >= -raSlack && d <= raSlack {
		ra.seq++
	} else {
		ra.dropLocked()
	}
	ra.lastEnd = max(ra.lastEnd, end)
	if ra.seq < 2 {
		h.mu.Unlock()
		n, err := h.readAt(ctx, dest, off)
		return fuse.ReadResultData(dest[:n]), err
	}
	// Drop chunks the kernel has read, or that the reader has left behind.
	for len(ra.chunks) > 0 && (ra.chunks[0].consumed() || ra.chunks[0].off+raChunk <= off-raSlack) {
		ra.chunks[0].unref()
		ra.chunks = ra.chunks[1:]
	}
	if len(ra.chunks) > 0 && off < ra.chunks[0].off {
		// A late read from behind the window (the kernel's requests
		// arrive out of order): answer it directly, keep the window.
		h.mu.Unlock()
		n, err := h.readAt(ctx, dest, off)
		return fuse.ReadResultData(dest[:n]), err
	}
	if len(ra.chunks) > 0 && ra.chunks[len(ra.chunks)-1].off+raChunk+raSlack < off {
		ra.dropLocked() // the reader jumped ahead
		ra.seq = 2
	}
	next := off - off%raChunk
	if len(ra.chunks) > 0 {
		next = ra.chunks[len(ra.chunks)-1].off + raChunk
	}
	for next < end+raDepth*raChunk {
		c := &raBuf{gen: gen, off: next, buf: bufpool.Get(raChunk), done: make(chan struct{})}
		c.refs.Store(2) // the window and the fetch
		ra.chunks = append(ra.chunks, c)
		next += raChunk
		go func() {
			c.n, c.err = h.readAt(context.Background(), c.buf, c.off)
			close(c.done)
			c.unref()
		}()
	}
	var chunks []*raBuf
	stale := false
	for _, c := range ra.chunks {
		if c.off < end && off < c.off+raChunk {
			stale = stale || c.gen < gen
			c.refs.Add(1)
			chunks = append(chunks, c)
		}
	}
	if stale {
		// A read that began before ours made these chunks after our
		// check above, and a write came between the two.
		for _, c := range chunks {
			c.unref()
		}
		ra.dropLocked()
		h.mu.Unlock()
		n, err := h.readAt(ctx, dest, off)
		return fuse.ReadResultData(dest[:n]), err
	}
	h.mu.Unlock()
	defer func() {
		for _, c := range chunks {
			c.unref()
		}
	}()

	n := 0
	for _, c := range chunks {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if c.err != nil && !errors.Is(c.err, io.EOF) {
			h.mu.Lock()
			ra.dropLocked()
			h.mu.Unlock()
			return nil, c.err
		}
		start := int(off + int64(n) - c.off)
		if start >= c.n {
			break // end of file
		}
		stop := min(c.n, int(end-c.off))
		c.used.Add(int64(stop - start))
		if n == 0 && len(chunks) == 1 || (n == 0 && stop == int(end-c.off)) {
			// The whole answer is in this chunk: reply from it.
			c.refs.Add(1)
			return &chunkResult{c: c, data: c.buf[start:stop:stop]}, nil
		}
		n += copy(dest[n:], c.buf[start:stop])
		if c.n < raChunk {
			break
		}
	}
	return fuse.ReadResultData(dest[:n]), nil
}
