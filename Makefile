# mount.smbd3 — the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go
GOFLAGS ?=
export GOFLAGS

.PHONY: all build demo test bench bench-engine fuzz clean deps

all: build

build:
	$(GO) build -o bin/mount.smbd3 ./cmd/mount.smbd3

deps:
	bash scripts/deps.sh

# Starts a throwaway Samba on loopback, runs the main job against it, stops it.
demo: deps build
	$(GO) run ./test/cmd/demo

# Every test: unit, fuzz seed corpora, and integration tests against a real
# Samba (and the kernel FUSE mount) that the harness starts itself.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

# Engine benchmark: 1 GiB sequential read/write vs smbclient, same run.
bench-engine: deps
	$(GO) run ./test/cmd/bench-engine

bench: bench-engine

# Short coverage-guided run of every fuzz target.
fuzz:
	bash scripts/fuzz.sh 10s

clean:
	rm -rf bin
