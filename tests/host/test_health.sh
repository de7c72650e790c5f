#!/bin/bash
# test_health.sh — issue 7's host tests: health checks, readiness-ordered
# start, start_timeout, configurable backoff and `keel restart` of a container
# that gave up, end to end against `keel run` (lib.sh runs it in fresh
# namespaces).
#
# Beyond lib.sh's conventions, these tests rely on keel's messages:
#   NAME: healthy / NAME: unhealthy: WHY (WHY is "exited with status N",
#   "timed out", "cannot start the check: ...", or the connect error of a
#   tcp:PORT check) / NAME: ready /
#   NAME: restarting (unhealthy) / NAME: restarting in N ms (restart K) /
#   NAME: failed: dependency D did not become healthy within N ms /
#   NAME: failed: gave up after N restarts
# on `keel status NAME` printing "health  STATE" and "state  STATE" lines, on
# `keel ps --json` giving each container's "state", "health", "ready" and
# "restarts", and on `keel events --json` streaming {"event":"health",
# "name":...,"detail":"healthy|unhealthy"}.  The control socket is put in $T
# ([system] control), where the host-side client reaches it.
#
# No timed assertions (docs/testing.md): what is checked is order and cause
# (A happened before B; a check ran past a point well inside its timeout; an
# answer came while a check still hung); every wait has a generous bound.
# The only timestamps compared are lower bounds that a slow machine can only
# satisfy more easily (a restart not sooner than its announced delay).
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) "$KEEL" "$@"; }

# health_system [STOP_TIMEOUT]: the [system] section with the control socket in $T.
health_system() {
    system_section "${1:-2}"
    echo "control = unix://$(SOCK)"
}

start_keel() {
    keel_start
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK) ($(tail -n 3 "$ERR" | tr '\n' ' '))"
}

# status_of NAME KEY: one value of `keel status NAME` ("health", "state", ...).
status_of() {
    kc status "$1" 2>/dev/null | awk -v k="$2" '$1 == k { print $2; exit }'
}

# status_is NAME KEY VALUE: predicate.
status_is() {
    local v
    v=$(status_of "$1" "$2")
    [ "$v" = "$3" ] && return 0
    WHY="keel status $1: $2 is '$v', expected '$3'"
    return 1
}

# ps_field NAME KEY: a field of NAME in `keel ps --json` (JSON-encoded: "x", true, 3).
ps_field() {
    kc ps --json 2>/dev/null | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(json.dumps(c.get(sys.argv[2])))' "$1" "$2"
}

ps_is() {
    local v
    v=$(ps_field "$1" "$2")
    [ "$v" = "$3" ] && return 0
    WHY="keel ps --json: $1.$2 is '$v', expected '$3'"
    return 1
}

# t_nth MESSAGE-ERE N: keel's timestamp of the N-th matching line (1-based).
t_nth() { klog_times "$1" | sed -n "${2}p"; }

# elapsed_in T1 T2 MIN MAX: MIN <= T2 - T1 <= MAX (seconds, decimals).
elapsed_in() {
    if [ -z "$1" ] || [ -z "$2" ]; then WHY="a timestamp is missing ('$1', '$2')"; return 1; fi
    awk -v a="$1" -v b="$2" -v lo="$3" -v hi="$4" 'BEGIN { d = b - a; exit !(d >= lo && d <= hi) }' && return 0
    WHY="$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }') s is not within [$3, $4] s"
    return 1
}

# ns_pids_cmdline STRING: pids of the test namespace's processes whose command
# line is STRING, one a line; ns_count_cmdline STRING: how many.
ns_pids_cmdline() {
    local p procdir
    procdir=$(nsproc)
    [ -n "$procdir" ] || return 0
    for p in "$procdir"/[0-9]*; do
        [ "$(tr '\0' ' ' 2>/dev/null < "$p/cmdline")" = "$1 " ] && echo "${p##*/}"
    done
}
ns_count_cmdline() {
    ns_pids_cmdline "$1" | wc -l
}

# A container's shell loop that exits at once on SIGTERM (PID 1 of a PID
# namespace ignores a signal it has no handler for).
LOOP="trap 'exit 0' TERM; while :; do sleep 0.1; done"

# ---------------------------------------------------------------------------------

