package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/test/fsops"
)

// Sizes for the emulated guest: a 24 MiB large file instead of Samba's
// 64 MiB keeps a run within a few minutes under TCG.
const (
	labLarge = 24<<20 + 12345
	labMany  = 10000
)

// twoHandles is why the lab's ksmbd cannot have two handles to one file
// at once (fsops.CheckTwoHandles).
const twoHandles = "ksmbd of Linux 6.1.192 (Debian 12) frees a handle that is closed while another handle to the " +
	"file stays open without taking it off the file's handle list (ksmbd_close_fd clears volatile_id first, so " +
	"__ksmbd_remove_fd skips the list_del); the next open of the file trips over the freed entry and the server's " +
	"kernel BUGs (list_add corruption in smb2_open). cifs.ko holding a file open and smbclient getting it 4 times does it too"

// mountRDMA mounts //server/share/subdir at a fresh mountpoint with the
// mount.smbd3 binary (SMBD3_BIN) and -o rdma plus extra options, and
// unmounts it when t ends.
func mountRDMA(t *testing.T, lab labAddrs, subdir, extra string) string {
	t.Helper()
	bin := os.Getenv("SMBD3_BIN")
	if bin == "" {
		t.Fatal("SMBD3_BIN must name the mount.smbd3 binary")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	host := strings.Split(lab.smbd, ":")[0]
	opts := fmt.Sprintf("username=%s,password=%s,rdma", lab.user, lab.pass)
	if extra != "" {
		opts += "," + extra
	}
	out, err := exec.Command(bin, "//"+host+"/"+lab.share+"/"+subdir, mnt, "-o", opts).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -o %s: %v\n%s", extra, err, out)
	}
	t.Cleanup(func() { unmount(t, mnt) })
	return mnt
}

// unmount detaches mnt, retrying while it is busy (a process of the test
// may still be closing a file); as a last resort it detaches lazily.
func unmount(t *testing.T, mnt string) {
	var out []byte
	var err error
	for range 50 {
		if out, err = exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("unmount %s: %v %s", mnt, err, out)
	exec.Command("fusermount3", "-uz", mnt).Run()
}

// channels returns the mount's channels as mount.smbd3 status --json
// reports them.
func channels(t *testing.T, mnt string) []session.ChannelInfo {
	t.Helper()
	out, err := exec.Command(os.Getenv("SMBD3_BIN"), "status", "--json", mnt).Output()
	if err != nil {
		t.Fatalf("status: %v %s", err, out)
	}
	var st struct{ Channels []session.ChannelInfo }
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st.Channels
}

// rdmaOnly checks that the mount has exactly one channel, an SMB-Direct
// one, and that at least read and written bytes of READ and WRITE payload
// went by RDMA; it logs the counters.
func rdmaOnly(t *testing.T, mnt string, read, written uint64) {
	t.Helper()
	ch := channels(t, mnt)
	if len(ch) != 1 || ch[0].Transport != "rdma" {
		t.Fatalf("want one SMB-Direct channel: %+v", ch)
	}
	c := ch[0]
	t.Logf("channel %s: %d bytes read (%d by RDMA), %d written (%d by RDMA), %d requests",
		c.Transport, c.BytesRead, c.RDMABytesRead, c.BytesWritten, c.RDMABytesWritten, c.Requests)
	if c.RDMABytesRead < read || c.RDMABytesWritten < written {
		t.Fatalf("READ/WRITE did not travel by RDMA: %d read and %d written by RDMA, want at least %d and %d",
			c.RDMABytesRead, c.RDMABytesWritten, read, written)
	}
}

// guestExt4 puts an ext4 file system (in a file on the guest's RAM disk)
// at the share's directory dir, with the subdirectories subs, and removes
// it when t ends. The share itself lives on the guest's initramfs (tmpfs),
// which in Linux 6.1 keeps no user.* xattrs: ksmbd stores EAs and DOS
// attributes (FILE_ATTRIBUTE_READONLY) in those, so a server on a real
// disk file system is what this gives the suite.
func guestExt4(t *testing.T, dir string, sizeMB int, subs ...string) {
	t.Helper()
	d := "/srv/share/" + dir
	img := "/tmp/" + dir + ".ext4"
	script := fmt.Sprintf(`set -e
umount %[1]s 2>/dev/null || true
rm -rf %[1]s %[2]s
mkdir -p %[1]s
modprobe loop
truncate -s %[3]dM %[2]s
mkfs.ext4 -q -F %[2]s
mount -o loop %[2]s %[1]s
rmdir %[1]s/lost+found
chmod 0777 %[1]s
`, quote(d), quote(img), sizeMB)
	for _, s := range subs {
		script += fmt.Sprintf("mkdir -m 0777 %s\n", quote(d+"/"+s))
	}
	if out, err := guestRun(script); err != nil {
		t.Fatalf("ext4 in the guest: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := guestRun(fmt.Sprintf("umount %s && rm -rf %s %s", quote(d), quote(d), quote(img))); err != nil {
			t.Errorf("removing the guest's ext4: %v %s", err, out)
		}
	})
}

