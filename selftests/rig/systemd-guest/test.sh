#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The systemd guest's test (selftests/rig/systemd_guest.py), started by
# vmgen-test.service once systemd has booted the image in which the vmgen
# packages were installed with dpkg (DKMS built the modules in the chroot).
# Output on ttyS0: TAP in @@vmgen-test groups (rig.sh), and the JSON of
# "vmgenctl status --json" as "@@vmgen-json TAG" lines for the host.
#
# Nothing here loads a module or starts a service: the checks are that
# modules-load.d, udev and systemd did it.
. /usr/local/lib/vmgen-test/rig.sh

PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
rel=$(uname -r)
echo "@@vmgen-boot kernel=$rel scenario=systemd-guest"

# json TAG: vmgenctl status --json for the host to parse
json() {
	vmgenctl status --json >/tmp/status.json 2>/tmp/status.err
	echo "@@vmgen-json-rc $1 $?"
	sed "s/^/@@vmgen-json $1 /" /tmp/status.json
	sed 's/^/# vmgenctl: /' /tmp/status.err
}

# The journal of this boot. --merge: 40-new-identity gives the clone a new
# /etc/machine-id, and journalctl without it looks only in the journal
# directory of the new one, while journald still writes to the old one.
# (--merge does not take -b: the boot is a match.)
boot=$(tr -d - </proc/sys/kernel/random/boot_id)
jctl() {
	journalctl -q --merge --no-pager -o cat "_BOOT_ID=$boot" "$@"
}

# vmgend's messages, without the "vmgend: " it puts before each line
vmgend_log() {
	jctl -u vmgend.service | sed 's/^vmgend: //'
}

# logged ERE: vmgend logged a line matching ERE (shown)
logged() {
	vmgend_log | grep -E "$1" && return 0
	echo "no line of vmgend's log matches: $1"
	return 1
}

# logged_times N ERE: exactly N lines match
logged_times() {
	c=$(vmgend_log | grep -cE "$2")
	echo "$c lines match $2, want $1"
	[ "$c" -eq "$1" ]
}

# passes: the "pass N: ..." lines vmgend logged in this boot
passes() {
	logged '^pass [0-9]+: '
}

# from_dkms MODULE: modprobe finds the module DKMS installed
from_dkms() {
	p=$(modinfo -n "$1") || return 1
	echo "$1: $p"
	case $p in
	/lib/modules/$rel/updates/dkms/"$1".ko*) ;;
	/usr/lib/modules/$rel/updates/dkms/"$1".ko*) ;;
	*) return 1 ;;
	esac
}

loaded() {
	lsmod | grep -q "^$1 "
}

mode_is() {
	m=$(stat -c %a "$1") || return 1
	echo "$1: mode $m, want $2"
	[ "$m" = "$2" ]
}

bound_to() {
	d=$(readlink "$1/device/driver") || return 1
	echo "$1 bound to ${d##*/}, want $2"
	[ "${d##*/}" = "$2" ]
}

# the device's modalias resolves to vmgen_vmclock: what udev's
# kmod builtin loaded
vmclock_alias() {
	a=$(cat /sys/class/misc/vmclock0/device/modalias) || return 1
	echo "modalias $a -> $(modprobe -R "$a" | tr '\n' ' ')"
	modprobe -R "$a" | grep -qx vmgen_vmclock
}

no_failed_units() {
	f=$(systemctl --failed --no-legend --plain)
	echo "$f"
	[ -z "$f" ]
}

never_restarted() {
	n=$(systemctl show -P NRestarts vmgend.service)
	echo "NRestarts=$n"
	[ "$n" = 0 ]
}

# Wait for the boot to finish (vmgen-test.service is a plain service, so
# this does not wait for itself).
state=$(timeout 120 systemctl is-system-running --wait 2>&1)
echo "# system state after boot: $state"
udevadm settle --timeout=30

