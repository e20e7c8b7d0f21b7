package mount

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestCifsOptions: an fstab line written for Linux cifs mounts. Options
// that ask for what this client does anyway are accepted; ip= is the
// address dialled (the server's name here does not resolve, and is never
// looked up); nobrl keeps locks on this client: a lock taken through the
// mount stops no other client's write. Options asking for what it does not
// do fail with a line that says so.
func TestCifsOptions(t *testing.T) {
	s := setup(t, samba.Options{})
	seed(t, s, "hello.txt")
	mp := mountpoint(t)
	const name = "smbd3-test.invalid" // never resolved: ip= says where to go
	cifs := "iocharset=utf8,nounix,serverino,mfsymlinks,nosharesock,forceuid,forcegid,soft,noperm,nohandlecache,echo_interval=30,nobrl"
	must(t, nil, helperBin, "//"+name+"/"+s.Share, mp, "-o", credArgs(s)+",ip=127.0.0.1,"+cifs)
	m := wantMounted(t, mp, s)
	if !strings.Contains(m.source, name) {
		t.Errorf("source %q does not name the server as given", m.source)
	}
	if cat := must(t, nil, "cat", filepath.Join(mp, "hello.txt")); cat.stdout != "hello from samba\n" {
		t.Errorf("cat: %v", cat)
	}

	// nobrl: the kernel keeps the lock; the server never hears of it.
	f, err := os.OpenFile(filepath.Join(mp, "hello.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatalf("lock through the mount: %v", err)
	}
	if r := run(t, nil, "flock", "-n", "-x", filepath.Join(mp, "hello.txt"), "true"); r.code != 0 {
		// flock(2) and fcntl locks are apart on a local file system too.
		t.Errorf("flock beside an fcntl lock: %v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	other, err := session.Dial(ctx, session.Config{Addr: s.Addr, User: s.User, Password: s.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tree, err := other.Mount(ctx, s.Share)
	if err != nil {
		t.Fatal(err)
	}
	of, err := tree.OpenFile(ctx, "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := of.Lock(ctx, []smb2.LockElement{{Length: 1 << 20, Flags: smb2.LockExclusive | smb2.LockFailImmediately}}); err != nil {
		t.Errorf("another client's lock of what the mount locked with nobrl: %v", err)
	}
	of.Close(ctx)
	f.Close()

	must(t, nil, "umount", mp)
	waitUnmounted(t, mp, 5*time.Second)

	for opt, want := range map[string]string{
		"hard":             "hard: not supported",
		"noserverino":      "noserverino: not supported",
		"iocharset=koi8-r": "iocharset: \"koi8-r\": only utf8",
	} {
		mp := mountpoint(t)
		r := run(t, nil, helperBin, unc(s), mp, "-o", opt+","+credArgs(s))
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("-o %s: %v; want exit 1 and %q", opt, r, want)
		}
		if mounted(mp) {
			t.Errorf("-o %s: mounted", opt)
		}
	}
}
