package session

import (
	"context"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Chains longer than a channel takes (channel.Limits.MaxChainParts: ksmbd
// over iWARP answers at most 3 parts in one SMB-Direct send) go out as
// several shorter chains: the first keeps the CREATE that opens the
// handle, the others name the FileId it returned. The caller sees the
// calls of one chain, in order.

// chainParts counts the parts of the answer to reqs: one per response, and
// one more for the data of a READ.
func chainParts(reqs []*request) int {
	n := 0
	for _, r := range reqs {
		n++
		if r.cmd == smb2.CmdRead {
			n++
		}
	}
	return n
}

// fitChain returns how many leading requests of reqs fit in lim parts
// (at least one).
func fitChain(reqs []*request, lim int) int {
	for n := len(reqs); n > 1; n-- {
		if chainParts(reqs[:n]) <= lim {
			return n
		}
	}
	return 1
}

// doSplit sends the related chain reqs, too long for a channel bounded to
// lim parts, as consecutive shorter chains (see do).
func (s *Session) doSplit(ctx context.Context, sec security, op Op, replay bool, lim int, reqs []*request) ([]*call, error) {
	n := fitChain(reqs, lim)
	head, rest := reqs[:n], reqs[n:]
	calls, err := s.do(ctx, sec, op, replay && replayableCompound(head), head...)
	if err != nil {
		return nil, err
	}
	if head[0].cmd == smb2.CmdCreate {
		var cr smb2.CreateResponse
		if statusErr(calls[0]) != nil || cr.Unmarshal(calls[0].body) != nil {
			// A server fails the requests related to a failed CREATE
			// with its status: so do we, without sending them.
			st := calls[0].hdr.Status
			if !st.IsError() {
				st = smb2.StatusInvalidParameter
			}
			for _, r := range rest {
				calls = append(calls, &call{cmd: r.cmd, hdr: smb2.Header{Command: r.cmd, Status: st}})
			}
			return calls, nil
		}
		for _, r := range rest {
			setFileID(r, cr.FileID)
		}
	}
	rest[0].related = false // it starts a message; the others stay related
	more, err := s.do(ctx, sec, op, replay && replayableCompound(rest), rest...)
	if err != nil {
		for _, cl := range calls {
			cl.release()
		}
		return nil, err
	}
	return append(calls, more...), nil
}

// setFileID points a request that uses the chain's handle at fid
// explicitly (a related request after the first of a chain would take it
// from the CREATE, which is now in another message).
func setFileID(r *request, fid smb2.FileID) {
	switch b := r.body.(type) {
	case *smb2.QueryInfoRequest:
		b.FileID = fid
	case *smb2.SetInfoRequest:
		b.FileID = fid
	case *smb2.CloseRequest:
		b.FileID = fid
	case *smb2.ReadRequest:
		b.FileID = fid
	case *smb2.WriteRequest:
		b.FileID = fid
	case *smb2.QueryDirectoryRequest:
		b.FileID = fid
	case *smb2.IoctlRequest:
		b.FileID = fid
	case *smb2.FlushRequest:
		b.FileID = fid
	case *smb2.LockRequest:
		b.FileID = fid
	}
}
