package session

import (
	"testing"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// TestLeaseSet: a lease is its key's: a grant to one open, or a break,
// sets the state every open of the key reports; a closed open is
// forgotten, and a key with no opens is held no more.
func TestLeaseSet(t *testing.T) {
	var ls leaseSet
	k1, k2 := [16]byte{1}, [16]byte{2}
	a, b, c := &File{}, &File{}, &File{}
	const rh, rwh = smb2.LeaseRead | smb2.LeaseHandle, smb2.LeaseRead | smb2.LeaseWrite | smb2.LeaseHandle
	ls.add(a, k1, rh)
	ls.add(c, k2, rh)
	ls.add(b, k1, rwh) // a writer's open upgrades the key's lease
	for _, f := range []*File{a, b} {
		if st, ok := f.Lease(); !ok || st != rwh {
			t.Errorf("after the upgrade: %#x %v, want %#x", st, ok, rwh)
		}
	}
	ls.broken(k1, smb2.LeaseRead)
	for _, f := range []*File{a, b} {
		if st, ok := f.Lease(); !ok || st != smb2.LeaseRead {
			t.Errorf("after the break: %#x %v, want R", st, ok)
		}
	}
	if st, _ := c.Lease(); st != rh {
		t.Errorf("another key's lease: %#x, want RH", st)
	}
	ls.drop(a)
	if !ls.held(k1) {
		t.Error("k1 not held with b open")
	}
	ls.drop(b)
	if ls.held(k1) {
		t.Error("k1 held with no open")
	}
	ls.drop(&File{}) // never granted: nothing
	if !ls.held(k2) {
		t.Error("k2 not held")
	}
}
