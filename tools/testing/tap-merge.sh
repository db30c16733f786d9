# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tap-merge.sh: one TAP stream from several parts, for run-checks and
# check-debug (bash; sourced after lib.sh, which it uses):
#
#   comment             stdin as TAP comments
#   merge               a part's TAP (stdin) merged into ours, on stdout
#                       and in $log: its points numbered on, anything else
#                       a comment
#   count               the results merge() wrote to $log into the totals
#   log_failed          whether $log holds a failure
#   point STATUS DESC   one point of our own, counted
#   run_tap WHAT CMD... CMD's TAP merged and counted, a failure counted
#                       when it exits non-zero without reporting one
#   tap_summary         the plan, then "N passed, N failed" (", N skipped",
#                       ", N known defects (TODO)" when there are); false
#                       when anything failed

passed=0 failed=0 skipped=0 todo=0
tmp_file log

# Text that is not TAP (build output, logs), as TAP comments.
comment() {
	sed -u -e 's/^$/#/' -e t -e 's/^/# /'
}

# The TAP a part prints, merged into ours (stdin to stdout, and to $log):
# its test points numbered on from $tap_n, anything else a comment.
merge() {
	awk -v n="$tap_n" '
	/^(not )?ok([ \t]|$)/ {
		st = $1 == "not" ? "not ok" : "ok"
		rest = substr($0, length(st) + 1)
		if (match(rest, /^[ \t]+[0-9]+/))
			rest = substr(rest, RLENGTH + 1)
		printf "%s %d%s\n", st, ++n, rest
		fflush()
		next
	}
	/^#/ { print; fflush(); next }
	{ print $0 == "" ? "#" : "# " $0; fflush() }' | tee "$log"
}

# Count the results merge() wrote to $log into the totals. A "not ok"
# marked "# TODO" is a known defect (TAP's expected failure), not a failure.
count() {
	local p f s t
	p=$(grep -aEc '^ok [0-9]+' "$log")
	s=$(grep -aEic '^ok [0-9]+[^#]*# *skip\b' "$log")
	f=$(grep -aEc '^not ok [0-9]+' "$log")
	t=$(grep -aEic '^not ok [0-9]+[^#]*# *todo\b' "$log")
	tap_n=$((tap_n + p + f))
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + f - t))
	todo=$((todo + t))
}

# Whether $log holds a failure (a "not ok" that is not a TODO).
log_failed() {
	grep -aE '^not ok [0-9]+' "$log" | grep -aEivq '# *todo\b'
}

# One TAP point of our own: a step that is not a test program itself.
point() {
	tap_point "$1" "$2"
	if [ "$1" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

# Run a command that prints TAP, merge and count its results, and count a
# failure when it exits non-zero without having reported one.
run_tap() {
	local what=$1 st
	shift
	"$@" 2>&1 | merge
	st=${PIPESTATUS[0]}
	count
	if [ "$st" -ne 0 ] && ! log_failed; then
		point 1 "$what exited with status $st"
	fi
}

# The plan after the last point, then the line that sums them all.
tap_summary() {
	local line
	tap_plan
	line="$passed passed, $failed failed"
	[ $skipped -eq 0 ] || line="$line, $skipped skipped"
	[ $todo -eq 0 ] || line="$line, $todo known defects (TODO)"
	echo "$line"
	[ $failed -eq 0 ]
}
