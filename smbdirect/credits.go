package smbdirect

// credits is the [MS-SMBD] credit state of one connection ([MS-SMBD]
// 3.1.5.9, PROTOCOL.md A.10), a small value type with pure methods; the
// Conn calls them under its mutex and does the posting itself.
//
// Receive side: posted receives are either announced to the peer (granted:
// the peer's send credits as far as we know) or not yet announced; the next
// message we send announces all of them (CreditsGranted is incremental).
// We keep up to recvCap() receives posted; one more is allowed (up to
// ReceiveCreditMax) only to avoid spending our last send credit without a
// grant.
//
// Send side: every message we send costs one send credit, and the last one
// is only spent by a message that grants at least one credit.
type credits struct {
	send       int // SendCredits: the peer's posted receives we may use
	sendTarget int // SendCreditTarget: the CreditsRequested we send
	recvTarget int // ReceiveCreditTarget: the peer's latest CreditsRequested
	recvMax    int // ReceiveCreditMax
	posted     int // receives posted (ReceiveCredits)
	granted    int // posted receives announced to the peer, not yet consumed

	// lastCreditViolations counts messages that left the peer with no
	// send credit while granting none (a peer breaking A.8 step 3).
	lastCreditViolations int
}

// recvCap is how many receives we keep posted: the peer's target, bounded
// by ReceiveCreditMax less one kept in reserve for the last-credit rule,
// and at least 3 so credit-only messages cannot ping-pong (see peerLow).
func (c *credits) recvCap() int {
	n := min(c.recvTarget, c.recvMax-1)
	return max(n, min(3, c.recvMax))
}

// unannounced is how many posted receives the peer has not heard of.
func (c *credits) unannounced() int { return c.posted - c.granted }

// wantPost is how many receives to post to reach recvCap.
func (c *credits) wantPost() int { return max(c.recvCap()-c.posted, 0) }

// canSend reports whether n messages may be sent now, and whether one more
// receive must be posted first so that the last credit carries a grant.
// It returns how many of the n may go (0 = wait).
func (c *credits) canSend(n int) (ok int, postExtra bool) {
	if c.send == 0 || n == 0 {
		return 0, false
	}
	ok = min(n, c.send)
	if ok < c.send || c.unannounced() > 0 {
		return ok, false
	}
	// The batch would spend the last credit and we have nothing to grant.
	if ok > 1 {
		return ok - 1, false
	}
	if c.posted < c.recvMax {
		return 1, true
	}
	return 0, false
}

// take spends one send credit and returns the grant the message carries.
func (c *credits) take() uint16 {
	c.send--
	g := min(c.unannounced(), 0xffff)
	c.granted += g
	return uint16(g)
}

// received accounts one received message: one posted and granted receive
// consumed, grant new send credits, target the peer's request. It returns
// false if the peer sent without holding a credit.
func (c *credits) received(req, grant uint16) bool {
	if c.granted == 0 || c.posted == 0 {
		return false
	}
	c.posted--
	c.granted--
	if c.granted == 0 && grant == 0 {
		c.lastCreditViolations++
	}
	c.send = min(c.send+int(grant), 1<<20)
	c.recvTarget = int(req)
	return true
}

// peerLow reports whether the peer is short of credits and we have some to
// announce, so a credit-only message is worth sending. The threshold is at
// most half of recvCap, which stops empty messages from answering each
// other: after we grant, the peer holds about recvCap credits.
func (c *credits) peerLow() bool {
	if c.unannounced() == 0 {
		return false
	}
	return c.granted <= max(1, (c.recvCap()-1)/2)
}
