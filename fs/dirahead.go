package fs

import (
	"context"
	"errors"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Directory read-ahead. A recursive walk (ls -R, find, du, cp -r, tar c)
// lists one directory after another and waits for each listing, and each
// is a server round trip that, on Samba, costs some 25 µs per entry. When
// a directory is listed while its parent's listing is fresh in the cache,
// a walk is going down the tree: the listings of the next few sibling
// directories (in name order, as ls -R and sorted walkers go) are fetched
// in the background, so that the server works while the walker is busy
// with the entries it has. The window is small (dirAhead), one fetch per
// directory is ever in flight (a walker that arrives waits for it, or
// fetches it at once if it is still queued), and a plain ls of a
// directory never triggers it.

const (
	dirAhead          = 4    // sibling listings fetched ahead of a walk
	dirAheadSlots     = 2    // read-ahead fetches in flight at once
	dirAheadParentMax = 4096 // larger directories get no read-ahead for their subdirectories
)

// errAheadTaken tells a waiter that the walker fetched a queued listing
// itself.
var errAheadTaken = errors.New("listing fetched by its reader")

// dirFetch is a listing being fetched.
type dirFetch struct {
	done chan struct{}
	list []entry
	err  error
}

// dirAheadState is the fsys part of directory read-ahead.
type dirAheadState struct {
	mu       sync.Mutex
	inflight map[string]*dirFetch // guarded by mu: queued or being fetched
	queue    []string             // guarded by mu: to fetch, in order
	workers  int                  // guarded by mu: fetching goroutines
}

// listDir returns p's listing: from the cache, from a fetch already in
// flight, or from the server. Listing p while its parent's listing is
// fresh moves the read-ahead window along p's siblings.
func (f *fsys) listDir(ctx context.Context, p string) ([]entry, error) {
	if p != "" {
		if _, _, walking := f.dirs.Lookup(parentOf(p), path.Base(p)); walking {
			f.readAheadSiblings(p)
		}
	}
	if list, ok := f.dirs.Get(p); ok {
		return list, nil
	}
	f.ahead.mu.Lock()
	d := f.ahead.inflight[p]
	if d != nil && slices.Contains(f.ahead.queue, p) {
		// Still queued behind other read-ahead: fetch it now instead.
		f.ahead.queue = slices.DeleteFunc(f.ahead.queue, func(q string) bool { return q == p })
		delete(f.ahead.inflight, p)
		d.err = errAheadTaken // anyone else waiting fetches it too
		close(d.done)
		d = nil
	}
	f.ahead.mu.Unlock()
	if d != nil {
		select {
		case <-d.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.err == nil {
			return slices.Clone(d.list), nil
		}
		// The read-ahead failed: ask again, and report what happens.
	}
	return f.fetchDir(ctx, p)
}

// fetchDir lists p on the server and caches the listing and every entry's
// attributes (the kernel's READDIRPLUS then looks each entry up).
func (f *fsys) fetchDir(ctx context.Context, p string) ([]entry, error) {
	gen := f.attrs.Generation()
	dgen := f.dirs.Generation()
	infos, err := f.tree().ReadDir(ctx, p)
	if err != nil {
		return nil, err
	}
	list := make([]entry, 0, len(infos))
	for i := range infos {
		if isAside(infos[i].Name) {
			continue // an unlinked file still open (see Unlink)
		}
		e := entry{info: infos[i]}
		cp := path.Join(p, e.info.Name)
		if e.isSymlinkReparse() || (!e.info.IsDir() && e.info.Size == smb2.MFSymlinkSize) {
			f.resolveLink(ctx, cp, &e)
		}
		list = append(list, e)
		f.attrs.Put(cp, e, gen)
	}
	out := slices.Clone(list)
	f.dirs.Put(p, list, dgen) // the cache owns list from here on
	return out, nil
}

// readAheadSiblings queues the listings of the dirAhead sibling
// directories that follow p in name order and are neither cached nor
// queued or being fetched.
func (f *fsys) readAheadSiblings(p string) {
	parent, base := parentOf(p), path.Base(p)
	var names []string
	seen := 0
	f.dirs.Scan(parent, func(e entry) bool {
		if seen++; seen > dirAheadParentMax {
			names = nil // too big to scan at every step of a walk
			return false
		}
		if e.info.IsDir() && !e.link && e.info.Name > base {
			names = append(names, e.info.Name)
		}
		return true
	})
	if seen > dirAheadParentMax {
		return
	}
	slices.Sort(names)
	if len(names) > dirAhead {
		names = names[:dirAhead]
	}
	for _, name := range names {
		sp := name
		if parent != "" {
			sp = parent + "/" + name
		}
		if f.dirs.Fresh(sp) {
			continue
		}
		f.ahead.mu.Lock()
		if f.ahead.inflight[sp] == nil {
			if f.ahead.inflight == nil {
				f.ahead.inflight = make(map[string]*dirFetch)
			}
			f.ahead.inflight[sp] = &dirFetch{done: make(chan struct{})}
			f.ahead.queue = append(f.ahead.queue, sp)
			if f.ahead.workers < dirAheadSlots {
				f.ahead.workers++
				go f.aheadWorker()
			}
		}
		f.ahead.mu.Unlock()
	}
}

// aheadWorker fetches queued listings, oldest first, until none is left.
func (f *fsys) aheadWorker() {
	for {
		f.ahead.mu.Lock()
		if len(f.ahead.queue) == 0 {
			f.ahead.workers--
			f.ahead.mu.Unlock()
			return
		}
		p := f.ahead.queue[0]
		f.ahead.queue = f.ahead.queue[1:]
		d := f.ahead.inflight[p]
		f.ahead.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d.list, d.err = f.fetchDir(ctx, p)
		cancel()
		f.ahead.mu.Lock()
		delete(f.ahead.inflight, p)
		f.ahead.mu.Unlock()
		close(d.done)
	}
}
