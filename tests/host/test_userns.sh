#!/bin/bash
# test_userns.sh — issue 8's per-container user namespaces: `userns = auto`
# and explicit maps, idmapped layers and upper, what the container's root can
# and cannot do, keel exec and health checks inside, and the refusals.
#
# Every keel run has a private /run (nsinit), so the first `userns = auto`
# container always gets pool slot 0 (host ids 524288..) and the second slot 1.
. "$(dirname "$0")/lib.sh"

AUTO0=524288
AUTO1=589824
SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) "$KEEL" "$@"; }

# map_of NAME: the first line of the container's /proc/self/uid_map, blanks squeezed.
map_of() { c_value "$1" data:/proc/self/uid_map | awk '{ print $1, $2, $3 }'; }

# host_uid NAME PID: the host uid of a container process (pid as keel printed it).
host_uid() { awk '/^Uid:/ { print $2 }' "$(nsproc)/$1/status" 2>/dev/null; }

test_auto() {
    plan auto_root_inside auto_map auto_host_uid auto_layer_owner auto_caps auto_nnp_seccomp \
         auto_tmpfs_upper_owner auto_dev_nodes_bound auto_second_range auto_user_1000 auto_stdout_reopen \
         plain_stdout_reopen
    manifest <<EOF
$(system_section)
[container a]
layers = $LAYERS/base
command = /bin/probe trap TERM ids status stat /bin/probe stat / stat /dev/null read /proc/self/uid_map write /tmp/x stat /tmp/x print up sleep inf
restart = no
userns = auto
upper = tmpfs

[container b]
layers = $LAYERS/base
command = /bin/probe ids read /proc/self/uid_map write /dev/stdout print end exit 0
restart = no
userns = auto
user = 1000:1000

[container n]
layers = $LAYERS/base
command = /bin/probe write /dev/stdout print end exit 0
restart = no
user = 1000:1000
EOF
    keel_start
    wait_out a up || fail "a did not come up ($WHY)"
    wait_klog 'b: exited' 20 || fail "b did not run ($WHY)"
    wait_klog 'n: exited' 20 || fail "n did not run ($WHY)"
    # keel relays a container's output through a process of its own: "b:
    # exited" can reach $ERR before b's last lines reach $OUT.  The last line
    # of each ("end") says they all did.
    wait_out b end 20 || fail "b's output did not all arrive ($WHY)"
    wait_out n end 20 || fail "n's output did not all arrive ($WHY)"
    check auto_root_inside "the container's root is not uid 0 inside" eq "$(c_value a uid):$(c_value a gid)" 0:0
    check auto_map "the first auto range is not 0 -> $AUTO0 (65536 ids)" eq "$(map_of a)" "0 $AUTO0 65536"
    local pid
    pid=$(grep -oE 'a: started, pid [0-9]+' "$ERR" | awk '{ print $4 }')
    check auto_host_uid "the container's root is not host uid $AUTO0 seen from outside" eq "$(host_uid "$pid")" "$AUTO0"
    check auto_layer_owner "the layer's files (uid 0 on disk) are not owned by the container's root" \
        eq "$(c_value a stat:/bin/probe | awk '{ print $3 }') $(c_value a stat:/ | awk '{ print $3 }')" "0:0 0:0"
    check auto_caps "the capability set changed in a user namespace" \
        eq "$(c_value a CapEff) $(c_value a CapBnd) $(c_value a CapInh) $(c_value a CapAmb)" \
        "$CAPS_DEFAULT $CAPS_DEFAULT 0000000000000000 0000000000000000"
    check auto_nnp_seccomp "no_new_privs or seccomp is off" eq "$(c_value a NoNewPrivs) $(c_value a Seccomp)" "1 2"
    check auto_tmpfs_upper_owner "a file written in the tmpfs upper is not the container root's" \
        eq "$(c_value a write:/tmp/x) $(c_value a stat:/tmp/x | awk '{ print $3 }')" "ok 0:0"
    # With a user namespace /dev keeps the host's nodes bound in (no mknod:
    # a node made as the container's root would be owned by it): the host's
    # root, unmapped, shows as the overflow ids.
    check auto_dev_nodes_bound "/dev/null is not the host's 1:3 node (owner unmapped)" \
        eq "$(c_value a stat:/dev/null | awk '{ print $1, $3, $4 }')" "chr 65534:65534 1:3"
    check auto_second_range "the second auto container does not get the next range" eq "$(map_of b)" "0 $AUTO1 65536"
    check auto_user_1000 "user = 1000:1000 is not uid 1000 inside" eq "$(c_value b uid):$(c_value b gid)" 1000:1000
    check auto_stdout_reopen "user 1000 cannot reopen /dev/stdout (the output pipe)" eq "$(c_value b write:/dev/stdout)" ok
    check plain_stdout_reopen "user 1000 without userns cannot reopen /dev/stdout" eq "$(c_value n write:/dev/stdout)" ok
    keel_stop || fail "keel did not stop ($WHY)"
}

