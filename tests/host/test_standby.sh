#!/bin/bash
# test_standby.sh — issue 17: `standby = yes` keeps one instance of a
# container prepared up to its exec; `keel start` and a restart release it
# (docs/operations.md, "Standby").  Asserted from outside: the released
# process existed before the request (it was a child of keel already), the
# container sees what a normal start shows, keel ps shows one instance, an
# apply's new environment reaches the next standby, keel's stop leaves no
# process behind, and keel check refuses what a standby cannot do.
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
# KC_TIMEOUT: seconds a client request may take (times SLOW).
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((${KC_TIMEOUT:-30} * SLOW)) "$KEEL" "$@"; }

# keel's children in the test namespace (pids as keel prints them), sorted.
keel_children() {
    local p k
    p=$(nsproc) || return 0
    for k in $(cat "$p"/1/task/*/children 2>/dev/null); do
        cat "$p/$k"/task/*/children 2>/dev/null
    done | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -n
}

# The standby of container NAME: keel's child that is not NAME's running
# process nor another container's (printed; "" when none), nor EXCEPT (a
# killed one not reaped yet).  A standby is alone in a PID namespace of its
# own (keel's code while prepared, then the exec stub): NSpid has two levels
# and the inner one is 1.
standby_pid() {
    local k busy
    busy=" $(ps_pids) ${1:-} "
    for k in $(keel_children); do
        case $busy in *" $k "*) continue ;; esac
        [ "$(ns_status "$k" NSpid | awk '{ print NF, $NF }')" = "2 1" ] && { echo "$k"; return 0; }
    done
}

# fd_list PID: PID's fds as "N>TARGET" words, sorted (empty when it is gone).
fd_list() {
    local f
    for f in "$(nsproc)/$1"/fd/*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        printf '%s>%s\n' "${f##*/}" "$(readlink "$f" 2>/dev/null)"
    done | sort -n | tr ' \n' '_ '
}

# The waiting standby's fds: only stdio (/dev/null, the output pipe) and
# keel's own two (the report pipe, the release pipe; the sealed stub's memfd
# went at its exec, as keel's own code, when it was an older keel's).
# Nothing the hand-over brought (its socket, the network namespace, the
# /etc/hosts tree) nor any other fd of keel's: none of them may reach the
# command, and the standby waits with them for long.
standby_fds_clean() {
    local w n=0 bad=""
    for w in $1; do
        n=$((n + 1))
        case ${w#*>} in
            /dev/null | pipe:\[*\] | /memfd:keel-stub_\(deleted\)) ;;
            *) bad="$bad $w" ;;
        esac
    done
    # The release pipe beyond stdio: the standby's own table was read.
    [ "$n" -ge 4 ] && [ -z "$bad" ] && return 0
    WHY="$n fds, unexpected:$bad"
    return 1
}

# waits_in_stub PID: PID sleeps in a pipe read with the sealed exec stub as
# its exe (stub.h): no copy of keel waits, and the release is one read and
# the command's exec.  WHY says what it is instead.
waits_in_stub() {
    local exe wchan
    exe=$(readlink "$(nsproc)/$1/exe" 2>/dev/null)
    wchan=$(cat "$(nsproc)/$1/wchan" 2>/dev/null)
    case "$exe $wchan" in
        "/memfd:keel-stub (deleted) "*pipe_read* | "/memfd:keel-stub (deleted) "*pipe_wait*) return 0 ;;
    esac
    WHY="exe '$exe', wchan '$wchan'"
    return 1
}

# keel_holds NS: keel has an fd on namespace NS ("mnt:[N]", as
# /proc/PID/ns/mnt reads): it pins a run's namespaces for exec and health
# checks while the run is up.
keel_holds() {
    keel_mnt_fds | grep -qxF "$1"
}

