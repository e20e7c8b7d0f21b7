package smb2

import "encoding/binary"

// Directory listings: the output buffer of QUERY_DIRECTORY ([MS-SMB2]
// 2.2.34) is a chain of entries of one information class ([MS-FSCC] 2.4),
// each starting with NextEntryOffset (0 in the last one). The spec aligns
// entries to 8 bytes; the parser tolerates unaligned ones, but every
// NextEntryOffset must move forward and stay inside the buffer, and every
// name must lie inside its entry.

// DirEntry is one directory entry, the union of the classes ParseDirEntries
// knows. Fields a class lacks are zero.
type DirEntry struct {
	Name           string
	FileIndex      uint32
	CreationTime   uint64
	LastAccessTime uint64
	LastWriteTime  uint64
	ChangeTime     uint64
	EndOfFile      uint64
	AllocationSize uint64
	FileAttributes FileAttributes
	// EaSize is the size of the file's EAs. When FileAttributes has
	// FileAttributeReparsePoint the wire field holds the reparse tag
	// instead ([MS-FSCC] 2.4 FileFullDirectoryInformation and the classes
	// after it): then ReparseTag is set and EaSize is 0.
	EaSize     uint32
	ReparseTag ReparseTag
	ShortName  string // 8.3 name (the Both classes); often empty
	FileID     uint64 // the Id classes
}

// dirLayout gives, for one class, where its fields sit. An offset of -1
// means the class lacks the field.
type dirLayout struct {
	fixed     int // bytes before FileName
	nameLen   int // FileNameLength
	eaSize    int
	shortName int // ShortNameLength (1), Reserved (1), ShortName (24)
	fileID    int
	full      bool // has the common timestamps/sizes/attributes block
}

// The common block at offset 4 of every class but FileNamesInformation:
// FileIndex (4), four FILETIMEs (32), EndOfFile (8), AllocationSize (8),
// FileAttributes (4), FileNameLength (4).
var (
	layoutDirectory     = dirLayout{fixed: 64, nameLen: 60, eaSize: -1, shortName: -1, fileID: -1, full: true}
	layoutFullDirectory = dirLayout{fixed: 68, nameLen: 60, eaSize: 64, shortName: -1, fileID: -1, full: true}
	layoutBothDirectory = dirLayout{fixed: 94, nameLen: 60, eaSize: 64, shortName: 68, fileID: -1, full: true}
	layoutIdBoth        = dirLayout{fixed: 104, nameLen: 60, eaSize: 64, shortName: 68, fileID: 96, full: true}
	layoutIdFull        = dirLayout{fixed: 80, nameLen: 60, eaSize: 64, shortName: -1, fileID: 72, full: true}
	layoutNames         = dirLayout{fixed: 12, nameLen: 8, eaSize: -1, shortName: -1, fileID: -1}
)

func dirLayoutOf(class FileInfoClass) (*dirLayout, bool) {
	switch class {
	case FileDirectoryInformationClass:
		return &layoutDirectory, true
	case FileFullDirectoryInformationClass:
		return &layoutFullDirectory, true
	case FileBothDirectoryInformationClass:
		return &layoutBothDirectory, true
	case FileIdBothDirectoryInformationClass:
		return &layoutIdBoth, true
	case FileIdFullDirectoryInformationClass:
		return &layoutIdFull, true
	case FileNamesInformationClass:
		return &layoutNames, true
	}
	return nil, false
}

// shortNameMax is the size of the ShortName field.
const shortNameMax = 24

// ParseDirEntries walks a QUERY_DIRECTORY output buffer of the given class
// and calls fn for each entry, in order, stopping at the first error fn
// returns (which ParseDirEntries returns). fn receives the same *DirEntry
// each time, overwritten: copy the struct to keep it (its strings are
// already copies). Besides the name strings the walk allocates nothing.
// The classes known are FileDirectoryInformation, FileFullDirectory-,
// FileBothDirectory-, FileIdBothDirectory-, FileIdFullDirectory- and
// FileNamesInformation. An empty buffer has no entries. Entries before a
// malformed one have been delivered when the error is returned.
func ParseDirEntries(class FileInfoClass, buf []byte, fn func(*DirEntry) error) error {
	l, ok := dirLayoutOf(class)
	if !ok {
		return malformed("directory listing: unsupported class %v", class)
	}
	var e DirEntry
	return infoWalk(class.String(), buf, l.fixed, func(b []byte) error {
		if err := l.decode(&e, b); err != nil {
			return err
		}
		return fn(&e)
	})
}

