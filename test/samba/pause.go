package samba

import (
	"syscall"
	"testing"
)

// Pause freezes smbd and every child serving a client (SIGSTOP to the
// process group): connections stay open but nothing answers, as when a
// server hangs or a link silently drops packets.
func (s *Server) Pause(t testing.TB) { s.signalGroup(t, syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *Server) Resume(t testing.TB) { s.signalGroup(t, syscall.SIGCONT) }

func (s *Server) signalGroup(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("samba: signal %v: %v", sig, err)
	}
}
