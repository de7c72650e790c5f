#!/usr/bin/python3
"""hotlist.py — where keel's resident text comes from, and the list of the
code its PID 1 runs (link/hot.ld).  Run by tests/bench/hotlist inside fresh
namespaces (as bench.py is); see that script.

  hotlist.py funcs BINARY MAP OUT  the entry addresses of BINARY's functions, for calltrace
  hotlist.py trace OUT.addrs [seccomp]   calltrace keel run (10 idle containers) until
                                  all started; with "seccomp", the containers have keel's
                                  default filter (built by PID 1) instead of none
  hotlist.py measure OUT.json [seccomp]  keel run (10 idle containers), untraced: VmHWM, VmRSS,
                                  the resident pages of each mapping of the binary
  hotlist.py report MAP JSON [ADDRS]   (outside the namespaces) resident text and rodata
                                  by origin (keel's objects, libc, mbedTLS, ...), and how
                                  much of the resident text holds code PID 1 ran
  hotlist.py script MAP OUT.ld ADDRS...  the linker script fragment: every input section
                                  of MAP that holds an address of an ADDRS, first in .text
"""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEEL = os.environ.get("KEEL", os.path.join(REPO, "build", "keel"))
LAYERS = os.environ.get("LAYERS", os.path.join(REPO, "build", "layers"))
CALLTRACE = os.path.join(REPO, "build", "bench", "bin", "calltrace")
WORK = "/run/hotlist"
OUT = os.path.join(REPO, "build", "bench")
PAGE = 4096


def manifest(path, seccomp=False):
    """The bench's footprint manifest (bench.py idle_manifest): ten idle
    containers on the two busybox layers, a control socket; seccomp: keel's
    default filter rather than none."""
    lowers = LAYERS + "/over:" + LAYERS + "/base"
    with open(path, "w") as f:
        f.write("[system]\nlog_dir = %s/log\nstop_timeout = 2\ncontrol = unix://%s/idle.sock\n" % (WORK, WORK))
        for k in range(10):
            f.write("\n[container i%d]\nlayers = %s\nupper = tmpfs\ncommand = /bin/sleep 1000000\n"
                    "network = none\n%s" % (k, lowers, "" if seccomp else "seccomp = unconfined\n"))


