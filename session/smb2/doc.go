// Package smb2 is the pure wire codec of SMB 2/3 ([MS-SMB2]): message
// headers, one file per message family, information classes, and NTSTATUS as
// an error type. It does no I/O and holds no locks or goroutines.
//
// Conventions, in every file:
//   - XxxRequest / XxxResponse structs carry the body that follows the 64-byte
//     header. Append(b []byte) []byte appends the encoded body; Size() int is
//     exactly the number of bytes Append adds; Unmarshal(body []byte) error
//     decodes a body, where body starts at the structure (right after the
//     header) and offsets in it are taken relative to the start of the header,
//     as the spec counts them (HeaderSize is subtracted).
//   - A decoder never panics and never reads out of range: every length and
//     offset from the peer is checked, and a bad one gives ErrMalformed.
//   - Decoded byte slices alias the input buffer; copy them to keep them.
package smb2
