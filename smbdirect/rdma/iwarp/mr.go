package iwarp

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// mr is a memory region. Its tagged offsets are zero based: TO t names
// Buf()[t], so the TO to put in an [MS-SMBD] Buffer Descriptor for byte i of
// the region is i. (siw uses virtual addresses; a peer only ever echoes the
// TO it was given, so the base is the owner's choice. TOs from peers are
// sent as given.)
type mr struct {
	qp     *qp
	stag   uint32
	buf    []byte
	access rdma.Access
	mapped bool // buf came from syscall.Mmap

	valid    atomic.Bool
	inflight atomic.Int32 // placements or read responses using buf now
	gone     atomic.Bool  // deregistered

	// peerEnd is one past the highest byte the peer has written by RDMA
	// Write (the receive loop's alone: see rxWrite).
	peerEnd uint64
}

func (m *mr) STag() uint32        { return m.stag }
func (m *mr) Buf() []byte         { return m.buf }
func (m *mr) Access() rdma.Access { return m.access }

// Invalidate revokes the STag at once and returns when no placement or
// Read Response that passed the checks before is still using the memory,
// as a verbs local invalidate completes only after such accesses: after
// it the owner may use the memory again (an SMB2 READ whose region it was
// has returned to its caller). Such an access ends when its FPDU is in or
// out, or when the QP dies.
func (m *mr) Invalidate() error {
	m.valid.Store(false)
	m.drain()
	return nil
}

// drain waits until no access passed acquire and is still under way. An
// acquire after valid was cleared fails (both are sequentially consistent
// atomics: inflight is raised before valid is read).
func (m *mr) drain() {
	for m.inflight.Load() > 0 {
		time.Sleep(50 * time.Microsecond)
	}
}

// Deregister invalidates the region, waits for placements in progress and
// releases it (unmapping memory the provider allocated).
func (m *mr) Deregister() error {
	if m.gone.Swap(true) {
		return errors.New("iwarp: memory region already deregistered")
	}
	m.valid.Store(false)
	m.qp.mu.Lock()
	delete(m.qp.mrs, m.stag)
	m.qp.mu.Unlock()
	m.drain()
	if m.mapped {
		b := m.buf[:cap(m.buf)]
		m.buf = nil
		return syscall.Munmap(b)
	}
	return nil
}

// acquire pins m for access of n bytes at to and checks key, validity,
// rights and bounds. It returns the status (0 ok) as a siw access state.
// On success the caller must release.
func (m *mr) acquire(stag uint32, to uint64, n int, need rdma.Access) accessErr {
	m.inflight.Add(1)
	switch {
	case m.stag != stag || !m.valid.Load():
		m.inflight.Add(-1)
		return accSTag
	case m.access&need != need:
		m.inflight.Add(-1)
		return accRights
	case to > uint64(len(m.buf)) || uint64(n) > uint64(len(m.buf))-to:
		m.inflight.Add(-1)
		return accBounds
	}
	return accOK
}

func (m *mr) release() { m.inflight.Add(-1) }

type accessErr int

const (
	accOK accessErr = iota
	accSTag
	accBounds
	accRights
)

// tagged is the DDP tagged error code for a placement check (siw maps
// missing rights to "invalid STag": DDP has no code for it).
func (a accessErr) tagged() uint8 {
	if a == accBounds {
		return DDPTBaseBounds
	}
	return DDPTInvalidSTag
}

// rdmap is the RDMAP remote protection code for a Read Request check.
func (a accessErr) rdmap() uint8 {
	switch a {
	case accBounds:
		return RDMAPBaseBounds
	case accRights:
		return RDMAPAccessRights
	}
	return RDMAPInvalidSTag
}

func (a accessErr) String() string {
	return [...]string{"ok", "invalid or unknown STag", "outside the region", "access rights"}[a]
}

var pageSize = syscall.Getpagesize()

// RegisterMR registers buf, or allocates size bytes of page-aligned
// anonymous memory (mmap) when buf is nil, with a fresh random STag: a
// random 24-bit index and a random key byte, never 0.
func (q *qp) RegisterMR(buf []byte, size int, access rdma.Access) (rdma.MR, error) {
	m := &mr{qp: q, access: access}
	if buf == nil {
		if size <= 0 {
			return nil, errors.New("iwarp: RegisterMR: no buffer and size <= 0")
		}
		n := (size + pageSize - 1) &^ (pageSize - 1)
		b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return nil, err
		}
		m.buf, m.mapped = b[:size], true
	} else {
		m.buf = buf
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mrs == nil {
		q.mrs = make(map[uint32]*mr)
	}
	for {
		idx := rand.Uint32() & 0xffffff
		key := rand.Uint32() & 0xff
		if idx == 0 {
			continue
		}
		s := idx<<8 | key
		if _, dup := q.mrs[s]; dup {
			continue
		}
		m.stag = s
		break
	}
	m.valid.Store(true)
	q.mrs[m.stag] = m
	return m, nil
}
