#!/bin/bash
# test_exe.sh — issue 8's "overwriting keel's own binary from a container"
# class (runc CVE-2019-5736): a container must never get keel's binary to
# write to, nor keel's binary running inside it.
#
# The exploit: a container command `#!/proc/self/exe` makes the kernel run,
# as the script's interpreter, the binary of the process that execs it (the
# runtime's own); a process of the container then opens /proc/PID/exe of that
# process, or keeps an O_PATH handle on it and re-opens it for writing once
# it is no longer being executed, and overwrites the runtime on the host.
# Here keel's binary ($KEEL) is an ordinary writable file of the host, and
# the attacker is the probe's `exe-attack` (it only opens, never writes).
# Control-socket access as in test_control.sh: the socket lives in $T.
#
# keel's defence (docs/security.md): every process of keel's that runs a
# container's command does it through the exec stub (src/stub.c), a tiny
# program in a sealed memfd, so the exec'd command and a `#!/proc/self/exe`
# script's interpreter have the stub as their exe, never $KEEL.  Before the
# stub, keel's processes are out of reach: the setup child is alone in its
# new PID namespace, exec and health helpers are non-dumpable before they
# join (exec_window).  A container with CAP_SYS_PTRACE (no user namespace)
# passes the non-dumpable check: for such a manifest keel runs from a sealed
# copy of itself (ptrace_sealed) and refuses to start when it cannot; such a
# container added later by `keel apply` is refused (ptrace_added_later).
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) "$KEEL" "$@"; }
keel_hash() { sha256sum < "$KEEL" | cut -d' ' -f1; }

# evil_layer: a layer with /evil.sh, the `#!/proc/self/exe` script; prints its path.
evil_layer() {
    local L
    L=$(mk_layer evil)
    printf '#!/proc/self/exe\necho the script ran as a script\n' > "$L/evil.sh"
    chmod 755 "$L/evil.sh"
    echo "$L"
}

# A `#!/proc/self/exe` command: the kernel runs the exe of the process that
# execs it, the exec stub, as the script's interpreter.  The stub refuses
# (its argv[0] is not its report fd) and exits 126: no keel code runs inside
# the container, and keel and its other containers go on.  (Before the stub,
# keel's own binary ran there as PID 1 of the container and refused to boot.)
test_shebang_command() {
    plan shebang_fails stub_refuses no_boot_inside keel_serves keel_binary_unchanged
    local before L
    before=$(keel_hash)
    L=$(evil_layer)
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container c]
layers = $LAYERS/base
command = /bin/probe print ready sleep inf
restart = no

[container shebang]
layers = $L:$LAYERS/base
command = /evil.sh
restart = no
EOF
    keel_start
    wait_out c ready || fail "container c did not come up ($WHY)"
    wait_klog 'shebang: (exited with status|killed by signal|failed)' || fail "the shebang container never ended ($WHY)"
    # The stub is the same static program under the ASan build.
    local want='shebang: exited with status 126'
    check shebang_fails "the #!/proc/self/exe container did not fail: $(grep -E 'shebang: (exited|killed|failed)' "$ERR" | head -n 1)" \
        eval "grep -qE '$(klog "$want")' '$ERR'"
    wait_until $((5 * SLOW)) test -S "$(SOCK)"
    check keel_serves "keel ps failed after the shebang container" eval "kc ps | grep -qE '^c +running'"
    check keel_binary_unchanged "keel's binary changed" eq "$(keel_hash)" "$before"
    keel_stop || fail "keel did not stop ($WHY)"
    # What shebang printed, read once keel has exited: keel relays a
    # container's output through a process of its own, so "shebang: exited"
    # can reach $ERR before shebang's lines reach $OUT, and shebang has no
    # last line to wait for (the stub prints nothing).  keel drains every
    # relay before it exits.
    check stub_refuses "keel's binary ran inside the container (it refused to boot there)" \
        no_grep_in '^shebang \| .*refusing to boot' "$OUT"
    check no_boot_inside "keel's binary went through boot steps inside the container" \
        no_grep_in '^shebang \| .*keel: (stage:|shutdown:|filesystems unmounted|hostname|sysctl)' "$OUT"
}