# An upper directory is idmapped too: what the container's root writes is
# stored as uid 0 on disk, so the upper works with any range, and without userns.
test_upper_dir_ids() {
    plan upper_written upper_on_disk_root upper_host_dir_refused upper_survives_restart
    mkdir -p "$T/hostdir"
    chmod 0755 "$T/hostdir"
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/probe write /data-new stat /data-new write /host/x count /runs print end exit 0
restart = no
userns = 0:200000:65536
upper = $T/up
mount = $T/hostdir:/host
EOF
    keel_start
    wait_klog 'c: exited' 20 || fail "c did not run ($WHY)"
    keel_stop || fail "keel did not stop ($WHY)"
    check upper_written "the container's root could not write its root" \
        eq "$(c_value c write:/data-new) $(c_value c stat:/data-new | awk '{ print $3 }')" "ok 0:0"
    check upper_on_disk_root "the file is not stored as 0:0 in the upper directory" \
        eq "$(stat -c %u:%g "$T/up/upper/data-new" 2>&1)" 0:0
    check upper_host_dir_refused "the container's root wrote into a host directory owned by the host's root" \
        eq "$(c_value c write:/host/x)" EACCES
    # A second keel, a different map: the same upper still belongs to the container's root.
    sed -i 's/^userns = .*/userns = auto/' "$T/keel.ini"
    : > "$OUT"
    keel_start
    wait_klog 'c: exited' 20 || fail "c did not run the second time ($WHY)"
    # c's last line: all of c's output is in $OUT ("c: exited" can come
    # first; the first run's values were read after keel_stop: an exiting
    # keel drains its relays).
    wait_out c end 20 || fail "c's output did not all arrive the second time ($WHY)"
    check upper_survives_restart "the upper written under one map is not usable under another" \
        eq "$(c_value c write:/data-new) $(c_value c count:/runs)" "ok 2"
}

# nobody CMD...: runs CMD as the host's nobody (65534), no supplementary
# groups.  A shell started as nobody does the exec: setpriv itself reaches
# its command while still root (it ran a file in a 0700 root directory).
nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups -- /bin/sh -c 'exec "$0" "$@"' "$@"; }

