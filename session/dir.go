package session

import (
	"context"
	"errors"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// dirBuffer is the QUERY_DIRECTORY output buffer size: large enough that a
// 20,000-entry directory takes a few dozen round trips, small enough to
// cost few credits.
const dirBuffer = 256 << 10

// dirInfoClass is the class listings ask for: FileIdFullDirectoryInformation
// has the file ID and EA size and, unlike the Both classes, no 8.3 short
// name, which the client never uses and a server may have to compute for
// every entry (Samba mangles each name that is not 8.3 already).
const dirInfoClass = smb2.FileIdFullDirectoryInformationClass

// ReadDir lists a directory completely (without "." and ".."), with the
// attributes of every entry, continuing QUERY_DIRECTORY until the server
// reports no more files ([MS-SMB2] 3.2.4.17).
func (t *Tree) ReadDir(ctx context.Context, path string) ([]FileInfo, error) {
	var out []FileInfo
	err := t.WalkDir(ctx, path, func(fi *FileInfo) error {
		out = append(out, *fi)
		return nil
	})
	return out, err
}

// WalkDir calls fn for each entry of a directory.
//
// A directory of up to two QUERY_DIRECTORY buffers (a few thousand
// entries) takes one round trip: CREATE, two QUERY_DIRECTORY and CLOSE in
// one related compound; its entries are handed to fn once the listing is
// known to be complete. A larger one is listed again with a handle kept
// open, as the listing arrives, continuing until the server reports no
// more files ([MS-SMB2] 3.2.4.17).
func (t *Tree) WalkDir(ctx context.Context, path string, fn func(*FileInfo) error) error {
	bufLen := dirBuffer
	if c, err := t.s.conn(); err == nil && int(c.maxTrans) < bufLen {
		bufLen = int(c.maxTrans)
	}
	query := func(id smb2.FileID, flags uint8) *request {
		return &request{cmd: smb2.CmdQueryDirectory, charge: charge(bufLen), body: &smb2.QueryDirectoryRequest{
			InfoClass: uint8(dirInfoClass), Flags: flags,
			FileID: id, Pattern: "*", OutputBufferLength: uint32(bufLen),
		}}
	}
	open := CreateOptions{
		Access:  smb2.FileListDirectory | smb2.FileReadAttributes | smb2.Synchronize,
		Options: smb2.FileDirectoryFile,
	}
	calls, err := t.compound(ctx, &request{cmd: smb2.CmdCreate, body: open.request(t, path)},
		query(smb2.AnyFileID, smb2.QueryDirRestartScans), query(smb2.AnyFileID, 0),
		&request{cmd: smb2.CmdClose, body: &smb2.CloseRequest{FileID: smb2.AnyFileID}})
	if err != nil {
		return err
	}
	defer func() {
		for _, cl := range calls {
			cl.release()
		}
	}()
	if err := statusErr(calls[0]); err != nil {
		return withPath(err, "readdir", path)
	}
	var first []FileInfo
	collect := func(fi *FileInfo) error {
		first = append(first, *fi)
		return nil
	}
	for _, cl := range calls[1:3] {
		more, err := dirBatch(cl, t.s.cfg.CharMap, path, collect)
		if err != nil {
			return err
		}
		if !more {
			for i := range first {
				if err := fn(&first[i]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return t.walkDirOpen(ctx, path, open, query, fn)
}

// walkDirOpen lists a directory through a handle kept open across as many
// QUERY_DIRECTORY round trips as it takes.
func (t *Tree) walkDirOpen(ctx context.Context, path string, open CreateOptions, query func(smb2.FileID, uint8) *request, fn func(*FileInfo) error) error {
	calls, err := t.compound(ctx, &request{cmd: smb2.CmdCreate, body: open.request(t, path)},
		query(smb2.AnyFileID, smb2.QueryDirRestartScans))
	if err != nil {
		return err
	}
	cl := calls[1]
	defer func() { cl.release() }()
	if err := statusErr(calls[0]); err != nil {
		calls[0].release()
		return withPath(err, "readdir", path)
	}
	var cr smb2.CreateResponse
	err = cr.Unmarshal(calls[0].body)
	calls[0].release()
	if err != nil {
		return err
	}
	f := &File{t: t, id: cr.FileID, path: path}
	defer f.Close(context.WithoutCancel(ctx))
	for {
		more, err := dirBatch(cl, t.s.cfg.CharMap, path, fn)
		if err != nil || !more {
			return err
		}
		cl.release()
		next, err := t.roundTrip(ctx, query(f.id, 0))
		if err != nil {
			if errors.Is(err, smb2.StatusNoMoreFiles) {
				return nil
			}
			return withPath(err, "readdir", path)
		}
		cl = next
	}
}

// dirBatch hands the entries of one QUERY_DIRECTORY response to fn and
// reports whether the server may have more.
func dirBatch(cl *call, m CharMap, path string, fn func(*FileInfo) error) (more bool, err error) {
	if cl.hdr.Status == smb2.StatusNoMoreFiles {
		return false, nil
	}
	if err := statusErr(cl); err != nil {
		return false, withPath(err, "readdir", path)
	}
	var resp smb2.OutputResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return false, err
	}
	var fi FileInfo
	err = smb2.ParseDirEntries(dirInfoClass, resp.Buffer, func(e *smb2.DirEntry) error {
		if e.Name == "." || e.Name == ".." {
			return nil
		}
		fi = FileInfo{
			Name: m.fromWire(e.Name), Size: int64(e.EndOfFile), Alloc: int64(e.AllocationSize),
			Attributes: uint32(e.FileAttributes),
			Created:    smb2.FiletimeToTime(e.CreationTime), Accessed: smb2.FiletimeToTime(e.LastAccessTime),
			Modified: smb2.FiletimeToTime(e.LastWriteTime), Changed: smb2.FiletimeToTime(e.ChangeTime),
			FileID: e.FileID, Nlink: 1, ReparseTag: uint32(e.ReparseTag), EASize: e.EaSize,
		}
		return fn(&fi)
	})
	return err == nil && len(resp.Buffer) > 0, err
}