// decode fills e from entry b, which infoWalk has checked holds l.fixed
// bytes and ends where the next entry begins.
func (l *dirLayout) decode(e *DirEntry, b []byte) error {
	n := le32(b[l.nameLen:])
	if uint64(n) > uint64(len(b)-l.fixed) {
		return malformed("directory entry: name of %d bytes in %d", n, len(b)-l.fixed)
	}
	name, err := DecodeUTF16(b[l.fixed : l.fixed+int(n)])
	if err != nil {
		return err
	}
	*e = DirEntry{Name: name, FileIndex: le32(b[4:])}
	if l.full {
		e.CreationTime = le64(b[8:])
		e.LastAccessTime = le64(b[16:])
		e.LastWriteTime = le64(b[24:])
		e.ChangeTime = le64(b[32:])
		e.EndOfFile = le64(b[40:])
		e.AllocationSize = le64(b[48:])
		e.FileAttributes = FileAttributes(le32(b[56:]))
	}
	if l.eaSize >= 0 {
		v := le32(b[l.eaSize:])
		if e.FileAttributes.IsReparse() {
			e.ReparseTag = ReparseTag(v)
		} else {
			e.EaSize = v
		}
	}
	if l.shortName >= 0 {
		sn := int(b[l.shortName])
		if sn > shortNameMax {
			return malformed("directory entry: short name of %d bytes", sn)
		}
		if sn > 0 {
			if e.ShortName, err = DecodeUTF16(b[l.shortName+2 : l.shortName+2+sn]); err != nil {
				return err
			}
		}
	}
	if l.fileID >= 0 {
		e.FileID = le64(b[l.fileID:])
	}
	return nil
}

// DirEntrySize is the unpadded size of e encoded in class (0 for an
// unknown class).
func DirEntrySize(class FileInfoClass, e *DirEntry) int {
	l, ok := dirLayoutOf(class)
	if !ok {
		return 0
	}
	return l.fixed + UTF16Len(e.Name)
}

// AppendDirEntries appends entries as a QUERY_DIRECTORY output buffer of
// class, chained by NextEntryOffset and aligned to 8 bytes (for tests, fake
// servers and benchmarks). A ShortName longer than 12 characters is cut.
// An unknown class appends nothing.
func AppendDirEntries(b []byte, class FileInfoClass, entries []DirEntry) []byte {
	l, ok := dirLayoutOf(class)
	if !ok {
		return b
	}
	for k := range entries {
		e := &entries[k]
		start := len(b)
		sz := l.fixed + UTF16Len(e.Name)
		next := 0
		if k < len(entries)-1 {
			next = pad8(sz)
		}
		b = appendZeros(b, l.fixed)
		f := b[start:]
		le := binary.LittleEndian
		le.PutUint32(f, uint32(next))
		le.PutUint32(f[4:], e.FileIndex)
		le.PutUint32(f[l.nameLen:], uint32(UTF16Len(e.Name)))
		if l.full {
			le.PutUint64(f[8:], e.CreationTime)
			le.PutUint64(f[16:], e.LastAccessTime)
			le.PutUint64(f[24:], e.LastWriteTime)
			le.PutUint64(f[32:], e.ChangeTime)
			le.PutUint64(f[40:], e.EndOfFile)
			le.PutUint64(f[48:], e.AllocationSize)
			le.PutUint32(f[56:], uint32(e.FileAttributes))
		}
		if l.eaSize >= 0 {
			v := e.EaSize
			if e.FileAttributes.IsReparse() {
				v = uint32(e.ReparseTag)
			}
			le.PutUint32(f[l.eaSize:], v)
		}
		if l.shortName >= 0 {
			var tmp [2 * shortNameMax]byte
			sn := AppendUTF16(tmp[:0], e.ShortName)
			f[l.shortName] = byte(copy(f[l.shortName+2:l.shortName+2+shortNameMax], sn))
		}
		if l.fileID >= 0 {
			le.PutUint64(f[l.fileID:], e.FileID)
		}
		b = AppendUTF16(b, e.Name)
		if next > 0 {
			b = appendZeros(b, next-sz)
		}
	}
	return b
}
