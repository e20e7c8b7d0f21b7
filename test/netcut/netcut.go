// Package netcut dials TCP for sessions under test and can cut every
// connection it made, as a network drop does, while the server lives on
// (the kernel here cannot kill sockets: no ss -K).
package netcut

import (
	"context"
	"io"
	"net"
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

// Proxy forwards TCP connections from a loopback port to a server, for
// clients the test cannot hand a Dialer (the mount helper's daemon); Cut
// closes the connections it carries, as a network drop does. New
// connections are forwarded as before.
type Proxy struct {
	Addr string // 127.0.0.1:PORT to dial instead of the server

	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
}

// NewProxy starts forwarding to addr until Close.
func NewProxy(addr string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, to: addr}
	go p.serve()
	return p, nil
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go pipe(c, s)
		go pipe(s, c)
	}
}

func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Cut closes every connection carried so far.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Close stops forwarding and cuts.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
}
