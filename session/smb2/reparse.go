package smb2

import (
	"fmt"
	"unicode/utf8"
)

// ReparseTag identifies the owner and format of a reparse point ([MS-FSCC]
// 2.1.2.1). Bit 31 marks a Microsoft tag, whose buffer has no GUID; bit 29
// marks a name surrogate (a link to another file or directory).
type ReparseTag uint32

const (
	ReparseTagMountPoint   ReparseTag = 0xA0000003
	ReparseTagHSM          ReparseTag = 0xC0000004
	ReparseTagSIS          ReparseTag = 0x80000007
	ReparseTagWIM          ReparseTag = 0x80000008
	ReparseTagDFS          ReparseTag = 0x8000000A
	ReparseTagSymlink      ReparseTag = 0xA000000C
	ReparseTagDFSR         ReparseTag = 0x80000012
	ReparseTagDedup        ReparseTag = 0x80000013
	ReparseTagNFS          ReparseTag = 0x80000014
	ReparseTagWOF          ReparseTag = 0x80000017
	ReparseTagCloud        ReparseTag = 0x9000001A
	ReparseTagAppExecLink  ReparseTag = 0x8000001B
	ReparseTagLXSymlink    ReparseTag = 0xA000001D
	ReparseTagStorageSync  ReparseTag = 0x8000001E
	ReparseTagOneDrive     ReparseTag = 0x80000021
	ReparseTagAFUnix       ReparseTag = 0x80000023
	ReparseTagLXFifo       ReparseTag = 0x80000024
	ReparseTagLXChr        ReparseTag = 0x80000025
	ReparseTagLXBlk        ReparseTag = 0x80000026
	reparseTagMicrosoftBit ReparseTag = 0x80000000
	reparseTagSurrogateBit ReparseTag = 0x20000000
)

var reparseTagNames = map[ReparseTag]string{
	ReparseTagMountPoint:  "MOUNT_POINT",
	ReparseTagHSM:         "HSM",
	ReparseTagSIS:         "SIS",
	ReparseTagWIM:         "WIM",
	ReparseTagDFS:         "DFS",
	ReparseTagSymlink:     "SYMLINK",
	ReparseTagDFSR:        "DFSR",
	ReparseTagDedup:       "DEDUP",
	ReparseTagNFS:         "NFS",
	ReparseTagWOF:         "WOF",
	ReparseTagCloud:       "CLOUD",
	ReparseTagAppExecLink: "APPEXECLINK",
	ReparseTagLXSymlink:   "LX_SYMLINK",
	ReparseTagStorageSync: "STORAGE_SYNC",
	ReparseTagOneDrive:    "ONEDRIVE",
	ReparseTagAFUnix:      "AF_UNIX",
	ReparseTagLXFifo:      "LX_FIFO",
	ReparseTagLXChr:       "LX_CHR",
	ReparseTagLXBlk:       "LX_BLK",
}

func (t ReparseTag) String() string {
	if s, ok := reparseTagNames[t]; ok {
		return "IO_REPARSE_TAG_" + s
	}
	return fmt.Sprintf("ReparseTag(0x%08x)", uint32(t))
}

// IsMicrosoft reports a Microsoft tag (no GUID in its buffer).
func (t ReparseTag) IsMicrosoft() bool { return t&reparseTagMicrosoftBit != 0 }

// IsNameSurrogate reports a tag whose reparse point names another file.
func (t ReparseTag) IsNameSurrogate() bool { return t&reparseTagSurrogateBit != 0 }

// reparseHeaderSize is ReparseTag (4), ReparseDataLength (2), Reserved (2).
const reparseHeaderSize = 8

// ParseReparseBuffer splits a reparse buffer, as FSCTL_GET_REPARSE_POINT
// returns it, into its tag and data ([MS-FSCC] 2.1.2.2 REPARSE_DATA_BUFFER,
// 2.1.2.3 REPARSE_GUID_DATA_BUFFER). data is the ReparseDataLength bytes
// after the header, and after the 16-byte GUID for a non-Microsoft tag; it
// aliases b.
func ParseReparseBuffer(b []byte) (tag ReparseTag, data []byte, err error) {
	if len(b) < reparseHeaderSize {
		return 0, nil, malformed("reparse buffer: %d bytes", len(b))
	}
	tag = ReparseTag(le32(b))
	n := int(le16(b[4:]))
	start := reparseHeaderSize
	if !tag.IsMicrosoft() {
		start += 16
	}
	if start+n > len(b) {
		return 0, nil, malformed("reparse buffer: %d data bytes in %d", n, len(b)-start)
	}
	return tag, b[start : start+n], nil
}

