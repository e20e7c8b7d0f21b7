//go:build !copycount

package iwarp

// CopyCounting reports whether this build counts copied bytes: only with
// the build tag copycount (make bench-rdma), so that the data path pays
// nothing for it otherwise.
const CopyCounting = false

func countCopy(int) {}

// CopiedBytes is how many payload bytes the package has copied in memory
// since the program started (0 unless built with the tag copycount).
func CopiedBytes() uint64 { return 0 }
