# SPDX-License-Identifier: GPL-2.0
# Shell helpers for rig scenarios (sourced in the guest).
# Results are TAP lines the host collects from the console:
#   @@vmgen-test NAME      starts a group; "ok"/"not ok" lines follow
#   @@vmgen-exit NAME RC   ends it with the program's exit status

rig_setup() {
	# The control port's virtio drivers are modules on older kernels.
	for m in virtio_pci virtio_console; do
		modprobe -q "$m" 2>/dev/null
	done
	i=0
	while ! grep -qs vmgen.ctl /sys/class/virtio-ports/*/name; do
		i=$((i + 1))
		[ $i -gt 50 ] && { echo "rig: no vmgen.ctl port"; break; }
		sleep 0.1
	done
}

# run_test NAME CMD... : run one TAP-producing program (a kselftest binary)
run_test() {
	name=$1
	shift
	echo "@@vmgen-test $name"
	"$@"
	echo "@@vmgen-exit $name $?"
}

# check NAME CMD... : one shell-level TAP result
check() {
	name=$1
	shift
	echo "@@vmgen-test $name"
	if out=$("$@" 2>&1); then
		echo "ok 1 $name"
		echo "@@vmgen-exit $name 0"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok 1 $name"
		echo "@@vmgen-exit $name 1"
	fi
}

# skip NAME REASON : a result that did not run, with its reason
skip() {
	echo "@@vmgen-test $1"
	echo "ok 1 $1 # SKIP $2"
	echo "@@vmgen-exit $1 4"
}

# dmesg_has PATTERN : the kernel log holds PATTERN (extended regex)
dmesg_has() {
	dmesg | grep -qE "$1"
}