# keel's fds on mount namespaces, one a line, sorted.
keel_mnt_fds() {
    local p k f
    p=$(nsproc) || return 0
    for k in $(cat "$p"/1/task/*/children 2>/dev/null); do
        for f in "$p/$k"/fd/*; do
            readlink "$f" 2>/dev/null
        done
    done | grep '^mnt:' | sort
}

# mnt_pins_live: keel pins exactly the mount namespaces of the running
# containers and the standby, one fd each (the kernel reuses a freed
# namespace's number at once: comparing sets, not a number, sees a dead
# run's namespace kept).  WHY says what differs.
mnt_pins_live() {
    local k live held
    live=$(for k in $(ps_pids) $(standby_pid); do readlink "$(nsproc)/$k/ns/mnt" 2>/dev/null; done | sort)
    held=$(keel_mnt_fds)
    [ -n "$live" ] && [ "$live" = "$held" ] && return 0
    WHY="keel pins $(tr '\n' ' ' <<< "$held"), the live ones are $(tr '\n' ' ' <<< "$live")"
    return 1
}

# Every running container's pid, as keel ps says.
ps_pids() {
    kc ps --json 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(c["pid"]) for c in json.load(sys.stdin) if c.get("pid")))' 2>/dev/null
}

# ps_field NAME KEY: keel ps --json's KEY of NAME ("" when absent).
ps_field() {
    kc ps --json 2>/dev/null | python3 -c '
import json, sys
n = [c for c in json.load(sys.stdin) if c["name"] == sys.argv[1]]
print(len(n) if sys.argv[2] == "count" else (n[0].get(sys.argv[2], "") if n else ""))' "$1" "$2" 2>/dev/null
}

# The probe's view of its container, one "key=value" a line, minus what
# differs between any two runs (pids, the output pipe's inode, the numbers
# of the setup child's fds that name the layers to overlayfs).
PROBE_VIEW="hostname status ids cwd env cgroup mounts"
view_of() {   # view_of NAME RUN: the view printed by NAME's RUN-th run (1-based)
    grep -E "^$1 \| " "$OUT" | sed -E "s/^$1 \| //" |
        awk -v n="$2" '/^run-begin$/ { k++ } k == n && /^(hostname|Cap|NoNewPrivs|Seccomp|Sig|uid|gid|euid|egid|groups|cwd|env\.|cgroup|mount)/' |
        grep -v '^env.HOSTNAME=' | sed -E 's#/containers/[^/:,]+/#/containers/NAME/#g; s#/proc/self/fd/[0-9]+#/proc/self/fd/N#g' | sort
}

sb_manifest() {
    manifest "${2:-$T/keel.ini}" <<EOF
$(system_section)
control = unix://$(SOCK)

[container sb]
layers = $LAYERS/base
command = /bin/probe print run-begin $PROBE_VIEW print view-done trap USR1 sleep inf
hostname = box
env = MARK=${1:-one}
restart = always
restart_delay = 0ms
stop_signal = SIGUSR1
standby = yes

[container ref]
layers = $LAYERS/base
command = /bin/probe print run-begin $PROBE_VIEW print view-done trap USR1 sleep inf
hostname = box
env = MARK=${1:-one}
restart = no
stop_signal = SIGUSR1
EOF
}

# views NAME: how many complete views NAME has printed.
views() { grep -c "^$1 | view-done$" "$OUT"; }

# sb's first run is up, the control socket answers and a standby of sb waits.
sb_prepared() {
    wait_out sb view-done || fail "sb did not come up ($WHY)"
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    wait_until 10 eval '[ -n "$(standby_pid)" ]' || fail "no standby of sb was prepared"
}

test_standby_restart_and_start() {
    plan prepared standby_fds waits_in_stub run_ns_pinned released_on_crash released_fds dead_run_ns_closed \
        same_view_as_normal cgroup_root ps_one_instance stopped_run_ns_closed start_released discarded_on_stop \
        no_leftover cgroup_removed
    sb_manifest
    keel_start
    wait_out sb view-done || fail "sb did not come up ($WHY)"
    wait_out ref view-done || fail "ref did not come up ($WHY)"
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local sbp pid0
    wait_until 10 eval '[ -n "$(standby_pid)" ]'
    sbp=$(standby_pid)
    pid0=$(ps_field sb pid)
    check prepared "no standby of sb among keel's children ($(keel_children | tr '\n' ' '); running: $(ps_pids))" \
        eval '[ -n "$sbp" ] && [ "$sbp" != "$pid0" ]'
    # Asleep in its read (a standby being prepared is keel's code: polled).
    wait_until 10 waits_in_stub "$sbp"
    check waits_in_stub "the standby $sbp does not wait in the exec stub" waits_in_stub "$sbp"
    local sbfds
    sbfds=$(fd_list "$sbp")
    check standby_fds "the waiting standby holds other fds: $sbfds" standby_fds_clean "$sbfds"
    # The run's mount namespace, pinned by keel while it runs (the positive
    # control of the two checks that it is let go).
    local mnt0
    mnt0=$(readlink "$(nsproc)/$pid0/ns/mnt" 2>/dev/null)
    check run_ns_pinned "keel holds no fd on sb's mount namespace '$mnt0' while it runs" keel_holds "$mnt0"
    # The crash (trap USR1 exits 0; restart = always): the new run's process
    # is the standby that existed before it.
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 2 ]' || fail "sb did not run again after its crash ($WHY)"
    local pid1
    wait_until 10 eval '[ "$(ps_field sb state)" = running ]'
    pid1=$(ps_field sb pid)
    check released_on_crash "sb's second run (pid $pid1) is not the standby prepared before the crash ($sbp)" \
        eq "$pid1" "$sbp"
    # Released: the stub's exec closed keel's three, the command has stdio only.
    check released_fds "the released instance has other fds than 0, 1, 2: $(fd_list "$pid1")" \
        eq "$(fd_list "$pid1" | sed -E 's/>[^ ]*//g')" "0 1 2 "
    # The dead run's namespaces go after the release (record_exit), not
    # never: once the next standby is prepared keel pins the live ones only.
    wait_until 10 mnt_pins_live
    check dead_run_ns_closed "keel still pins a dead run's mount namespace" mnt_pins_live
    check same_view_as_normal "sb's view after a release differs from ref's normal start" \
        eq "$(view_of sb 2)" "$(view_of ref 1)"
    check cgroup_root "sb's released instance does not see its cgroup namespace root" \
        eq "$(view_of sb 2 | grep '^cgroup=0::')" "cgroup=0::/"
    check ps_one_instance "keel ps does not show sb once, with the running process" \
        eval '[ "$(ps_field sb count)" = 1 ] && [ "$(ps_field sb pid)" = "$pid1" ]'
    # keel stop sb, then keel start sb: released from a standby prepared
    # while sb was stopped (kept for the start).
    kc stop sb > "$T/stop.out" 2>&1 || fail "keel stop sb: $(cat "$T/stop.out")"
    wait_until 20 eval '[ "$(ps_field sb state)" = stopped ]' || fail "sb did not stop"
    # Stopped with a standby kept: the stopped run's namespaces go at once.
    wait_until 10 eval '[ -n "$(standby_pid)" ]'
    sbp=$(standby_pid)
    wait_until 10 mnt_pins_live
    check stopped_run_ns_closed "keel still pins the stopped run's mount namespace" mnt_pins_live
    kc start sb > "$T/start.out" 2>&1 || fail "keel start sb: $(cat "$T/start.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 3 ]' || fail "sb did not start again ($WHY)"
    check start_released "keel start sb did not release the standby ($sbp; running $(ps_field sb pid))" \
        eval '[ -n "$sbp" ] && [ "$(ps_field sb pid)" = "$sbp" ]'
    # The stop of keel: every standby discarded, nothing left in the namespace.
    wait_until 10 eval '[ -n "$(standby_pid)" ]'
    sbp=$(standby_pid)
    # sb's cgroup as the host sees it (the standby is in it too).
    local cg2 cgdir=""
    cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    [ -n "$cg2" ] && cgdir=$cg2$(sed -n 's/^0:://p' "$(nsproc)/$sbp/cgroup" 2>/dev/null)
    local cg_was=no
    [ -n "$cgdir" ] && [ -d "$cgdir" ] && cg_was=yes   # the positive control
    keel_stop || fail "keel did not stop ($WHY)"
    check discarded_on_stop "keel stopped without a standby to discard (positive control)" ne "$sbp" ""
    check no_leftover "processes left in the namespace after keel's stop: $(cat "$T/leftover" 2>/dev/null)" \
        eval '[ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
    if [ -z "$cg2" ] || [ "$cgdir" = "$cg2/" ] || [ "$cgdir" = "$cg2" ]; then
        _DONE+=(cgroup_removed)
        echo "skip - host: cgroup_removed: keel runs without a cgroup2 hierarchy here"
    else
        check cgroup_removed "sb's cgroup $cgdir was not there while keel ran ($cg_was) or is still there after its stop" \
            eval '[ "$cg_was" = yes ] && [ ! -e "$cgdir" ]'
    fi
}

