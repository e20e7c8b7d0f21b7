package smb2

import "encoding/binary"

func ap16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func ap32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func ap64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// FileID is the 16-byte SMB2_FILEID ([MS-SMB2] 2.2.14.1).
type FileID struct {
	Persistent uint64
	Volatile   uint64
}

// AnyFileID is the all-ones FileId that refers to the previous CREATE of a
// related compound ([MS-SMB2] 3.2.4.1.4).
var AnyFileID = FileID{^uint64(0), ^uint64(0)}

func (f FileID) append(b []byte) []byte { return ap64(ap64(b, f.Persistent), f.Volatile) }

func getFileID(b []byte) FileID { return FileID{le64(b), le64(b[8:])} }
