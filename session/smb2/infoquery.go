package smb2

// More file information structures that QUERY_INFO (InfoTypeFile) returns.

// FileNetworkOpenInformation holds the timestamps, sizes and attributes a
// stat needs, in one round trip ([MS-FSCC] 2.4 FileNetworkOpenInformation).
type FileNetworkOpenInformation struct {
	CreationTime   uint64
	LastAccessTime uint64
	LastWriteTime  uint64
	ChangeTime     uint64
	AllocationSize uint64
	EndOfFile      uint64
	FileAttributes FileAttributes
}

// FileNetworkOpenInformationSize is the encoded size.
const FileNetworkOpenInformationSize = 56

func (*FileNetworkOpenInformation) InfoClass() FileInfoClass {
	return FileNetworkOpenInformationClass
}

// Size is the encoded size.
func (*FileNetworkOpenInformation) Size() int { return FileNetworkOpenInformationSize }

// Append appends the 56-byte structure.
func (i *FileNetworkOpenInformation) Append(b []byte) []byte {
	b = ap64(b, i.CreationTime)
	b = ap64(b, i.LastAccessTime)
	b = ap64(b, i.LastWriteTime)
	b = ap64(b, i.ChangeTime)
	b = ap64(b, i.AllocationSize)
	b = ap64(b, i.EndOfFile)
	b = ap32(b, uint32(i.FileAttributes))
	return ap32(b, 0) // Reserved
}

// Unmarshal decodes the structure.
func (i *FileNetworkOpenInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileNetworkOpenInformation", b, FileNetworkOpenInformationSize); err != nil {
		return err
	}
	i.CreationTime = le64(b)
	i.LastAccessTime = le64(b[8:])
	i.LastWriteTime = le64(b[16:])
	i.ChangeTime = le64(b[24:])
	i.AllocationSize = le64(b[32:])
	i.EndOfFile = le64(b[40:])
	i.FileAttributes = FileAttributes(le32(b[48:]))
	return nil
}

// FileAttributeTagInformation holds the attributes and, for a reparse
// point, its tag ([MS-FSCC] 2.4.6 FileAttributeTagInformation).
type FileAttributeTagInformation struct {
	FileAttributes FileAttributes
	ReparseTag     ReparseTag // meaningful only with FileAttributeReparsePoint
}

func (*FileAttributeTagInformation) InfoClass() FileInfoClass {
	return FileAttributeTagInformationClass
}

// Size is the encoded size.
func (*FileAttributeTagInformation) Size() int { return 8 }

// Append appends the structure.
func (i *FileAttributeTagInformation) Append(b []byte) []byte {
	return ap32(ap32(b, uint32(i.FileAttributes)), uint32(i.ReparseTag))
}

// Unmarshal decodes the structure.
func (i *FileAttributeTagInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileAttributeTagInformation", b, 8); err != nil {
		return err
	}
	i.FileAttributes = FileAttributes(le32(b))
	i.ReparseTag = ReparseTag(le32(b[4:]))
	return nil
}

// FileCompressionInformation describes a file's compression ([MS-FSCC] 2.4
// FileCompressionInformation).
type FileCompressionInformation struct {
	CompressedFileSize   uint64
	CompressionFormat    uint16 // COMPRESSION_FORMAT_NONE 0, LZNT1 2, ...
	CompressionUnitShift uint8
	ChunkShift           uint8
	ClusterShift         uint8
}

func (*FileCompressionInformation) InfoClass() FileInfoClass {
	return FileCompressionInformationClass
}

// Size is the encoded size.
func (*FileCompressionInformation) Size() int { return 16 }

// Append appends the structure.
func (i *FileCompressionInformation) Append(b []byte) []byte {
	b = ap64(b, i.CompressedFileSize)
	b = ap16(b, i.CompressionFormat)
	return append(b, i.CompressionUnitShift, i.ChunkShift, i.ClusterShift, 0, 0, 0)
}

// Unmarshal decodes the structure.
func (i *FileCompressionInformation) Unmarshal(b []byte) error {
	if err := infoCheck("FileCompressionInformation", b, 16); err != nil {
		return err
	}
	i.CompressedFileSize = le64(b)
	i.CompressionFormat = le16(b[8:])
	i.CompressionUnitShift, i.ChunkShift, i.ClusterShift = b[10], b[11], b[12]
	return nil
}

// StreamInfo is one entry of FileStreamInformation ([MS-FSCC] 2.4
// FileStreamInformation). Name is as the server gives it, e.g. "::$DATA"
// for the unnamed stream or ":name:$DATA".
type StreamInfo struct {
	Name           string
	Size           uint64
	AllocationSize uint64
}

// ParseStreamInformation decodes a FILE_STREAM_INFORMATION list: entries of
// NextEntryOffset (4), StreamNameLength (4), StreamSize (8),
// StreamAllocationSize (8) and the UTF-16LE name. An empty buffer is an
// empty list (a directory has no streams).
func ParseStreamInformation(b []byte) ([]StreamInfo, error) {
	var out []StreamInfo
	err := infoWalk("FileStreamInformation", b, 24, func(e []byte) error {
		n := le32(e[4:])
		if uint64(n) > uint64(len(e)-24) {
			return malformed("FileStreamInformation: name of %d bytes in %d", n, len(e)-24)
		}
		name, err := DecodeUTF16(e[24 : 24+n])
		if err != nil {
			return err
		}
		out = append(out, StreamInfo{Name: name, Size: le64(e[8:]), AllocationSize: le64(e[16:])})
		return nil
	})
	return out, err
}

// AppendStreamInformation encodes a FILE_STREAM_INFORMATION list with
// entries aligned to 8 bytes (for tests and fake servers).
func AppendStreamInformation(b []byte, streams []StreamInfo) []byte {
	for k, s := range streams {
		start := len(b)
		n := UTF16Len(s.Name)
		next := 0
		if k < len(streams)-1 {
			next = pad8(24 + n)
		}
		b = ap32(b, uint32(next))
		b = ap32(b, uint32(n))
		b = ap64(b, s.Size)
		b = ap64(b, s.AllocationSize)
		b = AppendUTF16(b, s.Name)
		if next > 0 {
			b = appendZeros(b, next-(len(b)-start))
		}
	}
	return b
}
