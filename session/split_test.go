package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// chainBound is a TCP transport that claims a bound on compound chains
// (as SMB-Direct transports do, for ksmbd over iWARP) and records the
// longest chain actually sent.
type chainBound struct {
	channel.Transport
	lim int

	mu      sync.Mutex
	longest int // most parts of one chain sent
	chains  int // messages with more than one request
}

func (c *chainBound) Limits() channel.Limits {
	l := c.Transport.Limits()
	l.MaxChainParts = c.lim
	return l
}

func (c *chainBound) WriteMessage(ctx context.Context, msg net.Buffers) error {
	b := bytes.Join(msg, nil)
	parts, reqs := 0, 0
	for off := 0; off+64 <= len(b) && string(b[off:off+4]) == "\xfeSMB"; {
		reqs++
		parts++
		if smb2.Command(binary.LittleEndian.Uint16(b[off+12:])) == smb2.CmdRead {
			parts++
		}
		next := int(binary.LittleEndian.Uint32(b[off+20:]))
		if next == 0 {
			break
		}
		off += next
	}
	c.mu.Lock()
	c.longest = max(c.longest, parts)
	if reqs > 1 {
		c.chains++
	}
	c.mu.Unlock()
	return c.Transport.WriteMessage(ctx, msg)
}

// TestChainBound: with a channel that takes chains of at most 2 or 3
// parts, every compound operation still gives the answers it gives
// unbounded, no longer chain is sent, and no handle stays open.
func TestChainBound(t *testing.T) {
	srv := samba.Start(t, samba.Options{ExtraShare: map[string]string{"ea support": "yes"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref := mount(t, dial(t, srv, nil), srv.Share)
	writeFile(t, ref, "f", randBytes(5000))
	mf, err := smb2.EncodeMFSymlink("target/of/link")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, ref, "mf", mf)
	if err := ref.Mkdir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	for _, lim := range []int{2, 3} {
		t.Run(fmt.Sprintf("lim=%d", lim), func(t *testing.T) {
			var tr *chainBound
			s := dial(t, srv, func(c *session.Config) {
				c.Dial = func(ctx context.Context, addr string) (channel.Transport, error) {
					tcp, err := channel.DialTCP(ctx, addr)
					if err != nil {
						return nil, err
					}
					tr = &chainBound{Transport: tcp, lim: lim}
					return tr, nil
				}
			})
			tree := mount(t, s, srv.Share)

			want, err := ref.Stat(ctx, "f")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := tree.Stat(ctx, "f"); err != nil || got.Size != want.Size || got.FileID != want.FileID {
				t.Fatalf("stat: %+v %v, want %+v", got, err, want)
			}
			if _, err := tree.Stat(ctx, "missing"); !errors.Is(err, smb2.StatusObjectNameNotFound) {
				t.Fatalf("stat of a missing file: %v", err)
			}
			if fs, err := tree.Statfs(ctx); err != nil || fs.Blocks == 0 || fs.BlockSize == 0 {
				t.Fatalf("statfs: %+v %v", fs, err)
			}
			size := int64(100 + lim)
			mt := time.Date(2011, 2, 3, 4, 5, 6, 0, time.UTC)
			info, err := tree.SetAttrStat(ctx, "f", session.SetAttr{Size: &size, Modified: mt})
			if err != nil || info.Size != size || !info.Modified.Equal(mt) {
				t.Fatalf("setattr+stat: %+v %v", info, err)
			}
			if _, err := tree.SetAttrStat(ctx, "missing", session.SetAttr{Size: &size, Modified: mt}); !errors.Is(err, smb2.StatusObjectNameNotFound) {
				t.Fatalf("setattr+stat of a missing file: %v", err)
			}
			size++
			if err := tree.SetAttr(ctx, "f", session.SetAttr{Size: &size, Modified: mt}); err != nil {
				t.Fatal(err)
			}
			if got, err := ref.Stat(ctx, "f"); err != nil || got.Size != size || !got.Modified.Equal(mt) {
				t.Fatalf("after setattr: %+v %v", got, err)
			}
			if b, err := tree.ReadSmall(ctx, "mf", smb2.MFSymlinkSize); err != nil || !bytes.Equal(b, mf) {
				t.Fatalf("read small: %d bytes %v", len(b), err)
			}
			if err := tree.SetEA(ctx, "f", "color", []byte("blue")); err != nil {
				t.Fatal(err)
			}
			if eas, err := tree.GetEAs(ctx, "f"); err != nil || len(eas) != 1 || string(eas[0].Value) != "blue" {
				t.Fatalf("EAs: %+v %v", eas, err)
			}
			if l, err := tree.ReadDir(ctx, ""); err != nil || len(l) != 3 {
				t.Fatalf("readdir: %d entries %v", len(l), err)
			}
			f, info, err := tree.CreateStat(ctx, "f", session.CreateOptions{})
			if err != nil || info.Size != size {
				t.Fatalf("create+stat: %+v %v", info, err)
			}
			f.Close(ctx)

			tr.mu.Lock()
			longest, chains := tr.longest, tr.chains
			tr.mu.Unlock()
			if longest > lim || chains == 0 {
				t.Fatalf("longest chain sent: %d parts (bound %d), %d chains", longest, lim, chains)
			}
			// Every handle opened along the way is closed again.
			st := srv.Status(t, "-L")
			if _, open, _ := strings.Cut(st, "-----\n"); strings.TrimSpace(open) != "" {
				t.Fatalf("handles left open:\n%s", st)
			}
		})
	}
}
