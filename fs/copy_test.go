package fs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/fsops"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestCopyOnServer: cp inside the mount copies on the server; the file's
// bytes do not cross the connection. (The copies' contents are checked by
// the "copy file range" case of the file-operation suite.)
func TestCopyOnServer(t *testing.T) {
	samba.RequireTool(t, "fusermount3")
	srv := samba.Start(t, samba.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tree, err := dialTree(t, ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	mnt := mountTree(t, srv, tree, smbfs.Options{})
	const size = 64<<20 + 12345
	data := fsops.Rnd(size)
	if err := os.WriteFile(filepath.Join(srv.Dir, "orig"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	moved := func() uint64 {
		var n uint64
		for _, c := range tree.Session().Channels() {
			n += c.BytesRead + c.BytesWritten
		}
		return n
	}
	before := moved()
	start := time.Now()
	if out, err := exec.Command("cp", filepath.Join(mnt, "orig"), filepath.Join(mnt, "copy")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	took := time.Since(start)
	over := moved() - before
	t.Logf("cp of %d bytes: %v, %d bytes over the connection", size, took, over)
	if over > 1<<20 {
		t.Fatalf("cp moved %d bytes over the connection: not copied on the server", over)
	}
	got, err := os.ReadFile(filepath.Join(srv.Dir, "copy"))
	if err != nil || fsops.Sum(got) != fsops.Sum(data) {
		t.Fatalf("the copy differs on the server's disk: %v", err)
	}
}
