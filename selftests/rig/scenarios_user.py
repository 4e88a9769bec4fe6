# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for vmgend and vmgenctl in real guests (see scenarios.py
for the fields). They run the host's own build of the userspace, with its
shared libraries, in the busybox guests."""
from scenarios import Scenario

X86 = ("5.10", "6.1", "6.12", "7.x")

# Shell helpers: a root-owned hook directory with a hook that records its
# environment, vmgend started in the background, and a wait for its passes.
USER_LIB = r"""
setup_hooks() {
	mkdir -p /etc/vmgen/hooks.d
	chmod 755 /etc/vmgen /etc/vmgen/hooks.d
	cp /usr/share/vmgen/examples/hooks.d/10-reseed-rng /etc/vmgen/hooks.d/
	cat > /etc/vmgen/hooks.d/50-record <<'EOF'
#!/bin/sh
{
	echo "--- pass"
	env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' | sort
} >> /run/hooks.log
echo "recorded $VMGEN_EVENT $VMGEN_GENERATION_OLD -> $VMGEN_GENERATION_NEW"
EOF
	chmod 755 /etc/vmgen/hooks.d/*
}

load_modules() {
	vmgenctl load > /tmp/load.log 2>&1
	rc=$?
	sed 's/^/# load: /' /tmp/load.log
	[ -e /dev/vmgenid ] || return 1
	return $rc
}

start_vmgend() {
	vmgend -f "$@" >> /tmp/vmgend.log 2>&1 &
	echo $! > /tmp/vmgend.pid
	i=0
	while [ ! -e /run/vmgen/generation ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { cat /tmp/vmgend.log; return 1; }
		sleep 0.1
	done
}

passes() {
	grep -c '^--- pass' /run/hooks.log 2>/dev/null || echo 0
}

# wait_passes N: wait (up to 30 s) for N recorded passes, then 2 s more so
# that an extra pass would be seen too.
wait_passes() {
	i=0
	while [ "$(passes)" -lt "$1" ] && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 2
	[ "$(passes)" -eq "$1" ] || {
		echo "expected $1 passes, saw $(passes)"
		cat /run/hooks.log /tmp/vmgend.log 2>/dev/null
		return 1
	}
}

hook_env() {	# hook_env VAR: its value in the last recorded pass
	sed -n "s/^$1=//p" /run/hooks.log | tail -1
}

show_logs() {
	sed 's/^/# vmgend: /' /tmp/vmgend.log
	sed 's/^/# hooks.log: /' /run/hooks.log 2>/dev/null
	sed 's/^/# last-pass: /' /run/vmgen/last-pass 2>/dev/null
}
"""

SCENARIOS = [
    # Snapshot, then three clones, both emulated devices notifying: one
    # pass per clone, with the right environment.
    Scenario("user-clones", ["emu-both"], USER_LIB + r"""
setup_hooks
check modules-load load_modules
check vmgend-starts start_vmgend
check no-pass-at-start wait_passes 0
gen0=$(cat /sys/class/misc/vmgenid/generation)
run_test restore rig_selftest --snapshot 3
check one-pass-per-clone wait_passes 1
check event-is-restore test "$(hook_env VMGEN_EVENT)" = restore
check source-is-both-devices test "$(hook_env VMGEN_SOURCE)" = vmclock+vmgenid
check vmclock-generation-stepped test "$(hook_env VMGEN_GENERATION_NEW)" = \
	"$(($(hook_env VMGEN_GENERATION_OLD) + 1))"
check vmgenid-generation-stepped test "$(hook_env VMGEN_VMGENID_GENERATION_NEW)" = "$((gen0 + 1))"
check env-is-cleared sh -c '! sed -n "/^--- pass/,\$p" /run/hooks.log |
	grep -v -e "^--- pass" -e "^PATH=" -e "^VMGEN_[A-Z_]*="'
check reseed-hook-succeeded grep -q "hook.10-reseed-rng=exit 0" /run/vmgen/last-pass
check pass-logged grep -q "pass 1: restore.*notification to first hook" /tmp/vmgend.log
show_logs
""", kernels=X86, clones=3),

    # QEMU's devices only: vmclock cannot notify, so auto must pick the
    # VMGenID counter and say why; a restore still runs one pass.
    Scenario("user-qemu-auto", ["qemu-vmclock", "qemu-vmgenid"], USER_LIB + r"""
setup_hooks
check modules-load load_modules
check vmgend-starts start_vmgend --source auto
check auto-says-what-it-picked grep -i "source.*vmgenid" /tmp/vmgend.log
vmgenctl status --json > /tmp/status.json
echo "@@vmgen-json $(tr -d '\n' < /tmp/status.json)"
run_test restore rig_selftest --snapshot 1
check one-pass wait_passes 1
check event-is-restore test "$(hook_env VMGEN_EVENT)" = restore
show_logs
""", kernels=X86, clones=1),

    # An explicit source the platform cannot provide fails loudly.
    Scenario("user-unavailable-source", ["qemu-vmgenid"], USER_LIB + r"""
refuses() {	# refuses SOURCE: non-zero exit, and the message says why
	vmgend -f --source "$1" > /tmp/out 2>&1 &
	pid=$!
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 $pid 2>/dev/null; then
		kill $pid; echo "vmgend --source $1 kept running"; return 1
	fi
	wait $pid
	rc=$?
	cat /tmp/out
	[ $rc -ne 0 ] && [ -s /tmp/out ]
}
check no-vmclock-device refuses vmclock
check vmgenid-module-not-loaded refuses vmgenid
""", kernels=X86),

    # vmgend killed with SIGKILL before a restore and started again after
    # it: it runs the missed pass once, and a further restart runs none.
    Scenario("user-restart", ["emu-both"], USER_LIB + r"""
setup_hooks
check modules-load load_modules
check vmgend-starts start_vmgend
kill -9 "$(cat /tmp/vmgend.pid)"
run_test restore rig_selftest --snapshot 1
check restarted-after-restore start_vmgend
check missed-restore-runs-once wait_passes 1
kill "$(cat /tmp/vmgend.pid)"; sleep 0.5
check restarted-again start_vmgend
check no-repeated-pass wait_passes 1
show_logs
""", kernels=X86, clones=1),
]


def _status_json_parses(guests):
    import json
    out = []
    for g in guests:
        for line in g.console:
            if line.startswith("@@vmgen-json "):
                try:
                    doc = json.loads(line[len("@@vmgen-json "):])
                    ok = isinstance(doc, dict)
                    out.append(("status-json-parses[%s]" % g.name,
                                "pass" if ok else "fail", ""))
                except ValueError as e:
                    out.append(("status-json-parses[%s]" % g.name, "fail",
                                str(e)))
    if not out:
        out.append(("status-json-parses", "fail", "no JSON line printed"))
    return out


SCENARIOS[1].host_checks = (_status_json_parses,)