def wait_started(logfile, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(logfile, errors="replace") as f:
            if len(re.findall(r"i\d+: started", f.read())) >= 10:
                return
        if proc.poll() is not None:
            sys.exit("hotlist: %s exited before 10 containers started (%s)" % (proc.args[0], logfile))
        time.sleep(0.05)
    sys.exit("hotlist: 10 containers not started within %d s (%s)" % (timeout, logfile))


def keel_pid(parent):
    """keel's pid: the child of calltrace, or the process itself."""
    for t in os.listdir("/proc/%d/task" % parent):
        with open("/proc/%d/task/%s/children" % (parent, t)) as f:
            kids = [int(x) for x in f.read().split()]
        if kids:
            return kids[0]
    return parent


def stop(proc, pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def start(cmd, log, seccomp):
    os.makedirs(WORK, exist_ok=True)
    m = WORK + "/idle10.ini"
    manifest(m, seccomp)
    # Half the logs there already, as after keel's first run (the bench's
    # rounds after its warm-up, an appliance's every boot after the first),
    # half new: both ways of opening a log run, so both are on the hot list.
    os.makedirs(WORK + "/log", exist_ok=True)
    for k in range(5):
        open("%s/log/i%d.log" % (WORK, k), "a").close()
    for k in range(5, 10):
        try:
            os.unlink("%s/log/i%d.log" % (WORK, k))
        except FileNotFoundError:
            pass
    f = open(log, "w")
    return subprocess.Popen(cmd + [KEEL, "run", m], stdin=subprocess.DEVNULL, stdout=f,
                            stderr=subprocess.STDOUT, start_new_session=True)


def trace(out, seccomp=False):
    """calltrace keel until its 10 containers started: OUT gets the entry
    addresses of the functions keel's own process ran (OUT.funcs, written
    by the caller, lists them all)."""
    log = OUT + "/hotlist-trace.log"
    p = start([CALLTRACE, out + ".funcs", out], log, seccomp)
    wait_started(log, p, 300)
    pid = keel_pid(p.pid)
    p.send_signal(signal.SIGUSR1)       # calltrace writes OUT, detaches
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    if p.returncode != 0:
        sys.exit("hotlist: calltrace failed (%s)" % log)
    stop(p, pid)


def resident(pid):
    """For each mapping of the executable: (start, end, perms, offset, [resident page addresses])."""
    exe = os.readlink("/proc/%d/exe" % pid)
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == exe:
                a, b = (int(x, 16) for x in parts[0].split("-"))
                maps.append((a, b, parts[1], int(parts[2], 16)))
    out = []
    with open("/proc/%d/pagemap" % pid, "rb") as pm:
        for a, b, perms, off in maps:
            pm.seek(a // PAGE * 8)
            data = pm.read((b - a) // PAGE * 8)
            pages = [a + i * PAGE for i, (e,) in enumerate(struct.iter_unpack("<Q", data)) if e >> 63]
            out.append({"start": a, "end": b, "perms": perms, "offset": off, "resident": pages})
    return out


def status(pid):
    d = {}
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            k, _, v = l.partition(":")
            if k.startswith("Vm") or k.startswith("Rss"):
                d[k] = int(v.split()[0])
    return d


def measure(out, seccomp=False):
    log = OUT + "/hotlist-measure.log"
    p = start([], log, seccomp)
    try:
        wait_started(log, p, 60)
        time.sleep(0.2)
        d = {"status": status(p.pid), "maps": resident(p.pid)}
    finally:
        stop(p, p.pid)
    with open(out, "w") as f:
        json.dump(d, f)


# --- the link map ---------------------------------------------------------

SEC_RE = re.compile(r"^ (\.\S+)\s*$")
ENTRY_RE = re.compile(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def input_sections(mapfile):
    """[(address, size, section name, file)] of the input sections in the
    output sections of MAP, from GNU ld's -Map output."""
    out = []
    pending = None
    in_memmap = False
    with open(mapfile) as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_memmap = True
                continue
            if not in_memmap:
                continue
            line = line.rstrip("\n")
            m = SEC_RE.match(line)
            if m:
                pending = m.group(1)
                continue
            m = ENTRY_RE.match(line)
            if m:
                name = m.group(1) or pending
                pending = None
                addr, size, rest = int(m.group(2), 16), int(m.group(3), 16), m.group(4).strip()
                if name and size and not rest.startswith("0x") and "(" not in rest[:1]:
                    out.append((addr, size, name, rest))
                continue
            pending = None
    out.sort()
    return out


def funcs(binary, mapfile, out):
    """The entry addresses of the functions in the text of binary (its
    symbol table: FUNC and IFUNC symbols) for calltrace."""
    secs = [s for s in input_sections(mapfile) if s[2].startswith(".text")]
    addrs = set()
    syms = subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True, check=True).stdout
    for line in syms.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] in ("FUNC", "IFUNC") and f[6] != "UND":
            a = int(f[1], 16)
            if find(secs, a):
                addrs.add(a)
    with open(out, "w") as f:
        f.write("".join("%x\n" % a for a in sorted(addrs)))
    print("hotlist: %d functions in %s" % (len(addrs), binary))


def origin(path):
    """A short name for where an input section comes from."""
    m = re.search(r"([^/]+\.a)\(", path)
    if m:
        return m.group(1)
    if "/obj/" in path:
        return "keel"
    return os.path.basename(path)


def find(secs, addr):
    """The input section holding addr (binary search), or None."""
    lo, hi = 0, len(secs)
    while lo < hi:
        mid = (lo + hi) // 2
        if secs[mid][0] <= addr:
            lo = mid + 1
        else:
            hi = mid
    if lo and secs[lo - 1][0] <= addr < secs[lo - 1][0] + secs[lo - 1][1]:
        return secs[lo - 1]
    return None


def read_addrs(path):
    with open(path) as f:
        return [int(l, 16) for l in f if l.strip()]


def report(mapfile, jsonfile, addrs_file=None):
    secs = input_sections(mapfile)
    with open(jsonfile) as f:
        d = json.load(f)
    st = d["status"]
    print("VmHWM %d kB, VmRSS %d kB, RssAnon %d, RssFile %d, RssShmem %d" %
          (st["VmHWM"], st["VmRSS"], st.get("RssAnon", 0), st.get("RssFile", 0), st.get("RssShmem", 0)))
    hit_pages, hit_secs = set(), set()
    if addrs_file:
        for a in read_addrs(addrs_file):
            hit_pages.add(a // PAGE * PAGE)
            s = find(secs, a)
            if s:
                hit_secs.add(s)
        print("PID 1 ran code in %d input sections, %d KiB of them (%d pages hold the entry of a function it ran)" %
              (len(hit_secs), sum(s[1] for s in hit_secs) // 1024, len(hit_pages)))
    for m in d["maps"]:
        size = (m["end"] - m["start"]) // 1024
        res = m["resident"]
        by = {}
        for pg in res:
            s = find(secs, pg) or find(secs, pg + PAGE - 1)
            o = origin(s[3]) if s else "-"
            by[o] = by.get(o, 0) + 4
        line = "  %s %6d KiB mapped, %5d KiB resident" % (m["perms"], size, len(res) * 4)
        if "x" in m["perms"] and addrs_file:
            line += " (%d KiB of it with a function PID 1 ran)" % (len([p for p in res if p in hit_pages]) * 4)
        print(line)
        for o, k in sorted(by.items(), key=lambda x: -x[1])[:8]:
            print("      %-22s %5d KiB" % (o, k))


def script(mapfile, out, *addrs_files):
    """The hot list as a GNU ld script fragment: one output section before
    .text holding every input section that holds executed code, in address
    order of the traced link (so regenerating from a hot link keeps the
    order).  Sections of keel's objects and of -ffunction-sections archives
    are named alone; a libc member's whole .text where it has one."""
    secs = input_sections(mapfile)
    hit = {}
    for addrs_file in addrs_files:
        # Addresses are of one link: a trace older than the map is of another.
        if os.path.getmtime(addrs_file) < os.path.getmtime(mapfile):
            sys.exit("hotlist: %s is older than %s: trace the binary of this link again" % (addrs_file, mapfile))
        for a in read_addrs(addrs_file):
            s = find(secs, a)
            if s and s[2].startswith(".text"):
                hit[s] = 1
    lines = patterns(sorted(hit))
    with open(out, "w") as f:
        f.write("/* link/hot.ld — the code keel's PID 1 runs to start 10 idle containers\n"
                " * (`keel run`, the bench's footprint manifest, without and with keel's\n"
                " * default seccomp filter; and booted as a VM's PID 1), first and\n"
                " * together in the text, so that the kernel's fault-around and the page\n"
                " * cache's large folios map mostly code keel runs (issue 17, VmHWM).\n"
                " * Generated by `make hot-list` (tests/bench/hotlist) from a traced run:\n"
                " * do not edit.  An entry that no longer matches a section is ignored by\n"
                " * the linker; code missing from it is linked after it, as before. */\n"
                "SECTIONS\n{\n  .text.keel_hot :\n  {\n")
        f.write("\n".join(lines) + "\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print("hotlist: %d input sections, %d KiB, in %s" % (len(lines), sum(s[1] for s in hit) // 1024, out))


def patterns(secs):
    """Linker script input section descriptions for (addr, size, name, path)."""
    out, seen = [], set()
    for addr, size, name, path in secs:
        m = re.search(r"([^/]+\.a)\(([^)]+)\)$", path)
        # Always with the file: a bare *(.text) would take every file's.
        if m:
            pat = "*%s:%s(%s)" % (m.group(1), m.group(2), name)
        else:
            pat = "*/%s(%s)" % (os.path.basename(path), name)
        if pat not in seen:
            seen.add(pat)
            out.append("    " + pat)
    return out


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "trace":
        trace(sys.argv[2], sys.argv[3:4] == ["seccomp"])
    elif cmd == "measure":
        measure(sys.argv[2], sys.argv[3:4] == ["seccomp"])
    elif cmd == "funcs":
        funcs(*sys.argv[2:5])
    elif cmd == "report":
        report(*sys.argv[2:5])
    elif cmd == "script":
        script(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
