package smb2

import (
	"encoding/binary"
	"math"
)

// Allocated ranges ([MS-FSCC] 2.3.51, 2.3.52): FSCTL_QUERY_ALLOCATED_RANGES
// takes one FILE_ALLOCATED_RANGE_BUFFER (the range asked about) and answers
// with an array of them, the parts of that range that hold data, in
// order. A sparse file's holes are the gaps; a server lists a file that is
// not sparse as all data. STATUS_BUFFER_OVERFLOW says the array did not
// fit: ask again from the end of the last range.

// AllocatedRange is one FILE_ALLOCATED_RANGE_BUFFER.
type AllocatedRange struct {
	Offset int64
	Length int64
}

// End is the offset just past the range.
func (r AllocatedRange) End() int64 { return r.Offset + r.Length }

// AllocatedRangeSize is the encoded size of one range.
const AllocatedRangeSize = 16

// AppendAllocatedRange appends r in its wire form.
func AppendAllocatedRange(b []byte, r AllocatedRange) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Offset))
	return binary.LittleEndian.AppendUint64(b, uint64(r.Length))
}

// ParseAllocatedRanges decodes the output of FSCTL_QUERY_ALLOCATED_RANGES:
// whole ranges only, each with a non-negative offset and length whose end
// fits in an int64, in increasing order without overlap.
func ParseAllocatedRanges(b []byte) ([]AllocatedRange, error) {
	if len(b)%AllocatedRangeSize != 0 {
		return nil, malformed("allocated ranges: %d bytes", len(b))
	}
	out := make([]AllocatedRange, 0, len(b)/AllocatedRangeSize)
	var end int64
	for ; len(b) > 0; b = b[AllocatedRangeSize:] {
		off, n := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		if off > math.MaxInt64 || n > math.MaxInt64-off {
			return nil, malformed("allocated range %d+%d out of bounds", off, n)
		}
		r := AllocatedRange{Offset: int64(off), Length: int64(n)}
		if r.Offset < end {
			return nil, malformed("allocated range at %d overlaps or precedes the one ending at %d", r.Offset, end)
		}
		end = r.End()
		out = append(out, r)
	}
	return out, nil
}