# A standby that dies on its own (killed from outside here) is reaped and
# replaced, and the running instance is left alone.
test_standby_dies_alone() {
    plan replaced running_untouched next_release
    sb_manifest
    keel_start
    sb_prepared
    local sbp pid0 host=""
    sbp=$(standby_pid)
    pid0=$(ps_field sb pid)
    # The standby's pid as this shell sees it: keel's child with that NSpid.
    local k
    for k in $(children "$(keel_pid)"); do
        [ "$(awk '$1 == "NSpid:" { print $3 }' "/proc/$k/status" 2>/dev/null)" = "$sbp" ] && host=$k
    done
    [ -n "$host" ] || fail "cannot find the standby $sbp among keel's children"
    kill -KILL "$host"
    wait_until 20 eval '[ -n "$(standby_pid)" ] && [ "$(standby_pid)" != "$sbp" ]'
    local sb2
    sb2=$(standby_pid)
    check replaced "no new standby after the old one ($sbp) was killed (now: '$sb2')" \
        eval '[ -n "$sb2" ] && [ "$sb2" != "$sbp" ]'
    check running_untouched "sb's running instance changed when its standby died ($pid0, now $(ps_field sb pid) $(ps_field sb state))" \
        eval '[ "$(ps_field sb pid)" = "$pid0" ] && [ "$(ps_field sb state)" = running ] && [ "$(views sb)" = 1 ]'
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 2 ]' || fail "sb did not restart ($WHY)"
    wait_until 10 eval '[ "$(ps_field sb state)" = running ]'
    check next_release "sb's restart did not release the replacement standby ($sb2; running $(ps_field sb pid))" \
        eq "$(ps_field sb pid)" "$sb2"
    keel_stop || fail "keel did not stop ($WHY)"
}

# A standby that cannot be prepared (its bind source gone) is tried a few
# times with a growing delay, then not until the container's next start;
# that start, made as without a standby, brings the standby back.
test_standby_gives_up() {
    plan gave_up bounded start_without back_after_start
    mkdir -p "$T/data"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container sb]
