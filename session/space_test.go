package session

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestAllocatedRanges punches holes into a file on a real Samba and reads
// them back as allocated ranges, with answers too small for all of them
// (STATUS_BUFFER_OVERFLOW, asked again from the last range's end).
func TestAllocatedRanges(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Dial(ctx, Config{Addr: srv.Addr, User: srv.User, Password: srv.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, err := s.Mount(ctx, srv.Share)
	if err != nil {
		t.Fatal(err)
	}
	const page, pages = 64 << 10, 16
	if err := os.WriteFile(filepath.Join(srv.Dir, "f"), make([]byte, page*pages), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(srv.Dir, "f"), 0o666)
	f, err := tr.Create(ctx, "f", CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	ranges := func(off, end int64) []smb2.AllocatedRange {
		t.Helper()
		var rs []smb2.AllocatedRange
		if err := f.AllocatedRanges(ctx, off, end, func(r smb2.AllocatedRange) bool {
			rs = append(rs, r)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return rs
	}
	if rs := ranges(0, page*pages); len(rs) != 1 || rs[0] != (smb2.AllocatedRange{Offset: 0, Length: page * pages}) {
		t.Fatalf("a file that is not sparse: %v, want all data", rs)
	}
	if err := f.SetSparse(ctx); err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i < pages; i += 2 { // every other page a hole
		if err := f.ZeroRange(ctx, i*page, (i+1)*page); err != nil {
			t.Fatal(err)
		}
	}
	defer func(n int) { rangesBuffer = n }(rangesBuffer)
	rangesBuffer = 3 * smb2.AllocatedRangeSize
	rs := ranges(page/2, page*pages-page/2)
	if len(rs) != pages/2 {
		t.Fatalf("%d ranges, want %d: %v", len(rs), pages/2, rs)
	}
	for i, r := range rs {
		want := smb2.AllocatedRange{Offset: int64(2*i) * page, Length: page}
		if i == 0 {
			want = smb2.AllocatedRange{Offset: page / 2, Length: page / 2} // clipped to the range asked
		}
		if r != want {
			t.Errorf("range %d = %+v, want %+v", i, r, want)
		}
	}
	// Stopping early.
	n := 0
	f.AllocatedRanges(ctx, 0, page*pages, func(smb2.AllocatedRange) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("walk went on after fn said stop: %d calls", n)
	}
}
