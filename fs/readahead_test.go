package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/session"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestReadaheadOutOfOrder reads a file the way the kernel's read-ahead
// does, in concurrent 1 MiB requests that arrive out of order, against
// Samba: the
// data must be right and the server must send each byte about once. Before
// late reads were tolerated, every read that arrived more than 2 MiB behind
// dropped the window and the same data was fetched again.
func TestReadaheadOutOfOrder(t *testing.T) {
	srv := samba.Start(t, samba.Options{})
	const size = 48 << 20
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(srv.Dir, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := session.Dial(ctx, session.Config{Addr: srv.Addr, User: srv.User, Password: srv.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tree, err := s.Mount(ctx, srv.Share)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tree.OpenFile(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	h := &handle{n: &node{fsys: &fsys{}}} // no reconnection
	h.f.Store(f)
	defer func() {
		h.mu.Lock()
		h.ra.dropLocked()
		h.mu.Unlock()
	}()

	// Groups of 8 requests in the orders seen from the kernel: mostly
	// ascending with a late one, or the furthest first.
	const req = 1 << 20
	var order []int64
	for w, g := int64(0), 0; w < size; w, g = w+8*req, g+1 {
		perm := []int64{1, 2, 3, 0, 5, 6, 7, 4}
		if g%3 == 2 {
			perm = []int64{7, 0, 1, 2, 3, 4, 5, 6}
		}
		for _, i := range perm {
			order = append(order, w+i*req)
		}
	}
	before := s.Channels()[0].BytesRead
	var wg sync.WaitGroup
	errs := make(chan error, len(order))
	for i, off := range order {
		if i%8 == 0 {
			wg.Wait() // at most eight reads at once
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dest := make([]byte, req)
			res, err := h.read(ctx, dest, off, 0)
			if err != nil {
				errs <- err
				return
			}
			got, _ := res.Bytes(dest)
			if !bytes.Equal(got, data[off:off+req]) {
				t.Errorf("read at %d MiB: wrong data (%d bytes)", off>>20, len(got))
			}
			res.Done()
		}()
		time.Sleep(time.Millisecond) // arrival order as listed
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sent := s.Channels()[0].BytesRead - before
	t.Logf("read %d MiB out of order: the server sent %.1f MiB", size>>20, float64(sent)/(1<<20))
	if sent > size+2*raChunk {
		t.Fatalf("the server sent %d bytes for a %d-byte file: read-ahead fetched data again", sent, size)
	}
}
