#!/bin/bash
# test_session.sh — issue 13's isolation classes that go through keel itself:
# the controlling terminal, the fds of `keel exec`, the namespaces exec and
# health checks join, and the echo of container output to a terminal.
#
# `keel run` normally runs from an admin's SSH session or console: its
# controlling terminal is the admin's.  Here script(1) (util-linux) gives it a
# pty as its controlling terminal; the container's processes must not reach
# it.  The probe's `tty` subcommand prints what a process can do with a
# terminal (open /dev/tty, TIOCSTI into its fds); the same probe run in the
# same session before keel starts is the positive control.
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) "$KEEL" "$@"; }

have_script() {
    command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1
}

# keel_start_pty MODE: keel_start, with a pty made by script(1) as keel's
# controlling terminal and stdin of the session.  MODE file: keel's stdout goes
# to $OUT; MODE pty: keel's stdout is the pty (what a terminal shows is in
# $T/pty.out).  keel's stderr goes to $ERR.  Before keel, `probe tty` runs in
# the same session: $T/control.out.
keel_start_pty() {
    local m=$T/keel.ini redirect="" inner i=0 a b
    [ "$1" = file ] && redirect="> '$OUT'"
    : > "$OUT"
    : > "$ERR"
    rm -f "$T/leftover"
    KRC=""
    NSINIT=""
    inner="'$PROBE' tty > '$T/control.out' 2>&1; exec unshare --pid --mount --uts --ipc --net --fork --kill-child"
    inner="$inner --mount-proc --propagation private '$HOST_DIR/nsinit' '$T/leftover' '$KEEL' run '$m' $redirect 2> '$ERR'"
    env --default-signal SHELL=/bin/sh script -qefc "$inner" /dev/null > "$T/pty.out" 2>&1 < /dev/null &
    KPID=$!
    # lib.sh finds keel through nsinit: script -> sh, exec'd as unshare ->
    # nsinit (the child of unshare: a child of the shell still running the
    # probe has nsinit's path in its command line too).
    while [ -z "$NSINIT" ]; do
        for a in $(children "$KPID"); do
            tr '\0' ' ' < "/proc/$a/cmdline" 2>/dev/null | grep -q '^unshare ' || continue
            for b in $(children "$a"); do
                NSINIT=$b
            done
        done
        [ -n "$NSINIT" ] && break
        i=$((i + 1))
        [ "$i" -ge $((200 * SLOW)) ] && { WHY="nsinit never started under script"; return 1; }
        keel_running || { WHY="script exited: $(head -c 300 "$T/pty.out")"; return 1; }
        sleep 0.05
    done
}

# tty_value FILE KEY: KEY's value in probe output FILE (a pty's \r and the
# spaces TIOCSTI echoed removed).
tty_value() {
    tr -d '\r' < "$1" | sed 's/^ *//' | awk -v k="$2=" 'index($0, k) == 1 { v = substr($0, length(k) + 1) } END { print v }'
}

# no_terminal WHAT FILE: FILE (probe tty output) says: no /dev/tty, a session
# leader, no terminal fd, no TIOCSTI anywhere.
no_terminal() {
    local got
    got="$(tty_value "$2" tty.open) $(tty_value "$2" tty.sid_leader) $(tty_value "$2" tty.isatty) $(tty_value "$2" tty.tiocsti)"
    [ "$got" = "ENXIO 1 none none" ] && return 0
    WHY="$1: open /dev/tty, session leader, tty fds, TIOCSTI fds: '$got', expected 'ENXIO 1 none none'"
    return 1
}

# ---- item 1: the controlling terminal ------------------------------------------

