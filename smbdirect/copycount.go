//go:build copycount

package smbdirect

import "sync/atomic"

// Copy accounting for make bench-rdma ("bytes copied per byte moved"),
// compiled in only with the build tag copycount; see copycount_off.go.

// CopyCounting reports whether this build counts copied bytes.
const CopyCounting = true

var copied atomic.Uint64

func countCopy(n int) { copied.Add(uint64(n)) }

// CopiedBytes is how many payload bytes the package has copied in memory
// since the program started (0 unless built with the tag copycount).
func CopiedBytes() uint64 { return copied.Load() }