# An attacker container scans /proc/*/exe for the whole run, trying to open
# every binary for writing (directly, and by re-opening O_PATH handles),
# while the test runs `keel exec` into it 50 times over the control socket:
# 40 ordinary commands (half of them streamed, half with the client's own
# fds) and 10 times the `#!/proc/self/exe` script.
test_exe_attack() {
    plan attack_ran execs_ok shebang_execs_fail keel_binary_unreachable no_write_open keel_binary_unchanged keel_serves
    local before L secs=$((10 * SLOW))
    before=$(keel_hash)
    L=$(evil_layer)
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container attacker]
layers = $L:$LAYERS/base
command = /bin/probe print ready exe-attack $secs print attack-done sleep inf
restart = no
EOF
    keel_start
    wait_out attacker ready || fail "the attacker did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    local i ok=0 bad= sh_fail=0 sh_bad= out rc t0=$SECONDS
    for i in $(seq 50); do
        if [ $((i % 5)) = 0 ]; then
            out=$(kc exec attacker -- /evil.sh 2>&1); rc=$?
            [ "$rc" != 0 ] && sh_fail=$((sh_fail + 1)) || sh_bad="$sh_bad $i:rc=$rc"
                else
            if [ $((i % 2)) = 0 ]; then
                out=$(kc exec --stream attacker -- /bin/sh -c 'echo exec-$0-$$' "$i" 2>&1); rc=$?
            else
                out=$(kc exec attacker -- /bin/sh -c 'echo exec-$0-$$' "$i" 2>&1); rc=$?
            fi
            [ "$rc" = 0 ] && [[ "$out" == exec-$i-* ]] && ok=$((ok + 1)) || bad="$bad $i:rc=$rc:${out:0:120}"
        fi
    done
    local took=$((SECONDS - t0))
    # The 50 execs must have happened while the attack ran.
    if [ -n "$(c_value attacker exe-attack.scans)" ]; then
        fail "the attack ($secs s) ended before the 50 execs did: raise its duration"
    fi
    # Done with what the attack had to outlast: SIGUSR1 ends it now (the 50
    # execs take ~3 s, the ASan build's 30-s attack scanned idle the rest).
    kc kill -s USR1 attacker > "$T/kill.out" 2>&1 || fail "keel kill -s USR1 attacker failed: $(cat "$T/kill.out")"
    wait_out attacker attack-done $((secs + 10 * SLOW)) || fail "the attacker never reported ($WHY)"
    local scans rd fw fr seen
    scans=$(c_value attacker exe-attack.scans)
    rd=$(c_value attacker exe-attack.rdopen_ok)
    fw=$(c_value attacker exe-attack.foreign_wopen_ok)
    fr=$(c_value attacker exe-attack.foreign_reopen_ok)
    seen=$(c_value attacker exe-attack.foreign_seen)
    echo "# 50 execs in $took s; exe-attack: scans=$scans tries=$(c_value attacker exe-attack.tries) read=$rd" \
        "wopen_ok=$(c_value attacker exe-attack.wopen_ok) reopen_ok=$(c_value attacker exe-attack.reopen_ok)" \
        "denied=$(c_value attacker exe-attack.denied) busy=$(c_value attacker exe-attack.busy)" \
        "sealed=$(c_value attacker exe-attack.sealed) wkept=$(c_value attacker exe-attack.wkept)" \
        "foreign_seen=$seen foreign=$(c_value attacker exe-attack.foreign)"
    # It saw (and read) the binaries of the exec'd commands: it was looking.
    check attack_ran "the attacker did not scan or never read an exe (scans=$scans, read=$rd)" \
        eval "[ \"${scans:-0}\" -gt 10 ] && [ \"${rd:-0}\" -gt 0 ]"
    # The attacker keeps write-opens of the sealed stubs it caught (wkept):
    # with one stub for all of keel's execs, every exec after that failed
    # with ETXTBSY ("cannot execute /bin/sh through keel's exec stub").
    check execs_ok "not all 40 ordinary execs succeeded:$bad" eq "$ok" 40
    check shebang_execs_fail "an exec of the #!/proc/self/exe script succeeded:$sh_bad" eq "$sh_fail" 10
    # The exec'd script's interpreter is /proc/self/exe of the process that
    # execs it; harmless only if that is not the host's file (the sealed
    # stub is; with keel's helper exec'ing directly it was $KEEL).  The
    # attacker catches the short run most of the time: when it does, the
    # host's file must not be what it holds.
    local foreign
    foreign=$(c_value attacker exe-attack.foreign)
    check keel_binary_unreachable "the container got a handle on keel's binary $KEEL (the attacker saw: $foreign)" \
        eval "! tr ',' '\n' <<< \"\$foreign\" | grep -qxF -- \"\$KEEL\""
    check no_write_open "a binary from outside the container was opened for writing (direct $fw, re-opened $fr)" \
        eq "${fw:-x} ${fr:-x}" "0 0"
    check keel_binary_unchanged "keel's binary changed" eq "$(keel_hash)" "$before"
    check keel_serves "keel ps failed after the attack" eval "kc ps | grep -qE '^attacker +running'"
    keel_stop || fail "keel did not stop ($WHY)"
}

