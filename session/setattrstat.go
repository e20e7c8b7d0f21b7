package session

import (
	"context"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// SetAttrStat is SetAttr that also returns the attributes after the change,
// in the same round trip (CREATE + SET_INFO… + QUERY_INFO + CLOSE).
func (t *Tree) SetAttrStat(ctx context.Context, path string, a SetAttr) (FileInfo, error) {
	reqs := a.requests(smb2.AnyFileID)
	access := smb2.FileWriteAttributes | smb2.FileReadAttributes
	if a.Size != nil {
		access |= smb2.FileWriteData
	}
	reqs = append(reqs, queryInfo(smb2.InfoTypeFile, uint8(smb2.FileAllInformationClass), 4096))
	_, mid, err := t.withHandle(ctx, "setattr", path, CreateOptions{Access: access}, reqs...)
	if err != nil {
		return FileInfo{}, err
	}
	defer func() {
		for _, cl := range mid {
			cl.release()
		}
	}()
	return allInfo(path, mid[len(mid)-1].body)
}

// SetAttrStat changes size, attributes and times through an open handle
// and returns the attributes after the change, in one round trip (a
// compound of SET_INFO… and QUERY_INFO).
func (f *File) SetAttrStat(ctx context.Context, a SetAttr) (FileInfo, error) {
	q := queryInfo(smb2.InfoTypeFile, uint8(smb2.FileAllInformationClass), 4096)
	q.body.(*smb2.QueryInfoRequest).FileID = f.id
	reqs := append(a.requests(f.id), q)
	calls, err := f.t.compound(ctx, reqs...)
	if err != nil {
		return FileInfo{}, withPath(err, "setattr", f.path)
	}
	defer func() {
		for _, cl := range calls {
			cl.release()
		}
	}()
	for _, cl := range calls {
		if err := statusErr(cl); err != nil {
			return FileInfo{}, withPath(err, "setattr", f.path)
		}
	}
	return allInfo(f.path, calls[len(calls)-1].body)
}
