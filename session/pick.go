package session

import (
	"net/netip"
	"sort"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

// This file is the multichannel policy: which channel a request goes to
// (Pick) and how many connections each advertised server address gets
// (Plan). Both are pure functions of their inputs, table-tested in
// pick_test.go; the engine only gathers the inputs.

// ChannelState is what the picker knows about one channel.
type ChannelState struct {
	Kind          channel.Kind
	Healthy       bool    // bound, not failed, not stalled
	InFlight      int     // requests sent and not answered
	InFlightBytes int64   // bytes those requests move (by credit charge)
	Capacity      float64 // bytes/s the channel delivered while busy (EWMA); 0: not measured yet
	Speed         uint64  // advertised link speed, bits/s; 0: unknown
}

// Op describes the request to place.
type Op struct {
	Bytes   int  // payload bytes the request moves
	Offload bool // the request wants an RDMA channel (direct placement)
}

// defaultCapacity is assumed for a channel with neither a measured
// throughput nor an advertised speed: 1 Gbit/s.
const defaultCapacity = 125e6

// perRequestCost is the bytes-equivalent cost of one outstanding request,
// so that a channel with many small requests in flight is not taken for idle.
const perRequestCost = 4096

// capacity is a channel's expected throughput in bytes/s: what it has
// delivered when that is known, else what its link advertises.
func (c *ChannelState) capacity() float64 {
	if c.Capacity > 0 {
		return c.Capacity
	}
	if c.Speed > 0 {
		return float64(c.Speed) / 8
	}
	return defaultCapacity
}

// Pick returns the index of the channel op should go to, or -1 when no
// channel is healthy. It takes the channel that would finish its
// outstanding work plus op first: (in-flight bytes + op bytes) divided by
// the channel's capacity. A slow or congested channel keeps more bytes
// outstanding for longer and so gets less; a channel that has delivered
// more gets more. When op wants offload, RDMA channels are preferred if any
// is healthy. Ties go to the first channel at or after start (rotation).
func Pick(chans []ChannelState, op Op, start int) int {
	wantRDMA := false
	if op.Offload {
		for i := range chans {
			if chans[i].Healthy && chans[i].Kind == channel.RDMA {
				wantRDMA = true
				break
			}
		}
	}
	best, bestCost := -1, 0.0
	n := len(chans)
	if n == 0 {
		return -1
	}
	if start < 0 {
		start = -start
	}
	for k := 0; k < n; k++ {
		i := (start + k) % n
		c := &chans[i]
		if !c.Healthy || (wantRDMA && c.Kind != channel.RDMA) {
			continue
		}
		work := float64(c.InFlightBytes) + float64(c.InFlight)*perRequestCost + float64(op.Bytes) + perRequestCost
		cost := work / c.capacity()
		if best < 0 || cost < bestCost {
			best, bestCost = i, cost
		}
	}
	return best
}

// Window is how many bytes a channel may have in flight before further
// requests wait for one to finish: what it delivers in windowTime, at
// least minWindow. Requests beyond every channel's window are placed as
// channels drain, so the split follows what each channel really delivers
// even when its capacity estimate is off.
func Window(c *ChannelState) int64 {
	return max(minWindow, int64(c.capacity()*windowTime))
}

// Full reports whether op would take the channel past its window (a
// channel with nothing in flight always takes a request).
func Full(c *ChannelState, op Op) bool {
	return c.InFlightBytes > 0 && c.InFlightBytes+int64(op.Bytes) > Window(c)
}

const (
	minWindow  = 8 << 20
	windowTime = 0.025 // seconds
)

// Candidate is one server address a channel may be opened to, from
// FSCTL_QUERY_NETWORK_INTERFACE_INFO.
type Candidate struct {
	Addr    netip.Addr
	IfIndex uint32
	RSS     bool
	RDMA    bool
	Speed   uint64 // bits/s; 0 unknown
	Have    int    // connections already open to it (the first channel counts)
}

// candidates turns the server's interface list into dialable addresses:
// IPv4 and IPv6, without unspecified, multicast or IPv6 link-local
// addresses that carry no scope, and without duplicates.
func candidates(ifs []smb2.NetworkInterface) []Candidate {
	var out []Candidate
	seen := map[netip.Addr]bool{}
	for _, ni := range ifs {
		var a netip.Addr
		switch {
		case ni.Family == 0x2 && len(ni.Addr) == 4:
			a = netip.AddrFrom4([4]byte(ni.Addr))
		case ni.Family == 0x17 && len(ni.Addr) == 16:
			a = netip.AddrFrom16([16]byte(ni.Addr))
			if a.Is4In6() {
				a = a.Unmap()
			}
		default:
			continue
		}
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			continue
		}
		if a.Is6() && a.IsLinkLocalUnicast() {
			if ni.ScopeID == 0 {
				continue
			}
			a = a.WithZone(itoa(ni.ScopeID))
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, Candidate{
			Addr: a, IfIndex: ni.IfIndex, Speed: ni.LinkSpeed,
			RSS:  ni.Capability&smb2.InterfaceRSSCapable != 0,
			RDMA: ni.Capability&smb2.InterfaceRDMACapable != 0,
		})
	}
	return out
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// perAddrLimit is how many connections one address may get ([MS-SMB2]
// <198>: 4 per RSS-capable interface, 2 per RDMA-capable one, else 1).
func perAddrLimit(c *Candidate) int {
	switch {
	case c.RSS:
		return 4
	case c.RDMA:
		return 2
	}
	return 1
}

// Plan says how many connections each candidate should have in total
// (including Have) for a session of at most max channels. Every candidate
// gets one connection first, in order of preference (RDMA, then RSS, then
// link speed); the remaining slots go, one at a time, to the candidate with
// the highest speed per connection that is still under its per-address
// limit (RSS 4, RDMA 2, else 1). Existing connections are never planned
// away; the result has one entry per candidate, in the input order.
func Plan(cands []Candidate, max int) []int {
	want := make([]int, len(cands))
	total := 0
	for i := range cands {
		want[i] = cands[i].Have
		total += cands[i].Have
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	rank := func(c *Candidate) int {
		r := 0
		if c.RDMA {
			r += 2
		}
		if c.RSS {
			r++
		}
		return r
	}
	sort.SliceStable(order, func(a, b int) bool {
		ca, cb := &cands[order[a]], &cands[order[b]]
		if rank(ca) != rank(cb) {
			return rank(ca) > rank(cb)
		}
		return speedOf(ca) > speedOf(cb)
	})
	for _, i := range order {
		if total >= max {
			return want
		}
		if want[i] == 0 {
			want[i] = 1
			total++
		}
	}
	for total < max {
		best, bestScore := -1, 0.0
		for _, i := range order {
			c := &cands[i]
			if want[i] >= perAddrLimit(c) {
				continue
			}
			score := float64(speedOf(c)) / float64(want[i]+1)
			if best < 0 || score > bestScore {
				best, bestScore = i, score
			}
		}
		if best < 0 {
			break
		}
		want[best]++
		total++
	}
	return want
}

func speedOf(c *Candidate) uint64 {
	if c.Speed == 0 {
		return 1e9
	}
	return c.Speed
}
