package fs

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/smbd3/mount.smbd3/internal/bufpool"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// writeBehind bounds the bytes of WRITEs a handle may have in flight after
// the kernel's write call has already returned. Errors of such writes are
// reported by the next write, fsync, flush (close) or read on the handle.
const writeBehind = 32 << 20

// handle is an open file. Writes are sent asynchronously (write-behind);
// overlapping writes keep their order, also across the node's handles, and
// reads (of the node's writes from their offset on), fsync, flush, and
// setattr or getattr that need the server wait for the writes in flight
// first.
//
// Lock order: reopenMu before mu; node.mu is never held with either.
// reopenMu is held across the CREATE of a reopen (see file), mu never
// across a server round trip.
type handle struct {
	n      *node
	f      atomic.Pointer[session.File] // replaced only by reopen
	flags  uint32
	direct bool   // opened with FOPEN_DIRECT_IO: writes bypass the page cache
	gen    uint64 // node.wgen before its open (see deferClose)
	moved  uint64 // node.moved before its open (see deferClose)

	reopenMu sync.Mutex // one reopen at a time
	// lost: a server handle of a lost session that could be neither
	// reclaimed nor opened again (guarded by reopenMu): its operations
	// fail, and no more attempts are made for it.
	lost *session.File
	// written is the end of the furthest write the server acknowledged
	// through the handle, less what truncations took since: a file opened
	// again after a reconnection must be at least this long, or the
	// server lost what it had acknowledged (see file).
	written atomic.Int64

	mu        sync.Mutex
	cond      sync.Cond
	inflight  int64            // bytes being written
	ranges    []writeRange     // in-flight writes
	queued    []writeRange     // taken from wbuf, waiting in sendLocked to be sent
	nextSeq   uint64           // orders queued
	streaming bool             // contiguous writes seen: gather into coalesceMax buffers
	times     *session.SetAttr // times set through the handle, not yet sent
	attrBusy  int              // setting them in progress (wait)
	werr      error            // first failed write not yet reported
	wbuf      []byte           // contiguous data not yet sent (write coalescing)
	woff      int64            // file offset of wbuf[0]
	wtimer    *time.Timer      // sends wbuf when writes pause
	ra        readahead        // sequential read-ahead state
	locks     []posixLock      // byte-range locks held through this handle
	closed    bool
	// first is the start of the file, read by the open itself (see
	// openRead); whole: first is all of the file. Reads answered by it
	// send nothing. Dropped at the read that reaches its end, or once
	// the file is written (firstGen is node.wgen before the open).
	first    []byte
	whole    bool
	firstGen uint64
}

type writeRange struct {
	off, end int64
	seq      uint64
}

func newHandle(n *node, f *session.File, flags, openFlags uint32) *handle {
	h := &handle{n: n, flags: flags, direct: openFlags&fuse.FOPEN_DIRECT_IO != 0}
	h.f.Store(f)
	h.cond.L = &h.mu
	n.mu.Lock()
	if n.handles == nil {
		n.handles = make(map[*handle]struct{})
	}
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if flags&syscall.O_TRUNC != 0 || !n.writingLocked() {
			n.wend = 0 // truncated, or the server's size holds until this writer writes
		}
		n.fsys.writers(n, true)
	}
	n.handles[h] = struct{}{}
	n.mu.Unlock()
	return h
}

// drain waits for every write in flight on the node's handles and returns
// the first write error among them.
func (n *node) drain() syscall.Errno {
	var first syscall.Errno
	for _, h := range n.openHandles(nil) {
		if err := h.wait(0, -1); err != 0 && first == 0 {
			first = err
		}
	}
	return first
}

// openHandles returns the node's open handles but skip.
func (n *node) openHandles(skip *handle) []*handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, in := n.handles[skip]; in && len(n.handles) == 1 || len(n.handles) == 0 {
		return nil
	}
	hs := make([]*handle, 0, len(n.handles))
	for h := range n.handles {
		if h != skip {
			hs = append(hs, h)
		}
	}
	return hs
}

// settle waits until no write of the node's handles but skip that
// overlaps [off, end) (end < 0: any) is gathered or in flight, leaving
// their errors to be reported through them.
func (n *node) settle(skip *handle, off, end int64) {
	for _, h := range n.openHandles(skip) {
		h.mu.Lock()
		h.settleLocked(off, end)
		h.mu.Unlock()
	}
}