# Health states and their reports: healthy, unhealthy (on_unhealthy = none
# keeps it running), healthy again; the console, keel status, keel ps --json
# and keel events all say so.  The sickness is switched from outside with
# keel exec, so it happens after the events stream is subscribed.
test_health_states() {
    plan healthy_logged status_healthy unhealthy_logged status_unhealthy ps_unhealthy not_restarted \
        healthy_again events_health
    manifest <<EOF
$(health_system)
[container svc]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "$LOOP"
health = /bin/sh -c "test ! -e /sick"
health_interval = 200ms
health_retries = 2
on_unhealthy = none
restart = no
EOF
    start_keel
    kc events --json > "$T/events.out" 2>&1 &
    local epid=$!
    check healthy_logged "svc never became healthy" wait_klog 'svc: healthy$'
    check status_healthy "keel status does not say healthy" status_is svc health healthy
    kc exec svc -- /bin/touch /sick > /dev/null 2>&1 || fail "keel exec svc touch /sick failed"
    check unhealthy_logged "svc did not become unhealthy when its check failed" \
        wait_klog 'svc: unhealthy: exited with status 1$'
    check status_unhealthy "keel status does not say unhealthy" status_is svc health unhealthy
    check ps_unhealthy "keel ps --json does not say unhealthy" ps_is svc health '"unhealthy"'
    check not_restarted "on_unhealthy = none restarted svc or stopped it" \
        eval 'status_is svc state running && [ "$(klog_count "svc: started")" = 1 ]'
    kc exec svc -- /bin/rm /sick > /dev/null 2>&1 || fail "keel exec svc rm /sick failed"
    check healthy_again "svc did not become healthy again" \
        wait_until $((10 * SLOW)) eval '[ "$(klog_count "svc: healthy$")" -ge 2 ]'
    check events_health "keel events did not report unhealthy then healthy" wait_until $((5 * SLOW)) eval \
        "grep -A100 '\"event\":\"health\",\"name\":\"svc\".*\"detail\":\"unhealthy\"' '$T/events.out' |
         grep -q '\"event\":\"health\",\"name\":\"svc\".*\"detail\":\"healthy\"'"
    kill "$epid" 2>/dev/null
    wait "$epid" 2>/dev/null
    keel_stop || fail "keel did not stop ($WHY)"
}

# A check whose command cannot start says why: the helper's report (here the
# failed execve) is the reason keel gives, not the bare exit status 127 it
# gave before; the control is a check that runs and fails with its status.
test_check_cannot_start() {
    plan reason_given runs_control
    manifest <<EOF
$(health_system)
[container svc]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "$LOOP"
health = /no/such/check
health_interval = 200ms
health_retries = 1
on_unhealthy = none
restart = no

[container ctl]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "$LOOP"
health = /bin/false
health_interval = 200ms
health_retries = 1
on_unhealthy = none
restart = no
EOF
    start_keel
    check reason_given "the check's failure to start was not explained" \
        wait_klog 'svc: unhealthy: cannot start the check: .*/no/such/check'
    check runs_control "a check that runs did not report its exit status" \
        wait_klog 'ctl: unhealthy: exited with status 1$'
    keel_stop || fail "keel did not stop ($WHY)"
}

# on_unhealthy = restart (the default): exactly health_retries failures make
# it unhealthy, it is reported unhealthy while it stops, then restarted, and
# healthy again.  The check counts its failures in a bind-mounted directory;
# the service is sick once (first run) and slow to stop (2 s in its TERM trap),
# which is the window where keel must report it unhealthy.
test_unhealthy_restart() {
    plan unhealthy_logged retries_counted restart_logged status_between ps_between restarted \
        healthy_again restarts_counted
    mkdir -p "$T/state"
    manifest <<EOF
$(health_system 6)
[container svc]
layers = $LAYERS/base
mount = $T/state:/mnt
command = /bin/sh -c "trap 'sleep 2; rm -f /mnt/sick; exit 0' TERM; echo run; if [ ! -e /mnt/once ]; then touch /mnt/once; sleep 1; touch /mnt/sick; echo sick; fi; while :; do sleep 0.1; done"
health = /bin/sh -c "if [ -e /mnt/sick ]; then echo x >> /mnt/fails; exit 1; fi"
health_interval = 200ms
health_retries = 3
restart = always
EOF
    start_keel
    check unhealthy_logged "svc did not become unhealthy" wait_klog 'svc: unhealthy: exited with status 1$'
    check status_between "keel status did not say unhealthy while svc was being restarted" \
        eval 'status_is svc health unhealthy && status_is svc state stopping'
    check ps_between "keel ps --json did not say unhealthy while svc was being restarted" \
        ps_is svc health '"unhealthy"'
    check restart_logged "no 'restarting (unhealthy)' after 'unhealthy'" \
        before "$(klog 'svc: unhealthy')" "$(klog 'svc: restarting \(unhealthy\)')" "$ERR"
    check restarted "svc was not started again" \
        wait_until $((10 * SLOW)) eval '[ "$(klog_count "svc: started")" -ge 2 ]'
    check healthy_again "svc did not become healthy after its restart" \
        wait_until $((10 * SLOW)) eval '[ "$(klog_count "svc: healthy$")" -ge 2 ]'
    check retries_counted "not exactly health_retries = 3 failed checks before the restart" \
        eq "$(wc -l 2>/dev/null < "$T/state/fails")" 3
    check restarts_counted "keel ps --json does not count the restart" ps_is svc restarts 1
    keel_stop 15 || fail "keel did not stop ($WHY)"
}

