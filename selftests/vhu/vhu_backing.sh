#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Backing stores for the datapath selftests (backend.c), inside the test VM
# (as root).
#
#   vhu_backing.sh up KIND ID SIZE_MB    print the path to open
#   vhu_backing.sh down KIND ID PATH     undo "up"
#   vhu_backing.sh cycle KIND ID PATH    power a wcache device off and on,
#                                        print its path
#   vhu_backing.sh stall dm ID           hold the dm device's I/O
#   vhu_backing.sh unstall dm ID         let it go on
#   vhu_backing.sh delay fsdm ID PATH MS delay writes to PATH's blocks by MS
#   vhu_backing.sh fault dm ID MODE      fail the dm device's I/O: MODE read
#                                        (every read and write fails), write
#                                        (every write and flush), none (undo)
#
# KIND: file (on an ext4 file system on a RAM disk, so O_DIRECT works on
# every kernel), loop (a loop device over such a file, direct I/O on),
# nullblk (memory-backed null_blk), nbd (an NBD device connected to
# nbd-server on 127.0.0.1), brd (a raw RAM disk), wcache (a memory-backed
# null_blk device with a volatile write cache: what no FLUSH or FUA made
# durable is lost when "cycle" powers it off; null_blk caches only writes
# to blocks it does not store yet, others go past it), 4kn (a memory-backed
# null_blk device with 4096-byte logical blocks), file4k (a file on ext4
# on such a device: O_DIRECT needs 4096-byte alignment), dm (a device-mapper
# linear device over a loop device, which "stall" suspends: its I/O waits
# until "unstall", as behind a hung disk), fsdm (a file on an ext4 file
# system of its own on such a dm device, mounted at the file's directory;
# "delay" puts a dm-delay target under the file's data blocks only).
set -eu
# shellcheck source=SCRIPTDIR/../../tools/testing/lib.sh
. "$(dirname "$0")/../../tools/testing/lib.sh"

MNT=/tmp/vhu-mnt
NULLB=/sys/kernel/config/nullb

dm_up() {
	[ -e /dev/loop-control ] || modprobe loop
	modprobe dm-mod
	loop=$(losetup -f --show "$2")
	dmsetup create "$1" --table "0 $(blockdev --getsz "$loop") linear $loop 0" ||
		{ losetup -d "$loop"; die "dmsetup create $1 failed"; }
	# Without udev, dmsetup leaves the node to us.
	[ -b "/dev/mapper/$1" ] || dmsetup mknodes "$1"
	[ -b "/dev/mapper/$1" ] || die "no /dev/mapper/$1"
}

# The loop device under dm device $1 (its only table line is linear).
dm_loop() {
	echo "/dev/$(ls "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" |
		tr -d ' ')/slaves")"
}

dm_down() {
	[ -b "/dev/mapper/$1" ] || return 0
	dm_lo=$(dm_loop "$1")
	dmsetup resume "$1" 2>/dev/null || true
	retry 50 0.1 dmsetup remove "$1" || log "dmsetup remove $1 failed"
	losetup -d "$dm_lo"
}

# The table of dm device $1 with the writes to the blocks of file $2
# delayed by $3 ms (none with 0): dm-delay over them (reads and flushes
# not delayed), linear around them.
delay_table() {
	dt_lo=$(dm_loop "$1")
	dt_size=$(blockdev --getsz "$dt_lo")
	if [ "$3" = 0 ]; then
		echo "0 $dt_size linear $dt_lo 0"
		return
	fi
	# Extent lines, as "N: L0.. L1: P0.. P1: LEN:" in 512-byte units.
	filefrag -v -b512 "$2" | sed -n '/^ *[0-9][0-9]*:/{s/\.\./ /g;s/:/ /g;p}' |
		sort -n -k4 | awk -v dev="$dt_lo" -v size="$dt_size" -v ms="$3" '
		BEGIN { pos = 0 }
		{ if ($4 > pos) print pos, $4 - pos, "linear", dev, pos
		  print $4, $6, "delay", dev, $4, 0, dev, $4, ms, dev, $4, 0
		  pos = $4 + $6; n++ }
		END { if (!n) exit 1
		      if (pos < size) print pos, size - pos, "linear", dev, pos }'
}