layers = $LAYERS/base
command = /bin/probe print run-begin ls /data print view-done trap USR1 sleep inf
mount = $T/data:/data
restart = always
restart_delay = 0ms
stop_signal = SIGUSR1
standby = yes
EOF
    keel_start
    sb_prepared
    local sbp host="" k
    sbp=$(standby_pid)
    for k in $(children "$(keel_pid)"); do
        [ "$(awk '$1 == "NSpid:" { print $3 }' "/proc/$k/status" 2>/dev/null)" = "$sbp" ] && host=$k
    done
    [ -n "$host" ] || fail "cannot find the standby $sbp among keel's children"
    mv "$T/data" "$T/data.away"
    kill -KILL "$host"
    wait_klog "warning: sb: no standby until its next start" $((20 * SLOW)) || true
    check gave_up "a standby of sb is still being prepared, or one is there, without its bind source" \
        eval 'grep -qE "$(klog "warning: sb: no standby until its next start")" "$ERR" && [ -z "$(standby_pid)" ]'
    check bounded "not 5 standbys lost (1 killed, 4 failed) before keel gave up: $(klog_count 'warning: sb: its standby')" \
        eq "$(klog_count 'warning: sb: its standby')" 5
    mv "$T/data.away" "$T/data"
    local pid0
    pid0=$(ps_field sb pid)
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 2 ] && [ "$(ps_field sb state)" = running ]' || fail "sb did not restart ($WHY)"
    check start_without "sb did not start again without a standby ($pid0, now $(ps_field sb pid))" \
        eval '[ -n "$(ps_field sb pid)" ] && [ "$(ps_field sb pid)" != "$pid0" ]'
    wait_until 10 eval '[ -n "$(standby_pid)" ]'
    check back_after_start "no standby after sb's next start" ne "$(standby_pid)" ""
    keel_stop || fail "keel did not stop ($WHY)"
}

# A standby of a container with a user namespace and `ready = notify`: the
# released instance is in the same user namespace (the same map as the
# first run's), its readiness reaches keel, its files are mapped.
test_standby_userns_notify() {
    plan same_map ids_inside ready_after_release
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container sb]
layers = $LAYERS/base
command = /bin/probe print run-begin ids read /proc/self/uid_map notify print view-done trap USR1 sleep inf
userns = auto
ready = notify
restart = always
restart_delay = 0ms
stop_signal = SIGUSR1
standby = yes
EOF
    keel_start
    sb_prepared
    local sbp
    sbp=$(standby_pid)
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 2 ] && [ "$(ps_field sb state)" = running ]' || fail "sb did not restart ($WHY)"
    [ "$(ps_field sb pid)" = "$sbp" ] || fail "the restart did not release the standby ($sbp; running $(ps_field sb pid))"
    local m1 m2
    m1=$(sed -n 's/^sb | data:\/proc\/self\/uid_map=//p' "$OUT" | sed -n 1p | awk '{ print $1, $2, $3 }')
    m2=$(sed -n 's/^sb | data:\/proc\/self\/uid_map=//p' "$OUT" | sed -n 2p | awk '{ print $1, $2, $3 }')
    check same_map "the released instance's uid_map ('$m2') is not the first run's ('$m1', container root on a host id above 0)" \
        eval '[ -n "$m1" ] && [ "$m1" = "$m2" ] && [ "${m1%% *}" = 0 ] && [ "$(awk "{ print \$2 }" <<< "$m1")" -gt 0 ]'
    check ids_inside "the released instance does not run as root of its user namespace" \
        eq "$(grep -E '^sb \| uid=' "$OUT" | sed -n 2p)" "sb | uid=0"
    wait_until 10 eval '[ "$(ps_field sb ready)" = True ]'
    check ready_after_release "keel did not see the released instance's READY=1 (ready: $(ps_field sb ready); $(grep -E '^sb \| notify=' "$OUT" | tail -n 1))" \
        eq "$(ps_field sb ready)" True
    keel_stop || fail "keel did not stop ($WHY)"
}

# A bridge container with a standby: the standby joins the container's
# pinned namespace, so the released instance has the same address, and its
# published port answers; while it is stopped its address stays its own.
test_standby_bridge() {
    plan port_before same_ip port_after_start
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[network n$$]
subnet = 10.78.$(( $$ % 200 )).0/24

[container web]
layers = $LAYERS/base
command = /bin/probe print run-begin trap USR1 listen tcp 80
network = bridge
bridge = n$$
ports = 127.0.0.1:$((20000 + $$ % 20000)):80
stop_signal = SIGUSR1
restart = no
standby = yes

[container idle]
layers = $LAYERS/base
command = /bin/probe trap USR1 sleep inf
stop_signal = SIGUSR1
EOF
    local port=$((20000 + $$ % 20000))
    keel_start
    wait_out web listening=tcp:80 || fail "web did not listen ($WHY)"
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    wait_until 10 eval '[ -n "$(standby_pid)" ]' || fail "no standby of web was prepared"
    local ip0
    ip0=$(ps_field web ip)
    wait_until 10 eval 'nsenter --net="/proc/$(nsinit_pid)/ns/net" "$PROBE" connect 127.0.0.1 $port 2>&1 | grep -q "=ok reply=ping"'
    check port_before "web's published port does not answer (positive control)" \
        eval 'nsenter --net="/proc/$(nsinit_pid)/ns/net" "$PROBE" connect 127.0.0.1 $port 2>&1 | grep -q "=ok reply=ping"'
    kc stop web > "$T/stop.out" 2>&1 || fail "keel stop web: $(cat "$T/stop.out")"
    wait_until 20 eval '[ "$(ps_field web state)" = stopped ]' || fail "web did not stop"
    wait_until 10 eval '[ -n "$(standby_pid)" ]' || fail "no standby of web while it is stopped"
    local sbp
    sbp=$(standby_pid)
    kc start web > "$T/start.out" 2>&1 || fail "keel start web: $(cat "$T/start.out")"
    wait_until 20 eval '[ "$(grep -c "^web | listening=tcp:80$" "$OUT")" -ge 2 ]' || fail "web did not listen again ($WHY)"
    check same_ip "the released web ($(ps_field web pid), standby $sbp) does not have its address $ip0 (now $(ps_field web ip))" \
        eval '[ -n "$ip0" ] && [ "$(ps_field web ip)" = "$ip0" ] && [ "$(ps_field web pid)" = "$sbp" ]'
    wait_until 10 eval 'nsenter --net="/proc/$(nsinit_pid)/ns/net" "$PROBE" connect 127.0.0.1 $port 2>&1 | grep -q "=ok reply=ping"'
    check port_after_start "web's published port does not answer after keel start through the standby" \
        eval 'nsenter --net="/proc/$(nsinit_pid)/ns/net" "$PROBE" connect 127.0.0.1 $port 2>&1 | grep -q "=ok reply=ping"'
    keel_stop || fail "keel did not stop ($WHY)"
}

