package session

import (
	"math"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"github.com/smbd3/mount.smbd3/channel"
)

// ChannelInfo describes one channel of a session for status reporting
// (mount.smbd3 status). Throughputs are in bytes per second (B/s), link
// speed in bits per second, as the server advertises it.
type ChannelInfo struct {
	ID                 int     `json:"id"`
	Transport          string  `json:"transport"` // "tcp" or "rdma"
	LocalAddress       string  `json:"local_address"`
	ServerAddress      string  `json:"server_address"`
	State              string  `json:"state"` // "active", "failed", "reconnecting"
	Primary            bool    `json:"primary"`
	BytesRead          uint64  `json:"bytes_read"`         // bytes received on the channel
	BytesWritten       uint64  `json:"bytes_written"`      // WRITE payload bytes sent on the channel
	RDMABytesRead      uint64  `json:"rdma_bytes_read"`    // READ payload placed by RDMA (part of bytes_read)
	RDMABytesWritten   uint64  `json:"rdma_bytes_written"` // WRITE payload pulled by RDMA (part of bytes_written)
	Requests           uint64  `json:"requests"`
	Messages           uint64  `json:"messages"` // messages sent: a compound of requests is one, a round trip
	InFlight           int64   `json:"in_flight"`
	ThroughputReadBps  float64 `json:"throughput_read_bps"`  // recent receive rate, B/s
	ThroughputWriteBps float64 `json:"throughput_write_bps"` // recent send rate, B/s
	CapacityBps        float64 `json:"capacity_bps"`         // B/s the channel delivers while busy (the picker's weight)
	LatencyMs          float64 `json:"latency_ms"`           // EWMA of response latency
	LinkSpeedBps       uint64  `json:"link_speed_bps"`       // advertised, bits/s; 0 unknown
	LastError          string  `json:"last_error,omitempty"`
	NextRetry          string  `json:"next_retry,omitempty"` // RFC 3339, for a channel being reconnected
}

// chanStats are a channel's recent rates. The atomics are read by anyone;
// the other fields belong to the session's sampler goroutine.
type chanStats struct {
	readRate, writeRate, capacity atomic.Uint64 // float64 bits, B/s

	at                  int64
	lastRead, lastWrite uint64
	lastBusy            int64
}

func loadF(a *atomic.Uint64) float64     { return math.Float64frombits(a.Load()) }
func storeF(a *atomic.Uint64, v float64) { a.Store(math.Float64bits(v)) }

func ewma(a *atomic.Uint64, sample, alpha float64) {
	old := loadF(a)
	if old == 0 {
		storeF(a, sample)
		return
	}
	storeF(a, old+alpha*(sample-old))
}

// sampleInterval is how often channel rates are sampled.
const sampleInterval = time.Second

// sample updates the channel's rates; called by the sampler only. It
// reports whether the channel was idle for most of the interval, so that
// its capacity was not measured.
func (c *conn) sample(now time.Time) (idle bool) {
	st := &c.stats
	n := now.UnixNano()
	rd, wr := c.bytesRead.Load(), c.bytesWritten.Load()
	busy := c.busyNanos.Load()
	if c.outReqs.Load() > 0 {
		busy += n - c.busySince.Load()
	}
	if st.at != 0 {
		dt := float64(n-st.at) / 1e9
		dr, dw := float64(rd-st.lastRead), float64(wr-st.lastWrite)
		if dt > 0 {
			ewma(&st.readRate, dr/dt, 0.5)
			ewma(&st.writeRate, dw/dt, 0.5)
		}
		// Capacity: bytes moved per second of busy time, when the channel
		// was busy for a good part of the interval and moved real data.
		db := float64(busy-st.lastBusy) / 1e9
		if db > dt/4 && dr+dw > 1<<20 {
			ewma(&st.capacity, (dr+dw)/db, 0.3)
		}
		idle = db <= dt/4
	}
	st.at, st.lastRead, st.lastWrite, st.lastBusy = n, rd, wr, busy
	return idle
}

