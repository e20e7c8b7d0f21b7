package session

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Durable handles and leases ([MS-SMB2] 3.2.4.3.5, 3.2.4.3.8, 3.2.5.19.2).
//
// With Config.Durable, a CREATE whose options carry a lease key asks for a
// lease (read, handle and, for an open that may write, write caching) and
// a durable handle (DH2Q, with a CreateGUID of its own). A server that
// grants durability keeps the open for a while after the connection is
// lost; Tree.Reopen reclaims it on a new session (DH2C), with its byte-range
// locks, so that what the handle was doing can go on. Servers grant
// durability only with a lease that caches handles; File.Durable says
// whether it was granted. (Samba 4.17 grants it as configured by default,
// but keeps byte-range locks across a reclaim only with "posix locking =
// no": with its default it panics reclaiming an open that holds one.)
//
// The lease is only the ticket to durability: the mount does not rely on
// it for caching (its caches have their own lifetimes). A lease break is
// acknowledged with the state the server offers, once the handler set
// with OnLeaseBreak has returned (the mount sends the data it still holds
// behind for a file losing write caching, so that the client whose open
// broke the lease reads it) or after leaseBreakWait.

// leaseBreakWait bounds the wait for the lease break handler: servers give
// the holder 35 s (Samba, Windows) before they go on without its answer.
const leaseBreakWait = 20 * time.Second

// OnLeaseBreak sets the function called when the server breaks a lease
// from state from to state to (smb2.LeaseRead, LeaseHandle, LeaseWrite),
// before the acknowledgment if one is due: a holder losing write caching
// must send the data it wrote behind first, and one losing handle caching
// must close the handles it kept open for reuse.
func (s *Session) OnLeaseBreak(fn func(key [16]byte, from, to uint32)) { s.leaseBreak.Store(&fn) }

// durableTimeout is the DH2Q Timeout asked for: how long the server keeps
// an open after losing the connection (it may grant less).
const durableTimeout = 60 * time.Second

// durableOpen is what a CREATE asked for to make its open durable.
type durableOpen struct {
	leaseKey   [16]byte
	createGUID [16]byte
	state      uint32
}

// durableRefusals is how many durable handles in a row a tree's server
// may refuse before the tree stops asking: a server that grants none
// would only hand out leases, whose bookkeeping costs it time at every
// open, for little.
const durableRefusals = 8

// leasesOK reports whether the session may ask for leases.
func (s *Session) leasesOK() bool {
	if !s.cfg.Durable {
		return false
	}
	return s.first.caps&smb2.CapLeasing != 0 // set once, by Dial
}

// durable adds the lease and durable-handle contexts to a CREATE for o
// when the session asks for them and o has a lease key.
func (o *CreateOptions) durable(t *Tree, r *smb2.CreateRequest) *durableOpen {
	if o.LeaseKey == nil || o.Options&smb2.FileDirectoryFile != 0 || t.refused.Load() >= durableRefusals || !t.s.leasesOK() {
		return nil
	}
	d := &durableOpen{leaseKey: *o.LeaseKey, state: leaseState(o.Access)}
	rand.Read(d.createGUID[:])
	lease := smb2.LeaseV2{Key: d.leaseKey, State: d.state}
	dh := smb2.DurableV2Request{Timeout: uint32(durableTimeout / time.Millisecond), CreateGUID: d.createGUID}
	r.RequestedOplockLevel = smb2.OplockLease
	r.Contexts = append(r.Contexts[:len(r.Contexts):len(r.Contexts)],
		smb2.CreateContext{Name: smb2.CtxNameLease, Data: lease.Append(nil)},
		smb2.CreateContext{Name: smb2.CtxNameDurableV2, Data: dh.Append(nil)})
	return d
}

// leaseState is the lease asked for an open with access: read and handle
// caching, and write caching for an open that may write.
func leaseState(access uint32) uint32 {
	st := smb2.LeaseRead | smb2.LeaseHandle
	if access&(smb2.FileWriteData|smb2.FileAppendData|smb2.GenericWrite|smb2.GenericAll|smb2.MaximumAllowed) != 0 {
		st |= smb2.LeaseWrite
	}
	return st
}

// granted records on f what the server answered to d's contexts.
func (f *File) granted(d *durableOpen, o CreateOptions, ctxs []smb2.CreateContext) {
	if d == nil {
		return
	}
	if b, ok := smb2.FindCreateContext(ctxs, smb2.CtxNameLease); ok {
		var l smb2.LeaseV2
		if l.Unmarshal(b) == nil && l.Key == d.leaseKey {
			f.t.s.leases.add(f, d.leaseKey, l.State)
			f.t.s.leaseTree.Store(f.t) // its breaks are acknowledged there
		}
	}
	b, ok := smb2.FindCreateContext(ctxs, smb2.CtxNameDurableV2)
	var dr smb2.DurableV2Response
	if !ok || dr.Unmarshal(b) != nil {
		if f.t.refused.Add(1) == durableRefusals {
			f.t.s.log.Info("the server grants no durable handles: no more asked for", "share", f.t.share)
		}
		return
	}
	f.t.refused.Store(0)
	f.dur = d
	f.opts = o
}

// Durable reports whether the server granted f a durable handle, which
// Tree.Reopen can reclaim after the connection is lost.
func (f *File) Durable() bool { return f.dur != nil }

// leaseGranted marks File.lease as an answer of the server's.
const leaseGranted = 1 << 31

// Lease is the current state (smb2.LeaseRead, LeaseHandle, LeaseWrite) of
// the lease f's open holds: what the server granted at open, or at a
// later open under the same key (a lease is the key's, shared by its
// opens), less what it broke since; ok is false if it granted no lease.
func (f *File) Lease() (state uint32, ok bool) {
	l := f.lease.Load()
	return l &^ leaseGranted, l&leaseGranted != 0
}

