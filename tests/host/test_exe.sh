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
# Known to fail until keel runs from a sealed memfd copy of itself (as runc
# does since the CVE): keel_binary_unreachable.  A `keel exec` of the script
# is exec'd by keel's exec helper, whose /proc/self/exe is $KEEL, so keel's
# binary runs inside the container (as a client: it fails, "unknown
# command") and a process of the container can take a handle on the host's
# file.  Today only ETXTBSY (the running keel executes the same file) keeps
# that handle from being re-opened for writing (no_write_open).  The command
# of a container (test_shebang_command) is caught by main (boot_in_container): keel's binary as
# PID 1 of a container refuses to boot and exits 126.
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

# A `#!/proc/self/exe` command: run by keel's setup child, it runs keel's
# binary as PID 1 of the container.  That copy must refuse to do anything
# (no boot step: no mount, no module, no reboot) and end the container with
# a failure, while keel and its other containers go on.
test_shebang_command() {
    plan shebang_fails no_boot_inside keel_serves keel_binary_unchanged
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
    # The static keel refuses to boot and exits 126 (main.c); the dynamic
    # ASan build cannot even start there (no loader in the layer): its exec fails.
    local want='shebang: exited with status 126'
    [ "${KEEL_ASAN:-}" = 1 ] && want='shebang: (exited with status [1-9][0-9]*|killed by signal|failed)'
    check shebang_fails "the #!/proc/self/exe container did not fail: $(grep -E 'shebang: (exited|killed|failed)' "$ERR" | head -n 1)" \
        eval "grep -qE '$(klog "$want")' '$ERR'"
    check no_boot_inside "keel's binary went through boot steps inside the container" \
        no_grep_in '^shebang \| .*keel: (stage:|shutdown:|filesystems unmounted|hostname|sysctl)' "$OUT"
    wait_until $((5 * SLOW)) test -S "$(SOCK)"
    check keel_serves "keel ps failed after the shebang container" eval "kc ps | grep -qE '^c +running'"
    check keel_binary_unchanged "keel's binary changed" eq "$(keel_hash)" "$before"
    keel_stop || fail "keel did not stop ($WHY)"
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
            [ "$rc" = 0 ] && [[ "$out" == exec-$i-* ]] && ok=$((ok + 1)) || bad="$bad $i:rc=$rc:${out:0:60}"
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
        "sealed=$(c_value attacker exe-attack.sealed)" \
        "foreign_seen=$seen foreign=$(c_value attacker exe-attack.foreign)"
    # It saw (and read) the binaries of the exec'd commands: it was looking.
    check attack_ran "the attacker did not scan or never read an exe (scans=$scans, read=$rd)" \
        eval "[ \"${scans:-0}\" -gt 10 ] && [ \"${rd:-0}\" -gt 0 ]"
    check execs_ok "not all 40 ordinary execs succeeded:$bad" eq "$ok" 40
    check shebang_execs_fail "an exec of the #!/proc/self/exe script succeeded:$sh_bad" eq "$sh_fail" 10
    # The exec'd script's interpreter is /proc/self/exe of keel's exec helper,
    # so keel's code runs inside the container; harmless only if that is not
    # the host's file (a sealed memfd copy is).  The attacker catches the
    # short run most of the time: when it does, the host's file must not be
    # what it holds.  Fails until keel runs from a sealed memfd (see the header).
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

# keel run copies itself into a sealed memfd before it does anything else; when
# that copy cannot be made it must refuse to start, never go on from the
# binary on disk (issue 13: it warned and went on).  A file-size limit below
# keel's size, with SIGXFSZ ignored (so the copy's write fails with EFBIG
# instead of killing keel), makes the copy fail for real.  Positive control:
# the same manifest without the limit runs, from a sealed memfd.
test_unsealed_refused() {
    plan sealed_control unsealed_refused unsealed_nothing_ran
    manifest <<EOF
$(system_section)
[container c]
layers = $LAYERS/base
command = /bin/probe print ran sleep inf
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

run_tests "$@"
