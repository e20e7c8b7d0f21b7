package session

import (
	"context"
	"crypto/rand"
	"fmt"
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

// OnLeaseBreak sets the function called, before the acknowledgment, when
// the server breaks a lease with write caching to one without: the
// holder must send the data it wrote behind first.
func (s *Session) OnLeaseBreak(fn func(key [16]byte)) { s.leaseBreak.Store(&fn) }

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
			f.lease = l.State | leaseGranted
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

// Lease is the lease state (smb2.LeaseRead, LeaseHandle, LeaseWrite) the
// server granted at open; ok is false if it granted no lease.
func (f *File) Lease() (state uint32, ok bool) {
	return f.lease &^ leaseGranted, f.lease&leaseGranted != 0
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
	nf := &File{t: t, id: resp.FileID, path: f.path, Info: f.Info, Action: smb2.FileOpened, diskID: f.diskID, dur: d, opts: o, lease: f.lease}
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
	s.log.Debug("lease break", "from", lb.CurrentLeaseState, "to", lb.NewLeaseState, "ack", lb.Flags&smb2.LeaseBreakAckRequired != 0)
	if lb.Flags&smb2.LeaseBreakAckRequired == 0 {
		return
	}
	go func() {
		if fn := s.leaseBreak.Load(); fn != nil && lb.CurrentLeaseState&smb2.LeaseWrite != 0 && lb.NewLeaseState&smb2.LeaseWrite == 0 {
			done := make(chan struct{})
			go func() {
				defer close(done)
				(*fn)(lb.LeaseKey)
			}()
			select {
			case <-done:
			case <-time.After(leaseBreakWait):
				s.log.Warn("lease break: the data written behind is not sent yet; acknowledging anyway")
			}
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
