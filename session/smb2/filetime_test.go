package smb2

import (
	"testing"
	"time"
)

func TestFiletimeFixtures(t *testing.T) {
	cases := []struct {
		ft uint64
		tm time.Time
	}{
		{116444736000000000, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{1, time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC)},
		// 2021-01-01T00:00:00Z = Unix 1609459200.
		{116444736000000000 + 1609459200*10_000_000, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)},
		{116444736000000000 + 1609459200*10_000_000 + 1234567, time.Date(2021, 1, 1, 0, 0, 0, 123456700, time.UTC)},
	}
	for _, c := range cases {
		if got := FiletimeToTime(c.ft); !got.Equal(c.tm) || got.Location() != time.UTC {
			t.Errorf("FiletimeToTime(%d) = %v, want %v", c.ft, got, c.tm)
		}
		if got := TimeToFiletime(c.tm); got != c.ft {
			t.Errorf("TimeToFiletime(%v) = %d, want %d", c.tm, got, c.ft)
		}
	}
}

func TestFiletimeSpecial(t *testing.T) {
	if TimeToFiletime(time.Time{}) != FiletimeUnchanged {
		t.Error("zero time is not FiletimeUnchanged")
	}
	for _, ft := range []uint64{FiletimeUnchanged, FiletimeSuspend, FiletimeResume, 1 << 63} {
		if got := FiletimeToTime(ft); !got.IsZero() {
			t.Errorf("FiletimeToTime(%#x) = %v, want zero", ft, got)
		}
	}
	// A real time never encodes as 0 or a special value.
	if got := TimeToFiletime(time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)); got != 1 {
		t.Errorf("1601-01-01 = %d, want 1", got)
	}
	if got := TimeToFiletime(time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)); got != 1 {
		t.Errorf("1500 = %d, want 1 (clamped)", got)
	}
	if got := TimeToFiletime(time.Date(40000, 1, 1, 0, 0, 0, 0, time.UTC)); got != 1<<63-1 {
		t.Errorf("year 40000 = %#x, want MaxInt64", got)
	}
	// Sub-100ns precision is truncated.
	tm := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if got := FiletimeToTime(TimeToFiletime(tm)); !got.Equal(tm.Truncate(100)) {
		t.Errorf("round trip %v -> %v", tm, got)
	}
	// Non-UTC zones convert by instant.
	loc := time.FixedZone("X", 5*3600)
	if TimeToFiletime(tm.In(loc)) != TimeToFiletime(tm) {
		t.Error("time zone changes the FILETIME")
	}
}

func FuzzFiletime(f *testing.F) {
	f.Add(uint64(116444736000000000))
	f.Add(uint64(1))
	f.Add(uint64(1<<63 - 1))
	f.Fuzz(func(t *testing.T, ft uint64) {
		tm := FiletimeToTime(ft)
		back := TimeToFiletime(tm)
		if ft == 0 || ft > 1<<63-1 {
			if back != 0 {
				t.Fatalf("%#x -> %v -> %#x", ft, tm, back)
			}
			return
		}
		if back != ft {
			t.Fatalf("%#x -> %v -> %#x", ft, tm, back)
		}
	})
}
