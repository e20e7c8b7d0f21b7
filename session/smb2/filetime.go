package smb2

import (
	"math"
	"time"
)

// A FILETIME is a count of 100-nanosecond intervals since 1601-01-01 UTC
// ([MS-DTYP] 2.3.3), carried as a raw uint64 in every structure of this
// package. Some values are special in SET_INFO ([MS-FSCC] 2.4.7
// FileBasicInformation):
const (
	// FiletimeUnchanged (0) leaves the timestamp as it is. A zero time.Time
	// converts to it, and it converts back to a zero time.Time.
	FiletimeUnchanged uint64 = 0
	// FiletimeSuspend (-1) stops the server from updating the timestamp
	// for the rest of the I/O on the handle.
	FiletimeSuspend uint64 = 0xFFFFFFFFFFFFFFFF
	// FiletimeResume (-2) undoes FiletimeSuspend on the handle.
	FiletimeResume uint64 = 0xFFFFFFFFFFFFFFFE
)

// filetimeUnixEpoch is 1970-01-01 UTC as a FILETIME.
const filetimeUnixEpoch = 116444736000000000

// filetimeTicksPerSecond is the number of FILETIME units in a second.
const filetimeTicksPerSecond = 10_000_000

// filetimeMax is the largest FILETIME that is a time; larger values are
// negative as the LARGE_INTEGER the spec defines and never a time.
const filetimeMax = math.MaxInt64

// TimeToFiletime converts t to a FILETIME. The zero time.Time gives
// FiletimeUnchanged; any other time gives a nonzero value, clamped to
// [1, MaxInt64], so a real time is never mistaken for "unchanged".
// Precision below 100 ns is truncated.
func TimeToFiletime(t time.Time) uint64 {
	if t.IsZero() {
		return FiletimeUnchanged
	}
	const minSec = -filetimeUnixEpoch / filetimeTicksPerSecond                // 1601-01-01
	const maxSec = (filetimeMax - filetimeUnixEpoch) / filetimeTicksPerSecond // ~ year 30828
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec < minSec {
		return 1
	}
	if sec > maxSec {
		return filetimeMax
	}
	base := (sec - minSec) * filetimeTicksPerSecond // cannot overflow: sec <= maxSec
	ft := base + nsec/100
	if ft < base {
		return filetimeMax
	}
	if ft <= 0 {
		return 1
	}
	return uint64(ft)
}

// FiletimeToTime converts a FILETIME to a UTC time.Time. FiletimeUnchanged
// and values above MaxInt64 (FiletimeSuspend, FiletimeResume and other
// negative LARGE_INTEGERs, which are not times) give the zero time.Time.
func FiletimeToTime(ft uint64) time.Time {
	if ft == FiletimeUnchanged || ft > filetimeMax {
		return time.Time{}
	}
	d := int64(ft) - filetimeUnixEpoch
	sec, rem := d/filetimeTicksPerSecond, d%filetimeTicksPerSecond
	if rem < 0 {
		sec--
		rem += filetimeTicksPerSecond
	}
	return time.Unix(sec, rem*100).UTC()
}
