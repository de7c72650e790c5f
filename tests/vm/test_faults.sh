#!/bin/bash
# test_faults.sh — PID-1 faults (issue 8), in the VM where keel is PID 1:
#   boot 1: a crash-looping container keeps keel's CPU low (backoff); a
#           container flooding stdout does not slow keel (its ticker keeps
#           ticking, dropped echo is counted); a full tmpfs upper (ENOSPC)
#           affects only that container; fault signals sent to PID 1 with
#           kill(2) are ignored; 10,000 orphans left to PID 1 are all reaped;
#           a `userns = auto` container whose layer is on the initramfs's
#           tmpfs is refused by name (6.1 cannot idmap tmpfs); then a clean
#           poweroff.
#   boot 2: a real crash of keel (test hook) reboots the machine through keel's
#           crash handler: no kernel panic, no hang.
# The test hooks (keel.test_*= on the kernel command line) are described in
# src/daemon.c and docs/boot.md; only the test build has them.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_test_keel "faults: image"

extra=$VM_OUT/faults-extra
rm -rf "$extra"
mkdir -p "$extra/etc/keel" "$extra/layers/obs/hostproc"

# The observer sees the whole machine through the host's /proc at /hostproc.
# It reports keel's CPU time over a window, and the machine's zombies after
# the orphan storm that keel never reaps (a zombie seen must be gone within
# 5 s: the crash loop makes short-lived ones all the time).
cat > "$extra/layers/obs/obs.sh" <<'SH'
#!/bin/sh
cpu() { awk '{ print $14 + $15 }' /hostproc/1/stat; }
tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
sleep 2
a=$(cpu); sleep 6; b=$(cpu)
echo "obs: keel cpu ticks $((b - a)) of $((6 * tck)) over 6 s"
# The orphans hook fires at 4 s: by now every one of them has exited.
sleep 4
# A zombie of the crash loop may exist for the instant between its exit and
# keel's reap: count those seen now that are still zombies after up to 5 s.
zombies() { grep -l '^State:.*Z' /hostproc/[0-9]*/status 2>/dev/null; }
seen=$(zombies)
left=$seen
i=0
while [ -n "$left" ] && [ $i -lt 50 ]; do
    sleep 0.1
    now=$(zombies)
    left=$(for z in $left; do case " $(echo $now) " in *" $z "*) echo "$z" ;; esac; done)
    i=$((i + 1))
done
echo "obs: zombies seen $(echo $seen | wc -w), never reaped $(echo $left | wc -w)"
echo "obs: zombies $(echo $left | wc -w)"
echo "obs: keel alive $(cat /hostproc/1/comm)"
echo "obs: done"
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/obs/obs.sh"

cat > "$extra/etc/keel/faults.ini" <<'INI'
[system]
modules = overlay button evdev
stop_timeout = 2
on_exit = stay

; Crash-looping: exits at once, restarted with backoff.
[container loop]
layers = /layers/base
command = /bin/false
restart = always
restart_delay = 50ms
restart_delay_max = 2s

; Fills its 4 MiB tmpfs upper: ENOSPC for it alone.
[container full]
layers = /layers/base
upper = tmpfs
upper_size = 4M
command = /bin/sh -c "dd if=/dev/zero of=/big bs=64k count=200 2>/dev/null; echo full-rc=$?; sleep 1000"

; userns = auto from the initramfs (tmpfs, which Linux 6.1 cannot idmap):
; refused with the layer and its filesystem named, nothing else affected.
[container uns]
layers = /layers/base
command = /bin/true
restart = no
userns = auto

[container obs]
layers = /layers/obs:/layers/base
upper = tmpfs
command = /bin/sh /obs.sh
network = host
mount = /proc:/hostproc:ro
INI

# A container floods its stdout faster than the serial console can take it;
# a ticker must keep ticking (its log file, read back by a third container
# through a bind of keel's log directory, shows it).
mkdir -p "$extra/var/log/keel"
cat > "$extra/etc/keel/flood.ini" <<'INI'
[system]
modules = overlay button evdev
log_dir = /var/log/keel
stop_timeout = 2
on_exit = stay

