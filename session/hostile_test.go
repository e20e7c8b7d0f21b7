package session

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// pipeTransport is an in-memory transport whose reads come from a channel:
// a scripted peer for error paths a real server cannot be made to produce.
type pipeTransport struct {
	in     chan []byte
	closed chan struct{}
}

func newPipe() *pipeTransport {
	return &pipeTransport{in: make(chan []byte, 16), closed: make(chan struct{})}
}

func (p *pipeTransport) WriteMessage(ctx context.Context, msg net.Buffers) error { return nil }
func (p *pipeTransport) ReadMessage(place channel.Placer) (*channel.Message, error) {
	select {
	case b := <-p.in:
		buf := channel.GetBuf(len(b))
		copy(buf, b)
		return channel.PooledMessage(buf), nil
	case <-p.closed:
		return nil, io.EOF
	}
}
func (p *pipeTransport) Kind() channel.Kind     { return channel.TCP }
func (p *pipeTransport) Limits() channel.Limits { return channel.Limits{MaxMessage: 1 << 24} }
func (p *pipeTransport) LocalAddr() net.Addr    { return &net.TCPAddr{} }
func (p *pipeTransport) RemoteAddr() net.Addr   { return &net.TCPAddr{} }
func (p *pipeTransport) Close() error {
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
	return nil
}

func response(cmd smb2.Command, id uint64, status smb2.Status, body []byte) []byte {
	h := smb2.Header{Command: cmd, MessageID: id, Status: status, Flags: smb2.FlagResponse, Credits: 1}
	return append(h.Append(nil), body...)
}

// FuzzDispatch feeds arbitrary bytes to a connection's receive path as a
// server's message: it must fail the connection or complete the call, and
// never panic or hang.
func FuzzDispatch(f *testing.F) {
	f.Add(response(smb2.CmdRead, 0, 0, (&smb2.ReadResponse{Data: []byte("abc")}).Append(nil)))
	f.Add(response(smb2.CmdEcho, 0, smb2.StatusPending, nil))
	f.Add(response(smb2.CmdEcho, 7, 0, smb2.Empty{}.Append(nil)))
	f.Add([]byte{0xFD, 'S', 'M', 'B'})
	comp := response(smb2.CmdEcho, 0, 0, smb2.Empty{}.Append(nil))
	binary.LittleEndian.PutUint32(comp[20:], 72)
	comp = append(comp, make([]byte, 72-len(comp))...)
	f.Add(append(comp, response(smb2.CmdEcho, 1, 0, smb2.Empty{}.Append(nil))...))
	f.Fuzz(func(t *testing.T, msg []byte) {
		p := newPipe()
		c := newConn(p, "fuzz", slog.New(slog.DiscardHandler), 0)
		c.cr.avail = 10
		calls, err := c.send(context.Background(), security{}, &request{cmd: smb2.CmdEcho, body: smb2.Empty{}})
		if err != nil {
			t.Fatal(err)
		}
		p.in <- msg
		select {
		case <-calls[0].done:
		case <-c.closed:
		case <-time.After(50 * time.Millisecond):
		}
		c.close()
		<-calls[0].done
		calls[0].release()
	})
}

// TestHostileResponses: malformed answers fail the request or the
// connection with a clear error, promptly.
func TestHostileResponses(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
	}{
		{"truncated header", []byte{0xFE, 'S', 'M', 'B', 64, 0}},
		{"not SMB2", []byte("HTTP/1.1 400 Bad Request\r\n\r\n")},
		{"unknown message id", response(smb2.CmdEcho, 99, 0, smb2.Empty{}.Append(nil))},
		{"request instead of response", func() []byte {
			b := response(smb2.CmdEcho, 0, 0, smb2.Empty{}.Append(nil))
			b[16] = 0
			return b
		}()},
		{"bad NextCommand", func() []byte {
			b := response(smb2.CmdEcho, 0, 0, smb2.Empty{}.Append(nil))
			binary.LittleEndian.PutUint32(b[20:], 3)
			return b
		}()},
		{"encrypted without a session key", append([]byte{0xFD, 'S', 'M', 'B'}, make([]byte, 60)...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipe()
			c := newConn(p, "scripted", slog.New(slog.DiscardHandler), 0)
			c.cr.avail = 10
			calls, err := c.send(context.Background(), security{}, &request{cmd: smb2.CmdEcho, body: smb2.Empty{}})
			if err != nil {
				t.Fatal(err)
			}
			p.in <- tc.msg
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err = c.wait(ctx, calls[0])
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a connection error", err)
			}
			if !IsConnError(err) {
				t.Fatalf("err = %v is not a connection error", err)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("malformed body", func(t *testing.T) {
		p := newPipe()
		c := newConn(p, "scripted", slog.New(slog.DiscardHandler), 0)
		c.cr.avail = 10
		r := &request{cmd: smb2.CmdRead, body: &smb2.ReadRequest{Length: 10}}
		calls, _ := c.send(context.Background(), security{}, r)
		body := (&smb2.ReadResponse{Data: []byte("0123456789")}).Append(nil)
		binary.LittleEndian.PutUint32(body[4:], 1<<30) // DataLength beyond the message
		p.in <- response(smb2.CmdRead, calls[0].id, 0, body)
		if err := c.wait(context.Background(), calls[0]); err != nil {
			t.Fatal(err)
		}
		var rr smb2.ReadResponse
		if err := rr.Unmarshal(calls[0].body); !errors.Is(err, smb2.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
}
