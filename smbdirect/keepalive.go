package smbdirect

import "time"

// Keepalive ([MS-SMBD] 3.1.6.2, PROTOCOL.md A.11). The idle timer measures
// time since the last received message (lastRecv, set by the receive loop;
// receiving does not touch the timer itself):
//
//   - it fires in kaNone: if the link was idle for KeepaliveInterval, the
//     state becomes kaPending and the control loop sends an empty message
//     with RESPONSE_REQUESTED (or the next data message carries the flag);
//     otherwise it is re-armed for the rest of the interval;
//   - sending the flag makes it kaSent and arms KeepaliveTimeout;
//   - any received message makes it kaNone again;
//   - firing in kaSent (no answer within KeepaliveTimeout), or in
//     kaPending (the keepalive could not even be sent for a whole interval,
//     for want of send credits) disconnects with ErrKeepaliveTimeout.
//
// Answers to the peer's RESPONSE_REQUESTED come from the receive and
// control loops, never from the upper layer, so a reader that is busy
// elsewhere does not cause a drop.
func (c *Conn) onTimer() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	switch c.ka {
	case kaNone:
		if idle := time.Since(c.lastRecv); idle < c.cfg.KeepaliveInterval {
			c.timer.Reset(c.cfg.KeepaliveInterval - idle)
			c.mu.Unlock()
			return
		}
		c.ka = kaPending
		c.timer.Reset(c.cfg.KeepaliveInterval)
		c.mu.Unlock()
		c.kickControl()
	default:
		c.mu.Unlock()
		c.fail(ErrKeepaliveTimeout)
	}
}
