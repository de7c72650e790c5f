#!/bin/bash
# test_update.sh — issue 18's payload updates: keel bundle, keel update into
# A/B slots on a [volume], the health-gated commit and every rollback.
#
# One data disk (ext4 labelled keelupd, [volume upd], update_volume = upd)
# holds the bundles, a queue of what to do and the client script.  Container
# `client` (keel's own /init bound at /bin/keel, keel's /run read-only, as in
# test_control.sh) waits until the slot state says committed, then takes the
# next line of the queue: `update B` sends bundle B with `keel update`
# (keel then reboots into it), `bad B` sends a bundle that must be refused
# and prints the slot state before and after.  Container `app` (main) prints
# which payload runs.  With VM_REBOOT=yes one QEMU goes through:
#   boot 1 the image (version=0): update good1
#   boot 2 slot A (version=1) is tried, healthy for update_confirm: commit;
#          update exit1
#   boot 3 slot B: its main exits 1: rollback, reboot
#   boot 4 slot A again (committed: survives the reboots): update hang
#   boot 5 slot B: its health check never answers: unhealthy: rollback
#   boot 6 slot A: a bundle with a flipped byte and one signed by another
#          key are refused, nothing changes; update good2 (update_confirm 1h)
#   boot 7 slot B (version=2) is being tried: QEMU is killed (a power cut)
# and a second QEMU on the same disk:
#   boot 8 the try never committed: slot A (version=1) runs.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "update: image"
vm_require_tools "update: image" mke2fs debugfs mkfs.erofs
vm_require_layers "update: image"

d=$VM_OUT/update
rm -rf "$d"
mkdir -p "$d/seed/bundles" "$d/extra/etc/keel"
"$KEEL" bundle --keygen "$d/k" >/dev/null && "$KEEL" bundle --keygen "$d/other" >/dev/null ||
    vm_fail "update: keys" "keel bundle --keygen failed"
cp "$d/k.pub" "$d/extra/etc/keel/update.pub"

# $1: version, $2: app's extra keys and command, $3: update_confirm.  The
# layers named as this machine has them: keel bundle packs them.
manifest() {
    cat <<INI
[system]
modules = overlay virtio_pci virtio_blk ext4 loop erofs button evdev
stop_timeout = 3
on_exit = poweroff
update_volume = upd
update_key = /etc/keel/update.pub
update_confirm = $3

[volume upd]
label = keelupd

[container app]
layers = $4
main = yes
restart = no
$2

[container client]
layers = $4
upper = tmpfs
mount = /init:/bin/keel:ro
mount = /run:/run:ro
mount = volume:upd:/upd:ro
mount = volume:upd/bundles:/bundles
depends = app
restart = no
command = /bin/sh /bundles/client.sh
INI
}
L=$VM_REPO/build/layers/base
manifest 0 'command = /bin/sh -c "echo version=0; exec sleep 1000"' 5s /layers/base > "$d/image.ini"
manifest 1 'health = /bin/true
health_interval = 1s
command = /bin/sh -c "echo version=1; exec sleep 1000"' 5s "$L" > "$d/good1.ini"
manifest x 'command = /bin/sh -c "echo version=bad-exit; sleep 2; exit 1"' 30s "$L" > "$d/exit1.ini"
manifest h 'health = /bin/sleep 100
health_interval = 1s
health_timeout = 1s
health_retries = 1
on_unhealthy = none
command = /bin/sh -c "echo version=hang; exec sleep 1000"' 30s "$L" > "$d/hang.ini"
manifest 2 'command = /bin/sh -c "echo version=2; exec sleep 1000"' 1h "$L" > "$d/good2.ini"
b=$d/seed/bundles
for n in good1 exit1 hang good2; do
    "$KEEL" bundle --key "$d/k.key" "$d/$n.ini" "$b/$n" 2>"$d/bundle.log" ||
        vm_fail "update: keel bundle $n" "$(tail -n 3 "$d/bundle.log")"
done
"$KEEL" bundle --key "$d/other.key" "$d/good2.ini" "$b/badsig" 2>"$d/bundle.log" ||
    vm_fail "update: keel bundle badsig" "$(tail -n 3 "$d/bundle.log")"
