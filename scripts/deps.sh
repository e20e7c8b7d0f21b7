#!/usr/bin/env bash
# deps.sh — install the Debian packages that mount.smbd3's tests and benchmarks need.
#
# Idempotent: when every package is already installed it only checks (well under a
# second) and touches nothing. apt-get update runs only when something must be
# installed. Works non-interactively as root (CI=true, no stdin) on Debian 12.
#
# Installing samba on a machine with a service manager would normally start system
# smbd/nmbd/winbind/samba-ad-dc daemons listening on 0.0.0.0:445. The tests never use
# them (test/samba starts private smbd instances on loopback), so this script keeps
# them from starting during the install and stops and disables them afterwards.
#
# Usage: scripts/deps.sh        (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
	samba samba-vfs-modules tdb-tools smbclient
	fuse3 tshark rclone smbnetfs
	iproute2 procps attr acl git tar xxd ca-certificates util-linux-extra
)
SAMBA_SERVICES=(smbd nmbd winbind samba-ad-dc)
SAMBA_DAEMONS=(smbd nmbd winbindd samba samba-dcerpcd)
SYSTEM_CONF=/etc/samba/smb.conf

log() { printf 'deps.sh: %s\n' "$*" >&2; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo -n)
	fi
fi

# missing_packages prints the packages of PACKAGES that are not fully installed.
missing_packages() {
	local status
	status=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
	local p
	for p in "${PACKAGES[@]}"; do
		if ! grep -qE "^${p}(:[a-z0-9]+)? install ok installed$" <<<"$status"; then
			printf '%s\n' "$p"
		fi
	done
}

# system_daemon_pids prints the pids of samba daemons that run the system
# configuration: no -s/--configfile argument, or one naming /etc/samba/smb.conf.
# Daemons started by the tests always pass their own temporary config and are left
# alone.
system_daemon_pids() {
	local name pid conf arg next args
	for name in "${SAMBA_DAEMONS[@]}"; do
		for pid in $(pgrep -x "$name" 2>/dev/null || true); do
			mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || continue
			# A zombie (or a process that just exited) has an empty cmdline.
			((${#args[@]} > 0)) || continue
			conf=$SYSTEM_CONF
			next=0
			for arg in "${args[@]}"; do
				if ((next)); then
					conf=$arg
					next=0
					continue
				fi
				case $arg in
				-s | --configfile) next=1 ;;
				--configfile=*) conf=${arg#--configfile=} ;;
				-s?*) conf=${arg#-s} ;;
				esac
			done
			if [[ $conf == "$SYSTEM_CONF" ]]; then
				printf '%s\n' "$pid"
			fi
		done
	done
}

# stop_system_samba stops and disables the system samba services and kills any
# daemon still running the system configuration. Failures are tolerated: a container
# may have neither systemd nor init scripts.
stop_system_samba() {
	local svc pids
	for svc in "${SAMBA_SERVICES[@]}"; do
		if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
			"${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
		else
			if command -v systemctl >/dev/null 2>&1; then
				# Offline systemctl still removes the wants/ symlinks.
				"${SUDO[@]}" systemctl disable "$svc" >/dev/null 2>&1 || true
			fi
			if [[ -x /etc/init.d/$svc ]]; then
				"${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
			fi
		fi
		if [[ -x /etc/init.d/$svc ]] && command -v update-rc.d >/dev/null 2>&1; then
			"${SUDO[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
	done
	pids=$(system_daemon_pids)
	if [[ -n $pids ]]; then
		log "killing system samba daemons: $(tr '\n' ' ' <<<"$pids")"
		# shellcheck disable=SC2086
		"${SUDO[@]}" kill -TERM $pids 2>/dev/null || true
		local i
		for i in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(system_daemon_pids)
			[[ -z $pids ]] && break
			sleep 0.5
		done
		if [[ -n $pids ]]; then
			# shellcheck disable=SC2086
			"${SUDO[@]}" kill -KILL $pids 2>/dev/null || true
		fi
	fi
}

install_packages() {
	local policy=/usr/sbin/policy-rc.d added_policy=0
	if [[ ${#SUDO[@]} -eq 0 && $(id -u) -ne 0 ]]; then
		log "need root (or passwordless sudo) to install: $*"
		exit 1
	fi
	# Keep maintainer scripts from starting daemons during the install, the Debian
	# way (invoke-rc.d and deb-systemd-invoke honour policy-rc.d exit code 101).
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
		"${SUDO[@]}" chmod 0755 "$policy"
		added_policy=1
		trap '"${SUDO[@]}" rm -f '"$policy" EXIT
	fi
	echo 'wireshark-common wireshark-common/install-setuid boolean false' |
		"${SUDO[@]}" debconf-set-selections
	log "installing: $*"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"$@" </dev/null
	if ((added_policy)); then
		"${SUDO[@]}" rm -f "$policy"
		trap - EXIT
	fi
}

main() {
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} > 0)); then
		install_packages "${missing[@]}"
		stop_system_samba
		mapfile -t missing < <(missing_packages)
		if ((${#missing[@]} > 0)); then
			log "still missing after install: ${missing[*]}"
			exit 1
		fi
	elif [[ -n $(system_daemon_pids) ]]; then
		log "warning: a system samba daemon (config $SYSTEM_CONF) is running;" \
			"the tests do not need it (stop it with: systemctl disable --now smbd nmbd)"
	fi

	if [[ ! -c /dev/fuse ]]; then
		log "warning: /dev/fuse is missing; FUSE mount tests will fail or skip" \
			"(in a container, pass --device /dev/fuse --cap-add SYS_ADMIN)"
	fi
	log "all dependencies present"
}

main "$@"
