#!/bin/bash
# test_control.sh — issue 6's control channel with keel as PID 1 (Debian's
# kernel under QEMU TCG): the unix and vsock listeners, a client inside a
# container, and `keel poweroff` / `keel reboot` ending in keel's shutdown
# sequence with the action asked for.
#
# The image's manifests listen on unix:///run/keel.sock and vsock://5000 and
# load vsock_loopback (with vsock and vmw_vsock_virtio_transport_common, from
# modules.dep), so CID 1 (VMADDR_CID_LOCAL) reaches keel from inside the VM.
# vsock carries no credentials: by default keel refuses peers on the machine
# itself (issue 13), so in the first boot (vsock://5000) the client's
# requests over vsock are refused and not carried out (app keeps running),
# and only the second boot's listener (vsock://5000?local=yes) serves them.
# The client runs with `seccomp = unconfined`: the default filter refuses
# AF_VSOCK sockets, and what is tested here is the listener's own check.
#
# Issue 22 item 6: in the first boot a container (`hog`, kuid 0 like keel)
# uses up the per-user inotify instances before the client runs `keel logs
# -f app`, which must still follow (keel made its one inotify instance at
# start); then the client itself takes every epoll watch of kuid 0: keel
# cannot take a new client and says which limit is used up, and serves again
# once the watches are free.
# Container `client` has keel's own binary (/init, which boot mode keeps
# read-only and runs keel from) bound read-only at /bin/keel and keel's /run
# bound read-only on its /run, so /run/keel.sock, the client's default URL, is
# keel's socket (the manifest check wants a mount source to exist when the
# manifest is read, before the socket does; connect(2) needs no writable
# mount); it runs with the default capabilities but `seccomp = unconfined`
# (the default filter refuses AF_VSOCK: vsock is not namespaced), prints what
# the client verbs answer, and then asks for the power action.  Container
# `denied`, with the default filter, tries the same vsock listener and must get
# EPERM from socket(2) (the positive control is the client).  Two boots:
# poweroff over the unix socket, reboot over vsock.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "control: image"

extra=$VM_OUT/control-extra
rm -rf "$extra"
mkdir -p "$extra/etc/keel" "$extra/layers/client" "$extra/layers/hog"
vm_payload "control: build the payload" tests/vm/payload/inotifyhog.c "$extra/layers/hog/inotifyhog"
vm_payload "control: build the payload" tests/vm/payload/epollhog.c "$extra/layers/client/epollhog"

# client.sh ACTION VIA: the answers of both listeners, then the power action
# over VIA (unix: the default URL, KEEL_HOST unset; vsock: -H vsock://1:5000).
# In the poweroff boot (local vsock peers refused) it first tries to stop app
# over vsock, then follows app's log while hog holds every inotify instance.
cat > "$extra/layers/client/client.sh" <<'SH'
#!/bin/sh
action=$1 via=$2
vs=vsock://1:5000
echo "modules $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
if sh -c 'printf "" >> /bin/keel' 2>/dev/null; then echo "keel binary writable"; else echo "keel binary read-only"; fi
if [ "$action" = poweroff ]; then
    /bin/keel -H $vs stop app > /tmp/vstop 2>&1
    echo "vsock-stop-rc $?"
    sed 's/^/vsock-stop: /' /tmp/vstop
    # hog has used up the inotify instances (it says so in its log).
    i=0
    until /bin/keel logs hog 2>/dev/null | grep -q inotify-full; do
        i=$((i + 1)); [ $i -ge 60 ] && break
        sleep 1
    done
    /bin/keel logs hog 2>&1 | sed 's/^/hog-log: /'
    /bin/keel logs -f -n 0 app > /tmp/follow 2>&1 &
    f=$!
    i=0
    until [ "$(grep -c '^tick' /tmp/follow)" -ge 3 ]; do
        i=$((i + 1)); [ $i -ge 30 ] && break
        sleep 1
    done
    kill $f 2>/dev/null
    wait $f 2>/dev/null
    echo "follow-ticks $(grep -c '^tick' /tmp/follow)"
    grep -v '^tick' /tmp/follow | sed 's/^/follow: /'
    # Every epoll watch of kuid 0 taken: keel cannot watch a new client (it
    # says why), and serves again once they are free.
    /epollhog > /tmp/ephog 2>&1 &
    h=$!
    i=0
    until grep -q epoll-full /tmp/ephog; do
        i=$((i + 1)); [ $i -ge 60 ] && break
        sleep 1
    done
    sed 's/^/epollhog: /' /tmp/ephog
    /bin/keel ps > /tmp/eps 2>&1
    echo "epoll-full-ps-rc $?"
    kill $h
    wait $h 2>/dev/null
    i=0
    until /bin/keel ps > /tmp/eps 2>&1; do
        i=$((i + 1)); [ $i -ge 30 ] && break
        sleep 1
    done
    /bin/keel ps > /tmp/eps 2>&1
    echo "epoll-freed-ps-rc $?"