cp "$b/good2" "$b/baddigest"
size=$(stat -c %s "$b/baddigest")
# A byte in the middle: inside the layer image, by far the largest member.
off=$((size / 2))
orig=$(od -An -tu1 -j "$off" -N1 "$b/baddigest" | tr -d ' ')
printf "$(printf '\\%03o' $(((orig + 1) % 256)))" | dd of="$b/baddigest" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$b/good2" "$b/baddigest" && vm_fail "update: baddigest" "the flipped bundle equals the good one"
printf 'update good1\nupdate exit1\nupdate hang\nbad baddigest\nbad badsig\nupdate good2\n' > "$b/queue"
cat > "$b/client.sh" <<'SH'
q=/bundles/queue
/bin/keel events > /tmp/ev 2>&1 &
# Ready: no update yet, or the slot this boot runs is the committed one (in
# a try, or while keel rolls one back, wait: keel reboots soon).
cur=$(readlink /run/keel/slot 2>/dev/null)
cur=${cur##*/}
[ -n "$cur" ] || cur=-
i=0
while [ -f /upd/slots/state ] && ! { grep -q 'committed yes' /upd/slots/state && grep -q "^active $cur\$" /upd/slots/state; } &&
      [ $i -lt 300 ]; do
    sleep 1; i=$((i + 1))
done
# A commit in this boot is also an event (sent just after the state is saved).
j=0
while [ $i -gt 0 ] && ! grep -q ' update ' /tmp/ev && [ $j -lt 20 ]; do
    sleep 0.5; j=$((j + 1))
done
grep ' update ' /tmp/ev | sed 's/^/events: /'
while [ -s $q ]; do
    set -- $(head -n 1 $q)
    sed -i 1d $q
    sync
    case $1 in
    bad)
        before=$(tr '\n' ' ' < /upd/slots/state)
        /bin/keel update /bundles/$2 > /tmp/o 2>&1
        echo "refused-$2 rc=$? $(tr '\n' ' ' < /tmp/o)"
        after=$(tr '\n' ' ' < /upd/slots/state)
        [ "$before" = "$after" ] && echo "state-same-$2 $after" || echo "state-changed-$2 $before -> $after"
        echo "slots-after-$2: $(ls /upd/slots | tr '\n' ' ')"
        /bin/keel ps > /tmp/ps 2>&1
        grep -q 'app.*running' /tmp/ps && echo "app-still-running-$2" || echo "ps-$2: $(tr '\n' ' ' < /tmp/ps)" ;;
    update)
        /bin/keel update /bundles/$2 2>&1 | sed "s/^/update-$2: /"
        exit 0 ;;
    esac
done
/bin/keel status 2>&1 | sed 's/^/slots: /'
echo client-idle
SH
mke2fs -q -F -t ext4 -L keelupd -d "$d/seed" "$d/data.img" 96M >/dev/null 2>"$d/mke2fs.log" ||
    vm_fail "update: data disk" "$(cat "$d/mke2fs.log")"

cpio=$d/update.cpio
"$VM_REPO/initramfs/mkinitramfs" --keel "$KEEL" --manifest "$d/image.ini" --extra "$d/extra" \
    --module loop --module erofs --out "$cpio" 2>"$d/mk.log" || vm_fail "update: image" "$(tail -n 5 "$d/mk.log")"
disk=(-drive "file=$d/data.img,if=virtio,format=raw")

VM_REBOOT=yes vm_start keel-update-1 "$cpio" "" -- "${disk[@]}"
vm_wait_ok "update: boot 7 runs the second good update" 'app \| version=2' 900 "$(grep -aE 'app \| version|update|refused|state-|rollback|commit' "$VM_CONSOLE" | tail -n 30)"
# The power cut, during the trying window (update_confirm = 1h).
vm_stop
seq=$(grep -aoE 'app \| version=[0-9a-z-]+' "$VM_CONSOLE" | sed 's/.*version=//' | tr '\n' ' ')
[ "$seq" = "0 1 bad-exit 1 hang 1 2 " ] && vm_ok "update: the payloads ran in the expected order" ||
    vm_not_ok "update: the payloads ran in the expected order" "got: $seq (expected 0 1 bad-exit 1 hang 1 2)"
vm_assert "update: the good update is installed in slot A" 'update-good1: [0-9]+ bytes verified and installed in slot A'
vm_assert "update: slot A commits after update_confirm" 'keel: stage: update: commit: healthy for 5000 ms'
vm_assert "update: the commit is an event on keel events" 'client \| events: .* slot A update commit: healthy for 5000 ms'
vm_assert "update: a main that exits 1 rolls back" 'keel: error: update: rollback: the main container exited \(status 1\)'
vm_assert "update: a health check that never answers rolls back" 'keel: error: update: rollback: container app is unhealthy'
vm_assert "update: a bundle with a flipped byte is refused" 'refused-baddigest rc=1 .*does not match its sha256'
vm_assert "update: a bundle signed by another key is refused" "refused-badsig rc=1 .*signature does not match the update key"
vm_assert_each "update: a refused bundle changes no slot state" 'state-same-{} ' baddigest badsig
vm_assert_each "update: a refused bundle leaves no slot behind" 'slots-after-{}: A B state[[:space:]]*$' baddigest badsig
vm_assert_each "update: a refused bundle leaves the containers running" 'app-still-running-{}' baddigest badsig
n=$(grep -ac 'keel: stage: keel start' "$VM_CONSOLE")
[ "$n" = 7 ] && vm_ok "update: seven boots in the first QEMU (each switch and rollback is one)" ||
    vm_not_ok "update: seven boots in the first QEMU (each switch and rollback is one)" "keel started $n times"

vm_start keel-update-2 "$cpio" "" -- "${disk[@]}"
vm_wait_ok "update: after a power cut while trying, the old slot runs" 'app \| version=1' 180
vm_assert "update: the power cut is reported as a rollback" 'keel: error: update: rollback: slot B did not commit before this boot; slot A runs'
vm_wait_ok "update: the queue is done" 'client \| client-idle' 120
vm_assert "update: keel status shows the slots and the rollback" 'client \| slots: last rollback: slot B did not commit before this boot; slot A runs'
vm_assert "update: keel status shows slot A committed" 'client \| slots: active A'
vm_mon system_powerdown
vm_wait_end 120
vm_end_is "update: clean poweroff" poweroff
state=$(debugfs -R "cat /slots/state" "$d/data.img" 2>/dev/null | tr '\n' ' ')
[ "$state" = "active A trying - previous - attempts 0 committed yes " ] &&
    vm_ok "update: the state file says slot A, committed" || vm_not_ok "update: the state file says slot A, committed" "state: $state"
vm_refute "update: no kernel panic" 'Kernel panic|Attempted to kill init'
