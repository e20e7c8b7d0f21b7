// Command demo is `make demo`: it starts a throwaway Samba server on
// loopback (Debian's smbd, with its own temporary configuration), mounts
// its share with mount.smbd3 through the kernel's FUSE, uses it with
// ordinary tools, shows what the server stored, and cleans everything up.
//
// It needs root (to start smbd with its own user) and /dev/fuse.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/smbd3/mount.smbd3/test/samba"
)

func main() {
	bin := flag.String("bin", "bin/mount.smbd3", "mount.smbd3 binary to use")
	size := flag.Int("size", 256<<20, "size of the file copied through the mount")
	flag.Parse()
	if err := run(*bin, *size); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func sh(name string, args ...string) (string, error) {
	fmt.Printf("$ %s %s\n", name, strings.Join(args, " "))
	out, err := exec.Command(name, args...).CombinedOutput()
	fmt.Print(string(out))
	if err != nil {
		return string(out), fmt.Errorf("%s: %w", name, err)
	}
	return string(out), nil
}

func run(bin string, size int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	step("starting a local Samba server (its own config, user and share in a temp dir)")
	srv, err := samba.Launch(samba.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Printf("smbd listening on %s, share %q at %s\n", srv.Addr, srv.Share, srv.Dir)

	mnt, err := os.MkdirTemp("", "smbd3-demo-mnt-")
	if err != nil {
		return err
	}
	defer os.Remove(mnt)
	cred := filepath.Join(filepath.Dir(srv.Dir), "demo.cred")
	if err := os.WriteFile(cred, []byte("username="+srv.User+"\npassword="+srv.Password+"\n"), 0o600); err != nil {
		return err
	}

	step("mounting //%s/%s on %s", srv.Host, srv.Share, mnt)
	unc := fmt.Sprintf("//%s/%s", srv.Host, srv.Share)
	if _, err := sh(bin, unc, mnt, "-o", fmt.Sprintf("port=%d,credentials=%s", srv.Port, cred)); err != nil {
		return err
	}
	defer func() {
		step("unmounting")
		sh("umount", mnt)
	}()
	sh("findmnt", "-T", mnt)

	step("writing a %s file of random data through the mount", humanize.IBytes(uint64(size)))
	data := make([]byte, size)
	rand.Read(data)
	src := filepath.Join(os.TempDir(), "smbd3-demo-src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		return err
	}
	defer os.Remove(src)
	start := time.Now()
	if _, err := sh("cp", src, filepath.Join(mnt, "random.bin")); err != nil {
		return err
	}
	if _, err := sh("sync", "-f", filepath.Join(mnt, "random.bin")); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("wrote %s in %v (%s/s)\n", humanize.IBytes(uint64(size)), el.Round(time.Millisecond),
		humanize.Bytes(uint64(float64(size)/el.Seconds())))

	step("checking what the server stored against the source")
	disk, err := os.ReadFile(filepath.Join(srv.Dir, "random.bin"))
	if err != nil {
		return err
	}
	fmt.Printf("sha256 source  %x\nsha256 server  %x\n", sha256.Sum256(data), sha256.Sum256(disk))
	if !bytes.Equal(disk, data) {
		return fmt.Errorf("the server's copy differs")
	}

	step("ordinary tools inside the mount")
	sh("mkdir", "-p", filepath.Join(mnt, "docs", "notes"))
	os.WriteFile(filepath.Join(mnt, "docs", "notes", "hello.txt"), []byte("hello from mount.smbd3\n"), 0o644)
	sh("ln", "-s", "notes/hello.txt", filepath.Join(mnt, "docs", "link"))
	sh("cat", filepath.Join(mnt, "docs", "link"))
	sh("ls", "-lR", mnt)
	sh("df", "-h", mnt)
	sh(bin, "status", mnt)

	step("reading the file back through the mount")
	start = time.Now()
	back, err := os.ReadFile(filepath.Join(mnt, "random.bin"))
	if err != nil {
		return err
	}
	el = time.Since(start)
	fmt.Printf("read %s in %v; identical: %v\n", humanize.IBytes(uint64(len(back))), el.Round(time.Millisecond), bytes.Equal(back, data))
	return nil
}