fi
/bin/keel -H $vs ps > /tmp/vps 2>&1
echo "vsock-ps-rc $?"
sed 's/^/vsock-ps: /' /tmp/vps
/bin/keel ps > /tmp/ups 2>&1
echo "unix-ps-rc $?"
sed 's/^/unix-ps: /' /tmp/ups
/bin/keel -H $vs status app 2>&1 | sed 's/^/vsock-status: /'
echo "asking for $action over $via"
if [ "$via" = vsock ]; then
    /bin/keel -H $vs "$action" > /tmp/pw 2>&1
else
    /bin/keel "$action" > /tmp/pw 2>&1
fi
echo "$action-rc $?"
sed "s/^/$action: /" /tmp/pw
# Only now a handler for SIGTERM (the stop), so the lines above are printed
# whatever the timing; PID 1 of a namespace ignores signals it has no handler for.
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/client/client.sh"

for action in poweroff reboot; do
    via=unix vsock=vsock://5000 hog=
    if [ "$action" = reboot ]; then
        via=vsock vsock='vsock://5000?local=yes'
    else
        hog='
[container hog]
layers = /layers/hog:/layers/base
command = /inotifyhog
'
    fi
    cat > "$extra/etc/keel/$action.ini" <<INI
[system]
hostname = ctlvm
modules = overlay vsock_loopback
control = unix:///run/keel.sock
control = $vsock
stop_timeout = 3

[container app]
layers = /layers/base
command = /bin/sh -c "echo app-up; trap 'exit 0' TERM; while :; do echo tick; sleep 1; done & wait"
$hog
[container client]
layers = /layers/client:/layers/base
upper = tmpfs
mount = /init:/bin/keel:ro
mount = /run:/run:ro
depends = app
restart = no
seccomp = unconfined
command = /bin/sh /client.sh $action $via

[container denied]
layers = /layers/base
upper = tmpfs
mount = /init:/bin/keel:ro
restart = no
command = /bin/sh -c "/bin/keel -H vsock://1:5000 ps; echo vsock-denied-rc \$?; trap 'exit 0' TERM; sleep 1000 & wait"
INI
done

img=$VM_OUT/control.cpio
vm_image "control: image" "$extra/etc/keel/poweroff.ini" "$extra" "$img"

# in_order NAME REGEX...: ok when each REGEX matches a console line after the
# previous one's first match.
in_order() {
    local name=$1 prev=0 l re
    shift
    for re in "$@"; do
        l=$(vm_line "$re")
        if [ "$l" -le "$prev" ]; then
            vm_not_ok "$name" "/$re/ at line $l, not after line $prev"
            return
        fi
        prev=$l
    done
    vm_ok "$name"
}

# checks_for ACTION VIA WHAT: the assertions of one boot (WHAT: "powering
# off" or "rebooting", as keel's shutdown says it).
checks_for() {
    local action=$1 via=$2 what=$3 p="control/$1"
    vm_assert "$p: vsock modules loaded" 'keel: stage: modules loaded: .*vsock_loopback'
    if [ "$action" = poweroff ]; then
        checks_refused "$p"
        return
    fi
    vm_assert_each "$p: vsock_loopback and its dependencies in /proc/modules" 'client \| modules (.* )?{} ' \
        vsock vmw_vsock_virtio_transport_common vsock_loopback
    vm_assert "$p: keel's binary is read-only in the client" 'client \| keel binary read-only'
    vm_assert "$p: unix listener" 'keel: control: listening on unix:///run/keel\.sock'
    vm_assert "$p: vsock listener allowing local peers" 'keel: control: listening on vsock://5000\?local=yes'
    vm_assert "$p: ps over vsock (CID 1) succeeds" 'client \| vsock-ps-rc 0'
    vm_assert "$p: a container under the default filter cannot open AF_VSOCK" \
        'denied \| .*Operation not permitted'
    vm_assert "$p: ... and its ps fails" 'denied \| vsock-denied-rc [1-9]'
    vm_assert "$p: ps over vsock has the table" 'client \| vsock-ps: NAME +STATE +PID'
    vm_assert "$p: ps over vsock shows app running" 'client \| vsock-ps: app +running +[0-9]+ '
    vm_assert "$p: ps over vsock shows the client itself" 'client \| vsock-ps: client +running +[0-9]+ '
    vm_assert "$p: ps over the unix socket succeeds" 'client \| unix-ps-rc 0'
    vm_assert "$p: ps over the unix socket shows app running" 'client \| unix-ps: app +running +[0-9]+ '
    vm_assert "$p: status over vsock" 'client \| vsock-status: state +running'
    vm_assert "$p: keel $action over $via succeeds" "client \\| $action-rc 0"
    vm_refute "$p: no client errors" 'client \| .*keel: error'
    in_order "$p: clean shutdown sequence in order" \
        "client \\| asking for $action over $via" \
        'keel: stopping all containers \(requested\)' \
        'keel: all containers are down' \
        "keel: shutdown: $what; stopping remaining processes" \
        'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0' \
        "keel: shutdown: $what now"
    vm_assert "$p: containers stopped" 'keel: app: stopped'
    vm_end_is "$p: the machine does $action" "$action"
    vm_refute "$p: no kernel panic" 'Kernel panic|Attempted to kill init'
}

