package smb2

// File information structures that the client sends in SET_INFO
// (InfoTypeFile). FileBasicInformation (info.go) and FileFullEaInformation
// (ea.go, SetEAs) are set too.

// renameInfoFixed is ReplaceIfExists (1), Reserved (7), RootDirectory (8),
// FileNameLength (4).
const renameInfoFixed = 20

// renameInfoMin is the smallest buffer Windows accepts: the size of its
// FILE_RENAME_INFORMATION structure with a one-character name, padded to 8.
const renameInfoMin = 24

// renameInfo is the SMB2 layout shared by FileRenameInformation and
// FileLinkInformation ([MS-FSCC] 2.4 FileRenameInformation for SMB2,
// FILE_RENAME_INFORMATION_TYPE_2).
type renameInfo struct {
	replace bool
	name    string
}

func (r renameInfo) size() int {
	return max(renameInfoFixed+UTF16Len(r.name)+2, renameInfoMin)
}

// append writes the structure, the name followed by a NUL that
// FileNameLength does not count, padded to at least renameInfoMin bytes.
func (r renameInfo) append(b []byte) []byte {
	start := len(b)
	n := UTF16Len(r.name)
	b = append(b, infoBool(r.replace), 0, 0, 0, 0, 0, 0, 0)
	b = ap64(b, 0) // RootDirectory: always 0 over the network
	b = ap32(b, uint32(n))
	b = AppendUTF16(b, r.name)
	b = append(b, 0, 0)
	return appendZeros(b, renameInfoMin-(len(b)-start))
}

func (r *renameInfo) unmarshal(what string, b []byte) error {
	if err := infoCheck(what, b, renameInfoFixed); err != nil {
		return err
	}
	n := le32(b[16:])
	if uint64(n) > uint64(len(b)-renameInfoFixed) {
		return malformed("%s: name of %d bytes in %d", what, n, len(b)-renameInfoFixed)
	}
	name, err := DecodeUTF16(b[renameInfoFixed : renameInfoFixed+n])
	if err != nil {
		return err
	}
	r.replace, r.name = b[0] != 0, name
	return nil
}

// FileRenameInformation renames or moves the open file ([MS-FSCC] 2.4
// FileRenameInformation, SMB2 form). FileName is the new path relative to
// the share root, with backslashes and no leading one (e.g. `dir\new`), or
// a stream name starting with ':'.
type FileRenameInformation struct {
	ReplaceIfExists bool
	FileName        string
}

func (*FileRenameInformation) InfoClass() FileInfoClass { return FileRenameInformationClass }

// Size is the encoded size.
func (i *FileRenameInformation) Size() int { return renameInfo{i.ReplaceIfExists, i.FileName}.size() }

// Append appends the structure.
func (i *FileRenameInformation) Append(b []byte) []byte {
	return renameInfo{i.ReplaceIfExists, i.FileName}.append(b)
}

// Unmarshal decodes the structure (tests and fake servers).
func (i *FileRenameInformation) Unmarshal(b []byte) error {
	var r renameInfo
	if err := r.unmarshal("FileRenameInformation", b); err != nil {
		return err
	}
	i.ReplaceIfExists, i.FileName = r.replace, r.name
	return nil
}

// FileLinkInformation creates a hard link to the open file ([MS-FSCC] 2.4
// FileLinkInformation, SMB2 form: the layout of FileRenameInformation).
// FileName is the link's path relative to the share root, with backslashes.
type FileLinkInformation struct {
	ReplaceIfExists bool
	FileName        string
}

func (*FileLinkInformation) InfoClass() FileInfoClass { return FileLinkInformationClass }

// Size is the encoded size.
func (i *FileLinkInformation) Size() int { return renameInfo{i.ReplaceIfExists, i.FileName}.size() }

// Append appends the structure.
func (i *FileLinkInformation) Append(b []byte) []byte {
	return renameInfo{i.ReplaceIfExists, i.FileName}.append(b)
}

// Unmarshal decodes the structure (tests and fake servers).
func (i *FileLinkInformation) Unmarshal(b []byte) error {
	var r renameInfo
	if err := r.unmarshal("FileLinkInformation", b); err != nil {
		return err
	}
	i.ReplaceIfExists, i.FileName = r.replace, r.name
	return nil
}

// FileDispositionInformation marks the open file for deletion when the last
// handle closes, or clears the mark ([MS-FSCC] 2.4
// FileDispositionInformation).
type FileDispositionInformation struct {
	DeletePending bool
}

func (*FileDispositionInformation) InfoClass() FileInfoClass {
	return FileDispositionInformationClass
}

// Size is the encoded size.
func (*FileDispositionInformation) Size() int { return 1 }

// Append appends the structure.
func (i *FileDispositionInformation) Append(b []byte) []byte {
	return append(b, infoBool(i.DeletePending))
}

// Unmarshal decodes the structure.
func (i *FileDispositionInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileDispositionInformation", b, 1); err != nil {
		return err
	}
	i.DeletePending = b[0] != 0
	return nil
}

// DispositionFlags are the Flags of FileDispositionInformationEx.
type DispositionFlags uint32