test_controlling_terminal() {
    plan pty_control init_no_terminal health_no_terminal exec_no_terminal exec_stdin_tty_not_passed
    have_script || { echo "skip - controlling_terminal: script(1) from util-linux is missing"; return 0; }
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
command = /bin/probe tty print done sleep inf
upper = tmpfs
health = /bin/sh -c "exec /bin/probe tty > /health.out"
health_interval = 200ms
restart = no
EOF
    keel_start_pty file || fail "cannot start keel under a pty ($WHY)"
    wait_out c done || fail "c did not come up ($WHY)"
    # Positive control: the session keel ran in has the pty as its
    # controlling terminal, which a process of it can open and type into.
    check pty_control "a process of keel's session could not reach the pty (the test proves nothing)" \
        eq "$(tty_value "$T/control.out" tty.open) $(tty_value "$T/control.out" tty.tiocsti | grep -c .)" "ok 1"
    c_lines c > "$T/init.out"
    check init_no_terminal "the container's PID 1" no_terminal "PID 1" "$T/init.out"
    local root
    root="$(nsproc)/$(started_pid c)/root"
    # Every check rewrites the file: take a complete copy.
    health_copy() { cp "$root/health.out" "$T/health.out" 2>/dev/null && grep -q '^tty.tiocsti=' "$T/health.out"; }
    wait_until $((10 * SLOW)) health_copy
    check health_no_terminal "the health check" no_terminal "health check" "$T/health.out"
    kc exec c -- /bin/probe tty > "$T/exec.out" 2>&1 < /dev/null
    check exec_no_terminal "keel exec" no_terminal "keel exec" "$T/exec.out"
    # A client whose stdin, stdout and stderr are a terminal (its own pty):
    # none of them may reach the command.
    KEEL_HOST="unix://$(SOCK)" SHELL=/bin/sh timeout $((20 * SLOW)) \
        script -qec "'$KEEL' exec c -- /bin/probe tty" /dev/null > "$T/exec-tty.out" 2>&1 < /dev/null
    check exec_stdin_tty_not_passed "keel exec from a terminal" no_terminal "keel exec from a terminal" "$T/exec-tty.out"
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- item 2: keel exec never hands the client's fds to the container ------------

test_exec_client_fds() {
    plan dir_control exec_dir_stdin raw_fds_refused
    mkdir -p "$T/hostdir"
    echo host-secret > "$T/hostdir/marker"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
command = /bin/probe print done sleep inf
restart = no
EOF
    keel_start
    wait_out c done || fail "c did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    # Positive control: a directory on stdin is listable through /proc/self/fd/0/.
    "$PROBE" ls /proc/self/fd/0/ < "$T/hostdir" > "$T/control.out" 2>&1
    check dir_control "the probe cannot list a directory on its stdin (the test proves nothing)" \
        grep_in '=marker$' "$T/control.out"
    kc exec c -- /bin/probe ls /proc/self/fd/0/ < "$T/hostdir" > "$T/exec.out" 2>&1
    check exec_dir_stdin "keel exec handed the client's directory fd to the container: $(head -c 200 "$T/exec.out")" \
        eval "! grep -q marker '$T/exec.out' && grep -q '^ls:/proc/self/fd/0/=' '$T/exec.out'"
    # A client that passes fds itself (SCM_RIGHTS, as the old protocol did):
    # refused, and nothing of the directory reaches the container.
    HOSTDIR=$T/hostdir SOCK=$(SOCK) timeout $((20 * SLOW)) python3 -c '
import socket, os, json, base64
d = os.open(os.environ["HOSTDIR"], os.O_RDONLY | os.O_DIRECTORY)
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["SOCK"])
req = {"op": "exec", "name": "c", "argv": ["/bin/probe", "ls", "/proc/self/fd/0/"]}
socket.send_fds(s, [json.dumps(req).encode() + b"\n"], [d, 1, 2])
s.settimeout(10)
out = b""
try:
    for line in s.makefile("rb"):
        m = json.loads(line)
        if "stdout" in m: out += base64.b64decode(m["stdout"])
        print(json.dumps(m))
        if "exit" in m or m.get("ok") is False: break
except (OSError, ValueError) as e:
    print("closed", e)
print(out.decode(errors="replace"))
' > "$T/raw.out" 2>&1
    check raw_fds_refused "an exec request with fds was not refused: $(head -c 300 "$T/raw.out")" \
        eval "! grep -q marker '$T/raw.out' && grep -q '\"ok\": false' '$T/raw.out'"
    keel_stop || fail "keel did not stop ($WHY)"
}