# checks_refused PREFIX: the first boot: vsock://5000 without ?local=yes
# refuses the client (a peer on the machine itself), and what it asked is not
# done; logs -f follows app while hog holds every inotify instance.
checks_refused() {
    local p=$1
    vm_assert "$p: vsock listener" 'keel: control: listening on vsock://5000[[:space:]]*$'
    vm_assert "$p: stop over vsock (CID 1) is refused" 'client \| vsock-stop: keel: error: .*permission denied'
    vm_refute "$p: stop over vsock did not succeed" 'client \| vsock-stop-rc 0'
    local ask stop
    ask=$(vm_line 'client \| asking for poweroff')
    stop=$(vm_line 'keel: app: stopping')
    if [ "$ask" -gt 0 ] && { [ "$stop" = 0 ] || [ "$stop" -gt "$ask" ]; }; then
        vm_ok "$p: app was not stopped by the refused request"
    else
        vm_not_ok "$p: app was not stopped by the refused request" "app stopping at line $stop, poweroff asked at line $ask"
    fi
    vm_assert "$p: ps over vsock is refused" 'client \| vsock-ps: keel: error: .*permission denied'
    vm_refute "$p: ps over vsock gave no table" 'client \| vsock-ps: NAME'
    vm_assert "$p: ps over the unix socket shows app still running" 'client \| unix-ps: app +running +[0-9]+ '
    vm_assert "$p: hog used up the inotify instances" 'hog \| inotify-full=[0-9]+ errno=EMFILE'
    vm_assert "$p: logs -f follows app meanwhile" 'client \| follow-ticks [3-9]'
    vm_refute "$p: logs -f gave no error" 'client \| follow: '
    vm_assert "$p: the epoll watches were used up" 'client \| epollhog: epoll-full=[0-9]+ errno=ENOSPC'
    vm_assert "$p: ps with no epoll watch left fails" 'client \| epoll-full-ps-rc [1-9]'
    vm_assert "$p: keel says which limit is used up" \
        'keel: warning: control: cannot take a new client on unix:///run/keel\.sock: .*fs\.epoll\.max_user_watches'
    vm_assert "$p: ps works again once the watches are free" 'client \| epoll-freed-ps-rc 0'
    vm_assert "$p: keel poweroff over unix succeeds" 'client \| poweroff-rc 0'
    in_order "$p: clean shutdown sequence in order" \
        "client \\| asking for poweroff over unix" \
        'keel: stopping all containers \(requested\)' \
        'keel: all containers are down' \
        "keel: shutdown: powering off; stopping remaining processes" \
        "keel: shutdown: powering off now"
    vm_end_is "$p: the machine does poweroff" poweroff
    vm_refute "$p: no kernel panic" 'Kernel panic|Attempted to kill init'
}

# --- boot 1: poweroff over the unix socket -----------------------------------------
vm_start keel-control-poweroff "$img" "keel.manifest=/etc/keel/poweroff.ini"
vm_wait_end 240
checks_for poweroff unix "powering off"

# --- boot 2: reboot over vsock ---------------------------------------------------------
vm_start keel-control-reboot "$img" "keel.manifest=/etc/keel/reboot.ini"
vm_wait_end 120
checks_for reboot vsock "rebooting"