// wait blocks until no write overlapping [off, end) is in flight (end < 0:
// any write) and returns, once, a pending write error.
//
// Waiting for everything (end < 0) also sets times the application set
// through the handle (see setTimes): with the last gathered write when that
// is small, else after the writes.
func (h *handle) wait(off, end int64) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settleLocked(off, end)
	if h.werr != nil {
		err := h.werr
		h.werr = nil
		return toErrno(err)
	}
	return 0
}

// settleLocked sends gathered data overlapping [off, end) and waits until
// no write overlapping it is in flight (see wait).
func (h *handle) settleLocked(off, end int64) {
	all := end < 0
	if len(h.wbuf) > 0 && (all || (h.woff < end && off < h.woff+int64(len(h.wbuf)))) {
		h.sendLocked(all)
	}
	if all {
		h.pushTimesLocked()
	}
	for h.overlapsLocked(off, end) || (all && h.attrBusy > 0) {
		h.cond.Wait()
	}
}

// settleOthers waits until no write of the node's other handles that
// overlaps [off, end) is gathered or in flight, so that what h does next
// comes after them. Their errors stay theirs to report.
func (h *handle) settleOthers(off, end int64) { h.n.settle(h, off, end) }

// overlapsLocked reports a write overlapping [off, end) (end < 0: any)
// in flight or about to be sent.
func (h *handle) overlapsLocked(off, end int64) bool {
	return overlapping(h.ranges, off, end) || overlapping(h.queued, off, end)
}

func overlapping(rs []writeRange, off, end int64) bool {
	for _, r := range rs {
		if end < 0 || (r.off < end && off < r.end) {
			return true
		}
	}
	return false
}

// queuedBeforeLocked reports a write overlapping r taken from wbuf before r
// and not sent yet.
func (h *handle) queuedBeforeLocked(r writeRange) bool {
	for _, q := range h.queued {
		if q.seq < r.seq && q.off < r.end && r.off < q.end {
			return true
		}
	}
	return false
}

func accessFor(flags uint32) uint32 {
	switch flags & syscall.O_ACCMODE {
	case syscall.O_WRONLY, syscall.O_RDWR:
		return smb2.GenericRead | smb2.GenericWrite
	}
	return smb2.GenericRead
}

// openFlags tells the kernel how to cache the pages of a file opened with
// flags (see the package documentation).
//
// A write-only open writes around the page cache (direct I/O) in every
// cache mode: nothing can be read through it, and copying each write into
// pages that the next open in strict mode drops anyway (the write changes
// the server's mtime) costs the writer a copy and a page allocation per
// page (dd of 1 GiB is about a tenth faster without). Shared writable
// mappings need O_RDWR, so such a handle is never mmapped for writing.
// The kernel does not update other handles' cached pages on a direct
// write, so handle.Write invalidates the written range once the node has
// had a cached open (pagesCached), and reads wait for the writes of the
// node's other handles (settleOthers).
//
// In strict mode a read-only open of a large file (Options.DirectReadMin)
// reads around the page cache too, unless the kernel holds valid pages of
// it. Such files are mostly streamed once (cp, media, archives), and on a
// busy machine the page cache costs a sequential reader a third of its
// speed: the kernel copies each page twice (our reply into the page, the
// page to the reader) and allocates, charges and later reclaims it, while
// the reader evicts pages that were worth keeping. The handle's own
// read-ahead (readahead.go) still streams large requests from the server
// ahead of the reader; mappings of the file still go through the page
// cache (CAP_DIRECT_IO_ALLOW_MMAP), hence pagesCached.
func (n *node) openFlags(info *session.FileInfo, flags uint32) uint32 {
	if n.fsys.o.Cache == "none" {
		return fuse.FOPEN_DIRECT_IO
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var direct uint32
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		direct = fuse.FOPEN_DIRECT_IO
	} else {
		n.pagesCached = true
	}
	if n.fsys.o.Cache == "loose" {
		return fuse.FOPEN_KEEP_CACHE | direct
	}
	stamp := cacheStamp{mtime: info.Modified, size: info.Size}
	keep := n.cached == stamp
	n.cached = stamp
	if keep {
		return fuse.FOPEN_KEEP_CACHE | direct
	}
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY && n.fsys.o.DirectReadMin > 0 && info.Size >= n.fsys.o.DirectReadMin {
		// Not cached: the pages are dropped at this open (no
		// FOPEN_KEEP_CACHE), and n.cached is no longer a promise, so
		// the next cached open drops whatever a mapping read in since.
		n.cached = cacheStamp{}
		return fuse.FOPEN_DIRECT_IO
	}
	return direct
}

