# mount.smbd3 — the two commands a newcomer needs are `make demo` and `make test`.
GO ?= go
GOFLAGS ?=
export GOFLAGS

.PHONY: all build demo test test-lab bench bench-engine bench-mount bench-multichannel bench-rdma bench-lab fuzz clean deps install

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
	bash scripts/test-lab.sh

# Only the SMB-Direct lab tests (ksmbd over siw in QEMU, ../shared/lab).
test-lab: deps
	bash scripts/test-lab.sh

# Engine benchmark: 1 GiB sequential read/write vs smbclient, same run.
bench-engine: deps
	$(GO) run ./test/cmd/bench-engine

# Mount benchmark: dd, untar, ls -lR, rm -rf through mount.smbd3 vs smbclient,
# rclone mount and smbnetfs against one local Samba, same run.
bench-mount: deps build
	$(GO) run ./test/cmd/bench-mount

# Multichannel over three tc-shaped links to Samba in a network namespace.
bench-multichannel: deps
	$(GO) run ./test/cmd/bench-multichannel

# RDMA data path on loopback: the iWARP provider's RDMA WRITE/READ and Send,
# SMB-Direct round trip, messages and offloaded READ/WRITE, each beside a
# plain TCP stream moving the same bytes; allocations and copies per I/O.
bench-rdma:
	$(GO) run -tags copycount ./test/cmd/bench-rdma

# The mount over TCP and SMB-Direct against ksmbd in the QEMU lab (starts or
# reuses the lab of LAB/NS; see ../shared/lab), with the guest's cifs.ko as a
# reference; report only (the guest is emulated).
bench-lab: deps build
	$(GO) run ./test/cmd/bench-lab $(BENCH_LAB_FLAGS)

bench: bench-engine bench-mount bench-multichannel bench-rdma

# Short coverage-guided run of every fuzz target.
fuzz:
	bash scripts/fuzz.sh 10s

# Installs /sbin/mount.smbd3 (what mount -t smbd3 runs) and its man page;
# PREFIX, DESTDIR, SBINDIR and MANDIR as in packaging/install.sh.
PREFIX ?= /usr
install: build
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" sh packaging/install.sh bin/mount.smbd3

clean:
	rm -rf bin
