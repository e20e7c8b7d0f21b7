package smbdirect

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Buffer registration for RDMA Read/Write offload ([MS-SMBD] 3.1.4.3,
// PROTOCOL.md A.5, A.12).
//
// Registration is per I/O: the seam has no fast-register (re-key) verb, so
// every Register/Alloc creates a fresh memory region, with a fresh random
// STag (a stale token from an earlier I/O never reaches new data) and only
// the remote right its direction needs. What is recycled is the memory:
// Alloc hands out page-aligned buffers from a pool. Release invalidates
// the STag at once (unless the peer's Send with Invalidate already did)
// and deregisters off the I/O's critical path, in the connection's
// deregistration worker; pooled memory goes back to the pool only after
// deregistration, when no placement can still be under way.
//
// Buffer Descriptor Offset: the tagged offset (TO) of the region's first
// byte. The seam's providers use zero-based TOs (iwarp: "TO t names
// Buf()[t]"), so it is 0; a provider whose MR reports another base through
// a TaggedOffset() uint64 method (a verbs provider using virtual addresses,
// as siw does) gets that instead. Peers echo whatever we advertise.

// Direction says what the peer does with a region.
type Direction int

const (
	// ForRead is the sink of an SMB2 READ: the peer RDMA-Writes into it
	// (remote write access).
	ForRead Direction = iota + 1
	// ForWrite is the source of an SMB2 WRITE: the peer RDMA-Reads from it
	// (remote read access).
	ForWrite
)

func (d Direction) String() string {
	switch d {
	case ForRead:
		return "read"
	case ForWrite:
		return "write"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

func (d Direction) access() (rdma.Access, bool) {
	switch d {
	case ForRead:
		return rdma.AccessLocalWrite | rdma.AccessRemoteWrite, true
	case ForWrite:
		return rdma.AccessRemoteRead, true
	}
	return 0, false
}

// Region is memory registered for one I/O.
type Region struct {
	c      *Conn
	mr     rdma.MR
	buf    []byte
	pooled []byte // the pool buffer buf is a prefix of, if any
	base   uint64 // TO of buf[0]
	dir    Direction

	remote   atomic.Bool // invalidated by the peer (Send with Invalidate)
	local    atomic.Bool // invalidated by us
	released atomic.Bool
}

// Register registers p for one I/O in direction dir. p must stay untouched
// by others until the I/O is over and Release was called.
func (c *Conn) Register(p []byte, dir Direction) (*Region, error) {
	return c.register(p, nil, dir)
}

// Alloc registers a page-aligned pooled buffer of n bytes for one I/O;
// Region.Buf is the memory.
func (c *Conn) Alloc(n int, dir Direction) (*Region, error) {
	if n <= 0 || n > c.maxRW {
		return nil, fmt.Errorf("smbdirect: region of %d bytes (MaxReadWriteSize %d)", n, c.maxRW)
	}
	pb := getPage(n)
	r, err := c.register(pb[:n], pb, dir)
	if err != nil {
		putPage(pb)
	}
	return r, err
}

func (c *Conn) register(p, pooled []byte, dir Direction) (*Region, error) {
	acc, ok := dir.access()
	if !ok {
		return nil, fmt.Errorf("smbdirect: bad direction %d", dir)
	}
	if len(p) == 0 || len(p) > c.maxRW {
		return nil, fmt.Errorf("smbdirect: region of %d bytes (MaxReadWriteSize %d)", len(p), c.maxRW)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	mr, err := c.qp.RegisterMR(p, 0, acc)
	if err != nil {
		return nil, err
	}
	r := &Region{c: c, mr: mr, buf: p, pooled: pooled, dir: dir}
	if b, ok := mr.(interface{ TaggedOffset() uint64 }); ok {
		r.base = b.TaggedOffset()
	}
	c.mu.Lock()
	c.regions[mr.STag()] = r
	c.mu.Unlock()
	return r, nil
}

// Buf is the registered memory.
func (r *Region) Buf() []byte { return r.buf }

// Token is the region's STag.
func (r *Region) Token() uint32 { return r.mr.STag() }

// Direction is what the region was registered for.
func (r *Region) Direction() Direction { return r.dir }

// Descriptor is the Buffer Descriptor V1 for the whole region.
func (r *Region) Descriptor() BufferDescriptor {
	return BufferDescriptor{Offset: r.base, Token: r.mr.STag(), Length: uint32(len(r.buf))}
}

// AppendDescriptor appends the region's descriptor in wire form (the
// channel info of an SMB2 READ or WRITE request).
func (r *Region) AppendDescriptor(b []byte) []byte {
	d := r.Descriptor()
	return d.Append(b)
}

// RemotelyInvalidated reports whether the peer invalidated the region's
// token with a Send with Invalidate.
func (r *Region) RemotelyInvalidated() bool { return r.remote.Load() }

// Invalidate revokes the token locally unless the peer already did; after
// it the peer can no longer reach the region.
func (r *Region) Invalidate() error {
	if r.remote.Load() || r.local.Swap(true) {
		return nil
	}
	return r.mr.Invalidate()
}

// CheckInvalidated is what the channel calls when the response to the
// region's I/O arrived: if the message was a Send with Invalidate of this
// region's token, nothing is left to do; otherwise (no remote invalidation,
// or the peer invalidated some other token) it invalidates locally. It
// reports whether the peer invalidated the expected token.
func (r *Region) CheckInvalidated(m Message) (bool, error) {
	if m.Invalidated == r.Token() && r.remote.Load() {
		return true, nil
	}
	return false, r.Invalidate()
}

// Release ends the region's I/O: invalidates the token now and deregisters
// in the background; pooled memory is recycled after that. Buf must not be
// used afterwards if it came from Alloc.
func (r *Region) Release() {
	if r.released.Swap(true) {
		return
	}
	r.Invalidate()
	c := r.c
	c.mu.Lock()
	if c.regions[r.mr.STag()] == r {
		delete(c.regions, r.mr.STag())
	}
	c.mu.Unlock()
	select {
	case c.deregq <- r:
	default:
		r.deregister()
	}
}

func (r *Region) deregister() {
	r.mr.Deregister()
	if r.pooled != nil {
		putPage(r.pooled)
		r.pooled = nil
	}
}

// deregLoop deregisters released regions off the I/O path.
func (c *Conn) deregLoop() {
	for {
		select {
		case r := <-c.deregq:
			r.deregister()
		case <-c.done:
			for {
				select {
				case r := <-c.deregq:
					r.deregister()
				default:
					return
				}
			}
		}
	}
}

// Page-aligned buffer pool by power-of-two size classes, 4 KiB to 16 MiB.
const (
	pageShift    = 12
	pageSize     = 1 << pageShift
	maxPageClass = 24
)

var pagePools [maxPageClass + 1]sync.Pool

func pageClass(n int) int {
	if n <= pageSize {
		return pageShift
	}
	return bits.Len(uint(n - 1))
}

func getPage(n int) []byte {
	c := pageClass(n)
	if c > maxPageClass {
		return alignedAlloc(n)
	}
	if p, ok := pagePools[c].Get().(*[]byte); ok {
		return *p
	}
	return alignedAlloc(1 << c)
}

func putPage(b []byte) {
	c := pageClass(cap(b))
	if c > maxPageClass || cap(b) != 1<<c {
		return
	}
	b = b[:cap(b)]
	pagePools[c].Put(&b)
}

// alignedAlloc returns n bytes starting on a page boundary (the Go heap
// does not move objects).
func alignedAlloc(n int) []byte {
	b := make([]byte, n+pageSize)
	a := int(uintptr(unsafe.Pointer(&b[0])) & (pageSize - 1))
	if a != 0 {
		a = pageSize - a
	}
	return b[a : a+n : a+n]
}

// ErrDescriptors reports descriptors that cannot hold an RDMA transfer.
var ErrDescriptors = errors.New("smbdirect: buffer descriptors do not cover the transfer")

// RDMAWrite writes src into the peer's memory described by ds (the
// responder serving an SMB2 READ) and returns when the provider completed
// it; a Send posted afterwards arrives after the data was placed.
func (c *Conn) RDMAWrite(ctx context.Context, ds []BufferDescriptor, src []byte) error {
	return c.rdma(ctx, ds, src, nil)
}

// RDMARead reads len(dst) bytes from the peer's memory described by ds
// (the responder serving an SMB2 WRITE).
func (c *Conn) RDMARead(ctx context.Context, ds []BufferDescriptor, dst []byte) error {
	mr, err := c.qp.RegisterMR(dst, 0, rdma.AccessLocalWrite)
	if err != nil {
		return err
	}
	defer mr.Deregister()
	return c.rdma(ctx, ds, dst, mr)
}

func (c *Conn) rdma(ctx context.Context, ds []BufferDescriptor, p []byte, sink rdma.MR) error {
	if len(p) == 0 {
		return nil
	}
	if len(p) > c.maxRW {
		return fmt.Errorf("smbdirect: RDMA transfer of %d bytes (MaxReadWriteSize %d)", len(p), c.maxRW)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	op := rdmaOps.Get().(*rdmaOp)
	op.locals = op.locals[:0]
	off := 0
	for _, d := range ds {
		if off == len(p) {
			break
		}
		n := min(int(d.Length), len(p)-off)
		if n == 0 {
			continue
		}
		op.locals = append(op.locals, p[off:off+n])
		off += n
	}
	if off < len(p) {
		op.release()
		return fmt.Errorf("%w: %d of %d bytes", ErrDescriptors, off, len(p))
	}
	op.wrs = op.wrs[:0]
	j := 0
	for _, d := range ds {
		if j == len(op.locals) {
			break
		}
		if d.Length == 0 {
			continue
		}
		wr := rdma.SendWR{RemoteSTag: d.Token, RemoteOffset: d.Offset, Local: op.locals[j : j+1 : j+1]}
		if sink != nil {
			wr.Op, wr.LocalMR, wr.Length = rdma.OpRead, sink, uint32(len(op.locals[j]))
		} else {
			wr.Op = rdma.OpWrite
		}
		op.wrs = append(op.wrs, wr)
		j++
	}
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.waiters[id] = op.done
	c.mu.Unlock()
	last := &op.wrs[len(op.wrs)-1]
	last.ID, last.Signaled = id, true
	if err := c.qp.PostSend(op.wrs...); err != nil {
		c.mu.Lock()
		delete(c.waiters, id)
		c.mu.Unlock()
		op.release()
		return err
	}
	// The memory is in the provider's hands until completion: ctx cannot
	// cut this short.
	select {
	case <-op.done:
		op.release()
		return nil
	case <-c.done:
		// Not recycled: its completion may still come.
		return c.Err()
	}
}

// rdmaOp is the memory of one RDMA Write or Read in flight (its gather
// lists, work requests and completion wake-up), recycled so that the
// responder's data path allocates nothing.
type rdmaOp struct {
	locals [][]byte
	wrs    []rdma.SendWR
	done   chan struct{}
}

var rdmaOps = sync.Pool{New: func() any { return &rdmaOp{done: make(chan struct{}, 1)} }}

func (op *rdmaOp) release() {
	clear(op.locals)
	clear(op.wrs)
	rdmaOps.Put(op)
}
