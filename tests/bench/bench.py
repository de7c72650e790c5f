#!/usr/bin/python3
"""bench.py -- keel against crun, runc, tini, bubblewrap and the kernel's floor.

Run by tests/bench/run inside fresh PID, mount, UTS, IPC and network
namespaces with a private tmpfs on /run, so nothing here touches the host's
processes, mounts, network or /run.  See tests/bench/README.md.

Every comparison alternates the tools (A B A B ...), starts with warm-up
rounds that are not counted, and reports median, min and max of the counted
rounds and the ratio keel/peer.  A section whose keel feature is not there
yet (keel check rejects it, or a trial run fails, or the verb is missing)
prints why it is skipped and runs by itself once the feature works.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEEL = os.environ.get("KEEL", os.path.join(REPO, "build", "keel"))
LAYERS = os.environ.get("LAYERS", os.path.join(REPO, "build", "layers"))
BIN = os.path.join(REPO, "build", "bench", "bin")
OUT = os.path.join(REPO, "build", "bench")
WORK = "/run/bench"                    # a tmpfs private to the bench namespaces
LOWERS = LAYERS + "/over:" + LAYERS + "/base"   # the two busybox layers, over on top
# Default capabilities of keel (Docker's minus NET_RAW and MKNOD), given to the
# peers too so that every tool drops the same set.
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def tail(path, n=6):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError:
        return ""


def first_error(path):
    """The last 'keel: error' or 'failed:' line of a keel log, for skip reasons."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for l in reversed(lines):
        if "error:" in l or "failed:" in l:
            return re.sub(r"^\[ *[0-9.]+\] ", "", l.strip())
    return ""


# ---- statistics and the result table -------------------------------------------

class Results:
    def __init__(self):
        self.rows = []       # dicts: section what unit keel peer peer_name ... note
        self.skips = []      # (section, reason)
        self.notes = []      # free text lines for the notes under the table
        self.raw = {}        # name -> samples (for results.json)

    def row(self, section, what, unit, keel, peer_name, peer, note=""):
        """keel, peer: lists of samples (or a single number, or None)."""
        def summ(v):
            if v is None:
                return None
            if not isinstance(v, list):
                v = [v]
            return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
        r = {"section": section, "what": what, "unit": unit, "keel": summ(keel), "peer_name": peer_name,
             "peer": summ(peer), "note": note}
        self.rows.append(r)
        k, p = r["keel"], r["peer"]
        ratio = fmt_ratio(k, p)
        log("  %-44s keel %-10s %-22s %-10s ratio %s" % (
            what, fmt(k, unit), peer_name or "", fmt(p, unit), ratio))

    def skip(self, section, reason):
        self.skips.append((section, reason))
        log("  skipped: " + reason)


def fmt_num(x, unit):
    if x is None:
        return "—"
    if unit == "ms":
        return "%.2f ms" % x if x < 100 else "%.0f ms" % x
    if unit == "KiB":
        return "%.0f KiB" % x
    if unit == "req/s":
        return "%.0f/s" % x
    if unit == "ms cpu":
        return "%.3f ms" % x
    return "%g %s" % (x, unit)


def fmt(s, unit):
    return fmt_num(s["median"], unit) if s else "—"


def fmt_range(s, unit):
    if not s:
        return "—"
    if s["n"] == 1:
        return "(1 run)"
    if unit == "ms":
        return "%.2f–%.2f" % (s["min"], s["max"])
    return "%.0f–%.0f" % (s["min"], s["max"])


def fmt_ratio(k, p):
    if not k or not p or p["median"] == 0:
        return "—"
    return "%.2f×" % (k["median"] / p["median"])


def table(res):
    out = ["| what | keel median | peer | peer median | keel/peer | keel min–max | peer min–max |",
           "|---|---|---|---|---|---|---|"]
    for r in res.rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["what"], fmt(r["keel"], r["unit"]), r["peer_name"] or "—", fmt(r["peer"], r["unit"]),
            fmt_ratio(r["keel"], r["peer"]), fmt_range(r["keel"], r["unit"]), fmt_range(r["peer"], r["unit"])))
    return "\n".join(out)


# ---- running things -----------------------------------------------------------------