// AppendReparseBuffer appends a REPARSE_DATA_BUFFER for a Microsoft tag
// with the given data ([MS-FSCC] 2.1.2.2), as FSCTL_SET_REPARSE_POINT takes
// it. data must be at most 65535 bytes.
func AppendReparseBuffer(b []byte, tag ReparseTag, data []byte) []byte {
	b = ap32(b, uint32(tag))
	b = ap16(b, uint16(len(data)))
	b = ap16(b, 0)
	return append(b, data...)
}

// reparseNames is the substitute and print name of a symbolic link or
// mount point, shared by the reparse buffers and the symlink error.
type reparseNames struct {
	SubstituteName string
	PrintName      string
}

// size is the PathBuffer size: both names, substitute first, no NULs.
func (n *reparseNames) size() int { return UTF16Len(n.SubstituteName) + UTF16Len(n.PrintName) }

// appendOffsets appends SubstituteNameOffset/Length, PrintNameOffset/Length.
func (n *reparseNames) appendOffsets(b []byte) []byte {
	sl, pl := UTF16Len(n.SubstituteName), UTF16Len(n.PrintName)
	b = ap16(b, 0)
	b = ap16(b, uint16(sl))
	b = ap16(b, uint16(sl))
	return ap16(b, uint16(pl))
}

func (n *reparseNames) appendPaths(b []byte) []byte {
	return AppendUTF16(AppendUTF16(b, n.SubstituteName), n.PrintName)
}

// decode reads the names given the four 16-bit offset/length fields at
// fields and the PathBuffer they index.
func (n *reparseNames) decode(what string, fields, path []byte) error {
	so, sl := int(le16(fields)), int(le16(fields[2:]))
	po, pl := int(le16(fields[4:])), int(le16(fields[6:]))
	if so+sl > len(path) || po+pl > len(path) {
		return malformed("%s: names [%d,+%d) [%d,+%d) beyond %d-byte path buffer",
			what, so, sl, po, pl, len(path))
	}
	var err error
	if n.SubstituteName, err = DecodeUTF16(path[so : so+sl]); err != nil {
		return err
	}
	n.PrintName, err = DecodeUTF16(path[po : po+pl])
	return err
}

// MaxReparseBufferSize is the largest reparse buffer a Windows server
// stores (MAXIMUM_REPARSE_DATA_BUFFER_SIZE, 16 KiB). The encoders below do
// not check it; a caller that lets names grow must check Size against it.
const MaxReparseBufferSize = 16 * 1024

// SymlinkFlagRelative marks a symbolic link whose substitute name is
// relative to the directory holding the link ([MS-FSCC] 2.1.2.4).
const SymlinkFlagRelative uint32 = 0x00000001

// SymlinkReparseBuffer is the Symbolic Link Reparse Data Buffer ([MS-FSCC]
// 2.1.2.4) that FSCTL_SET_REPARSE_POINT takes and FSCTL_GET_REPARSE_POINT
// returns for IO_REPARSE_TAG_SYMLINK. A relative target uses backslashes and
// SymlinkFlagRelative; an absolute one is an NT path such as
// \??\C:\dir. The whole buffer must fit MaxReparseBufferSize.
type SymlinkReparseBuffer struct {
	SubstituteName string
	PrintName      string
	Flags          uint32
}

// Size is the encoded size.
func (r *SymlinkReparseBuffer) Size() int { return 20 + r.names().size() }

func (r *SymlinkReparseBuffer) names() *reparseNames {
	return &reparseNames{r.SubstituteName, r.PrintName}
}

// Append appends the whole reparse buffer, header included.
func (r *SymlinkReparseBuffer) Append(b []byte) []byte {
	n := r.names()
	b = ap32(b, uint32(ReparseTagSymlink))
	b = ap16(b, uint16(12+n.size()))
	b = ap16(b, 0)
	b = n.appendOffsets(b)
	b = ap32(b, r.Flags)
	return n.appendPaths(b)
}