# health_start_period: failures during it do not count.  Both containers fail
# every check; quick becomes unhealthy after two checks, slow only once its
# 2 s start period is over, and is still "starting" when quick is unhealthy.
test_start_period() {
    plan quick_unhealthy slow_still_starting slow_after_period
    manifest <<EOF
$(health_system)
[container quick]
layers = $LAYERS/base
command = /bin/sh -c "$LOOP"
health = /bin/false
health_interval = 200ms
health_retries = 2
on_unhealthy = none

[container slow]
layers = $LAYERS/base
command = /bin/sh -c "$LOOP"
health = /bin/false
health_interval = 200ms
health_retries = 2
health_start_period = 2s
on_unhealthy = none
EOF
    start_keel
    check quick_unhealthy "quick never became unhealthy" wait_klog 'quick: unhealthy'
    # quick failed health_retries checks: slow, checked as often and failing
    # as much, must still be starting (its failures do not count yet).
    check slow_still_starting "slow left 'starting' within its start period" status_is slow health starting
    check slow_after_period "slow never became unhealthy once its start period was over, or before quick" \
        eval 'wait_klog "slow: unhealthy" && before "$(klog "quick: unhealthy")" "$(klog "slow: unhealthy")" "$ERR"'
    keel_stop || fail "keel did not stop ($WHY)"
}

# A check that hangs is killed at health_timeout and counts as a failure; the
# loop keeps answering meanwhile, and hung checks never pile up.  Each check
# notes in a bind-mounted directory that it began, and that it got 0.3 s in
# (a tenth of its 3 s timeout) before it hangs in /bin/sleep 100.
test_hanging_check() {
    plan timed_out timeout_honoured loop_answers no_pile_up no_zombies
    mkdir -p "$T/state"
    manifest <<EOF
$(health_system)
[container hang]
layers = $LAYERS/base
mount = $T/state:/mnt
command = /bin/sh -c "$LOOP"
health = /bin/sh -c "echo x >> /mnt/began; sleep 0.3; echo x >> /mnt/reached; exec /bin/sleep 100"
health_interval = 300ms
health_timeout = 3s
health_retries = 2
on_unhealthy = none
EOF
    start_keel
    wait_klog 'hang: started' || fail "hang did not start ($WHY)"
    # keel must answer while a check hangs: the same hung check (same pid)
    # is alive before and after the answer.  A check may end at its timeout
    # during a slow answer: try again, a few times.
    local i p answered=no
    for i in 1 2 3 4 5; do
        wait_until $((20 * SLOW)) eval '[ "$(ns_pids_cmdline "/bin/sleep 100" | wc -l)" -ge 1 ]' ||
            fail "no hung check ever ran ($WHY)"
        p=$(ns_pids_cmdline "/bin/sleep 100" | head -n 1)
        kc status hang > "$T/status.out" 2>&1 || continue
        grep -qE '^state +running' "$T/status.out" || continue
        if ns_pids_cmdline "/bin/sleep 100" | grep -qx "$p"; then answered=yes; break; fi
    done
    check loop_answers "keel status never answered while a check hung ($(head -n 1 "$T/status.out"))" eq "$answered" yes
    check timed_out "hang was not made unhealthy by timed-out checks" wait_klog 'hang: unhealthy: timed out$' 30
    # Not killed early: every check but the one in flight got past 0.3 s.
    local began reached
    began=$(wc -l < "$T/state/began" 2>/dev/null || echo 0)
    reached=$(wc -l < "$T/state/reached" 2>/dev/null || echo 0)
    check timeout_honoured "checks were killed before their 3 s timeout ($began began, $reached got 0.3 s in)" \
        eval '[ "$reached" -ge 2 ] && [ $((began - reached)) -le 1 ]'
    # Checks go on (on_unhealthy = none), one at a time: each killed at its
    # timeout.  Sampled over two checks' worth of time.
    local max=0 n
    for i in $(seq 70); do
        n=$(ns_pids_cmdline "/bin/sleep 100" | wc -l)
        [ "$n" -gt "$max" ] && max=$n
        sleep 0.1   # sampling interval, not synchronisation
    done
    check no_pile_up "$max hung checks alive at once (they are not killed at their timeout)" le "$max" 1
    check no_zombies "zombies left by killed checks" no_zombies
    keel_stop || fail "keel did not stop ($WHY)"
}