def run(cmd, check=True, timeout=120, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise BenchError("%s exited with %d: %s" % (" ".join(cmd), p.returncode, (p.stderr or p.stdout).strip()))
    return p


def timed(cmd, logfile, mntns=None, seq=None, par=None, timeout=120, env=None):
    """One measured run through the stopwatch: elapsed milliseconds."""
    sw = [os.path.join(BIN, "stopwatch"), "--log", logfile]
    if mntns:
        sw += ["--mntns", mntns]
    if seq:
        sw += ["--seq", str(seq)]
    if par:
        sw += ["--par", str(par)]
    # A session of its own: a tool that hangs is killed with all it started.
    p = subprocess.Popen(sw + ["--"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise BenchError("%s did not finish within %d s" % (" ".join(cmd), timeout))
    if p.returncode != 0:
        raise BenchError("%s: %s\n%s" % (" ".join(cmd), err.strip(), tail(logfile)))
    return int(out.strip()) / 1e6


def alternate(variants, warmup, runs):
    """variants: list of (name, fn) where fn() returns one sample.  Runs them
    in turn, A B C A B C ..., and returns {name: [samples]} of counted rounds."""
    samples = {name: [] for name, _ in variants}
    for i in range(warmup + runs):
        for name, fn in variants:
            v = fn()
            if i >= warmup:
                samples[name].append(v)
    return samples


def write_manifest(path, containers, system_extra=""):
    """containers: list of (name, dict of keys) in order."""
    with open(path, "w") as f:
        f.write("[system]\nlog_dir = %s/log\nstop_timeout = 2\n%s" % (WORK, system_extra))
        for name, keys in containers:
            f.write("\n[container %s]\n" % name)
            for k, v in keys.items():
                for item in (v if isinstance(v, list) else [v]):
                    f.write("%s = %s\n" % (k, item))


def ctr(command, **extra):
    """A container like the other tools': the two busybox layers, tmpfs upper,
    network none, keel's default capabilities; no seccomp filter, since the
    peers' bundles (crun spec) have none either."""
    d = {"layers": LOWERS, "upper": "tmpfs", "command": command, "network": "none", "seccomp": "unconfined"}
    d.update(extra)
    return d


def keel_check(path):
    p = run([KEEL, "check", path], check=False)
    if p.returncode != 0:
        msg = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[0]
        return msg
    return None


class Background:
    """A long-running process (keel run, tini) whose pid we sample."""

    def __init__(self, cmd, logfile, **kw):
        self.logfile = logfile
        self.f = open(logfile, "w")
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.f, stderr=subprocess.STDOUT,
                                  start_new_session=True, **kw)

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            if self.p.poll() is not None:
                raise BenchError("%s: exited with %s before %s\n%s" % (self.p.args[0], self.p.returncode, what,
                                                                        tail(self.logfile)))
            time.sleep(0.01)
        raise BenchError("%s: no %s within %d s\n%s" % (self.p.args[0], what, timeout, tail(self.logfile)))

    def log_count(self, pattern):
        with open(self.logfile, errors="replace") as f:
            return len(re.findall(pattern, f.read()))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            try:
                self.p.send_signal(sig)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.f.close()


def proc_children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def vm_rss_kib(pid, field="VmRSS"):
    """VmRSS (resident now) or VmHWM (the high-water mark of VmRSS over the
    process's life) from /proc/PID/status, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(field + ":"):
                return int(l.split()[1])
    raise BenchError("no %s for pid %d" % (field, pid))


def cpu_ms(pid):
    """(utime + stime from /proc/PID/stat in ms, with the clock tick's 10 ms
    resolution; and the scheduler's own count from /proc/PID/schedstat, in
    ns, which shows the sub-tick figure)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3): utime is field 14, stime 15.
    ticks = int(fields[11]) + int(fields[12])
    precise = None
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            precise = int(f.read().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK"), precise


# ---- the peers' world: an OCI bundle and a mount namespace without cgroup v2 ---------

class Peers:
    """The OCI bundle over a pre-mounted overlay, and the mount namespace
    the peers run in (/sys/fs/cgroup/unified unmounted there, so that crun
    and runc see plain cgroup v1 instead of the hybrid layout crun refuses)."""

    def __init__(self):
        self.bundle = WORK + "/bundle"
        self.rootfs = self.bundle + "/rootfs"
        self.cgroup = "unknown"
        self.ns_proc = None
        self.mntns = None
        self.n = 0

    def setup(self):
        ovl = WORK + "/peer-overlay"
        for d in (self.rootfs, ovl):
            os.makedirs(d, exist_ok=True)
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", ovl])
        os.makedirs(ovl + "/upper")
        os.makedirs(ovl + "/work")
        run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s/upper,workdir=%s/work"
             % (LOWERS, ovl, ovl), self.rootfs])
        run(["crun", "spec"], cwd=self.bundle)
        with open(self.bundle + "/config.json") as f:
            c = json.load(f)
        c["process"]["terminal"] = False
        c["process"]["args"] = ["/bin/true"]
        caps = c["process"]["capabilities"]
        for k in ("bounding", "effective", "permitted"):
            caps[k] = list(CAPS)
        caps["inheritable"] = []
        caps["ambient"] = []
        c["root"] = {"path": self.rootfs, "readonly": False}
        c["hostname"] = "c"
        c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network")]
        with open(self.bundle + "/config.json", "w") as f:
            json.dump(c, f, indent=1)
        # The peers' mount namespace: a sleeping process holds it.
        unified = os.path.ismount("/sys/fs/cgroup/unified")
        self.ns_proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             "%s echo ready; exec sleep 1000000" % ("umount /sys/fs/cgroup/unified &&" if unified else "")],
            stdout=subprocess.PIPE, text=True)
        if self.ns_proc.stdout.readline().strip() != "ready":
            raise BenchError("cannot make the peers' mount namespace")
        self.mntns = "/proc/%d/ns/mnt" % self.ns_proc.pid
        fs = run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]).stdout.strip()
        if fs == "cgroup2fs":
            self.cgroup = "cgroup v2 (cgroupfs)"
        elif unified:
            self.cgroup = "cgroup v1 (cgroupfs; the host's hybrid v2 mount hidden in a private mount namespace)"
        else:
            self.cgroup = "cgroup v1 (cgroupfs)"

    def next_id(self, prefix):
        self.n += 1
        return "%s%d" % (prefix, self.n)

    def cmd(self, tool, ident, nocgroup=False):
        if tool == "crun":
            return ["crun"] + (["--cgroup-manager=disabled"] if nocgroup else []) + \
                ["run", "--bundle", self.bundle, ident]
        return ["runc", "run", "--bundle", self.bundle, ident]

    def close(self):
        if self.ns_proc:
            self.ns_proc.kill()
            self.ns_proc.wait()


# ---- sections ----------------------------------------------------------------------------