// writableHandle returns an open handle of the node that may change the
// file's attributes, if there is one (not one of a session lost before a
// reconnection: it can change nothing).
func (n *node) writableHandle() *handle {
	cur := n.fsys.rc.cur.Load()
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.handles {
		if h.flags&syscall.O_ACCMODE != syscall.O_RDONLY && h.f.Load().Tree() == cur {
			return h
		}
	}
	return nil
}

var _ = (fs.NodeOpener)((*node)(nil))

// openOn opens the existing file at p on t for an open(2) with flags
// (O_TRUNC truncates it), with the node's lease key.
func (n *node) openOn(ctx context.Context, t *session.Tree, p string, flags uint32) (*session.File, session.FileInfo, error) {
	f, info, _, err := n.openRead(ctx, t, p, flags, 0)
	return f, info, err
}

// openRead is openOn that also reads up to read bytes from the start of
// the file in the same round trip.
func (n *node) openRead(ctx context.Context, t *session.Tree, p string, flags uint32, read int) (*session.File, session.FileInfo, []byte, error) {
	o := session.CreateOptions{Access: accessFor(flags), Options: smb2.FileNonDirectoryFile, LeaseKey: n.leaseKey()}
	if flags&syscall.O_TRUNC != 0 {
		o.Disposition = smb2.FileOverwrite
	}
	f, info, data, err := t.CreateStatRead(ctx, p, o, read)
	if err != nil && flags&syscall.O_ACCMODE == syscall.O_WRONLY && toErrno(err) == syscall.EACCES {
		o.Access = smb2.GenericWrite // a file one may write but not read
		f, info, err = t.CreateStat(ctx, p, o)
	}
	return f, info, data, err
}

// smallRead is the size up to which opening a file for reading reads it
// too: the kernel's first READ of a small file follows its open at once,
// and asking for both in one compound spares a round trip per file (cat,
// grep -r, diff -r, git add, a compiler reading sources). The READ asks
// for smallRead bytes whatever the size known, so a file that grew a
// little since is still read whole; the server answers only what is there.
const smallRead = 64 << 10

// readAtOpen returns how much an open for reading of the node at p should
// read: smallRead when the caches know p as a non-empty file of at most
// that size, else 0. Not while the file is open for writing here: writes
// behind (queued, or on their way) would be missing from what the server
// answers, where a read waits for them. Nor when the kernel is about to
// keep its pages of the file: an open that keeps them reads nothing.
func (n *node) readAtOpen(p string) int {
	e, ok := n.fsys.cached(p)
	if !ok || e.link || e.info.IsDir() || e.info.Size <= 0 || e.info.Size > smallRead {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.writingLocked() {
		return 0
	}
	if n.fsys.o.Cache != "none" {
		keep := n.pagesCached && n.cached == cacheStamp{mtime: e.info.Modified, size: e.info.Size}
		if keep || n.fsys.o.Cache == "loose" && n.pagesCached {
			return 0
		}
	}
	return smallRead
}

// fromFirst answers a read from the data the open brought (see
// handle.first), if it holds the answer and the file was not written
// through this client since the open; gen is node.wgen now.
func (h *handle) fromFirst(dest []byte, off int64, gen uint64) (fuse.ReadResult, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.first == nil {
		return nil, false
	}
	size := int64(len(h.first))
	end := off + int64(len(dest))
	if gen != h.firstGen {
		h.first = nil
		return nil, false
	}
	if off < 0 || off > size || end > size && !h.whole {
		return nil, false
	}
	data := h.first[off:min(end, size)]
	if end >= size {
		h.first = nil // read to its end: the kernel has it now
	}
	return fuse.ReadResultData(data), true
}

// Open opens an existing file.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	p := n.spath()
	if flags&(syscall.O_ACCMODE|syscall.O_TRUNC) == syscall.O_RDONLY {
		if d := n.fsys.takeDeferred(ctx, n); d != nil {
			// The server handle kept open after the last close: the
			// lease says nobody else changed the file, and this client
			// did not either (takeDeferred), so its attributes hold.
			info := d.f.Info
			of := n.openFlags(&info, flags)
			h := newHandle(n, d.f, flags, of)
			h.gen, h.moved = d.gen, d.moved
			return h, of, 0
		}
	} else {
		n.fsys.closeDeferred(ctx, n) // one server handle at a time (see deferclose.go)
	}
	gen, moved := n.wgen.Load(), n.moved.Load()
	read := 0
	if flags&(syscall.O_ACCMODE|syscall.O_TRUNC) == syscall.O_RDONLY {
		read = n.readAtOpen(p)
	}
	f, info, data, err := n.openRead(ctx, n.fsys.tree(), p, flags, read)
	if err != nil {
		return nil, 0, toErrno(err)
	}
	n.fsys.attrs.Update(p, entry{info: info})
	if flags&syscall.O_TRUNC != 0 {
		n.fsys.changed(p)
		n.dropReadahead()
	}
	of := n.openFlags(&info, flags)
	n.leased(f)
	h := newHandle(n, f, flags, of)
	h.gen, h.moved = gen, moved
	if len(data) > 0 {
		h.first, h.whole, h.firstGen = data, len(data) < read, gen
	}
	return h, of, 0
}