# Issue 22 item 4: the upper of a userns container is idmapped, so a file its
# root makes setuid is a setuid-root file on the host.  The upper directory is
# made root's and 0700 (here it existed as 0755, as an older keel made it),
# so no other host user reaches it; and keel warns that the upper's file
# system honours setuid bits.  The file system is a tmpfs without nosuid, the
# scratch directory is opened to everyone: only keel's 0700 stands between
# nobody and the file.
test_upper_private() {
    plan upper_ctl_nobody_execs upper_suid_made upper_base_private upper_nobody_refused \
         upper_warned upper_nosuid_quiet upper_mknod_warned
    chmod 0755 "$T"
    mkdir -p "$T/sfs" "$T/safe"
    mount -t tmpfs -o mode=0755 tmpfs "$T/sfs" || fail "cannot mount a tmpfs"
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$T/safe" || { umount "$T/sfs"; fail "cannot mount a tmpfs"; }
    mkdir -m 0755 "$T/sfs/up" "$T/sfs/open"
    # Positive control: in a 0755 directory of the same file system, nobody
    # runs a setuid-root copy of the probe and gets euid 0 (so a refusal
    # below is the upper directory's doing, and the file would be root).
    cp "$PROBE" "$T/sfs/open/probe"
    chmod 4755 "$T/sfs/open/probe"
    check upper_ctl_nobody_execs "nobody cannot run a setuid probe in an open directory of the same file system" \
        grep_in '^euid=0$' <(nobody "$T/sfs/open/probe" ids 2>&1)
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/sh -c "cp /bin/probe /suid && chmod 4755 /suid && echo made"
restart = no
userns = auto
upper = $T/sfs/up

[container q]
layers = $LAYERS/base
command = /bin/true
restart = no
userns = auto
upper = $T/safe/up

[container m]
layers = $LAYERS/base
command = /bin/true
restart = no
capabilities = +MKNOD
upper = $T/sfs/m
EOF
    keel_start
    wait_klog 'c: exited' 20 && wait_klog 'q: exited' 20 && wait_klog 'm: exited' 20 ||
        { keel_stop; umount "$T/sfs" "$T/safe"; fail "the containers did not run ($WHY)"; }
    keel_stop
    check upper_suid_made "the container's setuid file is not a setuid-root file on the host" \
        eq "$(stat -c '%u %a' "$T/sfs/up/upper/suid" 2>&1)" "0 4755"
    check upper_base_private "the upper directory is not root's and 0700" \
        eq "$(stat -c '%u:%g %a' "$T/sfs/up" 2>&1)" "0:0 700"
    local out
    out=$(nobody "$T/sfs/up/upper/suid" ids 2>&1)
    check upper_nobody_refused "a host user ran the container's setuid file: $out" \
        eval '[[ "$out" == *"Permission denied"* ]] && ! grep -q "^euid=" <<<"$out"'
    # The warning is the effect asked for: a line on keel's console.
    check upper_warned "no warning that the upper's file system honours setuid bits" \
        grep_in "$(klog "warning: c: the upper directory $T/sfs/up is on a file system mounted without nosuid: setuid files")" "$ERR"
    check upper_nosuid_quiet "a warning for an upper on a nosuid,nodev file system" \
        no_grep_in "$(klog "warning: q: the upper directory")" "$ERR"
    check upper_mknod_warned "no warning for device nodes of a +MKNOD container without userns" \
        grep_in "$(klog "warning: m: the upper directory $T/sfs/m is on a file system mounted without nosuid,nodev: setuid files and device nodes")" "$ERR"
    umount "$T/sfs" "$T/safe"
}

# keel exec and a command health check run in the container's user namespace;
# the container's root binds port 80 in its bridge namespace (keel sets
# ip_unprivileged_port_start = 0 there: it has no CAP_NET_BIND_SERVICE over a
# namespace keel's user namespace owns).
test_exec_health_port() {
    plan exec_map exec_root health_inside port_80 status_map
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
command = /bin/probe trap TERM listen tcp 80
restart = no
userns = auto
network = bridge
health = /bin/probe read /proc/self/uid_map exit 0
health_interval = 200ms
EOF
    keel_start
    wait_out c listening=tcp:80 || fail "c did not listen on port 80 ($WHY)"
    check port_80 "the container's root could not bind port 80" grep_in "c \| listening=tcp:80" "$OUT"
    wait_klog 'c: healthy' 20
    check health_inside "the health check did not pass inside the user namespace" grep_in "$(klog 'c: healthy')" "$ERR"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local out
    out=$(kc exec c -- /bin/probe ids read /proc/self/uid_map 2>&1)
    check exec_map "keel exec is not in the container's user namespace: $out" \
        eq "$(echo "$out" | sed -n 's/^data:\/proc\/self\/uid_map=//p' | awk '{ print $1, $2, $3 }')" "0 $AUTO0 65536"
    check exec_root "keel exec does not run as the container's root" grep_in '^uid=0$' <(echo "$out")
    out=$(kc status c 2>&1)
    check status_map "keel status does not show the map in force: $out" grep_in "^userns +0:$AUTO0:65536$" <(echo "$out")
    keel_stop || fail "keel did not stop ($WHY)"
}

