package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// FsInfo is what statfs needs.
type FsInfo struct {
	BlockSize   uint64
	Blocks      uint64
	BlocksFree  uint64 // actually free
	BlocksAvail uint64 // available to the caller (quota)
	NameMax     uint32
	FsName      string
	Attributes  uint32
}

// Statfs queries the filesystem holding the share.
func (t *Tree) Statfs(ctx context.Context) (FsInfo, error) {
	_, mid, err := t.withHandle(ctx, "statfs", "", CreateOptions{Access: smb2.FileReadAttributes},
		queryInfo(smb2.InfoTypeFilesystem, uint8(smb2.FileFsFullSizeInformationClass), 64),
		queryInfo(smb2.InfoTypeFilesystem, uint8(smb2.FileFsAttributeInformationClass), 1024))
	if err != nil {
		return FsInfo{}, err
	}
	defer mid[0].release()
	defer mid[1].release()
	var out smb2.OutputResponse
	var full smb2.FileFsFullSizeInformation
	var attr smb2.FileFsAttributeInformation
	if err := out.Unmarshal(mid[0].body); err != nil {
		return FsInfo{}, err
	}
	if err := full.Unmarshal(out.Buffer); err != nil {
		return FsInfo{}, err
	}
	if err := out.Unmarshal(mid[1].body); err != nil {
		return FsInfo{}, err
	}
	if err := attr.Unmarshal(out.Buffer); err != nil {
		return FsInfo{}, err
	}
	return FsInfo{
		BlockSize:   uint64(full.SectorsPerAllocationUnit) * uint64(full.BytesPerSector),
		Blocks:      full.TotalAllocationUnits,
		BlocksFree:  full.ActualAvailableAllocationUnits,
		BlocksAvail: full.CallerAvailableAllocationUnits,
		NameMax:     uint32(attr.MaximumComponentNameLength),
		FsName:      attr.FileSystemName,
		Attributes:  uint32(attr.Attributes),
	}, nil
}

// GetEAs returns the extended attributes of path.
func (t *Tree) GetEAs(ctx context.Context, path string) ([]smb2.EA, error) {
	_, mid, err := t.withHandle(ctx, "getxattr", path, CreateOptions{Access: smb2.FileReadEA | smb2.FileReadAttributes},
		queryInfo(smb2.InfoTypeFile, uint8(smb2.FileFullEaInformationClass), 65536))
	if err != nil {
		if errors.Is(err, smb2.StatusNoEASOnFile) {
			return nil, nil
		}
		return nil, err
	}
	defer mid[0].release()
	var out smb2.OutputResponse
	if err := out.Unmarshal(mid[0].body); err != nil {
		return nil, err
	}
	eas, err := smb2.ParseEAList(out.Buffer)
	if err != nil {
		return nil, err
	}
	for i := range eas { // detach from the message buffer
		eas[i].Value = append([]byte(nil), eas[i].Value...)
	}
	return eas, nil
}

// SetEA sets (or, with a nil value, removes) one extended attribute.
func (t *Tree) SetEA(ctx context.Context, path, name string, value []byte) error {
	eas := []smb2.EA{{Name: name, Value: value}}
	if err := smb2.ValidateEAList(eas); err != nil {
		return err
	}
	return t.setPath(ctx, "setxattr", path, CreateOptions{Access: smb2.FileWriteEA | smb2.FileReadAttributes},
		smb2.FileFullEaInformationClass, smb2.AppendEAList(nil, eas))
}

// Symlink creates a symbolic link at path pointing to target, as an SMB
// reparse point ([MS-FSCC] 2.1.2.4). Servers that cannot store reparse
// points answer with an error (Samba without reparse support gives
// STATUS_NOT_SUPPORTED or ACCESS_DENIED): callers may fall back to
// MFSymlink.
func (t *Tree) Symlink(ctx context.Context, target, path string) error {
	sub := strings.ReplaceAll(target, "/", `\`)
	rb := smb2.SymlinkReparseBuffer{SubstituteName: sub, PrintName: sub}
	if !strings.HasPrefix(target, "/") {
		rb.Flags = smb2.SymlinkFlagRelative
	}
	buf := rb.Append(nil)
	f, err := t.Create(ctx, path, CreateOptions{
		Access:      smb2.FileWriteAttributes | smb2.FileReadAttributes | smb2.Delete | smb2.FileWriteData,
		Disposition: smb2.FileCreate, Options: smb2.FileOpenReparsePoint | smb2.FileNonDirectoryFile,
	})
	if err != nil {
		return withPath(err, "symlink", path)
	}
	cl, err := t.roundTrip(ctx, &request{cmd: smb2.CmdIoctl, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlSetReparsePoint, FileID: f.id, Input: buf, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err == nil {
		cl.release()
		return f.Close(ctx)
	}
	// Leave nothing behind: delete the half-made file.
	t.setHandleDelete(ctx, f)
	f.Close(ctx)
	return withPath(err, "symlink", path)
}

func (t *Tree) setHandleDelete(ctx context.Context, f *File) {
	cl, err := t.roundTrip(ctx, setInfo(f.id, smb2.InfoTypeFile, uint8(smb2.FileDispositionInformationClass), []byte{1}))
	if err == nil {
		cl.release()
	}
}

// Readlink returns the target of a symbolic link reparse point.
func (t *Tree) Readlink(ctx context.Context, path string) (string, error) {
	_, mid, err := t.withHandle(ctx, "readlink", path,
		CreateOptions{Access: smb2.FileReadAttributes, Options: smb2.FileOpenReparsePoint},
		&request{cmd: smb2.CmdIoctl, body: &smb2.IoctlRequest{
			CtlCode: smb2.FsctlGetReparsePoint, FileID: smb2.AnyFileID,
			MaxOutputResponse: smb2.MaxReparseBufferSize, Flags: smb2.IoctlFlagIsFsctl,
		}})
	if err != nil {
		return "", err
	}
	defer mid[0].release()
	var resp smb2.IoctlResponse
	if err := resp.Unmarshal(mid[0].body); err != nil {
		return "", err
	}
	tag, _, err := smb2.ParseReparseBuffer(resp.Output)
	if err != nil {
		return "", err
	}
	switch tag {
	case smb2.ReparseTagSymlink:
		var rb smb2.SymlinkReparseBuffer
		if err := rb.Unmarshal(resp.Output); err != nil {
			return "", err
		}
		return strings.ReplaceAll(rb.SubstituteName, `\`, "/"), nil
	case smb2.ReparseTagNFS:
		var rb smb2.NFSReparseBuffer
		if err := rb.Unmarshal(resp.Output); err != nil {
			return "", err
		}
		if rb.Type != smb2.NFSSpecfileLnk {
			return "", fmt.Errorf("%w: NFS reparse point of type %v is not a symlink", ErrNotSupported, rb.Type)
		}
		return rb.Target, nil
	case smb2.ReparseTagLXSymlink:
		var rb smb2.LXSymlinkReparseBuffer
		if err := rb.Unmarshal(resp.Output); err != nil {
			return "", err
		}
		return rb.Target, nil
	}
	return "", fmt.Errorf("%w: reparse tag %v", ErrNotSupported, tag)
}
