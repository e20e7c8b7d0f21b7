package fs

import (
	"context"
	"errors"
	"io"
)

// Read-ahead: when a handle is read sequentially, it keeps raDepth chunks
// of raChunk bytes requested ahead of the reader, so that the server
// streams large READs while the kernel asks for small pieces. Any write to
// the file drops the chunks.
const (
	raChunk = 4 << 20
	raDepth = 3
	raSlack = 2 << 20 // how far from the last read end a read still counts as sequential
)

type raBuf struct {
	off  int64
	buf  []byte
	n    int
	err  error
	done chan struct{}
}

type readahead struct {
	lastEnd int64
	seq     int
	chunks  []*raBuf // ordered by offset, contiguous
	gen     int      // bumped when chunks are dropped
}

func (r *readahead) dropLocked() {
	r.chunks = nil
	r.gen++
	r.seq = 0
}

// dropReadahead forgets prefetched data of every handle of the node.
func (n *node) dropReadahead() {
	n.mu.Lock()
	hs := make([]*handle, 0, len(n.handles))
	for h := range n.handles {
		hs = append(hs, h)
	}
	n.mu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		h.ra.dropLocked()
		h.mu.Unlock()
	}
}

// read serves a read from prefetched chunks when the handle is read
// sequentially, and straight from the server otherwise.
func (h *handle) read(ctx context.Context, dest []byte, off int64) (int, error) {
	end := off + int64(len(dest))
	h.mu.Lock()
	ra := &h.ra
	if d := off - ra.lastEnd; d >= -raSlack && d <= raSlack {
		ra.seq++
	} else {
		ra.dropLocked()
	}
	ra.lastEnd = max(ra.lastEnd, end)
	if ra.seq < 2 {
		h.mu.Unlock()
		return h.f.ReadAt(ctx, dest, off)
	}
	// Drop chunks wholly behind the reader, then fill the window.
	for len(ra.chunks) > 0 && ra.chunks[0].off+raChunk <= off-raSlack {
		ra.chunks = ra.chunks[1:]
	}
	if len(ra.chunks) > 0 && (ra.chunks[0].off > off || ra.chunks[len(ra.chunks)-1].off+raChunk < off) {
		ra.chunks = nil
	}
	next := off - off%raChunk
	if len(ra.chunks) > 0 {
		next = ra.chunks[len(ra.chunks)-1].off + raChunk
	}
	for len(ra.chunks) < raDepth+1 {
		c := &raBuf{off: next, buf: make([]byte, raChunk), done: make(chan struct{})}
		ra.chunks = append(ra.chunks, c)
		next += raChunk
		go func() {
			c.n, c.err = h.f.ReadAt(context.Background(), c.buf, c.off)
			close(c.done)
		}()
	}
	chunks := append([]*raBuf(nil), ra.chunks...)
	h.mu.Unlock()

	n := 0
	for _, c := range chunks {
		if c.off+raChunk <= off+int64(n) {
			continue
		}
		if c.off > off+int64(n) || n == len(dest) {
			break
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		if c.err != nil && !errors.Is(c.err, io.EOF) {
			h.mu.Lock()
			ra.dropLocked()
			h.mu.Unlock()
			return n, c.err
		}
		start := int(off + int64(n) - c.off)
		if start >= c.n {
			return n, io.EOF
		}
		n += copy(dest[n:], c.buf[start:c.n])
		if c.n < raChunk {
			break // end of file
		}
	}
	if n < len(dest) {
		// Not covered by the window (a read larger than it): read the rest.
		m, err := h.f.ReadAt(ctx, dest[n:], off+int64(n))
		return n + m, err
	}
	return n, nil
}
