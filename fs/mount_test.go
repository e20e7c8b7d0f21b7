package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// mounted starts Samba and mounts its share through the kernel; it returns
// the mountpoint and the server.
func mounted(t testing.TB, sopts samba.Options, o smbfs.Options) (string, *samba.Server) {
	t.Helper()
	samba.RequireTool(t, "fusermount3")
	srv := samba.Start(t, sopts)
	return mountServer(t, srv, o), srv
}

// mountedTree starts a server and mounts its share through a session the
// test keeps (to count what it sends), and returns a second session for
// the test to act as another client.
func mountedTree(t *testing.T, o smbfs.Options) (mnt string, srv *samba.Server, tree, other *session.Tree) {
	t.Helper()
	samba.RequireTool(t, "fusermount3")
	srv = samba.Start(t, samba.Options{})
	ctx := context.Background()
	tree, err := dialTree(t, ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	if other, err = dialTree(t, ctx, srv); err != nil {
		t.Fatal(err)
	}
	return mountTree(t, srv, tree, o), srv, tree, other
}

// requests counts the requests the session has sent.
func requests(s *session.Session) uint64 {
	r, _ := sent(s)
	return r
}

// messages counts the messages (round trips: a compound is one) the
// session has sent.
func messages(s *session.Session) uint64 {
	_, m := sent(s)
	return m
}

func sent(s *session.Session) (requests, messages uint64) {
	for _, c := range s.Channels() {
		requests += c.Requests
		messages += c.Messages
	}
	return requests, messages
}

// dialTree sets up a session and tree connection to srv's share, closed
// at the end of the test.
func dialTree(t testing.TB, ctx context.Context, srv *samba.Server) (*session.Tree, error) {
	// As the daemon dials: leases and durable handles asked for.
	s, err := session.Dial(ctx, session.Config{Addr: srv.Addr, User: srv.User, Password: srv.Password, CharMap: session.MapSFM, Durable: true})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s.Mount(ctx, srv.Share)
}

// mountServer mounts srv's share through the kernel and returns the
// mountpoint.
func mountServer(t testing.TB, srv *samba.Server, o smbfs.Options) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tree, err := dialTree(t, ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	return mountTree(t, srv, tree, o)
}

// mountTree mounts tree, a tree connection to srv's share, through the
// kernel and returns the mountpoint.
func mountTree(t testing.TB, srv *samba.Server, tree *session.Tree, o smbfs.Options) string {
	t.Helper()
	mnt := t.TempDir()
	if o.AttrTTL == 0 {
		o.AttrTTL = time.Second
	}
	if o.CloseDelay == 0 {
		o.CloseDelay = time.Second // as the daemon does; negative turns it off
	}
	o.FsName = "//" + srv.Addr + "/" + srv.Share
	server, err := smbfs.Mount(mnt, tree, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			fuseUnmountLazy(mnt)
		}
	})
	return mnt
}

func fuseUnmountLazy(mnt string) { _ = (*fuse.Server)(nil); os.Remove(mnt) }

func rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSmoke(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	data := rnd(5<<20 + 3)
	if err := os.WriteFile(filepath.Join(mnt, "a.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "a.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	disk, _ := os.ReadFile(filepath.Join(srv.Dir, "a.bin"))
	if !bytes.Equal(disk, data) {
		t.Fatal("disk differs")
	}
	ents, err := os.ReadDir(mnt)
	if err != nil || len(ents) != 1 {
		t.Fatalf("readdir %v %v", ents, err)
	}
}
