#!/bin/bash
# test_time.sh — the machine's clock in boot mode, against Debian's chronyd
# (two boots of a guest whose RTC says 2001-01-01, one ext4 data disk):
#   boot 1  [system] ntp = 10.0.2.2: QEMU's user network hands the guest's
#           UDP to 10.0.2.2:123 to 127.0.0.1:123 of the network namespace
#           this script runs in (its own, made at its start), where chronyd
#           serves its time (-x: chronyd never touches the host's clock; the
#           guest's clock is the guest's own).  A container without depends
#           starts at once and sees 2001 (the positive control: the clock was
#           wrong); `depends = clock` holds the other until the first sync,
#           and it then sees the host's time.  The clock file on the disk
#           says 2000-06-01, behind the RTC: it is not restored (the clock
#           never moves backwards).  At the poweroff keel saves the time to it.
#   boot 2  no ntp, the same disk, the RTC at 2001 again: the saved time is
#           ahead of the RTC and is restored before any container starts;
#           `depends = clock` starts at once (nothing would set it).
# The host's clock is never touched: chronyd runs with -x, keel runs in the
# guest only.
set -u
# A network namespace of the script's own: chronyd's port 123 on its
# loopback cannot meet another test's or the host's.
if [ -z "${KEEL_TIME_IN_NETNS:-}" ]; then
    exec env KEEL_TIME_IN_NETNS=1 unshare --net bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "time: image"
vm_require_tools "time: image" mke2fs debugfs chronyd python3 setpriv
vm_require_layers "time: image"

ip link set lo up || vm_fail "time: setup" "cannot bring up lo in the test's network namespace"

# --- chronyd, serving its own clock on 127.0.0.1:123 of this namespace ---------------
chr=$VM_OUT/chrony
mkdir -p "$chr"
cat > "$chr/chrony.conf" <<EOF
local stratum 8
allow 127.0.0.1
bindaddress 127.0.0.1
port 123
cmdport 0
bindcmdaddress /
pidfile $chr/chronyd.pid
driftfile $chr/drift
EOF
# --pdeathsig: even a script killed with SIGKILL leaves no chronyd behind.
setpriv --pdeathsig KILL chronyd -d -x -u root -f "$chr/chrony.conf" > "$chr/chronyd.log" 2>&1 &
CHRONY_PID=$!
# The EXIT trap of lib.sh kills QEMU; chronyd must go too (it would keep the
# namespace alive).
trap 'rc=$?; kill "$CHRONY_PID" 2>/dev/null; (exit $rc); vm_cleanup_all' EXIT

# ntp_probe: one SNTP request to chronyd; prints its stratum when it answers.
ntp_probe() {
    python3 - <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(b'\x23' + b'\0' * 39 + b'keeltime', ('127.0.0.1', 123))
try:
    d = s.recv(100)
except OSError:
    sys.exit(1)
sys.exit(0 if len(d) >= 48 and d[24:32] == b'keeltime' and d[0] & 7 == 4 and 0 < d[1] < 16 else 1)
PY
}
up=no
for _ in $(seq 60); do
    if ntp_probe; then up=yes; break; fi
    kill -0 "$CHRONY_PID" 2>/dev/null || break
    sleep 0.25
done
[ "$up" = yes ] || vm_fail "time: chronyd serves time on 127.0.0.1:123" "$(tail -n 5 "$chr/chronyd.log")"
vm_ok "time: chronyd serves time on 127.0.0.1:123 (the server is up)"

# --- the image and the disk ----------------------------------------------------------
extra=$VM_OUT/time-extra
rm -rf "$extra"
mkdir -p "$extra/etc/keel"
common='modules = overlay virtio_pci virtio_blk ext4 e1000
fstab = /dev/vda /data ext4
clock_file = /data/clock
stop_timeout = 2
on_exit = poweroff'
containers='[container early]
layers = /layers/base
command = /bin/sh -c "echo EARLY=$(date +%s)"
restart = no

[container timed]
layers = /layers/base
command = /bin/sh -c "echo TIMED=$(date +%s)"
depends = clock
main = yes
restart = no'
manifest=$VM_OUT/time.ini
cat > "$manifest" <<INI
[system]
$common
ntp = 10.0.2.2

[interface eth0]
address = 10.0.2.15/24
gateway = 10.0.2.2

