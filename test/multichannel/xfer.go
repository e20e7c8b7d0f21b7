package multichannel

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Block and Depth shape the sequential transfers: Depth requests of Block
// bytes each are outstanding (the session splits them into Chunk-sized
// READs and WRITEs), in file order.
const (
	Block = 4 << 20
	Depth = 16
)

// Fill fills p with pseudo-random bytes from seed.
func Fill(p []byte, seed uint64) {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	r := rand.NewChaCha8(s)
	r.Read(p)
}

// PutFile writes data as name in the share's directory on the server's
// disk, owned by the share user.
func (t *Topo) PutFile(name string, data []byte) error {
	path := filepath.Join(t.Dir, name)
	if err := os.WriteFile(path, data, 0o664); err != nil {
		return err
	}
	u, err := user.Lookup(t.User)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}

// DiskSum is the SHA-256 of name on the server's disk.
func (t *Topo) DiskSum(name string) ([32]byte, error) {
	f, err := os.Open(filepath.Join(t.Dir, name))
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, err
	}
	var s [32]byte
	h.Sum(s[:0])
	return s, nil
}

// Progress counts bytes transferred by Read and Write, for a caller that
// acts mid-transfer.
type Progress struct{ n atomic.Int64 }

// Bytes is the number of bytes done so far.
func (p *Progress) Bytes() int64 {
	if p == nil {
		return 0
	}
	return p.n.Load()
}

func (p *Progress) add(n int) {
	if p != nil {
		p.n.Add(int64(n))
	}
}

// parallel runs fn over the blocks of size n in file order, with at most
// Depth outstanding, and returns the first error.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, lo, hi int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for w := 0; w < Depth; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(Block) - Block)
				if lo >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, lo, min(lo+Block, n)); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// Read reads the file into buf (its length is the file's size expected)
// sequentially and returns how long it took.
func Read(ctx context.Context, tr *session.Tree, name string, buf []byte, p *Progress) (time.Duration, error) {
	f, err := tr.OpenFile(ctx, name)
	if err != nil {
		return 0, err
	}
	defer f.Close(context.Background())
	start := time.Now()
	err = parallel(ctx, len(buf), func(ctx context.Context, lo, hi int) error {
		n, err := f.ReadAt(ctx, buf[lo:hi], int64(lo))
		p.add(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("short read at %d: %d of %d bytes", lo, n, hi-lo)
			}
			return fmt.Errorf("read at %d: %w", lo, err)
		}
		return nil
	})
	return time.Since(start), err
}

// Write creates (or overwrites) the file with data sequentially and
// returns how long it took, the final flush included.
func Write(ctx context.Context, tr *session.Tree, name string, data []byte, p *Progress) (time.Duration, error) {
	f, err := tr.Create(ctx, name, session.CreateOptions{
		Access:      smb2.GenericRead | smb2.GenericWrite,
		Disposition: smb2.FileOverwriteIf,
	})
	if err != nil {
		return 0, err
	}
	defer f.Close(context.Background())
	start := time.Now()
	err = parallel(ctx, len(data), func(ctx context.Context, lo, hi int) error {
		n, err := f.WriteAt(ctx, data[lo:hi], int64(lo))
		p.add(n)
		if err == nil && n < hi-lo {
			err = io.ErrShortWrite
		}
		if err != nil {
			return fmt.Errorf("write at %d: %w", lo, err)
		}
		return nil
	})
	if err == nil {
		err = f.Flush(ctx)
	}
	return time.Since(start), err
}

// LinkBytes is what moved over each link between two Channels snapshots.
type LinkBytes struct {
	Read, Written []uint64 // per link
	Channels      []int    // active channels per link at the end
}

// Split compares two Channels snapshots and sums the bytes per link.
// Channels are matched by local address, so a channel that replaced a
// lost one counts from zero.
func (t *Topo) Split(before, after []session.ChannelInfo) LinkBytes {
	lb := LinkBytes{Read: make([]uint64, len(t.Links)), Written: make([]uint64, len(t.Links)), Channels: make([]int, len(t.Links))}
	prev := map[string]session.ChannelInfo{}
	for _, c := range before {
		if c.LocalAddress != "" {
			prev[c.LocalAddress] = c
		}
	}
	for _, c := range after {
		i := t.LinkOf(c.ServerAddress)
		if i < 0 || c.LocalAddress == "" {
			continue
		}
		b := prev[c.LocalAddress]
		lb.Read[i] += c.BytesRead - b.BytesRead
		lb.Written[i] += c.BytesWritten - b.BytesWritten
		if c.State == "active" {
			lb.Channels[i]++
		}
	}
	return lb
}

// Shares returns each element's fraction of the sum.
func Shares(v []uint64) []float64 {
	var sum float64
	for _, x := range v {
		sum += float64(x)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		if sum > 0 {
			out[i] = float64(x) / sum
		}
	}
	return out
}

// Weights returns the fraction of the summed rate of the links in use
// (used[i] true) that each link has; unused links get 0.
func (t *Topo) Weights(used []bool) []float64 {
	v := make([]uint64, len(t.Links))
	for i, l := range t.Links {
		if used == nil || used[i] {
			v[i] = l.RateBps
		}
	}
	return Shares(v)
}
