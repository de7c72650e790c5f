#!/bin/bash
# test_cgroupmod.sh — src/cgroup.c on Debian's kernel (cgroup2 with every
# controller), driven by tests/vm/cgroup-harness.c, a minimal PID 1 without
# keel's supervisor: boot-mode setup (controllers, supervisor leaf,
# memory.min, oom_score_adj), clone3(CLONE_INTO_CGROUP) through the returned
# fd, cpu.max measured, pids.max holding a fork bomb, an OOM group kill seen
# in memory.events, cgroup.kill of a forking cgroup, removal, refusal of a
# limit whose controller is missing.  About 8 s under TCG.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_harness cgroupmod tests/vm/cgroup-harness.c "$VM_OUT/cgroup-harness"
root=$VM_OUT/cgroupmod-root
rm -rf "$root"; mkdir -p "$root"/{dev,proc,sys}
cp "$VM_OUT/cgroup-harness" "$root/init"
vm_cpio "$root" "$VM_OUT/cgroupmod.cpio"

vm_start cgroupmod "$VM_OUT/cgroupmod.cpio" ""
vm_wait_end 120

vm_assert "cgroupmod: the cgroup2 root is inode 1, taken by keel run's mountinfo shortcut" 'harness: cgroup2 root ino=1 mount_is_root=1'
vm_assert "cgroupmod: every controller enabled for keel's subtree" 'harness: setup available=1 path=/sys/fs/cgroup/keel controllers=0x1f'
vm_assert "cgroupmod: boot mode: keel stays in the root cgroup until cgroup_enter_leaf" 'harness: self cgroup at setup 0::/[[:space:]]*$'
vm_assert "cgroupmod: keel in its supervisor leaf" 'harness: self cgroup 0::/keel/supervisor'
vm_assert "cgroupmod: keel's oom_score_adj -1000" 'harness: oom_score_adj -1000'
vm_assert "cgroupmod: supervisor memory.min" 'harness: supervisor memory.min 16777216'
vm_assert "cgroupmod: cpu.max and cpuset.cpus written" 'harness: spin cpu.max 25000 100000'
ratio=$(grep -aoE 'harness: cpu ratio=[0-9.]+' "$VM_CONSOLE" | head -n 1 | cut -d= -f2)
if awk -v x="${ratio:-}" 'BEGIN { exit !(x != "" && x >= 0.15 && x <= 0.35) }'; then
    vm_ok "cgroupmod: cpu.max 25000/100000 gives ~25% (got $ratio)"
else
    vm_not_ok "cgroupmod: cpu.max 25000/100000 gives ~25%" "ratio ${ratio:-none}"
fi
vm_assert "cgroupmod: pids.max 64 holds a fork bomb" 'harness: pids max_seen=(6[0-4]|[1-5][0-9])([^0-9]|$)'
vm_assert "cgroupmod: the fork bomb hit pids.max" 'harness: bomb pids.events max [1-9]'
vm_assert "cgroupmod: the hog is OOM-killed as a group" 'harness: hog status signaled=1 sig=9 oom_kill=[1-9][0-9]* group_kill=[1-9]'
vm_assert "cgroupmod: cgroup.kill empties a forking cgroup" 'harness: forker kill 0, empty after [0-9]+ ms'
vm_assert "cgroupmod: cgroups removed" 'harness: forker remove 0'
vm_assert "cgroupmod: a missing controller is refused by name and path" 'harness: io refused -95: .*controller io is not available in /sys/fs/cgroup/keel'
vm_end_is "cgroupmod: harness finished and powered off" poweroff