def section_start(res, peers, a):
    log("\n== 1. container start-to-exit latency (/bin/true)")
    one = WORK + "/one.ini"
    write_manifest(one, [("c", ctr("/bin/true", main="yes"))])
    # The same with a user namespace of its own (idmapped layers): its cost.
    uns = WORK + "/one-userns.ini"
    write_manifest(uns, [("c", ctr("/bin/true", main="yes", userns="auto"))])
    why = keel_check(one)
    if why:
        res.skip("start", "keel check rejects the one-container manifest: " + why)
        return
    klog = OUT + "/keel-start.log"
    plog = OUT + "/peers-start.log"
    stage = WORK + "/floor"
    os.makedirs(stage, exist_ok=True)
    have_bwrap = shutil.which("bwrap") is not None
    variants = [
        ("keel", lambda: timed([KEEL, "run", one], klog)),
        ("keel-userns", lambda: timed([KEEL, "run", uns], klog)),
        # Equal work with crun --cgroup-manager=disabled and the floor: keel
        # in the peers' mount namespace, where no cgroup2 is mounted, runs
        # its containers without cgroups (docs/cgroups.md).
        ("keel-nocg", lambda: timed([KEEL, "run", one], klog, peers.mntns)),
        ("crun", lambda: timed(peers.cmd("crun", peers.next_id("c")), plog, peers.mntns)),
        ("crun-nocg", lambda: timed(peers.cmd("crun", peers.next_id("d"), True), plog, peers.mntns)),
        ("runc", lambda: timed(peers.cmd("runc", peers.next_id("r")), plog, peers.mntns)),
        ("floor", lambda: timed([BIN + "/floor", stage, LOWERS, "/bin/true"], plog)),
        # The floor with exactly a default keel container's isolation (floor.c -i):
        # how much of keel's distance to the floor is isolation, how much keel's own.
        ("floor-iso", lambda: timed([BIN + "/floor", "-i", stage, LOWERS, "/bin/true"], plog)),
    ]
    if have_bwrap:
        variants.append(("bwrap", lambda: timed(
            ["bwrap", "--unshare-all", "--bind", peers.rootfs, "/", "--proc", "/proc", "--dev", "/dev",
             "--cap-drop", "ALL", "/bin/true"], plog)))
    s = alternate(variants, a.warmup, a.runs)
    res.raw["start"] = s
    res.row("start", "start-to-exit, 1 container", "ms", s["keel"], "crun run (cgroup v1)", s["crun"])
    res.row("start", "start-to-exit, 1 container", "ms", s["keel"], "crun run (no cgroups)", s["crun-nocg"])
    res.row("start", "start-to-exit, 1 container", "ms", s["keel"], "runc run (cgroup v1)", s["runc"])
    res.row("start", "start-to-exit, 1 container", "ms", s["keel"], "floor (tests/bench/floor.c)", s["floor"])
    res.row("start", "start-to-exit, no cgroups (equal work)", "ms", s["keel-nocg"], "crun run (no cgroups)",
            s["crun-nocg"], note="keel in the peers' mount namespace, where no cgroup2 is mounted")
    res.row("start", "start-to-exit, no cgroups (equal work)", "ms", s["keel-nocg"], "floor (tests/bench/floor.c)",
            s["floor"], note="keel in the peers' mount namespace, where no cgroup2 is mounted")
    res.row("start", "start-to-exit, 1 container", "ms", s["keel"], "floor with keel's isolation (floor.c -i)",
            s["floor-iso"])
    res.row("start", "start-to-exit, no cgroups (equal work)", "ms", s["keel-nocg"],
            "floor with keel's isolation (floor.c -i)", s["floor-iso"],
            note="keel in the peers' mount namespace, where no cgroup2 is mounted")
    res.row("start", "floor with keel's isolation (floor.c -i)", "ms", s["floor-iso"], "floor (bare)", s["floor"],
            note="what keel's isolation costs the floor itself")
    if have_bwrap:
        res.row("start", "start-to-exit, 1 container", "ms", s["keel"], "bwrap --unshare-all (no overlay)",
                s["bwrap"])
    res.row("start", "start-to-exit, userns = auto", "ms", s["keel-userns"], "keel, userns = no", s["keel"],
            note="the user namespace, its maps and the idmapped layers")

    # 100 one after another: keel run 100 times against crun run 100 times.
    n_seq = 100
    s = alternate([
        ("keel", lambda: timed([KEEL, "run", one], klog, seq=n_seq)),
        ("crun", lambda: timed(peers.cmd("crun", "s{}-" + peers.next_id("s")), plog, peers.mntns, seq=n_seq)),
    ], 1, a.runs_big)
    res.raw["seq100"] = s
    res.row("start", "%d containers in sequence (keel run ×%d)" % (n_seq, n_seq), "ms", s["keel"],
            "crun run ×%d (cgroup v1)" % n_seq, s["crun"])

    # 100 chained in one manifest (each depends on the one before).
    chain = WORK + "/chain.ini"
    write_manifest(chain, [("c%d" % i, ctr("/bin/true", **({"depends": "c%d" % (i - 1)} if i else {})))
                           for i in range(n_seq)])
    try:
        s = alternate([("keel", lambda: timed([KEEL, "run", chain], klog, timeout=10))], 1, a.runs_big)
        res.raw["chain100"] = s
        res.row("start", "%d chained by depends, one manifest" % n_seq, "ms", s["keel"],
                "crun run ×%d (above)" % n_seq, res.raw["seq100"]["crun"])
    except BenchError as e:
        res.skip("start", "%d containers chained by depends in one manifest: %s" % (n_seq, str(e).splitlines()[0]))

    # 50 at once: one manifest against 50 crun run started together.
    n_par = 50
    many = WORK + "/many.ini"
    write_manifest(many, [("c%d" % i, ctr("/bin/true")) for i in range(n_par)])
    s = alternate([
        ("keel", lambda: timed([KEEL, "run", many], klog)),
        ("crun", lambda: timed(peers.cmd("crun", "p{}-" + peers.next_id("p")), plog, peers.mntns, par=n_par)),
    ], 1, a.runs_big)
    res.raw["par50"] = s
    res.row("start", "%d containers at once, one manifest" % n_par, "ms", s["keel"],
            "%d × crun run at once (cgroup v1)" % n_par, s["crun"])


def section_network(res, peers, a):
    log("\n== 2. network setup cost")
    plog = OUT + "/peers-net.log"
    # The shell way: the same links made with ip commands, in a network
    # namespace that already exists (as a runtime hook would find it).
    script = WORK + "/ip-links.sh"
    with open(script, "w") as f:
        f.write("""set -e
pid=$1
ip link add kbench0 type bridge
ip addr add 172.31.0.1/24 dev kbench0
ip link set kbench0 up
ip link add vkb0 type veth peer name eth0 netns $pid
ip link set vkb0 master kbench0 up
nsenter -t $pid -n ip addr add 172.31.0.2/24 dev eth0
nsenter -t $pid -n ip link set eth0 up
nsenter -t $pid -n ip route add default via 172.31.0.1
""")

    def ip_run():
        holder = subprocess.Popen(["unshare", "--net", "sleep", "1000"])
        try:
            deadline = time.monotonic() + 5
            while os.readlink("/proc/%d/ns/net" % holder.pid) == os.readlink("/proc/self/ns/net"):
                if time.monotonic() > deadline:
                    raise BenchError("the network namespace holder did not start")
                time.sleep(0.001)
            return timed(["sh", script, str(holder.pid)], plog)
        finally:
            holder.kill()
            holder.wait()
            # The namespace dies asynchronously: delete the veth here, or
            # the next round finds vkb0 still there.
            for dev in ("vkb0", "kbench0"):
                subprocess.run(["ip", "link", "del", dev], stderr=subprocess.DEVNULL)

    bridge = WORK + "/bridge.ini"
    none = WORK + "/none.ini"
    write_manifest(none, [("c", ctr("/bin/true", main="yes"))])
    write_manifest(bridge, [("c", ctr("/bin/true", main="yes", network="bridge", ports="8080:80"))])
    # The trial container exits 0 only when it has an address on eth0 and a
    # default route: keel accepting network = bridge is not enough.
    trial = WORK + "/bridge-trial.ini"
    write_manifest(trial, [("c", ctr("/bin/sh -c 'ip -4 addr show dev eth0 | grep -q inet && "
                                     "ip route | grep -q ^default'", main="yes", network="bridge",
                                     ports="8080:80"))])
    why = keel_check(bridge)
    klog = OUT + "/keel-net.log"
    if not why:
        try:
            timed([KEEL, "run", trial], klog, timeout=20)
        except BenchError as e:
            why = "a trial bridge-mode container finds no address on eth0 or no default route " \
                  "(keel does not set up bridge networking yet)"
            err = first_error(klog)
            if err and "exited with status" not in err:
                why += ": " + err
    else:
        why = "keel check rejects network = bridge: " + why
    if why:
        res.skip("network", why)
        s = alternate([("ip", ip_run)], 1, a.runs)
        res.raw["net"] = s
        res.row("network", "bridge setup added to a start", "ms", None,
                "ip commands (veth, bridge, addr, route)", s["ip"])
        return
    s = alternate([
        ("bridge", lambda: timed([KEEL, "run", bridge], klog)),
        ("none", lambda: timed([KEEL, "run", none], klog)),
        ("ip", ip_run),
    ], a.warmup, a.runs)
    res.raw["net"] = s
    res.row("network", "bridge-mode start (port published)", "ms", s["bridge"], "keel none-mode start", s["none"])
    added = [b - n for b, n in zip(s["bridge"], s["none"])]
    res.row("network", "bridge setup added to a start", "ms", added,
            "ip commands (veth, bridge, addr, route)", s["ip"],
            note="keel's figure: bridge minus none of the same round")


def idle_manifest(path, n, extra=""):
    write_manifest(path, [("i%d" % k, ctr("/bin/sleep 1000000")) for k in range(n)],
                   system_extra=extra)


