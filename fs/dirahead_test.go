package fs_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestWalkWithReadAhead: a recursive walk through the mount (which
// fetches sibling listings ahead) sees exactly the server's tree, also
// after the tree changed on the server behind the caches' backs.
func TestWalkWithReadAhead(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{AttrTTL: 200 * time.Millisecond})
	build := func(files int) {
		for d := range 12 {
			for f := range files {
				p := filepath.Join(srv.Dir, "tree", fmt.Sprintf("d%02d", d), fmt.Sprintf("s%d", d%3), fmt.Sprintf("f%02d", f))
				if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(p), 0o666); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	walk := func(root string) []string {
		var out []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			info, err := d.Info()
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%s %v %d", rel, d.IsDir(), map[bool]int64{true: 0, false: info.Size()}[d.IsDir()]))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	build(5)
	for round := range 3 {
		got, want := walk(filepath.Join(mnt, "tree")), walk(filepath.Join(srv.Dir, "tree"))
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: walk through the mount differs from the server's tree:\n%v\n%v", round, got, want)
		}
		// Change the tree on the server, then wait out the caches.
		build(7 + round)
		os.RemoveAll(filepath.Join(srv.Dir, "tree", "d05"))
		time.Sleep(300 * time.Millisecond)
	}
}
