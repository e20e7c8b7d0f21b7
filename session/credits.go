package session

// credits tracks the SMB2 credit window of one connection ([MS-SMB2] 3.2.4.1.5,
// 3.2.5.1.4): how many credits the server granted and the next MessageId. A
// small value type whose methods are called under the connection lock.
type credits struct {
	avail  uint32 // credits granted and not yet spent
	nextID uint64 // next MessageId to use
	target uint32 // window the client asks the server to keep open
}

// charge is the CreditCharge of a request moving n payload bytes
// ([MS-SMB2] 3.1.5.2): one credit per 64 KiB, at least one.
func charge(n int) uint16 {
	if n <= 0 {
		return 1
	}
	return uint16((n-1)/65536 + 1)
}

// take spends c credits and returns the first MessageId of the request, or
// false when not enough credits are available.
func (w *credits) take(c uint16) (uint64, bool) {
	if uint32(c) > w.avail {
		return 0, false
	}
	w.avail -= uint32(c)
	id := w.nextID
	w.nextID += uint64(c)
	return id, true
}

// request is the CreditRequest to send with a request of charge c: enough to
// replace what it spends and to grow the window towards target.
func (w *credits) request(c uint16) uint16 {
	r := uint32(c)
	if w.avail+r < w.target {
		r += min(w.target-w.avail-r, 256)
	}
	return uint16(min(r, 0xFFFF))
}

// grant adds credits from a response.
func (w *credits) grant(n uint16) { w.avail += uint32(n) }
