package smb2

import (
	"fmt"
	"strings"
)

// Information classes of [MS-FSCC] 2.4 (file) and 2.5 (file system), as the
// SMB2 QUERY_INFO, SET_INFO and QUERY_DIRECTORY requests carry them. The
// section numbers inside 2.4 and 2.5 move between revisions of [MS-FSCC], so
// doc comments cite the class by name.
//
// Each fixed-size structure has Size, Append (what the client sends or a
// fake server returns) and Unmarshal (what the server sends). Unmarshal
// accepts a longer buffer than the structure and ignores the excess, since
// servers may pad; a shorter one is ErrMalformed.

// InfoType selects what QUERY_INFO and SET_INFO address ([MS-SMB2] 2.2.37).
type InfoType uint8

const (
	InfoTypeFile       InfoType = 0x01 // SMB2_0_INFO_FILE
	InfoTypeFilesystem InfoType = 0x02 // SMB2_0_INFO_FILESYSTEM
	InfoTypeSecurity   InfoType = 0x03 // SMB2_0_INFO_SECURITY
	InfoTypeQuota      InfoType = 0x04 // SMB2_0_INFO_QUOTA
)

func (t InfoType) String() string {
	switch t {
	case InfoTypeFile:
		return "FILE"
	case InfoTypeFilesystem:
		return "FILESYSTEM"
	case InfoTypeSecurity:
		return "SECURITY"
	case InfoTypeQuota:
		return "QUOTA"
	}
	return fmt.Sprintf("InfoType(%d)", uint8(t))
}

// FileInfoClass is a file information class ([MS-FSCC] 2.4), used with
// InfoTypeFile and in QUERY_DIRECTORY.
type FileInfoClass uint8

// The file information classes. Each constant is the spec name with a
// Class suffix; the structure type, where there is one, has the spec name.
const (
	FileDirectoryInformationClass       FileInfoClass = 1
	FileFullDirectoryInformationClass   FileInfoClass = 2
	FileBothDirectoryInformationClass   FileInfoClass = 3
	FileBasicInformationClass           FileInfoClass = 4
	FileStandardInformationClass        FileInfoClass = 5
	FileInternalInformationClass        FileInfoClass = 6
	FileEaInformationClass              FileInfoClass = 7
	FileAccessInformationClass          FileInfoClass = 8
	FileNameInformationClass            FileInfoClass = 9
	FileRenameInformationClass          FileInfoClass = 10
	FileLinkInformationClass            FileInfoClass = 11
	FileNamesInformationClass           FileInfoClass = 12
	FileDispositionInformationClass     FileInfoClass = 13
	FilePositionInformationClass        FileInfoClass = 14
	FileFullEaInformationClass          FileInfoClass = 15
	FileModeInformationClass            FileInfoClass = 16
	FileAlignmentInformationClass       FileInfoClass = 17
	FileAllInformationClass             FileInfoClass = 18
	FileAllocationInformationClass      FileInfoClass = 19
	FileEndOfFileInformationClass       FileInfoClass = 20
	FileAlternateNameInformationClass   FileInfoClass = 21
	FileStreamInformationClass          FileInfoClass = 22
	FileCompressionInformationClass     FileInfoClass = 28
	FileNetworkOpenInformationClass     FileInfoClass = 34
	FileAttributeTagInformationClass    FileInfoClass = 35
	FileIdBothDirectoryInformationClass FileInfoClass = 37
	FileIdFullDirectoryInformationClass FileInfoClass = 38
	FileValidDataLengthInformationClass FileInfoClass = 39
	FileNormalizedNameInformationClass  FileInfoClass = 48
	FileIdInformationClass              FileInfoClass = 59
	FileIdExtdDirectoryInformationClass FileInfoClass = 60
	FileDispositionInformationExClass   FileInfoClass = 64
	FileRenameInformationExClass        FileInfoClass = 65
)

