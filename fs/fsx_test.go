package fs_test

import (
	"bytes"
	"fmt"
	"golang.org/x/sys/unix"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	smbfs "github.com/smbd3/mount.smbd3/fs"
	"github.com/smbd3/mount.smbd3/test/samba"
)

// TestRandomOps is a small fsx: random writes, reads, truncations, appends
// and reopenings of one file through several descriptors at once (read-
// write, write-only, append, read-only, and a mapping), checked against a
// model of the file after every read, and against the server's disk at the
// end. Write-behind, read-ahead, the page cache and the attribute caches
// all meet here.
func TestRandomOps(t *testing.T) {
	// "direct": strict, with read-only opens of files from 256 KiB on
	// read around the page cache (Options.DirectReadMin), so that the
	// file is read both ways as it grows and shrinks.
	for _, cache := range []string{"strict", "loose", "none", "direct"} {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("cache=%s/seed=%d", cache, seed), func(t *testing.T) { randomOps(t, cache, seed, 1500) })
		}
	}
}

// randomOps runs ops random operations on a mount of its own, or on the
// mount SMBD3_FSX_MNT whose share is in SMBD3_FSX_SRV (to run them against
// the mount.smbd3 binary).
func randomOps(t *testing.T, cache string, seed uint64, ops int) {
	mnt, srvDir := os.Getenv("SMBD3_FSX_MNT"), os.Getenv("SMBD3_FSX_SRV")
	if mnt == "" {
		o := smbfs.Options{Cache: cache}
		if cache == "direct" {
			o = smbfs.Options{Cache: "strict", DirectReadMin: 256 << 10}
		}
		m, srv := mounted(t, samba.Options{}, o)
		mnt, srvDir = m, srv.Dir
	}
	p := filepath.Join(mnt, "fsx")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	// side is the source of copy_file_range, a file of its own.
	side := make([]byte, 1<<20)
	for j := range side {
		side[j] = byte(rng.Uint32())
	}
	if err := os.WriteFile(p+"-side", side, 0o644); err != nil {
		t.Fatal(err)
	}
	sideFd, err := os.Open(p + "-side")
	if err != nil {
		t.Fatal(err)
	}
	defer sideFd.Close()
	var model []byte
	const maxSize = 3 << 20
	modes := []int{os.O_RDWR, os.O_WRONLY, os.O_WRONLY | os.O_APPEND, os.O_RDONLY}
	fds := make([]*os.File, len(modes))
	open := func(i int) {
		f, err := os.OpenFile(p, modes[i], 0)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		fds[i] = f
	}
	for i := range fds {
		open(i)
	}
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	size := func() int {
		// Sizes up to a few MiB, mostly small, to cross pages, the
		// read-ahead chunk and the gathered writes' bounds.
		switch rng.IntN(4) {
		case 0:
			return 1 + rng.IntN(100)
		case 1:
			return 1 + rng.IntN(8192)
		case 2:
			return 1 + rng.IntN(200<<10)
		}
		return 1 + rng.IntN(1<<20)
	}
	offset := func(n int) int {
		if len(model) > 0 && rng.IntN(3) > 0 {
			return max(0, min(rng.IntN(len(model)+8192), maxSize-n))
		}
		return rng.IntN(maxSize - n)
	}
	type logged struct {
		i      int
		what   string
		off, n int
	}
	var history []logged
	note := func(i int, what string, off, n int) { history = append(history, logged{i, what, off, n}) }
	check := func(op string, got []byte, off int) {
		t.Helper()
		want := []byte{}
		if off < len(model) {
			want = model[off:min(len(model), off+len(got))]
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			if i == min(len(got), len(want)) {
				t.Fatalf("%s at %d: read %d bytes, want %d", op, off, len(got), len(want))
			}
			at := off + i
			for _, h := range history {
				if h.what == "truncate" || strings.HasPrefix(h.what, "reopen") || (h.off <= at && at < h.off+h.n) {
					t.Logf("op %d: %s [%d, %d)", h.i, h.what, h.off, h.off+h.n)
				}
			}
			t.Fatalf("%s at %d: read %d bytes, want %d; first difference at %d (got %d, want %d)", op, off, len(got), len(want), at, got[i], want[i])
		}
	}
	for i := 0; i < ops; i++ {
		switch op := rng.IntN(13); {
		case op < 3: // pwrite through a read-write or write-only descriptor
			fd := fds[rng.IntN(2)]
			n := size()
			off := offset(n)
			data := make([]byte, n)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			if _, err := fd.WriteAt(data, int64(off)); err != nil {
				t.Fatalf("op %d: write %d at %d: %v", i, n, off, err)
			}
			if off+n > len(model) {
				model = append(model, make([]byte, off+n-len(model))...)
			}
			copy(model[off:], data)
			note(i, fmt.Sprintf("pwrite fd %d", map[*os.File]int{fds[0]: 0, fds[1]: 1}[fd]), off, n)
		case op < 4: // append
			n := size()
			if len(model)+n > maxSize {
				continue
			}
			data := bytes.Repeat([]byte{byte('a' + i%26)}, n)
			if _, err := fds[2].Write(data); err != nil {
				t.Fatalf("op %d: append %d: %v", i, n, err)
			}
			note(i, "append", len(model), n)
			model = append(model, data...)
		case op < 7: // pread through the read-write or read-only descriptor
			which := []int{0, 3}[rng.IntN(2)]
			fd := fds[which]
			n := size()
			off := offset(n)
			note(i, fmt.Sprintf("pread fd %d", which), off, n)
			buf := make([]byte, n)
			k, err := fd.ReadAt(buf, int64(off))
			if err != nil && k == n {
				t.Fatalf("op %d: read: %v", i, err)
			}
			check(fmt.Sprintf("op %d: pread %d", i, n), buf[:k], off)
		case op < 8: // read the whole file through a fresh descriptor
			note(i, "whole read", 0, len(model))
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("op %d: read file: %v", i, err)
			}
			check(fmt.Sprintf("op %d: whole file", i), got, 0)
			if len(got) != len(model) {
				t.Fatalf("op %d: whole file has %d bytes, want %d", i, len(got), len(model))
			}
		case op < 9: // truncate, through the read-write descriptor
			n := rng.IntN(len(model) + 100000)
			if err := fds[0].Truncate(int64(n)); err != nil {
				t.Fatalf("op %d: truncate %d: %v", i, n, err)
			}
			note(i, "truncate", n, 0)
			if n < len(model) {
				model = model[:n]
			} else {
				model = append(model, make([]byte, n-len(model))...)
			}
		case op < 10: // copy_file_range from the side file, to a read-write or write-only descriptor
			which := rng.IntN(2)
			n := size()
			off := offset(n)
			in, out := int64(rng.IntN(len(side))), int64(off)
			k, err := unix.CopyFileRange(int(sideFd.Fd()), &in, int(fds[which].Fd()), &out, n, 0)
			if err != nil {
				t.Fatalf("op %d: copy_file_range %d to %d: %v", i, n, off, err)
			}
			if want := min(n, len(side)-int(in)+k); k != want {
				t.Fatalf("op %d: copy_file_range copied %d, want %d", i, k, want)
			}
			if off+k > len(model) {
				model = append(model, make([]byte, off+k-len(model))...)
			}
			copy(model[off:], side[int(in)-k:int(in)])
			note(i, fmt.Sprintf("copy_file_range fd %d", which), off, k)
		case op < 11: // fallocate through the read-write descriptor: allocate, punch a hole, zero a range
			n := size()
			off := offset(n)
			mode := []uint32{0, unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE, unix.FALLOC_FL_ZERO_RANGE}[rng.IntN(3)]
			if err := unix.Fallocate(int(fds[0].Fd()), mode, int64(off), int64(n)); err != nil {
				t.Fatalf("op %d: fallocate mode %#x %d at %d: %v", i, mode, n, off, err)
			}
			if mode != 0 {
				clear(model[min(off, len(model)):min(off+n, len(model))])
			}
			if mode&unix.FALLOC_FL_KEEP_SIZE == 0 && off+n > len(model) {
				model = append(model, make([]byte, off+n-len(model))...)
			}
			note(i, fmt.Sprintf("fallocate mode %#x", mode), off, n)
		case op < 12: // SEEK_DATA and SEEK_HOLE through the read-only descriptor
			if len(model) == 0 {
				break
			}
			off := rng.IntN(len(model))
			fd := int(fds[3].Fd())
			d, err := unix.Seek(fd, int64(off), unix.SEEK_DATA)
			if err != nil && err != unix.ENXIO || err == nil && (d < int64(off) || d >= int64(len(model))) {
				t.Fatalf("op %d: SEEK_DATA from %d of %d bytes: %d, %v", i, off, len(model), d, err)
			}
			if err == unix.ENXIO {
				d = int64(len(model))
			}
			if slices.ContainsFunc(model[off:d], func(c byte) bool { return c != 0 }) {
				t.Fatalf("op %d: SEEK_DATA from %d skipped data: answered %d", i, off, d)
			}
			h, err := unix.Seek(fd, int64(off), unix.SEEK_HOLE)
			if err != nil || h < int64(off) || h > int64(len(model)) {
				t.Fatalf("op %d: SEEK_HOLE from %d of %d bytes: %d, %v", i, off, len(model), h, err)
			}
			if e, err := unix.Seek(fd, h, unix.SEEK_DATA); h < int64(len(model)) && err == nil && e > h &&
				slices.ContainsFunc(model[h:e], func(c byte) bool { return c != 0 }) {
				t.Fatalf("op %d: [%d, %d) answered as a hole holds data", i, h, e)
			}
		default: // close and reopen one descriptor
			j := rng.IntN(len(fds))
			if err := fds[j].Close(); err != nil {
				t.Fatalf("op %d: close: %v", i, err)
			}
			open(j)
			note(i, fmt.Sprintf("reopen %d", j), 0, 0)
		}
		if fi, err := fds[3].Stat(); err != nil || fi.Size() != int64(len(model)) {
			t.Fatalf("op %d: size %d (%v), want %d", i, fi.Size(), err, len(model))
		}
	}
	for _, f := range fds {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fds = nil
	disk, err := os.ReadFile(filepath.Join(srvDir, "fsx"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, model) {
		t.Errorf("the server's file (%d bytes) differs from the model (%d bytes)", len(disk), len(model))
	}
}

// TestConcurrentRegions runs writers and readers at once: each goroutine
// owns a region of one file and writes and reads it at random through
// descriptors of its own (read-write, write-only and read-only), checking
// every read against its model of the region, while another goroutine
// stats and lists the directory. The file's final content is checked
// against the server's disk.
//
// It found a handle's gathered write waiting, unregistered, to be sent
// after an overlapping one in flight, unseen by a later write through
// another descriptor, which then reached the disk first (SMBD3_TRACE=1
// prints every write).
func TestConcurrentRegions(t *testing.T) {
	mnt, srv := mounted(t, samba.Options{}, smbfs.Options{})
	p := filepath.Join(mnt, "regions")
	const workers, region, ops = 4, 512 << 10, 300
	if err := os.WriteFile(p, make([]byte, workers*region), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Stat(p)
			if ents, err := os.ReadDir(mnt); err == nil {
				for _, e := range ents {
					e.Info()
				}
			}
		}
	}()
	models := make([][]byte, workers)
	errs := make(chan error, workers)
	for w := range workers {
		models[w] = make([]byte, region)
		go func() {
			errs <- func() error {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				base := int64(w * region)
				var fds [3]*os.File
				for i, mode := range []int{os.O_RDWR, os.O_WRONLY, os.O_RDONLY} {
					f, err := os.OpenFile(p, mode, 0)
					if err != nil {
						return err
					}
					defer f.Close()
					fds[i] = f
				}
				m := models[w]
				for i := range ops {
					n := 1 + rng.IntN(64<<10)
					off := rng.IntN(region - n)
					if rng.IntN(2) == 0 {
						data := make([]byte, n)
						for j := range data {
							data[j] = byte(rng.Uint32())
						}
						which := rng.IntN(2)
						if _, err := fds[which].WriteAt(data, base+int64(off)); err != nil {
							return fmt.Errorf("worker %d op %d: write: %v", w, i, err)
						}
						copy(m[off:], data)
						if os.Getenv("SMBD3_TRACE") != "" {
							fmt.Printf("TRACE worker %d op %d fd %d write [%d, %d)\n", w, i, which, base+int64(off), base+int64(off+n))
						}
						continue
					}
					buf := make([]byte, n)
					fd := fds[[]int{0, 2}[rng.IntN(2)]]
					if k, err := fd.ReadAt(buf, base+int64(off)); k != n {
						return fmt.Errorf("worker %d op %d: read %d of %d bytes: %v", w, i, k, n, err)
					}
					if !bytes.Equal(buf, m[off:off+n]) {
						return fmt.Errorf("worker %d op %d: read at %d: wrong data", w, i, off)
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	<-watched
	disk, err := os.ReadFile(filepath.Join(srv.Dir, "regions"))
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Join(models, nil); !bytes.Equal(disk, want) {
		first, last := -1, -1
		for i := range min(len(disk), len(want)) {
			if disk[i] != want[i] {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		t.Errorf("the server's file (%d bytes) differs from the regions' models in [%d, %d]", len(disk), first, last)
	}
}