// guestDir makes an empty directory dir in the share (on the guest's
// tmpfs) and removes it when t ends.
func guestDir(t *testing.T, dir string) {
	t.Helper()
	d := quote("/srv/share/" + dir)
	if out, err := guestRun(fmt.Sprintf("rm -rf %[1]s && mkdir -m 0777 %[1]s", d)); err != nil {
		t.Fatalf("mkdir in the guest: %v %s", err, out)
	}
	t.Cleanup(func() { guestRun("rm -rf " + d) })
}

// TestLabSuiteRDMA runs the mount's file-operation suite (test/fsops: the
// checks the fs tests run against Samba) through a kernel FUSE mount made
// by mount.smbd3 -o rdma against ksmbd over siw, every result checked on
// the guest's disk (sha256sum, stat, find). With MPA CRC off: everything,
// on an ext4 directory of the share, and a cold read-back on a new mount.
// With CRC on (rdma_crc): the data-heavy part and the tools, on the
// share's own tmpfs, where ksmbd cannot keep EAs or the read-only
// attribute (those checks say so and are skipped).
func TestLabSuiteRDMA(t *testing.T) {
	lab := labEnv(t)
	guestExt4(t, "suite", 512, "nocrc")
	t.Run("crc=false", func(t *testing.T) {
		start := time.Now()
		mnt := mountRDMA(t, lab, "suite/nocrc", "")
		tg := &fsops.Target{
			Mnt: mnt, Server: guestDisk{root: "/srv/share/suite/nocrc"},
			LargeSize: labLarge, ManyFiles: labMany,
			Symlinks:    fsops.MFSymlinks, // ksmbd: FSCTL_SET_REPARSE_POINT is STATUS_NOT_SUPPORTED
			Unsupported: map[string]string{fsops.CheckTwoHandles: twoHandles},
		}
		t.Run("FileOperations", func(t *testing.T) { fsops.FileOperations(t, tg) })
		t.Run("Tools", func(t *testing.T) { fsops.Tools(t, tg) })
		t.Run("ListLargeDirectory", func(t *testing.T) { fsops.ListLargeDirectory(t, tg) })
		rdmaOnly(t, mnt, 0, labLarge)
		t.Logf("suite over RDMA, CRC off: %v", time.Since(start).Round(time.Second))

		// A cold read on a new mount: the large file comes back by RDMA.
		mnt2 := mountRDMA(t, lab, "suite/nocrc", "")
		got, err := os.ReadFile(filepath.Join(mnt2, "big"))
		if err != nil {
			t.Fatal(err)
		}
		if want, err := tg.Server.Sum("big", 0, -1); err != nil || fsops.Sum(got) != want {
			t.Fatalf("cold read of big differs from the guest's disk: %v", err)
		}
		rdmaOnly(t, mnt2, uint64(len(got)), 0)
	})
	t.Run("crc=true", func(t *testing.T) {
		start := time.Now()
		guestDir(t, "suite-crc")
		var mnt string
		probe := fsops.Rnd(512 << 10)
		pcap := capture(t, func() {
			mnt = mountRDMA(t, lab, "suite-crc", "rdma_crc")
			if err := os.WriteFile(filepath.Join(mnt, "probe"), probe, 0o644); err != nil {
				t.Fatal(err)
			}
		})
		// The option reached the wire: every FPDU carries a CRC that tshark
		// checks (a bad one would be an expert error).
		fpdus := fields(t, pcap, "iwarp_mpa && !iwarp_mpa.req && !iwarp_mpa.rep", "iwarp_mpa.crc_check")
		if len(fpdus) == 0 {
			t.Fatal("no FPDUs captured")
		}
		for _, l := range fpdus {
			if strings.TrimSpace(l) == "" {
				t.Fatalf("an FPDU without a CRC with rdma_crc (of %d)", len(fpdus))
			}
		}
		if bad := fields(t, pcap, "_ws.expert.severity >= \"error\" && iwarp_mpa", "frame.number"); len(bad) > 0 {
			t.Fatalf("MPA frames with errors: %v", bad)
		}
		tg := &fsops.Target{
			Mnt: mnt, Server: guestDisk{root: "/srv/share/suite-crc"},
			LargeSize: labLarge, Symlinks: fsops.MFSymlinks,
			Unsupported: map[string]string{
				fsops.CheckXattr: "ksmbd keeps SMB EAs as user.* xattrs of the file, and this share is on the guest's " +
					"tmpfs, which has no user.* xattrs before Linux 6.6: ksmbd answers SET_INFO with STATUS_INVALID_INFO_CLASS " +
					"(the mount says EOPNOTSUPP)",
				fsops.CheckReadOnly: "ksmbd keeps DOS attributes in the user.DOSATTRIB xattr, which tmpfs in Linux 6.1 " +
					"does not store: ksmbd accepts FILE_ATTRIBUTE_READONLY and forgets it",
				fsops.CheckTwoHandles: twoHandles,
			},
		}
		t.Run("FileOperations", func(t *testing.T) {
			fsops.FileOperations(t, tg, "create excl trunc append", "large io checksum",
				"overwrite in place and fsync", "setattr", "xattr")
		})
		t.Run("Tools", func(t *testing.T) { fsops.Tools(t, tg) })
		if b, err := tg.Server.ReadFile("probe"); err != nil || !bytes.Equal(b, probe) {
			t.Fatalf("the probe written during the capture differs on the guest's disk: %v", err)
		}
		rdmaOnly(t, mnt, 0, labLarge)
		t.Logf("data subset over RDMA, CRC on: %v", time.Since(start).Round(time.Second))
	})
}

