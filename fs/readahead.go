package fs

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/smbd3/mount.smbd3/channel"
)

// Read-ahead: when a handle is read sequentially, it keeps raDepth chunks
// of raChunk bytes requested ahead of the reader, so that the server
// streams large READs while the kernel asks for 1 MiB pieces. A read that
// lies in one chunk is answered from the chunk itself (no copy); chunks are
// pooled buffers with a reference count, recycled when neither the window
// nor a reply in progress uses them. Any write to the file drops the window.
const (
	raChunk = 8 << 20
	raDepth = 2
	raSlack = 2 << 20 // how far from the last read end a read still counts as sequential
)

type raBuf struct {
	off  int64
	buf  []byte
	n    int
	err  error
	done chan struct{}
	refs atomic.Int32 // the window, the fetch in progress, and replies
}

func (c *raBuf) unref() {
	if c.refs.Add(-1) == 0 {
		channel.PutBuf(c.buf)
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

// chunkResult is a read answered straight from a chunk; go-fuse calls Done
// once the reply is written, which gives the chunk back.
type chunkResult struct {
	c    *raBuf
	data []byte
}

func (r *chunkResult) Bytes([]byte) ([]byte, fuse.Status) { return r.data, fuse.OK }
func (r *chunkResult) Size() int                          { return len(r.data) }
func (r *chunkResult) Done()                              { r.c.unref() }

// read serves a read from prefetched chunks when the handle is read
// sequentially, and straight from the server otherwise.
func (h *handle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, error) {
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
		n, err := h.f.ReadAt(ctx, dest, off)
		return fuse.ReadResultData(dest[:n]), err
	}
	// Drop chunks wholly behind the reader, or all if the reader jumped.
	for len(ra.chunks) > 0 && ra.chunks[0].off+raChunk <= off-raSlack {
		ra.chunks[0].unref()
		ra.chunks = ra.chunks[1:]
	}
	if len(ra.chunks) > 0 && (ra.chunks[0].off > off || ra.chunks[len(ra.chunks)-1].off+raChunk < off) {
		ra.dropLocked()
		ra.seq = 2
	}
	next := off - off%raChunk
	if len(ra.chunks) > 0 {
		next = ra.chunks[len(ra.chunks)-1].off + raChunk
	}
	for next < end+raDepth*raChunk {
		c := &raBuf{off: next, buf: channel.GetBuf(raChunk), done: make(chan struct{})}
		c.refs.Store(2) // the window and the fetch
		ra.chunks = append(ra.chunks, c)
		next += raChunk
		go func() {
			c.n, c.err = h.f.ReadAt(context.Background(), c.buf, c.off)
			close(c.done)
			c.unref()
		}()
	}
	var chunks []*raBuf
	for _, c := range ra.chunks {
		if c.off < end && off < c.off+raChunk {
			c.refs.Add(1)
			chunks = append(chunks, c)
		}
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