def section_footprint(res, peers, a):
    log("\n== 3. footprint")
    # Sizes on disk, as shipped and stripped.
    def sizes(path):
        st = os.path.getsize(path)
        tmp = WORK + "/strip-" + os.path.basename(path)
        shutil.copy(path, tmp)
        subprocess.run(["strip", tmp], stderr=subprocess.DEVNULL)
        return st / 1024.0, os.path.getsize(tmp) / 1024.0

    ks, kss = sizes(KEEL)
    for name in ("tini-static", "crun", "runc"):
        path = shutil.which(name)
        if not path:
            res.skip("footprint", "%s is not installed" % name)
            continue
        ps, pss = sizes(path)
        kind = "static" if "statically linked" in run(["file", "-L", path]).stdout else "dynamic, libraries not counted"
        res.row("footprint", "binary size on disk", "KiB", ks, "%s (%s)" % (name, kind), ps)
        res.row("footprint", "binary size, stripped", "KiB", kss, "%s stripped" % name, pss)

    # RSS: keel with 10 idle containers against tini-static with one child.
    ten = WORK + "/idle10.ini"
    idle_manifest(ten, 10, "control = unix://%s/idle.sock\n" % WORK)
    why = keel_check(ten)
    if why:
        idle_manifest(ten, 10)
        why = keel_check(ten)
    if why:
        res.skip("footprint", "keel check rejects the idle manifest: " + why)
        return
    sleeper = LAYERS + "/base/bin/sleep"
    # Issue 17's figure is VmHWM (the peak, which start-up sets); VmRSS is
    # what stays resident.  Both read at once, after the ten started.
    hwm = {"keel": [], "tini": []}

    def keel_rss():
        b = Background([KEEL, "run", ten], OUT + "/keel-idle.log")
        try:
            b.wait_for(lambda: b.log_count(r"i\d+: started") >= 10, 20, "10 started containers")
            time.sleep(0.2)
            hwm["keel"].append(vm_rss_kib(b.p.pid, "VmHWM"))
            return vm_rss_kib(b.p.pid)
        finally:
            b.stop()

    def tini_rss():
        b = Background(["tini-static", "-s", "--", sleeper, "1000000"], OUT + "/tini-idle.log")
        try:
            b.wait_for(lambda: proc_children(b.p.pid), 10, "a child")
            time.sleep(0.2)
            hwm["tini"].append(vm_rss_kib(b.p.pid, "VmHWM"))
            return vm_rss_kib(b.p.pid)
        finally:
            b.stop()

    s = alternate([("keel", keel_rss), ("tini", tini_rss)], 1, a.runs_rss)
    # alternate() ran one warm-up round of each first: not counted.
    h = {k: v[1:] for k, v in hwm.items()}
    res.raw["rss"] = s
    res.raw["hwm"] = h
    res.row("footprint", "RSS: keel with 10 containers, tini with 1", "KiB", s["keel"], "tini-static -s", s["tini"])
    res.row("footprint", "VmHWM: keel with 10 containers, tini with 1", "KiB", h["keel"], "tini-static -s", h["tini"])

    # CPU time of idle supervision: both in the same window.
    secs = a.idle_secs
    kb = Background([KEEL, "run", ten], OUT + "/keel-idle.log")
    tb = Background(["tini-static", "-s", "--", sleeper, "1000000"], OUT + "/tini-idle.log")
    try:
        kb.wait_for(lambda: kb.log_count(r"i\d+: started") >= 10, 20, "10 started containers")
        tb.wait_for(lambda: proc_children(tb.p.pid), 10, "a child")
        time.sleep(0.5)
        k0, t0 = cpu_ms(kb.p.pid), cpu_ms(tb.p.pid)
        log("  (idle for %d s)" % secs)
        time.sleep(secs)
        k1, t1 = cpu_ms(kb.p.pid), cpu_ms(tb.p.pid)
    finally:
        kb.stop()
        tb.stop()
    res.raw["idle_cpu"] = {"keel_stat_ms": k1[0] - k0[0], "tini_stat_ms": t1[0] - t0[0], "seconds": secs}
    res.row("footprint", "own CPU over %d s idle, /proc/PID/stat (10 / 1 containers)" % secs, "ms cpu",
            k1[0] - k0[0], "tini-static -s", t1[0] - t0[0])
    if k0[1] is not None and t0[1] is not None:
        res.raw["idle_cpu"].update({"keel_schedstat_ms": k1[1] - k0[1], "tini_schedstat_ms": t1[1] - t0[1]})
        res.row("footprint", "own CPU over %d s idle, /proc/PID/schedstat" % secs, "ms cpu",
                k1[1] - k0[1], "tini-static -s", t1[1] - t0[1])


def start_reaper(kind, manifest):
    """A reaper as PID 1 of a new PID namespace: keel run (one idle container)
    or tini-static -s (one idle child)."""
    if kind == "keel":
        inner = "mkdir -p /run/keel && mount -t tmpfs tmpfs /run/keel && exec %s run %s" % (KEEL, manifest)
    else:
        inner = "exec tini-static -s -- %s/base/bin/sleep 1000000" % LAYERS
    b = Background(["unshare", "--pid", "--mount", "--fork", "--kill-child", "--propagation", "private",
                    "--mount-proc", "sh", "-c", inner], OUT + "/reaper-%s.log" % kind)
    # The reaper is unshare's child (PID 1 inside); wait until it has its own child.
    def ready():
        kids = proc_children(b.p.pid)
        if not kids:
            return False
        b.reaper = kids[0]
        if kind == "keel":
            return b.log_count(r"r: started") >= 1
        return bool(proc_children(b.reaper))
    b.wait_for(ready, 20, "the reaper ready")
    return b


def section_reaping(res, peers, a):
    log("\n== 4. reaping %d orphans" % a.orphans)
    m = WORK + "/reaper.ini"
    write_manifest(m, [("r", ctr("/bin/sleep 1000000"))], "control = unix:///run/keel/ctl.sock\n")
    if keel_check(m):
        write_manifest(m, [("r", ctr("/bin/sleep 1000000"))])
    why = keel_check(m)
    if why:
        res.skip("reaping", "keel check rejects the reaper manifest: " + why)
        return
    create = {"keel": [], "tini": []}

    def one(kind):
        b = start_reaper(kind, m)
        try:
            if b.log_count(r"boot|mounting") and kind == "keel":
                raise BenchError("keel run as PID 1 of a namespace went into boot mode")
            p = run(["nsenter", "--target", str(b.reaper), "--pid", "--", BIN + "/orphans", str(a.orphans)],
                    timeout=120)
            mm = re.search(r"create_ms=([0-9.]+) reap_ms=([0-9.]+)", p.stdout)
            if not mm:
                raise BenchError("orphans: " + p.stdout + p.stderr)
            create[kind].append(float(mm.group(1)))
            return float(mm.group(2))
        finally:
            b.stop(signal.SIGKILL)

    try:
        s = alternate([("keel", lambda: one("keel")), ("tini", lambda: one("tini"))], 1, a.runs_reap)
    except BenchError as e:
        res.skip("reaping", str(e).splitlines()[0])
        return
    res.raw["reap"] = s
    res.raw["reap_create"] = create
    res.row("reaping", "%d orphans exit at once: all reaped after" % a.orphans, "ms", s["keel"],
            "tini-static -s", s["tini"])


