// Package channel carries whole SMB2 messages over one connection: TCP with
// the 4-byte Direct TCP framing ([MS-SMB2] 2.1), and later SMB-Direct.
//
// A Transport has one reader (the session's read loop) and writers that the
// session serializes; it knows nothing about SMB2 beyond message boundaries.
package channel

import (
	"context"
	"errors"
	"net"

	"github.com/smbd3/mount.smbd3/internal/bufpool"
)

// Kind names the transport of a channel.
type Kind int

const (
	TCP Kind = iota
	RDMA
)

func (k Kind) String() string {
	if k == RDMA {
		return "rdma"
	}
	return "tcp"
}

// Limits are what a transport can carry in one message.
type Limits struct {
	MaxMessage int // largest SMB2 message (or compound) it may send
	MaxReceive int // largest one it accepts to receive
	// MaxChainParts bounds a compound chain sent on the transport by the
	// parts of its answer: one per request, two for a READ (its data is a
	// part of its own). 0: no bound. See RDMAConn.Limits.
	MaxChainParts int
}

// Placer lets the read loop choose where the tail of a large message goes:
// called with the first HeadSize bytes of a message of total bytes, it may
// return a buffer; the last len(buffer) bytes of the message are then read
// straight into it (no copy) and reported as Message.Tail. Returning nil
// reads the whole message into a pooled buffer.
type Placer func(head []byte, total int) []byte

// HeadSize is how many bytes a Placer sees: the SMB2 header and the fixed
// part of a READ response.
const HeadSize = 64 + 16

// Message is one received transport message (an SMB2 message, a compound
// chain or a transform). Buf holds it, except for a Tail placed by a Placer.
type Message struct {
	Buf  []byte
	Tail []byte
	// Invalidated is, on SMB-Direct, the local STag the server invalidated
	// with the Send with Invalidate that carried this message (0 if none).
	Invalidated uint32
	pool        bool
}

// PooledMessage wraps a buffer from GetBuf as a message.
func PooledMessage(b []byte) *Message { return &Message{Buf: b, pool: true} }

// Release returns Buf to the pool; the message must not be used afterwards.
func (m *Message) Release() {
	if m.pool {
		putBuf(m.Buf)
	}
	m.Buf, m.Tail = nil, nil
}

// Transport is one connection carrying whole SMB2 messages.
type Transport interface {
	// WriteMessage sends the concatenation of msg as one message. Callers
	// serialize calls. It sends the whole message or fails the transport;
	// ctx may carry values but does not cut a message short.
	WriteMessage(ctx context.Context, msg net.Buffers) error
	// ReadMessage returns the next message; place may be nil.
	ReadMessage(place Placer) (*Message, error)
	Kind() Kind
	Limits() Limits
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	Close() error
}

// ErrTooLarge reports a message beyond Limits.MaxMessage.
var ErrTooLarge = errors.New("channel: message too large")

// GetBuf returns a pooled buffer of length n (see internal/bufpool).
func GetBuf(n int) []byte { return bufpool.Get(n) }

func putBuf(b []byte) { bufpool.Put(b) }

// PutBuf recycles a buffer obtained from GetBuf.
func PutBuf(b []byte) { bufpool.Put(b) }
