#!/usr/bin/env python3
"""tbprofile.py LOG DEBUG [MARKS [END]] — where a TCG guest's boot spends its
code translation (tests/bench/tbprofile.sh writes LOG).

Under QEMU's TCG the guest's real time is dominated not by the instructions
it executes (QEMU -icount counts those) but by the translation of every
block of guest code the first time it runs: keel's boot work is ~12 ms of
instructions and ~250 ms of real TCG time.  The number of translated blocks
(TBs) is the deterministic proxy for that cost: three boots agree within
0.2%.

LOG is QEMU's `-d in_asm,nochain` output: each translated block starts with
"IN:" and the guest address of its first instruction.  DEBUG is the static
binary that ran as /init (build/keel.debug, or floor-init): its entry point
opens the window (everything the kernel translated before is the kernel's
own boot), and the first translation of each MARK function (in the order
they first ran) splits the window into phases.  Each phase counts the
kernel's blocks (system calls, page faults, modules) and user blocks.  END
(the container command's static binary, e.g. build/layers/base/bin/busybox)
closes the window at its entry point's first translation after the marks:
the command's first instruction.  Without it the window runs to the end of
LOG.  MARKS "" keeps the default list.
"""
import bisect
import re
import subprocess
import sys

DEFAULT_MARKS = ("main,boot_early,move_off_rootfs,boot_manifest_find,kmod_load,daemon_main,manifest_load,"
                 "boot_setup_machine,net_loopback_up,cgroup_setup,net_init,supervisor_new,control_new,"
                 "ctr_spawn,container_start,setup_run,ensure_netns,container_hand_over")
KERNEL = 0xffff800000000000


def symbols(binary):
    out = subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 3 and p[1] in "tTwW":
            syms.setdefault(p[2].split(".")[0], int(p[0], 16))
    return syms


def entry_point(binary):
    out = subprocess.run(["readelf", "-h", binary], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Entry point address:\s+0x([0-9a-f]+)", out).group(1), 16)


def blocks(log):
    tbs = []
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                m = re.match(r"0x([0-9a-f]+):", next(f, ""))
                if m:
                    tbs.append(int(m.group(1), 16))
    return tbs


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    log, binary = sys.argv[1], sys.argv[2]
    marks = (sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else DEFAULT_MARKS).split(",")
    tbs = blocks(log)
    entry = entry_point(binary)
    if entry not in tbs:
        sys.exit("tbprofile: %s's entry point 0x%x was never translated: not the guest's /init?" % (binary, entry))
    start = tbs.index(entry)
    w = tbs[start:]
    syms = symbols(binary)
    first = {}
    for i, a in enumerate(w):
        first.setdefault(a, i)
    cuts = sorted((first[syms[m]], m) for m in marks if m in syms and syms[m] in first)
    end = len(w)
    if len(sys.argv) > 4:
        e = entry_point(sys.argv[4])
        after = cuts[-1][0] if cuts else 0
        end = next((i for i in range(after, len(w)) if w[i] == e), None)
        if end is None:
            sys.exit("tbprofile: %s's entry point 0x%x was not translated after the marks" % (sys.argv[4], e))
    cuts = [(0, "_start (exec, libc start)")] + cuts + [(end, None)]
    print("TBs translated before /init's entry (the kernel's boot): %d" % start)
    print("%-30s %8s %8s" % ("phase (from the first run of)", "kernel", "user"))
    tk = tu = 0
    for (i, name), (j, _) in zip(cuts, cuts[1:]):
        k = sum(1 for a in w[i:j] if a >= KERNEL)
        u = j - i - k
        tk += k
        tu += u
        print("%-30s %8d %8d" % (name, k, u))
    print("%-30s %8d %8d   (%d)" % ("window total" + (" (to END's entry)" if end < len(w) else ""), tk, tu, tk + tu))


if __name__ == "__main__":
    main()
