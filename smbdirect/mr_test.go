package smbdirect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/smbd3/mount.smbd3/smbdirect/internal/loop"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
)

// A tiny request protocol over the connection, standing in for SMB2
// READ/WRITE with RDMA channels: op byte, invalidate-token (4), then the
// descriptor array.
const (
	opFill = 'F' // RDMA-Write a pattern of the descriptor length, reply with Send with Invalidate
	opPull = 'P' // RDMA-Read the descriptor, reply with the data inline (plain Send)
)

func offloadServer(c *Conn) {
	var fill []byte
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return
		}
		inv := binary.LittleEndian.Uint32(m.Buf[1:])
		ds, err := UnmarshalBufferDescriptors(m.Buf[5:])
		if err != nil {
			c.Close()
			return
		}
		ctx := context.Background()
		switch m.Buf[0] {
		case opFill:
			if len(fill) != int(ds[0].Length) {
				fill = pattern(int(ds[0].Length), 9)
			}
			if c.RDMAWrite(ctx, ds, fill) != nil {
				return
			}
			if c.WriteMessageInvalidate(ctx, net.Buffers{[]byte("filled")}, inv) != nil {
				return
			}
		case opPull:
			buf := make([]byte, ds[0].Length)
			if c.RDMARead(ctx, ds, buf) != nil {
				return
			}
			if c.WriteMessage(ctx, net.Buffers{buf}) != nil {
				return
			}
		}
	}
}

func offloadReq(op byte, inv uint32, rs ...*Region) []byte {
	b := []byte{op}
	b = binary.LittleEndian.AppendUint32(b, inv)
	for _, r := range rs {
		b = r.AppendDescriptor(b)
	}
	return b
}

func TestOffload(t *testing.T) {
	forEachProvider(t, func(t *testing.T, e provEnv) {
		cli, srv := pair(t, e.new(t), e.addr(), testCfg(), testCfg())
		go offloadServer(srv)
		ctx := context.Background()

		// SMB2 READ-like: the peer writes into our region and invalidates it.
		r, err := cli.Alloc(1<<20, ForRead)
		if err != nil {
			t.Fatal(err)
		}
		if uintptr(unsafe.Pointer(&r.Buf()[0]))%pageSize != 0 {
			t.Error("pooled buffer not page aligned")
		}
		if err := cli.WriteMessage(ctx, net.Buffers{offloadReq(opFill, r.Token(), r)}); err != nil {
			t.Fatal(err)
		}
		m, err := cli.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Buf) != "filled" || m.Invalidated != r.Token() || !r.RemotelyInvalidated() {
			t.Fatalf("%q invalidated %#x (token %#x)", m.Buf, m.Invalidated, r.Token())
		}
		if ok, err := r.CheckInvalidated(m); !ok || err != nil {
			t.Fatal("expected token not recognised", err)
		}
		if !bytes.Equal(r.Buf(), pattern(1<<20, 9)) {
			t.Fatal("RDMA Write data differs")
		}
		r.Release()

		// SMB2 WRITE-like: the peer reads from our region (caller memory).
		src := pattern(300000, 4)
		w, err := cli.Register(src, ForWrite)
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.WriteMessage(ctx, net.Buffers{offloadReq(opPull, 0, w)}); err != nil {
			t.Fatal(err)
		}
		m, err = cli.ReadMessage()
		if err != nil || !bytes.Equal(m.Buf, src) {
			t.Fatal("RDMA Read data differs", err)
		}
		if m.Invalidated != 0 {
			t.Fatal("invalidated without Send with Invalidate")
		}
		if ok, _ := w.CheckInvalidated(m); ok {
			t.Fatal("remote invalidation reported")
		}
		w.Release()

		// Fresh token per I/O.
		a, _ := cli.Alloc(4096, ForRead)
		b, _ := cli.Alloc(4096, ForRead)
		if a.Token() == b.Token() || a.Token() == r.Token() {
			t.Fatal("token reused")
		}
		// Unexpected token: the peer invalidates b while answering for a.
		if err := cli.WriteMessage(ctx, net.Buffers{offloadReq(opFill, b.Token(), a)}); err != nil {
			t.Fatal(err)
		}
		m, err = cli.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := a.CheckInvalidated(m); ok || err != nil {
			t.Fatal("unexpected token accepted", err)
		}
		if !a.local.Load() || !b.RemotelyInvalidated() {
			t.Fatal("a not invalidated locally, or b not marked")
		}
		a.Release()
		b.Release()

		// Bounds.
		if _, err := cli.Alloc(cli.MaxReadWriteSize()+1, ForRead); err == nil {
			t.Fatal("region over MaxReadWriteSize")
		}
		if _, err := cli.Register(nil, ForWrite); err == nil {
			t.Fatal("empty region")
		}
		if _, err := cli.Register(src, 0); err == nil {
			t.Fatal("bad direction")
		}
		if err := cli.Err(); err != nil {
			t.Fatal(err)
		}
	})
}

// The peer writing into a WRITE region (remote read only) kills the
// connection; so does reaching a released region through a stale token.
func TestOffloadAccessChecks(t *testing.T) {
	for _, tc := range []string{"direction", "stale"} {
		t.Run(tc, func(t *testing.T) {
			forEachProvider(t, func(t *testing.T, e provEnv) {
				cli, srv := pair(t, e.new(t), e.addr(), testCfg(), testCfg())
				var r *Region
				var err error
				if tc == "direction" {
					r, err = cli.Alloc(8192, ForWrite)
				} else {
					r, err = cli.Alloc(8192, ForRead)
					if err == nil {
						r.Release()
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				// An RDMA Write is one-sided: over iWARP it may complete at
				// the writer before the target's Terminate comes back.
				srv.RDMAWrite(context.Background(), []BufferDescriptor{r.Descriptor()}, make([]byte, 100))
				select {
				case <-cli.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("initiator still up")
				}
				// Over iWARP the target detects it and says why (the
				// flushed completions must not hide the cause).
				if e.name == "iwarp" && !errors.Is(cli.Err(), rdma.ErrAccess) {
					t.Fatalf("initiator died of %v", cli.Err())
				}
			})
		})
	}
}

// Descriptor Offsets follow the provider's TaggedOffset base.
func TestOffloadNonzeroBase(t *testing.T) {
	p := loop.New()
	p.Base = 0x7f0000001000
	cli, srv := pair(t, p, "base", testCfg(), testCfg())
	go offloadServer(srv)
	r, _ := cli.Alloc(10000, ForRead)
	if d := r.Descriptor(); d.Offset != p.Base || d.Length != 10000 {
		t.Fatalf("%+v", d)
	}
	cli.WriteMessage(context.Background(), net.Buffers{offloadReq(opFill, r.Token(), r)})
	if _, err := cli.ReadMessage(); err != nil || !bytes.Equal(r.Buf(), pattern(10000, 9)) {
		t.Fatal(err)
	}
	r.Release()
	// Descriptor arrays: the transfer spans two regions.
	x, _ := cli.Register(pattern(5000, 1), ForWrite)
	y, _ := cli.Register(pattern(5000, 2), ForWrite)
	dst := make([]byte, 7000)
	if err := srv.RDMARead(context.Background(), []BufferDescriptor{x.Descriptor(), y.Descriptor()}, dst); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst, append(pattern(5000, 1), pattern(5000, 2)[:2000]...)) {
		t.Fatal("array read differs")
	}
	if err := srv.RDMARead(context.Background(), []BufferDescriptor{x.Descriptor()}, make([]byte, 5001)); !errors.Is(err, ErrDescriptors) {
		t.Fatalf("short descriptors: %v", err)
	}
}