test_standby_apply_env() {
    plan old_env new_env_at_once new_env_from_standby
    sb_manifest one
    keel_start
    sb_prepared
    check old_env "sb's first run does not see MARK=one" grep_in '^sb | env.MARK=one$' "$OUT"
    sb_manifest two "$T/m2.ini"
    kc apply "$T/m2.ini" > "$T/apply.out" 2>&1 || fail "keel apply: $(cat "$T/apply.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 2 ]' || fail "sb did not restart for the apply ($WHY)"
    check new_env_at_once "sb's run after the apply does not see MARK=two" \
        eval '[ "$(view_of sb 2 | grep "^env.MARK=")" = env.MARK=two ]'
    # The next run comes from the standby prepared after the apply: the new
    # environment, never the old standby's.
    wait_until 10 eval '[ -n "$(standby_pid)" ]' || fail "no standby after the apply"
    local sbp
    sbp=$(standby_pid)
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(views sb)" -ge 3 ]' || fail "sb did not restart ($WHY)"
    wait_until 10 eval '[ "$(ps_field sb state)" = running ]'
    check new_env_from_standby "the run released from the standby ($sbp, now $(ps_field sb pid)) does not see MARK=two" \
        eval '[ "$(ps_field sb pid)" = "$sbp" ] && [ "$(view_of sb 3 | grep "^env.MARK=")" = env.MARK=two ]'
    keel_stop || fail "keel did not stop ($WHY)"
}

# A secret changed on disk without keel apply, then a crash: the restarted
# instance sees the new content (a normal start copies it; the standby holds
# the copy made when it was prepared and is discarded).  The control: with
# the secret unchanged, and settled (its ctime some seconds old, as keel's
# look at it needs: manifest.h, manifest_secrets_stamp), the restart is a
# release of the standby.  Before, the standby was released with the old copy.
sec_runs() { grep -c "^sb | sec-done$" "$OUT"; }
test_standby_secret_changed() {
    plan settled_released changed_seen
    printf 'tok-1\n' > "$T/token"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container sb]
layers = $LAYERS/base
secret = $T/token:/run/token
command = /bin/probe read /run/token print sec-done trap USR1 sleep inf
restart = always
restart_delay = 0ms
stop_signal = SIGUSR1
standby = yes
EOF
    keel_start
    wait_out sb sec-done || fail "sb did not come up ($WHY)"
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    wait_until 10 eval '[ -n "$(standby_pid)" ]' || fail "no standby of sb was prepared"
    # Settled: a standby prepared from here on can be told unchanged.
    wait_until 15 eval '[ $(( $(date +%s) - $(stat -c %Z "$T/token") )) -gt 5 ]' || fail "the token never got 5 s old"
    local sb0 sbp
    sb0=$(standby_pid)
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(sec_runs)" -ge 2 ]' || fail "sb did not restart ($WHY)"
    wait_until 10 eval '[ -n "$(standby_pid "$sb0")" ] && [ "$(ps_field sb state)" = running ]' ||
        fail "no standby of sb after its restart"
    sbp=$(standby_pid "$sb0")
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(sec_runs)" -ge 3 ]' || fail "sb did not restart ($WHY)"
    wait_until 10 eval '[ "$(ps_field sb state)" = running ]'
    check settled_released "sb's restart with its secret unchanged did not release the standby ($sbp; running $(ps_field sb pid))" \
        eq "$(ps_field sb pid)" "$sbp"
    wait_until 10 eval '[ -n "$(standby_pid "$sbp")" ]' || fail "no standby of sb after its release"
    printf 'tok-2\n' > "$T/token"
    kc kill -s USR1 sb > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 sb: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(sec_runs)" -ge 4 ]' || fail "sb did not restart ($WHY)"
    check changed_seen "sb's run after the secret changed does not see it: $(c_lines sb | grep '^data:' | tr '\n' ' ')" \
        eq "$(c_lines sb | grep '^data:/run/token=' | tail -n 1)" "data:/run/token=tok-2"
    keel_stop || fail "keel did not stop ($WHY)"
}