var fileInfoClassNames = map[FileInfoClass]string{
	FileDirectoryInformationClass:       "FileDirectoryInformation",
	FileFullDirectoryInformationClass:   "FileFullDirectoryInformation",
	FileBothDirectoryInformationClass:   "FileBothDirectoryInformation",
	FileBasicInformationClass:           "FileBasicInformation",
	FileStandardInformationClass:        "FileStandardInformation",
	FileInternalInformationClass:        "FileInternalInformation",
	FileEaInformationClass:              "FileEaInformation",
	FileAccessInformationClass:          "FileAccessInformation",
	FileNameInformationClass:            "FileNameInformation",
	FileRenameInformationClass:          "FileRenameInformation",
	FileLinkInformationClass:            "FileLinkInformation",
	FileNamesInformationClass:           "FileNamesInformation",
	FileDispositionInformationClass:     "FileDispositionInformation",
	FilePositionInformationClass:        "FilePositionInformation",
	FileFullEaInformationClass:          "FileFullEaInformation",
	FileModeInformationClass:            "FileModeInformation",
	FileAlignmentInformationClass:       "FileAlignmentInformation",
	FileAllInformationClass:             "FileAllInformation",
	FileAllocationInformationClass:      "FileAllocationInformation",
	FileEndOfFileInformationClass:       "FileEndOfFileInformation",
	FileAlternateNameInformationClass:   "FileAlternateNameInformation",
	FileStreamInformationClass:          "FileStreamInformation",
	FileCompressionInformationClass:     "FileCompressionInformation",
	FileNetworkOpenInformationClass:     "FileNetworkOpenInformation",
	FileAttributeTagInformationClass:    "FileAttributeTagInformation",
	FileIdBothDirectoryInformationClass: "FileIdBothDirectoryInformation",
	FileIdFullDirectoryInformationClass: "FileIdFullDirectoryInformation",
	FileValidDataLengthInformationClass: "FileValidDataLengthInformation",
	FileNormalizedNameInformationClass:  "FileNormalizedNameInformation",
	FileIdInformationClass:              "FileIdInformation",
	FileIdExtdDirectoryInformationClass: "FileIdExtdDirectoryInformation",
	FileDispositionInformationExClass:   "FileDispositionInformationEx",
	FileRenameInformationExClass:        "FileRenameInformationEx",
}

func (c FileInfoClass) String() string {
	if s, ok := fileInfoClassNames[c]; ok {
		return s
	}
	return fmt.Sprintf("FileInfoClass(%d)", uint8(c))
}

// FileInfo is implemented by every file information structure the client
// sends in SET_INFO: the session layer needs only the class and the bytes.
type FileInfo interface {
	InfoClass() FileInfoClass
	Size() int
	Append(b []byte) []byte
}

// FileAttributes are the FILE_ATTRIBUTE_* flags ([MS-FSCC] 2.6).
type FileAttributes uint32

const (
	FileAttributeReadonly           FileAttributes = 0x00000001
	FileAttributeHidden             FileAttributes = 0x00000002
	FileAttributeSystem             FileAttributes = 0x00000004
	FileAttributeDirectory          FileAttributes = 0x00000010
	FileAttributeArchive            FileAttributes = 0x00000020
	FileAttributeNormal             FileAttributes = 0x00000080
	FileAttributeTemporary          FileAttributes = 0x00000100
	FileAttributeSparseFile         FileAttributes = 0x00000200
	FileAttributeReparsePoint       FileAttributes = 0x00000400
	FileAttributeCompressed         FileAttributes = 0x00000800
	FileAttributeOffline            FileAttributes = 0x00001000
	FileAttributeNotContentIndexed  FileAttributes = 0x00002000
	FileAttributeEncrypted          FileAttributes = 0x00004000
	FileAttributeIntegrityStream    FileAttributes = 0x00008000
	FileAttributeNoScrubData        FileAttributes = 0x00020000
	FileAttributeRecallOnOpen       FileAttributes = 0x00040000
	FileAttributePinned             FileAttributes = 0x00080000
	FileAttributeUnpinned           FileAttributes = 0x00100000
	FileAttributeRecallOnDataAccess FileAttributes = 0x00400000
)

var fileAttributeNames = []infoFlagName{
	{0x00000001, "READONLY"}, {0x00000002, "HIDDEN"}, {0x00000004, "SYSTEM"},
	{0x00000010, "DIRECTORY"}, {0x00000020, "ARCHIVE"}, {0x00000080, "NORMAL"},
	{0x00000100, "TEMPORARY"}, {0x00000200, "SPARSE_FILE"},
	{0x00000400, "REPARSE_POINT"}, {0x00000800, "COMPRESSED"},
	{0x00001000, "OFFLINE"}, {0x00002000, "NOT_CONTENT_INDEXED"},
	{0x00004000, "ENCRYPTED"}, {0x00008000, "INTEGRITY_STREAM"},
	{0x00020000, "NO_SCRUB_DATA"}, {0x00040000, "RECALL_ON_OPEN"},
	{0x00080000, "PINNED"}, {0x00100000, "UNPINNED"},
	{0x00400000, "RECALL_ON_DATA_ACCESS"},
}

