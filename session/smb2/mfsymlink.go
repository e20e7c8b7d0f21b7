package smb2

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
)

// Minshall+French symlinks ("mfsymlinks") store a symbolic link as a
// regular file of exactly MFSymlinkSize bytes, for servers without reparse
// point support. This is a client convention (the Linux cifs client and
// Apple's), not part of [MS-FSCC]. The layout:
//
//	"XSym\n"                 5 bytes, offset 0
//	length "%04u\n"          5 bytes, offset 5: the target length in bytes
//	MD5 "%32x\n"            33 bytes, offset 10: lower-case hex MD5 of the target
//	target                     offset 43, at most 1024 bytes
//	"\n", then spaces up to MFSymlinkSize bytes (no "\n" if the target fills it)
const (
	MFSymlinkSize      = 1067
	MFSymlinkMaxTarget = 1024
	mfsymlinkLenOff    = 5
	mfsymlinkMD5Off    = 10
	mfsymlinkTargetOff = 43
)

var mfsymlinkMagic = []byte("XSym\n")

// ErrMFSymlinkTarget reports a target that an mfsymlink cannot hold: empty
// or longer than MFSymlinkMaxTarget bytes.
var ErrMFSymlinkTarget = errors.New("smb2: mfsymlink target empty or longer than 1024 bytes")

// EncodeMFSymlink returns the MFSymlinkSize-byte file content that encodes
// a symbolic link to target.
func EncodeMFSymlink(target string) ([]byte, error) {
	if len(target) == 0 || len(target) > MFSymlinkMaxTarget {
		return nil, ErrMFSymlinkTarget
	}
	b := make([]byte, 0, MFSymlinkSize)
	b = append(b, mfsymlinkMagic...)
	n := len(target)
	b = append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10), '\n')
	sum := md5.Sum([]byte(target))
	b = hex.AppendEncode(b, sum[:])
	b = append(b, '\n')
	b = append(b, target...)
	if len(b) < MFSymlinkSize {
		b = append(b, '\n')
	}
	for len(b) < MFSymlinkSize {
		b = append(b, ' ')
	}
	return b, nil
}

// DecodeMFSymlink reports whether b is an mfsymlink and returns its target.
// b must be exactly MFSymlinkSize bytes with the magic, a decimal length of
// 1..1024 and an MD5 that matches the target; anything else is an ordinary
// file (ok false). The padding after the target is not checked.
func DecodeMFSymlink(b []byte) (target string, ok bool) {
	if len(b) != MFSymlinkSize || string(b[:mfsymlinkLenOff]) != string(mfsymlinkMagic) {
		return "", false
	}
	n := 0
	for _, c := range b[mfsymlinkLenOff : mfsymlinkLenOff+4] {
		if c < '0' || c > '9' {
			return "", false
		}
		n = n*10 + int(c-'0')
	}
	if b[mfsymlinkMD5Off-1] != '\n' || b[mfsymlinkTargetOff-1] != '\n' {
		return "", false
	}
	if n == 0 || n > MFSymlinkMaxTarget {
		return "", false
	}
	var want [md5.Size]byte
	if _, err := hex.Decode(want[:], b[mfsymlinkMD5Off:mfsymlinkMD5Off+32]); err != nil {
		return "", false
	}
	t := b[mfsymlinkTargetOff : mfsymlinkTargetOff+n]
	if md5.Sum(t) != want {
		return "", false
	}
	return string(t), true
}