var _ = (fs.NodeCreater)((*node)(nil))

// Create creates and opens a file; O_EXCL fails if it exists. A mode
// without owner write permission sets the read-only attribute.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if n.fsys.readOnly() {
		return nil, nil, 0, syscall.EROFS
	}
	p := n.child(name)
	o := session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite, Options: smb2.FileNonDirectoryFile,
		Disposition: smb2.FileOpenIf, Attributes: uint32(smb2.FileAttributeArchive)}
	if ci := n.GetChild(name); ci != nil {
		if c, ok := ci.Operations().(*node); ok {
			o.LeaseKey = c.leaseKey()
			n.fsys.closeDeferred(ctx, c) // one server handle at a time (see deferclose.go)
		}
	}
	if o.LeaseKey == nil {
		o.LeaseKey = new([16]byte)
		rand.Read(o.LeaseKey[:])
	}
	switch {
	case flags&syscall.O_EXCL != 0:
		o.Disposition = smb2.FileCreate
	case flags&syscall.O_TRUNC != 0:
		o.Disposition = smb2.FileOverwriteIf
	}
	if mode&0o200 == 0 {
		o.Attributes |= uint32(smb2.FileAttributeReadonly)
	}
	f, info, err := n.fsys.tree().CreateNew(ctx, p, o)
	if err != nil {
		n.fsys.changed(p)
		return nil, nil, 0, toErrno(err)
	}
	e := entry{info: info}
	n.fsys.added(p, e)
	child := n.newChild(ctx, &e, out)
	cn := child.Operations().(*node)
	cn.setLeaseKey(o.LeaseKey)
	cn.leased(f)
	of := cn.openFlags(&info, flags)
	return child, newHandle(cn, f, flags, of), of, 0
}

var _ = (fs.FileReader)((*handle)(nil))

// Read reads from the server into the kernel's buffer.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx = uninterrupted(ctx)
	gen := h.n.wgen.Load()
	if res, ok := h.fromFirst(dest, off, gen); ok {
		return res, 0
	}
	// Writes from off on, not only those the read overlaps: the server's
	// answer to a read that ends before data still on its way there is
	// short, and the kernel takes a short read for the end of the file.
	// From the start of off's read-ahead chunk on, in fact: the read may
	// fetch that chunk, and later reads answered from it must find what
	// was written before them (see handle.read).
	from := off - off%raChunk
	if err := h.wait(from, math.MaxInt64); err != 0 {
		return nil, err
	}
	h.settleOthers(from, math.MaxInt64)
	res, err := h.read(ctx, dest, off, gen)
	if err != nil && !errors.Is(err, io.EOF) {
		if res != nil {
			res.Done()
		}
		return nil, toErrno(err)
	}
	return res, 0
}

var _ = (fs.FileWriter)((*handle)(nil))

