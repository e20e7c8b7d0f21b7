// Package lab holds the tests that run against ksmbd over Linux siw in the
// QEMU lab (../shared/lab). Build the test binary outside the lab's network
// namespace and run it inside with `lab.sh run` (make test does both); the
// tests skip when not under `lab.sh run` and refuse to use the lab's
// addresses outside its namespace.
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

type labAddrs struct {
	smb, smbd, rss, user, pass, share, dir string
}

// labEnv returns the lab's addresses; it skips unless the test runs under
// `lab.sh run` (and fails under CI=true), and refuses to run outside the
// lab's network namespace.
func labEnv(t testing.TB) labAddrs {
	t.Helper()
	want := os.Getenv("SMBD3_LAB_NETNS_ID")
	if want == "" {
		if os.Getenv("SMBD3_LAB_REQUIRED") != "" {
			t.Fatal("SMB-Direct lab required but not available: run under ../shared/lab/lab.sh run")
		}
		t.Skip("SMB-Direct lab not available: run under ../shared/lab/lab.sh run")
	}
	if got, err := os.Readlink("/proc/self/ns/net"); err != nil || got != want {
		t.Fatalf("refusing to use lab addresses outside the lab network namespace (%q != %q)", got, want)
	}
	return labAddrs{
		smb: os.Getenv("SMBD3_LAB_SMB_ADDR"), smbd: os.Getenv("SMBD3_LAB_SMBDIRECT_ADDR"),
		rss: os.Getenv("SMBD3_LAB_RSS_ADDR"), user: os.Getenv("SMBD3_LAB_USER"),
		pass: os.Getenv("SMBD3_LAB_PASSWORD"), share: os.Getenv("SMBD3_LAB_SHARE"), dir: os.Getenv("SMBD3_LAB"),
	}
}

// guest runs a shell command inside the lab's guest.
func guest(t testing.TB, cmd string) string {
	t.Helper()
	lab := os.Getenv("SMBD3_LAB")
	sh := os.Getenv("SMBD3_LAB_SCRIPT")
	if sh == "" {
		sh = "../../../shared/lab/lab.sh"
	}
	c := exec.Command(sh, "exec", cmd)
	c.Env = append(os.Environ(), "LAB="+lab)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("lab exec %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func rdmaDial(crc bool) func(ctx context.Context, addr string) (channel.Transport, error) {
	prov := iwarp.New(iwarp.Options{CRC: crc})
	return func(ctx context.Context, addr string) (channel.Transport, error) {
		return channel.DialRDMA(ctx, prov, addr)
	}
}

// TestLabSessionOverSMBDirect: a whole SMB3 session over our SMB-Direct
// transport and pure-Go iWARP against ksmbd over siw; data checked by
// checksum on the guest's disk. With and without MPA CRC.
func TestLabSessionOverSMBDirect(t *testing.T) {
	lab := labEnv(t)
	for _, crc := range []bool{false, true} {
		t.Run(fmt.Sprintf("crc=%v", crc), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s, err := session.Dial(ctx, session.Config{
				Addr: lab.smbd, Host: strings.Split(lab.smbd, ":")[0], User: lab.user, Password: lab.pass,
				Dial: rdmaDial(crc), Timeout: 60 * time.Second, DialTimeout: 60 * time.Second,
			})
			if err != nil {
				t.Fatalf("session over SMB-Direct: %v", err)
			}
			defer s.Close()
			tr, err := s.Mount(ctx, lab.share)
			if err != nil {
				t.Fatal(err)
			}
			data := make([]byte, 3<<20+123)
			rand.Read(data)
			name := fmt.Sprintf("smbdirect-crc-%v.bin", crc)
			f, err := tr.Create(ctx, name, session.CreateOptions{Access: smb2.GenericRead | smb2.GenericWrite, Disposition: smb2.FileOverwriteIf})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(ctx, data, 0); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, len(data))
			if n, err := f.ReadAt(ctx, back, 0); err != nil || n != len(data) || !bytes.Equal(back, data) {
				t.Fatalf("read back %d bytes: %v", n, err)
			}
			f.Close(ctx)
			ch := s.Channels()
			if len(ch) != 1 || ch[0].Transport != "rdma" || ch[0].RDMABytesWritten < 3<<20 || ch[0].RDMABytesRead < 3<<20 {
				t.Fatalf("READ/WRITE did not travel by RDMA: %+v", ch)
			}
			t.Logf("channel: %s, %d bytes written and %d read by RDMA", ch[0].Transport, ch[0].RDMABytesWritten, ch[0].RDMABytesRead)
			sum := fmt.Sprintf("%x", sha256.Sum256(data))
			if out := guest(t, "sha256sum /srv/share/"+name); !strings.Contains(out, sum) {
				t.Fatalf("guest's copy differs: %s (want %s)", out, sum)
			}
			list, err := tr.ReadDir(ctx, "")
			if err != nil || len(list) == 0 {
				t.Fatalf("readdir %v %v", list, err)
			}
		})
	}
}