# tcp:PORT: a connect from the container's network namespace (network = none)
# or from keel's own (network = host).  web listens from 1 s to 3 s.
test_tcp_check() {
    plan tcp_healthy tcp_unhealthy tcp_host_net
    manifest <<EOF
$(health_system)
[container web]
layers = $LAYERS/base
network = none
command = /bin/sh -c "trap 'exit 0' TERM; sleep 1; /bin/probe listen tcp 8080 & p=\$!; sleep 2; kill \$p; echo listener-gone; while :; do sleep 0.1; done"
health = tcp:8080
health_interval = 200ms
health_retries = 2
health_start_period = 3s
on_unhealthy = none

[container hostweb]
layers = $LAYERS/base
network = host
command = /bin/probe trap TERM listen tcp 8081
health = tcp:8081
health_interval = 200ms
on_unhealthy = none
EOF
    start_keel
    check tcp_healthy "web did not become healthy once it listened" wait_klog "web: healthy$"
    # Cause and order: unhealthy with the refused connect, after healthy,
    # once web's listener is gone (web says so).
    check tcp_unhealthy "web did not become unhealthy (connection refused) after healthy once its listener was gone" eval \
        'wait_klog "web: unhealthy: Connection refused$" && wait_out web listener-gone &&
         before "$(klog "web: healthy$")" "$(klog "web: unhealthy: Connection refused$")" "$ERR"'
    check tcp_host_net "a tcp check of a host-network container did not pass" wait_klog 'hostweb: healthy$'
    keel_stop || fail "keel did not stop ($WHY)"
}

# depends = db:healthy: web starts only after db's check passes (db makes its
# check pass after 1.5 s; failures before do not count, start period 10 s).
test_depends_healthy() {
    plan web_waits web_after_healthy db_check_passed
    manifest <<EOF
$(health_system)
[container db]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "trap 'exit 0' TERM; sleep 1.5; touch /ok; echo db-ok; while :; do sleep 0.1; done"
health = /bin/sh -c "test -e /ok"
health_interval = 200ms
health_start_period = 10s

[container web]
layers = $LAYERS/base
command = /bin/probe trap TERM print web-up sleep inf
depends = db:healthy
EOF
    start_keel
    wait_klog 'db: started' || fail "db did not start ($WHY)"
    check web_waits "web is not waiting while db is not healthy yet" status_is web state waiting
    wait_out web web-up || fail "web never started ($WHY)"
    check web_after_healthy "web started before db was healthy" \
        before "$(klog 'db: healthy$')" "$(klog 'web: started')" "$ERR"
    # The cause of db's health: its check found /ok, which db made (db-ok).
    # db's line comes through a relay of its own: it may reach $OUT after
    # web's, so it is waited for, not read at once.
    check db_check_passed "db was healthy before it had made its check pass" wait_out db db-ok
    keel_stop || fail "keel did not stop ($WHY)"
}

