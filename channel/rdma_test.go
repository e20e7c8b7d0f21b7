package channel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/smbdirect"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

// TestRDMATransport runs the SMB-Direct transport against our own
// responder over the pure-Go iWARP provider on loopback: messages both
// ways, and an offloaded READ (responder RDMA-writes into the client's
// region and answers with Send with Invalidate) and WRITE (responder
// RDMA-reads from it).
func TestRDMATransport(t *testing.T) {
	prov := iwarp.New(iwarp.Options{FirstFPDUDelay: 50 * time.Millisecond})
	l, err := smbdirect.Listen(prov, "127.0.0.1:0", smbdirect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srvc := make(chan *smbdirect.Conn, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		srvc <- c
	}()
	tr, err := channel.DialRDMA(ctx, prov, l.Addr().(*net.TCPAddr).String())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	srv := <-srvc
	if srv == nil {
		t.FailNow()
	}
	defer srv.Close()
	if tr.Kind() != channel.RDMA || tr.Limits().MaxMessage < 131072 {
		t.Fatalf("kind %v limits %+v", tr.Kind(), tr.Limits())
	}

	// A message larger than one SMB-Direct send is fragmented and reassembled.
	big := make([]byte, 100000)
	rand.Read(big)
	if err := tr.WriteMessage(ctx, net.Buffers{big[:10], big[10:]}); err != nil {
		t.Fatal(err)
	}
	got, err := srv.ReadMessage()
	if err != nil || !bytes.Equal(got.Buf, big) {
		t.Fatalf("responder got %d bytes, %v", len(got.Buf), err)
	}

	// Offloaded READ.
	data := make([]byte, 1<<20)
	rand.Read(data)
	dst := make([]byte, len(data))
	reg, err := tr.Register(dst, channel.ForRead)
	if err != nil {
		t.Fatal(err)
	}
	var d smbdirect.BufferDescriptor
	if err := d.Unmarshal(reg.Descriptor()); err != nil {
		t.Fatal(err)
	}
	if err := srv.RDMAWrite(ctx, []smbdirect.BufferDescriptor{d}, data); err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteMessageInvalidate(ctx, net.Buffers{[]byte("read response")}, d.Token); err != nil {
		t.Fatal(err)
	}
	m, err := tr.ReadMessage(nil)
	if err != nil || string(m.Buf) != "read response" || m.Invalidated != d.Token {
		t.Fatalf("message %q invalidated %#x (want %#x): %v", m.Buf, m.Invalidated, d.Token, err)
	}
	reg.Done(m.Invalidated)
	if !bytes.Equal(dst, data) {
		t.Fatal("RDMA-written data differs")
	}

	// Offloaded WRITE: the responder pulls the data.
	reg, err = tr.Register(data, channel.ForWrite)
	if err != nil {
		t.Fatal(err)
	}
	d.Unmarshal(reg.Descriptor())
	pulled := make([]byte, len(data))
	if err := srv.RDMARead(ctx, []smbdirect.BufferDescriptor{d}, pulled); err != nil {
		t.Fatal(err)
	}
	reg.Done(0) // no remote invalidation: invalidated locally
	if !bytes.Equal(pulled, data) {
		t.Fatal("RDMA-read data differs")
	}
	// The region's token is dead now: the peer cannot reach it any more.
	if err := srv.RDMARead(ctx, []smbdirect.BufferDescriptor{d}, pulled); err == nil {
		t.Fatal("RDMA read of an invalidated region succeeded")
	}
}