// idleRecovery is how far, each sampleInterval, the capacity estimate of
// an idle channel moves toward half the best of its transport's channels.
const idleRecovery = 0.3

// raiseIdle moves the capacity estimate of each idle channel toward half
// the best estimate among the channels of its transport. An estimate
// taken while a channel stalled for a moment may be a tenth of the
// others'; the picker then sends it nothing while the others' windows
// have room, so it is never measured again and stays starved for the
// session's life. Idle, it regains some benefit of the doubt, carries
// traffic again, and is measured anew. Half, not all: a channel that
// really is much slower then carries little while it is being found out.
func raiseIdle(caps []*atomic.Uint64, kinds []channel.Kind, idle []bool) {
	for i, cp := range caps {
		c := loadF(cp)
		if !idle[i] || c == 0 {
			continue
		}
		best := 0.0
		for j, other := range caps {
			if kinds[j] == kinds[i] {
				best = max(best, loadF(other))
			}
		}
		if t := best / 2; t > c {
			storeF(cp, c+idleRecovery*(t-c))
		}
	}
}

// sampler updates the rates of every channel until the session closes.
func (s *Session) sampler() {
	tick := time.NewTicker(sampleInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			s.mu.Lock()
			conns := append([]*conn(nil), s.conns...)
			s.mu.Unlock()
			caps := make([]*atomic.Uint64, len(conns))
			kinds := make([]channel.Kind, len(conns))
			idle := make([]bool, len(conns))
			for i, c := range conns {
				idle[i] = c.sample(now)
				caps[i], kinds[i] = &c.stats.capacity, c.kind
			}
			raiseIdle(caps, kinds, idle)
		}
	}
}

// info is the status of one live (or just failed) channel.
func (c *conn) info() ChannelInfo {
	ci := ChannelInfo{
		Transport:          c.kind.String(),
		ServerAddress:      c.addr,
		State:              "active",
		BytesRead:          c.bytesRead.Load(),
		BytesWritten:       c.bytesWritten.Load(),
		RDMABytesRead:      c.rdmaRead.Load(),
		RDMABytesWritten:   c.rdmaWritten.Load(),
		Requests:           c.nreq.Load(),
		Messages:           c.nmsg.Load(),
		InFlight:           max(c.outReqs.Load(), 0),
		ThroughputReadBps:  loadF(&c.stats.readRate),
		ThroughputWriteBps: loadF(&c.stats.writeRate),
		CapacityBps:        loadF(&c.stats.capacity),
		LatencyMs:          float64(c.latency.Load()) / 1e6,
		LinkSpeedBps:       c.speed.Load(),
	}
	if a := c.t.LocalAddr(); a != nil {
		ci.LocalAddress = a.String()
	}
	if a := c.t.RemoteAddr(); a != nil {
		ci.ServerAddress = a.String()
	}
	if err := c.dead(); err != nil {
		ci.State = "failed"
		ci.LastError = err.Error()
	}
	return ci
}

// Channels reports every channel of the session: the connected ones and,
// with multichannel, the planned ones being reconnected. Safe to call at
// any time from any goroutine.
func (s *Session) Channels() []ChannelInfo {
	s.mu.Lock()
	conns := append([]*conn(nil), s.conns...)
	first := s.first
	m := s.mc
	s.mu.Unlock()
	out := make([]ChannelInfo, 0, len(conns))
	for _, c := range conns {
		ci := c.info()
		ci.Primary = c == first
		out = append(out, ci)
	}
	if m != nil {
		out = append(out, m.pending()...)
	}
	for i := range out {
		out[i].ID = i
	}
	return out
}

// remoteIP is the server address a conn is connected to.
func remoteIP(c *conn) netip.Addr {
	if a := c.t.RemoteAddr(); a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap.Addr().Unmap()
		}
	}
	return netip.Addr{}
}

func sortedKeys[V any](m map[netip.Addr]V) []netip.Addr {
	keys := make([]netip.Addr, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	return keys
}
