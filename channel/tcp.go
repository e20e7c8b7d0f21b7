package channel

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// TCPConn is the Direct TCP transport ([MS-SMB2] 2.1): each message is
// preceded by a 4-byte big-endian length whose top byte is zero.
type TCPConn struct {
	c   net.Conn
	r   *bufio.Reader
	max int
	// rhead and rpfx belong to the reader, wpfx to the (serialized) writers.
	rhead [HeadSize]byte
	rpfx  [4]byte
	wpfx  [4]byte
}

// MaxTCPMessage is the largest message the framing can carry.
const MaxTCPMessage = 1<<24 - 1

// DialTCP connects to addr ("host:port").
func DialTCP(ctx context.Context, addr string) (*TCPConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewTCP(c), nil
}

// NewTCP wraps an established connection.
func NewTCP(c net.Conn) *TCPConn {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(15 * time.Second)
		tc.SetReadBuffer(4 << 20)
		tc.SetWriteBuffer(4 << 20)
	}
	return &TCPConn{c: c, r: bufio.NewReaderSize(c, 256<<10), max: MaxTCPMessage}
}

// Kind is TCP.
func (t *TCPConn) Kind() Kind { return TCP }

// Limits reports the framing's limit.
func (t *TCPConn) Limits() Limits { return Limits{MaxMessage: t.max, MaxReceive: t.max} }

// LocalAddr is the local socket address.
func (t *TCPConn) LocalAddr() net.Addr { return t.c.LocalAddr() }

// RemoteAddr is the peer's socket address.
func (t *TCPConn) RemoteAddr() net.Addr { return t.c.RemoteAddr() }

// Close closes the socket; a blocked ReadMessage returns an error.
func (t *TCPConn) Close() error { return t.c.Close() }

// WriteMessage sends one framed message with a single writev.
func (t *TCPConn) WriteMessage(ctx context.Context, msg net.Buffers) error {
	n := 0
	for _, b := range msg {
		n += len(b)
	}
	if n > t.max {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	binary.BigEndian.PutUint32(t.wpfx[:], uint32(n))
	// ctx is not applied: a message cut short would corrupt the stream
	// for every other request, and one never sent would leave a hole in
	// the server's MessageId window. A peer that stops reading is caught
	// by the session's watchdog, which closes the socket.
	bufs := make(net.Buffers, 0, len(msg)+1)
	bufs = append(bufs, t.wpfx[:])
	bufs = append(bufs, msg...)
	_, err := bufs.WriteTo(t.c)
	return err
}

// ReadMessage reads one framed message.
func (t *TCPConn) ReadMessage(place Placer) (*Message, error) {
	if _, err := io.ReadFull(t.r, t.rpfx[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(t.rpfx[:]))
	if n>>24 != 0 || n > t.max {
		return nil, fmt.Errorf("%w: peer announced %d bytes", ErrTooLarge, n)
	}
	if place != nil && n > HeadSize {
		if _, err := io.ReadFull(t.r, t.rhead[:]); err != nil {
			return nil, err
		}
		if tail := place(t.rhead[:], n); tail != nil && len(tail) <= n-HeadSize {
			m := &Message{Buf: GetBuf(n - len(tail)), Tail: tail, pool: true}
			copy(m.Buf, t.rhead[:])
			if _, err := io.ReadFull(t.r, m.Buf[HeadSize:]); err != nil {
				m.Release()
				return nil, err
			}
			if _, err := io.ReadFull(t.r, tail); err != nil {
				m.Release()
				return nil, err
			}
			return m, nil
		}
		m := &Message{Buf: GetBuf(n), pool: true}
		copy(m.Buf, t.rhead[:])
		if _, err := io.ReadFull(t.r, m.Buf[HeadSize:]); err != nil {
			m.Release()
			return nil, err
		}
		return m, nil
	}
	m := &Message{Buf: GetBuf(n), pool: true}
	if _, err := io.ReadFull(t.r, m.Buf); err != nil {
		m.Release()
		return nil, err
	}
	return m, nil
}