// Write queues the data and returns at once: contiguous writes are gathered
// into requests of up to coalesceMax bytes, sent when full, when the
// writes stop being contiguous, after coalesceDelay without writes, or when
// anything needs the data on the server (read, flush, fsync, getattr,
// setattr, close). At most writeBehind bytes are in flight.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, errno := h.write(data, off)
	h.n.wgen.Add(1) // after the data is queued (see handle.read)
	if errno == 0 && h.direct && h.n.hasCachedPages() {
		// Drop the range from the page cache that other handles read
		// through; their next read comes here and finds the data
		// (settleOthers). No lock is held: the kernel may wait for a
		// read in progress on those pages.
		h.n.NotifyContent(off, int64(len(data)))
	}
	return n, errno
}

func (n *node) hasCachedPages() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pagesCached
}

func (h *handle) write(data []byte, off int64) (uint32, syscall.Errno) {
	h.n.dropReadahead()
	h.n.wrote(off + int64(len(data)))
	// What other handles wrote to these bytes before goes to the server
	// first, or it could land after this write and undo it.
	h.settleOthers(off, off+int64(len(data)))
	h.n.fsys.wrote(h.n.spath(), off+int64(len(data)))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.werr != nil {
		err := h.werr
		h.werr = nil
		return 0, toErrno(err)
	}
	if len(h.wbuf) > 0 && off == h.woff+int64(len(h.wbuf)) && len(h.wbuf)+len(data) <= coalesceMax {
		if len(h.wbuf)+len(data) > cap(h.wbuf) {
			// A second contiguous write: the handle streams, so gather
			// up to coalesceMax from now on.
			nb := append(bufpool.Get(coalesceMax)[:0], h.wbuf...)
			bufpool.Put(h.wbuf)
			h.wbuf, h.streaming = nb, true
		}
		h.wbuf = append(h.wbuf, data...)
		if len(h.wbuf) >= coalesceMax {
			h.sendLocked(false)
		}
		return uint32(len(data)), 0
	}
	h.sendLocked(false)
	size := len(data) // a small file's single write needs no 8 MiB buffer
	if h.streaming {
		size = max(coalesceMax, size)
	}
	h.wbuf = append(bufpool.Get(size)[:0], data...)
	h.woff = off
	if len(h.wbuf) >= coalesceMax || h.n.noWCache.Load() {
		h.sendLocked(false)
	} else {
		h.wtimer = time.AfterFunc(coalesceDelay, func() {
			h.mu.Lock()
			h.sendLocked(false)
			h.mu.Unlock()
		})
	}
	return uint32(len(data)), 0
}

// Write coalescing parameters; compoundWrite is the largest last write
// that carries pending times along (session.File.WriteAttr).
const (
	compoundWrite = 64 << 10
	coalesceMax   = 8 << 20
	coalesceDelay = 200 * time.Millisecond
)

// setTimes records times the application set through the handle (tar's
// futimens after writing a file) and starts sending them: with the
// gathered write in one compound when there is one (see sendLocked), else
// once the writes in flight are done. The caller does not wait: errors
// are reported like those of writes, and the setattr is answered from the
// cache, so the round trip overlaps what the application does next (for
// tar, a chown, a chmod and the close that waits for it).
func (h *handle) setTimes(a session.SetAttr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.times == nil {
		h.times = &session.SetAttr{}
	}
	for _, f := range []struct{ dst, src *time.Time }{
		{&h.times.Accessed, &a.Accessed}, {&h.times.Modified, &a.Modified},
		{&h.times.Created, &a.Created}, {&h.times.Changed, &a.Changed},
	} {
		if !f.src.IsZero() {
			*f.dst = *f.src
		}
	}
	h.pushTimesLocked()
}

// pushTimesLocked starts sending the pending times, after the writes:
// servers differ in whether a write moves an explicitly set time.
func (h *handle) pushTimesLocked() {
	if h.times == nil {
		return
	}
	if len(h.wbuf) > 0 {
		h.sendLocked(true)
		if h.times == nil {
			return // they went with the write
		}
	}
	a := *h.times
	h.times = nil
	h.attrBusy++
	go func() {
		h.mu.Lock()
		for h.overlapsLocked(0, -1) {
			h.cond.Wait()
		}
		h.mu.Unlock()
		err := h.through(func(f *session.File) error { return f.SetAttr(context.Background(), a) })
		if err != nil {
			h.n.fsys.stale(h.n.spath())
		}
		h.mu.Lock()
		h.attrBusy--
		if err != nil && h.werr == nil {
			h.werr = err
		}
		h.cond.Broadcast()
		h.mu.Unlock()
	}()
}