const (
	DispositionDoNotDelete             DispositionFlags = 0x00000000
	DispositionDelete                  DispositionFlags = 0x00000001
	DispositionPosixSemantics          DispositionFlags = 0x00000002
	DispositionForceImageSectionCheck  DispositionFlags = 0x00000004
	DispositionOnClose                 DispositionFlags = 0x00000008
	DispositionIgnoreReadonlyAttribute DispositionFlags = 0x00000010
)

var dispositionFlagNames = []infoFlagName{
	{0x01, "DELETE"}, {0x02, "POSIX_SEMANTICS"}, {0x04, "FORCE_IMAGE_SECTION_CHECK"},
	{0x08, "ON_CLOSE"}, {0x10, "IGNORE_READONLY_ATTRIBUTE"},
}

func (f DispositionFlags) String() string { return infoFlagString(uint32(f), dispositionFlagNames) }

// FileDispositionInformationEx is the extended disposition ([MS-FSCC] 2.4
// FileDispositionInformationEx): with DispositionPosixSemantics the name
// goes away when this handle closes even if other handles stay open, the
// POSIX unlink a FUSE client wants. Servers without it answer
// STATUS_INVALID_INFO_CLASS or STATUS_NOT_SUPPORTED; fall back to
// FileDispositionInformation.
type FileDispositionInformationEx struct {
	Flags DispositionFlags
}

func (*FileDispositionInformationEx) InfoClass() FileInfoClass {
	return FileDispositionInformationExClass
}

// Size is the encoded size.
func (*FileDispositionInformationEx) Size() int { return 4 }

// Append appends the structure.
func (i *FileDispositionInformationEx) Append(b []byte) []byte { return ap32(b, uint32(i.Flags)) }

// Unmarshal decodes the structure.
func (i *FileDispositionInformationEx) Unmarshal(b []byte) error {
	if err := infoCheck("FileDispositionInformationEx", b, 4); err != nil {
		return err
	}
	i.Flags = DispositionFlags(le32(b))
	return nil
}

// FileEndOfFileInformation sets the file size: truncate or extend
// ([MS-FSCC] 2.4 FileEndOfFileInformation).
type FileEndOfFileInformation struct {
	EndOfFile uint64
}

func (*FileEndOfFileInformation) InfoClass() FileInfoClass { return FileEndOfFileInformationClass }

// Size is the encoded size.
func (*FileEndOfFileInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FileEndOfFileInformation) Append(b []byte) []byte { return ap64(b, i.EndOfFile) }

// Unmarshal decodes the structure.
func (i *FileEndOfFileInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileEndOfFileInformation", b, 8); err != nil {
		return err
	}
	i.EndOfFile = le64(b)
	return nil
}

// FileAllocationInformation sets the allocation size, preallocating or
// releasing space ([MS-FSCC] 2.4 FileAllocationInformation).
type FileAllocationInformation struct {
	AllocationSize uint64
}

func (*FileAllocationInformation) InfoClass() FileInfoClass {
	return FileAllocationInformationClass
}

// Size is the encoded size.
func (*FileAllocationInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FileAllocationInformation) Append(b []byte) []byte { return ap64(b, i.AllocationSize) }

// Unmarshal decodes the structure.
func (i *FileAllocationInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileAllocationInformation", b, 8); err != nil {
		return err
	}
	i.AllocationSize = le64(b)
	return nil
}

// FileValidDataLengthInformation sets the valid data length of a file
// ([MS-FSCC] 2.4 FileValidDataLengthInformation).
type FileValidDataLengthInformation struct {
	ValidDataLength uint64
}

func (*FileValidDataLengthInformation) InfoClass() FileInfoClass {
	return FileValidDataLengthInformationClass
}

// Size is the encoded size.
func (*FileValidDataLengthInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FileValidDataLengthInformation) Append(b []byte) []byte {
	return ap64(b, i.ValidDataLength)
}

// Unmarshal decodes the structure.
func (i *FileValidDataLengthInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileValidDataLengthInformation", b, 8); err != nil {
		return err
	}
	i.ValidDataLength = le64(b)
	return nil
}

// SetEAs is a FILE_FULL_EA_INFORMATION list as a SET_INFO payload
// ([MS-FSCC] 2.4.15 FileFullEaInformation). It must pass ValidateEAList.
type SetEAs []EA

func (SetEAs) InfoClass() FileInfoClass { return FileFullEaInformationClass }

// Size is the encoded size.
func (s SetEAs) Size() int { return EAListSize(s) }

// Append appends the list.
func (s SetEAs) Append(b []byte) []byte { return AppendEAList(b, s) }

// Compile-time checks that the SET_INFO structures are FileInfo.
var (
	_ FileInfo = (*FileBasicInformation)(nil)
	_ FileInfo = (*FileRenameInformation)(nil)
	_ FileInfo = (*FileLinkInformation)(nil)
	_ FileInfo = (*FileDispositionInformation)(nil)
	_ FileInfo = (*FileDispositionInformationEx)(nil)
	_ FileInfo = (*FileEndOfFileInformation)(nil)
	_ FileInfo = (*FileAllocationInformation)(nil)
	_ FileInfo = (*FileValidDataLengthInformation)(nil)
	_ FileInfo = SetEAs(nil)
)
