package lab

import (
	"fmt"
	"os"
	"testing"
)

// TestMain prints what the guest's kernel knows when a lab test failed:
// the tasks blocked in D state (sysrq w) and the end of the kernel log. A
// wedged SMB-Direct listener or a ksmbd that cannot stop is the server's
// state, which the test's own output cannot show; CI keeps only this log.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 && os.Getenv("SMBD3_LAB_NETNS_ID") != "" {
		out, err := guestRun(guestDiagScript)
		fmt.Printf("--- guest diagnostics after a failure (err %v):\n%s\n", err, out)
	}
	os.Exit(code)
}

// guestDiagScript dumps blocked tasks with their stacks into the kernel log
// and prints the log's end, the RDMA devices and the sockets of ports 445
// and 5445.
const guestDiagScript = `echo 1 >/proc/sys/kernel/sysrq; echo w >/proc/sysrq-trigger; sleep 1
dmesg | tail -n 250
rdma link 2>&1; ss -tan '( sport = :445 or sport = :5445 )' 2>&1
cat /sys/class/ksmbd-control/stats 2>&1`
