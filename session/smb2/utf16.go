package smb2

import (
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// SMB2 carries names as UTF-16LE without a terminating NUL ([MS-SMB2] 2.2;
// [MS-FSCC] 2.1.5). Encoding a Go string: each rune becomes one code unit or
// a surrogate pair; invalid UTF-8 bytes become U+FFFD. Decoding: an unpaired
// surrogate becomes U+FFFD; an odd byte count is malformed.

// UTF16Len is the number of bytes AppendUTF16 adds for s.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 4
		} else {
			n += 2
		}
	}
	return n
}

// AppendUTF16 appends s encoded as UTF-16LE, without a NUL.
func AppendUTF16(b []byte, s string) []byte {
	b = slices.Grow(b, UTF16Len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			b = append(b, byte(r1), byte(r1>>8), byte(r2), byte(r2>>8))
			continue
		}
		// ranging over a string yields U+FFFD for invalid UTF-8; a
		// surrogate code point cannot appear in valid UTF-8.
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// EncodeUTF16 returns s encoded as UTF-16LE, without a NUL.
func EncodeUTF16(s string) []byte { return AppendUTF16(nil, s) }

// DecodeUTF16 decodes UTF-16LE bytes into a string. An odd length is
// ErrMalformed; unpaired surrogates decode as U+FFFD. The result is a copy,
// made with a single allocation.
func DecodeUTF16(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", malformed("utf-16: odd length %d", len(b))
	}
	if len(b) == 0 {
		return "", nil
	}
	var sb strings.Builder
	if utf16IsASCII(b) {
		sb.Grow(len(b) / 2)
		for i := 0; i < len(b); i += 2 {
			sb.WriteByte(b[i])
		}
		return sb.String(), nil
	}
	// Each code unit yields at most 3 bytes of UTF-8 (a surrogate pair:
	// 4 bytes for 2 units).
	sb.Grow(len(b) / 2 * 3)
	for i := 0; i < len(b); i += 2 {
		u := rune(le16(b[i:]))
		switch {
		case u < 0xD800 || u >= 0xE000:
			sb.WriteRune(u)
		case u < 0xDC00 && i+3 < len(b):
			if r := utf16.DecodeRune(u, rune(le16(b[i+2:]))); r != utf8.RuneError {
				sb.WriteRune(r)
				i += 2
			} else {
				sb.WriteRune(utf8.RuneError)
			}
		default:
			sb.WriteRune(utf8.RuneError)
		}
	}
	return sb.String(), nil
}

func utf16IsASCII(b []byte) bool {
	for i := 0; i+1 < len(b); i += 2 {
		if b[i+1] != 0 || b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// decodeUTF16Z decodes UTF-16LE up to the first NUL code unit (or the end).
func decodeUTF16Z(b []byte) (string, error) {
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			return DecodeUTF16(b[:i])
		}
	}
	return DecodeUTF16(b)
}
