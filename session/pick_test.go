package session

import (
	"errors"
	"net/netip"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/smbd3/mount.smbd3/channel"
	"github.com/smbd3/mount.smbd3/session/smb2"
)

func TestPick(t *testing.T) {
	idle := ChannelState{Healthy: true}
	busy := func(b int64) ChannelState {
		return ChannelState{Healthy: true, InFlight: int(b >> 20), InFlightBytes: b}
	}
	withCap := func(c ChannelState, bps float64) ChannelState { c.Capacity = bps; return c }
	withSpeed := func(c ChannelState, bits uint64) ChannelState { c.Speed = bits; return c }
	dead := ChannelState{}
	rdma := ChannelState{Healthy: true, Kind: channel.RDMA}
	tests := []struct {
		name  string
		chans []ChannelState
		op    Op
		start int
		want  int
	}{
		{"none", nil, Op{}, 0, -1},
		{"all dead", []ChannelState{dead, dead}, Op{}, 0, -1},
		{"one", []ChannelState{idle}, Op{Bytes: 1 << 20}, 5, 0},
		{"skip dead", []ChannelState{dead, idle}, Op{}, 0, 1},
		{"least outstanding", []ChannelState{busy(4 << 20), busy(1 << 20), busy(2 << 20)}, Op{Bytes: 1 << 20}, 0, 1},
		{"tie rotates from start", []ChannelState{idle, idle, idle}, Op{}, 2, 2},
		{"tie rotates wraps", []ChannelState{idle, idle, idle}, Op{}, 4, 1},
		{"requests count, not only bytes", []ChannelState{{Healthy: true, InFlight: 40}, idle}, Op{}, 0, 1},
		// Channel 0 delivers 3x what channel 1 does: with 2 MiB outstanding
		// against 1 MiB it still finishes first.
		{"weighted by measured throughput",
			[]ChannelState{withCap(busy(2<<20), 300e6), withCap(busy(1<<20), 100e6)}, Op{Bytes: 1 << 20}, 1, 0},
		{"congested path gets less",
			[]ChannelState{withCap(busy(1<<20), 50e6), withCap(busy(3<<20), 400e6)}, Op{Bytes: 1 << 20}, 0, 1},
		{"advertised speed before measurement",
			[]ChannelState{withSpeed(busy(1<<20), 400e6), withSpeed(busy(1<<20), 1e9)}, Op{Bytes: 1 << 20}, 0, 1},
		{"measured beats advertised",
			[]ChannelState{withCap(withSpeed(busy(1<<20), 10e9), 10e6), withSpeed(busy(1<<20), 1e9)}, Op{Bytes: 1 << 20}, 0, 1},
		{"offload prefers rdma", []ChannelState{idle, busy(8 << 20), {Healthy: true, Kind: channel.RDMA, InFlightBytes: 8 << 20}}, Op{Offload: true}, 0, 2},
		{"offload without rdma uses tcp", []ChannelState{busy(2 << 20), idle}, Op{Offload: true}, 0, 1},
		{"offload skips dead rdma", []ChannelState{{Kind: channel.RDMA}, idle}, Op{Offload: true}, 0, 1},
		{"no offload: rdma is just a channel", []ChannelState{busy(1 << 20), rdma}, Op{}, 0, 1},
		{"negative start", []ChannelState{idle, idle}, Op{}, -1, 1},
	}
	for _, tt := range tests {
		if got := Pick(tt.chans, tt.op, tt.start); got != tt.want {
			t.Errorf("%s: Pick = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestPickSpread simulates channels draining at their capacity and checks
// that the bytes each gets follow the capacities.
func TestPickSpread(t *testing.T) {
	caps := []float64{50e6, 50e6, 125e6} // 400, 400, 1000 Mbit/s
	chans := make([]ChannelState, len(caps))
	for i := range chans {
		chans[i] = ChannelState{Healthy: true, Capacity: caps[i]}
	}
	got := make([]float64, len(caps))
	const chunk = 1 << 20
	// Keep 12 chunks outstanding; each step, time advances by 1 ms and
	// every channel drains capacity*1ms bytes.
	for step := 0; step < 20000; step++ {
		total := int64(0)
		for i := range chans {
			total += chans[i].InFlightBytes
		}
		for total < 12*chunk {
			i := Pick(chans, Op{Bytes: chunk}, step)
			chans[i].InFlightBytes += chunk
			chans[i].InFlight++
			got[i] += chunk
			total += chunk
		}
		for i := range chans {
			chans[i].InFlightBytes = max(0, chans[i].InFlightBytes-int64(caps[i]/1000))
			chans[i].InFlight = int((chans[i].InFlightBytes + chunk - 1) / chunk)
		}
	}
	sum, capSum := 0.0, 0.0
	for i := range got {
		sum += got[i]
		capSum += caps[i]
	}
	for i := range got {
		share, want := got[i]/sum, caps[i]/capSum
		if share < want*0.9 || share > want*1.1 {
			t.Errorf("channel %d got %.3f of the bytes, want %.3f (±10%%)", i, share, want)
		}
	}
}

func TestPlan(t *testing.T) {
	c := func(addr string, speed uint64, rss, rdma bool, have int) Candidate {
		return Candidate{Addr: netip.MustParseAddr(addr), Speed: speed, RSS: rss, RDMA: rdma, Have: have}
	}
	tests := []struct {
		name  string
		cands []Candidate
		max   int
		want  []int
	}{
		{"empty", nil, 4, []int{}},
		{"one plain address has its first channel", []Candidate{c("10.0.0.1", 1e9, false, false, 1)}, 4, []int{1}},
		{"one per address first", []Candidate{c("10.0.0.1", 1e9, false, false, 1), c("10.0.0.2", 1e9, false, false, 0), c("10.0.0.3", 1e9, false, false, 0)}, 4, []int{1, 1, 1}},
		{"max bounds", []Candidate{c("10.0.0.1", 1e9, false, false, 1), c("10.0.0.2", 1e9, false, false, 0), c("10.0.0.3", 1e9, false, false, 0)}, 2, []int{1, 1, 0}},
		{"prefer fast when max is short", []Candidate{c("10.0.0.1", 1e9, false, false, 1), c("10.0.0.2", 400e6, false, false, 0), c("10.0.0.3", 10e9, false, false, 0)}, 2, []int{1, 0, 1}},
		{"prefer rss then speed", []Candidate{c("10.0.0.1", 1e9, false, false, 0), c("10.0.0.2", 100e6, true, false, 0)}, 1, []int{0, 1}},
		{"prefer rdma", []Candidate{c("10.0.0.1", 10e9, true, false, 0), c("10.0.0.2", 1e9, false, true, 0)}, 1, []int{0, 1}},
		{"rss gets up to 4, weighted by speed", []Candidate{c("10.0.0.1", 1e9, true, false, 1), c("10.0.0.2", 400e6, true, false, 0), c("10.0.0.3", 400e6, true, false, 0)}, 8, []int{4, 2, 2}},
		{"rss share of 6", []Candidate{c("10.0.0.1", 1e9, true, false, 1), c("10.0.0.2", 400e6, true, false, 0), c("10.0.0.3", 400e6, true, false, 0)}, 6, []int{4, 1, 1}},
		{"non-rss stays at one", []Candidate{c("10.0.0.1", 1e9, false, false, 1), c("10.0.0.2", 1e9, false, false, 0)}, 8, []int{1, 1}},
		{"rdma gets 2", []Candidate{c("10.0.0.1", 1e9, false, true, 0)}, 8, []int{2}},
		{"existing kept beyond plan", []Candidate{c("10.0.0.1", 1e9, false, false, 3)}, 2, []int{3}},
		{"unknown speed counts as 1 Gbit", []Candidate{c("10.0.0.1", 0, true, false, 0), c("10.0.0.2", 2e9, true, false, 0)}, 3, []int{1, 2}},
	}
	for _, tt := range tests {
		got := Plan(tt.cands, tt.max)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Plan = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCandidates(t *testing.T) {
	v6 := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	ifs := []smb2.NetworkInterface{
		{IfIndex: 1, Capability: smb2.InterfaceRSSCapable, LinkSpeed: 1e9, Family: 2, Addr: []byte{127, 0, 0, 2}},
		{IfIndex: 1, LinkSpeed: 1e9, Family: 2, Addr: []byte{127, 0, 0, 2}}, // duplicate
		{IfIndex: 2, Family: 2, Addr: []byte{0, 0, 0, 0}},                   // unspecified
		{IfIndex: 2, Family: 2, Addr: []byte{224, 0, 0, 1}},                 // multicast
		{IfIndex: 3, Capability: smb2.InterfaceRDMACapable, LinkSpeed: 10e9, Family: 0x17, Addr: v6("fd00::5")},
		{IfIndex: 3, Family: 0x17, Addr: v6("fe80::1")},             // link-local without scope
		{IfIndex: 3, Family: 0x17, Addr: v6("fe80::2"), ScopeID: 7}, // with scope
		{IfIndex: 4, Family: 0x17, Addr: v6("::ffff:10.1.2.3")},     // v4-mapped
		{IfIndex: 5, Family: 9, Addr: []byte{1, 2}},                 // unknown family
	}
	got := candidates(ifs)
	want := []Candidate{
		{Addr: netip.MustParseAddr("127.0.0.2"), IfIndex: 1, RSS: true, Speed: 1e9},
		{Addr: netip.MustParseAddr("fd00::5"), IfIndex: 3, RDMA: true, Speed: 10e9},
		{Addr: netip.MustParseAddr("fe80::2%7"), IfIndex: 3},
		{Addr: netip.MustParseAddr("10.1.2.3"), IfIndex: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("candidates:\n got %+v\nwant %+v", got, want)
	}
}

func TestReplayable(t *testing.T) {
	open := func(disp, access uint32) *request {
		return &request{cmd: smb2.CmdCreate, body: &smb2.CreateRequest{CreateDisposition: disp, DesiredAccess: access}}
	}
	cl := &request{cmd: smb2.CmdClose, body: &smb2.CloseRequest{}}
	q := &request{cmd: smb2.CmdQueryInfo, body: &smb2.QueryInfoRequest{}}
	set := &request{cmd: smb2.CmdSetInfo, body: &smb2.SetInfoRequest{}}
	if !replayableCompound([]*request{open(smb2.FileOpen, smb2.FileReadAttributes), q, cl}) {
		t.Error("stat compound should replay")
	}
	if replayableCompound([]*request{open(smb2.FileOpen, smb2.Delete|smb2.FileReadAttributes), set, cl}) {
		t.Error("unlink compound must not replay")
	}
	if replayableCompound([]*request{open(smb2.FileCreate, smb2.FileReadAttributes), cl}) {
		t.Error("mkdir compound must not replay")
	}
	if replayableCompound([]*request{open(smb2.FileOpen, smb2.FileReadAttributes), q}) {
		t.Error("a compound that leaves a handle open must not replay")
	}
	for _, cmd := range []smb2.Command{smb2.CmdCreate, smb2.CmdLock, smb2.CmdQueryDirectory} {
		if replayable(&request{cmd: cmd}) {
			t.Errorf("%s must not replay", cmd)
		}
	}
	for _, cmd := range []smb2.Command{smb2.CmdRead, smb2.CmdWrite, smb2.CmdClose, smb2.CmdSetInfo} {
		if !replayable(&request{cmd: cmd}) {
			t.Errorf("%s should replay", cmd)
		}
	}
}

// TestSameNegotiation: a new connection whose NEGOTIATE answer differs
// from the first one's is dropped before binding ([MS-SMB2] 3.2.5.2).
func TestSameNegotiation(t *testing.T) {
	mk := func() *conn {
		return &conn{addr: "a", dialect: smb2.Dialect311, serverGUID: [16]byte{1}, secMode: 1, caps: 0x4f, signAlgo: 1, cipherID: 2}
	}
	s := &Session{first: mk()}
	if err := s.sameNegotiation(mk()); err != nil {
		t.Fatalf("identical negotiation refused: %v", err)
	}
	for name, mod := range map[string]func(c *conn){
		"server guid":   func(c *conn) { c.serverGUID[0] = 9 },
		"dialect":       func(c *conn) { c.dialect = smb2.Dialect302 },
		"security mode": func(c *conn) { c.secMode = 3 },
		"capabilities":  func(c *conn) { c.caps = 0x47 },
		"signing algo":  func(c *conn) { c.signAlgo = 2 },
		"cipher":        func(c *conn) { c.cipherID = 4 },
	} {
		c := mk()
		mod(c)
		if err := s.sameNegotiation(c); !errors.Is(err, ErrBindRefused) {
			t.Errorf("%s differs: %v, want ErrBindRefused", name, err)
		}
	}
}

// TestRaiseIdle: an idle channel's capacity estimate climbs toward half
// the best of its transport's (a starved channel is tried again); busy
// channels, unmeasured ones, ones already at half the best and other
// transports' are left alone.
func TestRaiseIdle(t *testing.T) {
	vals := []float64{1000, 100, 100, 600, 0, 10}
	kinds := []channel.Kind{channel.TCP, channel.TCP, channel.TCP, channel.TCP, channel.TCP, channel.RDMA}
	idle := []bool{true, true, false, true, true, true}
	caps := make([]*atomic.Uint64, len(vals))
	for i, v := range vals {
		caps[i] = new(atomic.Uint64)
		storeF(caps[i], v)
	}
	raiseIdle(caps, kinds, idle)
	want := []float64{1000, 100 + idleRecovery*400, 100, 600, 0, 10}
	for i, w := range want {
		if got := loadF(caps[i]); got != w {
			t.Errorf("channel %d: %v, want %v", i, got, w)
		}
	}
	for range 20 {
		raiseIdle(caps, kinds, idle)
	}
	if got := loadF(caps[1]); got < 495 || got > 500 {
		t.Errorf("after 20 idle intervals: %v, want close to 500", got)
	}
}