# Readiness: ready = notify (sd_notify READY=1 on $NOTIFY_SOCKET, sent by the
# probe) and ready = fd:3 (a newline on fd 3) each gate a dependant (db:ready).
test_readiness() {
    plan notify_env notify_sent notify_ready notify_gates fd_ready fd_gates ps_ready
    manifest <<EOF
$(health_system)
[container ndb]
layers = $LAYERS/base
ready = notify
command = /bin/sh -c "sleep 1; exec /bin/probe trap TERM env notify sleep inf"

[container nweb]
layers = $LAYERS/base
command = /bin/probe trap TERM print nweb-up sleep inf
depends = ndb:ready

[container fdb]
layers = $LAYERS/base
ready = fd:3
command = /bin/sh -c "trap 'exit 0' TERM; sleep 1; echo >&3; while :; do sleep 0.1; done"

[container fweb]
layers = $LAYERS/base
command = /bin/probe trap TERM print fweb-up sleep inf
depends = fdb:ready
EOF
    start_keel
    wait_klog 'ndb: started' || fail "ndb did not start ($WHY)"
    check ps_ready "keel ps --json says ndb is ready before it said so" ps_is ndb ready false
    wait_out nweb nweb-up || fail "nweb never started ($WHY)"
    wait_out fweb fweb-up || fail "fweb never started ($WHY)"
    # ndb's lines come through a relay of their own and may reach $OUT after
    # nweb's: its last one (notify=, printed once READY=1 was sent) says
    # they all did.
    wait_key ndb notify 20 || fail "ndb's output did not all arrive ($WHY)"
    check notify_env "NOTIFY_SOCKET is not /dev/keel-notify in ndb" eq "$(c_value ndb env.NOTIFY_SOCKET)" /dev/keel-notify
    check notify_sent "the probe could not send READY=1" eq "$(c_value ndb notify)" ok
    check notify_ready "ndb was not marked ready after it started" \
        eval 'before "$(klog "ndb: started")" "$(klog "ndb: ready")" "$ERR" && ps_is ndb ready true' 
    check notify_gates "nweb started before ndb was ready" \
        before "$(klog 'ndb: ready')" "$(klog 'nweb: started')" "$ERR"
    check fd_ready "fdb was not marked ready after it started" \
        eval 'before "$(klog "fdb: started")" "$(klog "fdb: ready")" "$ERR" && ps_is fdb ready true' 
    check fd_gates "fweb started before fdb was ready" \
        before "$(klog 'fdb: ready')" "$(klog 'fweb: started')" "$ERR"
    keel_stop || fail "keel did not stop ($WHY)"
}

# start_timeout: a dependency that never becomes healthy fails the dependant
# with a clear message after start_timeout, instead of waiting forever.
test_start_timeout() {
    plan message in_time never_started status_failed ps_failure
    manifest <<EOF
$(health_system)
[container db]
layers = $LAYERS/base
command = /bin/sh -c "$LOOP"
health = /bin/false
health_interval = 200ms
health_start_period = 60s

[container web]
layers = $LAYERS/base
command = /bin/probe print web-up sleep inf
depends = db:healthy
start_timeout = 1s
EOF
    start_keel
    check message "no clear start_timeout message" \
        wait_klog 'error: web: failed: dependency db did not become healthy within 1000 ms$'
    # Its cause: the timeout, while db was still up and not healthy (not db
    # failing); the message's bound is wait_klog's.  A lower bound only:
    # not before start_timeout (a slow machine only makes it later).
    check in_time "the start_timeout fired before its 1 s, or because db went away" \
        eval 'status_is db state running && status_is db health starting &&
              [ "$(klog_count "db: (healthy|exited|stopped)")" = 0 ] &&
              elapsed_in "$(t_nth "stage: ready to start containers" 1)" "$(t_nth "error: web: failed: dependency" 1)" 0.9 1e9' 
    check never_started "web was started anyway" eval '[ "$(klog_count "web: started")" = 0 ]'
    check status_failed "keel status web does not say failed" status_is web state failed
    check ps_failure "keel ps --json has not the failure of web" \
        ps_is web failure '"dependency db did not become healthy within 1000 ms"'
    keel_stop || fail "keel did not stop ($WHY)"
}