func (a FileAttributes) String() string { return infoFlagString(uint32(a), fileAttributeNames) }

// IsDir reports FileAttributeDirectory.
func (a FileAttributes) IsDir() bool { return a&FileAttributeDirectory != 0 }

// IsReparse reports FileAttributeReparsePoint.
func (a FileAttributes) IsReparse() bool { return a&FileAttributeReparsePoint != 0 }

type infoFlagName struct {
	bit  uint32
	name string
}

// infoFlagString renders flags as "A|B|0x100"; zero is "0".
func infoFlagString(v uint32, names []infoFlagName) string {
	if v == 0 {
		return "0"
	}
	var sb strings.Builder
	for _, n := range names {
		if v&n.bit != 0 {
			if sb.Len() > 0 {
				sb.WriteByte('|')
			}
			sb.WriteString(n.name)
			v &^= n.bit
		}
	}
	if v != 0 {
		if sb.Len() > 0 {
			sb.WriteByte('|')
		}
		fmt.Fprintf(&sb, "0x%x", v)
	}
	return sb.String()
}

// infoCheck reports a buffer shorter than the fixed part of a structure.
func infoCheck(name string, b []byte, n int) error {
	if len(b) < n {
		return malformed("%s: %d bytes, need %d", name, len(b), n)
	}
	return nil
}

func infoBool(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// FileBasicInformation holds the timestamps and attributes of a file
// ([MS-FSCC] 2.4.7 FileBasicInformation). In SET_INFO a zero time or zero
// attributes leave the value unchanged (see FiletimeUnchanged,
// FiletimeSuspend, FiletimeResume); to clear all attributes, send
// FileAttributeNormal.
type FileBasicInformation struct {
	CreationTime   uint64
	LastAccessTime uint64
	LastWriteTime  uint64
	ChangeTime     uint64
	FileAttributes FileAttributes
}

// FileBasicInformationSize is the encoded size.
const FileBasicInformationSize = 40

func (*FileBasicInformation) InfoClass() FileInfoClass { return FileBasicInformationClass }

// Size is the encoded size.
func (*FileBasicInformation) Size() int { return FileBasicInformationSize }

// Append appends the 40-byte structure.
func (i *FileBasicInformation) Append(b []byte) []byte {
	b = ap64(b, i.CreationTime)
	b = ap64(b, i.LastAccessTime)
	b = ap64(b, i.LastWriteTime)
	b = ap64(b, i.ChangeTime)
	b = ap32(b, uint32(i.FileAttributes))
	return ap32(b, 0) // Reserved
}

// Unmarshal decodes the structure.
func (i *FileBasicInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileBasicInformation", b, FileBasicInformationSize); err != nil {
		return err
	}
	i.CreationTime = le64(b)
	i.LastAccessTime = le64(b[8:])
	i.LastWriteTime = le64(b[16:])
	i.ChangeTime = le64(b[24:])
	i.FileAttributes = FileAttributes(le32(b[32:]))
	return nil
}

// FileStandardInformation holds sizes, link count and state of a file
// ([MS-FSCC] 2.4 FileStandardInformation).
type FileStandardInformation struct {
	AllocationSize uint64
	EndOfFile      uint64
	NumberOfLinks  uint32
	DeletePending  bool
	Directory      bool
}

// FileStandardInformationSize is the encoded size.
const FileStandardInformationSize = 24

func (*FileStandardInformation) InfoClass() FileInfoClass { return FileStandardInformationClass }

// Size is the encoded size.
func (*FileStandardInformation) Size() int { return FileStandardInformationSize }

// Append appends the 24-byte structure.
func (i *FileStandardInformation) Append(b []byte) []byte {
	b = ap64(b, i.AllocationSize)
	b = ap64(b, i.EndOfFile)
	b = ap32(b, i.NumberOfLinks)
	return append(b, infoBool(i.DeletePending), infoBool(i.Directory), 0, 0)
}

