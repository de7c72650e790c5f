#!/bin/bash
# test_apply.sh — issue 18: `keel apply` and SIGHUP apply a new manifest to a
# running keel: the plan, removed containers stopped, changed ones restarted,
# new ones started, unchanged ones untouched (same PID), limits changed in
# place on the live cgroup, one apply at a time, root only, nothing changed
# by an invalid manifest.
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((30 * SLOW)) "$KEEL" "$@"; }

# The pid keel reports for container NAME (in keel's PID namespace), "" when none.
ps_pid() {
    kc ps --json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1] and c.get("pid"):
        print(c["pid"])' "$1"
}
ps_names() {
    kc ps --json | python3 -c '
import json, sys
print(",".join(sorted(c["name"] for c in json.load(sys.stdin))))'
}
# ps_names_4s: the same, empty when keel does not answer within 4 s.
ps_names_4s() {
    kc ps --timeout 4s --json 2>/dev/null | python3 -c '
import json, sys
print(",".join(sorted(c["name"] for c in json.load(sys.stdin))))' 2>/dev/null
}

# m1 / m2: the manifests before and after.  keep is unchanged; chg gets a new
# command; gone goes; new comes (after keep, which it depends on); lim gets a
# new restart policy and stop signal (in place).  Limits changed in place
# need cgroup controllers, which host tests cannot count on: the writes are
# unit-tested (tests/unit/test_cgroup.c, update_in_place).
m1() {
    cat <<EOF
$(system_section)
control = unix://$(SOCK)

[container keep]
layers = $LAYERS/base
command = /bin/probe trap TERM print keep-up sleep inf

[container chg]
layers = $LAYERS/base
command = /bin/probe trap TERM print chg-v1 sleep inf
depends = keep

[container gone]
layers = $LAYERS/base
command = /bin/probe trap TERM print gone-up sleep inf

[container lim]
layers = $LAYERS/base
command = /bin/probe trap INT print lim-up sleep inf
EOF
}
m2() {
    cat <<EOF
$(system_section)
control = unix://$(SOCK)

[container keep]
layers = $LAYERS/base
command = /bin/probe trap TERM print keep-up sleep inf

[container chg]
layers = $LAYERS/base
command = /bin/probe trap TERM print chg-v2 sleep inf
depends = keep

[container new]
layers = $LAYERS/base
command = /bin/probe trap TERM print new-up sleep inf
depends = keep

[container lim]
layers = $LAYERS/base
command = /bin/probe trap INT print lim-up sleep inf
restart = always
stop_signal = INT
EOF
}

start_m1() {
    m1 | manifest
    keel_start
    local c
    for c in keep gone lim; do
        wait_out "$c" "$c-up" || fail "container $c did not come up ($WHY)"
    done
    wait_out chg chg-v1 || fail "container chg did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
}

test_apply_live() {
    plan dry_run_plan dry_run_changes_nothing plan_in_reply same_pids policy_in_place removed_stopped \
         changed_restarted added_started apply_event
    start_m1
    local keep0 lim0 chg0 gone0
    keep0=$(ps_pid keep) lim0=$(ps_pid lim) chg0=$(ps_pid chg) gone0=$(ps_pid gone)
    [ -n "$keep0" ] && [ -n "$lim0" ] && [ -n "$chg0" ] && [ -n "$gone0" ] || fail "no pids in keel ps"
    m2 > "$T/m2.ini"

    kc apply --dry-run "$T/m2.ini" > "$T/dry.out" 2>&1 || fail "keel apply --dry-run failed: $(cat "$T/dry.out")"
    check dry_run_plan "the dry run's plan does not list every change" eval \
        "grep -qE '^restart +chg: command$' '$T/dry.out' && grep -qE '^add +new$' '$T/dry.out' &&
         grep -qE '^remove +gone$' '$T/dry.out' && grep -qE '^in place +lim: restart stop_signal$' '$T/dry.out' &&
         grep -qE '^keep +keep$' '$T/dry.out' && grep -q 'dry run: nothing was changed' '$T/dry.out'"
    check dry_run_changes_nothing "the dry run changed containers" eval \
        "[ '$(ps_names)' = chg,gone,keep,lim ] && [ '$(ps_pid gone)' = '$gone0' ] &&
         [ '$(ps_pid chg)' = '$chg0' ]"

    # Subscribed (keel's acknowledgement read) before the apply starts.
    SOCK=$(SOCK) timeout $((30 * SLOW)) python3 -u -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["SOCK"])
s.sendall(b"{\"keel\":1,\"op\":\"events\"}\n")
f = s.makefile("rb")
print("ack " + f.readline().decode().strip())
for line in f:
    print(line.decode().strip())' > "$T/events.out" 2>&1 &
    local evpid=$!
    wait_for '^ack .*"ok":true' "$T/events.out" || fail "cannot subscribe to events ($WHY)"
    kc apply "$T/m2.ini" > "$T/apply.out" 2>&1 || { kill "$evpid"; fail "keel apply failed: $(cat "$T/apply.out")"; }
    check plan_in_reply "keel apply did not print the plan and 'applied'" eval \
        "grep -qE '^remove +gone$' '$T/apply.out' && grep -qx applied '$T/apply.out'"
    wait_out new new-up || true
    wait_out chg chg-v2 || true
    check same_pids "an unchanged or in-place container was restarted" eval \
        "[ '$(ps_pid keep)' = '$keep0' ] && [ '$(ps_pid lim)' = '$lim0' ] && [ -d '$(nsproc)/$keep0' ]"
    # lim's new stop signal is in force: keel stop sends it SIGINT, which the
    # probe traps (the old one, SIGTERM, it ignores as its namespace's init).
    kc stop lim > /dev/null 2>&1
    wait_out lim 'trapped=SIGINT' || true
    check policy_in_place "lim did not get its new stop_signal (INT)" out_has lim 'trapped=SIGINT'
    check removed_stopped "gone is still listed or its process lives" eval \
        "[ '$(ps_names)' = chg,keep,lim,new ] && [ ! -d '$(nsproc)/$gone0' ]"
    local chg1
    chg1=$(ps_pid chg)
    check changed_restarted "chg was not restarted with its new command" eval \
        "[ -n '$chg1' ] && [ '$chg1' != '$chg0' ] && out_has chg chg-v2"
    check added_started "new did not start" eval "[ -n '$(ps_pid new)' ] && out_has new new-up"
    wait_for '"event":"apply"' "$T/events.out" || true
    kill "$evpid" 2>/dev/null
    check apply_event "no apply event with its outcome on keel events" grep_in '"event":"apply".*"detail":"applied"' \
        "$T/events.out"
    keel_stop || fail "keel did not stop ($WHY)"
}

