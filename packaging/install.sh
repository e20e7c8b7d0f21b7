#!/bin/sh
# Install mount.smbd3 so that mount(8) finds it: the binary as
# $DESTDIR$SBINDIR/mount.smbd3 (mount(8) runs /sbin/mount.TYPE; on Debian
# /sbin is /usr/sbin through usrmerge) and the man page as
# $DESTDIR$MANDIR/man8/mount.smbd3.8.
#
# Usage: packaging/install.sh [BINARY]
#   BINARY   the built helper (default: bin/mount.smbd3, from `make build`)
# Environment:
#   DESTDIR  staging root for packages (default: empty, i.e. the live system)
#   PREFIX   default /usr
#   SBINDIR  default /sbin when PREFIX is /usr (it must be where mount(8)
#            looks), else $PREFIX/sbin
#   MANDIR   default $PREFIX/share/man
#   DOCDIR   default $PREFIX/share/doc/mount.smbd3 (credentials and fstab examples)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-bin/mount.smbd3}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
if [ -z "${SBINDIR:-}" ]; then
	if [ "$PREFIX" = /usr ]; then SBINDIR=/sbin; else SBINDIR=$PREFIX/sbin; fi
fi
MANDIR=${MANDIR:-$PREFIX/share/man}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/mount.smbd3}

if [ ! -x "$bin" ]; then
	echo "install.sh: $bin not found or not executable (run: make build)" >&2
	exit 1
fi

# With usrmerge /sbin is a symlink to usr/sbin: install into the real
# directory so that a package manager records one path.
sbin=$DESTDIR$SBINDIR
if [ -z "$DESTDIR" ] && [ -L "$SBINDIR" ]; then
	sbin=$(readlink -f "$SBINDIR")
fi

install -d -m 0755 "$sbin" "$DESTDIR$MANDIR/man8" "$DESTDIR$DOCDIR"
install -m 0755 "$bin" "$sbin/mount.smbd3"
# The mount table calls the mount fuse.smbd3: "mount -o remount,ro /mnt"
# without an fstab line runs mount.fuse.smbd3 (and an fstab line may use
# that type too).
ln -sf mount.smbd3 "$sbin/mount.fuse.smbd3"
install -m 0644 "$here/mount.smbd3.8" "$DESTDIR$MANDIR/man8/mount.smbd3.8"
install -m 0644 "$here/smbd3.cred.example" "$DESTDIR$DOCDIR/smbd3.cred.example"
install -m 0644 "$here/fstab.example" "$DESTDIR$DOCDIR/fstab.example"

echo "installed $sbin/mount.smbd3 (and mount.fuse.smbd3) and $DESTDIR$MANDIR/man8/mount.smbd3.8"
