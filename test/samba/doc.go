// Package samba runs real Samba smbd servers on loopback for integration tests.
//
// Start gives each server its own temporary directory holding the smb.conf, every
// state, lock, cache, pid, private and socket directory smbd would otherwise take from
// /etc/samba and /var/lib/samba, the logs, and the shared directory itself. The server
// listens on a free port on 127.0.0.1 (and on any extra loopback addresses the test
// asks for) with "bind interfaces only", so several servers can run side by side and
// nothing else on the machine sees them. t.Cleanup stops smbd (and samba-dcerpcd,
// which smbd spawns on demand in its own session) and removes the directory; on a
// failed test the tail of the smbd log is printed first. Set SMBD3_SAMBA_KEEP=1 to
// keep the directory for a post-mortem. smbd dies with the test binary (Pdeathsig),
// and the next Start removes what a killed test process left behind.
//
// # Accounts
//
// Samba maps an SMB user to a Unix account, so the first Start creates the system
// user "smbd3test" (useradd --system, no home, no login shell) if it does not exist.
// Every server adds that user to its own tdbsam passdb with a fresh random password,
// owns its share directory by it, and uses it as the guest account. Root can read
// everything the server writes.
//
// # Environment
//
// The harness needs root (useradd, chown, ip addr, smbd's setuid) and Debian's
// samba and smbclient packages (scripts/deps.sh installs them). When something is
// missing the test is skipped, except under CI=true where it fails: a CI run must
// never pass by skipping its integration tests. RequireTool applies the same rule to
// other binaries.
//
// # Extra interfaces
//
// Options.Interfaces adds loopback addresses such as 127.0.0.2 to lo (Samba only
// binds addresses it finds on an interface) and lists them in "interfaces" with the
// speed/capability syntax of smb.conf(5), which is what smbd reports in
// FSCTL_QUERY_NETWORK_INTERFACE_INFO for multichannel. The addresses are reference
// counted across servers and test processes under a lock in /run/smbd3-samba, and
// only addresses the harness added are removed, when the last user is gone.
package samba