[container flood]
layers = /layers/base
command = /bin/sh -c "while :; do echo floodfloodfloodfloodfloodfloodfloodfloodfloodfloodfloodflood; done"

[container ticker]
layers = /layers/base
command = /bin/sh -c "i=0; while :; do echo tick-$i; i=$((i + 1)); sleep 0.5; done"

[container reader]
layers = /layers/base
upper = tmpfs
mount = /var/log/keel:/keellog:ro
command = /bin/sh -c "w=0; while [ $w -lt 120 ] && { [ $(cat /keellog/flood.log* 2>/dev/null | wc -c) -eq 0 ] || ! grep -q tick- /keellog/ticker.log 2>/dev/null; }; do sleep 0.5; w=$((w + 1)); done; a=$(tail -n 1 /keellog/ticker.log); b=$(cat /keellog/flood.log* | wc -c); sleep 4; c=$(tail -n 1 /keellog/ticker.log); d=$(cat /keellog/flood.log* | wc -c); i=0; while [ $i -lt 30 ]; do echo reader: result first $a flood-bytes=$b then $c flood-bytes=$d waited=$w; sleep 0.5; i=$((i + 1)); done; sleep 1000"
INI

img=$VM_OUT/faults.cpio
vm_image "faults: image" "$extra/etc/keel/faults.ini" "$extra" "$img"

# --- boot 1 ------------------------------------------------------------------------
vm_start keel-faults "$img" "keel.manifest=/etc/keel/faults.ini keel.test_signals=3s keel.test_orphans=4s"
vm_wait_ok "faults: keel serves through every fault" 'obs \| obs: done' 120
# Backoff, by cause and order instead of a CPU share or a restart rate (both
# depend on how fast the host runs the guest): the announced delays double
# from 50 ms up to restart_delay_max (2000), and no restart comes sooner than
# its announced delay (keel's own timestamps; a lower bound, which load only
# makes easier).  keel's CPU over the window stays a printed number.
line=$(grep -aoE 'obs: keel cpu ticks [0-9]+ of [0-9]+' "$VM_CONSOLE" | tail -n 1)
echo "# ${line:-no CPU measurement} (not asserted)"
delays=$(grep -aoE 'keel: loop: restarting in [0-9]+ ms' "$VM_CONSOLE" | awk '{ print $5 }' | head -n 7 | tr '\n' ' ')
if [ "$delays" = "50 100 200 400 800 1600 2000 " ]; then
    vm_ok "faults: the crash loop's delays double up to restart_delay_max ($delays)"
else
    vm_not_ok "faults: the crash loop's delays double up to restart_delay_max" "delays: ${delays:-none}"
