package smb2

// Server-side copy ([MS-SMB2] 2.2.31.1, 2.2.32.1, 2.2.32.3): the client
// asks the source handle for a resume key (FSCTL_SRV_REQUEST_RESUME_KEY),
// then sends FSCTL_SRV_COPYCHUNK_WRITE on the target handle with the key
// and a list of chunks; the server copies the bytes itself.

// ResumeKeySize is the size of the opaque key naming a source handle.
const ResumeKeySize = 24

// ParseResumeKey decodes the output of FSCTL_SRV_REQUEST_RESUME_KEY
// (SRV_REQUEST_RESUME_KEY: the 24-byte key, a context length and a context
// the client ignores).
func ParseResumeKey(b []byte) ([ResumeKeySize]byte, error) {
	var key [ResumeKeySize]byte
	if len(b) < ResumeKeySize+4 {
		return key, malformed("resume key: %d bytes", len(b))
	}
	copy(key[:], b)
	return key, nil
}

// AppendResumeKey appends the SRV_REQUEST_RESUME_KEY form of key with an
// empty context (tests and fake servers).
func AppendResumeKey(b []byte, key [ResumeKeySize]byte) []byte {
	b = append(b, key[:]...)
	return ap32(b, 0)
}

// CopyChunk is one SRV_COPYCHUNK: Length bytes from SourceOffset of the
// source to TargetOffset of the target.
type CopyChunk struct {
	SourceOffset uint64
	TargetOffset uint64
	Length       uint32
}

// AppendCopyChunkCopy appends SRV_COPYCHUNK_COPY, the input of
// FSCTL_SRV_COPYCHUNK(_WRITE).
func AppendCopyChunkCopy(b []byte, key [ResumeKeySize]byte, chunks []CopyChunk) []byte {
	b = append(b, key[:]...)
	b = ap32(b, uint32(len(chunks)))
	b = ap32(b, 0)
	for _, c := range chunks {
		b = ap64(b, c.SourceOffset)
		b = ap64(b, c.TargetOffset)
		b = ap32(b, c.Length)
		b = ap32(b, 0)
	}
	return b
}

// CopyChunkResponse is SRV_COPYCHUNK_RESPONSE. After a copy it counts what
// was done; when the server refuses the request as too large
// (STATUS_INVALID_PARAMETER) the same fields carry its limits: the most
// chunks per request, the largest chunk, and the most bytes per request.
type CopyChunkResponse struct {
	ChunksWritten     uint32
	ChunkBytesWritten uint32
	TotalBytesWritten uint32
}

// Size is the encoded size.
func (r *CopyChunkResponse) Size() int { return 12 }

// Append appends the encoded response (tests and fake servers).
func (r *CopyChunkResponse) Append(b []byte) []byte {
	b = ap32(b, r.ChunksWritten)
	b = ap32(b, r.ChunkBytesWritten)
	return ap32(b, r.TotalBytesWritten)
}

// Unmarshal decodes the response.
func (r *CopyChunkResponse) Unmarshal(b []byte) error {
	if len(b) < 12 {
		return malformed("copychunk response: %d bytes", len(b))
	}
	r.ChunksWritten, r.ChunkBytesWritten, r.TotalBytesWritten = le32(b), le32(b[4:]), le32(b[8:])
	return nil
}