# keel restart NAME brings back a container that gave up (restart =
# on-failure:1 exhausted): from state failed to running.
test_restart_gave_up() {
    plan gave_up status_failed restart_ok running_again
    mkdir -p "$T/state"
    manifest <<EOF
$(health_system)
[container c]
layers = $LAYERS/base
mount = $T/state:/mnt
command = /bin/sh -c "echo run; if [ -e /mnt/fixed ]; then exec /bin/probe trap TERM print fixed sleep inf; fi; exit 3"
restart = on-failure:1
restart_delay = 100ms

[container keep]
layers = $LAYERS/base
command = /bin/probe trap TERM sleep inf
EOF
    start_keel
    check gave_up "c did not give up after one restart" wait_klog 'error: c: failed: gave up after 1 restarts$'
    check status_failed "keel status c does not say failed" status_is c state failed
    touch "$T/state/fixed"
    local rc
    kc restart c > "$T/restart.out" 2>&1; rc=$?
    check restart_ok "keel restart c failed on a container that gave up: $(head -n 1 "$T/restart.out")" eq "$rc" 0
    check running_again "c is not running again after keel restart" \
        eval 'wait_out c fixed && status_is c state running'
    keel_stop || fail "keel did not stop ($WHY)"
}

# An unhealthy container is a failing one: its restarts back off like a
# crash's (50, then 100 ms), count against on-failure:MAX, and then it is
# failed (on_crashloop would apply) instead of being restarted forever.
test_unhealthy_gives_up() {
    plan unhealthy_backoff unhealthy_gave_up unhealthy_status_failed
    manifest <<EOF
$(health_system)
[container sick]
layers = $LAYERS/base
command = /bin/probe trap TERM sleep inf
health = /bin/false
health_interval = 100ms
health_retries = 1
restart = on-failure:2
restart_delay = 50ms

[container keep]
layers = $LAYERS/base
command = /bin/probe trap TERM sleep inf
EOF
    start_keel
    check unhealthy_gave_up "sick was not failed after two unhealthy restarts" \
        wait_klog 'error: sick: failed: gave up after 2 restarts$' 20
    local delays
    delays=$(sed -nE "s/$(klog 'sick: restarting in ([0-9]+) ms.*')/\1/p" "$ERR" | tr '\n' ' ')
    check unhealthy_backoff "the unhealthy restarts did not back off 50 then 100 ms" eq "$delays" "50 100 "
    check unhealthy_status_failed "keel status sick does not say failed" status_is sick state failed
    keel_stop || fail "keel did not stop ($WHY)"
}

# Backoff: restart_delay doubles up to restart_delay_max (crash: 300, 600,
# 1000, 1000 ms), and a run of at least restart_reset starts over (reset:
# runs of 0.6 s with restart_reset = 500ms always wait 300 ms).  The logged
# delays are exact; the gaps between starts are checked from below only (no
# restart sooner than announced): a loaded machine can only widen them.
test_backoff() {
    plan delays_logged gaps_doubling reset_logged reset_gaps
    manifest <<EOF
$(health_system)
[container crash]
layers = $LAYERS/base
command = /bin/false
restart = always
restart_delay = 300ms
restart_delay_max = 1s

[container reset]
layers = $LAYERS/base
command = /bin/sh -c "sleep 0.6; exit 1"
restart = always
restart_delay = 300ms
restart_delay_max = 10s
restart_reset = 500ms
EOF
    start_keel
    wait_until $((15 * SLOW)) eval '[ "$(klog_count "crash: started")" -ge 5 ] && [ "$(klog_count "reset: started")" -ge 4 ]' ||
        fail "not enough restarts within $((15 * SLOW)) s"
    local delays
    delays=$(sed -nE "s/$(klog 'crash: restarting in ([0-9]+) ms.*')/\1/p" "$ERR" | head -n 4 | tr '\n' ' ')
    check delays_logged "the backoff delays of crash are not 300 600 1000 1000" eq "$delays" "300 600 1000 1000 "
    local t k ok=1 why=""
    mapfile -t t < <(klog_times 'crash: started')
    local lo=(0.25 0.55 0.95 0.95)
    for k in 0 1 2 3; do
        if ! elapsed_in "${t[k]}" "${t[k + 1]}" "${lo[k]}" 1e9; then
            ok=0; why="$why gap $((k + 1)): $WHY;"
        fi
    done
    check gaps_doubling "a restart of crash came sooner than its announced delay:$why" eq "$ok" 1
    delays=$(sed -nE "s/$(klog 'reset: restarting in ([0-9]+) ms.*')/\1/p" "$ERR" | head -n 3 | tr '\n' ' ')
    check reset_logged "a run longer than restart_reset did not reset the delay" eq "$delays" "300 300 300 "
    mapfile -t t < <(klog_times 'reset: started')
    ok=1; why=""
    for k in 0 1 2; do
        elapsed_in "${t[k]}" "${t[k + 1]}" 0.85 1e9 || { ok=0; why="$why gap $((k + 1)): $WHY;"; }
    done
    check reset_gaps "a gap between reset's starts is shorter than 0.6 s run + 300 ms:$why" eq "$ok" 1
    keel_stop || fail "keel did not stop ($WHY)"
}