# Issue 22 item 5: two keels, each with a /run of its own (so their
# /run/keel-userns slot locks never meet), in one PID namespace.  The second
# sees the first's namespace in /proc/PID/uid_map and takes the next range;
# before, both containers got 524288.
test_two_keels_disjoint() {
    plan two_keels_first two_keels_disjoint
    local k
    for k in a b; do
        manifest "$T/$k.ini" <<EOF
[system]
log_dir = $T/log-$k
stop_timeout = 2
control = unix:///run/keel-$k.sock
[container $k]
layers = $LAYERS/base
command = /bin/probe trap TERM read /proc/self/uid_map print up sleep inf
restart = no
userns = auto
EOF
    done
    # The "keel" nsinit runs: two keels, each in a mount namespace with a
    # tmpfs /run of its own; the second starts once the first's container runs.
    cat > "$T/two.sh" <<EOF
#!/bin/bash
one() { unshare --mount --propagation private /bin/sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "\$0" run "\$1"' "$KEEL" "$T/\$1.ini" > "$T/\$1.out" 2> "$T/\$1.err"; }
one a &
for _ in \$(seq 400); do grep -q '^a *| up' "$T/a.out" 2>/dev/null && break; sleep 0.05; done
one b &
wait
EOF
    chmod +x "$T/two.sh"
    local keel=$KEEL
    KEEL=$T/two.sh keel_start
    KEEL=$keel
    wait_for '^a *\| up' "$T/a.out" 20 && wait_for '^b *\| up' "$T/b.out" 20 ||
        { keel_kill; fail "the two keels' containers did not come up ($WHY; $(tail -n 3 "$T/a.err" "$T/b.err" | tr '\n' ' '))"; }
    local ma mb
    ma=$(OUT=$T/a.out map_of a)
    mb=$(OUT=$T/b.out map_of b)
    keel_kill
    check two_keels_first "the first keel's container did not get the first range" eq "$ma" "0 $AUTO0 65536"
    check two_keels_disjoint "the second keel (its own /run) handed out a range in use: $ma / $mb" \
        eq "$mb" "0 $AUTO1 65536"
}

# A restart keeps the namespace (and so the range) the first start made.
test_restart_same_range() {
    manifest <<EOF
$(system_section)
[container r]
layers = $LAYERS/base
command = /bin/probe read /proc/self/uid_map exit 3
restart = on-failure:2
restart_delay = 10ms
userns = auto
EOF
    keel_start
    wait_klog 'r: exited with status 3' 20 || fail "r did not run ($WHY)"
    keel_wait 20 || fail "keel did not end after r gave up ($WHY)"
    local maps
    maps=$(c_lines r | sed -n 's/^data:\/proc\/self\/uid_map=//p' | awk '{ print $1, $2, $3 }' | sort | uniq -c |
           awk '{ print $1 "x", $2, $3, $4 }')
    check restart_same_range "three runs did not all have the first range: $maps" eq "$maps" "3x 0 $AUTO0 65536"
}

# keel run reaps its user namespace's holder before it exits.  It used to
# leave the holder to its caller's reaper; under one that never reaps (the
# bench's PID 1 was bench.py) each run left a zombie whose namespace, its map
# still in /proc, kept the range in use: every run took the next slot and
# looked through more (slower run after run).  The caller here is a child
# subreaper that never reaps: whatever keel leaves behind stays its child.
# The output relay was left the same way.  Positive control: an orphan of a
# shell does stay the subreaper's child.
test_run_reaps_children() {
    plan reap_control reap_children reap_same_range reap_lock_files
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/probe read /proc/self/uid_map exit 0
restart = no
userns = auto
EOF
    cat > "$T/sub.py" <<'EOF'
import ctypes, glob, os, subprocess, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:   # PR_SET_CHILD_SUBREAPER
    sys.exit("cannot become a child subreaper")
def children():   # "PID(COMM)STATE" of every child, zombies too
    out = []
    for f in glob.glob("/proc/self/task/*/children"):
        for p in open(f).read().split():
            st = open("/proc/%s/stat" % p).read()
            out.append("%s(%s)%s" % (p, st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2]))
    return " ".join(out)
subprocess.run(["/bin/sh", "-c", "/bin/sleep 0.2 & exit 0"])
print("control children=" + children(), flush=True)
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
rc = 0
for i in range(3):
    rc = subprocess.run(sys.argv[1:]).returncode
    print("run%d children=%s" % (i, children()), flush=True)
print("lockfiles=%d" % len(os.listdir("/run/keel-userns")), flush=True)
sys.exit(rc)
EOF
    KEEL_WRAP="python3 $T/sub.py" keel_start
    keel_wait 60 || { keel_kill; fail "the three keel runs did not end ($WHY)"; }
    check reap_control "a shell's orphan was not left to the subreaper: $(grep control "$OUT")" \
        grep_in '^control children=[0-9]+\(' "$OUT"
    check reap_children "keel run left children behind: $(grep '^run' "$OUT" | tr '\n' ';')" \
        eq "$(grep -cE '^run[0-2] children=$' "$OUT")" 3
    local maps
    maps=$(c_lines c | sed -n 's/^data:\/proc\/self\/uid_map=//p' | awk '{ print $1, $2, $3 }' | sort | uniq -c |
           awk '{ print $1 "x", $2, $3, $4 }' | tr '\n' ';')
    check reap_same_range "three keel runs one after another did not all get the first range: $maps" \
        eq "$maps" "3x 0 $AUTO0 65536;"
    check reap_lock_files "three keel runs left more than one slot lock file" grep_in '^lockfiles=1$' "$OUT"
}

