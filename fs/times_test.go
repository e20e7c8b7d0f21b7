package fs_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestTimesThroughHandle: times set through an open handle after writing
// (what tar does) are answered at once and reach the server with the last
// write, also when that write is larger than what goes in one compound.
func TestTimesThroughHandle(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	want := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, size := range []int{0, 4096, 200 << 10} {
		name := filepath.Join(mnt, "t"+time.Now().Format("150405.000000"))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(rnd(size)); err != nil {
			t.Fatal(err)
		}
		ts := []unix.Timespec{unix.NsecToTimespec(want.UnixNano()), unix.NsecToTimespec(want.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), ts, 0); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mtim.Sec != want.Unix() || st.Size != int64(size) {
			t.Fatalf("size %d: fstat before close: mtime %d size %d %v", size, st.Mtim.Sec, st.Size, err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("size %d: close: %v", size, err)
		}
		disk, err := os.Stat(filepath.Join(srv.Dir, filepath.Base(name)))
		if err != nil || !disk.ModTime().Equal(want) || disk.Size() != int64(size) {
			t.Fatalf("size %d: on the server: %v %v", size, disk, err)
		}
	}
}
