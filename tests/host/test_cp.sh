#!/bin/bash
# test_cp.sh — issue 18: `keel cp NAME:PATH HOSTPATH` and `keel cp HOSTPATH
# NAME:PATH` copy regular files out of and into a running container, in
# chunks, resolved inside the container's root: symlinks pointing out and
# `..` stay inside; the written file is the container root's with the
# source's mode; root only on the unix socket.
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((30 * SLOW)) "$KEEL" "$@"; }

app_pid() {
    kc ps --json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == "app" and c.get("pid"):
        print(c["pid"])'
}

# The container's /etc/shadow is its own ("inside-shadow"); /tmp/link and
# /tmp/etc point out of the root as absolute symlinks would on the host.
cp_manifest() {
    cat <<EOF
$(system_section)
control = unix://$(SOCK)
control_group = staff

[container app]
layers = $LAYERS/base
upper = tmpfs
command = /bin/sh -c "mkdir -p /tmp && echo inside-shadow > /etc/shadow && ln -s /etc/shadow /tmp/link && ln -s /etc /tmp/etc && echo app-up && exec sleep 1000000"
EOF
}

test_cp() {
    plan out_small out_large in_large in_owner_mode link_inside dotdot_inside link_dir_inside \
         put_over_link_inside member_refused member_update_refused dir_refused
    cp_manifest | manifest
    keel_start
    wait_out app app-up || fail "app did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local pid root
    pid=$(app_pid)
    root="$(nsproc)/$pid/root"
    [ -n "$pid" ] && [ -f "$root/etc/shadow" ] || fail "cannot see app's root at $root"
    local shadow_sum
    shadow_sum=$(sha256sum /etc/shadow | cut -d' ' -f1)

    # Out: a small file, then one of several chunks (the client sends and
    # asks for 32 KiB at a time).
    kc cp app:/etc/shadow "$T/small" > "$T/cp1.out" 2>&1
    check out_small "cp app:/etc/shadow did not give the container's file: $(cat "$T/cp1.out")" \
        eq "$(cat "$T/small" 2>/dev/null)" inside-shadow
    head -c 200000 /dev/urandom > "$T/big"
    chmod 0751 "$T/big"
    kc cp "$T/big" app:/tmp/big > "$T/cp2.out" 2>&1
    check in_large "the 200000-byte file did not arrive whole: $(cat "$T/cp2.out")" cmp -s "$T/big" "$root/tmp/big"
    check in_owner_mode "the copied file is not root's with mode 751" \
        eq "$(stat -c %u:%g:%a "$root/tmp/big" 2>&1)" 0:0:751
    kc cp app:/tmp/big "$T/back" > "$T/cp3.out" 2>&1
    check out_large "the 200000-byte file did not come back whole: $(cat "$T/cp3.out")" cmp -s "$T/big" "$T/back"

    # Symlinks and .. resolve inside the container's root.  The positive
    # control is out_small: the same file reached without them.
    kc cp app:/tmp/link "$T/via-link" > "$T/cp4.out" 2>&1
    check link_inside "a symlink to /etc/shadow did not resolve inside the container" \
        eq "$(cat "$T/via-link" 2>/dev/null)" inside-shadow
    kc cp app:/../../../../tmp/../../etc/shadow "$T/via-dotdot" > "$T/cp5.out" 2>&1
    check dotdot_inside ".. left the container's root" eq "$(cat "$T/via-dotdot" 2>/dev/null)" inside-shadow
    echo planted > "$T/plant"
    local name=keel-cp-test-$$
    kc cp "$T/plant" "app:/tmp/etc/$name" > "$T/cp6.out" 2>&1
    check link_dir_inside "a write through a symlink to /etc did not land in the container's /etc" eval \
        "[ \"\$(cat '$root/etc/$name' 2>/dev/null)\" = planted ] && [ ! -e '/etc/$name' ]"
    kc cp "$T/plant" app:/tmp/link > "$T/cp7.out" 2>&1
    check put_over_link_inside "a write to a symlink to /etc/shadow changed something outside, or nothing inside" eval \
        "[ \"\$(sha256sum /etc/shadow | cut -d' ' -f1)\" = '$shadow_sum' ] &&
         [ \"\$(cat '$root/tmp/link')\" = planted ] && [ \"\$(cat '$root/etc/shadow')\" = inside-shadow ]"

    # A control_group member may run ps (the positive control), not cp.
    KEEL_HOST="unix://$(SOCK)" setpriv --reuid=65534 --regid=65534 --groups=50 "$KEEL" ps > "$T/gm-ps.out" 2>&1
    KEEL_HOST="unix://$(SOCK)" setpriv --reuid=65534 --regid=65534 --groups=50 "$KEEL" cp "$T/plant" \
        app:/tmp/member > "$T/gm.out" 2>&1
    check member_refused "a control_group member could copy (or could not even run ps)" eval \
        "grep -q '^app ' '$T/gm-ps.out' && grep -q 'only root may copy' '$T/gm.out' && [ ! -e '$root/tmp/member' ]"
    # Nor push a payload or roll one back (the same rule as apply and cp);
    # root is the positive control: it gets past the rule to "update is off"
    # (keel run has no update_volume).
    echo x > "$T/bundle"
    KEEL_HOST="unix://$(SOCK)" setpriv --reuid=65534 --regid=65534 --groups=50 "$KEEL" update "$T/bundle" \
        > "$T/gm-up.out" 2>&1
    KEEL_HOST="unix://$(SOCK)" setpriv --reuid=65534 --regid=65534 --groups=50 "$KEEL" rollback > "$T/gm-rb.out" 2>&1
    KEEL_HOST="unix://$(SOCK)" "$KEEL" update "$T/bundle" > "$T/root-up.out" 2>&1
    check member_update_refused "a control_group member could send an update or a rollback" eval \
        "grep -q 'only root may update' '$T/gm-up.out' && grep -q 'only root may update' '$T/gm-rb.out' && grep -q 'update is off' '$T/root-up.out'"

    local rc=0
    kc cp app:/etc "$T/dir" > "$T/cp8.out" 2>&1 || rc=$?
    check dir_refused "copying a directory was not refused as such" eval \
        "[ $rc != 0 ] && grep -q 'it is a directory' '$T/cp8.out' && [ ! -e '$T/dir' ]"
    no_lasting_zombies || fail "zombies ($WHY)"
    keel_stop || fail "keel did not stop ($WHY)"
}

# A user namespace container with an idmapped upper directory: the copied
# file is its root's (host uid 200000 seen from outside, 0 on disk).
test_cp_userns() {
    plan userns_in userns_owner userns_on_disk userns_out
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)

[container app]
layers = $LAYERS/base
userns = 0:200000:65536
upper = $T/up
command = /bin/sh -c "mkdir -p /tmp && echo ns-inside > /etc/ns && echo app-up && exec sleep 1000000"
EOF
    keel_start
    wait_out app app-up || fail "app did not come up ($WHY)"
    wait_until $((5 * SLOW)) test -S "$(SOCK)" || fail "no control socket"
    local root
    root="$(nsproc)/$(app_pid)/root"
    echo hello-ns > "$T/f"
    chmod 0640 "$T/f"
    kc cp "$T/f" app:/etc/copied > "$T/cp1.out" 2>&1
    check userns_in "the file did not arrive: $(cat "$T/cp1.out")" eq "$(cat "$root/etc/copied" 2>/dev/null)" hello-ns
    check userns_owner "the file is not the container root's (host 200000) with mode 640" \
        eq "$(stat -c %u:%g:%a "$root/etc/copied" 2>&1)" 200000:200000:640
    check userns_on_disk "the file is not stored as 0:0 in the idmapped upper" \
        eq "$(stat -c %u:%g "$T/up/upper/etc/copied" 2>&1)" 0:0
    kc cp app:/etc/ns "$T/ns" > "$T/cp2.out" 2>&1
    check userns_out "cp out of a userns container failed: $(cat "$T/cp2.out")" eq "$(cat "$T/ns" 2>/dev/null)" ns-inside
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