# `userns = auto` looks at every user namespace in sight twice: before it
# claims a slot, and again once its own map is written (another keel may
# have claimed the same slot meanwhile).  The second look reads again only
# what the first could not keep: a namespace whose two maps were both
# written, and which keel holds open (so that its inode number cannot go to
# a namespace made in between), is not read twice; one whose maps were not
# written yet is.  Two foreign processes in keel's PID namespace: one in a
# user namespace with both maps, one in a user namespace with none; keel's
# opens of their /proc directories are counted with strace.
test_auto_second_look() {
    plan second_look_control second_look_unwritten second_look_once
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/probe read /proc/self/uid_map exit 0
restart = no
userns = auto
EOF
    cat > "$T/wrap" <<EOF
#!/bin/bash
unshare --user --map-root-user /bin/sleep 60 & echo \$! > "$T/full.pid"
unshare --user /bin/sleep 60 & echo \$! > "$T/empty.pid"
for p in \$(cat "$T/full.pid" "$T/empty.pid"); do   # each has made its namespace (and maps) and exec'd sleep
    for _ in \$(seq 400); do case "\$(readlink /proc/\$p/exe)" in */sleep) break ;; esac; sleep 0.05; done
done
exec strace -D -q -e trace=openat -o "$T/trace" "\$@"
EOF
    chmod 755 "$T/wrap"
    KEEL_WRAP=$T/wrap keel_start
    keel_wait 30 || { keel_kill; fail "keel did not end ($WHY)"; }
    wait_until $((10 * SLOW)) grep -q '^+++ exited' "$T/trace" || fail "strace did not finish"
    local full empty nfull nempty
    full=$(cat "$T/full.pid") empty=$(cat "$T/empty.pid")
    nfull=$(grep -cE "^openat\([0-9]+, \"$full\", O_RDONLY[^)]*O_DIRECTORY" "$T/trace")
    nempty=$(grep -cE "^openat\([0-9]+, \"$empty\", O_RDONLY[^)]*O_DIRECTORY" "$T/trace")
    check second_look_control "c did not get the first range, or the foreign namespaces were not looked at ($(map_of c), $nfull, $nempty)" \
        eval '[ "$(map_of c)" = "0 $AUTO0 65536" ] && [ "$nfull" -ge 1 ]'
    check second_look_unwritten "a namespace without maps was not read again at the second look" eq "$nempty" 2
    check second_look_once "a namespace with both maps written was read at both looks" eq "$nfull" 1
}

# Every container dies with a killed keel (PR_SET_PDEATHSIG), also those whose
# uid change cleared the signal: a non-root user, the root of a user namespace.
test_die_with_keel() {
    plan die_with_keel_control die_with_keel
    manifest <<EOF
$(system_section)
[container r]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
[container u]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
user = 1000:1000
[container n]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
userns = auto
EOF
    keel_start
    wait_out r up && wait_out u up && wait_out n up || fail "the containers did not come up ($WHY)"
    # Positive control: the namespace's process list, taken the way nsinit
    # takes it, names the three running containers (so a "probe" in the
    # leftover list is what a survivor would look like).
    local comms
    comms=$(cat "$(nsproc)"/[0-9]*/comm 2>/dev/null | tr '\n' ' ')
    check die_with_keel_control "the running containers are not seen as probe processes: $comms" \
        eq "$(grep -o probe <<<"$comms" | wc -l)" 3
    keel_signal KILL || fail "cannot kill keel ($WHY)"
    keel_wait 20 || fail "keel did not die ($WHY)"
    # A missing list is a failure, not an empty one: nsinit writes it (maybe
    # empty) once keel has exited; before, `! grep` of a missing file passed.
    check die_with_keel "containers outlived a killed keel, or nsinit listed nothing: $(tr '\n' ';' < "$T/leftover" 2>&1)" \
        eval '[ -f "$T/leftover" ] && ! grep -q probe "$T/leftover"'
}

