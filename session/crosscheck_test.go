package session_test

import (
	"bytes"
	"context"
	"net"
	"sort"
	"testing"

	gosmb2 "github.com/hirochachacha/go-smb2"

	"github.com/smbd3/mount.smbd3/test/samba"
)

// goSMB2 mounts the share with go-smb2, an independent client.
func goSMB2(t *testing.T, srv *samba.Server) *gosmb2.Share {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &gosmb2.Dialer{Initiator: &gosmb2.NTLMInitiator{User: srv.User, Password: srv.Password}}
	s, err := d.Dial(c)
	if err != nil {
		t.Fatalf("go-smb2 dial: %v", err)
	}
	t.Cleanup(func() { s.Logoff() })
	fs, err := s.Mount(srv.Share)
	if err != nil {
		t.Fatalf("go-smb2 mount: %v", err)
	}
	t.Cleanup(func() { fs.Umount() })
	return fs
}

// TestCrossCheckGoSMB2: what our engine writes, go-smb2 reads back
// identical, and the reverse; listings agree.
func TestCrossCheckGoSMB2(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	tr := mount(t, dial(t, srv, nil), srv.Share)
	other := goSMB2(t, srv)

	ours := randBytes(5<<20 + 123)
	writeFile(t, tr, "from-ours.bin", ours)
	got, err := other.ReadFile("from-ours.bin")
	if err != nil || !bytes.Equal(got, ours) {
		t.Fatalf("go-smb2 read of our file differs: %v", err)
	}

	theirs := randBytes(3<<20 + 7)
	if err := other.WriteFile("from-gosmb2.bin", theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, tr, "from-gosmb2.bin"); !bytes.Equal(got, theirs) {
		t.Fatal("our read of go-smb2's file differs")
	}

	if err := other.MkdirAll(`d\e`, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := other.WriteFile(`d\`+n, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, err := tr.ReadDir(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range list {
		names = append(names, fi.Name)
	}
	sort.Strings(names)
	if want := []string{"a", "b", "c", "e"}; !equalStrings(names, want) {
		t.Fatalf("listing %v, want %v", names, want)
	}
	st, err := other.Stat(`d\a`)
	if err != nil {
		t.Fatal(err)
	}
	ourSt, err := tr.Stat(context.Background(), "d/a")
	if err != nil {
		t.Fatal(err)
	}
	if ourSt.Size != st.Size() || !ourSt.Modified.Equal(st.ModTime()) {
		t.Fatalf("stat differs: ours %+v, go-smb2 size %d mtime %v", ourSt, st.Size(), st.ModTime())
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