// sendLocked starts the WRITE of the gathered data, after the writes it
// overlaps and within the write-behind bound; with last, times recorded by
// setTimes go with it.
func (h *handle) sendLocked(last bool) {
	if h.wtimer != nil {
		h.wtimer.Stop()
		h.wtimer = nil
	}
	if len(h.wbuf) == 0 {
		return
	}
	buf, off := h.wbuf, h.woff
	h.wbuf = nil
	// While it waits (h.mu released), the write is in queued: whoever
	// settles the range waits for it too, and a later overlapping send of
	// this handle goes after it.
	r := writeRange{off: off, end: off + int64(len(buf)), seq: h.nextSeq}
	h.nextSeq++
	h.queued = append(h.queued, r)
	for overlapping(h.ranges, r.off, r.end) || h.queuedBeforeLocked(r) ||
		(h.inflight > 0 && h.inflight+int64(len(buf)) > writeBehind) {
		h.cond.Wait()
	}
	for i, q := range h.queued {
		if q == r {
			h.queued = append(h.queued[:i], h.queued[i+1:]...)
			break
		}
	}
	var times *session.SetAttr
	if last && h.times != nil && len(buf) <= compoundWrite {
		times, h.times = h.times, nil
	}
	h.inflight += int64(len(buf))
	h.ranges = append(h.ranges, r)
	go func() {
		// If the connection drops under the write and the durable open
		// comes back, the same bytes go to the same offset again.
		err := h.through(func(f *session.File) (err error) {
			if times != nil {
				_, err = f.WriteAttr(context.Background(), buf, off, *times)
			} else {
				_, err = f.WriteAt(context.Background(), buf, off)
			}
			return err
		})
		bufpool.Put(buf)
		if err != nil {
			h.n.fsys.stale(h.n.spath())
		} else {
			h.wrote(r.end)
		}
		h.mu.Lock()
		h.inflight -= r.end - r.off
		for i, x := range h.ranges {
			if x == r {
				h.ranges = append(h.ranges[:i], h.ranges[i+1:]...)
				break
			}
		}
		if err != nil && h.werr == nil {
			h.werr = err
		}
		h.cond.Broadcast()
		h.mu.Unlock()
	}()
}

// wrote records that the server acknowledged a write through h up to end.
func (h *handle) wrote(end int64) {
	for w := h.written.Load(); end > w && !h.written.CompareAndSwap(w, end); w = h.written.Load() {
	}
}

var _ = (fs.FileFlusher)((*handle)(nil))

// Flush (each close of a descriptor) reports write errors.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	ctx = uninterrupted(ctx)
	return h.wait(0, -1)
}

var _ = (fs.FileFsyncer)((*handle)(nil))

// Fsync waits for the writes and asks the server to make them durable:
// those of every handle of the file, as fsync(2) covers the file's data
// whatever descriptor wrote it.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if err := h.wait(0, -1); err != 0 {
		return err
	}
	h.settleOthers(0, -1)
	return toErrno(h.through(func(f *session.File) error { return f.Flush(ctx) }))
}

var _ = (fs.FileReleaser)((*handle)(nil))

// Release closes the handle once the kernel has no more use for it.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	ctx = uninterrupted(ctx)
	err := h.wait(0, -1)
	h.n.mu.Lock()
	delete(h.n.handles, h)
	h.n.closing++
	if !h.n.writingLocked() {
		h.n.wend = 0 // everything written is on the server
		h.n.fsys.writers(h.n, false)
	}
	h.n.mu.Unlock()
	h.reopenMu.Lock() // a read-ahead still running opens nothing again after this
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	f := h.f.Load()
	h.reopenMu.Unlock()
	var cerr error
	kept := h.n.fsys.deferClose(h, f)
	if !kept {
		cerr = f.Close(context.WithoutCancel(ctx))
	}
	h.n.mu.Lock()
	h.n.closing--
	h.n.mu.Unlock()
	if !kept { // a kept handle changed nothing: it read only, and is open still
		h.n.fsys.stale(h.n.spath())
	}
	if err != 0 {
		return err
	}
	return toErrno(cerr)
}

var _ = (fs.FileGetattrer)((*handle)(nil))

// Getattr through the handle.
func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	return h.n.Getattr(ctx, h, out)
}
