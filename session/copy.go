package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Server-side copy ([MS-SMB2] 3.2.4.20.2, 3.3.5.15.6): the bytes move from
// file to file inside the server and never cross the network. The target
// handle needs write access, the source handle read access.

// copyLimits bound one FSCTL_SRV_COPYCHUNK_WRITE request.
type copyLimits struct {
	chunks    int // chunks per request
	chunkSize int // bytes per chunk
	total     int // bytes per request
}

// defaultCopyLimits are what Windows and Samba take ([MS-SMB2] 3.3.3:
// ServerSideCopyMaxNumberofChunks 256, ServerSideCopyMaxChunkSize 1 MiB,
// ServerSideCopyMaxDataSize 16 MiB). A server that takes less says so in
// its answer to a request over its limits, and later requests keep to it.
var defaultCopyLimits = copyLimits{chunks: 256, chunkSize: 1 << 20, total: 16 << 20}

// copyState is a tree's knowledge of the server's copy support.
type copyState struct {
	unsupported atomic.Bool
	mu          sync.Mutex
	limits      copyLimits // zero: defaultCopyLimits
}

// perRequest is the most bytes one request copies.
func (l copyLimits) perRequest() int64 {
	return min(int64(l.total), int64(l.chunks)*int64(l.chunkSize))
}

func (s *copyState) get() copyLimits {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits.total == 0 {
		return defaultCopyLimits
	}
	return s.limits
}

// copyInFlight is how many copy requests one CopyRange keeps in flight.
const copyInFlight = 4

