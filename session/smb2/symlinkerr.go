package smb2

import "errors"

// symlinkErrorTag is SymLinkErrorTag, "SYML" ([MS-SMB2] 2.2.2.2.1).
const symlinkErrorTag = 0x4C4D5953

// symlinkErrorFixed is the size of the Symbolic Link Error Response before
// its PathBuffer.
const symlinkErrorFixed = 28

// symlinkErrorIDDefault is SMB2_ERROR_ID_DEFAULT ([MS-SMB2] 2.2.2.1).
const symlinkErrorIDDefault = 0

// ErrNoSymlinkData reports a STOPPED_ON_SYMLINK error that carries no
// Symbolic Link Error Response at all (some servers, the macOS one among
// them, send none): the caller should read the link with
// FSCTL_GET_REPARSE_POINT instead.
var ErrNoSymlinkData = errors.New("smb2: symlink error response without data")

// SymlinkErrorResponse is the Symbolic Link Error Response ([MS-SMB2]
// 2.2.2.2.1) in the ErrorData of an SMB2 ERROR response whose status is
// STATUS_STOPPED_ON_SYMLINK: the link met while opening a path, and how
// much of that path was left unparsed after it.
type SymlinkErrorResponse struct {
	// UnparsedPathLength is the length in bytes of the UTF-16 tail of the
	// requested path that follows the link (see SplitPath).
	UnparsedPathLength uint16
	SubstituteName     string
	PrintName          string
	Flags              uint32 // SymlinkFlagRelative
}

// Size is the encoded size.
func (r *SymlinkErrorResponse) Size() int {
	return symlinkErrorFixed + UTF16Len(r.SubstituteName) + UTF16Len(r.PrintName)
}

// Append appends the structure (for tests and fake servers).
func (r *SymlinkErrorResponse) Append(b []byte) []byte {
	n := reparseNames{r.SubstituteName, r.PrintName}
	b = ap32(b, uint32(r.Size()-4))
	b = ap32(b, symlinkErrorTag)
	b = ap32(b, uint32(ReparseTagSymlink))
	b = ap16(b, uint16(12+n.size()))
	b = ap16(b, r.UnparsedPathLength)
	b = n.appendOffsets(b)
	b = ap32(b, r.Flags)
	return n.appendPaths(b)
}

// Unmarshal decodes a Symbolic Link Error Response at the start of b.
// SymLinkLength bounds it; names must lie inside its PathBuffer.
func (r *SymlinkErrorResponse) Unmarshal(b []byte) error {
	if len(b) < symlinkErrorFixed {
		return malformed("symlink error response: %d bytes", len(b))
	}
	n := le32(b)
	if uint64(n) < symlinkErrorFixed-4 || uint64(n) > uint64(len(b)-4) {
		return malformed("symlink error response: SymLinkLength %d in %d bytes", n, len(b))
	}
	b = b[:4+n]
	if le32(b[4:]) != symlinkErrorTag {
		return malformed("symlink error response: tag 0x%08x", le32(b[4:]))
	}
	if t := ReparseTag(le32(b[8:])); t != ReparseTagSymlink {
		return malformed("symlink error response: reparse tag %v", t)
	}
	var names reparseNames
	if err := names.decode("symlink error response", b[16:], b[symlinkErrorFixed:]); err != nil {
		return err
	}
	r.UnparsedPathLength = le16(b[14:])
	r.SubstituteName, r.PrintName = names.SubstituteName, names.PrintName
	r.Flags = le32(b[24:])
	return nil
}

// ParseSymlinkError decodes the ErrorData of an SMB2 ERROR response with
// STATUS_STOPPED_ON_SYMLINK. errorContextCount is the response's
// ErrorContextCount: when nonzero (dialect 3.1.1) ErrorData is a list of
// SMB2 ERROR Context structures ([MS-SMB2] 2.2.2.1), each 8-byte aligned,
// and the response is in the first one with SMB2_ERROR_ID_DEFAULT.
// Empty ErrorData gives ErrNoSymlinkData.
func ParseSymlinkError(errorData []byte, errorContextCount uint8) (*SymlinkErrorResponse, error) {
	if len(errorData) == 0 || (len(errorData) == 1 && errorContextCount == 0) {
		// An ERROR response always carries at least one byte of ErrorData.
		return nil, ErrNoSymlinkData
	}
	data := errorData
	if errorContextCount > 0 {
		var err error
		if data, err = symlinkErrorContext(errorData, int(errorContextCount)); err != nil {
			return nil, err
		}
	}
	r := new(SymlinkErrorResponse)
	if err := r.Unmarshal(data); err != nil {
		return nil, err
	}
	return r, nil
}

// symlinkErrorContext returns the ErrorContextData of the first
// SMB2_ERROR_ID_DEFAULT context among count contexts in b.
func symlinkErrorContext(b []byte, count int) ([]byte, error) {
	off := 0
	for i := 0; i < count; i++ {
		if len(b)-off < 8 {
			return nil, malformed("error context %d: %d bytes left", i, len(b)-off)
		}
		n := le32(b[off:])
		id := le32(b[off+4:])
		if uint64(n) > uint64(len(b)-off-8) {
			return nil, malformed("error context %d: %d data bytes in %d", i, n, len(b)-off-8)
		}
		if id == symlinkErrorIDDefault {
			return b[off+8 : off+8+int(n)], nil
		}
		off += pad8(8 + int(n))
		if off > len(b) {
			break
		}
	}
	return nil, ErrNoSymlinkData
}

// AppendSymlinkErrorContext wraps a Symbolic Link Error Response in one
// SMB2 ERROR Context (for tests and fake servers of dialect 3.1.1).
func AppendSymlinkErrorContext(b []byte, r *SymlinkErrorResponse) []byte {
	b = ap32(b, uint32(r.Size()))
	b = ap32(b, symlinkErrorIDDefault)
	return r.Append(b)
}

// SplitPath splits the path of the CREATE that met the link into the part
// up to and including the link and the unparsed rest, which starts with a
// backslash or is empty: the last UnparsedPathLength bytes of the path in
// UTF-16 ([MS-SMB2] 2.2.2.2.1.1). The client continues at the link's target
// joined with rest. It fails when UnparsedPathLength does not fall on a
// character boundary of path.
func (r *SymlinkErrorResponse) SplitPath(path string) (link, rest string, err error) {
	total := UTF16Len(path)
	want := int(r.UnparsedPathLength)
	if want > total || want%2 != 0 {
		return "", "", malformed("symlink error response: unparsed length %d of a %d-byte path", want, total)
	}
	// Walk from the start until the remaining UTF-16 length equals want.
	left := total
	for i, c := range path {
		if left == want {
			return path[:i], path[i:], nil
		}
		if c >= 0x10000 {
			left -= 4
		} else {
			left -= 2
		}
	}
	if left == want {
		return path, "", nil
	}
	return "", "", malformed("symlink error response: unparsed length %d splits a character", want)
}
