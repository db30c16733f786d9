# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by the end-to-end tests that boot a real QEMU guest (e2e-blk,
# e2e-runtime); sourced after tools/testing/lib.sh.
#
#   guest_release          the kernel release the guests boot: the running
#                          one's if /boot has it, else the newest in /boot
#   start_guest VAR NAME INITRD CPUS CONSOLE APPEND [QEMU-ARG...]
#                          start a q35 TCG guest of that kernel with INITRD,
#                          CPUS CPUs, 256 MiB of memory in a shared memfd
#                          (vhost-user needs it), APPEND on its command
#                          line, its console the chardev CONSOLE (with
#                          id=con; "": into the file $run/NAME.log), QEMU's
#                          own output in $run/NAME-qemu.log; its pid into
#                          VAR
#   poll_for SECONDS PID CMD...
#                          run CMD every 0.1 s until it succeeds (0),
#                          SECONDS pass (by the clock: a loaded nested
#                          guest makes each try slow) or PID is gone (1)

guest_release() {
	local rel
	rel=$(uname -r)
	[ -e "/boot/vmlinuz-$rel" ] || rel=$(ls /boot | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1)
	echo "$rel"
}

# Nested under the VM rig this is TCG inside TCG: the guest gets the
# baseline CPU model and one TCG thread, which is all a boot-and-verify
# needs, and no CMPXCHG16B (-cx16): after it QEMU 7.2's TCG can leave a
# non-flag value in the guest's EFLAGS (in every crash seen, the low half
# of the preceding ADD's source ORed with ZF and IF: the other flags are
# apparently computed from a stale lazy cc_op). Debian 6.12's SLUB fast
# path branches on ZF right after it, ending the translation block with
# that state live; an interrupt taken there pushes the junk (TF, DF,
# NT...) and the guest dies in early boot (5 of 12 nested boots inside
# the 6.12 rig VM, also with AVX, AVX2, BMI and MOVBE taken from the rig
# VM's CPU; 6.1 does sete/test first).
# Nested guests are slow, so interrupts land there often. Without CX16
# the kernel takes its paths that do not use CMPXCHG16B.
start_guest() {
	local _var=$1 _name=$2 _initrd=$3 _cpus=$4 _con=$5 _append=$6
	shift 6
	[ -n "$_con" ] || _con=file,id=con,path=$run/$_name.log
	qemu-system-x86_64 -machine q35 -accel tcg,thread=single -cpu qemu64,-cx16 \
		-smp "$_cpus" -m 256M \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-numa node,memdev=mem \
		-kernel "/boot/vmlinuz-$(guest_release)" -initrd "$_initrd" \
		-append "console=ttyS0 loglevel=4 panic=-1 $_append" \
		"$@" \
		-display none -no-reboot -nodefaults \
		-chardev "$_con" -serial chardev:con \
		</dev/null >"$run/$_name-qemu.log" 2>&1 &
	eval "$_var=\$!"
}

poll_for() {
	local end=$((SECONDS + $1)) pid=$2
	shift 2
	until "$@"; do
		[ $SECONDS -lt $end ] && kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
}