# The exec helper (keel's child that joined the container's namespaces and
# waits for the command it forked into the PID namespace) holds no fd while
# the command runs: keel's own were closed before it joined, and what it
# kept for the inner process (the report pipe, the stub's memfd: it held the
# memfd until this test) it needs no more.  Control: keel itself holds fds,
# and the helper found is the command's parent.
exec_helper_of() { # KEEL_PID MARK: the pid of keel's child whose child runs MARK
    local h k
    for h in $(children "$1"); do
        for k in $(children "$h"); do
            tr '\0' ' ' < "/proc/$k/cmdline" 2>/dev/null | grep -qF -- "$2" && { echo "$h"; return 0; }
        done
    done
    return 1
}
test_exec_helper_holds_nothing() {
    plan helper_found keel_holds_fds helper_holds_no_fd
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
command = /bin/probe print done sleep inf
restart = no
EOF
    keel_start
    wait_out c done || fail "c did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    local kp helper mark="helper-mark-$$"
    kp=$(keel_pid)
    kc exec c -- /bin/probe print "$mark" sleep inf > "$T/exec.out" 2>&1 < /dev/null &
    local client=$!
    wait_until $((10 * SLOW)) exec_helper_of "$kp" "$mark" >/dev/null
    helper=$(exec_helper_of "$kp" "$mark")
    check helper_found "no child of keel ($kp) is the parent of the exec'd command" test -n "$helper"
    check keel_holds_fds "keel ($kp) holds no fd (the count proves nothing)" \
        test "$(ls "/proc/$kp/fd" 2>/dev/null | wc -l)" -gt 3
    check helper_holds_no_fd "the exec helper $helper holds fds: $(ls -l "/proc/$helper/fd" 2>/dev/null | tail -n +2 |
        awk '{print $(NF-2), $(NF-1), $NF}' | tr '\n' ' ')" test "$(ls "/proc/$helper/fd" 2>/dev/null | wc -l)" -eq 0
    kill "$client" 2>/dev/null
    wait "$client" 2>/dev/null
    keel_stop || fail "keel did not stop ($WHY)"
}

# The exec'd process is non-dumpable until its execve: a process already in
# the container cannot follow /proc/PID/fd/N of it meanwhile (listing the
# directory is allowed to its owner, root; following a link needs ptrace
# access, which a non-dumpable process denies without CAP_SYS_PTRACE).  The image holds the
# process there: /etc/passwd, which exec reads to resolve the user, is a FIFO
# that the container's init writes only after it looked at the waiting
# process.  Positive control: the same look at the command after its execve
# succeeds.
test_exec_nondumpable_window() {
    plan window_seen window_fds_denied after_exec_fds_readable
    local L
    L=$(mk_layer watch)
    cat > "$L/watch.sh" <<'EOF'
# The exec helper before its execve is a fork of keel: its cmdline is keel's.
# (The patterns' [x] keep the grep from matching its own command line.)
cp /etc/passwd /passwd.real
rm /etc/passwd
mkfifo /etc/passwd
echo armed
i=0
while [ $i -lt 3000 ]; do
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q ' ru[n] .*keel\.in[i]'; then
            echo "window pid=$p"
            if readlink /proc/$p/fd/0 >/dev/null 2>&1; then echo "window_fds=readable"; else echo "window_fds=denied"; fi
            cat /passwd.real > /etc/passwd
            rm /etc/passwd
            cp /passwd.real /etc/passwd
            i=100000
            break
        fi
    done
    i=$((i + 1))
    sleep 0.01
done
j=0
while [ $j -lt 3000 ]; do
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q 'after-exec-marke[r]'; then
            if readlink /proc/$p/fd/0 >/dev/null 2>&1; then echo "after_fds=readable"; else echo "after_fds=denied"; fi
            j=100000
            break
        fi
    done
    j=$((j + 1))
    sleep 0.01
done
echo watched
exec sleep 1000
EOF
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $L:$LAYERS/base
command = /bin/sh /watch.sh
upper = tmpfs
restart = no
EOF
    keel_start
    wait_out c armed || fail "c did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    kc exec c -- /bin/probe print after-exec-marker sleep 2 > "$T/exec.out" 2>&1 < /dev/null &
    local client=$!
    wait_out c watched 40 || fail "the watcher did not finish ($WHY)"
    check window_seen "the container never saw the exec helper before its execve" \
        grep_in '\| ?window pid=' "$OUT"
    check window_fds_denied "a process of the container read /proc/PID/fd of the exec helper before its execve" \
        eq "$(c_value c window_fds)" denied
    check after_exec_fds_readable "positive control: the container could not read /proc/PID/fd of the exec'd command" \
        eq "$(c_value c after_fds)" readable
    wait "$client"
    keel_stop || fail "keel did not stop ($WHY)"
}
# exec_pid PROCDIR MARKER: the pid (a name in PROCDIR, the container's /proc
# as the host sees it) of the process exec'd as `probe ... print MARKER ...`;
# empty when none shows up within ~5 s.
exec_pid() {
    local procdir=$1 marker=$2 p i=0
    while [ "$i" -lt 100 ]; do
        for p in "$procdir"/[0-9]*; do
            tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF "print $marker " && { echo "${p##*/}"; return 0; }
        done
        i=$((i + 1))
        sleep 0.05
    done
}


