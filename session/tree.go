package session

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Tree is a connected share ([MS-SMB2] 3.2.4.2.4). Paths given to its
// methods are share-relative, '/'-separated, without a leading slash; ""
// is the share's root.
type Tree struct {
	s         *Session
	id        uint32
	share     string
	encrypt   bool
	maxAccess uint32
	sec       security
	copy      copyState
	refused   atomic.Int32 // durable handles refused in a row (see durable.go)
}

// Mount connects to a share by name.
func (s *Session) Mount(ctx context.Context, share string) (*Tree, error) {
	unc := `\\` + s.cfg.Host + `\` + share
	c, err := s.conn()
	if err != nil {
		return nil, err
	}
	sec := *s.sec()
	if s.dialect == smb2.Dialect311 && s.signer != nil {
		sec.sign = true // [MS-SMB2] 3.2.4.2.4: 3.1.1 signs TREE_CONNECT
	}
	cl, err := c.roundTrip(ctx, sec, &request{cmd: smb2.CmdTreeConnect, body: &smb2.TreeConnectRequest{Path: unc}})
	if err != nil {
		return nil, withPath(err, "tree connect", share)
	}
	defer cl.release()
	var resp smb2.TreeConnectResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return nil, err
	}
	if resp.ShareType != smb2.ShareTypeDisk {
		t := &Tree{s: s, id: cl.hdr.TreeID}
		t.disconnect(ctx)
		return nil, fmt.Errorf("share %q is not a disk share (type %d)", share, resp.ShareType)
	}
	t := &Tree{
		s: s, id: cl.hdr.TreeID, share: share,
		encrypt:   resp.ShareFlags&smb2.ShareFlagEncryptData != 0,
		maxAccess: resp.MaximalAccess,
	}
	if t.encrypt && s.enc == nil {
		t.disconnect(ctx)
		return nil, fmt.Errorf("%w: share %q requires encryption, which this session cannot do", ErrNotSupported, share)
	}
	t.sec = security{sessionID: s.id, signer: s.signer, sign: s.signing, cipher: s.sealWith(s.encrypt || t.encrypt), decipher: s.dec}
	if s.dialect == smb2.Dialect300 || s.dialect == smb2.Dialect302 {
		if err := t.validateNegotiate(ctx, c); err != nil {
			t.disconnect(ctx)
			return nil, err
		}
	}
	s.log.Debug("tree connected", "share", share, "tree", t.id, "encrypt", t.encrypt)
	s.startMulti(t)
	return t, nil
}

// Session is the session the tree belongs to.
func (t *Tree) Session() *Session { return t.s }

// validateNegotiate runs FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2] 3.2.5.14.12)
// against a downgrade of the 3.0/3.0.2 negotiation.
func (t *Tree) validateNegotiate(ctx context.Context, c *conn) error {
	if t.s.signer == nil {
		return nil // guest and anonymous sessions cannot sign it
	}
	v := smb2.ValidateNegotiateInfo{
		Capabilities: clientCaps, SecurityMode: t.s.securityMode(), Dialects: t.s.dialects(),
	}
	copy(v.GUID[:], c.clientGUID[:])
	sec := t.sec
	sec.sign = true
	cl, err := c.roundTrip(ctx, sec, &request{cmd: smb2.CmdIoctl, tree: t.id, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlValidateNegotiateInfo, FileID: smb2.AnyFileID,
		Input: v.AppendRequest(nil), MaxOutputResponse: 24, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err != nil {
		return fmt.Errorf("%w: validate negotiate: %w", ErrNegotiate, err)
	}
	defer cl.release()
	var resp smb2.IoctlResponse
	var got smb2.ValidateNegotiateInfo
	if err := resp.Unmarshal(cl.body); err != nil {
		return err
	}
	if err := got.UnmarshalResponse(resp.Output); err != nil {
		return err
	}
	if got.Capabilities != c.caps || got.GUID != c.serverGUID || got.SecurityMode != c.secMode || got.Dialects[0] != c.dialect {
		return fmt.Errorf("%w: validate negotiate answer differs from NEGOTIATE (possible downgrade attack)", ErrNegotiate)
	}
	return nil
}

// Disconnect ends the tree connection.
func (t *Tree) Disconnect(ctx context.Context) error { return t.disconnect(ctx) }

func (t *Tree) disconnect(ctx context.Context) error {
	c, err := t.s.conn()
	if err != nil {
		return err
	}
	sec := t.sec
	if sec.signer == nil {
		sec = security{sessionID: t.s.id}
	}
	cl, err := c.roundTrip(ctx, sec, &request{cmd: smb2.CmdTreeDisconnect, tree: t.id, body: smb2.Empty{}})
	if cl != nil {
		cl.release()
	}
	return err
}

// smbPath converts a '/'-separated share-relative path to the SMB form.
func (t *Tree) smbPath(p string) string { return t.s.cfg.CharMap.wirePath(p) }

func withPath(err error, op, path string) error {
	if e, ok := err.(*Error); ok {
		return &Error{Op: op, Path: path, Status: e.Status}
	}
	return err
}

// roundTrip sends one request on the tree, on a channel picked for it,
// replayed elsewhere if the channel is lost and the request allows it. A
// failure status is returned as *Error and releases the call.
func (t *Tree) roundTrip(ctx context.Context, r *request) (*call, error) {
	r.tree = t.id
	calls, err := t.s.do(ctx, t.sec, Op{Bytes: int(r.charge) << 16}, replayable(r), r)
	if err != nil {
		return nil, err
	}
	cl := calls[0]
	if err := statusErr(cl); err != nil {
		cl.release()
		return nil, err
	}
	return cl, nil
}

// compound sends related requests in one message and waits for all their
// responses ([MS-SMB2] 3.2.4.1.4). The calls are returned with their status
// unchecked; release them.
func (t *Tree) compound(ctx context.Context, reqs ...*request) ([]*call, error) {
	for i, r := range reqs {
		r.tree = t.id
		r.related = i > 0
	}
	return t.s.do(ctx, t.sec, Op{}, replayableCompound(reqs), reqs...)
}

// CreateOptions are the parameters of Tree.Create.
type CreateOptions struct {
	Access      uint32 // DesiredAccess; default GENERIC_READ
	Disposition uint32 // default FILE_OPEN
	Options     uint32 // CreateOptions
	Attributes  uint32 // FileAttributes for a new file
	Share       uint32 // ShareAccess; default read|write|delete
	Contexts    []smb2.CreateContext
	// LeaseKey, with Config.Durable, asks for a lease under this key and a
	// durable handle (see durable.go). Opens of one file from one client
	// share a key, so that they do not break each other's leases.
	LeaseKey *[16]byte
}

func (o *CreateOptions) request(t *Tree, path string) *smb2.CreateRequest {
	r := &smb2.CreateRequest{
		ImpersonationLevel: smb2.ImpersonationImpersonation,
		DesiredAccess:      o.Access,
		FileAttributes:     o.Attributes,
		ShareAccess:        o.Share,
		CreateDisposition:  o.Disposition,
		CreateOptions:      o.Options,
		Name:               t.smbPath(path),
		Contexts:           o.Contexts,
	}
	if r.DesiredAccess == 0 {
		r.DesiredAccess = smb2.GenericRead
	}
	if r.ShareAccess == 0 {
		r.ShareAccess = smb2.ShareAll
	}
	if r.CreateDisposition == 0 && o.Disposition == 0 {
		r.CreateDisposition = smb2.FileOpen
	}
	return r
}

// FileInfo describes a file as the server reports it.
type FileInfo struct {
	Name       string // base name (ReadDir) or the path asked for
	Size       int64
	Alloc      int64
	Attributes uint32
	Created    time.Time
	Accessed   time.Time
	Modified   time.Time
	Changed    time.Time
	FileID     uint64 // server's file index (inode number); 0 if unknown
	Nlink      uint32
	ReparseTag uint32
	EASize     uint32
}

// IsDir reports whether the file is a directory.
func (fi *FileInfo) IsDir() bool { return fi.Attributes&uint32(smb2.FileAttributeDirectory) != 0 }

// IsReparse reports whether the file is a reparse point (e.g. a symlink).
func (fi *FileInfo) IsReparse() bool {
	return fi.Attributes&uint32(smb2.FileAttributeReparsePoint) != 0
}

func infoFromTimes(name string, ft *smb2.FileTimes) FileInfo {
	return FileInfo{
		Name: name, Size: int64(ft.EndOfFile), Alloc: int64(ft.AllocationSize), Attributes: ft.FileAttributes,
		Created: smb2.FiletimeToTime(ft.CreationTime), Accessed: smb2.FiletimeToTime(ft.LastAccessTime),
		Modified: smb2.FiletimeToTime(ft.LastWriteTime), Changed: smb2.FiletimeToTime(ft.ChangeTime),
		Nlink: 1,
	}
}

func infoFromAll(name string, a *smb2.FileAllInformation) FileInfo {
	return FileInfo{
		Name: name, Size: int64(a.Standard.EndOfFile), Alloc: int64(a.Standard.AllocationSize),
		Attributes: uint32(a.Basic.FileAttributes),
		Created:    smb2.FiletimeToTime(a.Basic.CreationTime), Accessed: smb2.FiletimeToTime(a.Basic.LastAccessTime),
		Modified: smb2.FiletimeToTime(a.Basic.LastWriteTime), Changed: smb2.FiletimeToTime(a.Basic.ChangeTime),
		FileID: a.Internal.IndexNumber, Nlink: a.Standard.NumberOfLinks, EASize: a.Ea.EaSize,
	}
}