test_apply_refusals() {
    plan invalid_refused invalid_changes_nothing non_root_refused busy_refused first_completes
    m1 | sed 's/^control = .*/&\ncontrol_group = staff/' | manifest
    keel_start
    wait_out gone gone-up || fail "gone did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local gone0
    gone0=$(ps_pid gone)
    # An unknown key: keel check's message with its line, nothing changed.
    { m2; printf 'no_such_key = 1\n'; } > "$T/bad.ini"
    kc apply "$T/bad.ini" > "$T/bad.out" 2>&1
    check invalid_refused "an invalid manifest was not refused with FILE:LINE" eval \
        "[ $? != 0 ] && grep -qE 'manifest:[0-9]+: .*no_such_key' '$T/bad.out'"
    check invalid_changes_nothing "the invalid manifest changed something" eval \
        "[ '$(ps_pid gone)' = '$gone0' ] && [ '$(ps_names)' = chg,gone,keep,lim ]"
    # A member of control_group may run ps (the positive control), not apply.
    m2 > "$T/m2.ini"
    KEEL_HOST="unix://$(SOCK)" setpriv --reuid=65534 --regid=65534 --groups=50 "$KEEL" ps > "$T/gm-ps.out" 2>&1
    KEEL_HOST="unix://$(SOCK)" setpriv --reuid=65534 --regid=65534 --groups=50 "$KEEL" apply "$T/m2.ini" \
        > "$T/gm.out" 2>&1
    check non_root_refused "a control_group member could apply (or could not even run ps)" eval \
        "grep -q '^gone ' '$T/gm-ps.out' && grep -q 'only root may apply' '$T/gm.out' && [ '$(ps_pid gone)' = '$gone0' ]"
    # A second apply while the first one waits for a container that ignores
    # its stop signal: refused; the first completes once that one is killed.
    cat > "$T/stubborn.ini" <<EOF
$(system_section)
control = unix://$(SOCK)
control_group = staff

[container keep]
layers = $LAYERS/base
command = /bin/probe ignore TERM print stubborn-up sleep inf
stop_timeout = 120s
EOF
    kc apply "$T/stubborn.ini" > "$T/s1.out" 2>&1 || fail "cannot apply stubborn.ini: $(cat "$T/s1.out")"
    wait_out keep stubborn-up || fail "the stubborn keep did not come up ($WHY)"
    kc apply "$T/m2.ini" > "$T/first.out" 2>&1 &
    local first=$!
    wait_until $((10 * SLOW)) eval '[ "$(klog_count "keep: stopping")" -ge 2 ]' ||
        fail "the first apply did not stop the stubborn keep"
    kc apply "$T/m2.ini" > "$T/second.out" 2>&1
    check busy_refused "a second apply during the first was not refused" eval \
        "[ $? != 0 ] && grep -q 'another apply is in progress' '$T/second.out'"
    kc kill -s KILL keep > /dev/null 2>&1 || fail "cannot kill the stubborn keep"
    wait "$first"
    wait_out new new-up || true   # the answer comes once the starts are under way
    check first_completes "the first apply did not complete" eval \
        "grep -qx applied '$T/first.out' && [ -n '$(ps_pid new)' ]"
    keel_stop || fail "keel did not stop ($WHY)"
}

test_sighup_applies() {
    plan hup_applied hup_invalid_ignored
    start_m1
    local keep0
    keep0=$(ps_pid keep)
    m2 | manifest
    keel_signal HUP || fail "cannot signal keel ($WHY)"
    wait_klog 'apply: applied' || fail "SIGHUP did not apply the manifest ($WHY)"
    wait_out new new-up || true
    check hup_applied "after SIGHUP: new did not start, gone did not go, or keep was restarted" eval \
        "[ '$(ps_names)' = chg,keep,lim,new ] && [ '$(ps_pid keep)' = '$keep0' ] && out_has new new-up"
    printf 'bogus line\n' >> "$T/keel.ini"
    keel_signal HUP || fail "cannot signal keel ($WHY)"
    local refused=no
    wait_klog 'error: apply: the manifest .* is not valid: nothing was changed' && refused=yes
    check hup_invalid_ignored "an invalid manifest on SIGHUP was not refused, or changed something" eval \
        "[ $refused = yes ] && [ '$(ps_names)' = chg,keep,lim,new ] && [ '$(ps_pid keep)' = '$keep0' ]"
    keel_stop || fail "keel did not stop ($WHY)"
}

ps_ip() {
    kc ps --json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(c.get("ip", ""))' "$1"
}
# GET / through the published port, from keel's network namespace.
get_web() {
    nsenter --net="/proc/$(nsinit_pid)/ns/net" curl -s --max-time 2 http://127.0.0.1:18080/ 2>/dev/null
}
net_manifest() {
    cat <<EOF
$(system_section)
control = unix://$(SOCK)

[container web]
layers = $LAYERS/base
upper = tmpfs
network = bridge
ports = 18080:80
command = /bin/sh -c "echo web-$1 > /tmp/index.html && exec httpd -f -p 80 -h /tmp"

[container peer]
layers = $LAYERS/base
network = bridge
command = /bin/probe trap TERM print peer-up sleep inf
EOF
    [ "$1" = v1 ] || printf '\n[container extra]\nlayers = %s\nnetwork = bridge\ncommand = /bin/probe trap TERM print extra-up sleep inf\n' "$LAYERS/base"
}

# Bridge containers: the apply moves the network slots to the new manifest.
# peer (unchanged) keeps its namespace and address; web (changed) gets its
# published port back on its new instance; extra (new) gets a free address.
test_apply_network() {
    plan port_before peer_kept port_moved extra_addressed
    command -v curl >/dev/null || fail "curl is missing"
    net_manifest v1 | manifest
    keel_start
    wait_out peer peer-up || fail "peer did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    wait_until $((10 * SLOW)) eval '[ "$(get_web)" = web-v1 ]'
    check port_before "the published port did not serve web-v1 before the apply" eq "$(get_web)" web-v1
    local peer_pid peer_ip web_ip
    peer_pid=$(ps_pid peer) peer_ip=$(ps_ip peer) web_ip=$(ps_ip web)
    net_manifest v2 > "$T/n2.ini"
    kc apply "$T/n2.ini" > "$T/apply.out" 2>&1 || fail "keel apply failed: $(cat "$T/apply.out")"
    wait_out extra extra-up || true
    check peer_kept "peer was restarted or lost its address" eval \
        "[ '$(ps_pid peer)' = '$peer_pid' ] && [ -n '$peer_ip' ] && [ '$(ps_ip peer)' = '$peer_ip' ] &&
         [ -e '$(nsproc)/$peer_pid' ]"
    wait_until $((10 * SLOW)) eval '[ "$(get_web)" = web-v2 ]'
    check port_moved "the published port did not serve the new web (web-v2)" eq "$(get_web)" web-v2
    local extra_ip
    extra_ip=$(ps_ip extra)
    check extra_addressed "extra has no address of its own (web $web_ip, peer $peer_ip)" eval \
        "[ -n '$extra_ip' ] && [ '$extra_ip' != '$peer_ip' ] && [ '$extra_ip' != '$(ps_ip web)' ]"
    keel_stop || fail "keel did not stop ($WHY)"
}