// Unmarshal decodes the structure.
func (i *FileStandardInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileStandardInformation", b, FileStandardInformationSize); err != nil {
		return err
	}
	i.AllocationSize = le64(b)
	i.EndOfFile = le64(b[8:])
	i.NumberOfLinks = le32(b[16:])
	i.DeletePending = b[20] != 0
	i.Directory = b[21] != 0
	return nil
}

// FileInternalInformation holds the file's 64-bit file ID ([MS-FSCC] 2.4
// FileInternalInformation).
type FileInternalInformation struct {
	IndexNumber uint64
}

func (*FileInternalInformation) InfoClass() FileInfoClass { return FileInternalInformationClass }

// Size is the encoded size.
func (*FileInternalInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FileInternalInformation) Append(b []byte) []byte { return ap64(b, i.IndexNumber) }

// Unmarshal decodes the structure.
func (i *FileInternalInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileInternalInformation", b, 8); err != nil {
		return err
	}
	i.IndexNumber = le64(b)
	return nil
}

// FileEaInformation holds the size of the file's extended attributes
// ([MS-FSCC] 2.4 FileEaInformation).
type FileEaInformation struct {
	EaSize uint32
}

func (*FileEaInformation) InfoClass() FileInfoClass { return FileEaInformationClass }

// Size is the encoded size.
func (*FileEaInformation) Size() int { return 4 }

// Append appends the structure.
func (i *FileEaInformation) Append(b []byte) []byte { return ap32(b, i.EaSize) }

// Unmarshal decodes the structure.
func (i *FileEaInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileEaInformation", b, 4); err != nil {
		return err
	}
	i.EaSize = le32(b)
	return nil
}

// FileAccessInformation holds the access mask the handle was granted
// ([MS-FSCC] 2.4 FileAccessInformation).
type FileAccessInformation struct {
	AccessFlags uint32
}

func (*FileAccessInformation) InfoClass() FileInfoClass { return FileAccessInformationClass }

// Size is the encoded size.
func (*FileAccessInformation) Size() int { return 4 }

// Append appends the structure.
func (i *FileAccessInformation) Append(b []byte) []byte { return ap32(b, i.AccessFlags) }

// Unmarshal decodes the structure.
func (i *FileAccessInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileAccessInformation", b, 4); err != nil {
		return err
	}
	i.AccessFlags = le32(b)
	return nil
}

// FilePositionInformation holds the handle's current byte offset
// ([MS-FSCC] 2.4 FilePositionInformation).
type FilePositionInformation struct {
	CurrentByteOffset uint64
}

func (*FilePositionInformation) InfoClass() FileInfoClass { return FilePositionInformationClass }

// Size is the encoded size.
func (*FilePositionInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FilePositionInformation) Append(b []byte) []byte { return ap64(b, i.CurrentByteOffset) }

// Unmarshal decodes the structure.
func (i *FilePositionInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FilePositionInformation", b, 8); err != nil {
		return err
	}
	i.CurrentByteOffset = le64(b)
	return nil
}

// FileModeInformation holds the handle's mode flags (FILE_WRITE_THROUGH,
// FILE_SEQUENTIAL_ONLY, ...; [MS-FSCC] 2.4 FileModeInformation).
type FileModeInformation struct {
	Mode uint32
}

func (*FileModeInformation) InfoClass() FileInfoClass { return FileModeInformationClass }

// Size is the encoded size.
func (*FileModeInformation) Size() int { return 4 }

// Append appends the structure.
func (i *FileModeInformation) Append(b []byte) []byte { return ap32(b, i.Mode) }

// Unmarshal decodes the structure.
func (i *FileModeInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileModeInformation", b, 4); err != nil {
		return err
	}
	i.Mode = le32(b)
	return nil
}

// FileAlignmentInformation holds the device's buffer alignment requirement
// ([MS-FSCC] 2.4 FileAlignmentInformation).
type FileAlignmentInformation struct {
	AlignmentRequirement uint32
}

func (*FileAlignmentInformation) InfoClass() FileInfoClass { return FileAlignmentInformationClass }

// Size is the encoded size.
func (*FileAlignmentInformation) Size() int { return 4 }

// Append appends the structure.
func (i *FileAlignmentInformation) Append(b []byte) []byte { return ap32(b, i.AlignmentRequirement) }