fi
# Pairs (restarting line's time, delay, next start's time) from keel's lines.
gaps=$(tr -d '\r' < "$VM_CONSOLE" | awk '
    /keel: loop: restarting in [0-9]+ ms/ { match($0, /^\[ *[0-9.]+\]/); t = substr($0, 2, RLENGTH - 2) + 0;
                                           for (i = 1; i <= NF; i++) if ($i == "in") d = $(i + 1); pend = 1; next }
    /keel: loop: started/ && pend { match($0, /^\[ *[0-9.]+\]/); s = substr($0, 2, RLENGTH - 2) + 0;
                                    n++; if (s - t < 0.8 * d / 1000) bad++; pend = 0 }
    END { printf "%d %d", n, bad }')
if [ "${gaps% *}" -ge 3 ] && [ "${gaps#* }" = 0 ]; then
    vm_ok "faults: no restart of the crash loop sooner than announced (${gaps% *} restarts)"
else
    vm_not_ok "faults: no restart of the crash loop sooner than announced" "restarts, too soon: $gaps"
fi
vm_assert "faults: a full upper is ENOSPC for its container" 'full \| full-rc=1'
vm_assert "faults: kill -SEGV 1 and the like are ignored" 'keel.test_signals: sending PID 1 fault signals'
vm_refute "faults: no crash from the signals" 'keel: fatal: keel crashed'
vm_assert "faults: 10,000 orphans are all reaped" 'obs: zombies 0'
vm_assert "faults: keel is still PID 1 after all that" 'obs: keel alive init'
vm_assert "userns: a layer the guest kernel cannot idmap is refused by name" \
    'uns: failed: cannot idmap /layers/base: this kernel cannot make idmapped mounts of (tmpfs|ramfs)'
vm_mon system_powerdown
vm_wait_end 90
vm_end_is "faults: clean poweroff afterwards" poweroff
vm_refute "faults: no kernel panic" 'Kernel panic|Attempted to kill init'

# --- boot 2: a flood on stdout ----------------------------------------------------------
vm_start keel-flood "$img" "keel.manifest=/etc/keel/flood.ini"
# The reader looks twice at the ticker's and the flood's logs: between its
# two looks both must have grown (the ticker ticked while keel was logging
# the flood).  Order, not rates: no count per second is asserted.  Its first
# look waits (up to 60 s) for the flood's first logged bytes and the
# ticker's first tick: 4 s after its start was once too early on a loaded
# host (flood-bytes=0, then 1.8 MB).  It says its result 30 times, 0.5 s
# apart: the console drops lines under the flood.
if vm_wait 'reader \| reader: result first tick-[0-9]+ flood-bytes=[0-9]+ then tick-' 180; then
    r=$(grep -aoE 'reader: result first tick-[0-9]+ flood-bytes=[0-9]+ then tick-[0-9]+ flood-bytes=[0-9]+ waited=[0-9]+' "$VM_CONSOLE" | head -n 1)
    t1=$(sed -nE 's/.*first tick-([0-9]+) .*/\1/p' <<< "$r"); f1=$(sed -nE 's/.*first tick-[0-9]+ flood-bytes=([0-9]+) .*/\1/p' <<< "$r")
    t2=$(sed -nE 's/.*then tick-([0-9]+) .*/\1/p' <<< "$r"); f2=$(sed -nE 's/.*then tick-[0-9]+ flood-bytes=([0-9]+) .*/\1/p' <<< "$r")
    echo "# ${r:-reader: no complete result line} (waited: half-seconds before the first look)"
    [ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -gt "$t1" ] &&
        vm_ok "flood: the ticker keeps ticking through the flood (tick-$t1 -> tick-$t2)" ||
        vm_not_ok "flood: the ticker keeps ticking through the flood" "${r:-no complete result line}"
    [ -n "$f1" ] && [ -n "$f2" ] && [ "$f1" -gt 0 ] && [ "$f2" -gt "$f1" ] &&
        vm_ok "flood: keel keeps logging the flood meanwhile ($f1 -> $f2 bytes)" || {
        vm_not_ok "flood: keel keeps logging the flood meanwhile" "${r:-no complete result line}"
        echo "  --- keel's own lines:"; tr -d '\r' < "$VM_CONSOLE" | grep -av '^flood |' | grep -a 'keel' | tail -n 30 | sed 's/^/  | /'; }
else
    vm_not_ok "flood: the ticker keeps ticking through the flood" "the reader reported nothing"
    vm_not_ok "flood: keel keeps logging the flood meanwhile" "the reader reported nothing"
fi
vm_mon system_powerdown
vm_wait_end 90
vm_end_is "flood: clean poweroff during the flood" poweroff

# --- boot 3: keel itself crashes -----------------------------------------------------
vm_start keel-crash "$img" "keel.manifest=/etc/keel/faults.ini keel.test_crash=3s"
vm_wait_end 90
vm_assert "crash: keel's crash handler reports it" 'keel: fatal: keel crashed with signal 11'
vm_end_is "crash: a crash of keel reboots the machine" reboot
vm_refute "crash: no kernel panic" 'Kernel panic|Attempted to kill init'
