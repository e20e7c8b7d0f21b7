package session

import (
	"context"
	"errors"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// withHandle runs CREATE(path) + mids + CLOSE as one compound
// ([MS-SMB2] 3.2.4.1.4) and returns the middle calls (released by the
// caller) after checking the CREATE status.
func (t *Tree) withHandle(ctx context.Context, op, path string, o CreateOptions, mids ...*request) (*smb2.CreateResponse, []*call, error) {
	reqs := make([]*request, 0, len(mids)+2)
	reqs = append(reqs, &request{cmd: smb2.CmdCreate, body: o.request(t, path)})
	reqs = append(reqs, mids...)
	reqs = append(reqs, &request{cmd: smb2.CmdClose, body: &smb2.CloseRequest{FileID: smb2.AnyFileID}})
	calls, err := t.compound(ctx, reqs...)
	if err != nil {
		return nil, nil, err
	}
	defer calls[0].release()
	defer calls[len(calls)-1].release()
	mid := calls[1 : len(calls)-1]
	release := func() {
		for _, cl := range mid {
			cl.release()
		}
	}
	if err := statusErr(calls[0]); err != nil {
		release()
		return nil, nil, withPath(err, op, path)
	}
	var cr smb2.CreateResponse
	if err := cr.Unmarshal(calls[0].body); err != nil {
		release()
		return nil, nil, err
	}
	for _, cl := range mid {
		if err := statusErr(cl); err != nil {
			release()
			return nil, nil, withPath(err, op, path)
		}
	}
	return &cr, mid, nil
}

func queryInfo(typ smb2.InfoType, class uint8, outLen int) *request {
	return &request{cmd: smb2.CmdQueryInfo, charge: charge(outLen), body: &smb2.QueryInfoRequest{
		InfoType: typ, InfoClass: class, OutputBufferLength: uint32(outLen), FileID: smb2.AnyFileID,
	}}
}

// readStart is a READ of up to n bytes from the start of the file a
// compound's CREATE opened.
func readStart(n int) *request {
	return &request{cmd: smb2.CmdRead, charge: charge(n), body: &smb2.ReadRequest{
		Padding: smb2.HeaderSize + 16, Length: uint32(n), FileID: smb2.AnyFileID,
	}}
}

// readData returns a copy of the data of a READ response.
func readData(body []byte) ([]byte, error) {
	var resp smb2.ReadResponse
	if err := resp.Unmarshal(body); err != nil {
		return nil, err
	}
	return append([]byte(nil), resp.Data...), nil
}

func setInfo(id smb2.FileID, typ smb2.InfoType, class uint8, buf []byte) *request {
	return &request{cmd: smb2.CmdSetInfo, charge: charge(len(buf)), body: &smb2.SetInfoRequest{
		InfoType: typ, InfoClass: class, FileID: id, Buffer: buf,
	}}
}

// Stat returns the attributes of path without following a final symlink
// (reparse point).
func (t *Tree) Stat(ctx context.Context, path string) (FileInfo, error) {
	_, mid, err := t.withHandle(ctx, "stat", path,
		CreateOptions{Access: smb2.FileReadAttributes, Options: smb2.FileOpenReparsePoint},
		queryInfo(smb2.InfoTypeFile, uint8(smb2.FileAllInformationClass), 4096))
	if err != nil {
		return FileInfo{}, err
	}
	defer mid[0].release()
	return allInfo(path, mid[0].body)
}

// Stat returns the attributes of an open file.
func (f *File) Stat(ctx context.Context) (FileInfo, error) {
	r := queryInfo(smb2.InfoTypeFile, uint8(smb2.FileAllInformationClass), 4096)
	r.body.(*smb2.QueryInfoRequest).FileID = f.id
	cl, err := f.t.roundTrip(ctx, r)
	if err != nil {
		return FileInfo{}, withPath(err, "stat", f.path)
	}
	defer cl.release()
	return allInfo(f.path, cl.body)
}

// allInfo decodes a QUERY_INFO response body of FileAllInformation.
func allInfo(path string, body []byte) (FileInfo, error) {
	var out smb2.OutputResponse
	if err := out.Unmarshal(body); err != nil {
		return FileInfo{}, err
	}
	var all smb2.FileAllInformation
	if err := all.Unmarshal(out.Buffer); err != nil {
		return FileInfo{}, err
	}
	return infoFromAll(path, &all), nil
}

// setPath runs CREATE + SET_INFO + CLOSE.
func (t *Tree) setPath(ctx context.Context, op, path string, o CreateOptions, class smb2.FileInfoClass, buf []byte) error {
	_, mid, err := t.withHandle(ctx, op, path, o, setInfo(smb2.AnyFileID, smb2.InfoTypeFile, uint8(class), buf))
	if err != nil {
		return err
	}
	mid[0].release()
	return nil
}

// Mkdir creates a directory.
func (t *Tree) Mkdir(ctx context.Context, path string) error {
	_, err := t.MkdirStat(ctx, path)
	return err
}

// MkdirStat creates a directory and returns its attributes, in one round
// trip: CREATE asking for the on-disk ID, and CLOSE. A server that does not
// answer the on-disk ID leaves FileID 0.
func (t *Tree) MkdirStat(ctx context.Context, path string) (FileInfo, error) {
	cr, _, err := t.withHandle(ctx, "mkdir", path, CreateOptions{
		Access: smb2.FileReadAttributes, Disposition: smb2.FileCreate, Options: smb2.FileDirectoryFile,
		Attributes: uint32(smb2.FileAttributeDirectory),
		Contexts:   []smb2.CreateContext{{Name: smb2.CtxNameQueryOnDiskID}},
	})
	if err != nil {
		return FileInfo{}, err
	}
	info := infoFromTimes(path, &cr.FileTimes)
	if b, ok := smb2.FindCreateContext(cr.Contexts, smb2.CtxNameQueryOnDiskID); ok {
		var d smb2.OnDiskID
		if d.Unmarshal(b) == nil {
			info.FileID = d.DiskFileID
		}
	}
	return info, nil
}

// Remove deletes a file (not a directory); a file still open elsewhere
// disappears when its last handle closes. It opens the file to be deleted
// on close (as Linux cifs does): two server operations, not three.
func (t *Tree) Remove(ctx context.Context, path string) error {
	o := CreateOptions{
		Access:  smb2.Delete | smb2.FileReadAttributes,
		Options: smb2.FileNonDirectoryFile | smb2.FileOpenReparsePoint | smb2.FileDeleteOnClose,
	}
	calls, err := t.compound(ctx, &request{cmd: smb2.CmdCreate, body: o.request(t, path)},
		&request{cmd: smb2.CmdClose, body: &smb2.CloseRequest{FileID: smb2.AnyFileID}})
	if err != nil {
		return err
	}
	defer calls[0].release()
	defer calls[1].release()
	for _, cl := range calls {
		if err := statusErr(cl); err != nil {
			return withPath(err, "unlink", path)
		}
	}
	return nil
}

// RemoveReadOnly deletes a file that has the read-only attribute, which
// makes servers refuse to delete it (POSIX lets the owner of the directory
// unlink it): one compound clears the attribute (CREATE, QUERY_INFO of the
// attributes, SET_INFO of none, CLOSE), then Remove deletes the file.
// Should the delete still be refused, the attributes are set back, so a
// file that stays keeps them.
//
// Not one compound with a delete disposition set through the handle:
// ksmbd (Linux 6.1) keeps that disposition on the inode, not on the name
// opened, and a hard link of the file (git links its object to its final
// name, then unlinks the temporary one) is deleted at the close of another
// handle of it.
func (t *Tree) RemoveReadOnly(ctx context.Context, path string) error {
	none := smb2.FileBasicInformation{FileAttributes: smb2.FileAttributeNormal} // 0 would mean "unchanged"
	_, mid, err := t.withHandle(ctx, "unlink", path, CreateOptions{
		Access:  smb2.FileReadAttributes | smb2.FileWriteAttributes,
		Options: smb2.FileNonDirectoryFile | smb2.FileOpenReparsePoint,
	},
		queryInfo(smb2.InfoTypeFile, uint8(smb2.FileBasicInformationClass), smb2.FileBasicInformationSize),
		setInfo(smb2.AnyFileID, smb2.InfoTypeFile, uint8(smb2.FileBasicInformationClass), none.Append(nil)))
	if err != nil {
		return err
	}
	var out smb2.OutputResponse
	var was smb2.FileBasicInformation
	known := out.Unmarshal(mid[0].body) == nil && was.Unmarshal(out.Buffer) == nil
	for _, cl := range mid {
		cl.release()
	}
	if err := t.Remove(ctx, path); err != nil {
		if known && was.FileAttributes != 0 {
			t.SetAttr(context.WithoutCancel(ctx), path, SetAttr{Attributes: uint32(was.FileAttributes)})
		}
		return err
	}
	return nil
}

// Rmdir deletes an empty directory.
func (t *Tree) Rmdir(ctx context.Context, path string) error {
	return t.setPath(ctx, "rmdir", path, CreateOptions{
		Access: smb2.Delete | smb2.FileReadAttributes, Options: smb2.FileDirectoryFile,
	}, smb2.FileDispositionInformationClass, []byte{1})
}

// Rename moves from to to; with replace an existing target is replaced
// (a non-empty directory target still fails).
func (t *Tree) Rename(ctx context.Context, from, to string, replace bool) error {
	info := smb2.FileRenameInformation{ReplaceIfExists: replace, FileName: t.smbPath(to)}
	return t.setPath(ctx, "rename", from, CreateOptions{
		Access: smb2.Delete | smb2.FileReadAttributes, Options: smb2.FileOpenReparsePoint,
	}, smb2.FileRenameInformationClass, info.Append(nil))
}

// Link creates a hard link newPath to the existing file oldPath.
func (t *Tree) Link(ctx context.Context, oldPath, newPath string) error {
	info := smb2.FileLinkInformation{FileName: t.smbPath(newPath)}
	return t.setPath(ctx, "link", oldPath, CreateOptions{
		Access: smb2.FileReadAttributes | smb2.FileWriteAttributes, Options: smb2.FileNonDirectoryFile,
	}, smb2.FileLinkInformationClass, info.Append(nil))
}

// SetAttr says what SetAttr changes; nil or zero fields stay as they are.
type SetAttr struct {
	Size       *int64
	Attributes uint32 // 0: unchanged
	Created    time.Time
	Accessed   time.Time
	Modified   time.Time
	Changed    time.Time
}

func (a *SetAttr) basic() *smb2.FileBasicInformation {
	if a.Attributes == 0 && a.Created.IsZero() && a.Accessed.IsZero() && a.Modified.IsZero() && a.Changed.IsZero() {
		return nil
	}
	return &smb2.FileBasicInformation{
		CreationTime: smb2.TimeToFiletime(a.Created), LastAccessTime: smb2.TimeToFiletime(a.Accessed),
		LastWriteTime: smb2.TimeToFiletime(a.Modified), ChangeTime: smb2.TimeToFiletime(a.Changed),
		FileAttributes: smb2.FileAttributes(a.Attributes),
	}
}

func (a *SetAttr) requests(id smb2.FileID) []*request {
	var reqs []*request
	if a.Size != nil {
		eof := smb2.FileEndOfFileInformation{EndOfFile: uint64(*a.Size)}
		reqs = append(reqs, setInfo(id, smb2.InfoTypeFile, uint8(smb2.FileEndOfFileInformationClass), eof.Append(nil)))
	}
	if b := a.basic(); b != nil {
		reqs = append(reqs, setInfo(id, smb2.InfoTypeFile, uint8(smb2.FileBasicInformationClass), b.Append(nil)))
	}
	return reqs
}

// SetAttr changes size, attributes and times of path in one compound.
func (t *Tree) SetAttr(ctx context.Context, path string, a SetAttr) error {
	reqs := a.requests(smb2.AnyFileID)
	if len(reqs) == 0 {
		return nil
	}
	access := smb2.FileWriteAttributes | smb2.FileReadAttributes
	if a.Size != nil {
		access |= smb2.FileWriteData
	}
	_, mid, err := t.withHandle(ctx, "setattr", path, CreateOptions{Access: access}, reqs...)
	if err != nil {
		return err
	}
	for _, cl := range mid {
		cl.release()
	}
	return nil
}

// SetAttr changes size, attributes and times through an open handle.
func (f *File) SetAttr(ctx context.Context, a SetAttr) error {
	for _, r := range a.requests(f.id) {
		cl, err := f.t.roundTrip(ctx, r)
		if err != nil {
			return withPath(err, "setattr", f.path)
		}
		cl.release()
	}
	return nil
}

// Truncate sets the size of an open file.
func (f *File) Truncate(ctx context.Context, size int64) error {
	return f.SetAttr(ctx, SetAttr{Size: &size})
}

// CreateStat opens or creates path and returns the handle with the file's
// full attributes (including its file index), in one round trip: a related
// compound of CREATE and QUERY_INFO.
func (t *Tree) CreateStat(ctx context.Context, path string, o CreateOptions) (*File, FileInfo, error) {
	f, info, _, err := t.CreateStatRead(ctx, path, o, 0)
	return f, info, err
}

// CreateStatRead is CreateStat that also reads up to n bytes from the start
// of the file in the same compound (CREATE, QUERY_INFO, READ): the open of
// a small file about to be read brings its data. data is nil when n is 0,
// the file is empty, or the READ failed (the reader asks again); it is
// shorter than n when the file was.
func (t *Tree) CreateStatRead(ctx context.Context, path string, o CreateOptions, n int) (f *File, info FileInfo, data []byte, err error) {
	req := o.request(t, path)
	dur := o.durable(t, req)
	reqs := []*request{{cmd: smb2.CmdCreate, body: req},
		queryInfo(smb2.InfoTypeFile, uint8(smb2.FileAllInformationClass), 4096)}
	if n > 0 {
		reqs = append(reqs, readStart(n))
	}
	calls, err := t.compound(ctx, reqs...)
	if err != nil {
		return nil, FileInfo{}, nil, err
	}
	for _, cl := range calls {
		defer cl.release()
	}
	if err := statusErr(calls[0]); err != nil {
		return nil, FileInfo{}, nil, withPath(err, "open", path)
	}
	var cr smb2.CreateResponse
	if err := cr.Unmarshal(calls[0].body); err != nil {
		return nil, FileInfo{}, nil, err
	}
	f = &File{t: t, id: cr.FileID, path: path, Info: infoFromTimes(path, &cr.FileTimes), Action: cr.CreateAction}
	f.granted(dur, o, cr.Contexts)
	var out smb2.OutputResponse
	var all smb2.FileAllInformation
	if statusErr(calls[1]) == nil && out.Unmarshal(calls[1].body) == nil && all.Unmarshal(out.Buffer) == nil {
		f.Info = infoFromAll(path, &all)
	}
	if n > 0 && statusErr(calls[2]) == nil {
		if d, err := readData(calls[2].body); err == nil && len(d) <= n {
			data = d // else nil: the reader asks again
		}
	}
	return f, f.Info, data, nil
}

// CreateNew creates path (or opens it, if the disposition allows and it
// exists) and returns the handle with the file's attributes. For a file the
// CREATE made, one round trip gives everything: the response carries the
// times, size and attributes, a new file has one link and no EAs, and the
// SMB2_CREATE_QUERY_ON_DISK_ID context returns its file index. That spares
// the server the FileAllInformation query CreateStat asks for, which costs
// Samba as much as a third of a create. An existing file, or a server that
// does not answer the context, costs a second round trip for the full
// attributes.
func (t *Tree) CreateNew(ctx context.Context, path string, o CreateOptions) (*File, FileInfo, error) {
	o.Contexts = append(o.Contexts[:len(o.Contexts):len(o.Contexts)], smb2.CreateContext{Name: smb2.CtxNameQueryOnDiskID})
	f, err := t.Create(ctx, path, o)
	if err != nil {
		return nil, FileInfo{}, err
	}
	if f.Action == smb2.FileCreated && f.diskID != 0 {
		f.Info.FileID = f.diskID
		return f, f.Info, nil
	}
	info, err := f.Stat(ctx)
	if err != nil {
		f.Close(context.WithoutCancel(ctx))
		return nil, FileInfo{}, err
	}
	f.Info = info
	return f, info, nil
}

// ReadSmall reads up to n bytes from the start of path in one round trip
// (CREATE + READ + CLOSE compound); used to recognise symlink files.
func (t *Tree) ReadSmall(ctx context.Context, path string, n int) ([]byte, error) {
	_, mid, err := t.withHandle(ctx, "read", path, CreateOptions{Access: smb2.GenericRead, Options: smb2.FileNonDirectoryFile},
		readStart(n))
	if err != nil {
		if errors.Is(err, smb2.StatusEndOfFile) {
			return nil, nil
		}
		return nil, err
	}
	defer mid[0].release()
	return readData(mid[0].body)
}
