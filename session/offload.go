package session

import (
	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// RDMA offload ([MS-SMB2] 3.2.4.6, 3.2.4.7; [MS-SMBD] 3.1.4.3): on an
// SMB-Direct channel, READ and WRITE payloads of at least OffloadThreshold
// bytes travel by RDMA into and out of memory registered for the one I/O,
// named in the request by a Buffer Descriptor V1. This is the only place in
// the session that knows about RDMA.
//
// Not on signed or encrypted sessions: the RDMA payload is outside the SMB2
// message, so the signature or encryption would not cover it (3.1.1 RDMA
// transforms, which would, are not implemented). Such I/O goes inline over
// SMB-Direct sends instead, in messages no larger than the peer takes.

// OffloadThreshold is the smallest I/O moved by RDMA.
const OffloadThreshold = 4096

// offloader returns the channel's RDMA offloader if I/O of n bytes under
// sec may use it.
func offloader(c *conn, sec security, n int) channel.Offloader {
	o, ok := c.t.(channel.Offloader)
	if !ok || n < OffloadThreshold || n > o.MaxReadWriteSize() || sec.sign || sec.cipher != nil {
		return nil
	}
	return o
}

// rdmaChannel is the READ/WRITE Channel value: remote invalidation from 3.0.2
// on, plain RDMA_V1 (local invalidation) on 3.0.
func rdmaChannel(d smb2.Dialect) uint32 {
	if d == smb2.Dialect300 {
		return smb2.ChannelRDMAV1
	}
	return smb2.ChannelRDMAV1Invalidate
}

// offloadRead makes a READ of p use RDMA when its channel allows. A
// successful response must carry no data inline and may report at most
// len(p) bytes placed; otherwise the server broke the contract of the
// region it was given and the channel is dropped.
func offloadRead(r *request, rr *smb2.ReadRequest, p []byte, sec security) {
	r.prepare = func(c *conn) (func(*call) error, error) {
		o := offloader(c, sec, len(p))
		if o == nil {
			rr.Channel, rr.ChannelInfo, r.dst = smb2.ChannelNone, nil, p
			return nil, nil
		}
		reg, err := o.Register(p, channel.ForRead)
		if err != nil {
			return nil, err
		}
		rr.Channel = rdmaChannel(c.dialect)
		rr.ChannelInfo = reg.Descriptor()
		rr.RemainingBytes = 0
		r.dst = nil
		return func(cl *call) error {
			var inv uint32
			var bad error
			if cl != nil {
				inv = cl.invalidated
				var resp smb2.ReadResponse
				if cl.hdr.Status == smb2.StatusSuccess && resp.Unmarshal(cl.body) == nil {
					switch {
					case len(resp.Data) > 0:
						bad = protoErr("READ of %d bytes by RDMA answered with %d bytes inline", len(p), len(resp.Data))
					case int(resp.DataRemaining) > len(p):
						bad = protoErr("RDMA READ reports %d bytes for %d asked", resp.DataRemaining, len(p))
					default:
						c.rdmaRead.Add(uint64(resp.DataRemaining))
						c.bytesRead.Add(uint64(resp.DataRemaining))
					}
				}
			}
			reg.Done(inv)
			if bad != nil {
				c.fail(bad)
				return c.dead()
			}
			return nil
		}, nil
	}
}

// offloadWrite makes a WRITE of p use RDMA when its channel allows: the
// server pulls the data with RDMA Reads; the request carries none.
func offloadWrite(r *request, wr *smb2.WriteRequest, p []byte, sec security) {
	r.prepare = func(c *conn) (func(*call) error, error) {
		o := offloader(c, sec, len(p))
		if o == nil {
			wr.Channel, wr.ChannelInfo, wr.RemainingBytes, wr.Length, r.payload = smb2.ChannelNone, nil, 0, uint32(len(p)), p
			return nil, nil
		}
		reg, err := o.Register(p, channel.ForWrite)
		if err != nil {
			return nil, err
		}
		wr.Channel = rdmaChannel(c.dialect)
		wr.ChannelInfo = reg.Descriptor()
		wr.Length = 0
		wr.RemainingBytes = uint32(len(p))
		r.payload = nil
		return func(cl *call) error {
			var inv uint32
			if cl != nil {
				inv = cl.invalidated
				c.rdmaWritten.Add(uint64(len(p)))
				c.bytesWritten.Add(uint64(len(p)))
			}
			reg.Done(inv)
			return nil
		}, nil
	}
}