# A secret on a FUSE file system (the probe's DIR/f, "fuse-secret"): keel
# would lstat it in PID 1 on every restart's path (the release check), where
# a hung server holds PID 1, so such a container gets no standby and says so
# (manifest_secrets_remote).  rs's secret is on the FUSE mount, ls's on a
# local file, the same otherwise; ls starts after rs (depends), so rs's
# standby, were it made, would be asked for first.  The positive control:
# ls gets its standby (told apart by the copy of the secret it holds).
# Before, rs got a standby too, and its restart was a release.
# standby_tokens: "PID TOKEN" of each waiting standby (TOKEN: its
# /run/token), one a line, sorted by TOKEN.
standby_tokens() {
    local k busy
    busy=" $(ps_pids) "
    for k in $(keel_children); do
        case $busy in *" $k "*) continue ;; esac
        [ "$(ns_status "$k" NSpid | awk '{ print NF, $NF }')" = "2 1" ] || continue
        waits_in_stub "$k" && echo "$k $(cat "$(nsproc)/$k/root/run/token" 2>/dev/null)"
    done | sort -k 2
}
tokens() { awk '{ printf "%s ", $2 }' <<< "$1"; }
test_standby_secret_remote() {
    plan remote_seen local_standby remote_no_standby remote_warned remote_restart_fresh
    printf 'tok-local\n' > "$T/token"
    mkdir -p "$T/fuse/d"
    fuse_start host
    local sec
    for sec in "rs $T/fuse/d/f" "ls $T/token"; do
        set -- $sec
        cat <<EOF
[container $1]
layers = $LAYERS/base
secret = $2:/run/token
command = /bin/probe read /run/token print sec-done trap USR1 sleep inf
restart = always
restart_delay = 0ms
stop_signal = SIGUSR1
standby = yes
$([ "$1" = ls ] && echo 'depends = rs:started')

EOF
    done > "$T/ctrs.ini"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

$(cat "$T/ctrs.ini")
EOF
    keel_start
    wait_out rs sec-done || fail "rs did not come up ($WHY)"
    wait_out ls sec-done || fail "ls did not come up ($WHY)"
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    check remote_seen "rs does not see its secret from the FUSE file system: $(c_lines rs | grep '^data:' | tr '\n' ' ')" \
        eq "$(c_lines rs | grep '^data:/run/token=')" "data:/run/token=fuse-secret"
    wait_until 20 eval '[ -n "$(standby_tokens)" ]'
    local sbs toks
    sbs=$(standby_tokens)
    toks=$(tokens "$sbs")
    check local_standby "ls (its secret on a local file) got no standby (standbys: '$toks')" \
        eval '[[ " $toks" == *" tok-local "* ]]'
    check remote_no_standby "rs (its secret on FUSE) got a standby (standbys' secrets: '$toks')" \
        eq "$toks" "tok-local "
    check remote_warned "keel did not say why rs gets no standby" \
        grep -qE "$(klog 'warning: rs: standby = yes is not used: a secret of it is on a network or FUSE file system')" "$ERR"
    # Its restart is a fresh start (the secret read again), not the release
    # of a standby that waited before it.
    local pid0 pid1
    pid0=$(ps_field rs pid)
    sbs=$(standby_tokens)
    kc kill -s USR1 rs > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 rs: $(cat "$T/kill.out")"
    wait_until 20 eval '[ "$(c_lines rs | grep -c "^sec-done$")" -ge 2 ]' || fail "rs did not restart ($WHY)"
    wait_until 10 eval '[ "$(ps_field rs state)" = running ]'
    pid1=$(ps_field rs pid)
    toks=$(tokens "$(standby_tokens)")
    check remote_restart_fresh "rs's restart (pid $pid0 -> $pid1) released a standby or left one of it or did not see the secret (standbys before: '$(tr '\n' ' ' <<< "$sbs")', secrets after: '$toks')" \
        eval '[ -n "$pid1" ] && [ "$pid1" != "$pid0" ] && ! grep -q "^$pid1 " <<< "$sbs" && [ "$toks" = "tok-local " ] &&
              [ "$(c_lines rs | grep -c "^data:/run/token=fuse-secret$")" = 2 ]'
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- a standby that SIGKILL cannot end at once ----------------------------------------

# The FUSE server (fuse_start, fuse_stop, fuse_held, hung, host_pid) is lib.sh's.

# With the server holding: the prepared standby of sb is killed from
# outside, and the one keel prepares next hangs walking its bind source.
# Its pid goes to STUCK.
STUCK=""
standby_hang() {
    local sbp held host
    sbp=$(standby_pid)
    host=$(host_pid "$sbp")
    [ -n "$host" ] || fail "cannot find the standby $sbp among keel's children"
    held=$(fuse_held)
    kill -USR1 "$FUSE_PID"
    kill -KILL "$host"
    wait_until 20 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "no standby of sb reached the FUSE server"
    wait_until 10 eval 'sbp2=$(standby_pid); [ -n "$sbp2" ] && [ "$sbp2" != "$sbp" ]' ||
        fail "no new standby of sb after $sbp was killed"
    STUCK=$(standby_pid)
}

hung_manifest() {
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container sb]
layers = $LAYERS/base
command = /bin/probe print run-begin print view-done sleep inf
mount = $T/fuse/d/d:/data
restart = no
stop_signal = SIGKILL
stop_timeout = $1
standby = yes

[container idle]
layers = $LAYERS/base
command = /bin/probe sleep inf
stop_signal = SIGKILL
EOF
}