// TestLabServerStoppedRDMA: with ksmbd stopped under a mount over
// SMB-Direct, I/O fails within bounded time and the mount still unmounts;
// ksmbd is started again afterwards.
//
// It is the package's last test (Go runs tests in file-name order, and
// suite_test.go comes last): ksmbd 6.1 has been seen to oops while being
// stopped with an SMB-Direct connection going down at the same moment (a
// poisoned list entry in ksmbd_conn_transport_destroy, from
// kill_server_store), after which it cannot be started again until the
// guest reboots. That is the server's bug and not what this test checks:
// when the guest's log shows it, the failed restart is reported and the
// test still stands on what the client did.
func TestLabServerStoppedRDMA(t *testing.T) {
	lab := labEnv(t)
	guestDir(t, "stopped")
	t.Cleanup(func() {
		// Starting a server in that state hangs (ksmbd.mountd, then
		// ksmbd.control): look for the crash before trying, and again
		// if the restart fails.
		if oops := ksmbdStopOops(); oops != "" {
			t.Logf("ksmbd crashed while being stopped and cannot be started again: %s", oops)
			return
		}
		err := restartKsmbd()
		if err == nil {
			return
		}
		if oops := ksmbdStopOops(); oops != "" {
			t.Logf("ksmbd cannot be started again after its own crash while stopping (%s): %v", oops, err)
			return
		}
		t.Errorf("restarting ksmbd: %v", err)
	})
	mnt := mountRDMA(t, lab, "stopped", "")
	fsops.ServerStopped(t, &fsops.Target{Mnt: mnt, Server: oopsStop{guestDisk{root: "/srv/share/stopped"}, t}})
}

// oopsStop is the guest's disk for TestLabServerStoppedRDMA: when the
// stop itself fails and the guest's log shows ksmbd's known crash while
// being stopped, the server is neither running nor cleanly stopped (a
// connection may be half torn down), so what the test checks cannot be
// checked, and it is skipped with the crash named. Any other failure to
// stop fails the test.
type oopsStop struct {
	guestDisk
	t *testing.T
}

func (s oopsStop) Stop() error {
	err := s.guestDisk.Stop()
	if err != nil {
		if oops := ksmbdStopOops(); oops != "" {
			s.t.Skipf("ksmbd crashed while being stopped, its known bug (README): %s; the stop: %v", oops, err)
		}
	}
	return err
}

// ksmbdStopOops returns the guest's log line of ksmbd's known crash while
// being stopped (see TestLabServerStoppedRDMA), or "".
func ksmbdStopOops() string {
	out, _ := guestRun(`dmesg | grep -m1 -e 'RIP: .*ksmbd_conn_transport_destroy' -e 'Server reset is in progress'`)
	return strings.TrimSpace(out)
}
