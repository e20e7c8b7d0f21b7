package session

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/smbd3/mount.smbd3/session/smb2"
)

// Multichannel discovery and channel upkeep ([MS-SMB2] 3.2.4.20.10,
// 3.2.5.14.11): after the first tree connect, the server's interface list
// is queried with FSCTL_QUERY_NETWORK_INTERFACE_INFO; Plan decides how many
// connections each advertised address gets; missing ones are dialed and
// bound in the background. An address that cannot be reached or refuses
// binding is retried with exponential backoff and never fails the mount.
// The list is queried again every Config.InterfaceRefresh and after a
// channel is lost. Only addresses the server advertised are dialed, with
// the port of Config.Addr.

const (
	retryMin = time.Second
	retryMax = time.Minute
)

// multi is the multichannel state of a session. Lock order: Session.mu
// before multi.mu.
type multi struct {
	s    *Session
	tree *Tree // the discovery IOCTL goes on it
	port string
	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	cands   []Candidate
	queried time.Time
	query   bool                     // query the interfaces at the next pass
	down    map[netip.Addr]*downAddr // addresses in backoff
}

type downAddr struct {
	next  time.Time
	delay time.Duration
	err   error
	n     int // connections missing there
}

// startMulti begins multichannel on the first tree, when the session and
// the server can do it.
func (s *Session) startMulti(t *Tree) {
	if !s.cfg.Multichannel || s.cfg.MaxChannels < 2 {
		return
	}
	if s.first.caps&smb2.CapMultiChannel == 0 || s.signer == nil || s.guest || s.null {
		s.log.Debug("multichannel not possible", "caps", s.first.caps, "guest", s.guest)
		return
	}
	_, port, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return
	}
	m := &multi{s: s, tree: t, port: port, kick: make(chan struct{}, 1), done: make(chan struct{}),
		query: true, down: map[netip.Addr]*downAddr{}}
	s.mu.Lock()
	if s.mc != nil || s.closed {
		s.mu.Unlock()
		return
	}
	s.mc = m
	s.mu.Unlock()
	go m.run()
}

// lost is called when a channel dies: query the interfaces again and
// replace it.
func (m *multi) lost(c *conn) {
	m.mu.Lock()
	m.query = true
	m.mu.Unlock()
	m.wake()
}

func (m *multi) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// wait returns when the upkeep goroutine has stopped (after Session.stop).
func (m *multi) wait() { <-m.done }

func (m *multi) run() {
	defer close(m.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-m.s.stop:
			return
		case <-m.kick:
		case <-timer.C:
		}
		next := m.pass()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(time.Until(next))
	}
}