# A standby hung in uninterruptible sleep (its bind source on a FUSE server
# that stopped answering) when keel discards it (stop_signal = SIGKILL:
# keel stop SIGKILLs the container's cgroup, the standby first): keel goes
# on, keel ps answers and sb stops while the standby cannot be reaped; it is
# reaped once the server answers.  keel's stop waits for such a standby
# (within sb's stop_timeout, 60 s here) and exits once it is reaped, leaving
# nothing.  Before, keel waited for it in waitpid(): no reaping, no control
# socket, no shutdown for as long as the server kept silent.
test_standby_hung_discard() {
    plan answers_while_hung new_instance_meanwhile reaped_when_it_can late_reap_harmless stop_waits_for_it \
        nothing_left
    local KC_TIMEOUT=5 s1 s2 stuck
    mkdir -p "$T/fuse/d/d"
    hung_manifest 60s
    keel_start
    sb_prepared
    fuse_start
    standby_hang
    s1=$STUCK
    kc stop sb > "$T/stop.out" 2>&1 &
    # Everything after depends on it: a keel that cannot answer fails at once.
    wait_until 20 eval '[ "$(ps_field sb state)" = stopped ]' ||
        fail "keel ps did not show sb stopped while its discarded standby $s1 hung ($(hung "$s1" && echo hung || echo "$WHY"))"
    check answers_while_hung "keel ps did not show sb stopped (state '$(ps_field sb state)') while the discarded standby $s1 hung" \
        eval '[ "$(ps_field sb state)" = stopped ] && hung "$s1"'
    # A new instance while s1 still hangs: the next standby (the server
    # answers it: one request is held per SIGUSR1), released by keel start.
    wait_until 20 eval '[ -n "$(standby_pid "$s1")" ]' || fail "no new standby of sb while $s1 hung"
    s2=$(standby_pid "$s1")
    kc start sb > "$T/start.out" 2>&1 || fail "keel start sb: $(cat "$T/start.out")"
    wait_until 20 eval '[ "$(ps_field sb state)" = running ]'
    check new_instance_meanwhile "keel start sb did not release the new standby $s2 (sb: pid '$(ps_field sb pid)', $(ps_field sb state)) while $s1 hung" \
        eval '[ "$(ps_field sb pid)" = "$s2" ] && [ "$(ps_field sb state)" = running ] && hung "$s1"'
    # sb's cgroup as the host sees it, kept while sb runs.
    local cg2 cgdir=""
    cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    [ -n "$cg2" ] && cgdir=$cg2$(sed -n 's/^0:://p' "$(nsproc)/$s2/cgroup" 2>/dev/null)
    kill -USR2 "$FUSE_PID"
    wait_until 20 eval '[ ! -e "$(nsproc)/$s1" ]'
    check reaped_when_it_can "the discarded standby $s1 is still there once the server answered: $(ns_status "$s1" State)" \
        eval '[ ! -e "$(nsproc)/$s1" ]'
    # s1's late reap is its own: sb runs on as it was, in its cgroup.
    check late_reap_harmless "sb changed when its old standby was reaped (pid '$(ps_field sb pid)', not $s2; $(ps_field sb state); cgroup $cgdir)" \
        eval '[ "$(ps_field sb pid)" = "$s2" ] && [ "$(ps_field sb state)" = running ] && { [ -z "$cgdir" ] || [ -d "$cgdir" ]; }'
    # keel's stop: sb's next standby hangs in turn, is discarded and waited for.
    wait_until 20 eval '[ -n "$(standby_pid)" ]' || fail "no standby of sb after its start"
    standby_hang
    stuck=$STUCK
    keel_signal TERM || fail "cannot signal keel ($WHY)"
    wait_until 20 eval '[ "$(ps_field sb state)" = stopped ]'
    check stop_waits_for_it "keel did not stay (running: $(keel_running && echo yes || echo no)) and answer (sb: '$(ps_field sb state)') while the standby $stuck it discarded hung" \
        eval 'keel_running && [ "$(ps_field sb state)" = stopped ] && hung "$stuck"'
    kill -USR2 "$FUSE_PID"
    keel_wait 20 || fail "keel did not exit once the hung standby could die"
    check nothing_left "keel's stop left processes ($(cat "$T/leftover" 2>/dev/null)) or failed (status $KRC)" \
        eval '[ "$KRC" = 0 ] && [ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
}

# The bound: a standby that stays hung longer than sb's stop_timeout (1 s)
# does not hold keel's stop; keel says which process it leaves behind.
test_standby_hung_bound() {
    plan stop_not_held left_reported
    local KC_TIMEOUT=5 stuck
    mkdir -p "$T/fuse/d/d"
    hung_manifest 1s
    keel_start
    sb_prepared
    fuse_start
    standby_hang
    stuck=$STUCK
    keel_signal TERM || fail "cannot signal keel ($WHY)"
    # nsinit writes the leftover list once keel has exited.
    wait_until 20 test -e "$T/leftover"
    check stop_not_held "keel did not exit while its discarded standby $stuck hung ($(hung "$stuck" && echo hung || echo "$WHY"); left: $(cat "$T/leftover" 2>/dev/null))" \
        eval '[ -e "$T/leftover" ] && grep -qE "^$stuck .* D$" "$T/leftover"'
    check left_reported "keel did not say it leaves the standby $stuck behind" \
        grep_in "$(klog "warning: sb: its killed standby $stuck is still not dead: left behind")" "$ERR"
    kill -USR2 "$FUSE_PID"
    keel_wait 20 || fail "the test namespace did not end once the hung standby could die"
}