$containers
INI
cat > "$extra/etc/keel/nontp.ini" <<INI
[system]
$common

$containers
INI
img=$VM_OUT/time.cpio
vm_image "time: image" "$manifest" "$extra" "$img"

# 2000-06-01 00:00:00 UTC: behind the RTC's 2001-01-01.
OLD=959817600
RTC_2001=978307200
seed=$VM_OUT/time-seed
mkdir -p "$seed"
echo "$OLD" > "$seed/clock"
disk=$VM_OUT/time-disk.img
rm -f "$disk"
mke2fs -q -F -t ext4 -d "$seed" "$disk" 8M >"$VM_OUT/time-disk.log" 2>&1 ||
    vm_fail "time: disk image" "$(cat "$VM_OUT/time-disk.log")"

RTC=(-rtc base=2001-01-01T00:00:00)
DISK=(-drive "file=$disk,if=virtio,format=raw")

# outp NAME KEY: the value of container NAME's line KEY=...
outp() { tr -d '\r' < "$VM_CONSOLE" | awk -v p="$1" -v k="$2=" '$1 == p && $2 == "|" && index($3, k) == 1 { print substr($3, length(k) + 1); exit }'; }
# within NAME VALUE LOW HIGH
within() {
    if [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then vm_ok "$1"
    else vm_not_ok "$1" "got '$2', expected $3..$4"; fi
}
saved_clock() { debugfs -R "cat /clock" "$disk" 2>/dev/null | tr -d '\r\n '; }

# --- boot 1: SNTP --------------------------------------------------------------------
vm_start time-ntp "$img" "" -- "${RTC[@]}" "${DISK[@]}" -nic user,model=e1000
if vm_wait 'timed +\| TIMED=[0-9]+' 240; then
    host_now=$(date +%s)
    vm_ok "time: boot 1: the depends = clock container ran"
else
    host_now=$(date +%s)
    vm_not_ok "time: boot 1: the depends = clock container ran" "no TIMED line"
fi
vm_wait_end 120
early=$(outp early EARLY)
timed=$(outp timed TIMED)
within "time: boot 1: a container without depends starts at once, on the RTC's 2001 (the control)" \
    "$early" "$RTC_2001" $((RTC_2001 + 31536000))
within "time: boot 1: the clock file (2000, behind the RTC) is not restored" \
    "$early" "$RTC_2001" $((RTC_2001 + 31536000))
within "time: boot 1: after the sync the guest's clock is the host's (within 60 s)" \
    "$timed" $((host_now - 60)) $((host_now + 60))
sync_line=$(vm_line 'keel: stage: clock synchronized')
timed_line=$(vm_line 'timed +\| TIMED=')
if [ "$sync_line" -gt 0 ] && [ "$timed_line" -gt "$sync_line" ]; then
    vm_ok "time: boot 1: the depends = clock container started after the sync"
else
    vm_not_ok "time: boot 1: the depends = clock container started after the sync" \
        "sync on console line $sync_line, TIMED on line $timed_line"
fi
vm_assert "time: boot 1: the clock was stepped (not slewed over 25 years)" 'keel: clock stepped by \+[0-9]+\.[0-9]+ s from 10\.0\.2\.2:123'
vm_end_is "time: boot 1: the main container's exit powers off" poweroff
saved=$(saved_clock)
after1=$(date +%s)
within "time: boot 1: the poweroff saved the synchronized time to the clock file" \
    "$saved" $((host_now - 60)) $((after1 + 5))

# --- boot 2: no ntp, the saved clock ahead of the RTC --------------------------------
vm_start time-saved "$img" "keel.manifest=/etc/keel/nontp.ini" -- "${RTC[@]}" "${DISK[@]}" -nic none
vm_wait 'timed +\| TIMED=[0-9]+' 240
host_now=$(date +%s)
vm_wait_end 120
early=$(outp early EARLY)
timed=$(outp timed TIMED)
within "time: boot 2: the saved time, ahead of the RTC, is restored before the containers start" \
    "$early" "${saved:-0}" "$host_now"
within "time: boot 2: without ntp, depends = clock starts at once (on the restored clock)" \
    "$timed" "${saved:-0}" "$host_now"
vm_refute "time: boot 2: no SNTP client runs without ntp" 'keel: stage: clock synchronized|cannot synchronize the clock'
vm_end_is "time: boot 2: the main container's exit powers off" poweroff