fs_up() {
	if ! mountpoint -q "$MNT" 2>/dev/null; then
		[ -b /dev/ram0 ] || modprobe brd rd_nr=2 rd_size=262144
		mkfs.ext4 -q -F /dev/ram0 >/dev/null
		mkdir -p "$MNT"
		mount /dev/ram0 "$MNT"
	fi
}

mkfile() {
	fs_up
	rm -f "$1"
	truncate -s "${2}M" "$1"
}

# null_blk loaded as "up nullblk" does, so that its nullb0 is there for it.
nullb_load() {
	[ -b /dev/nullb0 ] || modprobe null_blk nr_devices=1 gb=1 bs=512 \
		memory_backed=1 discard=1
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
	[ -d "$NULLB" ] || die "null_blk has no configfs directory"
}

# The device of configfs device $1: named after it on newer kernels (6.12),
# nullb<index> on older ones (6.1).
nullb_path() {
	if [ -b "/dev/$1" ]; then
		echo "/dev/$1"
	else
		echo "/dev/nullb$(cat "$NULLB/$1/index")"
	fi
}

nullb_power() {
	echo "$2" > "$NULLB/$1/power"
	[ "$2" = 0 ] || retry 50 0.1 test -b "$(nullb_path "$1")" ||
		die "null_blk device $1 did not appear"
}

# nullb_up NAME SIZE_MB BLOCKSIZE CACHE_MB: a memory-backed device.
nullb_up() {
	nullb_load
	[ ! -d "$NULLB/$1" ] || nullb_down "$1"
	mkdir "$NULLB/$1"
	echo "$2" > "$NULLB/$1/size"
	echo "$3" > "$NULLB/$1/blocksize"
	echo 1 > "$NULLB/$1/memory_backed"
	echo "$4" > "$NULLB/$1/cache_size"
	nullb_power "$1" 1
}

nullb_down() {
	[ -d "$NULLB/$1" ] || return 0
	echo 0 > "$NULLB/$1/power"
	rmdir "$NULLB/$1"
}

cmd=$1 kind=$2 id=$3
case "$cmd:$kind" in
up:wcache)
	# A cache larger than the disk: nothing is written back to make room.
	nullb_up "vhuwc$id" "$4" 512 $(($4 * 4))
	nullb_path "vhuwc$id" ;;
cycle:wcache)
	nullb_power "vhuwc$id" 0
	nullb_power "vhuwc$id" 1
	nullb_path "vhuwc$id" ;;
down:wcache)
	nullb_down "vhuwc$id" ;;
up:4kn)
	nullb_up "vhu4k$id" "$4" 4096 0
	nullb_path "vhu4k$id" ;;
down:4kn)
	nullb_down "vhu4k$id" ;;
up:file4k)
	nullb_up "vhu4f$id" $(($4 + 16)) 4096 0
	mkdir -p "$MNT-4k-$id"
	mkfs.ext4 -q -F "$(nullb_path "vhu4f$id")" >/dev/null
	mount "$(nullb_path "vhu4f$id")" "$MNT-4k-$id"
	truncate -s "${4}M" "$MNT-4k-$id/disk.img"
	echo "$MNT-4k-$id/disk.img" ;;
down:file4k)
	umount "$MNT-4k-$id" 2>/dev/null || true
	rmdir "$MNT-4k-$id" 2>/dev/null || true
	nullb_down "vhu4f$id" ;;
up:file)
	mkfile "$MNT/disk-$id.img" "$4"
	echo "$MNT/disk-$id.img" ;;
down:file)
	rm -f "$4" ;;
up:loop)
	[ -e /dev/loop-control ] || modprobe loop
	mkfile "$MNT/loop-$id.img" "$4"
	losetup -f --show --direct-io=on "$MNT/loop-$id.img" ;;
down:loop)
	losetup -d "$4"
	rm -f "$MNT/loop-$id.img" ;;
up:nullblk)
	[ -b /dev/nullb0 ] || modprobe null_blk nr_devices=1 gb=1 bs=512 \
		memory_backed=1 discard=1
	echo /dev/nullb0 ;;
down:nullblk)
	: ;;
up:brd)
	fs_up
	echo /dev/ram1 ;;
down:brd)
	: ;;
up:nbd)
	mkfile "$MNT/nbd-$id.img" "$4"
	[ -b /dev/nbd0 ] || modprobe nbd nbds_max=4
	port=$((10809 + id % 1000))
	cat > "$MNT/nbd-$id.conf" <<CONF