loaded_by=$(jctl -t systemd-modules-load | grep -i vmgen | tr '\n' ' ')
echo "# modules-load: $loaded_by"
echo "# dkms: $(dkms status 2>/dev/null | tr '\n' ' ')"
check rig-control-port rigctl ping
check boot-no-failed-units no_failed_units
check vmgen_vmclock-from-dkms from_dkms vmgen_vmclock
check vmgen_vmgenid-from-dkms from_dkms vmgen_vmgenid
check vmgen_vmclock-autoloaded loaded vmgen_vmclock
check vmgen_vmgenid-autoloaded loaded vmgen_vmgenid
check vmclock-modalias-is-vmgen_vmclock vmclock_alias
check vmclock0-bound bound_to /sys/class/misc/vmclock0 vmgen_vmclock
check vmgenid-observer grep -qx observer /sys/class/misc/vmgenid/mode
check udev-vmclock0-mode-0444 mode_is /dev/vmclock0 444
check udev-vmgenid-mode-0444 mode_is /dev/vmgenid 444
check vmgend-active systemctl is-active vmgend.service
check vmgend-ready logged '^ready '
check vmgend-source-both logged '^source vmclock\+vmgenid: '
check hooks-enabled sh -c 'vmgenctl run-hooks --dry-run &&
	[ "$(vmgenctl run-hooks --dry-run | grep -c "^run ")" -eq 5 ]'
check no-pass-before-restore logged_times 0 '^pass [0-9]+: '
echo "# vmgend's log before the snapshot:"
vmgend_log | sed 's/^/#   /'
json before
old_id=$(cat /etc/machine-id)
echo "# machine-id before the snapshot: $old_id"

# The snapshot: the host migrates this guest to a file, stops it and
# restores one clone, with new VMClock counters and a new VMGenID written
# while it is paused, then a notification for both.
echo "@@vmgen-test snapshot"
if reply=$(rigctl snapshot 1); then
	echo "ok 1 snapshot # $reply"
else
	echo "not ok 1 snapshot # $reply"
fi
echo "@@vmgen-exit snapshot 0"

# From here on in the clone. Wait for vmgend's pass, then a little more
# for a second one that must not come.
i=0
while [ -z "$(passes)" ] && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
sleep 3
echo "# vmgend's log after the restore:"
vmgend_log | sed 's/^/#   /'
check one-pass logged_times 1 '^pass [0-9]+: '
hooks="10-reseed-rng 20-step-clock 30-network 40-new-identity 90-vmgen-test"
for h in $hooks; do
	check "hook-$h-exit-0" logged "^hook $h: exit 0, "
done
check pass-is-restore logged \
	'^pass 1: restore .*, source vmclock\+vmgenid: 5 hooks, 0 failed, ok;'

hook=$(vmgend_log | sed -n 's/^hook 90-vmgen-test: //p')
echo "# test hook: $hook"
# var NAME: the value the test hook saw
var() {
	echo "$hook" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
counter_moved() {
	o=$(var "$1_OLD")
	n=$(var "$1_NEW")
	echo "$1: $o -> $n"
	[ -n "$o" ] && [ -n "$n" ] && [ "$n" -eq $((o + 1)) ]
}
check hook-ran-once logged_times 1 '^hook 90-vmgen-test: event='
arg=$(echo "$hook" | sed -n 's/^event=\([a-z]*\) .*/\1/p')
check hook-event-restore sh -c '[ "$1" = restore ] && [ "$2" = restore ]' \
	- "$(var VMGEN_EVENT)" "$arg"
check hook-source sh -c '[ "$1" = vmclock+vmgenid ]' - "$(var VMGEN_SOURCE)"
check hook-pass sh -c '[ "$1" = 1 ]' - "$(var VMGEN_PASS)"
check hook-vmclock-generation counter_moved VMGEN_GENERATION
check hook-vmgenid-generation counter_moved VMGEN_VMGENID_GENERATION
check hook-disruption-marker counter_moved VMGEN_DISRUPTION_MARKER

# the example hooks' effects
new_id=$(vmgend_log | sed -n 's|^hook 40-new-identity: new /etc/machine-id: ||p')
check new-machine-id sh -c 'echo "old $1 logged $2 now $3"; [ -n "$2" ] &&
	[ "$2" = "$3" ] && [ "$1" != "$3" ]' - "$old_id" "$new_id" \
	"$(cat /etc/machine-id)"
check rng-reseeded logged \
	'^hook 10-reseed-rng: vmgen-reseed: mixed [0-9]+ bytes .* reseeded the CRNG'
# no chronyd, no phc_ctl in the image: it says why it leaves the clock
check clock-hook-ran logged '^hook 20-step-clock: .*not stepping the clock'
check network-hook-ran logged '^hook 30-network: flushed the neighbour table'
check kernel-vmgenid-reseeded dmesg_has \
	"crng reseeded due to virtual machine fork"
check vmgend-still-active systemctl is-active vmgend.service
check vmgend-never-restarted never_restarted
json after

echo "@@vmgen-tainted $(cat /proc/sys/kernel/tainted)"
echo "@@vmgen-done rc=0"
systemctl --no-block poweroff