// pass queries the interfaces if due, opens missing channels and returns
// when it wants to run again.
func (m *multi) pass() time.Time {
	s := m.s
	now := time.Now()
	m.mu.Lock()
	due := m.query || now.Sub(m.queried) >= s.cfg.InterfaceRefresh
	m.mu.Unlock()
	if due {
		ifs, err := m.queryInterfaces()
		m.mu.Lock()
		m.queried = time.Now()
		m.query = false
		if err != nil {
			s.log.Info("multichannel: interface query failed", "err", err)
		} else {
			m.cands = candidates(ifs)
			s.log.Debug("multichannel: interfaces", "n", len(m.cands))
		}
		cands := m.cands
		m.mu.Unlock()
		s.mu.Lock()
		for _, c := range s.conns {
			for _, cd := range cands {
				if cd.Addr == remoteIP(c) {
					c.speed.Store(cd.Speed)
				}
			}
		}
		s.mu.Unlock()
	}
	for _, job := range m.missing() {
		select {
		case <-s.stop:
			return time.Now()
		default:
		}
		m.open(job)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.queried.Add(s.cfg.InterfaceRefresh)
	for _, d := range m.down {
		if d.n > 0 && d.next.Before(next) {
			next = d.next
		}
	}
	return next
}

type openJob struct {
	c     Candidate
	count int
}

// missing lists the connections the plan wants that are not open and not
// in backoff.
func (m *multi) missing() []openJob {
	s := m.s
	s.mu.Lock()
	have := map[netip.Addr]int{}
	other := 0
	for _, c := range s.conns {
		if c.failed.Load() {
			continue
		}
		have[remoteIP(c)]++
	}
	s.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	cands := append([]Candidate(nil), m.cands...)
	known := 0
	for i := range cands {
		cands[i].Have = have[cands[i].Addr]
		known += cands[i].Have
	}
	for _, n := range have {
		other += n
	}
	other -= known // channels to addresses the server did not list (e.g. the first, by name)
	want := Plan(cands, s.cfg.MaxChannels-other)
	now := time.Now()
	var jobs []openJob
	for i, c := range cands {
		n := want[i] - c.Have
		d := m.down[c.Addr]
		if d != nil {
			d.n = n
			if n <= 0 {
				delete(m.down, c.Addr)
				continue
			}
			if now.Before(d.next) {
				continue
			}
		}
		if n > 0 {
			jobs = append(jobs, openJob{c, n})
		}
	}
	return jobs
}

// open dials and binds job.count channels to one address.
func (m *multi) open(job openJob) {
	s := m.s
	addr := net.JoinHostPort(job.c.Addr.String(), m.port)
	rdma := job.c.RDMA && s.cfg.DialRDMA != nil
	if rdma {
		// An RDMA-capable interface gets SMB-Direct channels.
		addr = net.JoinHostPort(job.c.Addr.String(), strconv.Itoa(s.cfg.RDMAPort))
	}
	for i := 0; i < job.count; i++ {
		ctx, cancel := context.WithTimeout(s.stopCtx, s.cfg.DialTimeout)
		c, err := s.addChannel(ctx, addr, rdma)
		cancel()
		if err == nil {
			c.speed.Store(job.c.Speed)
			if !s.addConn(c) {
				c.close()
				return
			}
			s.log.Info("channel bound", "addr", addr, "speed", job.c.Speed)
			m.mu.Lock()
			delete(m.down, job.c.Addr)
			m.mu.Unlock()
			continue
		}
		s.log.Info("multichannel: cannot add channel", "addr", addr, "err", err)
		m.mu.Lock()
		d := m.down[job.c.Addr]
		if d == nil {
			d = &downAddr{delay: retryMin}
			m.down[job.c.Addr] = d
		} else {
			d.delay = min(d.delay*2, retryMax)
		}
		d.err, d.n = err, job.count-i
		d.next = time.Now().Add(d.delay)
		m.mu.Unlock()
		return
	}
}

// queryInterfaces runs FSCTL_QUERY_NETWORK_INTERFACE_INFO on the tree,
// signed ([MS-SMB2] 3.2.4.20.10).
func (m *multi) queryInterfaces() ([]smb2.NetworkInterface, error) {
	s := m.s
	ctx, cancel := context.WithTimeout(s.stopCtx, s.cfg.DialTimeout)
	defer cancel()
	sec := m.tree.sec
	sec.sign = sec.signer != nil
	calls, err := s.do(ctx, sec, Op{}, true, &request{cmd: smb2.CmdIoctl, tree: m.tree.id, body: &smb2.IoctlRequest{
		CtlCode: smb2.FsctlQueryNetworkInterfaceInfo, FileID: smb2.AnyFileID,
		MaxOutputResponse: 64 << 10, Flags: smb2.IoctlFlagIsFsctl,
	}})
	if err != nil {
		return nil, err
	}
	cl := calls[0]
	defer cl.release()
	if err := statusErr(cl); err != nil {
		return nil, err
	}
	var resp smb2.IoctlResponse
	if err := resp.Unmarshal(cl.body); err != nil {
		return nil, err
	}
	return smb2.ParseNetworkInterfaces(resp.Output)
}

// pending reports the planned channels that are not connected.
func (m *multi) pending() []ChannelInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ChannelInfo
	for _, a := range sortedKeys(m.down) {
		d := m.down[a]
		for i := 0; i < d.n; i++ {
			ci := ChannelInfo{Transport: "tcp", ServerAddress: net.JoinHostPort(a.String(), m.port), State: "reconnecting",
				NextRetry: d.next.Format(time.RFC3339)}
			if d.err != nil {
				ci.LastError = d.err.Error()
			}
			for _, c := range m.cands {
				if c.Addr == a {
					ci.LinkSpeedBps = c.Speed
					if c.RDMA && m.s.cfg.DialRDMA != nil {
						ci.Transport = "rdma"
						ci.ServerAddress = net.JoinHostPort(a.String(), strconv.Itoa(m.s.cfg.RDMAPort))
					}
				}
			}
			out = append(out, ci)
		}
	}
	return out
}
