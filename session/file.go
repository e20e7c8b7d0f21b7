package session

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// File is an open handle.
type File struct {
	t        *Tree
	id       smb2.FileID
	path     string
	Info     FileInfo      // from the CREATE response
	Action   uint32        // CreateAction: FileOpened, FileCreated, FileOverwritten…
	diskID   uint64        // from an SMB2_CREATE_QUERY_ON_DISK_ID answer; 0 if none
	dur      *durableOpen  // a durable handle: how to reclaim it; nil if not granted
	opts     CreateOptions // what it was opened with, for Reopen
	lease    atomic.Uint32 // the lease's current state, with leaseGranted; 0 if none (see Lease)
	leaseKey [16]byte      // its key, if granted (set by leaseSet.add before lease)
	closed   atomic.Bool

	keyMu sync.Mutex // guards the resume key (server-side copy)
	key   [smb2.ResumeKeySize]byte
	keyOK bool
}

// Create opens or creates path.
func (t *Tree) Create(ctx context.Context, path string, o CreateOptions) (*File, error) {
	req := o.request(t, path)
	dur := o.durable(t, req)
	cl, err := t.roundTrip(ctx, &request{cmd: smb2.CmdCreate, body: req})
	if err != nil {
		return nil, withPath(err, "open", path)
	}
	defer cl.release()
	var resp smb2.CreateResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return nil, err
	}
	f := &File{t: t, id: resp.FileID, path: path, Info: infoFromTimes(path, &resp.FileTimes), Action: resp.CreateAction}
	f.granted(dur, o, resp.Contexts)
	if b, ok := smb2.FindCreateContext(resp.Contexts, smb2.CtxNameQueryOnDiskID); ok {
		var d smb2.OnDiskID
		if d.Unmarshal(b) == nil {
			f.diskID = d.DiskFileID
		}
	}
	return f, nil
}

// OpenFile opens an existing file or directory for reading attributes and data.
func (t *Tree) OpenFile(ctx context.Context, path string) (*File, error) {
	return t.Create(ctx, path, CreateOptions{Access: smb2.GenericRead})
}

// Path is the share-relative path the file was opened by.
func (f *File) Path() string { return f.path }

// ID is the SMB2 FileId.
func (f *File) ID() smb2.FileID { return f.id }

// Close closes the handle.
func (f *File) Close(ctx context.Context) error {
	if f.closed.Swap(true) {
		return nil
	}
	f.t.s.leases.drop(f)
	r := &request{cmd: smb2.CmdClose, body: &smb2.CloseRequest{FileID: f.id}}
	cl, err := f.t.roundTrip(ctx, r)
	if cl != nil {
		cl.release()
	}
	if replayedClose(r, err) {
		err = nil
	}
	return withPath(err, "close", f.path)
}

// chunk is the largest single READ/WRITE the engine issues: large requests
// are split so several are in flight at once.
const defaultChunk = 1 << 20

func (f *File) readChunk() int {
	c, err := f.t.s.conn()
	if err != nil {
		return defaultChunk
	}
	return f.fit(c, min(int(c.maxRead), f.t.s.chunk()), c.t.Limits().MaxReceive)
}

func (f *File) writeChunk() int {
	c, err := f.t.s.conn()
	if err != nil {
		return defaultChunk
	}
	return f.fit(c, min(int(c.maxWrite), f.t.s.chunk()), c.t.Limits().MaxMessage)
}

// fit bounds an I/O size by what the channel carries: the RDMA limit when
// the I/O is offloaded, else the largest message (less the headers of an
// encrypted READ/WRITE).
func (f *File) fit(c *conn, n, maxMessage int) int {
	if o := offloader(c, f.t.sec, n); o != nil {
		return min(n, o.MaxReadWriteSize())
	}
	if o, ok := c.t.(channel.Offloader); ok {
		if m := o.MaxReadWriteSize(); n > m && offloader(c, f.t.sec, m) != nil {
			return m
		}
	}
	const overhead = smb2.HeaderSize + 64 + smb2.TransformHeaderSize
	return max(min(n, maxMessage-overhead), 4096)
}

// ReadAt reads len(p) bytes at off, issuing chunk-sized READs in parallel.
// It returns io.EOF when fewer bytes are available.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	chunk := f.readChunk()
	if len(p) <= chunk {
		n, err := f.readOne(ctx, p, off)
		if err == nil && n < len(p) {
			err = io.EOF
		}
		return n, err
	}
	counts, errs := parallel(len(p), chunk, func(lo, hi int) (int, error) {
		return f.readOne(ctx, p[lo:hi], off+int64(lo))
	})
	n := 0
	for i := range counts {
		if errs[i] != nil {
			return n, errs[i]
		}
		n += counts[i]
		if counts[i] < min(chunk, len(p)-i*chunk) {
			return n, io.EOF
		}
	}
	return n, nil
}

// parallel runs fn on the chunk-sized pieces [lo, hi) of n bytes at once
// and returns each piece's count and error.
func parallel(n, chunk int, fn func(lo, hi int) (int, error)) ([]int, []error) {
	pieces := (n + chunk - 1) / chunk
	counts := make([]int, pieces)
	errs := make([]error, pieces)
	var wg sync.WaitGroup
	for i := 0; i < pieces; i++ {
		lo := i * chunk
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = fn(lo, hi)
		}()
	}
	wg.Wait()
	return counts, errs
}