# ---- lower item: exec joins the namespaces the container was started in --------

# A container with CAP_SYS_ADMIN puts a /proc of its own over /proc (a plain
# file at self/oom_score_adj), then moves its PID 1 into a new mount and UTS
# namespace (busybox unshare, without a fork) where the host name and a tmpfs
# are its choice.  An exec must not follow: it joins the namespaces pinned at
# the start, and its oom_score_adj is written through keel's /proc (inside,
# the write would land in the container's file and leave keel's value).
# Positive control: PID 1 did swap (it prints the new host name).
# pinned_ns_run PREFIX EXTRA-KEYS COMMAND: the scenario, for a container with
# EXTRA-KEYS whose COMMAND swaps (and prints swap=HOSTNAME); its results are
# named PREFIX + init_swapped, exec_uts_pinned, exec_mnt_pinned,
# exec_oom_score_adj.
pinned_ns_run() {
    local pfx=$1
    shift
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
upper = tmpfs
hostname = orig-host
capabilities = +CAP_SYS_ADMIN
oom_score_adj = 300
$1
command = $2
restart = no
EOF
    keel_start
    wait_key c swap || fail "c did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    check "${pfx}init_swapped" "positive control: PID 1 did not move to a UTS namespace of its own" eq "$(c_value c swap)" swapped
    local marker=pinned-ns-$$ client pid="" procdir
    kc exec c -- /bin/probe hostname ls /swapdir print "$marker" sleep 30 > "$T/exec.out" 2>&1 < /dev/null &
    client=$!
    wait_for "^$marker\$" "$T/exec.out" 20 || fail "the exec did not run ($WHY; $(head -c 300 "$T/exec.out"))"
    procdir=$(nsproc)
    pid=$(exec_pid "$procdir" "$marker")
    check "${pfx}exec_uts_pinned" "exec joined the UTS namespace PID 1 moved to" \
        eq "$(grep '^hostname=' "$T/exec.out")" hostname=orig-host
    check "${pfx}exec_mnt_pinned" "exec joined the mount namespace PID 1 moved to" \
        eq "$(grep '^ls:/swapdir=' "$T/exec.out")" "ls:/swapdir="
    check "${pfx}exec_oom_score_adj" "the exec'd command's oom_score_adj (seen from outside) is not the manifest's" \
        eq "$(cat "$procdir/$pid/oom_score_adj" 2>/dev/null)" 300
    kill "$client" 2>/dev/null
    wait "$client" 2>/dev/null
    keel_stop || fail "keel did not stop ($WHY)"
}

test_exec_pinned_namespaces() {
    plan init_swapped exec_uts_pinned exec_mnt_pinned exec_oom_score_adj
    pinned_ns_run "" "" "/bin/sh -c \"mkdir -p /fake/self /swapdir && echo 0 > /fake/self/oom_score_adj && mount --bind /fake /proc && exec /bin/unshare -m -u /bin/sh -c 'hostname swapped && mount -t tmpfs swap /swapdir && touch /swapdir/swapped-marker && echo swap=\$(hostname); exec sleep 1000'\""
}

# The same in a user namespace: CAP_SYS_ADMIN there does not reach the
# namespaces keel made (owned by the initial user namespace), but it does let
# PID 1 unshare new ones, owned by its own, and mount its /proc there.
test_exec_pinned_namespaces_userns() {
    plan userns_init_swapped userns_exec_uts_pinned userns_exec_mnt_pinned userns_exec_oom_score_adj
    pinned_ns_run userns_ "userns = auto" "/bin/unshare -m -u /bin/sh -c \"mkdir -p /fake/self /swapdir && echo 0 > /fake/self/oom_score_adj && mount --bind /fake /proc && hostname swapped && mount -t tmpfs swap /swapdir && touch /swapdir/swapped-marker && echo swap=\$(hostname); exec sleep 1000\""
}

# ---- lower item: container output echoed to a terminal ----------------------------

