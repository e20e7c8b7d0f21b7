package smb2

import (
	"bytes"
	"testing"
)

func TestDurableContexts(t *testing.T) {
	g := msgGUID(7)
	q := &DurableV2Request{Timeout: 60000, CreateGUID: g}
	b := q.Append(nil)
	if len(b) != 32 || !bytes.Equal(b[:4], []byte{0x60, 0xea, 0, 0}) || !bytes.Equal(b[16:], g[:]) {
		t.Fatalf("DH2Q body % x", b)
	}
	var q2 DurableV2Request
	if err := q2.Unmarshal(b); err != nil || q2 != *q {
		t.Fatalf("DH2Q round trip %+v %v", q2, err)
	}
	c := &DurableV2Reconnect{FileID: FileID{1, 2}, CreateGUID: msgGUID(9), Flags: DurablePersistent}
	b = c.Append(nil)
	if len(b) != 36 || b[0] != 1 || b[8] != 2 || b[32] != 2 {
		t.Fatalf("DH2C body % x", b)
	}
	var c2 DurableV2Reconnect
	if err := c2.Unmarshal(b); err != nil || c2 != *c {
		t.Fatalf("DH2C round trip %+v %v", c2, err)
	}
}

func FuzzDurableV2Response(f *testing.F) {
	f.Add((&DurableV2Response{Timeout: 60000, Flags: DurablePersistent}).Append(nil))
	f.Add(msgSeq(0, 7))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d DurableV2Response
		if err := d.Unmarshal(data[:len(data):len(data)]); err != nil {
			msgFuzzErr(t, "durable", err)
			return
		}
		var g DurableV2Response
		if err := g.Unmarshal(d.Append(nil)); err != nil || g != d {
			t.Fatalf("re-encoding %+v %v", g, err)
		}
	})
}