// Unmarshal decodes a whole reparse buffer; its tag must be
// IO_REPARSE_TAG_SYMLINK.
func (r *SymlinkReparseBuffer) Unmarshal(b []byte) error {
	tag, data, err := ParseReparseBuffer(b)
	if err != nil {
		return err
	}
	if tag != ReparseTagSymlink {
		return malformed("symlink reparse buffer: tag %v", tag)
	}
	if len(data) < 12 {
		return malformed("symlink reparse buffer: %d data bytes", len(data))
	}
	var n reparseNames
	if err := n.decode("symlink reparse buffer", data, data[12:]); err != nil {
		return err
	}
	r.SubstituteName, r.PrintName, r.Flags = n.SubstituteName, n.PrintName, le32(data[8:])
	return nil
}

// MountPointReparseBuffer is the Mount Point Reparse Data Buffer ([MS-FSCC]
// 2.1.2.5) of IO_REPARSE_TAG_MOUNT_POINT (a junction). The layout is the
// symbolic link's without Flags; by convention the names end with a NUL
// that the lengths exclude, which Append writes too.
type MountPointReparseBuffer struct {
	SubstituteName string
	PrintName      string
}

// Size is the encoded size.
func (r *MountPointReparseBuffer) Size() int {
	return 16 + UTF16Len(r.SubstituteName) + UTF16Len(r.PrintName) + 4
}

// Append appends the whole reparse buffer, header included.
func (r *MountPointReparseBuffer) Append(b []byte) []byte {
	sl, pl := UTF16Len(r.SubstituteName), UTF16Len(r.PrintName)
	b = ap32(b, uint32(ReparseTagMountPoint))
	b = ap16(b, uint16(8+sl+pl+4))
	b = ap16(b, 0)
	b = ap16(b, 0)
	b = ap16(b, uint16(sl))
	b = ap16(b, uint16(sl+2))
	b = ap16(b, uint16(pl))
	b = append(AppendUTF16(b, r.SubstituteName), 0, 0)
	return append(AppendUTF16(b, r.PrintName), 0, 0)
}

// Unmarshal decodes a whole reparse buffer; its tag must be
// IO_REPARSE_TAG_MOUNT_POINT.
func (r *MountPointReparseBuffer) Unmarshal(b []byte) error {
	tag, data, err := ParseReparseBuffer(b)
	if err != nil {
		return err
	}
	if tag != ReparseTagMountPoint {
		return malformed("mount point reparse buffer: tag %v", tag)
	}
	if len(data) < 8 {
		return malformed("mount point reparse buffer: %d data bytes", len(data))
	}
	var n reparseNames
	if err := n.decode("mount point reparse buffer", data, data[8:]); err != nil {
		return err
	}
	r.SubstituteName, r.PrintName = n.SubstituteName, n.PrintName
	return nil
}

// NFSType is the 64-bit Type of an NFS reparse buffer ([MS-FSCC] 2.1.2.6):
// the file type of a special file the Windows NFS server or client made.
type NFSType uint64

const (
	NFSSpecfileLnk  NFSType = 0x00000000014B4E4C // "LNK": a symbolic link
	NFSSpecfileChr  NFSType = 0x0000000000524843 // "CHR": a character device
	NFSSpecfileBlk  NFSType = 0x00000000004B4C42 // "BLK": a block device
	NFSSpecfileFifo NFSType = 0x000000004F464946 // "FIFO"
	NFSSpecfileSock NFSType = 0x000000004B434F53 // "SOCK"
)

func (t NFSType) String() string {
	switch t {
	case NFSSpecfileLnk:
		return "NFS_SPECFILE_LNK"
	case NFSSpecfileChr:
		return "NFS_SPECFILE_CHR"
	case NFSSpecfileBlk:
		return "NFS_SPECFILE_BLK"
	case NFSSpecfileFifo:
		return "NFS_SPECFILE_FIFO"
	case NFSSpecfileSock:
		return "NFS_SPECFILE_SOCK"
	}
	return fmt.Sprintf("NFSType(0x%x)", uint64(t))
}

// NFSReparseBuffer is the Network File System Reparse Data Buffer
// ([MS-FSCC] 2.1.2.6) of IO_REPARSE_TAG_NFS: for NFSSpecfileLnk the target
// as UTF-16LE without a NUL, for NFSSpecfileChr and NFSSpecfileBlk the major
// and minor numbers, for a FIFO or socket nothing.
type NFSReparseBuffer struct {
	Type   NFSType
	Target string // NFSSpecfileLnk
	Major  uint32 // NFSSpecfileChr, NFSSpecfileBlk
	Minor  uint32
}