# bytes_layer: a layer whose /bytes is one line of what a terminal obeys
# (CSI, OSC with BEL, a C1 byte, DEL, a tab); ESCAPED_BYTES: that line as
# keel shows it on a terminal.
bytes_layer() {
    local L
    L=$(mk_layer bytes)
    printf 'esc:\033[31mred\033[0m title:\033]0;pwned\007 c1:\302\233x del:\177 tab:\tend\n' > "$L/bytes"
    echo "$L"
}
ESCAPED_BYTES='esc:\x1b[31mred\x1b[0m title:\x1b]0;pwned\x07 c1:\xc2\x9bx del:\x7f tab:'$'\t''end'

# keel run's stdout is a terminal (script(1)'s pty): a container's escape
# sequences and other control bytes reach it as visible \xNN escapes, never
# raw; the log file keeps every byte.
test_echo_to_terminal_escaped() {
    plan echo_reached_terminal echo_escaped log_keeps_bytes
    have_script || { echo "skip - echo_to_terminal_escaped: script(1) from util-linux is missing"; return 0; }
    local L
    L=$(bytes_layer)
    manifest <<EOF
$(system_section)
[container c]
layers = $L:$LAYERS/base
command = /bin/sh -c "cat /bytes; echo done; exec sleep 1000"
restart = no
EOF
    keel_start_pty pty || fail "cannot start keel under a pty ($WHY)"
    wait_for '^ *c \| done' "$T/pty.out" || fail "c did not come up ($WHY)"
    keel_stop || fail "keel did not stop ($WHY)"
    check echo_reached_terminal "the container's line never reached the terminal" grep_in '^ *c \| esc:' "$T/pty.out"
    # The terminal saw the escapes as text, and no ESC, BEL, DEL or C1 byte at all.
    local want="c | $ESCAPED_BYTES"
    check echo_escaped "control bytes reached the terminal raw: $(grep -a 'c | esc:' "$T/pty.out" | od -c | head -n 4 | tr '\n' ' ')" \
        eval 'grep -qF -- "$want" "$T/pty.out" && ! LC_ALL=C grep -q $'"'"'[\x1b\x07\x7f\x9b]'"'"' "$T/pty.out"'
    check log_keeps_bytes "the log file did not keep the container's bytes" \
        eval 'LC_ALL=C grep -qF -- "$(cat "$L/bytes")" "$T/log/c.log"'
}

# `keel logs` into a terminal escapes what keel run's echo escapes (a
# container's log reaches the admin's screen that way too); into a file it
# gives the bytes as logged (the positive control that the bytes were there).
test_logs_to_terminal_escaped() {
    plan logs_reached_terminal logs_escaped logs_raw_to_file
    have_script || { echo "skip - logs_to_terminal_escaped: script(1) from util-linux is missing"; return 0; }
    local L
    L=$(bytes_layer)
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $L:$LAYERS/base
command = /bin/sh -c "cat /bytes; echo done; exec sleep 1000"
restart = no
EOF
    keel_start || fail "cannot start keel ($WHY)"
    wait_out c done || fail "c did not come up ($WHY)"
    KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) script -qec "'$KEEL' logs c" /dev/null > "$T/logs-tty.out" 2>&1 < /dev/null
    kc logs c > "$T/logs-file.out" 2>&1 < /dev/null
    keel_stop || fail "keel did not stop ($WHY)"
    check logs_reached_terminal "keel logs printed nothing to the terminal: $(head -c 200 "$T/logs-tty.out")" \
        grep_in 'esc:' "$T/logs-tty.out"
    local want=$ESCAPED_BYTES
    check logs_escaped "control bytes reached the terminal raw: $(grep -a 'esc:' "$T/logs-tty.out" | od -c | head -n 4 | tr '\n' ' ')" \
        eval 'grep -qF -- "$want" "$T/logs-tty.out" && ! LC_ALL=C grep -q $'"'"'[\x1b\x07\x7f\x9b]'"'"' "$T/logs-tty.out"'
    check logs_raw_to_file "keel logs into a file did not give the logged bytes" \
        eval 'LC_ALL=C grep -qF -- "$(cat "$L/bytes")" "$T/logs-file.out"'
}

# ---- exec's failure path: the setup list's one error path ------------------------

# An exec helper that cannot take a step (here: the container removed its
# workdir) or cannot execve says why, as a container's start does
# (setup_fail: "keel: error: cannot ...", exit 126 for a step, 127 for the
# execve); the same exec into an identical container that kept its workdir
# runs (the positive control).
test_exec_step_failure() {
    plan exec_control exec_step_fails exec_execve_fails
    local L rc
    L=$(mk_layer wd)
    mkdir -p "$L/w"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container keep]
