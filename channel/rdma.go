package channel

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// Direction of an offloaded I/O, from the client's point of view.
type Direction int

const (
	// ForRead: the server RDMA-writes READ data into the region.
	ForRead Direction = iota
	// ForWrite: the server RDMA-reads WRITE data from the region.
	ForWrite
)

// Region is memory registered for one offloaded READ or WRITE.
type Region interface {
	// Descriptor is the Buffer Descriptor V1 list to put in the request's
	// channel info ([MS-SMBD] 2.2.3.1).
	Descriptor() []byte
	// Buf is the registered memory (for Alloc'd regions: where READ data
	// lands, or where WRITE data must be put).
	Buf() []byte
	// Done ends the I/O: checks that the response invalidated the token
	// (invalidated is the STag the response's Send with Invalidate named,
	// 0 if none), invalidates locally otherwise, and releases the region.
	Done(invalidated uint32)
}

// Offloader is implemented by transports that can move READ and WRITE
// payloads by RDMA.
type Offloader interface {
	// Register registers p for one I/O in direction dir.
	Register(p []byte, dir Direction) (Region, error)
	// MaxReadWriteSize is the largest payload of one offloaded I/O.
	MaxReadWriteSize() int
}

// RDMAConn is the SMB-Direct transport: SMB2 messages as [MS-SMBD] data
// transfer messages over an RDMA connection. It implements Offloader.
type RDMAConn struct {
	c      *smbdirect.Conn
	pooled bool // received messages are in GetBuf buffers
}

var (
	_ Transport = (*RDMAConn)(nil)
	_ Offloader = (*RDMAConn)(nil)
)

// DialRDMA connects to an SMB-Direct server (iWARP: port 5445). Received
// messages are reassembled into pooled buffers (GetBuf), which
// Message.Release recycles.
func DialRDMA(ctx context.Context, p rdma.Provider, addr string) (*RDMAConn, error) {
	c, err := smbdirect.Dial(ctx, p, addr, smbdirect.Config{Alloc: GetBuf})
	if err != nil {
		return nil, err
	}
	return &RDMAConn{c: c, pooled: true}, nil
}

// NewRDMA wraps an established SMB-Direct connection (its messages are
// not recycled: their buffers come from its own Config.Alloc).
func NewRDMA(c *smbdirect.Conn) *RDMAConn { return &RDMAConn{c: c} }

// Kind is RDMA.
func (t *RDMAConn) Kind() Kind { return RDMA }

// Limits: the peer's reassembly limit bounds every message we send.
//
// Chains are bounded to 3 parts: ksmbd gathers the answer to a chain from
// one buffer per response (and one more for READ data) into a single
// SMB-Direct send, and over iWARP (siw, Chelsio: max_sge_rd 1) its queue
// pair has 4 gather elements per send, one of them for the SMB-Direct
// header. A send that needs more fails and ksmbd drops the connection
// (Linux 6.1 smb_direct_post_send_data: "failed to post send: -22"; seen
// in the lab with statfs as CREATE + 2 QUERY_INFO + CLOSE).
func (t *RDMAConn) Limits() Limits {
	p := t.c.Params()
	return Limits{MaxMessage: p.MaxFragmentedSendSize, MaxReceive: p.MaxFragmentedRecvSize, MaxChainParts: rdmaChainParts}
}

// rdmaChainParts is Limits.MaxChainParts of SMB-Direct transports.
const rdmaChainParts = 3

// LocalAddr is the local address of the connection.
func (t *RDMAConn) LocalAddr() net.Addr { return t.c.LocalAddr() }

// RemoteAddr is the server's address.
func (t *RDMAConn) RemoteAddr() net.Addr { return t.c.RemoteAddr() }

// Close disconnects.
func (t *RDMAConn) Close() error { return t.c.Close() }

// WriteMessage sends one SMB2 message (fragmented as needed).
func (t *RDMAConn) WriteMessage(ctx context.Context, msg net.Buffers) error {
	n := 0
	for _, b := range msg {
		n += len(b)
	}
	if max := t.c.Params().MaxFragmentedSendSize; n > max {
		return fmt.Errorf("%w: %d bytes, SMB-Direct peer takes %d", ErrTooLarge, n, max)
	}
	return t.c.WriteMessage(ctx, msg)
}

// ReadMessage returns the next reassembled message. Tail placement does
// not apply: bulk data arrives by RDMA into registered regions instead.
// Message.Invalidated reports a Send with Invalidate.
func (t *RDMAConn) ReadMessage(place Placer) (*Message, error) {
	m, err := t.c.ReadMessage()
	if err != nil {
		if errors.Is(err, smbdirect.ErrClosed) {
			return nil, net.ErrClosed
		}
		return nil, err
	}
	return &Message{Buf: m.Buf, Invalidated: m.Invalidated, pool: t.pooled}, nil
}

// MaxReadWriteSize is the negotiated RDMA limit per I/O.
func (t *RDMAConn) MaxReadWriteSize() int { return t.c.MaxReadWriteSize() }

// Stats are the SMB-Direct counters of the connection.
func (t *RDMAConn) Stats() smbdirect.Stats { return t.c.Stats() }

// Register registers p for one offloaded I/O.
func (t *RDMAConn) Register(p []byte, dir Direction) (Region, error) {
	d := smbdirect.ForRead
	if dir == ForWrite {
		d = smbdirect.ForWrite
	}
	r, err := t.c.Register(p, d)
	if err != nil {
		return nil, err
	}
	return &rdmaRegion{r: r}, nil
}

type rdmaRegion struct{ r *smbdirect.Region }

func (r *rdmaRegion) Descriptor() []byte { return r.r.AppendDescriptor(nil) }
func (r *rdmaRegion) Buf() []byte        { return r.r.Buf() }
func (r *rdmaRegion) Done(invalidated uint32) {
	r.r.CheckInvalidated(smbdirect.Message{Invalidated: invalidated})
	r.r.Release()
}
