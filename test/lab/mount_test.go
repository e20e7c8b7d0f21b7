package lab

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabMountRDMA mounts the lab's share with mount.smbd3 -o rdma (the
// binary named by SMBD3_BIN) and uses it with ordinary tools; data is
// checked by checksum on the guest's disk.
func TestLabMountRDMA(t *testing.T) {
	lab := labEnv(t)
	bin := os.Getenv("SMBD3_BIN")
	if bin == "" {
		t.Fatal("SMBD3_BIN must name the mount.smbd3 binary")
	}
	mnt := t.TempDir()
	host := strings.Split(lab.smbd, ":")[0]
	out, err := exec.Command(bin, "//"+host+"/"+lab.share, mnt, "-o",
		fmt.Sprintf("username=%s,password=%s,rdma", lab.user, lab.pass)).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -o rdma: %v\n%s", err, out)
	}
	defer func() {
		if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
			t.Errorf("unmount: %v %s", err, out)
		}
	}()
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	data := make([]byte, 8<<20+77)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(mnt, "rdma.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	if g := guest(t, "sha256sum /srv/share/rdma.bin"); !strings.Contains(g, sum) {
		t.Fatalf("guest's copy differs: %s", g)
	}
	back, err := os.ReadFile(filepath.Join(mnt, "rdma.bin"))
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("read back: %v", err)
	}
	run("mkdir", "-p", filepath.Join(mnt, "d/e"))
	run("cp", filepath.Join(mnt, "rdma.bin"), filepath.Join(mnt, "d/e/copy.bin"))
	run("mv", filepath.Join(mnt, "d/e/copy.bin"), filepath.Join(mnt, "d/moved.bin"))
	if g := guest(t, "sha256sum /srv/share/d/moved.bin"); !strings.Contains(g, sum) {
		t.Fatalf("guest's moved copy differs: %s", g)
	}
	if ls := run("ls", "-lR", mnt); !strings.Contains(ls, "moved.bin") {
		t.Fatalf("ls -lR: %s", ls)
	}
	st := run(bin, "status", "--json", mnt)
	if !strings.Contains(st, `"transport":"rdma"`) || strings.Contains(st, `"rdma_bytes_written":0,`) {
		t.Fatalf("status does not show RDMA traffic: %s", st)
	}
	run("rm", "-rf", filepath.Join(mnt, "d"), filepath.Join(mnt, "rdma.bin"))
	if g := guest(t, "ls /srv/share"); strings.Contains(g, "rdma.bin") {
		t.Fatalf("rm left files: %s", g)
	}
}