// resumeKey returns the key that names f as the source of a server-side
// copy, asking the server the first time.
func (f *File) resumeKey(ctx context.Context) ([smb2.ResumeKeySize]byte, error) {
	f.keyMu.Lock()
	defer f.keyMu.Unlock()
	if f.keyOK {
		return f.key, nil
	}
	cl, err := f.t.roundTrip(ctx, &request{cmd: smb2.CmdIoctl, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlSrvRequestResumeKey, FileID: f.id, MaxOutputResponse: 32, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err != nil {
		return f.key, err
	}
	defer cl.release()
	var resp smb2.IoctlResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return f.key, err
	}
	if f.key, err = smb2.ParseResumeKey(resp.Output); err != nil {
		return f.key, err
	}
	f.keyOK = true
	return f.key, nil
}

// CopyRange copies n bytes at srcOff of src to dstOff of f on the server
// and returns how many it copied: fewer than n only with an error, or when
// src ends before srcOff+n. A server without server-side copy gives an
// error wrapping ErrNotSupported, at once on later calls.
func (f *File) CopyRange(ctx context.Context, src *File, srcOff, dstOff, n int64) (int64, error) {
	cs := &f.t.copy
	if cs.unsupported.Load() {
		return 0, fmt.Errorf("server-side copy: %w", ErrNotSupported)
	}
	if n <= 0 {
		return 0, nil
	}
	if src.t.s != f.t.s {
		// A resume key names a handle of its session's connection.
		return 0, fmt.Errorf("server-side copy between two sessions: %w", ErrNotSupported)
	}
	key, err := src.resumeKey(ctx)
	if err != nil {
		if errors.Is(err, smb2.StatusNotSupported) || errors.Is(err, smb2.StatusInvalidDeviceRequest) || errors.Is(err, smb2.StatusNotImplemented) {
			cs.unsupported.Store(true)
			err = fmt.Errorf("server-side copy: %w", ErrNotSupported)
		}
		return 0, withPath(err, "copy", src.path)
	}
	var done int64
	for done < n {
		lim := cs.get()
		// Up to copyInFlight requests of lim.perRequest() bytes each; their
		// results count up to the first one that fell short.
		var (
			wg    sync.WaitGroup
			parts [copyInFlight]struct {
				want, got int64
				err       error
			}
		)
		k, off := 0, done
		for ; k < copyInFlight && off < n; k++ {
			m := min(n-off, lim.perRequest())
			parts[k].want = m
			wg.Add(1)
			go func(k int, off int64) {
				defer wg.Done()
				parts[k].got, parts[k].err = f.copyOne(ctx, key, src.path, srcOff+off, dstOff+off, m, lim)
			}(k, off)
			off += m
		}
		wg.Wait()
		for i := range k {
			p := &parts[i]
			done += p.got
			if p.err != nil {
				if errors.Is(p.err, errCopyLimits) && p.got == 0 {
					break // try again with the new limits
				}
				return done, p.err
			}
			if p.got < p.want {
				return done, nil // the source ended
			}
		}
	}
	return done, nil
}

// errCopyLimits: the server refused a request over its limits and told
// them; the request should be sent again within them.
var errCopyLimits = errors.New("server-side copy limits")

// copyOne sends one FSCTL_SRV_COPYCHUNK_WRITE for n bytes (at most
// lim.perRequest()) in chunks of lim.chunkSize.
func (f *File) copyOne(ctx context.Context, key [smb2.ResumeKeySize]byte, srcPath string, srcOff, dstOff, n int64, lim copyLimits) (int64, error) {
	chunks := make([]smb2.CopyChunk, 0, min(int(n/int64(lim.chunkSize))+1, lim.chunks))
	for off := int64(0); off < n && len(chunks) < lim.chunks; {
		m := min(n-off, int64(lim.chunkSize))
		chunks = append(chunks, smb2.CopyChunk{SourceOffset: uint64(srcOff + off), TargetOffset: uint64(dstOff + off), Length: uint32(m)})
		off += m
	}
	var want int64
	for _, c := range chunks {
		want += int64(c.Length)
	}
	in := smb2.AppendCopyChunkCopy(nil, key, chunks)
	calls, err := f.t.s.do(ctx, f.t.sec, Op{}, true, &request{cmd: smb2.CmdIoctl, tree: f.t.id, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlSrvCopychunkWrite, FileID: f.id, Input: in, MaxOutputResponse: 12, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err != nil {
		return 0, withPath(err, "copy", f.path)
	}
	cl := calls[0]
	defer cl.release()
	got, nl, err := copyAnswer(cl.hdr.Status, cl.body, want, lim)
	switch {
	case errors.Is(err, ErrNotSupported):
		f.t.copy.unsupported.Store(true)
	case nl != nil:
		cs := &f.t.copy
		cs.mu.Lock()
		cs.limits = *nl
		cs.mu.Unlock()
		return 0, errCopyLimits
	case err != nil:
		var se *Error
		if errors.As(err, &se) {
			se.Path = srcPath
		}
	}
	return got, err
}

// copyAnswer interprets the server's answer to a copy request of want
// bytes sent within lim: the bytes copied, or the server's lower limits
// to send it again within, or the error.
func copyAnswer(status smb2.Status, body []byte, want int64, lim copyLimits) (int64, *copyLimits, error) {
	var resp smb2.CopyChunkResponse
	var ir smb2.IoctlResponse
	parsed := ir.Unmarshal(body) == nil && resp.Unmarshal(ir.Output) == nil
	switch status {
	case smb2.StatusSuccess:
		if !parsed {
			return 0, nil, protoErr("copychunk response of %d bytes does not decode", len(body))
		}
		if int64(resp.TotalBytesWritten) > want {
			return 0, nil, protoErr("server reports %d bytes copied of %d asked", resp.TotalBytesWritten, want)
		}
		return int64(resp.TotalBytesWritten), nil, nil
	case smb2.StatusInvalidParameter:
		// Over the server's limits, the answer carries them. Only limits
		// below the ones the request kept to are of use.
		if !parsed {
			break
		}
		nl := copyLimits{
			chunks:    min(int(resp.ChunksWritten), lim.chunks),
			chunkSize: min(int(resp.ChunkBytesWritten), lim.chunkSize),
			total:     min(int(resp.TotalBytesWritten), lim.total),
		}
		if nl.chunks <= 0 || nl.chunkSize <= 0 || nl.total <= 0 || nl == lim {
			break
		}
		nl.total = max(nl.total, nl.chunkSize)
		return 0, &nl, nil
	case smb2.StatusNotSupported, smb2.StatusInvalidDeviceRequest, smb2.StatusNotImplemented:
		return 0, nil, fmt.Errorf("server-side copy: %w", ErrNotSupported)
	}
	return 0, nil, &Error{Op: "copy", Status: status}
}
