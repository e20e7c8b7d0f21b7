// Package netcut dials TCP for sessions under test and can cut every
// connection it made, as a network drop does, while the server lives on
// (the kernel here cannot kill sockets: no ss -K).
package netcut

import (
	"context"
	"sync"

	"github.com/smbd3/mount.smbd3/channel"
)

// Dialer is a session.Config.Dial whose connections Cut closes.
type Dialer struct {
	mu    sync.Mutex
	conns []channel.Transport
}

// Dial opens a TCP transport and remembers it.
func (d *Dialer) Dial(ctx context.Context, addr string) (channel.Transport, error) {
	tr, err := channel.DialTCP(ctx, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, tr)
		d.mu.Unlock()
	}
	return tr, err
}

// Cut closes every connection dialled so far.
func (d *Dialer) Cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, tr := range d.conns {
		tr.Close()
	}
	d.conns = nil
}