# keel run no longer copies itself: it runs from $KEEL, and makes a sealed
# stub for each start and exec, never one for the whole process (a container
# that holds a write-open of a stub's inode blocks every execve of it with
# ETXTBSY: exe_attack's attacker keeps such opens).  When the stub cannot be
# made executable (vm.memfd_noexec = 2, set
# in the test's own PID namespace, where the sysctl is scoped) no container
# may start: keel must never fall back to exec'ing the command itself.
# Positive control: the same manifest without the sysctl runs its container.
test_stub_fails_closed() {
    plan stub_no_copy no_stub_kept stub_refused stub_nothing_ran
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/probe print ran sleep inf
restart = no
EOF
    keel_start
    wait_out c ran || fail "the control run did not start c ($WHY)"
    local kp fds
    kp=$(keel_pid)
    check stub_no_copy "keel run did not run from its binary (exe: $(readlink "/proc/$kp/exe"))" \
        eq "$(readlink "/proc/$kp/exe")" "$KEEL"
    fds=$(for f in /proc/"$kp"/fd/*; do readlink "$f"; done 2>/dev/null)
    check no_stub_kept "keel kept the stub after the start (fds: $(tr '\n' ' ' <<< "$fds"))" \
        eval '! grep -qF "/memfd:keel-stub" <<< "$fds"'
    keel_stop || fail "keel did not stop ($WHY)"

    if [ ! -w /proc/sys/vm/memfd_noexec ]; then
        _DONE+=(stub_refused stub_nothing_ran)
        echo "skip - host: stub_refused: no vm.memfd_noexec on this kernel (before 6.3)"
        echo "skip - host: stub_nothing_ran: no vm.memfd_noexec on this kernel (before 6.3)"
        return
    fi
    printf '#!/bin/sh\necho 2 > /proc/sys/vm/memfd_noexec || exit 125\nexec %s "$@"\n' "$KEEL" > "$T/keel-noexec"
    chmod 755 "$T/keel-noexec"
    KEEL=$T/keel-noexec keel_start
    # c was its only container: keel ends once it has failed.
    keel_wait $((10 * SLOW)) || fail "keel went on (still running after $((10 * SLOW)) s)"
    check stub_refused "c did not fail for want of the stub: $(grep -E 'c: (failed|started)' "$ERR" | head -n 1)" \
        eval 'grep -qE "$(klog "error: c: failed: cannot start c: cannot create the exec stub.s memfd: Permission denied")" "$ERR"'
    check stub_nothing_ran "c ran without the stub" eval '! out_has c ran && no_grep_in "$(klog "c: started")" "$ERR"' 
}

# A container with CAP_SYS_PTRACE in the initial user namespace could open
# /proc/PID/exe of a non-dumpable exec helper: keel runs from a sealed memfd
# copy of itself then, and when that copy cannot be made (a file-size limit
# below keel's size, with SIGXFSZ ignored so the write fails with EFBIG) it
# refuses to start rather than go on from the binary on disk (issue 13).
# Control: the same manifest without the limit runs, from the sealed copy.
test_ptrace_sealed() {
    plan sealed_control unsealed_refused unsealed_nothing_ran
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/probe print ran sleep inf
capabilities = +SYS_PTRACE
restart = no
EOF
    KEEL_IGNORE=XFSZ keel_start
    wait_out c ran || fail "the control run did not start c ($WHY)"
    local exe
    exe=$(readlink "/proc/$(keel_pid)/exe")
    check sealed_control "keel run does not run from a sealed memfd (exe: $exe)" eq "$exe" "/memfd:keel (deleted)"
    keel_stop || fail "keel did not stop ($WHY)"

    local kib=$(( $(stat -c %s "$KEEL") / 1024 / 2 ))
    ulimit -S -f "$kib" || fail "cannot lower the file-size limit"
    KEEL_IGNORE=XFSZ keel_start
    ulimit -S -f unlimited
    keel_wait $((10 * SLOW)) || fail "keel run went on without its sealed copy (still running after $((10 * SLOW)) s)"
    check unsealed_refused "keel run did not refuse to start (status $KRC)" \
        eval '[ "$KRC" != 0 ] && grep -q "keel: error: cannot re-execute keel from a sealed copy of itself: File too large" "$ERR"'
    check unsealed_nothing_ran "a container ran from the unsealed keel" \
        eval '! out_has c ran && no_grep_in "$(klog "c: started")" "$ERR"'
}

# The window before the stub: a `keel exec` helper has joined the
# container's PID namespace and runs keel's code (its exe is keel's binary)
# until it execveats the stub.  A FIFO at /etc/passwd holds it there (the
# helper reads the file to resolve the user), and the container looks at it:
# the helper's command line (positive control: the container sees it), its
# /proc/PID/exe, and after the release the exe of the exec'd command
# (positive control: readable once the command runs).
#   default container: its exe is refused (held there, before the capability
#   drop, by the capability check as well as by non-dumpable: removing the
#   non-dumpable step does not fail this check; the stretch from the drop to
#   the stub, a few system calls, has no point a container can hold it at);
#   +SYS_PTRACE: the exe is readable (CAP_SYS_PTRACE passes the check), and
#   is the sealed copy keel re-executed from, never $KEEL.
exec_window_run() {
    local caps=$1 L
    L=$(mk_layer "watch$caps")
    cat > "$L/watch.sh" <<'EOF'
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
            e=$(readlink /proc/$p/exe 2>/dev/null) || e=denied
            echo "window_exe=$e"
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
            e=$(readlink /proc/$p/exe 2>/dev/null) || e=denied
            echo "after_exe=$e"
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
${caps:+capabilities = +$caps}
EOF
    keel_start
    wait_out c armed || fail "c did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    kc exec c -- /bin/probe print after-exec-marker sleep 2 > "$T/exec.out" 2>&1 < /dev/null &
    local client=$!
    wait_out c watched 40 || fail "the watcher did not finish ($WHY)"
    wait "$client"
}

test_exec_window() {
    plan window_seen window_exe_denied after_exe_readable ptrace_window_seen ptrace_window_exe_sealed
    exec_window_run ""
    check window_seen "the container never saw the exec helper before the stub" grep_in '\| ?window pid=' "$OUT"
    check window_exe_denied "a default container read /proc/PID/exe of the exec helper: $(c_value c window_exe)" \
        eq "$(c_value c window_exe)" denied
    check after_exe_readable "positive control: the exec'd command's exe was not readable: $(c_value c after_exe)" \
        eq "$(c_value c after_exe)" /bin/probe
    keel_stop || fail "keel did not stop ($WHY)"

    exec_window_run SYS_PTRACE
    check ptrace_window_seen "the +SYS_PTRACE container never saw the exec helper" grep_in '\| ?window pid=' "$OUT"
    check ptrace_window_exe_sealed "the +SYS_PTRACE container saw the helper's exe as: $(c_value c window_exe)" \
        eq "$(c_value c window_exe)" "/memfd:keel (deleted)"
    keel_stop || fail "keel did not stop ($WHY)"
}

# A container that needs the sealed copy arriving by `keel apply` when keel
# runs from its file (the manifest it started with had none): its start is
# refused, never run with keel's binary within its reach.  Control: the
# container keel started with runs on, and the same container starts when
# keel was started with it (ptrace_sealed).
test_ptrace_added_later() {
    plan later_refused later_nothing_ran later_others_run
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
[container c]
layers = $LAYERS/base
command = /bin/probe print c-ran sleep inf
restart = no
EOF
    keel_start
    wait_out c c-ran || fail "c did not start ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    { cat "$T/keel.ini"; printf '\n[container t]\nlayers = %s\ncommand = /bin/probe print t-ran sleep inf\ncapabilities = +SYS_PTRACE\nrestart = no\n' "$LAYERS/base"; } > "$T/m2.ini"
    kc apply "$T/m2.ini" > "$T/apply.out" 2>&1
    wait_klog "error: t: failed: " || fail "t never failed ($WHY)"
    check later_refused "t was not refused for keel's binary: $(grep -E 't: failed' "$ERR" | head -n 1)" \
        eval 'grep -qE "$(klog "error: t: failed: cannot start a process in t: keel.s binary on disk would be within its reach")" "$ERR"'
    check later_nothing_ran "t ran from an unsealed keel" eval '! out_has t t-ran'
    check later_others_run "c is not running after the apply" eval "kc ps | grep -qE '^c +running'"
    keel_stop || fail "keel did not stop ($WHY)"
}

# keel run needs fs.suid_dumpable twice at its start: to decide whether to
# run from a sealed copy of itself (a container could catch an exec helper
# while the sysctl is 1) and again at the container's start, ~1 ms later
# (container_exe_check).  One reading serves both (issue 17: 4 system calls
# fewer); a start a second later reads it again.  Counted with strace on
# keel's own process (-D: keel stays nsinit's child).  Positive control: the
# trace has keel's open of its manifest, and one of the sysctl.
test_suid_dumpable_read_once() {
    plan trace_sees_opens suid_dumpable_read_once
    command -v strace >/dev/null || fail "strace is not installed (make deps)"
    printf '#!/bin/sh\nexec strace -D -q -e trace=openat -o "%s" "$@"\n' "$T/trace" > "$T/stwrap"
    chmod 755 "$T/stwrap"
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/true
restart = no
EOF
    KEEL_WRAP=$T/stwrap keel_start
    keel_wait 20 || fail "keel did not exit after its only container ended"
    grep -qE "$(klog 'c: exited with status 0')" "$ERR" || fail "c did not run to its end"
    # The tracer is keel's grandchild: its last line may come after keel's exit.
    wait_until $((10 * SLOW)) grep -q '^+++ exited' "$T/trace" || fail "strace did not finish ($WHY)"
    local n
    n=$(grep -c 'openat(.*"/proc/sys/fs/suid_dumpable"' "$T/trace")
    check trace_sees_opens "strace saw no open of the manifest, or none of the sysctl ($n)" \
        eval 'grep -qF "\"$T/keel.ini\"" "$T/trace" && [ "$n" -ge 1 ]'
    check suid_dumpable_read_once "keel run opened /proc/sys/fs/suid_dumpable $n times" eq "$n" 1
}

run_tests "$@"