// readOne issues one READ of at most one chunk.
func (f *File) readOne(ctx context.Context, p []byte, off int64) (int, error) {
	rr := &smb2.ReadRequest{Padding: smb2.HeaderSize + 16, Length: uint32(len(p)), Offset: uint64(off), FileID: f.id}
	r := &request{cmd: smb2.CmdRead, tree: f.t.id, charge: charge(len(p)), dst: p, body: rr}
	offloadRead(r, rr, p, f.t.sec)
	calls, err := f.t.s.do(ctx, f.t.sec, Op{Bytes: len(p), Offload: true}, true, r)
	if err != nil {
		return 0, err
	}
	cl := calls[0]
	defer cl.release()
	if cl.hdr.Status == smb2.StatusEndOfFile {
		return 0, nil
	}
	if err := statusErr(cl); err != nil {
		return 0, withPath(err, "read", f.path)
	}
	if cl.data != nil {
		return len(cl.data), nil
	}
	var resp smb2.ReadResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return 0, err
	}
	if rr.Channel != smb2.ChannelNone {
		// The data came by RDMA: DataRemaining counts it ([MS-SMB2]
		// 3.3.5.12); offloadRead checked it.
		return int(resp.DataRemaining), nil
	}
	if len(resp.Data) > len(p) {
		return 0, protoErr("READ returned %d bytes for %d asked", len(resp.Data), len(p))
	}
	return copy(p, resp.Data), nil
}

// WriteAt writes p at off, issuing chunk-sized WRITEs in parallel.
func (f *File) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	chunk := f.writeChunk()
	if len(p) <= chunk {
		return f.writeOne(ctx, p, off)
	}
	counts, errs := parallel(len(p), chunk, func(lo, hi int) (int, error) {
		return f.writeOne(ctx, p[lo:hi], off+int64(lo))
	})
	n := 0
	for i := range errs {
		if errs[i] != nil {
			return n, errs[i]
		}
		n += counts[i]
	}
	return n, nil
}

func (f *File) writeOne(ctx context.Context, p []byte, off int64) (int, error) {
	wr := &smb2.WriteRequest{Offset: uint64(off), FileID: f.id, Length: uint32(len(p))}
	r := &request{cmd: smb2.CmdWrite, charge: charge(len(p)), payload: p, body: wr}
	offloadWrite(r, wr, p, f.t.sec)
	cl, err := f.t.roundTrip(ctx, r)
	if err != nil {
		return 0, withPath(err, "write", f.path)
	}
	defer cl.release()
	var resp smb2.WriteResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return 0, err
	}
	if int(resp.Count) > len(p) {
		return 0, protoErr("WRITE of %d bytes reports %d written", len(p), resp.Count)
	}
	if int(resp.Count) != len(p) {
		return int(resp.Count), io.ErrShortWrite
	}
	return len(p), nil
}

// compoundWriteMax bounds the data WriteAttr carries inside a compound
// (which copies it into the message).
const compoundWriteMax = 64 << 10

// WriteAttr writes p at off and then changes a's attributes and times. A
// small write goes with the change in one related compound, which the
// server carries out in order: the times set are the ones that stay, on
// servers that let a later write move an explicitly set time (ksmbd) as
// on those that keep it (Samba, Windows). A larger one is written first.
func (f *File) WriteAttr(ctx context.Context, p []byte, off int64, a SetAttr) (int, error) {
	sets := a.requests(f.id)
	if len(p) > compoundWriteMax || len(p) == 0 || len(sets) == 0 {
		n, err := f.WriteAt(ctx, p, off)
		if err == nil {
			err = f.SetAttr(ctx, a)
		}
		return n, err
	}
	wr := &smb2.WriteRequest{Offset: uint64(off), FileID: f.id, Length: uint32(len(p))}
	reqs := append([]*request{{cmd: smb2.CmdWrite, charge: charge(len(p)), payload: p, body: wr}}, sets...)
	calls, err := f.t.compound(ctx, reqs...)
	if err != nil {
		return 0, withPath(err, "write", f.path)
	}
	defer func() {
		for _, cl := range calls {
			cl.release()
		}
	}()
	for _, cl := range calls {
		if err := statusErr(cl); err != nil {
			return 0, withPath(err, "write", f.path)
		}
	}
	var resp smb2.WriteResponse
	if err := resp.Unmarshal(calls[0].body); err != nil {
		return 0, err
	}
	if int(resp.Count) != len(p) {
		return int(resp.Count), io.ErrShortWrite
	}
	return len(p), nil
}

// Flush asks the server to write the file's data to stable storage.
func (f *File) Flush(ctx context.Context) error {
	cl, err := f.t.roundTrip(ctx, &request{cmd: smb2.CmdFlush, body: &smb2.FlushRequest{FileID: f.id}})
	if cl != nil {
		cl.release()
	}
	return withPath(err, "flush", f.path)
}

// Lock takes, or with smb2.LockUnlock releases, byte-range locks on the
// file ([MS-SMB2] 3.2.4.19). A lock without LockFailImmediately waits on
// the server until granted or until ctx is cancelled (SMB2 CANCEL).
func (f *File) Lock(ctx context.Context, locks []smb2.LockElement) error {
	cl, err := f.t.roundTrip(ctx, &request{cmd: smb2.CmdLock, body: &smb2.LockRequest{FileID: f.id, Locks: locks}})
	if err != nil {
		return withPath(err, "lock", f.path)
	}
	cl.release()
	return nil
}

// Tree returns the tree the file belongs to.
func (f *File) Tree() *Tree { return f.t }