# One change at a time (gap 4): while keel stops (here: SIGTERM, a container
# that ignores it), an apply is refused as busy and changes nothing; the
# control: the same apply before the stop was taken.  (update and rollback
# take the same check: tests/unit/test_control.c server_update_refused_while_busy.)
test_apply_refused_while_stopping() {
    plan apply_before_stop busy_while_stopping
    cat > "$T/keel.ini" <<EOF
$(system_section 30)
control = unix://$(SOCK)

[container slow]
layers = $LAYERS/base
command = /bin/probe ignore TERM print slow-up sleep inf
EOF
    { cat "$T/keel.ini"; printf '\n[container extra]\nlayers = %s\ncommand = /bin/probe print extra-up sleep inf\n' \
        "$LAYERS/base"; } > "$T/more.ini"
    keel_start
    wait_out slow slow-up || fail "slow did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    kc apply --dry-run "$T/more.ini" > "$T/dry.out" 2>&1
    check apply_before_stop "before the stop, the apply's dry run was not taken: $(tr '\n' '|' < "$T/dry.out")" \
        grep_in '^add +extra$' "$T/dry.out"
    keel_signal TERM || fail "cannot signal keel ($WHY)"
    wait_klog 'slow: stopping' || fail "keel did not begin to stop ($WHY)"
    kc apply "$T/more.ini" > "$T/busy.out" 2>&1
    local rc=$?
    check busy_while_stopping "an apply during the stop was not refused as busy: $(tr '\n' '|' < "$T/busy.out")" eval \
        "[ $rc != 0 ] && grep -q 'busy: keel is stopping' '$T/busy.out' && ! out_has extra extra-up"
    kc kill -s KILL slow > /dev/null 2>&1
    keel_wait $((10 * SLOW)) || fail "keel did not exit after slow was killed"
}

# ---- a secret's or env_file's content changed at the same path (gap 2) ---------

