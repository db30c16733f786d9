#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Backing stores for the datapath selftests (backend.c), inside the test VM
# (as root).
#
#   vhu_backing.sh up KIND ID SIZE_MB    print the path to open
#   vhu_backing.sh down KIND ID PATH     undo "up"
#   vhu_backing.sh stall dm ID           hold the dm device's I/O
#   vhu_backing.sh unstall dm ID         let it go on
#   vhu_backing.sh delay fsdm ID PATH MS delay writes to PATH's blocks by MS
#
# KIND: file (on an ext4 file system on a RAM disk, so O_DIRECT works on
# every kernel), loop (a loop device over such a file, direct I/O on),
# nullblk (memory-backed null_blk), nbd (an NBD device connected to
# nbd-server on 127.0.0.1), brd (a raw RAM disk), dm (a device-mapper
# linear device over a loop device, which "stall" suspends: its I/O waits
# until "unstall", as behind a hung disk), fsdm (a file on an ext4 file
# system of its own on such a dm device, mounted at the file's directory;
# "delay" puts a dm-delay target under the file's data blocks only).
set -eu
# shellcheck source=SCRIPTDIR/../../tools/testing/lib.sh
. "$(dirname "$0")/../../tools/testing/lib.sh"

MNT=/tmp/vhu-mnt

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

cmd=$1 kind=$2 id=$3
case "$cmd:$kind" in
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
*)
	die "usage: $0 up|down KIND ID SIZE_MB|PATH, stall|unstall dm ID, delay fsdm ID PATH MS" ;;
esac
