#!/usr/bin/env bash
# make fuzz: a short coverage-guided run of every fuzz target in the module,
# one after the other (go test -fuzz takes one target at a time).
# Usage: scripts/fuzz.sh [fuzztime per target, default 10s]
set -euo pipefail
t=${1:-10s}
cd "$(dirname "$0")/.."
go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $f"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
	done
done
