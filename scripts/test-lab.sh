#!/usr/bin/env bash
# Runs the SMB-Direct lab tests (test/lab) against ksmbd over Linux siw in
# the QEMU lab of ../shared/lab: builds the lab (cached in $LAB), starts it,
# builds the test binary and mount.smbd3 outside the lab's network namespace,
# runs them inside it with `lab.sh run`, and stops the lab. The lab is never
# optional: a missing lab script or a failed start fails the run.
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
"$LABSH" stop >/dev/null 2>&1 || true
"$LABSH" start
SMBD3_LAB_REQUIRED=1 SMBD3_BIN="$out/mount.smbd3" SMBD3_LAB_SCRIPT="$LABSH" \
	"$LABSH" run "$out/lab.test" -test.v -test.count=1 -test.timeout=10m