func (r *NFSReparseBuffer) dataSize() int {
	switch r.Type {
	case NFSSpecfileLnk:
		return 8 + UTF16Len(r.Target)
	case NFSSpecfileChr, NFSSpecfileBlk:
		return 16
	}
	return 8
}

// Size is the encoded size.
func (r *NFSReparseBuffer) Size() int { return reparseHeaderSize + r.dataSize() }

// Append appends the whole reparse buffer, header included.
func (r *NFSReparseBuffer) Append(b []byte) []byte {
	b = ap32(b, uint32(ReparseTagNFS))
	b = ap16(b, uint16(r.dataSize()))
	b = ap16(b, 0)
	b = ap64(b, uint64(r.Type))
	switch r.Type {
	case NFSSpecfileLnk:
		b = AppendUTF16(b, r.Target)
	case NFSSpecfileChr, NFSSpecfileBlk:
		b = ap32(ap32(b, r.Major), r.Minor)
	}
	return b
}

// Unmarshal decodes a whole reparse buffer; its tag must be
// IO_REPARSE_TAG_NFS. A symlink target must be non-empty and hold no NUL;
// device numbers must be exactly 8 bytes.
func (r *NFSReparseBuffer) Unmarshal(b []byte) error {
	tag, data, err := ParseReparseBuffer(b)
	if err != nil {
		return err
	}
	if tag != ReparseTagNFS {
		return malformed("nfs reparse buffer: tag %v", tag)
	}
	if len(data) < 8 {
		return malformed("nfs reparse buffer: %d data bytes", len(data))
	}
	*r = NFSReparseBuffer{Type: NFSType(le64(data))}
	rest := data[8:]
	switch r.Type {
	case NFSSpecfileLnk:
		if len(rest) == 0 {
			return malformed("nfs reparse buffer: empty symlink target")
		}
		if r.Target, err = DecodeUTF16(rest); err != nil {
			return err
		}
		for i := 0; i < len(r.Target); i++ {
			if r.Target[i] == 0 {
				return malformed("nfs reparse buffer: NUL in symlink target")
			}
		}
	case NFSSpecfileChr, NFSSpecfileBlk:
		if len(rest) != 8 {
			return malformed("nfs reparse buffer: %d bytes of device numbers", len(rest))
		}
		r.Major, r.Minor = le32(rest), le32(rest[4:])
	}
	return nil
}

// lxSymlinkVersion is the only version of the WSL symlink buffer.
const lxSymlinkVersion = 2

// LXSymlinkReparseBuffer is the WSL symbolic link of IO_REPARSE_TAG_LX_SYMLINK:
// a 4-byte version (2) followed by the target in UTF-8, without a NUL. It is
// not described in [MS-FSCC] beyond its tag; Windows and WSL write it.
type LXSymlinkReparseBuffer struct {
	Target string
}

// Size is the encoded size.
func (r *LXSymlinkReparseBuffer) Size() int { return reparseHeaderSize + 4 + len(r.Target) }

// Append appends the whole reparse buffer, header included.
func (r *LXSymlinkReparseBuffer) Append(b []byte) []byte {
	b = ap32(b, uint32(ReparseTagLXSymlink))
	b = ap16(b, uint16(4+len(r.Target)))
	b = ap16(b, 0)
	b = ap32(b, lxSymlinkVersion)
	return append(b, r.Target...)
}

// Unmarshal decodes a whole reparse buffer; its tag must be
// IO_REPARSE_TAG_LX_SYMLINK and its version 2. The target must be valid
// UTF-8 with no NUL.
func (r *LXSymlinkReparseBuffer) Unmarshal(b []byte) error {
	tag, data, err := ParseReparseBuffer(b)
	if err != nil {
		return err
	}
	if tag != ReparseTagLXSymlink {
		return malformed("lx symlink reparse buffer: tag %v", tag)
	}
	if len(data) < 4 || le32(data) != lxSymlinkVersion {
		return malformed("lx symlink reparse buffer: bad version")
	}
	t := data[4:]
	if !utf8.Valid(t) {
		return malformed("lx symlink reparse buffer: target is not UTF-8")
	}
	for _, c := range t {
		if c == 0 {
			return malformed("lx symlink reparse buffer: NUL in target")
		}
	}
	r.Target = string(t)
	return nil
}