# Layers that the kernel cannot idmap are refused with the layer's name and
# filesystem, never run with files owned by nobody.
test_unmappable_layer() {
    mkdir -p "$T/ramfs"
    mount -t ramfs ramfs "$T/ramfs" || fail "cannot mount a ramfs"
    cp -a "$LAYERS/base/." "$T/ramfs/"
    manifest <<EOF
$(system_section)
[container c]
layers = $T/ramfs
command = /bin/probe exit 0
restart = no
userns = auto
EOF
    keel_start
    wait_klog 'c: exited' 20 || { umount "$T/ramfs"; fail "c was not handled ($WHY)"; }
    keel_stop
    umount "$T/ramfs"
    check unmappable_layer "no clear refusal for a ramfs layer" \
        grep_in "$(klog "error: c: failed: cannot idmap $T/ramfs: this kernel cannot make idmapped mounts of ramfs")" "$ERR"
}

# refused TEXT...: keel check exited 2 and its errors hold every TEXT.
refused() {
    local t
    [ "$CRC" = 2 ] || { WHY="exit status $CRC"; return 1; }
    for t in "$@"; do
        grep -qF -- "$t" "$CHECK_ERR" || { WHY="no '$t' in: $(head -c 300 "$CHECK_ERR")"; return 1; }
    done
}

# The same refusals as keel check gives them.
test_bad_maps() {
    plan map_host_root map_pool map_no_zero map_overlap map_words map_between map_between_ok map_ok plan_line
    local L=$LAYERS/base
    bad() {   # bad RESULT VALUE EXPECTED-TEXT
        printf '[container c]\nlayers = %s\ncommand = /bin/true\nuserns = %s\n' "$L" "$2" > "$T/m.ini"
        keel_check "$T/m.ini"
        check "$1" "userns = $2 was not refused with: $3" refused "$T/m.ini:4: userns: " "$3"
    }
    bad map_host_root 0:0:65536 "maps the host's root"
    bad map_pool 0:600000:10 "the range kept for userns = auto"
    bad map_no_zero 1:100000:10 "does not map container id 0"
    bad map_overlap 0:100000:10,5:300000:10 "container ids of '5:300000:10' overlap"
    bad map_words yes "is not no, auto or INSIDE:HOST:COUNT"
    # Two containers' explicit maps may not share host ids (issue 22 item 5).
    printf '[container x]\nlayers = %s\ncommand = /bin/true\nuserns = 0:100000:65536\n[container y]\nlayers = %s\ncommand = /bin/true\nuserns = 0:300000:10,10:150000:65526\n' "$L" "$L" > "$T/m.ini"
    keel_check "$T/m.ini"
    check map_between "overlapping maps of two containers were not refused" \
        refused "$T/m.ini:8: container 'y': userns host ids overlap those of container 'x' (line 4) at 150000"
    sed -i 's/10:150000:65526/10:165536:65526/' "$T/m.ini"
    keel_check "$T/m.ini"
    check map_between_ok "two containers' disjoint maps were refused" eq "$CRC" 0
    printf '[container c]\nlayers = %s\ncommand = /bin/true\nuserns = 0:100000:1000,1000:300000:64536\n' "$L" > "$T/m.ini"
    keel_check --plan "$T/m.ini"
    check map_ok "a two-extent map was refused" eq "$CRC" 0
    check plan_line "keel check --plan does not show the map" \
        grep_in "^  userns: 0:100000:1000,1000:300000:64536; layers idmapped" "$CHECK_OUT"
}

run_tests "$@"