# BUG (supervise.c, health_result): a health result that arrives while the
# container is being stopped must not count.  Here the second check is in
# flight when `keel stop svc` comes, and fails because the service is going
# down (its TERM trap creates /term); with on_unhealthy = poweroff, keel
# powered the whole machine down for a container it was asked to stop.
test_stop_ignores_health() {
    plan stopped no_power_action keel_serves
    manifest <<EOF
$(health_system)
[container svc]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "trap 'touch /term; sleep 0.5; exit 0' TERM; while :; do sleep 0.1; done"
health = /bin/sh -c "$SLOW_CHECK"
health_interval = 100ms
health_timeout = 30s
health_retries = 1
on_unhealthy = poweroff

[container other]
layers = $LAYERS/base
command = /bin/probe trap TERM print other-up sleep inf
EOF
    start_keel
    wait_klog 'svc: healthy$' || fail "svc never became healthy ($WHY)"
    wait_until $((20 * SLOW)) eval '[ "$(ns_count_cmdline "/bin/sh -c $SLOW_CHECK")" -ge 1 ]' ||
        fail "the second check is not running"
    kc stop svc > /dev/null 2>&1
    check stopped "keel stop svc did not stop it" wait_klog 'svc: stopped$'
    # The check fails as soon as /term exists: keel must have seen its
    # result before no_power_action means anything.  When the check never
    # ends, the scenario never happened: that is a failure, not a pass.
    wait_until $((20 * SLOW)) eval '[ "$(ns_count_cmdline "/bin/sh -c $SLOW_CHECK")" = 0 ]' ||
        fail "the in-flight check did not end after svc's stop: the scenario did not happen"
    check no_power_action "a check failing during the stop of svc made keel power down" \
        no_grep_in "$(klog 'stopping all containers')" "$ERR"
    check keel_serves "keel is not serving any more after keel stop svc" \
        eval 'keel_running && status_is other state running'
    keel_stop || fail "keel did not stop ($WHY)"
}
# The positive control of test_stop_ignores_health: the same on_unhealthy =
# poweroff does power down (under keel run: every container stopped, keel
# exits) when a running container's check fails.  The effect is read from
# the process table and keel's exit, not from its messages.
test_unhealthy_poweroff_fires() {
    plan other_was_up powered_down
    manifest <<EOF
$(health_system)
[container svc]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "$LOOP"
health = /bin/sh -c "test ! -e /sick"
health_interval = 100ms
health_retries = 1
on_unhealthy = poweroff

[container other]
layers = $LAYERS/base
command = /bin/probe trap TERM print other-up sleep inf
EOF
    start_keel
    wait_klog 'svc: healthy$' || fail "svc never became healthy ($WHY)"
    wait_out other other-up || fail "other did not come up ($WHY)"
    check other_was_up "other was not running before the check failed" \
        eval '[ "$(ns_count_cmdline "/bin/probe trap TERM print other-up sleep inf")" = 1 ]'
    kc exec svc -- /bin/touch /sick > /dev/null 2>&1 || fail "keel exec svc touch /sick failed"
    check powered_down "a failing check with on_unhealthy = poweroff did not end keel run with status 0 and nothing left" \
        eval 'keel_wait $((20 * SLOW)) && [ "$KRC" = 0 ] && [ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
}

# The first check passes at once; every later one waits until the service's
# TERM trap has created /term, then fails.
SLOW_CHECK='test -e /first || { touch /first; exit 0; }; while [ ! -e /term ]; do sleep 0.05; done; exit 1'

# sd_notify READY=1 sent at once after exec (before keel may have seen the
# exec succeed) still marks the container ready.
test_notify_immediate() {
    manifest <<EOF
$(health_system)
[container ndb]
layers = $LAYERS/base
ready = notify
command = /bin/probe trap TERM notify sleep inf

[container nweb]
layers = $LAYERS/base
command = /bin/probe trap TERM print nweb-up sleep inf
depends = ndb:ready
EOF
    start_keel
    require "nweb did not start after ndb sent READY=1 at once" wait_out nweb nweb-up
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