test_apply_file_contents() {
    plan same_files_kept env_file_restarts secret_restarts
    printf 'tok-1\n' > "$T/token"
    printf 'GREETING=hello-1\n' > "$T/app.env"
    cat > "$T/keel.ini" <<EOF
$(system_section)
control = unix://$(SOCK)

[container app]
layers = $LAYERS/base
env_file = $T/app.env
secret = $T/token:/run/token
command = /bin/probe env read /run/token print app-up trap TERM sleep inf
EOF
    keel_start
    wait_out app app-up || fail "app did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local p0
    p0=$(ps_pid app)
    # The control: the same files, nothing to do, the same process.
    kc apply "$T/keel.ini" > "$T/a0.out" 2>&1
    check same_files_kept "unchanged files: not 'no changes', or app was restarted ($(tr '\n' '|' < "$T/a0.out"))" eval \
        "grep -qx 'no changes' '$T/a0.out' && [ '$(ps_pid app)' = '$p0' ]"
    printf 'GREETING=hello-2\n' > "$T/app.env"
    kc apply "$T/keel.ini" > "$T/a1.out" 2>&1
    wait_until $((10 * SLOW)) eval "out_has app env.GREETING=hello-2" || true
    check env_file_restarts "a changed env_file did not restart app with it ($(tr '\n' '|' < "$T/a1.out"))" eval \
        "grep -qE '^restart +app: env_file; env_file $T/app.env changed$' '$T/a1.out' && out_has app env.GREETING=hello-2"
    printf 'tok-2\n' > "$T/token"
    kc apply "$T/keel.ini" > "$T/a2.out" 2>&1
    wait_until $((10 * SLOW)) eval "out_has app 'data:/run/token=tok-2'" || true
    check secret_restarts "a changed secret did not restart app with it ($(tr '\n' '|' < "$T/a2.out"))" eval \
        "grep -qE '^restart +app: secret; secret $T/token changed$' '$T/a2.out' && out_has app 'data:/run/token=tok-2'"
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- a seccomp profile's content, and a secret on a [system] fstab file system ---
# The filter is compiled from the profile at the start: a new content at the
# same path must restart the container (its filter observed inside: mkdir
# refused).  A secret under an fstab target is not read when the manifest is
# (at boot the disk is not mounted yet): keel digests it once the file
# systems are there (under keel run at once; fstab itself is boot-only), so
# its change restarts the container too.  Before, apply compared only the
# profile's path and found both secrets' digests unknown: "no changes".

test_apply_profile_and_fstab_secret() {
    plan profile_restarts profile_filter_new fstab_secret_restarts
    mkdir -p "$T/data"
    printf 'tok-1\n' > "$T/data/token"
    printf 'default allow\n' > "$T/p.seccomp"
    cat > "$T/keel.ini" <<EOF
$(system_section)
fstab = none $T/data tmpfs
control = unix://$(SOCK)

[container app]
layers = $LAYERS/base
upper = tmpfs
seccomp = $T/p.seccomp
secret = $T/data/token:/run/token
command = /bin/probe mkdir /made read /run/token print app-up trap TERM sleep inf
EOF
    keel_start
    wait_out app app-up || fail "app did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    # The control: mkdir was allowed by the first profile.
    [ "$(c_value app mkdir:/made)" = ok ] || fail "mkdir under 'default allow' was not ok: $(c_value app mkdir:/made)"
    printf 'default allow\nerrno mkdir EPERM\nerrno mkdirat EPERM\n' > "$T/p.seccomp"
    kc apply "$T/keel.ini" > "$T/a1.out" 2>&1
    wait_until $((10 * SLOW)) eval "out_has app mkdir:/made=EPERM" || true
    check profile_restarts "a changed seccomp profile did not restart app ($(tr '\n' '|' < "$T/a1.out"))" \
        grep_in "^restart +app: seccomp; seccomp profile $T/p.seccomp changed$" "$T/a1.out"
    check profile_filter_new "app's restarted instance does not run the new filter (mkdir not refused)" \
        out_has app mkdir:/made=EPERM
    printf 'tok-2\n' > "$T/data/token"
    kc apply "$T/keel.ini" > "$T/a2.out" 2>&1
    wait_until $((10 * SLOW)) eval "out_has app 'data:/run/token=tok-2'" || true
    check fstab_secret_restarts "a changed secret on an fstab path did not restart app ($(tr '\n' '|' < "$T/a2.out"))" eval \
        "grep -qE '^restart +app: secret; secret $T/data/token changed$' '$T/a2.out' && out_has app 'data:/run/token=tok-2'"
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- a profile on an fstab file system that cannot be read ----------------
# The load leaves a profile on a [system] fstab file system to after the
# mounts (manifest_digest_mounted); when it cannot be read then, the start
# names the manifest's line, the profile and why, as the load does for any
# other profile.  Before, only "PATH was not read with the manifest".
#   keel run: a missing profile stops keel with "FILE:LINE: ... cannot read
#   seccomp profile P: No such file or directory".  keel apply: a new
#   container whose profile is a directory fails with "not a regular file",
#   in keel's log and keel ps.  Positive control: a profile that is there on
#   the same fstab path is read and its container runs.
test_profile_fstab_unreadable() {
    plan fstab_profile_missing fstab_profile_control fstab_profile_apply_log fstab_profile_ps
    mkdir -p "$T/data/dir.seccomp"
    printf 'default allow\n' > "$T/data/ok.seccomp"
    local head
    head="$(system_section)
control = unix://$(SOCK)
fstab = none $T/data tmpfs
"
    printf '%s\n[container app]\nlayers = %s\nseccomp = %s\ncommand = /bin/probe print app-up sleep inf\n' \
        "$head" "$LAYERS/base" "$T/data/missing.seccomp" > "$T/keel.ini"
    local line
    line=$(grep -n '^seccomp = ' "$T/keel.ini" | cut -d: -f1)
    keel_start
    keel_wait 20 || fail "keel did not exit without its profile ($WHY)"
    check fstab_profile_missing "keel run's error does not name the line, the profile and why: $(grep error "$ERR")" \
        grep_in "$(klog "error: $T/keel.ini:$line: cannot load seccomp filter of container app: cannot read seccomp profile $T/data/missing.seccomp: No such file or directory")" "$ERR"

    printf '%s\n[container app]\nlayers = %s\nseccomp = %s\ncommand = /bin/probe print app-up sleep inf\n' \
        "$head" "$LAYERS/base" "$T/data/ok.seccomp" > "$T/keel.ini"
    keel_start
    wait_out app app-up || fail "app did not come up with its profile on the fstab path ($WHY)"
    check fstab_profile_control "app does not run" out_has app app-up
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    printf '\n[container bad]\nlayers = %s\nseccomp = %s\ncommand = /bin/probe print bad-up sleep inf\n' \
        "$LAYERS/base" "$T/data/dir.seccomp" >> "$T/keel.ini"
    line=$(grep -n "^seccomp = $T/data/dir.seccomp" "$T/keel.ini" | cut -d: -f1)
    kc apply "$T/keel.ini" > "$T/a.out" 2>&1
    local why="manifest:$line: cannot load seccomp filter of container bad: cannot read seccomp profile $T/data/dir.seccomp: not a regular file"
    check fstab_profile_apply_log "keel's log does not say why bad failed: $(grep 'bad:' "$ERR")" \
        wait_klog "error: bad: failed: $why"
    check fstab_profile_ps "keel ps does not say why bad failed: $(kc ps --json)" \
        eval "kc ps --json | python3 -c 'import json, sys; sys.exit(0 if any(c[\"name\"] == \"bad\" and c.get(\"failure\") == sys.argv[1] for c in json.load(sys.stdin)) else 1)' \"\$why\""
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- the profile runs as read with the manifest, not as on disk at a start ---
# keel reads a seccomp profile once, with the manifest (bounded by the
# preflight at apply and SIGHUP), digests those bytes for apply's comparison
# and compiles the filter from the same bytes.  So a profile changed on disk
# without an apply changes nothing, even for an instance restarted after a
# crash; and a change made while an apply stops the old instance (app
# ignores SIGTERM: the test changes the file, then kills it) is not what the
# new instance runs: it runs what apply compared, and the next apply brings
# the later change.  mkdir tells the three profiles apart (ok, EPERM,
# EACCES).  Before, keel read the file again in its own process when it
# prepared the new instance, after the stop: the instance ran the text of
# that moment (EACCES), which no apply had compared.
app_kill() { kill -KILL "$(host_pid "$(started_pid app)")" 2>/dev/null; }
test_profile_as_loaded() {
    plan profile_first_allows profile_crash_restart_old profile_apply_as_compared profile_next_apply
    printf 'default allow\n' > "$T/p.seccomp"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container app]
layers = $LAYERS/base
upper = tmpfs
restart = always
restart_delay = 10ms
stop_timeout = 120s
seccomp = $T/p.seccomp
command = /bin/probe ignore TERM mkdir /made print app-up sleep inf
EOF
    keel_start
    wait_out app app-up || fail "app did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    check profile_first_allows "mkdir under 'default allow' was not ok" eq "$(c_value app mkdir:/made)" ok
    printf 'default allow\nerrno mkdir EPERM\nerrno mkdirat EPERM\n' > "$T/p.seccomp"
    ups() { c_lines app | grep -cx app-up; }
    app_kill
    wait_until $((10 * SLOW)) eval '[ "$(ups)" = 2 ]' || fail "app was not restarted after its crash ($(c_lines app | tr '\n' '|'))"
    # A new upper layer each start: /made is not there, mkdir reaches it or EPERM.
    check profile_crash_restart_old "the instance restarted after a crash runs the profile as changed on disk (mkdir: $(c_value app mkdir:/made))" \
        eq "$(c_value app mkdir:/made)" ok
    kc apply "$T/keel.ini" > "$T/a1.out" 2>&1 &
    local apid=$!
    wait_klog 'apply: 1 container to stop' || fail "the apply did not stop app ($WHY)"
    printf 'default allow\nerrno mkdir EACCES\nerrno mkdirat EACCES\n' > "$T/p.seccomp"
    app_kill
    wait_until $((10 * SLOW)) eval '[ "$(ups)" = 3 ]' || true
    wait_until $((10 * SLOW)) eval '! kill -0 $apid 2>/dev/null' || true
    check profile_apply_as_compared "the instance the apply started does not run the profile it compared (EPERM) ($(tr '\n' '|' < "$T/a1.out"); mkdir: $(c_value app mkdir:/made))" \
        eval "grep -qE '^restart +app: seccomp; seccomp profile $T/p.seccomp changed\$' '$T/a1.out' && [ '$(ups)' = 3 ] && out_has app mkdir:/made=EPERM && [ '$(c_value app mkdir:/made)' = EPERM ]"
    kc apply "$T/keel.ini" > "$T/a2.out" 2>&1 &
    apid=$!
    wait_until $((10 * SLOW)) eval '[ "$(klog_count "apply: 1 container to stop")" = 2 ]' || fail "the second apply did not stop app"
    app_kill
    wait_until $((10 * SLOW)) eval '[ "$(ups)" = 4 ]' || true
    wait_until $((10 * SLOW)) eval '! kill -0 $apid 2>/dev/null' || true
    check profile_next_apply "the next apply did not bring the later change ($(tr '\n' '|' < "$T/a2.out"); mkdir: $(c_value app mkdir:/made))" \
        eval "grep -qE '^restart +app: seccomp; seccomp profile $T/p.seccomp changed\$' '$T/a2.out' && [ '$(c_value app mkdir:/made)' = EACCES ]"
    # app ignores SIGTERM: killed until keel, stopping, no longer restarts it.
    keel_signal TERM || fail "cannot signal keel ($WHY)"
    wait_until $((20 * SLOW)) eval 'app_kill; keel_wait 1' || fail "keel did not stop"
}

# ---- networks (issue 18, gap 1) and /etc/hosts of kept containers (gap 3) -------

in_keel_ns() { nsenter --net="/proc/$(nsinit_pid)/ns/net" "$@"; }
# The IPv4 address of link $1 in keel's namespace ("" when it does not exist).
link_addr() { in_keel_ns ip -4 -o addr show dev "$1" 2>/dev/null | awk '{ print $4 }'; }
link_mac() { in_keel_ns ip -o link show dev "$1" 2>/dev/null | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p'; }
kexec() { kc exec "$1" -- "${@:2}" 2>&1; }
# /etc/hosts of the process $1 (keel's pid) as it sees it (from outside).
hosts_of() { cat "$(nsproc)/$1/root/etc/hosts" 2>/dev/null; }

ctr_section() {
    printf '\n[container %s]\nlayers = %s\nnetwork = bridge\n' "$1" "$LAYERS/base"
    [ -n "${2:-}" ] && printf 'bridge = %s\n' "$2"
    printf 'command = /bin/probe trap TERM print %s-up sleep inf\n' "$1"
}

# w1 / w2: lan1's subnet changes (made again: a restarts), lan2 is new (c),
# old goes (with r), keel0's host_ports change (rules only: h keeps running),
# h2 joins keel0 and hx leaves it (h's /etc/hosts follows).
net_m() {
    system_section
    printf 'control = unix://%s\n\n[network keel0]\n' "$(SOCK)"
    [ "$1" = 2 ] && printf 'host_ports = 17070\n'
    printf '\n[network lan1]\nsubnet = 10.77.%s.0/24\n' "$([ "$1" = 2 ] && echo 2 || echo 1)"
    if [ "$1" = 1 ]; then
        printf '\n[network old]\nsubnet = 10.77.9.0/24\n'
    else
        printf '\n[network lan2]\nsubnet = 10.77.3.0/24\n'
    fi
    ctr_section a lan1
    ctr_section h
    if [ "$1" = 1 ]; then
        ctr_section r old
        ctr_section hx
    else
        ctr_section c lan2
        ctr_section h2
    fi
}

test_apply_networks() {
    plan net_plan rules_before net_applied subnet_remade bridge_readdressed remade_works new_network \
         old_bridge_gone rules_in_place bridge_mac_kept kept_pid hosts_added hosts_removed foreign_link_refused
    net_m 1 | manifest
    keel_start
    local n
    for n in a h r hx; do wait_out "$n" "$n-up" || fail "container $n did not come up ($WHY)"; done
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local h0 hx_ip mac0
    h0=$(ps_pid h) hx_ip=$(ps_ip hx) mac0=$(link_mac keel0)
    hosts_of "$h0" | grep -qE "^$hx_ip[[:space:]]+hx\$" || fail "before the apply, h's /etc/hosts does not name hx"
    net_m 2 > "$T/w2.ini"
    kc apply --dry-run "$T/w2.ini" > "$T/dry.out" 2>&1 || fail "keel apply --dry-run failed: $(cat "$T/dry.out")"
    check net_plan "the plan does not list the network changes: $(tr '\n' '|' < "$T/dry.out")" eval \
        "grep -qE '^restart +network lan1: subnet \(made again' '$T/dry.out' &&
         grep -qE '^add +network lan2$' '$T/dry.out' && grep -qE '^remove +network old$' '$T/dry.out' &&
         grep -qE '^in place +network keel0: host_ports ' '$T/dry.out' &&
         grep -qE '^restart +a: network lan1 is made again \(subnet\)$' '$T/dry.out' && grep -qE '^keep +h$' '$T/dry.out'"
    # A listener on keel0's gateway port: closed to h before the apply (the
    # control: the machine itself reaches it).
    # nsenter itself in the background (it execs the probe): $! of the
    # function in_keel_ns would be a subshell, and killing it left the probe
    # listening after the test (two were found after a make check).
    nsenter --net="/proc/$(nsinit_pid)/ns/net" "$PROBE" listen tcp 17070 > "$T/listen.out" 2>&1 &
    local lpid=$!
    wait_for 'listening=tcp:17070' "$T/listen.out" || { kill "$lpid"; fail "the listener did not come up ($WHY)"; }
    local before self
    before=$(kexec h /bin/probe connect 172.30.0.1 17070)
    self=$(in_keel_ns "$PROBE" connect 172.30.0.1 17070)
    check rules_before "before the apply: h reached the gateway's port 17070, or the machine did not ($before; $self)" \
        eval "[[ '$self' == *=ok* ]] && [[ '$before' != *=ok* ]]"
    kc apply "$T/w2.ini" > "$T/apply.out" 2>&1
    check net_applied "keel apply of changed networks failed: $(tail -n 2 "$T/apply.out" | tr '\n' '|')" \
        grep_in '^applied$' "$T/apply.out"
    for n in a c h2; do wait_out "$n" "$n-up" || true; done
    wait_until $((10 * SLOW)) eval '[ "$(klog_count "a: started")" -ge 2 ]' || true
    local a_ip c_ip
    a_ip=$(ps_ip a) c_ip=$(ps_ip c)
    check subnet_remade "a did not restart into lan1's new subnet (ip $a_ip)" eval "[[ '$a_ip' == 10.77.2.* ]]"
    check bridge_readdressed "bridge lan1 does not have the new gateway" eq "$(link_addr lan1)" 10.77.2.1/24
    local ping
    ping=$(kexec a /bin/probe icmp 10.77.2.1)
    check remade_works "a cannot reach its new gateway ($ping)" eval "[[ '$ping' == *=ok* ]]"
    check new_network "c has no address of lan2, or bridge lan2 is missing (ip $c_ip, lan2 $(link_addr lan2))" eval \
        "[[ '$c_ip' == 10.77.3.* ]] && [ '$(link_addr lan2)' = 10.77.3.1/24 ]"
    check old_bridge_gone "the bridge of the removed network old is still there" eval \
        "! in_keel_ns ip link show old > /dev/null 2>&1"
    local after
    after=$(kexec h /bin/probe connect 172.30.0.1 17070)
    kill "$lpid" 2>/dev/null
    check rules_in_place "after the apply: h cannot reach the port host_ports opened ($after)" eval "[[ '$after' == *=ok* ]]"
    # Its ports came and went (hx, h2): a bridge whose address follows its
    # lowest port's leaves h's ARP entry for the gateway pointing nowhere.
    check bridge_mac_kept "keel0's MAC address changed when containers came and went (was '$mac0')" \
        eval "[ -n '$mac0' ] && [ '$(link_mac keel0)' = '$mac0' ]"
    check kept_pid "h (keel0 changed only its rules) was restarted" eq "$(ps_pid h)" "$h0"
    local h2_ip
    h2_ip=$(ps_ip h2)
    wait_until $((5 * SLOW)) eval "hosts_of $h0 | grep -qE '^$h2_ip[[:space:]]+h2\$'" || true
    check hosts_added "h's /etc/hosts does not name h2 ($h2_ip): $(hosts_of "$h0" | tr '\n' '|')" eval \
        "[ -n '$h2_ip' ] && hosts_of $h0 | grep -qE '^$h2_ip[[:space:]]+h2\$'"
    check hosts_removed "h's /etc/hosts still names hx ($hx_ip): $(hosts_of "$h0" | tr '\n' '|')" eval \
        "[ -n '$hx_ip' ] && ! hosts_of $h0 | grep -qE '[[:space:]]hx\$'"
    # A new network whose name is a link keel did not make: refused, nothing changes.
    in_keel_ns ip link add dum7 type bridge || fail "cannot add a link dum7"
    { net_m 2; printf '\n[network dum7]\nsubnet = 10.77.7.0/24\n'; ctr_section d dum7; } > "$T/w3.ini"
    kc apply "$T/w3.ini" > "$T/w3.out" 2>&1
    check foreign_link_refused "a network named like a link that is not keel's was not refused: $(tail -n 2 "$T/w3.out")" eval \
        "grep -q 'a link named dum7 exists and is not keel' '$T/w3.out' && [ '$(ps_names)' = a,c,h,h2 ]"
    keel_stop || fail "keel did not stop ($WHY)"
}

# A manual keel stop / keel start (no apply) of a bridge container: down
# for good it gives its address back, and its next start takes the lowest
# free one.  The others' /etc/hosts must follow: the name goes with the
# address (the next container started may get it), and comes back with the
# new one.  Before, only an apply rewrote them: w kept naming b at its old
# address, which a's next start then took.  An address is free once the
# child that forgets its flows is gone (docs/networking.md, "Address
# reuse"): until then a start passes over it.

# comm_pids NAME: the pids (of the test namespace) of keel's children named
# NAME: keel-ctforget forgets a released address's flows, keel-preflight
# makes the load's file checks (supervisor_preflight).
comm_pids() {
    local f d
    for f in "$(nsproc)"/[0-9]*/comm; do
        [ "$(cat "$f" 2>/dev/null)" = "$1" ] || continue
        d=${f%/comm}
        echo "${d##*/}"
    done
}
ps_state() {
    kc ps --json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(c.get("state", ""))' "$1"
}

test_hosts_after_stop_start() {
    plan readdressed hosts_drop_stopped hosts_new_address hosts_swapped
    local sub=10.79.$(( $$ % 200 ))
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[network n$$]
subnet = $sub.0/24
$(ctr_section a n$$)
$(ctr_section b n$$)
$(ctr_section w n$$)
EOF
    keel_start
    local n
    for n in a b w; do wait_out "$n" "$n-up" || fail "container $n did not come up ($WHY)"; done
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local w0 a0 b0 b1 a1
    w0=$(ps_pid w) a0=$(ps_ip a) b0=$(ps_ip b)
    hosts_of "$w0" | grep -qE "^$b0[[:space:]]+b\$" || fail "w's /etc/hosts does not name b ($b0) at first: $(hosts_of "$w0" | tr '\n' '|')"
    kc stop b > "$T/stop.out" 2>&1 || fail "keel stop b: $(cat "$T/stop.out")"
    wait_until 10 eval '[ "$(ps_state b)" = stopped ]' || fail "b did not stop"
    wait_until 10 eval '! hosts_of "$w0" | grep -qE "[[:space:]]b\$"'
    check hosts_drop_stopped "w's /etc/hosts still names b, stopped and without an address: $(hosts_of "$w0" | tr '\n' '|')" \
        eval '! hosts_of "$w0" | grep -qE "[[:space:]]b\$"'
    # a down too, then b again: b takes the lowest free address, a's.
    kc stop a > "$T/stop.out" 2>&1 || fail "keel stop a: $(cat "$T/stop.out")"
    wait_until 10 eval '[ "$(ps_state a)" = stopped ]' || fail "a did not stop"
    wait_until $((10 * SLOW)) eval '[ -z "$(comm_pids keel-ctforget)" ]' || fail "the release of a's address did not end: $(comm_pids keel-ctforget)"
    kc start b > "$T/start.out" 2>&1 || fail "keel start b: $(cat "$T/start.out")"
    wait_until 10 eval '[ "$(grep -c "^b | b-up$" "$OUT")" -ge 2 ]' || fail "b did not come up again ($WHY)"
    b1=$(ps_ip b)
    check readdressed "b did not get another address ($b0, then '$b1'; a had $a0): the test shows nothing" \
        eval '[ -n "$b1" ] && [ "$b1" != "$b0" ]'
    wait_until 10 eval 'hosts_of "$w0" | grep -qE "^$b1[[:space:]]+b\$"'
    check hosts_new_address "w's /etc/hosts does not name b at its new address $b1: $(hosts_of "$w0" | tr '\n' '|')" \
        eval 'hosts_of "$w0" | grep -qE "^$b1[[:space:]]+b\$" && ! hosts_of "$w0" | grep -qE "^$b0[[:space:]]"'
    kc start a > "$T/start.out" 2>&1 || fail "keel start a: $(cat "$T/start.out")"
    wait_until 10 eval '[ "$(grep -c "^a | a-up$" "$OUT")" -ge 2 ]' || fail "a did not come up again ($WHY)"
    a1=$(ps_ip a)
    wait_until 10 eval 'hosts_of "$w0" | grep -qE "^$a1[[:space:]]+a\$"'
    check hosts_swapped "w's /etc/hosts does not name a at $a1 and b at $b1: $(hosts_of "$w0" | tr '\n' '|')" \
        eval 'hosts_of "$w0" | grep -qE "^$a1[[:space:]]+a\$" && hosts_of "$w0" | grep -qE "^$b1[[:space:]]+b\$" &&
              [ "$(ps_pid w)" = "$w0" ]'
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- a manifest naming a path on a hung file system ------------------------------

# hung_m [EXTRA]: c restarts when it dies; fs binds a directory of the FUSE
# file system (lib.sh fuse_start); EXTRA: a container fs2 binding it too.
hung_m() {
    cat <<EOF
$(system_section)
control = unix://$(SOCK)

[container c]
layers = $LAYERS/base
command = /bin/probe trap TERM print c-up sleep inf
restart = always

[container fs]
layers = $LAYERS/base
command = /bin/probe trap TERM print fs-up sleep inf
mount = $T/fuse/d/d:/data
EOF
    [ -z "${1:-}" ] || printf '\n[container fs2]\nlayers = %s\ncommand = /bin/probe trap TERM print fs2-up sleep inf\nmount = %s\n' \
        "$LAYERS/base" "$T/fuse/d/d:/data"
}

# A path the manifest names on a file system whose server has stopped
# answering (a FUSE server holding the request: its caller sleeps
# uninterruptibly, SIGKILL or not).  keel apply and SIGHUP read such paths
# first in a child: past SUP_PREFLIGHT_S (5 s) the apply is refused with the
# cause, the child is killed and left to the reaper, and keel went on
# serving meanwhile: keel ps answers, a crashed container is restarted.
# Positive control: the same paths answering, the apply succeeds.  Before,
# keel itself stat()ed the path: the apply never answered, nor did anything
# else, for as long as the server kept silent.
test_apply_hung_path() {
    plan control_applied ps_during restarted_during refused_in_bound nothing_changed child_left_hung \
        hup_refused hup_nothing_changed capped children_reaped hup_after_release clean_stop
    local held c0 c1 apid arc=""
    mkdir -p "$T/fuse/d/d"
    hung_m | sed '/^\[container fs\]/,$d' | manifest
    keel_start
    wait_out c c-up || fail "c did not come up ($WHY)"
    wait_until 10 test -S "$(SOCK)" || fail "no control socket"
    fuse_start
    hung_m > "$T/m1.ini"
    kc apply "$T/m1.ini" > "$T/control.out" 2>&1
    wait_out fs fs-up || true
    check control_applied "the apply with the FUSE server answering did not succeed: $(tail -n 2 "$T/control.out" | tr '\n' '|')" \
        eval "grep -qx applied '$T/control.out' && [ '$(ps_names)' = c,fs ] && out_has fs fs-up"
    hung_m extra > "$T/m2.ini"
    held=$(fuse_held)
    c0=$(ps_pid c)
    kill -USR1 "$FUSE_PID"
    timeout $((30 * SLOW)) env KEEL_HOST="unix://$(SOCK)" "$KEEL" apply "$T/m2.ini" > "$T/apply.out" 2>&1 &
    apid=$!
    wait_until 10 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "the apply's check never reached the FUSE server"
    # While the apply waits (keel's bound is 5 s; the client waits for ever).
    local psn
    psn=$(kc ps --timeout 4s --json 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null)
    check ps_during "keel ps did not answer while the apply waited for the hung path (containers: '$psn', apply running: $(kill -0 $apid 2>/dev/null && echo yes || echo no))" \
        eval "[ '$psn' = 2 ] && kill -0 $apid 2>/dev/null"
    kill -KILL "$(host_pid "$c0")" 2>/dev/null
    wait_until 4 eval 'c1=$(ps_pid c); [ -n "$c1" ] && [ "$c1" != "$c0" ]'
    c1=$(ps_pid c)
    check restarted_during "c (pid $c0) was not restarted while the apply waited (pid now '$c1', apply running: $(kill -0 $apid 2>/dev/null && echo yes || echo no))" \
        eval "[ -n '$c1' ] && [ '$c1' != '$c0' ] && kill -0 $apid 2>/dev/null"
    wait_until 20 eval '! kill -0 $apid 2>/dev/null'
    wait "$apid"
    arc=$?
    check refused_in_bound "keel apply did not end refused with the cause within the bound (status $arc: $(tr '\n' '|' < "$T/apply.out"))" \
        eval "[ $arc = 1 ] && grep -qF 'cannot apply the manifest: the paths it names did not answer within 5 s (a hung network file system?): nothing was changed' '$T/apply.out'"
    [ "$arc" = 124 ] && fail "keel apply never answered: keel itself waits on the hung path"
    check nothing_changed "the refused apply changed the containers: $(ps_names)" eq "$(ps_names)" c,fs
    local pf
    pf=$(comm_pids keel-preflight)
    # It holds none of keel's fds (a client's socket, keel's output pipe...).
    check child_left_hung "the apply's preflight child is not there, killed, hung and holding no fd, beside a serving keel ('$pf': $(ls "$(nsproc)/${pf:-x}/fd" 2>&1 | tr '\n' ' '))" \
        eval "[ -n '$pf' ] && [ \$(wc -w <<< '$pf') = 1 ] && hung $pf && [ -z \"\$(ls '$(nsproc)/$pf/fd')\" ] && [ '$(ps_names)' = c,fs ]"
    # SIGHUP with the same manifest, the server holding its next request again.
    cp "$T/m2.ini" "$T/keel.ini"
    held=$(fuse_held)
    kill -USR1 "$FUSE_PID"
    keel_signal HUP || fail "cannot signal keel ($WHY)"
    wait_until 10 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "SIGHUP's check never reached the FUSE server"
    # The apply's refusal said it once already: the second line is SIGHUP's.
    local why='error: cannot apply the manifest: the paths it names did not answer within 5 s \(a hung network file system\?\): nothing was changed'
    wait_until 20 eval '[ "$(klog_count "$why")" = 2 ]'
    check hup_refused "SIGHUP was not refused with the cause (refusals logged: $(klog_count "$why"))" \
        eq "$(klog_count "$why")" 2
    check hup_nothing_changed "SIGHUP changed the containers ($(ps_names)) or left no child behind ($(comm_pids keel-preflight | wc -l))" \
        eval "[ '$(ps_names)' = c,fs ] && [ $(comm_pids keel-preflight | wc -l) = 2 ]"
    # Two applies more leave 4 children waiting (SUP_PREFLIGHT_STUCK_MAX);
    # the next apply is refused at once, no child forked, though the server
    # answers now (without the cap it would apply).
    local i
    for i in 3 4; do
        held=$(fuse_held)
        kill -USR1 "$FUSE_PID"
        kc apply "$T/m2.ini" > "$T/apply$i.out" 2>&1
        wait_until 10 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "apply $i's check never reached the FUSE server"
        grep -qF 'did not answer within 5 s' "$T/apply$i.out" || fail "apply $i was not refused as hung: $(cat "$T/apply$i.out")"
    done
    wait_until 10 eval '[ "$(comm_pids keel-preflight | wc -l)" = 4 ]'
    arc=0
    kc apply "$T/m2.ini" > "$T/apply5.out" 2>&1 || arc=$?
    check capped "the apply beyond 4 stuck children was not refused by the cap, or forked one more (status $arc: $(tr '\n' '|' < "$T/apply5.out"); children: $(comm_pids keel-preflight | wc -l))" \
        eval "[ $arc = 1 ] && grep -qF 'cannot apply the manifest: the checks of 4 earlier applies are still stuck' '$T/apply5.out' &&
              [ \$(comm_pids keel-preflight | wc -l) = 4 ] && [ '$(ps_names)' = c,fs ]"
    # The server answers: the killed children end and are reaped.
    kill -USR2 "$FUSE_PID"
    wait_until 20 eval '[ -z "$(comm_pids keel-preflight)" ]'
    check children_reaped "preflight children left once the server answered: $(comm_pids keel-preflight | tr '\n' ' ')" \
        eval '[ -z "$(comm_pids keel-preflight)" ] && no_zombies'
    keel_signal HUP || fail "cannot signal keel ($WHY)"
    wait_out fs2 fs2-up 20 || true
    check hup_after_release "SIGHUP once the server answers did not apply (the cap not lifted at the reaps?) ($(ps_names))" \
        eval "[ '$(ps_names)' = c,fs,fs2 ] && out_has fs2 fs2-up"
    keel_stop || fail "keel did not stop ($WHY)"
    check clean_stop "keel's stop failed (status $KRC) or left processes: $(tr '\n' ' ' < "$T/leftover" 2>/dev/null)" \
        eval '[ "$KRC" = 0 ] && [ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
}

# The bounded load without a loop (supervisor_load_bounded: boot, a slot's
# manifest at boot, `keel check`): the paths are read first in a child
# waited for at most 5 s; past it the child is killed and left, and the load
# fails with the cause.  `keel check` is the host-visible user of the same
# function (boot's is the VM's); `keel run`'s own start loads in place by
# design (docs/reliability.md).  Before, keel check sat in its own stat until
# the server answered.
test_start_hung_path() {
    plan start_gave_up start_exit_status start_child_left
    local held rc=0 out
    mkdir -p "$T/fuse/d/d"
    fuse_start host
    hung_m > "$T/keel.ini"
    held=$(fuse_held)
    kill -USR1 "$FUSE_PID"
    out=$(timeout $((30 * SLOW)) "$KEEL" check "$T/keel.ini" 2>&1 >/dev/null) || rc=$?
    wait_until 10 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "keel check never reached the FUSE server"
    check start_gave_up "keel check did not give up on the hung path with the cause within the bound: $out" \
        eval "printf '%s' \"\$out\" | grep -qF '$T/keel.ini: the paths it names did not answer within 5 s (a hung network file system?)'"
    check start_exit_status "keel check's status was $rc, not 2 (an invalid manifest's; 124: no bound)" eq "$rc" 2
    check start_child_left "no killed keel-preflight child waits on the hung path" \
        eval "ps -eo comm=,stat=,args= | grep -qE '^keel-preflight +D.* check $T/keel.ini\$'"
    fuse_stop
}

# The files the load leaves to after the fstab (a secret on an fstab
# file system: keel digests it once mounted, for keel apply) are read first
# in a child, waited for at most 5 s, as the load is: a server that has
# stopped answering holds the child, keel warns and goes on (the digest
# stays unknown: a later apply counts the file as changed).  keel run
# mounts no fstab but names the same files: the FUSE server here is held
# before keel starts.  Positive control: the other container, which names
# no such file, runs and keel ps answers.  Before, keel sat in its own open
# of the secret until the server answered.
test_digest_mounted_hung() {
    plan digest_gave_up digest_serving digest_child_left
    local held
    mkdir -p "$T/fuse/d"
    fuse_start host
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
fstab = none $T/fuse/d tmpfs

[container c]
layers = $LAYERS/base
command = /bin/probe print c-up sleep inf

[container s]
layers = $LAYERS/base
secret = $T/fuse/d/f:/run/token
command = /bin/probe read /run/token print s-up sleep inf
EOF
    held=$(fuse_held)
    kill -USR1 "$FUSE_PID"
    keel_start
    wait_until 10 eval '[ "$(fuse_held)" -gt "$held" ]' || fail "keel's digest never reached the FUSE server"
    wait_out c c-up $((20 * SLOW)) || true
    check digest_gave_up "keel did not give up on the hung fstab file within the bound" \
        grep -qE "$(klog 'warning: the files the manifest names on \[system\] fstab file systems and volumes did not answer within 5 s')" "$ERR"
    check digest_serving "keel does not serve after the bound: c not up, or keel ps lists '$(ps_names)'" \
        eval "out_has c c-up && [ '$(ps_names)' = c,s ]"
    check digest_child_left "no killed keel-preflight child waits on the hung file" \
        eval "ps -eo comm=,stat=,args= | grep -qE '^keel-preflight +D.*$T'"
    fuse_stop
    keel_stop || true
}

# A FIFO where the manifest names a file, written once: the preflight child
# reads it (the writer waits for a reader), then keel's own load opens it
# again and, no writer left, would wait in open(2) for ever: PID 1 answering
# nothing, reaping nothing.  Both reads must refuse it as "not a regular
# file" at once, and keel go on serving.
#
# apply_fifo_env_file: the env_file's directory is a container's rw bind
# mount; the container itself replaces the file with a FIFO and writes it
# once, then an administrator's apply names it.  Before, the apply never
# answered and keel ps timed out.
test_apply_fifo_env_file() {
    plan env_fifo_refused env_fifo_serving clean_stop
    mkdir -p "$T/shared"
    echo 'A=1' > "$T/shared/app.env"
    local arc=0
    fifo_m1 | manifest
    keel_start
    wait_out w fifo-made || fail "w did not make its FIFO ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    { fifo_m1; cat <<EOF

[container x]
layers = $LAYERS/base
env_file = $T/shared/app.env
command = /bin/probe trap TERM print x-up sleep inf
EOF
    } > "$T/m2.ini"
    KEEL_HOST="unix://$(SOCK)" timeout $((15 * SLOW)) "$KEEL" apply "$T/m2.ini" > "$T/apply.out" 2>&1 || arc=$?
    check env_fifo_refused "keel apply naming an env_file the container made a FIFO was not refused as not a regular file (status $arc: $(tr '\n' '|' < "$T/apply.out"))" \
        eval "[ $arc = 1 ] && grep -qF 'env_file: cannot read $T/shared/app.env: not a regular file' '$T/apply.out'"
    check env_fifo_serving "keel ps did not answer after the apply (PID 1 asleep in the FIFO's open?), or lists other than w: '$(ps_names 2>/dev/null)'" \
        eq "$(ps_names 2>/dev/null)" w
    [ "$arc" = 124 ] && fail "keel apply never answered: keel waits in the FIFO's open"
    keel_stop || fail "keel did not stop ($WHY)"
    check clean_stop "keel's stop failed (status $KRC) or left processes: $(tr '\n' ' ' < "$T/leftover" 2>/dev/null)" \
        eval '[ "$KRC" = 0 ] && [ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
}
fifo_m1() {
    cat <<EOF
$(system_section)
control = unix://$(SOCK)

[container w]
layers = $LAYERS/base
mount = $T/shared:/shared:rw
command = /bin/sh -c 'rm /shared/app.env && mkfifo /shared/app.env && echo fifo-made && echo A=2 > /shared/app.env; exec /bin/probe trap TERM sleep inf'
EOF
}

# hup_fifo_manifest: the manifest keel was started from, made a FIFO and
# written once, then SIGHUP.  Before, keel ps timed out after the signal.
test_hup_fifo_manifest() {
    plan hup_fifo_refused hup_fifo_serving clean_stop
    local wpid
    mkdir -p "$T/shared"
    echo 'A=1' > "$T/shared/app.env"
    fifo_m1 | sed 's/^command = .*/command = \/bin\/probe trap TERM print w-up sleep inf/' > "$T/m1.ini"
    cp "$T/m1.ini" "$T/keel.ini"
    keel_start
    wait_out w w-up || fail "w did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    rm -f "$T/keel.ini"
    mkfifo "$T/keel.ini"
    (cat "$T/m1.ini" > "$T/keel.ini") 2>/dev/null &
    wpid=$!
    keel_signal HUP || fail "cannot signal keel ($WHY)"
    wait_until $((10 * SLOW)) grep -qF "$T/keel.ini: not a regular file" "$ERR"
    check hup_fifo_refused "SIGHUP with the manifest a FIFO was not refused as not a regular file" \
        grep_in "$T/keel.ini: not a regular file" "$ERR"
    check hup_fifo_serving "keel ps did not answer after SIGHUP (PID 1 asleep in the FIFO's open?), or lists other than w: '$(ps_names 2>/dev/null)'" \
        eq "$(ps_names 2>/dev/null)" w
    kill "$wpid" 2>/dev/null
    wait "$wpid" 2>/dev/null
    keel_stop || fail "keel did not stop ($WHY)"
    check clean_stop "keel's stop failed (status $KRC) or left processes: $(tr '\n' ' ' < "$T/leftover" 2>/dev/null)" \
        eval '[ "$KRC" = 0 ] && [ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
}

run_tests "$@"
