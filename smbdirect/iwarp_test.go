package smbdirect

import (
	"testing"
	"time"

	"github.com/smbd3/mount.smbd3/smbdirect/rdma"
	"github.com/smbd3/mount.smbd3/smbdirect/rdma/iwarp"
)

// The core tests (forEachProvider) also run over the pure-Go iWARP
// provider on 127.0.0.1.
//
// FirstFPDUDelay: the seam cannot post receives before Accept returns, and
// an accepted iwarp QP reads inbound FPDUs at once, so our own initiator's
// Negotiate Request can beat our responder's first PostRecv (DDP "no
// buffer", seen under -race). Until the provider holds inbound Sends of an
// accepted QP until its first PostRecv (as loop_test.go's passive QPs do),
// the initiator waits 50 ms after the MPA exchange. Real servers (ksmbd,
// Windows) post before accepting and are not affected.
func init() {
	extraEnvs = append(extraEnvs, provEnv{
		name: "iwarp",
		new:  func(testing.TB) rdma.Provider { return iwarp.New(iwarp.Options{FirstFPDUDelay: 50 * time.Millisecond}) },
		addr: func() string { return "127.0.0.1:0" },
	})
}