def section_boot(res, peers, a):
    """Boot in QEMU.  Needs tests/vm/lib.sh (the VM harness), initramfs/mkinitramfs
    and keel's boot mode; tests/bench/boot.sh does the work."""
    log("\n== 5. boot (QEMU, -accel tcg)")
    lib = os.path.join(REPO, "tests/vm/lib.sh")
    mk = os.path.join(REPO, "initramfs/mkinitramfs")
    if not os.path.exists(lib) or not os.path.exists(mk) or not os.path.exists(os.path.join(REPO, "configs/demo.ini")):
        res.skip("boot", "the VM harness (tests/vm/lib.sh), initramfs/mkinitramfs or configs/demo.ini is not in "
                 "this tree yet")
        return
    if not shutil.which("qemu-system-x86_64"):
        res.skip("boot", "qemu-system-x86_64 is not installed")
        return
    p = run([os.path.join(REPO, "tests/bench/boot.sh"), str(a.boot_runs)], check=False, timeout=600)
    sys.stdout.write(p.stderr)
    figures = {}
    for l in p.stdout.splitlines():
        mm = re.match(r"^(\w+)=([0-9.]+)$", l.strip())
        if mm:
            figures.setdefault(mm.group(1), []).append(float(mm.group(2)))
    if p.returncode != 0 or "keel_work" not in figures:
        res.skip("boot", "tests/bench/boot.sh failed: " + ((p.stderr.strip().splitlines() or ["no output"])[-1]))
        return
    res.raw["boot"] = figures
    res.row("boot", "keel's boot work: first line to first exec", "ms", figures["keel_work"], "target", 20.0)
    if "keel_total" in figures and "busybox_total" in figures:
        res.row("boot", "whole boot: kernel start to service answering", "ms", figures["keel_total"],
                "busybox init + shell script", figures["busybox_total"])
    if "keel_setup" in figures and "floor_work" in figures:
        res.row("boot", "keel: first line to the container's exec, minus modules", "ms", figures["keel_setup"],
                "floor init (tests/bench/floor-init.c)", figures["floor_work"],
                note="same guest and appliance; the floor mounts, leaves rootfs, mounts the overlay and execs")
    # The same work as the floor (tests/bench/boot-equal.ini: network = none, no uplink): issue 17's ratio.
    if "equal_keel_setup" in figures and "floor_work" in figures:
        res.row("boot", "keel, equal work: first line to the container's exec, minus modules", "ms",
                figures["equal_keel_setup"], "floor init (tests/bench/floor-init.c)", figures["floor_work"],
                note="tests/bench/boot-equal.ini: the demo's container with network = none, no uplink, overlay only")
    # The floor init with exactly what keel does at boot for that container (floor-init.c, isolate=1):
    # how much of keel's distance to the floor init is the isolation, how much keel's own.
    if "equal_keel_setup" in figures and "floor_iso_work" in figures:
        res.row("boot", "keel, equal work: first line to the container's exec, minus modules", "ms",
                figures["equal_keel_setup"], "isolated floor init (floor-init.c, isolate=1)", figures["floor_iso_work"],
                note="the floor init plus boot-equal.ini's container's cgroups, lo, namespaces, mounts, "
                     "capabilities and seccomp filter (tests/bench/isocheck-boot)")
    if "floor_iso_work" in figures and "floor_work" in figures:
        res.row("boot", "isolated floor init (floor-init.c, isolate=1)", "ms", figures["floor_iso_work"],
                "floor init (bare)", figures["floor_work"], note="what that isolation costs the floor init itself")
    if "floor_modules" in figures and "modules" in figures:
        res.row("boot", "module loading before the first exec", "ms", figures["modules"],
                "floor init (overlay.ko only)", figures["floor_modules"])
    for k in ("kernel", "modules", "keel_setup", "container_start"):
        if k in figures:
            res.row("boot", "boot split: " + k.replace("_", " "), "ms", figures[k], None, None)
    # [system] modules_split: keel's own figures for each phase (docs/boot.md).
    if "modules_before_n" in figures:
        res.row("boot", "modules before the first exec (%d modules)" % round(statistics.median(figures["modules_before_n"])),
                "ms", figures["modules"], None, None)
    if "modules_after" in figures:
        res.row("boot", "modules after the first exec, in the background (%d modules)"
                % round(statistics.median(figures["modules_after_n"])), "ms", figures["modules_after"], None, None)
    # The demo with its layers as erofs images (LAYERS_FORMAT=erofs) against directories.
    if "erofs_keel_work" in figures:
        res.row("boot", "erofs layers: keel's boot work (first line to first exec)", "ms",
                figures["erofs_keel_work"], "directory layers", figures["keel_work"])
        if "keel_erofs_total" in figures and "keel_total" in figures:
            res.row("boot", "erofs layers: whole boot to service answering", "ms", figures["keel_erofs_total"],
                    "directory layers", figures["keel_total"])
        for k in ("keel_setup", "container_start", "image_modules"):
            if "erofs_" + k in figures:
                res.row("boot", "erofs layers, boot split: " + k.replace("_", " "), "ms", figures["erofs_" + k],
                        "directory layers" if k in figures else None, figures.get(k))
        for k, what in (("image_kib", "image size (uncompressed cpio, as booted)"),
                        ("image_gz_kib", "image size (gzip -6)")):
            if "erofs_" + k in figures and k in figures:
                res.row("boot", "erofs layers: " + what, "KiB", figures["erofs_" + k], "directory layers", figures[k])


def section_arm64(res, peers, a):
    """keel on arm64 beside x86-64 (make bench ARCH=arm64): the arm64 demo image's
    boot split under qemu-system-aarch64 -M virt -cpu max (TCG) and the static
    binaries' sizes.  The x86-64 column is the boot section's, when it ran."""
    log("\n== 7. arm64 (QEMU virt, -accel tcg) beside x86-64")
    a64 = os.path.join(REPO, "build/arm64/keel")
    if not os.path.exists(a64) or not shutil.which("qemu-system-aarch64"):
        res.skip("arm64", "no build/arm64/keel or qemu-system-aarch64 (make bench ARCH=arm64)")
        return
    res.row("arm64", "binary size, stripped (static)", "KiB", [os.path.getsize(a64) / 1024.0],
            "x86-64", [os.path.getsize(KEEL) / 1024.0])
    env = dict(os.environ, BOOT_ARCH="arm64", KEEL=a64)
    p = run([os.path.join(REPO, "tests/bench/boot.sh"), str(a.boot_runs)], check=False, timeout=900, env=env)
    sys.stdout.write(p.stderr)
    figures = {}
    for l in p.stdout.splitlines():
        mm = re.match(r"^(\w+)=([0-9.]+)$", l.strip())
        if mm:
            figures.setdefault(mm.group(1), []).append(float(mm.group(2)))
    if p.returncode != 0 or "keel_work" not in figures:
        res.skip("arm64", "tests/bench/boot.sh (BOOT_ARCH=arm64) failed: " +
                 ((p.stderr.strip().splitlines() or ["no output"])[-1]))
        return
    res.raw["arm64_boot"] = figures
    x86 = res.raw.get("boot", {})
    for k, what in (("keel_work", "keel's boot work: first line to first exec"),
                    ("keel_total", "whole boot: QEMU start to service answering"),
                    ("kernel", "boot split: kernel"), ("modules", "boot split: modules"),
                    ("keel_setup", "boot split: keel setup"), ("container_start", "boot split: container start")):
        if k in figures:
            res.row("arm64", what, "ms", figures[k], "x86-64" if k in x86 else None, x86.get(k))


