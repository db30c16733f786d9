#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run each vhu selftest with the timeout from ./settings (or, as with
# kselftest's own runner, $kselftest_override_timeout: a slow kernel) and
# pass its TAP through. A test that dies without reporting (crash) or is
# stopped by the timeout still shows up as a failure, so a summary that
# counts TAP lines never misses one.
cd "$(dirname "$0")" || exit 1
# shellcheck source=SCRIPTDIR/../../tools/testing/lib.sh
. ../../tools/testing/lib.sh
tmp_file out
timeout=${kselftest_override_timeout:-$(sed -n 's/^timeout=//p' settings)}
rc=0
for t in "$@"; do
	echo "# selftests: vhu: $t"
	timeout --kill-after=10 "${timeout:-300}" "./$t" 2>&1 | tee "$out"
	st=${PIPESTATUS[0]}
	case $st in
	0|4) ;;
	*)
		rc=1
		# The tests it never reached report nothing: the timeout is a
		# failure of its own, whatever failed before it.
		if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
			echo "not ok 1 $t # timed out after ${timeout:-300}s"
		elif ! grep -q '^not ok ' "$out"; then
			echo "not ok 1 $t # exited with status $st"
		fi
		;;
	esac
done
exit $rc
