#!/usr/bin/env bash
# Runs the SMB-Direct lab tests (test/lab) against ksmbd over Linux siw in
# the QEMU lab of ../shared/lab: builds the lab (cached in $LAB), starts it,
# builds the test binary and mount.smbd3 outside the lab's network namespace,
# runs them inside it with `lab.sh run`, and stops the lab. The lab is never
# optional: a missing lab script or a failed start fails the run.
#
# One failure is not final when the guest's kernel shows it wedged: a task
# of ksmbd, siw, the RDMA connection managers or the RDMA core blocked in
# D state (for example a drain that never completes), which stalls every
# later SMB-Direct connection and ksmbd's own stop. No client may be able
# to do that to a server, and it is not what the tests check, so the lab is
# rebooted and the tests run once more; the blocked tasks are printed, and
# the second run must pass.
set -euo pipefail
cd "$(dirname "$0")/.."
LABSH=${LABSH:-$(cd .. && pwd)/shared/lab/lab.sh}
export LAB=${LAB:-/var/tmp/smbd3-lab}
if [ ! -x "$LABSH" ]; then
	echo "test-lab: $LABSH not found (the lab lives in ../shared/lab)" >&2
	exit 1
fi
out=$(mktemp -d)
trap '"$LABSH" stop >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
go build -o "$out/mount.smbd3" ./cmd/mount.smbd3
go test -c -o "$out/lab.test" ./test/lab
"$LABSH" build

run_tests() {
	"$LABSH" stop >/dev/null 2>&1 || true
	"$LABSH" start || return 1
	SMBD3_LAB_REQUIRED=1 SMBD3_BIN="$out/mount.smbd3" SMBD3_LAB_SCRIPT="$LABSH" \
		"$LABSH" run "$out/lab.test" -test.v -test.count=1 -test.timeout=10m
}

# wedged prints the guest's blocked tasks whose stacks are in ksmbd, siw,
# iw_cm/rdma_cm or the RDMA core, and fails when there are none.
wedged() {
	"$LABSH" exec 'echo 1 >/proc/sys/kernel/sysrq; echo w >/proc/sysrq-trigger; sleep 1; dmesg' 2>/dev/null |
		awk '
			/task:.* state:D/ { blk = $0 "\n"; inblk = 1; next }
			inblk { blk = blk $0 "\n" }
			inblk && /<\/TASK>/ {
				if (blk ~ /ksmbd|siw_|iw_cm|iwcm|cm_work_handler|rdma_|ib_drain|__ib_/) { printf "%s", blk; found = 1 }
				inblk = 0
			}
			END { exit !found }'
}

if run_tests; then
	exit 0
fi
if ! blocked=$(wedged); then
	exit 1
fi
echo "test-lab: the lab tests failed with the guest kernel wedged in the RDMA/ksmbd path; blocked tasks:"
echo "$blocked"
echo "test-lab: rebooting the lab and running the lab tests once more"
run_tests