layers = $L:$LAYERS/base
upper = tmpfs
workdir = /w
command = /bin/sh -c "echo up; exec sleep 1000"
restart = no
[container gone]
layers = $L:$LAYERS/base
upper = tmpfs
workdir = /w
command = /bin/sh -c "cd / && rmdir /w && echo up; exec sleep 1000"
restart = no
EOF
    keel_start || fail "cannot start keel ($WHY)"
    wait_out keep up || fail "keep did not come up ($WHY)"
    wait_out gone up || fail "gone did not come up ($WHY)"
    kc exec keep -- /bin/probe print in-workdir > "$T/keep.out" 2> "$T/keep.err" < /dev/null
    rc=$?
    check exec_control "an exec into the container with its workdir did not run (status $rc): $(head -c 300 "$T/keep.err")" \
        eval "[ $rc = 0 ] && grep -q '^in-workdir\$' '$T/keep.out'"
    kc exec gone -- /bin/probe print in-workdir > "$T/gone.out" 2> "$T/gone.err" < /dev/null
    rc=$?
    check exec_step_fails "an exec whose workdir is gone: status $rc, stderr '$(head -c 300 "$T/gone.err")'" \
        eval "[ $rc = 126 ] && grep -q '^keel: error: cannot enter workdir /w: No such file or directory\$' '$T/gone.err' &&
              ! grep -q in-workdir '$T/gone.out'"
    kc exec keep -- /nonexistent > "$T/none.out" 2> "$T/none.err" < /dev/null
    rc=$?
    check exec_execve_fails "an exec of a missing command: status $rc, stderr '$(head -c 300 "$T/none.err")'" \
        eval "[ $rc = 127 ] && grep -q '^keel: error: cannot execute /nonexistent: No such file or directory\$' '$T/none.err'"
    keel_stop || fail "keel did not stop ($WHY)"
}

# keel exec joins a container's network namespace by the fd keel pinned at
# its start, never by the pin path /run/keel/netns/NAME: that path is for
# operators (nsenter --net=PATH, docs/networking.md), and keel reads it
# nowhere (exec, health checks and restarts use fds; issue 17 weighed making
# the bind optional).  With the pin unmounted and removed from outside, an
# exec into a none container is still in the container's namespace, not in
# keel's.  Positive controls: the pin was the container's namespace, and
# that namespace is not keel's.
test_exec_netns_without_pin() {
    plan pin_is_containers netns_not_keels pin_removed exec_in_container_netns
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
network = none
command = /bin/probe print ready sleep inf
stop_signal = SIGKILL
restart = no
EOF
    keel_start
    wait_out c ready || fail "c did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    local s kp cp cnet pin marker=netns-exec-$$ client pid="" procdir
    s=$(nsinit_pid)
    kp=$(keel_pid)
    cp=$(started_pid c)
    procdir=$(nsproc)
    cnet=$(readlink "$procdir/$cp/ns/net")
    pin=/proc/$s/root/run/keel/netns/c
    check pin_is_containers "the pin $(stat -L -c %i "$pin" 2>&1) is not c's namespace $cnet" \
        eq "net:[$(stat -L -c %i "$pin" 2>/dev/null)]" "$cnet"
    check netns_not_keels "c's network namespace is keel's ($cnet)" ne "$cnet" "$(readlink "/proc/$kp/ns/net")"
    # In the namespace's PID namespace too: umount reads /proc/self there.
    nsenter --target "$s" --mount --pid sh -c 'umount -l /run/keel/netns/c && rm /run/keel/netns/c' > "$T/unpin.out" 2>&1
    check pin_removed "the pin is still there ($(cat "$T/unpin.out"))" eval "[ ! -e '$pin' ] && ! grep -q ' /run/keel/netns/c ' /proc/$s/mountinfo"
    kc exec c -- /bin/probe print "$marker" sleep 30 > "$T/exec.out" 2>&1 < /dev/null &
    client=$!
    wait_for "^$marker\$" "$T/exec.out" 20 || fail "the exec did not run ($WHY; $(head -c 300 "$T/exec.out"))"
    pid=$(exec_pid "$procdir" "$marker")
    check exec_in_container_netns "the exec (pid ${pid:-none}) is in $(readlink "$procdir/$pid/ns/net" 2>&1), not c's $cnet" \
        eq "$(readlink "$procdir/$pid/ns/net" 2>/dev/null)" "$cnet"
    kill "$client" 2>/dev/null
    wait "$client" 2>/dev/null
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
