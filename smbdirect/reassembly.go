package smbdirect

import (
	"errors"
	"fmt"
)

// ErrTooLarge reports an upper-layer message larger than the peer (when
// sending) or we (when receiving) accept as MaxFragmentedSize.
var ErrTooLarge = errors.New("smbdirect: message larger than MaxFragmentedSize")

// reassembler rebuilds upper-layer messages from Data Transfer payloads
// ([MS-SMBD] 3.1.5.8 steps 7-9). Only the receive loop uses it.
//
// Empty messages (DataLength 0: credit grants, keepalives) are skipped
// wherever they come, also between the fragments of a message (ksmbd sends
// them, lab quirk 8; a strict receiver would terminate instead). Anything
// else arriving inside a fragmented message must continue it exactly.
type reassembler struct {
	max   int              // MaxFragmentedRecvSize
	alloc func(int) []byte // buffer for a whole message

	buf       []byte // message being rebuilt (nil: none)
	n         int    // bytes of buf filled
	remaining uint32 // bytes still to come
}

// add takes one fragment's payload and RemainingDataLength and returns the
// message when it is complete.
func (r *reassembler) add(payload []byte, remaining uint32) ([]byte, error) {
	if len(payload) == 0 {
		return nil, nil
	}
	if r.buf == nil {
		total := uint64(len(payload)) + uint64(remaining)
		if total > uint64(r.max) {
			return nil, fmt.Errorf("%w: %d bytes (we accept %d)", ErrTooLarge, total, r.max)
		}
		b := r.alloc(int(total))[:total]
		countCopy(copy(b, payload))
		if remaining == 0 {
			return b, nil
		}
		r.buf, r.n, r.remaining = b, len(payload), remaining
		return nil, nil
	}
	if uint64(len(payload)) > uint64(r.remaining) || r.remaining-uint32(len(payload)) != remaining {
		return nil, fmt.Errorf("%w: fragment of %d bytes with %d remaining after it, expected %d in all",
			ErrBadData, len(payload), remaining, r.remaining)
	}
	n := copy(r.buf[r.n:], payload)
	countCopy(n)
	r.n += n
	r.remaining = remaining
	if remaining > 0 {
		return nil, nil
	}
	b := r.buf
	r.buf, r.n = nil, 0
	return b, nil
}