# Not a standby: a container's own process that SIGKILL cannot end (a
# process of it walks a bind source on a FUSE server that stopped
# answering; its PID 1, killed too, waits in its exit for it).  keel's stop
# waits for it up to its stop_timeout (1 s) after the SIGKILL, then says so
# and goes on: before, keel's stop waited for ever (in boot mode the machine
# never powered off).  The server answers afterwards and everything ends.
test_hung_process_stop() {
    plan stop_not_held_by_process process_reported
    local KC_TIMEOUT=5 pid0
    mkdir -p "$T/fuse/d/d"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container hm]
layers = $LAYERS/base
command = /bin/sh -c "while :; do ls /data > /dev/null; sleep 0.1; done"
mount = $T/fuse/d/d:/data
restart = no
stop_signal = SIGKILL
stop_timeout = 1s

[container idle]
layers = $LAYERS/base
command = /bin/probe sleep inf
stop_signal = SIGKILL
EOF
    keel_start
    wait_until 10 test -S "$(SOCK)" || fail "no control socket"
    wait_until 20 eval '[ "$(ps_field hm state)" = running ]' || fail "hm did not start"
    fuse_start
    # hm's mount namespace was copied before the mount: its next run sees it.
    pid0=$(ps_field hm pid)
    kc restart hm > "$T/restart.out" 2>&1 || fail "keel restart hm: $(cat "$T/restart.out")"
    wait_until 20 eval '[ "$(ps_field hm state)" = running ] && [ "$(ps_field hm pid)" != "$pid0" ]' ||
        fail "hm did not run again"
    local held
    held=$(fuse_held)
    kill -USR1 "$FUSE_PID"
    wait_until 20 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "hm's ls did not reach the FUSE server"
    local hp
    hp=$(ps_field hm pid)
    keel_signal TERM || fail "cannot signal keel ($WHY)"
    # nsinit writes the leftover list once keel has exited.
    wait_until 20 test -e "$T/leftover"
    check stop_not_held_by_process "keel did not exit while hm's process hung after SIGKILL (left: $(tr '\n' ' ' 2>/dev/null < "$T/leftover"))" \
        eval '[ -e "$T/leftover" ] && grep -qE "^[0-9]+ ls D$" "$T/leftover"'
    check process_reported "keel did not say it goes on without hm's process $hp" \
        grep_in "$(klog "warning: hm: its process $hp did not die within 1000 ms of SIGKILL")" "$ERR"
    kill -USR2 "$FUSE_PID"
    keel_wait 20 || fail "the test namespace did not end once the hung process could die"
}

test_standby_check_refusals() {
    plan upper_dir net_container start_first ready_fd accepted
    local up
    up=$(mk_layer up)
    manifest <<EOF
[container peer]
layers = $LAYERS/base
command = /bin/true

[container a]
layers = $LAYERS/base
command = /bin/true
upper = $up
standby = yes

[container b]
layers = $LAYERS/base
command = /bin/true
network = container:peer
standby = yes

[container c]
layers = $LAYERS/base
command = /bin/true
network = bridge
update = start-first
standby = yes

[container d]
layers = $LAYERS/base
command = /bin/true
ready = fd:3
standby = yes
EOF
    keel_check "$T/keel.ini"
    local f="$T/keel.ini"
    check upper_dir "no FILE:LINE refusal of standby with an upper directory" \
        grep_in "^$f:$(grep -n '^standby' "$f" | sed -n 1p | cut -d: -f1): container 'a': standby = yes is not possible with an upper directory" "$CHECK_ERR"
    check net_container "no FILE:LINE refusal of standby with network = container:NAME" \
        grep_in "^$f:$(grep -n '^standby' "$f" | sed -n 2p | cut -d: -f1): container 'b': standby = yes is not possible with network = container:NAME" "$CHECK_ERR"
    check start_first "no FILE:LINE refusal of standby with update = start-first" \
        grep_in "^$f:$(grep -n '^standby' "$f" | sed -n 3p | cut -d: -f1): container 'c': standby = yes is not possible with update = start-first" "$CHECK_ERR"
    check ready_fd "no FILE:LINE refusal of standby with ready = fd:N" \
        grep_in "^$f:$(grep -n '^standby' "$f" | sed -n 4p | cut -d: -f1): container 'd': standby = yes is not possible with ready = fd:N" "$CHECK_ERR"
    # The positive control: a plain standby container passes, and its plan
    # shows the wait just before keel's fds close.
    manifest "$T/ok.ini" <<EOF
[container e]
layers = $LAYERS/base
command = /bin/true
upper = tmpfs
standby = yes
EOF
    keel_check --plan "$T/ok.ini"
    check accepted "keel check refuses a plain standby container, or its plan lacks the wait: $(cat "$CHECK_ERR")" \
        eval '[ "$CRC" = 0 ] && grep -q "standby: wait for the release" "$CHECK_OUT"'
}

run_tests "$@"