// Unmarshal decodes the structure.
func (i *FileAlignmentInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileAlignmentInformation", b, 4); err != nil {
		return err
	}
	i.AlignmentRequirement = le32(b)
	return nil
}

// FileNameInformation holds a file name ([MS-FSCC] 2.4
// FileNameInformation): FileNameLength (4) and the UTF-16LE name.
type FileNameInformation struct {
	FileName string
}

func (*FileNameInformation) InfoClass() FileInfoClass { return FileNameInformationClass }

// Size is the encoded size.
func (i *FileNameInformation) Size() int { return 4 + UTF16Len(i.FileName) }

// Append appends the structure.
func (i *FileNameInformation) Append(b []byte) []byte {
	b = ap32(b, uint32(UTF16Len(i.FileName)))
	return AppendUTF16(b, i.FileName)
}

// Unmarshal decodes the structure.
func (i *FileNameInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileNameInformation", b, 4); err != nil {
		return err
	}
	n := le32(b)
	if uint64(n) > uint64(len(b)-4) {
		return malformed("FileNameInformation: name of %d bytes in %d", n, len(b)-4)
	}
	var err error
	i.FileName, err = DecodeUTF16(b[4 : 4+n])
	return err
}

// FileAllInformation is the concatenation of the basic, standard, internal,
// EA, access, position, mode, alignment and name information ([MS-FSCC] 2.4
// FileAllInformation). A server may truncate the name and answer
// STATUS_BUFFER_OVERFLOW; Unmarshal then fails on the short name, so ask
// with an output buffer of FileAllInformationFixedSize plus room for the name.
type FileAllInformation struct {
	Basic     FileBasicInformation
	Standard  FileStandardInformation
	Internal  FileInternalInformation
	Ea        FileEaInformation
	Access    FileAccessInformation
	Position  FilePositionInformation
	Mode      FileModeInformation
	Alignment FileAlignmentInformation
	Name      FileNameInformation
}

// FileAllInformationFixedSize is the size of FileAllInformation with an
// empty name.
const FileAllInformationFixedSize = 100

func (*FileAllInformation) InfoClass() FileInfoClass { return FileAllInformationClass }

// Size is the encoded size.
func (i *FileAllInformation) Size() int { return 96 + i.Name.Size() }

// Append appends the structure.
func (i *FileAllInformation) Append(b []byte) []byte {
	b = i.Basic.Append(b)
	b = i.Standard.Append(b)
	b = i.Internal.Append(b)
	b = i.Ea.Append(b)
	b = i.Access.Append(b)
	b = i.Position.Append(b)
	b = i.Mode.Append(b)
	b = i.Alignment.Append(b)
	return i.Name.Append(b)
}

// Unmarshal decodes the structure.
func (i *FileAllInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileAllInformation", b, FileAllInformationFixedSize); err != nil {
		return err
	}
	// The fixed parts cannot fail once the length is checked.
	_ = i.Basic.Unmarshal(b[0:40])
	_ = i.Standard.Unmarshal(b[40:64])
	_ = i.Internal.Unmarshal(b[64:72])
	_ = i.Ea.Unmarshal(b[72:76])
	_ = i.Access.Unmarshal(b[76:80])
	_ = i.Position.Unmarshal(b[80:88])
	_ = i.Mode.Unmarshal(b[88:92])
	_ = i.Alignment.Unmarshal(b[92:96])
	return i.Name.Unmarshal(b[96:])
}

// infoWalk walks a NextEntryOffset chain in b whose entries have at least
// fixed bytes, calling fn with each entry: the bytes up to the next entry,
// or to the end of b for the last. It guarantees that every offset moves
// forward and stays inside b, so a hostile chain can neither loop nor
// overrun. An empty b is an empty list.
func infoWalk(name string, b []byte, fixed int, fn func(entry []byte) error) error {
	for off := 0; off < len(b); {
		e := b[off:]
		if len(e) < fixed {
			return malformed("%s: entry of %d bytes at %d, need %d", name, len(e), off, fixed)
		}
		next := le32(e)
		if next != 0 {
			if uint64(next) < uint64(fixed) || uint64(next) >= uint64(len(e)) {
				return malformed("%s: NextEntryOffset %d at %d in %d bytes", name, next, off, len(b))
			}
			e = e[:next]
		}
		if err := fn(e); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		off += int(next)
	}
	return nil
}