// leaseSet tracks the session's open files that hold leases, by key, so
// that a grant or a break updates the state every open of the key sees.
type leaseSet struct {
	mu sync.Mutex
	m  map[[16]byte]map[*File]struct{}
}

// add records f, just granted state under key: the key's other opens
// hold that state too.
func (ls *leaseSet) add(f *File, key [16]byte, state uint32) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = make(map[[16]byte]map[*File]struct{})
	}
	fs := ls.m[key]
	if fs == nil {
		fs = make(map[*File]struct{})
		ls.m[key] = fs
	}
	fs[f] = struct{}{}
	f.leaseKey = key
	for o := range fs {
		o.lease.Store(state | leaseGranted)
	}
}

// drop forgets f, being closed.
func (ls *leaseSet) drop(f *File) {
	if f.lease.Load() == 0 {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if fs := ls.m[f.leaseKey]; fs != nil {
		delete(fs, f)
		if len(fs) == 0 {
			delete(ls.m, f.leaseKey)
		}
	}
}

// held reports whether an open file holds key's lease.
func (ls *leaseSet) held(key [16]byte) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.m[key]) > 0
}

// broken records that the server broke key's lease to state.
func (ls *leaseSet) broken(key [16]byte, state uint32) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for o := range ls.m[key] {
		o.lease.Store(state | leaseGranted)
	}
}

// Reopen reclaims the durable open f of a lost session on t, a tree of a
// new session with the same ClientGUID: same file, same FileId, byte-range
// locks kept. It fails if f is not durable, or the server let it go.
func (t *Tree) Reopen(ctx context.Context, f *File) (*File, error) {
	d := f.dur
	if d == nil {
		return nil, withPath(fmt.Errorf("not a durable handle"), "reopen", f.path)
	}
	o := f.opts
	r := o.request(t, f.path)
	// The open exists: whatever created or truncated the file at first
	// must not do it again, should a server look at the disposition.
	r.CreateDisposition = smb2.FileOpen
	r.RequestedOplockLevel = smb2.OplockLease
	lease := smb2.LeaseV2{Key: d.leaseKey, State: d.state}
	dh := smb2.DurableV2Reconnect{FileID: f.id, CreateGUID: d.createGUID}
	r.Contexts = []smb2.CreateContext{
		{Name: smb2.CtxNameLease, Data: lease.Append(nil)},
		{Name: smb2.CtxNameDurableV2Recon, Data: dh.Append(nil)},
	}
	cl, err := t.roundTrip(ctx, &request{cmd: smb2.CmdCreate, body: r})
	if err != nil {
		return nil, withPath(err, "reopen", f.path)
	}
	defer cl.release()
	var resp smb2.CreateResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return nil, err
	}
	nf := &File{t: t, id: resp.FileID, path: f.path, Info: f.Info, Action: smb2.FileOpened, diskID: f.diskID, dur: d, opts: o}
	if st, ok := f.Lease(); ok {
		t.s.leases.add(nf, d.leaseKey, st)
	}
	t.s.leaseTree.Store(t)
	return nf, nil
}

// onNotify takes a server notification: a lease break is acknowledged at
// once, when the server asks for it, with the state it offers.
func (s *Session) onNotify(h *smb2.Header, body []byte) {
	var lb smb2.LeaseBreakNotification
	if err := lb.Unmarshal(body); err != nil {
		// An oplock break (never asked for) or a malformed one: nothing
		// to acknowledge.
		s.log.Debug("server notification ignored", "err", err)
		return
	}
	ackRequired := lb.Flags&smb2.LeaseBreakAckRequired != 0
	s.log.Debug("lease break", "from", lb.CurrentLeaseState, "to", lb.NewLeaseState, "ack", ackRequired)
	s.leases.broken(lb.LeaseKey, lb.NewLeaseState)
	go func() {
		if fn := s.leaseBreak.Load(); fn != nil {
			done := make(chan struct{})
			go func() {
				defer close(done)
				(*fn)(lb.LeaseKey, lb.CurrentLeaseState, lb.NewLeaseState)
			}()
			select {
			case <-done:
			case <-time.After(leaseBreakWait):
				s.log.Warn("lease break: the holder has not let go yet; acknowledging anyway")
			}
		}
		if !ackRequired || !s.leases.held(lb.LeaseKey) {
			// No open of ours holds the lease any more (the holder
			// closed them): there is nothing to acknowledge.
			return
		}
		ctx, cancel := context.WithTimeout(s.stopCtx, 30*time.Second)
		defer cancel()
		// Servers take the acknowledgment in a tree (Samba refuses one
		// without, and finds the lease by client and key whatever the
		// tree): one that was granted a lease, sealed if it is.
		ack := &request{cmd: smb2.CmdOplockBreak, body: &smb2.LeaseBreakAck{LeaseKey: lb.LeaseKey, LeaseState: lb.NewLeaseState}}
		sec := *s.sec()
		if t := s.leaseTree.Load(); t != nil {
			ack.tree, sec = t.id, t.sec
		}
		calls, err := s.do(ctx, sec, Op{}, false, ack)
		if err == nil {
			err = statusErr(calls[0])
			calls[0].release()
		}
		if err != nil {
			s.log.Warn("lease break not acknowledged", "err", err)
		}
	}()
}

// ClientGUID is the session's client GUID: give it to Config.ClientGUID of
// the session that replaces this one, to reclaim durable opens.
func (s *Session) ClientGUID() [16]byte { return s.clientGUID }