def section_control(res, peers, a):
    log("\n== 6. control latency")
    h = run([KEEL, "help"], check=False).stdout
    if not re.search(r"^\s*keel\s+ps\b", h, re.M):
        res.skip("control", "keel has no ps verb yet (keel help does not list it)")
        return
    sock = WORK + "/ctl.sock"
    for n in (10, 100):
        m = WORK + "/ctl%d.ini" % n
        idle_manifest(m, n, "control = unix://%s\n" % sock)
        why = keel_check(m)
        if why:
            res.skip("control", "keel check rejects a control listener: " + why)
            return
        b = Background([KEEL, "run", m], OUT + "/keel-control.log")
        try:
            b.wait_for(lambda: b.log_count(r"i\d+: started") >= n, 60, "%d started containers" % n)
            b.wait_for(lambda: os.path.exists(sock), 10, "the control socket")
            env = dict(os.environ, KEEL_HOST="unix://" + sock)
            s = alternate([("ps", lambda: timed([KEEL, "ps"], OUT + "/keel-ps.log", env=env))], a.warmup, a.runs)
            res.row("control", "keel ps round trip, %d containers (CLI)" % n, "ms", s["ps"], None, None)
            res.raw["ps%d" % n] = s
            rates = []
            for _ in range(max(3, a.runs // 3)):
                rates.append(requests_per_second(sock, 1.0))
            res.row("control", "ps requests/s on one connection, %d containers" % n, "req/s", rates, None, None)
            res.raw["rps%d" % n] = rates
        except BenchError as e:
            res.skip("control", str(e).splitlines()[0])
            return
        finally:
            b.stop()


def requests_per_second(path, seconds):
    """Sequential {"op":"ps"} requests on one connection for `seconds`."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    n = 0
    t0 = time.monotonic()
    rd = s.makefile("rb")
    while time.monotonic() - t0 < seconds:
        s.sendall(b'{"op":"ps"}\n')
        line = rd.readline()
        if not line.startswith(b'{"keel"') or b'"ok":true' not in line:
            raise BenchError("unexpected ps answer: %r" % line[:200])
        n += 1
    el = time.monotonic() - t0
    rd.close()
    s.close()
    return n / el



# ---- start latency under a running keel ------------------------------------------------------

def stamp_values(path, what):
    """The NS of every "stamp WHAT NS" line of a file (a container's log), in order."""
    try:
        with open(path, errors="replace") as f:
            return [int(m) for m in re.findall(r"stamp %s (\d+)" % what, f.read())]
    except OSError:
        return []


def ctl(sock, req, timeout=10):
    """One request on keel's control socket; the answer as a dict."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall((json.dumps(req) + "\n").encode())
        rd = s.makefile("rb")
        line = rd.readline()
        rd.close()
    finally:
        s.close()
    try:
        return json.loads(line)
    except ValueError:
        raise BenchError("unexpected answer to %s: %r" % (req, line[:200]))


def ctr_status(sock, name):
    ans = ctl(sock, {"op": "ps"})
    for c in ans.get("containers", []):
        if c.get("name") == name:
            return c
    raise BenchError("keel ps does not list %s: %r" % (name, str(ans)[:200]))


def poll(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.002)
    raise BenchError("no %s within %d s" % (what, timeout))


def stamp_layer():
    """A layer holding only /stamp (tests/bench/stamp.c), put on top of the
    bench's two layers for keel and the floor alike."""
    d = WORK + "/stamp-layer"
    os.makedirs(d, exist_ok=True)
    shutil.copy(BIN + "/stamp", d + "/stamp")
    return d + ":" + LOWERS


def floor_clone_to_exec(lowers, logfile, isolated=False):
    """The floor's clone-to-exec: floor -t prints the clock before its clone,
    stamp its first instruction's.  ISOLATED: floor -i -t, the floor with a
    default keel container's isolation (what keel start's setup must do)."""
    stage = WORK + "/floor"
    os.makedirs(stage, exist_ok=True)
    p = run([BIN + "/floor", "-t"] + (["-i"] if isolated else []) + [stage, lowers, "/stamp"], timeout=30)
    with open(logfile, "a") as f:
        f.write(p.stdout + p.stderr)
    t0 = re.search(r"floor clone (\d+)", p.stdout)
    t1 = re.search(r"stamp start (\d+)", p.stdout)
    if not t0 or not t1:
        raise BenchError("floor -t: no clone or stamp line: %r" % p.stdout)
    return (int(t1.group(1)) - int(t0.group(1))) / 1e6


def standby_waiting(keel_pid):
    """How many standbys of the keel run KEEL_PID wait for their release
    (keel's children alone in a PID namespace of their own: NSpid has two
    levels, the inner 1; running keel while prepared, then the exec stub
    they wait in), asleep in a read of a pipe; -1 while one such child is
    busy (a standby or a start being prepared)."""
    found = 0
    try:
        with open("/proc/%d/task/%d/children" % (keel_pid, keel_pid)) as f:
            kids = f.read().split()
    except OSError:
        return False
    for k in kids:
        try:
            with open("/proc/%s/status" % k) as f:
                st = f.read()
            exe = os.readlink("/proc/%s/exe" % k)
            with open("/proc/%s/wchan" % k) as f:
                wchan = f.read().strip()
        except OSError:
            continue
        m = re.search(r"^NSpid:\s+(.*)$", st, re.M)
        ns = m.group(1).split() if m else []
        if len(ns) == 2 and ns[1] == "1" and ("Name:\tkeel" in st or "/memfd:keel-stub" in exe):
            if "pipe_read" not in wchan and "pipe_wait" not in wchan:   # anon_pipe_read on 6.18
                return -1
            found += 1
    return found


def section_startlat(res, peers, a):
    log("\n== 8. container start under a running keel: request / crash to the first instruction")
    lowers = stamp_layer()
    sock = WORK + "/startlat.sock"
    m = WORK + "/startlat.ini"
    # idle keeps keel running; s is started on request (it exits at once);
    # r "crashes" (exits 1) on SIGUSR1 and is restarted without delay.
    # ss and sr: the same two with standby = yes (docs/operations.md,
    # "Standby"): released from an instance prepared before the request.
    write_manifest(m, [("idle", ctr("/bin/sleep 1000000", layers=lowers)),
                       ("s", ctr("/stamp", layers=lowers)),
                       ("r", ctr("/stamp crash", layers=lowers, restart="always", restart_delay="0ms")),
                       ("ss", ctr("/stamp", layers=lowers, standby="yes")),
                       ("sr", ctr("/stamp crash", layers=lowers, restart="always", restart_delay="0ms",
                                  standby="yes"))],
                   "control = unix://%s\n" % sock)
    why = keel_check(m)
    if why:
        res.skip("startlat", "keel check rejects the start-latency manifest: " + why)
        return
    slog, rlog = WORK + "/log/s.log", WORK + "/log/r.log"
    sslog, srlog = WORK + "/log/ss.log", WORK + "/log/sr.log"
    flog = OUT + "/floor-startlat.log"
    for f in (slog, rlog, sslog, srlog):
        if os.path.exists(f):
            os.unlink(f)
    b = Background([KEEL, "run", m], OUT + "/keel-startlat.log")
    try:
        b.wait_for(lambda: os.path.exists(sock) and all(len(stamp_values(f, "start")) >= 1
                                                         for f in (slog, rlog, sslog, srlog)),
                   30, "the control socket and every container's first run")

        def start_once(name, log_):
            poll(lambda: ctr_status(sock, name)["state"] in ("exited", "stopped", "failed"), 10, name + " exited")
            n = len(stamp_values(log_, "start"))
            p = run([BIN + "/stamp", "request", sock, name], check=False, timeout=10)
            t0 = re.search(r"stamp request (\d+)", p.stdout)
            if p.returncode != 0 or not t0:
                raise BenchError("keel start %s: %s" % (name, (p.stdout + p.stderr).strip()[:300]))
            t1 = poll(lambda: stamp_values(log_, "start")[n:], 10, name + "'s stamp after keel start")[0]
            return (t1 - int(t0.group(1))) / 1e6

        def restart_once(name, log_):
            n = len(stamp_values(log_, "start"))
            st = poll(lambda: (lambda c: c if c["state"] == "running" and c["pid"] > 0 else None)(
                ctr_status(sock, name)), 10, name + " running")
            os.kill(st["pid"], signal.SIGUSR1)
            t1 = poll(lambda: stamp_values(log_, "start")[n:], 10, name + "'s stamp after its crash")[0]
            t0 = stamp_values(log_, "exit")[n - 1]
            return (t1 - t0) / 1e6

        def standby_ready(name):
            """The standby of NAME is prepared (waiting): keel prepares it in
            the background after each start, and the measurement is of a
            release, not of a start that finds none (that is the row above)."""
            def ready():
                st = ctr_status(sock, name)
                if st["state"] in ("starting", "stopping", "backoff"):
                    return False
                return standby_waiting(b.p.pid) == 2   # ss's and sr's
            poll(ready, 10, name + "'s standby")

        def sb_start_once():
            standby_ready("ss")
            return start_once("ss", sslog)

        def sb_restart_once():
            standby_ready("sr")
            return restart_once("sr", srlog)

        s = alternate([("start", lambda: start_once("s", slog)), ("floor", lambda: floor_clone_to_exec(lowers, flog)),
                       ("floor_iso", lambda: floor_clone_to_exec(lowers, flog, isolated=True)),
                       ("restart", lambda: restart_once("r", rlog)), ("sb_start", sb_start_once),
                       ("sb_restart", sb_restart_once)], a.warmup, a.runs)
    except BenchError as e:
        res.skip("startlat", str(e).splitlines()[0])
        return
    finally:
        b.stop()
    res.raw["startlat"] = s
    res.row("startlat", "keel start NAME: request to first instruction", "ms", s["start"],
            "floor clone to exec (floor.c -t)", s["floor"])
    res.row("startlat", "restart after a crash: exit to first instruction", "ms", s["restart"],
            "floor clone to exec (floor.c -t)", s["floor"], note="restart = always, restart_delay = 0ms")
    res.row("startlat", "keel start NAME: request to first instruction", "ms", s["start"],
            "isolated floor clone to exec (floor.c -i -t)", s["floor_iso"])
    res.row("startlat", "restart after a crash: exit to first instruction", "ms", s["restart"],
            "isolated floor clone to exec (floor.c -i -t)", s["floor_iso"], note="restart = always, restart_delay = 0ms")
    res.row("startlat", "keel start NAME, standby = yes: request to first instruction", "ms", s["sb_start"],
            "floor clone to exec (floor.c -t)", s["floor"])
    res.row("startlat", "restart after a crash, standby = yes: exit to first instruction", "ms", s["sb_restart"],
            "floor clone to exec (floor.c -t)", s["floor"], note="restart = always, restart_delay = 0ms")


def section_vm(res, peers, a):
    """keel against crun with cgroup v2 and its controllers, and without
    cgroups, in one TCG guest (tests/bench/vmbench.sh), plus keel start and a
    restart after a crash against the floor's clone-to-exec there."""
    log("\n== 9. VM: keel run against crun run with cgroup v2 limits (QEMU, -accel tcg, 1 CPU)")
    if not os.path.exists(os.path.join(REPO, "tests/vm/lib.sh")) or not shutil.which("qemu-system-x86_64"):
        res.skip("vm", "no tests/vm/lib.sh or qemu-system-x86_64")
        return
    warm, runs = (1, 3) if a.quick else (2, 10)
    p = run([os.path.join(REPO, "tests/bench/vmbench.sh"), str(warm), str(runs)], check=False, timeout=900)
    sys.stdout.write(p.stderr)
    s = {}
    for l in p.stdout.splitlines():
        mm = re.match(r"^(\w+)=([0-9.-]+)$", l.strip())
        if mm:
            s.setdefault(mm.group(1), []).append(float(mm.group(2)))
    if p.returncode != 0 or "keel_cg" not in s:
        res.skip("vm", "tests/bench/vmbench.sh failed: " + ((p.stderr.strip().splitlines() or ["no output"])[-1]))
        return
    res.raw["vm"] = s
    res.row("vm", "VM, start-to-exit, cgroup v2 + limits", "ms", s["keel_cg"],
            "crun run (cgroup v2, cgroupfs, same limits)", s["crun_cg"],
            note="memory = 64M, pids = 64, cpus = 0.5 on both sides")
    res.row("vm", "VM, start-to-exit, no cgroups", "ms", s["keel_nocg"], "crun run (no cgroups)", s["crun_nocg"])
    res.row("vm", "VM, start-to-exit, no cgroups", "ms", s["keel_nocg"], "floor (tests/bench/floor.c)", s["floor"])
    if "floor_iso" in s:
        res.row("vm", "VM, start-to-exit, no cgroups", "ms", s["keel_nocg"],
                "floor with keel's isolation (floor.c -i)", s["floor_iso"])
        res.row("vm", "VM, floor with keel's isolation (floor.c -i)", "ms", s["floor_iso"], "floor (bare)",
                s["floor"], note="what keel's isolation costs the floor itself")
    res.row("vm", "VM, start-to-exit: cgroup + limits against none", "ms", s["keel_cg"], "keel, no cgroups",
            s["keel_nocg"])
    if "keel_version" in s:
        res.row("vm", "VM, keel version (the binary's start alone)", "ms", s["keel_version"],
                "floor (tests/bench/floor.c)", s["floor"])
    if "start" in s and "floor_exec" in s:
        res.row("vm", "VM, keel start NAME: request to first instruction", "ms", s["start"],
                "floor clone to exec (floor.c -t)", s["floor_exec"])
    if "restart" in s and "floor_exec" in s:
        res.row("vm", "VM, restart after a crash: exit to first instruction", "ms", s["restart"],
                "floor clone to exec (floor.c -t)", s["floor_exec"])
    if "start" in s and "floor_iso_exec" in s:
        res.row("vm", "VM, keel start NAME: request to first instruction", "ms", s["start"],
                "isolated floor clone to exec (floor.c -i -t)", s["floor_iso_exec"])
    if "restart" in s and "floor_iso_exec" in s:
        res.row("vm", "VM, restart after a crash: exit to first instruction", "ms", s["restart"],
                "isolated floor clone to exec (floor.c -i -t)", s["floor_iso_exec"])
    if "sb_start" in s and "floor_exec" in s:
        res.row("vm", "VM, keel start NAME, standby = yes: request to first instruction", "ms", s["sb_start"],
                "floor clone to exec (floor.c -t)", s["floor_exec"])
    if "sb_restart" in s and "floor_exec" in s:
        res.row("vm", "VM, restart after a crash, standby = yes: exit to first instruction", "ms", s["sb_restart"],
                "floor clone to exec (floor.c -t)", s["floor_exec"])

# ---- the machine ---------------------------------------------------------------------------

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    cpu = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    with open("/proc/meminfo") as f:
        mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576.0)
    def ver(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout \
                .splitlines()[0].strip()
        except (OSError, IndexError):
            return "?"
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
        "keel": ver([KEEL, "version"]), "crun": ver(["crun", "--version"]), "runc": ver(["runc", "--version"]),
        "tini": ver(["tini-static", "--version"]), "bwrap": ver(["bwrap", "--version"]),
        "busybox": ver(["busybox"]).rstrip("."),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    # The VM pair (a boot, ~25 s) only in the full run: --quick stays within its 2 minutes.
    if a.only is None:
        a.only = "start,network,footprint,reaping,boot,control,startlat" + ("" if a.quick else ",vm")
    if a.quick:
        a.warmup, a.runs, a.runs_big, a.runs_rss, a.runs_reap = 2, 7, 5, 5, 5
        a.idle_secs, a.orphans, a.boot_runs = 10, 10000, 1
    else:
        a.warmup, a.runs, a.runs_big, a.runs_rss, a.runs_reap = 3, 20, 10, 10, 10
        a.idle_secs, a.orphans, a.boot_runs = 60, 10000, 3
    only = a.only.split(",")
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(WORK, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".log"):
            os.unlink(os.path.join(OUT, f))
    t_start = time.monotonic()
    res = Results()
    mach = machine()
    log("keel bench%s: %s, %d cores, %s, kernel %s" % (" (quick)" if a.quick else "", mach["cpu"], mach["cores"],
                                                      mach["memory"], mach["kernel"]))
    peers = Peers()
    sections = [("start", section_start), ("network", section_network), ("footprint", section_footprint),
                ("reaping", section_reaping), ("boot", section_boot), ("control", section_control),
                ("startlat", section_startlat), ("vm", section_vm), ("arm64", section_arm64)]
    failed = False
    try:
        peers.setup()
        log("peers' cgroups: " + peers.cgroup)
        for name, fn in sections:
            if name not in only:
                continue
            try:
                fn(res, peers, a)
            except BenchError as e:
                failed = True
                log("  FAILED: " + str(e))
                res.skips.append((name, "failed: " + str(e).splitlines()[0]))
    finally:
        peers.close()
    elapsed = time.monotonic() - t_start

    cg_keel = "none (keel run on this host creates no cgroup yet)"
    try:
        with open(OUT + "/keel-start.log", errors="replace") as f:
            if re.search(r"cgroup", f.read()):
                cg_keel = "see keel-start.log (keel reported cgroup activity)"
    except OSError:
        pass
    md = ["# keel bench results%s" % (" (quick)" if a.quick else ""), "",
          "Machine: %s, %d cores, %s, kernel %s." % (mach["cpu"], mach["cores"], mach["memory"], mach["kernel"]),
          "Tools: %s; %s; %s; %s; %s; %s." % (mach["keel"], mach["crun"], mach["runc"], mach["tini"], mach["bwrap"],
                                             mach["busybox"]),
          "Rounds: %d warm-up + %d counted (1 + %d for the 100/50-container runs, 1 + %d for RSS and reaping), "
          "tools alternating; %.0f s in all." % (a.warmup, a.runs, a.runs_big, a.runs_reap, elapsed), "",
          table(res), "",
          "Cgroups: crun and runc: %s; \"no cgroups\": crun --cgroup-manager=disabled; keel: %s; "
          "keel \"no cgroups (equal work)\": the peers' mount namespace, no cgroup2 mounted; floor, bwrap: none "
          "(floor -i: a cgroup namespace, as keel's containers have, no cgroup of its own)."
          % (peers.cgroup, cg_keel),
          "Peers' root: an overlay of the same two layers with a tmpfs upper, mounted once before the runs "
          "(crun and runc bind it); keel and the floor mount theirs in every run.",
          ""]
    if "vm" in res.raw:
        md[-1:-1] = ["VM rows: one boot of Debian's kernel under QEMU -accel tcg, 1 CPU (tests/bench/vmbench.sh); "
                     "cgroup2 mounted with cpu, memory and pids offered at the root; keel run makes its cgroup "
                     "per container below it, crun run uses cgroup v2 through cgroupfs, both with memory = 64M, "
                     "pids = 64, cpus = 0.5 (read back by each side's container before the rounds); \"no "
                     "cgroups\": keel run in a mount namespace without cgroup2, crun --cgroup-manager=disabled; "
                     "crun has a cgroup namespace there, as keel's containers do."]
    if "startlat" in res.raw or "start" in res.raw.get("vm", {}):
        md[-1:-1] = ["keel start / restart rows: to the first instruction of tests/bench/stamp.c (it reads "
                     "CLOCK_MONOTONIC before any start-up code), from the clock read just before the start "
                     "request is written (stamp request) or from the crashing process's last reading "
                     "(restart = always, restart_delay = 0ms); the floor: floor -t's reading just before its "
                     "clone to the same program's first."]
    if res.skips:
        md += ["Skipped:", ""] + ["- %s: %s" % s for s in res.skips] + [""]
    with open(OUT + "/results.md", "w") as f:
        f.write("\n".join(md))
    with open(OUT + "/results.json", "w") as f:
        json.dump({"machine": mach, "quick": a.quick, "rows": res.rows, "skips": res.skips, "raw": res.raw,
                   "seconds": elapsed}, f, indent=1)
    log("\n" + "\n".join(md))
    log("written to %s/results.md (raw samples in results.json)" % OUT)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
