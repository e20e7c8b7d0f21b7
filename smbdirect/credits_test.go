package smbdirect

import "testing"

func TestCreditsLastCreditRule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        credits
		want, ok int
		extra    bool
	}{
		{"none", credits{send: 0, recvMax: 8, posted: 3, granted: 1}, 1, 0, false},
		{"plenty", credits{send: 5, recvMax: 8, posted: 3, granted: 3}, 3, 3, false},
		{"last-with-grant", credits{send: 1, recvMax: 8, posted: 3, granted: 2}, 1, 1, false},
		{"last-post-extra", credits{send: 1, recvMax: 8, posted: 3, granted: 3}, 1, 1, true},
		{"last-at-max", credits{send: 1, recvMax: 8, posted: 8, granted: 8}, 1, 0, false},
		{"batch-keeps-last", credits{send: 3, recvMax: 8, posted: 8, granted: 8}, 5, 2, false},
		{"batch-spends-last-granting", credits{send: 3, recvMax: 8, posted: 8, granted: 7}, 5, 3, false},
	} {
		ok, extra := tc.c.canSend(tc.want)
		if ok != tc.ok || extra != tc.extra {
			t.Errorf("%s: canSend = %d, %v; want %d, %v", tc.name, ok, extra, tc.ok, tc.extra)
		}
	}
}

func TestCreditsAccounting(t *testing.T) {
	c := credits{recvMax: 255, recvTarget: 255, posted: 254, granted: 254}
	if c.recvCap() != 254 || c.wantPost() != 0 || c.peerLow() {
		t.Fatalf("%+v", c)
	}
	if !c.received(10, 3) || c.send != 3 || c.recvTarget != 10 || c.posted != 253 || c.granted != 253 {
		t.Fatalf("%+v", c)
	}
	// Peer asks for fewer: cap follows, but never below 3.
	if c.recvCap() != 10 || c.wantPost() != 0 {
		t.Fatalf("cap %d", c.recvCap())
	}
	c.recvTarget = 1
	if c.recvCap() != 3 {
		t.Fatalf("cap %d", c.recvCap())
	}
	// Peer without a credit.
	z := credits{recvMax: 4, posted: 2}
	if z.received(1, 0) {
		t.Fatal("message without credit accepted")
	}
	// Last-credit violation counted.
	v := credits{recvMax: 4, recvTarget: 4, posted: 2, granted: 1}
	v.received(4, 0)
	if v.lastCreditViolations != 1 {
		t.Fatal("violation not counted")
	}
	// peerLow: granted at or under half the cap, something to announce.
	p := credits{recvMax: 255, recvTarget: 255, posted: 254, granted: 126}
	if !p.peerLow() {
		t.Fatal("not low")
	}
	p.granted = 128
	if p.peerLow() {
		t.Fatal("low")
	}
}