[generic]
    listenaddr = 127.0.0.1
    port = $port
    pidfile = $MNT/nbd-$id.pid
[vhu]
    exportname = $MNT/nbd-$id.img
CONF
	nbd-server -C "$MNT/nbd-$id.conf" >/dev/null 2>&1
	# The server forks; wait until it listens.
	retry 50 0.1 nbd-client 127.0.0.1 "$port" /dev/nbd0 -N vhu -b 512 \
		>/dev/null 2>&1 || die "nbd-client: no NBD server on port $port"
	[ "$(cat /sys/block/nbd0/size)" != 0 ]
	echo /dev/nbd0 ;;
down:nbd)
	nbd-client -d /dev/nbd0 >/dev/null 2>&1 || true
	[ ! -f "$MNT/nbd-$id.pid" ] || stop_pid "$(cat "$MNT/nbd-$id.pid")"
	rm -f "$MNT/nbd-$id.img" "$MNT/nbd-$id.conf" "$MNT/nbd-$id.pid" ;;
up:dm)
	mkfile "$MNT/dm-$id.img" "$4"
	dm_up "vhu-$id" "$MNT/dm-$id.img"
	echo "/dev/mapper/vhu-$id" ;;
down:dm)
	dm_down "vhu-$id"
	rm -f "$MNT/dm-$id.img" ;;
stall:dm)
	dmsetup suspend "vhu-$id" ;;
unstall:dm)
	dmsetup resume "vhu-$id" ;;
up:fsdm)
	mkfile "$MNT/fsdm-$id.img" $(($4 + 48))
	dm_up "vhu-fs-$id" "$MNT/fsdm-$id.img"
	mkfs.ext4 -q -F -b 4096 "/dev/mapper/vhu-fs-$id" >/dev/null
	mkdir -p "/tmp/vhu-fs-$id"
	mount "/dev/mapper/vhu-fs-$id" "/tmp/vhu-fs-$id"
	# Written out, so its blocks are allocated and written (one extent).
	dd if=/dev/zero of="/tmp/vhu-fs-$id/disk.img" bs=1M count="$4" \
		conv=fsync status=none
	echo "/tmp/vhu-fs-$id/disk.img" ;;
down:fsdm)
	dmsetup resume "vhu-fs-$id" 2>/dev/null || true
	if mountpoint -q "/tmp/vhu-fs-$id"; then
		fsfreeze -u "/tmp/vhu-fs-$id" 2>/dev/null || true
		umount "/tmp/vhu-fs-$id"
	fi
	rmdir "/tmp/vhu-fs-$id" 2>/dev/null || true
	dm_down "vhu-fs-$id"
	rm -f "$MNT/fsdm-$id.img" ;;
delay:fsdm)
	modprobe dm-delay
	table=$(delay_table "vhu-fs-$id" "$4" "$5") || die "no extents for $4"
	dmsetup suspend "vhu-fs-$id"
	if ! echo "$table" | dmsetup load "vhu-fs-$id"; then
		dmsetup resume "vhu-fs-$id"
		die "dmsetup load failed"
	fi
	dmsetup resume "vhu-fs-$id" ;;
fault:dm)
	# dm-error fails every bio but flushes; dm-flakey, down all the
	# time, fails writes and flushes (error_writes) and lets reads by.
	modprobe dm-flakey
	# Not dm_loop: a table of dm-error has no device under it.
	ft_lo=$(losetup -n -O NAME -j "$MNT/dm-$id.img")
	[ -b "$ft_lo" ] || die "no loop device on $MNT/dm-$id.img"
	ft_size=$(blockdev --getsz "$ft_lo")
	case $4 in
	none) table="0 $ft_size linear $ft_lo 0" ;;
	read) table="0 $ft_size error" ;;
	write) table="0 $ft_size flakey $ft_lo 0 0 1 1 error_writes" ;;
	*) die "fault dm: MODE is none, read or write, not '$4'" ;;
	esac
	dmsetup suspend "vhu-$id"
	if ! echo "$table" | dmsetup load "vhu-$id"; then
		dmsetup resume "vhu-$id"
		die "dmsetup load failed"
	fi
	dmsetup resume "vhu-$id" ;;
*)
	die "usage: $0 up|down|cycle KIND ID SIZE_MB|PATH, stall|unstall dm ID, delay fsdm ID PATH MS, fault dm ID MODE" ;;
esac
