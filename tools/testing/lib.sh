# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
#
# lib.sh: what the rig's shell scripts share. Sourced by sh and bash
# scripts alike, so plain sh (with local):
#
#   log MSG...              "PROG: MSG" on stderr (PROG: the script's name)
#   die MSG...              log, then exit 2
#   elapsed T0              seconds since T0 (from date +%s), as "Ns"
#   at_exit CMD             run the command line CMD when the script exits,
#                           the last one registered first
#   tmp_dir VAR [TEMPLATE]  a new temporary directory in $VAR, removed at exit
#   tmp_file VAR            a new temporary file in $VAR, removed at exit
#   retry N DELAY CMD...    run CMD until it succeeds, at most N times,
#                           DELAY seconds apart; CMD's last status
#   wait_exit PID SECONDS   wait for PID to be gone, at most SECONDS:
#                           0 when it is, 1 when it is still there
#   stop_pid PID [SECONDS]  stop a process we started: SIGTERM, SIGKILL
#                           after SECONDS (default 10), reaped if our child
#   kernel_meta ALIAS       Debian's image metapackage of a kernel line
#   headers_meta ALIAS      and its headers metapackage (6.1, 6.12)
#   kernel_release KERNEL   the release (uname -r) of a kernel alias or
#                           of a release installed in /boot
#   tap_point STATUS DESC   the next TAP test point, "ok" if STATUS is 0;
#                           tap_n counts the points, tap_failed the failures
#   tap_plan                the plan for the points so far (at the end)
#   tap_diag [FILE...]      the files' lines (or stdin's) as TAP
#                           diagnostics, "# LINE"

PROG=${PROG:-${0##*/}}

log() {
	echo "$PROG: $*" >&2
}

die() {
	log "$@"
	exit 2
}

elapsed() {
	echo "$(($(date +%s) - $1))s"
}

_at_exit=
at_exit() {
	_at_exit="$1${_at_exit:+; $_at_exit}"
	trap 'eval "$_at_exit"' EXIT
}

tmp_dir() {
	local _d
	_d=$(mktemp -d ${2:+"$2"}) || die "cannot create a temporary directory"
	eval "$1=\$_d"
	at_exit "rm -rf '$_d'"
}

tmp_file() {
	local _f
	_f=$(mktemp) || die "cannot create a temporary file"
	eval "$1=\$_f"
	at_exit "rm -f '$_f'"
}

retry() {
	local n=$1 delay=$2 i=1
	shift 2
	until "$@"; do
		[ "$i" -lt "$n" ] || return 1
		i=$((i + 1))
		sleep "$delay"
	done
}

wait_exit() {
	local pid=$1 left=$2
	while kill -0 "$pid" 2>/dev/null; do
		[ "$left" -gt 0 ] || return 1
		sleep 1
		left=$((left - 1))
	done
}

stop_pid() {
	local pid=$1 tenths=$((${2:-10} * 10)) i=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$i" -ge "$tenths" ]; then
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait "$pid" 2>/dev/null || true
}

kernel_meta() {
	case "$1" in
	6.1) echo linux-image-amd64 ;;
	6.12) echo linux-image-6.12-amd64 ;;
	*) return 1 ;;
	esac
}

headers_meta() {
	case "$1" in
	6.1) echo linux-headers-amd64 ;;
	6.12) echo linux-headers-6.12-amd64 ;;
	*) return 1 ;;
	esac
}

kernel_release() {
	local k=$1 meta dep
	if meta=$(kernel_meta "$k"); then
		# The metapackage depends on the current image of its line.
		dep=$(dpkg-query -W -f='${Depends}' "$meta" 2>/dev/null || true)
		dep=${dep%% *}
		if [ -z "$dep" ]; then
			log "kernel $k is not installed; run 'tools/testing/vm/vhu-vm setup $k'"
			return 1
		fi
		echo "${dep#linux-image-}"
		return 0
	fi
	if [ -e "/boot/vmlinuz-$k" ]; then
		echo "$k"
		return 0
	fi
	log "unknown kernel '$k' (use 6.1, 6.12 or a release in /boot)"
	return 1
}

tap_n=0
tap_failed=0
tap_point() {
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $tap_n $2"
	else
		echo "not ok $tap_n $2"
		tap_failed=$((tap_failed + 1))
	fi
}

tap_plan() {
	echo "1..$tap_n"
}

tap_diag() {
	sed 's/^/# /' "$@"
}
