// Package rdma is the verbs-like seam between SMB-Direct and an RDMA
// provider: connection setup, queue pairs with send and receive queues,
// memory regions with access rights and steering tags, and completions.
//
// It imports nothing from this module. Providers: iwarp (pure Go, over
// TCP) and, later, verbs (cgo, hardware RNICs; build tag "rdma").
//
// Semantics follow the verbs model as iWARP defines it (RFC 5040):
//   - Receives must be posted before the peer's Sends can arrive; a Send
//     that finds no posted receive is a fatal error for the connection.
//   - Work requests complete in order per queue; a request posted with
//     Signaled false produces no completion of its own (its completion is
//     implied by a later signaled one), except on error.
//   - A memory region is reachable by the peer only through its STag and
//     only for the access rights it was registered with; Invalidate (local,
//     or remote by Send with Invalidate) makes the STag unusable at once;
//     a local Invalidate returns once accesses under way have finished.
package rdma

import (
	"context"
	"errors"
	"net"
)

// Access rights of a memory region.
type Access uint32

const (
	AccessLocalWrite  Access = 1 << iota // the provider may write into it (receives, read responses)
	AccessRemoteRead                     // the peer may RDMA Read from it
	AccessRemoteWrite                    // the peer may RDMA Write into it
)

// Opcode of a send-queue work request or completion.
type Opcode int

const (
	OpSend           Opcode = iota // untagged Send
	OpSendInvalidate               // Send with Invalidate of the peer's RemoteSTag
	OpWrite                        // RDMA Write from Local into the peer's (RemoteSTag, RemoteOffset)
	OpRead                         // RDMA Read from the peer's (RemoteSTag, RemoteOffset) into LocalMR
	OpRecv                         // receive completion
)

func (o Opcode) String() string {
	return [...]string{"SEND", "SEND_INV", "RDMA_WRITE", "RDMA_READ", "RECV"}[o]
}

// ConnParams are exchanged at connection setup.
type ConnParams struct {
	// IRD is how many RDMA Reads the local side serves at once (inbound),
	// ORD how many it may have outstanding (outbound).
	IRD, ORD uint32
	// PrivateData is the ULP's connection private data (for SMB-Direct:
	// the optional [MS-SMBD] Appendix A IRD/ORD header). At most 256 bytes.
	PrivateData []byte
	// CRC asks for MPA CRC32c (iWARP); if either side asks, both use it.
	CRC bool
}

// Provider opens queue pairs.
type Provider interface {
	// Dial connects to a passive side at addr ("host:port").
	Dial(ctx context.Context, addr string, p ConnParams) (QP, error)
	// Listen accepts connections on addr.
	Listen(addr string, p ConnParams) (Listener, error)
}

// Listener accepts incoming connections.
type Listener interface {
	Accept(ctx context.Context) (QP, error)
	Addr() net.Addr
	Close() error
}

// MR is a registered memory region.
type MR interface {
	// STag is the steering tag the peer uses to reach the region.
	STag() uint32
	// Buf is the registered memory (page aligned when the provider allocated it).
	Buf() []byte
	// Access is what the region was registered for.
	Access() Access
	// Invalidate revokes the STag: later remote access fails, and access
	// already under way has finished when it returns.
	Invalidate() error
	// Deregister releases the region (after Invalidate, or implying it).
	Deregister() error
}

// SendWR is a send-queue work request.
type SendWR struct {
	ID       uint64
	Op       Opcode
	Local    [][]byte // gather list: Send payload or RDMA Write source
	LocalMR  MR       // RDMA Read destination (Local[0] must lie in it if set)
	Signaled bool     // produce a completion
	// Peer side of an RDMA operation, or the STag a Send with Invalidate
	// invalidates at the peer.
	RemoteSTag   uint32
	RemoteOffset uint64
	Length       uint32 // RDMA Read length
}

// RecvWR is a receive-queue work request.
type RecvWR struct {
	ID  uint64
	Buf []byte
}

// Completion reports a finished work request.
type Completion struct {
	ID  uint64
	Op  Opcode
	Len int // bytes received (OpRecv) or transferred
	// Invalidated is the local STag a received Send with Invalidate revoked
	// (OpRecv only; 0 if none).
	Invalidated uint32
	Err         error
}

// QP is one reliable connection (queue pair) with its completion queue.
type QP interface {
	// RegisterMR registers buf (or, if buf is nil, allocates size page-aligned
	// bytes) for access, with a fresh random STag.
	RegisterMR(buf []byte, size int, access Access) (MR, error)
	// PostRecv queues receive buffers.
	PostRecv(wrs ...RecvWR) error
	// PostSend queues work requests in order, with one call for the batch.
	PostSend(wrs ...SendWR) error
	// Poll returns at least one completion, waiting for it or ctx; it fills
	// and returns a prefix of cs.
	Poll(ctx context.Context, cs []Completion) ([]Completion, error)
	// PeerParams are the peer's connection parameters (IRD/ORD, private data, CRC in use).
	PeerParams() ConnParams
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Close tears the connection down (Terminate when the provider has one);
	// pending work requests complete with ErrFlushed.
	Close() error
}

// Errors common to providers.
var (
	ErrFlushed      = errors.New("rdma: work request flushed (queue pair closed)")
	ErrNoRecv       = errors.New("rdma: peer sent with no receive posted")
	ErrAccess       = errors.New("rdma: remote access violation (bad STag, bounds or rights)")
	ErrTerminated   = errors.New("rdma: connection terminated by peer")
	ErrRecvTooSmall = errors.New("rdma: received message larger than the posted buffer")
)
